"""What the snapshot of a patient's course says once read: started, screened, dispensed."""

from __future__ import annotations

from datetime import date, timedelta

from registry.rules.facts import AuthorizationFact, CycleFact, PatientFacts, TestFact
from registry.rules.params import Parameters
from registry.rules.vocabulary import (
    AuthorizationStatus,
    CycleKind,
    PregnancyTestPurpose,
    PregnancyTestResult,
)


def treatment_started(facts: PatientFacts) -> bool:
    """A first dispense exists in this course, under the pregnancy-test cycle."""
    return any(d.cycle_kind == CycleKind.TEST_WINDOW for d in facts.dispenses)


def screening_test(facts: PatientFacts) -> TestFact | None:
    for t in facts.tests:
        if (t.purpose == PregnancyTestPurpose.SCREENING
                and t.result == PregnancyTestResult.NEGATIVE):
            return t
    return None


def latest_cycle(facts: PatientFacts, kind: CycleKind) -> CycleFact | None:
    found = [c for c in facts.cycles if c.kind == kind]
    return found[-1] if found else None


def cycle_dispensed(facts: PatientFacts, cycle: CycleFact) -> bool:
    return any(
        a.cycle_id == cycle.id and a.status == AuthorizationStatus.DISPENSED
        for a in facts.authorizations
    )


def open_authorizations(facts: PatientFacts, today: date) -> list[AuthorizationFact]:
    return [
        a for a in facts.authorizations
        if a.status == AuthorizationStatus.AUTHORIZED and a.do_not_dispense_after >= today
    ]


def earliest_refill_on(facts: PatientFacts, params: Parameters) -> date | None:
    """The first day a new authorization is allowed after the last dispense (REFILL_TOO_SOON).

    None when nothing has been dispensed (returned dispenses are not in the facts).
    """
    if not facts.dispenses:
        return None
    last = max(facts.dispenses, key=lambda d: d.dispensed_on)
    return last.dispensed_on + timedelta(days=max(last.days_supply - params.refill_grace_days, 0))


def earliest_useful_test_on(facts: PatientFacts, params: Parameters) -> date | None:
    """Rules §5 item 6: the first day on which the next cycle's specimen is worth collecting.

    A window opened by a specimen collected on day T ends on T + (window - 1); it is useful
    only if it reaches the first day a new authorization is allowed, so T must be on or after
    that day minus (window - 1). A new cycle also needs a specimen later than the one that
    opened the current cycle. None when no dispense limits the next test.
    """
    refill = earliest_refill_on(facts, params)
    if refill is None:
        return None
    earliest = refill - timedelta(days=params.window_days - 1)
    last = latest_cycle(facts, CycleKind.TEST_WINDOW)
    if last is not None:
        earliest = max(earliest, last.opened_on + timedelta(days=1))
    return earliest


def window_close(opened_on: date, days: int) -> date:
    """Day 1 is ``opened_on``, so a window of N days ends on day N."""
    return opened_on + timedelta(days=days - 1)
