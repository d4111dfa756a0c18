"""The served default: a request's audit entries are sealed by its process's sealer thread
after the commit (registry/audit/sealer.py), not before the answer; one seal covers the
entries of every request that committed while the previous seal ran; a sealer that meets
another process's seal looks again; a command still seals before it ends."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from registry import create_app, db
from registry.audit import operations
from registry.audit.models import AuditEntry
from registry.audit.operations import SEALER_LOCK, record, verify_chain
from registry.audit.sealer import sealer
from tests.harness import TEST_CONFIG


@pytest.fixture
def served(committing_app: Flask, database_url: str, tmp_path: Path) -> Iterator[Flask]:
    """An app of its own in the served mode, on the test database (emptied afterwards by
    ``committing_app``), with a route that writes ``n`` audit entries and commits."""
    app = create_app({**TEST_CONFIG, "DATABASE_URL": database_url,
                      "AUDIT_SEAL_AFTER_COMMIT": "background", "AUDIT_SEAL_INTERVAL_MS": 0,
                      "AUDIT_CHECKPOINT_FILE": str(tmp_path / "checkpoints.jsonl")})

    @app.post("/_write/<int:n>")
    def write(n: int) -> str:
        session = db.session()
        for i in range(n):
            record(session, None, "pharmacy:test", "pharmacy", i)
        return "written"

    yield app
    sealer(app).wait_idle()
    app.extensions["registry.engine"].dispose()


@pytest.fixture
def gate(monkeypatch: pytest.MonkeyPatch) -> Iterator[threading.Event]:
    """Seals wait until the gate opens (set); ``gate.entered`` is set when one is waiting."""
    opened = threading.Event()
    entered = threading.Event()
    real = operations.seal

    def held(session: Session, **kwargs: object) -> int | None:
        entered.set()
        assert opened.wait(10), "the test never opened the gate"
        return real(session, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(operations, "seal", held)
    opened.entered = entered  # type: ignore[attr-defined]
    yield opened
    opened.set()


def _unsealed(app: Flask) -> int:
    with Session(app.extensions["registry.engine"]) as s:
        return s.execute(select(func.count(AuditEntry.id))
                         .where(AuditEntry.seq.is_(None))).scalar_one()


def _written(app: Flask) -> int:
    with Session(app.extensions["registry.engine"]) as s:
        return s.execute(select(func.count(AuditEntry.id))
                         .where(AuditEntry.action == "pharmacy:test")).scalar_one()


def test_the_answer_does_not_wait_for_the_seal(served, gate):
    response = served.test_client().post("/_write/3")
    assert response.status_code == 200
    assert gate.entered.wait(5)  # the sealer was woken by the commit ...
    assert _written(served) == 3  # ... and the answer came back before it sealed
    assert _unsealed(served) == 3
    gate.set()
    assert sealer(served).wait_idle()
    assert _unsealed(served) == 0
    with served.app_context(), Session(served.extensions["registry.engine"]) as s:
        assert verify_chain(s).ok


def test_one_seal_covers_every_request_that_committed_while_the_last_one_ran(served, gate):
    client = served.test_client()
    assert client.post("/_write/1").status_code == 200
    assert gate.entered.wait(5)  # the first seal is under way (held at the gate)
    with ThreadPoolExecutor(max_workers=4) as pool:
        answers = list(pool.map(lambda _: served.test_client().post("/_write/2"), range(8)))
    assert [a.status_code for a in answers] == [200] * 8
    assert _unsealed(served) == 17
    gate.set()
    assert sealer(served).wait_idle()
    assert _unsealed(served) == 0
    # The held seal, which saw all 17 entries, and one more for the 8 wakes that came
    # while it was held (nothing left for it): not one seal per request.
    assert sealer(served).seals == 2
    with served.app_context(), Session(served.extensions["registry.engine"]) as s:
        assert verify_chain(s).ok


def test_a_sealer_that_meets_another_seal_looks_again(served):
    engine = served.extensions["registry.engine"]
    if engine.dialect.name != "postgresql":
        pytest.skip("on SQLite a seal is a write and waits its turn for the database lock")
    with engine.connect() as other:
        other.execute(text("SELECT pg_advisory_lock(:k)"), {"k": SEALER_LOCK})
        try:
            assert served.test_client().post("/_write/2").status_code == 200
            assert not sealer(served).wait_idle(timeout=0.3)  # still trying, lock held
            assert _unsealed(served) == 2
        finally:
            other.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": SEALER_LOCK})
            other.commit()
    assert sealer(served).wait_idle()
    assert _unsealed(served) == 0


def test_a_command_seals_before_it_ends(served):
    with served.app_context():
        result = served.test_cli_runner().invoke(args=[
            "admin", "create", "--email", "sealed-now@example.org",
            "--password", "a-long-password-1"])
    assert result.exit_code == 0, result.output
    assert _unsealed(served) == 0
    assert sealer(served).seals == 0  # on the command's own thread, not the sealer's
