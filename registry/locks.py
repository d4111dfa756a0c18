"""Row locks that serialize eligibility changes with authorizations (rules §6).

See docs/concurrency.md. Every function here takes its lock and re-reads the row it locked
(``populate_existing``), so the caller decides on facts read after the lock, never on an
ORM copy loaded before it. Take them in this order, and all of them before the first audit
entry of the transaction, so that two transactions never wait for each other in a circle:

    patient -> prescriber -> pharmacy -> pharmacist -> authorization

An email address (:func:`lock_email`) is locked before any of them: it guards the check
"is this address free?" across users and patients, which no single unique index spans.

On PostgreSQL they are ``SELECT ... FOR UPDATE`` / ``FOR KEY SHARE`` row locks. SQLite has no
row locks (SQLAlchemy renders no FOR clause there) and needs none: every writing transaction
begins with BEGIN IMMEDIATE (registry/db.py), so writers already run one at a time; the same
queries still run there and still refresh the rows, so both databases take one code path.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeVar

from sqlalchemy import Select, bindparam, func, select, true
from sqlalchemy.orm import Session, lazyload

from registry.authorizations.models import Authorization, AuthorizationStatus
from registry.patients.models import Patient
from registry.pharmacies.models import Pharmacist, Pharmacy
from registry.prescribers.models import Prescriber
from registry.rules.identifiers import normalize_registry_id

T = TypeVar("T")

# Fresh attributes for the rows a locking query returns, even if the session holds them.
FRESH: dict[str, Any] = {"populate_existing": True}


def _fresh(query: Select[tuple[T]]) -> Select[tuple[T]]:
    return query.execution_options(**FRESH)


def lock_patient(session: Session, patient_or_id: Patient | int) -> Patient:
    """FOR UPDATE on the patient: every change of their eligibility facts, every
    authorization, dispense and reversal for them runs one at a time. Returns the row re-read
    after the lock."""
    pid = patient_or_id if isinstance(patient_or_id, int) else patient_or_id.id
    return session.execute(_LOCK_PATIENT, {"id": pid}).scalar_one()


def lock_patient_by_registry_id(session: Session, registry_id: str) -> Patient | None:
    """:func:`lock_patient` for the patient with this registry ID (None if there is none),
    found and locked in one statement."""
    rid = normalize_registry_id(registry_id or "")
    return session.execute(_LOCK_PATIENT_BY_REGISTRY_ID, {"registry_id": rid}
                           ).scalar_one_or_none()


# Built once: a statement built per call has its cache key computed again on every call.
_LOCK_PATIENT = _fresh(select(Patient).where(Patient.id == bindparam("id"))
                       .with_for_update(of=Patient))
_LOCK_PATIENT_BY_REGISTRY_ID = _fresh(
    select(Patient).where(Patient.registry_id == bindparam("registry_id"))
    .with_for_update(of=Patient))


def share_stakeholders(session: Session, *, prescriber_id: int | None = None,
                       pharmacy_id: int | None = None,
                       pharmacist_id: int | None = None) -> None:
    """FOR KEY SHARE on the prescriber, pharmacy and pharmacist an authorization (or a
    dispense) goes through: many of them proceed together, but a suspension, deactivation or
    removal (FOR UPDATE, :func:`lock_stakeholder`) waits for them and they wait for it. The
    pharmacy and pharmacist rows are re-read, so their standing is checked as of after the
    lock (their user is not joined: the session holds it). The prescriber's row is only
    locked (its id read): its standing is read, after this, with the patient's facts.

    One statement for all three: PostgreSQL locks the rows in the order the ``OF`` list
    names them (the executor takes its row marks in that order), which is the module's
    order, prescriber -> pharmacy -> pharmacist."""
    wanted = (prescriber_id is not None, pharmacy_id is not None, pharmacist_id is not None)
    if not any(wanted):
        return
    query = _SHARE.get(wanted)
    if query is None:
        query = _SHARE[wanted] = _share_query(*wanted)
    session.execute(query, {"prescriber_id": prescriber_id, "pharmacy_id": pharmacy_id,
                            "pharmacist_id": pharmacist_id}).one()


_SHARE: dict[tuple[bool, bool, bool], Select[Any]] = {}  # built once per combination


def _share_query(prescriber: bool, pharmacy: bool, pharmacist: bool) -> Select[Any]:
    columns: list[Any] = []
    models: list[Any] = []
    conditions: list[Any] = []
    if prescriber:
        columns.append(Prescriber.id)
        models.append(Prescriber)
        conditions.append(Prescriber.id == bindparam("prescriber_id"))
    for wanted, model, name in ((pharmacy, Pharmacy, "pharmacy_id"),
                                (pharmacist, Pharmacist, "pharmacist_id")):
        if wanted:
            columns.append(model)
            models.append(model)
            conditions.append(model.id == bindparam(name))
    query = select(*columns).select_from(models[0])
    for model in models[1:]:  # one row of each, by its id: a cross join of single rows
        query = query.join(model, true())
    return _fresh(query.where(*conditions).options(lazyload("*"))
                  .with_for_update(of=models, key_share=True, read=True))


def lock_stakeholder(session: Session, model: type[T], row_id: int) -> T | None:
    """FOR UPDATE on a prescriber, designee, pharmacy or pharmacist about to be suspended,
    deactivated or removed: waits for the authorizations in flight through it."""
    return session.execute(
        _fresh(select(model).where(model.id == row_id).with_for_update(of=model))  # type: ignore[attr-defined]
    ).scalar_one_or_none()


def lock_authorization(session: Session, auth: Authorization) -> Authorization:
    """FOR UPDATE on one RMA (after the patient's lock), re-read: a dispense, a reversal and a
    cancellation of it run one at a time and each sees what the one before it did."""
    return session.execute(
        _fresh(select(Authorization).where(Authorization.id == auth.id)
               .with_for_update(of=Authorization))
    ).scalar_one()


def lock_open_authorizations(session: Session, *, patient_id: int | None = None,
                             prescriber_id: int | None = None,
                             pharmacy_id: int | None = None) -> Sequence[Authorization]:
    """FOR UPDATE on the open RMAs of a patient, of a prescriber's patients or issued through a
    pharmacy, in id order (two such transactions lock them in the same order). A change that
    will cancel them takes this before its first audit entry (see the module docstring)."""
    query = select(Authorization).where(Authorization.status == AuthorizationStatus.AUTHORIZED)
    if patient_id is not None:
        query = query.where(Authorization.patient_id == patient_id)
    if prescriber_id is not None:
        query = query.join(Patient, Patient.id == Authorization.patient_id).where(
            Patient.prescriber_id == prescriber_id)
    if pharmacy_id is not None:
        query = query.where(Authorization.pharmacy_id == pharmacy_id)
    return session.execute(
        _fresh(query.order_by(Authorization.id).with_for_update(of=Authorization))
    ).scalars().all()


EMAIL_LOCK_SEED = 20261124  # keeps these advisory lock keys apart from other uses


def lock_email(session: Session, email: str) -> None:
    """An advisory transaction lock on ``lower(email)`` (PostgreSQL): two transactions that
    check whether an address is free and then take it (an account, a patient's address) run
    one at a time, so both cannot find it free. Released at commit or rollback. SQLite
    serializes writers already (BEGIN IMMEDIATE): nothing to do there."""
    if session.get_bind().dialect.name != "postgresql":
        return
    key = func.hashtextextended(func.lower(email.strip()), EMAIL_LOCK_SEED)
    session.execute(select(func.pg_advisory_xact_lock(key)))
