"""Reminders: each on its day, once (the job run twice, and the next day), opt-out honoured."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from registry.audit.models import AuditEntry
from registry.contract import parse
from registry.notifications.jobs import DailyReminders, run_reminders, useful_test_offsets
from registry.notifications.models import Notification
from registry.notifications.operations import set_reminders
from registry.params import current as current_params
from registry.patients.schemas import TreatmentEnding
from registry.pregnancies.schemas import PregnancyReportInput
from tests import factories as f


def queued(session: Session, kind: str, recipient_id: int | None = None) -> list[Notification]:
    query = select(Notification).where(Notification.kind == kind)
    if recipient_id is not None:
        query = query.where(Notification.recipient_id == recipient_id)
    return list(session.execute(query.order_by(Notification.id)).scalars())


def run_on(clock: Any, day: str, hour: int = 9) -> None:
    clock.to(day, hour=hour)
    run_reminders()


def enrolled(session: Session, clock: Any, start: str = "2026-03-02") -> dict[str, Any]:
    """A patient screened on ``start`` (contraception from that day), with a prescriber and
    a pharmacy; the confirmation test is not in yet."""
    clock.to(start)
    dr = f.prescriber(session)
    ph = f.pharmacy(session)
    rph = f.pharmacist(session, ph)
    p = f.patient(session, dr)
    f.enter_test(session, p)
    return {"dr": dr, "pharmacy": ph, "rph": rph, "patient": p}


def test_confirmation_test_day_on_its_first_day_only_once(session: Session, clock: Any) -> None:
    w = enrolled(session, clock)
    p = w["patient"]
    # screening 2026-03-02 + 19 days, contraception 2026-03-02 + 30 days: 2026-04-01
    run_on(clock, "2026-03-31")
    assert queued(session, "reminder:test_day") == []
    run_on(clock, "2026-04-01")
    run_on(clock, "2026-04-01", hour=15)
    messages = queued(session, "reminder:test_day")
    assert [(m.recipient_id, m.event_key) for m in messages] == [
        (p.user_id, f"test-day:{p.id}:2026-04-01")]
    message = messages[0]
    assert "Wed 1 Apr 2026" in message.body
    assert "Why you got this:" in message.body
    assert message.link == "http://127.0.0.1:8000/me/"
    assert message.safety is False
    assert message.category == "reminder"
    run_on(clock, "2026-04-02")
    assert len(queued(session, "reminder:test_day")) == 1
    entry = session.execute(select(AuditEntry).where(
        AuditEntry.action == "notification:queue",
        AuditEntry.subject_id == str(message.id))).scalar_one()
    assert entry.after is not None
    assert entry.after["kind"] == "reminder:test_day"


def _first_window_without_patient_steps(session: Session, clock: Any) -> dict[str, Any]:
    w = enrolled(session, clock)
    clock.to("2026-04-01")
    f.enter_test(session, w["patient"])  # the window: 2026-04-01 to 2026-04-07
    f.counsel(session, w["patient"])  # the patient's questions and contraception stay open
    return w


def test_window_closing_two_days_before_its_last_day(session: Session, clock: Any) -> None:
    w = _first_window_without_patient_steps(session, clock)
    p = w["patient"]
    run_on(clock, "2026-04-04")
    assert queued(session, "reminder:window_closing") == []
    run_on(clock, "2026-04-05")
    run_on(clock, "2026-04-05")
    run_on(clock, "2026-04-06")
    messages = queued(session, "reminder:window_closing")
    assert len(messages) == 1
    cycle_id = messages[0].event_key.removeprefix("window-closing:")
    assert messages[0].recipient_id == p.user_id
    assert messages[0].event_key == f"window-closing:{int(cycle_id)}"
    assert "comprehension questions" in messages[0].body
    assert "contraception" in messages[0].body
    assert "Tue 7 Apr 2026" in messages[0].subject


def test_no_window_reminder_when_the_patient_has_nothing_left(session: Session,
                                                              clock: Any) -> None:
    w = _first_window_without_patient_steps(session, clock)
    f.pass_questions(session, w["patient"])
    f.attest(session, w["patient"])
    run_on(clock, "2026-04-05")
    assert queued(session, "reminder:window_closing") == []


def test_prescriber_digest_lists_closing_windows_once_a_day(session: Session,
                                                            clock: Any) -> None:
    w = _first_window_without_patient_steps(session, clock)
    dr, p = w["dr"], w["patient"]
    run_on(clock, "2026-04-04")
    assert queued(session, "reminder:prescriber_digest") == []
    run_on(clock, "2026-04-05")
    run_on(clock, "2026-04-05", hour=20)
    digests = queued(session, "reminder:prescriber_digest", dr.user_id)
    assert [m.event_key for m in digests] == ["digest:2026-04-05"]
    assert p.registry_id in digests[0].body
    assert "window closes Tue 7 Apr 2026" in digests[0].body
    assert "answers this month's comprehension questions" in digests[0].body
    assert digests[0].link == "http://127.0.0.1:8000/prescriber/"
    run_on(clock, "2026-04-07")
    run_on(clock, "2026-04-08")  # the window is over: nothing more to chase in it
    assert [m.event_key for m in queued(session, "reminder:prescriber_digest", dr.user_id)] == [
        "digest:2026-04-05", "digest:2026-04-07"]


def _dispensed_first_prescription(session: Session, clock: Any) -> dict[str, Any]:
    w = enrolled(session, clock)
    clock.to("2026-04-01")
    f.enter_test(session, w["patient"])
    f.complete_cycle(session, w["patient"])
    w["outcome"] = f.authorize(session, w["rph"], w["patient"])
    assert w["outcome"].authorization is not None
    return w


def test_pickup_reminder_the_day_before_the_rmas_last_day(session: Session,
                                                          clock: Any) -> None:
    w = _dispensed_first_prescription(session, clock)
    auth = w["outcome"].authorization  # do not dispense after 2026-04-07
    run_on(clock, "2026-04-05")
    assert queued(session, "reminder:pickup") == []
    run_on(clock, "2026-04-06")
    run_on(clock, "2026-04-07")
    messages = queued(session, "reminder:pickup")
    assert [(m.recipient_id, m.event_key) for m in messages] == [
        (w["patient"].user_id, f"pickup:{auth.id}")]
    assert "Tue 7 Apr 2026" in messages[0].body


def test_no_pickup_reminder_once_dispensed(session: Session, clock: Any) -> None:
    w = _dispensed_first_prescription(session, clock)
    f.dispense(session, w["rph"], w["outcome"])
    run_on(clock, "2026-04-06")
    assert queued(session, "reminder:pickup") == []


def test_monthly_test_day_follows_the_last_dispense(session: Session, clock: Any) -> None:
    w = _dispensed_first_prescription(session, clock)
    f.dispense(session, w["rph"], w["outcome"], days=30)
    # 30 days' supply dispensed 2026-04-01: next authorization from 2026-04-24 (supply - 7),
    # so a specimen is useful from 2026-04-18 (a 7-day window reaching that day).
    run_on(clock, "2026-04-17")
    assert queued(session, "reminder:test_day") == []
    run_on(clock, "2026-04-18")
    run_on(clock, "2026-04-19")
    messages = queued(session, "reminder:test_day", w["patient"].user_id)
    assert [m.event_key for m in messages] == [f"test-day:{w['patient'].id}:2026-04-18"]


def test_useful_test_offsets_come_from_the_rules() -> None:
    offsets = useful_test_offsets(current_params())
    assert 17 in offsets
    assert 30 in offsets[17]
    assert offsets[-6] == [1, 2, 3, 4, 5, 6, 7]  # a short supply: useful before the dispense


def test_reminders_off_are_not_queued(session: Session, clock: Any) -> None:
    w = _first_window_without_patient_steps(session, clock)
    assert w["patient"].user is not None
    set_reminders(session, w["patient"].user, enabled=False)
    set_reminders(session, w["dr"].user, enabled=False)
    run_on(clock, "2026-04-05")
    assert queued(session, "reminder:window_closing") == []
    assert queued(session, "reminder:prescriber_digest") == []


def test_pharmacy_reminded_the_day_after_an_unpicked_rma_under_2026(session: Session,
                                                                    clock: Any) -> None:
    w = enrolled(session, clock, start="2026-09-01")
    clock.to("2026-10-01")
    f.enter_test(session, w["patient"])
    f.complete_cycle(session, w["patient"])
    auth = f.authorize(session, w["rph"], w["patient"]).authorization
    assert auth is not None
    assert auth.do_not_dispense_after == date(2026, 10, 7)
    run_on(clock, "2026-10-07")
    assert queued(session, "reminder:rma_not_picked_up") == []
    run_on(clock, "2026-10-08")
    run_on(clock, "2026-10-08")
    run_on(clock, "2026-10-09")
    messages = queued(session, "reminder:rma_not_picked_up")
    rsp = f.rsp_of(w["pharmacy"])
    assert sorted(m.recipient_id for m in messages) == sorted([w["rph"].user_id, rsp.user_id])
    assert {m.event_key for m in messages} == {f"rma-not-picked-up:{auth.id}"}
    assert messages[0].link == f"http://127.0.0.1:8000/pharmacy/authorizations/{auth.rma}"
    assert auth.rma in messages[0].subject


def test_no_pharmacy_reminder_under_2021(session: Session,
                                                          clock: Any) -> None:
    _dispensed_first_prescription(session, clock)  # rule set 2021 in April 2026
    run_on(clock, "2026-04-08")
    assert queued(session, "reminder:rma_not_picked_up") == []


def test_attestations_expiring_in_the_digest(session: Session, clock: Any) -> None:
    clock.to("2026-01-10")
    dr = f.prescriber(session)  # attested 2026-01-10: active through 2027-01-09
    designee = f.designee(session, dr)
    run_on(clock, "2026-12-10")  # 31 days before 2027-01-10, the first day it has lapsed
    assert queued(session, "reminder:prescriber_digest") == []
    run_on(clock, "2026-12-11")  # 30 days before (rules: attestation_reminder_days)
    run_on(clock, "2026-12-12")
    digests = queued(session, "reminder:prescriber_digest", dr.user_id)
    assert [m.event_key for m in digests] == ["digest:2026-12-11", "digest:2026-12-12"]
    assert "Your own: attestation expires after Sat 9 Jan 2027" in digests[0].body
    assert f"Your designee {designee.name}: attestation expires" in digests[0].body


def test_post_treatment_test_due_in_the_digest_and_to_the_patient(session: Session,
                                                                  clock: Any) -> None:
    from registry.patients.operations import end_treatment

    w = _dispensed_first_prescription(session, clock)
    f.dispense(session, w["rph"], w["outcome"], days=30)
    clock.to("2026-04-20")
    end_treatment(session, w["dr"].user, w["patient"], parse(
            TreatmentEnding, last_dose_on="2026-04-20"))
    f.enter_test(session, w["patient"])  # end-of-treatment test
    # the post-treatment test is due 30 days after the last dose: 2026-05-20
    run_on(clock, "2026-05-19")
    assert queued(session, "reminder:prescriber_digest") == []
    assert queued(session, "reminder:test_day") == []
    run_on(clock, "2026-05-20")
    digest = queued(session, "reminder:prescriber_digest", w["dr"].user_id)
    assert [m.event_key for m in digest] == ["digest:2026-05-20"]
    assert "post-treatment pregnancy test due (from Wed 20 May 2026)" in digest[0].body
    tests_due = queued(session, "reminder:test_day", w["patient"].user_id)
    assert [m.event_key for m in tests_due] == [f"test-day:{w['patient'].id}:2026-05-20"]


def test_daily_job_waits_for_the_hour_in_the_program_time_zone(session: Session,
                                                               clock: Any) -> None:
    w = enrolled(session, clock)
    job = DailyReminders(hour=8)
    clock.to("2026-04-01", hour=7)  # 07:00 in New York (11:00 UTC)
    job()
    assert queued(session, "reminder:test_day") == []
    clock.to("2026-04-01", hour=8)
    job()
    assert len(queued(session, "reminder:test_day", w["patient"].user_id)) == 1
    assert job.done_on == date(2026, 4, 1)


def test_the_worker_mails_the_reminder_with_why_and_where(app: Any, session: Session,
                                                          clock: Any, smtp_config: Any) -> None:
    from registry.notifications.delivery import deliver_due
    from registry.worker import default_jobs, run

    w = _first_window_without_patient_steps(session, clock)
    clock.to("2026-04-05", hour=9)
    jobs = [j for j in default_jobs(app) if j.name in ("reminders", "notifications")]
    assert run(app, jobs, once=True)  # queue the day's reminders
    deliver_due(app)
    to_patient = [m for m in smtp_config.inbox.messages if m["To"] == w["patient"].email]
    [mail] = [m for m in to_patient if "window closes" in m["Subject"]]
    assert mail["Subject"] == "Your prescription window closes on Tue 7 Apr 2026"
    text = smtp_config.inbox.text(mail)
    assert "- Answer this month's comprehension questions." in text
    assert "- Enter your contraception methods." in text
    assert "http://127.0.0.1:8000/me/" in text
    assert "Why you got this: Your window closes in 2 days with steps still open." in text
    [digest] = [m for m in smtp_config.inbox.messages if m["To"] == w["dr"].user.email]
    assert digest["Subject"] == "Registry digest for Sun 5 Apr 2026: 1 item"
    assert w["patient"].registry_id in smtp_config.inbox.text(digest)


def test_no_test_day_reminder_while_a_pregnancy_is_reported(session: Session,
                                                            clock: Any) -> None:
    from registry.pregnancies.operations import report_pregnancy

    w = _dispensed_first_prescription(session, clock)
    f.dispense(session, w["rph"], w["outcome"], days=30)
    clock.to("2026-04-10")
    report_pregnancy(session, w["dr"].user, w["patient"], parse(
            PregnancyReportInput, reported_on="2026-04-10"))
    run_on(clock, "2026-04-18")  # the test day it would have been
    assert queued(session, "reminder:test_day") == []
    assert queued(session, "reminder:prescriber_digest") == []


def test_reminders_command_scans_a_given_day_once(app: Any, session: Session,
                                                  clock: Any) -> None:
    w = _first_window_without_patient_steps(session, clock)
    runner = app.test_cli_runner()
    result = runner.invoke(args=["reminders", "--day", "2026-04-05"])
    assert result.exit_code == 0, result.output
    assert "Reminders for 2026-04-05:" in result.output
    assert "1 reminder:window_closing" in result.output
    assert len(queued(session, "reminder:window_closing", w["patient"].user_id)) == 1
    again = runner.invoke(args=["reminders", "--day", "2026-04-05"])
    assert "queued nothing new" in again.output
    bad = runner.invoke(args=["reminders", "--day", "5 April"])
    assert bad.exit_code == 2
    assert "--day" in bad.output
