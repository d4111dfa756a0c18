"""Prescribers and designees: enrollment, yearly attestation, links (rules §2)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from registry import clock
from registry.accounts.models import Role, User
from registry.accounts.operations import new_user, validate_new_user
from registry.audit.operations import record, snapshot
from registry.errors import Errors, NotFound, PermissionDenied, ValidationError
from registry.permissions import designee_for_user, prescriber_for_user
from registry.prescribers.models import Designee, DesigneeLink, Prescriber
from registry.rules.identifiers import npi_is_valid
from registry.validation import int_value, text_value

US_STATES = frozenset({
    "AL", "AK", "AZ", "AR", "CA", "CO", "CT", "DE", "DC", "FL", "GA", "HI", "ID", "IL", "IN",
    "IA", "KS", "KY", "LA", "ME", "MD", "MA", "MI", "MN", "MS", "MO", "MT", "NE", "NV", "NH",
    "NJ", "NM", "NY", "NC", "ND", "OH", "OK", "OR", "PA", "PR", "RI", "SC", "SD", "TN", "TX",
    "UT", "VT", "VA", "VI", "WA", "WV", "WI", "WY", "GU", "AS", "MP",
})


def enroll_prescriber(
    session: Session, *, email: object, password: object, first_name: object,
    last_name: object, npi: object, license_state: object = None,
) -> Prescriber:
    """Anyone may enroll as a prescriber; they become active when they attest."""
    errors = Errors()
    mail, pw, first, last = validate_new_user(
        session, errors, email=email, password=password, first_name=first_name,
        last_name=last_name,
    )
    npi_text = text_value(errors, "npi", npi if not isinstance(npi, int) else str(npi),
                          max_length=20)
    if npi_text is not None:
        if not npi_is_valid(npi_text):
            errors.add("npi", "Not a valid NPI: 10 digits with a correct check digit.")
        elif session.execute(select(Prescriber.id).where(Prescriber.npi == npi_text)).first():
            errors.add("npi", "A prescriber with this NPI is already enrolled.")
    state = text_value(errors, "license_state", license_state, required=False, max_length=2)
    if state is not None:
        state = state.upper()
        if state not in US_STATES:
            errors.add("license_state", "Must be a two-letter US state code.")
    errors.raise_if_any()
    assert mail and pw and first and last and npi_text
    user = new_user(session, email=mail, password=pw, role=Role.PRESCRIBER,
                    first_name=first, last_name=last)
    prescriber = Prescriber(user_id=user.id, npi=npi_text, license_state=state)
    session.add(prescriber)
    session.flush()
    record(session, user, "prescriber:enroll", "prescriber", prescriber.id,
           after={**snapshot(prescriber), "email": mail})
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


def link_designee(
    session: Session, actor: User, prescriber: Prescriber, *, designee_id: object = None,
    email: object = None, password: object = None, first_name: object = None,
    last_name: object = None,
) -> Designee:
    """Create a designee account and link it, or link an existing designee by id."""
    own = prescriber_for_user(session, actor)
    if own is None or own.id != prescriber.id:
        raise PermissionDenied("Only the prescriber can manage their designees.")
    errors = Errors()
    today = clock.today()
    if designee_id is not None:
        did = int_value(errors, "designee_id", designee_id, minimum=1)
        errors.raise_if_any()
        designee = session.get(Designee, did)
        if designee is None:
            raise ValidationError(designee_id="No designee with this id.")
        created = False
    else:
        mail, pw, first, last = validate_new_user(
            session, errors, email=email, password=password, first_name=first_name,
            last_name=last_name,
        )
        errors.raise_if_any()
        assert mail and pw and first and last
        user = new_user(session, email=mail, password=pw, role=Role.DESIGNEE,
                        first_name=first, last_name=last)
        designee = Designee(user_id=user.id)
        session.add(designee)
        session.flush()
        created = True
        record(session, actor, "designee:create", "designee", designee.id,
               after={**snapshot(designee), "email": mail})
    link = session.execute(
        select(DesigneeLink).where(
            DesigneeLink.designee_id == designee.id, DesigneeLink.prescriber_id == prescriber.id
        )
    ).scalar()
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


def unlink_designee(session: Session, actor: User, prescriber: Prescriber,
                    designee: Designee) -> DesigneeLink:
    own = prescriber_for_user(session, actor)
    if own is None or own.id != prescriber.id:
        raise PermissionDenied("Only the prescriber can manage their designees.")
    link = session.execute(
        select(DesigneeLink).where(
            DesigneeLink.designee_id == designee.id,
            DesigneeLink.prescriber_id == prescriber.id,
            DesigneeLink.unlinked_on.is_(None),
        )
    ).scalar()
    if link is None:
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
