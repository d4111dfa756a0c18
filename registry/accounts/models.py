from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, true
from sqlalchemy.orm import Mapped, mapped_column

from registry import clock
from registry.db import Base, vocabulary
from registry.rules.vocabulary import Role

__all__ = ["Role", "User", "UserSession", "in_check"]


def in_check(column: str, values: type[StrEnum] | list[str]) -> str:
    items = [v.value for v in values] if isinstance(values, type) else values
    return f"{column} IN (" + ", ".join(f"'{v}'" for v in items) + ")"


class User(Base):
    """Anyone who signs in: the role says which profile row belongs to them."""

    __tablename__ = "users"
    __table_args__ = (CheckConstraint(in_check("language", ["en", "es"]), name="language"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[Role] = mapped_column(vocabulary(Role, "role", 20))
    first_name: Mapped[str] = mapped_column(String(100))
    last_name: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(default=clock.now)
    failed_logins: Mapped[int] = mapped_column(default=0)
    locked_until: Mapped[datetime | None]
    totp_secret: Mapped[str | None] = mapped_column(String(64))
    # None until the owner of the address follows the link emailed to it; a self-enrolled
    # account cannot sign in before that.
    email_confirmed_at: Mapped[datetime | None]
    # Preference: reminders by email (safety alerts are sent whatever this says).
    reminders_enabled: Mapped[bool] = mapped_column(default=True, server_default=true())
    # The user's own choice of language (en, es); none: the browser's.
    language: Mapped[str | None] = mapped_column(String(8))

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}"

    def __repr__(self) -> str:
        return f"<User {self.id} {self.role} {self.email}>"


class UserSession(Base):
    """A signed-in browser session, known to the server: the signed cookie carries a random
    id (only its SHA-256 is stored here), so a session can be ended on the server (logout,
    password change), and it ends by itself when idle too long or too old."""

    __tablename__ = "user_sessions"
    __table_args__ = (Index("ix_user_sessions_user_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime]
    last_seen_at: Mapped[datetime]
    ended_at: Mapped[datetime | None]


class AccountLinkPurpose(StrEnum):
    PASSWORD_RESET = "password_reset"  # noqa: S105 - a purpose, not a password
    CONFIRM_EMAIL = "confirm_email"


class AccountLink(Base):
    """A one-time link emailed to an account's owner: only the SHA-256 of its random token
    is stored; it works once, before ``expires_at``."""

    __tablename__ = "account_links"
    __table_args__ = (
        CheckConstraint(in_check("purpose", AccountLinkPurpose), name="purpose"),
        Index("ix_account_links_user_id", "user_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    purpose: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]
