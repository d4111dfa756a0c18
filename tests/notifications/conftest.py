"""A real SMTP server (aiosmtpd) on a free port, and the app pointed at it."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from flask import Flask


@dataclass
class Inbox:
    """What the SMTP server received. ``refuse`` makes it answer 451 to that many messages."""

    messages: list[EmailMessage] = field(default_factory=list)
    refuse: int = 0
    refuse_with: str = "451 4.3.0 Try again later"
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self.lock:
            if self.refuse > 0:
                self.refuse -= 1
                return self.refuse_with
            mail = message_from_bytes(envelope.content, policy=policy.default)
            assert isinstance(mail, EmailMessage)
            self.messages.append(mail)
        return "250 OK"

    def ids(self) -> list[int]:
        with self.lock:
            return [int(m["X-Registry-Notification"]) for m in self.messages]

    def text(self, mail: EmailMessage) -> str:
        part = mail.get_body(("plain",))
        assert part is not None
        return str(part.get_content()).replace("\r\n", "\n")  # type: ignore[attr-defined]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class SmtpServer:
    inbox: Inbox
    port: int


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield SmtpServer(inbox, port)
    finally:
        controller.stop()


MAIL_KEYS = ("MAIL_SERVER", "MAIL_PORT", "MAIL_STARTTLS", "NOTIFY_RETRY_SECONDS")


@pytest.fixture
def smtp_config(base_app: Flask, smtp_server: SmtpServer) -> Iterator[SmtpServer]:
    """The app sends its email to ``smtp_server`` (no STARTTLS: a local test server)."""
    saved = {key: base_app.config[key] for key in MAIL_KEYS}
    base_app.config.update(MAIL_SERVER="127.0.0.1", MAIL_PORT=smtp_server.port,
                           MAIL_STARTTLS=False, NOTIFY_RETRY_SECONDS=60)
    try:
        yield smtp_server
    finally:
        base_app.config.update(saved)
