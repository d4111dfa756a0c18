"""The NCPDP SCRIPT REMS door's work: who is asking, then the same operations as the API.

Who is asking: the pharmacy system, by its credential (``Authorization: Bearer``), acting
for one pharmacist of its pharmacy, named by our pharmacist ID (the ``id`` the API gives for
a pharmacist, ``GET``/``POST /api/v1/pharmacies/{id}/pharmacists``) in
``Pharmacy/Pharmacist/Identification/REMSHealthcareProviderEnrollmentID`` (pharmacists have no
NPI in the registry). Both the pharmacy and the pharmacist must be active.

``REMSRequest`` is :func:`registry.authorizations.operations.request_authorization`, with the
message ID as its idempotency key (scoped to the system): the operation's own replay, so a
retried message gets the stored decision back, and the answer is built from that stored
decision only, so it is the same bytes.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from registry import clock
from registry.audit.operations import record
from registry.authorizations.operations import Outcome, request_authorization
from registry.authorizations.schemas import AuthorizationRequest
from registry.contract import parse
from registry.errors import Conflict, RegistryError, ValidationError
from registry.interop import ncpdp
from registry.interop.ncpdp import Answer, NcpdpError
from registry.params import current as current_params
from registry.patients.models import Patient
from registry.patients.queries import by_registry_id_and_dob, same_name_and_birth
from registry.pharmacies.models import Pharmacist, PharmacySystem
from registry.pharmacies.systems import authenticate_system
from registry.prescribers.models import Prescriber
from registry.rules import StakeholderFacts, pharmacist_standing, pharmacy_standing
from registry.rules.vocabulary import Actor, ReasonCode

# DeniedReasonCode / ReasonCode as the public peers send them: who has to act.
PATIENT_NOT_FOUND = "EC"  # no REMS case (no patient) matches
BY_ACTOR = {Actor.PATIENT: "EM", Actor.PRESCRIBER: "ES", Actor.PHARMACY: "EO",
            Actor.PROGRAM_STAFF: "EX"}
BY_CODE = {ReasonCode.PATIENT_NOT_FOUND: PATIENT_NOT_FOUND,
           ReasonCode.PHARMACY_NOT_ACTIVE: "EO", ReasonCode.PHARMACIST_NOT_AUTHORIZED: "EO",
           ReasonCode.PRESCRIBER_NOT_ACTIVE: "ES", ReasonCode.PRESCRIBER_MISMATCH: "ES"}

UNAUTHENTICATED = ("Send the pharmacy system's credential: Authorization: Bearer <credential> "
                   "(program staff register the system and issue it).")


def _refused(description: str, status: int = 403, relates_to: str | None = None) -> NcpdpError:
    return NcpdpError(status, description, code=ncpdp.CODE_REJECTED, relates_to=relates_to)


def authenticate(session: Session, credential: str | None) -> PharmacySystem:
    system = authenticate_system(session, credential)
    if system is None:
        raise _refused(UNAUTHENTICATED if not credential else
                       "This credential is unknown, rotated, or its system deactivated.", 401)
    return system


def acting_pharmacist(session: Session, system: PharmacySystem,
                      message: ncpdp.Common) -> Pharmacist:
    """The pharmacist the system acts for: of its pharmacy, both active; else a refusal."""
    mid = message.message_id
    pharmacy = system.pharmacy
    if message.pharmacy_ncpdp_id is not None and message.pharmacy_ncpdp_id != pharmacy.ncpdp_id:
        raise _refused(f"Pharmacy/Identification/NCPDPID {message.pharmacy_ncpdp_id} is not "
                       "the pharmacy this system is registered for.", relates_to=mid)
    element = "Pharmacy/Pharmacist/Identification/REMSHealthcareProviderEnrollmentID"
    if not message.pharmacist_id.isdigit() or len(message.pharmacist_id) > 9:
        raise NcpdpError(400, f"{element} must be the pharmacist's registry ID (digits).",
                         relates_to=mid)
    pharmacist = session.get(Pharmacist, int(message.pharmacist_id))
    if pharmacist is None or pharmacist.pharmacy_id != pharmacy.id:
        raise _refused(f"{element} {message.pharmacist_id} is not a pharmacist of "
                       f"{pharmacy.name}.", relates_to=mid)
    today, params = clock.today(), current_params()
    standing = pharmacy_standing(StakeholderFacts(pharmacy.activated_on,
                                                  pharmacy.suspended_until,
                                                  pharmacy.deactivated_on), today, params)
    if not standing.active:
        raise _refused(f"This pharmacy {standing.detail}.", relates_to=mid)
    mine = pharmacist_standing(StakeholderFacts(
        pharmacist.training_completed_on, pharmacist.suspended_until, pharmacist.deactivated_on,
        pharmacist.removed_on), today, params)
    if not mine.active:
        raise _refused(f"Pharmacist {pharmacist.id} {mine.detail}.", relates_to=mid)
    return pharmacist


def via(system: PharmacySystem, message_id: str) -> dict[str, Any]:
    return {"pharmacy_system_id": system.id, "pharmacy_system": system.name,
            "door": "ncpdp", "message_id": message_id}


def _reply_id() -> str:
    return uuid.uuid4().hex


# --- REMSInitiationRequest -----------------------------------------------------------------


def _dob(message: ncpdp.Common) -> Any:
    dob = ncpdp.day(message.patient.date_of_birth)
    if dob is None:
        raise NcpdpError(400, f"Message/Body/.../{ncpdp.ELEMENTS['date_of_birth']} must be a "
                         "date written YYYY-MM-DD.", relates_to=message.message_id)
    return dob


def identify(session: Session, system: PharmacySystem,
             message: ncpdp.InitiationRequest) -> Answer:
    """The patient's registry ID: by registry ID and birth date, or by name, birth date and
    prescriber when exactly one patient matches (never a guess among several)."""
    pharmacist = acting_pharmacist(session, system, message)
    dob = _dob(message)
    patient: Patient | None = None
    note = ""
    if message.patient.registry_id is not None:
        matched_by, candidates = "registry_id", 0
        patient = by_registry_id_and_dob(session, message.patient.registry_id, dob)
        if patient is None:
            note = ("No patient has this registry ID and date of birth. Check both on the "
                    "patient's card.")
    else:
        matched_by = "name_birth_date_prescriber"
        prescriber = session.execute(
            select(Prescriber).where(Prescriber.npi == message.prescriber_npi)).scalar()
        found = [p for p in same_name_and_birth(session, message.patient.first_name,
                                                message.patient.last_name, dob)
                 if prescriber is not None and p.prescriber_id == prescriber.id]
        candidates = len(found)
        if candidates == 1:
            patient = found[0]
        elif candidates == 0:
            note = ("No patient of this prescriber has this name and date of birth. Send the "
                    "patient's registry ID (Patient/HumanPatient/Identification/REMSPatientID).")
        else:
            note = ("More than one patient of this prescriber has this name and date of "
                    "birth. Send the patient's registry ID "
                    "(Patient/HumanPatient/Identification/REMSPatientID).")
    record(session, pharmacist.user, "patient:identify", "patient",
           patient.id if patient is not None else None,
           after={"via": via(system, message.message_id), "matched_by": matched_by,
                  "found": patient is not None, "candidates": candidates})
    common: dict[str, Any] = {"to": system.pharmacy.ncpdp_id, "message_id": _reply_id(),
                              "relates_to": message.message_id, "sent": clock.now(),
                              "reference_id": message.reference_id}
    if patient is None:
        return ncpdp.initiation_closed(**common, reason_code=PATIENT_NOT_FOUND, note=note)
    return ncpdp.initiation_open(**common, registry_id=patient.registry_id)


# --- REMSRequest ---------------------------------------------------------------------------


def _authorization_request(message: ncpdp.RemsRequest) -> AuthorizationRequest:
    try:
        return parse(AuthorizationRequest, {
            "registry_id": message.patient.registry_id,
            "date_of_birth": message.patient.date_of_birth,
            "prescriber_npi": message.prescriber_npi,
            "days_supply": ncpdp.whole_number(message.days_supply),
            "quantity": ncpdp.whole_number(message.quantity),
            "refills": ncpdp.whole_number(message.refills),
        })
    except ValidationError as exc:
        where = f"Message/Body/{ncpdp.REMS_REQUEST}"
        said = "; ".join(f"{where}/{ncpdp.ELEMENTS.get(field, field)}: {' '.join(msgs)}"
                         for field, msgs in exc.errors.items())
        raise NcpdpError(400, said, relates_to=message.message_id) from None


def _note(reasons: list[dict[str, Any]]) -> str:
    lines = []
    for r in reasons:
        line = f"{r['code']}: {r['message']}"
        if r.get("action"):
            line += f" {r['action']}"
        lines.append(line)
    return "\n".join(lines)


def denied_code(reasons: list[dict[str, Any]]) -> str:
    if not reasons:  # pragma: no cover - a denial always has a reason
        return "EX"
    first = reasons[0]
    code = BY_CODE.get(first["code"])
    if code is not None:
        return code
    actor = first.get("actor")
    return BY_ACTOR.get(Actor(actor), "EX") if actor in set(Actor) else "EX"


def answer_of(system: PharmacySystem, message: ncpdp.RemsRequest, outcome: Outcome) -> Answer:
    """Built from the stored decision only (and the echoed reference ID): a replay of the
    same message gets the same bytes."""
    decision = outcome.decision
    common: dict[str, Any] = {
        "to": system.pharmacy.ncpdp_id, "message_id": f"RR{decision.id:010d}",
        "relates_to": message.message_id, "sent": decision.requested_at,
        "reference_id": message.reference_id,
        "registry_id": str(decision.request["registry_id"]),
    }
    auth = outcome.authorization
    if auth is not None:
        return ncpdp.rems_approved(**common, rma=auth.rma, issued_on=auth.issued_on,
                                   do_not_dispense_after=auth.do_not_dispense_after)
    reasons = outcome.reasons
    return ncpdp.rems_denied(**common, reason_code=denied_code(reasons), note=_note(reasons))


def authorize(session: Session, system: PharmacySystem, message: ncpdp.RemsRequest) -> Answer:
    pharmacist = acting_pharmacist(session, system, message)
    req = _authorization_request(message)
    try:
        outcome = request_authorization(
            session, pharmacist.user, req,
            idempotency_key=f"ncpdp:{system.id}:{message.message_id}",
            via=via(system, message.message_id))
    except Conflict:
        raise _refused("This MessageID was already used with a different request; send a "
                       "new MessageID for a new request.", 409,
                       relates_to=message.message_id) from None
    return answer_of(system, message, outcome)


# --- the door ------------------------------------------------------------------------------


def handle(session: Session, credential: str | None, raw: bytes) -> tuple[Answer, bool]:
    """Answer one message. Returns the answer and whether the work must be rolled back
    (every refusal: nothing of a refused message is kept)."""
    system: PharmacySystem | None = None
    try:
        system = authenticate(session, credential)
        envelope = ncpdp.read_envelope(raw)
        if envelope.kind == ncpdp.INITIATION_REQUEST:
            return identify(session, system, ncpdp.read_initiation(envelope)), False
        return authorize(session, system, ncpdp.read_rems_request(envelope)), False
    except NcpdpError as exc:
        return refusal(exc, system), True
    except RegistryError as exc:  # an operation's refusal: said in its words, a 4xx
        status = exc.status if 400 <= exc.status < 500 else 400
        return refusal(NcpdpError(status, exc.message or type(exc).__name__,
                                  code=ncpdp.CODE_REJECTED), system), True


def refusal(exc: NcpdpError, system: PharmacySystem | None = None) -> Answer:
    to = system.pharmacy.ncpdp_id if system is not None else "UNKNOWN"
    return ncpdp.error(exc, to=to, message_id=_reply_id(), sent=clock.now())
