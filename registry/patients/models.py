from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from registry import clock
from registry.accounts.models import User
from registry.db import FULL_NAME, Base, trigram_index, vocabulary
from registry.prescribers.models import Prescriber
from registry.rules.vocabulary import PatientStatus, RiskCategory

__all__ = [
    "ActivationCode", "Patient", "PatientStatus", "RiskCategory", "RiskCategoryChange",
]


class Patient(Base):
    __tablename__ = "patients"
    __table_args__ = (
        Index("ix_patients_prescriber_id_last_name", "prescriber_id", "last_name"),
        Index("ix_patients_email", "email"),
        # The summary report's active and enrolled patients: counted from this index alone.
        Index("ix_patients_status_registered_on", "status", "registered_on"),
        trigram_index("ix_patients_name_trgm", FULL_NAME),
        trigram_index("ix_patients_email_trgm", "lower(email)"),
        # the daily reminder scan picks its candidates by these dates
        Index("ix_patients_contraception_start_on", "contraception_start_on"),
        Index("ix_patients_last_dose_on", "last_dose_on"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    registry_id: Mapped[str] = mapped_column(String(10), unique=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), unique=True)
    prescriber_id: Mapped[int] = mapped_column(ForeignKey("prescribers.id"))
    first_name: Mapped[str] = mapped_column(String(100))
    last_name: Mapped[str] = mapped_column(String(100))
    date_of_birth: Mapped[date]
    email: Mapped[str] = mapped_column(String(254))
    risk_category: Mapped[RiskCategory] = mapped_column(
        vocabulary(RiskCategory, "risk_category", 30))
    status: Mapped[PatientStatus] = mapped_column(
        vocabulary(PatientStatus, "status", 30), default=PatientStatus.PENDING_ACTIVATION)
    registered_on: Mapped[date]
    registered_at: Mapped[datetime] = mapped_column(default=clock.now)
    activated_on: Mapped[date | None]
    consent_signed_on: Mapped[date]
    consent_version: Mapped[str] = mapped_column(String(20))
    birth_defects_consent_signed_on: Mapped[date | None]
    guardian_name: Mapped[str | None] = mapped_column(String(200))
    guardian_signed_on: Mapped[date | None]
    contraception_start_on: Mapped[date | None]
    home_tests_allowed: Mapped[bool] = mapped_column(default=False)
    course_number: Mapped[int] = mapped_column(default=1)
    course_started_on: Mapped[date]
    last_dose_on: Mapped[date | None]
    treatment_completed_on: Mapped[date | None]
    deactivated_on: Mapped[date | None]

    prescriber: Mapped[Prescriber] = relationship()
    user: Mapped[User | None] = relationship()

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}"

    @property
    def can_get_pregnant(self) -> bool:
        return self.risk_category == RiskCategory.CAN_GET_PREGNANT


class ActivationCode(Base):
    """A one-time code the prescriber gives the patient; only its hash is stored."""

    __tablename__ = "activation_codes"

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), index=True)
    code_hash: Mapped[str] = mapped_column(String(255))
    expires_on: Mapped[date]
    created_at: Mapped[datetime] = mapped_column(default=clock.now)
    used_at: Mapped[datetime | None]


class RiskCategoryChange(Base):
    __tablename__ = "risk_category_changes"

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), index=True)
    from_category: Mapped[RiskCategory | None] = mapped_column(
        vocabulary(RiskCategory, "from_category", 30))
    to_category: Mapped[RiskCategory] = mapped_column(vocabulary(RiskCategory, "to_category", 30))
    reason: Mapped[str] = mapped_column(Text)
    changed_on: Mapped[date]
    changed_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
