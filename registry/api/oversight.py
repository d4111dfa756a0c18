"""Program staff: compliance actions, summary reports and the audit log."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from typing import Any

from flask import request

from registry import clock, db
from registry.api import serializers
from registry.api.blueprint import bp, current_user, json_body
from registry.api.idempotency import idempotent
from registry.compliance.operations import record_compliance_action
from registry.errors import Errors, ValidationError
from registry.permissions import require_staff
from registry.reports import audit_entries, default_period_start, summary
from registry.validation import date_value, int_value

COMPLIANCE_FIELDS = ("subject_type", "subject_id", "action", "reason", "until")


@bp.post("/compliance-actions")
@idempotent
def create_compliance_action() -> Any:
    user = current_user()
    body = json_body()
    row = record_compliance_action(db.session(), user,
                                   **{k: body.get(k) for k in COMPLIANCE_FIELDS})
    return serializers.compliance_action(row), 201


@bp.get("/reports/summary")
def get_summary() -> Any:
    user = current_user()
    require_staff(user)
    errors = Errors()
    today = clock.today()
    to = date_value(errors, "to", request.args.get("to"), required=False) or today
    start = date_value(errors, "from", request.args.get("from"),
                       required=False) or default_period_start(to)
    if not errors and start > to:
        errors.add("from", "Must be on or before `to`.")
    if not errors and (to - start).days > 3660:
        errors.add("from", "The period can be at most ten years.")
    errors.raise_if_any()
    return summary(db.session(), start, to).as_dict()


def _since(raw: str | None) -> datetime | None:
    if raw is None or raw == "":
        return None
    problem = ValidationError(since="Must be a date YYYY-MM-DD or a time in ISO 8601 with an "
                              "offset, between 1900 and 2199.")
    try:
        if len(raw) == 10:
            day = date.fromisoformat(raw)
            when = datetime.combine(day, time.min, tzinfo=clock.program_timezone())
        else:
            when = datetime.fromisoformat(raw)
        if when.tzinfo is None:
            raise ValidationError(since="Give the time with its offset, e.g. "
                                  "2026-03-01T00:00:00Z.")
        if not 1900 <= when.year <= 2199:
            raise problem
        return when.astimezone(UTC)
    except (ValueError, OverflowError):
        raise problem from None


@bp.get("/audit")
def get_audit() -> Any:
    user = current_user()
    require_staff(user)
    errors = Errors()
    limit = int_value(errors, "limit", request.args.get("limit"), required=False, minimum=1,
                      maximum=500) or 50
    before_id = int_value(errors, "before_id", request.args.get("before_id"), required=False,
                          minimum=1, maximum=2**31 - 1)
    subject = request.args.get("subject") or None
    if subject is not None and len(subject) > 100:
        errors.add("subject", "Must be at most 100 characters.")
    errors.raise_if_any()
    since = _since(request.args.get("since"))
    entries = audit_entries(db.session(), subject=subject, since=since, before_id=before_id,
                            limit=limit)
    next_before = entries[-1].id if len(entries) == limit else None
    return serializers.audit_page(entries, next_before)
