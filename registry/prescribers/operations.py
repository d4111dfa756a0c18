"""Prescribers and designees: enrollment, yearly attestation, links (rules §2)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from registry import clock
from registry.accounts.models import Role, User
from registry.accounts.operations import check_new_account, new_user
from registry.audit.operations import record, snapshot
from registry.contract import MISSING
from registry.errors import Errors, NotFound, PermissionDenied, ValidationError
from registry.permissions import designee_for_user, prescriber_for_user
from registry.prescribers.models import Designee, DesigneeLink, Prescriber
from registry.prescribers.schemas import DesigneeLinking, PrescriberEnrollment


def enroll_prescriber(session: Session, data: PrescriberEnrollment) -> Prescriber:
    """Anyone may enroll as a prescriber; they become active when they attest."""
    errors = Errors()
    check_new_account(session, errors, data)
    if session.execute(select(Prescriber.id).where(Prescriber.npi == data.npi)).first():
        errors.add("npi", "A prescriber with this NPI is already enrolled.")
    errors.raise_if_any()
    user = new_user(session, email=data.email, password=data.password, role=Role.PRESCRIBER,
                    first_name=data.first_name, last_name=data.last_name)
    prescriber = Prescriber(user_id=user.id, npi=data.npi, license_state=data.license_state)
    session.add(prescriber)
    session.flush()
    record(session, user, "prescriber:enroll", "prescriber", prescriber.id,
           after={**snapshot(prescriber), "email": data.email})
    return prescriber


def attest_prescriber(session: Session, actor: User, prescriber: Prescriber) -> Prescriber:
    """The prescriber attests (and re-attests yearly) to the program requirements."""
    own = prescriber_for_user(session, actor)
    if own is None or own.id != prescriber.id:
        raise PermissionDenied("Only the prescriber can attest for themselves.")
    if prescriber.deactivated_on is not None:
        raise PermissionDenied("This prescriber was deactivated by program staff.")
    before = snapshot(prescriber, "attested_on")
    prescriber.attested_on = clock.today()
    session.flush()
    record(session, actor, "prescriber:attest", "prescriber", prescriber.id,
           before=before, after=snapshot(prescriber, "attested_on"))
    return prescriber


def link_designee(session: Session, actor: User, prescriber: Prescriber,
                  data: DesigneeLinking) -> Designee:
    """Create a designee account and link it, or link an existing designee by id."""
    own = prescriber_for_user(session, actor)
    if own is None or own.id != prescriber.id:
        raise PermissionDenied("Only the prescriber can manage their designees.")
    today = clock.today()
    if data.designee_id is not None:
        designee = session.get(Designee, data.designee_id)
        if designee is None:
            raise ValidationError(designee_id="No designee with this id.")
        created = False
    else:
        account = data.account()
        if account is None:
            raise ValidationError({name: MISSING for name in
                                   ("email", "password", "first_name", "last_name")
                                   if getattr(data, name) is None})
        errors = Errors()
        check_new_account(session, errors, account)
        errors.raise_if_any()
        user = new_user(session, email=account.email, password=account.password,
                        role=Role.DESIGNEE, first_name=account.first_name,
                        last_name=account.last_name)
        designee = Designee(user_id=user.id)
        session.add(designee)
        session.flush()
        created = True
        record(session, actor, "designee:create", "designee", designee.id,
               after={**snapshot(designee), "email": account.email})
    link = _lock_link(session, designee.id, prescriber.id)
    if link is not None and link.unlinked_on is None:
        if not created:
            raise ValidationError(designee_id="This designee is already linked to you.")
    elif link is not None:
        before = snapshot(link)
        link.linked_on, link.unlinked_on = today, None
        session.flush()
        record(session, actor, "designee:link", "designee_link", link.id,
               before=before, after=snapshot(link))
    else:
        link = DesigneeLink(designee_id=designee.id, prescriber_id=prescriber.id, linked_on=today)
        session.add(link)
        session.flush()
        record(session, actor, "designee:link", "designee_link", link.id, after=snapshot(link))
    return designee


def _lock_link(session: Session, designee_id: int, prescriber_id: int) -> DesigneeLink | None:
    """The link row, locked and re-read: a second unlink (or relink) at once waits, then sees
    what the first did (PostgreSQL; SQLite runs writers one at a time)."""
    return session.execute(
        select(DesigneeLink).where(DesigneeLink.designee_id == designee_id,
                                   DesigneeLink.prescriber_id == prescriber_id)
        .with_for_update().execution_options(populate_existing=True)
    ).scalar()


def unlink_designee(session: Session, actor: User, prescriber: Prescriber,
                    designee: Designee) -> DesigneeLink:
    own = prescriber_for_user(session, actor)
    if own is None or own.id != prescriber.id:
        raise PermissionDenied("Only the prescriber can manage their designees.")
    link = _lock_link(session, designee.id, prescriber.id)
    if link is None or link.unlinked_on is not None:
        raise NotFound("This designee is not linked to you.")
    before = snapshot(link)
    link.unlinked_on = clock.today()
    session.flush()
    record(session, actor, "designee:unlink", "designee_link", link.id,
           before=before, after=snapshot(link))
    return link


def attest_designee(session: Session, actor: User, designee: Designee) -> Designee:
    own = designee_for_user(session, actor)
    if own is None or own.id != designee.id:
        raise PermissionDenied("Only the designee can attest for themselves.")
    if designee.deactivated_on is not None:
        raise PermissionDenied("This designee was deactivated by program staff.")
    before = snapshot(designee, "attested_on")
    designee.attested_on = clock.today()
    session.flush()
    record(session, actor, "designee:attest", "designee", designee.id,
           before=before, after=snapshot(designee, "attested_on"))
    return designee
