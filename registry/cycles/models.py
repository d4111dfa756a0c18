from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from registry import clock
from registry.db import Base, vocabulary
from registry.rules.vocabulary import CycleKind, RuleSetName

__all__ = [
    "ComprehensionAttempt", "ComprehensionQuestion", "ContraceptionEntry", "Counseling", "Cycle",
    "CycleKind",
]


class Cycle(Base):
    """What must be true before one prescription; at most one authorization each."""

    __tablename__ = "cycles"
    __table_args__ = (
        UniqueConstraint("patient_id", "number"),
        # the daily reminder scan picks its candidates by these dates
        Index("ix_cycles_closes_on", "closes_on"),
        Index("ix_cycles_opened_on", "opened_on"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"))
    number: Mapped[int]
    course_number: Mapped[int]
    kind: Mapped[CycleKind] = mapped_column(vocabulary(CycleKind, "kind", 20))
    ruleset: Mapped[RuleSetName] = mapped_column(vocabulary(RuleSetName, "ruleset", 4))
    opened_on: Mapped[date]
    closes_on: Mapped[date | None]
    pregnancy_test_id: Mapped[int | None] = mapped_column(ForeignKey("pregnancy_tests.id"))
    created_at: Mapped[datetime] = mapped_column(default=clock.now)


class Counseling(Base):
    """The prescriber's confirmation that the patient was counseled, with their methods."""

    __tablename__ = "counselings"
    __table_args__ = (Index("ix_counselings_patient_id", "patient_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"))
    cycle_id: Mapped[int | None] = mapped_column(ForeignKey("cycles.id"), index=True)
    course_number: Mapped[int]
    counseled_on: Mapped[date]
    prescriber_id: Mapped[int] = mapped_column(ForeignKey("prescribers.id"))
    methods: Mapped[list[Any] | None]
    abstinence: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(default=clock.now)


class ContraceptionEntry(Base):
    """The patient's own statement of their contraception for a cycle."""

    __tablename__ = "contraception_entries"
    __table_args__ = (Index("ix_contraception_entries_patient_id", "patient_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"))
    cycle_id: Mapped[int] = mapped_column(ForeignKey("cycles.id"), index=True)
    methods: Mapped[list[Any] | None]
    abstinence: Mapped[bool] = mapped_column(default=False)
    matches_prescriber: Mapped[bool]
    entered_on: Mapped[date]
    created_at: Mapped[datetime] = mapped_column(default=clock.now)


class ComprehensionQuestion(Base):
    __tablename__ = "comprehension_questions"
    __table_args__ = (UniqueConstraint("bank_version", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    bank_version: Mapped[str] = mapped_column(String(20))
    key: Mapped[str] = mapped_column(String(40))
    topic: Mapped[str] = mapped_column(String(40))
    text: Mapped[str] = mapped_column(Text)
    choices: Mapped[list[Any]]
    correct_choice: Mapped[str] = mapped_column(String(10))
    explanation: Mapped[str] = mapped_column(Text)
    # The same question in other languages: {"es": {"text", "choices", "explanation"}};
    # choice ids and the correct choice are the same in every language.
    translations: Mapped[dict[str, Any] | None]

    def in_language(self, language: str) -> dict[str, Any]:
        """The question's text, choices and explanation in ``language`` (English if the bank
        has no translation)."""
        own = {"text": self.text, "choices": self.choices, "explanation": self.explanation}
        return {**own, **(self.translations or {}).get(language, {})}


class ComprehensionAttempt(Base):
    __tablename__ = "comprehension_attempts"
    __table_args__ = (Index("ix_comprehension_attempts_patient_id", "patient_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"))
    cycle_id: Mapped[int | None] = mapped_column(ForeignKey("cycles.id"))
    course_number: Mapped[int]
    bank_version: Mapped[str] = mapped_column(String(20))
    question_ids: Mapped[list[Any]]
    answers: Mapped[dict[str, Any]]
    incorrect: Mapped[list[Any]]
    passed: Mapped[bool]
    taken_on: Mapped[date]
    created_at: Mapped[datetime] = mapped_column(default=clock.now)

    cycle: Mapped[Cycle | None] = relationship()
