"""Patients: registration, activation, risk category, treatment end, transfer (rules §2, §7)."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from registry import clock, locks
from registry.accounts.models import Role, User
from registry.accounts.operations import email_taken, new_user
from registry.audit.operations import record, snapshot
from registry.authorizations.models import Authorization, AuthorizationStatus
from registry.errors import Errors, NotFound, PermissionDenied, ValidationError
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
from registry.patients.queries import by_registry_id_and_dob, email_in_use, same_name_and_birth
from registry.permissions import (
    acting_prescriber,
    can_view_patient,
    patient_for_care,
    prescriber_for_user,
    require_active_prescriber,
)
from registry.prescribers.models import Prescriber
from registry.rules import fmt, registration_errors
from registry.rules.identifiers import new_activation_code, new_registry_id
from registry.security import hash_secret, password_problems, verify_dummy, verify_secret
from registry.validation import (
    bool_value,
    choice_value,
    date_value,
    email_value,
    int_value,
    registry_id_value,
    text_value,
)

RISK_CATEGORIES = [c.value for c in RiskCategory]


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


def register_patient(session: Session, actor: User, **data: Any) -> tuple[Patient, str, date]:
    """Register a patient for a prescriber; returns the patient, activation code and expiry.

    Prescribers register their own patients; designees name the prescriber (``prescriber_id``).
    ``different_person``: False when the caller wants to hear about a patient already
    registered with the same name and date of birth (the error, on ``different_person``, gives
    that patient's registry ID only if the actor may see them); True once the user confirmed it
    is someone else; None (API v1, whose contract has no such field) skips the check.
    """
    errors = Errors()
    prescriber_id = None
    if actor.role == Role.DESIGNEE:
        prescriber_id = int_value(errors, "prescriber_id", data.get("prescriber_id"), minimum=1)
        errors.raise_if_any()
    prescriber = acting_prescriber(session, actor, prescriber_id)
    today = clock.today()
    params = current_params()
    first = text_value(errors, "first_name", data.get("first_name"), max_length=100)
    last = text_value(errors, "last_name", data.get("last_name"), max_length=100)
    dob = date_value(errors, "date_of_birth", data.get("date_of_birth"))
    mail = email_value(errors, "email", data.get("email"))
    risk = choice_value(errors, "risk_category", data.get("risk_category"), RISK_CATEGORIES)
    consent = date_value(errors, "consent_signed_on", data.get("consent_signed_on"))
    birth_defects = date_value(errors, "birth_defects_consent_signed_on",
                               data.get("birth_defects_consent_signed_on"), required=False)
    guardian = text_value(errors, "guardian_name", data.get("guardian_name"), required=False)
    guardian_on = date_value(errors, "guardian_signed_on", data.get("guardian_signed_on"),
                             required=False)
    contraception_start = date_value(errors, "contraception_start_date",
                                     data.get("contraception_start_date"), required=False)
    home_tests = bool_value(errors, "home_tests_allowed", data.get("home_tests_allowed"))
    if dob and consent and risk:
        for field, messages in registration_errors(
            date_of_birth=dob, today=today, risk_category=risk, consent_signed_on=consent,
            guardian_name=guardian, guardian_signed_on=guardian_on,
            contraception_start_on=contraception_start, params=params,
        ).items():
            for message in messages:
                errors.add(field, message)
    if birth_defects and birth_defects > today:
        errors.add("birth_defects_consent_signed_on", "Cannot be in the future.")
    if mail:
        locks.lock_email(session, mail)  # until commit: no one else takes it meanwhile
    if mail and email_in_use(session, mail):
        # Caught now: at activation the patient could not change it and would be stuck.
        errors.add("email", "This email address is already in use in the registry. Use another "
                   "address for the patient (each patient signs in with their own).")
    if first and last and dob and data.get("different_person") is not None and not bool_value(
            errors, "different_person", data.get("different_person")):
        twins = same_name_and_birth(session, first, last, dob)
        if twins:
            seen = [t.registry_id for t in twins if can_view_patient(session, actor, t)]
            where = (f" (registry ID {', '.join(seen)})" if seen else
                     " by another prescriber")
            errors.add("different_person", f"A patient named {first} {last}, born "
                       f"{fmt(dob)}, is already registered{where}. If this is the same person, "
                       "do not register them again"
                       + (": open their record." if seen else ": their prescriber of record "
                          "can transfer them to you (Take on a patient).")
                       + " If it is a different person, tick the box below and register again.")
    errors.raise_if_any()
    assert first and last and dob and mail and risk and consent
    can = risk == RiskCategory.CAN_GET_PREGNANT
    registry_id = new_registry_id()
    while session.execute(select(Patient.id).where(Patient.registry_id == registry_id)).first():
        registry_id = new_registry_id()  # pragma: no cover - 1 in 10^9
    patient = Patient(
        registry_id=registry_id, prescriber_id=prescriber.id, first_name=first, last_name=last,
        date_of_birth=dob, email=mail, risk_category=risk,
        status=PatientStatus.PENDING_ACTIVATION.value, registered_on=today,
        consent_signed_on=consent,
        consent_version=str(setting("CONSENT_FORM_VERSION")),
        birth_defects_consent_signed_on=(birth_defects or consent) if can else None,
        guardian_name=guardian, guardian_signed_on=guardian_on,
        contraception_start_on=contraception_start if can else None,
        home_tests_allowed=home_tests, course_number=1, course_started_on=today,
    )
    session.add(patient)
    session.flush()
    session.add(RiskCategoryChange(
        patient_id=patient.id, from_category=None, to_category=risk,
        reason="Category at registration", changed_on=today, changed_by_id=actor.id,
    ))
    code, expires = _issue_activation_code(session, patient)
    record(session, actor, "patient:register", "patient", patient.id, after=snapshot(patient))
    return patient, code, expires


def reissue_activation_code(session: Session, actor: User, patient: Patient) -> tuple[str, date]:
    patient_for_care(session, actor, patient)
    if patient.status != PatientStatus.PENDING_ACTIVATION:
        raise ValidationError(registry_id="This patient has already activated their account.")
    code, expires = _issue_activation_code(session, patient)
    record(session, actor, "patient:reissue_activation_code", "patient", patient.id,
           after={"activation_expires_on": expires.isoformat()})
    return code, expires


def activate_patient(
    session: Session, *, registry_id: object, date_of_birth: object, activation_code: object,
    password: object,
) -> Patient:
    """The patient activates their own account with ID, date of birth and the one-time code."""
    errors = Errors()
    rid = registry_id_value(errors, "registry_id", registry_id)
    dob = date_value(errors, "date_of_birth", date_of_birth)
    code = text_value(errors, "activation_code", activation_code, max_length=40)
    pw = password if isinstance(password, str) else None
    if not pw:
        errors.add("password", "This field is required.")
    else:
        for problem in password_problems(pw):
            errors.add("password", problem)
    errors.raise_if_any()
    assert rid and dob and code and pw
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


def change_risk_category(session: Session, actor: User, patient: Patient, *,
                         risk_category: object, reason: object) -> Patient:
    """Only the prescriber of record changes the category, with a reason (rules §2)."""
    locks.lock_patient(session, patient)  # then read its facts (registry/locks.py)
    patient_for_care(session, actor, patient, prescriber_only=True)
    locks.lock_open_authorizations(session, patient_id=patient.id)  # cancelled after the audit
    errors = Errors()
    risk = choice_value(errors, "risk_category", risk_category, RISK_CATEGORIES)
    why = text_value(errors, "reason", reason, max_length=1000)
    if risk and risk == patient.risk_category:
        errors.add("risk_category", "The patient is already in this category.")
    errors.raise_if_any()
    assert risk and why
    before = snapshot(patient, "risk_category")
    session.add(RiskCategoryChange(
        patient_id=patient.id, from_category=patient.risk_category, to_category=risk,
        reason=why, changed_on=clock.today(), changed_by_id=actor.id,
    ))
    patient.risk_category = RiskCategory(risk)
    session.flush()
    record(session, actor, "patient:change_risk_category", "patient", patient.id,
           before=before, after={**snapshot(patient, "risk_category"), "reason": why})
    # An RMA issued under the other category's checks must not be dispensed.
    cancel_open_authorizations(session, actor, patient, "risk category changed")
    return patient


def update_care_settings(session: Session, actor: User, patient: Patient, *,
                         home_tests_allowed: object = None,
                         contraception_start_date: object = None) -> Patient:
    """Allow or withdraw home tests; correct the contraception start date. Prescriber only."""
    locks.lock_patient(session, patient)  # then read its facts (registry/locks.py)
    patient_for_care(session, actor, patient, prescriber_only=True)
    errors = Errors()
    before = snapshot(patient, "home_tests_allowed", "contraception_start_on")
    if home_tests_allowed is not None:
        patient.home_tests_allowed = bool_value(errors, "home_tests_allowed", home_tests_allowed)
    if contraception_start_date is not None:
        start = date_value(errors, "contraception_start_date", contraception_start_date)
        if start and start < patient.date_of_birth:
            errors.add("contraception_start_date", "Is before the date of birth.")
        patient.contraception_start_on = start
    errors.raise_if_any()
    session.flush()
    record(session, actor, "patient:update_care", "patient", patient.id, before=before,
           after=snapshot(patient, "home_tests_allowed", "contraception_start_on"))
    return patient


def end_treatment(session: Session, actor: User, patient: Patient, *,
                  last_dose_on: object) -> Patient:
    """Record the last dose; a patient who can get pregnant then owes two more tests (§7)."""
    locks.lock_patient(session, patient)  # then read its facts (registry/locks.py)
    patient_for_care(session, actor, patient, prescriber_only=True)
    errors = Errors()
    last = date_value(errors, "last_dose_on", last_dose_on)
    if last and last > clock.today():
        errors.add("last_dose_on", "The last dose date cannot be in the future.")
    if last and last < patient.course_started_on:
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


def start_new_course(session: Session, actor: User, patient: Patient, *,
                     contraception_start_date: object = None) -> Patient:
    """A new course after treatment: a new enrollment cycle, with new screening and
    confirmation tests for a patient who can get pregnant (rules §7)."""
    locks.lock_patient(session, patient)  # then read its facts (registry/locks.py)
    patient_for_care(session, actor, patient, prescriber_only=True)
    errors = Errors()
    if patient.status not in (PatientStatus.TREATMENT_ENDED, PatientStatus.TREATMENT_COMPLETE):
        errors.add("status", "A new course can start only after treatment has ended.")
    start = date_value(errors, "contraception_start_date", contraception_start_date,
                       required=patient.can_get_pregnant)
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


def transfer_patient(session: Session, actor: User, *, registry_id: object,
                     date_of_birth: object, to_prescriber_id: object = None,
                     reason: object = None) -> Patient:
    """Move a patient to another prescriber of record.

    Program staff name the new prescriber; a prescriber takes the patient on themselves and
    must know the registry ID and date of birth (rules §2).
    """
    errors = Errors()
    rid = registry_id_value(errors, "registry_id", registry_id)
    dob = date_value(errors, "date_of_birth", date_of_birth)
    why = text_value(errors, "reason", reason, required=False, max_length=1000)
    if actor.role == Role.STAFF:
        target_id = int_value(errors, "to_prescriber_id", to_prescriber_id, minimum=1)
        errors.raise_if_any()
        target = session.get(Prescriber, target_id)
        if target is None:
            raise ValidationError(to_prescriber_id="No prescriber with this id.")
    elif actor.role == Role.PRESCRIBER:
        errors.raise_if_any()
        target = prescriber_for_user(session, actor)
        assert target is not None
        require_active_prescriber(target)
    else:
        raise PermissionDenied("Only program staff or the new prescriber can transfer a patient.")
    assert rid and dob
    patient = by_registry_id_and_dob(session, rid, dob)
    if patient is None:
        raise NotFound("No patient matches that registry ID and date of birth.")
    patient = locks.lock_patient(session, patient)
    if patient.prescriber_id == target.id:
        raise ValidationError(to_prescriber_id="This is already the prescriber of record.")
    before = snapshot(patient, "prescriber_id")
    patient.prescriber = target  # the relationship too, not only the id: no stale prescriber
    session.flush()
    cancel_open_authorizations(session, actor, patient, "patient transferred")
    record(session, actor, "patient:transfer", "patient", patient.id, before=before,
           after={**snapshot(patient, "prescriber_id"), "reason": why})
    return patient


def deactivate_patient(session: Session, actor: User, patient: Patient, *,
                       reason: object) -> Patient:
    """Program staff take a patient out of the program (rules §2); open RMAs are cancelled."""
    if actor.role != Role.STAFF:
        raise PermissionDenied("Only program staff can deactivate a patient.")
    locks.lock_patient(session, patient)
    errors = Errors()
    why = text_value(errors, "reason", reason, max_length=2000)
    if patient.status == PatientStatus.DEACTIVATED:
        errors.add("reason", "This patient is already deactivated.")
    errors.raise_if_any()
    before = snapshot(patient, "status", "deactivated_on")
    patient.status = PatientStatus.DEACTIVATED
    patient.deactivated_on = clock.today()
    session.flush()
    cancel_open_authorizations(session, actor, patient, "patient deactivated")
    record(session, actor, "patient:deactivate", "patient", patient.id, before=before,
           after={**snapshot(patient, "status", "deactivated_on"), "reason": why})
    return patient
