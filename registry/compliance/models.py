from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, Text
from sqlalchemy.orm import Mapped, mapped_column

from registry.db import Base, vocabulary
from registry.rules.vocabulary import ComplianceActionKind, ComplianceSubject

__all__ = ["ComplianceAction", "ComplianceActionKind", "ComplianceSubject"]


class ComplianceAction(Base):
    __tablename__ = "compliance_actions"
    __table_args__ = (
        CheckConstraint("action != 'suspension' OR until IS NOT NULL", name="suspension_until"),
        Index("ix_compliance_actions_subject", "subject_type", "subject_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    subject_type: Mapped[ComplianceSubject] = mapped_column(
        vocabulary(ComplianceSubject, "subject_type", 20))
    subject_id: Mapped[int]
    action: Mapped[ComplianceActionKind] = mapped_column(
        vocabulary(ComplianceActionKind, "action", 20))
    reason: Mapped[str] = mapped_column(Text)
    until: Mapped[date | None]
    recorded_on: Mapped[date]
    recorded_at: Mapped[datetime]
    recorded_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
