"""Pharmacies and their pharmacists: registration, yearly activation, staff."""

from __future__ import annotations

from sqlalchemy.orm import Session

from registry import db
from registry.accounts.models import User
from registry.accounts.schemas import SignUpAnswer
from registry.accounts.signup import SIGNUP_ANSWER, sign_up
from registry.api.contract import endpoint
from registry.errors import NotFound
from registry.pharmacies.models import Pharmacist, Pharmacy
from registry.pharmacies.operations import (
    activate_pharmacy,
    add_pharmacist,
    record_training,
    register_pharmacy,
    remove_pharmacist,
    require_rsp,
)
from registry.pharmacies.schemas import (
    PharmacistAddition,
    PharmacistOut,
    PharmacyActivation,
    PharmacyOut,
    PharmacyRegistration,
    TrainingRecord,
)
from registry.policy import Permission as P


def _pharmacy(session: Session, pharmacy_id: int) -> Pharmacy:
    pharmacy = session.get(Pharmacy, pharmacy_id)
    if pharmacy is None:
        raise NotFound("No such pharmacy.")
    return pharmacy


def _staff_member(session: Session, user: User, pharmacy_id: int,
                  pharmacist_id: int) -> Pharmacist:
    """A pharmacist of the pharmacy whose RSP ``user`` is (NotFound for anyone else's)."""
    require_rsp(session, user, _pharmacy(session, pharmacy_id))
    pharmacist = session.get(Pharmacist, pharmacist_id)
    if pharmacist is None or pharmacist.pharmacy_id != pharmacy_id:
        raise NotFound("No such pharmacist.")
    return pharmacist


@endpoint("POST", "/pharmacies", permission=P.PHARMACIES_ENROLL, body=PharmacyRegistration,
          response=SignUpAnswer, status=202, tag="Enrollment",
          summary="Register a pharmacy with its Responsible Site Pharmacist",
          description="The same answer whether or not the RSP's address is registered: a new "
          "address gets a link to confirm it; the pharmacy is `pending` until its RSP "
          "activates it. The owner of a known address is told by email instead.")
def create_pharmacy(user: User | None, body: PharmacyRegistration) -> SignUpAnswer:
    session = db.session()
    sign_up(session, lambda: register_pharmacy(session, body), what="register_pharmacy",
            password=body.rsp.password)
    return SIGNUP_ANSWER


@endpoint("POST", "/pharmacies/{pharmacy_id}/activations", permission=P.PHARMACIES_ACTIVATE,
          body=PharmacyActivation, response=PharmacyOut, status=201, tag="Enrollment",
          summary="Activate the pharmacy (yearly), certifying staff training",
          description="Only the pharmacy's Responsible Site Pharmacist.")
def activate(user: User, pharmacy_id: int, body: PharmacyActivation) -> PharmacyOut:
    session = db.session()
    return PharmacyOut.of(activate_pharmacy(session, user, _pharmacy(session, pharmacy_id),
                                            body))


@endpoint("POST", "/pharmacies/{pharmacy_id}/pharmacists", permission=P.PHARMACISTS_MANAGE,
          body=PharmacistAddition, response=PharmacistOut, status=201, tag="Enrollment",
          summary="Add a pharmacist", description="Only the pharmacy's Responsible Site "
          "Pharmacist.")
def create_pharmacist(user: User, pharmacy_id: int, body: PharmacistAddition) -> PharmacistOut:
    session = db.session()
    return PharmacistOut.of(add_pharmacist(session, user, _pharmacy(session, pharmacy_id),
                                           body))


@endpoint("PATCH", "/pharmacies/{pharmacy_id}/pharmacists/{pharmacist_id}",
          permission=P.PHARMACISTS_MANAGE, body=TrainingRecord, response=PharmacistOut,
          tag="Enrollment", summary="Record the day a pharmacist completed training",
          description="Only the pharmacy's Responsible Site Pharmacist. An older date can "
          "lapse the pharmacist (rules §2).")
def update_pharmacist(user: User, pharmacy_id: int, pharmacist_id: int,
                      body: TrainingRecord) -> PharmacistOut:
    session = db.session()
    pharmacist = _staff_member(session, user, pharmacy_id, pharmacist_id)
    return PharmacistOut.of(record_training(session, user, pharmacist, body))


@endpoint("DELETE", "/pharmacies/{pharmacy_id}/pharmacists/{pharmacist_id}",
          permission=P.PHARMACISTS_MANAGE, status=204, tag="Enrollment",
          summary="Remove a pharmacist from the pharmacy (rules §2)",
          description="Only the pharmacy's Responsible Site Pharmacist, who cannot remove "
          "themselves. Everything the pharmacist recorded is kept.")
def delete_pharmacist(user: User, pharmacy_id: int, pharmacist_id: int) -> None:
    session = db.session()
    remove_pharmacist(session, user, _staff_member(session, user, pharmacy_id, pharmacist_id))
