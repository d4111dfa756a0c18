from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import ForeignKey, Index, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from registry import clock
from registry.db import Base, vocabulary
from registry.patients.models import Patient
from registry.rules.vocabulary import (
    PregnancyOutcome,
    PregnancyTestPurpose,
    PregnancyTestResult,
    PregnancyTestSetting,
    Role,
)

__all__ = [
    "PregnancyFollowUp", "PregnancyOutcome", "PregnancyReport", "PregnancyTest",
    "PregnancyTestPurpose", "PregnancyTestResult", "PregnancyTestSetting",
]


class PregnancyTest(Base):
    __tablename__ = "pregnancy_tests"
    __table_args__ = (
        Index("ix_pregnancy_tests_patient_id_specimen", "patient_id", "specimen_collected_on"),
        Index("ix_pregnancy_tests_specimen_collected_on", "specimen_collected_on"),  # reminders
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"))
    course_number: Mapped[int]
    specimen_collected_on: Mapped[date]
    result: Mapped[PregnancyTestResult] = mapped_column(
        vocabulary(PregnancyTestResult, "result", 10))
    setting: Mapped[PregnancyTestSetting] = mapped_column(
        vocabulary(PregnancyTestSetting, "setting", 10))
    purpose: Mapped[PregnancyTestPurpose] = mapped_column(
        vocabulary(PregnancyTestPurpose, "purpose", 20))
    entered_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    entered_at: Mapped[datetime] = mapped_column(default=clock.now)

    patient: Mapped[Patient] = relationship()


class PregnancyReport(Base):
    """A reported pregnancy or a positive test: blocks the patient until staff lift it."""

    __tablename__ = "pregnancy_reports"
    __table_args__ = (Index("ix_pregnancy_reports_patient_id", "patient_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"))
    reported_on: Mapped[date]
    reported_at: Mapped[datetime] = mapped_column(default=clock.now)
    reported_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    reporter_role: Mapped[Role] = mapped_column(vocabulary(Role, "reporter_role", 20))
    pregnancy_test_id: Mapped[int | None] = mapped_column(ForeignKey("pregnancy_tests.id"))
    notes: Mapped[str | None] = mapped_column(Text)
    outcome: Mapped[PregnancyOutcome | None] = mapped_column(
        vocabulary(PregnancyOutcome, "outcome", 40))
    outcome_on: Mapped[date | None]
    lifted_at: Mapped[datetime | None]
    lifted_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    lift_reason: Mapped[str | None] = mapped_column(Text)

    patient: Mapped[Patient] = relationship()
    follow_ups: Mapped[list[PregnancyFollowUp]] = relationship(
        back_populates="report", order_by="PregnancyFollowUp.id"
    )

    @property
    def is_open(self) -> bool:
        return self.lifted_at is None


class PregnancyFollowUp(Base):
    __tablename__ = "pregnancy_follow_ups"

    id: Mapped[int] = mapped_column(primary_key=True)
    report_id: Mapped[int] = mapped_column(ForeignKey("pregnancy_reports.id"), index=True)
    recorded_on: Mapped[date]
    recorded_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    note: Mapped[str] = mapped_column(Text)

    report: Mapped[PregnancyReport] = relationship(back_populates="follow_ups")
