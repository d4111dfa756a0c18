"""A reported pregnancy or a positive test (rules §8): nothing in the cycle matters then."""

from __future__ import annotations

from dataclasses import replace

from registry.rules import wording
from registry.rules.decision import Findings
from registry.rules.reasons import NextStep
from registry.rules.vocabulary import CYCLE_REASONS, Actor


def pregnancy_steps() -> list[NextStep]:
    """Care for the patient and the program's follow-up (never "enter a negative test",
    which would read as a way round the block)."""
    return [
        NextStep(Actor.PATIENT, wording.STEP_STOP_TAKING),
        NextStep(Actor.PRESCRIBER, wording.STEP_COUNSEL_PREGNANCY),
        NextStep(Actor.PROGRAM_STAFF, wording.STEP_FOLLOW_UP),
    ]


def block_for_pregnancy(found: Findings) -> None:
    """Every failing check is still reported, but no cycle step is asked for while the
    block stands: "enter a negative test" would read as a way round it."""
    found.steps = pregnancy_steps()
    found.reasons = [
        replace(r, action=wording.BLOCKED_ACTION) if r.code in CYCLE_REASONS else r
        for r in found.reasons
    ]
