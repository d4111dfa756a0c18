"""STARTTLS: the registry upgrades the SMTP connection (checking the certificate) before it
sends anything, and a server that demands it is never sent to in clear."""

from __future__ import annotations

import datetime as dt
import ipaddress
import ssl
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from flask import Flask
from sqlalchemy.orm import Session

from registry.notifications.delivery import deliver_due
from registry.notifications.models import Category
from registry.notifications.operations import enqueue
from tests import factories as f
from tests.notifications.conftest import Inbox, free_port


def _self_signed(tmp: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = tmp / "cert.pem", tmp / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


@pytest.fixture
def tls_server(tmp_path: Path) -> Iterator[tuple[Inbox, int, Path]]:
    cert, key = _self_signed(tmp_path)
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_ctx.load_cert_chain(cert, key)
    inbox, port = Inbox(), free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port, tls_context=server_ctx,
                            require_starttls=True)
    controller.start()
    try:
        yield inbox, port, cert
    finally:
        controller.stop()


def _configure(app: Flask, port: int, **values: Any) -> dict[str, Any]:
    keys = ("MAIL_SERVER", "MAIL_PORT", "MAIL_STARTTLS", "MAIL_TLS_CONTEXT")
    saved = {k: app.config.get(k) for k in keys}
    app.config.update(MAIL_SERVER="127.0.0.1", MAIL_PORT=port, **values)
    return saved


def test_mail_goes_over_starttls_and_never_in_clear(app: Flask, session: Session,
                                                    clock: Any, tls_server: Any) -> None:
    inbox, port, cert = tls_server
    clock.to("2026-03-02")
    message = enqueue(session, f.staff(session), kind="alert:test", event_key="tls",
                      subject="Over TLS", body="Hello", reason="A test.",
                      category=Category.ALERT)
    assert message is not None
    saved = _configure(app, port, MAIL_STARTTLS=False)
    try:
        assert deliver_due(app).retried == 1  # the server demands STARTTLS: not sent
        assert inbox.messages == []
        # An unknown certificate is refused too (the system's CAs do not know it).
        app.config.update(MAIL_STARTTLS=True)
        clock.to("2026-03-02", hour=13)
        assert deliver_due(app).retried == 1
        assert inbox.messages == []
        trusted = ssl.create_default_context(cafile=str(cert))
        app.config.update(MAIL_TLS_CONTEXT=trusted)
        clock.to("2026-03-02", hour=15)
        assert deliver_due(app).sent == 1
    finally:
        app.config.update(saved)
    assert [m["Subject"] for m in inbox.messages] == ["Over TLS"]
    session.refresh(message)
    assert (message.status, message.attempts) == ("sent", 3)
