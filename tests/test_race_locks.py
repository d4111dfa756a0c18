"""Forced races on PostgreSQL (rules §6, docs/concurrency.md).

Two real connections, each a thread with its own application context and session, commit for
real. The dangerous interleaving is forced, not hoped for: one transaction does its work and
holds the transaction open; the other starts and the test waits until PostgreSQL shows it
waiting on a lock (or finishing, which is the bug: it did not wait); then the first commits.
The tests assert the end state: the stored decision, the RMA's status and the audit trail.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from registry import clock as registry_clock
from registry import db, locks
from registry.authorizations.operations import (
    record_dispense,
    reverse_authorization,
)
from registry.compliance.operations import record_compliance_action
from registry.compliance.schemas import ComplianceActionInput
from registry.contract import parse
from registry.cycles.schemas import PregnancyTestEntry
from registry.errors import Conflict
from registry.models import (
    AuditEntry,
    Authorization,
    AuthorizationDecision,
    Dispense,
    Patient,
    Pharmacist,
    Pharmacy,
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
from registry.patients.schemas import (
    Deactivation,
    NewRiskCategory,
    Transfer,
    TreatmentEnding,
)
from registry.pharmacies.operations import remove_pharmacist
from registry.pregnancies.operations import record_pregnancy_test, report_pregnancy
from registry.pregnancies.schemas import PregnancyReportInput
from tests import factories as f
from tests.races import (
    NOT_POSTGRES,
    ON_POSTGRES,
    Txn,
    authorize,
    issue,
    wait_until_blocked,
    world,
)

pytestmark = [pytest.mark.postgres, pytest.mark.skipif(not ON_POSTGRES, reason=NOT_POSTGRES)]

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
            session, _actor(session, w, "staff_user"), ComplianceActionInput(
                subject_type=subject_type, subject_id=w[key], action=action,
                reason="Compliance review", until=until))
    return change


def _risk(session: Session, w: dict[str, Any]) -> Any:
    return change_risk_category(session, _actor(session, w, "dr_user"), _patient(session, w),
                                NewRiskCategory(risk_category="can_get_pregnant",
                                                reason="Was misclassified",
                                                contraception_start_date=registry_clock.today()))


def _positive_test(session: Session, w: dict[str, Any]) -> Any:
    return record_pregnancy_test(session, _actor(session, w, "dr_user"), _patient(session, w),
                                 PregnancyTestEntry(specimen_collected_on=registry_clock.today(),
                                                    result="positive", setting="lab"))


def _report(session: Session, w: dict[str, Any]) -> Any:
    return report_pregnancy(session, _actor(session, w, "dr_user"), _patient(session, w),
                            parse(PregnancyReportInput, reported_on=registry_clock.today()))


def _end(session: Session, w: dict[str, Any]) -> Any:
    return end_treatment(session, _actor(session, w, "dr_user"), _patient(session, w),
                         TreatmentEnding(last_dose_on=registry_clock.today()))


def _transfer(session: Session, w: dict[str, Any]) -> Any:
    return transfer_patient(session, _actor(session, w, "staff_user"),
                            Transfer(registry_id=w["body"]["registry_id"],
                                     prescriber_npi=session.get(Prescriber, w["other_dr"]).npi,
                                     reason="Moved"))


def _deactivate(session: Session, w: dict[str, Any]) -> Any:
    return deactivate_patient(session, _actor(session, w, "staff_user"), _patient(session, w),
                              Deactivation(reason="Left the program"))


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
    w = world(committing_app, clock, can_get_pregnant=can_get_pregnant)
    a = Txn(committing_app, lambda s: change(s, w), hold=True).hold()
    b = Txn(committing_app, authorize(w), hold=False).start()
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
        assert len(denied) == 1
        assert reason in denied[0].after["reasons"]
    assert outcome.authorization is None


@pytest.mark.parametrize("name", [n for n, c in CHANGES.items() if c[3]])
def test_change_waiting_for_an_authorization_cancels_the_rma_it_issued(committing_app, clock,
                                                                       name):
    """B issues an RMA and holds its transaction; A's change must wait, then cancel it."""
    change, can_get_pregnant, _, _ = CHANGES[name]
    w = world(committing_app, clock, can_get_pregnant=can_get_pregnant)
    b = Txn(committing_app, authorize(w), hold=True).hold()
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
            f.dispensation(dispensed_on=registry_clock.today(), quantity=auth.quantity,
                           days_supply=auth.days_supply))
    return work


def _reverse(w: dict[str, Any], rma: str, user_key: str = "rph_user") -> Callable[..., Any]:
    def work(session: Session) -> Any:
        auth = session.execute(select(Authorization).where(Authorization.rma == rma)).scalar_one()
        return reverse_authorization(session, _actor(session, w, user_key), auth,
            f.reversal_of(reason="Not picked up"))
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
    w = world(committing_app, clock)
    rma = issue(committing_app, w)
    _a, b = _race(committing_app, _reverse(w, rma), _dispense(w, rma, "rph2_user"))
    assert isinstance(b.error, Conflict), b.error
    assert "reversed" in b.error.message
    assert "cannot be dispensed" in b.error.message
    assert "Pharmacist" in b.error.message  # who did it
    status, dispenses, reversals, entries = _rma_state(committing_app, rma)
    assert (status, dispenses, reversals) == ("reversed", 0, 1)
    assert entries == [("authorization:reverse", {"status": "authorized"})]


def test_dispense_then_reversal_is_a_return_to_stock(committing_app, clock):
    w = world(committing_app, clock)
    rma = issue(committing_app, w)
    _a, b = _race(committing_app, _dispense(w, rma), _reverse(w, rma, "rph2_user"))
    assert b.error is None, b.error
    status, dispenses, reversals, entries = _rma_state(committing_app, rma)
    assert (status, dispenses, reversals) == ("reversed", 1, 1)
    assert [(action, before["status"]) for action, before in entries] == [
        ("authorization:dispense", "authorized"), ("authorization:reverse", "dispensed")]


def test_two_dispenses_at_once_one_wins_the_other_gets_409(committing_app, clock):
    w = world(committing_app, clock)
    rma = issue(committing_app, w)
    _a, b = _race(committing_app, _dispense(w, rma), _dispense(w, rma, "rph2_user"))
    assert isinstance(b.error, Conflict), b.error
    assert "already dispensed" in b.error.message
    status, dispenses, reversals, entries = _rma_state(committing_app, rma)
    assert (status, dispenses, reversals) == ("dispensed", 1, 0)
    assert [action for action, _ in entries] == ["authorization:dispense"]


def test_two_reversals_at_once_one_wins_the_other_gets_409(committing_app, clock):
    w = world(committing_app, clock)
    rma = issue(committing_app, w)
    _a, b = _race(committing_app, _reverse(w, rma), _reverse(w, rma, "rph2_user"))
    assert isinstance(b.error, Conflict), b.error
    assert "already reversed" in b.error.message
    status, dispenses, reversals, entries = _rma_state(committing_app, rma)
    assert (status, dispenses, reversals) == ("reversed", 0, 1)
    assert [action for action, _ in entries] == ["authorization:reverse"]


def test_a_cancellation_committed_while_a_dispense_waits_refuses_it(committing_app, clock):
    """A pregnancy report cancels the RMA while the pharmacy's dispense waits: 409."""
    w = world(committing_app, clock)
    rma = issue(committing_app, w)
    _a, b = _race(committing_app, lambda s: _report(s, w), _dispense(w, rma))
    assert isinstance(b.error, Conflict), b.error
    assert "cancelled" in b.error.message
    status, dispenses, _, _ = _rma_state(committing_app, rma)
    assert (status, dispenses) == ("cancelled", 0)


def test_a_prescriber_suspension_waits_for_a_dispense_in_flight(committing_app, clock):
    """The dispense holds the RMA; the suspension waits and then finds nothing to cancel."""
    w = world(committing_app, clock)
    rma = issue(committing_app, w)
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


def _share(w: dict[str, Any], pharmacist: str) -> Callable[[Session], Any]:
    def work(session: Session) -> Any:
        locks.share_stakeholders(session, prescriber_id=w["dr"], pharmacy_id=w["pharmacy"],
                                 pharmacist_id=w[pharmacist])
    return work


def test_authorizations_through_one_pharmacy_do_not_wait_for_each_other(committing_app,
                                                                          clock):
    """FOR KEY SHARE, as docs/concurrency.md says (it was FOR NO KEY UPDATE, which made every
    authorization through a pharmacy, or for a prescriber's patients, wait for the one before)."""
    w = world(committing_app, clock)
    a = Txn(committing_app, _share(w, "rph"), hold=True).hold()
    b = Txn(committing_app, _share(w, "rph2"), hold=False).start()
    try:
        assert wait_until_blocked(committing_app, b) == "finished"
    finally:
        a.commit()
        a.finish()
        b.finish()


def test_a_suspension_waits_for_the_shared_stakeholder_locks(committing_app, clock):
    w = world(committing_app, clock)
    a = Txn(committing_app, _share(w, "rph"), hold=True).hold()
    b = Txn(committing_app,
            lambda s: locks.lock_stakeholder(s, Pharmacy, w["pharmacy"]), hold=False).start()
    try:
        assert wait_until_blocked(committing_app, b) == "blocked"
    finally:
        a.commit()
        a.finish()
        b.finish()


def test_the_stakeholder_locks_are_taken_in_the_documented_order(committing_app, clock):
    """prescriber -> pharmacy -> pharmacist (registry/locks.py), in one statement: while the
    pharmacist's row is held by a suspension in flight, an authorization's statement waits
    on it already holding the prescriber's and the pharmacy's rows (a FOR UPDATE of either
    cannot get them), never the other way round."""
    w = world(committing_app, clock)
    suspension = Txn(committing_app, lambda s: locks.lock_stakeholder(s, Pharmacist, w["rph"]),
                     hold=True).hold()
    sharing = Txn(committing_app, lambda s: locks.share_stakeholders(
        s, prescriber_id=w["dr"], pharmacy_id=w["pharmacy"], pharmacist_id=w["rph"]),
        hold=False).start()
    assert wait_until_blocked(committing_app, sharing) == "blocked"
    engine = committing_app.extensions["registry.engine"]
    held = {}
    with engine.connect() as third:
        for table, key in (("prescribers", "dr"), ("pharmacies", "pharmacy")):
            try:
                with third.begin():
                    third.execute(text(f"SELECT id FROM {table} WHERE id = :id "  # noqa: S608
                                       "FOR UPDATE NOWAIT"), {"id": w[key]})
                held[table] = False
            except DBAPIError as exc:
                held[table] = "could not obtain lock" in str(exc)
    suspension.commit()
    suspension.finish()
    sharing.finish()
    assert sharing.error is None
    assert held == {"prescribers": True, "pharmacies": True}
