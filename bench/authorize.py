"""Benchmark: the pharmacy counter.

Builds a registry with bench/seed.py in which N patients are ready for their first
prescription, then measures, per request,
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
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import select

from registry import create_app, db
from registry.accounts.models import User
from registry.authorizations.operations import request_authorization
from registry.authorizations.schemas import AuthorizationRequest
from registry.patients.models import Patient
from registry.patients.queries import status

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from seed import ready_cases, seed

PW = "bench-password-1"


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def timed(fn: Callable[[], Any]) -> float:
    start = time.perf_counter()
    fn()
    return (time.perf_counter() - start) * 1000


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
    cheap = {"ARGON2_TIME_COST": 1, "ARGON2_MEMORY_COST": 1024, "ARGON2_PARALLELISM": 1}
    # bench/seed.py: half the patients are ready for their first RMA today.
    t0 = time.perf_counter()
    seed(url, args.patients * 2, Path(tmp) / "audit", prescribers=1, config=cheap)
    build_s = time.perf_counter() - t0
    pharmacists, bodies = ready_cases(url, args.patients)
    app = create_app({"DATABASE_URL": url, "SECRET_KEY": "bench", **cheap,
                      "AUDIT_SIGNING_KEY_FILE": f"{tmp}/audit/audit-signing-key.pem",
                      "AUDIT_CHECKPOINT_FILE": f"{tmp}/audit/audit-checkpoints.jsonl"})
    with app.app_context():
        session = db.session()
        rph_user_id = session.scalars(
            select(User.id).where(User.email == pharmacists[0])).one()
        ids = dict(session.execute(select(Patient.registry_id, Patient.id)).all())
        cases = [(ids[b["registry_id"]], b) for b in bodies]
        db.rollback_request()

    issue_ms, status_ms, deny_ms = [], [], []
    tracemalloc.start()
    for patient_id, body in cases:
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

    print(f"database: {url.split(':')[0]}   patients: {len(cases)}   build: {build_s:.1f} s")
    for name, values in (("authorize (issue + commit)", issue_ms),
                         ("status evaluation", status_ms),
                         ("denial (patient not found)", deny_ms)):
        print(f"{name:<28} p50 {statistics.median(values):6.1f} ms   "
              f"p95 {percentile(values, 95):6.1f} ms   max {max(values):6.1f} ms")
    print(f"peak traced Python memory during requests: {peak / 1024 / 1024:.1f} MiB")


if __name__ == "__main__":
    main()
