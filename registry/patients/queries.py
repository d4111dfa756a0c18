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
from registry.patients.facts import load_facts
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
