"""The one clock of the registry: every "now" and "today" comes from here.

Tests move time with time-machine. The demo loader builds its history with
:func:`travel`, which shifts this clock only, for the current context.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

_DEFAULT_TZ = "America/New_York"
_offset: ContextVar[timedelta] = ContextVar("registry_clock_offset", default=timedelta(0))


def program_timezone() -> ZoneInfo:
    try:
        from flask import current_app

        return ZoneInfo(current_app.config.get("PROGRAM_TIMEZONE", _DEFAULT_TZ))
    except RuntimeError:  # outside an application context
        return ZoneInfo(_DEFAULT_TZ)


def now() -> datetime:
    """The current instant, timezone-aware, in UTC."""
    return datetime.now(UTC) + _offset.get()


def today() -> date:
    """Today's calendar day in the program time zone (rules §1)."""
    return now().astimezone(program_timezone()).date()


@contextmanager
def travel(days: int) -> Iterator[None]:
    """Shift the registry's clock by ``days`` (negative: into the past) within the block."""
    token = _offset.set(timedelta(days=days))
    try:
        yield
    finally:
        _offset.reset(token)
