"""The permission matrix, generated from the policy table: every declared endpoint by every
role (and anonymous).

What a role may do at all comes from ``registry.policy.HOLDERS``: a role that does not hold
the endpoint's permission gets 403 (anonymous: 401) before any record is read. Holders get
the endpoint's success status, except where the record says otherwise: a stranger to the
record (another prescriber, another pharmacy's pharmacist) gets 404, and the few acts tied
to one person (the pharmacy's RSP) are refused to the others; those exceptions are listed in
``RECORD`` below, each with its reason. No answer carries another stakeholder's data, and
none may be cached.

The world is built once for the module; every call runs in a SAVEPOINT rolled back after it,
so each role meets the same world.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

import pytest

import registry.api.endpoints  # noqa: F401 - every endpoint declared
from registry import clock as registry_clock
from registry import db
from registry.accounts.models import Role
from registry.accounts.schemas import Credentials
from registry.api.contract import ENDPOINTS
from registry.api.operations import issue_token
from registry.contract import parse
from registry.pharmacies.schemas import PharmacySystemRegistration
from registry.pharmacies.systems import register_system
from registry.policy import holds, open_to_anyone
from registry.pregnancies.operations import report_pregnancy
from registry.pregnancies.schemas import PregnancyReportInput
from tests import factories as f
from tests.api.conftest import METHODS, PASSWORD, Api, correct_answers
from tests.harness import Clock, Shared
from tests.interop.cds_support import Ehr
from tests.interop.cds_support import register as register_ehr

ROLES = ["anonymous", "prescriber", "other_prescriber", "designee", "pharmacist", "rsp",
         "other_pharmacist", "patient", "staff"]
ROLE_OF = {"prescriber": Role.PRESCRIBER, "other_prescriber": Role.PRESCRIBER,
           "designee": Role.DESIGNEE, "pharmacist": Role.PHARMACIST, "rsp": Role.PHARMACIST,
           "other_pharmacist": Role.PHARMACIST, "patient": Role.PATIENT, "staff": Role.STAFF}
_n = itertools.count(1)


@dataclass
class World:
    tokens: dict[str, str | None]
    ids: dict[str, Any]
    secrets: dict[str, list[str]]  # role -> strings its answers must never contain
    now: Any


def unique(prefix: str) -> str:
    return f"{prefix}{next(_n)}"


def today() -> str:
    return registry_clock.today().isoformat()


def build_world(session: Any, clock: Clock) -> World:
    clock.to("2026-03-02")
    dr, other_dr = f.prescriber(session), f.prescriber(session)
    des = f.designee(session, dr)
    ph, other_ph = f.pharmacy(session), f.pharmacy(session)
    rph, other_rph = f.pharmacist(session, ph), f.pharmacist(session, other_ph)
    spare_rph = f.pharmacist(session, ph)
    staff = f.staff(session)
    p = f.patient(session, dr)
    f.ready_for_first_prescription(session, p, clock)  # moves the clock 30 days
    f.counsel(session, p)  # a second counseling, so the questions are open for the patient
    outcome = f.authorize(session, rph, p)
    assert outcome.authorization is not None
    q = f.patient(session, dr, can_get_pregnant=False)
    f.counsel(session, q)
    f.pass_questions(session, q)
    r = f.patient(session, dr)
    ended = f.patient(session, dr, can_get_pregnant=False)
    f.end_treatment(session, ended)
    reported = f.patient(session, dr, can_get_pregnant=False)
    report = report_pregnancy(session, dr.user, reported,
                              parse(PregnancyReportInput, reported_on=registry_clock.today()))
    pending, code = f.registered(session, dr, can_get_pregnant=False,
                                 date_of_birth=date(1991, 2, 3))
    stranger = f.patient(session, other_dr)
    system, _credential = register_system(session, staff, parse(
        PharmacySystemRegistration, name="Counter software", pharmacy_id=ph.id))
    ehr = register_ehr(session, Ehr(), [dr])
    users = {"prescriber": dr.user, "other_prescriber": other_dr.user, "designee": des.user,
             "pharmacist": rph.user, "rsp": f.rsp_of(ph).user, "other_pharmacist": other_rph.user,
             "patient": p.user, "staff": staff}
    tokens: dict[str, str | None] = {"anonymous": None}
    for role, user in users.items():
        tokens[role] = issue_token(session, Credentials(email=user.email, password=PASSWORD))[1]
    session.commit()
    everyone_but_staff = [stranger.registry_id, stranger.email, "$argon2"]
    p_secrets = [p.registry_id, p.email, p.last_name]
    secrets = {role: list(everyone_but_staff) for role in ROLES}
    secrets["staff"] = ["$argon2"]
    for role in ("anonymous", "other_prescriber", "other_pharmacist"):
        secrets[role] += [*p_secrets, q.registry_id, q.email]
    for role in ("pharmacist", "rsp"):
        secrets[role] += [p.email, q.email]
    ids = {"dr": dr.id, "dr_npi": dr.npi, "dr_email": dr.user.email, "other_dr": other_dr.id,
           "other_dr_npi": other_dr.npi, "r_dob": r.date_of_birth.isoformat(),
           "designee": des.id,
           "pharmacy": ph.id, "spare_rph": spare_rph.id, "system": system.id, "p": p.registry_id,
           "p_dob": p.date_of_birth.isoformat(), "q": q.registry_id, "r": r.registry_id,
           "ended": ended.registry_id, "report": report.id, "pending_id": pending.registry_id,
           "rma": outcome.authorization.rma, "ehr": ehr.id, "q_request": {
               "registry_id": q.registry_id, "date_of_birth": q.date_of_birth.isoformat(),
               "prescriber_npi": dr.npi, "days_supply": 30, "quantity": 60, "refills": 0},
           "pending": {"registry_id": pending.registry_id, "date_of_birth": "1991-02-03",
                       "activation_code": code, "password": PASSWORD}}
    return World(tokens, ids, secrets, registry_clock.now())


Body = Callable[[World, Api, str], Any]


@dataclass
class Call:
    path: Callable[[World], str]
    body: Body | None = None


def _transfer(w: World, a: Api, role: str) -> dict[str, Any]:
    """Staff move r to the other prescriber; a prescriber takes r on (r's data is no secret to
    the one who, knowing the ID and date of birth, becomes its prescriber of record)."""
    if role == "staff":
        return {"prescriber_npi": w.ids["other_dr_npi"], "reason": "Moved"}
    return {"date_of_birth": w.ids["r_dob"], "reason": "Moved"}


def _answers(w: World, a: Api, role: str) -> dict[str, Any]:
    token = w.tokens["patient"]
    questions = a.get("/me/comprehension", token=token).get_json()["questions"]
    return {"answers": correct_answers(a.app, questions)}


# How to call each endpoint (label as in the OpenAPI document).
CALLS: dict[str, Call] = {
    "POST /tokens": Call(lambda w: "/tokens", lambda w, a, r: {
        "email": w.ids["dr_email"], "password": PASSWORD}),
    "DELETE /tokens/current": Call(lambda w: "/tokens/current"),
    "GET /me": Call(lambda w: "/me"),
    "POST /prescribers": Call(lambda w: "/prescribers", lambda w, a, r: {
        "email": unique("new-dr") + "@example.org", "password": PASSWORD, "first_name": "N",
        "last_name": "P", "npi": f.npi()}),
    "POST /prescribers/{prescriber_id}/attestations": Call(
        lambda w: f"/prescribers/{w.ids['dr']}/attestations"),
    "POST /prescribers/{prescriber_id}/designees": Call(
        lambda w: f"/prescribers/{w.ids['dr']}/designees", lambda w, a, r: {
            "email": unique("new-des") + "@example.org", "password": PASSWORD,
            "first_name": "D", "last_name": "E"}),
    "DELETE /prescribers/{prescriber_id}/designees/{designee_id}": Call(
        lambda w: f"/prescribers/{w.ids['dr']}/designees/{w.ids['designee']}"),
    "GET /prescribers/{prescriber_id}/patients": Call(
        lambda w: f"/prescribers/{w.ids['dr']}/patients"),
    "POST /designees/{designee_id}/attestations": Call(
        lambda w: f"/designees/{w.ids['designee']}/attestations"),
    "POST /pharmacies": Call(lambda w: "/pharmacies", lambda w, a, r: {
        "name": "New", "ncpdp_id": f.ncpdp(), "npi": f.npi(), "rsp": {
            "email": unique("new-rsp") + "@example.org", "password": PASSWORD,
            "first_name": "R", "last_name": "S", "license_number": "L1"}}),
    "POST /pharmacies/{pharmacy_id}/activations": Call(
        lambda w: f"/pharmacies/{w.ids['pharmacy']}/activations",
        lambda w, a, r: {"staff_trained": True}),
    "POST /pharmacies/{pharmacy_id}/pharmacists": Call(
        lambda w: f"/pharmacies/{w.ids['pharmacy']}/pharmacists", lambda w, a, r: {
            "email": unique("new-rph") + "@example.org", "password": PASSWORD,
            "first_name": "P", "last_name": "H", "license_number": "L2",
            "training_completed_on": today()}),
    "PATCH /pharmacies/{pharmacy_id}/pharmacists/{pharmacist_id}": Call(
        lambda w: f"/pharmacies/{w.ids['pharmacy']}/pharmacists/{w.ids['spare_rph']}",
        lambda w, a, r: {"training_completed_on": today()}),
    "DELETE /pharmacies/{pharmacy_id}/pharmacists/{pharmacist_id}": Call(
        lambda w: f"/pharmacies/{w.ids['pharmacy']}/pharmacists/{w.ids['spare_rph']}"),
    "GET /pharmacies/{pharmacy_id}/authorizations": Call(
        lambda w: f"/pharmacies/{w.ids['pharmacy']}/authorizations"),
    "POST /patients": Call(lambda w: "/patients", lambda w, a, r: {
        "prescriber_id": w.ids["dr"], "first_name": "New", "last_name": "Patient",
        "date_of_birth": "1990-01-01", "email": unique("new-pt") + "@example.org",
        "risk_category": "cannot_get_pregnant", "consent_signed_on": today()}),
    "POST /patients/activation": Call(lambda w: "/patients/activation",
                                      lambda w, a, r: w.ids["pending"]),
    "GET /patients/{registry_id}": Call(lambda w: f"/patients/{w.ids['p']}"),
    # (the email of an activated patient is their sign-in address: not the clinic's to change)
    "PATCH /patients/{registry_id}": Call(lambda w: f"/patients/{w.ids['p']}",
                                          lambda w, a, r: {"contraception_start_date": today()}),
    "GET /patients/{registry_id}/status": Call(lambda w: f"/patients/{w.ids['p']}/status"),
    "POST /patients/{registry_id}/pregnancy-tests": Call(
        lambda w: f"/patients/{w.ids['r']}/pregnancy-tests", lambda w, a, r: {
            "specimen_collected_on": today(), "result": "negative", "setting": "lab"}),
    "POST /patients/{registry_id}/counseling": Call(
        lambda w: f"/patients/{w.ids['p']}/counseling", lambda w, a, r: {
            "counseled_on": today(), "contraception": {"methods": METHODS}}),
    "POST /patients/{registry_id}/risk-category": Call(
        lambda w: f"/patients/{w.ids['p']}/risk-category", lambda w, a, r: {
            "risk_category": "cannot_get_pregnant", "reason": "Hysterectomy"}),
    "POST /patients/{registry_id}/treatment-end": Call(
        lambda w: f"/patients/{w.ids['p']}/treatment-end",
        lambda w, a, r: {"last_dose_on": today()}),
    "POST /patients/{registry_id}/activation-codes": Call(
        lambda w: f"/patients/{w.ids['pending_id']}/activation-codes"),
    "POST /patients/{registry_id}/courses": Call(
        lambda w: f"/patients/{w.ids['ended']}/courses", lambda w, a, r: {}),
    "POST /patients/{registry_id}/transfers": Call(
        lambda w: f"/patients/{w.ids['r']}/transfers", _transfer),
    "POST /patients/{registry_id}/deactivation": Call(
        lambda w: f"/patients/{w.ids['p']}/deactivation",
        lambda w, a, r: {"reason": "Left the program"}),
    "POST /patients/{registry_id}/pregnancy-reports": Call(
        lambda w: f"/patients/{w.ids['p']}/pregnancy-reports",
        lambda w, a, r: {"reported_on": today()}),
    "GET /me/comprehension": Call(lambda w: "/me/comprehension"),
    "POST /me/comprehension": Call(lambda w: "/me/comprehension", _answers),
    "POST /me/contraception": Call(lambda w: "/me/contraception",
                                   lambda w, a, r: {"methods": METHODS}),
    "POST /authorization-checks": Call(lambda w: "/authorization-checks",
                                       lambda w, a, r: w.ids["q_request"]),
    "POST /authorizations": Call(lambda w: "/authorizations", lambda w, a, r: w.ids["q_request"]),
    "GET /authorizations/{rma}": Call(lambda w: f"/authorizations/{w.ids['rma']}"),
    "POST /authorizations/{rma}/dispensation": Call(
        lambda w: f"/authorizations/{w.ids['rma']}/dispensation",
        lambda w, a, r: {"dispensed_on": today(), "quantity": 60, "days_supply": 30}),
    "POST /authorizations/{rma}/reversal": Call(
        lambda w: f"/authorizations/{w.ids['rma']}/reversal",
        lambda w, a, r: {"reason": "Not picked up"}),
    "GET /pregnancy-reports": Call(lambda w: "/pregnancy-reports"),
    "GET /pregnancy-reports/{report_id}": Call(
        lambda w: f"/pregnancy-reports/{w.ids['report']}"),
    "POST /pregnancy-reports/{report_id}/follow-ups": Call(
        lambda w: f"/pregnancy-reports/{w.ids['report']}/follow-ups",
        lambda w, a, r: {"noted_on": today(), "note": "Called the patient"}),
    "POST /pregnancy-reports/{report_id}/lift": Call(
        lambda w: f"/pregnancy-reports/{w.ids['report']}/lift",
        lambda w, a, r: {"reason": "Lab error, documented"}),
    "POST /compliance-actions": Call(lambda w: "/compliance-actions", lambda w, a, r: {
        "subject_type": "prescriber", "subject_id": w.ids["dr"], "action": "notice",
        "reason": "Late attestation"}),
    "POST /pharmacy-systems": Call(lambda w: "/pharmacy-systems", lambda w, a, r: {
        "name": "Another counter", "pharmacy_id": w.ids["pharmacy"]}),
    "GET /pharmacy-systems": Call(lambda w: "/pharmacy-systems"),
    "POST /pharmacy-systems/{system_id}/credential": Call(
        lambda w: f"/pharmacy-systems/{w.ids['system']}/credential"),
    "DELETE /pharmacy-systems/{system_id}": Call(
        lambda w: f"/pharmacy-systems/{w.ids['system']}"),
    "GET /reports/summary": Call(lambda w: "/reports/summary"),
    "GET /audit": Call(lambda w: "/audit?limit=500"),
    "POST /ehr-systems": Call(lambda w: "/ehr-systems", lambda w, a, r: {
        "name": "New EHR", "issuer": "https://new-ehr.example.org", "client_id": "c",
        "jwks": Ehr().jwks(), "fhir_base_url": "https://new-ehr.example.org/fhir",
        "prescriber_npis": [w.ids["dr_npi"]]}),
    "GET /ehr-systems": Call(lambda w: "/ehr-systems"),
    "GET /ehr-systems/{ehr_system_id}": Call(lambda w: f"/ehr-systems/{w.ids['ehr']}"),
    "PATCH /ehr-systems/{ehr_system_id}": Call(lambda w: f"/ehr-systems/{w.ids['ehr']}",
                                               lambda w, a, r: {"active": False}),
}

STRANGERS = {"other_prescriber": 404, "other_pharmacist": 404}
NOT_THE_RSP = {"pharmacist": 403, "other_pharmacist": 404}
# Record-level outcomes for roles that hold the permission (see the module's docstring).
RECORD: dict[str, dict[str, int]] = {
    # a prescriber acts for themselves: another prescriber's record is not found
    "POST /prescribers/{prescriber_id}/attestations": STRANGERS,
    # a new designee is invited (202; 201 is linking an existing designee by id)
    "POST /prescribers/{prescriber_id}/designees": {**STRANGERS, "prescriber": 202},
    "DELETE /prescribers/{prescriber_id}/designees/{designee_id}": STRANGERS,
    "GET /prescribers/{prescriber_id}/patients": STRANGERS,
    # only the pharmacy's RSP runs it; another pharmacy's pharmacist does not see it
    "POST /pharmacies/{pharmacy_id}/activations": NOT_THE_RSP,
    "POST /pharmacies/{pharmacy_id}/pharmacists": NOT_THE_RSP,
    "PATCH /pharmacies/{pharmacy_id}/pharmacists/{pharmacist_id}": NOT_THE_RSP,
    "DELETE /pharmacies/{pharmacy_id}/pharmacists/{pharmacist_id}": NOT_THE_RSP,
    "GET /pharmacies/{pharmacy_id}/authorizations": STRANGERS,
    # the patient's record: only their care team (and they, and staff) see it
    "GET /patients/{registry_id}": STRANGERS,
    "GET /patients/{registry_id}/status": STRANGERS,
    "PATCH /patients/{registry_id}": STRANGERS,
    "POST /patients/{registry_id}/pregnancy-tests": STRANGERS,
    "POST /patients/{registry_id}/counseling": STRANGERS,
    "POST /patients/{registry_id}/risk-category": STRANGERS,
    "POST /patients/{registry_id}/treatment-end": STRANGERS,
    "POST /patients/{registry_id}/activation-codes": STRANGERS,
    "POST /patients/{registry_id}/courses": STRANGERS,
    "POST /patients/{registry_id}/deactivation": STRANGERS,
    # another prescriber takes the patient on (the prescriber of record already has them)
    "POST /patients/{registry_id}/transfers": {"prescriber": 422, "other_prescriber": 200},
    # a pharmacist reports for a patient their pharmacy served; strangers do not see them
    "POST /patients/{registry_id}/pregnancy-reports": STRANGERS,
    # the reporter sees their report; nobody else but staff
    "GET /pregnancy-reports/{report_id}": {
        "other_prescriber": 404, "designee": 404, "pharmacist": 404, "rsp": 404,
        "other_pharmacist": 404, "patient": 404},
    # the issuing pharmacy, the prescriber of record (and designees), staff
    "GET /authorizations/{rma}": STRANGERS,
    "POST /authorizations/{rma}/dispensation": STRANGERS,
    "POST /authorizations/{rma}/reversal": STRANGERS,
}


def expected(label: str, role: str) -> int:
    declared = {e.label: e for e in ENDPOINTS}[label]
    if role == "anonymous":
        return declared.status if open_to_anyone(declared.permission) else 401
    if not holds(ROLE_OF[role], declared.permission):
        return 403
    return RECORD.get(label, {}).get(role, declared.status)


@pytest.fixture(scope="module")
def world(shared_app: Shared) -> World:
    with shared_app.app.app_context():
        return build_world(db.session(), shared_app.clock)


def test_every_endpoint_has_a_call_and_every_call_an_endpoint() -> None:
    assert {e.label for e in ENDPOINTS} == set(CALLS)


@pytest.mark.parametrize("label", sorted(e.label for e in ENDPOINTS))
def test_permission_matrix(label: str, shared_app: Shared, world: World, clock: Clock) -> None:
    app = shared_app.app
    declared = {e.label: e for e in ENDPOINTS}[label]
    call = CALLS[label]
    api = Api(app)
    seen: dict[str, int] = {}
    want: dict[str, int] = {}
    for role in ROLES:
        clock.to(world.now)
        with shared_app.rolled_back():
            body = call.body(world, api, role) if call.body else None
            r = api.call(declared.method, call.path(world), body, token=world.tokens[role])
            seen[role] = r.status_code
            want[role] = expected(label, role)
            text = r.get_data(as_text=True)
            for secret in world.secrets[role]:
                assert secret not in text, (label, role, secret)
            if r.status_code >= 400:
                assert r.mimetype == "application/problem+json", (label, role)
            # Tokens, patient data, problems: no answer of the API may be kept by a cache.
            assert "no-store" in r.headers.get("Cache-Control", ""), (label, role)
    assert seen == want


def test_the_generated_expectations_follow_the_table() -> None:
    """The generator itself: a role outside the table is refused at the door."""
    assert expected("POST /patients/{registry_id}/pregnancy-reports", "anonymous") == 401
    assert expected("GET /pregnancy-reports", "prescriber") == 403
    assert expected("GET /pregnancy-reports", "staff") == 200
    assert expected("POST /pregnancy-reports/{report_id}/lift", "patient") == 403

