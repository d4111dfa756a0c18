"""Patients: registration, activation, record, status, tests, counseling, the patient's own
steps, risk category, end of treatment and pregnancy reports."""

from __future__ import annotations

from typing import Any

from registry import db
from registry.api import serializers
from registry.api.blueprint import bp, current_user, json_body, limit
from registry.api.idempotency import idempotent
from registry.cycles.operations import (
    attest_contraception,
    comprehension_questions,
    confirm_counseling,
    take_comprehension,
)
from registry.patients.operations import (
    activate_patient,
    change_risk_category,
    end_treatment,
    register_patient,
)
from registry.patients.queries import status as patient_status
from registry.patients.queries import visible_patient
from registry.pregnancies.operations import record_pregnancy_test

REGISTRATION_FIELDS = (
    "prescriber_id", "first_name", "last_name", "date_of_birth", "email", "risk_category",
    "consent_signed_on", "birth_defects_consent_signed_on", "guardian_name",
    "guardian_signed_on", "contraception_start_date", "home_tests_allowed",
)


@bp.post("/patients")
@idempotent
def create_patient() -> Any:
    user = current_user()
    body = json_body()
    patient, code, expires = register_patient(
        db.session(), user, **{k: body.get(k) for k in REGISTRATION_FIELDS})
    return serializers.registered(patient, code, expires), 201


@bp.post("/patients/activation")
@limit("API_RATELIMIT_LOOKUPS")
def activate_patient_account() -> Any:
    body = json_body()
    patient = activate_patient(
        db.session(), registry_id=body.get("registry_id"),
        date_of_birth=body.get("date_of_birth"), activation_code=body.get("activation_code"),
        password=body.get("password"))
    return serializers.activated(patient), 200


@bp.get("/patients/<registry_id>")
@limit("API_RATELIMIT_LOOKUPS")
def get_patient(registry_id: str) -> Any:
    user = current_user()
    return serializers.patient(visible_patient(db.session(), user, registry_id))


@bp.get("/patients/<registry_id>/status")
@limit("API_RATELIMIT_LOOKUPS")
def get_status(registry_id: str) -> Any:
    user = current_user()
    session = db.session()
    patient = visible_patient(session, user, registry_id)
    return serializers.status(patient_status(session, patient))


@bp.post("/patients/<registry_id>/pregnancy-tests")
@idempotent
def create_pregnancy_test(registry_id: str) -> Any:
    user = current_user()
    body = json_body()
    session = db.session()
    patient = visible_patient(session, user, registry_id)
    test, cycle = record_pregnancy_test(
        session, user, patient, specimen_collected_on=body.get("specimen_collected_on"),
        result=body.get("result"), setting=body.get("setting"))
    return serializers.pregnancy_test(test, cycle), 201


@bp.post("/patients/<registry_id>/counseling")
@idempotent
def create_counseling(registry_id: str) -> Any:
    user = current_user()
    body = json_body()
    session = db.session()
    patient = visible_patient(session, user, registry_id)
    counseling, cycle = confirm_counseling(
        session, user, patient, counseled_on=body.get("counseled_on"),
        contraception=body.get("contraception"))
    return serializers.counseling(counseling, cycle), 201


@bp.get("/me/comprehension")
def get_comprehension() -> Any:
    user = current_user()
    cycle, questions = comprehension_questions(db.session(), user)
    return serializers.comprehension_questions(cycle, questions)


@bp.post("/me/comprehension")
@idempotent
def answer_comprehension() -> Any:
    user = current_user()
    body = json_body()
    attempt = take_comprehension(db.session(), user, answers=body.get("answers"))
    return serializers.comprehension_result(attempt), 200


@bp.post("/me/contraception")
@idempotent
def enter_contraception() -> Any:
    user = current_user()
    body = json_body()
    data = {k: body[k] for k in ("methods", "abstinence") if k in body}
    entry = attest_contraception(db.session(), user, contraception=data)
    return serializers.contraception(entry), 201


@bp.post("/patients/<registry_id>/risk-category")
@idempotent
def set_risk_category(registry_id: str) -> Any:
    user = current_user()
    body = json_body()
    session = db.session()
    patient = visible_patient(session, user, registry_id)
    change_risk_category(session, user, patient, risk_category=body.get("risk_category"),
                         reason=body.get("reason"))
    return serializers.patient(patient), 200


@bp.post("/patients/<registry_id>/treatment-end")
@idempotent
def set_treatment_end(registry_id: str) -> Any:
    user = current_user()
    body = json_body()
    session = db.session()
    patient = visible_patient(session, user, registry_id)
    end_treatment(session, user, patient, last_dose_on=body.get("last_dose_on"))
    return serializers.patient(patient), 200
