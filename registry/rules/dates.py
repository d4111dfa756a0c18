"""The one date format people read on every page and message: "Thu 10 Dec 2026"."""

from __future__ import annotations

from datetime import date


def fmt(day: date) -> str:
    """A date as people read it at a counter: "Tue 3 Mar 2026" (windows are counted in days,
    so the weekday is shown)."""
    return f"{day:%a} {day.day} {day:%b %Y}"
