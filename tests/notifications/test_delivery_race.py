"""Two workers at once send each message once (FOR UPDATE SKIP LOCKED on PostgreSQL)."""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select

from registry import db
from registry.notifications.channels import Outgoing, SmtpTransport
from registry.notifications.delivery import DeliveryReport, deliver_due
from registry.notifications.models import Category, MessageStatus, Notification
from registry.notifications.operations import enqueue
from tests import factories as f
from tests.notifications.conftest import SmtpServer
from tests.races import TIMEOUT

MESSAGES = 120


class BothHoldClaims(SmtpTransport):
    """SMTP, but the first send waits until the other worker holds a claim too."""

    def __init__(self, config: Any, barrier: threading.Barrier) -> None:
        super().__init__(config)
        self.barrier = barrier
        self.waited = False

    def send(self, message: Outgoing) -> None:
        if not self.waited:
            self.waited = True
            self.barrier.wait(TIMEOUT)
        super().send(message)


@pytest.mark.postgres
def test_two_workers_send_each_message_once(committing_app: Flask, smtp_config: SmtpServer,
                                            clock: Any) -> None:
    app = committing_app
    clock.to("2026-03-02")
    with app.app_context(), db.unit_of_work() as session:
        users = [f.staff(session) for _ in range(4)]
        for n in range(MESSAGES):
            enqueue(session, users[n % 4], kind="alert:test", event_key=f"e{n}",
                    subject=f"S{n}", body="B", reason="R", category=Category.ALERT)
    barrier = threading.Barrier(2)
    reports: list[DeliveryReport] = []
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            with app.app_context():
                way = BothHoldClaims(app.config, barrier)
                reports.append(deliver_due(app, ways_out={"email": way}))
        except BaseException as exc:
            errors.append(exc)

    app.config["NOTIFY_BATCH"] = 10
    try:
        threads = [threading.Thread(target=worker) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(TIMEOUT * 3)
    finally:
        app.config["NOTIFY_BATCH"] = 50
    assert errors == []
    assert all(r.sent > 0 for r in reports), "both workers took part"
    assert sum(r.sent for r in reports) == MESSAGES
    counts = Counter(smtp_config.inbox.ids())
    assert len(counts) == MESSAGES
    assert max(counts.values()) == 1
    with app.app_context():
        statuses = db.session().execute(
            select(Notification.status, func.count()).group_by(Notification.status)).all()
        assert dict(statuses) == {MessageStatus.SENT.value: MESSAGES}
