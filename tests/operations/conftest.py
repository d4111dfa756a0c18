"""Shared set-up for operation tests: a clock on a fixed day and an active cast."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import func, literal, select, union_all
from sqlalchemy.orm import Session

from registry.accounts.models import User
from registry.audit.models import AuditEntry
from registry.db import Base
from registry.pharmacies.models import Pharmacist, Pharmacy
from registry.prescribers.models import Designee, Prescriber
from tests import factories as f

DAY_2021 = "2026-03-02"  # the 2021 rule set is in force (the 2026 set starts 2026-08-08)
DAY_2026 = "2026-09-01"


@dataclass
class Cast:
    staff: User
    dr: Prescriber
    other_dr: Prescriber
    designee: Designee
    pharmacy: Pharmacy
    rph: Pharmacist


@pytest.fixture
def cast(session: Session, clock: Any) -> Cast:
    clock.to(DAY_2021)
    dr = f.prescriber(session)
    ph = f.pharmacy(session)
    return Cast(staff=f.staff(session), dr=dr, other_dr=f.prescriber(session),
                designee=f.designee(session, dr), pharmacy=ph, rph=f.pharmacist(session, ph))


def row_counts(session: Session) -> dict[str, int]:
    """Every table's row count, in one statement."""
    session.flush()
    counts = union_all(*(select(literal(t.name).label("name"), func.count().label("rows"))
                         .select_from(t) for t in Base.metadata.sorted_tables))
    return dict(session.execute(counts).tuples().all())


def last_audit_id(session: Session) -> int:
    session.flush()
    return session.execute(select(func.coalesce(func.max(AuditEntry.id), 0))).scalar_one()


def audit_since(session: Session, after_id: int) -> list[AuditEntry]:
    session.flush()
    return list(session.execute(
        select(AuditEntry).where(AuditEntry.id > after_id).order_by(AuditEntry.id)
    ).scalars())


def tags_since(session: Session, after_id: int) -> list[str]:
    return [e.action for e in audit_since(session, after_id)]
