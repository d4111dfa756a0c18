"""In the clinic (issue 9): registration catches duplicates and used emails, the prescriber's
own steps, an inactive prescriber is told why, staff pages name people, the patient's home."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import func, select

from registry.patients.models import Patient
from registry.patients.schemas import TreatmentEnding
from tests import factories as f
from tests.web.conftest import login
from tests.web.test_forms import patient_form, token_of


def _count(session: Any) -> int:
    return session.execute(select(func.count(Patient.id))).scalar_one()


def _register(client: Any, **overrides: Any) -> Any:
    page = client.get("/patients/new").get_data(as_text=True)
    return client.post("/patients/new", data=patient_form(form_token=token_of(page),
                                                          **overrides))


def test_same_name_and_birth_is_warned_and_confirmed(app: Any, session: Any, clock: Any) -> None:
    clock.to("2026-03-02")
    dr_a, dr_b = f.prescriber(session), f.prescriber(session)
    mine = f.patient(session, dr_a, first_name="Robin", last_name="Quill",
                     date_of_birth=date(2000, 1, 2), email="first.robin@example.org")
    client = app.test_client()
    login(client, dr_a.user)
    before = _count(session)
    html = _register(client, first_name=" robin", last_name="QUILL").get_data(as_text=True)
    assert "already registered (registry ID " + mine.registry_id in html
    assert "Same name and date of birth, but a different person" in html
    assert _count(session) == before  # nothing stored until confirmed
    response = _register(client, different_person="y")
    assert response.status_code == 200
    assert "is registered" in response.get_data(as_text=True)
    assert _count(session) == before + 1

    # Another prescriber learns only that such a patient exists: no ID, no email, no prescriber.
    other = app.test_client()
    login(other, dr_b.user)
    html = _register(other, email="robin.again@example.org").get_data(as_text=True)
    assert "is already registered by another prescriber" in html
    assert mine.registry_id not in html
    assert dr_a.name not in html
    assert "first.robin" not in html
    assert _count(session) == before + 1


def test_email_in_use_is_a_field_error_at_registration(app: Any, session: Any,
                                                       clock: Any) -> None:
    clock.to("2026-03-02")
    dr = f.prescriber(session)
    active = f.patient(session, dr)
    waiting = f.patient(session, dr, activate=False)
    client = app.test_client()
    login(client, dr.user)
    before = _count(session)
    for email in (active.email.upper(), waiting.email, dr.user.email):
        response = _register(client, email=email)
        html = response.get_data(as_text=True)
        assert response.status_code == 200
        assert "Patient&#39;s email: This email address is already in use" in html, email
        assert 'id="email"' in html
        assert 'aria-invalid="true"' in html
    assert _count(session) == before


def test_needs_my_action_shows_the_prescribers_own_step_and_date(app: Any, session: Any,
                                                                 clock: Any) -> None:
    clock.to("2026-03-02")
    dr = f.prescriber(session)
    waiting = f.patient(session, dr, activate=False)  # first step: the patient activates
    f.enter_test(session, waiting)  # then the prescriber: the confirmation test, from a date
    client = app.test_client()
    login(client, dr.user)
    every = client.get("/prescriber/").get_data(as_text=True)
    assert "Activate the account with the activation code" in every
    mine = client.get("/prescriber/?mine=1").get_data(as_text=True)
    assert waiting.registry_id in mine
    row = mine[mine.index(waiting.registry_id):mine.index("</tr>", mine.index(
        waiting.registry_id))]
    assert "Enter the confirmation pregnancy test (lab or office)." in row
    assert "Activate the account" not in row
    assert '<td data-label="Whose" class="mine">the prescriber</td>' in row
    assert "Wed 1 Apr 2026" in row  # not before: 30 days after contraception started


def test_suspended_prescriber_is_told_why_instead_of_a_form(app: Any, session: Any,
                                                            clock: Any) -> None:
    clock.to("2026-03-02")
    dr = f.prescriber(session)
    des = f.designee(session, dr)
    dr.suspended_until = date(2026, 3, 31)
    session.flush()
    client = app.test_client()
    login(client, dr.user)
    listing = client.get("/prescriber/").get_data(as_text=True)
    assert "You are suspended by program staff until Tue 31 Mar 2026." in listing
    assert "/patients/new" not in listing
    assert "Attest now" not in listing
    page = client.get("/patients/new")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "You are suspended by program staff until Tue 31 Mar 2026." in html
    assert "Program staff can tell you why" in html
    assert 'name="first_name"' not in html
    attest = client.get("/prescriber/attest").get_data(as_text=True)
    assert "attesting again does not lift a suspension" in attest
    assert 'name="agree"' not in attest
    # A form sent anyway (suspended while it was open) keeps what was typed and says why.
    from tests.web.test_forms import patient_form as form_data

    before = _count(session)
    response = client.post("/patients/new", data=form_data(form_token="x"))
    html = response.get_data(as_text=True)
    assert response.status_code == 403
    assert "You are suspended by program staff until Tue 31 Mar 2026." in html
    assert 'value="robin.quill@example.org"' in html
    assert _count(session) == before

    # Their designee is told who is suspended, and not offered the form either.
    other = app.test_client()
    login(other, des.user)
    html = other.get("/patients/new").get_data(as_text=True)
    assert f"{dr.name} is suspended by program staff until Tue 31 Mar 2026." in html
    assert 'name="first_name"' not in html
    assert "/patients/new" not in other.get("/prescriber/").get_data(as_text=True)


def test_prescriber_who_has_not_attested_is_invited_to_attest(app: Any, session: Any,
                                                              clock: Any) -> None:
    clock.to("2026-03-02")
    dr = f.prescriber(session, attest=False)
    client = app.test_client()
    login(client, dr.user)
    listing = client.get("/prescriber/").get_data(as_text=True)
    assert "You have not attested to the program requirements." in listing
    assert "Attest now" in listing
    assert "/patients/new" not in listing
    html = client.get("/patients/new").get_data(as_text=True)
    assert 'href="/prescriber/attest">Attest now' in html
    assert 'name="agree"' in client.get("/prescriber/attest").get_data(as_text=True)


def test_staff_pages_name_people_never_internal_ids(app: Any, session: Any, clock: Any) -> None:
    from registry.audit.models import AuditEntry
    from registry.compliance.models import ComplianceAction

    clock.to("2026-03-02")
    staff = f.staff(session)
    chen = f.prescriber(session, last_name="Chen")
    rivera = f.prescriber(session, last_name="Rivera")
    pat = f.patient(session, rivera)
    session.flush()
    client = app.test_client()
    login(client, staff)
    audit = client.get("/staff/audit?action=patient:register").get_data(as_text=True)
    entry = session.execute(select(AuditEntry).where(
        AuditEntry.action == "patient:register")).scalar_one()
    who = audit[audit.index('data-label="Who"'):audit.index('data-label="Action"')]
    assert f"{rivera.name} (NPI {rivera.npi})" in who
    assert f"prescriber {entry.user_id}" not in who
    record = audit[audit.index('data-label="Record"'):audit.index('data-label="Change"')]
    assert f"{pat.full_name} (registry ID {pat.registry_id})" in record
    assert f"patient {pat.id}<" not in record
    # The audit log is filtered by the numbers staff know.
    by_rid = client.get(f"/staff/audit?subject=patient:{pat.registry_id}").get_data(as_text=True)
    assert "patient:register" in by_rid
    assert f"prescriber:{rivera.npi}" in client.get(f"/staff/search?q={rivera.npi}").get_data(
        as_text=True)
    by_npi = client.get(f"/staff/audit?who={rivera.npi}").get_data(as_text=True)
    assert "patient:register" in by_npi
    assert "No entries match." in client.get(
        f"/staff/audit?who={chen.npi}&action=patient:register").get_data(as_text=True)
    sessions = client.get("/staff/audit?action=session:start").get_data(as_text=True)
    assert f"sign-in session of {staff.full_name}" in sessions
    assert "User id" not in sessions
    hits = client.get("/staff/search?q=Chen").get_data(as_text=True)
    assert f'data-label="Kind">prescriber {chen.id}<' not in hits
    assert f"subject={chen.npi}" in hits

    # The compliance form finds its subject by NPI or by name, and says when a name is not enough.
    page = client.get("/staff/compliance/?subject_type=prescriber").get_data(as_text=True)
    assert "Their id" not in page
    response = client.post("/staff/compliance/", data={
        "form_token": token_of(page), "subject_type": "prescriber", "subject": "Ada",
        "action": "warning", "reason": "Late attestation"})
    html = response.get_data(as_text=True)
    assert "Name or number: 2 match:" in html
    assert f"NPI {chen.npi}" in html
    assert session.execute(select(func.count(ComplianceAction.id))).scalar_one() == 0
    response = client.post("/staff/compliance/", data={
        "form_token": token_of(page), "subject_type": "prescriber", "subject": "rivera",
        "action": "warning", "reason": "Late attestation"})
    assert response.status_code == 302
    action = session.execute(select(ComplianceAction)).scalar_one()
    assert (action.subject_type, action.subject_id) == ("prescriber", rivera.id)
    listing = client.get("/staff/compliance/").get_data(as_text=True)
    assert f"of prescriber {rivera.name} (NPI {rivera.npi})" in listing
    page = client.get("/staff/compliance/?subject_type=pharmacy").get_data(as_text=True)
    html = client.post("/staff/compliance/", data={
        "form_token": token_of(page), "subject_type": "pharmacy", "subject": "0000000",
        "action": "warning", "reason": "x"}).get_data(as_text=True)
    assert "No pharmacy matches “0000000”." in html


def test_patient_home_keeps_pick_up_by_while_an_rma_waits(app: Any, world: Any) -> None:
    client = app.test_client()
    login(client, world.pat_a.user)
    html = client.get("/me/").get_data(as_text=True)
    dnda = world.rma1.do_not_dispense_after
    from registry.rules import fmt

    assert (f"Your prescription is authorized and waiting at the pharmacy: pick it up by "
            f"{fmt(dnda)}.") in html


def test_patient_home_after_a_pregnancy_report_hides_window_and_monthly_buttons(
        app: Any, world: Any) -> None:
    client = app.test_client()
    login(client, world.pat_b.user)
    html = client.get("/me/").get_data(as_text=True)
    assert "A pregnancy has been reported" in html
    assert "Prescription window" not in html
    assert "/me/questions" not in html
    assert "/me/contraception" not in html
    form = client.get("/me/contraception").get_data(as_text=True)
    assert "A pregnancy has been reported: there is nothing to enter." in form
    assert 'name="method_1"' not in form


def _answer_page(client: Any, session: Any, patient: Any) -> dict[str, str]:
    from registry.cycles.operations import comprehension_questions

    _, asked = comprehension_questions(session, patient.user)
    page = client.get("/me/questions").get_data(as_text=True)
    return {"form_token": token_of(page), **{f"q_{q.id}": q.correct_choice for q in asked}}


def test_comprehension_review_after_passing_records_nothing(app: Any, session: Any,
                                                            clock: Any) -> None:
    from registry.audit.models import AuditEntry
    from registry.cycles.models import ComprehensionAttempt

    clock.to("2026-03-02")
    dr = f.prescriber(session)
    p = f.patient(session, dr)
    f.enter_test(session, p)
    clock.forward(days=30)
    f.enter_test(session, p)
    f.counsel(session, p)
    f.pass_questions(session, p)
    attempts = select(func.count(ComprehensionAttempt.id))
    audits = select(func.count(AuditEntry.id))
    client = app.test_client()
    login(client, p.user)  # signing in is audited: count after it
    before = (session.scalar(attempts), session.scalar(audits))
    page = client.get("/me/questions").get_data(as_text=True)
    assert "You have already passed these questions" in page
    data = _answer_page(client, session, p)
    wrong_one = next(k for k in data if k.startswith("q_"))
    data[wrong_one] = "x" if data[wrong_one] != "x" else "y"
    response = client.post("/me/questions", data=data)
    assert response.status_code == 200
    assert (session.scalar(attempts), session.scalar(audits)) == before
    response = client.post("/me/questions", data=_answer_page(client, session, p))
    assert response.status_code == 200
    assert "All right." in response.get_data(as_text=True)
    assert (session.scalar(attempts), session.scalar(audits)) == before


def test_patient_who_cannot_get_pregnant_gets_their_questions_and_no_contraception_form(
        app: Any, session: Any, clock: Any) -> None:
    from registry.cycles.models import ComprehensionQuestion

    clock.to("2026-03-02")
    dr = f.prescriber(session)
    p = f.patient(session, dr, can_get_pregnant=False)
    f.counsel(session, p)
    client = app.test_client()
    login(client, p.user)
    page = client.get("/me/questions").get_data(as_text=True)
    asked = [int(i) for i in __import__("re").findall(r'name="q_(\d+)"', page)]
    assert len(set(asked)) == 7
    topics = {q.key: q.topic for q in session.execute(select(ComprehensionQuestion).where(
        ComprehensionQuestion.id.in_(asked))).scalars()}
    assert "contraception" not in topics.values()
    assert not {"monthly-test", "window", "post-test"} & set(topics)
    home = client.get("/me/").get_data(as_text=True)
    assert "/me/contraception" not in home
    form = client.get("/me/contraception").get_data(as_text=True)
    assert "You do not need to enter contraception" in form
    assert 'name="method_1"' not in form


def test_wording_until_not_before_and_about_the_patient(app: Any, session: Any,
                                                        clock: Any) -> None:
    from flask import render_template_string

    from registry.patients.operations import end_treatment
    from registry.rules.reasons import Reason

    clock.to("2026-03-02")
    dr = f.prescriber(session)
    p = f.patient(session, dr)
    f.enter_test(session, p)
    clock.forward(days=30)
    f.enter_test(session, p)
    f.counsel(session, p)
    client = app.test_client()
    login(client, dr.user)
    detail = client.get(f"/patients/{p.registry_id}").get_data(as_text=True)
    assert "The patient enters their contraception methods by " in detail
    assert "Enter your contraception" not in detail
    end_treatment(session, dr.user, p, TreatmentEnding(last_dose_on=date(2026, 4, 1)))
    detail = client.get(f"/patients/{p.registry_id}").get_data(as_text=True)
    assert "keeps using both contraception methods until " in detail
    assert "contraception methods. By " not in detail
    patient = app.test_client()
    login(patient, p.user)
    home = patient.get("/me/").get_data(as_text=True)
    assert "Keep using both contraception methods. Until " in home
    with app.test_request_context():
        html = render_template_string(
            '{% from "_decision.html" import reasons_list %}{{ reasons_list(rs) }}',
            rs=[Reason("REFILL_TOO_SOON", "Last dispense.", "Wait.", "pharmacy",
                       date(2026, 12, 16))])
    assert "not before Wed 16 Dec 2026" in html
    assert "by Wed 16 Dec 2026" not in html


def test_dates_read_the_same_everywhere_and_training_is_not_assumed_today(
        app: Any, world: Any, session: Any) -> None:
    import re

    from registry.rules import StakeholderFacts, pharmacy_standing
    from registry.rules.params import Parameters

    standing = pharmacy_standing(StakeholderFacts(date(2026, 1, 5), date(2026, 6, 30), None),
                                 date(2026, 3, 2), Parameters())
    assert standing.detail == "suspended by program staff until Tue 30 Jun 2026"
    client = app.test_client()
    login(client, world.rsp1.user)
    html = client.get("/pharmacy/").get_data(as_text=True)
    dates = re.findall(r'<input[^>]*name="[^"]*training_completed_on"[^>]*>', html)
    assert dates
    assert all('value=""' in d or "value=" not in d for d in dates), dates
