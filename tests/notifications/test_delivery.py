"""`registry worker` delivers the outbox through a real SMTP server, retries, never twice."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from registry import clock as registry_clock
from registry.audit.models import AuditEntry
from registry.notifications.channels import FolderTransport
from registry.notifications.delivery import claim, deliver_due, record_sent
from registry.notifications.models import Category, Channel, MessageStatus, Notification
from registry.notifications.operations import enqueue
from tests import factories as f
from tests.notifications.conftest import SmtpServer


def _queue(session: Session, user: Any, key: str = "e1", **kw: Any) -> Notification:
    options: dict[str, Any] = {"kind": "alert:test", "event_key": key,
                               "subject": f"Subject {key}", "body": f"Body {key}\nLine two.",
                               "reason": "A test.", "category": Category.ALERT}
    options.update(kw)
    message = enqueue(session, user, **options)
    assert message is not None
    return message


def _audit(session: Session, action: str, message: Notification) -> list[AuditEntry]:
    return list(session.execute(select(AuditEntry).where(
        AuditEntry.action == action, AuditEntry.subject_id == str(message.id))).scalars())


def test_the_worker_sends_a_queued_message_over_smtp(app: Flask, session: Session, clock: Any,
                                                     smtp_config: SmtpServer) -> None:
    clock.to("2026-03-02")
    staff = f.staff(session)
    message = _queue(session, staff, body_html="<p>Body e1</p>")
    report = deliver_due(app)
    assert (report.sent, report.retried, report.failed) == (1, 0, 0)
    [mail] = smtp_config.inbox.messages
    assert mail["To"] == staff.email
    assert mail["Subject"] == "Subject e1"
    assert mail["X-Registry-Notification"] == str(message.id)
    assert smtp_config.inbox.text(mail).startswith("Body e1\nLine two.")
    html = mail.get_body(("html",))
    assert html is not None
    session.refresh(message)
    assert message.status == MessageStatus.SENT
    assert message.attempts == 1
    assert message.sent_at == registry_clock.now()
    assert len(_audit(session, "notification:send", message)) == 1
    assert deliver_due(app).handled == 0  # nothing due: never sent twice
    assert len(smtp_config.inbox.messages) == 1


def test_a_refused_delivery_is_retried_with_backoff_and_nothing_is_lost(
        app: Flask, session: Session, clock: Any, smtp_config: SmtpServer) -> None:
    clock.to("2026-03-02")
    staff = f.staff(session)
    message = _queue(session, staff)
    smtp_config.inbox.refuse = 2
    start = registry_clock.now()
    assert deliver_due(app).retried == 1
    session.refresh(message)
    assert (message.status, message.attempts) == ("queued", 1)
    assert message.last_error is not None
    assert "451" in message.last_error
    assert message.next_attempt_at == start + timedelta(seconds=60)
    assert deliver_due(app).handled == 0  # not due yet
    clock.to(start + timedelta(seconds=60))
    assert deliver_due(app).retried == 1
    session.refresh(message)
    assert message.next_attempt_at == start + timedelta(seconds=60 + 120)  # twice as long
    clock.to(start + timedelta(seconds=180))
    assert deliver_due(app).sent == 1
    session.refresh(message)
    assert (message.status, message.attempts, message.last_error) == ("sent", 3, None)
    assert smtp_config.inbox.ids() == [message.id]


def test_a_server_that_is_down_is_retried(app: Flask, session: Session, clock: Any,
                                         smtp_config: SmtpServer) -> None:
    clock.to("2026-03-02")
    message = _queue(session, f.staff(session))
    app.config["MAIL_PORT"] = 1  # nothing listens there
    assert deliver_due(app).retried == 1
    session.refresh(message)
    assert message.status == "queued"
    assert "Connection" in (message.last_error or "")
    app.config["MAIL_PORT"] = smtp_config.port
    clock.to(registry_clock.now() + timedelta(minutes=1))
    assert deliver_due(app).sent == 1
    assert smtp_config.inbox.ids() == [message.id]


def test_gives_up_after_the_last_attempt_and_keeps_the_message(
        app: Flask, session: Session, clock: Any, smtp_config: SmtpServer) -> None:
    clock.to("2026-03-02")
    message = _queue(session, f.staff(session))
    smtp_config.inbox.refuse = 100
    app.config["NOTIFY_MAX_ATTEMPTS"] = 3
    try:
        for _ in range(3):
            deliver_due(app)
            clock.to(registry_clock.now() + timedelta(hours=2))
    finally:
        app.config["NOTIFY_MAX_ATTEMPTS"] = 8
    session.refresh(message)
    assert (message.status, message.attempts) == ("failed", 3)
    [entry] = _audit(session, "notification:fail", message)
    assert entry.after is not None
    assert entry.after["attempts"] == 3
    assert deliver_due(app).handled == 0


def test_a_permanent_refusal_fails_at_once(app: Flask, session: Session, clock: Any,
                                           smtp_config: SmtpServer) -> None:
    clock.to("2026-03-02")
    message = _queue(session, f.staff(session))
    smtp_config.inbox.refuse = 1
    smtp_config.inbox.refuse_with = "550 5.1.1 No such mailbox"
    assert deliver_due(app).failed == 1
    session.refresh(message)
    assert (message.status, message.attempts) == ("failed", 1)


def test_a_one_time_link_leaves_the_database_once_delivered(
        app: Flask, session: Session, clock: Any, smtp_config: SmtpServer) -> None:
    clock.to("2026-03-02")
    message = _queue(session, f.staff(session), body="Reset: http://x/reset/SECRET",
                     link="http://x/reset/SECRET", secret=True, category=Category.ACCOUNT)
    deliver_due(app)
    assert "SECRET" in smtp_config.inbox.text(smtp_config.inbox.messages[0])
    session.refresh(message)
    assert "SECRET" not in message.body
    assert message.link is None


def test_in_app_messages_are_not_sent_by_email(app: Flask, session: Session, clock: Any,
                                               smtp_config: SmtpServer) -> None:
    clock.to("2026-03-02")
    _queue(session, f.staff(session), channel=Channel.IN_APP)
    assert deliver_due(app).handled == 0
    assert smtp_config.inbox.messages == []


def test_an_expired_claim_is_taken_over_and_the_first_worker_does_not_record_it(
        app: Flask, session: Session, clock: Any, smtp_config: SmtpServer) -> None:
    """A worker that stalls past its lease loses the message to another one: the message is
    sent by the second, and the first one's late result changes nothing."""
    clock.to("2026-03-02")
    message = _queue(session, f.staff(session))
    [stalled] = claim(session, now=registry_clock.now(), batch=10, lease=timedelta(minutes=5))
    assert claim(session, now=registry_clock.now(), batch=10, lease=timedelta(minutes=5)) == []
    clock.to(registry_clock.now() + timedelta(minutes=6))
    assert deliver_due(app).sent == 1
    assert record_sent(session, stalled) is False
    session.refresh(message)
    assert (message.status, message.attempts) == ("sent", 2)
    assert len(_audit(session, "notification:send", message)) == 1


def test_without_smtp_mail_goes_to_the_folder(app: Flask, session: Session, clock: Any,
                                              tmp_path: Path) -> None:
    clock.to("2026-03-02")
    message = _queue(session, f.staff(session))
    folder = tmp_path / "mail"
    report = deliver_due(app, ways_out={"email": FolderTransport(folder, "r@example.org")})
    assert report.sent == 1
    [eml] = list(folder.glob("*.eml"))
    assert f"X-Registry-Notification: {message.id}" in eml.read_text()
