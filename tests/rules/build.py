"""Snapshots of facts for the pure rule tests: an eligible patient, then change one thing."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta
from typing import Any

from registry.rules import (
    ContraceptionFact,
    CounselingFact,
    CycleFact,
    DispenseFact,
    Parameters,
    PatientFacts,
    RequestFacts,
    StakeholderFacts,
    TestFact,
)
from registry.rules.identifiers import npi_with_check_digit

P = Parameters()
NPI = npi_with_check_digit("123456789")
OTHER_NPI = npi_with_check_digit("987654321")
METHODS = frozenset({"iud", "male_latex_condom"})
# A day on which each rule set is in force (the 2026 set starts 2026-08-08 by default).
DAY_2021 = date(2025, 3, 10)
DAY_2026 = date(2026, 9, 14)
RULESET_DAYS = {"2021": DAY_2021, "2026": DAY_2026}


def d(n: int) -> timedelta:
    return timedelta(days=n)


def active(today: date) -> StakeholderFacts:
    return StakeholderFacts(since=today - d(10))


def request(today: date, **kw: Any) -> RequestFacts:
    data: dict[str, Any] = {
        "prescriber_npi": NPI, "days_supply": 30, "quantity": 60, "refills": 0,
        "pharmacy": active(today), "pharmacist": active(today),
    }
    data.update(kw)
    return RequestFacts(**data)


def patient(today: date, **kw: Any) -> PatientFacts:
    """An active patient who can get pregnant, nothing recorded yet."""
    data: dict[str, Any] = {
        "registry_id": "1234567890", "date_of_birth": date(1995, 6, 15),
        "risk_category": "can_get_pregnant", "status": "active", "prescriber_npi": NPI,
        "prescriber": active(today), "contraception_start_on": today - d(120),
        "course_started_on": today - d(120),
    }
    data.update(kw)
    return PatientFacts(**data)


def screening(on: date, tid: int = 1) -> TestFact:
    return TestFact(tid, on, "negative", "lab", "screening")


def cycle(opened_on: date, cid: int = 1, *, complete: bool = True, number: int = 1,
          methods: frozenset[str] = METHODS, patient_methods: frozenset[str] | None = None,
          test_id: int = 2, window_days: int = 7) -> CycleFact:
    counseling = CounselingFact(100 + cid, opened_on, cid, methods) if complete else None
    contraception = (
        ContraceptionFact(patient_methods if patient_methods is not None else methods, False,
                          opened_on)
        if complete else None
    )
    return CycleFact(
        cid, number, "test_window", opened_on, opened_on + d(window_days - 1), test_id,
        counseling, complete, contraception,
    )


def first_cycle_patient(opened_on: date, **kw: Any) -> PatientFacts:
    """Screening 30 days before ``opened_on``, confirmation on ``opened_on`` with the cycle
    complete (counseling, questions, contraception): eligible on days 1-7."""
    tests = (
        screening(opened_on - d(30)),
        TestFact(2, opened_on, "negative", "lab", "confirmation"),
    )
    cyc = kw.pop("cycle", None) or cycle(opened_on)
    return patient(opened_on, tests=tests, cycles=(cyc,),
                   counselings=(cyc.counseling,) if cyc.counseling else (), **kw)


def treated_patient(today: date, last_dispensed_on: date, *, days_supply: int = 30,
                    cycle_opened_on: date | None = None, **kw: Any) -> PatientFacts:
    """Treatment started (first cycle dispensed); a new monthly cycle opened on
    ``cycle_opened_on`` (complete), or none when not given."""
    first_on = last_dispensed_on
    first = cycle(first_on, 1)
    cycles = [first]
    tests = [screening(first_on - d(30)), TestFact(2, first_on, "negative", "lab", "confirmation")]
    auths = [_auth(1, 1, "dispensed", first_on)]
    if cycle_opened_on is not None:
        cycles.append(cycle(cycle_opened_on, 2, number=2, test_id=3))
        tests.append(TestFact(3, cycle_opened_on, "negative", "lab", "monthly"))
    data: dict[str, Any] = {
        "tests": tuple(tests), "cycles": tuple(cycles),
        "counselings": tuple(c.counseling for c in cycles if c.counseling),
        "authorizations": tuple(auths),
        "dispenses": (DispenseFact(last_dispensed_on, days_supply, "test_window"),),
    }
    data.update(kw)
    return patient(today, **data)


def _auth(aid: int, cycle_id: int, status: str, issued_on: date, dnda: date | None = None):
    from registry.rules import AuthorizationFact

    return AuthorizationFact(aid, cycle_id, status, issued_on, dnda or issued_on + d(6))


auth = _auth


def cannot_patient(today: date, **kw: Any) -> PatientFacts:
    data: dict[str, Any] = {
        "risk_category": "cannot_get_pregnant", "contraception_start_on": None,
        "comprehension_passed_ever": True,
    }
    data.update(kw)
    return patient(today, **data)


def counseling_cycle(counseled_on: date, cid: int = 1, days: int = 30) -> CycleFact:
    return CycleFact(cid, cid, "counseling_window", counseled_on, counseled_on + d(days - 1))


__all__ = ["replace"]
