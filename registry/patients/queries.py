"""Read-only lookups of patients and their current decision."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from registry import clock
from registry.accounts.models import User
from registry.errors import NotFound
from registry.params import current as current_params
from registry.patients.facts import load_by_registry_id, load_facts
from registry.patients.models import Patient
from registry.permissions import can_view_patient
from registry.rules import Decision, evaluate
from registry.rules.identifiers import normalize_registry_id


def by_registry_id(session: Session, registry_id: str) -> Patient | None:
    rid = normalize_registry_id(registry_id or "")
    return session.execute(select(Patient).where(Patient.registry_id == rid)).scalar()


def by_registry_id_and_dob(session: Session, registry_id: str, dob: date) -> Patient | None:
    """Both must match; callers answer the same way whichever did not (no enumeration)."""
    patient = by_registry_id(session, registry_id)
    if patient is None or patient.date_of_birth != dob:
        return None
    return patient


def same_name_and_birth(session: Session, first_name: str, last_name: str,
                        dob: date) -> list[Patient]:
    """Patients already registered with this name (any case, outer spaces ignored) and date of
    birth: perhaps the same person registered twice."""
    from sqlalchemy import func

    return list(session.execute(
        select(Patient).where(
            func.lower(func.trim(Patient.first_name)) == first_name.strip().lower(),
            func.lower(func.trim(Patient.last_name)) == last_name.strip().lower(),
            Patient.date_of_birth == dob,
        ).order_by(Patient.id)
    ).scalars())


def email_in_use(session: Session, email: str, *, except_patient_id: int | None = None) -> bool:
    """Another patient (activated or not) or any account already has this email address: the
    patient could not activate with it (accounts are found by email)."""
    from registry.accounts.operations import email_taken

    mail = email.strip().lower()
    if email_taken(session, mail):
        return True
    from sqlalchemy import func

    query = select(Patient.id).where(func.lower(Patient.email) == mail)
    if except_patient_id is not None:
        query = query.where(Patient.id != except_patient_id)
    return session.execute(query).first() is not None


def status(session: Session, patient: Patient, today: date | None = None) -> Decision:
    """Where the patient stands today: reasons, window, lockout and next steps."""
    return evaluate(load_facts(session, patient), today or clock.today(), current_params())


def visible_status(session: Session, actor: User, registry_id: str,
                   today: date | None = None) -> Decision:
    """Where the patient stands today, if ``actor`` may see them (NotFound otherwise, whether
    or not they exist): the patient and their facts read in one statement."""
    found = load_by_registry_id(session, normalize_registry_id(registry_id or ""))
    if found is None or not can_view_patient(session, actor, found[0]):
        raise NotFound("No such patient.")
    return evaluate(found[1], today or clock.today(), current_params())


def for_prescriber(session: Session, prescriber_id: int) -> list[Patient]:
    """The prescriber's patients of record, by name."""
    return list(session.execute(
        select(Patient).where(Patient.prescriber_id == prescriber_id)
        .order_by(Patient.last_name, Patient.first_name, Patient.id)
    ).scalars())


def history(session: Session, patient: Patient) -> dict[str, list[object]]:
    """Everything recorded about a patient's treatment, newest first (all courses)."""
    from registry.authorizations.models import Authorization
    from registry.cycles.models import ComprehensionAttempt, ContraceptionEntry, Counseling
    from registry.pregnancies.models import PregnancyReport, PregnancyTest

    def rows(model: type, order: Any) -> list[object]:
        return list(session.execute(
            select(model).where(model.patient_id == patient.id)  # type: ignore[attr-defined]
            .order_by(order)
        ).scalars())

    return {
        "tests": rows(PregnancyTest, PregnancyTest.specimen_collected_on.desc()),
        "counselings": rows(Counseling, Counseling.id.desc()),
        "attempts": rows(ComprehensionAttempt, ComprehensionAttempt.id.desc()),
        "contraception": rows(ContraceptionEntry, ContraceptionEntry.id.desc()),
        "authorizations": rows(Authorization, Authorization.id.desc()),
        "reports": rows(PregnancyReport, PregnancyReport.id.desc()),
    }


def visible_patient(session: Session, actor: User, registry_id: str) -> Patient:
    """The patient if ``actor`` may see them; NotFound otherwise (whether or not they exist)."""
    patient = by_registry_id(session, registry_id)
    if patient is None or not can_view_patient(session, actor, patient):
        raise NotFound("No such patient.")
    return patient


def open_authorization(session: Session, patient: Patient) -> Any:
    """The patient's authorization waiting at the pharmacy (not past its last day), if any."""
    from registry.authorizations.models import Authorization, AuthorizationStatus

    return session.execute(
        select(Authorization).where(
            Authorization.patient_id == patient.id,
            Authorization.status == AuthorizationStatus.AUTHORIZED,
            Authorization.do_not_dispense_after >= clock.today(),
        ).order_by(Authorization.id.desc()).limit(1)
    ).scalar()


def own_standing(session: Session, user: User) -> str:
    """Where a signed-in prescriber, designee or pharmacist stands today (staff: active)."""
    from registry.accounts.models import Role
    from registry.permissions import (
        designee_for_user,
        pharmacist_for_user,
        prescriber_for_user,
        stakeholder_facts,
    )
    from registry.rules import (
        StakeholderFacts,
        designee_standing,
        pharmacist_standing,
        prescriber_standing,
    )

    today, params = clock.today(), current_params()
    if user.role == Role.PRESCRIBER and (dr := prescriber_for_user(session, user)):
        return prescriber_standing(stakeholder_facts(dr), today, params).state
    if user.role == Role.DESIGNEE and (des := designee_for_user(session, user)):
        return designee_standing(stakeholder_facts(des), today, params).state
    if user.role == Role.PHARMACIST and (rph := pharmacist_for_user(session, user)):
        return pharmacist_standing(StakeholderFacts(
            rph.training_completed_on, rph.suspended_until, rph.deactivated_on, rph.removed_on),
            today, params).state
    return "active"
