"""Read-only reports for program staff (rules §9) and the audit log query (rules §10)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import (
    Date,
    Integer,
    and_,
    cast,
    func,
    literal_column,
    null,
    select,
    true,
    union_all,
)
from sqlalchemy.orm import Session

from registry import clock
from registry.audit.models import AuditEntry
from registry.authorizations.models import (
    AuthorizationDecision,
    DenialReason,
    Dispense,
    Reversal,
)
from registry.compliance.models import ComplianceAction
from registry.params import current as current_params
from registry.patients.models import Patient
from registry.pharmacies.models import Pharmacist, Pharmacy
from registry.pregnancies.models import PregnancyReport
from registry.prescribers.models import Designee, Prescriber
from registry.rules import (
    StakeholderFacts,
    designee_standing,
    pharmacist_standing,
    pharmacy_standing,
    prescriber_standing,
)

DEFAULT_PERIOD_DAYS = 30


def default_period_start(period_to: date) -> date:
    """Where a summary starts when no start is given: the 30 days ending on ``period_to``."""
    return period_to - timedelta(days=DEFAULT_PERIOD_DAYS - 1)


def _start(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=clock.program_timezone()).astimezone(UTC)


@dataclass(frozen=True)
class Summary:
    period_from: date
    period_to: date
    enrolled: dict[str, int]
    active: dict[str, int]
    authorizations_issued: int
    authorizations_denied: int
    denials_by_reason: dict[str, int]
    dispenses: int
    reversals: int
    pregnancies_reported: int
    compliance_actions: dict[str, int]

    def as_dict(self) -> dict[str, Any]:
        return {
            "from": self.period_from.isoformat(),
            "to": self.period_to.isoformat(),
            "enrolled": self.enrolled,
            "active": self.active,
            "authorizations": {
                "issued": self.authorizations_issued,
                "denied": self.authorizations_denied,
                "denied_by_reason": self.denials_by_reason,
            },
            "dispenses": self.dispenses,
            "reversals": self.reversals,
            "pregnancies_reported": self.pregnancies_reported,
            "compliance_actions": self.compliance_actions,
        }


def _active_stakeholders(session: Session, as_of: date) -> tuple[dict[str, int], dict[str, int]]:
    """Enrolled and active prescribers, designees, pharmacies and pharmacists as of ``as_of``.

    The database counts the rows of each kind grouped by the dates their standing depends
    on (a few hundred groups, however many rows); the rules decide each group's standing,
    so "active" means here exactly what it means at the counter.
    """
    params = current_params()
    tables = (
        ("prescribers", Prescriber.attested_on, Prescriber.suspended_until,
         Prescriber.deactivated_on, None),
        ("designees", Designee.attested_on, Designee.suspended_until, Designee.deactivated_on,
         None),
        ("pharmacies", Pharmacy.activated_on, Pharmacy.suspended_until,
         Pharmacy.deactivated_on, None),
        ("pharmacists", Pharmacist.training_completed_on, Pharmacist.suspended_until,
         Pharmacist.deactivated_on, Pharmacist.removed_on),
    )
    parts = []
    for tag, (_, *dates) in enumerate(tables):
        columns = [d if d is not None else cast(null(), Date) for d in dates]
        grouped = [d for d in dates if d is not None]
        parts.append(select(literal_column(str(tag), Integer).label("tag"),
                            *(c.label(f"d{i}") for i, c in enumerate(columns)),
                            func.count().label("n")).group_by(*grouped))
    standing = (prescriber_standing, designee_standing, pharmacy_standing, pharmacist_standing)
    enrolled = {name: 0 for name, *_ in tables}
    active = dict(enrolled)
    for tag, since, suspended, deactivated, removed, n in session.execute(union_all(*parts)):
        name = tables[tag][0]
        enrolled[name] += n
        facts = StakeholderFacts(since, suspended, deactivated, removed)
        if standing[tag](facts, as_of, params).active:
            active[name] += n
    return enrolled, active


def summary(session: Session, period_from: date, period_to: date) -> Summary:
    """Counts for a REMS assessment. Enrolled and active are as of ``period_to``.

    Counted in the database (grouped counts; the denials' reasons from ``denial_reasons``,
    which the database fills as it stores each denial): four statements whatever the size
    of the registry.
    """
    start, end = _start(period_from), _start(period_to + timedelta(days=1))
    as_of = min(period_to, clock.today())
    enrolled, active = _active_stakeholders(session, as_of)

    decided = (AuthorizationDecision.requested_at >= start,
               AuthorizationDecision.requested_at < end)

    def count(model: Any, *where: Any) -> Any:
        return select(func.count()).select_from(model).where(*where).scalar_subquery()

    def tally(*conditions: Any, where: Any = None) -> Any:
        """Counts of several conditions in one pass over a table."""
        return select(*(func.count().filter(c) for c in conditions)).where(
            *([] if where is None else [where])).subquery()

    patients = tally(Patient.status == "active", Patient.registered_on <= period_to)
    decisions = tally(AuthorizationDecision.eligible.is_(True),
                      AuthorizationDecision.eligible.is_(False), where=and_(*decided))
    patient_counts = list(patients.c)
    decision_counts = list(decisions.c)
    counts = session.execute(select(
        patient_counts[0].label("active_patients"),
        patient_counts[1].label("enrolled_patients"),
        decision_counts[0].label("issued"),
        decision_counts[1].label("denied"),
        count(Dispense, Dispense.dispensed_on >= period_from, Dispense.dispensed_on <= period_to)
        .label("dispenses"),
        count(Reversal, Reversal.reversed_at >= start, Reversal.reversed_at < end)
        .label("reversals"),
        count(PregnancyReport, PregnancyReport.reported_on >= period_from,
              PregnancyReport.reported_on <= period_to).label("pregnancies"),
    ).select_from(patients).join(decisions, true())).one()
    active["patients"] = counts.active_patients
    enrolled["patients"] = counts.enrolled_patients

    # Each reason of each denial of the period: the rows the database filled when it stored
    # the denied decisions (a range of the (requested_at, code) index).
    denials = session.execute(
        select(DenialReason.code, func.count().label("n"))
        .where(DenialReason.requested_at >= start, DenialReason.requested_at < end)
        .group_by(DenialReason.code).order_by(func.count().desc(), DenialReason.code)
    ).all()
    actions = session.execute(
        select(ComplianceAction.action, func.count(ComplianceAction.id))
        .where(ComplianceAction.recorded_on >= period_from,
               ComplianceAction.recorded_on <= period_to)
        .group_by(ComplianceAction.action)
    ).all()
    return Summary(
        period_from=period_from,
        period_to=period_to,
        enrolled=enrolled,
        active=active,
        authorizations_issued=counts.issued,
        authorizations_denied=counts.denied,
        denials_by_reason={c: int(n) for c, n in denials},
        dispenses=counts.dispenses,
        reversals=counts.reversals,
        pregnancies_reported=counts.pregnancies,
        compliance_actions={a: int(n) for a, n in actions},
    )


def audit_entries(session: Session, *, subject: str | None = None, action: str | None = None,
                  user_id: int | None = None, since: datetime | None = None,
                  before_id: int | None = None, limit: int = 50) -> list[AuditEntry]:
    """Newest first. ``subject`` is ``type`` or ``type:id``; page with ``before_id``."""
    stmt = select(AuditEntry).order_by(AuditEntry.id.desc()).limit(min(max(limit, 1), 500))
    if subject:
        kind, _, ident = subject.partition(":")
        stmt = stmt.where(AuditEntry.subject_type == kind)
        if ident:
            stmt = stmt.where(AuditEntry.subject_id == ident)
    if action:
        stmt = stmt.where(AuditEntry.action == action)
    if user_id is not None:
        stmt = stmt.where(AuditEntry.user_id == user_id)
    if since is not None:
        stmt = stmt.where(AuditEntry.occurred_at >= since)
    if before_id is not None:
        stmt = stmt.where(AuditEntry.id < before_id)
    return list(session.execute(stmt).scalars())
