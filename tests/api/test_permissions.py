"""The permission matrix: every endpoint by every role (and anonymous) → the expected status,
and no body ever carries another stakeholder's data."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

import registry.api.endpoints  # noqa: F401 - every endpoint declared
from registry import clock as registry_clock
from registry.accounts.schemas import Credentials
from registry.api.contract import ENDPOINTS as DECLARED_ENDPOINTS
from registry.api.operations import issue_token
from registry.patients.operations import end_treatment, register_patient
from registry.patients.schemas import PatientRegistration, TreatmentEnding
from tests import factories as f
from tests.api.conftest import METHODS, PASSWORD, Api, correct_answers

ROLES = ["anonymous", "prescriber", "other_prescriber", "designee", "pharmacist", "rsp",
         "other_pharmacist", "patient", "staff"]
_n = itertools.count(1)


@dataclass
class World:
    tokens: dict[str, str | None]
    ids: dict[str, Any]
    secrets: dict[str, list[str]]  # role -> strings its answers must never contain


def build_world(session: Any, clock: Any) -> World:
    clock.to("2026-03-02")
    dr, other_dr = f.prescriber(session), f.prescriber(session)
    des = f.designee(session, dr)
    ph, other_ph = f.pharmacy(session), f.pharmacy(session)
    rph, other_rph = f.pharmacist(session, ph), f.pharmacist(session, other_ph)
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
    n = next(_n)
    pending, code, _ = register_patient(session, dr.user, PatientRegistration(
        first_name="Pen", last_name=f"Ding{n}", date_of_birth="1991-02-03",
        email=f"pending{n}@example.org", risk_category="cannot_get_pregnant",
        consent_signed_on=registry_clock.today()))
    stranger = f.patient(session, other_dr)
    t = f.patient(session, other_dr)  # to be taken on (transfers)
    e = f.patient(session, dr, can_get_pregnant=False)  # treatment complete (courses)
    end_treatment(session, dr.user, e, TreatmentEnding(last_dose_on=registry_clock.today()))
    users = {"prescriber": dr.user, "other_prescriber": other_dr.user, "designee": des.user,
             "pharmacist": rph.user, "rsp": f.rsp_of(ph).user, "other_pharmacist": rph.user,
             "patient": p.user, "staff": staff}
    users["other_pharmacist"] = other_rph.user
    tokens: dict[str, str | None] = {"anonymous": None}
    for role, user in users.items():
        tokens[role] = issue_token(
            session, Credentials(email=user.email, password=PASSWORD))[1]
    # Requests share this session (one app context): commit (a SAVEPOINT release in the
    # test harness) so that an error's rollback in a request does not undo the world.
    session.commit()
    everyone_but_staff = [stranger.registry_id, stranger.email, "$argon2"]
    p_secrets = [p.registry_id, p.email, p.last_name]
    secrets = {role: list(everyone_but_staff) for role in ROLES}
    secrets["staff"] = ["$argon2"]
    for role in ("anonymous", "other_prescriber", "other_pharmacist"):
        secrets[role] += [*p_secrets, q.registry_id, q.email]
    for role in ("pharmacist", "rsp"):
        secrets[role] += [p.email, q.email]
    ids = {"dr": dr.id, "dr_email": dr.user.email, "designee": des.id, "pharmacy": ph.id,
           "rph": rph.id,
           "p": p.registry_id, "q": q.registry_id, "r": r.registry_id,
           "t": {"registry_id": t.registry_id, "date_of_birth": t.date_of_birth.isoformat()},
           "e": e.registry_id, "dr_npi": dr.npi,
           "rma": outcome.authorization.rma, "q_request": {
               "registry_id": q.registry_id, "date_of_birth": q.date_of_birth.isoformat(),
               "prescriber_npi": dr.npi, "days_supply": 30, "quantity": 60, "refills": 0},
           "pending": {"registry_id": pending.registry_id, "date_of_birth": "1991-02-03",
                       "activation_code": code, "password": PASSWORD}}
    return World(tokens, ids, secrets)


def today() -> str:
    return registry_clock.today().isoformat()


@dataclass
class Endpoint:
    method: str
    path: Callable[[World], str]
    body: Callable[[World, Any], Any] | None
    expect: dict[str, int]


def unique(prefix: str) -> str:
    return f"{prefix}{next(_n)}"


def everyone(status: int) -> dict[str, int]:
    return dict.fromkeys(ROLES, status)


def only(status: int, roles: list[str], *, others: int = 403, **special: int) -> dict[str, int]:
    out = dict.fromkeys(ROLES, others)
    out["anonymous"] = 401
    out.update(dict.fromkeys(roles, status))
    out.update(special)
    return out


NOT_CARE = ["other_prescriber", "pharmacist", "rsp", "other_pharmacist"]
# Roles that do not hold an endpoint's permission are refused at the door (403), before the
# record is looked up.
PHARMACY = {"pharmacist": 403, "rsp": 403, "other_pharmacist": 403}


def care(status: int, roles: list[str], **special: int) -> dict[str, int]:
    """A patient record: those who may not see it get 404; those who see it but may not act
    get 403."""
    out = only(status, roles, **special)
    out.update(dict.fromkeys([r for r in NOT_CARE if r not in roles and r not in special], 404))
    return out


ENDPOINTS: dict[str, Endpoint] = {
    "POST /tokens": Endpoint("POST", lambda w: "/tokens",
                             lambda w, a: {"email": w.ids["dr_email"], "password": PASSWORD},
                             everyone(201)),
    "DELETE /tokens/current": Endpoint("DELETE", lambda w: "/tokens/current", None,
                                       {**everyone(204), "anonymous": 401}),
    "POST /prescribers": Endpoint("POST", lambda w: "/prescribers", lambda w, a: {
        "email": unique("new-dr") + "@example.org", "password": PASSWORD, "first_name": "N",
        "last_name": "P", "npi": f.npi()}, everyone(202)),
    "POST /prescribers/{id}/attestations": Endpoint(
        "POST", lambda w: f"/prescribers/{w.ids['dr']}/attestations", None,
        only(201, ["prescriber"], other_prescriber=404)),
    "POST /prescribers/{id}/designees": Endpoint(
        "POST", lambda w: f"/prescribers/{w.ids['dr']}/designees", lambda w, a: {
            "email": unique("new-des") + "@example.org", "password": PASSWORD,
            "first_name": "D", "last_name": "E"},
        only(202, ["prescriber"], other_prescriber=404)),
    "DELETE /prescribers/{id}/designees/{id}": Endpoint(
        "DELETE", lambda w: f"/prescribers/{w.ids['dr']}/designees/{w.ids['designee']}", None,
        only(204, ["prescriber"], other_prescriber=404)),
    "GET /prescribers/{id}/patients": Endpoint(
        "GET", lambda w: f"/prescribers/{w.ids['dr']}/patients", None,
        only(200, ["prescriber", "designee"], other_prescriber=404)),
    "POST /designees/{id}/attestations": Endpoint(
        "POST", lambda w: f"/designees/{w.ids['designee']}/attestations", None,
        only(201, ["designee"])),
    "POST /pharmacies": Endpoint("POST", lambda w: "/pharmacies", lambda w, a: {
        "name": "New", "ncpdp_id": f.ncpdp(), "npi": f.npi(), "rsp": {
            "email": unique("new-rsp") + "@example.org", "password": PASSWORD,
            "first_name": "R", "last_name": "S", "license_number": "L1"}}, everyone(202)),
    "POST /pharmacies/{id}/activations": Endpoint(
        "POST", lambda w: f"/pharmacies/{w.ids['pharmacy']}/activations",
        lambda w, a: {"staff_trained": True},
        only(201, ["rsp"], other_pharmacist=404)),
    "POST /pharmacies/{id}/pharmacists": Endpoint(
        "POST", lambda w: f"/pharmacies/{w.ids['pharmacy']}/pharmacists", lambda w, a: {
            "email": unique("new-rph") + "@example.org", "password": PASSWORD,
            "first_name": "P", "last_name": "H", "license_number": "L2",
            "training_completed_on": today()},
        only(201, ["rsp"], other_pharmacist=404)),
    "PATCH /pharmacies/{id}/pharmacists/{pharmacist_id}": Endpoint(
        "PATCH", lambda w: f"/pharmacies/{w.ids['pharmacy']}/pharmacists/{w.ids['rph']}",
        lambda w, a: {"training_completed_on": today()},
        only(200, ["rsp"], other_pharmacist=404)),
    "DELETE /pharmacies/{id}/pharmacists/{pharmacist_id}": Endpoint(
        "DELETE", lambda w: f"/pharmacies/{w.ids['pharmacy']}/pharmacists/{w.ids['rph']}",
        None, only(204, ["rsp"], other_pharmacist=404)),
    "GET /pharmacies/{id}/authorizations": Endpoint(
        "GET", lambda w: f"/pharmacies/{w.ids['pharmacy']}/authorizations", None,
        only(200, ["pharmacist", "rsp"], other_pharmacist=404)),
    "POST /patients": Endpoint("POST", lambda w: "/patients", lambda w, a: {
        "prescriber_id": w.ids["dr"], "first_name": "New", "last_name": "Patient",
        "date_of_birth": "1990-01-01", "email": unique("new-pt") + "@example.org",
        "risk_category": "cannot_get_pregnant", "consent_signed_on": today()},
        only(201, ["prescriber", "other_prescriber", "designee"])),
    "POST /patients/activation": Endpoint(
        "POST", lambda w: "/patients/activation", lambda w, a: w.ids["pending"],
        everyone(200)),
    "GET /patients/{id}": Endpoint(
        "GET", lambda w: f"/patients/{w.ids['p']}", None,
        care(200, ["prescriber", "designee", "patient", "staff"], **PHARMACY)),
    "GET /patients/{id}/status": Endpoint(
        "GET", lambda w: f"/patients/{w.ids['p']}/status", None,
        care(200, ["prescriber", "designee", "patient", "staff"], **PHARMACY)),
    "POST /patients/{id}/pregnancy-tests": Endpoint(
        "POST", lambda w: f"/patients/{w.ids['r']}/pregnancy-tests", lambda w, a: {
            "specimen_collected_on": today(), "result": "negative", "setting": "lab"},
        care(201, ["prescriber", "designee"], patient=403, **PHARMACY)),
    "POST /patients/{id}/counseling": Endpoint(
        "POST", lambda w: f"/patients/{w.ids['p']}/counseling", lambda w, a: {
            "counseled_on": today(), "contraception": {"methods": METHODS}},
        care(201, ["prescriber"], **PHARMACY)),
    "GET /me/comprehension": Endpoint("GET", lambda w: "/me/comprehension", None,
                                      only(200, ["patient"])),
    "POST /me/comprehension": Endpoint(
        "POST", lambda w: "/me/comprehension", lambda w, a: {"answers": correct_answers(
            a.app, a.get("/me/comprehension", token=w.tokens["patient"]).get_json()
            ["questions"])}, only(200, ["patient"])),
    "POST /me/contraception": Endpoint("POST", lambda w: "/me/contraception",
                                       lambda w, a: {"methods": METHODS},
                                       only(201, ["patient"])),
    "POST /patients/{id}/risk-category": Endpoint(
        "POST", lambda w: f"/patients/{w.ids['p']}/risk-category", lambda w, a: {
            "risk_category": "cannot_get_pregnant", "reason": "Hysterectomy"},
        care(200, ["prescriber"], **PHARMACY)),
    "POST /patients/{id}/treatment-end": Endpoint(
        "POST", lambda w: f"/patients/{w.ids['p']}/treatment-end",
        lambda w, a: {"last_dose_on": today()}, care(200, ["prescriber"], **PHARMACY)),
    "PATCH /patients/{id}": Endpoint(
        "PATCH", lambda w: f"/patients/{w.ids['p']}",
        lambda w, a: {"contraception_start_date": today()},
        care(200, ["prescriber", "designee"], **PHARMACY)),
    "POST /patients/{id}/activation-codes": Endpoint(
        "POST", lambda w: f"/patients/{w.ids['pending']['registry_id']}/activation-codes",
        None, care(201, ["prescriber", "designee"], **PHARMACY)),
    "POST /patients/{id}/courses": Endpoint(
        "POST", lambda w: f"/patients/{w.ids['e']}/courses", lambda w, a: {},
        care(201, ["prescriber"], **PHARMACY)),
    "POST /patients/{id}/transfers": Endpoint(
        "POST", lambda w: f"/patients/{w.ids['t']['registry_id']}/transfers",
        lambda w, a: {"date_of_birth": w.ids["t"]["date_of_birth"],
                      "prescriber_npi": w.ids["dr_npi"], "reason": "Moved"},
        only(200, ["prescriber", "staff"], other_prescriber=422)),
    "POST /patients/{id}/deactivation": Endpoint(
        "POST", lambda w: f"/patients/{w.ids['p']}/deactivation",
        lambda w, a: {"reason": "Left the program"},
        care(200, ["prescriber", "staff"], **PHARMACY)),
    "GET /me": Endpoint("GET", lambda w: "/me", None, {**everyone(200), "anonymous": 401}),
    "POST /patients/{id}/pregnancy-reports": Endpoint(
        "POST", lambda w: f"/patients/{w.ids['p']}/pregnancy-reports",
        lambda w, a: {"reported_on": today()},
        care(201, ["prescriber", "designee", "pharmacist", "rsp", "patient", "staff"])),
    "POST /authorization-checks": Endpoint(
        "POST", lambda w: "/authorization-checks", lambda w, a: w.ids["q_request"],
        only(200, ["pharmacist", "rsp", "other_pharmacist"])),
    "POST /authorizations": Endpoint(
        "POST", lambda w: "/authorizations", lambda w, a: w.ids["q_request"],
        only(201, ["pharmacist", "rsp", "other_pharmacist"])),
    "GET /authorizations/{rma}": Endpoint(
        "GET", lambda w: f"/authorizations/{w.ids['rma']}", None,
        only(200, ["prescriber", "designee", "pharmacist", "rsp", "staff"], others=404,
             patient=403)),
    "POST /authorizations/{rma}/dispensation": Endpoint(
        "POST", lambda w: f"/authorizations/{w.ids['rma']}/dispensation",
        lambda w, a: {"dispensed_on": today(), "quantity": 60, "days_supply": 30},
        only(200, ["pharmacist", "rsp"], other_pharmacist=404)),
    "POST /authorizations/{rma}/reversal": Endpoint(
        "POST", lambda w: f"/authorizations/{w.ids['rma']}/reversal",
        lambda w, a: {"reason": "Not picked up"},
        only(200, ["pharmacist", "rsp"], other_pharmacist=404)),
    "POST /compliance-actions": Endpoint(
        "POST", lambda w: "/compliance-actions", lambda w, a: {
            "subject_type": "prescriber", "subject_id": w.ids["dr"], "action": "notice",
            "reason": "Late attestation"}, only(201, ["staff"])),
    "GET /reports/summary": Endpoint("GET", lambda w: "/reports/summary", None,
                                     only(200, ["staff"])),
    "GET /audit": Endpoint("GET", lambda w: "/audit?limit=500", None, only(200, ["staff"])),
    "GET /openapi.json": Endpoint("GET", lambda w: "/openapi.json", None, everyone(200)),
}


def test_the_matrix_covers_every_documented_operation():
    from registry.api.openapi import document

    documented = set()
    for path, methods in document()["paths"].items():
        for method in methods:
            documented.add((method.upper(), path))
    covered = set()
    for name in ENDPOINTS:
        method, path = name.split(" ", 1)
        path = path.replace("{id}", "{x}").replace("{rma}", "{x}")
        covered.add((method, path))
    normalized = {(m, p.replace("{prescriber_id}", "{x}").replace("{report_id}", "{x}")
                   .replace("{designee_id}", "{x}")
                   .replace("{pharmacy_id}", "{x}").replace("{registry_id}", "{x}")
                   .replace("{rma}", "{x}")) for m, p in documented}
    declared = {(e.method, e.path.replace("{report_id}", "{x}").replace("{prescriber_id}", "{x}")
                 .replace("{designee_id}", "{x}").replace("{pharmacy_id}", "{x}")
                 .replace("{registry_id}", "{x}").replace("{rma}", "{x}"))
                for e in DECLARED_ENDPOINTS}
    # Endpoints declared with a permission are in test_permission_matrix.py (generated).
    assert normalized - declared == covered - declared


DECLARED = {e.label.replace("{report_id}", "{id}") for e in DECLARED_ENDPOINTS}


@pytest.mark.parametrize("name", [n for n in ENDPOINTS if n not in DECLARED])
def test_permission_matrix(name, app, session, clock):
    endpoint = ENDPOINTS[name]
    api = Api(app)
    world = build_world(session, clock)
    seen: dict[str, int] = {}
    for role in ROLES:
        body = endpoint.body(world, api) if endpoint.body else None
        r = api.call(endpoint.method, endpoint.path(world), body, token=world.tokens[role])
        seen[role] = r.status_code
        text = r.get_data(as_text=True)
        for secret in world.secrets[role]:
            assert secret not in text, (name, role, secret)
        if r.status_code >= 400:
            assert r.mimetype == "application/problem+json", (name, role)
        # Tokens, patient data, problems: no answer of the API may be kept by a cache.
        assert "no-store" in r.headers.get("Cache-Control", ""), (name, role)
        if endpoint.method != "GET" and r.status_code < 300:
            world = build_world(session, clock)  # a success changed the world: start afresh
    assert seen == endpoint.expect
