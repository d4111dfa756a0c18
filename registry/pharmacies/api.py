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
    PharmacySystemCredential,
    PharmacySystemList,
    PharmacySystemOut,
    PharmacySystemRegistration,
    TrainingRecord,
)
from registry.pharmacies.systems import (
    deactivate_system,
    find_system,
    list_systems,
    register_system,
    rotate_credential,
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


# --- pharmacy systems (program staff) -------------------------------------------------------


@endpoint("POST", "/pharmacy-systems", permission=P.PHARMACY_SYSTEMS_MANAGE,
          body=PharmacySystemRegistration, response=PharmacySystemCredential, status=201,
          tag="Pharmacy systems", summary="Register a pharmacy system (NCPDP SCRIPT REMS)",
          description="The answer carries the system's credential, shown this once (only its "
          "hash is kept; a replay with the same `Idempotency-Key` shows it again, stored "
          "encrypted). The system sends it as a bearer token to `POST /ncpdp/script`.")
def create_pharmacy_system(user: User,
                           body: PharmacySystemRegistration) -> PharmacySystemCredential:
    system, credential = register_system(db.session(), user, body)
    return PharmacySystemCredential.issued(system, credential)


@endpoint("GET", "/pharmacy-systems", permission=P.PHARMACY_SYSTEMS_MANAGE,
          response=PharmacySystemList, tag="Pharmacy systems",
          summary="The registered pharmacy systems", description="Never their credentials.")
def get_pharmacy_systems(user: User) -> PharmacySystemList:
    return PharmacySystemList(items=[PharmacySystemOut.of(s)
                                     for s in list_systems(db.session(), user)])


@endpoint("POST", "/pharmacy-systems/{system_id}/credential",
          permission=P.PHARMACY_SYSTEMS_MANAGE, response=PharmacySystemCredential, status=201,
          tag="Pharmacy systems", summary="Rotate the system's credential",
          description="The old credential stops working at once. A deactivated system is a "
          "422.")
def rotate_pharmacy_system_credential(user: User, system_id: int) -> PharmacySystemCredential:
    session = db.session()
    system, credential = rotate_credential(session, user, find_system(session, user, system_id))
    return PharmacySystemCredential.issued(system, credential)


@endpoint("DELETE", "/pharmacy-systems/{system_id}", permission=P.PHARMACY_SYSTEMS_MANAGE,
          status=204, tag="Pharmacy systems", summary="Deactivate a pharmacy system",
          description="Its credential stops working; the record is kept. Deactivating a "
          "deactivated system changes nothing.")
def delete_pharmacy_system(user: User, system_id: int) -> None:
    session = db.session()
    deactivate_system(session, user, find_system(session, user, system_id))
