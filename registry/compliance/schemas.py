"""Non-compliance actions (rules §9): what program staff send and get back."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from pydantic import Field

from registry.compliance.models import ComplianceAction, ComplianceActionKind, ComplianceSubject
from registry.contract import Day, Input, Note, Output, RecordId


class ComplianceActionInput(Input):
    subject_type: ComplianceSubject
    subject_id: RecordId
    action: ComplianceActionKind
    reason: Note
    until: Annotated[Day | None, Field(description="A suspension's last day (required for a "
                                                   "suspension, refused for the others).")] = None


class ComplianceActionOut(Output):
    id: int
    subject_type: ComplianceSubject
    subject_id: int
    action: ComplianceActionKind
    reason: str
    until: date | None
    recorded_on: date

    @classmethod
    def of(cls, row: ComplianceAction) -> ComplianceActionOut:
        return cls(id=row.id, subject_type=ComplianceSubject(row.subject_type),
                   subject_id=row.subject_id, action=ComplianceActionKind(row.action),
                   reason=row.reason, until=row.until, recorded_on=row.recorded_on)
