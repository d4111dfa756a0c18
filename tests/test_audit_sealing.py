"""The audit log is append-only in the database, written without a lock, sealed afterwards
(rules §10): the app's connection cannot change or remove entries; writers never wait on
each other; sealers chain what is committed in the order it became visible; checkpoints
are signed with a key outside the database; `registry worker` does both periodically."""

from __future__ import annotations

import itertools
import json
import logging
import stat
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import func, insert, select, text, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from registry import clock, db
from registry.audit.checkpoints import (
    Checkpoint,
    checkpoint_path,
    load_public_key,
    read_checkpoints,
    signing_key_path,
    write_checkpoint,
)
from registry.audit.models import AuditEntry
from registry.audit.operations import GENESIS, SEALER_LOCK, record, seal, verify_chain
from registry.worker import Job, default_jobs, run
from tests import factories as f


def _some_entries(session, n=3):
    return [session.get(AuditEntry, record(session, None, "pharmacy:test", "pharmacy", i))
            for i in range(n)]


def _refused(session, statement, params=None):
    with pytest.raises(DBAPIError) as exc, session.begin_nested():
        session.execute(statement, params or {})
    assert "append-only" in str(exc.value)


def _pg(session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


# --- append-only, enforced by the database ------------------------------------------------


def test_the_apps_connection_cannot_update_or_delete_entries(session):
    _some_entries(session)
    seal(session)
    unsealed = session.get(AuditEntry, record(session, None, "pharmacy:test", "pharmacy", 9))
    before = session.execute(select(func.count(AuditEntry.id))).scalar_one()
    _refused(session, update(AuditEntry).values(role="staff"))
    _refused(session, update(AuditEntry).where(AuditEntry.id == unsealed.id)
             .values(action="patient:nothing"))
    _refused(session, text("DELETE FROM audit_entries"))
    _refused(session, text("DELETE FROM audit_entries WHERE id = :id"), {"id": unsealed.id})
    if _pg(session):
        _refused(session, text("TRUNCATE audit_entries"))
    session.expire_all()
    assert session.execute(select(func.count(AuditEntry.id))).scalar_one() == before
    assert session.get(AuditEntry, unsealed.id).action == "pharmacy:test"


def test_sealing_is_the_one_update_allowed_and_only_once(session):
    entry = _some_entries(session, 1)[0]
    # sealing that also changes the content: refused
    _refused(session, update(AuditEntry).where(AuditEntry.id == entry.id)
             .values(seq=10_000, prev_hash=GENESIS, hash="f" * 64, role="staff"))
    # half a seal: refused
    _refused(session, update(AuditEntry).where(AuditEntry.id == entry.id).values(seq=10_000))
    assert seal(session) >= 1
    # re-sealing a sealed entry (re-chaining it): refused
    _refused(session, update(AuditEntry).where(AuditEntry.id == entry.id)
             .values(prev_hash=GENESIS, hash="e" * 64))


def test_an_entry_cannot_be_inserted_already_sealed(session):
    _refused(session, insert(AuditEntry).values(
        occurred_at=clock.now(),
        role="system", action="patient:waive", subject_type="patient", subject_id="1",
        seq=999_999, prev_hash=GENESIS, hash="a" * 64))


# --- unchained writes, sealing ---------------------------------------------------------------


def test_record_writes_unsealed_and_seal_chains_in_id_order(session):
    entries = _some_entries(session, 4)
    assert all(e.seq is None and e.hash is None for e in entries)
    head_seq = session.execute(select(func.max(AuditEntry.seq))).scalar_one() or 0
    assert seal(session) == session.execute(
        select(func.count(AuditEntry.id)).where(AuditEntry.id >= entries[0].id)).scalar_one()
    seqs = [e.seq for e in entries]
    assert seqs == list(range(head_seq + 1, head_seq + 5))
    for a, b in itertools.pairwise(entries):
        assert b.prev_hash == a.hash
    assert seal(session) == 0  # nothing left
    assert verify_chain(session).ok


def test_unsealed_entries_show_on_the_staff_page_and_api(app, session, clock):
    from tests.web.conftest import login

    clock.to("2026-03-02")
    staff = f.staff(session)
    entry_id = record(session, staff, "pharmacy:test", "pharmacy", 7)
    client = app.test_client()
    login(client, staff)
    page = client.get("/staff/audit?action=pharmacy:test").get_data(as_text=True)
    assert f'<td data-label="#">{entry_id}</td>' in page


def test_a_command_seals_after_its_commit(app, session):
    result = app.test_cli_runner().invoke(args=[
        "admin", "create", "--email", "seal@example.org", "--password", "a-long-password-1"])
    assert result.exit_code == 0, result.output
    created = session.execute(select(AuditEntry).where(
        AuditEntry.action == "staff:create").order_by(AuditEntry.id.desc())).scalars().first()
    assert created is not None
    session.refresh(created)
    assert created.seq is not None
    assert created.hash is not None
    assert session.execute(select(func.count(AuditEntry.id))
                           .where(AuditEntry.seq.is_(None))).scalar_one() == 0


def test_audit_seal_command(app, session):
    _some_entries(session, 2)
    out = app.test_cli_runner().invoke(args=["audit", "seal"]).output
    assert "Sealed 2 audit entries." in out


def _pg_only(app):
    engine = app.extensions["registry.engine"]
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite serializes every writer by design (BEGIN IMMEDIATE)")
    return engine


def test_two_writers_do_not_wait_on_each_other(committing_app):
    engine = _pg_only(committing_app)
    with committing_app.app_context(), Session(engine) as a, Session(engine) as b:
        first_id = record(a, None, "pharmacy:test", "pharmacy", 1)  # a's transaction stays open
        b.execute(text("SET LOCAL lock_timeout = '1s'"))
        second_id = record(b, None, "pharmacy:test", "pharmacy", 2)  # would time out if it waited
        b.commit()
        # The sealer seals what it can see: b's entry, not a's uncommitted one.
        with Session(engine) as sealer:
            assert seal(sealer) == 1
            sealer.commit()
        a.commit()
        with Session(engine) as sealer:
            assert seal(sealer) == 1
            sealer.commit()
        with Session(engine) as s:
            got = {e.id: e for e in s.execute(select(AuditEntry)).scalars()}
            # sealed in the order they became visible, not the order of their ids
            assert got[second_id].seq == 1
            assert got[first_id].seq == 2
            assert got[first_id].prev_hash == got[second_id].hash
            assert verify_chain(s).ok


def test_a_sealer_never_waits_for_another(committing_app):
    engine = _pg_only(committing_app)
    with committing_app.app_context(), Session(engine) as holder, Session(engine) as other:
        record(other, None, "pharmacy:test", "pharmacy", 1)
        other.commit()
        holder.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": SEALER_LOCK})
        other.execute(text("SET LOCAL lock_timeout = '1s'"))
        assert seal(other) is None  # skipped at once, no error
        other.rollback()
        holder.rollback()
        assert seal(other) == 1
        other.commit()


def test_requests_seal_after_their_commit(committing_app, clock):
    clock.to("2026-03-02")
    with committing_app.app_context(), db.unit_of_work() as s:
        staff = f.staff(s)
        email = staff.email
    client = committing_app.test_client()
    response = client.post("/api/v1/tokens", json={"email": email, "password": f.PASSWORD})
    assert response.status_code == 201
    with committing_app.app_context():
        s = db.session()
        assert s.execute(select(func.count(AuditEntry.id))).scalar_one() >= 1
        assert s.execute(select(func.count(AuditEntry.id))
                         .where(AuditEntry.seq.is_(None))).scalar_one() == 0
        assert verify_chain(s).ok


# --- checkpoints and the worker ----------------------------------------------------------------


def test_checkpoint_is_signed_with_a_key_outside_the_database(app, session, caplog):
    _some_entries(session, 2)
    seal(session)
    key_file = signing_key_path()
    with caplog.at_level(logging.INFO, logger="registry.audit.checkpoint"):
        cp = write_checkpoint(session)
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert str(key_file).startswith(str(Path(app.config["AUDIT_SIGNING_KEY_FILE"]).parent))
    head = session.execute(select(AuditEntry).order_by(AuditEntry.seq.desc())).scalars().first()
    assert (cp.count, cp.head_hash) == (head.seq, head.hash)
    line = json.loads(checkpoint_path().read_text().splitlines()[-1])
    assert set(line) == {"count", "head_hash", "time", "key_id", "signature"}
    assert Checkpoint(**line) == cp
    public = load_public_key(key_file)
    assert isinstance(public, Ed25519PublicKey)
    good, bad = read_checkpoints(checkpoint_path(), public)
    assert good == [cp]
    assert bad == []
    assert any(cp.head_hash in r.getMessage() for r in caplog.records)


def test_audit_checkpoint_command_seals_then_signs(app, session):
    _some_entries(session, 2)
    out = app.test_cli_runner().invoke(args=["audit", "checkpoint"]).output
    head = session.execute(select(func.max(AuditEntry.seq))).scalar_one()
    assert f"Checkpoint: {head} entries" in out
    assert json.loads(checkpoint_path().read_text())["count"] == head


def test_worker_once_seals_and_writes_a_checkpoint(app, session):
    _some_entries(session, 2)
    result = app.test_cli_runner().invoke(args=["worker", "--once"])
    assert result.exit_code == 0, result.output
    assert "audit-seal every 5s, audit-checkpoint every 60s" in result.output
    assert session.execute(select(func.count(AuditEntry.id))
                           .where(AuditEntry.seq.is_(None))).scalar_one() == 0
    head = session.execute(select(func.max(AuditEntry.seq))).scalar_one()
    assert json.loads(checkpoint_path().read_text().splitlines()[-1])["count"] == head


def test_worker_keeps_going_when_a_job_fails(app, caplog):
    ran = []

    def broken():
        raise RuntimeError("boom")

    jobs = [Job("broken", 60, broken), Job("fine", 60, lambda: ran.append(1))]
    with caplog.at_level(logging.ERROR, logger="registry.worker"):
        assert run(app, jobs, once=True) is False
    assert ran == [1]
    assert "job broken failed" in caplog.text
    assert [j.name for j in default_jobs(app)] == [
        "notifications", "audit-seal", "audit-checkpoint", "reminders"]


def test_a_failed_seal_after_commit_never_fails_the_committed_work(app, session, monkeypatch,
                                                                   caplog):
    from sqlalchemy.exc import OperationalError

    from registry.accounts.models import User
    from registry.audit import operations

    def broken(*args, **kwargs):
        raise OperationalError("SELECT pg_try_advisory_xact_lock(1)", {}, Exception("gone"))

    monkeypatch.setattr(operations, "seal", broken)
    with caplog.at_level(logging.WARNING, logger="registry.audit"):
        result = app.test_cli_runner().invoke(args=[
            "admin", "create", "--email", "unsealed@example.org",
            "--password", "a-long-password-1"])
    assert result.exit_code == 0, result.output
    assert session.execute(select(User).where(User.email == "unsealed@example.org")
                           ).scalar_one()
    entry = session.execute(select(AuditEntry).where(AuditEntry.action == "staff:create")
                            .order_by(AuditEntry.id.desc())).scalars().first()
    assert entry.seq is None  # left for the worker
    assert "sealing after commit failed" in caplog.text
