"""Writing and verifying the hash-chained audit log (rules §10)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from sqlalchemy import inspect, select, text
from sqlalchemy.orm import Session

from registry import clock
from registry.accounts.models import User
from registry.audit.models import AuditEntry
from registry.db import canonical_json, jsonable

GENESIS = "0" * 64


def snapshot(obj: Any, *names: str) -> dict[str, Any]:
    """The named attributes of a record (all its columns when none are named), JSON-ready."""
    if not names:
        names = tuple(c.key for c in inspect(obj).mapper.column_attrs)
    data = {n: getattr(obj, n) for n in names}
    data.pop("password_hash", None)
    data.pop("code_hash", None)
    return jsonable(data)


def entry_hash(prev_hash: str, entry: AuditEntry) -> str:
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


def _lock_chain(session: Session) -> None:
    """Serialize writers of the chain so two transactions never fork it."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(734201)"))
    # SQLite: every transaction is BEGIN IMMEDIATE, so writers are serialized already.


def record(
    session: Session,
    actor: User | None,
    action: str,
    subject_type: str,
    subject_id: Any,
    *,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> AuditEntry:
    """Append one entry in the caller's transaction. ``action`` is a ``subject:action`` tag."""
    _lock_chain(session)
    prev = session.execute(
        select(AuditEntry.hash).order_by(AuditEntry.id.desc()).limit(1)
    ).scalar_one_or_none()
    entry = AuditEntry(
        occurred_at=clock.now(),
        user_id=actor.id if actor else None,
        role=actor.role if actor else "system",
        action=action,
        subject_type=subject_type,
        subject_id=None if subject_id is None else str(subject_id),
        before=jsonable(before) if before is not None else None,
        after=jsonable(after) if after is not None else None,
        prev_hash=prev or GENESIS,
    )
    entry.hash = entry_hash(entry.prev_hash, entry)
    session.add(entry)
    session.flush()
    return entry


@dataclass(frozen=True)
class VerifyResult:
    ok: bool
    checked: int
    first_bad_id: int | None = None
    problem: str | None = None


def verify_chain(session: Session, batch: int = 1000) -> VerifyResult:
    """Walk the chain in id order; report the first entry that was altered, removed or moved."""
    prev = GENESIS
    checked = 0
    last_id = 0
    while True:
        rows = session.execute(
            select(AuditEntry).where(AuditEntry.id > last_id).order_by(AuditEntry.id).limit(batch)
        ).scalars().all()
        if not rows:
            return VerifyResult(True, checked)
        for entry in rows:
            if entry.prev_hash != prev:
                return VerifyResult(
                    False, checked, entry.id,
                    "its link to the previous entry is broken (an entry before it was removed, "
                    "inserted or moved)",
                )
            if entry_hash(prev, entry) != entry.hash:
                return VerifyResult(False, checked, entry.id, "its content does not match its hash")
            prev = entry.hash
            checked += 1
            last_id = entry.id
        session.expunge_all()
