"""POST /fhir/GuidanceResponse/$rems-etasu: the IG's operation on the rules' own decision.

Every answer is validated with fhir.resources (R4B models, the R4 wire format)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from fhir.resources.R4B.operationoutcome import OperationOutcome
from fhir.resources.R4B.parameters import Parameters
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from registry import clock as registry_clock
from registry.audit.models import AuditEntry
from registry.cycles.operations import comprehension_questions
from registry.interop.systems import REGISTRY_ID_SYSTEM, REMS_MODULE_URI
from registry.patients.models import Patient
from registry.rules.identifiers import verhoeff_check_digit
from tests import factories as f
from tests.interop.conftest import Fhir, etasu_of, fixture, requirements_of, token_for
from tests.web.conftest import login
from tests.web.test_forms import token_of


def send(client: FlaskClient, path: str, data: dict[str, Any]) -> None:
    """Fill in one of our pages as a person would: open it, then send it (302: done)."""
    page = client.get(path)
    assert page.status_code == 200, (path, page.status_code)
    r = client.post(path, data={**data, "form_token": token_of(page.get_data(as_text=True))})
    assert r.status_code == 302, (path, r.get_data(as_text=True)[:3000])


def valid_answer(response: Any, status: int = 200) -> dict[str, Any]:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/fhir+json"
    body: dict[str, Any] = json.loads(response.get_data())
    if status == 200:
        Parameters.model_validate(body)
    else:
        OperationOutcome.model_validate(body)
    return body


def outcome_text(response: Any, status: int) -> str:
    body = valid_answer(response, status)
    assert body["resourceType"] == "OperationOutcome"
    (issue,) = body["issue"]
    assert issue["severity"] == "error"
    return str(issue["diagnostics"])


def by_case_number(p: Patient) -> dict[str, Any]:
    return fixture("etasu-input-case-number.json", registry_id=p.registry_id)


def by_patient(p: Patient, name: str = "etasu-input-patient-medication.json") -> dict[str, Any]:
    return fixture(name, registry_id=p.registry_id, birth_date=p.date_of_birth.isoformat())


def test_the_igs_output_example_has_our_shape() -> None:
    """Our reading of the IG: its published output example validates, and the parts we
    fill (contained Parameters referenced by outputParameters, case_number) are there."""
    example = fixture("etasu-output-ig-shape.json")
    Parameters.model_validate(example)
    assert set(requirements_of(example)) == {"Patient Enrollment"}


def test_a_patient_goes_from_data_required_to_success_through_the_pages(
        app: Flask, session: Session, clock: Any) -> None:
    clock.to("2026-03-02")
    dr = f.prescriber(session)
    p, code = f.registered(session, dr)
    tokens = [token_for(session, dr.user)]
    session.commit()
    fhir = Fhir(app)

    def ask(body: dict[str, Any] | None = None) -> tuple[str, dict[str, str], dict[str, Any]]:
        answer = valid_answer(fhir.etasu(body or by_patient(p), tokens[-1]))
        guidance = etasu_of(answer)
        assert guidance["moduleUri"] == REMS_MODULE_URI
        assert guidance["subject"]["identifier"] == {"system": REGISTRY_ID_SYSTEM,
                                                     "value": p.registry_id}
        case = [x for x in answer["parameter"] if x["name"] == "case_number"]
        assert case == [{"name": "case_number", "valueString": p.registry_id}]
        reqs = requirements_of(answer)
        return guidance["status"], {k: v["status"] for k, v in reqs.items()}, reqs

    # Registered, not activated: enrollment and the tests are missing, each named.
    overall, statuses, reqs = ask()
    assert overall == "data-required"
    assert statuses["enrollment"] == "data-required"
    assert statuses["pregnancy_test"] == "data-required"
    assert statuses["prescriber"] == "success"
    notes = " ".join(n["text"] for n in reqs["pregnancy_test"]["note"])
    assert "CONFIRMATION_TEST_REQUIRED" in notes
    assert f"/patients/{p.registry_id}/tests" in notes
    assert "PATIENT_NOT_ACTIVE" in reqs["enrollment"]["note"][0]["text"]
    assert "/activate" in reqs["enrollment"]["note"][0]["text"]

    # The patient activates their account on our page (and is signed in by it).
    patient_web: FlaskClient = app.test_client()
    send(patient_web, "/activate", {
        "registry_id": p.registry_id, "date_of_birth": p.date_of_birth.isoformat(),
        "activation_code": code, "password": f.PASSWORD})
    overall, statuses, _ = ask(by_case_number(p))
    assert statuses["enrollment"] == "success", statuses
    assert overall == "data-required"

    # The prescriber enters the screening test, then 30 days later the confirmation test,
    # on the tests page.
    dr_web = app.test_client()
    login(dr_web, dr.user)
    test = {"result": "negative", "setting": "lab"}
    send(dr_web, f"/patients/{p.registry_id}/tests",
         {**test, "specimen_collected_on": registry_clock.today().isoformat()})
    overall, statuses, reqs = ask()
    assert statuses["pregnancy_test"] == "data-required"  # the confirmation is still due
    assert "confirmation" in reqs["pregnancy_test"]["note"][0]["text"]
    clock.forward(days=30)
    login(dr_web, dr.user)  # signed in again: a month is past any session's life
    tokens.append(token_for(session, dr.user))  # and the EHR's token, likewise
    session.commit()
    send(dr_web, f"/patients/{p.registry_id}/tests",
         {**test, "specimen_collected_on": registry_clock.today().isoformat()})
    overall, statuses, reqs = ask()
    assert statuses["pregnancy_test"] == "success"
    assert statuses["counseling"] == "data-required"
    assert statuses["comprehension"] == "data-required"
    assert statuses["contraception"] == "data-required"
    assert f"/patients/{p.registry_id}/counseling" in reqs["counseling"]["note"][0]["text"]

    # Counseling on its page; then the patient's questions and contraception on theirs.
    send(dr_web, f"/patients/{p.registry_id}/counseling", {
        "counseled_on": registry_clock.today().isoformat(),
        "method_1": f.METHODS[0], "method_2": f.METHODS[1]})
    overall, statuses, _ = ask()
    assert statuses["counseling"] == "success"
    assert statuses["comprehension"] == "data-required"

    session.expire_all()
    patient = session.get(Patient, p.id)
    assert patient is not None
    assert patient.user is not None
    login(patient_web, patient.user)
    _, asked = comprehension_questions(session, patient.user)
    send(patient_web, "/me/questions", {f"q_{q.id}": q.correct_choice for q in asked})
    overall, statuses, _ = ask()
    assert statuses["comprehension"] == "success"
    assert statuses["contraception"] == "data-required"
    assert overall == "data-required"

    send(patient_web, "/me/contraception", {"method_1": f.METHODS[0],
                                             "method_2": f.METHODS[1]})
    overall, statuses, _ = ask()
    assert overall == "success"
    assert set(statuses.values()) == {"success"}


def test_medication_request_form_and_case_number_alias(app: Flask, session: Session,
                                                      clock: Any) -> None:
    clock.to("2026-03-02")
    dr = f.prescriber(session)
    p = f.patient(session, dr)
    token = token_for(session, dr.user)
    session.commit()
    fhir = Fhir(app)
    a = valid_answer(fhir.etasu(by_patient(p, "etasu-input-medicationrequest.json"), token))
    b = valid_answer(fhir.etasu({"resourceType": "Parameters", "parameter": [
        {"name": "caseNumber", "valueString": p.registry_id}]}, token))
    assert etasu_of(a)["status"] == etasu_of(b)["status"] == "data-required"
    assert etasu_of(a)["subject"]["reference"] == "Patient/pat017"
    assert requirements_of(a).keys() == requirements_of(b).keys()


def test_name_and_birth_date_alone_are_never_matched(app: Flask, session: Session,
                                                    clock: Any) -> None:
    clock.to("2026-03-02")
    dr = f.prescriber(session)
    p = f.patient(session, dr, first_name="August", last_name="Samuels")
    token = token_for(session, dr.user)
    session.commit()
    answer = valid_answer(Fhir(app).etasu(by_patient(p, "etasu-input-name-only.json"), token))
    guidance = etasu_of(answer)
    assert guidance["status"] == "data-required"
    assert "registry ID" in guidance["note"][0]["text"]
    assert guidance["dataRequirement"] == [{"type": "Patient", "mustSupport": ["identifier"]}]
    assert p.registry_id not in json.dumps(answer)  # nothing learned from the name
    assert "contained" not in guidance


def test_a_pregnancy_block_is_a_failure(app: Flask, session: Session, clock: Any) -> None:
    from registry.pregnancies.operations import report_pregnancy
    from registry.pregnancies.schemas import PregnancyReportInput

    clock.to("2026-03-02")
    dr = f.prescriber(session)
    p = f.patient(session, dr)
    report_pregnancy(session, dr.user, p, PregnancyReportInput(reported_on=registry_clock.today()))
    token = token_for(session, dr.user)
    session.commit()
    answer = valid_answer(Fhir(app).etasu(by_case_number(p), token))
    assert etasu_of(answer)["status"] == "failure"
    assert requirements_of(answer)["pregnancy_report"]["status"] == "failure"


def test_who_may_ask(app: Flask, session: Session, clock: Any) -> None:
    clock.to("2026-03-02")
    dr, other = f.prescriber(session), f.prescriber(session)
    des = f.designee(session, dr)
    ph = f.pharmacy(session)
    rph = f.pharmacist(session, ph)
    p = f.patient(session, dr)
    staff = f.staff(session)
    assert p.user is not None
    tokens = {name: token_for(session, user) for name, user in {
        "dr": dr.user, "other": other.user, "designee": des.user, "pharmacist": rph.user,
        "patient": p.user, "staff": staff}.items()}
    session.commit()
    fhir = Fhir(app)
    for name in ("dr", "designee", "staff"):
        valid_answer(fhir.etasu(by_case_number(p), tokens[name]))
    # Another prescriber: as for GET /patients/{id}/status, the patient is not there for them.
    not_there(valid_answer(fhir.etasu(by_case_number(p), tokens["other"])))
    # A pharmacist: by registry ID and date of birth together, never the ID alone.
    valid_answer(fhir.etasu(by_patient(p), tokens["pharmacist"]))
    assert "date of birth" in outcome_text(
        fhir.etasu(by_case_number(p), tokens["pharmacist"]), 422)
    # The patient's own token is not an EHR's: 403 before anything is read.
    outcome_text(fhir.etasu(by_case_number(p), tokens["patient"]), 403)
    r = fhir.etasu(by_case_number(p), None)
    outcome_text(r, 401)
    assert r.headers["WWW-Authenticate"].startswith("Bearer")
    outcome_text(fhir.etasu(by_case_number(p), "not-a-token"), 401)


def not_there(answer: dict[str, Any]) -> dict[str, Any]:
    """The IG's ``failure`` for a patient not found: no case number, nothing about anyone."""
    etasu = etasu_of(answer)
    assert etasu["status"] == "failure"
    assert "identifier" not in etasu.get("subject", {})  # at most the EHR's own reference
    assert [p["name"] for p in answer["parameter"]] == ["rems-etasu"]
    text = json.dumps(answer)
    assert "case_number" not in text
    return etasu


def test_a_patient_not_found_is_a_failure_that_says_nothing_more(
        app: Flask, session: Session, clock: Any) -> None:
    """Not found (the IG's ``failure``): an unknown registry ID, a wrong date of birth and
    another prescriber's patient get the same answer, so that none tells which IDs exist."""
    clock.to("2026-03-02")
    dr, other_dr = f.prescriber(session), f.prescriber(session)
    p = f.patient(session, dr)
    theirs = f.patient(session, other_dr)
    unknown = next(rid for rid in (f"{n:09d}" + verhoeff_check_digit(f"{n:09d}")
                                   for n in range(100_000_000, 100_000_100))
                   if rid not in (p.registry_id, theirs.registry_id))  # valid, nobody's
    token = token_for(session, dr.user)
    session.commit()
    before = _audit_count(session)
    fhir = Fhir(app)
    wrong_dob = by_patient(p)
    wrong_dob["parameter"][0]["resource"]["birthDate"] = "1990-01-01"
    answers = [
        valid_answer(fhir.etasu(fixture("etasu-input-case-number.json", registry_id=unknown),
                                token)),
        valid_answer(fhir.etasu(wrong_dob, token)),
        valid_answer(fhir.etasu(by_case_number(theirs), token)),
    ]
    def without_time_and_reference(value: Any) -> Any:
        """The answer less its time and the EHR's own Patient reference (theirs, echoed)."""
        if isinstance(value, dict):
            return {k: without_time_and_reference(v) for k, v in value.items()
                    if k not in ("occurrenceDateTime", "subject")}
        if isinstance(value, list):
            return [without_time_and_reference(v) for v in value]
        return value

    notes = {json.dumps(without_time_and_reference(not_there(a)), sort_keys=True)
             for a in answers}
    assert len(notes) == 1, notes
    assert theirs.last_name not in notes.pop()
    assert _audit_count(session) == before


def _audit_count(session: Session) -> int:
    return int(session.execute(select(func.count()).select_from(AuditEntry)).scalar_one())


@pytest.mark.parametrize(("name", "mutate", "status", "words"), [
    ("malformed JSON", None, 400, "not valid JSON"),
    ("a Patient, not Parameters", {"resourceType": "Patient"}, 400, "Parameters"),
    ("no resourceType", {"parameter": []}, 400, "resourceType"),
    ("unknown element", {"resourceType": "Parameters", "foo": 1}, 400, "foo"),
    ("patient not a Patient", {"resourceType": "Parameters", "parameter": [
        {"name": "patient", "resource": {"resourceType": "Medication"}}]}, 400, "Patient"),
    ("nothing to go on", {"resourceType": "Parameters", "parameter": []}, 422, "case_number"),
    ("bad check digit", {"resourceType": "Parameters", "parameter": [
        {"name": "case_number", "valueString": "1234567891"}]}, 422, "check digit"),
    ("wrong drug", "WRONG_DRUG", 422, "not isotretinoin"),
    ("no RxNorm code", "NO_RXNORM", 422, "RxNorm"),
    ("no medication", "NO_MEDICATION", 422, "medication"),
    ("partial birth date", "PARTIAL_DOB", 422, "birthDate"),
    ("a bare array", [1, 2], 400, "JSON object"),
])
def test_bad_input_is_a_clear_4xx_and_nothing_is_stored(
        app: Flask, session: Session, clock: Any, name: str, mutate: Any, status: int,
        words: str) -> None:
    clock.to("2026-03-02")
    dr = f.prescriber(session)
    p = f.patient(session, dr)
    token = token_for(session, dr.user)
    session.commit()
    before = _audit_count(session)
    body: Any = by_patient(p)
    if mutate is None:
        response = Fhir(app).etasu(None, token, raw=b'{"resourceType": "Parameters",')
    else:
        if mutate == "WRONG_DRUG":
            body["parameter"][1]["resource"]["code"]["coding"][0]["code"] = "161"  # acetaminophen
        elif mutate == "NO_RXNORM":
            body["parameter"][1]["resource"]["code"]["coding"][0]["system"] = "http://snomed.info/sct"
        elif mutate == "NO_MEDICATION":
            del body["parameter"][1]
        elif mutate == "PARTIAL_DOB":
            body["parameter"][0]["resource"]["birthDate"] = "1995"
        else:
            body = mutate
        response = Fhir(app).etasu(body, token)
    assert words in outcome_text(response, status), name
    assert _audit_count(session) == before


def test_wrong_method_path_and_media_type_answer_fhir(app: Flask, session: Session) -> None:
    token = token_for(session, f.prescriber(session).user)
    session.commit()
    client = app.test_client()
    r = client.get("/fhir/GuidanceResponse/$rems-etasu")
    outcome_text(r, 405)
    r = client.post("/fhir/Patient/$everything", json={})
    outcome_text(r, 404)
    r = client.post("/fhir/GuidanceResponse/$rems-etasu", data="x", content_type="text/plain",
                    headers={"Authorization": f"Bearer {token}"})
    assert "JSON" in outcome_text(r, 415)
