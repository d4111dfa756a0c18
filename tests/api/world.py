"""Stakeholders built through the API (the way an outside system would)."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any

from flask import Flask
from sqlalchemy import select

from registry import clock, db
from registry.accounts.models import User
from registry.pharmacies.models import Pharmacist
from registry.prescribers.models import Prescriber
from tests import factories as f
from tests.api.conftest import METHODS, PASSWORD, Api, correct_answers
from tests.mail import confirm_address

_seq = itertools.count(1)


def record_of(app: Flask, model: Any, email: str) -> int:
    """The id of the prescriber (or pharmacist) record of an account: sign-up answers no
    longer carry it (the same answer for a known address), so the harness looks it up."""
    with app.app_context():
        return int(db.session().execute(
            select(model.id).join(User, User.id == model.user_id)
            .where(User.email == email.lower())).scalar_one())


@dataclass
class Patient:
    registry_id: str
    date_of_birth: str
    email: str
    token: str | None = None
    code: str | None = None


@dataclass
class World:
    api: Api
    dr_id: int = 0
    dr_npi: str = ""
    dr: str = ""  # token
    pharmacy_id: int = 0
    rsp: str = ""
    rph: str = ""
    patients: list[Patient] = field(default_factory=list)
    emails: dict[str, str] = field(default_factory=dict)

    def relogin(self) -> None:
        """Tokens expire after 12 hours: after moving the clock, everyone logs in again."""
        for attr, email in self.emails.items():
            setattr(self, attr, self.api.token(email))
        for p in self.patients:
            if p.token is not None:
                p.token = self.api.token(p.email)

    def forward(self, clock: Any, days: int) -> None:
        clock.forward(days=days)
        self.relogin()

    def travel_to(self, clock: Any, day: str) -> None:
        clock.to(day)
        self.relogin()

    # --- enrollment -------------------------------------------------------------------

    def enroll_prescriber(self) -> tuple[int, str, str]:
        n = next(_seq)
        npi = f.npi()
        email = f"api-dr{n}@example.org"
        r = self.api.post("/prescribers", {
            "email": email, "password": PASSWORD, "first_name": "Ada",
            "last_name": f"Api{n}", "npi": npi, "license_state": "NY"}, expect=202)
        assert r.get_json()["status"] == "confirmation_sent"
        confirm_address(self.api.app, email)
        token = self.api.token(email)
        self.emails.setdefault("dr", email)
        dr_id = record_of(self.api.app, Prescriber, email)
        r = self.api.post(f"/prescribers/{dr_id}/attestations", token=token, expect=201)
        assert r.get_json()["status"] == "active"
        return dr_id, npi, token

    def enroll_pharmacy(self) -> tuple[int, str, str]:
        n = next(_seq)
        r = self.api.post("/pharmacies", {
            "name": f"API Pharmacy {n}", "ncpdp_id": f.ncpdp(), "npi": f.npi(),
            "address": "1 Main St", "rsp": {
                "email": f"api-rsp{n}@example.org", "password": PASSWORD, "first_name": "Rita",
                "last_name": f"Rsp{n}", "license_number": f"L-{n}"}}, expect=202)
        assert r.get_json()["status"] == "confirmation_sent"
        confirm_address(self.api.app, f"api-rsp{n}@example.org")
        pharmacist_id = record_of(self.api.app, Pharmacist, f"api-rsp{n}@example.org")
        with self.api.app.app_context():
            rsp_row = db.session().get(Pharmacist, pharmacist_id)
            assert rsp_row is not None
            pharmacy_id = rsp_row.pharmacy_id
        rsp = self.api.token(f"api-rsp{n}@example.org")
        self.emails.setdefault("rsp", f"api-rsp{n}@example.org")
        r = self.api.post(f"/pharmacies/{pharmacy_id}/activations", {"staff_trained": True},
                          token=rsp, expect=201)
        assert r.get_json()["status"] == "active"
        email = f"api-rph{n}@example.org"
        r = self.api.post(f"/pharmacies/{pharmacy_id}/pharmacists", {
            "email": email, "password": PASSWORD, "first_name": "Phil", "last_name": f"Rph{n}",
            "license_number": f"P-{n}", "training_completed_on": clock.today().isoformat()},
            token=rsp, expect=201)
        assert r.get_json()["status"] == "active"
        confirm_address(self.api.app, email)
        self.emails.setdefault("rph", email)
        return pharmacy_id, rsp, self.api.token(email)

    def setup(self) -> World:
        self.dr_id, self.dr_npi, self.dr = self.enroll_prescriber()
        self.pharmacy_id, self.rsp, self.rph = self.enroll_pharmacy()
        return self

    def register(self, *, can: bool = True, activate: bool = True,
                 dob: str = "1995-06-15") -> Patient:
        n = next(_seq)
        today = clock.today().isoformat()
        email = f"api-patient{n}@example.org"
        body: dict[str, Any] = {
            "first_name": "Pat", "last_name": f"Api{n}", "date_of_birth": dob, "email": email,
            "risk_category": "can_get_pregnant" if can else "cannot_get_pregnant",
            "consent_signed_on": today,
        }
        if can:
            body["contraception_start_date"] = today
        r = self.api.post("/patients", body, token=self.dr, expect=201)
        created = r.get_json()
        assert created["status"] == "pending_activation"
        p = Patient(created["registry_id"], dob, email, code=created["activation_code"])
        if activate:
            r = self.api.post("/patients/activation", {
                "registry_id": p.registry_id, "date_of_birth": dob,
                "activation_code": p.code, "password": PASSWORD}, expect=200)
            assert r.get_json()["status"] == "active"
            p.token = self.api.token(email)
        self.patients.append(p)
        return p

    # --- the cycle --------------------------------------------------------------------

    def test(self, p: Patient, *, result: str = "negative", setting: str = "lab",
             on: str | None = None, expect: int = 201) -> Any:
        r = self.api.post(f"/patients/{p.registry_id}/pregnancy-tests", {
            "specimen_collected_on": on or clock.today().isoformat(), "result": result,
            "setting": setting}, token=self.dr, expect=expect)
        return r.get_json()

    def counsel(self, p: Patient, *, can: bool = True) -> Any:
        body: dict[str, Any] = {"counseled_on": clock.today().isoformat()}
        if can:
            body["contraception"] = {"methods": METHODS}
        return self.api.post(f"/patients/{p.registry_id}/counseling", body, token=self.dr,
                             expect=201).get_json()

    def answer_questions(self, p: Patient) -> Any:
        r = self.api.get("/me/comprehension", token=p.token, expect=200)
        questions = r.get_json()["questions"]
        assert len(questions) == 7
        answers = correct_answers(self.api.app, questions)
        r = self.api.post("/me/comprehension", {"answers": answers}, token=p.token, expect=200)
        assert r.get_json() == {**r.get_json(), "passed": True, "incorrect": []}
        return r.get_json()

    def attest(self, p: Patient) -> None:
        r = self.api.post("/me/contraception", {"methods": METHODS}, token=p.token, expect=201)
        assert r.get_json()["matches_prescriber"] is True

    def complete_cycle(self, p: Patient) -> None:
        self.counsel(p)
        self.answer_questions(p)
        self.attest(p)

    def request_body(self, p: Patient, **kw: Any) -> dict[str, Any]:
        return {"registry_id": p.registry_id, "date_of_birth": p.date_of_birth,
                "prescriber_npi": self.dr_npi, "days_supply": 30, "quantity": 60,
                "refills": 0, **kw}

    def authorize(self, p: Patient, *, token: str | None = None, expect: int = 201,
                  key: str | None = None) -> Any:
        return self.api.post("/authorizations", self.request_body(p), token=token or self.rph,
                             expect=expect, key=key).get_json()

    def denial_codes(self, p: Patient, token: str | None = None) -> list[str]:
        body = self.authorize(p, token=token, expect=422)
        assert body["type"].endswith("/authorization-denied")
        for reason in body["reasons"]:
            assert reason["code"]
            assert reason["message"]
            assert "action" in reason
        return [r["code"] for r in body["reasons"]]

    def dispense(self, rma: str, *, days: int = 30) -> None:
        r = self.api.post(f"/authorizations/{rma}/dispensation", {
            "dispensed_on": clock.today().isoformat(), "quantity": 60, "days_supply": days},
            token=self.rph, expect=200)
        assert r.get_json()["status"] == "dispensed"

    def status(self, p: Patient, token: str | None = None) -> Any:
        return self.api.get(f"/patients/{p.registry_id}/status", token=token or self.dr,
                            expect=200).get_json()


def counter_world(app: Flask, clock: Any) -> dict[str, Any]:
    """Commit a patient who cannot get pregnant, counseled and with passed answers (eligible
    for an RMA today), their prescriber and a pharmacist; log both in. The ids, the e-mails,
    the tokens, an authorization request body for the patient and the ``api`` client."""
    clock.to("2026-09-01")
    with app.app_context():
        session = db.session()
        dr, ph, rph, p = f.ready_without_pregnancy_risk(session)
        db.commit_request()
        world: dict[str, Any] = {
            "rph_email": rph.user.email, "dr_email": dr.user.email,
            "pharmacist_id": rph.id, "pharmacy_id": ph.id, "patient_id": p.id,
            "request": {"registry_id": p.registry_id,
                        "date_of_birth": p.date_of_birth.isoformat(),
                        "prescriber_npi": dr.npi, "days_supply": 30, "quantity": 60,
                        "refills": 0}}
    api = Api(app)
    world["rph"] = api.token(world["rph_email"], PASSWORD)
    world["dr"] = api.token(world["dr_email"], PASSWORD)
    world["api"] = api
    return world
