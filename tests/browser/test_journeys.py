"""The five journeys of the issue, in a real browser, one after the other on one registry."""

from __future__ import annotations

import re
from typing import Any

import pytest
from sqlalchemy import select

from registry import db
from registry.authorizations.models import Dispense
from registry.cycles.models import ComprehensionQuestion
from registry.notifications.delivery import deliver_due
from registry.patients.models import Patient
from tests import factories as f
from tests.browser.conftest import audit, audited_page, close, shot

pytestmark = pytest.mark.browser

STATE: dict[str, Any] = {}


@pytest.fixture(scope="module")
def people(live_app: Any) -> dict[str, str]:
    app, _ = live_app
    with app.app_context(), db.unit_of_work() as s:
        staff = f.staff(s)
        pharmacy = f.pharmacy(s)
        rph = f.pharmacist(s, pharmacy)
        return {"staff": staff.email, "pharmacist": rph.user.email,
                "pharmacy": pharmacy.name, "ncpdp": pharmacy.ncpdp_id}


def new_page(browser: Any, base: str) -> Any:
    """A page whose every load must be checked by axe before the test closes it."""
    return audited_page(browser, base)


def sign_in(page: Any, email: str) -> None:
    page.goto("/login")
    audit(page)
    page.fill("#email", email)
    page.fill("#password", f.PASSWORD)
    page.click("button:has-text('Sign in')")
    page.wait_for_load_state()
    audit(page)


def follow_mail_link(live_app: Any, browser: Any, staff: str, to: str, subject: str,
                     page: Any = None) -> Any:
    """Deliver the outbox (as `registry worker` does), then, as program staff, open the
    newest message to ``to`` on the mail folder page; return the link it holds (opened in
    ``page`` if given)."""
    app, base = live_app
    with app.app_context():
        deliver_due(app)
    staff_page = new_page(browser, base)
    sign_in(staff_page, staff)
    staff_page.click("nav >> text=Mail folder")
    audit(staff_page)
    row = staff_page.locator("tr", has_text=to).filter(has_text=subject).first
    row.locator("a").click()
    audit(staff_page)
    link = staff_page.locator("main ul a").first.get_attribute("href")
    assert link is not None
    close(staff_page)
    if page is not None:
        page.goto(link)
    return link


def test_1_prescriber_enrolls_registers_tests_and_counsels(
        live_app: Any, browser: Any, travel: Any, people: dict[str, str]) -> None:
    _, base = live_app
    page = new_page(browser, base)
    page.goto("/login")
    shot(page, "01-login")
    page.click("text=enroll in the program")
    audit(page)
    npi = f.npi()
    page.fill("#first_name", "Morgan")
    page.fill("#last_name", "Reyes")
    page.fill("#email", "reyes@clinic.example")
    page.fill("#password", f.PASSWORD)
    page.fill("#npi", npi)
    page.fill("#license_state", "ny")
    page.click("button:has-text('Enroll')")
    audit(page)
    assert "Check your email" in page.inner_text("main")
    # The address is confirmed by the emailed link: `registry worker` writes the message to
    # the mail folder (no SMTP server here), where program staff can open it.
    follow_mail_link(live_app, browser, people["staff"], "reyes@clinic.example",
                     "Confirm your email address", page=page)
    audit(page)
    page.click("button:has-text('Confirm my address')")
    audit(page)
    assert "Your email address is confirmed" in page.inner_text("main")
    page.fill("#email", "reyes@clinic.example")
    page.fill("#password", f.PASSWORD)
    page.click("button:has-text('Sign in')")
    page.wait_for_url("**/prescriber/")
    audit(page)
    page.click("nav >> text=Attestation")
    page.wait_for_url("**/prescriber/attest")
    audit(page)
    page.click("button:has-text('Attest')")  # without ticking: the field is named
    audit(page)
    assert page.locator(".error-summary").is_visible()
    assert "Tick the box to attest" in page.inner_text(".error-summary")
    page.check("#agree")
    page.click("button:has-text('Attest')")
    page.wait_for_url("**/prescriber/")
    audit(page)
    assert "Thank you" in page.inner_text("main")

    page.click("a.button:has-text('Register a patient')")
    audit(page)
    page.fill("#first_name", "Jamie")
    page.fill("#last_name", "Lark")
    page.fill("#date_of_birth", "2001-04-05")
    page.fill("#email", "jamie.lark@example.org")
    page.check("#risk_category-0")
    page.fill("#consent_signed_on", "2026-03-02")
    page.fill("#contraception_start_date", "2026-02-01")
    shot(page, "02-register-patient")
    page.click("button:has-text('Register patient')")
    registry_id = page.inner_text("[data-testid=registry-id]").strip()
    code = page.inner_text("[data-testid=activation-code]").strip()
    assert re.fullmatch(r"\d{10}", registry_id)
    assert page.locator(".idcard svg").count() == 1
    shot(page, "03-id-card-with-code")
    STATE.update(registry_id=registry_id, code=code, npi=npi, dob="2001-04-05")

    page.click("text=Back to the patient's record")
    audit(page)
    page.click("a.button:has-text('Enter a pregnancy test')")
    audit(page)
    page.fill("#specimen_collected_on", "2026-03-02")
    page.check("#result-0")
    page.check("#setting-0")
    page.click("button:has-text('Record the test')")
    audit(page)
    assert "The screening test is recorded." in page.inner_text("main")

    record = page.url
    travel.forward(days=19)  # Sat 21 Mar 2026: 19 days after the screening specimen
    # The session ended after 30 idle minutes: the prescriber signs in again.
    page.reload()
    assert "/login" in page.url
    audit(page)
    sign_in(page, "reyes@clinic.example")
    page.goto(record)
    audit(page)
    page.click("a.button:has-text('Enter a pregnancy test')")
    audit(page)
    page.fill("#specimen_collected_on", "2026-03-21")
    page.check("#result-0")
    page.check("#setting-1")
    page.click("button:has-text('Record the test')")
    audit(page)
    main = page.inner_text("main")
    assert "The confirmation test is recorded." in main
    assert "Sat 21 Mar 2026 to Fri 27 Mar 2026" in main

    page.click("a.button:has-text('Confirm counseling')")
    page.select_option("#method_1", "iud")
    page.select_option("#method_2", "male_latex_condom")
    shot(page, "04-counseling")
    page.click("button:has-text('Confirm counseling')")
    main = page.inner_text("main")
    assert "Counseling confirmed." in main
    assert "The patient answers this month's comprehension questions by " in main
    shot(page, "05-patient-record")
    page.goto("/prescriber/")
    assert "Lark, Jamie" in page.inner_text("table")
    shot(page, "06-prescriber-patient-list")
    close(page)


def test_2_patient_activates_answers_and_enters_contraception(
        live_app: Any, browser: Any) -> None:
    app, base = live_app
    page = new_page(browser, base)
    page.goto("/activate")
    audit(page)
    page.fill("#registry_id", STATE["registry_id"])
    page.fill("#date_of_birth", STATE["dob"])
    page.fill("#activation_code", STATE["code"])
    page.fill("#password", "jamie-secret-pass")
    page.click("button:has-text('Activate my account')")
    page.wait_for_url("**/me/")
    now = page.inner_text("[data-testid=now]")
    assert now == "Answer this month's comprehension questions by Fri 27 Mar 2026."
    timeline = page.inner_text("ol.timeline")
    assert "Sat 21 Mar 2026 (today)" in timeline
    assert "Fri 27 Mar 2026" in timeline
    assert "Prescription window closes" in timeline
    shot(page, "07-patient-home-before")

    page.click("a.button:has-text('Comprehension questions')")
    audit(page)
    names = list(dict.fromkeys(page.eval_on_selector_all(
        "input[type=radio]", "els => els.map(e => e.name)")))
    with app.app_context():
        correct = {n: db.session().get(ComprehensionQuestion, int(n[2:])).correct_choice
                   for n in names}
    first = names[0]
    for name, choice in correct.items():
        answer = choice if name != first else ("a" if choice != "a" else "b")
        page.check(f"input[name={name}][value={answer}]")
    page.click("button:has-text('Send my answers')")
    assert "1 of 7 answers are not right" in page.inner_text(".error-summary")
    assert page.locator("fieldset.question.wrong").count() == 1
    shot(page, "08-questions-one-wrong")
    page.check(f"input[name={first}][value={correct[first]}]")
    page.click("button:has-text('Send my answers')")
    page.wait_for_url("**/me/")
    assert "You passed" in page.inner_text("main")
    audit(page)

    page.click("a.button:has-text('Enter my contraception')")
    page.select_option("#method_1", "male_latex_condom")
    page.select_option("#method_2", "iud")
    shot(page, "09-contraception")
    page.click("button:has-text('Save my contraception')")
    page.wait_for_url("**/me/")
    assert "matches what your prescriber entered" in page.inner_text("main")
    assert page.inner_text("[data-testid=now]") == (
        "You are all set: pick up your prescription by Fri 27 Mar 2026.")
    shot(page, "10-patient-home-ready")
    close(page)


def ask(page: Any, *, days: str = "30", refills: str = "0") -> None:
    page.goto("/pharmacy/authorize")
    audit(page)
    page.fill("#registry_id", STATE["registry_id"])
    page.fill("#date_of_birth", STATE["dob"])
    page.fill("#prescriber_npi", STATE["npi"])
    page.fill("#days_supply", days)
    page.fill("#quantity", "60")
    page.fill("#refills", refills)
    audit(page)
    page.click("button:has-text('Ask for an authorization')")
    page.wait_for_load_state()
    audit(page)


def test_3_pharmacist_gets_an_rma_and_records_the_dispense(
        live_app: Any, browser: Any, people: dict[str, str]) -> None:
    app, base = live_app
    page = new_page(browser, base)
    sign_in(page, people["pharmacist"])
    ask(page)
    rma = page.inner_text("[data-testid=rma]").strip()
    assert re.fullmatch(r"[A-Z0-9]{12}", rma)
    assert page.inner_text("[data-testid=dnda]") == "Fri 27 Mar 2026"
    shot(page, "11-pharmacist-rma")
    page.click("button:has-text('Record the dispense')")
    assert f"Dispense recorded against RMA {rma}." in page.inner_text("main")
    shot(page, "12-rma-dispensed")
    with app.app_context():
        s = db.session()
        patient = s.execute(select(Patient).where(
            Patient.registry_id == STATE["registry_id"])).scalar_one()
        dispense = s.execute(select(Dispense).where(Dispense.patient_id == patient.id)
                             ).scalar_one()
        assert dispense.quantity == 60
    close(page)


def test_4_a_denial_shows_its_reasons(live_app: Any, browser: Any,
                                      people: dict[str, str]) -> None:
    _, base = live_app
    page = new_page(browser, base)
    sign_in(page, people["pharmacist"])
    ask(page, days="45", refills="2")
    answer = page.locator(".answer.no")
    assert answer.is_visible()
    text = answer.inner_text()
    assert "Do not dispense: not authorized" in text
    assert "45 days' supply is more than the 30 days allowed." in text
    assert "refills are not allowed" in text
    assert "This cycle's prescription has already been dispensed." in text
    assert "Who: the prescriber" in text
    assert answer.locator("ol.reasons > li").count() >= 4
    assert page.input_value("#days_supply") == "45"  # kept for the corrected retry
    shot(page, "13-pharmacist-denial")
    close(page)


def test_5_staff_suspend_the_pharmacy_and_its_next_request_is_denied(
        live_app: Any, browser: Any, people: dict[str, str]) -> None:
    _, base = live_app
    page = new_page(browser, base)
    sign_in(page, people["staff"])
    shot(page, "14-staff-overview")
    page.fill("#q", people["ncpdp"])
    page.click("button:has-text('Search')")
    assert people["pharmacy"] in page.inner_text("table")
    shot(page, "15-staff-search")
    page.click("text=Compliance action")
    audit(page)
    page.select_option("#action", "suspension")
    page.fill("#until", "2026-06-30")
    page.fill("#reason", "Dispensed without checking the registry.")
    page.click("button:has-text('Record the action')")
    assert "You are about to suspend pharmacy" in page.inner_text("main")
    audit(page)
    page.click("button:has-text('Confirm: suspend')")
    assert f"Recorded: suspension of {people['pharmacy']}." in page.inner_text("main")
    shot(page, "16-staff-compliance")
    page.goto("/staff/report?date_from=2026-03-01&date_to=2026-03-31")
    assert page.locator(".chart svg").count() == 4
    shot(page, "17-staff-report")
    page.goto("/staff/audit")
    assert "pharmacy:suspension" in page.inner_text("table")
    shot(page, "18-staff-audit")
    close(page)

    page = new_page(browser, base)
    sign_in(page, people["pharmacist"])
    ask(page)
    text = page.inner_text(".answer.no")
    assert "This pharmacy suspended by program staff until Tue 30 Jun 2026." in text
    assert "PHARMACY_NOT_ACTIVE" in text
    shot(page, "19-pharmacy-suspended-denial")
    close(page)


def test_6_a_forgotten_password_is_reset_through_the_mail_page(
        live_app: Any, browser: Any, people: dict[str, str]) -> None:
    _, base = live_app
    page = new_page(browser, base)
    page.goto("/login")
    audit(page)
    page.click("text=Forgot password?")
    audit(page)
    page.fill("#email", people["pharmacist"])
    page.click("button:has-text('Send me a link')")
    audit(page)
    assert "If an account uses this address" in page.inner_text("main")
    link = follow_mail_link(live_app, browser, people["staff"], people["pharmacist"],
                            "Reset your registry password", page=page)
    assert "/reset-password/" in link
    shot(page, "20-reset-password")
    page.fill("#password", "short")
    page.click("button:has-text('Change my password')")
    audit(page)
    assert page.locator(".error-summary").is_visible()  # the policy names the field
    page.fill("#password", "a-brand-new-passphrase")
    page.click("button:has-text('Change my password')")
    page.wait_for_url("**/login")
    audit(page)
    assert "Your password is changed" in page.inner_text("main")
    page.fill("#email", people["pharmacist"])
    page.fill("#password", "a-brand-new-passphrase")
    page.click("button:has-text('Sign in')")
    page.wait_for_url("**/pharmacy/authorize")
    audit(page)
    assert "Messages" in page.inner_text("nav")
    page.goto(link)  # the link worked once
    audit(page)
    assert "This link does not work" in page.inner_text("main")
    close(page)
