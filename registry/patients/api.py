"""The patients' endpoints: registration, activation, the record and its status, and what the
prescriber of record (or staff) changes on it (rules §2, §7); GET /me."""

from __future__ import annotations

from registry import db
from registry.accounts.models import Role, User
from registry.api.contract import endpoint
from registry.contract import parse
from registry.patients.models import PatientStatus, RiskCategory
from registry.patients.operations import (
    activate_patient,
    change_risk_category,
    deactivate_patient,
    end_treatment,
    register_patient,
    reissue_activation_code,
    start_new_course,
    transfer_patient,
    update_patient,
)
from registry.patients.queries import (
    open_authorization,
    own_standing,
    status,
    visible_patient,
    visible_status,
)
from registry.patients.schemas import (
    Activated,
    ActivationCodeOut,
    CourseOut,
    Deactivation,
    EventOut,
    MeOut,
    NewCourse,
    NewRiskCategory,
    NextStepOut,
    PatientActivation,
    PatientChanges,
    PatientOut,
    PatientRegistration,
    Registered,
    StatusOut,
    Transfer,
    TransferRequest,
    TreatmentEnding,
)
from registry.permissions import patient_for_user
from registry.policy import Permission as P
from registry.web.timeline import timeline

TAG = "Patients"


@endpoint("POST", "/patients", permission=P.PATIENTS_REGISTER, body=PatientRegistration,
          response=Registered, status=201, tag=TAG, summary="Register a patient",
          description="A designee names the prescriber (`prescriber_id`). The activation "
          "code is shown only in this answer.")
def create_patient(user: User, body: PatientRegistration) -> Registered:
    patient, code, expires = register_patient(db.session(), user, body)
    return Registered(registry_id=patient.registry_id, status=PatientStatus(patient.status),
                      activation_code=code, activation_expires_on=expires)


@endpoint("POST", "/patients/activation", permission=P.PATIENTS_ACTIVATE,
          body=PatientActivation, response=Activated, tag=TAG,
          summary="Activate the patient's own account", rate_limit="API_RATELIMIT_LOOKUPS")
def activate_patient_account(user: User | None, body: PatientActivation) -> Activated:
    patient = activate_patient(db.session(), body)
    return Activated(registry_id=patient.registry_id, status=PatientStatus(patient.status))


@endpoint("GET", "/patients/{registry_id}", permission=P.PATIENTS_READ, response=PatientOut,
          tag=TAG, summary="A patient's record", errors=(404,),
          rate_limit="API_RATELIMIT_LOOKUPS")
def get_patient(user: User, registry_id: str) -> PatientOut:
    return PatientOut.of(visible_patient(db.session(), user, registry_id))


@endpoint("GET", "/patients/{registry_id}/status", permission=P.PATIENTS_READ,
          response=StatusOut, tag=TAG, summary="Where the patient stands today",
          errors=(404,), rate_limit="API_RATELIMIT_LOOKUPS")
def get_status(user: User, registry_id: str) -> StatusOut:
    return StatusOut.of(visible_status(db.session(), user, registry_id))


@endpoint("PATCH", "/patients/{registry_id}", permission=P.PATIENTS_UPDATE,
          body=PatientChanges, response=PatientOut, tag=TAG, errors=(404,),
          summary="Correct the contraception start date or email; allow home tests")
def update_patient_record(user: User, registry_id: str, body: PatientChanges) -> PatientOut:
    session = db.session()
    patient = visible_patient(session, user, registry_id)
    return PatientOut.of(update_patient(session, user, patient, body))


@endpoint("POST", "/patients/{registry_id}/risk-category",
          permission=P.PATIENTS_RISK_CATEGORY_CHANGE, body=NewRiskCategory,
          response=PatientOut, tag=TAG, errors=(404,), summary="Change the risk category")
def set_risk_category(user: User, registry_id: str, body: NewRiskCategory) -> PatientOut:
    session = db.session()
    patient = visible_patient(session, user, registry_id)
    return PatientOut.of(change_risk_category(session, user, patient, body))


@endpoint("POST", "/patients/{registry_id}/treatment-end", permission=P.PATIENTS_TREATMENT_END,
          body=TreatmentEnding, response=PatientOut, tag=TAG, errors=(404,),
          summary="Record the end of treatment (rules §7)")
def set_treatment_end(user: User, registry_id: str, body: TreatmentEnding) -> PatientOut:
    session = db.session()
    patient = visible_patient(session, user, registry_id)
    return PatientOut.of(end_treatment(session, user, patient, body))


@endpoint("POST", "/patients/{registry_id}/activation-codes",
          permission=P.PATIENTS_ACTIVATION_CODES_ISSUE, response=ActivationCodeOut,
          status=201, tag=TAG, errors=(404,), summary="Issue a new activation code",
          description="Earlier codes stop working.")
def create_activation_code(user: User, registry_id: str) -> ActivationCodeOut:
    session = db.session()
    patient = visible_patient(session, user, registry_id)
    code, expires = reissue_activation_code(session, user, patient)
    return ActivationCodeOut(activation_code=code, activation_expires_on=expires)


@endpoint("POST", "/patients/{registry_id}/courses", permission=P.PATIENTS_COURSE_START,
          body=NewCourse, response=CourseOut, status=201, tag=TAG, errors=(404,),
          summary="Start a new course after treatment ended (rules §7)")
def create_course(user: User, registry_id: str, body: NewCourse) -> CourseOut:
    session = db.session()
    patient = start_new_course(session, user, visible_patient(session, user, registry_id), body)
    return CourseOut(registry_id=patient.registry_id, course_number=patient.course_number,
                     status=PatientStatus(patient.status))


@endpoint("POST", "/patients/{registry_id}/transfers", permission=P.PATIENTS_TRANSFER,
          body=TransferRequest, response=PatientOut, tag=TAG, errors=(404,),
          summary="Transfer to another prescriber of record",
          description="A prescriber takes the patient on with `date_of_birth`; program staff "
          "name the new prescriber with `prescriber_npi`.")
def create_transfer(user: User, registry_id: str, body: TransferRequest) -> PatientOut:
    data = parse(Transfer, {**body.model_dump(), "registry_id": registry_id})
    return PatientOut.of(transfer_patient(db.session(), user, data))


@endpoint("POST", "/patients/{registry_id}/deactivation", permission=P.PATIENTS_DEACTIVATE,
          body=Deactivation, response=PatientOut, tag=TAG, errors=(404,),
          summary="Take a patient out of the program",
          description="Open authorizations are cancelled.")
def create_deactivation(user: User, registry_id: str, body: Deactivation) -> PatientOut:
    session = db.session()
    patient = visible_patient(session, user, registry_id)
    return PatientOut.of(deactivate_patient(session, user, patient, body))


@endpoint("GET", "/me", permission=P.ME_READ, response=MeOut, tag="Me",
          summary="The caller's own record")
def get_me(user: User) -> MeOut:
    session = db.session()
    mine = MeOut(user_id=user.id, role=Role(user.role), email=user.email,
                 first_name=user.first_name, last_name=user.last_name,
                 status=own_standing(session, user))
    patient = patient_for_user(session, user) if user.role == Role.PATIENT else None
    if patient is None:
        return mine
    decision = status(session, patient)
    auth = open_authorization(session, patient)
    return mine.model_copy(update={
        "status": patient.status, "registry_id": patient.registry_id,
        "risk_category": RiskCategory(patient.risk_category),
        "next_steps": [NextStepOut.of(s) for s in decision.next_steps],
        "timeline": [EventOut(on=e.on, label=e.label, state=e.state)
                     for e in timeline(decision)],
        "rma": auth.rma if auth else None,
        "do_not_dispense_after": auth.do_not_dispense_after if auth else None})
