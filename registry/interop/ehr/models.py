"""An EHR system, the prescribers it serves, and the JWT ids it has used (replay guard)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from registry import clock
from registry.db import Base
from registry.prescribers.models import Prescriber

__all__ = ["EhrSystem", "EhrSystemPrescriber", "EhrTokenUse"]


class EhrSystemPrescriber(Base):
    """One prescriber an EHR system may act for: a CDS call names a prescriber outside this
    list and it is refused."""

    __tablename__ = "ehr_system_prescribers"

    ehr_system_id: Mapped[int] = mapped_column(ForeignKey("ehr_systems.id", ondelete="CASCADE"),
                                               primary_key=True)
    prescriber_id: Mapped[int] = mapped_column(ForeignKey("prescribers.id"), primary_key=True)


class EhrSystem(Base):
    """An EHR that calls our CDS Hooks services, known by the ``iss`` of its JWTs.

    ``jwks`` is its JSON Web Key Set, public keys only, given as a document by program staff:
    the registry never fetches keys from an outside address.
    """

    __tablename__ = "ehr_systems"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    issuer: Mapped[str] = mapped_column(String(500), unique=True)
    client_id: Mapped[str] = mapped_column(String(200))
    jwks: Mapped[dict[str, Any]]
    fhir_base_url: Mapped[str] = mapped_column(String(500))
    active: Mapped[bool] = mapped_column(default=True)
    registered_at: Mapped[datetime] = mapped_column(default=clock.now)
    updated_at: Mapped[datetime] = mapped_column(default=clock.now)

    prescribers: Mapped[list[Prescriber]] = relationship(
        secondary="ehr_system_prescribers", order_by=Prescriber.id, lazy="selectin")


class EhrTokenUse(Base):
    """A JWT id (``jti``) an EHR system has used, kept until the token expires: the same
    token sent twice is refused (CDS Hooks: the ``jti`` guards against replay)."""

    __tablename__ = "ehr_token_uses"
    __table_args__ = (UniqueConstraint("ehr_system_id", "jti"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    ehr_system_id: Mapped[int] = mapped_column(ForeignKey("ehr_systems.id", ondelete="CASCADE"))
    jti: Mapped[str] = mapped_column(String(200))
    expires_at: Mapped[datetime] = mapped_column(index=True)
