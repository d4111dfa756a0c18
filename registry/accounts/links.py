"""One-time links emailed to an account's owner: password reset and address confirmation.

The link carries a random token; only its SHA-256 is stored. It works once (taken with one
conditional UPDATE, so two uses at once cannot both succeed) and only until it expires
(PASSWORD_RESET_MINUTES, EMAIL_CONFIRM_HOURS). A new link of the same purpose ends the
earlier ones. The message holding it is an account message: never listed in the app, and
its body is blanked in the outbox once delivered.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from flask import current_app
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from registry import clock
from registry.accounts.models import AccountLink, AccountLinkPurpose, User
from registry.accounts.operations import address_owner, end_every_sign_in
from registry.audit.operations import record
from registry.errors import ValidationError
from registry.notifications.models import Category
from registry.notifications.operations import enqueue_mail, public_url
from registry.security import hash_secret, password_problems

# At most this many reset messages per account per hour, whoever asks: the form cannot be
# used to flood someone's mailbox.
RESETS_PER_HOUR = 3

LINK_REFUSED = ("This link does not work any more: it was used already, a newer one was "
                "sent, or it expired. Ask for a new one.")


def token_hash(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def _lifetime(purpose: AccountLinkPurpose) -> timedelta:
    if purpose == AccountLinkPurpose.PASSWORD_RESET:
        return timedelta(minutes=int(current_app.config["PASSWORD_RESET_MINUTES"]))
    return timedelta(hours=int(current_app.config["EMAIL_CONFIRM_HOURS"]))


def issue_link(session: Session, user: User,
               purpose: AccountLinkPurpose) -> tuple[AccountLink, str]:
    """A new link for ``user``; the earlier unused ones of that purpose stop working."""
    now = clock.now()
    session.execute(update(AccountLink).where(
        AccountLink.user_id == user.id, AccountLink.purpose == purpose.value,
        AccountLink.used_at.is_(None)).values(used_at=now))
    raw = secrets.token_urlsafe(32)
    link = AccountLink(token_hash=token_hash(raw), user_id=user.id, purpose=purpose.value,
                       created_at=now, expires_at=now + _lifetime(purpose), used_at=None)
    session.add(link)
    session.flush()
    return link, raw


def _live(session: Session, raw: object, purpose: AccountLinkPurpose) -> AccountLink | None:
    if not isinstance(raw, str) or not raw or len(raw) > 100:
        return None
    link = session.execute(select(AccountLink).where(
        AccountLink.token_hash == token_hash(raw), AccountLink.purpose == purpose.value)
    ).scalar()
    if link is None or link.used_at is not None or link.expires_at <= clock.now():
        return None
    return link


def link_works(session: Session, raw: object, purpose: AccountLinkPurpose) -> bool:
    """For the page behind the link: show the form, or say the link does not work."""
    return _live(session, raw, purpose) is not None


def _use(session: Session, raw: object, purpose: AccountLinkPurpose) -> User:
    """Take the link, once: the conditional UPDATE succeeds for one transaction only."""
    link = _live(session, raw, purpose)
    if link is None:
        raise ValidationError(token=LINK_REFUSED)
    now = clock.now()
    taken = session.execute(update(AccountLink).where(
        AccountLink.id == link.id, AccountLink.used_at.is_(None),
        AccountLink.expires_at > now).values(used_at=now))
    if not getattr(taken, "rowcount", 0):
        raise ValidationError(token=LINK_REFUSED)
    user = session.get(User, link.user_id)
    assert user is not None
    return user


def _mail_link(session: Session, user: User, purpose: AccountLinkPurpose, raw: str,
               link: AccountLink, *, actor: User | None = None) -> None:
    if purpose == AccountLinkPurpose.PASSWORD_RESET:
        template, path = "password_reset", "/reset-password/"
        reason = "Someone (we hope you) asked to reset the password of your registry account."
    else:
        template, path = "confirm_email", "/confirm-email/"
        reason = "An account in the registry was opened with this address."
    url = public_url(path + raw)  # no request needed (the worker, the command line)
    minutes = int(_lifetime(purpose).total_seconds() // 60)
    enqueue_mail(session, user, template, kind=f"account:{purpose.value}",
                 event_key=f"link:{link.id}", reason=reason, category=Category.ACCOUNT,
                 link=url, secret=True, actor=actor, context={"minutes": minutes})


# --- password reset ------------------------------------------------------------------------


def request_password_reset(session: Session, *, email: object) -> None:
    """"Forgot password?": email a one-time link to the account with this address, if there
    is one. The caller answers the same either way (and the work is much the same)."""
    mail = email.strip().lower() if isinstance(email, str) else ""
    user = address_owner(session, mail) if mail else None
    if user is None:
        return
    hour_ago = clock.now() - timedelta(hours=1)
    recent = session.execute(select(func.count()).select_from(AccountLink).where(
        AccountLink.user_id == user.id,
        AccountLink.purpose == AccountLinkPurpose.PASSWORD_RESET.value,
        AccountLink.created_at > hour_ago)).scalar_one()
    if recent >= RESETS_PER_HOUR:
        return
    link, raw = issue_link(session, user, AccountLinkPurpose.PASSWORD_RESET)
    record(session, None, "user:reset_requested", "user", user.id,
           after={"link_id": link.id, "expires_at": link.expires_at.isoformat()})
    _mail_link(session, user, AccountLinkPurpose.PASSWORD_RESET, raw, link)


def reset_password(session: Session, *, token: object, password: object) -> User:
    """Set a new password with a reset link: the link is used up, every sign-in of the
    account (browser sessions, API tokens) ends, and the address counts as confirmed (the
    link reached it). A bad password leaves the link usable."""
    if _live(session, token, AccountLinkPurpose.PASSWORD_RESET) is None:
        raise ValidationError(token=LINK_REFUSED)
    secret = password if isinstance(password, str) else ""
    problems = password_problems(secret) if secret else ["This field is required."]
    if problems:
        raise ValidationError({"password": problems})
    user = _use(session, token, AccountLinkPurpose.PASSWORD_RESET)
    user.password_hash = hash_secret(secret)
    user.failed_logins = 0
    user.locked_until = None
    confirmed_now = user.email_confirmed_at is None
    if confirmed_now:
        user.email_confirmed_at = clock.now()
    session.flush()
    record(session, user, "user:password_reset", "user", user.id,
           after={"email_confirmed": True} if confirmed_now else {})
    end_every_sign_in(session, user, user, why="password reset")
    return user


# --- address confirmation ------------------------------------------------------------------


def send_confirmation(session: Session, user: User, *, actor: User | None = None) -> None:
    """Email ``user`` a link confirming their address (a new account, or a patient who
    activated with their code)."""
    link, raw = issue_link(session, user, AccountLinkPurpose.CONFIRM_EMAIL)
    _mail_link(session, user, AccountLinkPurpose.CONFIRM_EMAIL, raw, link, actor=actor)


def confirm_email(session: Session, *, token: object) -> User:
    user = _use(session, token, AccountLinkPurpose.CONFIRM_EMAIL)
    if user.email_confirmed_at is None:
        user.email_confirmed_at = clock.now()
        session.flush()
        record(session, user, "user:confirm_email", "user", user.id,
               before={"email_confirmed_at": None},
               after={"email_confirmed_at": user.email_confirmed_at.isoformat()})
    return user
