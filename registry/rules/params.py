"""Rule parameters: every number marked *parameter* in the program rules, with its default.

This is the one place the defaults live: the app's configuration (``registry.config``)
takes its ``RULESET_2026_EFFECTIVE``, ``WINDOW_DAYS``... keys from :func:`config_defaults`.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import date
from typing import Any

from registry.rules.vocabulary import RuleSetName

# Kept for callers that name the rule sets by these constants.
RULESET_2021 = RuleSetName.OF_2021
RULESET_2026 = RuleSetName.OF_2026


@dataclass(frozen=True)
class Parameters:
    ruleset_2021_effective: date = date(2021, 12, 13)
    ruleset_2026_effective: date = date(2026, 8, 8)
    prescriber_attestation_days: int = 365
    designee_attestation_days: int = 365
    pharmacy_activation_days: int = 365
    pharmacist_training_days: int = 365
    attestation_reminder_days: int = 30
    activation_code_days: int = 30
    minimum_age: int = 12
    adult_age: int = 18
    contraception_before_days: int = 30
    contraception_after_days: int = 30
    confirmation_after_screening_days: int = 19
    lockout_days: int = 19
    window_days: int = 7
    no_pregnancy_window_2021_days: int = 30
    no_pregnancy_dispense_days_2026: int = 7
    post_treatment_test_days: int = 30
    max_days_supply: int = 30
    refill_grace_days: int = 7
    comprehension_questions_per_cycle: int = 7

    @classmethod
    def from_config(cls, config: Any) -> Parameters:
        """Build from a Flask config: each field is the upper-case key of the same name."""
        values: dict[str, Any] = {}
        for f in fields(cls):
            key = f.name.upper()
            if key in config and config[key] is not None:
                value = config[key]
                if f.type == "date" and not isinstance(value, date):
                    value = date.fromisoformat(str(value))
                elif f.type == "int":
                    value = int(value)
                values[f.name] = value
        return cls(**values)

    def as_dict(self) -> dict[str, Any]:
        # Shallow (every value is a date or a number): asdict's deep copy cost a list of 300
        # patients more than deciding on them.
        return {f.name: (v.isoformat() if isinstance(v := getattr(self, f.name), date) else v)
                for f in fields(self)}

    def ruleset_starts(self) -> tuple[tuple[RuleSetName, date], ...]:
        """Each rule set with the day it comes into force, oldest first."""
        return (
            (RuleSetName.OF_2021, self.ruleset_2021_effective),
            (RuleSetName.OF_2026, self.ruleset_2026_effective),
        )


def config_defaults() -> dict[str, Any]:
    """The defaults as configuration keys (upper case; dates as YYYY-MM-DD)."""
    return {key.upper(): value for key, value in Parameters().as_dict().items()}


def ruleset_for(day: date, params: Parameters) -> RuleSetName:
    """The rule set in force on ``day`` (rules §1): the latest one started on or before it
    (the oldest before any started)."""
    starts = params.ruleset_starts()
    in_force = [name for name, starts_on in starts if starts_on <= day]
    return in_force[-1] if in_force else starts[0][0]


def next_ruleset_change(day: date, params: Parameters) -> tuple[RuleSetName, date] | None:
    """The next rule set to come into force after ``day``, and when; None when none is due."""
    for name, starts_on in params.ruleset_starts():
        if starts_on > day:
            return name, starts_on
    return None
