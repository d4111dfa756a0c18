"""Pregnancy tests (rules §4): what a new test is for, whether it opens a cycle, what is
wrong with it; and the days before which a confirmation specimen is too early (§5)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from registry.rules import wording
from registry.rules.facts import CycleFact, PatientFacts
from registry.rules.history import (
    cycle_dispensed,
    latest_cycle,
    screening_test,
    treatment_started,
)
from registry.rules.params import Parameters
from registry.rules.rulesets import rules_in_force
from registry.rules.vocabulary import (
    MEDICAL_SETTINGS,
    CycleKind,
    PregnancyTestPurpose,
    PregnancyTestResult,
    RiskCategory,
)


def earliest_confirmation_on(facts: PatientFacts, params: Parameters) -> date | None:
    """First day a confirmation specimen may be collected (screening + 19, contraception + 30)."""
    screening = screening_test(facts)
    candidates = []
    if screening:
        candidates.append(
            screening.specimen_on + timedelta(days=params.confirmation_after_screening_days)
        )
    if facts.contraception_start_on:
        candidates.append(
            facts.contraception_start_on + timedelta(days=params.contraception_before_days)
        )
    return max(candidates) if candidates else None


def lockout_until(facts: PatientFacts, today: date, params: Parameters) -> date | None:
    """After a missed first window (rule sets with a lockout), no new confirmation specimen
    before this day. Returns the day the lockout ends while it is still running, else None.
    """
    until = lockout_end(facts, today, params)
    return until if until and today < until else None


def lockout_end(facts: PatientFacts, today: date, params: Parameters) -> date | None:
    """The first day a new confirmation specimen may be collected after a missed first
    window, whether or not that day has passed: a specimen collected during the lockout
    stays too early even when it is entered after the lockout ended."""
    if facts.risk_category != RiskCategory.CAN_GET_PREGNANT:
        return None
    if not rules_in_force(today, params).missed_first_window_lockout:
        return None
    if treatment_started(facts):
        return None
    last = latest_cycle(facts, CycleKind.TEST_WINDOW)
    if last is None or last.closes_on is None or today <= last.closes_on:
        return None
    if cycle_dispensed(facts, last):
        return None
    return last.opened_on + timedelta(days=params.lockout_days)


def open_first_window(facts: PatientFacts, today: date, params: Parameters) -> CycleFact | None:
    """Before the first dispense, under a rule set with a lockout: the first window, while it
    is still open. A new confirmation test would replace it; doing so before the window
    closes must not become a way round the lockout that missing it would bring (rules §5).
    """
    if not rules_in_force(today, params).missed_first_window_lockout or treatment_started(facts):
        return None
    last = latest_cycle(facts, CycleKind.TEST_WINDOW)
    if last is None or last.closes_on is None or today > last.closes_on:
        return None
    return None if cycle_dispensed(facts, last) else last


@dataclass(frozen=True)
class TestClassification:
    purpose: PregnancyTestPurpose
    opens_cycle: bool
    errors: dict[str, list[str]]


def classify_test(
    facts: PatientFacts, specimen_on: date, result: str, setting: str,
    today: date, params: Parameters,
) -> TestClassification:
    """Derive a new test's purpose and whether it opens a cycle; say what is wrong with it.

    A positive result is always accepted (it blocks the patient); a negative one must be
    usable for its purpose, so the prescriber learns at once, not at the pharmacy.
    """
    errors: dict[str, list[str]] = {}

    def err(field_name: str, message: str) -> None:
        errors.setdefault(field_name, []).append(message)

    rules = rules_in_force(today, params)
    if facts.risk_category != RiskCategory.CAN_GET_PREGNANT:
        err("risk_category", wording.TEST_ONLY_FOR_CAN)
    if specimen_on > today:
        err("specimen_collected_on", wording.SPECIMEN_IN_FUTURE)
    if specimen_on < facts.date_of_birth:
        err("specimen_collected_on", wording.SPECIMEN_BEFORE_BIRTH)
    positive = result == PregnancyTestResult.POSITIVE
    started = treatment_started(facts)
    medical = setting in MEDICAL_SETTINGS
    home_allowed = rules.home_tests_after_treatment_starts and facts.home_tests_allowed

    if facts.last_dose_on is not None:
        post_on = facts.last_dose_on + timedelta(days=params.post_treatment_test_days)
        purpose = (PregnancyTestPurpose.POST_TREATMENT if specimen_on >= post_on
                   else PregnancyTestPurpose.END_OF_TREATMENT)
        if not positive and not medical and not home_allowed:
            err("setting", wording.TREATMENT_END_TEST_SETTING)
        return TestClassification(purpose, False, errors)

    screening = screening_test(facts)
    if screening is None:
        if not positive and not medical:
            err("setting", wording.SCREENING_SETTING)
        return TestClassification(PregnancyTestPurpose.SCREENING, False, errors)

    purpose = PregnancyTestPurpose.MONTHLY if started else PregnancyTestPurpose.CONFIRMATION
    if positive:
        return TestClassification(purpose, False, errors)

    if not started:
        if not medical:
            err("setting", wording.BEFORE_TREATMENT_SETTING)
        lockout = lockout_end(facts, today, params)
        if lockout and specimen_on < lockout:
            err("specimen_collected_on", wording.specimen_in_lockout(lockout, rules.name))
        replacing = open_first_window(facts, today, params)
        if replacing is not None:
            until = replacing.opened_on + timedelta(days=params.lockout_days)
            if specimen_on < until:
                err("specimen_collected_on", wording.specimen_would_dodge_lockout(
                    replacing.closes_on, until, rules.name))
        if facts.contraception_start_on is None:
            err("contraception_start_date",
                wording.contraception_start_missing(params.contraception_before_days))
        earliest = earliest_confirmation_on(facts, params) or specimen_on
        if specimen_on < earliest:
            err("specimen_collected_on", wording.confirmation_too_early(
                params.confirmation_after_screening_days, params.contraception_before_days,
                earliest))
    elif not medical:
        if not rules.home_tests_after_treatment_starts:
            err("setting", wording.monthly_test_setting(rules.name))
        elif not facts.home_tests_allowed:
            err("setting", wording.HOME_TESTS_NOT_ALLOWED)

    last = latest_cycle(facts, CycleKind.TEST_WINDOW)
    if last is not None and specimen_on <= last.opened_on:
        err("specimen_collected_on", wording.specimen_not_after_cycle(last.opened_on))
    return TestClassification(purpose, True, errors)
