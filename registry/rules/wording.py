"""The plain words people read: what is wrong, what to do, and the next steps.

The decisions (the other modules of this package) say *which* reason applies and with
which dates; this module says it in words, so wording can change (or be translated)
without touching a decision, and a decision can be read without its prose.
"""

from __future__ import annotations

from datetime import date
from typing import NamedTuple

from registry.rules.dates import fmt
from registry.rules.vocabulary import PatientStatus, ReasonCode, StandingState


class Words(NamedTuple):
    message: str
    action: str | None = None


# The one-line meaning of each reason code (rules §6), shown where no situation is known.
# Keyed by ReasonCode; typed by str so that a code read back from storage looks up too.
REASON_CODES: dict[str, str] = {
    ReasonCode.PHARMACY_NOT_ACTIVE: "The pharmacy is not active in the program.",
    ReasonCode.PHARMACIST_NOT_AUTHORIZED:
        "The pharmacist is not authorized to request authorizations.",
    ReasonCode.PATIENT_NOT_FOUND: "No patient matches that registry ID and date of birth.",
    ReasonCode.PATIENT_NOT_ACTIVE: "The patient is not active in the program.",
    ReasonCode.PREGNANCY_REPORTED: "A pregnancy has been reported for this patient.",
    ReasonCode.PRESCRIBER_NOT_ACTIVE: "The patient's prescriber is not active in the program.",
    ReasonCode.PRESCRIBER_MISMATCH:
        "The prescriber NPI is not the patient's prescriber of record.",
    ReasonCode.CONFIRMATION_TEST_REQUIRED:
        "The screening and confirmation pregnancy tests are not both done.",
    ReasonCode.PREGNANCY_TEST_REQUIRED:
        "There is no negative pregnancy test for the current cycle.",
    ReasonCode.COUNSELING_NOT_CONFIRMED:
        "The prescriber has not confirmed counseling for this cycle.",
    ReasonCode.COMPREHENSION_NOT_PASSED:
        "The patient has not passed the comprehension questions.",
    ReasonCode.CONTRACEPTION_NOT_ATTESTED: "The patient has not entered their contraception.",
    ReasonCode.CONTRACEPTION_MISMATCH:
        "The patient's contraception does not match the prescriber's.",
    ReasonCode.WINDOW_NOT_OPEN: "The prescription window has not opened yet.",
    ReasonCode.WINDOW_EXPIRED: "The prescription window has ended.",
    ReasonCode.LOCKOUT_ACTIVE:
        "A new confirmation test cannot be taken yet (missed first window).",
    ReasonCode.DAYS_SUPPLY_EXCEEDS_LIMIT: "The days' supply is over the limit.",
    ReasonCode.REFILLS_NOT_ALLOWED:
        "Refills are not allowed: each prescription needs its own authorization.",
    ReasonCode.AUTHORIZATION_ALREADY_ISSUED:
        "An authorization is already open or this cycle was dispensed.",
    ReasonCode.REFILL_TOO_SOON: "It is too soon since the last dispense.",
}


def _after(day: date | None) -> str:
    """", specimen collected on or after <day>." or "." when there is no such day."""
    return f", specimen collected on or after {fmt(day)}." if day else "."


# --- stakeholders (rules §2) ---------------------------------------------------------

ATTESTATION_PENDING = "has not attested to the program requirements"
ATTESTATION_LAPSED = "attestation has lapsed (yearly re-attestation is due)"
PHARMACY_PENDING = "has not been activated by its Responsible Site Pharmacist"
PHARMACY_LAPSED = (
    "activation has lapsed (the Responsible Site Pharmacist must re-activate yearly)"
)
PHARMACIST_PENDING = "has no training-completed date"
PHARMACIST_LAPSED = "training is more than a year old"


def standing_detail(state: StandingState, suspended_until: date | None = None) -> str:
    """How a stakeholder who is not pending or lapsed stands, after "The pharmacy ..."."""
    if state == StandingState.DEACTIVATED:
        return "deactivated by program staff"
    if state == StandingState.REMOVED:
        return "removed from the pharmacy"
    if state == StandingState.SUSPENDED and suspended_until is not None:
        return f"suspended by program staff until {fmt(suspended_until)}"
    return "active"


# --- the pharmacy's request and the patient's standing (rules §6) -----------------------


def pharmacy_not_active(detail: str) -> Words:
    return Words(f"This pharmacy {detail}.",
                 "The Responsible Site Pharmacist activates the pharmacy, or program staff are "
                 "contacted about a suspension.")


def pharmacist_not_authorized(detail: str) -> Words:
    return Words(f"The pharmacist {detail}.",
                 "The Responsible Site Pharmacist records current training for this pharmacist.")


def days_supply_exceeds_limit(days_supply: int, limit: int) -> Words:
    return Words(f"{days_supply} days' supply is more than the {limit} days allowed.",
                 f"Dispense at most {limit} days' supply.")


def refills_not_allowed(refills: int) -> Words:
    return Words(
        f"The prescription has {refills} refill{'' if refills == 1 else 's'}"
        "; refills are not allowed.",
        "Each fill needs its own authorization: the prescription must have 0 refills.",
    )


PATIENT_NOT_FOUND = Words(
    "No patient matches that registry ID and date of birth.",
    "Check the registry ID on the patient's card and the date of birth.",
)
PREGNANCY_REPORTED = Words(
    "A pregnancy has been reported or a pregnancy test was positive. Do not dispense.",
    "Only program staff can lift this, after a documented false report.",
)
PATIENT_STATUS_DETAIL = {
    PatientStatus.PENDING_ACTIVATION: "has not activated their account",
    PatientStatus.TREATMENT_ENDED: "has ended treatment",
    PatientStatus.TREATMENT_COMPLETE: "has completed treatment",
    PatientStatus.DEACTIVATED: "has been deactivated",
}


def patient_not_active(status: PatientStatus) -> Words:
    return Words(
        f"The patient {PATIENT_STATUS_DETAIL.get(status, status)}.",
        "The patient activates their account with the code from their prescriber."
        if status == PatientStatus.PENDING_ACTIVATION
        else "A new course of treatment must be started by the prescriber.",
    )


STEP_ACTIVATE = "Activate the account with the activation code from the prescriber."


def prescriber_not_active(detail: str) -> Words:
    return Words(f"The prescriber of record {detail}.",
                 "The prescriber attests to the program requirements.")


def prescriber_mismatch(npi: str) -> Words:
    return Words(
        f"NPI {npi} is not this patient's prescriber of record.",
        "Check the prescriber's NPI on the prescription; a transfer of the patient to "
        "another prescriber is done by that prescriber or program staff.",
    )


def authorization_open(do_not_dispense_after: date) -> Words:
    return Words(
        f"An authorization is already open for this patient (do not dispense after "
        f"{fmt(do_not_dispense_after)}).",
        "Dispense against the open authorization, or the issuing pharmacy reverses it.",
    )


STEP_PICK_UP = "Pick up the prescription at the pharmacy."


def refill_too_soon(dispensed_on: date, days_supply: int, earliest: date) -> Words:
    return Words(
        f"The last dispense was {fmt(dispensed_on)} ({days_supply} days' supply).",
        f"The next authorization can be issued on or after {fmt(earliest)}.",
    )


STEP_NEXT_AUTHORIZATION = "Get the next authorization and dispense."
STEP_AUTHORIZE = "Get an authorization and dispense."


# --- the monthly cycle of a patient who can get pregnant (rules §5) ---------------------

NO_TESTS = Words(
    "Before the first prescription the patient needs a screening and a confirmation "
    "pregnancy test; neither is recorded.",
    "The prescriber enters a negative screening test from a lab or office.",
)
STEP_SCREENING = "Enter a negative screening pregnancy test (lab or office)."


def confirmation_missing(screening_on: date, earliest: date) -> Words:
    return Words(
        f"The confirmation test is not recorded yet (screening specimen {fmt(screening_on)}).",
        f"The prescriber enters a negative confirmation test from a lab or office, "
        f"specimen collected on or after {fmt(earliest)}.",
    )


STEP_CONFIRMATION = "Enter the confirmation pregnancy test (lab or office)."
NO_CYCLE_TEST = Words("No negative pregnancy test for this cycle.")


def window_not_open(opens_on: date) -> Words:
    return Words(f"The window opens on {fmt(opens_on)}.",
                 f"Ask again on or after {fmt(opens_on)}.")


def monthly_test_missing(useful: date | None) -> Words:
    return Words(
        "There is no negative pregnancy test for this month's prescription yet.",
        "The prescriber enters this month's negative pregnancy test" + _after(useful),
    )


def step_monthly_test(in_medical_setting: bool) -> str:
    return f"Enter this month's pregnancy test{_setting_hint(in_medical_setting)}."


def _setting_hint(in_medical_setting: bool) -> str:
    return " (lab or office)" if in_medical_setting else ""


def _next_test(first: bool) -> str:
    return "confirmation" if first else "monthly"


def window_expired(opened_on: date, closes_on: date, first: bool,
                   lockout: date | None) -> Words:
    return Words(
        f"The {(closes_on - opened_on).days + 1}-day window ended on {fmt(closes_on)} with "
        "no prescription dispensed; that cycle is spent.",
        f"The prescriber enters a new negative {_next_test(first)} test"
        f"{_setting_hint(first)} to start a new cycle" + _after(lockout),
    )


def lockout_active(lockout: date, ruleset: str) -> Words:
    return Words(
        f"The first prescription's window was missed: under the {ruleset} rules a new "
        f"confirmation specimen cannot be collected before {fmt(lockout)}.",
        f"Collect the new confirmation specimen on or after {fmt(lockout)}.",
    )


def step_new_cycle_test(first: bool) -> str:
    return f"Enter a new {_next_test(first)} pregnancy test{_setting_hint(first)}."


def cycle_dispensed(useful: date | None) -> Words:
    return Words(
        "This cycle's prescription has already been dispensed.",
        "The next prescription needs next month's pregnancy test" + _after(useful),
    )


STEP_NEXT_MONTH_TEST = "Enter next month's pregnancy test."


def window_before_refill(test_on: date, closes_on: date, refill: date, again: date) -> Words:
    return Words(
        f"The pregnancy test collected on {fmt(test_on)} opens a window that ends on "
        f"{fmt(closes_on)}, before the first day a new authorization is allowed "
        f"({fmt(refill)}): that window cannot be used.",
        f"The prescriber enters a new negative monthly test, specimen collected on or "
        f"after {fmt(again)}.",
    )


STEP_RETEST = "Enter a new monthly pregnancy test: the last one was collected too early to be used."


def counseling_missing(closes_on: date) -> Words:
    return Words(
        "The prescriber has not confirmed counseling and contraception for this cycle.",
        f"The prescriber confirms counseling by {fmt(closes_on)}.",
    )


STEP_COUNSELING_AND_METHODS = "Confirm counseling and the patient's two contraception methods."


def comprehension_missing(closes_on: date, counseling_confirmed: bool) -> Words:
    after = "" if counseling_confirmed else " after the prescriber confirms counseling"
    return Words(
        "The patient has not passed this month's comprehension questions.",
        f"The patient answers the questions{after} by {fmt(closes_on)}.",
    )


STEP_MONTHLY_QUESTIONS = "Answer this month's comprehension questions."


def contraception_missing(closes_on: date) -> Words:
    return Words(
        "The patient has not entered their contraception for this cycle.",
        f"The patient enters their two contraception methods by {fmt(closes_on)}.",
    )


STEP_CONTRACEPTION = "Enter your contraception methods."


def contraception_mismatch(closes_on: date) -> Words:
    return Words(
        "The contraception the patient entered differs from what the prescriber entered.",
        f"The patient re-enters their methods, or the prescriber corrects them, by "
        f"{fmt(closes_on)}.",
    )


STEP_REENTER_CONTRACEPTION = "Re-enter your contraception to match your prescriber's."


# --- counseling and comprehension of a patient who cannot get pregnant (rules §5) -------


def counseling_window_missing(window_days: int) -> Words:
    return Words(
        "The prescriber has not confirmed this month's counseling.",
        f"The prescriber confirms counseling; the {window_days}-day window starts that day.",
    )


STEP_MONTHLY_COUNSELING = "Confirm this month's counseling."
NEXT_COUNSELING_MISSING = Words(
    "The prescriber has not confirmed counseling for the next prescription.",
    "The prescriber confirms this month's counseling.",
)


def counseling_window_expired(opened_on: date, closes_on: date) -> Words:
    return Words(
        f"The {(closes_on - opened_on).days + 1}-day window ended on {fmt(closes_on)}.",
        "The prescriber confirms counseling again to open a new window.",
    )


MONTH_DISPENSED = Words(
    "This month's prescription has already been dispensed.",
    "The next prescription needs next month's counseling.",
)
ENROLLMENT_COUNSELING_MISSING = Words(
    "The prescriber has not confirmed the patient's counseling at enrollment.",
    "The prescriber confirms counseling.",
)
STEP_ENROLLMENT_COUNSELING = "Confirm the patient's counseling."
COMPREHENSION_ONCE_MISSING = Words(
    "The patient has not yet passed the comprehension questions.",
    "The patient answers the comprehension questions.",
)
STEP_QUESTIONS = "Answer the comprehension questions."


# --- pregnancy tests (rules §4) --------------------------------------------------------

TEST_ONLY_FOR_CAN = "Pregnancy tests are recorded only for patients who can get pregnant."
SPECIMEN_IN_FUTURE = "The specimen collection date cannot be in the future."
SPECIMEN_BEFORE_BIRTH = "The specimen collection date is before the patient's birth."
TREATMENT_END_TEST_SETTING = "This test must be done in a lab or office."
SCREENING_SETTING = "The screening test must be done in a lab or office, not at home."
BEFORE_TREATMENT_SETTING = "Tests before treatment starts must be done in a lab or office."
HOME_TESTS_NOT_ALLOWED = "The prescriber has not allowed home tests for this patient."


def monthly_test_setting(ruleset: str) -> str:
    return f"Under the {ruleset} rules monthly tests must be done in a lab or office."


def specimen_in_lockout(lockout: date, ruleset: str) -> str:
    return (f"The first prescription's window was missed: under the {ruleset} rules the new "
            f"confirmation specimen must be collected on or after {fmt(lockout)}.")


def specimen_would_dodge_lockout(closes_on: date | None, until: date, ruleset: str) -> str:
    closes = fmt(closes_on) if closes_on else "its last day"
    return (f"The first prescription's window is open until {closes}"
            f" (or replacing it would dodge the {ruleset} lockout): a new confirmation "
            f"specimen must be collected on or after {fmt(until)}.")


def contraception_start_missing(days: int) -> str:
    return ("The patient's contraception start date is not recorded; a confirmation "
            f"test needs {days} days of contraception. "
            "The prescriber records the start date first.")


def confirmation_too_early(after_screening_days: int, contraception_days: int,
                           earliest: date) -> str:
    return (f"A confirmation specimen must be collected at least "
            f"{after_screening_days} days after the screening specimen "
            f"and {contraception_days} days after contraception started: "
            f"on or after {fmt(earliest)}.")


def specimen_not_after_cycle(opened_on: date) -> str:
    return (f"A test collected on {fmt(opened_on)} already opened the current cycle; "
            "a new cycle needs a later specimen.")


# --- end of treatment (rules §7) -------------------------------------------------------

STEP_END_OF_TREATMENT_TEST = "Enter the end-of-treatment pregnancy test."
STEP_POST_TREATMENT_TEST = "Enter the post-treatment pregnancy test."
STEP_KEEP_CONTRACEPTION = "Keep using both contraception methods."


# --- a reported pregnancy (rules §8) ---------------------------------------------------

BLOCKED_ACTION = ("Nothing while a pregnancy is reported: only program staff can lift the "
                  "block, after a documented false report.")
STEP_STOP_TAKING = "Stop taking isotretinoin now and talk to your prescriber."
STEP_COUNSEL_PREGNANCY = (
    "Counsel the patient about the reported pregnancy or positive test, and refer them to "
    "an obstetrician-gynecologist experienced in reproductive toxicity."
)
STEP_FOLLOW_UP = ("Follow up the pregnancy report and record its outcome; lift the block "
                  "only after a documented false report.")
