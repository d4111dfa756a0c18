"""One row per web form submission, so a form sent twice acts once."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from registry import clock
from registry.db import Base


class FormSubmission(Base):
    """The one-time token of a web form, stored in the same transaction as what it did.

    A second request with the same token finds the row (or hits the unique index while the
    first is still running) and does nothing: a double click or a resent POST acts once.
    """

    __tablename__ = "form_submissions"

    id: Mapped[int] = mapped_column(primary_key=True)
    nonce: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int | None]
    submitted_at: Mapped[datetime] = mapped_column(default=clock.now)
