"""Read-only lookups of prescribers and designees."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from registry.accounts.models import Role, User
from registry.errors import NotFound
from registry.permissions import designee_for_user, linked_prescriber_ids, prescriber_for_user
from registry.prescribers.models import Designee, Prescriber


def by_npi(session: Session, npi: str) -> Prescriber | None:
    cleaned = (npi or "").replace(" ", "").replace("-", "")
    return session.execute(select(Prescriber).where(Prescriber.npi == cleaned)).scalar()


def visible_prescriber(session: Session, actor: User, prescriber_id: int) -> Prescriber:
    """Staff and the prescriber themselves see a prescriber's record; others get NotFound."""
    prescriber = session.get(Prescriber, prescriber_id)
    if prescriber is None:
        raise NotFound("No such prescriber.")
    if actor.role == Role.STAFF:
        return prescriber
    own = prescriber_for_user(session, actor)
    if own is None or own.id != prescriber.id:
        raise NotFound("No such prescriber.")
    return prescriber


def visible_designee(session: Session, actor: User, designee_id: int) -> Designee:
    """Staff, the designee and their linked prescribers see a designee; others get NotFound."""
    designee = session.get(Designee, designee_id)
    if designee is None:
        raise NotFound("No such designee.")
    if actor.role == Role.STAFF:
        return designee
    own = designee_for_user(session, actor)
    if own is not None and own.id == designee.id:
        return designee
    prescriber = prescriber_for_user(session, actor)
    if prescriber is not None and prescriber.id in linked_prescriber_ids(session, designee):
        return designee
    raise NotFound("No such designee.")
