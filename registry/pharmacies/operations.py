"""Pharmacies and pharmacists: registration, yearly activation, staff (rules §2)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from registry import clock, locks
from registry.accounts.models import Role, User
from registry.accounts.operations import new_user, validate_new_user
from registry.audit.operations import record, snapshot
from registry.errors import Errors, NotFound, PermissionDenied, ValidationError
from registry.permissions import pharmacist_for_user
from registry.pharmacies.models import Pharmacist, Pharmacy
from registry.rules.identifiers import npi_is_valid
from registry.validation import bool_value, date_value, digits_value, text_value


def _validate_pharmacist_fields(
    session: Session, errors: Errors, data: dict[str, Any], prefix: str = ""
) -> tuple[str | None, str | None, str | None, str | None, str | None]:
    mail, pw, first, last = validate_new_user(
        session, errors, email=data.get("email"), password=data.get("password"),
        first_name=data.get("first_name"), last_name=data.get("last_name"), prefix=prefix,
    )
    licence = text_value(errors, prefix + "license_number", data.get("license_number"),
                         max_length=50)
    return mail, pw, first, last, licence


def register_pharmacy(
    session: Session, *, name: object, ncpdp_id: object, npi: object, address: object = None,
    rsp: object = None,
) -> Pharmacy:
    """Register a pharmacy with its Responsible Site Pharmacist; it starts pending."""
    errors = Errors()
    pharmacy_name = text_value(errors, "name", name)
    ncpdp = digits_value(errors, "ncpdp_id", ncpdp_id, 7)
    if ncpdp and session.execute(select(Pharmacy.id).where(Pharmacy.ncpdp_id == ncpdp)).first():
        errors.add("ncpdp_id", "A pharmacy with this NCPDP ID is already registered.")
    npi_text = digits_value(errors, "npi", npi, 10)
    if npi_text:
        if not npi_is_valid(npi_text):
            errors.add("npi", "Not a valid NPI: the check digit is wrong.")
        elif session.execute(select(Pharmacy.id).where(Pharmacy.npi == npi_text)).first():
            errors.add("npi", "A pharmacy with this NPI is already registered.")
    addr = text_value(errors, "address", address, required=False, max_length=500)
    if not isinstance(rsp, dict):
        errors.add("rsp", "The Responsible Site Pharmacist's details are required.")
        rsp = {}
    mail, pw, first, last, licence = _validate_pharmacist_fields(session, errors, rsp, "rsp.")
    errors.raise_if_any()
    assert pharmacy_name and ncpdp and npi_text and mail and pw and first and last and licence
    pharmacy = Pharmacy(name=pharmacy_name, ncpdp_id=ncpdp, npi=npi_text, address=addr)
    session.add(pharmacy)
    session.flush()
    user = new_user(session, email=mail, password=pw, role=Role.PHARMACIST,
                    first_name=first, last_name=last)
    rsp_row = Pharmacist(user_id=user.id, pharmacy_id=pharmacy.id, license_number=licence,
                         is_rsp=True)
    session.add(rsp_row)
    session.flush()
    record(session, user, "pharmacy:register", "pharmacy", pharmacy.id,
           after={**snapshot(pharmacy), "rsp_pharmacist_id": rsp_row.id, "rsp_email": mail})
    return pharmacy


def require_rsp(session: Session, actor: User, pharmacy: Pharmacy) -> Pharmacist:
    me = pharmacist_for_user(session, actor)
    if me is None or me.pharmacy_id != pharmacy.id:
        raise NotFound("No such pharmacy.")
    if not me.is_rsp or me.removed_on is not None:
        raise PermissionDenied("Only the pharmacy's Responsible Site Pharmacist can do this.")
    return me


def activate_pharmacy(session: Session, actor: User, pharmacy: Pharmacy, *,
                      staff_trained: object) -> Pharmacy:
    """The RSP attests and certifies staff training; repeated yearly."""
    rsp = require_rsp(session, actor, pharmacy)
    errors = Errors()
    if not bool_value(errors, "staff_trained", staff_trained):
        errors.add("staff_trained", "The Responsible Site Pharmacist must certify that the "
                   "pharmacy's staff are trained.")
    errors.raise_if_any()
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


def add_pharmacist(session: Session, actor: User, pharmacy: Pharmacy,
                   **data: Any) -> Pharmacist:
    require_rsp(session, actor, pharmacy)
    errors = Errors()
    mail, pw, first, last, licence = _validate_pharmacist_fields(session, errors, data)
    trained = date_value(errors, "training_completed_on", data.get("training_completed_on"))
    if trained and trained > clock.today():
        errors.add("training_completed_on", "The training date cannot be in the future.")
    errors.raise_if_any()
    assert mail and pw and first and last and licence and trained
    user = new_user(session, email=mail, password=pw, role=Role.PHARMACIST,
                    first_name=first, last_name=last)
    pharmacist = Pharmacist(user_id=user.id, pharmacy_id=pharmacy.id, license_number=licence,
                            training_completed_on=trained)
    session.add(pharmacist)
    session.flush()
    record(session, actor, "pharmacist:add", "pharmacist", pharmacist.id,
           after={**snapshot(pharmacist), "email": mail})
    return pharmacist


def _own_pharmacist(session: Session, actor: User, pharmacist: Pharmacist) -> None:
    pharmacy = session.get(Pharmacy, pharmacist.pharmacy_id)
    assert pharmacy is not None
    require_rsp(session, actor, pharmacy)


def record_training(session: Session, actor: User, pharmacist: Pharmacist, *,
                    training_completed_on: object) -> Pharmacist:
    _own_pharmacist(session, actor, pharmacist)
    # An older training date can lapse the pharmacist: serialized like a removal.
    locks.lock_stakeholder(session, Pharmacist, pharmacist.id)
    errors = Errors()
    trained = date_value(errors, "training_completed_on", training_completed_on)
    if trained and trained > clock.today():
        errors.add("training_completed_on", "The training date cannot be in the future.")
    errors.raise_if_any()
    before = snapshot(pharmacist, "training_completed_on")
    pharmacist.training_completed_on = trained
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
