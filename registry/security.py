"""Password and secret hashing with argon2."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from flask import current_app, has_app_context

_DEFAULT = PasswordHasher()


def hasher() -> PasswordHasher:
    if not has_app_context():
        return _DEFAULT
    ph = current_app.extensions.get("registry.hasher")
    if ph is None:
        cfg = current_app.config
        ph = PasswordHasher(
            time_cost=int(cfg["ARGON2_TIME_COST"]),
            memory_cost=int(cfg["ARGON2_MEMORY_COST"]),
            parallelism=int(cfg["ARGON2_PARALLELISM"]),
        )
        current_app.extensions["registry.hasher"] = ph
    return ph


def hash_secret(secret: str) -> str:
    return hasher().hash(secret)


def verify_secret(stored_hash: str, secret: str) -> bool:
    try:
        return hasher().verify(stored_hash, secret)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def verify_dummy(secret: str) -> None:
    """The work of one verification, against a hash of the same parameters as real ones:
    for the answers (no such account, no such patient, account locked) that must not come
    back sooner than a real check."""
    ph = hasher()
    key = "registry.dummy_hash"
    dummy = current_app.extensions.get(key) if has_app_context() else None
    if dummy is None:
        dummy = ph.hash("not-a-real-password")
        if has_app_context():
            current_app.extensions[key] = dummy
    verify_secret(dummy, secret)


def needs_rehash(stored_hash: str) -> bool:
    return hasher().check_needs_rehash(stored_hash)


MIN_PASSWORD_LENGTH = 10


def password_problems(password: str) -> list[str]:
    if len(password) < MIN_PASSWORD_LENGTH:
        return [f"Use at least {MIN_PASSWORD_LENGTH} characters."]
    if len(password) > 256:
        return ["Use at most 256 characters."]
    return []
