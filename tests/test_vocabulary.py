"""One vocabulary: the models store the words of registry/rules/vocabulary.py, read them
back as those enums, and refuse any other word before the database sees it (and the
database's CHECK constraint refuses it too)."""

from __future__ import annotations

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError, StatementError

from registry.patients.models import Patient, PatientStatus, RiskCategory
from registry.rules import vocabulary
from tests import factories as f


def test_enums_are_importable_from_where_they_were():
    from registry.accounts.models import Role
    from registry.authorizations.models import AuthorizationStatus
    from registry.compliance.models import ComplianceActionKind, ComplianceSubject
    from registry.cycles.models import CycleKind
    from registry.pregnancies.models import (
        PregnancyOutcome,
        PregnancyTestPurpose,
        PregnancyTestResult,
        PregnancyTestSetting,
    )

    assert RiskCategory is vocabulary.RiskCategory
    assert PatientStatus is vocabulary.PatientStatus
    assert Role is vocabulary.Role
    assert AuthorizationStatus is vocabulary.AuthorizationStatus
    assert CycleKind is vocabulary.CycleKind
    assert ComplianceSubject is vocabulary.ComplianceSubject
    assert ComplianceActionKind is vocabulary.ComplianceActionKind
    assert PregnancyOutcome is vocabulary.PregnancyOutcome
    assert PregnancyTestResult is vocabulary.PregnancyTestResult
    assert PregnancyTestSetting is vocabulary.PregnancyTestSetting
    assert PregnancyTestPurpose is vocabulary.PregnancyTestPurpose


def test_words_are_read_back_as_the_vocabulary(session, clock):
    prescriber = f.prescriber(session)
    patient = f.patient(session, prescriber)
    f.enter_test(session, patient)
    session.expire_all()
    stored = session.get(Patient, patient.id)
    assert stored is not None
    assert stored.status is PatientStatus.ACTIVE
    assert stored.risk_category is RiskCategory.CAN_GET_PREGNANT
    raw = session.execute(text("SELECT status FROM patients WHERE id = :id"),
                          {"id": patient.id}).scalar_one()
    assert raw == "active"
    assert type(raw) is str


def test_a_word_outside_the_vocabulary_is_refused_before_the_database(session):
    prescriber = f.prescriber(session)
    patient = f.patient(session, prescriber)
    patient.status = "actve"  # type: ignore[assignment]
    with pytest.raises(StatementError, match="actve"):
        session.flush()
    session.rollback()
    assert session.execute(
        select(Patient.id).where(Patient.id == patient.id)
    ).scalar_one_or_none() is None


@pytest.mark.parametrize(("table", "column"), [
    ("patients", "risk_category"),
    ("risk_category_changes", "to_category"),  # checked since migration 0006
])
def test_the_database_refuses_it_too(session, table, column):
    prescriber = f.prescriber(session)
    patient = f.patient(session, prescriber)
    key = "id" if table == "patients" else "patient_id"
    with pytest.raises(IntegrityError, match=f"ck_{table}_{column}|CHECK"):
        # names from the parameters above, not from input
        session.execute(text(f"UPDATE {table} SET {column} = 'maybe' WHERE {key} = :id"),  # noqa: S608
                        {"id": patient.id})
