from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from registry import clock
from registry.accounts.models import User
from registry.db import Base


class Prescriber(Base):
    __tablename__ = "prescribers"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), unique=True)
    npi: Mapped[str] = mapped_column(String(10), unique=True)
    license_state: Mapped[str | None] = mapped_column(String(2))
    enrolled_at: Mapped[datetime] = mapped_column(default=clock.now)
    attested_on: Mapped[date | None]
    suspended_until: Mapped[date | None]
    deactivated_on: Mapped[date | None]

    user: Mapped[User] = relationship(lazy="joined")
    designee_links: Mapped[list[DesigneeLink]] = relationship(back_populates="prescriber")

    @property
    def name(self) -> str:
        return f"Dr. {self.user.first_name} {self.user.last_name}"


class Designee(Base):
    """Office staff who act for one or more prescribers."""

    __tablename__ = "designees"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), unique=True)
    attested_on: Mapped[date | None]
    suspended_until: Mapped[date | None]
    deactivated_on: Mapped[date | None]

    user: Mapped[User] = relationship(lazy="joined")
    links: Mapped[list[DesigneeLink]] = relationship(back_populates="designee")

    @property
    def name(self) -> str:
        return self.user.full_name


class DesigneeLink(Base):
    __tablename__ = "designee_links"
    __table_args__ = (
        UniqueConstraint("designee_id", "prescriber_id"),
        Index("ix_designee_links_prescriber_id", "prescriber_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    designee_id: Mapped[int] = mapped_column(ForeignKey("designees.id"))
    prescriber_id: Mapped[int] = mapped_column(ForeignKey("prescribers.id"))
    linked_on: Mapped[date]
    unlinked_on: Mapped[date | None]

    designee: Mapped[Designee] = relationship(back_populates="links")
    prescriber: Mapped[Prescriber] = relationship(back_populates="designee_links")
