"""Sealing after a request commits, off the request's thread: one sealer per process.

A request that wrote audit entries wakes its process's sealer after its commit and answers
at once. The sealer (a daemon thread, started on first use in each process, so after
gunicorn's fork) seals everything committed so far in one transaction of its own, then
rests ``AUDIT_SEAL_INTERVAL_MS`` before it looks again. Under load one seal covers the
entries of many requests (each request used to run three statements and a commit of its
own for it, after its answer was ready); when idle, an entry is sealed a few milliseconds
after its commit.

Nothing here is needed for correctness: an entry left unsealed (the process ended, the
database was away) is sealed by the next seal in any process, by `registry worker` or by
`registry audit seal`, and `audit verify` flags one left longer than the grace period.
``AUDIT_SEAL_AFTER_COMMIT = "request"`` seals on the request's thread after its commit
instead, before the response is sent (the test suite's default: what a request wrote is
sealed when it returns).
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
import time

from flask import Flask

log = logging.getLogger("registry.audit")

class Sealer:
    """The process's background sealer for one app. ``wake()`` is cheap and never blocks."""

    def __init__(self, app: Flask) -> None:
        self._app = app
        self._changed = threading.Condition()
        self._asked = 0  # wakes so far
        self._done = 0  # wakes whose commits a completed seal has covered
        self._thread: threading.Thread | None = None
        self._pid = 0
        self.seals = 0  # completed seal transactions (for tests and the bench)

    def wake(self) -> None:
        """Ask for a seal of what is committed now (called after a commit)."""
        with self._changed:
            if self._thread is None or self._pid != os.getpid() or \
                    not self._thread.is_alive():
                self._pid = os.getpid()  # a forked child starts its own thread
                self._thread = threading.Thread(target=self._run, daemon=True,
                                                name="registry-audit-sealer")
                self._thread.start()
                # A worker that ends (gunicorn's max_requests, a restart) seals what it
                # committed first, for a moment; anything left is the worker's to seal.
                atexit.register(self.wait_idle, 2.0)
            self._asked += 1
            self._changed.notify_all()

    def wait_idle(self, timeout: float = 5.0) -> bool:
        """Until every seal asked for so far has run (tests; a clean shutdown)."""
        with self._changed:
            target = self._asked
            return self._changed.wait_for(lambda: self._done >= target, timeout)

    def _run(self) -> None:
        interval = max(0.0, float(self._app.config["AUDIT_SEAL_INTERVAL_MS"]) / 1000)
        while True:
            with self._changed:
                self._changed.wait_for(lambda: self._asked > self._done)
                target = self._asked
            # A seal that starts now sees every commit that woke the sealer before it.
            # When it does not complete (another process's sealer held the lock, or the
            # database was away), the same wakes are looked at again after the rest.
            if self._seal_once():
                with self._changed:
                    self._done = target
                    self._changed.notify_all()
            time.sleep(interval)

    def _seal_once(self) -> bool:
        from registry.audit.operations import seal

        try:
            with self._app.app_context():
                session = self._app.extensions["registry.sessionmaker"]()
                try:
                    sealed = seal(session, durable=False)
                    session.commit()
                finally:
                    session.close()
        except Exception:  # never let the thread die: the next round, or the worker, seals
            log.warning("audit: background seal failed; it will be tried again",
                        exc_info=True)
            time.sleep(1.0)
            return False
        if sealed is None:
            return False
        self.seals += 1
        return True


def sealer(app: Flask) -> Sealer:
    found: Sealer | None = app.extensions.get("registry.audit_sealer")
    if found is None:
        found = app.extensions.setdefault("registry.audit_sealer", Sealer(app))
    return found
