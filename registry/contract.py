"""The typed contract of every operation: the field types its input and output schemas are
made of, and one translation of their errors into plain words naming the field.

An operation's input is a pydantic model built once, from the API's JSON body or from a
page's form, and handed to the operation typed (``register_patient(session, actor,
data)``). The same models give the OpenAPI document its schemas, so the document and the
server cannot disagree: each type here validates exactly what its JSON Schema says, and what
it refuses beyond JSON Schema (a check digit, a password too easy to guess) is named by a
``format`` that clients and the fuzz tests know.

Checks that need today's date or the database stay in the operations and the rules.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Annotated, Any, TypeVar

from email_validator import EmailNotValidError, validate_email
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    Strict,
    StringConstraints,
    WithJsonSchema,
)
from pydantic import ValidationError as PydanticValidationError
from pydantic_core import PydanticCustomError

from registry.errors import InputError, ValidationError
from registry.rules.identifiers import normalize_registry_id, npi_is_valid, registry_id_is_valid

INT_LIMIT = 2**31 - 1
EARLIEST_DATE = date(1900, 1, 1)
LATEST_DATE = date(2199, 12, 31)
MISSING = "This field is required."
DATE_MESSAGE = "Must be a date written YYYY-MM-DD."
NUL_MESSAGE = "Must not contain the NUL character (\\u0000)."
# A text value: at least one character that is not white space, and no NUL (no column takes
# it). The same expression is the JSON Schema pattern and the server's check. White space is
# spelled out as Python's str.strip() removes it: ECMAScript's \s (the JSON Schema reader's)
# leaves \x1c-\x1f and \x85 out and adds \ufeff, so "\x1f" met the document's pattern and
# then was stripped to nothing by the server (found by the fuzz).
WHITE_SPACE = (r"\t\n\x0b\x0c\r\x1c-\x1f \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f"
               r"\u205f\u3000")
TEXT_PATTERN = rf"^[^\x00]*[^\x00{WHITE_SPACE}][^\x00]*$"
DATE_PATTERN = r"^(19[0-9]{2}|2[01][0-9]{2})-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$"
_DATE_SHAPE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")


class Input(BaseModel):
    """Base of every operation's input. Fields not in the model are ignored (clients may send
    more than an operation needs); the model is immutable once checked."""

    model_config = ConfigDict(frozen=True, extra="ignore", str_strip_whitespace=False)


class Query(BaseModel):
    """Base of every query string: a parameter the endpoint does not take is refused, so that
    a misspelt filter (``?sinse=``) is an error rather than an unfiltered answer."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class Output(BaseModel):
    """Base of every response body."""

    model_config = ConfigDict(frozen=True, from_attributes=True)


def _fail(kind: str, message: str) -> PydanticCustomError:
    return PydanticCustomError(kind, message)


# --- text ---------------------------------------------------------------------------------


def trimmed(value: str) -> str:
    """The text without the white space around it; refused when nothing else is left."""
    return _text(value)


def _text(value: str) -> str:
    value = value.strip()
    if not value:  # only characters Python counts as white space (\x1c to \x1f, say)
        raise _fail("missing", MISSING)
    return value


# Text with at least one visible character and no NUL, trimmed; the length counts what was
# sent (as JSON Schema's maxLength does). One alias per size, so that mypy sees ``str``.
Text = Annotated[str, Strict(), Field(min_length=1, max_length=200, pattern=TEXT_PATTERN),
                 AfterValidator(_text)]
Name = Annotated[str, Strict(), Field(min_length=1, max_length=100, pattern=TEXT_PATTERN),
                 AfterValidator(_text)]
LongText = Annotated[str, Strict(), Field(min_length=1, max_length=2000, pattern=TEXT_PATTERN),
                     AfterValidator(_text)]
Note = Annotated[str, Strict(), Field(min_length=1, max_length=4000, pattern=TEXT_PATTERN),
                 AfterValidator(_text)]
Reason = Annotated[str, Strict(), Field(min_length=1, max_length=500, pattern=TEXT_PATTERN),
                   AfterValidator(_text)]


def _email(value: str) -> str:
    value = _visible(value)
    try:
        return validate_email(value, check_deliverability=False).normalized.lower()
    except EmailNotValidError as exc:
        raise _fail("email", f"Not a valid email address: {exc}") from None


Email = Annotated[str, Strict(), StringConstraints(max_length=254), AfterValidator(_email),
                  WithJsonSchema({"type": "string", "format": "email", "maxLength": 254})]
Password = Annotated[str, Strict(), StringConstraints(max_length=256),
                     AfterValidator(lambda v: _password(v)),
                     WithJsonSchema({"type": "string", "format": "password", "minLength": 12,
                                     "maxLength": 256, "pattern": "^[^\\x00]*$",
                                     "description": "At least 12 characters, not easy to "
                                     "guess (checked by the server)."})]


def _nul() -> str:
    raise _fail("nul", NUL_MESSAGE)


def _password(value: str) -> str:
    """minLength 12, in the words the pages have always used."""
    if "\x00" in value:
        raise _fail("nul", NUL_MESSAGE)
    if len(value) < 12:
        raise _fail("password", "Use at least 12 characters.")
    return value


def _visible(value: str) -> str:
    if "\x00" in value:
        raise _fail("nul", NUL_MESSAGE)
    value = value.strip()
    if not value:
        raise _fail("missing", MISSING)
    return value


def _registry_id(value: str) -> str:
    value = _visible(value)
    rid = normalize_registry_id(value)
    if not (len(rid) == 10 and rid.isdigit()):
        raise _fail("registry_id", "A registry ID is 10 digits.")
    if not registry_id_is_valid(rid):
        raise _fail("registry_id", "The check digit does not match: re-key the ID.")
    return rid


RegistryId = Annotated[str, Strict(), StringConstraints(max_length=30),
                       AfterValidator(_registry_id),
                       WithJsonSchema({"type": "string", "format": "registry-id",
                                       "minLength": 1, "pattern": TEXT_PATTERN,
                                       "maxLength": 30, "example": "4031975528",
                                       "description": "10 digits (spaces and dashes allowed), "
                                       "the last a check digit."})]


def _npi(value: str) -> str:
    value = _visible(value)
    npi = normalize_registry_id(value)
    if not (len(npi) == 10 and npi.isdigit()):
        raise _fail("npi", "An NPI is 10 digits.")
    if not npi_is_valid(npi):
        raise _fail("npi", "The check digit does not match: re-key the NPI.")
    return npi


Npi = Annotated[str, Strict(), StringConstraints(max_length=20), AfterValidator(_npi),
                WithJsonSchema({"type": "string", "pattern": "^[0-9]{10}$", "format": "npi",
                                "example": "1234567893",
                                "description": "10 digits; the last is a Luhn check digit "
                                "over \"80840\" and the first nine."})]


# --- numbers, booleans, dates -------------------------------------------------------------


def whole(value: Any) -> Any:
    """JSON Schema counts 30.0 as an integer; so do we. A boolean is never a number."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


# A whole number any database's INTEGER column holds. Other bounds are declared the same way:
# ``Annotated[int, Strict(), Field(ge=1, le=366), BeforeValidator(whole)]`` (the bounds
# before the validator, so that they reach the schema as minimum and maximum).
Int32 = Annotated[int, Strict(), Field(ge=-INT_LIMIT, le=INT_LIMIT), BeforeValidator(whole)]
Count = Annotated[int, Strict(), Field(ge=1, le=INT_LIMIT), BeforeValidator(whole)]
RecordId = Count
Flag = Annotated[bool, Strict()]


def from_query(value: Any) -> Any:
    """A query string's number arrives as text: ``?limit=20``."""
    if isinstance(value, str) and re.fullmatch(r"-?[0-9]{1,12}", value):
        return int(value)
    return value


def from_query_flag(value: Any) -> Any:
    """A query string says ``true``/``false`` (or 1/0); JSON-style, never other numbers."""
    if isinstance(value, str):
        word = value.strip().lower()
        if word in ("true", "1"):
            return True
        if word in ("false", "0", ""):
            return False
    return value


# In a query string: ``Annotated[int, Strict(), Field(ge=1, le=200),
# BeforeValidator(from_query)]``.
QueryFlag = Annotated[bool, BeforeValidator(from_query_flag), Strict(),
                      WithJsonSchema({"type": "boolean"})]
PAGE_SIZE = 50
PageSize = Annotated[int, Strict(), Field(ge=1, le=500, description=(
    f"Page size (default {PAGE_SIZE}).")), BeforeValidator(from_query)]
Cursor = Annotated[str, Strict(), Field(min_length=1, max_length=40, pattern=TEXT_PATTERN,
                                        description="The `next_cursor` of the previous page."),
                   AfterValidator(_text)]


def _date(value: Any) -> date:
    if isinstance(value, datetime):
        raise _fail("date_type", DATE_MESSAGE)
    if isinstance(value, date):
        parsed = value
    elif isinstance(value, str) and _DATE_SHAPE.match(value):
        try:
            parsed = date.fromisoformat(value)
        except ValueError:
            raise _fail("date_type", "Not a date on the calendar: " + DATE_MESSAGE) from None
    else:
        raise _fail("date_type", DATE_MESSAGE)
    if not EARLIEST_DATE <= parsed <= LATEST_DATE:
        raise _fail("date_range", "Must be a date between 1900-01-01 and 2199-12-31.")
    return parsed


Day = Annotated[date, BeforeValidator(_date),
                WithJsonSchema({"type": "string", "format": "date", "pattern": DATE_PATTERN,
                                "example": "2026-03-02"})]


# --- errors in plain words ----------------------------------------------------------------

_PLAIN: dict[str, str] = {
    "missing": MISSING,
    "string_type": "Must be text.",
    "string_too_short": MISSING,
    "string_pattern_mismatch": MISSING,  # only white space: see _message for NUL
    "int_type": "Must be a whole number.",
    "int_parsing": "Must be a whole number.",
    "int_from_float": "Must be a whole number.",
    "bool_type": "Must be true or false.",
    "bool_parsing": "Must be true or false.",
    "model_type": "Must be an object.",
    "model_attributes_type": "Must be an object.",
    "dict_type": "Must be an object.",
    "list_type": "Must be a list.",
    "tuple_type": "Must be a list.",
    "extra_forbidden": "Not a field of this request.",
    "is_instance_of": "Not a value this field takes.",
}


def _message(error: Any) -> str:
    kind = error["type"]
    ctx = error.get("ctx") or {}
    if error.get("input", "") is None:  # null in JSON, an empty field on a form
        return MISSING
    if kind == "string_pattern_mismatch" and "\x00" in str(error.get("input", "")):
        return NUL_MESSAGE
    if kind == "string_too_long":
        return f"Must be at most {ctx.get('max_length')} characters."
    if kind == "string_too_short" and ctx.get("min_length", 1) > 1:
        return f"Must be at least {ctx.get('min_length')} characters."
    if kind == "greater_than_equal":
        return f"Must be at least {ctx.get('ge')}."
    if kind == "less_than_equal":
        return f"Must be at most {ctx.get('le')}."
    if kind in ("enum", "literal_error"):
        expected = str(ctx.get("expected", "")).replace("'", "").replace(" or ", ", ")
        return f"Must be one of: {expected}."
    if kind == "union_tag_invalid":
        return f"Must be one of: {ctx.get('expected_tags', '')}.".replace("'", "")
    if kind in ("too_short", "too_long"):
        return str(error["msg"]).replace("List should have", "Must have") + "."
    if kind == "value_error":
        return str(error["msg"]).removeprefix("Value error, ")
    if kind in _PLAIN:
        return _PLAIN[kind]
    return str(error["msg"])


def field_name(loc: tuple[Any, ...]) -> str:
    """("contraception", "methods", 0) → "contraception.methods[0]"."""
    name = ""
    for part in loc:
        if isinstance(part, int):
            name += f"[{part}]"
        elif part.startswith(("function-", "json-or-python")):
            continue
        else:
            name += f".{part}" if name else str(part)
    return name or "body"


def field_errors(exc: PydanticValidationError) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    for error in exc.errors(include_url=False):
        messages = errors.setdefault(field_name(tuple(error["loc"])), [])
        message = _message(error)
        if message not in messages:
            messages.append(message)
    return errors


M = TypeVar("M", bound=BaseModel)
# Refusals of values that the JSON Schema accepts, named by its ``format``.
BEYOND_SCHEMA = frozenset({"npi", "registry_id", "email", "jwks"})


def parse(model: type[M], data: Any = None, /, **fields: Any) -> M:
    """``data`` (or the keyword ``fields``) checked against ``model``; a
    :class:`~registry.errors.InputError` (a ValidationError) naming every bad field."""
    try:
        return model.model_validate(fields if data is None else data)
    except PydanticValidationError as exc:
        if all(error["type"] in BEYOND_SCHEMA for error in exc.errors()):
            # Only what the document names by a format (a check digit, an address the mail
            # system cannot take): the request met the schema, so it is not an InputError.
            raise ValidationError(field_errors(exc)) from None
        raise InputError(field_errors(exc)) from None
