"""Snapshots of what the registry knows, handed to the rules (no database in here)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from registry.rules.vocabulary import (
    AuthorizationStatus,
    CycleKind,
    PatientStatus,
    PregnancyTestPurpose,
    PregnancyTestResult,
    PregnancyTestSetting,
    RiskCategory,
)


@dataclass(frozen=True)
class StakeholderFacts:
    """Dates that make a prescriber, designee, pharmacy or pharmacist active or not."""

    since: date | None  # last attestation, activation or training date
    suspended_until: date | None = None
    deactivated_on: date | None = None
    removed_on: date | None = None


@dataclass(frozen=True)
class TestFact:
    id: int
    specimen_on: date
    result: PregnancyTestResult
    setting: PregnancyTestSetting
    purpose: PregnancyTestPurpose


@dataclass(frozen=True)
class CounselingFact:
    id: int
    counseled_on: date
    cycle_id: int | None
    methods: frozenset[str] = frozenset()
    abstinence: bool = False


@dataclass(frozen=True)
class ContraceptionFact:
    methods: frozenset[str]
    abstinence: bool
    entered_on: date


@dataclass(frozen=True)
class AuthorizationFact:
    id: int
    cycle_id: int
    status: AuthorizationStatus
    issued_on: date
    do_not_dispense_after: date


@dataclass(frozen=True)
class DispenseFact:
    dispensed_on: date
    days_supply: int
    cycle_kind: CycleKind


@dataclass(frozen=True)
class CycleFact:
    id: int
    number: int
    kind: CycleKind
    opened_on: date
    closes_on: date | None
    test_id: int | None = None
    counseling: CounselingFact | None = None
    comprehension_passed: bool = False
    contraception: ContraceptionFact | None = None


@dataclass(frozen=True)
class PatientFacts:
    registry_id: str
    date_of_birth: date
    risk_category: RiskCategory
    status: PatientStatus
    prescriber_npi: str
    prescriber: StakeholderFacts
    pregnancy_reported: bool = False
    home_tests_allowed: bool = False
    contraception_start_on: date | None = None
    course_started_on: date | None = None
    last_dose_on: date | None = None
    # Everything below is for the current course of treatment only.
    tests: tuple[TestFact, ...] = ()
    cycles: tuple[CycleFact, ...] = ()
    counselings: tuple[CounselingFact, ...] = ()
    authorizations: tuple[AuthorizationFact, ...] = ()
    dispenses: tuple[DispenseFact, ...] = ()
    # Patients who cannot get pregnant answer the questions once.
    comprehension_passed_ever: bool = False


@dataclass(frozen=True)
class RequestFacts:
    """What the pharmacist sends when asking for an authorization."""

    prescriber_npi: str
    days_supply: int
    quantity: int
    refills: int
    pharmacy: StakeholderFacts = field(default_factory=lambda: StakeholderFacts(None))
    pharmacist: StakeholderFacts = field(default_factory=lambda: StakeholderFacts(None))
