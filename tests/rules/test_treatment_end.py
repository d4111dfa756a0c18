"""Rules §4 and §7: end of treatment — contraception until, the end-of-treatment test and
the post-treatment test (due, overdue), and the purpose of tests after the last dose.

Interpretation: the end-of-treatment test is due within the 7-day window after the last
dose (overdue from day 8); the post-treatment test is due 30 days after the last dose and
overdue once the 7 days after that have passed."""

from __future__ import annotations

import pytest

from registry.rules import TestFact as Specimen
from registry.rules import classify_test, evaluate
from tests.rules.build import DAY_2026, RULESET_DAYS, P, cannot_patient, d, treated_patient

LAST = DAY_2026 - d(10)


def ended(today, tests=(), **kw):
    base = treated_patient(today, LAST - d(20))
    return treated_patient(today, LAST - d(20), status="treatment_ended", last_dose_on=LAST,
                           tests=base.tests + tuple(tests), **kw)


@pytest.mark.parametrize("ruleset", ["2021", "2026"])
def test_tests_after_the_last_dose_end_of_treatment_at_29_post_treatment_at_30(ruleset):
    last = RULESET_DAYS[ruleset] - d(40)
    base = treated_patient(last, last - d(20))
    facts = treated_patient(last, last - d(20), last_dose_on=last, status="treatment_ended")
    assert base.tests  # same history
    v29 = classify_test(facts, last + d(29), "negative", "lab", last + d(35), P)
    v30 = classify_test(facts, last + d(30), "negative", "lab", last + d(35), P)
    assert (v29.purpose, v29.opens_cycle, v29.errors) == ("end_of_treatment", False, {})
    assert (v30.purpose, v30.opens_cycle, v30.errors) == ("post_treatment", False, {})


def test_treatment_end_dates():
    end = evaluate(ended(LAST + d(1)), LAST + d(1), P).treatment_end
    assert end.last_dose_on == LAST
    assert end.contraception_until == LAST + d(30)
    assert end.end_of_treatment_test_due_on == LAST + d(7)
    assert end.post_treatment_test_due_on == LAST + d(30)
    assert end.overdue == ()


def test_end_of_treatment_test_overdue_from_day_8():
    assert evaluate(ended(LAST + d(7)), LAST + d(7), P).treatment_end.overdue == ()
    assert evaluate(ended(LAST + d(8)), LAST + d(8), P).treatment_end.overdue == (
        "end_of_treatment",
    )


def test_post_treatment_test_overdue_after_its_7_days():
    eot = Specimen(10, LAST + d(2), "negative", "lab", "end_of_treatment")
    assert evaluate(ended(LAST + d(37), (eot,)), LAST + d(37), P).treatment_end.overdue == ()
    late = evaluate(ended(LAST + d(38), (eot,)), LAST + d(38), P).treatment_end
    assert late.overdue == ("post_treatment",)
    assert late.end_of_treatment_test_done
    assert not late.post_treatment_test_done


def test_both_done_nothing_overdue_and_next_steps_only_contraception():
    tests = (Specimen(10, LAST + d(2), "negative", "lab", "end_of_treatment"),
             Specimen(11, LAST + d(30), "negative", "lab", "post_treatment"))
    decision = evaluate(ended(LAST + d(60), tests), LAST + d(60), P)
    end = decision.treatment_end
    assert end.end_of_treatment_test_done
    assert end.post_treatment_test_done
    assert end.overdue == ()
    assert [s.actor for s in decision.next_steps] == ["patient"]


def test_status_lists_the_due_tests_as_next_steps():
    decision = evaluate(ended(LAST + d(1)), LAST + d(1), P)
    assert decision.codes[0] == "PATIENT_NOT_ACTIVE"
    steps = {s.action: s for s in decision.next_steps}
    assert steps["Enter the end-of-treatment pregnancy test."].due_on == LAST + d(7)
    post = steps["Enter the post-treatment pregnancy test."]
    assert (post.not_before, post.due_on) == (LAST + d(30), LAST + d(37))
    assert steps["Keep using both contraception methods."].due_on == LAST + d(30)


def test_patient_who_cannot_get_pregnant_owes_no_tests():
    facts = cannot_patient(LAST, status="treatment_complete", last_dose_on=LAST)
    end = evaluate(facts, LAST + d(90), P).treatment_end
    assert end.contraception_until is None
    assert end.overdue == ()


@pytest.mark.parametrize(("ruleset", "allowed", "ok"), [
    ("2021", True, False), ("2026", True, True), ("2026", False, False),
])
def test_home_test_after_the_last_dose_follows_the_monthly_rule(ruleset, allowed, ok):
    last = RULESET_DAYS[ruleset] - d(40)
    facts = treated_patient(last, last - d(20), last_dose_on=last, status="treatment_ended",
                            home_tests_allowed=allowed)
    verdict = classify_test(facts, last + d(30), "negative", "home", last + d(31), P)
    assert verdict.purpose == "post_treatment"
    assert (verdict.errors == {}) is ok
