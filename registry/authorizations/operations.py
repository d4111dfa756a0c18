"""Dispensing authorizations (RMA), dispenses and reversals (rules §6)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import Table, select
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from registry import clock, locks, policy
from registry.accounts.models import Role, User
from registry.audit.operations import record, snapshot
from registry.authorizations.models import (
    Authorization,
    AuthorizationDecision,
    AuthorizationStatus,
    Dispense,
    Reversal,
)
from registry.authorizations.schemas import AuthorizationRequest, Dispensation, ReversalReason
from registry.cycles.models import CycleKind
from registry.cycles.operations import open_cycle
from registry.db import insert_or_nothing, persistent_as_inserted
from registry.errors import Conflict, Errors, NotFound, PermissionDenied, ValidationError
from registry.params import current as current_params
from registry.patients.facts import PatientRow, load_by_registry_id, load_facts
from registry.patients.models import Patient
from registry.permissions import can_view_patient, pharmacist_for_user
from registry.pharmacies.models import Pharmacist, Pharmacy
from registry.policy import Permission
from registry.rules import (
    Decision,
    PatientFacts,
    Reason,
    RequestFacts,
    StakeholderFacts,
    evaluate,
    fmt,
    pharmacist_standing,
    pharmacy_standing,
)
from registry.rules.identifiers import new_rma, normalize_registry_id
from registry.rules.reasons import REASON_CODES
from registry.rules.vocabulary import Actor, ReasonCode


@dataclass(frozen=True)
class Outcome:
    """The answer to an authorization request: the stored decision, and the RMA if issued."""

    decision: AuthorizationDecision
    authorization: Authorization | None
    replayed: bool = False

    @property
    def eligible(self) -> bool:
        return self.authorization is not None

    @property
    def reasons(self) -> list[dict[str, Any]]:
        return list(self.decision.reasons)


def requesting_pharmacist(session: Session, actor: User) -> Pharmacist:
    if not policy.holds(actor.role, Permission.AUTHORIZATIONS_REQUEST):
        raise PermissionDenied("Only pharmacists can request dispensing authorizations.")
    pharmacist = pharmacist_for_user(session, actor)
    if pharmacist is None:  # pragma: no cover
        raise PermissionDenied("No pharmacist record for this account.")
    return pharmacist


def _request_facts(req: AuthorizationRequest, pharmacist: Pharmacist,
                   pharmacy: Pharmacy) -> RequestFacts:
    return RequestFacts(
        prescriber_npi=req.prescriber_npi, days_supply=req.days_supply, quantity=req.quantity,
        refills=req.refills,
        pharmacy=StakeholderFacts(pharmacy.activated_on, pharmacy.suspended_until,
                                  pharmacy.deactivated_on),
        pharmacist=StakeholderFacts(pharmacist.training_completed_on, pharmacist.suspended_until,
                                    pharmacist.deactivated_on, pharmacist.removed_on),
    )


def expire_stale(session: Session, patient: Patient, today: date) -> None:
    """Mark authorizations past their do-not-dispense-after day as expired."""
    stale = session.execute(
        select(Authorization).where(
            Authorization.patient_id == patient.id,
            Authorization.status == AuthorizationStatus.AUTHORIZED,
            Authorization.do_not_dispense_after < today,
        )
    ).scalars().all()
    for auth in stale:
        auth.status = AuthorizationStatus.EXPIRED
        auth.closed_at = clock.now()
        session.flush()
        record(session, None, "authorization:expire", "authorization", auth.rma,
               before={"status": "authorized"}, after={"status": "expired"})


def _decide(session: Session, pharmacist: Pharmacist, req: AuthorizationRequest,
            facts: PatientFacts | None, today: date) -> Decision:
    pharmacy = session.get(Pharmacy, pharmacist.pharmacy_id)
    assert pharmacy is not None
    return evaluate(facts, today, current_params(), _request_facts(req, pharmacist, pharmacy))


def _evaluate_locked(session: Session, actor: User,
                     req: AuthorizationRequest) -> tuple[Pharmacist, Patient | None, Decision]:
    """For a request that may issue: lock first, then read every fact the decision uses."""
    pharmacist = requesting_pharmacist(session, actor)
    today = clock.today()
    # A change that makes the patient ineligible either committed before (and is seen) or
    # waits for this transaction (and cancels the RMA). Order and reasons:
    # registry/locks.py, docs/concurrency.md. The patient is found and locked in one
    # statement; the date of birth is compared on the row as re-read under the lock.
    patient = locks.lock_patient_by_registry_id(session, req.registry_id)
    if patient is not None and patient.date_of_birth != req.date_of_birth:
        patient = None
    locks.share_stakeholders(
        session, prescriber_id=patient.prescriber_id if patient is not None else None,
        pharmacy_id=pharmacist.pharmacy_id, pharmacist_id=pharmacist.id,
    )
    facts = load_facts(session, patient) if patient is not None else None
    if patient is not None and facts is not None and any(
            a.status == AuthorizationStatus.AUTHORIZED and a.do_not_dispense_after < today
            for a in facts.authorizations):
        # Open RMAs past their last day (the facts, read under the lock, name them all):
        # marked expired, and the facts read again. Most requests have none: no statement.
        expire_stale(session, patient, today)
        facts = load_facts(session, patient)
    return pharmacist, patient, _decide(session, pharmacist, req, facts, today)


def _evaluate_unlocked(session: Session, actor: User, req: AuthorizationRequest,
                       ) -> tuple[Pharmacist, PatientRow | None, Decision]:
    """For a check: nothing locked, nothing written but its audit, so the patient and the
    facts are read in one statement. Registry ID and date of birth must both match (a
    mismatch answers as an unknown patient: no enumeration)."""
    pharmacist = requesting_pharmacist(session, actor)
    found = load_by_registry_id(session, normalize_registry_id(req.registry_id or ""))
    if found is None or found[0].date_of_birth != req.date_of_birth:
        return pharmacist, None, _decide(session, pharmacist, req, None, clock.today())
    patient, facts = found
    return pharmacist, patient, _decide(session, pharmacist, req, facts, clock.today())


def check_authorization(session: Session, actor: User, req: AuthorizationRequest) -> Decision:
    """Answer as a request would, issuing and storing nothing but the audit of the check."""
    pharmacist, patient, decision = _evaluate_unlocked(session, actor, req)
    record(session, actor, "authorization:check", "patient",
           patient.id if patient else None,
           after={"request": req.as_dict(), "eligible": decision.eligible,
                  "reasons": decision.codes, "ruleset": decision.ruleset,
                  "pharmacy_id": pharmacist.pharmacy_id})
    return decision


def _replay(session: Session, actor: User, key: str, fingerprint: str) -> Outcome | None:
    previous = session.execute(
        select(AuthorizationDecision).where(
            AuthorizationDecision.requested_by_id == actor.id,
            AuthorizationDecision.idempotency_key == key,
        )
    ).scalar()
    if previous is None:
        return None
    if previous.request_fingerprint != fingerprint:
        raise Conflict("This Idempotency-Key was already used with a different request.")
    return Outcome(previous, previous.authorization, replayed=True)


def request_authorization(session: Session, actor: User, req: AuthorizationRequest, *,
                          idempotency_key: str | None = None,
                          via: dict[str, Any] | None = None) -> Outcome:
    """Decide, store the decision, and issue an RMA when every check passes.

    ``via``: the system that sent the request for ``actor`` (a pharmacy system at the NCPDP
    door), kept in the audit entry: the pharmacist acted, through that system.

    Safe under concurrency: the patient's row is locked (PostgreSQL) or the transaction
    holds the write lock (SQLite), and the database's unique indexes stop a second open
    authorization per patient or per cycle. Retrying with the same key replays the answer.
    """
    key = (idempotency_key or "").strip() or None
    if key is not None and len(key) > 255:
        raise ValidationError({"Idempotency-Key": "Must be at most 255 characters."})
    fingerprint = req.fingerprint()
    pharmacist, patient, decision = _evaluate_locked(session, actor, req)
    # One lookup, after the patient's lock: a twin with the same key that got the lock first
    # has committed by now and is seen (a retry is decided again before it is replayed, which
    # costs a retry a little and every first request nothing). Without a patient to lock, a
    # twin is caught by the unique index on the key below.
    if key and (replay := _replay(session, actor, key, fingerprint)):
        return replay
    now = clock.now()
    today = clock.today()
    reasons = [r.as_dict() for r in decision.reasons]
    authorization: Authorization | None = None
    if decision.eligible and patient is not None:
        authorization = _issue(session, actor, pharmacist, patient, decision, req, now, today)
        if authorization is None:
            reasons = [Reason(
                ReasonCode.AUTHORIZATION_ALREADY_ISSUED,
                REASON_CODES[ReasonCode.AUTHORIZATION_ALREADY_ISSUED],
                "Dispense against the open authorization, or the issuing pharmacy reverses it.",
                Actor.PHARMACY,
            ).as_dict()]
    values: dict[str, Any] = {
        "requested_at": now, "requested_on": today, "requested_by_id": actor.id,
        "pharmacist_id": pharmacist.id, "pharmacy_id": pharmacist.pharmacy_id,
        "patient_id": patient.id if patient else None, "request": req.as_dict(),
        "request_fingerprint": fingerprint, "idempotency_key": key,
        "eligible": authorization is not None, "reasons": reasons,
        "ruleset": decision.ruleset, "parameters": decision.parameters,
        "authorization_id": authorization.id if authorization else None,
    }
    # One cached INSERT, no unit of work and no savepoint: the unique index on (user, key)
    # refuses a twin in the statement itself (a row without a key never conflicts).
    decision_id = session.execute(_insert_returning_id(AuthorizationDecision, tuple(values)),
                                  values).scalar()
    if decision_id is None:
        # Same key from the same user, committed meanwhile (no patient row to lock on; the
        # INSERT waited for the twin's commit): its answer is this one's.
        if key and (replay := _replay(session, actor, key, fingerprint)):
            return replay
        raise Conflict("This Idempotency-Key was used by another request at the same "
                       "moment; send it again.")
    row = persistent_as_inserted(session, AuthorizationDecision(id=decision_id, **values))
    set_committed_value(row, "authorization", authorization)  # the answer's: no lazy load
    if authorization is not None:
        after = {**snapshot(authorization), "decision_id": row.id}
        if via is not None:
            after["via"] = via
        record(session, actor, "authorization:issue", "authorization", authorization.rma,
               after=after)
    else:
        after = {"request": req.as_dict(), "reasons": [r["code"] for r in reasons],
                 "ruleset": decision.ruleset}
        if via is not None:
            after["via"] = via
        record(session, actor, "authorization:deny", "authorization_decision", row.id,
               after=after)
    return Outcome(row, authorization)


def _issue(session: Session, actor: User, pharmacist: Pharmacist, patient: Patient,
           decision: Decision, req: AuthorizationRequest, now: Any,
           today: date) -> Authorization | None:
    """Insert the RMA; None when the database refuses a second live authorization.

    The unique indexes decide, in the INSERT itself (``ON CONFLICT DO NOTHING``, on
    PostgreSQL and SQLite alike): no pre-check of the RMA number and, unless a cycle is
    opened for it, no savepoint. Under the patient's lock the facts have seen every live
    authorization already, so a refusal means only that the rules and the indexes disagree
    (or, once in 24^12, that the RMA number was taken: then another one is drawn).
    """
    assert decision.do_not_dispense_after is not None
    values = {
        "patient_id": patient.id, "prescriber_id": patient.prescriber_id,
        "pharmacy_id": pharmacist.pharmacy_id, "pharmacist_id": pharmacist.id,
        "status": AuthorizationStatus.AUTHORIZED, "ruleset": decision.ruleset,
        "issued_on": today, "issued_at": now,
        "do_not_dispense_after": decision.do_not_dispense_after,
        "days_supply": req.days_supply, "quantity": req.quantity, "refills": req.refills,
        "closed_at": None,
    }
    if not decision.needs_new_cycle:
        assert decision.cycle is not None
        auth = _insert_rma(session, {**values, "cycle_id": decision.cycle.id})
    else:
        # The cycle opened for this RMA must go if the RMA is refused: a savepoint.
        with session.begin_nested() as savepoint:
            cycle = open_cycle(
                session, actor, patient, kind=CycleKind.PER_AUTHORIZATION,
                opened_on=today, closes_on=decision.do_not_dispense_after,
                ruleset=decision.ruleset,
            )
            auth = _insert_rma(session, {**values, "cycle_id": cycle.id})
            if auth is None:
                savepoint.rollback()
    if auth is not None:
        set_committed_value(auth, "patient", patient)  # what the answer names: no lazy load
    return auth


def _insert_returning_id(model: type[Any], names: tuple[str, ...]) -> Any:
    table = model.__table__
    assert isinstance(table, Table)
    return insert_or_nothing(table, names, returning=("id",))


def _insert_rma(session: Session, values: dict[str, Any]) -> Authorization | None:
    statement = _insert_returning_id(Authorization, ("rma", *values))
    while True:
        rma = new_rma()
        auth_id = session.execute(statement, {"rma": rma, **values}).scalar()
        if auth_id is not None:
            # every column was given but the id: the row is what was sent
            return persistent_as_inserted(session, Authorization(id=auth_id, rma=rma, **values))
        if session.execute(select(Authorization.id).where(Authorization.rma == rma)).first() \
                is None:
            return None  # refused by the one-live-authorization indexes
        # pragma: no cover - the RMA number was taken: draw again


# --- after the RMA ---------------------------------------------------------------------


def effective_status(auth: Authorization, today: date | None = None) -> str:
    """The status as it stands today: an open RMA past its last day reads as expired."""
    day = today or clock.today()
    if auth.status == AuthorizationStatus.AUTHORIZED and auth.do_not_dispense_after < day:
        return AuthorizationStatus.EXPIRED.value
    return auth.status


def find_authorization(session: Session, actor: User, rma: str) -> Authorization:
    """Look up an RMA: the issuing pharmacy, the prescriber of record (and designees), staff."""
    code = (rma or "").strip().upper()
    auth = session.execute(select(Authorization).where(Authorization.rma == code)).scalar()
    if auth is None:
        raise NotFound("No authorization with this RMA number.")
    if actor.role == Role.STAFF:
        return auth
    if actor.role == Role.PHARMACIST:
        me = pharmacist_for_user(session, actor)
        if me is not None and me.pharmacy_id == auth.pharmacy_id:
            return auth
    elif actor.role in (Role.PRESCRIBER, Role.DESIGNEE):
        patient = session.get(Patient, auth.patient_id)
        if patient is not None and can_view_patient(session, actor, patient):
            return auth
    raise NotFound("No authorization with this RMA number.")


def _issuing_pharmacist(session: Session, actor: User, auth: Authorization) -> Pharmacist:
    me = requesting_pharmacist(session, actor)
    if me.pharmacy_id != auth.pharmacy_id:
        raise NotFound("No authorization with this RMA number.")
    # Their standing as of after a suspension or removal in flight (registry/locks.py).
    locks.share_stakeholders(session, pharmacy_id=me.pharmacy_id, pharmacist_id=me.id)
    today = clock.today()
    params = current_params()
    pharmacy = session.get(Pharmacy, me.pharmacy_id)
    assert pharmacy is not None
    standing = pharmacy_standing(
        StakeholderFacts(pharmacy.activated_on, pharmacy.suspended_until, pharmacy.deactivated_on),
        today, params,
    )
    if not standing.active:
        raise PermissionDenied(f"This pharmacy {standing.detail}.")
    mine = pharmacist_standing(
        StakeholderFacts(me.training_completed_on, me.suspended_until, me.deactivated_on,
                         me.removed_on), today, params,
    )
    if not mine.active:
        raise PermissionDenied(f"This pharmacist {mine.detail}.")
    return me


def _lock_rma(session: Session, actor: User, auth: Authorization) -> tuple[Pharmacist, str]:
    """Patient, pharmacy and pharmacist, then the RMA, locked in that order and re-read.
    Returns the acting pharmacist and the status the caller had loaded before the locks."""
    seen = auth.status
    locks.lock_patient(session, auth.patient_id)
    me = _issuing_pharmacist(session, actor, auth)
    locks.lock_authorization(session, auth)
    return me, seen


def _what_happened(session: Session, auth: Authorization) -> str:
    """How the RMA was closed, when and by whom, in words for the pharmacist."""
    def when(moment: Any) -> str:
        local = moment.astimezone(clock.program_timezone())
        return f"on {fmt(local.date())} at {local:%H:%M}"

    def by(pharmacist_id: int) -> str:
        pharmacist = session.get(Pharmacist, pharmacist_id)
        return f" by {pharmacist.user.full_name}" if pharmacist is not None else ""

    if auth.status == AuthorizationStatus.DISPENSED:
        d = session.execute(select(Dispense).where(Dispense.authorization_id == auth.id)).scalar()
        if d is not None:
            return f"already dispensed {when(d.recorded_at)}{by(d.pharmacist_id)}"
    if auth.status == AuthorizationStatus.REVERSED:
        r = session.execute(select(Reversal).where(Reversal.authorization_id == auth.id)).scalar()
        if r is not None:
            return f"already reversed {when(r.reversed_at)}{by(r.pharmacist_id)}"
    if auth.status == AuthorizationStatus.EXPIRED:
        return f"expired after {fmt(auth.do_not_dispense_after)}"
    return f"{auth.status} {when(auth.closed_at)}" if auth.closed_at else str(auth.status)


def _refuse_if_lost_race(session: Session, auth: Authorization, seen: str, allowed: set[str],
                         attempted: str) -> None:
    """The RMA changed after the caller loaded it (another request won the race): 409."""
    if auth.status != seen and auth.status not in allowed:
        raise Conflict(f"RMA {auth.rma} was {_what_happened(session, auth)}; "
                       f"it cannot be {attempted}.")


def record_dispense(session: Session, actor: User, auth: Authorization,
                    data: Dispensation) -> Dispense:
    me, seen = _lock_rma(session, actor, auth)
    _refuse_if_lost_race(session, auth, seen, {AuthorizationStatus.AUTHORIZED}, "dispensed")
    errors = Errors()
    today = clock.today()
    on, qty, days = data.dispensed_on, data.quantity, data.days_supply
    status = effective_status(auth, today)
    if status != AuthorizationStatus.AUTHORIZED:
        errors.add("rma", f"This authorization is {status}; it cannot be dispensed against.")
    if on > today:
        errors.add("dispensed_on", "The dispense date cannot be in the future.")
    if on > auth.do_not_dispense_after:
        errors.add("dispensed_on", "Is after the do-not-dispense-after date "
                   f"({fmt(auth.do_not_dispense_after)}).")
    if on < auth.issued_on:
        errors.add("dispensed_on", "Is before the authorization was issued.")
    if qty > auth.quantity:
        errors.add("quantity", f"Is more than the {auth.quantity} authorized.")
    if days > auth.days_supply:
        errors.add("days_supply", f"Is more than the {auth.days_supply} days authorized.")
    errors.raise_if_any()
    dispense = Dispense(authorization_id=auth.id, patient_id=auth.patient_id, dispensed_on=on,
                        quantity=qty, days_supply=days, pharmacist_id=me.id,
                        recorded_at=clock.now())
    session.add(dispense)
    auth.status = AuthorizationStatus.DISPENSED
    auth.closed_at = clock.now()
    session.flush()
    record(session, actor, "authorization:dispense", "authorization", auth.rma,
           before={"status": "authorized"},
           after={"status": "dispensed", **snapshot(dispense)})
    return dispense


def reverse_authorization(session: Session, actor: User, auth: Authorization,
                          data: ReversalReason) -> Reversal:
    """Not dispensed, or returned to stock: the cycle is free again while its window is open."""
    me, seen = _lock_rma(session, actor, auth)
    # A dispense that won the race makes this a return to stock (rules §6), not a conflict.
    _refuse_if_lost_race(session, auth, seen,
                         {AuthorizationStatus.AUTHORIZED, AuthorizationStatus.DISPENSED},
                         "reversed")
    why = data.reason
    if auth.status not in (AuthorizationStatus.AUTHORIZED, AuthorizationStatus.DISPENSED):
        raise ValidationError(rma=f"This authorization is {auth.status}; it cannot be reversed.")
    before = {"status": auth.status}
    reversal = Reversal(authorization_id=auth.id, reason=why, pharmacist_id=me.id,
                        reversed_at=clock.now())
    session.add(reversal)
    auth.status = AuthorizationStatus.REVERSED
    auth.closed_at = clock.now()
    session.flush()
    record(session, actor, "authorization:reverse", "authorization", auth.rma,
           before=before, after={"status": "reversed", "reason": why})
    return reversal
