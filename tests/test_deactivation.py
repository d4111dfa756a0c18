"""Program staff deactivate a patient: the next request is denied and open RMAs are cancelled."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from registry.audit.models import AuditEntry
from registry.contract import parse
from registry.errors import NotFound, PermissionDenied, ValidationError
from registry.patients.operations import deactivate_patient
from registry.patients.schemas import Deactivation, NewRiskCategory
from tests import factories as f


def test_staff_deactivate_a_patient_with_an_open_authorization(session, clock):
    c = f.Counter(session, clock)
    dr, rph, p = c.prescriber, c.pharmacist, c.patient
    open_auth = f.authorize(session, rph, p).authorization
    boss = f.staff(session)

    with pytest.raises(PermissionDenied):  # the prescriber's designee may not
        deactivate_patient(session, f.designee(session, dr).user, p,
                           Deactivation(reason="moved away"))
    with pytest.raises(NotFound):  # another prescriber does not even see the patient
        deactivate_patient(session, f.prescriber(session).user, p,
                           Deactivation(reason="moved away"))
    with pytest.raises(ValidationError) as exc:
        deactivate_patient(session, boss, p, parse(Deactivation, {"reason": "  "}))
    assert "reason" in exc.value.errors

    deactivate_patient(session, boss, p, Deactivation(reason="Patient left the program"))

    assert p.status == "deactivated"
    assert open_auth.status == "cancelled"
    outcome = f.authorize(session, rph, p)
    assert [r["code"] for r in outcome.reasons] == ["PATIENT_NOT_ACTIVE"]
    tags = session.execute(
        select(AuditEntry.action).where(AuditEntry.user_id == boss.id).order_by(AuditEntry.id)
    ).scalars().all()
    # the issuing pharmacist and the pharmacy's RSP are alerted to the cancelled RMA
    assert tags[-4:] == ["authorization:cancel", "notification:queue", "notification:queue",
                         "patient:deactivate"]


def test_a_change_of_risk_category_cancels_the_open_authorization(session, clock):
    from registry.patients.operations import change_risk_category

    c = f.Counter(session, clock)
    open_auth = f.authorize(session, c.pharmacist, c.patient).authorization
    change_risk_category(session, c.prescriber.user, c.patient, NewRiskCategory(
        risk_category="cannot_get_pregnant", reason="Hysterectomy in March"))
    assert open_auth.status == "cancelled"
    tags = session.execute(
        select(AuditEntry.action).order_by(AuditEntry.id.desc()).limit(4)
    ).scalars().all()
    assert tags == ["notification:queue", "notification:queue", "authorization:cancel",
                    "patient:change_risk_category"]
