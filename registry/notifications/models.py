from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from registry import clock
from registry.accounts.models import in_check
from registry.db import Base


class Channel(StrEnum):
    """How a message reaches its recipient. Every message is also listed in the app (except
    account messages, which carry one-time links); ``in_app`` ones are only listed there."""

    EMAIL = "email"
    IN_APP = "in_app"
    SMS = "sms"  # the seam: no provider yet (see registry.notifications.channels)


class Category(StrEnum):
    REMINDER = "reminder"  # a person may turn these off
    ALERT = "alert"  # never turned off
    ACCOUNT = "account"  # password reset, address confirmation: email only, never listed


class MessageStatus(StrEnum):
    QUEUED = "queued"
    SENDING = "sending"  # claimed by a worker until next_attempt_at (its lease)
    SENT = "sent"
    FAILED = "failed"  # gave up after NOTIFY_MAX_ATTEMPTS; kept, shown to program staff


class Notification(Base):
    """One message to one person, queued at most once per (recipient, kind, event key):
    the database enforces it, so an event seen twice (two workers, a retried request) queues
    one message."""

    __tablename__ = "notifications"
    __table_args__ = (
        UniqueConstraint("recipient_id", "kind", "event_key",
                         name="uq_notifications_recipient_kind_event"),
        CheckConstraint(in_check("channel", Channel), name="channel"),
        CheckConstraint(in_check("category", Category), name="category"),
        CheckConstraint(in_check("status", MessageStatus), name="status"),
        Index("ix_notifications_due", "status", "next_attempt_at"),
        Index("ix_notifications_recipient_created", "recipient_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    recipient_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    channel: Mapped[str] = mapped_column(String(20))
    category: Mapped[str] = mapped_column(String(20))
    kind: Mapped[str] = mapped_column(String(60))
    event_key: Mapped[str] = mapped_column(String(200))
    address: Mapped[str | None] = mapped_column(String(254))  # where it goes (email) at queue
    lang: Mapped[str] = mapped_column(String(10), default="en")
    subject: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    body_html: Mapped[str | None] = mapped_column(Text)
    link: Mapped[str | None] = mapped_column(String(500))
    reason: Mapped[str] = mapped_column(String(500))  # "why you got this"
    safety: Mapped[bool] = mapped_column(default=False)
    # A one-time link in the body: the body and link are blanked once delivered.
    secret: Mapped[bool] = mapped_column(default=False)
    status: Mapped[str] = mapped_column(String(20), default=MessageStatus.QUEUED.value)
    attempts: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(default=clock.now)
    next_attempt_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(String(500))
    read_at: Mapped[datetime | None]

    def __repr__(self) -> str:
        return f"<Notification {self.id} {self.kind} to {self.recipient_id} {self.status}>"
