"""Who and what an audit entry is about, in the words staff use: names, NPIs, registry IDs.

The audit log stores internal ids (a user id, a subject id); staff read "Dr Ana Rivera
(NPI 1234567893)", not "prescriber 2". Lookups are cached per export, so a long log costs
one query per distinct person or record, not one per entry.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from registry.accounts.models import Role, User
from registry.authorizations.models import Authorization, AuthorizationDecision
from registry.cycles.models import Cycle
from registry.patients.models import Patient
from registry.pharmacies.models import Pharmacist, Pharmacy
from registry.pregnancies.models import PregnancyReport
from registry.prescribers.models import Designee, DesigneeLink, Prescriber
from registry.staff.queries import stakeholder_label


def _named(obj: Any) -> str | None:
    """The same words as the staff pages (registry.staff.queries.stakeholder_label)."""
    return stakeholder_label(obj) if obj is not None else None


_patient = _prescriber = _pharmacy = _pharmacist = _designee = _named


class Labels:
    """Readable names for the users and records of audit entries."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self._users: dict[int, str] = {}
        self._records: dict[tuple[str, str], str] = {}

    def user(self, user_id: int | None, role: str) -> str:
        """The person who acted: name and the identifier that goes with their role."""
        if user_id is None:
            return "the system" if role == "system" else role
        if user_id not in self._users:
            self._users[user_id] = self._user(user_id) or f"unknown {role} (user deleted)"
        return self._users[user_id]

    def _user(self, user_id: int) -> str | None:
        user = self.session.get(User, user_id)
        if user is None:
            return None
        if user.role == Role.PRESCRIBER:
            prescriber = self.session.execute(
                select(Prescriber).where(Prescriber.user_id == user_id)).scalar_one_or_none()
            if prescriber:
                return _prescriber(prescriber)
        if user.role == Role.PATIENT:
            patient = self.session.execute(
                select(Patient).where(Patient.user_id == user_id)).scalar_one_or_none()
            if patient:
                return _patient(patient)
        if user.role == Role.PHARMACIST:
            pharmacist = self.session.execute(
                select(Pharmacist).where(Pharmacist.user_id == user_id)).scalar_one_or_none()
            if pharmacist:
                return _pharmacist(pharmacist)
        if user.role == Role.DESIGNEE:
            designee = self.session.execute(
                select(Designee).where(Designee.user_id == user_id)).scalar_one_or_none()
            if designee:
                return _designee(designee)
        return f"{user.full_name} ({user.role}, {user.email})"

    def record(self, subject_type: str, subject_id: str | None) -> str:
        """The record an entry is about, by its name or number (never an internal id)."""
        if subject_id is None:
            return subject_type.replace("_", " ")
        key = (subject_type, subject_id)
        if key not in self._records:
            label = self._record(subject_type, subject_id)
            self._records[key] = label or f"{subject_type.replace('_', ' ')} (not found)"
        return self._records[key]

    def _record(self, kind: str, ident: str) -> str | None:
        if kind == "authorization":  # recorded by its RMA number
            rma = self.session.execute(
                select(Authorization).where(Authorization.rma == ident)).scalar_one_or_none()
            return f"RMA {rma.rma} for {_patient(rma.patient)}" if rma else None
        if not ident.isdigit():
            return None
        get: Any = self.session.get
        pk = int(ident)
        if kind == "patient":
            return _patient(get(Patient, pk))
        if kind == "prescriber":
            return _prescriber(get(Prescriber, pk))
        if kind == "pharmacy":
            return _pharmacy(get(Pharmacy, pk))
        if kind == "pharmacist":
            return _pharmacist(get(Pharmacist, pk))
        if kind == "designee":
            return _designee(get(Designee, pk))
        if kind == "designee_link":
            link = get(DesigneeLink, pk)
            if link is None:
                return None
            return (f"link of {_designee(get(Designee, link.designee_id))} to "
                    f"{_prescriber(get(Prescriber, link.prescriber_id))}")
        if kind == "authorization_decision":
            decision = get(AuthorizationDecision, pk)
            if decision is None:
                return None
            who = _patient(get(Patient, decision.patient_id)) if decision.patient_id else None
            outcome = "authorization" if decision.eligible else "denial"
            return f"{outcome} of {decision.requested_on.isoformat()}" + (
                f" for {who}" if who else " (patient not identified)")
        if kind == "cycle":
            cycle = get(Cycle, pk)
            return (f"cycle {cycle.number} of {_patient(get(Patient, cycle.patient_id))}"
                    if cycle else None)
        if kind == "pregnancy_report":
            report = get(PregnancyReport, pk)
            return (f"pregnancy report of {report.reported_on.isoformat()} for "
                    f"{_patient(get(Patient, report.patient_id))}" if report else None)
        if kind == "user":
            user = get(User, pk)
            return self.user(pk, user.role) if user else None
        if kind in ("user_session", "api_token"):
            return kind.replace("_", " ")  # an id of a secret-bearing row says nothing useful
        return None
