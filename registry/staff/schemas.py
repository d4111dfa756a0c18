"""Program staff's oversight through the API: the summary report and the audit log."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time
from typing import Annotated, Any

from pydantic import BeforeValidator, Field, Strict, WithJsonSchema
from pydantic_core import PydanticCustomError

from registry import clock
from registry.audit.models import AuditEntry
from registry.contract import DATE_PATTERN, Day, Output, Query, from_query

_DATETIME = re.compile(r"^(19[0-9]{2}|2[01][0-9]{2})-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}"
                       r":[0-9]{2}(\.[0-9]+)?(Z|z|[+-][0-9]{2}:[0-9]{2})$")
SINCE_MESSAGE = ("Must be a date YYYY-MM-DD or a time in ISO 8601 with an offset, between 1900 "
                 "and 2199.")


def _since(value: Any) -> datetime:
    """A day (from its start, in the program's time zone) or a time with its offset."""
    if isinstance(value, str) and re.fullmatch(DATE_PATTERN, value):
        try:
            day = date.fromisoformat(value)
        except ValueError:
            raise PydanticCustomError("since", SINCE_MESSAGE) from None
        return datetime.combine(day, time.min, tzinfo=clock.program_timezone()).astimezone(UTC)
    if isinstance(value, str) and _DATETIME.match(value):
        try:
            return datetime.fromisoformat(value.replace("z", "Z")).astimezone(UTC)
        except ValueError:
            pass
    raise PydanticCustomError("since", SINCE_MESSAGE)


Since = Annotated[datetime, BeforeValidator(_since), WithJsonSchema({"anyOf": [
    {"type": "string", "format": "date", "pattern": DATE_PATTERN},
    {"type": "string", "format": "date-time", "pattern": _DATETIME.pattern}],
    "description": "A day (from its start, program time) or a time with its offset."})]
PageSize = Annotated[int, Strict(), Field(ge=1, le=500), BeforeValidator(from_query)]
BeforeId = Annotated[int, Strict(), Field(ge=1, le=2**31 - 1), BeforeValidator(from_query)]


class SummaryQuery(Query):
    period_from: Annotated[Day | None, Field(alias="from", description=(
        "First day (default: 29 days before `to`)."))] = None
    period_to: Annotated[Day | None, Field(alias="to", description=(
        "Last day (default: today)."))] = None


class AuthorizationCounts(Output):
    issued: int
    denied: int
    denied_by_reason: dict[str, int]


class SummaryOut(Output):
    period_from: date = Field(serialization_alias="from")
    period_to: date = Field(serialization_alias="to")
    enrolled: dict[str, int]
    active: dict[str, int]
    authorizations: AuthorizationCounts
    dispenses: int
    reversals: int
    pregnancies_reported: int
    compliance_actions: dict[str, int]


class AuditQuery(Query):
    subject: Annotated[str | None, Strict(), Field(max_length=100, description=(
        "`type` or `type:id`, e.g. `authorization:K7MPX3RT9QWA`."))] = None
    since: Since | None = None
    limit: Annotated[PageSize, Field(description="Page size (default 50).")] = 50
    before_id: Annotated[BeforeId | None, Field(description=(
        "Next page: the `next_before_id` of the previous page."))] = None


class AuditEntryOut(Output):
    id: int
    occurred_at: datetime
    user_id: int | None
    role: str
    action: str
    subject_type: str
    subject_id: str | None
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    seq: int | None = Field(description="Place in the hash chain; null until sealed.")
    hash: str | None = Field(description="Null until sealed.")

    @classmethod
    def of(cls, e: AuditEntry) -> AuditEntryOut:
        return cls.model_validate(e)


class AuditPage(Output):
    entries: list[AuditEntryOut]
    next_before_id: int | None
