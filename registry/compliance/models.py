from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from registry.accounts.models import in_check
from registry.db import Base


class ComplianceSubject(StrEnum):
    PRESCRIBER = "prescriber"
    DESIGNEE = "designee"
    PHARMACY = "pharmacy"
    PHARMACIST = "pharmacist"


class ComplianceActionKind(StrEnum):
    NOTICE = "notice"
    WARNING = "warning"
    SUSPENSION = "suspension"
    DEACTIVATION = "deactivation"


class ComplianceAction(Base):
    __tablename__ = "compliance_actions"
    __table_args__ = (
        CheckConstraint(in_check("subject_type", ComplianceSubject), name="subject_type"),
        CheckConstraint(in_check("action", ComplianceActionKind), name="action"),
        CheckConstraint("action != 'suspension' OR until IS NOT NULL", name="suspension_until"),
        Index("ix_compliance_actions_subject", "subject_type", "subject_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    subject_type: Mapped[str] = mapped_column(String(20))
    subject_id: Mapped[int]
    action: Mapped[str] = mapped_column(String(20))
    reason: Mapped[str] = mapped_column(Text)
    until: Mapped[date | None]
    recorded_on: Mapped[date]
    recorded_at: Mapped[datetime]
    recorded_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
