"""A small world with two of everything, so each page can be tried on someone else's record."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any, get_type_hints

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from registry import clock as registry_clock
from registry import db
from registry.accounts.models import User
from registry.authorizations.models import Authorization
from registry.contract import parse
from registry.patients.models import Patient
from registry.pharmacies.models import Pharmacist, Pharmacy
from registry.pregnancies.models import PregnancyReport
from registry.pregnancies.operations import report_pregnancy
from registry.pregnancies.schemas import PregnancyReportInput
from registry.prescribers.models import Designee, Prescriber
from tests import factories as f
from tests.harness import Shared


@dataclass
class World:
    staff: User
    dr_a: Prescriber
    dr_b: Prescriber
    des_a: Designee
    des_b: Designee
    ph1: Pharmacy
    ph2: Pharmacy
    rsp1: Pharmacist
    rph1: Pharmacist
    rph2: Pharmacist
    pat_a: Patient
    pat_b: Patient
    rma1: Authorization
    rma2: Authorization
    report_b: PregnancyReport

    def users(self) -> dict[str, User]:
        assert self.pat_a.user is not None
        return {
            "prescriber": self.dr_a.user, "designee": self.des_a.user,
            "pharmacist": self.rph1.user, "rsp": self.rsp1.user, "patient": self.pat_a.user,
            "staff": self.staff,
        }


def build_world(session: Session, clock: Any) -> World:
    clock.to("2026-03-02")
    dr_a, dr_b = f.prescriber(session, last_name="Alder"), f.prescriber(session, last_name="Birch")
    des_a, des_b = f.designee(session, dr_a), f.designee(session, dr_b)
    ph1, ph2 = f.pharmacy(session), f.pharmacy(session)
    rph1, rph2 = f.pharmacist(session, ph1), f.pharmacist(session, ph2)
    pat_a = f.patient(session, dr_a, first_name="Avery", last_name="Applewood")
    pat_b = f.patient(session, dr_b, first_name="Bailey", last_name="Bramblecot")
    for p in (pat_a, pat_b):
        f.enter_test(session, p)
    clock.forward(days=30)
    for p in (pat_a, pat_b):
        f.enter_test(session, p)
        f.complete_cycle(session, p)
    out_a, out_b = f.authorize(session, rph1, pat_a), f.authorize(session, rph2, pat_b)
    assert out_a.authorization
    assert out_b.authorization
    staff = f.staff(session)
    report = report_pregnancy(session, staff, pat_b,
            parse(PregnancyReportInput, reported_on=out_b.authorization.issued_on))
    session.flush()
    return World(staff, dr_a, dr_b, des_a, des_b, ph1, ph2, f.rsp_of(ph1), rph1, rph2, pat_a,
                 pat_b, out_a.authorization, out_b.authorization, report)


# The world is built once per module (by the real operations, in the module's transaction);
# each test runs in a SAVEPOINT of that transaction, rolled back at its end, and meets the
# world as built. A module whose tests commit for real (``committing_app``) overrides ``app``
# and ``world`` with per-test ones (``tests.harness.app_of_one_test``, ``build_world``): on
# SQLite a module's open transaction would hold the write lock those tests need.


@pytest.fixture(scope="module")
def _world_keys(shared_app: Shared) -> tuple[dict[str, int], datetime]:
    """Module-scoped, so pytest builds it before any test's own savepoint begins."""
    with shared_app.app.app_context():
        session = db.session()
        built = build_world(session, shared_app.clock)
        keys = {field.name: getattr(built, field.name).id for field in fields(World)}
        session.commit()  # into the module's transaction, undone at the module's end
    return keys, registry_clock.now()


@pytest.fixture
def app(shared_app: Shared) -> Iterator[Flask]:
    """The module's app; what the test does is rolled back at its end."""
    with shared_app.rolled_back():
        yield shared_app.app


@pytest.fixture
def world(_world_keys: tuple[dict[str, int], datetime], session: Session, clock: Any) -> World:
    keys, built_at = _world_keys
    clock.to(built_at)
    kinds = get_type_hints(World)
    return World(**{name: session.get_one(kinds[name], key) for name, key in keys.items()})


def login(client: FlaskClient, user: User, password: str = f.PASSWORD) -> Any:
    response = client.post("/login", data={"email": user.email, "password": password})
    assert response.status_code == 302, response.get_data(as_text=True)
    return response
