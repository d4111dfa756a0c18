"""CSV exports for program staff: the summary report and the audit log (rules §9, §10).

Written with the csv module (quoting, embedded commas and newlines done right). Every cell
that a spreadsheet would read as a formula (starting with = + - @, or a tab or carriage
return before one) is prefixed with an apostrophe, so opening an export never runs what a
user typed into a name or a reason (OWASP "CSV injection").
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Sequence
from datetime import date, datetime
from typing import Any

from flask import Response
from sqlalchemy.orm import Session

from registry import clock
from registry.audit.models import AuditEntry
from registry.reports import Summary
from registry.staff.labels import Labels

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")

AUDIT_HEADER = ("Entry", "Chain position", "When", "Who", "Role", "Action", "Record",
                "Before", "After")


def safe_cell(value: Any) -> str:
    """The value as text a spreadsheet shows as text, never evaluates."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, datetime):
        text = value.astimezone(clock.program_timezone()).isoformat(timespec="seconds")
    elif isinstance(value, date):
        text = value.isoformat()
    elif isinstance(value, dict | list):
        text = json.dumps(value, sort_keys=True, ensure_ascii=False)
    else:
        text = str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def csv_text(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([safe_cell(h) for h in header])
    writer.writerows([safe_cell(v) for v in row] for row in rows)
    return out.getvalue()


def csv_response(filename: str, header: Sequence[str], rows: Iterable[Sequence[Any]]) -> Response:
    response = Response(csv_text(header, rows), mimetype="text/csv")
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def summary_rows(s: Summary, kinds: Sequence[str]) -> list[tuple[str, str, Any]]:
    """The report as (section, item, value) rows: one number per row, easy to pivot."""
    rows: list[tuple[str, str, Any]] = [("period", "from", s.period_from),
                                        ("period", "to", s.period_to)]
    rows += [("enrolled", k, s.enrolled.get(k, 0)) for k in kinds]
    rows += [("active", k, s.active.get(k, 0)) for k in kinds]
    rows += [
        ("authorizations", "issued", s.authorizations_issued),
        ("authorizations", "denied", s.authorizations_denied),
    ]
    rows += [("denials by reason", reason, n) for reason, n in s.denials_by_reason.items()]
    rows += [
        ("dispensing", "dispenses", s.dispenses),
        ("dispensing", "reversals", s.reversals),
        ("pregnancies", "reported", s.pregnancies_reported),
    ]
    rows += [("compliance actions", action, n) for action, n in s.compliance_actions.items()]
    return rows


def audit_rows(session: Session, entries: Iterable[AuditEntry]) -> Iterable[tuple[Any, ...]]:
    labels = Labels(session)
    for e in entries:
        yield (e.id, e.seq if e.seq is not None else "not sealed yet", e.occurred_at,
               labels.user(e.user_id, e.role), e.role, e.action,
               labels.record(e.subject_type, e.subject_id), e.before, e.after)
