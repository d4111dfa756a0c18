"""The one date format people read on every page and message: "Thu 10 Dec 2026", or in
Spanish "jue 10 de diciembre de 2026"."""

from __future__ import annotations

from datetime import date

from babel.dates import format_date

# Babel (CLDR) patterns by language; English keeps its plain, fast form below.
PATTERNS = {"es": "EEE d 'de' MMMM 'de' y"}


def fmt(day: date, language: str = "en") -> str:
    """A date as people read it at a counter: "Tue 3 Mar 2026" (windows are counted in days,
    so the weekday is shown), in ``language`` ("es": "mar 3 de marzo de 2026")."""
    pattern = PATTERNS.get(language)
    if pattern is None:
        return f"{day:%a} {day.day} {day:%b %Y}"
    return format_date(day, pattern, locale=language)
