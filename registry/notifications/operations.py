"""Queueing messages (in the caller's transaction) and the in-app list.

:func:`enqueue` is the one way to send anyone anything: call it in the transaction of what
causes the message, so the message exists exactly when that change is committed. The
delivery (registry.notifications.delivery) runs later, in `registry worker`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask import current_app, render_template
from sqlalchemy import Table, func, select, update
from sqlalchemy.orm import Session

from registry import clock
from registry.accounts.models import User
from registry.audit.operations import record
from registry.db import insert_or_nothing
from registry.errors import NotFound
from registry.notifications.models import Category, Channel, MessageStatus, Notification

CONFLICT_COLUMNS = ("recipient_id", "kind", "event_key")


@dataclass(frozen=True)
class Mail:
    """A message rendered from templates/mail/<name>.txt (blocks subject, text, html)."""

    subject: str
    text: str
    html: str | None


def render_mail(name: str, lang: str = "en", **context: Any) -> Mail:
    """Render ``templates/mail/<name>.txt`` (or ``mail/<name>.<lang>.txt`` when there is one).

    A message template extends ``mail/_layout.txt``, which renders one part at a time
    (``part``: subject, text, html); ``lang`` is passed so a catalog can pick the language.
    """
    template = current_app.jinja_env.select_template(
        [f"mail/{name}.{lang}.txt", f"mail/{name}.txt"])
    values = {"lang": lang, "public_url": public_url(), **context}
    subject = render_template(template, part="subject", **values)
    text = render_template(template, part="text", **values).strip()
    html = render_template(template, part="html", **values).strip()
    return Mail(subject=" ".join(subject.split()), text=text + "\n", html=html or None)


def public_url(path: str = "") -> str:
    """An absolute address in the app, for a link in a message (PUBLIC_URL + path)."""
    return str(current_app.config["PUBLIC_URL"]).rstrip("/") + path


def enqueue(
    session: Session,
    recipient: User,
    *,
    kind: str,
    event_key: str,
    subject: str,
    body: str,
    reason: str,
    category: Category = Category.REMINDER,
    link: str | None = None,
    body_html: str | None = None,
    safety: bool = False,
    channel: Channel = Channel.EMAIL,
    lang: str = "en",
    secret: bool = False,
    not_before: datetime | None = None,
    actor: User | None = None,
) -> Notification | None:
    """Queue one message to ``recipient`` in the caller's transaction, at most once per
    (recipient, ``kind``, ``event_key``): a second call for the same event queues nothing
    and returns None (the database's unique constraint decides, with ON CONFLICT DO
    NOTHING, so two transactions racing on the same event queue one message).

    Also None when it is a reminder and the recipient turned reminders off (``safety``
    messages are always queued). ``reason`` says why they got it, ``link`` where to act.
    ``secret``: the body holds a one-time link; it is blanked once delivered and the message
    is not listed in the app. In-app messages are delivered when committed.
    """
    if category == Category.REMINDER and not safety and not recipient.reminders_enabled:
        return None
    now = clock.now()
    delivered = channel == Channel.IN_APP
    values: dict[str, Any] = {
        "recipient_id": recipient.id,
        "channel": channel.value,
        "category": category.value,
        "kind": kind,
        "event_key": event_key,
        "address": recipient.email if channel == Channel.EMAIL else None,
        "lang": lang,
        "subject": subject[:200],
        "body": body,
        "body_html": body_html,
        "link": link,
        "reason": reason[:500],
        "safety": safety,
        "secret": secret,
        "status": (MessageStatus.SENT if delivered else MessageStatus.QUEUED).value,
        "attempts": 0,
        "created_at": now,
        "next_attempt_at": not_before or now,
        "sent_at": now if delivered else None,
    }
    table = Notification.__table__
    assert isinstance(table, Table)
    statement = insert_or_nothing(table, tuple(values), conflict=CONFLICT_COLUMNS,
                                  returning=("id",))
    new_id = session.execute(statement, values).scalar()
    if new_id is None:
        return None
    message = session.get(Notification, new_id)
    assert message is not None
    record(session, actor, "notification:queue", "notification", new_id, after={
        "recipient_id": recipient.id, "kind": kind, "event_key": event_key,
        "channel": channel.value, "category": category.value, "safety": safety,
    })
    return message


def enqueue_mail(
    session: Session,
    recipient: User,
    template: str,
    *,
    kind: str,
    event_key: str,
    reason: str,
    context: dict[str, Any] | None = None,
    **options: Any,
) -> Notification | None:
    """:func:`enqueue` a message rendered from ``templates/mail/<template>.txt``, in the
    recipient's language (``lang`` in ``options``, else English)."""
    lang = options.pop("lang", "en")
    mail = render_mail(template, lang, recipient=recipient, reason=reason,
                       link=options.get("link"), **(context or {}))
    return enqueue(session, recipient, kind=kind, event_key=event_key, subject=mail.subject,
                   body=mail.text, body_html=mail.html, reason=reason, lang=lang, **options)


# --- the in-app list ---------------------------------------------------------------------

LISTED = (Category.REMINDER.value, Category.ALERT.value)


def listed_messages(session: Session, user: User, *, limit: int = 20) -> Sequence[Notification]:
    """The user's messages for their home page, newest first (account messages with their
    one-time links are never listed)."""
    return session.execute(
        select(Notification)
        .where(Notification.recipient_id == user.id, Notification.category.in_(LISTED))
        .order_by(Notification.created_at.desc(), Notification.id.desc())
        .limit(limit)
    ).scalars().all()


def unread_count(session: Session, user: User) -> int:
    return int(session.execute(
        select(func.count()).select_from(Notification).where(
            Notification.recipient_id == user.id, Notification.category.in_(LISTED),
            Notification.read_at.is_(None))
    ).scalar_one())


def mark_read(session: Session, user: User, message_id: int | None = None) -> int:
    """Mark one of the user's messages (or all of them) read; returns how many changed.
    Reading is not audited: it changes nothing about anyone's treatment."""
    query = update(Notification).where(
        Notification.recipient_id == user.id, Notification.read_at.is_(None),
        Notification.category.in_(LISTED))
    if message_id is not None:
        owned = session.execute(select(Notification.id).where(
            Notification.id == message_id, Notification.recipient_id == user.id)).first()
        if owned is None:
            raise NotFound("No such message.")
        query = query.where(Notification.id == message_id)
    result = session.execute(query.values(read_at=clock.now()))
    return int(getattr(result, "rowcount", 0) or 0)


def set_reminders(session: Session, user: User, enabled: bool) -> User:
    """The user's preference: reminders on or off (safety alerts always come)."""
    before = {"reminders_enabled": user.reminders_enabled}
    user.reminders_enabled = bool(enabled)
    session.flush()
    record(session, user, "user:preferences", "user", user.id, before=before,
           after={"reminders_enabled": user.reminders_enabled})
    return user
