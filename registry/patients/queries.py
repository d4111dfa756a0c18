"""Read-only lookups of patients and their current decision."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from registry import clock
from registry.accounts.models import User
from registry.params import current as current_params
from registry.patients.facts import load_facts
from registry.patients.models import Patient
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


def status(session: Session, patient: Patient, today: date | None = None) -> Decision:
    """Where the patient stands today: reasons, window, lockout and next steps."""
    return evaluate(load_facts(session, patient), today or clock.today(), current_params())


def visible_patient(session: Session, actor: User, registry_id: str) -> Patient:
    """The patient if ``actor`` may see them; NotFound otherwise (whether or not they exist)."""
    from registry.errors import NotFound
    from registry.permissions import can_view_patient

    patient = by_registry_id(session, registry_id)
    if patient is None or not can_view_patient(session, actor, patient):
        raise NotFound("No such patient.")
    return patient
