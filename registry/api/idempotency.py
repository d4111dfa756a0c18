"""``Idempotency-Key`` on mutating requests: stored per user, the first answer replayed."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable
from functools import wraps
from typing import Any

from cryptography.fernet import Fernet, InvalidToken
from flask import Response, current_app, make_response, request
from sqlalchemy import inspect, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from registry import clock, db
from registry.accounts.models import User
from registry.api.blueprint import current_user, json_body
from registry.api.errors import problem
from registry.api.models import IdempotencyRecord
from registry.db import canonical_json
from registry.errors import ValidationError

HEADER = "Idempotency-Key"
# Answers that carry a secret shown once (the patient's activation code, whose only other
# copy is a hash) are stored with that secret encrypted, never readable at rest.
SECRET_FIELDS = ("activation_code", "credential")


def _fernet() -> Fernet:
    secret = str(current_app.config["SECRET_KEY"]).encode()
    return Fernet(base64.urlsafe_b64encode(hashlib.sha256(b"idempotency:" + secret).digest()))


def seal(body: Any) -> Any:
    if not isinstance(body, dict):
        return body
    sealed = dict(body)
    for name in SECRET_FIELDS:
        if isinstance(sealed.get(name), str):
            sealed[name] = {"sealed": _fernet().encrypt(sealed[name].encode()).decode()}
    return sealed


def unseal(body: Any) -> Any:
    if not isinstance(body, dict):
        return body
    opened = dict(body)
    for name in SECRET_FIELDS:
        value = opened.get(name)
        if isinstance(value, dict) and "sealed" in value:
            try:
                opened[name] = _fernet().decrypt(value["sealed"].encode()).decode()
            except InvalidToken:  # the secret key changed since: the code cannot be shown
                opened[name] = None
    return opened


def idempotency_key() -> str | None:
    raw = request.headers.get(HEADER)
    if raw is None:
        return None
    key = raw.strip()
    if not key or len(key) > 255 or "\x00" in key:
        raise ValidationError({HEADER: "Must be 1 to 255 characters, without NUL."})
    return key


def request_hash() -> str:
    content = f"{request.method} {request.path}\n{canonical_json(json_body())}"
    return hashlib.sha256(content.encode()).hexdigest()


def _find(session: Session, user: User, key: str) -> IdempotencyRecord | None:
    return session.execute(
        select(IdempotencyRecord).where(
            IdempotencyRecord.user_id == user.id, IdempotencyRecord.key == key
        )
    ).scalar()


def key_reused() -> Response:
    return problem(422, "This Idempotency-Key was already used with a different request; "
                   "use a new key for a new request.", slug="idempotency-key-reused",
                   title="Idempotency key reused",
                   errors={HEADER: ["Already used with a different request."]})


def _replay(record: IdempotencyRecord, digest: str) -> Response:
    if record.request_hash != digest or record.status is None:
        return key_reused()
    if record.response_body is None:
        response = make_response("", record.status)
    else:
        response = make_response(unseal(record.response_body), record.status)
    response.headers["Idempotent-Replayed"] = "true"
    return response


def idempotent(view: Callable[..., Any]) -> Callable[..., Any]:
    """Wrap an authenticated mutating endpoint.

    The record is inserted first, in a SAVEPOINT: a concurrent twin with the same key waits
    on the unique index (PostgreSQL) or on the write lock (SQLite), then finds the committed
    answer and replays it. Only successful answers are kept; a failure rolls the request
    back, record included, so a retry runs again.
    """

    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        key = idempotency_key()
        if key is None:
            return view(*args, **kwargs)
        user = current_user()
        digest = request_hash()
        session = db.session()
        existing = _find(session, user, key)
        if existing is not None:
            return _replay(existing, digest)
        record = IdempotencyRecord(
            user_id=user.id, key=key, method=request.method, path=request.path[:500],
            request_hash=digest, status=None, response_body=None, created_at=clock.now(),
        )
        try:
            with session.begin_nested():
                session.add(record)
                session.flush()
        except IntegrityError:
            existing = _find(session, user, key)
            if existing is None:  # pragma: no cover - the twin rolled back meanwhile
                raise
            return _replay(existing, digest)
        response = make_response(view(*args, **kwargs))
        if 200 <= response.status_code < 300:
            record.status = response.status_code
            record.response_body = seal(response.get_json(silent=True))
            session.flush()
        elif inspect(record).persistent:  # (a view that rolled back took it away already)
            session.delete(record)
            session.flush()
        return response

    return wrapper
