"""`registry audit verify --full` split across worker processes (registry.audit.segments):
on an intact chain the segments' verdict is the single walk's, and whatever is wrong
(edited, removed, reordered, renumbered, rewritten) sends the walk back to one process,
which names it exactly as before. Committed chains: the workers read their own
connections."""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from multiprocessing import forkserver, resource_tracker
from typing import Any

import pytest
from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from registry import db
from registry.audit import segments
from registry.audit.checkpoints import write_checkpoint
from registry.audit.models import AuditEntry
from registry.audit.operations import (
    GENESIS,
    CheckpointRef,
    entry_hash,
    record,
    seal,
    verify_chain,
)
from tests.harness import audit_triggers_bypassed

ENTRIES = 120


@pytest.fixture
def chain(committing_app: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[list[Any]]:
    """A committed chain of ENTRIES entries, long enough to split (threshold lowered)."""
    monkeypatch.setattr(segments, "PARALLEL_FROM", 10)
    with committing_app.app_context():
        with db.unit_of_work() as session:
            for i in range(ENTRIES):
                record(session, None, "pharmacy:test", "pharmacy", i,
                       after={"n": i, "name": f"Pharmacie n\u00b0{i}", "rate": i / 3})
        with db.unit_of_work() as session:
            seal(session)
        rows = db.session().execute(select(AuditEntry.id, AuditEntry.seq, AuditEntry.hash)
                                    .order_by(AuditEntry.seq)).all()
        db.rollback_request()
        yield rows


def _tamper(change: Any) -> None:
    engine = db.engine()
    with engine.begin() as conn, audit_triggers_bypassed(conn):
        change(conn)


def _walk(workers: int, checkpoints: Sequence[CheckpointRef] = (), **kw: Any) -> Any:
    try:
        return verify_chain(db.session(), checkpoints, workers=workers, **kw)
    finally:
        db.rollback_request()


@pytest.fixture
def spied(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """What each parallel attempt returned (None: it handed back to the single walk)."""
    seen: list[Any] = []
    original = segments.walk_in_parallel

    def spy(*args: Any, **kw: Any) -> Any:
        seen.append(original(*args, **kw))
        return seen[-1]

    monkeypatch.setattr(segments, "walk_in_parallel", spy)
    return seen


def test_an_intact_chain_is_walked_in_segments_with_the_same_verdict(committing_app, chain,
                                                                      spied):
    with committing_app.app_context():
        head = chain[-1]
        checkpoints = [CheckpointRef(40, chain[39].hash, "t1"),
                       CheckpointRef(ENTRIES, head.hash, "t2")]
        single = _walk(1, checkpoints)
        split = _walk(3, checkpoints)
        assert spied == [(ENTRIES, ENTRIES)]
        assert (split.checked, split.head_seq, split.findings) == (ENTRIES, ENTRIES, [])
        assert (single.checked, single.head_seq, single.findings) == (ENTRIES, ENTRIES, [])
        # from a starting checkpoint: only what follows it is split and walked
        after = _walk(2, [checkpoints[0]], start=checkpoints[0])
        assert spied[-1] == (ENTRIES - 40, ENTRIES)
        assert (after.checked, after.head_seq, after.findings) == (ENTRIES - 40, ENTRIES, [])
        # What the end of each test process does (tests/harness.py): the fork server and
        # the resource tracker are stopped and reaped, not left to outlive the process.
        started = [forkserver._forkserver._forkserver_pid,  # type: ignore[attr-defined]
                   resource_tracker._resource_tracker._pid]  # type: ignore[attr-defined]
        assert all(started), started
        segments.stop_fork_server()
        for pid in started:
            with pytest.raises(ChildProcessError):  # exited and already waited for
                os.waitpid(pid, os.WNOHANG)
        again = _walk(3, checkpoints)  # the next walk starts them again
        assert spied[-1] == (ENTRIES, ENTRIES)
        assert (again.checked, again.findings) == (ENTRIES, [])


def test_segments_join_where_the_walk_would(committing_app, chain):
    """Each segment ends exactly at its bound and starts from the hash stored there."""
    with committing_app.app_context():
        url = db.engine().url.render_as_string(hide_password=False)
        first = segments.walk_segment(url, 0, GENESIS, 60, [40])
        assert (first.clean, first.checked, first.last_seq, first.heads) == (
            True, 60, 60, {40: chain[39].hash})
        second = segments.walk_segment(url, 60, None, None, [], batch=7)
        assert (second.clean, second.checked, second.last_seq) == (True, ENTRIES - 60, ENTRIES)
        assert not segments.walk_segment(url, 0, "f" * 64, 60, []).clean  # wrong start
        assert not segments.walk_segment(url, 0, GENESIS, ENTRIES + 5, []).clean  # too short
        assert not segments.walk_segment(url, ENTRIES + 5, None, None, []).clean  # no start


def _move_seq(conn: Any, row: Any, seq: int) -> None:
    conn.execute(update(AuditEntry).where(AuditEntry.id == row.id).values(seq=seq))


TAMPERING = {
    "edited": lambda rows: lambda conn: conn.execute(
        update(AuditEntry).where(AuditEntry.id == rows[70].id).values(subject_id="999")),
    "removed": lambda rows: lambda conn: conn.execute(
        delete(AuditEntry).where(AuditEntry.id == rows[30].id)),
    "renumbered": lambda rows: lambda conn: [
        _move_seq(conn, r, r.seq + 1000) for r in reversed(rows[90:])],
    "reordered": lambda rows: lambda conn: [
        _move_seq(conn, rows[50], -1), _move_seq(conn, rows[51], rows[50].seq),
        _move_seq(conn, rows[50], rows[51].seq)],
}


@pytest.mark.parametrize("kind", TAMPERING)
def test_tampering_found_by_a_segment_is_named_by_the_single_walk(committing_app, chain,
                                                                   spied, kind):
    with committing_app.app_context():
        checkpoints = [CheckpointRef(ENTRIES, chain[-1].hash, "t")]
        _tamper(TAMPERING[kind](chain))
        single = _walk(1, checkpoints)
        split = _walk(2, checkpoints)
        assert spied == [None]
        assert single.findings, kind
        assert split.findings == single.findings
        assert (split.checked, split.head_seq) == (single.checked, single.head_seq)


def test_a_truncated_chain_is_whole_in_segments_and_short_of_its_checkpoint(
        committing_app, chain, spied):
    """The last entries removed: what is left is intact (the segments say so), and the
    checkpoint beyond its end names the truncation, the same as after the single walk."""
    with committing_app.app_context():
        checkpoints = [CheckpointRef(ENTRIES, chain[-1].hash, "t")]
        _tamper(lambda conn: conn.execute(delete(AuditEntry).where(
            AuditEntry.seq > ENTRIES - 3)))
        single = _walk(1, checkpoints)
        split = _walk(2, checkpoints)
        assert spied == [(ENTRIES - 3, ENTRIES - 3)]
        assert {f.kind for f in single.findings} == {"truncated"}
        assert split.findings == single.findings


def test_a_rewritten_chain_is_caught_by_the_checkpoints(committing_app, chain, spied):
    """Rehashed from seq 80 on: every link holds, only the signed head differs."""
    with committing_app.app_context():
        signed = [CheckpointRef(ENTRIES, chain[-1].hash, "t")]

        def rewrite(conn: Any) -> None:
            session = Session(bind=conn)
            prev = chain[78].hash
            for e in session.execute(select(AuditEntry).where(AuditEntry.seq >= 80)
                                     .order_by(AuditEntry.seq)).scalars():
                e.subject_id = f"x{e.seq}"
                e.prev_hash = prev
                e.hash = prev = entry_hash(prev, e)
            session.flush()

        _tamper(rewrite)
        single = _walk(1, signed)
        split = _walk(2, signed)
        assert spied == [None]
        assert {f.kind for f in single.findings} == {"rewritten"}
        assert split.findings == single.findings


def test_the_command_line_splits_a_long_full_walk(committing_app, chain, spied):
    with committing_app.app_context(), db.unit_of_work() as session:
        write_checkpoint(session)
    result = committing_app.test_cli_runner().invoke(
        args=["audit", "verify", "--full", "--workers", "2"])
    assert result.exit_code == 0, result.output
    assert f"{ENTRIES} sealed entries checked, 1 signed checkpoints" in result.output
    assert spied == [(ENTRIES, ENTRIES)]
    one = committing_app.test_cli_runner().invoke(
        args=["audit", "verify", "--full", "--workers", "1"])
    assert one.exit_code == 0, one.output
    assert spied == [(ENTRIES, ENTRIES)]  # not asked to split: no second attempt

