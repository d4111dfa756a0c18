from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from registry.db import Base, vocabulary
from registry.patients.models import Patient
from registry.pharmacies.models import Pharmacist, Pharmacy
from registry.rules.vocabulary import AuthorizationStatus, RuleSetName

__all__ = [
    "Authorization", "AuthorizationDecision", "AuthorizationStatus", "DenialReason", "Dispense",
    "Reversal",
]


class Authorization(Base):
    """A Risk Management Authorization (RMA): permission for one dispense."""

    __tablename__ = "authorizations"
    __table_args__ = (
        CheckConstraint("refills = 0", name="no_refills"),
        CheckConstraint("days_supply > 0", name="days_supply_positive"),
        CheckConstraint("quantity > 0", name="quantity_positive"),
        # The database is the last line against a double authorization: one open
        # authorization per patient, and one live (open or dispensed) per cycle.
        Index(
            "uq_authorizations_one_open_per_patient",
            "patient_id",
            unique=True,
            sqlite_where=text("status = 'authorized'"),
            postgresql_where=text("status = 'authorized'"),
        ),
        Index(
            "uq_authorizations_one_live_per_cycle",
            "cycle_id",
            unique=True,
            sqlite_where=text("status IN ('authorized', 'dispensed')"),
            postgresql_where=text("status IN ('authorized', 'dispensed')"),
        ),
        Index("ix_authorizations_pharmacy_id_issued_at", "pharmacy_id", "issued_at"),
        Index("ix_authorizations_patient_id", "patient_id"),
        Index("ix_authorizations_status_do_not_dispense_after", "status",
              "do_not_dispense_after"),  # the daily reminder scan
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    rma: Mapped[str] = mapped_column(String(12), unique=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"))
    cycle_id: Mapped[int] = mapped_column(ForeignKey("cycles.id"))
    prescriber_id: Mapped[int] = mapped_column(ForeignKey("prescribers.id"))
    pharmacy_id: Mapped[int] = mapped_column(ForeignKey("pharmacies.id"))
    pharmacist_id: Mapped[int] = mapped_column(ForeignKey("pharmacists.id"))
    status: Mapped[AuthorizationStatus] = mapped_column(
        vocabulary(AuthorizationStatus, "status", 20), default=AuthorizationStatus.AUTHORIZED)
    ruleset: Mapped[RuleSetName] = mapped_column(vocabulary(RuleSetName, "ruleset", 4))
    issued_on: Mapped[date]
    issued_at: Mapped[datetime]
    do_not_dispense_after: Mapped[date]
    days_supply: Mapped[int]
    quantity: Mapped[int]
    refills: Mapped[int] = mapped_column(default=0)
    closed_at: Mapped[datetime | None]

    patient: Mapped[Patient] = relationship()
    pharmacy: Mapped[Pharmacy] = relationship()
    pharmacist: Mapped[Pharmacist] = relationship()
    dispense: Mapped[Dispense | None] = relationship(back_populates="authorization")
    reversal: Mapped[Reversal | None] = relationship(back_populates="authorization")


class Dispense(Base):
    __tablename__ = "dispenses"
    __table_args__ = (Index("ix_dispenses_dispensed_on", "dispensed_on"),)  # reminder scan

    id: Mapped[int] = mapped_column(primary_key=True)
    authorization_id: Mapped[int] = mapped_column(ForeignKey("authorizations.id"), unique=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), index=True)
    dispensed_on: Mapped[date]
    quantity: Mapped[int]
    days_supply: Mapped[int]
    pharmacist_id: Mapped[int] = mapped_column(ForeignKey("pharmacists.id"))
    recorded_at: Mapped[datetime]

    authorization: Mapped[Authorization] = relationship(back_populates="dispense")


class Reversal(Base):
    __tablename__ = "reversals"

    id: Mapped[int] = mapped_column(primary_key=True)
    authorization_id: Mapped[int] = mapped_column(ForeignKey("authorizations.id"), unique=True)
    reason: Mapped[str] = mapped_column(Text)
    pharmacist_id: Mapped[int] = mapped_column(ForeignKey("pharmacists.id"))
    reversed_at: Mapped[datetime]

    authorization: Mapped[Authorization] = relationship(back_populates="reversal")


class AuthorizationDecision(Base):
    """Every authorization request and its answer, denials included (rules §6)."""

    __tablename__ = "authorization_decisions"
    __table_args__ = (
        UniqueConstraint("requested_by_id", "idempotency_key"),
        # With eligible: the summary report counts a period's approvals and denials from
        # the index alone (an index-only scan, no visit to the wide JSON rows).
        Index("ix_authorization_decisions_requested_at_eligible", "requested_at", "eligible"),
        Index("ix_authorization_decisions_pharmacy_id", "pharmacy_id"),
        Index("ix_authorization_decisions_patient_id", "patient_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    requested_at: Mapped[datetime]
    requested_on: Mapped[date]
    requested_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    pharmacist_id: Mapped[int | None] = mapped_column(ForeignKey("pharmacists.id"))
    pharmacy_id: Mapped[int | None] = mapped_column(ForeignKey("pharmacies.id"))
    patient_id: Mapped[int | None] = mapped_column(ForeignKey("patients.id"))
    request: Mapped[dict[str, Any]]
    request_fingerprint: Mapped[str] = mapped_column(String(64))
    idempotency_key: Mapped[str | None] = mapped_column(String(255))
    eligible: Mapped[bool]
    reasons: Mapped[list[Any]]
    ruleset: Mapped[RuleSetName] = mapped_column(vocabulary(RuleSetName, "ruleset", 4))
    parameters: Mapped[dict[str, Any]]
    authorization_id: Mapped[int | None] = mapped_column(ForeignKey("authorizations.id"))

    authorization: Mapped[Authorization | None] = relationship()


class DenialReason(Base):
    """One reason of a denied authorization request, by its code: what the summary report
    counts (rules §9). The database fills it: a trigger on ``authorization_decisions``
    (migration 0013) inserts a row per element of a denied decision's ``reasons``, in the
    statement that stores the decision, so however a decision is written its reasons are
    counted. ``requested_at`` is the decision's: denials by reason over a period are one
    index-only range scan on ``(requested_at, code)``, instead of unnesting the JSON of every
    decision of the period.
    """

    __tablename__ = "denial_reasons"
    __table_args__ = (
        Index("ix_denial_reasons_requested_at_code", "requested_at", "code"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    decision_id: Mapped[int] = mapped_column(ForeignKey("authorization_decisions.id"))
    requested_at: Mapped[datetime]
    code: Mapped[str] = mapped_column(String(64))
