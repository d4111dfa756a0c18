"""How a message leaves the registry: the :class:`Transport` seam, SMTP, a mail folder.

A transport takes one :class:`Outgoing` message and either delivers it or raises
:class:`DeliveryFailed` (``permanent`` when trying again cannot help). Email goes over SMTP
when MAIL_SERVER is set, else into a folder of .eml files (instance/mail/) that program
staff can read at /staff/mail, so a fresh `make run` can follow a reset link. SMS is a seam:
a provider is one more Transport registered for :attr:`Channel.SMS`.
"""

from __future__ import annotations

import os
import smtplib
import ssl
import tempfile
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid, parseaddr
from pathlib import Path
from types import TracebackType
from typing import Any, Protocol

from flask import Flask

from registry import clock
from registry.notifications.models import Channel


@dataclass(frozen=True)
class Outgoing:
    id: int
    channel: str
    address: str | None
    subject: str
    body: str
    body_html: str | None
    lang: str
    kind: str


class DeliveryFailed(Exception):
    def __init__(self, message: str, *, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent


class Transport(Protocol):
    """One way out. Opened once per delivery run (``with``), then ``send`` per message."""

    def __enter__(self) -> Transport: ...

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None: ...

    def send(self, message: Outgoing) -> None: ...


def email_message(message: Outgoing, sender: str) -> EmailMessage:
    if not message.address:
        raise DeliveryFailed("The message has no address.", permanent=True)
    mail = EmailMessage()
    mail["From"] = sender
    mail["To"] = message.address
    mail["Subject"] = message.subject
    mail["Date"] = format_datetime(clock.now())
    # The sender's domain, not socket.getfqdn() (a DNS lookup for every message).
    domain = parseaddr(sender)[1].rpartition("@")[2] or "registry.invalid"
    mail["Message-ID"] = make_msgid(idstring=f"notification-{message.id}", domain=domain)
    mail["Content-Language"] = message.lang
    mail["X-Registry-Notification"] = str(message.id)
    mail["X-Registry-Kind"] = message.kind
    mail.set_content(message.body)
    if message.body_html:
        mail.add_alternative(message.body_html, subtype="html")
    return mail


class SmtpTransport:
    """Email over SMTP, one connection per delivery run (opened at the first message, opened
    again after a broken one). STARTTLS (verified against the system's CAs) unless
    MAIL_STARTTLS is off; it must stay on to log in with MAIL_USERNAME."""

    def __init__(self, config: Any) -> None:
        self.host = str(config["MAIL_SERVER"])
        self.port = int(config["MAIL_PORT"])
        self.username = config.get("MAIL_USERNAME")
        self.password = config.get("MAIL_PASSWORD")
        self.starttls = bool(config["MAIL_STARTTLS"])
        self.timeout = float(config["MAIL_TIMEOUT"])
        self.sender = str(config["MAIL_FROM"])
        self.tls_context: ssl.SSLContext | None = config.get("MAIL_TLS_CONTEXT")
        self._smtp: smtplib.SMTP | None = None

    def __enter__(self) -> SmtpTransport:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self._close()

    def _connect(self) -> smtplib.SMTP:
        smtp = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
        try:
            smtp.ehlo()
            if self.starttls:
                smtp.starttls(context=self.tls_context or ssl.create_default_context())
                smtp.ehlo()
            elif self.username:
                raise DeliveryFailed("MAIL_USERNAME is set but MAIL_STARTTLS is off: the "
                                     "password would cross the network in clear.",
                                     permanent=False)
            if self.username:
                smtp.login(str(self.username), str(self.password or ""))
        except BaseException:
            smtp.close()
            raise
        return smtp

    def _close(self) -> None:
        if self._smtp is not None:
            try:
                self._smtp.quit()
            except (smtplib.SMTPException, OSError):
                self._smtp.close()
            self._smtp = None

    def send(self, message: Outgoing) -> None:
        mail = email_message(message, self.sender)
        try:
            if self._smtp is None:
                self._smtp = self._connect()
            self._smtp.send_message(mail)
        except smtplib.SMTPRecipientsRefused as exc:
            # Refused for good (5xx) only if the address itself is refused.
            codes = [code for code, _ in exc.recipients.values()]
            raise DeliveryFailed(f"Recipient refused: {exc.recipients!r}",
                                 permanent=all(code >= 500 for code in codes)) from exc
        except smtplib.SMTPDataError as exc:  # the message itself refused (5xx: for good)
            raise DeliveryFailed(f"SMTP {exc.smtp_code}: {exc.smtp_error!r}",
                                 permanent=exc.smtp_code >= 500) from exc
        except smtplib.SMTPResponseException as exc:
            # The server refused us (STARTTLS or login required, busy...): a configuration
            # to fix or a moment to wait, never a reason to drop the message.
            self._close()
            raise DeliveryFailed(f"SMTP {exc.smtp_code}: {exc.smtp_error!r}") from exc
        except (smtplib.SMTPException, OSError) as exc:
            self._smtp = None  # broken: a new connection for the next message
            raise DeliveryFailed(f"{type(exc).__name__}: {exc}") from exc


class FolderTransport:
    """Email written as .eml files into a folder (no SMTP server configured)."""

    def __init__(self, folder: Path, sender: str) -> None:
        self.folder = folder
        self.sender = sender

    def __enter__(self) -> FolderTransport:
        self.folder.mkdir(parents=True, exist_ok=True)
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        return None

    def send(self, message: Outgoing) -> None:
        mail = email_message(message, self.sender)
        name = f"{clock.now():%Y%m%dT%H%M%S}-{message.id:08d}.eml"
        # Written whole, then renamed: the mail page never sees half a message.
        fd, tmp = tempfile.mkstemp(dir=self.folder, prefix=".", suffix=".part")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(mail.as_bytes())
            os.replace(tmp, self.folder / name)
        except OSError as exc:
            Path(tmp).unlink(missing_ok=True)
            raise DeliveryFailed(f"Cannot write {name}: {exc}") from exc


class NoSmsProvider:
    """The SMS seam: no provider is configured, so an SMS cannot be delivered."""

    def __enter__(self) -> NoSmsProvider:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        return None

    def send(self, message: Outgoing) -> None:
        raise DeliveryFailed("No SMS provider is configured.", permanent=True)


def mail_folder(app: Flask) -> Path:
    return Path(app.config.get("MAIL_FOLDER") or os.path.join(app.instance_path, "mail"))


def transports(app: Flask) -> dict[str, Transport]:
    """The transport of each channel for this configuration (tests may put their own in
    ``app.extensions["registry.transports"]``)."""
    custom = app.extensions.get("registry.transports")
    if custom is not None:
        return dict(custom)
    email: Transport
    if app.config.get("MAIL_SERVER"):
        email = SmtpTransport(app.config)
    else:
        email = FolderTransport(mail_folder(app), str(app.config["MAIL_FROM"]))
    return {Channel.EMAIL.value: email, Channel.SMS.value: NoSmsProvider()}
