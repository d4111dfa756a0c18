"""Forcing a race between two real transactions (PostgreSQL), for the race tests.

A :class:`Txn` runs in a thread with its own application context and session, so it commits
for real on its own connection. :func:`wait_until_blocked` polls pg_stat_activity until
PostgreSQL shows backends of this database waiting on a lock.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from typing import Any

from flask import Flask
from sqlalchemy import text
from sqlalchemy.orm import Session

from registry import db
from registry.authorizations.operations import request_authorization
from registry.models import User
from tests import factories as f

ON_POSTGRES = os.environ.get("REGISTRY_TEST_DATABASE_URL", "").startswith("postgresql")
NOT_POSTGRES = ("row locks and lock waits exist only on PostgreSQL; SQLite serializes every "
                "writer (BEGIN IMMEDIATE)")

TIMEOUT = 20.0  # seconds; every wait has one, so a deadlock fails the test instead of hanging


def at_once(threads: int, work: Callable[[int], Any]) -> list[Any]:
    """``work(i)`` in ``threads`` threads released together by a barrier; each result, or
    the exception it raised (for the caller to assert that none escaped)."""
    barrier = threading.Barrier(threads)
    results: list[Any] = [None] * threads

    def run(i: int) -> None:
        try:
            barrier.wait()
            results[i] = work(i)
        except Exception as exc:
            results[i] = exc

    started = [threading.Thread(target=run, args=(i,)) for i in range(threads)]
    for t in started:
        t.start()
    for t in started:
        t.join(timeout=120)
    return results


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


def wait_until_blocked(app: Flask, txn: Txn | None = None, waiting: int = 1) -> str:
    """'blocked' once PostgreSQL shows ``waiting`` backends of this database waiting on a
    lock; 'finished' if ``txn`` got through its work without waiting."""
    engine = app.extensions["registry.engine"]
    deadline = time.monotonic() + TIMEOUT
    with engine.connect() as conn:
        while time.monotonic() < deadline:
            if txn is not None and txn.worked.is_set():
                return "finished"
            count = conn.execute(text(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()"
            )).scalar_one()
            conn.rollback()
            if count >= waiting:
                return "blocked"
            time.sleep(0.01)
    raise AssertionError("the second transaction neither waited nor finished")


# --- the world ------------------------------------------------------------------------------


def world(app: Flask, clock: Any, *, can_get_pregnant: bool = True) -> dict[str, Any]:
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


def hold_patient_lock(w: dict[str, Any]) -> Callable[[Session], Any]:
    """Work for a :class:`Txn` that only holds the patient's row lock (plain SQL)."""
    def work(session: Session) -> Any:
        return session.execute(text("SELECT id FROM patients WHERE id = :id FOR UPDATE"),
                               {"id": w["patient"]}).scalar_one()
    return work


def authorize(w: dict[str, Any]) -> Callable[[Session], Any]:
    def work(session: Session) -> Any:
        return request_authorization(session, session.get(User, w["rph_user"]),
            f.request(**w["body"]))
    return work


def issue(app: Flask, w: dict[str, Any]) -> str:
    with app.app_context():
        outcome = authorize(w)(db.session())
        assert outcome.authorization is not None, outcome.reasons
        rma = outcome.authorization.rma
        db.commit_request()
        return rma


