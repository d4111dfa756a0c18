"""Issuing and revoking API tokens (audited, like every change of state)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import struct
from datetime import timedelta

from flask import current_app
from sqlalchemy.orm import Session

from registry import clock
from registry.accounts.models import User
from registry.accounts.operations import LoginFailed, authenticate
from registry.accounts.schemas import Credentials
from registry.api.blueprint import token_hash
from registry.api.models import ApiToken
from registry.audit.operations import record

TOKEN_PREFIX = "rgt_"  # noqa: S105 - a visible prefix, not a secret


def totp_matches(secret: str, code: str, *, step: int = 30, drift: int = 1) -> bool:
    """RFC 6238 (SHA-1, 6 digits) with one step of clock drift either way."""
    try:
        key = base64.b32decode(secret.strip().replace(" ", "").upper() + "=" * (-len(secret) % 8))
    except (ValueError, TypeError):
        return False
    counter = int(clock.now().timestamp()) // step
    for offset in range(-drift, drift + 1):
        digest = hmac.new(key, struct.pack(">Q", counter + offset), hashlib.sha1).digest()
        start = digest[-1] & 0x0F
        value = (struct.unpack(">I", digest[start:start + 4])[0] & 0x7FFFFFFF) % 1_000_000
        if hmac.compare_digest(f"{value:06d}", code.strip()):
            return True
    return False


def issue_token(session: Session, credentials: Credentials) -> tuple[ApiToken, str]:
    """Check the login (with lockout) and issue a token; only its SHA-256 is stored.

    Raises ``LoginFailed``; the caller commits even then, so failure counts are kept.
    """
    user = authenticate(session, email=credentials.email, password=credentials.password)
    if user.totp_secret:
        if not credentials.totp:
            raise LoginFailed("This account uses a one-time code: send it as `totp`.")
        if not totp_matches(user.totp_secret, credentials.totp):
            raise LoginFailed("Wrong email, password or one-time code.")
    raw = TOKEN_PREFIX + secrets.token_urlsafe(32)
    now = clock.now()
    hours = int(current_app.config["API_TOKEN_HOURS"])
    token = ApiToken(user_id=user.id, token_hash=token_hash(raw), created_at=now,
                     expires_at=now + timedelta(hours=hours), last_used_at=None,
                     revoked_at=None)
    session.add(token)
    session.flush()
    record(session, user, "api_token:issue", "api_token", token.id,
           after={"user_id": user.id, "expires_at": token.expires_at.isoformat()})
    return token, raw


def revoke_token(session: Session, actor: User, token: ApiToken) -> ApiToken:
    token.revoked_at = clock.now()
    session.flush()
    record(session, actor, "api_token:revoke", "api_token", token.id,
           before={"revoked_at": None}, after={"revoked_at": token.revoked_at.isoformat()})
    return token
