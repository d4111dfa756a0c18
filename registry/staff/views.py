"""Program staff: overview with the rule set in force, search, report with charts, audit log."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, time
from typing import Any

from flask import Blueprint, render_template, request
from flask_wtf import FlaskForm
from sqlalchemy import func, select

from registry import clock, db
from registry.audit.models import AuditEntry
from registry.audit.operations import verify_for_staff
from registry.params import current as current_params
from registry.policy import Permission
from registry.pregnancies.models import PregnancyReport
from registry.reports import audit_entries, default_period_start, summary
from registry.rules.params import next_ruleset_change, ruleset_for
from registry.staff.charts import bar_chart, paired_chart
from registry.staff.exports import AUDIT_HEADER, audit_rows, csv_response, summary_rows
from registry.staff.forms import AuditFilterForm, PeriodForm
from registry.staff.labels import Labels
from registry.staff.queries import audit_subject_filter, user_for
from registry.staff.queries import search as search_stakeholders
from registry.web.support import actor, requires

bp = Blueprint("staff", __name__, url_prefix="/staff")


@bp.get("/")
@requires(Permission.REPORTS_READ)
def dashboard() -> Any:
    today, params = clock.today(), current_params()
    open_cases = db.session().execute(
        select(func.count(PregnancyReport.id)).where(PregnancyReport.lifted_at.is_(None))
    ).scalar_one()
    return render_template(
        "staff/dashboard.html", ruleset=ruleset_for(today, params),
        next_change=next_ruleset_change(today, params), params=params, open_cases=open_cases,
        summary=summary(db.session(), default_period_start(today), today),
    )


@bp.get("/search")
@requires(Permission.STAFF_SEARCH)
def search() -> Any:
    q = (request.args.get("q") or "").strip()
    return render_template("staff/search.html", q=q,
                           hits=search_stakeholders(db.session(), q) if q else [])


KINDS = ["prescribers", "designees", "pharmacies", "pharmacists", "patients"]


def _period() -> tuple[PeriodForm, date, date]:
    """The report's period from the query string: the last 30 days unless given."""
    form = PeriodForm(request.args)
    form.validate()
    end = form.date_to.data or clock.today()
    start = form.date_from.data or default_period_start(end)
    if end < start:
        form.date_to.errors = ["Must be on or after the From date."]
        end = start
    form.date_from.data, form.date_to.data = start, end
    return form, start, end


@bp.get("/report")
@requires(Permission.REPORTS_READ)
def report() -> Any:
    form, start, end = _period()
    result = summary(db.session(), start, end)
    kinds = KINDS
    charts = {
        "stakeholders": paired_chart(
            "Enrolled and active stakeholders",
            [(k, result.enrolled.get(k, 0), result.active.get(k, 0)) for k in kinds]),
        "authorizations": bar_chart("Authorization requests", [
            ("issued", result.authorizations_issued), ("denied", result.authorizations_denied),
            ("dispenses", result.dispenses), ("reversals", result.reversals),
            ("pregnancies reported", result.pregnancies_reported)],
            colors=("#17663a", "#a4262c", "#1f5f8b", "#7a4d00", "#a4262c")),
        "reasons": bar_chart("Denials by reason", list(result.denials_by_reason.items()),
                             colors=("#a4262c",)),
        "compliance": bar_chart("Compliance actions", list(result.compliance_actions.items()),
                                colors=("#7a4d00",)),
    }
    return render_template("staff/report.html", form=form, s=result, charts=charts,
                           kinds=kinds)


@bp.get("/report.csv")
@requires(Permission.STAFF_EXPORT)
def report_csv() -> Any:
    """The summary report of the period on the page, one number per row."""
    _, start, end = _period()
    result = summary(db.session(), start, end)
    return csv_response(f"summary-report-{start.isoformat()}-to-{end.isoformat()}.csv",
                        ("Section", "Item", "Value"), summary_rows(result, KINDS))


def _audit_filters() -> tuple[AuditFilterForm, dict[str, Any]]:
    form = AuditFilterForm(request.args)
    form.validate()
    s = db.session()
    who = (form.who.data or "").strip()
    return form, {
        "subject": audit_subject_filter(s, form.subject.data or "") or None,
        "action": (form.action.data or "").strip() or None,
        "user_id": (user_for(s, who) or -1) if who else None,  # nobody matches: no entries
        "since": (datetime.combine(form.since.data, time.min, tzinfo=clock.program_timezone())
                  if form.since.data else None),
    }


@bp.get("/audit")
@requires(Permission.AUDIT_READ)
def audit() -> Any:
    form, filters = _audit_filters()
    before = request.args.get("before_id", type=int)
    entries = audit_entries(db.session(), **filters, before_id=before, limit=50)
    # Names, NPIs and registry IDs: an internal id means nothing to staff (and "prescriber 2"
    # was one person here and another in the search page).
    return render_template("staff/audit.html", form=form, entries=entries,
                           more=len(entries) == 50, verify_form=FlaskForm(),
                           label=Labels(db.session()).record)


@bp.get("/audit.csv")
@requires(Permission.STAFF_EXPORT)
def audit_csv() -> Any:
    """Every entry that matches the page's filters (all pages, newest first)."""
    _, filters = _audit_filters()
    session = db.session()

    def everything() -> Iterator[AuditEntry]:
        before: int | None = None
        while True:
            batch = audit_entries(session, **filters, before_id=before, limit=500)
            yield from batch
            if len(batch) < 500:
                return
            before = batch[-1].id

    return csv_response(f"audit-log-{clock.today().isoformat()}.csv", AUDIT_HEADER,
                        audit_rows(session, everything()))


@bp.post("/audit/verify")
@requires(Permission.AUDIT_READ)
def audit_verify() -> Any:
    """The same verification as `registry audit verify`, in plain words (audit:verify)."""
    session = db.session()
    report = verify_for_staff(session, actor())
    head = session.execute(
        select(AuditEntry.id).where(AuditEntry.seq == report.result.head_seq)
    ).scalar_one_or_none() if report.result.head_seq else None
    newest = report.newest_checkpoint
    return render_template(
        "staff/verify.html", report=report, head_id=head,
        newest_time=datetime.fromisoformat(newest.time) if newest else None)
