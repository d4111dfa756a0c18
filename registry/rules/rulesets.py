"""What each rule set does, as one table the rules consult (rules §4-§6).

A rule set is a row: a third one is a new row here (and its start date in
:class:`~registry.rules.params.Parameters`), not a new ``if`` in every rule.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

from registry.rules.params import Parameters, ruleset_for
from registry.rules.vocabulary import CycleKind, RuleSetName


@dataclass(frozen=True)
class RuleSet:
    name: RuleSetName
    # §5.5: a missed first window locks the next confirmation specimen out for
    # ``lockout_days`` after the missed one.
    missed_first_window_lockout: bool
    # §4: once treatment has started, monthly (and end-of-treatment) tests may be done at
    # home, for a patient whose prescriber allowed it.
    home_tests_after_treatment_starts: bool
    # §5, cannot get pregnant: a monthly counseling window (day 1 is the counseling date)
    # or counseling at enrollment only, each authorization carrying its own date.
    cannot_get_pregnant_cycle: CycleKind
    # ... and how many days: the counseling window's length, or the days from issue to
    # "do not dispense after".
    cannot_get_pregnant_days: Callable[[Parameters], int]
    # §6: the issuing pharmacy is reminded the day after "do not dispense after" of an RMA
    # neither dispensed nor reversed, and staff see those counts per pharmacy.
    reminds_unreversed_rmas: bool

    @property
    def monthly_counseling(self) -> bool:
        """Patients who cannot get pregnant are counseled every month (not only once)."""
        return self.cannot_get_pregnant_cycle == CycleKind.COUNSELING_WINDOW


RULE_SETS: dict[RuleSetName, RuleSet] = {
    RuleSetName.OF_2021: RuleSet(
        name=RuleSetName.OF_2021,
        missed_first_window_lockout=True,
        home_tests_after_treatment_starts=False,
        cannot_get_pregnant_cycle=CycleKind.COUNSELING_WINDOW,
        cannot_get_pregnant_days=lambda p: p.no_pregnancy_window_2021_days,
        reminds_unreversed_rmas=False,
    ),
    RuleSetName.OF_2026: RuleSet(
        name=RuleSetName.OF_2026,
        missed_first_window_lockout=False,
        home_tests_after_treatment_starts=True,
        cannot_get_pregnant_cycle=CycleKind.PER_AUTHORIZATION,
        cannot_get_pregnant_days=lambda p: p.no_pregnancy_dispense_days_2026,
        reminds_unreversed_rmas=True,
    ),
}


def rules_in_force(day: date, params: Parameters) -> RuleSet:
    """What the rule set in force on ``day`` does."""
    return RULE_SETS[ruleset_for(day, params)]
