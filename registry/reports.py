"""Read-only reports for program staff (rules §9) and the audit log query (rules §10)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from registry import clock
from registry.audit.models import AuditEntry
from registry.authorizations.models import AuthorizationDecision, Dispense, Reversal
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


def summary(session: Session, period_from: date, period_to: date) -> Summary:
    """Counts for a REMS assessment. Enrolled and active are as of ``period_to``."""
    start, end = _start(period_from), _start(period_to + timedelta(days=1))
    params = current_params()
    as_of = min(period_to, clock.today())

    def count(stmt: Any) -> int:
        return int(session.execute(stmt).scalar_one())

    prescribers = session.execute(select(Prescriber)).scalars().all()
    designees = session.execute(select(Designee)).scalars().all()
    pharmacies = session.execute(select(Pharmacy)).scalars().all()
    pharmacists = session.execute(select(Pharmacist)).scalars().all()
    active = {
        "prescribers": sum(prescriber_standing(
            StakeholderFacts(p.attested_on, p.suspended_until, p.deactivated_on), as_of, params
        ).active for p in prescribers),
        "designees": sum(designee_standing(
            StakeholderFacts(d.attested_on, d.suspended_until, d.deactivated_on), as_of, params
        ).active for d in designees),
        "pharmacies": sum(pharmacy_standing(
            StakeholderFacts(p.activated_on, p.suspended_until, p.deactivated_on), as_of, params
        ).active for p in pharmacies),
        "pharmacists": sum(pharmacist_standing(
            StakeholderFacts(p.training_completed_on, p.suspended_until, p.deactivated_on,
                             p.removed_on), as_of, params
        ).active for p in pharmacists),
        "patients": count(select(func.count(Patient.id)).where(Patient.status == "active")),
    }
    enrolled = {
        "prescribers": len(prescribers),
        "designees": len(designees),
        "pharmacies": len(pharmacies),
        "pharmacists": len(pharmacists),
        "patients": count(select(func.count(Patient.id)).where(Patient.registered_on <= period_to)),
    }
    decisions = session.execute(
        select(AuthorizationDecision.eligible, AuthorizationDecision.reasons).where(
            AuthorizationDecision.requested_at >= start, AuthorizationDecision.requested_at < end
        )
    ).all()
    reasons: Counter[str] = Counter()
    for eligible, items in decisions:
        if not eligible:
            reasons.update(r["code"] for r in items)
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
        authorizations_issued=sum(1 for e, _ in decisions if e),
        authorizations_denied=sum(1 for e, _ in decisions if not e),
        denials_by_reason=dict(reasons.most_common()),
        dispenses=count(select(func.count(Dispense.id)).where(
            Dispense.dispensed_on >= period_from, Dispense.dispensed_on <= period_to)),
        reversals=count(select(func.count(Reversal.id)).where(
            Reversal.reversed_at >= start, Reversal.reversed_at < end)),
        pregnancies_reported=count(select(func.count(PregnancyReport.id)).where(
            PregnancyReport.reported_on >= period_from,
            PregnancyReport.reported_on <= period_to)),
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
