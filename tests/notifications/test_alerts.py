"""Safety alerts: queued at once, in the transaction of their cause, and never turned off."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from registry.compliance.operations import record_compliance_action
from registry.compliance.schemas import ComplianceActionInput
from registry.contract import parse
from registry.errors import ValidationError
from registry.notifications.models import Notification
from registry.notifications.operations import set_reminders
from registry.pregnancies.models import PregnancyReport
from registry.pregnancies.operations import report_pregnancy
from registry.pregnancies.schemas import PregnancyReportInput
from tests import factories as f


def alerts(session: Session, kind: str) -> list[Notification]:
    return list(session.execute(select(Notification).where(Notification.kind == kind)
                                .order_by(Notification.id)).scalars())


def _issued(session: Session, clock: Any) -> tuple[f.Counter, Any]:
    counter = f.Counter(session, clock)
    outcome = f.authorize(session, counter.pharmacist, counter.patient)
    assert outcome.authorization is not None
    return counter, outcome.authorization


def test_positive_test_alerts_prescriber_and_staff_and_cancels_the_rma_to_the_pharmacy(
        session: Session, clock: Any) -> None:
    counter, auth = _issued(session, clock)
    staff = f.staff(session)
    set_reminders(session, counter.prescriber.user, enabled=False)  # alerts still go
    f.enter_test(session, counter.patient, result="positive")
    report = session.execute(select(PregnancyReport)).scalar_one()

    pregnancy = alerts(session, "alert:pregnancy_reported")
    assert sorted(m.recipient_id for m in pregnancy) == sorted(
        [counter.prescriber.user_id, staff.id])
    assert {m.event_key for m in pregnancy} == {f"pregnancy-report:{report.id}"}
    assert all(m.safety and m.category == "alert" for m in pregnancy)
    to_dr = next(m for m in pregnancy if m.recipient_id == counter.prescriber.user_id)
    assert "positive pregnancy test" in to_dr.body
    assert to_dr.link == f"http://127.0.0.1:8000/patients/{counter.patient.registry_id}"
    to_staff = next(m for m in pregnancy if m.recipient_id == staff.id)
    assert to_staff.link == f"http://127.0.0.1:8000/staff/pregnancies/{report.id}"

    cancelled = alerts(session, "alert:rma_cancelled")
    rsp = f.rsp_of(counter.pharmacy)
    assert sorted(m.recipient_id for m in cancelled) == sorted(
        [counter.pharmacist.user_id, rsp.user_id])
    assert {m.event_key for m in cancelled} == {f"rma-cancelled:{auth.id}"}
    assert "Do not dispense" in cancelled[0].body
    assert "pregnancy reported" in cancelled[0].body
    assert all(m.safety for m in cancelled)


def test_a_reported_pregnancy_alerts_at_once(session: Session, clock: Any) -> None:
    counter = f.Counter(session, clock)
    assert counter.patient.user is not None
    report = report_pregnancy(session, counter.patient.user, counter.patient, parse(
            PregnancyReportInput, reported_on="2026-04-01"))
    [to_dr] = alerts(session, "alert:pregnancy_reported")
    assert to_dr.recipient_id == counter.prescriber.user_id
    assert to_dr.event_key == f"pregnancy-report:{report.id}"
    assert "A pregnancy was reported" in to_dr.body
    assert "Why you got this:" in to_dr.body


def test_a_refused_report_alerts_nobody(session: Session, clock: Any) -> None:
    counter = f.Counter(session, clock)
    assert counter.patient.user is not None
    with pytest.raises(ValidationError):
        report_pregnancy(session, counter.patient.user, counter.patient, parse(
                PregnancyReportInput, reported_on="2099-01-01"))
    assert alerts(session, "alert:pregnancy_reported") == []


def test_suspension_alerts_the_person_suspended(session: Session, clock: Any) -> None:
    clock.to("2026-03-02")
    staff = f.staff(session)
    dr = f.prescriber(session)
    set_reminders(session, dr.user, enabled=False)
    action = record_compliance_action(session, staff, parse(
            ComplianceActionInput, subject_type="prescriber", subject_id=dr.id, action="suspension",
            reason="Audit findings", until="2026-04-01"))
    [message] = alerts(session, "alert:suspended")
    assert message.recipient_id == dr.user_id
    assert message.event_key == f"suspension:{action.id}"
    assert message.safety
    assert "suspended until Wed 1 Apr 2026" in message.body
    assert "Audit findings" in message.body


def test_pharmacy_suspension_alerts_its_responsible_pharmacist(session: Session,
                                                               clock: Any) -> None:
    clock.to("2026-03-02")
    staff = f.staff(session)
    ph = f.pharmacy(session)
    f.pharmacist(session, ph)
    action = record_compliance_action(session, staff, parse(
            ComplianceActionInput, subject_type="pharmacy", subject_id=ph.id, action="deactivation",
            reason="Closed"))
    messages = alerts(session, "alert:suspended")
    assert [(m.recipient_id, m.event_key) for m in messages] == [
        (f.rsp_of(ph).user_id, f"deactivation:{action.id}")]
    assert "been deactivated" in messages[0].body


def test_a_notice_is_no_alert(session: Session, clock: Any) -> None:
    clock.to("2026-03-02")
    staff = f.staff(session)
    dr = f.prescriber(session)
    record_compliance_action(session, staff, parse(
            ComplianceActionInput, subject_type="prescriber", subject_id=dr.id, action="notice",
            reason="Reminder of the rules"))
    assert alerts(session, "alert:suspended") == []
