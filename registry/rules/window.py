"""The monthly cycle of a patient who can get pregnant (rules §5): the test opens a
window; counseling, the comprehension questions and matching contraception fill it."""

from __future__ import annotations

from datetime import date

from registry.rules import wording
from registry.rules.contraception import same_choice
from registry.rules.decision import NO_CYCLE, CycleOutcome, Findings, Window
from registry.rules.facts import PatientFacts
from registry.rules.history import (
    cycle_dispensed,
    earliest_refill_on,
    earliest_useful_test_on,
    latest_cycle,
    screening_test,
    treatment_started,
)
from registry.rules.params import Parameters
from registry.rules.pregnancy_tests import earliest_confirmation_on
from registry.rules.vocabulary import Actor, CycleKind, ReasonCode, RuleSetName


def check_test_window(
    found: Findings, facts: PatientFacts, today: date, params: Parameters,
    lockout: date | None, ruleset: RuleSetName,
) -> CycleOutcome:
    started = treatment_started(facts)
    screening = screening_test(facts)
    cycle = latest_cycle(facts, CycleKind.TEST_WINDOW)
    if screening is None:
        found.reason(ReasonCode.CONFIRMATION_TEST_REQUIRED, wording.NO_TESTS, Actor.PRESCRIBER)
        found.step(Actor.PRESCRIBER, wording.STEP_SCREENING)
        return NO_CYCLE
    if cycle is None and not started:
        earliest = earliest_confirmation_on(facts, params) or today
        found.reason(ReasonCode.CONFIRMATION_TEST_REQUIRED,
                     wording.confirmation_missing(screening.specimen_on, earliest),
                     Actor.PRESCRIBER)
        found.step(Actor.PRESCRIBER, wording.STEP_CONFIRMATION, not_before=earliest)
        return NO_CYCLE
    if cycle is None or cycle.closes_on is None:  # pragma: no cover - started implies a cycle
        found.reason(ReasonCode.PREGNANCY_TEST_REQUIRED, wording.NO_CYCLE_TEST)
        return NO_CYCLE

    test_on = cycle.opened_on
    window = Window(cycle.id, cycle.kind, cycle.opened_on, cycle.closes_on, test_on)
    first = not started  # before the first dispense: a confirmation test, lab or office
    if today < cycle.opened_on:
        found.reason(ReasonCode.WINDOW_NOT_OPEN, wording.window_not_open(cycle.opened_on),
                     Actor.PHARMACY)
        return cycle, window, None
    if today > cycle.closes_on:
        if cycle_dispensed(facts, cycle):
            useful = earliest_useful_test_on(facts, params)
            found.reason(ReasonCode.PREGNANCY_TEST_REQUIRED,
                         wording.monthly_test_missing(useful), Actor.PRESCRIBER)
            found.step(Actor.PRESCRIBER, wording.step_monthly_test(first), not_before=useful)
        else:
            found.reason(ReasonCode.WINDOW_EXPIRED,
                         wording.window_expired(cycle.opened_on, cycle.closes_on, first,
                                                lockout),
                         Actor.PRESCRIBER)
            if lockout:
                found.reason(ReasonCode.LOCKOUT_ACTIVE, wording.lockout_active(lockout, ruleset),
                             Actor.PRESCRIBER, lockout)
            days = [d for d in (lockout, earliest_useful_test_on(facts, params)) if d]
            found.step(Actor.PRESCRIBER, wording.step_new_cycle_test(first),
                       not_before=max(days) if days else None)
        return cycle, window, None

    close = cycle.closes_on
    if cycle_dispensed(facts, cycle):
        useful = earliest_useful_test_on(facts, params)
        found.reason(ReasonCode.AUTHORIZATION_ALREADY_ISSUED, wording.cycle_dispensed(useful),
                     Actor.PRESCRIBER)
        found.step(Actor.PRESCRIBER, wording.STEP_NEXT_MONTH_TEST, not_before=useful)
        return cycle, window, None
    refill = earliest_refill_on(facts, params)
    if started and refill is not None and close < refill:
        again = earliest_useful_test_on(facts, params)
        found.reason(ReasonCode.PREGNANCY_TEST_REQUIRED,
                     wording.window_before_refill(test_on, close, refill, again or refill),
                     Actor.PRESCRIBER)
        found.step(Actor.PRESCRIBER, wording.STEP_RETEST, not_before=again)
        return cycle, window, None
    if cycle.counseling is None:
        found.reason(ReasonCode.COUNSELING_NOT_CONFIRMED, wording.counseling_missing(close),
                     Actor.PRESCRIBER, close)
        found.step(Actor.PRESCRIBER, wording.STEP_COUNSELING_AND_METHODS, due_on=close)
    if not cycle.comprehension_passed:
        found.reason(ReasonCode.COMPREHENSION_NOT_PASSED,
                     wording.comprehension_missing(close, cycle.counseling is not None),
                     Actor.PATIENT, close)
        found.step(Actor.PATIENT, wording.STEP_MONTHLY_QUESTIONS, due_on=close)
    if cycle.contraception is None:
        found.reason(ReasonCode.CONTRACEPTION_NOT_ATTESTED, wording.contraception_missing(close),
                     Actor.PATIENT, close)
        found.step(Actor.PATIENT, wording.STEP_CONTRACEPTION, due_on=close)
    elif cycle.counseling is not None and not same_choice(
        cycle.contraception.methods, cycle.contraception.abstinence,
        cycle.counseling.methods, cycle.counseling.abstinence,
    ):
        found.reason(ReasonCode.CONTRACEPTION_MISMATCH, wording.contraception_mismatch(close),
                     Actor.PATIENT, close)
        found.step(Actor.PATIENT, wording.STEP_REENTER_CONTRACEPTION, due_on=close)
    return cycle, window, close
