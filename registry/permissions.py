"""Who may act on what. Operations call these; views and the API never decide by themselves."""

from __future__ import annotations

from typing import Any, Protocol, TypeVar, cast

from flask import has_request_context, request
from sqlalchemy import inspect, select
from sqlalchemy.orm import Session

from registry import clock
from registry.accounts.models import Role, User
from registry.errors import NotFound, PermissionDenied
from registry.params import current as current_params
from registry.patients.models import Patient
from registry.pharmacies.models import Pharmacist, Pharmacy
from registry.prescribers.models import Designee, DesigneeLink, Prescriber
from registry.rules import StakeholderFacts, designee_standing, prescriber_standing

T = TypeVar("T")
_CALLER = "registry.caller"


def remember_caller(session: Session, user: User, *, pharmacist: Pharmacist | None = None,
                    pharmacy: Pharmacy | None = None,
                    prescriber: Prescriber | None = None) -> None:
    """Keep the caller's own records, read at the door with their token (one statement),
    for the rest of the request: :func:`pharmacist_for_user` and :func:`prescriber_for_user`
    answer from them instead of asking again, and ``session.get(Pharmacy, ...)`` finds the
    pharmacy in the identity map, which holds only what something references. Locks still
    re-read these rows (registry/locks.py refreshes the same objects)."""
    if has_request_context():
        request.environ[_CALLER] = (session, user.id, {
            User: user, Pharmacist: pharmacist, Pharmacy: pharmacy, Prescriber: prescriber})


def _remembered(session: Session, user: User, model: type[T]) -> T | None:
    if not has_request_context():
        return None
    known: Any = request.environ.get(_CALLER)
    if known is None or known[0] is not session or known[1] != user.id:
        return None
    found: Any = known[2].get(model)
    if found is None or not inspect(found).persistent:  # (and still in this session)
        return None
    return cast(T, found)


def prescriber_for_user(session: Session, user: User) -> Prescriber | None:
    known = _remembered(session, user, Prescriber)
    if known is not None:
        return known
    return session.execute(select(Prescriber).where(Prescriber.user_id == user.id)).scalar()


def designee_for_user(session: Session, user: User) -> Designee | None:
    return session.execute(select(Designee).where(Designee.user_id == user.id)).scalar()


def pharmacist_for_user(session: Session, user: User) -> Pharmacist | None:
    known = _remembered(session, user, Pharmacist)
    if known is not None:
        return known
    return session.execute(select(Pharmacist).where(Pharmacist.user_id == user.id)).scalar()


def patient_for_user(session: Session, user: User) -> Patient | None:
    return session.execute(select(Patient).where(Patient.user_id == user.id)).scalar()


def stakeholder_facts(obj: Prescriber | Designee) -> StakeholderFacts:
    return StakeholderFacts(obj.attested_on, obj.suspended_until, obj.deactivated_on)


def linked_prescriber_ids(session: Session, designee: Designee) -> list[int]:
    return list(session.execute(
        select(DesigneeLink.prescriber_id).where(
            DesigneeLink.designee_id == designee.id, DesigneeLink.unlinked_on.is_(None)
        )
    ).scalars())


def require_active_prescriber(prescriber: Prescriber) -> None:
    standing = prescriber_standing(stakeholder_facts(prescriber), clock.today(), current_params())
    if not standing.active:
        raise PermissionDenied(f"Prescriber {prescriber.npi} {standing.detail}.")


def acting_prescriber(
    session: Session, actor: User, prescriber_id: int | None = None
) -> Prescriber:
    """The prescriber on whose behalf ``actor`` acts: themselves, or a designee's linked one.

    Designees may act only for an active prescriber they are linked to, and only while
    they themselves are active (rules §2).
    """
    if actor.role == Role.PRESCRIBER:
        prescriber = prescriber_for_user(session, actor)
        if prescriber is None:  # pragma: no cover - every prescriber user has a profile
            raise PermissionDenied("No prescriber profile.")
        if prescriber_id is not None and prescriber_id != prescriber.id:
            raise PermissionDenied("Prescribers act only for themselves.")
        require_active_prescriber(prescriber)
        return prescriber
    if actor.role == Role.DESIGNEE:
        designee = designee_for_user(session, actor)
        if designee is None:  # pragma: no cover
            raise PermissionDenied("No designee profile.")
        standing = designee_standing(stakeholder_facts(designee), clock.today(), current_params())
        if not standing.active:
            raise PermissionDenied(f"This designee account {standing.detail}.")
        if prescriber_id is None:
            raise PermissionDenied("Designees must say which prescriber they act for.")
        if prescriber_id not in linked_prescriber_ids(session, designee):
            raise PermissionDenied("This designee is not linked to that prescriber.")
        prescriber = session.get(Prescriber, prescriber_id)
        assert prescriber is not None
        require_active_prescriber(prescriber)
        return prescriber
    raise PermissionDenied("Only prescribers and their designees can do this.")


class PatientOfRecord(Protocol):
    """What visibility reads of a patient: a Patient, or a row read with its facts."""

    @property
    def user_id(self) -> int | None: ...

    @property
    def prescriber_id(self) -> int: ...


def can_view_patient(session: Session, actor: User, patient: PatientOfRecord) -> bool:
    if actor.role == Role.STAFF:
        return True
    if actor.role == Role.PATIENT:
        return patient.user_id == actor.id
    if actor.role == Role.PRESCRIBER:
        prescriber = prescriber_for_user(session, actor)
        return prescriber is not None and prescriber.id == patient.prescriber_id
    if actor.role == Role.DESIGNEE:
        designee = designee_for_user(session, actor)
        return designee is not None and patient.prescriber_id in linked_prescriber_ids(
            session, designee
        )
    return False


def patient_for_care(session: Session, actor: User, patient: Patient,
                     *, prescriber_only: bool = False) -> Prescriber:
    """Check that ``actor`` is the prescriber of record (or their designee) and may act now.

    A patient the actor may not see is reported as not found, so nobody learns it exists.
    """
    if not can_view_patient(session, actor, patient) or actor.role in (Role.PATIENT, Role.STAFF):
        if actor.role == Role.STAFF or (actor.role == Role.PATIENT and patient.user_id == actor.id):
            raise PermissionDenied("Only the prescriber of record can do this.")
        raise NotFound("No such patient.")
    if prescriber_only and actor.role != Role.PRESCRIBER:
        raise PermissionDenied("Only the prescriber of record can do this.")
    return acting_prescriber(session, actor, patient.prescriber_id)


def require_staff(actor: User) -> None:
    if actor.role != Role.STAFF:
        raise PermissionDenied("Only program staff can do this.")
