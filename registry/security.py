"""Password and secret hashing with argon2."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache

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


# For secrets everyone knows (the demo's printed passwords and activation codes): the
# lowest cost argon2 allows, so loading the demo on first `make run` takes seconds, not a
# minute. The hash records its parameters, so it verifies as usual, and sign-in rehashes it
# with the configured cost (needs_rehash).
_CHEAP = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)


@contextmanager
def cheap_hashing() -> Iterator[None]:
    """Within the block, hash with the cheap setting above (the demo data set only)."""
    ext = current_app.extensions
    previous = ext.get("registry.hasher")
    ext["registry.hasher"] = _CHEAP
    try:
        yield
    finally:
        if previous is None:
            ext.pop("registry.hasher", None)
        else:
            ext["registry.hasher"] = previous


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


MIN_PASSWORD_LENGTH = 12
PASSWORD_HINT = "At least 12 characters, not a common password."  # noqa: S105 - a hint
MAX_PASSWORD_LENGTH = 256
# zxcvbn scores 0-4; below 2 a password falls to fewer than a million guesses.
MIN_PASSWORD_SCORE = 2
_SCORED_LENGTH = 100  # zxcvbn slows down on long input; the first 100 characters decide


@cache
def _common_passwords() -> frozenset[str]:
    """The 30,000 most common passwords, as the zxcvbn package ranks them."""
    from zxcvbn.frequency_lists import FREQUENCY_LISTS

    return frozenset(FREQUENCY_LISTS["passwords"])


def password_problems(password: str) -> list[str]:
    """What is wrong with a new password, in plain words (empty when it is good enough)."""
    if not password.strip():
        return ["A password of only spaces is not allowed: use letters, digits or symbols."]
    if len(password) < MIN_PASSWORD_LENGTH:
        return [f"Use at least {MIN_PASSWORD_LENGTH} characters."]
    if len(password) > MAX_PASSWORD_LENGTH:
        return [f"Use at most {MAX_PASSWORD_LENGTH} characters."]
    if password.strip().lower() in _common_passwords():
        return ["This password is one of the most common passwords: choose another (a few "
                "unrelated words make a good one)."]
    from zxcvbn import zxcvbn

    if zxcvbn(password[:_SCORED_LENGTH])["score"] < MIN_PASSWORD_SCORE:
        return ["This password is too easy to guess (a common password with a few changes, "
                "a repeated or keyboard pattern): choose another (a few unrelated words make "
                "a good one)."]
    return []
