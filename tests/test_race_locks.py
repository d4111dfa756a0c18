"""Forced races on PostgreSQL (rules §6, docs/concurrency.md).

Two real connections, each a thread with its own application context and session, commit for
real. The dangerous interleaving is forced, not hoped for: one transaction does its work and
holds the transaction open; the other starts and the test waits until PostgreSQL shows it
waiting on a lock (or finishing, which is the bug: it did not wait); then the first commits.
The tests assert the end state: the stored decision, the RMA's status and the audit trail.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from registry import clock as registry_clock
from registry import db
from registry.authorizations.operations import (
    record_dispense,
    request_authorization,
    reverse_authorization,
)
from registry.compliance.operations import record_compliance_action
from registry.errors import Conflict
from registry.models import (
    AuditEntry,
    Authorization,
    AuthorizationDecision,
    Dispense,
    Patient,
    Pharmacist,
    Prescriber,
    Reversal,
    User,
)
from registry.patients.operations import (
    change_risk_category,
    deactivate_patient,
    end_treatment,
    transfer_patient,
)
from registry.pharmacies.operations import remove_pharmacist
from registry.pregnancies.operations import record_pregnancy_test, report_pregnancy
from tests import factories as f

ON_POSTGRES = os.environ.get("REGISTRY_TEST_DATABASE_URL", "").startswith("postgresql")
pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(not ON_POSTGRES, reason="row locks and lock waits exist only on "
                       "PostgreSQL; SQLite serializes every writer (BEGIN IMMEDIATE)"),
]

TIMEOUT = 20.0  # seconds; every wait has one, so a deadlock fails the test instead of hanging


class Txn:
    """One connection's transaction in a thread: run ``work``, then hold the transaction open
    until :meth:`commit` (``hold=False``: commit at once)."""

    def __init__(self, app: Flask, work: Callable[[Session], Any], *, hold: bool) -> None:
        self.app = app
        self.work = work
        self.result: Any = None
        self.error: BaseException | None = None
        self.worked = threading.Event()
        self.done = threading.Event()
        self._go = threading.Event()
        if not hold:
            self._go.set()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        try:
            with self.app.app_context():
                try:
                    self.result = self.work(db.session())
                    db.session().flush()
                except BaseException as exc:
                    self.error = exc
                    db.rollback_request()
                    return
                finally:
                    self.worked.set()
                if not self._go.wait(TIMEOUT):
                    db.rollback_request()
                    self.error = TimeoutError("never told to commit")
                    return
                db.commit_request()
        except BaseException as exc:
            self.error = exc
        finally:
            self.worked.set()
            self.done.set()

    def start(self) -> Txn:
        self._thread.start()
        return self

    def hold(self) -> Txn:
        """Start and wait until the work is done and the transaction is held open."""
        self.start()
        assert self.worked.wait(TIMEOUT), "the holding transaction never finished its work"
        assert self.error is None, f"the holding transaction failed: {self.error!r}"
        return self

    def commit(self) -> None:
        self._go.set()

    def finish(self) -> Any:
        assert self.done.wait(TIMEOUT), "a transaction never ended (deadlock?)"
        self._thread.join(TIMEOUT)
        return self.result


def wait_until_blocked(app: Flask, txn: Txn) -> str:
    """'blocked' once PostgreSQL shows a backend of this database waiting on a lock;
    'finished' if ``txn`` got through its work without waiting."""
    engine = app.extensions["registry.engine"]
    deadline = time.monotonic() + TIMEOUT
    with engine.connect() as conn:
        while time.monotonic() < deadline:
            if txn.worked.is_set():
                return "finished"
            waiting = conn.execute(text(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()"
            )).scalar_one()
            conn.rollback()
            if waiting:
                return "blocked"
            time.sleep(0.01)
    raise AssertionError("the second transaction neither waited nor finished")


# --- the world ------------------------------------------------------------------------------


def _world(app: Flask, clock: Any, *, can_get_pregnant: bool = True) -> dict[str, Any]:
    """Commit a patient ready for a first prescription, their prescriber, another prescriber,
    a pharmacy with two pharmacists and a staff member; return their ids."""
    clock.to("2026-03-02")
    with app.app_context():
        session = db.session()
        dr = f.prescriber(session)
        other_dr = f.prescriber(session)
        ph = f.pharmacy(session)
        rph = f.pharmacist(session, ph)
        rph2 = f.pharmacist(session, ph)
        staff = f.staff(session)
        p = f.patient(session, dr, can_get_pregnant=can_get_pregnant)
        if can_get_pregnant:
            f.enter_test(session, p)
            db.commit_request()
            clock.forward(days=30)
            f.enter_test(session, p)
            f.complete_cycle(session, p)
        else:
            f.counsel(session, p)
            f.pass_questions(session, p)
        db.commit_request()
        return {
            "patient": p.id, "dr": dr.id, "other_dr": other_dr.id, "pharmacy": ph.id,
            "rph": rph.id, "rph2": rph2.id, "rph_user": rph.user_id, "rph2_user": rph2.user_id,
            "rsp_user": f.rsp_of(ph).user_id, "staff_user": staff.id, "dr_user": dr.user_id,
            "body": {
                "registry_id": p.registry_id, "date_of_birth": p.date_of_birth.isoformat(),
                "prescriber_npi": dr.npi, "days_supply": 30, "quantity": 60, "refills": 0,
            },
        }


def _authorize(w: dict[str, Any]) -> Callable[[Session], Any]:
    def work(session: Session) -> Any:
        return request_authorization(session, session.get(User, w["rph_user"]), **w["body"])
    return work


def _issue(app: Flask, w: dict[str, Any]) -> str:
    with app.app_context():
        outcome = _authorize(w)(db.session())
        assert outcome.authorization is not None, outcome.reasons
        rma = outcome.authorization.rma
        db.commit_request()
        return rma


def _patient(session: Session, w: dict[str, Any]) -> Patient:
    p = session.get(Patient, w["patient"])
    assert p is not None
    return p


def _actor(session: Session, w: dict[str, Any], key: str) -> User:
    u = session.get(User, w[key])
    assert u is not None
    return u


def _compliance(subject_type: str, key: str, action: str) -> Callable[..., Any]:
    def change(session: Session, w: dict[str, Any]) -> Any:
        until = registry_clock.today() + timedelta(days=30) if action == "suspension" else None
        return record_compliance_action(
            session, _actor(session, w, "staff_user"), subject_type=subject_type,
            subject_id=w[key], action=action, reason="Compliance review", until=until)
    return change


def _risk(session: Session, w: dict[str, Any]) -> Any:
    return change_risk_category(session, _actor(session, w, "dr_user"), _patient(session, w),
                                risk_category="can_get_pregnant", reason="Was misclassified")


def _positive_test(session: Session, w: dict[str, Any]) -> Any:
    return record_pregnancy_test(session, _actor(session, w, "dr_user"), _patient(session, w),
                                 specimen_collected_on=registry_clock.today(),
                                 result="positive", setting="lab")


def _report(session: Session, w: dict[str, Any]) -> Any:
    return report_pregnancy(session, _actor(session, w, "dr_user"), _patient(session, w),
                            reported_on=registry_clock.today())


def _end(session: Session, w: dict[str, Any]) -> Any:
    return end_treatment(session, _actor(session, w, "dr_user"), _patient(session, w),
                         last_dose_on=registry_clock.today())


def _transfer(session: Session, w: dict[str, Any]) -> Any:
    return transfer_patient(session, _actor(session, w, "staff_user"),
                            registry_id=w["body"]["registry_id"],
                            date_of_birth=w["body"]["date_of_birth"],
                            to_prescriber_id=w["other_dr"], reason="Moved")


def _deactivate(session: Session, w: dict[str, Any]) -> Any:
    return deactivate_patient(session, _actor(session, w, "staff_user"), _patient(session, w),
                              reason="Left the program")


def _remove_pharmacist(session: Session, w: dict[str, Any]) -> Any:
    rph = session.get(Pharmacist, w["rph"])
    assert rph is not None
    return remove_pharmacist(session, _actor(session, w, "rsp_user"), rph)


# name: (the change, can the patient get pregnant, the reason the request must be denied for,
#        does the change cancel an RMA issued before it)
CHANGES: dict[str, tuple[Callable[..., Any], bool, str, bool]] = {
    "risk_category": (_risk, False, "CONFIRMATION_TEST_REQUIRED", True),
    "positive_test": (_positive_test, True, "PREGNANCY_REPORTED", True),
    "pregnancy_report": (_report, True, "PREGNANCY_REPORTED", True),
    "end_of_treatment": (_end, True, "PATIENT_NOT_ACTIVE", True),
    "transfer": (_transfer, True, "PRESCRIBER_MISMATCH", True),
    "deactivation": (_deactivate, True, "PATIENT_NOT_ACTIVE", True),
    "prescriber_suspension": (_compliance("prescriber", "dr", "suspension"), True,
                              "PRESCRIBER_NOT_ACTIVE", True),
    "prescriber_deactivation": (_compliance("prescriber", "dr", "deactivation"), True,
                                "PRESCRIBER_NOT_ACTIVE", True),
    "pharmacy_suspension": (_compliance("pharmacy", "pharmacy", "suspension"), True,
                            "PHARMACY_NOT_ACTIVE", True),
    "pharmacy_deactivation": (_compliance("pharmacy", "pharmacy", "deactivation"), True,
                              "PHARMACY_NOT_ACTIVE", True),
    "pharmacist_removal": (_remove_pharmacist, True, "PHARMACIST_NOT_AUTHORIZED", False),
    "pharmacist_suspension": (_compliance("pharmacist", "rph", "suspension"), True,
                              "PHARMACIST_NOT_AUTHORIZED", False),
}


def _open_rmas(session: Session, patient_id: int) -> list[str]:
    return list(session.execute(
        select(Authorization.rma).where(Authorization.patient_id == patient_id,
                                        Authorization.status == "authorized")
    ).scalars())


def _audit(session: Session, action: str, subject_id: Any = None) -> list[AuditEntry]:
    q = select(AuditEntry).where(AuditEntry.action == action)
    if subject_id is not None:
        q = q.where(AuditEntry.subject_id == str(subject_id))
    return list(session.execute(q.order_by(AuditEntry.id)).scalars())


@pytest.mark.parametrize("name", list(CHANGES))
def test_change_committed_while_an_authorization_waits_is_seen_by_it(committing_app, clock,
                                                                     name):
    """A makes the patient ineligible and holds its transaction; B asks for an RMA and must
    wait, then decide on A's committed facts: denied, for A's reason."""
    change, can_get_pregnant, reason, _ = CHANGES[name]
    w = _world(committing_app, clock, can_get_pregnant=can_get_pregnant)
    a = Txn(committing_app, lambda s: change(s, w), hold=True).hold()
    b = Txn(committing_app, _authorize(w), hold=False).start()
    state = wait_until_blocked(committing_app, b)
    a.commit()
    a.finish()
    outcome = b.finish()
    assert a.error is None, a.error
    assert b.error is None, b.error
    assert state == "blocked", "the authorization did not wait for the change's transaction"
    with committing_app.app_context():
        session = db.session()
        assert _open_rmas(session, w["patient"]) == []
        decisions = list(session.execute(
            select(AuthorizationDecision).where(
                AuthorizationDecision.requested_by_id == w["rph_user"])
        ).scalars())
        assert len(decisions) == 1
        codes = [r["code"] for r in decisions[0].reasons]
        assert decisions[0].eligible is False
        assert reason in codes, codes
        assert _audit(session, "authorization:issue") == []
        denied = _audit(session, "authorization:deny", decisions[0].id)
        assert len(denied) == 1 and reason in denied[0].after["reasons"]
    assert outcome.authorization is None


@pytest.mark.parametrize("name", [n for n, c in CHANGES.items() if c[3]])
def test_change_waiting_for_an_authorization_cancels_the_rma_it_issued(committing_app, clock,
                                                                       name):
    """B issues an RMA and holds its transaction; A's change must wait, then cancel it."""
    change, can_get_pregnant, _, _ = CHANGES[name]
    w = _world(committing_app, clock, can_get_pregnant=can_get_pregnant)
    b = Txn(committing_app, _authorize(w), hold=True).hold()
    assert b.result.authorization is not None, b.result.reasons
    rma = b.result.authorization.rma
    a = Txn(committing_app, lambda s: change(s, w), hold=False).start()
    state = wait_until_blocked(committing_app, a)
    b.commit()
    b.finish()
    a.finish()
    assert b.error is None, b.error
    assert a.error is None, a.error
    assert state == "blocked", "the change did not wait for the authorization's transaction"
    with committing_app.app_context():
        session = db.session()
        auth = session.execute(select(Authorization).where(Authorization.rma == rma)).scalar_one()
        assert auth.status == "cancelled"
        assert _open_rmas(session, w["patient"]) == []
        cancelled = _audit(session, "authorization:cancel", rma)
        assert len(cancelled) == 1
        assert cancelled[0].before == {"status": "authorized"}
        assert len(_audit(session, "authorization:issue", rma)) == 1


# --- dispense and reversal of one RMA -------------------------------------------------------


def _dispense(w: dict[str, Any], rma: str, user_key: str = "rph_user") -> Callable[..., Any]:
    def work(session: Session) -> Any:
        auth = session.execute(select(Authorization).where(Authorization.rma == rma)).scalar_one()
        return record_dispense(session, _actor(session, w, user_key), auth,
                               dispensed_on=registry_clock.today(), quantity=auth.quantity,
                               days_supply=auth.days_supply)
    return work


def _reverse(w: dict[str, Any], rma: str, user_key: str = "rph_user") -> Callable[..., Any]:
    def work(session: Session) -> Any:
        auth = session.execute(select(Authorization).where(Authorization.rma == rma)).scalar_one()
        return reverse_authorization(session, _actor(session, w, user_key), auth,
                                     reason="Not picked up")
    return work


def _race(app: Flask, first: Callable[..., Any], second: Callable[..., Any]) -> tuple[Txn, Txn]:
    """``first`` changes the RMA and holds its transaction open; ``second`` then loads the RMA
    (still the old state: ``first`` has not committed) and must wait; then ``first`` commits."""
    a = Txn(app, first, hold=True).hold()
    b = Txn(app, second, hold=False).start()
    state = wait_until_blocked(app, b)
    a.commit()
    a.finish()
    b.finish()
    assert a.error is None, a.error
    assert state == "blocked", "the second change did not wait for the first"
    return a, b


def _rma_state(app: Flask, rma: str) -> tuple[str, int, int, list[tuple[str, Any]]]:
    """The RMA's status, its dispense and reversal rows, its dispense/reverse audit entries."""
    with app.app_context():
        session = db.session()
        auth = session.execute(select(Authorization).where(Authorization.rma == rma)).scalar_one()
        dispenses = len(session.execute(
            select(Dispense.id).where(Dispense.authorization_id == auth.id)).all())
        reversals = len(session.execute(
            select(Reversal.id).where(Reversal.authorization_id == auth.id)).all())
        entries = sorted(_audit(session, "authorization:dispense", rma)
                         + _audit(session, "authorization:reverse", rma), key=lambda e: e.id)
        return auth.status, dispenses, reversals, [(e.action, e.before) for e in entries]


def test_reversal_then_dispense_the_dispense_is_refused_with_409(committing_app, clock):
    w = _world(committing_app, clock)
    rma = _issue(committing_app, w)
    a, b = _race(committing_app, _reverse(w, rma), _dispense(w, rma, "rph2_user"))
    assert isinstance(b.error, Conflict), b.error
    assert "reversed" in b.error.message and "cannot be dispensed" in b.error.message
    assert "Pharmacist" in b.error.message  # who did it
    status, dispenses, reversals, entries = _rma_state(committing_app, rma)
    assert (status, dispenses, reversals) == ("reversed", 0, 1)
    assert entries == [("authorization:reverse", {"status": "authorized"})]


def test_dispense_then_reversal_is_a_return_to_stock(committing_app, clock):
    w = _world(committing_app, clock)
    rma = _issue(committing_app, w)
    a, b = _race(committing_app, _dispense(w, rma), _reverse(w, rma, "rph2_user"))
    assert b.error is None, b.error
    status, dispenses, reversals, entries = _rma_state(committing_app, rma)
    assert (status, dispenses, reversals) == ("reversed", 1, 1)
    assert [(action, before["status"]) for action, before in entries] == [
        ("authorization:dispense", "authorized"), ("authorization:reverse", "dispensed")]


def test_two_dispenses_at_once_one_wins_the_other_gets_409(committing_app, clock):
    w = _world(committing_app, clock)
    rma = _issue(committing_app, w)
    a, b = _race(committing_app, _dispense(w, rma), _dispense(w, rma, "rph2_user"))
    assert isinstance(b.error, Conflict), b.error
    assert "already dispensed" in b.error.message
    status, dispenses, reversals, entries = _rma_state(committing_app, rma)
    assert (status, dispenses, reversals) == ("dispensed", 1, 0)
    assert [action for action, _ in entries] == ["authorization:dispense"]


def test_two_reversals_at_once_one_wins_the_other_gets_409(committing_app, clock):
    w = _world(committing_app, clock)
    rma = _issue(committing_app, w)
    a, b = _race(committing_app, _reverse(w, rma), _reverse(w, rma, "rph2_user"))
    assert isinstance(b.error, Conflict), b.error
    assert "already reversed" in b.error.message
    status, dispenses, reversals, entries = _rma_state(committing_app, rma)
    assert (status, dispenses, reversals) == ("reversed", 0, 1)
    assert [action for action, _ in entries] == ["authorization:reverse"]


def test_a_cancellation_committed_while_a_dispense_waits_refuses_it(committing_app, clock):
    """A pregnancy report cancels the RMA while the pharmacy's dispense waits: 409."""
    w = _world(committing_app, clock)
    rma = _issue(committing_app, w)
    a, b = _race(committing_app, lambda s: _report(s, w), _dispense(w, rma))
    assert isinstance(b.error, Conflict), b.error
    assert "cancelled" in b.error.message
    status, dispenses, _, _ = _rma_state(committing_app, rma)
    assert (status, dispenses) == ("cancelled", 0)


def test_a_prescriber_suspension_waits_for_a_dispense_in_flight(committing_app, clock):
    """The dispense holds the RMA; the suspension waits and then finds nothing to cancel."""
    w = _world(committing_app, clock)
    rma = _issue(committing_app, w)
    a = Txn(committing_app, _dispense(w, rma), hold=True).hold()
    b = Txn(committing_app, lambda s: _compliance("prescriber", "dr", "suspension")(s, w),
            hold=False).start()
    state = wait_until_blocked(committing_app, b)
    a.commit()
    a.finish()
    b.finish()
    assert (a.error, b.error) == (None, None)
    assert state == "blocked"
    status, dispenses, _, _ = _rma_state(committing_app, rma)
    assert (status, dispenses) == ("dispensed", 1)
    with committing_app.app_context():
        assert _audit(db.session(), "authorization:cancel", rma) == []
        assert db.session().get(Prescriber, w["dr"]).suspended_until is not None
