"""The program's words shown as they are stored (a test's result, an RMA's status, a role),
marked for the catalog; a page shows them through ``|tr``. A test checks that every value
of these vocabularies is here."""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import cache

from flask_babel import gettext as _

from registry.i18n import N_, text
from registry.rules.contraception import ALL_METHODS

SHOWN_AS_STORED = (
    # roles
    N_("prescriber"), N_("designee"), N_("pharmacist"), N_("patient"), N_("staff"),
    # pregnancy tests: result, setting, purpose (with "_" shown as a space)
    N_("negative"), N_("positive"), N_("lab"), N_("office"), N_("home"),
    N_("screening"), N_("confirmation"), N_("monthly"), N_("end of treatment"),
    N_("post treatment"),
    # authorizations
    N_("authorized"), N_("dispensed"), N_("reversed"), N_("expired"), N_("cancelled"),
    # pregnancy outcomes
    N_("ongoing"), N_("live birth"), N_("miscarriage"), N_("termination"), N_("not pregnant"),
    N_("lost to follow up"),
)

# Next steps the rules build from parts (registry/rules/eligibility.py): every sentence they
# can make. tests/test_i18n.py checks each f-string step has its sentences here.
BUILT_STEPS = (
    N_("Enter this month's pregnancy test."),
    N_("Enter this month's pregnancy test (lab or office)."),
    N_("Enter a new monthly pregnancy test."),
    N_("Enter a new confirmation pregnancy test (lab or office)."),
)

# Messages the rules, validation and operations build with a number or a name in them
# (f-strings): shown through ``text``, which finds the message these came from and
# translates it with the same values.
BUILT_MESSAGES = (
    N_("Use at least %(count)s characters."),
    N_("Use at most %(count)s characters."),
    N_("Must be at most %(count)s characters."),
    N_("Must be at least %(number)s."),
    N_("Must be at most %(number)s."),
    N_("Must be between %(low)s and %(high)s."),
    N_("Must be %(count)s digits."),
    N_("Must be a date between %(first)s and %(last)s."),
    N_("Must be one of: %(options)s."),
)


@cache
def built_message_patterns() -> list[tuple[re.Pattern[str], str]]:
    """Each built message as a pattern: its %(name)s parts match any text."""
    patterns = []
    for message in BUILT_MESSAGES:
        parts = re.split(r"%\((\w+)\)s", message)
        regex = "".join(re.escape(p) if i % 2 == 0 else f"(?P<{p}>.+?)"
                        for i, p in enumerate(parts))
        patterns.append((re.compile(regex), message))
    return patterns


def describe_methods(methods: Iterable[str] | None, abstinence: bool) -> str:
    """A contraception choice in words, in the page's language (rules.contraception.describe
    in English)."""
    if abstinence:
        return _("Commitment to abstinence")
    return _(" and ").join(text(ALL_METHODS.get(m, m)) for m in (methods or []))
