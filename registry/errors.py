"""Errors that operations raise; the web pages and the API turn them into answers."""

from __future__ import annotations

from collections.abc import Mapping, Sequence


class RegistryError(Exception):
    """Base class for errors an operation reports to its caller."""

    status = 400

    def __init__(self, message: str = "") -> None:
        super().__init__(message)
        self.message = message


class ValidationError(RegistryError):
    """Bad input: ``errors`` maps each field name to what is wrong with it."""

    status = 422

    def __init__(self, errors: Mapping[str, Sequence[str] | str] | None = None,
                 **fields: str) -> None:
        merged: dict[str, list[str]] = {}
        for field, msgs in {**(errors or {}), **fields}.items():
            merged[field] = [msgs] if isinstance(msgs, str) else list(msgs)
        message = "; ".join(f"{f}: {' '.join(m)}" for f, m in merged.items())
        super().__init__(message)
        self.errors = merged


class InputError(ValidationError):
    """Bad input that breaks the typed contract itself (the documented schema), as opposed
    to a check that needs today's date or the database."""


class PermissionDenied(RegistryError):
    status = 403


class NotFound(RegistryError):
    status = 404


class Conflict(RegistryError):
    """The request contradicts the record (e.g. an idempotency key reused with another body)."""

    status = 409


class Errors:
    """Collects field errors so an operation can report them all at once."""

    def __init__(self) -> None:
        self.errors: dict[str, list[str]] = {}

    def add(self, field: str, message: str) -> None:
        self.errors.setdefault(field, []).append(message)

    def __bool__(self) -> bool:
        return bool(self.errors)

    def raise_if_any(self) -> None:
        if self.errors:
            raise ValidationError(self.errors)
