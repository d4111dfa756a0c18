"""Users: creating accounts (with their profile in the feature that owns it)."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, bindparam, case, func, null, or_, select, update
from sqlalchemy.orm import Session

from registry import clock, db
from registry.accounts.models import Role, User, UserSession
from registry.audit.operations import record, snapshot
from registry.errors import Errors, PermissionDenied, ValidationError
from registry.security import (
    hash_secret,
    needs_rehash,
    password_problems,
    verify_dummy,
    verify_secret,
)
from registry.validation import email_value, text_value


def email_taken(session: Session, email: str) -> bool:
    # Emails are stored normalized to lower case, so the unique index serves this lookup.
    return session.execute(select(User.id).where(User.email == email.lower())).first() is not None


def address_owner(session: Session, email: str) -> User | None:
    return session.execute(select(User).where(User.email == email.strip().lower())).scalar()


ADDRESS_IN_USE = "An account with this email already exists."


class AddressInUse(ValidationError):
    """The address belongs to an account (or a patient) already. Raised by :func:`new_user`
    after every other field was checked; sign-up pages and endpoints answer it exactly as
    they answer a new address (registry.accounts.signup), elsewhere it is the field's
    error."""

    def __init__(self, email: str, field: str = "email") -> None:
        super().__init__({field: ADDRESS_IN_USE})
        self.email = email


def validate_new_user(
    session: Session, errors: Errors, *, email: object, password: object,
    first_name: object, last_name: object, prefix: str = "", report_taken: bool = False,
) -> tuple[str | None, str | None, str | None, str | None]:
    """Check the four fields every account has; ``prefix`` names nested fields (``rsp.``).

    An address in use is not an error here unless ``report_taken`` (program staff creating
    staff): :func:`new_user` raises :class:`AddressInUse` once the rest is valid, so that a
    sign-up can answer the same whether or not the address is known.
    """
    mail = email_value(errors, prefix + "email", email)
    if report_taken and mail and email_taken(session, mail):
        errors.add(prefix + "email", ADDRESS_IN_USE)
    pw = password if isinstance(password, str) else None
    if not pw:
        errors.add(prefix + "password", "This field is required.")
    else:
        for problem in password_problems(pw):
            errors.add(prefix + "password", problem)
    first = text_value(errors, prefix + "first_name", first_name, max_length=100)
    last = text_value(errors, prefix + "last_name", last_name, max_length=100)
    return mail, pw, first, last


_addresses_trusted: ContextVar[bool] = ContextVar("registry_addresses_trusted", default=False)


@contextmanager
def addresses_trusted() -> Iterator[None]:
    """Accounts created within are confirmed at once, with no link sent: for the demo loader
    and test set-ups, whose addresses are made up (example.org) and nobody's."""
    token = _addresses_trusted.set(True)
    try:
        yield
    finally:
        _addresses_trusted.reset(token)


def new_user(session: Session, *, email: str, password: str, role: Role,
             first_name: str, last_name: str, confirmed: bool = False,
             field: str = "email", patient_id: int | None = None) -> User:
    """A new account, its address not yet confirmed (unless ``confirmed``): a link to
    confirm it is queued to it, and it cannot sign in before its owner follows the link
    (registry.accounts.links; patients may, with their activation code).

    The address is checked under :func:`registry.locks.lock_email`, against accounts and
    patients alike (but ``patient_id``, the patient whose account this is); raises
    :class:`AddressInUse` if it is taken."""
    from registry import locks
    from registry.patients.queries import email_in_use

    confirmed = confirmed or _addresses_trusted.get()
    mail = email.strip().lower()
    locks.lock_email(session, mail)
    if email_in_use(session, mail, except_patient_id=patient_id):
        raise AddressInUse(mail, field)
    user = User(
        email=mail, password_hash=hash_secret(password), role=role.value,
        first_name=first_name, last_name=last_name, failed_logins=0,
        email_confirmed_at=clock.now() if confirmed else None, reminders_enabled=True,
    )
    session.add(user)
    session.flush()
    if not confirmed:
        from registry.accounts.links import send_confirmation

        send_confirmation(session, user, actor=user)
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
        last_name=last_name, report_taken=True,
    )
    errors.raise_if_any()
    assert mail and pw and first and last
    user = new_user(session, email=mail, password=pw, role=Role.STAFF,
                    first_name=first, last_name=last, confirmed=True)
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

    Every answer costs one argon2 verification, whether or not the account exists or is
    locked. Each real check of the password is first counted, atomically, in the database
    (see :func:`_count_attempt`), so that concurrent attempts cannot run more real checks
    than ``LOGIN_MAX_FAILURES``; the count and the lock's audit entry are kept even if the
    request fails afterwards (:func:`registry.db.durable_write`).
    """
    from flask import current_app

    mail = email.strip().lower() if isinstance(email, str) else ""
    secret = password if isinstance(password, str) else ""
    generic = LoginFailed("Wrong email or password.")
    user = session.execute(select(User).where(User.email == mail)).scalar()
    if user is None:
        verify_dummy(secret)  # the same work whether or not the account exists
        raise generic
    limit = int(current_app.config["LOGIN_MAX_FAILURES"])
    lock_for = timedelta(minutes=int(current_app.config["LOGIN_LOCK_MINUTES"]))
    now = clock.now()
    attempt = db.durable_write(_count_attempt(user.id, now, limit, lock_for))
    session.expire(user, ["failed_logins", "locked_until"])  # changed by that write
    if attempt.refused:
        verify_dummy(secret)  # a locked account answers no sooner than a real check
        raise LoginFailed(LOCKED_MESSAGE, attempt.locked_until)
    if not verify_secret(user.password_hash, secret):
        if attempt.locked_until is not None:  # this was the last check allowed
            user_id, role, until = user.id, user.role, attempt.locked_until
            db.durable_write(_record_lock(user_id, role, until, limit))
            raise LoginFailed(LOCKED_MESSAGE, until)
        raise generic
    if user.email_confirmed_at is None and user.role != Role.PATIENT.value:
        # Said only to whoever knows the password. Patients proved who they are with their
        # activation code; they confirm their address too, but may sign in meanwhile.
        raise LoginFailed(UNCONFIRMED_MESSAGE)
    session.execute(
        update(User).where(User.id == user.id).values(failed_logins=0, locked_until=None)
    )
    session.expire(user, ["failed_logins", "locked_until"])
    if needs_rehash(user.password_hash):
        user.password_hash = hash_secret(secret)
    session.flush()
    return user


LOCKED_MESSAGE = "Too many failed logins: this account is locked for a few minutes."
UNCONFIRMED_MESSAGE = ("Confirm your email address first: follow the link in the message we "
                       "sent to it (or ask for a new one with \"Forgot password?\").")


@dataclass(frozen=True)
class Attempt:
    refused: bool  # the account is locked: no check
    failed_logins: int  # counting this attempt as a failure until it succeeds
    locked_until: datetime | None  # set when this is the last check before the lock


def _count_attempt(user_id: int, now: datetime, limit: int,
                   lock_for: timedelta) -> Callable[[Session], Attempt]:
    """Count the attempt as a failure BEFORE checking the password, in one statement: it
    either takes one of the checks left (and, taking the last one, sets the lock) or finds
    the account locked. A correct password then resets the count. An expired lock starts
    the count again."""
    users = User.metadata.tables[User.__tablename__]
    expired = and_(users.c.locked_until.is_not(None), users.c.locked_until <= now)
    failed = case((expired, 1), else_=func.coalesce(users.c.failed_logins, 0) + 1)
    until = bindparam("until", now + lock_for, type_=users.c.locked_until.type)
    lock = case((failed >= limit, until), else_=null())

    def write(session: Session) -> Attempt:
        row = session.execute(
            update(users)
            .where(users.c.id == user_id,
                   or_(users.c.locked_until.is_(None), users.c.locked_until <= now))
            .values(failed_logins=failed, locked_until=lock)
            .returning(users.c.failed_logins, users.c.locked_until)
        ).first()
        if row is None:
            locked_until = session.execute(
                select(users.c.locked_until).where(users.c.id == user_id)).scalar()
            return Attempt(refused=True, failed_logins=limit, locked_until=locked_until)
        return Attempt(refused=False, failed_logins=row[0], locked_until=row[1])

    return write


def _record_lock(user_id: int, role: str, until: datetime,
                 limit: int) -> Callable[[Session], None]:
    def write(session: Session) -> None:
        user = session.get(User, user_id)
        assert user is not None
        record(session, user, "user:lock", "user", user_id,
               after={"locked_until": until.isoformat(), "failed_logins": limit})

    return write


# --- signed-in browser sessions ----------------------------------------------------------

SESSION_TOUCH_RESOLUTION = timedelta(minutes=1)


def session_token_hash(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def open_session(session: Session, user: User) -> str:
    """A new server-side session for a sign-in; returns the random id for the cookie (only
    its hash is stored)."""
    raw = secrets.token_urlsafe(32)
    now = clock.now()
    row = UserSession(token_hash=session_token_hash(raw), user_id=user.id, created_at=now,
                      last_seen_at=now, ended_at=None)
    session.add(row)
    session.flush()
    record(session, user, "session:start", "user_session", row.id,
           after={"user_id": user.id, "created_at": now.isoformat()})
    return raw


def end_session(session: Session, user: User, raw: object) -> UserSession | None:
    """Sign out: the session ends on the server, so its cookie no longer works anywhere."""
    if not isinstance(raw, str) or not raw:
        return None
    row = session.execute(select(UserSession).where(
        UserSession.token_hash == session_token_hash(raw), UserSession.user_id == user.id,
        UserSession.ended_at.is_(None))).scalar()
    if row is None:
        return None
    row.ended_at = clock.now()
    session.flush()
    record(session, user, "session:end", "user_session", row.id,
           before={"ended_at": None}, after={"ended_at": row.ended_at.isoformat()})
    return row


def end_every_sign_in(session: Session, actor: User | None, user: User, *, why: str) -> int:
    """End all of ``user``'s browser sessions and revoke all their API tokens (for a
    password change or reset: the old password's sign-ins must not outlive it). Returns how
    many were ended."""
    from registry.api.models import ApiToken

    now = clock.now()
    sessions = session.execute(update(UserSession).where(
        UserSession.user_id == user.id, UserSession.ended_at.is_(None)).values(ended_at=now))
    tokens = session.execute(update(ApiToken).where(
        ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None),
        ApiToken.expires_at > now).values(revoked_at=now))
    ended = int(getattr(sessions, "rowcount", 0) or 0)
    revoked = int(getattr(tokens, "rowcount", 0) or 0)
    record(session, actor, "user:end_sign_ins", "user", user.id,
           after={"sessions_ended": ended, "api_tokens_revoked": revoked, "why": why})
    return ended + revoked


def session_in_use(session: Session, user_id: int, raw: object) -> UserSession | None:
    """The live server-side session behind a signed cookie, or None: unknown, another
    user's, ended (logout, password change), idle longer than SESSION_IDLE_MINUTES, or older
    than SESSION_MAX_HOURS. Records its use at most once a minute."""
    from flask import current_app

    if not isinstance(raw, str) or not raw:
        return None
    row = session.execute(select(UserSession).where(
        UserSession.token_hash == session_token_hash(raw))).scalar()
    if row is None or row.user_id != user_id or row.ended_at is not None:
        return None
    now = clock.now()
    idle = timedelta(minutes=int(current_app.config["SESSION_IDLE_MINUTES"]))
    max_age = timedelta(hours=int(current_app.config["SESSION_MAX_HOURS"]))
    if now - row.last_seen_at > idle or now - row.created_at > max_age:
        return None
    if now - row.last_seen_at >= SESSION_TOUCH_RESOLUTION:
        # As for API tokens: in the request's transaction when it may write, else after it.
        if db.request_may_write():
            row.last_seen_at = now
            session.flush()
        else:
            db.after_commit(_touch_session(row.id, now))
    return row


def _touch_session(session_id: int, now: datetime) -> Callable[[Session], None]:
    def write(session: Session) -> None:
        session.execute(update(UserSession).where(UserSession.id == session_id)
                        .values(last_seen_at=now))

    return write
