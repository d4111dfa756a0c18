"""Pregnancy reports and the pregnancy registry (rules §8): inputs and answers."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Annotated

from pydantic import BeforeValidator, Field, Strict

from registry.contract import Day, Input, LongText, Note, Output, Query, from_query
from registry.pregnancies.models import PregnancyFollowUp, PregnancyOutcome, PregnancyReport

PageSize = Annotated[int, Strict(), Field(ge=1, le=200), BeforeValidator(from_query)]


class PregnancyReportInput(Input):
    reported_on: Annotated[Day, Field(description="The day the pregnancy was reported.")]
    notes: Note | None = None


class FollowUpInput(Input):
    noted_on: Annotated[Day, Field(description="The day this was learned.")]
    note: Note
    outcome: PregnancyOutcome | None = None
    outcome_on: Day | None = None


class LiftInput(Input):
    reason: Annotated[LongText, Field(description="The documented false report.")]


class ReportState(StrEnum):
    OPEN = "open"
    LIFTED = "lifted"


class RegistryQuery(Query):
    status: ReportState | None = None
    cursor: Annotated[str | None, Field(pattern=r"^[0-9]{1,9}$", description=(
        "The `next_cursor` of the previous page."))] = None
    limit: Annotated[PageSize, Field(description="Page size (default 50).")] = 50


class FollowUpOut(Output):
    id: int
    noted_on: date
    note: str

    @classmethod
    def of(cls, row: PregnancyFollowUp) -> FollowUpOut:
        return cls(id=row.id, noted_on=row.recorded_on, note=row.note)


class PregnancyReportOut(Output):
    id: int
    registry_id: str
    reported_on: date
    reporter_role: str
    status: ReportState
    outcome: PregnancyOutcome | None
    outcome_on: date | None
    notes: str | None
    lifted_at: datetime | None
    lift_reason: str | None
    follow_ups: list[FollowUpOut]

    @classmethod
    def of(cls, report: PregnancyReport) -> PregnancyReportOut:
        return cls(
            id=report.id, registry_id=report.patient.registry_id,
            reported_on=report.reported_on, reporter_role=report.reporter_role,
            status=ReportState.OPEN if report.is_open else ReportState.LIFTED,
            outcome=PregnancyOutcome(report.outcome) if report.outcome else None,
            outcome_on=report.outcome_on, notes=report.notes, lifted_at=report.lifted_at,
            lift_reason=report.lift_reason,
            follow_ups=[FollowUpOut.of(f) for f in report.follow_ups])


class RegistryPage(Output):
    items: list[PregnancyReportOut]
    next_cursor: str | None


class Created(Output):
    id: int


class Lifted(Output):
    status: ReportState = ReportState.LIFTED
    lifted_at: datetime
