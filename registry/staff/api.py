"""Program staff's oversight through the API: the summary report (rules §9) and the audit
log (rules §10)."""

from __future__ import annotations

from registry import clock, db
from registry.accounts.models import User
from registry.api.contract import endpoint
from registry.errors import ValidationError
from registry.policy import Permission as P
from registry.reports import audit_entries, default_period_start, summary
from registry.staff.schemas import (
    AuditEntryOut,
    AuditPage,
    AuditQuery,
    AuthorizationCounts,
    SummaryOut,
    SummaryQuery,
)


@endpoint("GET", "/reports/summary", permission=P.REPORTS_READ, query=SummaryQuery,
          response=SummaryOut, tag="Oversight", summary="Summary counts for a period (rules §9)")
def get_summary(user: User, query: SummaryQuery) -> SummaryOut:
    to = query.period_to or clock.today()
    start = query.period_from or default_period_start(to)
    if start > to:
        raise ValidationError({"from": "Must be on or before `to`."})
    if (to - start).days > 3660:
        raise ValidationError({"from": "The period can be at most ten years."})
    s = summary(db.session(), start, to)
    return SummaryOut(
        period_from=s.period_from, period_to=s.period_to, enrolled=s.enrolled, active=s.active,
        authorizations=AuthorizationCounts(issued=s.authorizations_issued,
                                           denied=s.authorizations_denied,
                                           denied_by_reason=s.denials_by_reason),
        dispenses=s.dispenses, reversals=s.reversals,
        pregnancies_reported=s.pregnancies_reported, compliance_actions=s.compliance_actions)


@endpoint("GET", "/audit", permission=P.AUDIT_READ, query=AuditQuery, response=AuditPage,
          tag="Oversight", summary="Audit entries, newest first")
def get_audit(user: User, query: AuditQuery) -> AuditPage:
    entries = audit_entries(db.session(), subject=query.subject, since=query.since,
                            before_id=query.before_id, limit=query.limit)
    next_before = entries[-1].id if len(entries) == query.limit else None
    return AuditPage(entries=[AuditEntryOut.of(e) for e in entries], next_before_id=next_before)
