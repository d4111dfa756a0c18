"""Rules §6: every reason code is produced by some situation, and every failing reason is
reported at once (not only the first)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from registry.rules import REASON_CODES, StakeholderFacts, evaluate
from tests.rules.build import (
    DAY_2021,
    DAY_2026,
    OTHER_NPI,
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

T = DAY_2021  # the first window opens on T in most scenarios
LAPSED = StakeholderFacts(since=T - d(400))


def ok():
    return first_cycle_patient(T)


SCENARIOS = {
    "PHARMACY_NOT_ACTIVE": lambda: (ok(), T, request(T, pharmacy=StakeholderFacts(None))),
    "PHARMACIST_NOT_AUTHORIZED": lambda: (ok(), T, request(T, pharmacist=LAPSED)),
    "PATIENT_NOT_FOUND": lambda: (None, T, request(T)),
    "PATIENT_NOT_ACTIVE": lambda: (replace(ok(), status="pending_activation"), T, request(T)),
    "PREGNANCY_REPORTED": lambda: (replace(ok(), pregnancy_reported=True), T, request(T)),
    "PRESCRIBER_NOT_ACTIVE": lambda: (replace(ok(), prescriber=LAPSED), T, request(T)),
    "PRESCRIBER_MISMATCH": lambda: (ok(), T, request(T, prescriber_npi=OTHER_NPI)),
    "CONFIRMATION_TEST_REQUIRED": lambda: (
        patient(T, tests=(screening(T - d(5)),)), T, request(T)
    ),
    "PREGNANCY_TEST_REQUIRED": lambda: (treated_patient(T, T - d(40)), T, request(T)),
    "COUNSELING_NOT_CONFIRMED": lambda: (
        first_cycle_patient(T, cycle=replace(cycle(T), counseling=None)), T, request(T)
    ),
    "COMPREHENSION_NOT_PASSED": lambda: (
        first_cycle_patient(T, cycle=replace(cycle(T), comprehension_passed=False)), T,
        request(T),
    ),
    "CONTRACEPTION_NOT_ATTESTED": lambda: (
        first_cycle_patient(T, cycle=replace(cycle(T), contraception=None)), T, request(T)
    ),
    "CONTRACEPTION_MISMATCH": lambda: (
        first_cycle_patient(T, cycle=cycle(T, patient_methods=frozenset(
            {"iud", "vaginal_sponge"}))), T, request(T),
    ),
    "WINDOW_NOT_OPEN": lambda: (ok(), T - d(1), request(T - d(1))),
    "WINDOW_EXPIRED": lambda: (ok(), T + d(7), request(T + d(7))),
    "LOCKOUT_ACTIVE": lambda: (ok(), T + d(10), request(T + d(10))),
    "DAYS_SUPPLY_EXCEEDS_LIMIT": lambda: (ok(), T, request(T, days_supply=31)),
    "REFILLS_NOT_ALLOWED": lambda: (ok(), T, request(T, refills=1)),
    "AUTHORIZATION_ALREADY_ISSUED": lambda: (
        first_cycle_patient(T, authorizations=(auth(1, 1, "authorized", T),)), T + d(1),
        request(T + d(1)),
    ),
    "REFILL_TOO_SOON": lambda: (
        treated_patient(DAY_2026, DAY_2026 - d(20), cycle_opened_on=DAY_2026), DAY_2026,
        request(DAY_2026),
    ),
}


@pytest.mark.parametrize("code", sorted(REASON_CODES))
def test_every_reason_code_is_produced(code):
    assert code in SCENARIOS, f"no situation produces {code}"
    facts, today, req = SCENARIOS[code]()
    decision = evaluate(facts, today, P, req)
    assert code in decision.codes, decision.codes
    assert not decision.eligible
    assert decision.do_not_dispense_after is None
    reason = next(r for r in decision.reasons if r.code == code)
    assert reason.message, reason
    assert reason.action, reason


def test_no_scenario_for_an_unknown_code():
    assert set(SCENARIOS) == set(REASON_CODES)


def test_several_reasons_at_once_each_with_who_must_act():
    facts = replace(
        first_cycle_patient(T, cycle=replace(cycle(T), counseling=None, comprehension_passed=False,
                                             contraception=None)),
        prescriber=LAPSED, pregnancy_reported=True,
    )
    req = request(T, pharmacy=StakeholderFacts(None), pharmacist=LAPSED, days_supply=31,
                  refills=2, prescriber_npi=OTHER_NPI)
    decision = evaluate(facts, T, P, req)
    assert decision.codes == [
        "PHARMACY_NOT_ACTIVE", "PHARMACIST_NOT_AUTHORIZED", "DAYS_SUPPLY_EXCEEDS_LIMIT",
        "REFILLS_NOT_ALLOWED", "PREGNANCY_REPORTED", "PRESCRIBER_NOT_ACTIVE",
        "PRESCRIBER_MISMATCH", "COUNSELING_NOT_CONFIRMED", "COMPREHENSION_NOT_PASSED",
        "CONTRACEPTION_NOT_ATTESTED",
    ]
    actors = {r.code: r.actor for r in decision.reasons}
    assert actors["COUNSELING_NOT_CONFIRMED"] == "prescriber"
    assert actors["COMPREHENSION_NOT_PASSED"] == "patient"
    assert actors["PREGNANCY_REPORTED"] == "program_staff"
    due = {r.code: r.due_on for r in decision.reasons}
    assert due["CONTRACEPTION_NOT_ATTESTED"] == T + d(6)
    assert not decision.eligible


def test_not_found_with_request_problems_reports_both():
    decision = evaluate(None, T, P, request(T, refills=1))
    assert decision.codes == ["REFILLS_NOT_ALLOWED", "PATIENT_NOT_FOUND"]


def test_every_code_has_plain_words():
    for code, message in REASON_CODES.items():
        assert code.isupper()
        assert message.endswith(".")
