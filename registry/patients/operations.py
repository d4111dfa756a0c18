"""Patients: registration, activation, risk category, treatment end, transfer (rules §2, §7)."""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from registry import clock, locks, policy
from registry.accounts.models import Role, User
from registry.accounts.operations import email_taken, new_user
from registry.audit.operations import record, snapshot
from registry.authorizations.models import Authorization, AuthorizationStatus
from registry.contract import MISSING
from registry.errors import Errors, NotFound, ValidationError
from registry.notifications import alerts
from registry.params import current as current_params
from registry.params import setting
from registry.patients.models import (
    ActivationCode,
    Patient,
    PatientStatus,
    RiskCategory,
    RiskCategoryChange,
)
from registry.patients.queries import (
    by_registry_id,
    by_registry_id_and_dob,
    email_in_use,
    same_name_and_birth,
)
from registry.patients.schemas import (
    Deactivation,
    NewCourse,
    NewRiskCategory,
    PatientActivation,
    PatientChanges,
    PatientRegistration,
    Transfer,
    TreatmentEnding,
)
from registry.permissions import (
    acting_prescriber,
    can_view_patient,
    patient_for_care,
)
from registry.policy import Permission
from registry.prescribers.queries import by_npi
from registry.rules import RULESET_2026, fmt, registration_errors, ruleset_for
from registry.rules.identifiers import new_activation_code, new_registry_id
from registry.security import hash_secret, password_problems, verify_dummy, verify_secret


def _issue_activation_code(session: Session, patient: Patient) -> tuple[str, date]:
    """Invalidate earlier codes and issue a new one; returns the code (shown once) and expiry."""
    now = clock.now()
    session.execute(
        update(ActivationCode)
        .where(ActivationCode.patient_id == patient.id, ActivationCode.used_at.is_(None))
        .values(used_at=now)
    )
    code = new_activation_code()
    expires = clock.today() + timedelta(days=current_params().activation_code_days)
    session.add(ActivationCode(patient_id=patient.id, code_hash=hash_secret(code),
                               expires_on=expires))
    session.flush()
    return code, expires


def register_patient(session: Session, actor: User,
                     data: PatientRegistration) -> tuple[Patient, str, date]:
    """Register a patient for a prescriber; returns the patient, activation code and expiry.

    Prescribers register their own patients; designees name the prescriber (``prescriber_id``).
    ``different_person``: False when the caller wants to hear about a patient already
    registered with the same name and date of birth (the error, on ``different_person``, gives
    that patient's registry ID only if the actor may see them); True once the user confirmed it
    is someone else; None (API v1, whose contract has no such field) skips the check.
    """
    policy.require(actor.role, Permission.PATIENTS_REGISTER)
    if actor.role == Role.DESIGNEE and data.prescriber_id is None:
        raise ValidationError(prescriber_id=MISSING)
    prescriber = acting_prescriber(session, actor, data.prescriber_id
                                   if actor.role == Role.DESIGNEE else None)
    today = clock.today()
    params = current_params()
    errors = Errors()
    risk = data.risk_category
    for field, messages in registration_errors(
        date_of_birth=data.date_of_birth, today=today, risk_category=risk,
        consent_signed_on=data.consent_signed_on, guardian_name=data.guardian_name,
        guardian_signed_on=data.guardian_signed_on,
        contraception_start_on=data.contraception_start_date, params=params,
    ).items():
        for message in messages:
            errors.add(field, message)
    birth_defects = data.birth_defects_consent_signed_on
    if birth_defects and birth_defects > today:
        errors.add("birth_defects_consent_signed_on", "Cannot be in the future.")
    locks.lock_email(session, data.email)  # until commit: no one else takes it meanwhile
    if email_in_use(session, data.email):
        # Caught now: at activation the patient could not change it and would be stuck.
        errors.add("email", "This email address is already in use in the registry. Use another "
                   "address for the patient (each patient signs in with their own).")
    if data.different_person is False:
        _refuse_a_second_registration(session, actor, data, errors)
    errors.raise_if_any()
    can = risk == RiskCategory.CAN_GET_PREGNANT
    registry_id = new_registry_id()
    while session.execute(select(Patient.id).where(Patient.registry_id == registry_id)).first():
        registry_id = new_registry_id()  # pragma: no cover - 1 in 10^9
    patient = Patient(
        registry_id=registry_id, prescriber_id=prescriber.id, first_name=data.first_name,
        last_name=data.last_name, date_of_birth=data.date_of_birth, email=data.email,
        risk_category=risk.value, status=PatientStatus.PENDING_ACTIVATION.value,
        registered_on=today, consent_signed_on=data.consent_signed_on,
        consent_version=str(setting("CONSENT_FORM_VERSION")),
        birth_defects_consent_signed_on=(birth_defects or data.consent_signed_on)
        if can else None,
        guardian_name=data.guardian_name, guardian_signed_on=data.guardian_signed_on,
        contraception_start_on=data.contraception_start_date if can else None,
        home_tests_allowed=data.home_tests_allowed, course_number=1, course_started_on=today,
    )
    session.add(patient)
    session.flush()
    session.add(RiskCategoryChange(
        patient_id=patient.id, from_category=None, to_category=risk.value,
        reason="Category at registration", changed_on=today, changed_by_id=actor.id,
    ))
    code, expires = _issue_activation_code(session, patient)
    record(session, actor, "patient:register", "patient", patient.id, after=snapshot(patient))
    return patient, code, expires


def _refuse_a_second_registration(session: Session, actor: User, data: PatientRegistration,
                                  errors: Errors) -> None:
    twins = same_name_and_birth(session, data.first_name, data.last_name, data.date_of_birth)
    if not twins:
        return
    seen = [t.registry_id for t in twins if can_view_patient(session, actor, t)]
    where = f" (registry ID {', '.join(seen)})" if seen else " by another prescriber"
    errors.add("different_person", f"A patient named {data.first_name} {data.last_name}, born "
               f"{fmt(data.date_of_birth)}, is already registered{where}. If this is the same "
               "person, do not register them again"
               + (": open their record." if seen else ": their prescriber of record "
                  "can transfer them to you (Take on a patient).")
               + " If it is a different person, tick the box below and register again.")


def reissue_activation_code(session: Session, actor: User, patient: Patient) -> tuple[str, date]:
    """A new code for a patient not yet activated; earlier codes stop working."""
    # Two at once must leave one working code, and none once the patient activated.
    locks.lock_patient(session, patient)
    patient_for_care(session, actor, patient)
    policy.require(actor.role, Permission.PATIENTS_ACTIVATION_CODES_ISSUE)
    if patient.status != PatientStatus.PENDING_ACTIVATION:
        raise ValidationError(registry_id="This patient has already activated their account.")
    code, expires = _issue_activation_code(session, patient)
    record(session, actor, "patient:reissue_activation_code", "patient", patient.id,
           after={"activation_expires_on": expires.isoformat()})
    return code, expires


def activate_patient(session: Session, data: PatientActivation) -> Patient:
    """The patient activates their own account with ID, date of birth and the one-time code."""
    problems = password_problems(data.password)
    if problems:
        raise ValidationError({"password": problems})
    rid, dob, code, pw = data.registry_id, data.date_of_birth, data.activation_code, data.password
    patient = by_registry_id_and_dob(session, rid, dob)
    # One answer for every mismatch, so the form cannot be used to probe the registry.
    mismatch = ValidationError(
        activation_code="The registry ID, date of birth and activation code do not match an "
        "account waiting for activation. Check them, or ask your prescriber for a new code."
    )
    normalized = code.strip().upper().replace("-", "").replace(" ", "")
    # The same argon2 work whether or not the registry ID and date of birth match (a patient
    # has at most one unused code): the answer's timing must not tell them apart either.
    if patient is None or patient.status != PatientStatus.PENDING_ACTIVATION:
        verify_dummy(normalized)
        raise mismatch
    today = clock.today()
    codes = session.execute(
        select(ActivationCode).where(
            ActivationCode.patient_id == patient.id, ActivationCode.used_at.is_(None)
        )
    ).scalars().all()
    if not codes:
        verify_dummy(normalized)
    matches = [c for c in codes if verify_secret(c.code_hash, normalized)]
    if not matches:
        raise mismatch
    match = matches[0]
    if match.expires_on < today:
        raise ValidationError(activation_code="This activation code has expired. Ask your "
                              "prescriber for a new one.")
    if email_taken(session, patient.email):
        raise ValidationError(email="An account already uses this patient's email address; "
                              "program staff can help.")
    before = snapshot(patient, "status", "activated_on", "user_id")
    user = new_user(session, email=patient.email, password=pw, role=Role.PATIENT,
                    first_name=patient.first_name, last_name=patient.last_name,
                    patient_id=patient.id)
    match.used_at = clock.now()
    patient.user_id = user.id
    patient.status = PatientStatus.ACTIVE
    patient.activated_on = today
    session.flush()
    record(session, user, "patient:activate", "patient", patient.id, before=before,
           after=snapshot(patient, "status", "activated_on", "user_id"))
    return patient


def cancel_open_authorizations(session: Session, actor: User | None, patient: Patient,
                               why: str) -> int:
    # Locked and re-read: a dispense or reversal that committed meanwhile is not overwritten.
    open_auths = session.execute(
        select(Authorization).where(
            Authorization.patient_id == patient.id,
            Authorization.status == AuthorizationStatus.AUTHORIZED,
        ).order_by(Authorization.id).with_for_update(of=Authorization).execution_options(**locks.FRESH)
    ).scalars().all()
    for auth in open_auths:
        auth.status = AuthorizationStatus.CANCELLED
        auth.closed_at = clock.now()
        session.flush()
        record(session, actor, "authorization:cancel", "authorization", auth.rma,
               before={"status": "authorized"}, after={"status": "cancelled", "why": why})
        alerts.rma_cancelled(session, actor, auth, why)
    return len(open_auths)


def change_risk_category(session: Session, actor: User, patient: Patient,
                         data: NewRiskCategory) -> Patient:
    """Only the prescriber of record changes the category, with a reason (rules §2). A patient
    who now can get pregnant needs the date their contraception started (rules §4)."""
    locks.lock_patient(session, patient)  # then read its facts (registry/locks.py)
    patient_for_care(session, actor, patient, prescriber_only=True)
    policy.require(actor.role, Permission.PATIENTS_RISK_CATEGORY_CHANGE)
    locks.lock_open_authorizations(session, patient_id=patient.id)  # cancelled after the audit
    errors = Errors()
    risk = data.risk_category
    can = risk == RiskCategory.CAN_GET_PREGNANT
    start = data.contraception_start_date
    if risk == patient.risk_category:
        errors.add("risk_category", "The patient is already in this category.")
    elif can and start is None:
        errors.add("contraception_start_date", "Required when the new category is "
                   "can_get_pregnant: the confirmation test counts from this date.")
    elif can and start is not None:
        if start < patient.date_of_birth:
            errors.add("contraception_start_date", "Is before the date of birth.")
        if start > clock.today():
            errors.add("contraception_start_date", "Cannot be in the future.")
    errors.raise_if_any()
    before = snapshot(patient, "risk_category", "contraception_start_on")
    session.add(RiskCategoryChange(
        patient_id=patient.id, from_category=patient.risk_category, to_category=risk.value,
        reason=data.reason, changed_on=clock.today(), changed_by_id=actor.id,
    ))
    patient.risk_category = risk
    patient.contraception_start_on = start if can else None
    if can and patient.birth_defects_consent_signed_on is None:
        patient.birth_defects_consent_signed_on = patient.consent_signed_on
    session.flush()
    record(session, actor, "patient:change_risk_category", "patient", patient.id,
           before=before, after={**snapshot(patient, "risk_category", "contraception_start_on"),
                                 "reason": data.reason})
    # An RMA issued under the other category's checks must not be dispensed.
    cancel_open_authorizations(session, actor, patient, "risk category changed")
    return patient


def update_patient(session: Session, actor: User, patient: Patient,
                   data: PatientChanges) -> Patient:
    """Correct the contraception start date or (before activation) the email; allow or
    withdraw home tests (the prescriber, attesting to a procedure under the 2026 rules)."""
    locks.lock_patient(session, patient)  # then read its facts (registry/locks.py)
    patient_for_care(session, actor, patient)
    policy.require(actor.role, Permission.PATIENTS_UPDATE)
    fields = ("home_tests_allowed", "contraception_start_on", "email")
    errors = Errors()
    if data.home_tests_allowed is not None:
        policy.require(actor.role, Permission.PATIENTS_HOME_TESTS_ALLOW)
        under_2026 = ruleset_for(clock.today(), current_params()) == RULESET_2026
        if data.home_tests_allowed and under_2026 and not data.home_test_procedure_attested:
            errors.add("home_test_procedure_attested", "Allowing home tests needs your "
                       "attestation that you have a procedure to prevent a falsified home "
                       "result (rules §4).")
    start = data.contraception_start_date
    if start is not None:
        if not patient.can_get_pregnant:
            errors.add("contraception_start_date", "Only for a patient who can get pregnant.")
        elif start < patient.date_of_birth:
            errors.add("contraception_start_date", "Is before the date of birth.")
        elif start > clock.today():
            errors.add("contraception_start_date", "Cannot be in the future.")
    mail = data.email
    if mail is not None and mail != patient.email.lower():
        if patient.status != PatientStatus.PENDING_ACTIVATION:
            errors.add("email", "The patient has activated their account: it is their "
                       "sign-in address, which only they (or program staff) can change.")
        elif email_in_use(session, mail):
            errors.add("email", "This email address is already in use in the registry.")
    errors.raise_if_any()
    before = snapshot(patient, *fields)
    if data.home_tests_allowed is not None:
        patient.home_tests_allowed = data.home_tests_allowed
    if start is not None:
        patient.contraception_start_on = start
    if mail is not None:
        patient.email = mail
    session.flush()
    after = snapshot(patient, *fields)
    if data.home_tests_allowed and data.home_test_procedure_attested:
        after["home_test_procedure_attested"] = True
    record(session, actor, "patient:update", "patient", patient.id, before=before, after=after)
    return patient


def end_treatment(session: Session, actor: User, patient: Patient,
                  data: TreatmentEnding) -> Patient:
    """Record the last dose; a patient who can get pregnant then owes two more tests (§7)."""
    locks.lock_patient(session, patient)  # then read its facts (registry/locks.py)
    patient_for_care(session, actor, patient, prescriber_only=True)
    policy.require(actor.role, Permission.PATIENTS_TREATMENT_END)
    errors = Errors()
    last = data.last_dose_on
    if last > clock.today():
        errors.add("last_dose_on", "The last dose date cannot be in the future.")
    if last < patient.course_started_on:
        errors.add("last_dose_on", "Is before this course of treatment started.")
    if patient.status not in (PatientStatus.ACTIVE, PatientStatus.PENDING_ACTIVATION):
        errors.add("last_dose_on", f"Treatment cannot end: the patient is {patient.status}.")
    errors.raise_if_any()
    before = snapshot(patient, "status", "last_dose_on")
    patient.last_dose_on = last
    if patient.can_get_pregnant:
        patient.status = PatientStatus.TREATMENT_ENDED
    else:
        patient.status = PatientStatus.TREATMENT_COMPLETE
        patient.treatment_completed_on = clock.today()
    session.flush()
    cancel_open_authorizations(session, actor, patient, "treatment ended")
    record(session, actor, "patient:end_treatment", "patient", patient.id, before=before,
           after=snapshot(patient, "status", "last_dose_on"))
    return patient


def start_new_course(session: Session, actor: User, patient: Patient,
                     data: NewCourse) -> Patient:
    """A new course after treatment: a new enrollment cycle, with new screening and
    confirmation tests for a patient who can get pregnant (rules §7)."""
    locks.lock_patient(session, patient)  # then read its facts (registry/locks.py)
    patient_for_care(session, actor, patient, prescriber_only=True)
    policy.require(actor.role, Permission.PATIENTS_COURSE_START)
    errors = Errors()
    if patient.status not in (PatientStatus.TREATMENT_ENDED, PatientStatus.TREATMENT_COMPLETE):
        errors.add("status", "A new course can start only after treatment has ended.")
    start = data.contraception_start_date
    if patient.can_get_pregnant and start is None:
        errors.add("contraception_start_date", MISSING)
    errors.raise_if_any()
    before = snapshot(patient, "status", "course_number", "last_dose_on")
    patient.course_number += 1
    patient.course_started_on = clock.today()
    patient.last_dose_on = None
    patient.treatment_completed_on = None
    patient.contraception_start_on = start if patient.can_get_pregnant else None
    patient.status = (PatientStatus.ACTIVE if patient.user_id else
                      PatientStatus.PENDING_ACTIVATION)
    session.flush()
    record(session, actor, "patient:start_course", "patient", patient.id, before=before,
           after=snapshot(patient, "status", "course_number", "last_dose_on"))
    return patient


def transfer_patient(session: Session, actor: User, data: Transfer) -> Patient:
    """Move a patient to another prescriber of record.

    Program staff name the new prescriber by NPI; a prescriber takes the patient on
    themselves and must know the registry ID and date of birth (rules §2).
    """
    policy.require(actor.role, Permission.PATIENTS_TRANSFER)
    reassign = policy.holds(actor.role, Permission.PATIENTS_REASSIGN)
    if reassign:
        if data.prescriber_npi is None:
            raise ValidationError(prescriber_npi=MISSING)
        target = by_npi(session, data.prescriber_npi)
        if target is None:
            raise ValidationError(prescriber_npi="No enrolled prescriber has this NPI.")
        patient = by_registry_id(session, data.registry_id)
    else:
        policy.require(actor.role, Permission.PATIENTS_TAKE_ON)
        if data.date_of_birth is None:
            raise ValidationError(date_of_birth=MISSING)
        target = acting_prescriber(session, actor)
        patient = by_registry_id_and_dob(session, data.registry_id, data.date_of_birth)
    if patient is None:
        raise NotFound("No such patient." if reassign else
                       "No patient matches that registry ID and date of birth.")
    patient = locks.lock_patient(session, patient)
    if patient.prescriber_id == target.id:
        field = "prescriber_npi" if reassign else "registry_id"
        raise ValidationError({field: "This is already the prescriber of record."})
    before = snapshot(patient, "prescriber_id")
    patient.prescriber = target  # the relationship too, not only the id: no stale prescriber
    session.flush()
    cancel_open_authorizations(session, actor, patient, "patient transferred")
    record(session, actor, "patient:transfer", "patient", patient.id, before=before,
           after={**snapshot(patient, "prescriber_id"), "reason": data.reason})
    return patient


def deactivate_patient(session: Session, actor: User, patient: Patient,
                       data: Deactivation) -> Patient:
    """The prescriber of record or program staff take a patient out of the program (rules
    §2); open RMAs are cancelled."""
    locks.lock_patient(session, patient)  # then read its facts (registry/locks.py)
    if actor.role != Role.STAFF:  # staff deactivate any patient; others the ones they care for
        patient_for_care(session, actor, patient, prescriber_only=True)
    policy.require(actor.role, Permission.PATIENTS_DEACTIVATE)
    locks.lock_open_authorizations(session, patient_id=patient.id)  # cancelled after the audit
    if patient.status == PatientStatus.DEACTIVATED:
        raise ValidationError(reason="This patient is already deactivated.")
    before = snapshot(patient, "status", "deactivated_on")
    patient.status = PatientStatus.DEACTIVATED
    patient.deactivated_on = clock.today()
    session.flush()
    cancel_open_authorizations(session, actor, patient, "patient deactivated")
    record(session, actor, "patient:deactivate", "patient", patient.id, before=before,
           after={**snapshot(patient, "status", "deactivated_on"), "reason": data.reason})
    return patient
