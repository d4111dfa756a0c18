"""CDS Hooks 2.0: discovery, JWT authentication at the door, and the cards a prescriber sees
while signing an isotretinoin order, at each step from "missing" to "eligible"."""

from __future__ import annotations

import base64
import json
import time
from typing import Any

import jwt as pyjwt
import pytest
from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from registry import clock as registry_clock
from registry.contract import parse
from registry.interop.cds.operations import SERVICES
from registry.interop.ehr.models import EhrSystem
from registry.models import AuditEntry
from registry.pregnancies.operations import report_pregnancy
from registry.pregnancies.schemas import PregnancyReportInput
from tests import factories as f
from tests.interop.cds_support import (
    DISCOVERY,
    ERROR,
    FHIR_BASE,
    HOST,
    Ehr,
    app_fetcher,
    audit_count,
    call,
    jti_count,
    order_sign,
    register,
    service_url,
    valid_response,
)

SIGN = "isotretinoin-order-sign"


@pytest.fixture
def ehr() -> Ehr:
    return Ehr()


@pytest.fixture
def clinic(session: Session, clock: Any, ehr: Ehr) -> dict[str, Any]:
    clock.to("2026-03-02")
    dr, other = f.prescriber(session), f.prescriber(session)
    system = register(session, ehr, [dr])
    session.commit()
    return {"dr": dr, "other": other, "system": system}


def test_discovery_lists_three_services_with_prefetch(client: Any) -> None:
    answer = client.get("/cds-services")
    assert answer.status_code == 200
    data = answer.get_json()
    assert not list(DISCOVERY.iter_errors(data))
    hooks = {s["hook"]: s for s in data["services"]}
    assert set(hooks) == {"order-sign", "order-select", "patient-view"}
    for service in data["services"]:
        assert service["prefetch"] == {"patient": "Patient/{{context.patientId}}",
                                       "practitioner": "{{context.userId}}"}
    assert answer.headers["Access-Control-Allow-Origin"] == "*"


# --- the door: who may call -----------------------------------------------------------------


def _refused(answer: Any, words: str) -> None:
    assert answer.status_code == 401, answer.get_data(as_text=True)
    data = answer.get_json()
    assert not list(ERROR.iter_errors(data))
    assert words in data["error"], data["error"]
    assert answer.headers["WWW-Authenticate"].startswith("Bearer")


def _none_token(aud: str) -> str:
    def part(obj: Any) -> str:
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()

    now = int(time.time())
    return (part({"alg": "none", "typ": "JWT"}) + "." + part(
        {"iss": "https://ehr.example.org", "aud": aud, "iat": now, "exp": now + 60,
         "jti": "x1"}) + ".")


@pytest.mark.parametrize(("case", "words"), [
    ("no header", "bearer JWT signed by the EHR is required"),
    ("not a jwt", "not a well-formed JWT"),
    ("alg none", "algorithm must be one of"),
    ("hs256 with the public key", "algorithm must be one of"),
    ("wrong key", "signature does not verify"),
    ("unknown kid", "No key with kid"),
    ("expired", "expired"),
    ("wrong aud", "'aud' is not this service's URL"),
    ("unknown iss", "issuer is not a registered EHR system"),
    ("no jti", "no 'jti' claim"),
    ("too long lived", "more than five minutes ahead"),
])
def test_bad_tokens_get_401_and_nothing_is_stored(
        app: Flask, session: Session, client: Any, clinic: dict[str, Any], ehr: Ehr,
        clock: Any, case: str, words: str) -> None:
    patient = f.patient(session, clinic["dr"])
    session.commit()
    aud = service_url(SIGN)
    other = Ehr(kid=ehr.kid)  # the same kid, another key
    tokens = {
        "no header": None,
        "not a jwt": "not.a.jwt",
        "alg none": _none_token(aud),
        "hs256 with the public key": pyjwt.encode(
            {"iss": "https://ehr.example.org", "aud": aud, "iat": int(time.time()),
             "exp": int(time.time()) + 60, "jti": "h"}, "secret-of-32-bytes-or-more-000000",
            algorithm="HS256"),
        "wrong key": other.token(aud),
        "unknown kid": ehr.token(aud, kid="not-registered"),
        "expired": ehr.token(aud, now=time.time() - 3600),
        "wrong aud": ehr.token("https://elsewhere.example.org/cds-services/" + SIGN),
        "unknown iss": ehr.token(aud, iss="https://stranger.example.org"),
        "no jti": pyjwt.encode({"iss": "https://ehr.example.org", "aud": aud,
                                "iat": int(time.time()), "exp": int(time.time()) + 60},
                               ehr.key, algorithm="ES384", headers={"kid": ehr.kid}),
        "too long lived": ehr.token(aud, lifetime=3600),
    }
    before, jtis = audit_count(session), jti_count(session)
    answer = call(client, SIGN, order_sign(clinic["dr"], patient), tokens[case])
    _refused(answer, words)
    assert audit_count(session) == before
    assert jti_count(session) == jtis


def test_a_replayed_token_and_a_deactivated_system_are_refused(
        app: Flask, session: Session, client: Any, clinic: dict[str, Any], ehr: Ehr) -> None:
    patient = f.patient(session, clinic["dr"])
    session.commit()
    token = ehr.token(service_url(SIGN))
    valid_response(call(client, SIGN, order_sign(clinic["dr"], patient), token))
    before = audit_count(session)
    _refused(call(client, SIGN, order_sign(clinic["dr"], patient), token), "used before")
    assert audit_count(session) == before
    system = session.get(EhrSystem, clinic["system"].id)
    assert system is not None
    system.active = False
    session.commit()
    _refused(call(client, SIGN, order_sign(clinic["dr"], patient),
                  ehr.token(service_url(SIGN))), "deactivated")


def test_the_public_url_is_an_accepted_audience(
        app: Flask, session: Session, client: Any, clinic: dict[str, Any], ehr: Ehr) -> None:
    patient = f.patient(session, clinic["dr"])
    session.commit()
    public = str(app.config["PUBLIC_URL"]).rstrip("/") + "/cds-services/" + SIGN
    valid_response(call(client, SIGN, order_sign(clinic["dr"], patient), ehr.token(public)))


# --- bad requests ---------------------------------------------------------------------------


@pytest.mark.parametrize(("mutate", "field"), [
    (lambda b: b.pop("hookInstance"), "hookInstance"),
    (lambda b: b["context"].pop("draftOrders"), "draftOrders"),
    (lambda b: b["context"].update(userId="Somebody"), "userId"),
    (lambda b: b.update(hook="patient-view"), "hook"),
    (lambda b: b.update(fhirAuthorization={"access_token": "x"}), "fhirAuthorization.token_type"),
])
def test_a_malformed_request_is_400_naming_the_field(
        session: Session, client: Any, clinic: dict[str, Any], ehr: Ehr, mutate: Any,
        field: str) -> None:
    patient = f.patient(session, clinic["dr"])
    session.commit()
    body = order_sign(clinic["dr"], patient)
    mutate(body)
    before, jtis = audit_count(session), jti_count(session)
    answer = call(client, SIGN, body, ehr.token(service_url(SIGN)))
    assert answer.status_code == 400, answer.get_data(as_text=True)
    data = answer.get_json()
    assert not list(ERROR.iter_errors(data))
    assert field in data["errors"], data
    assert (audit_count(session), jti_count(session)) == (before, jtis)


def test_not_json_and_an_unknown_service(client: Any, clinic: dict[str, Any], ehr: Ehr) -> None:
    token = ehr.token(service_url(SIGN))
    answer = client.post(f"/cds-services/{SIGN}", data="{not json",
                         headers={"Authorization": f"Bearer {token}",
                                  "Content-Type": "application/json"})
    assert answer.status_code == 400
    for answer, status in [(client.post("/cds-services/nope", json={}), 404),
                           (client.get(f"/cds-services/{SIGN}"), 405),
                           (client.get("/cds-services/a/b"), 404)]:
        assert answer.status_code == status
        assert answer.mimetype == "application/json"
        assert not list(ERROR.iter_errors(answer.get_json()))


# --- the cards --------------------------------------------------------------------------------


def _cards(client: Any, ehr: Ehr, body: dict[str, Any], service: str = SIGN,
           ) -> list[dict[str, Any]]:
    return valid_response(call(client, service, body, ehr.token(service_url(service))))


def _by_indicator(cards: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {c["summary"].split(" ")[0]: c for c in cards}


def test_order_sign_cards_at_each_step_until_eligible(
        app: Flask, session: Session, client: Any, clinic: dict[str, Any], ehr: Ehr,
        clock: Any) -> None:
    dr = clinic["dr"]
    public = str(app.config["PUBLIC_URL"]).rstrip("/")
    patient = f.patient(session, dr)
    session.commit()

    # 1. Just enrolled: the prescriber must enter the screening test and counsel.
    cards = _cards(client, ehr, order_sign(dr, patient))
    first = _by_indicator(cards)
    assert "Prescriber" in first, cards
    card = first["Prescriber"]
    assert card["indicator"] == "warning"
    assert len(card["summary"]) < 140
    assert "pregnancy test" in card["summary"]
    assert card["source"]["label"] == "Isotretinoin pregnancy-prevention program"
    assert "CONFIRMATION_TEST_REQUIRED" in card["detail"]
    assert patient.registry_id in card["detail"]
    urls = {link["url"] for link in card["links"]}
    assert f"{public}/patients/{patient.registry_id}/tests" in urls
    assert all(u.startswith(public) for u in urls)
    entry = session.execute(select(AuditEntry).where(
        AuditEntry.action == "cds:order-sign").order_by(AuditEntry.id.desc())).scalars().first()
    assert entry is not None
    assert entry.user_id == dr.user.id
    assert entry.role == "prescriber"
    assert entry.after is not None
    assert entry.after["via_system"] == clinic["system"].id
    assert entry.after["outcome"] == "data-required"
    assert entry.subject_id == str(patient.id)

    # 2. Screening entered; 30 days on, the confirmation test: counseling and the patient's
    # part are what is left.
    f.enter_test(session, patient)
    clock.forward(days=30)
    f.enter_test(session, patient)
    session.commit()
    cards = _cards(client, ehr, order_sign(dr, patient))
    seen = _by_indicator(cards)
    assert "counseling" in seen["Prescriber"]["summary"]
    assert "pregnancy test" not in seen["Prescriber"]["summary"]
    assert f"{public}/patients/{patient.registry_id}/counseling" in {
        link["url"] for link in seen["Prescriber"]["links"]}

    # 3. Counseled: only the patient must act (questions, contraception): an info card.
    f.counsel(session, patient)
    session.commit()
    cards = _cards(client, ehr, order_sign(dr, patient))
    seen = _by_indicator(cards)
    assert set(seen) == {"Patient"}, [c["summary"] for c in cards]
    assert seen["Patient"]["indicator"] == "info"
    assert "comprehension" in seen["Patient"]["summary"]
    assert "contraception" in seen["Patient"]["summary"]

    # 4. The patient did their part: eligible, one info card with the window's end.
    f.pass_questions(session, patient)
    f.attest(session, patient)
    session.commit()
    cards = _cards(client, ehr, order_sign(dr, patient))
    assert len(cards) == 1
    assert cards[0]["indicator"] == "info"
    assert "meets every program requirement" in cards[0]["summary"]
    assert "window closes" in cards[0]["summary"]
    last = session.execute(select(AuditEntry).where(
        AuditEntry.action == "cds:order-sign").order_by(AuditEntry.id.desc())).scalars().first()
    assert last is not None
    assert last.after is not None
    assert last.after["outcome"] == "success"


def test_a_reported_pregnancy_is_a_critical_card_suggesting_to_remove_the_order(
        session: Session, client: Any, clinic: dict[str, Any], ehr: Ehr) -> None:
    patient = f.patient(session, clinic["dr"])
    report_pregnancy(session, clinic["dr"].user, patient,
                     parse(PregnancyReportInput, reported_on=registry_clock.today()))
    session.commit()
    cards = _cards(client, ehr, order_sign(clinic["dr"], patient))
    critical = [c for c in cards if c["indicator"] == "critical"]
    assert len(critical) == 1
    card = critical[0]
    assert card["summary"].startswith("Prescriber: do not prescribe")
    assert card["selectionBehavior"] == "at-most-one"
    action = card["suggestions"][0]["actions"][0]
    assert action["type"] == "delete"
    assert action["resourceId"] == ["MedicationRequest/smart-MedicationRequest-103"]


def test_no_card_for_another_drug(session: Session, client: Any, clinic: dict[str, Any],
                                  ehr: Ehr) -> None:
    patient = f.patient(session, clinic["dr"])
    session.commit()
    assert _cards(client, ehr, order_sign(clinic["dr"], patient, drug="1191")) == []


def test_an_unmatched_patient_gets_the_enroll_card_never_a_guess(
        app: Flask, session: Session, client: Any, clinic: dict[str, Any], ehr: Ehr) -> None:
    dr = clinic["dr"]
    theirs = f.patient(session, clinic["other"])  # another prescriber's patient
    mine = f.patient(session, dr)
    session.commit()
    public = str(app.config["PUBLIC_URL"]).rstrip("/")
    bodies = [order_sign(dr, None), order_sign(dr, theirs)]
    same_name = order_sign(dr, None)  # the name and birth date of a patient, no ID
    same_name["prefetch"]["patient"]["name"] = [{"family": mine.last_name,
                                                 "given": [mine.first_name]}]
    same_name["prefetch"]["patient"]["birthDate"] = mine.date_of_birth.isoformat()
    wrong_birth = order_sign(dr, mine)
    wrong_birth["prefetch"]["patient"]["birthDate"] = "1960-01-01"
    for body in [*bodies, same_name, wrong_birth]:
        cards = _cards(client, ehr, body)
        assert len(cards) == 1, cards
        assert cards[0]["summary"].startswith("Prescriber: enroll this patient")
        assert cards[0]["links"][0]["url"] == f"{public}/patients/new"
        assert theirs.last_name not in str(cards)
        assert mine.last_name not in str(cards)


def test_a_prescriber_the_system_does_not_serve_learns_nothing(
        session: Session, client: Any, clinic: dict[str, Any], ehr: Ehr) -> None:
    theirs = f.patient(session, clinic["other"])
    session.commit()
    cards = _cards(client, ehr, order_sign(clinic["other"], theirs))
    assert len(cards) == 1
    assert "NPI is not registered" in cards[0]["summary"]
    assert theirs.registry_id not in str(cards)
    entry = session.execute(select(AuditEntry).where(AuditEntry.action == "cds:order-sign")
                            .order_by(AuditEntry.id.desc())).scalars().first()
    assert entry is not None
    assert entry.after is not None
    assert entry.after["outcome"] == "prescriber-not-served"
    assert entry.user_id is None


def test_missing_prefetch_is_fetched_from_the_registered_fhir_server_only(
        app: Flask, session: Session, client: Any, clinic: dict[str, Any], ehr: Ehr) -> None:
    dr = clinic["dr"]
    patient = f.patient(session, dr)
    session.commit()
    full = order_sign(dr, patient)
    resources = {"Patient/1288992": full["prefetch"]["patient"],
                 "Practitioner/example": full["prefetch"]["practitioner"]}
    asked: list[tuple[str, str, str | None]] = []

    def fake(base: str, reference: str, token: str | None) -> dict[str, Any] | None:
        asked.append((base, reference, token))
        return resources.get(reference)

    previous = app_fetcher(app, fake)
    try:
        body = order_sign(dr, patient)
        body["prefetch"] = {}
        cards = _cards(client, ehr, body)
        assert asked == [(FHIR_BASE, "Practitioner/example", "some-opaque-fhir-access-token"),
                         (FHIR_BASE, "Patient/1288992", "some-opaque-fhir-access-token")]
        assert "Prescriber" in _by_indicator(cards)
        # A fhirServer the program did not register is never asked.
        asked.clear()
        body["fhirServer"] = "https://attacker.example.org/fhir"
        cards = _cards(client, ehr, body)
        assert asked == []
        assert "NPI is not registered" in cards[0]["summary"]
        # Without fhirAuthorization nothing is fetched either.
        body["fhirServer"] = FHIR_BASE
        del body["fhirAuthorization"]
        _cards(client, ehr, body)
        assert asked == []
    finally:
        app_fetcher(app, previous)


def test_order_select_and_patient_view(session: Session, client: Any, clinic: dict[str, Any],
                                       ehr: Ehr) -> None:
    dr = clinic["dr"]
    patient = f.patient(session, dr)
    session.commit()
    select_body = order_sign(dr, patient)
    select_body["hook"] = "order-select"
    select_body["context"]["selections"] = ["MedicationRequest/smart-MedicationRequest-103"]
    assert _cards(client, ehr, select_body, "isotretinoin-order-select")
    select_body["context"]["selections"] = ["MedicationRequest/something-else"]
    assert _cards(client, ehr, select_body, "isotretinoin-order-select") == []
    view = order_sign(dr, patient)
    view["hook"] = "patient-view"
    del view["context"]["draftOrders"]
    cards = _cards(client, ehr, view, "isotretinoin-patient-view")
    assert cards
    assert cards[0]["summary"].startswith("Prescriber must act")
    stranger = order_sign(dr, None)
    stranger["hook"] = "patient-view"
    del stranger["context"]["draftOrders"]
    assert _cards(client, ehr, stranger, "isotretinoin-patient-view") == []


def test_every_service_is_reachable() -> None:
    assert {s.hook for s in SERVICES.values()} == {"order-sign", "order-select", "patient-view"}
    assert HOST.startswith("http://")
