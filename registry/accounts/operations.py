"""Users: creating accounts (with their profile in the feature that owns it)."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from registry import clock
from registry.accounts.models import Role, User
from registry.audit.operations import record, snapshot
from registry.errors import Errors, PermissionDenied
from registry.security import hash_secret, needs_rehash, password_problems, verify_secret
from registry.validation import email_value, text_value


def email_taken(session: Session, email: str) -> bool:
    # Emails are stored normalized to lower case, so the unique index serves this lookup.
    return session.execute(select(User.id).where(User.email == email.lower())).first() is not None


def validate_new_user(
    session: Session, errors: Errors, *, email: object, password: object,
    first_name: object, last_name: object, prefix: str = "",
) -> tuple[str | None, str | None, str | None, str | None]:
    """Check the four fields every account has; ``prefix`` names nested fields (``rsp.``)."""
    mail = email_value(errors, prefix + "email", email)
    if mail and email_taken(session, mail):
        errors.add(prefix + "email", "An account with this email already exists.")
    pw = password if isinstance(password, str) else None
    if not pw:
        errors.add(prefix + "password", "This field is required.")
    else:
        for problem in password_problems(pw):
            errors.add(prefix + "password", problem)
    first = text_value(errors, prefix + "first_name", first_name, max_length=100)
    last = text_value(errors, prefix + "last_name", last_name, max_length=100)
    return mail, pw, first, last


def new_user(session: Session, *, email: str, password: str, role: Role,
             first_name: str, last_name: str) -> User:
    user = User(
        email=email, password_hash=hash_secret(password), role=role.value,
        first_name=first_name, last_name=last_name, failed_logins=0,
    )
    session.add(user)
    session.flush()
    return user


def create_staff(
    session: Session, actor: User | None, *, email: object, password: object,
    first_name: object = "Program", last_name: object = "Staff",
) -> User:
    """Program staff are created on the command line (actor None) or by other staff."""
    if actor is not None and actor.role != Role.STAFF:
        raise PermissionDenied("Only program staff can create program staff.")
    errors = Errors()
    mail, pw, first, last = validate_new_user(
        session, errors, email=email, password=password, first_name=first_name,
        last_name=last_name,
    )
    errors.raise_if_any()
    assert mail and pw and first and last
    user = new_user(session, email=mail, password=pw, role=Role.STAFF,
                    first_name=first, last_name=last)
    record(session, actor, "staff:create", "user", user.id, after=snapshot(user))
    return user


class LoginFailed(Exception):
    """Wrong email or password, or the account is locked; ``message`` is safe to show."""

    def __init__(self, message: str, locked_until: datetime | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.locked_until = locked_until


def authenticate(session: Session, *, email: object, password: object) -> User:
    """Check a login. After too many failures the account is locked for a while, and the
    lock is recorded in the audit. Rehashes the password when the hash parameters changed.

    The caller commits even when this raises, so that failure counts are kept.
    """
    from flask import current_app

    mail = email.strip().lower() if isinstance(email, str) else ""
    secret = password if isinstance(password, str) else ""
    generic = LoginFailed("Wrong email or password.")
    user = session.execute(select(User).where(User.email == mail)).scalar()
    now = clock.now()
    if user is None:
        verify_secret(_DUMMY_HASH(), secret)  # same work whether or not the account exists
        raise generic
    if user.locked_until is not None and user.locked_until > now:
        raise LoginFailed(
            "Too many failed logins: this account is locked for a few minutes.", user.locked_until
        )
    if not verify_secret(user.password_hash, secret):
        user.failed_logins = (user.failed_logins or 0) + 1
        limit = int(current_app.config["LOGIN_MAX_FAILURES"])
        if user.failed_logins >= limit:
            minutes = int(current_app.config["LOGIN_LOCK_MINUTES"])
            user.locked_until = now + timedelta(minutes=minutes)
            user.failed_logins = 0
            session.flush()
            record(session, user, "user:lock", "user", user.id,
                   after={"locked_until": user.locked_until.isoformat(),
                          "failed_logins": limit})
            raise LoginFailed(
                "Too many failed logins: this account is locked for a few minutes.",
                user.locked_until,
            )
        session.flush()
        raise generic
    if user.failed_logins or user.locked_until:
        user.failed_logins = 0
        user.locked_until = None
    if needs_rehash(user.password_hash):
        user.password_hash = hash_secret(secret)
    session.flush()
    return user


_dummy: list[str] = []


def _DUMMY_HASH() -> str:
    if not _dummy:
        _dummy.append(hash_secret("not-a-real-password"))
    return _dummy[0]
