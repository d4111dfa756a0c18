"""Rules §4-§5 for patients who can get pregnant: the 7-day window, the confirmation test's
timing, the 2021 lockout, home tests and the switch between rule sets."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import pytest

from registry.rules import (
    Parameters,
    classify_test,
    evaluate,
    lockout_until,
    ruleset_for,
)
from registry.rules import (
    TestFact as Specimen,
)
from tests.rules.build import (
    DAY_2021,
    DAY_2026,
    RULESET_DAYS,
    P,
    auth,
    cycle,
    d,
    first_cycle_patient,
    patient,
    request,
    screening,
    treated_patient,
)

BOTH = pytest.mark.parametrize("ruleset", ["2021", "2026"])


# --- the 7-day window ---------------------------------------------------------------


@BOTH
def test_window_day_7_is_the_last_day_and_the_do_not_dispense_after(ruleset):
    opened = RULESET_DAYS[ruleset] - d(6)
    facts = first_cycle_patient(opened)
    decision = evaluate(facts, opened + d(6), P, request(opened + d(6)))
    assert decision.eligible, decision.codes
    assert decision.ruleset == ruleset
    assert decision.do_not_dispense_after == opened + d(6)
    assert decision.window.opens_on == opened
    assert decision.window.closes_on == opened + d(6)


@BOTH
def test_window_day_1_is_the_specimen_date(ruleset):
    opened = RULESET_DAYS[ruleset]
    decision = evaluate(first_cycle_patient(opened), opened, P, request(opened))
    assert decision.eligible
    assert decision.do_not_dispense_after == opened + d(6)


@BOTH
def test_window_day_8_is_expired(ruleset):
    opened = RULESET_DAYS[ruleset] - d(7)
    today = opened + d(7)
    decision = evaluate(first_cycle_patient(opened), today, P, request(today))
    assert not decision.eligible
    assert "WINDOW_EXPIRED" in decision.codes
    assert decision.do_not_dispense_after is None


def test_window_length_is_a_parameter():
    params = Parameters(window_days=3)
    opened = DAY_2021
    facts = first_cycle_patient(opened, cycle=cycle(opened, window_days=3))
    assert evaluate(facts, opened + d(2), params, request(opened + d(2))).eligible
    assert "WINDOW_EXPIRED" in evaluate(facts, opened + d(3), params).codes


def test_window_not_open_before_day_1():
    opened = DAY_2021
    decision = evaluate(first_cycle_patient(opened), opened - d(1), P, request(opened - d(1)))
    assert decision.codes == ["WINDOW_NOT_OPEN"]


def test_expired_window_after_a_dispense_asks_for_next_months_test():
    first = DAY_2026 - d(40)
    facts = treated_patient(DAY_2026, first)
    decision = evaluate(facts, DAY_2026, P, request(DAY_2026))
    assert decision.codes == ["PREGNANCY_TEST_REQUIRED"]


# --- screening and confirmation (rules §4) -------------------------------------------


def _classify(facts, specimen_on, today=None, *, result="negative", setting="lab", params=P):
    return classify_test(facts, specimen_on, result, setting, today or specimen_on, params)


@BOTH
def test_first_negative_test_is_the_screening_test(ruleset):
    today = RULESET_DAYS[ruleset]
    verdict = _classify(patient(today), today)
    assert (verdict.purpose, verdict.opens_cycle, verdict.errors) == ("screening", False, {})


@BOTH
def test_screening_test_at_home_is_refused(ruleset):
    today = RULESET_DAYS[ruleset]
    verdict = _classify(patient(today, home_tests_allowed=True), today, setting="home")
    assert list(verdict.errors) == ["setting"]


@BOTH
def test_confirmation_18_days_after_screening_refused_19_accepted(ruleset):
    screened = RULESET_DAYS[ruleset] - d(40)
    facts = patient(screened, tests=(screening(screened),),
                    contraception_start_on=screened - d(60))
    early = _classify(facts, screened + d(18))
    assert list(early.errors) == ["specimen_collected_on"]
    assert "at least 19 days after the screening" in early.errors["specimen_collected_on"][0]
    ok = _classify(facts, screened + d(19))
    assert (ok.purpose, ok.opens_cycle, ok.errors) == ("confirmation", True, {})


@BOTH
def test_confirmation_29_days_after_contraception_start_refused_30_accepted(ruleset):
    start = RULESET_DAYS[ruleset] - d(40)
    facts = patient(start, tests=(screening(start - d(20)),), contraception_start_on=start)
    assert list(_classify(facts, start + d(29)).errors) == ["specimen_collected_on"]
    assert _classify(facts, start + d(30)).errors == {}


def test_status_before_confirmation_says_when_the_specimen_may_be_collected():
    screened = DAY_2021
    facts = patient(screened, tests=(screening(screened),),
                    contraception_start_on=screened - d(5))
    decision = evaluate(facts, screened + d(1), P, request(screened + d(1)))
    assert decision.codes == ["CONFIRMATION_TEST_REQUIRED"]
    # Contraception + 30 days is later than screening + 19 days: that day wins.
    assert decision.next_steps[0].not_before == screened + d(25)


@BOTH
def test_confirmation_must_be_in_a_medical_setting(ruleset):
    screened = RULESET_DAYS[ruleset] - d(40)
    facts = patient(screened, tests=(screening(screened),), home_tests_allowed=True,
                    contraception_start_on=screened - d(60))
    assert list(_classify(facts, screened + d(30), setting="home").errors) == ["setting"]
    assert _classify(facts, screened + d(30), setting="office").errors == {}


def test_future_specimen_is_refused():
    today = DAY_2021
    verdict = _classify(patient(today), today + d(1), today)
    assert "specimen_collected_on" in verdict.errors


def test_new_test_must_be_later_than_the_one_that_opened_the_cycle():
    opened = DAY_2026
    facts = treated_patient(opened, opened - d(30), cycle_opened_on=opened)
    verdict = _classify(facts, opened, opened + d(1))
    assert "specimen_collected_on" in verdict.errors


# --- the 2021 first-prescription lockout -------------------------------------------


def missed_first_window(opened: date, *, issued_and_expired: bool = False):
    """First window opened on ``opened`` and nothing dispensed."""
    auths = (auth(1, 1, "expired", opened),) if issued_and_expired else ()
    return first_cycle_patient(opened, authorizations=auths)


@pytest.mark.parametrize("issued", [False, True])
def test_2021_missed_first_window_locks_out_for_19_days_and_shows_the_end(issued):
    opened = DAY_2021 - d(10)
    facts = missed_first_window(opened, issued_and_expired=issued)
    today = opened + d(7)  # day 8: the window is spent
    decision = evaluate(facts, today, P, request(today))
    assert decision.ruleset == "2021"
    assert set(decision.codes) == {"WINDOW_EXPIRED", "LOCKOUT_ACTIVE"}
    assert decision.lockout_until == opened + d(19)
    lockout = next(r for r in decision.reasons if r.code == "LOCKOUT_ACTIVE")
    assert lockout.due_on == opened + d(19)
    assert lockout_until(facts, opened + d(18), P) == opened + d(19)
    assert lockout_until(facts, opened + d(19), P) is None


def test_2021_lockout_refuses_a_confirmation_specimen_on_day_18_accepts_day_19():
    opened = DAY_2021 - d(30)
    facts = missed_first_window(opened)
    early = _classify(facts, opened + d(18), opened + d(18))
    assert "specimen_collected_on" in early.errors
    assert "2021 rules" in " ".join(early.errors["specimen_collected_on"])
    ok = _classify(facts, opened + d(19), opened + d(19))
    assert (ok.purpose, ok.opens_cycle, ok.errors) == ("confirmation", True, {})


def test_2021_lockout_cannot_be_dodged_by_entering_an_early_specimen_late():
    """A specimen collected inside the lockout (day 18) but entered once the lockout is over
    (day 19) is still too soon: the rule is about when the specimen was collected."""
    opened = DAY_2021 - d(30)
    facts = missed_first_window(opened)
    late_entry = _classify(facts, opened + d(18), opened + d(19))
    assert "specimen_collected_on" in late_entry.errors


def test_2026_has_no_lockout_a_new_test_may_be_taken_at_once():
    opened = DAY_2026 - d(10)
    facts = missed_first_window(opened)
    today = opened + d(7)
    decision = evaluate(facts, today, P, request(today))
    assert decision.codes == ["WINDOW_EXPIRED"]
    assert decision.lockout_until is None
    verdict = _classify(facts, today, today)
    assert (verdict.purpose, verdict.opens_cycle, verdict.errors) == ("confirmation", True, {})


def test_no_lockout_after_the_first_dispense_even_in_2021():
    first = DAY_2021 - d(60)
    facts = treated_patient(DAY_2021, first, cycle_opened_on=DAY_2021 - d(20))
    decision = evaluate(facts, DAY_2021, P, request(DAY_2021))
    assert decision.codes == ["WINDOW_EXPIRED"]
    assert decision.lockout_until is None
    assert _classify(facts, DAY_2021, DAY_2021).errors == {}


def test_no_lockout_while_the_first_window_is_still_open():
    opened = DAY_2021
    assert lockout_until(missed_first_window(opened), opened + d(6), P) is None


def test_lockout_is_not_for_patients_who_cannot_get_pregnant():
    opened = DAY_2021 - d(10)
    facts = replace(missed_first_window(opened), risk_category="cannot_get_pregnant")
    assert lockout_until(facts, opened + d(8), P) is None


# --- home tests -------------------------------------------------------------------


@BOTH
@pytest.mark.parametrize("allowed", [False, True])
def test_home_test_before_treatment_started_is_refused(ruleset, allowed):
    screened = RULESET_DAYS[ruleset] - d(40)
    facts = patient(screened, tests=(screening(screened),), home_tests_allowed=allowed,
                    contraception_start_on=screened - d(60))
    verdict = _classify(facts, screened + d(30), setting="home")
    assert list(verdict.errors) == ["setting"]
    assert "before treatment starts" in verdict.errors["setting"][0]


@pytest.mark.parametrize("allowed", [False, True])
def test_2021_home_monthly_test_after_treatment_started_is_refused(allowed):
    facts = treated_patient(DAY_2021, DAY_2021 - d(30), home_tests_allowed=allowed)
    verdict = _classify(facts, DAY_2021, setting="home")
    assert verdict.purpose == "monthly"
    assert list(verdict.errors) == ["setting"]
    assert "2021 rules" in verdict.errors["setting"][0]


def test_2026_home_monthly_test_after_treatment_started_is_accepted_when_allowed():
    facts = treated_patient(DAY_2026, DAY_2026 - d(30), home_tests_allowed=True)
    verdict = _classify(facts, DAY_2026, setting="home")
    assert (verdict.purpose, verdict.opens_cycle, verdict.errors) == ("monthly", True, {})


def test_2026_home_monthly_test_refused_when_the_prescriber_has_not_allowed_it():
    facts = treated_patient(DAY_2026, DAY_2026 - d(30), home_tests_allowed=False)
    verdict = _classify(facts, DAY_2026, setting="home")
    assert list(verdict.errors) == ["setting"]
    assert "not allowed home tests" in verdict.errors["setting"][0]


@BOTH
def test_monthly_test_in_a_lab_is_always_accepted(ruleset):
    today = RULESET_DAYS[ruleset]
    facts = treated_patient(today, today - d(30))
    assert _classify(facts, today).errors == {}


def test_positive_test_is_always_accepted_even_at_home():
    facts = patient(DAY_2021)
    verdict = _classify(facts, DAY_2021, result="positive", setting="home")
    assert verdict.errors == {}
    assert not verdict.opens_cycle


# --- the switch between rule sets ----------------------------------------------------


def test_ruleset_switch_on_the_effective_date():
    assert ruleset_for(date(2026, 8, 7), P) == "2021"
    assert ruleset_for(date(2026, 8, 8), P) == "2026"
    assert ruleset_for(date(2021, 12, 13), P) == "2021"


def test_ruleset_switch_on_a_configured_date():
    params = Parameters.from_config({"RULESET_2026_EFFECTIVE": "2026-03-01"})
    assert params.ruleset_2026_effective == date(2026, 3, 1)
    assert ruleset_for(date(2026, 2, 28), params) == "2021"
    assert ruleset_for(date(2026, 3, 1), params) == "2026"


@pytest.mark.parametrize(("today", "ruleset", "home_ok"), [
    (date(2026, 8, 7), "2021", False), (date(2026, 8, 8), "2026", True),
])
def test_home_test_decided_by_the_rule_set_of_the_day(today, ruleset, home_ok):
    facts = treated_patient(today, today - d(30), home_tests_allowed=True)
    verdict = _classify(facts, today, setting="home")
    assert (verdict.errors == {}) is home_ok
    assert evaluate(facts, today, P).ruleset == ruleset


@pytest.mark.parametrize(("today", "locked"), [
    (date(2026, 8, 7), True), (date(2026, 8, 8), False),
])
def test_lockout_ends_with_the_2021_rule_set(today, locked):
    opened = date(2026, 7, 28)  # window ended 2026-08-03, lockout would run to 2026-08-16
    facts = missed_first_window(opened)
    decision = evaluate(facts, today, P, request(today))
    assert ("LOCKOUT_ACTIVE" in decision.codes) is locked
    assert (decision.lockout_until == date(2026, 8, 16)) is locked


def test_decision_records_its_rule_set_and_parameters():
    params = Parameters(window_days=5)
    decision = evaluate(patient(DAY_2026), DAY_2026, params)
    assert decision.ruleset == "2026"
    assert decision.parameters["window_days"] == 5
    assert decision.parameters["ruleset_2026_effective"] == "2026-08-08"


def test_positive_test_fact_is_not_a_screening_test():
    today = DAY_2021
    facts = patient(today, tests=(Specimen(1, today, "positive", "lab", "screening"),))
    assert _classify(facts, today + d(1)).purpose == "screening"


def test_window_messages_say_the_configured_length():
    params = Parameters(window_days=5, no_pregnancy_window_2021_days=20)
    opened = DAY_2021
    facts = first_cycle_patient(opened, cycle=cycle(opened, window_days=5))
    expired = evaluate(facts, opened + d(5), params)
    assert expired.codes == ["WINDOW_EXPIRED", "LOCKOUT_ACTIVE"]
    assert expired.reasons[0].message.startswith("The 5-day window ended on")
    from tests.rules.build import cannot_patient

    nothing = evaluate(cannot_patient(opened), opened, params)
    assert "20-day window" in nothing.reasons[0].action


def test_2021_replacing_an_open_first_window_is_held_to_the_lockout_too():
    """Interpretation: under the 2021 rules a new confirmation specimen that would replace a
    still-open, undispensed first window must also be 19 days after the previous one, or
    re-testing on day 7 would extend the window and dodge the lockout that missing it brings.
    """
    opened = DAY_2021 - d(6)
    facts = missed_first_window(opened)
    day7 = _classify(facts, opened + d(6), opened + d(6))
    assert "specimen_collected_on" in day7.errors
    assert "2021 lockout" in " ".join(day7.errors["specimen_collected_on"])


def test_2026_may_replace_an_open_first_window_with_a_new_test():
    opened = DAY_2026 - d(6)
    facts = missed_first_window(opened)
    verdict = _classify(facts, opened + d(6), opened + d(6))
    assert (verdict.purpose, verdict.opens_cycle, verdict.errors) == ("confirmation", True, {})
