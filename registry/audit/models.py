from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Index, String, text
from sqlalchemy.orm import Mapped, mapped_column

from registry.db import Base


class AuditEntry(Base):
    """Append-only, hash-chained record of every change of state (rules §10).

    An entry is inserted *unsealed* (``seq``, ``prev_hash`` and ``hash`` empty) in the
    transaction of the change it records; a sealer later links it into the chain, in the
    order entries became visible (see :mod:`registry.audit.operations`). The database
    refuses any other UPDATE, and every DELETE and TRUNCATE (migration 0004_audit).
    """

    __tablename__ = "audit_entries"
    __table_args__ = (
        Index("ix_audit_entries_subject", "subject_type", "subject_id"),
        Index("ix_audit_entries_occurred_at", "occurred_at"),
        Index("ix_audit_entries_action", "action"),
        Index("ix_audit_entries_user_id", "user_id"),
        # The sealer's work list: small, so finding what to seal stays cheap.
        Index(
            "ix_audit_entries_unsealed",
            "id",
            sqlite_where=text("seq IS NULL"),
            postgresql_where=text("seq IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    occurred_at: Mapped[datetime]
    user_id: Mapped[int | None]  # no foreign key: the log outlives what it describes
    role: Mapped[str] = mapped_column(String(20))
    action: Mapped[str] = mapped_column(String(60))
    subject_type: Mapped[str] = mapped_column(String(40))
    subject_id: Mapped[str | None] = mapped_column(String(40))
    before: Mapped[dict[str, Any] | None]
    after: Mapped[dict[str, Any] | None]
    # Set once, by the sealer: the position in the chain (1, 2, ...) and the links.
    seq: Mapped[int | None] = mapped_column(unique=True)
    prev_hash: Mapped[str | None] = mapped_column(String(64))
    hash: Mapped[str | None] = mapped_column(String(64), unique=True)

    @property
    def sealed(self) -> bool:
        return self.seq is not None
