"""The check "is this address free?" spans users and patients, which no unique index does:
two transactions taking the same address run one at a time (an advisory lock on it)."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from registry import db
from registry.accounts.models import User
from registry.accounts.operations import ADDRESS_IN_USE
from registry.contract import parse
from registry.errors import ValidationError
from registry.models import Patient
from registry.patients.operations import register_patient
from registry.patients.schemas import PatientRegistration
from registry.prescribers.operations import enroll_prescriber
from registry.prescribers.schemas import PrescriberEnrollment
from tests import factories as f
from tests.races import NOT_POSTGRES, ON_POSTGRES, Txn, wait_until_blocked

pytestmark = [pytest.mark.postgres, pytest.mark.skipif(not ON_POSTGRES, reason=NOT_POSTGRES)]

EMAIL = "shared@example.org"


def _enroll(session: Session) -> Any:
    return enroll_prescriber(session, parse(
        PrescriberEnrollment, email=EMAIL, password=f.PASSWORD, first_name="Ada",
        last_name="Lee", npi=f.npi(), license_state="NY"))


def _register(dr_user_id: int) -> Any:
    def work(session: Session) -> Any:
        actor = session.get(User, dr_user_id)
        assert actor is not None
        return register_patient(session, actor, parse(
            PatientRegistration, first_name="Pat", last_name="Race", date_of_birth="1995-06-15",
            email=EMAIL.upper(), risk_category="cannot_get_pregnant",
            consent_signed_on="2026-03-02"))
    return work


def _counts(app: Flask) -> tuple[int, int]:
    with app.app_context():
        s = db.session()
        users = s.execute(select(func.count()).select_from(User).where(
            User.email == EMAIL)).scalar_one()
        patients = s.execute(select(func.count()).select_from(Patient).where(
            func.lower(Patient.email) == EMAIL)).scalar_one()
        return users, patients


def test_an_account_and_a_patient_cannot_both_take_an_address(committing_app: Flask,
                                                              clock: Any) -> None:
    clock.to("2026-03-02")
    with committing_app.app_context():
        dr_user = f.prescriber(db.session()).user_id
        db.commit_request()
    a = Txn(committing_app, _enroll, hold=True).hold()
    b = Txn(committing_app, _register(dr_user), hold=False).start()
    assert wait_until_blocked(committing_app, b) == "blocked"
    a.commit()
    a.finish()
    b.finish()
    assert a.error is None
    assert isinstance(b.error, ValidationError)
    assert "email" in b.error.errors
    assert _counts(committing_app) == (1, 0)


def test_a_patient_registered_first_keeps_the_address(committing_app: Flask,
                                                      clock: Any) -> None:
    clock.to("2026-03-02")
    with committing_app.app_context():
        dr_user = f.prescriber(db.session()).user_id
        db.commit_request()
    a = Txn(committing_app, _register(dr_user), hold=True).hold()
    b = Txn(committing_app, _enroll, hold=False).start()
    assert wait_until_blocked(committing_app, b) == "blocked"
    a.commit()
    a.finish()
    b.finish()
    assert a.error is None
    assert isinstance(b.error, ValidationError)
    assert b.error.errors == {"email": [ADDRESS_IN_USE]}
    assert _counts(committing_app) == (0, 1)
