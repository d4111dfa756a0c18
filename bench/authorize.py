"""Benchmark: the pharmacy counter.

Builds N patients ready for their first prescription, then measures, per request,
the authorization decision (request + commit), a status evaluation, and a denial
(patient not found); and the peak Python memory while doing so.

    .venv/bin/python bench/authorize.py --patients 200
    REGISTRY_BENCH_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/bench \
        .venv/bin/python bench/authorize.py --patients 200

Goals (see the closing notes of the issues for measured figures): an authorization
decision under 50 ms at the 95th percentile on SQLite on this 2-core machine.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from typing import Any

from alembic import command

from registry import clock, create_app, db
from registry.accounts.models import User
from registry.authorizations.operations import request_authorization
from registry.authorizations.schemas import AuthorizationRequest
from registry.cli import alembic_config
from registry.cycles.operations import (
    attest_contraception,
    comprehension_questions,
    confirm_counseling,
    load_question_bank,
    take_comprehension,
)
from registry.patients.models import Patient
from registry.patients.operations import activate_patient, register_patient
from registry.patients.queries import status
from registry.pharmacies.operations import activate_pharmacy, add_pharmacist, register_pharmacy
from registry.pharmacies.schemas import PharmacistAddition, PharmacyActivation, PharmacyRegistration
from registry.pregnancies.operations import record_pregnancy_test
from registry.prescribers.operations import attest_prescriber, enroll_prescriber
from registry.prescribers.schemas import PrescriberEnrollment
from registry.rules.identifiers import npi_with_check_digit

PW = "bench-password-1"


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def timed(fn: Callable[[], Any]) -> float:
    start = time.perf_counter()
    fn()
    return (time.perf_counter() - start) * 1000


def build(n: int) -> tuple[Any, list[Any]]:
    session = db.session()
    load_question_bank(session)
    with clock.travel(-31):
        dr = enroll_prescriber(session, PrescriberEnrollment(
            email="bench-dr@example.org", password=PW, first_name="B", last_name="Dr",
            npi=npi_with_check_digit("199999999")))
        attest_prescriber(session, dr.user, dr)
        ph = register_pharmacy(session, PharmacyRegistration.model_validate({
            "name": "Bench", "ncpdp_id": "7654321", "npi": npi_with_check_digit("188888888"),
            "rsp": {"email": "bench-rsp@example.org", "password": PW, "first_name": "R",
                    "last_name": "S", "license_number": "1"}}))
        rsp = ph.pharmacists[0].user
        activate_pharmacy(session, rsp, ph, PharmacyActivation(staff_trained=True))
        rph = add_pharmacist(session, rsp, ph, PharmacistAddition(
            email="bench-rph@example.org", password=PW, first_name="P", last_name="H",
            license_number="2", training_completed_on=clock.today()))
        patients = []
        for i in range(n):
            p, code, _ = register_patient(
                session, dr.user, first_name="Pat", last_name=f"Bench{i}",
                date_of_birth="1990-01-01", email=f"bench{i}@example.org",
                risk_category="can_get_pregnant", consent_signed_on=clock.today(),
                contraception_start_date=clock.today())
            activate_patient(session, registry_id=p.registry_id, date_of_birth=p.date_of_birth,
                             activation_code=code, password=PW)
            record_pregnancy_test(session, dr.user, p, specimen_collected_on=clock.today(),
                                  result="negative", setting="lab")
            patients.append(p)
        db.commit_request()
    for p in patients:
        record_pregnancy_test(session, dr.user, p, specimen_collected_on=clock.today(),
                              result="negative", setting="lab")
        confirm_counseling(session, dr.user, p, counseled_on=clock.today(),
                           contraception={"methods": ["iud", "male_latex_condom"]})
        _, qs = comprehension_questions(session, p.user)
        take_comprehension(session, p.user, answers={str(q.id): q.correct_choice for q in qs})
        attest_contraception(session, p.user,
                             contraception={"methods": ["iud", "male_latex_condom"]})
    db.commit_request()
    return rph, patients


def _issue(user_id: int, body: dict[str, Any], expect: bool = True) -> None:
    session = db.session()
    outcome = request_authorization(session, session.get(User, user_id),
                                    AuthorizationRequest.model_validate(body))
    assert (outcome.authorization is not None) == expect, outcome.reasons
    db.commit_request()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--patients", type=int, default=200)
    args = parser.parse_args()
    tmp = tempfile.mkdtemp()
    url = os.environ.get("REGISTRY_BENCH_DATABASE_URL") or f"sqlite:///{tmp}/bench.sqlite3"
    app = create_app({"DATABASE_URL": url, "SECRET_KEY": "bench", "ARGON2_TIME_COST": 1,
                      "ARGON2_MEMORY_COST": 1024, "ARGON2_PARALLELISM": 1})
    with app.app_context():
        command.downgrade(alembic_config(url), "base")
        command.upgrade(alembic_config(url), "head")
        t0 = time.perf_counter()
        rph, patients = build(args.patients)
        build_s = time.perf_counter() - t0
        rph_user_id = rph.user_id
        cases = [(p.id, p.registry_id, p.prescriber.npi) for p in patients]

    issue_ms, status_ms, deny_ms = [], [], []
    tracemalloc.start()
    for patient_id, registry_id, npi in cases:
        body = {"registry_id": registry_id, "date_of_birth": "1990-01-01",
                "prescriber_npi": npi, "days_supply": 30, "quantity": 60, "refills": 0}
        with app.app_context():
            issue_ms.append(timed(lambda body=body: _issue(rph_user_id, body)))
        with app.app_context():
            session = db.session()
            patient = session.get(Patient, patient_id)
            status_ms.append(timed(lambda s=session, p=patient: status(s, p)))
        with app.app_context():
            unknown = {**body, "registry_id": "0000000000"}
            deny_ms.append(timed(lambda u=unknown: _issue(rph_user_id, u, expect=False)))
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()

    print(f"database: {url.split(':')[0]}   patients: {args.patients}   build: {build_s:.1f} s")
    for name, values in (("authorize (issue + commit)", issue_ms),
                         ("status evaluation", status_ms),
                         ("denial (patient not found)", deny_ms)):
        print(f"{name:<28} p50 {statistics.median(values):6.1f} ms   "
              f"p95 {percentile(values, 95):6.1f} ms   max {max(values):6.1f} ms")
    print(f"peak traced Python memory during requests: {peak / 1024 / 1024:.1f} MiB")


if __name__ == "__main__":
    main()
