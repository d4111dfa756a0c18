"""The dispensing decision (rules §4-§8): every section of the rules checked in turn.

Each section is its own module (``dispensing``, ``window``, ``counseling``,
``pregnancy_tests``, ``treatment_end``, ``pregnancy``); their words are in ``wording``.
"""

from __future__ import annotations

from datetime import date

from registry.rules import wording
from registry.rules.counseling import (
    check_comprehension_once,
    check_counseling_window,
    check_enrollment_counseling,
)
from registry.rules.dates import fmt
from registry.rules.decision import NO_CYCLE, CycleOutcome, Decision, Findings, Window
from registry.rules.dispensing import check_patient, check_request, check_supply
from registry.rules.facts import PatientFacts, RequestFacts
from registry.rules.history import (
    earliest_refill_on,
    earliest_useful_test_on,
    treatment_started,
    window_close,
)
from registry.rules.params import Parameters
from registry.rules.pregnancy import block_for_pregnancy
from registry.rules.pregnancy_tests import TestClassification, classify_test, lockout_until
from registry.rules.rulesets import rules_in_force
from registry.rules.treatment_end import TreatmentEnd, treatment_end, treatment_end_steps
from registry.rules.vocabulary import (
    Actor,
    CycleKind,
    PatientStatus,
    ReasonCode,
    RiskCategory,
    RuleSetName,
)
from registry.rules.window import check_test_window

__all__ = [
    "Decision",
    "TestClassification",
    "TreatmentEnd",
    "Window",
    "classify_test",
    "earliest_refill_on",
    "earliest_useful_test_on",
    "evaluate",
    "fmt",
    "lockout_until",
    "treatment_started",
    "window_close",
]


def evaluate(
    facts: PatientFacts | None,
    today: date,
    params: Parameters,
    request: RequestFacts | None = None,
) -> Decision:
    """Everything that stands between this patient and a dispense today, and who must act.

    ``facts`` is None when no patient matched the registry ID and date of birth.
    ``request`` is None for a status page (no pharmacy is asking).
    """
    rules = rules_in_force(today, params)
    found = Findings()

    if request is not None:
        check_request(found, request, today, params)

    if facts is None:
        found.reason(ReasonCode.PATIENT_NOT_FOUND, wording.PATIENT_NOT_FOUND, Actor.PHARMACY)
        return _decision(found, rules.name, today, params)

    check_patient(found, facts, today, params, request)

    outcome: CycleOutcome = NO_CYCLE
    needs_new_cycle = False
    lockout = lockout_until(facts, today, params)
    end = treatment_end(facts, today, params)

    if facts.status in (PatientStatus.PENDING_ACTIVATION, PatientStatus.ACTIVE):
        if facts.risk_category == RiskCategory.CAN_GET_PREGNANT:
            outcome = check_test_window(found, facts, today, params, lockout, rules.name)
        elif rules.cannot_get_pregnant_cycle == CycleKind.COUNSELING_WINDOW:
            outcome = check_counseling_window(found, facts, today, params, rules)
        else:
            outcome = (None, None,
                       check_enrollment_counseling(found, facts, today, params, rules))
            needs_new_cycle = True
        if facts.risk_category == RiskCategory.CANNOT_GET_PREGNANT:
            check_comprehension_once(found, facts)
    elif end:
        treatment_end_steps(found, end, params)

    check_supply(found, facts, today, params)
    if facts.pregnancy_reported:
        block_for_pregnancy(found)

    cycle, window, dnda = outcome
    eligible = not found.reasons
    if eligible and dnda is not None:
        found.step(Actor.PHARMACY, wording.STEP_AUTHORIZE, due_on=dnda)
    return Decision(
        eligible=eligible,
        reasons=tuple(found.reasons),
        ruleset=rules.name,
        today=today,
        parameters=params.as_dict(),
        cycle=cycle,
        window=window,
        do_not_dispense_after=dnda if eligible else None,
        lockout_until=lockout,
        next_steps=tuple(found.steps),
        treatment_end=end,
        needs_new_cycle=needs_new_cycle,
    )


def _decision(found: Findings, ruleset: RuleSetName, today: date,
              params: Parameters) -> Decision:
    return Decision(
        eligible=not found.reasons, reasons=tuple(found.reasons), ruleset=ruleset, today=today,
        parameters=params.as_dict(), next_steps=tuple(found.steps),
    )
