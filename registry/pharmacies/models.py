from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from registry import clock
from registry.accounts.models import User
from registry.db import Base, trigram_index


class Pharmacy(Base):
    __tablename__ = "pharmacies"
    __table_args__ = (trigram_index("ix_pharmacies_name_trgm", "lower(name)"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    ncpdp_id: Mapped[str] = mapped_column(String(7), unique=True)
    npi: Mapped[str] = mapped_column(String(10), unique=True)
    address: Mapped[str | None] = mapped_column(String(500))
    registered_at: Mapped[datetime] = mapped_column(default=clock.now)
    activated_on: Mapped[date | None]
    suspended_until: Mapped[date | None]
    deactivated_on: Mapped[date | None]

    pharmacists: Mapped[list[Pharmacist]] = relationship(back_populates="pharmacy")


class Pharmacist(Base):
    __tablename__ = "pharmacists"
    __table_args__ = (Index("ix_pharmacists_pharmacy_id", "pharmacy_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), unique=True)
    pharmacy_id: Mapped[int] = mapped_column(ForeignKey("pharmacies.id"))
    license_number: Mapped[str] = mapped_column(String(50))
    is_rsp: Mapped[bool] = mapped_column(default=False)
    training_completed_on: Mapped[date | None]
    removed_on: Mapped[date | None]
    suspended_until: Mapped[date | None]
    deactivated_on: Mapped[date | None]

    user: Mapped[User] = relationship(lazy="joined")
    pharmacy: Mapped[Pharmacy] = relationship(back_populates="pharmacists")

    @property
    def name(self) -> str:
        return self.user.full_name


class PharmacySystem(Base):
    """A pharmacy's own software, registered by program staff, acting for the pharmacy's
    pharmacists at the NCPDP SCRIPT REMS door (registry/interop/ncpdp.py).

    Its credential is shown once, at registration or rotation; only its SHA-256 is kept, as
    for API bearer tokens (registry/api/models.py ``ApiToken``).
    """

    __tablename__ = "pharmacy_systems"
    __table_args__ = (Index("ix_pharmacy_systems_pharmacy_id", "pharmacy_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    pharmacy_id: Mapped[int] = mapped_column(ForeignKey("pharmacies.id"))
    credential_hash: Mapped[str] = mapped_column(String(64), unique=True)
    credential_issued_at: Mapped[datetime]
    registered_at: Mapped[datetime]
    active: Mapped[bool] = mapped_column(default=True)
    deactivated_at: Mapped[datetime | None]

    pharmacy: Mapped[Pharmacy] = relationship(lazy="joined")
