"""Read-only lookups of prescribers."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from registry.prescribers.models import Prescriber


def by_npi(session: Session, npi: str) -> Prescriber | None:
    cleaned = (npi or "").replace(" ", "").replace("-", "")
    return session.execute(select(Prescriber).where(Prescriber.npi == cleaned)).scalar()
