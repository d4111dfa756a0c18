"""End of treatment (rules §7): contraception after the last dose, and the last two tests."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import TYPE_CHECKING

from registry.rules import wording
from registry.rules.facts import PatientFacts
from registry.rules.params import Parameters
from registry.rules.vocabulary import (
    Actor,
    PregnancyTestPurpose,
    PregnancyTestResult,
    RiskCategory,
)

if TYPE_CHECKING:
    from registry.rules.decision import Findings


@dataclass(frozen=True)
class TreatmentEnd:
    last_dose_on: date
    contraception_until: date | None
    end_of_treatment_test_due_on: date | None
    end_of_treatment_test_done: bool
    post_treatment_test_due_on: date | None
    post_treatment_test_done: bool
    overdue: tuple[PregnancyTestPurpose, ...]


def treatment_end(facts: PatientFacts, today: date, params: Parameters) -> TreatmentEnd | None:
    if facts.last_dose_on is None:
        return None
    last = facts.last_dose_on
    if facts.risk_category != RiskCategory.CAN_GET_PREGNANT:
        return TreatmentEnd(last, None, None, True, None, True, ())
    eot_due = last + timedelta(days=params.window_days)
    post_due = last + timedelta(days=params.post_treatment_test_days)
    eot_done = any(
        t.purpose in (PregnancyTestPurpose.END_OF_TREATMENT, PregnancyTestPurpose.POST_TREATMENT)
        for t in facts.tests
    )
    post_done = any(
        t.purpose == PregnancyTestPurpose.POST_TREATMENT
        and t.result == PregnancyTestResult.NEGATIVE
        for t in facts.tests
    )
    overdue = []
    if not eot_done and today > eot_due:
        overdue.append(PregnancyTestPurpose.END_OF_TREATMENT)
    if not post_done and today > post_due + timedelta(days=params.window_days):
        overdue.append(PregnancyTestPurpose.POST_TREATMENT)
    return TreatmentEnd(
        last, last + timedelta(days=params.contraception_after_days), eot_due, eot_done,
        post_due, post_done, tuple(overdue),
    )


def treatment_end_steps(found: Findings, end: TreatmentEnd, params: Parameters) -> None:
    if end.end_of_treatment_test_due_on and not end.end_of_treatment_test_done:
        found.step(Actor.PRESCRIBER, wording.STEP_END_OF_TREATMENT_TEST,
                   due_on=end.end_of_treatment_test_due_on)
    if end.post_treatment_test_due_on and not end.post_treatment_test_done:
        found.step(Actor.PRESCRIBER, wording.STEP_POST_TREATMENT_TEST,
                   due_on=end.post_treatment_test_due_on + timedelta(days=params.window_days),
                   not_before=end.post_treatment_test_due_on)
    if end.contraception_until:
        found.step(Actor.PATIENT, wording.STEP_KEEP_CONTRACEPTION,
                   due_on=end.contraception_until)
