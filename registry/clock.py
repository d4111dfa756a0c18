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
# Whole calendar days in the program's time zone (the demo's history), not 24-hour steps:
# 42 x 24 h back across a change of daylight saving time lands on another day after 23:00.
_days: ContextVar[int] = ContextVar("registry_clock_days", default=0)


def program_timezone() -> ZoneInfo:
    try:
        from flask import current_app

        return ZoneInfo(current_app.config.get("PROGRAM_TIMEZONE", _DEFAULT_TZ))
    except RuntimeError:  # outside an application context
        return ZoneInfo(_DEFAULT_TZ)


def now() -> datetime:
    """The current instant, timezone-aware, in UTC."""
    real = datetime.now(UTC)
    days = _days.get()
    if not days:
        return real
    zone = program_timezone()
    wall = real.astimezone(zone).replace(tzinfo=None) + timedelta(days=days)
    return wall.replace(tzinfo=zone).astimezone(UTC)


def today() -> date:
    """Today's calendar day in the program time zone (rules §1)."""
    return now().astimezone(program_timezone()).date()


@contextmanager
def travel(days: int) -> Iterator[None]:
    """Shift the registry's clock by ``days`` calendar days (negative: into the past) within
    the block: the same time of day on the program's calendar, whatever daylight saving did."""
    token = _days.set(days)
    try:
        yield
    finally:
        _days.reset(token)
