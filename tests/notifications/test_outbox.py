"""The outbox: a message is queued in the caller's transaction, at most once per event."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from registry.audit.models import AuditEntry
from registry.notifications.models import Category, Channel, MessageStatus, Notification
from registry.notifications.operations import (
    enqueue,
    enqueue_mail,
    listed_messages,
    mark_read,
    set_reminders,
    unread_count,
)
from tests import factories as f


def _queue(session: Session, user: Any, **kw: Any) -> Notification | None:
    options: dict[str, Any] = {"kind": "reminder:test_day", "event_key": "cycle:1:2026-03-02",
                               "subject": "Your test day", "body": "Take your test today.",
                               "reason": "You are in the program.", "link": "/me"}
    options.update(kw)
    return enqueue(session, user, **options)


def test_enqueue_writes_one_queued_message_and_its_audit_entry(session: Session,
                                                               clock: Any) -> None:
    clock.to("2026-03-02")
    staff = f.staff(session)
    message = _queue(session, staff)
    assert message is not None
    assert (message.status, message.channel, message.attempts) == ("queued", "email", 0)
    assert message.address == staff.email
    assert message.next_attempt_at == message.created_at
    entry = session.execute(select(AuditEntry).where(
        AuditEntry.action == "notification:queue")).scalar_one()
    assert entry.subject_id == str(message.id)
    assert entry.after is not None
    assert entry.after["kind"] == "reminder:test_day"


def test_the_same_event_is_queued_once(session: Session, clock: Any) -> None:
    clock.to("2026-03-02")
    staff = f.staff(session)
    assert _queue(session, staff) is not None
    assert _queue(session, staff, subject="again") is None
    assert _queue(session, staff, event_key="cycle:1:2026-03-03") is not None
    count = session.execute(select(func.count()).select_from(Notification)).scalar_one()
    assert count == 2
    audits = session.execute(select(func.count()).select_from(AuditEntry).where(
        AuditEntry.action == "notification:queue")).scalar_one()
    assert audits == 2


def test_reminders_off_skips_reminders_but_not_safety_alerts(session: Session,
                                                             clock: Any) -> None:
    clock.to("2026-03-02")
    staff = f.staff(session)
    set_reminders(session, staff, False)
    assert _queue(session, staff) is None
    alert = _queue(session, staff, kind="alert:pregnancy", category=Category.ALERT,
                   safety=True)
    assert alert is not None
    assert alert.safety
    assert session.execute(select(AuditEntry.after).where(
        AuditEntry.action == "user:preferences")).scalar_one() == {"reminders_enabled": False}


def test_in_app_list_unread_count_and_mark_read(session: Session, clock: Any) -> None:
    clock.to("2026-03-02")
    staff, other = f.staff(session), f.staff(session)
    first = _queue(session, staff, channel=Channel.IN_APP)
    assert first is not None
    assert first.status == MessageStatus.SENT
    _queue(session, staff, event_key="e2")
    _queue(session, staff, kind="account:password_reset", event_key="r1",
           category=Category.ACCOUNT, secret=True)
    _queue(session, other, event_key="e3")
    assert [m.event_key for m in listed_messages(session, staff)] == ["e2", first.event_key]
    assert unread_count(session, staff) == 2
    assert mark_read(session, staff, first.id) == 1
    assert unread_count(session, staff) == 1
    assert mark_read(session, staff) == 1
    assert unread_count(session, staff) == 0
    assert unread_count(session, other) == 1


def test_enqueue_mail_renders_the_template(session: Session, clock: Any) -> None:
    clock.to("2026-03-02")
    staff = f.staff(session)
    message = enqueue_mail(session, staff, "test_message", kind="alert:test",
                           event_key="x", reason="Because this is a test.",
                           category=Category.ALERT, link="http://app/here")
    assert message is not None
    assert message.subject == f"Hello {staff.first_name}"
    assert "Because this is a test." in message.body
    assert "http://app/here" in message.body
    assert message.body_html is not None
    assert "<a href=\"http://app/here\">" in message.body_html
