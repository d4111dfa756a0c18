"""Counseling and comprehension of a patient who cannot get pregnant (rules §5): a monthly
counseling window, or counseling once at enrollment, as the rule set in force says."""

from __future__ import annotations

from datetime import date, timedelta

from registry.rules import wording
from registry.rules.decision import NO_CYCLE, CycleOutcome, Findings, Window
from registry.rules.facts import PatientFacts
from registry.rules.history import cycle_dispensed, latest_cycle
from registry.rules.params import Parameters
from registry.rules.rulesets import RuleSet
from registry.rules.vocabulary import Actor, CycleKind, ReasonCode


def check_counseling_window(
    found: Findings, facts: PatientFacts, today: date, params: Parameters, rules: RuleSet,
) -> CycleOutcome:
    """Monthly counseling: day 1 of the window is the counseling date."""
    cycle = latest_cycle(facts, CycleKind.COUNSELING_WINDOW)
    if cycle is None or cycle.closes_on is None:
        found.reason(ReasonCode.COUNSELING_NOT_CONFIRMED,
                     wording.counseling_window_missing(rules.cannot_get_pregnant_days(params)),
                     Actor.PRESCRIBER)
        found.step(Actor.PRESCRIBER, wording.STEP_MONTHLY_COUNSELING)
        return NO_CYCLE
    window = Window(cycle.id, cycle.kind, cycle.opened_on, cycle.closes_on, None)
    if today > cycle.closes_on:
        if cycle_dispensed(facts, cycle):
            found.reason(ReasonCode.COUNSELING_NOT_CONFIRMED, wording.NEXT_COUNSELING_MISSING,
                         Actor.PRESCRIBER)
        else:
            found.reason(ReasonCode.WINDOW_EXPIRED,
                         wording.counseling_window_expired(cycle.opened_on, cycle.closes_on),
                         Actor.PRESCRIBER)
        found.step(Actor.PRESCRIBER, wording.STEP_MONTHLY_COUNSELING)
        return cycle, window, None
    if cycle_dispensed(facts, cycle):
        found.reason(ReasonCode.AUTHORIZATION_ALREADY_ISSUED, wording.MONTH_DISPENSED,
                     Actor.PRESCRIBER)
        return cycle, window, None
    return cycle, window, cycle.closes_on


def check_enrollment_counseling(
    found: Findings, facts: PatientFacts, today: date, params: Parameters, rules: RuleSet,
) -> date:
    """Counseling once, at enrollment; returns the do-not-dispense-after day of an
    authorization issued today (which opens its own cycle)."""
    if not facts.counselings:
        found.reason(ReasonCode.COUNSELING_NOT_CONFIRMED, wording.ENROLLMENT_COUNSELING_MISSING,
                     Actor.PRESCRIBER)
        found.step(Actor.PRESCRIBER, wording.STEP_ENROLLMENT_COUNSELING)
    return today + timedelta(days=rules.cannot_get_pregnant_days(params))


def check_comprehension_once(found: Findings, facts: PatientFacts) -> None:
    """Patients who cannot get pregnant answer the questions once, at activation."""
    if not facts.comprehension_passed_ever:
        found.reason(ReasonCode.COMPREHENSION_NOT_PASSED, wording.COMPREHENSION_ONCE_MISSING,
                     Actor.PATIENT)
        found.step(Actor.PATIENT, wording.STEP_QUESTIONS)
