"""Twenty pharmacists' systems ask for the same patient at the same moment (rules §6)."""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any

import pytest
from sqlalchemy import func, select

from registry import db
from registry.authorizations.models import Authorization, AuthorizationDecision
from registry.authorizations.operations import request_authorization
from registry.models import Patient, Pharmacist, User
from tests import factories as f

THREADS = 20


def _eligible_patient(app: Any, clock: Any) -> tuple[int, list[int], dict[str, Any]]:
    """Commit a patient ready for a first prescription and 20 pharmacists to ask for them."""
    clock.to("2026-03-02")
    with app.app_context():
        session = db.session()
        dr = f.prescriber(session)
        ph = f.pharmacy(session)
        pharmacist_users = [f.pharmacist(session, ph).user.id for _ in range(THREADS)]
        p = f.patient(session, dr)
        f.enter_test(session, p)
        db.commit_request()
        clock.forward(days=30)
        f.enter_test(session, p)
        f.complete_cycle(session, p)
        db.commit_request()
        body = {
            "registry_id": p.registry_id, "date_of_birth": p.date_of_birth.isoformat(),
            "prescriber_npi": dr.npi, "days_supply": 30, "quantity": 60, "refills": 0,
        }
        return p.id, pharmacist_users, body


def _run_at_once(app: Any, work: Any) -> list[Any]:
    barrier = threading.Barrier(THREADS)
    results: list[Any] = [None] * THREADS

    def worker(i: int) -> None:
        try:
            with app.app_context():
                barrier.wait()
                results[i] = work(i)
                db.commit_request()
        except Exception as exc:  # the test asserts that none escaped
            results[i] = exc

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    return results


def _summary(outcome: Any) -> tuple[str, ...]:
    if outcome.authorization is not None:
        return ("issued", outcome.authorization.rma)
    return tuple(r["code"] for r in outcome.reasons)


def test_twenty_simultaneous_requests_issue_exactly_one_rma(committing_app, clock):
    patient_id, users, body = _eligible_patient(committing_app, clock)

    def work(i: int) -> Any:
        session = db.session()
        user = session.get(User, users[i])
        return _summary(request_authorization(session, user, f.request(**body)))

    results = _run_at_once(committing_app, work)

    errors = [r for r in results if isinstance(r, Exception)]
    assert errors == []
    kinds = Counter(r[0] for r in results)
    assert kinds["issued"] == 1
    assert kinds["AUTHORIZATION_ALREADY_ISSUED"] == THREADS - 1
    assert all(r == ("AUTHORIZATION_ALREADY_ISSUED",) for r in results if r[0] != "issued")
    with committing_app.app_context():
        session = db.session()
        assert session.execute(
            select(func.count(Authorization.id)).where(Authorization.patient_id == patient_id)
        ).scalar_one() == 1
        decisions = session.execute(
            select(AuthorizationDecision.eligible).where(
                AuthorizationDecision.patient_id == patient_id)
        ).scalars().all()
        assert sorted(decisions) == [False] * (THREADS - 1) + [True]


def test_same_idempotency_key_twenty_times_gives_every_caller_the_same_rma(committing_app, clock):
    patient_id, users, body = _eligible_patient(committing_app, clock)
    with committing_app.app_context():
        session = db.session()
        pharmacy_id = session.get(Pharmacist, session.execute(
            select(Pharmacist.id).where(Pharmacist.user_id == users[0])).scalar_one()).pharmacy_id
        assert pharmacy_id

    def work(i: int) -> Any:
        session = db.session()
        user = session.get(User, users[0])  # one pharmacist's system retrying
        outcome = request_authorization(session, user, f.request(**body), idempotency_key="retry-7")
        return _summary(outcome)

    results = _run_at_once(committing_app, work)

    assert [r for r in results if isinstance(r, Exception)] == []
    assert len(set(results)) == 1
    assert results[0][0] == "issued"
    with committing_app.app_context():
        session = db.session()
        assert session.execute(
            select(func.count(Authorization.id)).where(Authorization.patient_id == patient_id)
        ).scalar_one() == 1
        assert session.execute(
            select(func.count(AuthorizationDecision.id)).where(
                AuthorizationDecision.patient_id == patient_id)
        ).scalar_one() == 1
        assert session.get(Patient, patient_id) is not None


def test_database_refuses_a_second_open_authorization_for_a_patient(session, clock):
    """The unique index holds even if the code's checks were bypassed."""
    from sqlalchemy.exc import IntegrityError

    c = f.Counter(session, clock)
    p = c.patient
    first = f.authorize(session, c.pharmacist, p).authorization
    assert first is not None
    twin = Authorization(
        rma="XXXXXXXXXXXX", patient_id=p.id, cycle_id=first.cycle_id,
        prescriber_id=first.prescriber_id, pharmacy_id=first.pharmacy_id,
        pharmacist_id=first.pharmacist_id, status="authorized", ruleset="2026",
        issued_on=first.issued_on, issued_at=first.issued_at,
        do_not_dispense_after=first.do_not_dispense_after, days_supply=30, quantity=60, refills=0,
    )
    session.add(twin)
    with pytest.raises(IntegrityError):
        session.flush()
    session.rollback()
