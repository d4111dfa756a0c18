"""The monthly cycle and the dispensing decision (rules §4-§7), as pure functions."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from typing import Any

from registry.rules.contraception import same_choice
from registry.rules.dates import fmt
from registry.rules.facts import CycleFact, PatientFacts, RequestFacts, TestFact
from registry.rules.params import RULESET_2021, Parameters, ruleset_for
from registry.rules.reasons import NextStep, Reason
from registry.rules.stakeholders import (
    pharmacist_standing,
    pharmacy_standing,
    prescriber_standing,
)

CAN = "can_get_pregnant"
CANNOT = "cannot_get_pregnant"
MEDICAL_SETTINGS = ("lab", "office")
BLOCKED_ACTION = ("Nothing while a pregnancy is reported: only program staff can lift the "
                  "block, after a documented false report.")
CYCLE_CODES = frozenset({
    "CONFIRMATION_TEST_REQUIRED", "PREGNANCY_TEST_REQUIRED", "COUNSELING_NOT_CONFIRMED",
    "COMPREHENSION_NOT_PASSED", "CONTRACEPTION_NOT_ATTESTED", "CONTRACEPTION_MISMATCH",
    "WINDOW_NOT_OPEN", "WINDOW_EXPIRED", "LOCKOUT_ACTIVE",
})


@dataclass(frozen=True)
class Window:
    cycle_id: int | None
    kind: str
    opens_on: date
    closes_on: date | None
    test_specimen_on: date | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "cycle_id": self.cycle_id,
            "kind": self.kind,
            "test_specimen_on": (
                self.test_specimen_on.isoformat() if self.test_specimen_on else None
            ),
            "window_opens_on": self.opens_on.isoformat(),
            "window_closes_on": self.closes_on.isoformat() if self.closes_on else None,
        }


@dataclass(frozen=True)
class TreatmentEnd:
    last_dose_on: date
    contraception_until: date | None
    end_of_treatment_test_due_on: date | None
    end_of_treatment_test_done: bool
    post_treatment_test_due_on: date | None
    post_treatment_test_done: bool
    overdue: tuple[str, ...]


@dataclass(frozen=True)
class Decision:
    eligible: bool
    reasons: tuple[Reason, ...]
    ruleset: str
    today: date
    parameters: dict[str, Any]
    cycle: CycleFact | None = None  # the cycle an authorization would be issued against
    window: Window | None = None
    do_not_dispense_after: date | None = None
    lockout_until: date | None = None
    next_steps: tuple[NextStep, ...] = ()
    treatment_end: TreatmentEnd | None = None
    needs_new_cycle: bool = False  # cannot get pregnant, 2026: the authorization opens its own

    @property
    def codes(self) -> list[str]:
        return [r.code for r in self.reasons]


@dataclass
class _Builder:
    reasons: list[Reason] = field(default_factory=list)
    steps: list[NextStep] = field(default_factory=list)

    def reason(self, code: str, message: str, action: str | None = None,
               actor: str | None = None, due_on: date | None = None) -> None:
        if any(r.code == code for r in self.reasons):
            return
        self.reasons.append(Reason(code, message, action, actor, due_on))

    def step(self, actor: str, action: str, due_on: date | None = None,
             not_before: date | None = None) -> None:
        self.steps.append(NextStep(actor, action, due_on, not_before))


# --- facts derived from the snapshot ------------------------------------------------


def treatment_started(facts: PatientFacts) -> bool:
    """A first dispense exists in this course, under the pregnancy-test cycle."""
    return any(d.cycle_kind == "test_window" for d in facts.dispenses)


def screening_test(facts: PatientFacts) -> TestFact | None:
    for t in facts.tests:
        if t.purpose == "screening" and t.result == "negative":
            return t
    return None


def latest_cycle(facts: PatientFacts, kind: str) -> CycleFact | None:
    found = [c for c in facts.cycles if c.kind == kind]
    return found[-1] if found else None


def cycle_dispensed(facts: PatientFacts, cycle: CycleFact) -> bool:
    return any(a.cycle_id == cycle.id and a.status == "dispensed" for a in facts.authorizations)


def open_authorizations(facts: PatientFacts, today: date) -> list[Any]:
    return [
        a for a in facts.authorizations
        if a.status == "authorized" and a.do_not_dispense_after >= today
    ]


def earliest_confirmation_on(facts: PatientFacts, params: Parameters) -> date | None:
    """First day a confirmation specimen may be collected (screening + 19, contraception + 30)."""
    screening = screening_test(facts)
    candidates = []
    if screening:
        candidates.append(
            screening.specimen_on + timedelta(days=params.confirmation_after_screening_days)
        )
    if facts.contraception_start_on:
        candidates.append(
            facts.contraception_start_on + timedelta(days=params.contraception_before_days)
        )
    return max(candidates) if candidates else None


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
    last = latest_cycle(facts, "test_window")
    if last is not None:
        earliest = max(earliest, last.opened_on + timedelta(days=1))
    return earliest


def lockout_until(facts: PatientFacts, today: date, params: Parameters) -> date | None:
    """Rule set 2021: after a missed first window, no new confirmation specimen before this day.

    Returns the day the lockout ends while it is still running, else None.
    """
    until = lockout_end(facts, today, params)
    return until if until and today < until else None


def lockout_end(facts: PatientFacts, today: date, params: Parameters) -> date | None:
    """The first day a new confirmation specimen may be collected after a missed first
    window (rule set 2021), whether or not that day has passed: a specimen collected
    during the lockout stays too early even when it is entered after the lockout ended."""
    if facts.risk_category != CAN or ruleset_for(today, params) != RULESET_2021:
        return None
    if treatment_started(facts):
        return None
    last = latest_cycle(facts, "test_window")
    if last is None or last.closes_on is None or today <= last.closes_on:
        return None
    if cycle_dispensed(facts, last):
        return None
    return last.opened_on + timedelta(days=params.lockout_days)


def _open_first_window(facts: PatientFacts, today: date, params: Parameters) -> Any:
    """Rule set 2021, before the first dispense: the first window, while it is still open.

    A new confirmation test would replace it; doing so before the window closes must not
    become a way round the 19-day lockout that missing it would bring (rules §5).
    """
    if ruleset_for(today, params) != RULESET_2021 or treatment_started(facts):
        return None
    last = latest_cycle(facts, "test_window")
    if last is None or last.closes_on is None or today > last.closes_on:
        return None
    return None if cycle_dispensed(facts, last) else last


# --- pregnancy-test classification (rules §4) ----------------------------------------


@dataclass(frozen=True)
class TestClassification:
    purpose: str
    opens_cycle: bool
    errors: dict[str, list[str]]


def classify_test(
    facts: PatientFacts, specimen_on: date, result: str, setting: str,
    today: date, params: Parameters,
) -> TestClassification:
    """Derive a new test's purpose and whether it opens a cycle; say what is wrong with it.

    A positive result is always accepted (it blocks the patient); a negative one must be
    usable for its purpose, so the prescriber learns at once, not at the pharmacy.
    """
    errors: dict[str, list[str]] = {}

    def err(field_name: str, message: str) -> None:
        errors.setdefault(field_name, []).append(message)

    ruleset = ruleset_for(today, params)
    if facts.risk_category != CAN:
        err("risk_category", "Pregnancy tests are recorded only for patients who can get pregnant.")
    if specimen_on > today:
        err("specimen_collected_on", "The specimen collection date cannot be in the future.")
    if specimen_on < facts.date_of_birth:
        err("specimen_collected_on", "The specimen collection date is before the patient's birth.")
    positive = result == "positive"
    started = treatment_started(facts)
    medical = setting in MEDICAL_SETTINGS

    if facts.last_dose_on is not None:
        post_on = facts.last_dose_on + timedelta(days=params.post_treatment_test_days)
        purpose = "post_treatment" if specimen_on >= post_on else "end_of_treatment"
        if not positive and not medical and not (
            ruleset != RULESET_2021 and facts.home_tests_allowed
        ):
            err("setting", "This test must be done in a lab or office.")
        return TestClassification(purpose, False, errors)

    screening = screening_test(facts)
    if screening is None:
        if not positive and not medical:
            err("setting", "The screening test must be done in a lab or office, not at home.")
        return TestClassification("screening", False, errors)

    purpose = "monthly" if started else "confirmation"
    if positive:
        return TestClassification(purpose, False, errors)

    if not started:
        if not medical:
            err("setting", "Tests before treatment starts must be done in a lab or office.")
        lockout = lockout_end(facts, today, params)
        if lockout and specimen_on < lockout:
            err(
                "specimen_collected_on",
                f"The first prescription's window was missed: under the 2021 rules the new "
                f"confirmation specimen must be collected on or after {fmt(lockout)}.",
            )
        replacing = _open_first_window(facts, today, params)
        if replacing is not None:
            until = replacing.opened_on + timedelta(days=params.lockout_days)
            if specimen_on < until:
                err(
                    "specimen_collected_on",
                    f"The first prescription's window is open until {fmt(replacing.closes_on)}"
                    " (or replacing it would dodge the 2021 lockout): a new confirmation "
                    f"specimen must be collected on or after {fmt(until)}.",
                )
        if facts.contraception_start_on is None:
            err(
                "contraception_start_date",
                "The patient's contraception start date is not recorded; a confirmation "
                f"test needs {params.contraception_before_days} days of contraception. "
                "The prescriber records the start date first.",
            )
        earliest = earliest_confirmation_on(facts, params) or specimen_on
        if specimen_on < earliest:
            err(
                "specimen_collected_on",
                f"A confirmation specimen must be collected at least "
                f"{params.confirmation_after_screening_days} days after the screening specimen "
                f"and {params.contraception_before_days} days after contraception started: "
                f"on or after {fmt(earliest)}.",
            )
    elif not medical:
        if ruleset == RULESET_2021:
            err("setting", "Under the 2021 rules monthly tests must be done in a lab or office.")
        elif not facts.home_tests_allowed:
            err("setting", "The prescriber has not allowed home tests for this patient.")

    last = latest_cycle(facts, "test_window")
    if last is not None and specimen_on <= last.opened_on:
        err(
            "specimen_collected_on",
            f"A test collected on {fmt(last.opened_on)} already opened the current cycle; "
            "a new cycle needs a later specimen.",
        )
    return TestClassification(purpose, True, errors)


def window_close(opened_on: date, days: int) -> date:
    """Day 1 is ``opened_on``, so a window of N days ends on day N."""
    return opened_on + timedelta(days=days - 1)


# --- the decision -------------------------------------------------------------------


def evaluate(
    facts: PatientFacts | None,
    today: date,
    params: Parameters,
    request: RequestFacts | None = None,
) -> Decision:
    """Everything that stands between this patient and a dispense today, and who must act.

    ``facts`` is None when no patient matched the registry ID and date of birth.
    ``request`` is None for a status page (no pharmacy is asking).
    """
    ruleset = ruleset_for(today, params)
    b = _Builder()

    if request is not None:
        _check_request(b, request, today, params)

    if facts is None:
        b.reason(
            "PATIENT_NOT_FOUND", "No patient matches that registry ID and date of birth.",
            "Check the registry ID on the patient's card and the date of birth.", "pharmacy",
        )
        return _decision(b, ruleset, today, params)

    _check_patient(b, facts, today, params, request)

    cycle: CycleFact | None = None
    window: Window | None = None
    dnda: date | None = None
    needs_new_cycle = False
    lockout = lockout_until(facts, today, params)
    treatment_end = _treatment_end(facts, today, params)

    if facts.status in ("pending_activation", "active"):
        if facts.risk_category == CAN:
            cycle, window, dnda = _can_get_pregnant(b, facts, today, params, lockout)
        elif ruleset == RULESET_2021:
            cycle, window, dnda = _cannot_2021(b, facts, today, params)
        else:
            dnda = today + timedelta(days=params.no_pregnancy_dispense_days_2026)
            needs_new_cycle = True
            if not facts.counselings:
                b.reason(
                    "COUNSELING_NOT_CONFIRMED",
                    "The prescriber has not confirmed the patient's counseling at enrollment.",
                    "The prescriber confirms counseling.", "prescriber",
                )
                b.step("prescriber", "Confirm the patient's counseling.")
        if facts.risk_category == CANNOT and not facts.comprehension_passed_ever:
            b.reason(
                "COMPREHENSION_NOT_PASSED",
                "The patient has not yet passed the comprehension questions.",
                "The patient answers the comprehension questions.", "patient",
            )
            b.step("patient", "Answer the comprehension questions.")
    elif treatment_end:
        _treatment_end_steps(b, treatment_end, params)

    _check_supply(b, facts, today, params)
    if facts.pregnancy_reported:
        b.steps = _pregnancy_steps()
        # Every failing check is still reported, but no cycle step is asked for while the
        # block stands: "enter a negative test" would read as a way round it.
        b.reasons = [
            replace(r, action=BLOCKED_ACTION) if r.code in CYCLE_CODES else r
            for r in b.reasons
        ]

    decision = _decision(b, ruleset, today, params)
    eligible = decision.eligible
    if eligible and dnda is not None:
        b.step("pharmacy", "Get an authorization and dispense.", due_on=dnda)
    return Decision(
        eligible=eligible,
        reasons=tuple(b.reasons),
        ruleset=ruleset,
        today=today,
        parameters=params.as_dict(),
        cycle=cycle,
        window=window,
        do_not_dispense_after=dnda if eligible else None,
        lockout_until=lockout,
        next_steps=tuple(b.steps),
        treatment_end=treatment_end,
        needs_new_cycle=needs_new_cycle,
    )


def _decision(b: _Builder, ruleset: str, today: date, params: Parameters) -> Decision:
    return Decision(
        eligible=not b.reasons, reasons=tuple(b.reasons), ruleset=ruleset, today=today,
        parameters=params.as_dict(), next_steps=tuple(b.steps),
    )


def _pregnancy_steps() -> list[NextStep]:
    """Rules §8: after a reported pregnancy or a positive test nothing in the cycle matters;
    the steps are care for the patient and the program's follow-up (never "enter a negative
    test", which would read as a way round the block)."""
    return [
        NextStep("patient", "Stop taking isotretinoin now and talk to your prescriber."),
        NextStep("prescriber", "Counsel the patient about the reported pregnancy or positive "
                 "test, and refer them to an obstetrician-gynecologist experienced in "
                 "reproductive toxicity."),
        NextStep("program_staff", "Follow up the pregnancy report and record its outcome; "
                 "lift the block only after a documented false report."),
    ]


def _check_request(b: _Builder, request: RequestFacts, today: date, params: Parameters) -> None:
    pharmacy = pharmacy_standing(request.pharmacy, today, params)
    if not pharmacy.active:
        b.reason(
            "PHARMACY_NOT_ACTIVE", f"This pharmacy {pharmacy.detail}.",
            "The Responsible Site Pharmacist activates the pharmacy, or program staff are "
            "contacted about a suspension.", "pharmacy",
        )
    pharmacist = pharmacist_standing(request.pharmacist, today, params)
    if not pharmacist.active:
        b.reason(
            "PHARMACIST_NOT_AUTHORIZED", f"The pharmacist {pharmacist.detail}.",
            "The Responsible Site Pharmacist records current training for this pharmacist.",
            "pharmacy",
        )
    if request.days_supply > params.max_days_supply:
        b.reason(
            "DAYS_SUPPLY_EXCEEDS_LIMIT",
            f"{request.days_supply} days' supply is more than the {params.max_days_supply} "
            "days allowed.",
            f"Dispense at most {params.max_days_supply} days' supply.", "pharmacy",
        )
    if request.refills != 0:
        b.reason(
            "REFILLS_NOT_ALLOWED",
            f"The prescription has {request.refills} refill{'' if request.refills == 1 else 's'}"
            "; refills are not allowed.",
            "Each fill needs its own authorization: the prescription must have 0 refills.",
            "prescriber",
        )


def _check_patient(
    b: _Builder, facts: PatientFacts, today: date, params: Parameters,
    request: RequestFacts | None,
) -> None:
    if facts.pregnancy_reported:
        b.reason(
            "PREGNANCY_REPORTED",
            "A pregnancy has been reported or a pregnancy test was positive. Do not dispense.",
            "Only program staff can lift this, after a documented false report.", "program_staff",
        )
    if facts.status != "active":
        detail = {
            "pending_activation": "has not activated their account",
            "treatment_ended": "has ended treatment",
            "treatment_complete": "has completed treatment",
            "deactivated": "has been deactivated",
        }.get(facts.status, facts.status)
        action = (
            "The patient activates their account with the code from their prescriber."
            if facts.status == "pending_activation"
            else "A new course of treatment must be started by the prescriber."
        )
        actor = "patient" if facts.status == "pending_activation" else "prescriber"
        b.reason("PATIENT_NOT_ACTIVE", f"The patient {detail}.", action, actor)
        if facts.status == "pending_activation":
            b.step("patient", "Activate the account with the activation code from the prescriber.")
    prescriber = prescriber_standing(facts.prescriber, today, params)
    if not prescriber.active:
        b.reason(
            "PRESCRIBER_NOT_ACTIVE", f"The prescriber of record {prescriber.detail}.",
            "The prescriber attests to the program requirements.", "prescriber",
        )
    if request is not None and request.prescriber_npi != facts.prescriber_npi:
        b.reason(
            "PRESCRIBER_MISMATCH",
            f"NPI {request.prescriber_npi} is not this patient's prescriber of record.",
            "Check the prescriber's NPI on the prescription; a transfer of the patient to "
            "another prescriber is done by that prescriber or program staff.", "pharmacy",
        )
    if open_authorizations(facts, today):
        auth = open_authorizations(facts, today)[0]
        b.reason(
            "AUTHORIZATION_ALREADY_ISSUED",
            f"An authorization is already open for this patient (do not dispense after "
            f"{fmt(auth.do_not_dispense_after)}).",
            "Dispense against the open authorization, or the issuing pharmacy reverses it.",
            "pharmacy", auth.do_not_dispense_after,
        )
        # What happens next is the pick-up: say so, with its last day (not a blank step).
        b.step("patient", "Pick up the prescription at the pharmacy.",
               due_on=auth.do_not_dispense_after)


def _check_supply(b: _Builder, facts: PatientFacts, today: date, params: Parameters) -> None:
    earliest = earliest_refill_on(facts, params)
    if earliest is None:
        return
    last = max(facts.dispenses, key=lambda d: d.dispensed_on)
    if today < earliest:
        b.reason(
            "REFILL_TOO_SOON",
            f"The last dispense was {fmt(last.dispensed_on)} ({last.days_supply} days' supply).",
            f"The next authorization can be issued on or after {fmt(earliest)}.", "pharmacy",
            earliest,
        )
        if not b.steps:  # nothing else to do before then: the next authorization, not before
            b.step("pharmacy", "Get the next authorization and dispense.", not_before=earliest)


def _can_get_pregnant(
    b: _Builder, facts: PatientFacts, today: date, params: Parameters, lockout: date | None,
) -> tuple[CycleFact | None, Window | None, date | None]:
    started = treatment_started(facts)
    screening = screening_test(facts)
    cycle = latest_cycle(facts, "test_window")
    if screening is None:
        b.reason(
            "CONFIRMATION_TEST_REQUIRED",
            "Before the first prescription the patient needs a screening and a confirmation "
            "pregnancy test; neither is recorded.",
            "The prescriber enters a negative screening test from a lab or office.", "prescriber",
        )
        b.step("prescriber", "Enter a negative screening pregnancy test (lab or office).")
        return None, None, None
    if cycle is None and not started:
        earliest = earliest_confirmation_on(facts, params) or today
        b.reason(
            "CONFIRMATION_TEST_REQUIRED",
            f"The confirmation test is not recorded yet (screening specimen "
            f"{fmt(screening.specimen_on)}).",
            f"The prescriber enters a negative confirmation test from a lab or office, "
            f"specimen collected on or after {fmt(earliest)}.", "prescriber",
        )
        b.step("prescriber", "Enter the confirmation pregnancy test (lab or office).",
               not_before=earliest)
        return None, None, None
    if cycle is None or cycle.closes_on is None:  # pragma: no cover - started implies a cycle
        b.reason("PREGNANCY_TEST_REQUIRED", "No negative pregnancy test for this cycle.")
        return None, None, None

    test_on = cycle.opened_on
    window = Window(cycle.id, cycle.kind, cycle.opened_on, cycle.closes_on, test_on)
    next_test = "monthly" if started else "confirmation"
    setting_hint = "" if started else " (lab or office)"
    if today < cycle.opened_on:
        b.reason(
            "WINDOW_NOT_OPEN", f"The window opens on {fmt(cycle.opened_on)}.",
            f"Ask again on or after {fmt(cycle.opened_on)}.", "pharmacy",
        )
        return cycle, window, None
    if today > cycle.closes_on:
        if cycle_dispensed(facts, cycle):
            useful = earliest_useful_test_on(facts, params)
            b.reason(
                "PREGNANCY_TEST_REQUIRED",
                "There is no negative pregnancy test for this month's prescription yet.",
                "The prescriber enters this month's negative pregnancy test"
                + (f", specimen collected on or after {fmt(useful)}." if useful else "."),
                "prescriber",
            )
            b.step("prescriber", f"Enter this month's pregnancy test{setting_hint}.",
                   not_before=useful)
        else:
            b.reason(
                "WINDOW_EXPIRED",
                f"The {(cycle.closes_on - cycle.opened_on).days + 1}-day window ended on "
                f"{fmt(cycle.closes_on)} with no prescription dispensed; that cycle is spent.",
                f"The prescriber enters a new negative {next_test} test{setting_hint} to start "
                "a new cycle"
                + (f", specimen collected on or after {fmt(lockout)}." if lockout else "."),
                "prescriber",
            )
            if lockout:
                b.reason(
                    "LOCKOUT_ACTIVE",
                    f"The first prescription's window was missed: under the 2021 rules a new "
                    f"confirmation specimen cannot be collected before {fmt(lockout)}.",
                    f"Collect the new confirmation specimen on or after {fmt(lockout)}.",
                    "prescriber", lockout,
                )
            days = [d for d in (lockout, earliest_useful_test_on(facts, params)) if d]
            b.step("prescriber", f"Enter a new {next_test} pregnancy test{setting_hint}.",
                   not_before=max(days) if days else None)
        return cycle, window, None

    close = cycle.closes_on
    if cycle_dispensed(facts, cycle):
        useful = earliest_useful_test_on(facts, params)
        b.reason(
            "AUTHORIZATION_ALREADY_ISSUED",
            "This cycle's prescription has already been dispensed.",
            "The next prescription needs next month's pregnancy test"
            + (f", specimen collected on or after {fmt(useful)}." if useful else "."),
            "prescriber",
        )
        b.step("prescriber", "Enter next month's pregnancy test.", not_before=useful)
        return cycle, window, None
    refill = earliest_refill_on(facts, params)
    if started and refill is not None and close < refill:
        again = earliest_useful_test_on(facts, params)
        b.reason(
            "PREGNANCY_TEST_REQUIRED",
            f"The pregnancy test collected on {fmt(test_on)} opens a window that ends on "
            f"{fmt(close)}, before the first day a new authorization is allowed "
            f"({fmt(refill)}): that window cannot be used.",
            f"The prescriber enters a new negative monthly test, specimen collected on or "
            f"after {fmt(again or refill)}.", "prescriber",
        )
        b.step("prescriber", "Enter a new monthly pregnancy test: the last one was collected "
               "too early to be used.", not_before=again)
        return cycle, window, None
    if cycle.counseling is None:
        b.reason(
            "COUNSELING_NOT_CONFIRMED",
            "The prescriber has not confirmed counseling and contraception for this cycle.",
            f"The prescriber confirms counseling by {fmt(close)}.", "prescriber", close,
        )
        b.step("prescriber", "Confirm counseling and the patient's two contraception methods.",
               due_on=close)
    if not cycle.comprehension_passed:
        after = " after the prescriber confirms counseling" if cycle.counseling is None else ""
        b.reason(
            "COMPREHENSION_NOT_PASSED",
            "The patient has not passed this month's comprehension questions.",
            f"The patient answers the questions{after} by {fmt(close)}.", "patient", close,
        )
        b.step("patient", "Answer this month's comprehension questions.", due_on=close)
    if cycle.contraception is None:
        b.reason(
            "CONTRACEPTION_NOT_ATTESTED",
            "The patient has not entered their contraception for this cycle.",
            f"The patient enters their two contraception methods by {fmt(close)}.",
            "patient", close,
        )
        b.step("patient", "Enter your contraception methods.", due_on=close)
    elif cycle.counseling is not None and not same_choice(
        cycle.contraception.methods, cycle.contraception.abstinence,
        cycle.counseling.methods, cycle.counseling.abstinence,
    ):
        b.reason(
            "CONTRACEPTION_MISMATCH",
            "The contraception the patient entered differs from what the prescriber entered.",
            f"The patient re-enters their methods, or the prescriber corrects them, by "
            f"{fmt(close)}.", "patient", close,
        )
        b.step("patient", "Re-enter your contraception to match your prescriber's.", due_on=close)
    return cycle, window, close


def _cannot_2021(
    b: _Builder, facts: PatientFacts, today: date, params: Parameters,
) -> tuple[CycleFact | None, Window | None, date | None]:
    cycle = latest_cycle(facts, "counseling_window")
    if cycle is None or cycle.closes_on is None:
        b.reason(
            "COUNSELING_NOT_CONFIRMED",
            "The prescriber has not confirmed this month's counseling.",
            f"The prescriber confirms counseling; the {params.no_pregnancy_window_2021_days}-day "
            "window starts that day.", "prescriber",
        )
        b.step("prescriber", "Confirm this month's counseling.")
        return None, None, None
    window = Window(cycle.id, cycle.kind, cycle.opened_on, cycle.closes_on, None)
    if today > cycle.closes_on:
        if cycle_dispensed(facts, cycle):
            b.reason(
                "COUNSELING_NOT_CONFIRMED",
                "The prescriber has not confirmed counseling for the next prescription.",
                "The prescriber confirms this month's counseling.", "prescriber",
            )
        else:
            b.reason(
                "WINDOW_EXPIRED",
                f"The {(cycle.closes_on - cycle.opened_on).days + 1}-day window ended on "
                f"{fmt(cycle.closes_on)}.",
                "The prescriber confirms counseling again to open a new window.", "prescriber",
            )
        b.step("prescriber", "Confirm this month's counseling.")
        return cycle, window, None
    if cycle_dispensed(facts, cycle):
        b.reason(
            "AUTHORIZATION_ALREADY_ISSUED",
            "This month's prescription has already been dispensed.",
            "The next prescription needs next month's counseling.", "prescriber",
        )
        return cycle, window, None
    return cycle, window, cycle.closes_on


def _treatment_end(facts: PatientFacts, today: date, params: Parameters) -> TreatmentEnd | None:
    if facts.last_dose_on is None:
        return None
    last = facts.last_dose_on
    if facts.risk_category != CAN:
        return TreatmentEnd(last, None, None, True, None, True, ())
    eot_due = last + timedelta(days=params.window_days)
    post_due = last + timedelta(days=params.post_treatment_test_days)
    eot_done = any(t.purpose in ("end_of_treatment", "post_treatment") for t in facts.tests)
    post_done = any(
        t.purpose == "post_treatment" and t.result == "negative" for t in facts.tests
    )
    overdue = []
    if not eot_done and today > eot_due:
        overdue.append("end_of_treatment")
    if not post_done and today > post_due + timedelta(days=params.window_days):
        overdue.append("post_treatment")
    return TreatmentEnd(
        last, last + timedelta(days=params.contraception_after_days), eot_due, eot_done,
        post_due, post_done, tuple(overdue),
    )


def _treatment_end_steps(b: _Builder, end: TreatmentEnd, params: Parameters) -> None:
    if end.end_of_treatment_test_due_on and not end.end_of_treatment_test_done:
        b.step("prescriber", "Enter the end-of-treatment pregnancy test.",
               due_on=end.end_of_treatment_test_due_on)
    if end.post_treatment_test_due_on and not end.post_treatment_test_done:
        b.step("prescriber", "Enter the post-treatment pregnancy test.",
               due_on=end.post_treatment_test_due_on + timedelta(days=params.window_days),
               not_before=end.post_treatment_test_due_on)
    if end.contraception_until:
        b.step("patient", "Keep using both contraception methods.", due_on=end.contraception_until)
