"""The program's words, once: every category, status, kind and code the rules, the models
and the API speak of. The values are what the database stores and the API sends, so a
value is never renamed without a migration and a note in the API contract."""

from __future__ import annotations

from enum import StrEnum


class RuleSetName(StrEnum):
    """The rule sets of rules §1; what each one does is in :mod:`registry.rules.rulesets`."""

    OF_2021 = "2021"
    OF_2026 = "2026"


class Role(StrEnum):
    PRESCRIBER = "prescriber"
    DESIGNEE = "designee"
    PHARMACIST = "pharmacist"
    PATIENT = "patient"
    STAFF = "staff"


class RiskCategory(StrEnum):
    CAN_GET_PREGNANT = "can_get_pregnant"
    CANNOT_GET_PREGNANT = "cannot_get_pregnant"


class PatientStatus(StrEnum):
    PENDING_ACTIVATION = "pending_activation"
    ACTIVE = "active"
    TREATMENT_ENDED = "treatment_ended"
    TREATMENT_COMPLETE = "treatment_complete"
    DEACTIVATED = "deactivated"


class StandingState(StrEnum):
    """Where a prescriber, designee, pharmacy or pharmacist stands (rules §2)."""

    PENDING = "pending"
    ACTIVE = "active"
    LAPSED = "lapsed"
    SUSPENDED = "suspended"
    DEACTIVATED = "deactivated"
    REMOVED = "removed"  # a pharmacist removed from their pharmacy


class CycleKind(StrEnum):
    TEST_WINDOW = "test_window"  # can get pregnant: day 1 is the test's specimen date
    COUNSELING_WINDOW = "counseling_window"  # cannot, rule set 2021: day 1 is counseling
    PER_AUTHORIZATION = "per_authorization"  # cannot, rule set 2026: no monthly window


class PregnancyTestResult(StrEnum):
    NEGATIVE = "negative"
    POSITIVE = "positive"


class PregnancyTestSetting(StrEnum):
    LAB = "lab"
    OFFICE = "office"
    HOME = "home"


MEDICAL_SETTINGS = frozenset({PregnancyTestSetting.LAB, PregnancyTestSetting.OFFICE})


class PregnancyTestPurpose(StrEnum):
    SCREENING = "screening"
    CONFIRMATION = "confirmation"
    MONTHLY = "monthly"
    END_OF_TREATMENT = "end_of_treatment"
    POST_TREATMENT = "post_treatment"


class AuthorizationStatus(StrEnum):
    AUTHORIZED = "authorized"
    DISPENSED = "dispensed"
    REVERSED = "reversed"
    EXPIRED = "expired"
    CANCELLED = "cancelled"


class PregnancyOutcome(StrEnum):
    """Where a pregnancy report stands: ongoing until program staff record how it ended."""

    ONGOING = "ongoing"
    LIVE_BIRTH = "live_birth"
    MISCARRIAGE = "miscarriage"
    TERMINATION = "termination"
    NOT_PREGNANT = "not_pregnant"
    LOST_TO_FOLLOW_UP = "lost_to_follow_up"


class ComplianceSubject(StrEnum):
    PRESCRIBER = "prescriber"
    DESIGNEE = "designee"
    PHARMACY = "pharmacy"
    PHARMACIST = "pharmacist"


class ComplianceActionKind(StrEnum):
    NOTICE = "notice"
    WARNING = "warning"
    SUSPENSION = "suspension"
    DEACTIVATION = "deactivation"


class Actor(StrEnum):
    """Who must act on a reason or a next step."""

    PRESCRIBER = "prescriber"
    PATIENT = "patient"
    PHARMACY = "pharmacy"
    PROGRAM_STAFF = "program_staff"


class ReasonCode(StrEnum):
    """The stable codes of rules §6; their plain words are in :mod:`registry.rules.wording`."""

    PHARMACY_NOT_ACTIVE = "PHARMACY_NOT_ACTIVE"
    PHARMACIST_NOT_AUTHORIZED = "PHARMACIST_NOT_AUTHORIZED"
    PATIENT_NOT_FOUND = "PATIENT_NOT_FOUND"
    PATIENT_NOT_ACTIVE = "PATIENT_NOT_ACTIVE"
    PREGNANCY_REPORTED = "PREGNANCY_REPORTED"
    PRESCRIBER_NOT_ACTIVE = "PRESCRIBER_NOT_ACTIVE"
    PRESCRIBER_MISMATCH = "PRESCRIBER_MISMATCH"
    CONFIRMATION_TEST_REQUIRED = "CONFIRMATION_TEST_REQUIRED"
    PREGNANCY_TEST_REQUIRED = "PREGNANCY_TEST_REQUIRED"
    COUNSELING_NOT_CONFIRMED = "COUNSELING_NOT_CONFIRMED"
    COMPREHENSION_NOT_PASSED = "COMPREHENSION_NOT_PASSED"
    CONTRACEPTION_NOT_ATTESTED = "CONTRACEPTION_NOT_ATTESTED"
    CONTRACEPTION_MISMATCH = "CONTRACEPTION_MISMATCH"
    WINDOW_NOT_OPEN = "WINDOW_NOT_OPEN"
    WINDOW_EXPIRED = "WINDOW_EXPIRED"
    LOCKOUT_ACTIVE = "LOCKOUT_ACTIVE"
    DAYS_SUPPLY_EXCEEDS_LIMIT = "DAYS_SUPPLY_EXCEEDS_LIMIT"
    REFILLS_NOT_ALLOWED = "REFILLS_NOT_ALLOWED"
    AUTHORIZATION_ALREADY_ISSUED = "AUTHORIZATION_ALREADY_ISSUED"
    REFILL_TOO_SOON = "REFILL_TOO_SOON"


# Reasons about the cycle itself: while a pregnancy is reported, none of them asks for a step.
CYCLE_REASONS = frozenset({
    ReasonCode.CONFIRMATION_TEST_REQUIRED, ReasonCode.PREGNANCY_TEST_REQUIRED,
    ReasonCode.COUNSELING_NOT_CONFIRMED, ReasonCode.COMPREHENSION_NOT_PASSED,
    ReasonCode.CONTRACEPTION_NOT_ATTESTED, ReasonCode.CONTRACEPTION_MISMATCH,
    ReasonCode.WINDOW_NOT_OPEN, ReasonCode.WINDOW_EXPIRED, ReasonCode.LOCKOUT_ACTIVE,
})
