"""Reading what the registry queued for someone, as a test's stand-in for their inbox."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from flask import Flask
from sqlalchemy import select

from registry import db
from registry.accounts.models import User
from registry.notifications.models import Notification


def queued_for(app: Flask, email: str, kind: str) -> list[str]:
    """The bodies of the messages of ``kind`` queued to ``email``, oldest first."""
    with app.app_context():
        return list(db.session().execute(
            select(Notification.body).join(User, User.id == Notification.recipient_id)
            .where(User.email == email.lower(), Notification.kind == kind)
            .order_by(Notification.id)).scalars())


def link_path(app: Flask, email: str, kind: str) -> str:
    """The path of the link in the newest message of ``kind`` queued to ``email``."""
    messages = queued_for(app, email, kind)
    assert messages, f"no {kind} message queued to {email}"
    found = re.search(r"https?://\S+", messages[-1])
    assert found, messages[-1]
    return urlsplit(found.group(0)).path


def confirm_address(app: Flask, email: str) -> None:
    """Follow the confirmation link queued to ``email`` (the page, then its button)."""
    path = link_path(app, email, "account:confirm_email")
    client = app.test_client()
    assert client.get(path).status_code == 200
    assert client.post(path).status_code == 302
