"""What `registry audit verify` finds (rules §10): tampering done as an attacker who owns
the database would (triggers bypassed, see tests.harness.tampering), checked against the
chain and the signed checkpoints kept outside the database."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import func, insert, select, text, update

from registry.audit.checkpoints import (
    checkpoint_path,
    load_or_create_signing_key,
    make_checkpoint,
    write_checkpoint,
)
from registry.audit.models import AuditEntry
from registry.audit.operations import GENESIS as GENESIS_HASH
from registry.audit.operations import entry_hash, record, seal, verify_chain
from tests import factories as f
from tests.harness import tampering


def _history(session, clock):
    c = f.Counter(session, clock)
    f.dispense(session, c.pharmacist, f.authorize(session, c.pharmacist, c.patient))
    seal(session)
    return session.execute(select(AuditEntry).order_by(AuditEntry.seq)).scalars().all()


def _verify(app, *args):
    """`registry audit verify --full` (the whole walk) unless the test asks for a mode."""
    mode = [] if {"--full", "--since-last-checkpoint"} & set(args) else ["--full"]
    result = app.test_cli_runner().invoke(args=["audit", "verify", *mode, *args])
    return result.exit_code, result.output


def _kinds(output: str) -> set[str]:
    return {line.strip()[1:].split("]")[0] for line in output.splitlines()
            if line.strip().startswith("[")}


def _rechain_from(session, seq: int) -> None:
    """Recompute every hash from ``seq`` on, as an attacker covering an edit would."""
    prev = session.execute(select(AuditEntry.hash).where(AuditEntry.seq == seq - 1)
                           ).scalar_one_or_none() or "0" * 64
    for e in session.execute(select(AuditEntry).where(AuditEntry.seq >= seq)
                             .order_by(AuditEntry.seq)).scalars():
        e.prev_hash = prev
        e.hash = prev = entry_hash(prev, e)
    session.flush()


def test_clean_chain_with_checkpoints_is_intact(app, session, clock):
    _history(session, clock)
    write_checkpoint(session)
    record(session, None, "pharmacy:test", "pharmacy", 1)  # after the checkpoint, unsealed
    code, out = _verify(app)
    assert code == 0, out
    assert "Audit chain intact" in out
    assert "1 signed checkpoints, 1 unsealed entries" in out


def test_edited_entry(app, session, clock):
    entries = _history(session, clock)
    write_checkpoint(session)
    target = entries[7]
    with tampering(session):
        session.execute(update(AuditEntry).where(AuditEntry.id == target.id)
                        .values(subject_id="999"))
    code, out = _verify(app)
    assert code == 1
    assert f"[edited] entry {target.id} (seq {target.seq}): its content does not match" in out


def test_removed_entry(app, session, clock):
    entries = _history(session, clock)
    gone, after = entries[5], entries[6]
    gone_id, gone_seq = gone.id, gone.seq
    with tampering(session):
        session.execute(text("DELETE FROM audit_entries WHERE id = :id"), {"id": gone_id})
    code, out = _verify(app)
    assert code == 1
    assert (f"[removed] entry {after.id} (seq {after.seq}): its link to the previous entry is "
            f"broken: 1 entry before it (seq {gone_seq}) removed") in out


def test_removed_entry_with_later_entries_renumbered(app, session, clock):
    entries = _history(session, clock)
    gone_id, gone_seq, after_id = entries[5].id, entries[5].seq, entries[6].id
    with tampering(session):
        session.execute(text("DELETE FROM audit_entries WHERE id = :id"), {"id": gone_id})
        session.execute(text("UPDATE audit_entries SET seq = -seq WHERE seq > :s"),
                        {"s": gone_seq})
        session.execute(text("UPDATE audit_entries SET seq = -seq - 1 WHERE seq < 0"))
    code, out = _verify(app)
    assert code == 1
    assert _kinds(out) == {"removed"}
    assert f"entry {after_id} (seq {gone_seq}): its link to the previous entry is broken" in out


def test_reordered_entry(app, session, clock):
    entries = _history(session, clock)
    (a, a_seq), (b, b_seq) = (entries[3].id, entries[3].seq), (entries[4].id, entries[4].seq)
    with tampering(session):  # b now comes before a
        session.execute(update(AuditEntry).where(AuditEntry.id == a).values(seq=-1))
        session.execute(update(AuditEntry).where(AuditEntry.id == b).values(seq=a_seq))
        session.execute(update(AuditEntry).where(AuditEntry.id == a).values(seq=b_seq))
    code, out = _verify(app)
    assert code == 1
    assert _kinds(out) == {"reordered"}
    assert f"entry {b} (seq {a_seq}): its link to the previous entry is broken: it was " \
           f"moved, it follows entry {a} (seq {b_seq})" in out


def test_inserted_entry(app, session, clock):
    entries = _history(session, clock)
    k = entries[5]  # forge an entry right after this one
    nxt_id, nxt_seq = entries[6].id, entries[6].seq
    forged = AuditEntry(occurred_at=k.occurred_at, user_id=None, role="system",
                        action="patient:waive", subject_type="patient", subject_id="1",
                        before=None, after={"waived": True})
    forged_hash = entry_hash(k.hash, forged)
    with tampering(session):
        session.execute(text("UPDATE audit_entries SET seq = -seq - 1 WHERE seq > :s"),
                        {"s": k.seq})
        session.execute(text("UPDATE audit_entries SET seq = -seq WHERE seq < 0"))
        session.execute(insert(AuditEntry).values(
            occurred_at=forged.occurred_at, role="system", action="patient:waive",
            subject_type="patient", subject_id="1", after={"waived": True},
            seq=k.seq + 1, prev_hash=k.hash, hash=forged_hash))
    code, out = _verify(app)
    assert code == 1
    assert _kinds(out) == {"inserted"}
    assert (f"entry {nxt_id} (seq {nxt_seq + 1}): its link to the previous entry is broken: "
            f"1 entry (seq {k.seq + 1}) inserted before it") in out


def test_removed_last_entries(app, session, clock):
    entries = _history(session, clock)
    write_checkpoint(session)
    cut = entries[-min(25, len(entries) - 1)].seq
    with tampering(session):
        session.execute(text("DELETE FROM audit_entries WHERE seq >= :s"), {"s": cut})
    assert verify_chain(session).ok  # the chain alone cannot tell
    code, out = _verify(app)
    assert code == 1
    assert _kinds(out) == {"truncated"}
    n = len(entries) - cut + 1
    assert (f"the last {n} entries were removed: the chain ends at seq {cut - 1}, but the "
            f"checkpoint of") in out


def test_emptied_log(app, session, clock):
    entries = _history(session, clock)
    write_checkpoint(session)
    with tampering(session):
        session.execute(text("DELETE FROM audit_entries"))
    assert verify_chain(session).ok  # the chain alone cannot tell
    code, out = _verify(app)
    assert code == 1
    assert _kinds(out) == {"emptied"}
    assert "the audit log is empty, but the checkpoint of" in out
    assert f"recorded {len(entries)} entries" in out


def test_emptied_log_even_with_truncate(app, session, clock):
    if session.get_bind().dialect.name != "postgresql":
        return  # SQLite has no TRUNCATE; the DELETE case is above
    _history(session, clock)
    write_checkpoint(session)
    with tampering(session):
        session.execute(text("TRUNCATE audit_entries"))
    code, out = _verify(app)
    assert code == 1
    assert _kinds(out) == {"emptied"}


def test_chain_rewritten_from_some_entry_on(app, session, clock):
    entries = _history(session, clock)
    early = write_checkpoint(session)  # covers every entry so far
    record(session, None, "pharmacy:test", "pharmacy", 1)
    seal(session)
    write_checkpoint(session)
    target = entries[10]
    with tampering(session):
        session.execute(update(AuditEntry).where(AuditEntry.id == target.id)
                        .values(action="patient:nothing"))
        _rechain_from(session, target.seq)
    assert verify_chain(session).ok  # consistent: the chain alone cannot tell
    code, out = _verify(app)
    assert code == 1
    assert _kinds(out) == {"rewritten"}
    assert (f"the chain was rewritten (hashes recomputed) from some entry after seq 0 on: "
            f"entry {entries[-1].id} (seq {early.count}) is not the head") in out


def test_rewrite_located_between_checkpoints(app, session, clock):
    entries = _history(session, clock)
    first = write_checkpoint(session)
    for i in range(3):
        record(session, None, "pharmacy:test", "pharmacy", i)
    seal(session)
    last = write_checkpoint(session)
    with tampering(session):
        session.execute(update(AuditEntry).where(AuditEntry.seq == last.count - 1)
                        .values(subject_id="0"))
        _rechain_from(session, last.count - 1)
    code, out = _verify(app)
    assert code == 1
    assert f"from some entry after seq {first.count} on" in out
    assert f"(seq {last.count}) is not the head" in out
    assert len(entries) == first.count


def test_checkpoint_with_a_bad_signature(app, session, clock):
    _history(session, clock)
    write_checkpoint(session)
    path = checkpoint_path()
    line = json.loads(path.read_text())
    line["count"] -= 3  # "it had fewer entries": covering a truncation
    forged_key = Ed25519PrivateKey.generate()  # a key that is not ours
    other = make_checkpoint(session, forged_key)
    path.write_text(json.dumps(line) + "\n" + other.to_json() + "\n")
    code, out = _verify(app)
    assert code == 1
    assert _kinds(out) == {"bad_signature"}
    assert f"checkpoint at line 1 of {path} (count {line['count']}" in out
    assert "has a bad signature" in out
    assert "line 2" in out
    assert "is signed by an unknown key" in out


def test_entries_left_unsealed_beyond_the_grace(app, session, clock):
    clock.to("2026-03-02")
    _history(session, clock)
    entry = session.get(AuditEntry, record(session, None, "pharmacy:test", "pharmacy", 1))
    clock.to(clock_now_plus(entry, minutes=4), hour=0)
    code, out = _verify(app)
    assert code == 0, out  # within the 5-minute grace
    clock.to(clock_now_plus(entry, minutes=6), hour=0)
    code, out = _verify(app)
    assert code == 1
    assert _kinds(out) == {"unsealed"}
    assert f"1 entry has been left unsealed for longer than 0:05:00 (oldest: entry {entry.id})" \
        in out
    seal(session)
    assert _verify(app)[0] == 0


def clock_now_plus(entry, *, minutes):
    return entry.occurred_at + timedelta(minutes=minutes)


def test_verify_since_last_checkpoint(app, session, clock):
    entries = _history(session, clock)
    write_checkpoint(session)
    later_id = record(session, None, "pharmacy:test", "pharmacy", 1)
    seal(session)
    code, out = _verify(app, "--since-last-checkpoint")
    assert code == 0, out
    assert f"1 sealed entries checked after checkpoint seq {len(entries)}" in out
    with tampering(session):
        session.execute(update(AuditEntry).where(AuditEntry.id == later_id).values(role="x"))
    code, out = _verify(app, "--since-last-checkpoint")
    assert code == 1
    assert f"[edited] entry {later_id}" in out


def test_verify_with_the_exported_public_key(app, session, clock, tmp_path: Path):
    _history(session, clock)
    write_checkpoint(session)
    runner = app.test_cli_runner()
    pem = runner.invoke(args=["audit", "public-key"]).output
    assert pem.startswith("-----BEGIN PUBLIC KEY-----")
    (tmp_path / "pub.pem").write_text(pem)
    code, out = _verify(app, "--public-key", str(tmp_path / "pub.pem"))
    assert code == 0, out
    other = tmp_path / "other.pem"
    load_or_create_signing_key(other)
    other_pub = tmp_path / "other-pub.pem"
    other_pub.write_bytes(other.read_bytes())
    code, out = _verify(app, "--public-key", str(other_pub))
    assert code == 1
    assert "unknown key" in out


def test_a_long_chain_verifies_in_batches(app, session, clock):
    _history(session, clock)
    for i in range(30):
        record(session, None, "pharmacy:test", "pharmacy", i)
    seal(session)
    count = session.execute(select(func.count(AuditEntry.id))).scalar_one()
    result = verify_chain(session, batch=7)
    assert result.ok
    assert result.checked == count


# --- the default: from the newest checkpoint ---------------------------------------------


def _default(app):
    result = app.test_cli_runner().invoke(args=["audit", "verify"])
    return result.exit_code, result.output


def test_by_default_only_what_came_after_the_newest_checkpoint_is_walked(app, session, clock):
    _history(session, clock)
    write_checkpoint(session)
    for i in range(4):
        record(session, None, "pharmacy:test", "pharmacy", i)
    seal(session)
    newest = write_checkpoint(session)
    for i in range(2):
        record(session, None, "pharmacy:test", "pharmacy", i)
    seal(session)
    code, out = _default(app)
    assert code == 0, out
    assert f"2 sealed entries checked after checkpoint seq {newest.count}" in out
    assert "--full reads them all again" in out
    code, out = _verify(app, "--full")
    assert code == 0, out
    assert f"{newest.count + 2} sealed entries checked, 2 signed checkpoints" in out


def test_by_default_an_edit_after_the_newest_checkpoint_is_found(app, session, clock):
    _history(session, clock)
    write_checkpoint(session)
    later_id = record(session, None, "pharmacy:test", "pharmacy", 1)
    seal(session)
    with tampering(session):
        session.execute(update(AuditEntry).where(AuditEntry.id == later_id).values(role="x"))
    code, out = _default(app)
    assert code == 1
    assert _kinds(out) == {"edited"}
    assert f"[edited] entry {later_id}" in out


def test_by_default_entries_removed_before_the_checkpoint_are_counted(app, session, clock):
    entries = _history(session, clock)
    checkpoint = write_checkpoint(session)
    with tampering(session):
        session.execute(text("DELETE FROM audit_entries WHERE id IN (:a, :b)"),
                        {"a": entries[3].id, "b": entries[4].id})
    code, out = _default(app)
    assert code == 1
    assert _kinds(out) == {"removed"}
    assert f"2 entries before the checkpoint of {checkpoint.time} (seq 1..{checkpoint.count}) " \
           "removed: verify the whole chain to see which" in out


def test_by_default_an_entry_slipped_in_before_the_checkpoint_is_counted(app, session, clock):
    entries = _history(session, clock)
    write_checkpoint(session)
    with tampering(session):
        session.execute(insert(AuditEntry).values(
            occurred_at=entries[0].occurred_at, role="system", action="patient:waive",
            subject_type="patient", subject_id="1", seq=0, prev_hash=GENESIS_HASH,
            hash="f" * 64))
    code, out = _default(app)
    assert code == 1
    assert _kinds(out) == {"inserted"}
    assert "1 entry inserted before the checkpoint" in out


def test_by_default_a_rewrite_or_truncation_before_the_checkpoint_is_found(app, session,
                                                                         clock):
    entries = _history(session, clock)
    checkpoint = write_checkpoint(session)
    with tampering(session):
        session.execute(update(AuditEntry).where(AuditEntry.seq == 4).values(subject_id="0"))
        _rechain_from(session, 4)
    code, out = _default(app)
    assert code == 1
    assert _kinds(out) == {"rewritten"}
    assert f"the chain does not reach the starting checkpoint of {checkpoint.time} " \
           f"(seq {checkpoint.count}): verify the whole chain" in out
    with tampering(session):
        session.execute(text("DELETE FROM audit_entries WHERE seq > :s"), {"s": 5})
    code, out = _default(app)
    assert code == 1
    assert _kinds(out) == {"rewritten"}
    assert len(entries) == checkpoint.count


def test_an_entry_edited_in_place_before_the_checkpoint_needs_the_full_walk(app, session,
                                                                          clock):
    """What reading from the checkpoint cannot see, and why `--full` exists."""
    entries = _history(session, clock)
    write_checkpoint(session)
    target = entries[7]
    with tampering(session):
        session.execute(update(AuditEntry).where(AuditEntry.id == target.id)
                        .values(subject_id="999"))
    assert _default(app)[0] == 0
    code, out = _verify(app, "--full")
    assert code == 1
    assert f"[edited] entry {target.id}" in out


def test_by_default_the_checkpoint_file_is_read_from_its_end(app, session, clock):
    """The newest good line is all it needs: older lines are not read (a year of them is
    half a million); a bad line after the newest good one is reported."""
    _history(session, clock)
    first = write_checkpoint(session)
    path = checkpoint_path()
    path.write_text("not a checkpoint\n" * 3 + path.read_text())  # old lines, unreadable
    record(session, None, "pharmacy:test", "pharmacy", 1)
    seal(session)
    code, out = _default(app)
    assert code == 0, out
    assert f"after checkpoint seq {first.count}" in out
    assert _kinds(_verify(app, "--full")[1]) == {"bad_signature"}
    forged = make_checkpoint(session, Ed25519PrivateKey.generate())
    with path.open("a") as handle:
        handle.write(forged.to_json() + "\n")
    code, out = _default(app)
    assert code == 1
    assert _kinds(out) == {"bad_signature"}
    assert "is signed by an unknown key" in out
    assert f"after checkpoint seq {first.count}" in out


def test_full_and_since_last_checkpoint_exclude_each_other(app, session, clock):
    code, out = _verify(app, "--full", "--since-last-checkpoint")
    assert code == 2
    assert "exclude each other" in out
