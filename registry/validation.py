"""Turning raw input (JSON values, form strings) into typed values, naming the field."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from typing import Any

from email_validator import EmailNotValidError, validate_email

from registry.errors import Errors
from registry.rules.identifiers import normalize_registry_id, npi_is_valid, registry_id_is_valid

MISSING = "This field is required."
INT_LIMIT = 2**31 - 1
EARLIEST_DATE = date(1900, 1, 1)
LATEST_DATE = date(2199, 12, 31)


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


def registry_id_value(errors: Errors, field: str, value: Any) -> str | None:
    """A patient registry ID as typed (spaces and dashes allowed), checked before any lookup.

    A wrong check digit is a typo to re-key, not a patient who does not exist: it is a
    field error, so no denial is stored for it.
    """
    text = text_value(errors, field, value, max_length=30)
    if text is None:
        return None
    rid = normalize_registry_id(text)
    if not (len(rid) == 10 and rid.isdigit()):
        errors.add(field, "A registry ID is 10 digits.")
        return None
    if not registry_id_is_valid(rid):
        errors.add(field, "The check digit does not match: re-key the ID.")
        return None
    return rid


def npi_value(errors: Errors, field: str, value: Any) -> str | None:
    """A 10-digit NPI with a valid check digit (rules §2); a number is read as its digits."""
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    text = text_value(errors, field, value, max_length=20)
    if text is None:
        return None
    npi = normalize_registry_id(text)
    if not (len(npi) == 10 and npi.isdigit()):
        errors.add(field, "An NPI is 10 digits.")
        return None
    if not npi_is_valid(npi):
        errors.add(field, "The check digit does not match: re-key the NPI.")
        return None
    return npi


def date_value(errors: Errors, field: str, value: Any, *, required: bool = True) -> date | None:
    if value is None or value == "":
        if required:
            errors.add(field, MISSING)
        return None
    parsed: date | None = None
    if isinstance(value, date):
        parsed = value
    elif isinstance(value, str):
        try:
            if len(value.strip()) == 10:
                parsed = date.fromisoformat(value.strip())
        except ValueError:
            pass
    if parsed is None:
        errors.add(field, "Must be a date written YYYY-MM-DD.")
        return None
    if not EARLIEST_DATE <= parsed <= LATEST_DATE:
        # Date arithmetic on the rules' windows would overflow near year 1 or 9999.
        errors.add(field, f"Must be a date between {EARLIEST_DATE} and {LATEST_DATE}.")
        return None
    return parsed


def int_value(errors: Errors, field: str, value: Any, *, required: bool = True,
              minimum: int | None = None, maximum: int | None = None) -> int | None:
    if value is None or value == "":
        if required:
            errors.add(field, MISSING)
        return None
    if isinstance(value, bool):
        errors.add(field, "Must be a whole number.")
        return None
    if isinstance(value, str):
        try:
            value = int(value.strip())
        except ValueError:
            errors.add(field, "Must be a whole number.")
            return None
    if not isinstance(value, int):
        errors.add(field, "Must be a whole number.")
        return None
    if minimum is not None and value < minimum:
        errors.add(field, f"Must be at least {minimum}.")
        return None
    if maximum is not None and value > maximum:
        errors.add(field, f"Must be at most {maximum}.")
        return None
    if not -INT_LIMIT <= value <= INT_LIMIT:  # what every database's INTEGER column holds
        errors.add(field, f"Must be between {-INT_LIMIT} and {INT_LIMIT}.")
        return None
    return value


def bool_value(errors: Errors, field: str, value: Any, *, default: bool = False) -> bool:
    if value is None or value == "":
        return default
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in {"true", "1", "yes", "on", "y"}:
        return True
    if isinstance(value, str) and value.lower() in {"false", "0", "no", "off", "n"}:
        return False
    errors.add(field, "Must be true or false.")
    return default


def choice_value(errors: Errors, field: str, value: Any, choices: Iterable[str], *,
                 required: bool = True) -> str | None:
    options = list(choices)
    if value is None or value == "":
        if required:
            errors.add(field, MISSING)
        return None
    if not isinstance(value, str) or value not in options:
        errors.add(field, "Must be one of: " + ", ".join(options) + ".")
        return None
    return value


def email_value(errors: Errors, field: str, value: Any) -> str | None:
    raw = text_value(errors, field, value, max_length=254)
    if raw is None:
        return None
    try:
        return validate_email(raw, check_deliverability=False).normalized.lower()
    except EmailNotValidError as exc:
        errors.add(field, f"Not a valid email address: {exc}")
        return None


def digits_value(errors: Errors, field: str, value: Any, length: int) -> str | None:
    raw = text_value(errors, field, value if not isinstance(value, int) else str(value),
                     max_length=40)
    if raw is None:
        return None
    cleaned = raw.replace(" ", "").replace("-", "")
    if not cleaned.isdigit() or len(cleaned) != length:
        errors.add(field, f"Must be {length} digits.")
        return None
    return cleaned


def methods_value(errors: Errors, field: str, value: Any) -> list[str] | None:
    if value is None:
        return None
    if not isinstance(value, list | tuple) or not all(isinstance(m, str) for m in value):
        errors.add(field, "Must be a list of method names.")
        return None
    return [m.strip() for m in value if m.strip()]
