"""`registry worker`: the long-running process for periodic jobs.

The loop is a small list of :class:`Job` s, each run every so many seconds in an
application context with a session of its own, committed at its end. A job that fails is
logged and retried at its next turn; it never stops the others. Today: seal the audit
chain, sign a checkpoint of its head (rules §10), deliver queued notifications
(registry.notifications.delivery), and once a day at REMINDER_HOUR queue the day's
reminders (registry.notifications.jobs).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from flask import Flask

from registry import db
from registry.notifications.jobs import DailyReminders

log = logging.getLogger("registry.worker")


@dataclass
class Job:
    name: str
    every_seconds: float
    run: Callable[[], None]
    next_at: float = 0.0


def seal_audit_chain() -> None:
    from registry.audit.operations import seal

    with db.unit_of_work() as session:
        count = seal(session)
    if count:
        log.info("audit: sealed %d entries", count)


def checkpoint_audit_chain() -> None:
    from registry.audit.checkpoints import write_checkpoint
    from registry.audit.operations import seal

    with db.unit_of_work() as session:
        seal(session)  # a checkpoint of the newest head there is
    with db.unit_of_work() as session:
        write_checkpoint(session)


def deliver_notifications() -> None:
    from registry.notifications.delivery import deliver_due

    report = deliver_due()
    if report.handled:
        log.info("notifications: %d sent, %d to retry, %d failed", report.sent,
                 report.retried, report.failed)


def default_jobs(app: Flask) -> list[Job]:
    return [
        Job("notifications", float(app.config["NOTIFY_DELIVERY_SECONDS"]),
            deliver_notifications),
        Job("audit-seal", float(app.config["AUDIT_SEAL_SECONDS"]), seal_audit_chain),
        Job("audit-checkpoint", float(app.config["AUDIT_CHECKPOINT_SECONDS"]),
            checkpoint_audit_chain),
        Job("reminders", float(app.config["REMINDER_CHECK_SECONDS"]),
            DailyReminders(int(app.config["REMINDER_HOUR"]))),
    ]


def run_job(app: Flask, job: Job) -> bool:
    """Run one job in an application context of its own; False (logged) when it failed."""
    with app.app_context():
        try:
            job.run()
            return True
        except Exception:
            log.exception("worker: job %s failed; retrying at its next turn", job.name)
            return False


def run(app: Flask, jobs: list[Job], *, once: bool = False,
        stop: threading.Event | None = None) -> bool:
    """Run every job when due; with ``once``, each job one time. True if none failed."""
    stop = stop or threading.Event()
    ok = True
    while True:
        now = time.monotonic()
        for job in jobs:
            if once or now >= job.next_at:
                ok = run_job(app, job) and ok
                job.next_at = time.monotonic() + job.every_seconds
        if once:
            return ok
        wait = max(0.0, min(job.next_at for job in jobs) - time.monotonic())
        if stop.wait(wait):
            return ok
