"""Read-only answers about one RMA: why a pharmacist must not dispense against it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import select, tuple_
from sqlalchemy.orm import Session, selectinload

from registry.accounts.models import User
from registry.audit.models import AuditEntry
from registry.authorizations.models import Authorization, AuthorizationStatus, Reversal
from registry.authorizations.operations import effective_status
from registry.errors import NotFound, ValidationError
from registry.permissions import pharmacist_for_user
from registry.rules import fmt

# What cancelled the RMA (the ``why`` of its authorization:cancel entry), in plain words.
CANCELLED_BECAUSE = {
    "pregnancy reported": "A pregnancy was reported for this patient, or a pregnancy test "
                          "was positive.",
    "treatment ended": "The prescriber ended the patient's treatment.",
    "patient transferred": "The patient moved to another prescriber.",
    "patient deactivated": "The patient was deactivated in the program.",
    "risk category changed": "The prescriber changed the patient's risk category.",
    "prescriber suspension": "The patient's prescriber was suspended.",
    "prescriber deactivation": "The patient's prescriber was deactivated.",
    "pharmacy suspension": "This pharmacy was suspended.",
    "pharmacy deactivation": "This pharmacy was deactivated.",
}


@dataclass(frozen=True)
class DoNotDispense:
    """Why an RMA no longer allows a dispense, and since when."""

    status: str
    why: str
    since: date | datetime


def open_authorization_at(session: Session, patient_id: int | None, pharmacy_id: int | None,
                          today: date) -> Authorization | None:
    """The patient's open RMA if this pharmacy holds it (AUTHORIZATION_ALREADY_ISSUED): the
    pharmacist can then dispense against it or reverse it. Another pharmacy's is not shown."""
    if patient_id is None or pharmacy_id is None:
        return None
    return session.execute(
        select(Authorization).where(
            Authorization.patient_id == patient_id,
            Authorization.pharmacy_id == pharmacy_id,
            Authorization.status == AuthorizationStatus.AUTHORIZED,
            Authorization.do_not_dispense_after >= today,
        ).order_by(Authorization.id.desc()).limit(1)
    ).scalar()


def do_not_dispense(session: Session, auth: Authorization,
                    today: date | None = None) -> DoNotDispense | None:
    """None while the RMA can still be dispensed against (or was dispensed)."""
    status = effective_status(auth, today)
    if status == AuthorizationStatus.CANCELLED:
        why = session.execute(
            select(AuditEntry.after).where(
                AuditEntry.action == "authorization:cancel",
                AuditEntry.subject_type == "authorization",
                AuditEntry.subject_id == auth.rma,
            ).order_by(AuditEntry.id.desc()).limit(1)
        ).scalar()
        cause = str((why or {}).get("why") or "")
        text = CANCELLED_BECAUSE.get(cause) or (
            f"The registry cancelled it ({cause})." if cause else "The registry cancelled it.")
        return DoNotDispense(status, text, auth.closed_at or auth.issued_at)
    if status == AuthorizationStatus.REVERSED:
        reversal = session.execute(
            select(Reversal).where(Reversal.authorization_id == auth.id)).scalar()
        reason = reversal.reason if reversal else ""
        when = reversal.reversed_at if reversal else auth.closed_at or auth.issued_at
        return DoNotDispense(status, f"The pharmacy reversed it: {reason}" if reason else
                             "The pharmacy reversed it.", when)
    if status == AuthorizationStatus.EXPIRED:
        return DoNotDispense(
            status, f"Its last day was {fmt(auth.do_not_dispense_after)}; it has expired. "
            "Ask for a new authorization.",
            auth.do_not_dispense_after + timedelta(days=1))
    return None


@dataclass(frozen=True)
class AuthorizationsPage:
    items: list[Authorization]
    next_cursor: str | None


def pharmacy_authorizations(session: Session, actor: User, pharmacy_id: int, *,
                            since: date | None = None, cursor: str | None = None,
                            limit: int = 50) -> AuthorizationsPage:
    """The pharmacy's RMAs, newest first, ``limit`` at a time (keyset on when they were
    issued: the cursor is the last RMA of the previous page). Its pharmacists only: anyone
    else gets NotFound. Patient, dispense and reversal come in the same few statements."""
    me = pharmacist_for_user(session, actor)
    if me is None or me.pharmacy_id != pharmacy_id:
        raise NotFound("No such pharmacy.")
    statement = select(Authorization).where(Authorization.pharmacy_id == pharmacy_id)
    if since is not None:
        statement = statement.where(Authorization.issued_on >= since)
    if cursor:
        after = session.execute(
            select(Authorization.issued_at, Authorization.id).where(
                Authorization.rma == cursor.strip().upper(),
                Authorization.pharmacy_id == pharmacy_id)
        ).first()
        if after is None:
            raise ValidationError(cursor="Not a cursor of this list: start again without it.")
        statement = statement.where(tuple_(Authorization.issued_at, Authorization.id)
                                    < tuple_(after.issued_at, after.id))
    items = list(session.execute(
        statement.order_by(Authorization.issued_at.desc(), Authorization.id.desc())
        .limit(limit + 1)
        .options(selectinload(Authorization.patient), selectinload(Authorization.pharmacy),
                 selectinload(Authorization.dispense), selectinload(Authorization.reversal))
    ).scalars())
    more = len(items) > limit
    items = items[:limit]
    return AuthorizationsPage(items, items[-1].rma if more else None)
