"""Delivering the outbox: the `registry worker` job.

A run claims due messages in a short transaction (``FOR UPDATE SKIP LOCKED`` on
PostgreSQL, so several workers take disjoint batches; SQLite runs one writer at a time
anyway): each claimed message becomes ``sending`` with ``attempts + 1`` and a lease
(``next_attempt_at = now + NOTIFY_LEASE_SECONDS``). It is then sent with no transaction open,
and the result recorded in a transaction of its own, only if the claim is still the
worker's (same status and attempt count): ``sent``, or back to ``queued`` with an
exponential backoff, or ``failed`` after NOTIFY_MAX_ATTEMPTS (kept, never deleted).

A worker that dies between claiming and recording leaves ``sending`` rows whose lease
expires; they are claimed again. The one window for a second copy is a worker dying after
the SMTP server accepted a message and before its ``sent`` is committed (a few
milliseconds); SMTP itself promises no better.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from flask import Flask, current_app
from sqlalchemy import ColumnElement, and_, select, update
from sqlalchemy.orm import Session

from registry import clock, db
from registry.audit.operations import record
from registry.notifications.channels import DeliveryFailed, Outgoing, Transport, transports
from registry.notifications.models import Channel, MessageStatus, Notification

log = logging.getLogger("registry.notifications")

DUE = (MessageStatus.QUEUED.value, MessageStatus.SENDING.value)
MAX_BATCHES_PER_RUN = 40


@dataclass
class Claimed:
    message: Outgoing
    attempts: int


@dataclass
class DeliveryReport:
    sent: int = 0
    retried: int = 0
    failed: int = 0
    lost_claims: int = 0  # a claim another worker took over after the lease expired
    errors: list[str] = field(default_factory=list)

    @property
    def handled(self) -> int:
        return self.sent + self.retried + self.failed


def claim(session: Session, *, now: datetime, batch: int, lease: timedelta) -> list[Claimed]:
    """Take up to ``batch`` due messages for this worker (see the module docstring)."""
    rows = session.execute(
        select(Notification)
        .where(Notification.status.in_(DUE), Notification.next_attempt_at <= now,
               Notification.channel != Channel.IN_APP.value)
        .order_by(Notification.next_attempt_at, Notification.id)
        .limit(batch)
        .with_for_update(skip_locked=True)
        .execution_options(populate_existing=True)
    ).scalars().all()
    claimed = []
    for row in rows:
        row.status = MessageStatus.SENDING.value
        row.attempts += 1
        row.next_attempt_at = now + lease
        claimed.append(Claimed(Outgoing(
            id=row.id, channel=row.channel, address=row.address, subject=row.subject,
            body=row.body, body_html=row.body_html, lang=row.lang, kind=row.kind,
        ), row.attempts))
    session.flush()
    return claimed


def backoff(attempts: int, config: dict[str, object] | None = None) -> timedelta:
    """Wait NOTIFY_RETRY_SECONDS after the first failure, twice that after the second..."""
    cfg = config or current_app.config
    base = float(cfg["NOTIFY_RETRY_SECONDS"])  # type: ignore[arg-type]
    cap = float(cfg["NOTIFY_RETRY_MAX_SECONDS"])  # type: ignore[arg-type]
    return timedelta(seconds=min(cap, base * 2 ** max(0, attempts - 1)))


def _still_ours(claimed: Claimed) -> ColumnElement[bool]:
    return and_(Notification.id == claimed.message.id,
                Notification.status == MessageStatus.SENDING.value,
                Notification.attempts == claimed.attempts)


def record_sent(session: Session, claimed: Claimed) -> bool:
    now = clock.now()
    values: dict[str, object] = {"status": MessageStatus.SENT.value, "sent_at": now,
                                 "last_error": None}
    secret = session.execute(select(Notification.secret).where(
        Notification.id == claimed.message.id)).scalar()
    if secret:  # the one-time link leaves the database with the message
        values.update(body="(one-time link removed after delivery)", body_html=None,
                      link=None)
    result = session.execute(update(Notification).where(_still_ours(claimed)).values(**values))
    if not getattr(result, "rowcount", 0):
        return False
    record(session, None, "notification:send", "notification", claimed.message.id,
           after={"status": "sent", "attempts": claimed.attempts, "channel":
                  claimed.message.channel, "sent_at": now.isoformat()})
    return True


def record_failure(session: Session, claimed: Claimed, error: DeliveryFailed) -> str | None:
    """Back to the queue with a backoff, or ``failed`` for good; None if no longer ours."""
    now = clock.now()
    give_up = error.permanent or claimed.attempts >= int(current_app.config["NOTIFY_MAX_ATTEMPTS"])
    status = MessageStatus.FAILED if give_up else MessageStatus.QUEUED
    result = session.execute(update(Notification).where(_still_ours(claimed)).values(
        status=status.value, last_error=str(error)[:500],
        next_attempt_at=now if give_up else now + backoff(claimed.attempts)))
    if not getattr(result, "rowcount", 0):
        return None
    if give_up:
        record(session, None, "notification:fail", "notification", claimed.message.id,
               after={"status": "failed", "attempts": claimed.attempts,
                      "error": str(error)[:500]})
    return status.value


def deliver_due(app: Flask | None = None, *, max_batches: int = MAX_BATCHES_PER_RUN,
                ways_out: dict[str, Transport] | None = None) -> DeliveryReport:
    """Claim and send due messages, batch after batch, until none is due (or max_batches)."""
    app = app or current_app._get_current_object()  # type: ignore[attr-defined]
    report = DeliveryReport()
    batch = int(app.config["NOTIFY_BATCH"])
    lease = timedelta(seconds=int(app.config["NOTIFY_LEASE_SECONDS"]))
    ways_out = ways_out if ways_out is not None else transports(app)
    opened: dict[str, Transport] = {}
    try:
        for _ in range(max_batches):
            with db.unit_of_work() as session:
                claimed = claim(session, now=clock.now(), batch=batch, lease=lease)
            if not claimed:
                break
            for item in claimed:
                _deliver_one(item, ways_out, opened, report)
            if len(claimed) < batch:
                break
    finally:
        for transport in opened.values():
            transport.__exit__(None, None, None)
    return report


def _deliver_one(item: Claimed, ways_out: dict[str, Transport], opened: dict[str, Transport],
                 report: DeliveryReport) -> None:
    channel = item.message.channel
    try:
        transport = opened.get(channel)
        if transport is None:
            if channel not in ways_out:
                raise DeliveryFailed(f"No transport for the {channel} channel.", permanent=True)
            transport = ways_out[channel].__enter__()
            opened[channel] = transport
        transport.send(item.message)
    except DeliveryFailed as error:
        with db.unit_of_work() as session:
            outcome = record_failure(session, item, error)
        if outcome is None:
            report.lost_claims += 1
        elif outcome == MessageStatus.FAILED.value:
            report.failed += 1
        else:
            report.retried += 1
        report.errors.append(str(error))
        log.warning("notification %s not delivered (attempt %d): %s", item.message.id,
                    item.attempts, error)
        return
    with db.unit_of_work() as session:
        if record_sent(session, item):
            report.sent += 1
        else:
            report.lost_claims += 1
