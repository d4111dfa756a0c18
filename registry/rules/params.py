"""Rule parameters (every number marked *parameter* in the program rules)."""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import date
from typing import Any

RULESET_2021 = "2021"
RULESET_2026 = "2026"


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


def ruleset_for(day: date, params: Parameters) -> str:
    """The rule set in force on ``day`` (rules §1)."""
    return RULESET_2026 if day >= params.ruleset_2026_effective else RULESET_2021


def next_ruleset_change(day: date, params: Parameters) -> tuple[str, date] | None:
    if day < params.ruleset_2026_effective:
        return RULESET_2026, params.ruleset_2026_effective
    return None
