"""Who and what an audit entry is about, in the words staff use, cached for a long export.

The words themselves are :func:`registry.staff.queries.subject_label` (the same as the audit
page); this only remembers them, so an export costs one lookup per distinct person or record,
not one per entry.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from registry.staff.queries import subject_label


class Labels:
    """Readable names for the users and records of audit entries."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self._cache: dict[tuple[str, str], str] = {}

    def user(self, user_id: int | None, role: str) -> str:
        """The person who acted: name and the identifier that goes with their role."""
        if user_id is None:
            return "the system" if role == "system" else role.replace("_", " ")
        return self.record("user", str(user_id))

    def record(self, kind: str, ident: object) -> str:
        """The record an entry is about, by its name or number (never an internal id)."""
        key = (kind, str(ident))
        if key not in self._cache:
            self._cache[key] = subject_label(self.session, kind, ident)
        return self._cache[key]
