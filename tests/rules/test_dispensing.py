"""Rules §5 (patients who cannot get pregnant) and §6 (the request itself: supply, refills,
refill too soon, open authorizations)."""

from __future__ import annotations

import pytest

from registry.rules import CounselingFact, DispenseFact, evaluate
from tests.rules.build import (
    DAY_2021,
    DAY_2026,
    RULESET_DAYS,
    P,
    auth,
    cannot_patient,
    counseling_cycle,
    d,
    first_cycle_patient,
    request,
    treated_patient,
)

BOTH = pytest.mark.parametrize("ruleset", ["2021", "2026"])
ENROLLMENT_COUNSELING = (CounselingFact(1, DAY_2026 - d(100), None),)


# --- patients who cannot get pregnant ----------------------------------------------


def test_2021_cannot_get_pregnant_window_day_30_ok_day_31_expired():
    counseled = DAY_2021 - d(29)
    cyc = counseling_cycle(counseled)
    facts = cannot_patient(DAY_2021, cycles=(cyc,), counselings=(CounselingFact(1, counseled, 1),))
    day30 = evaluate(facts, counseled + d(29), P, request(counseled + d(29)))
    assert day30.eligible, day30.codes
    assert day30.do_not_dispense_after == counseled + d(29)
    day31 = evaluate(facts, counseled + d(30), P, request(counseled + d(30)))
    assert day31.codes == ["WINDOW_EXPIRED"]


def test_2021_cannot_get_pregnant_needs_monthly_counseling():
    facts = cannot_patient(DAY_2021, counselings=(CounselingFact(1, DAY_2021 - d(90), None),))
    assert evaluate(facts, DAY_2021, P, request(DAY_2021)).codes == ["COUNSELING_NOT_CONFIRMED"]


def test_2021_cannot_get_pregnant_window_already_dispensed():
    counseled = DAY_2021 - d(5)
    facts = cannot_patient(
        DAY_2021, cycles=(counseling_cycle(counseled),),
        counselings=(CounselingFact(1, counseled, 1),),
        authorizations=(auth(1, 1, "dispensed", counseled),),
        dispenses=(DispenseFact(counseled, 7, "counseling_window"),),
    )
    assert evaluate(facts, DAY_2021, P, request(DAY_2021)).codes == [
        "AUTHORIZATION_ALREADY_ISSUED"
    ]


def test_2026_cannot_get_pregnant_no_window_dnda_is_issue_date_plus_7():
    facts = cannot_patient(DAY_2026, counselings=ENROLLMENT_COUNSELING)
    decision = evaluate(facts, DAY_2026, P, request(DAY_2026))
    assert decision.eligible, decision.codes
    assert decision.do_not_dispense_after == DAY_2026 + d(7)
    assert decision.needs_new_cycle
    assert decision.window is None


def test_2026_cannot_get_pregnant_needs_counseling_once_at_enrollment():
    facts = cannot_patient(DAY_2026)
    assert evaluate(facts, DAY_2026, P, request(DAY_2026)).codes == ["COUNSELING_NOT_CONFIRMED"]


@BOTH
def test_cannot_get_pregnant_answers_the_questions_once(ruleset):
    today = RULESET_DAYS[ruleset]
    facts = cannot_patient(today, comprehension_passed_ever=False,
                           counselings=(CounselingFact(1, today, 1),),
                           cycles=(counseling_cycle(today),))
    assert "COMPREHENSION_NOT_PASSED" in evaluate(facts, today, P).codes


# --- the request: days' supply, refills --------------------------------------------


@BOTH
def test_30_days_supply_ok_31_refused(ruleset):
    opened = RULESET_DAYS[ruleset]
    facts = first_cycle_patient(opened)
    assert evaluate(facts, opened, P, request(opened, days_supply=30)).eligible
    decision = evaluate(facts, opened, P, request(opened, days_supply=31))
    assert decision.codes == ["DAYS_SUPPLY_EXCEEDS_LIMIT"]
    assert "31 days' supply" in decision.reasons[0].message


@BOTH
def test_refills_0_ok_1_refused(ruleset):
    opened = RULESET_DAYS[ruleset]
    facts = first_cycle_patient(opened)
    assert evaluate(facts, opened, P, request(opened, refills=0)).eligible
    assert evaluate(facts, opened, P, request(opened, refills=1)).codes == ["REFILLS_NOT_ALLOWED"]


@pytest.mark.parametrize("supply", [30, 10, 7, 3])
def test_refill_too_soon_one_day_before_supply_minus_7_not_on_it(supply):
    """Next authorization possible once (days' supply - 7) days have passed (never negative:
    a 3-day supply can be followed at once)."""
    dispensed = DAY_2026 - d(40)
    wait = max(supply - 7, 0)
    facts_on = treated_patient(dispensed + d(wait), dispensed, days_supply=supply,
                               cycle_opened_on=dispensed + d(wait) - d(1))
    on_day = evaluate(facts_on, dispensed + d(wait), P, request(dispensed + d(wait)))
    assert "REFILL_TOO_SOON" not in on_day.codes
    assert on_day.eligible, on_day.codes
    if wait:
        before = evaluate(facts_on, dispensed + d(wait - 1), P,
                          request(dispensed + d(wait - 1)))
        assert before.codes == ["REFILL_TOO_SOON"]
        assert before.reasons[0].due_on == dispensed + d(wait)


def test_open_authorization_blocks_a_second_one():
    opened = DAY_2021
    facts = first_cycle_patient(opened, authorizations=(auth(1, 1, "authorized", opened),))
    decision = evaluate(facts, opened + d(1), P, request(opened + d(1)))
    assert decision.codes == ["AUTHORIZATION_ALREADY_ISSUED"]
    assert decision.reasons[0].due_on == opened + d(6)


def test_reversed_authorization_frees_the_cycle_while_the_window_is_open():
    opened = DAY_2021
    facts = first_cycle_patient(opened, authorizations=(auth(1, 1, "reversed", opened),))
    assert evaluate(facts, opened + d(6), P, request(opened + d(6))).eligible
    # Day 8: spent; a reversed first authorization is a missed first window (2021 lockout).
    assert evaluate(facts, opened + d(7), P).codes == ["WINDOW_EXPIRED", "LOCKOUT_ACTIVE"]


def test_dispensed_cycle_cannot_be_authorized_again():
    opened = DAY_2026
    facts = first_cycle_patient(opened, authorizations=(auth(1, 1, "dispensed", opened),),
                                dispenses=(DispenseFact(opened, 30, "test_window"),))
    decision = evaluate(facts, opened + d(2), P, request(opened + d(2)))
    assert "AUTHORIZATION_ALREADY_ISSUED" in decision.codes


def test_status_without_a_request_has_no_request_reasons():
    opened = DAY_2021
    decision = evaluate(first_cycle_patient(opened), opened, P)
    assert decision.eligible
    assert decision.next_steps[-1].actor == "pharmacy"
    assert decision.next_steps[-1].due_on == opened + d(6)


def test_an_open_authorization_tells_who_acts_next_and_by_when():
    """Not a blank step on the prescriber's list: the patient picks the prescription up by
    the do-not-dispense-after date."""
    opened = DAY_2021
    facts = first_cycle_patient(opened, authorizations=(auth(1, 1, "authorized", opened),))
    decision = evaluate(facts, opened + d(1), P)
    assert [(s.actor, s.due_on) for s in decision.next_steps] == [("patient", opened + d(6))]
    assert "Pick up" in decision.next_steps[0].action


def test_too_soon_for_a_refill_says_when_the_next_authorization_can_come():
    dispensed = DAY_2026 - d(40)
    facts = treated_patient(dispensed + d(23), dispensed, days_supply=30,
                            cycle_opened_on=dispensed + d(22))
    decision = evaluate(facts, dispensed + d(22), P)
    assert decision.codes == ["REFILL_TOO_SOON"]
    assert [(s.actor, s.not_before) for s in decision.next_steps] == [
        ("pharmacy", dispensed + d(23))]
