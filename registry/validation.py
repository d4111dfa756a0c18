"""The two checks left from before the typed contract (registry/contract.py), for the
accounts made on the command line (program staff): text and an email address, naming the
field."""

from __future__ import annotations

from typing import Any

from email_validator import EmailNotValidError, validate_email

from registry.errors import Errors

MISSING = "This field is required."


def text_value(errors: Errors, field: str, value: Any, *, required: bool = True,
               max_length: int = 200) -> str | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            errors.add(field, MISSING)
        return None
    if not isinstance(value, str):
        errors.add(field, "Must be text.")
        return None
    text: str = value.strip()
    if len(text) > max_length:
        errors.add(field, f"Must be at most {max_length} characters.")
        return None
    return text


def email_value(errors: Errors, field: str, value: Any) -> str | None:
    raw = text_value(errors, field, value, max_length=254)
    if raw is None:
        return None
    try:
        return validate_email(raw, check_deliverability=False).normalized.lower()
    except EmailNotValidError as exc:
        errors.add(field, f"Not a valid email address: {exc}")
        return None
