"""Two workers scanning the same day at once queue each reminder once (PostgreSQL)."""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Callable
from datetime import date
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from registry import db
from registry.audit.models import AuditEntry
from registry.notifications.jobs import ScanResult, remind_patients, run_reminders
from registry.notifications.models import Notification
from registry.notifications.reminders import Timing
from registry.params import current as current_params
from tests.races import NOT_POSTGRES, ON_POSTGRES, Txn, issue, wait_until_blocked, world

pytestmark = [pytest.mark.postgres, pytest.mark.skipif(not ON_POSTGRES, reason=NOT_POSTGRES)]


def _remind(patient_id: int, day: date) -> Callable[[Session], ScanResult]:
    def work(session: Session) -> ScanResult:
        result = ScanResult(day)
        remind_patients(session, [patient_id], day, current_params(), Timing(), result,
                        defaultdict(list))
        return result
    return work


def _counts(app: Flask) -> tuple[list[tuple[int, str, str]], int]:
    with app.app_context():
        session = db.session()
        rows = session.execute(select(
            Notification.recipient_id, Notification.kind, Notification.event_key)).all()
        audits = session.execute(select(func.count()).select_from(AuditEntry).where(
            AuditEntry.action == "notification:queue")).scalar_one()
        return [tuple(r) for r in rows], audits


def test_second_worker_waits_for_the_first_and_queues_nothing(committing_app: Flask,
                                                              clock: Any) -> None:
    w = world(committing_app, clock)  # window 2026-04-01 to 2026-04-07
    issue(committing_app, w)  # an RMA waiting, last day 2026-04-07
    clock.to("2026-04-06", hour=9)
    day = date(2026, 4, 6)
    a = Txn(committing_app, _remind(w["patient"], day), hold=True).hold()
    assert a.result.queued == {"reminder:pickup": 1}
    b = Txn(committing_app, _remind(w["patient"], day), hold=False).start()
    assert wait_until_blocked(committing_app, b) == "blocked"  # on the outbox's unique key
    a.commit()
    a.finish()
    result = b.finish()
    assert b.error is None, b.error
    assert dict(result.queued) == {}
    rows, audits = _counts(committing_app)
    assert [(kind, key) for _, kind, key in rows] == [("reminder:pickup", rows[0][2])]
    assert audits == 1


def test_two_whole_scans_at_once_queue_each_message_once(committing_app: Flask,
                                                         clock: Any) -> None:
    w = world(committing_app, clock)
    issue(committing_app, w)
    clock.to("2026-04-06", hour=9)
    errors: list[BaseException] = []
    start = threading.Barrier(2)

    def scan() -> None:
        try:
            with committing_app.app_context():
                start.wait(10)
                run_reminders(date(2026, 4, 6))
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=scan) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert errors == []
    rows, audits = _counts(committing_app)
    assert len(rows) == len(set(rows)) == audits
    assert sorted(kind for _, kind, _ in rows) == [
        "reminder:pickup", "reminder:prescriber_digest"]
    assert (w["dr_user"], "reminder:prescriber_digest", "digest:2026-04-06") in rows
