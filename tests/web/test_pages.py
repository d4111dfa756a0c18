"""What the pages show: the prescriber's list, the designee's choice, the patient's sentence and
timeline, the questions, the pharmacist's answer, the staff pages."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import select

from registry.audit.models import AuditEntry
from registry.compliance.models import ComplianceAction
from registry.cycles.models import ComprehensionQuestion
from registry.patients.models import Patient
from registry.pharmacies.models import Pharmacy
from tests import factories as f
from tests.web.conftest import World, login
from tests.web.test_forms import patient_form, token_of


def rows_of(html: str) -> list[str]:
    return re.findall(r'<a href="/patients/(\d{10})">', html)


def test_prescriber_list_filters_searches_and_sorts(app: Any, session: Any, clock: Any) -> None:
    clock.to("2026-03-02")
    dr = f.prescriber(session)
    waiting = f.patient(session, dr, last_name="Zeta")  # needs a screening test: prescriber
    ready = f.patient(session, dr, last_name="Alpha")
    f.enter_test(session, ready)
    clock.forward(days=30)
    f.enter_test(session, ready)
    f.counsel(session, ready)  # next: the patient answers the questions
    client = app.test_client()
    login(client, dr.user)
    html = client.get("/prescriber/?sort=name").get_data(as_text=True)
    assert rows_of(html) == [ready.registry_id, waiting.registry_id]
    assert "Answer this month&#39;s comprehension questions." in html
    assert "Enter a negative screening pregnancy test (lab or office)." in html
    assert "by Tue 7 Apr 2026" in html  # the due day of the patient's step, with the weekday
    html = client.get("/prescriber/?sort=name&dir=desc").get_data(as_text=True)
    assert rows_of(html) == [waiting.registry_id, ready.registry_id]
    mine = client.get("/prescriber/?mine=1").get_data(as_text=True)
    assert rows_of(mine) == [waiting.registry_id]
    assert rows_of(client.get("/prescriber/?q=alph").get_data(as_text=True)) == [
        ready.registry_id]
    assert rows_of(client.get(f"/prescriber/?q={waiting.registry_id}").get_data(
        as_text=True)) == [waiting.registry_id]


def test_designee_chooses_whom_they_act_for(app: Any, session: Any, clock: Any) -> None:
    clock.to("2026-03-02")
    dr_a, dr_b = f.prescriber(session), f.prescriber(session)
    des = f.designee(session, dr_a)
    from registry.prescribers.operations import link_designee

    link_designee(session, dr_b.user, dr_b, f.linking(designee_id=des.id))
    client = app.test_client()
    login(client, des.user)
    response = client.get("/prescriber/")
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/prescriber/act-for")
    assert client.post("/prescriber/act-for", data={"prescriber_id": str(dr_b.id)}
                       ).status_code == 302
    with client.session_transaction() as s:
        assert s["acting_for_prescriber_id"] == dr_b.id
    assert f"Patients of {dr_b.name}" in client.get("/prescriber/").get_data(as_text=True)
    page = client.get("/patients/new").get_data(as_text=True)
    assert client.post("/patients/new", data=patient_form(form_token=token_of(page))
                       ).status_code == 200
    patient = session.execute(select(Patient).where(
        Patient.email == "robin.quill@example.org")).scalar_one()
    assert patient.prescriber_id == dr_b.id
    # a prescriber the designee is not linked to cannot be chosen
    dr_c = f.prescriber(session)
    client.post("/prescriber/act-for", data={"prescriber_id": str(dr_c.id)})
    with client.session_transaction() as s:
        assert s["acting_for_prescriber_id"] == dr_b.id


def test_registration_shows_card_with_qr_and_code_once(app: Any, session: Any,
                                                      clock: Any) -> None:
    clock.to("2026-03-02")
    dr = f.prescriber(session)
    client = app.test_client()
    login(client, dr.user)
    page = client.get("/patients/new").get_data(as_text=True)
    html = client.post("/patients/new", data=patient_form(form_token=token_of(page))
                       ).get_data(as_text=True)
    patient = session.execute(select(Patient)).scalar_one()
    assert f'data-testid="registry-id">{patient.registry_id}<' in html
    assert re.search(r'data-testid="activation-code">[A-Z0-9]{10}<', html)
    assert '<svg role="img" aria-label="QR code of registry ID' in html
    again = client.get(f"/patients/{patient.registry_id}/card").get_data(as_text=True)
    assert "activation-code" not in again
    assert "<svg" in again


def test_patient_home_says_what_to_do_and_shows_the_timeline(app: Any, session: Any,
                                                            clock: Any) -> None:
    clock.to("2026-03-02")
    dr = f.prescriber(session)
    p = f.patient(session, dr)
    f.enter_test(session, p)
    clock.forward(days=30)  # Wed 1 Apr 2026
    f.enter_test(session, p)
    f.counsel(session, p)
    client = app.test_client()
    assert p.user is not None
    login(client, p.user)
    html = client.get("/me/").get_data(as_text=True)
    assert ('data-testid="now">Answer this month&#39;s comprehension questions by '
            "Tue 7 Apr 2026.<") in html
    assert "Pregnancy test specimen collected" in html
    assert "Prescription window closes: last day to fill" in html
    # questions: a wrong answer is shown as wrong, then the right answers pass
    page = client.get("/me/questions").get_data(as_text=True)
    ids = [int(i) for i in re.findall(r'name="q_(\d+)"', page)]
    ids = list(dict.fromkeys(ids))
    assert len(ids) == 7
    correct = {i: session.get(ComprehensionQuestion, i).correct_choice for i in ids}
    wrong = {f"q_{i}": ("a" if correct[i] != "a" else "b") for i in ids[:1]}
    data = {f"q_{i}": correct[i] for i in ids} | wrong
    failed = client.post("/me/questions", data={"form_token": token_of(page), **data})
    html = failed.get_data(as_text=True)
    assert "1 of 7 answers are not right" in html
    assert "Question 1: not right." in html
    kept = wrong[f"q_{ids[0]}"]
    assert re.search(rf'<input checked id="q_{ids[0]}-\d" name="q_{ids[0]}" type="radio" '
                     rf'value="{kept}">', html)
    passed = client.post("/me/questions", data={
        "form_token": token_of(html), **{f"q_{i}": correct[i] for i in ids}})
    assert passed.status_code == 302
    html = client.get("/me/").get_data(as_text=True)
    assert 'data-testid="now">Enter your contraception methods by Tue 7 Apr 2026.<' in html


def test_contraception_errors_are_plain(app: Any, session: Any, clock: Any) -> None:
    clock.to("2026-03-02")
    dr = f.prescriber(session)
    p = f.patient(session, dr)
    f.enter_test(session, p)
    clock.forward(days=30)
    f.enter_test(session, p)
    f.counsel(session, p)
    client = app.test_client()
    assert p.user is not None
    login(client, p.user)
    page = client.get("/me/contraception").get_data(as_text=True)
    html = client.post("/me/contraception", data={
        "form_token": token_of(page), "method_1": "progestin_only_pill",
        "method_2": "male_latex_condom"}).get_data(as_text=True)
    assert "First method: The progestin-only &#34;mini-pill&#34; is not effective" in html
    assert '<option selected value="progestin_only_pill">' in html


def test_pharmacist_sees_every_reason_in_plain_words(app: Any, world: World) -> None:
    client = app.test_client()
    login(client, world.rph1.user)
    page = client.get("/pharmacy/authorize").get_data(as_text=True)
    html = client.post("/pharmacy/authorize", data={
        "form_token": token_of(page), "registry_id": world.pat_b.registry_id,
        "date_of_birth": world.pat_b.date_of_birth.isoformat(),
        "prescriber_npi": world.dr_a.npi, "days_supply": "40", "quantity": "60",
        "refills": "1"}).get_data(as_text=True)
    assert "Do not dispense: not authorized" in html
    for code in ("PREGNANCY_REPORTED", "PRESCRIBER_MISMATCH", "DAYS_SUPPLY_EXCEEDS_LIMIT",
                 "REFILLS_NOT_ALLOWED"):
        assert code in html
    assert "40 days&#39; supply is more than the 30 days allowed." in html
    assert "Who: program staff" in html
    assert "What must happen:" in html
    assert f'value="{world.pat_b.registry_id}"' in html  # kept for a corrected retry


def test_staff_suspend_a_pharmacy_and_see_report_and_audit(app: Any, world: World,
                                                          session: Any) -> None:
    client = app.test_client()
    login(client, world.staff)
    hits = client.get(f"/staff/search?q={world.ph1.ncpdp_id}").get_data(as_text=True)
    assert world.ph1.name in hits
    page = client.get(f"/staff/compliance/?subject_type=pharmacy&subject_id={world.ph1.id}")
    html = page.get_data(as_text=True)
    assert f"For: <strong>{world.ph1.name}</strong>" in html
    response = client.post("/staff/compliance/", data={
        "form_token": token_of(html), "subject_type": "pharmacy",
        "subject_id": str(world.ph1.id), "action": "suspension", "until": "2026-12-31",
        "reason": "Dispensed without an RMA", "confirmed": "yes"})
    assert response.status_code == 302
    action = session.execute(select(ComplianceAction)).scalar_one()
    assert action.action == "suspension"
    assert session.get(Pharmacy, world.ph1.id).suspended_until.isoformat() == "2026-12-31"
    report = client.get("/staff/report").get_data(as_text=True)
    assert report.count("<svg") == 4
    assert "Denials by reason" in report
    audit = client.get("/staff/audit?action=pharmacy:suspension").get_data(as_text=True)
    entry = session.execute(select(AuditEntry).where(
        AuditEntry.action == "pharmacy:suspension")).scalar_one()
    assert f"<td data-label=\"#\">{entry.id}</td>" in audit
    assert "patient:register" not in audit
    later = client.get("/staff/audit?since=2026-04-01").get_data(as_text=True)
    assert "pharmacy:suspension" in later
    assert "patient:register" not in later  # registered on 2 Mar
    dash = client.get("/staff/").get_data(as_text=True)
    assert 'data-testid="ruleset">2021<' in dash
    assert "The 2026 rule set starts on <strong>Sat 8 Aug 2026</strong>" in dash
