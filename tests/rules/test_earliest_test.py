"""Rules §5 item 6: after a dispense, the next specimen is only useful if its window reaches the
first day a new authorization is allowed; the registry says so, and says when an early test's
window cannot be used."""

from __future__ import annotations

from dataclasses import replace

import pytest

from registry.rules import Parameters, evaluate
from tests.rules.build import RULESET_DAYS, P, d, patient, request, treated_patient

BOTH = pytest.mark.parametrize("ruleset", ["2021", "2026"])


def _test_step(decision):
    steps = [s for s in decision.next_steps if s.actor == "prescriber" and "test" in s.action]
    assert len(steps) == 1, decision.next_steps
    return steps[0]


@BOTH
def test_after_a_30_day_dispense_the_next_test_is_useful_from_day_17(ruleset):
    """Alex: dispensed on D with 30 days' supply; next authorization from D + 23, so the next
    specimen from D + 23 - 6 = D + 17 (not the day after the dispensed window closed)."""
    dispensed = RULESET_DAYS[ruleset]
    decision = evaluate(treated_patient(dispensed, dispensed), dispensed + d(1), P)
    assert decision.ruleset == ruleset
    step = _test_step(decision)
    assert step.not_before == dispensed + d(17)
    assert step.as_dict()["not_before"] == (dispensed + d(17)).isoformat()
    # still true once the dispensed window has closed
    later = evaluate(treated_patient(dispensed, dispensed), dispensed + d(10), P)
    assert _test_step(later).not_before == dispensed + d(17)


@BOTH
def test_a_test_the_day_before_opens_a_window_that_cannot_be_used(ruleset):
    dispensed = RULESET_DAYS[ruleset]
    facts = treated_patient(dispensed, dispensed, cycle_opened_on=dispensed + d(16))
    # Its last day is D + 22, the day before a new authorization is allowed.
    for today in (dispensed + d(16), dispensed + d(22)):
        decision = evaluate(facts, today, P, request(today))
        assert decision.codes == ["PREGNANCY_TEST_REQUIRED", "REFILL_TOO_SOON"]
        assert "cannot be used" in decision.reasons[0].message
        assert f"{(dispensed + d(17)).day} " in decision.reasons[0].action
        step = _test_step(decision)
        assert step.not_before == dispensed + d(17)
        # no counseling/questions asked for a window that is of no use
        assert [s.actor for s in decision.next_steps] == ["prescriber"]
    assert not evaluate(facts, dispensed + d(23), P, request(dispensed + d(23))).eligible


@BOTH
def test_a_test_on_the_day_itself_reaches_the_first_refill_day(ruleset):
    dispensed = RULESET_DAYS[ruleset]
    facts = treated_patient(dispensed, dispensed, cycle_opened_on=dispensed + d(17))
    early = evaluate(facts, dispensed + d(22), P, request(dispensed + d(22)))
    assert early.codes == ["REFILL_TOO_SOON"]
    on_day = evaluate(facts, dispensed + d(23), P, request(dispensed + d(23)))
    assert on_day.eligible, on_day.codes
    assert on_day.do_not_dispense_after == dispensed + d(23)


@pytest.mark.parametrize(("supply", "useful_from"), [(20, 7), (14, 1), (3, 1)])
def test_a_shorter_supply_moves_the_earliest_useful_test(supply, useful_from):
    """20 days: refill from D + 13, test from D + 7; 14 or 3 days: refill at once or nearly,
    so the next specimen is useful from the day after the one that opened the cycle."""
    dispensed = RULESET_DAYS["2026"]
    decision = evaluate(treated_patient(dispensed, dispensed, days_supply=supply),
                        dispensed + d(1), P)
    assert _test_step(decision).not_before == dispensed + d(useful_from)


def test_the_earliest_useful_test_follows_the_parameters():
    params = Parameters(window_days=3, refill_grace_days=5)
    dispensed = RULESET_DAYS["2021"]
    decision = evaluate(treated_patient(dispensed, dispensed), dispensed + d(1), params)
    # refill from D + 25, a 3-day window: test from D + 23
    assert _test_step(decision).not_before == dispensed + d(23)


@BOTH
def test_after_a_positive_screening_test_the_steps_fit_a_pregnancy(ruleset):
    """A 17-year-old's only test is positive: the steps are care and follow-up (rules §8),
    not "enter a negative screening test"."""
    from registry.rules import TestFact

    today = RULESET_DAYS[ruleset]
    facts = patient(today, pregnancy_reported=True,
                    tests=(TestFact(1, today, "positive", "office", "screening"),))
    decision = evaluate(facts, today, P)
    assert "PREGNANCY_REPORTED" in decision.codes
    actions = " ".join(s.action for s in decision.next_steps).lower()
    assert "negative" not in actions
    assert [s.actor for s in decision.next_steps] == ["patient", "prescriber", "program_staff"]
    assert "refer" in decision.next_steps[1].action
    # every failing check is still listed, without asking for a (negative) test
    assert "CONFIRMATION_TEST_REQUIRED" in decision.codes
    assert all("negative" not in (r.action or "") for r in decision.reasons)
    # the same once treatment had started (a monthly test came back positive)
    treated = replace(treated_patient(today, today - d(30)), pregnancy_reported=True)
    steps = evaluate(treated, today, P).next_steps
    assert not any("pregnancy test" in s.action for s in steps)
