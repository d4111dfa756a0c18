"""The same request sent 20 times at once with one Idempotency-Key (real commits, threads)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from registry import db
from registry.models import Authorization, AuthorizationDecision, IdempotencyRecord, Patient
from tests.api.world import counter_world
from tests.races import at_once

THREADS = 20




def _count(app: Any, column: Any) -> int:
    with app.app_context():
        return int(db.session().execute(select(func.count(column))).scalar_one())


def test_twenty_identical_authorization_requests_issue_one_rma(committing_app, clock):
    world = counter_world(committing_app, clock)

    def work(i: int) -> tuple[int, Any]:
        client = committing_app.test_client()  # each thread its own client and request
        r = client.post("/api/v1/authorizations", json=world["request"],
                        headers={"Authorization": f"Bearer {world['rph']}",
                                 "Idempotency-Key": "same-key-20"})
        return r.status_code, r.get_json()

    results = at_once(THREADS, work)
    assert not [r for r in results if isinstance(r, Exception)], results
    assert {status for status, _ in results} == {201}
    rmas = {body["rma"] for _, body in results}
    assert len(rmas) == 1
    assert _count(committing_app, Authorization.id) == 1
    assert _count(committing_app, AuthorizationDecision.id) == 1


def test_twenty_identical_registrations_create_one_patient(committing_app, clock):
    world = counter_world(committing_app, clock)
    body = {"first_name": "Con", "last_name": "Current", "date_of_birth": "1990-01-01",
            "email": "concurrent@example.org", "risk_category": "cannot_get_pregnant",
            "consent_signed_on": "2026-09-01"}

    def work(i: int) -> tuple[int, Any]:
        client = committing_app.test_client()
        r = client.post("/api/v1/patients", json=body,
                        headers={"Authorization": f"Bearer {world['dr']}",
                                 "Idempotency-Key": "register-once"})
        return r.status_code, r.get_json()

    before = _count(committing_app, Patient.id)
    results = at_once(THREADS, work)
    assert not [r for r in results if isinstance(r, Exception)], results
    assert {status for status, _ in results} == {201}, results
    assert len({b["registry_id"] for _, b in results}) == 1
    assert len({b["activation_code"] for _, b in results}) == 1
    assert _count(committing_app, Patient.id) == before + 1
    assert _count(committing_app, IdempotencyRecord.id) == 1
