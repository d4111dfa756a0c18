"""Writing, sealing and verifying the hash-chained audit log (rules §10).

Writing never waits for the chain: :func:`record` inserts the entry *unsealed* in the
caller's transaction (no lock, no read of the chain's head). A sealer (:func:`seal`) then
gives the entries it can see, i.e. the committed ones, their place in the chain in id
order after the current head: ``seq``, ``prev_hash`` and ``hash``. Only sealers contend
for the chain (a try-lock on PostgreSQL; SQLite serializes writers anyway). Sealing runs
best-effort after each request's commit, from ``registry audit seal`` and from
``registry worker``.

:func:`verify_chain` walks the chain by ``seq`` and compares it with the signed
checkpoints (:mod:`registry.audit.checkpoints`), which catch what the chain alone cannot:
removed last entries, an emptied log, a chain rewritten from some entry on.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING, Any, cast

from flask import current_app, g, has_app_context, has_request_context
from sqlalchemy import Table, bindparam, func, insert, inspect, select, text, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from registry import clock
from registry import db as db_module
from registry.accounts.models import Role, User
from registry.audit.models import AuditEntry
from registry.db import canonical_json, jsonable
from registry.errors import PermissionDenied

if TYPE_CHECKING:
    from registry.audit.checkpoints import ChainReport

GENESIS = "0" * 64
SEALER_LOCK = 734201  # pg advisory lock key: held by at most one sealer, never by writers

log = logging.getLogger("registry.audit")


def snapshot(obj: Any, *names: str) -> dict[str, Any]:
    """The named attributes of a record (all its columns when none are named), JSON-ready."""
    if not names:
        names = tuple(c.key for c in inspect(obj).mapper.column_attrs)
    data = {n: getattr(obj, n) for n in names}
    data.pop("password_hash", None)
    data.pop("code_hash", None)
    return jsonable(data)


CONTENT_COLUMNS = (AuditEntry.occurred_at, AuditEntry.user_id, AuditEntry.role,
                   AuditEntry.action, AuditEntry.subject_type, AuditEntry.subject_id,
                   AuditEntry.before, AuditEntry.after)


def entry_hash(prev_hash: str, entry: Any) -> str:
    """The hash over an entry's content and the previous entry's hash.

    ``entry``: an AuditEntry, or a row with the CONTENT_COLUMNS.

    The same content as before sealing existed, so entries chained then still verify.
    """
    content = {
        "occurred_at": entry.occurred_at.isoformat(),
        "user_id": entry.user_id,
        "role": entry.role,
        "action": entry.action,
        "subject_type": entry.subject_type,
        "subject_id": entry.subject_id,
        "before": entry.before,
        "after": entry.after,
    }
    return hashlib.sha256((prev_hash + canonical_json(content)).encode()).hexdigest()


def record(
    session: Session,
    actor: User | None,
    action: str,
    subject_type: str,
    subject_id: Any,
    *,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> int:
    """Add one entry in the caller's transaction and return its id. ``action`` is a
    ``subject:action`` tag.

    The entry is inserted unsealed: it takes no lock and reads nothing, so unrelated
    requests never wait on each other here. It is sealed after the request commits.
    One cached INSERT, not an ORM flush of an AuditEntry: nothing reads the entry back
    in the request, and the unit of work cost an audited request about 0.1 ms of CPU.
    What the operation has pending is flushed first, as before, so the entry follows
    the change it records.
    """
    session.flush()
    entry_id: int = session.execute(_INSERT, {
        "occurred_at": clock.now(),
        "user_id": actor.id if actor else None,
        "role": actor.role if actor else "system",
        "action": action,
        "subject_type": subject_type,
        "subject_id": None if subject_id is None else str(subject_id),
        "before": jsonable(before) if before is not None else None,
        "after": jsonable(after) if after is not None else None,
    }).scalar_one()
    _seal_after_commit_of(session)
    return entry_id


def _seal_after_commit_of(session: Session) -> None:
    """Ask for a best-effort seal right after the request's (or command's) commit: by the
    process's background sealer for a request (``AUDIT_SEAL_AFTER_COMMIT``, default
    "background", registry/audit/sealer.py), else on this thread before it goes on (a
    command, which may end right after; the "request" mode)."""
    if not has_app_context() or g.get("db_session") is not session:
        return
    if has_request_context() and current_app.config["AUDIT_SEAL_AFTER_COMMIT"] == "background":
        db_module.after_commit_call(_wake_sealer)
    elif seal_after_commit not in g.get("db_after_commit", []):
        db_module.after_commit(seal_after_commit)


def _wake_sealer() -> None:
    from registry.audit.sealer import sealer

    sealer(current_app._get_current_object()).wake()  # type: ignore[attr-defined]


def seal_after_commit(session: Session) -> None:
    """After-commit bookkeeping: seal what is visible, unless another sealer is at it.

    Never waits for the sealer lock and never fails the request (which has committed):
    whatever is left is sealed by the next request, `registry audit seal` or the worker.
    On PostgreSQL its commit does not wait for a second WAL flush: a seal can always be
    redone from the entries, which committed durably with their change, and the worker's
    synchronous seal before each checkpoint makes it durable before anything signs it.
    """
    try:
        seal(session, durable=False)
    except SQLAlchemyError:
        # The transaction is unusable: give up this bookkeeping round (logged), never the
        # request, whose own commit is done.
        log.warning("audit: sealing after commit failed; the worker will seal", exc_info=True)
        session.rollback()


_TABLE = cast(Table, AuditEntry.__table__)
_INSERT = insert(_TABLE).returning(_TABLE.c.id)
_HEAD = (
    select(_TABLE.c.seq, _TABLE.c.hash).where(_TABLE.c.seq.is_not(None))
    .order_by(_TABLE.c.seq.desc()).limit(1)
)
_COLUMNS = [_TABLE.c.id, *(_TABLE.c[c.key] for c in CONTENT_COLUMNS)]
_UNSEALED = (select(*_COLUMNS).where(_TABLE.c.seq.is_(None)).order_by(_TABLE.c.id)
             .limit(bindparam("batch")))
_UNSEALED_WITH_HEAD = (
    select(_HEAD.with_only_columns(_TABLE.c.seq).scalar_subquery().label("head_seq"),
           _HEAD.with_only_columns(_TABLE.c.hash).scalar_subquery().label("head_hash"),
           *_COLUMNS)
    .where(_TABLE.c.seq.is_(None)).order_by(_TABLE.c.id).limit(bindparam("batch"))
)
_SEAL = update(_TABLE).where(_TABLE.c.id == bindparam("b_id")).values(
    seq=bindparam("b_seq"), prev_hash=bindparam("b_prev"), hash=bindparam("b_hash"))
_TRY_LOCK = text("SELECT pg_try_advisory_xact_lock(:key)")
_TRY_LOCK_ASYNC = text(
    "SELECT pg_try_advisory_xact_lock(:key) FROM set_config('synchronous_commit', 'off', true)")


def chain_head(session: Session) -> tuple[int, str]:
    """(seq, hash) of the last sealed entry; (0, GENESIS) for an empty chain."""
    row = session.connection().execute(_HEAD).first()
    if row is None or row.seq is None or row.hash is None:
        return 0, GENESIS
    return row.seq, row.hash


def seal(session: Session, *, batch: int = 500, durable: bool = True) -> int | None:
    """Chain the unsealed entries this transaction can see, in id order, after the head.

    Returns how many were sealed, or None when another sealer holds the lock (then this
    one does nothing rather than wait). Does not commit. Plain SQL rather than the ORM:
    it runs after every request, so it is kept to a few cheap statements.
    """
    session.flush()
    conn = session.connection()
    if conn.dialect.name == "postgresql":
        lock = _TRY_LOCK if durable else _TRY_LOCK_ASYNC
        if not conn.execute(lock, {"key": SEALER_LOCK}).scalar_one():
            return None
    # SQLite: this transaction holds the database's one write lock already.
    # The head comes with the first batch (one statement, read after the lock: a statement
    # that took the lock itself would read with a snapshot from before it).
    seq, prev = 0, GENESIS
    sealed = 0
    while True:
        if sealed == 0:
            rows = conn.execute(_UNSEALED_WITH_HEAD, {"batch": batch}).all()
            if rows and rows[0].head_seq is not None and rows[0].head_hash is not None:
                seq, prev = rows[0].head_seq, rows[0].head_hash
        else:
            rows = conn.execute(_UNSEALED, {"batch": batch}).all()
        if not rows:
            return sealed
        params = []
        for row in rows:
            seq += 1
            digest = entry_hash(prev, row)
            params.append({"b_id": row.id, "b_seq": seq, "b_prev": prev, "b_hash": digest})
            prev = digest
        conn.execute(_SEAL, params)
        _refresh_loaded(session, params)
        sealed += len(rows)
        if len(rows) < batch:
            return sealed


def _refresh_loaded(session: Session, params: list[dict[str, Any]]) -> None:
    """Keep entries this session already holds in step with what was just written."""
    for p in params:
        loaded = session.identity_map.get(Session.identity_key(AuditEntry, p["b_id"]))
        if loaded is not None:
            set_committed_value(loaded, "seq", p["b_seq"])
            set_committed_value(loaded, "prev_hash", p["b_prev"])
            set_committed_value(loaded, "hash", p["b_hash"])


# --- verification ----------------------------------------------------------------------


@dataclass(frozen=True)
class Finding:
    """One thing verification found. ``kind`` is one of KINDS."""

    kind: str
    message: str
    entry_id: int | None = None
    seq: int | None = None


KINDS = ("edited", "removed", "reordered", "inserted", "renumbered", "truncated", "emptied",
         "rewritten", "bad_signature", "unsealed")


@dataclass
class VerifyResult:
    checked: int
    findings: list[Finding] = field(default_factory=list)
    head_seq: int = 0
    unsealed: int = 0

    @property
    def ok(self) -> bool:
        return not self.findings

    @property
    def first_bad_id(self) -> int | None:
        return next((f.entry_id for f in self.findings if f.entry_id is not None), None)

    @property
    def problem(self) -> str | None:
        return self.findings[0].message if self.findings else None

    def kinds(self) -> set[str]:
        return {f.kind for f in self.findings}


@dataclass(frozen=True)
class CheckpointRef:
    """What verification needs of a (signature-checked) checkpoint."""

    count: int
    head_hash: str
    time: str


def _plural(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"


def verify_chain(
    session: Session,
    checkpoints: Sequence[CheckpointRef] = (),
    *,
    start: CheckpointRef | None = None,
    grace: timedelta | None = None,
    batch: int = 5000,
    workers: int = 1,
) -> VerifyResult:
    """Walk the sealed chain by ``seq``; compare it with ``checkpoints``; name what is wrong.

    With ``start`` (a checkpoint already verified earlier) the walk begins after it: the
    entry at its count must still carry its head hash, and exactly that many entries must
    come up to it (none removed or added before it). What such a walk cannot see is an
    entry before it edited in place, its hash left as it was: only the whole walk reads
    those again. ``grace``: unsealed entries older than this are reported.

    ``workers`` > 1: a long walk is split into segments checked side by side in that many
    processes (:mod:`registry.audit.segments`), which see only what is committed; when they
    find anything amiss the walk is done again here, in order, to name it.
    """
    result = VerifyResult(checked=0)
    by_count: dict[int, list[CheckpointRef]] = {}
    for cp in checkpoints:
        by_count.setdefault(cp.count, []).append(cp)
    last_good_count = 0  # the highest checkpoint count the chain matched so far
    damaged = False  # chain damage found since the last checkpoint that matched
    rewritten = False  # a rewrite reported since the last checkpoint that matched

    session.flush()
    conn = session.connection()  # plain rows: the walk reads every entry once
    columns = [_TABLE.c.id, _TABLE.c.seq, _TABLE.c.prev_hash, _TABLE.c.hash,
               *(_TABLE.c[c.key] for c in CONTENT_COLUMNS)]
    moved: set[int] = set()  # seqs found out of place, so what follows is not "inserted"
    last_seq, prev = 0, GENESIS
    if start is not None and start.count > 0:
        problem = _start_problem(conn, start)
        if problem is not None:
            result.findings.append(problem)
            return result
        last_seq, prev, last_good_count = start.count, start.head_hash, start.count

    walked = None
    if workers > 1:
        from registry.audit.segments import walk_in_parallel  # it builds on this module

        walked = walk_in_parallel(conn, last_seq, prev, checkpoints, workers, batch)
    if walked is not None:  # intact and as signed: what the walk below would find
        result.checked, last_seq = walked
    while walked is None:
        entries = conn.execute(
            select(*columns).where(_TABLE.c.seq > last_seq).order_by(_TABLE.c.seq).limit(batch)
        ).all()
        if not entries:
            break
        for entry in entries:
            seq = entry.seq
            if (entry.prev_hash == prev and seq == last_seq + 1
                    and entry_hash(prev, entry) == entry.hash):
                pass  # the usual case: no message built, nothing looked up
            else:
                found = _check_entry(session, entry, last_seq, prev, moved)
                result.findings.extend(found)
                damaged = damaged or bool(found)
            for cp in by_count.get(seq, ()):
                if entry.hash == cp.head_hash:
                    last_good_count, damaged, rewritten = cp.count, False, False
                elif not (damaged or rewritten):
                    # The chain is consistent up to here, yet not what was signed: it was
                    # recomputed. (Mismatches after damage found above add nothing.)
                    rewritten = True
                    result.findings.append(Finding(
                        "rewritten",
                        f"the chain was rewritten (hashes recomputed) from some entry after "
                        f"seq {last_good_count} on: entry {entry.id} (seq {seq}) is not "
                        f"the head that the checkpoint of {cp.time} signed",
                        entry.id, seq))
            prev, last_seq = entry.hash, seq
        result.checked += len(entries)
    result.head_seq = last_seq

    result.unsealed = session.execute(
        select(func.count(AuditEntry.id)).where(AuditEntry.seq.is_(None))
    ).scalar_one()
    beyond = max((cp for cp in checkpoints if cp.count > last_seq),
                 key=lambda cp: cp.count, default=None)
    if beyond is not None:
        if last_seq == 0 and result.unsealed == 0:
            result.findings.append(Finding(
                "emptied",
                f"the audit log is empty, but the checkpoint of {beyond.time} recorded "
                f"{_plural(beyond.count, 'entry', 'entries')}"))
        else:
            missing = beyond.count - last_seq
            result.findings.append(Finding(
                "truncated",
                f"the last {_plural(missing, 'entry was', 'entries were')} removed: the chain "
                f"ends at seq {last_seq}, but the checkpoint of {beyond.time} recorded "
                f"{beyond.count} (seq {last_seq + 1}..{beyond.count} missing)"))

    if grace is not None and result.unsealed:
        cutoff = clock.now() - grace
        stale = session.execute(
            select(func.count(AuditEntry.id), func.min(AuditEntry.id))
            .where(AuditEntry.seq.is_(None), AuditEntry.occurred_at < cutoff)
        ).one()
        if stale[0]:
            result.findings.append(Finding(
                "unsealed",
                f"{_plural(stale[0], 'entry has', 'entries have')} been left unsealed for "
                f"longer than {grace} (oldest: entry {stale[1]}): is `registry worker` "
                "running?", stale[1]))
    return result


def _start_problem(conn: Any, start: CheckpointRef) -> Finding | None:
    """What is wrong with the chain up to the checkpoint a walk starts from, read cheaply:
    the entry at its count and the number of entries up to it (an index-only count)."""
    at = conn.execute(select(_TABLE.c.id, _TABLE.c.hash).where(_TABLE.c.seq == start.count)
                      ).first()
    if at is None or at.hash != start.head_hash:
        return Finding(
            "rewritten",
            f"the chain does not reach the starting checkpoint of {start.time} "
            f"(seq {start.count}): verify the whole chain",
            at.id if at else None, start.count)
    held = conn.execute(select(func.count()).select_from(_TABLE)
                        .where(_TABLE.c.seq <= start.count)).scalar_one()
    if held < start.count:
        missing = start.count - held
        return Finding(
            "removed",
            f"{_plural(missing, 'entry', 'entries')} before the checkpoint of {start.time} "
            f"(seq 1..{start.count}) removed: verify the whole chain to see which")
    if held > start.count:
        return Finding(
            "inserted",
            f"{_plural(held - start.count, 'entry', 'entries')} inserted before the "
            f"checkpoint of {start.time} (seq {start.count} or lower): verify the whole "
            "chain to see which")
    return None


def _check_entry(session: Session, entry: Any, last_seq: int, prev: str,
                 moved: set[int]) -> list[Finding]:
    assert entry.seq is not None
    found: list[Finding] = []
    where = f"entry {entry.id} (seq {entry.seq})"
    gap = entry.seq - last_seq - 1
    if entry.prev_hash != prev:
        owner = _seq_of_hash(session, entry.prev_hash)
        if owner is None and gap > 0:
            found.append(Finding(
                "removed",
                f"{where}: its link to the previous entry is broken: "
                f"{_plural(gap, 'entry', 'entries')} before it (seq {last_seq + 1}"
                f"{'' if gap == 1 else f'..{entry.seq - 1}'}) removed", entry.id, entry.seq))
        elif owner is None:
            found.append(Finding(
                "removed",
                f"{where}: its link to the previous entry is broken: the entry it follows is "
                "gone (removed, and the later entries renumbered) or its link was edited",
                entry.id, entry.seq))
        elif owner[1] > entry.seq:
            moved.add(entry.seq)
            found.append(Finding(
                "reordered",
                f"{where}: its link to the previous entry is broken: it was moved, it follows "
                f"entry {owner[0]} (seq {owner[1]}), which now comes after it",
                entry.id, entry.seq))
        elif set(range(owner[1] + 1, entry.seq)) <= moved:
            moved.add(entry.seq)
            found.append(Finding(
                "reordered",
                f"{where}: its link to the previous entry is broken: it was moved, it follows "
                f"entry {owner[0]} (seq {owner[1]}), and entries moved out of place came "
                "between them", entry.id, entry.seq))
        else:
            extra = entry.seq - owner[1] - 1
            found.append(Finding(
                "inserted",
                f"{where}: its link to the previous entry is broken: "
                f"{_plural(extra, 'entry', 'entries')} (seq {owner[1] + 1}"
                f"{'' if extra == 1 else f'..{entry.seq - 1}'}) inserted before it; it "
                f"follows entry {owner[0]} (seq {owner[1]})", entry.id, entry.seq))
    elif gap > 0:
        found.append(Finding(
            "renumbered", f"{where}: the sequence jumps from {last_seq} (renumbered)",
            entry.id, entry.seq))
    assert entry.prev_hash is not None
    if entry_hash(entry.prev_hash, entry) != entry.hash:
        found.append(Finding(
            "edited", f"{where}: its content does not match its hash (edited)",
            entry.id, entry.seq))
    return found


def _seq_of_hash(session: Session, value: str | None) -> tuple[int, int] | None:
    if value is None:
        return None
    row = session.execute(
        select(AuditEntry.id, AuditEntry.seq).where(AuditEntry.hash == value)
    ).first()
    if row is None or row.seq is None:
        return None
    return row.id, row.seq


# --- verification asked for by program staff --------------------------------------------


def verify_for_staff(session: Session, actor: User) -> ChainReport:
    """Run ``registry audit verify`` for program staff; the request is audited (audit:verify).

    Returns the :class:`registry.audit.checkpoints.ChainReport`. The entry recording this
    request is added after the walk, so it is not part of what was checked.
    """
    from registry.audit.checkpoints import verify_log  # it builds on this module

    if actor.role != Role.STAFF:
        raise PermissionDenied("Only program staff can verify the audit chain.")
    report = verify_log(session)
    newest = report.newest_checkpoint
    record(session, actor, "audit:verify", "audit_log", None, after={
        "intact": report.ok,
        "checked": report.result.checked,
        "head_seq": report.result.head_seq,
        "unsealed": report.result.unsealed,
        "checkpoints": len(report.checkpoints),
        "newest_checkpoint": newest.time if newest else None,
        "findings": [{"kind": f.kind, "message": f.message} for f in report.findings[:50]],
        "cannot_check": report.cannot_check,
    })
    return report
