"""Shared set-up for operation tests: a clock on a fixed day and an active cast.

The cast is built once per module (by the real operations, in the module's transaction) and
each test runs in a SAVEPOINT of that transaction, rolled back at its end: every test meets
the same cast and nothing a test does is seen by the next."""

from __future__ import annotations

import functools
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import CompoundSelect, func, literal, select, union_all
from sqlalchemy.orm import Session

from registry import db
from registry.accounts.models import User
from registry.audit.models import AuditEntry
from registry.db import Base
from registry.pharmacies.models import Pharmacist, Pharmacy
from registry.prescribers.models import Designee, Prescriber
from tests import factories as f
from tests.harness import Shared

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


@dataclass(frozen=True)
class CastKeys:
    staff: int
    dr: int
    other_dr: int
    designee: int
    pharmacy: int
    rph: int


@pytest.fixture(scope="module")
def _cast_keys(shared_app: Shared) -> CastKeys:
    """Module-scoped, so pytest builds it before any test's own savepoint begins."""
    shared_app.clock.to(DAY_2021)
    with shared_app.app.app_context():
        session = db.session()
        dr = f.prescriber(session)
        ph = f.pharmacy(session)
        keys = CastKeys(staff=f.staff(session).id, dr=dr.id, other_dr=f.prescriber(session).id,
                        designee=f.designee(session, dr).id, pharmacy=ph.id,
                        rph=f.pharmacist(session, ph).id)
        session.commit()  # into the module's transaction, undone at the module's end
    return keys


@pytest.fixture
def app(shared_app: Shared) -> Iterator[Flask]:
    """The module's app; what the test does is rolled back at its end."""
    with shared_app.rolled_back():
        yield shared_app.app


@pytest.fixture
def cast(_cast_keys: CastKeys, session: Session, clock: Any) -> Cast:
    clock.to(DAY_2021)
    k = _cast_keys
    return Cast(staff=session.get_one(User, k.staff), dr=session.get_one(Prescriber, k.dr),
                other_dr=session.get_one(Prescriber, k.other_dr),
                designee=session.get_one(Designee, k.designee),
                pharmacy=session.get_one(Pharmacy, k.pharmacy),
                rph=session.get_one(Pharmacist, k.rph))


@functools.cache
def _row_counts_statement() -> CompoundSelect:
    """Built once: the same statement every time (making it cost more than running it)."""
    return union_all(*(select(literal(t.name).label("name"), func.count().label("rows"))
                       .select_from(t) for t in Base.metadata.sorted_tables))


def row_counts(session: Session) -> dict[str, int]:
    """Every table's row count, in one statement."""
    session.flush()
    return dict(session.execute(_row_counts_statement()).tuples().all())


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
