"""Pharmacies and pharmacists: registration, yearly activation, staff (rules §2)."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from registry import clock, locks
from registry.accounts.models import Role, User
from registry.accounts.operations import check_new_account, new_user
from registry.audit.operations import record, snapshot
from registry.errors import Errors, NotFound, PermissionDenied, ValidationError
from registry.permissions import pharmacist_for_user
from registry.pharmacies.models import Pharmacist, Pharmacy
from registry.pharmacies.schemas import (
    PharmacistAddition,
    PharmacyActivation,
    PharmacyRegistration,
    TrainingRecord,
)


def register_pharmacy(session: Session, data: PharmacyRegistration) -> Pharmacy:
    """Register a pharmacy with its Responsible Site Pharmacist; it starts pending."""
    errors = Errors()
    if session.execute(select(Pharmacy.id).where(Pharmacy.ncpdp_id == data.ncpdp_id)).first():
        errors.add("ncpdp_id", "A pharmacy with this NCPDP ID is already registered.")
    if session.execute(select(Pharmacy.id).where(Pharmacy.npi == data.npi)).first():
        errors.add("npi", "A pharmacy with this NPI is already registered.")
    check_new_account(session, errors, data.rsp, "rsp.")
    errors.raise_if_any()
    pharmacy = Pharmacy(name=data.name, ncpdp_id=data.ncpdp_id, npi=data.npi,
                        address=data.address)
    session.add(pharmacy)
    session.flush()
    rsp = data.rsp
    user = new_user(session, email=rsp.email, password=rsp.password, role=Role.PHARMACIST,
                    first_name=rsp.first_name, last_name=rsp.last_name)
    rsp_row = Pharmacist(user_id=user.id, pharmacy_id=pharmacy.id,
                         license_number=rsp.license_number, is_rsp=True)
    session.add(rsp_row)
    session.flush()
    record(session, user, "pharmacy:register", "pharmacy", pharmacy.id,
           after={**snapshot(pharmacy), "rsp_pharmacist_id": rsp_row.id, "rsp_email": rsp.email})
    return pharmacy


def require_rsp(session: Session, actor: User, pharmacy: Pharmacy) -> Pharmacist:
    me = pharmacist_for_user(session, actor)
    if me is None or me.pharmacy_id != pharmacy.id:
        raise NotFound("No such pharmacy.")
    if not me.is_rsp or me.removed_on is not None:
        raise PermissionDenied("Only the pharmacy's Responsible Site Pharmacist can do this.")
    return me


def activate_pharmacy(session: Session, actor: User, pharmacy: Pharmacy,
                      data: PharmacyActivation) -> Pharmacy:
    """The RSP attests and certifies staff training (``data`` says so); repeated yearly."""
    rsp = require_rsp(session, actor, pharmacy)
    if pharmacy.deactivated_on is not None:
        raise PermissionDenied("This pharmacy was deactivated by program staff.")
    today = clock.today()
    before = snapshot(pharmacy, "activated_on")
    pharmacy.activated_on = today
    rsp.training_completed_on = today
    session.flush()
    record(session, actor, "pharmacy:activate", "pharmacy", pharmacy.id,
           before=before, after=snapshot(pharmacy, "activated_on"))
    return pharmacy


def _check_training_date(errors: Errors, trained: date) -> None:
    if trained > clock.today():
        errors.add("training_completed_on", "The training date cannot be in the future.")


def add_pharmacist(session: Session, actor: User, pharmacy: Pharmacy,
                   data: PharmacistAddition) -> Pharmacist:
    require_rsp(session, actor, pharmacy)
    errors = Errors()
    check_new_account(session, errors, data)
    _check_training_date(errors, data.training_completed_on)
    errors.raise_if_any()
    user = new_user(session, email=data.email, password=data.password, role=Role.PHARMACIST,
                    first_name=data.first_name, last_name=data.last_name)
    pharmacist = Pharmacist(user_id=user.id, pharmacy_id=pharmacy.id,
                            license_number=data.license_number,
                            training_completed_on=data.training_completed_on)
    session.add(pharmacist)
    session.flush()
    record(session, actor, "pharmacist:add", "pharmacist", pharmacist.id,
           after={**snapshot(pharmacist), "email": data.email})
    return pharmacist


def _own_pharmacist(session: Session, actor: User, pharmacist: Pharmacist) -> None:
    pharmacy = session.get(Pharmacy, pharmacist.pharmacy_id)
    assert pharmacy is not None
    require_rsp(session, actor, pharmacy)


def record_training(session: Session, actor: User, pharmacist: Pharmacist,
                    data: TrainingRecord) -> Pharmacist:
    _own_pharmacist(session, actor, pharmacist)
    # An older training date can lapse the pharmacist: serialized like a removal.
    locks.lock_stakeholder(session, Pharmacist, pharmacist.id)
    errors = Errors()
    _check_training_date(errors, data.training_completed_on)
    errors.raise_if_any()
    before = snapshot(pharmacist, "training_completed_on")
    pharmacist.training_completed_on = data.training_completed_on
    session.flush()
    record(session, actor, "pharmacist:train", "pharmacist", pharmacist.id,
           before=before, after=snapshot(pharmacist, "training_completed_on"))
    return pharmacist


def remove_pharmacist(session: Session, actor: User, pharmacist: Pharmacist) -> Pharmacist:
    _own_pharmacist(session, actor, pharmacist)
    # Waits for the authorizations this pharmacist has in flight; later ones see the removal.
    locks.lock_stakeholder(session, Pharmacist, pharmacist.id)
    if pharmacist.user_id == actor.id:
        raise ValidationError(pharmacist_id="The Responsible Site Pharmacist cannot remove "
                              "themselves.")
    if pharmacist.removed_on is not None:
        raise ValidationError(pharmacist_id="This pharmacist was already removed.")
    before = snapshot(pharmacist, "removed_on")
    pharmacist.removed_on = clock.today()
    session.flush()
    record(session, actor, "pharmacist:remove", "pharmacist", pharmacist.id,
           before=before, after=snapshot(pharmacist, "removed_on"))
    return pharmacist
