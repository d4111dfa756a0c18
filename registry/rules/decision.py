"""The answer the rules give: eligible or not, every reason, the window, who acts next."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from registry.rules.facts import CycleFact
from registry.rules.reasons import NextStep, Reason
from registry.rules.treatment_end import TreatmentEnd
from registry.rules.vocabulary import Actor, CycleKind, ReasonCode, RuleSetName
from registry.rules.wording import Words


@dataclass(frozen=True)
class Window:
    cycle_id: int | None
    kind: CycleKind
    opens_on: date
    closes_on: date | None
    test_specimen_on: date | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "cycle_id": self.cycle_id,
            "kind": self.kind,
            "test_specimen_on": (
                self.test_specimen_on.isoformat() if self.test_specimen_on else None
            ),
            "window_opens_on": self.opens_on.isoformat(),
            "window_closes_on": self.closes_on.isoformat() if self.closes_on else None,
        }


@dataclass(frozen=True)
class Decision:
    eligible: bool
    reasons: tuple[Reason, ...]
    ruleset: RuleSetName
    today: date
    parameters: dict[str, Any]
    cycle: CycleFact | None = None  # the cycle an authorization would be issued against
    window: Window | None = None
    do_not_dispense_after: date | None = None
    lockout_until: date | None = None
    next_steps: tuple[NextStep, ...] = ()
    treatment_end: TreatmentEnd | None = None
    needs_new_cycle: bool = False  # cannot get pregnant, 2026: the authorization opens its own

    @property
    def codes(self) -> list[str]:
        return [r.code for r in self.reasons]


@dataclass
class Findings:
    """The reasons and next steps gathered while the sections of the rules are checked."""

    reasons: list[Reason] = field(default_factory=list)
    steps: list[NextStep] = field(default_factory=list)

    def reason(self, code: ReasonCode, words: Words, actor: Actor | None = None,
               due_on: date | None = None) -> None:
        if any(r.code == code for r in self.reasons):
            return
        self.reasons.append(Reason(code, words.message, words.action, actor, due_on))

    def step(self, actor: Actor, action: str, due_on: date | None = None,
             not_before: date | None = None) -> None:
        self.steps.append(NextStep(actor, action, due_on, not_before))


# A cycle's window as the rules see it: the cycle, its window, its do-not-dispense-after day.
CycleOutcome = tuple[CycleFact | None, Window | None, date | None]
NO_CYCLE: CycleOutcome = (None, None, None)
