"""What a patient still needs, by requirement, for the standard doors (FHIR REMS, CDS Hooks,
NCPDP): the rules' OWN decision (:func:`registry.rules.evaluate`, the one the authorization
check and the status page use) grouped by requirement, with who must act, by when, and the
page of ours where that step is done. No rule is decided here: a requirement is missing
exactly when the decision gives one of its reason codes."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import Literal

from sqlalchemy.orm import Session

from registry.params import current as current_params
from registry.patients.facts import load_facts
from registry.patients.models import Patient
from registry.rules import Decision, Reason, evaluate
from registry.rules.vocabulary import (
    CYCLE_REASONS,
    Actor,
    PatientStatus,
    ReasonCode,
    RiskCategory,
)


class Requirement(StrEnum):
    """One thing the program asks for before a dispense; each reason code belongs to one."""

    ENROLLMENT = "enrollment"  # registered, consented and the account activated
    PRESCRIBER = "prescriber"  # the prescriber of record is active (and is the one asking)
    PREGNANCY_REPORT = "pregnancy_report"  # no pregnancy reported, no positive test
    PREGNANCY_TEST = "pregnancy_test"  # screening, confirmation, this month's negative test
    COUNSELING = "counseling"  # the prescriber confirmed counseling (and the methods)
    COMPREHENSION = "comprehension"  # the patient passed the questions
    CONTRACEPTION = "contraception"  # the patient entered matching contraception
    WINDOW = "window"  # the prescription window is open
    DISPENSING = "dispensing"  # no authorization open, not a refill too soon
    PHARMACY = "pharmacy"  # the pharmacy and pharmacist asking are active (a request only)
    PRESCRIPTION = "prescription"  # days' supply and refills (a request only)


class RequirementStatus(StrEnum):
    MET = "met"
    MISSING = "missing"  # someone can act to meet it
    BLOCKED = "blocked"  # nothing anyone does now meets it (a pregnancy, a deactivation)


class StepActor(StrEnum):
    """Who must act, in the words the doors use."""

    PRESCRIBER = "prescriber"
    PATIENT = "patient"
    PHARMACIST = "pharmacist"
    STAFF = "staff"


_ACTOR_OF_RULES: dict[Actor, StepActor] = {
    Actor.PRESCRIBER: StepActor.PRESCRIBER,
    Actor.PATIENT: StepActor.PATIENT,
    Actor.PHARMACY: StepActor.PHARMACIST,
    Actor.PROGRAM_STAFF: StepActor.STAFF,
}

# Every reason code: the requirement it belongs to, and who acts when the rules name nobody.
REQUIREMENT_OF: dict[ReasonCode, tuple[Requirement, StepActor]] = {
    ReasonCode.PHARMACY_NOT_ACTIVE: (Requirement.PHARMACY, StepActor.PHARMACIST),
    ReasonCode.PHARMACIST_NOT_AUTHORIZED: (Requirement.PHARMACY, StepActor.PHARMACIST),
    ReasonCode.PATIENT_NOT_FOUND: (Requirement.ENROLLMENT, StepActor.PRESCRIBER),
    ReasonCode.PATIENT_NOT_ACTIVE: (Requirement.ENROLLMENT, StepActor.PATIENT),
    ReasonCode.PREGNANCY_REPORTED: (Requirement.PREGNANCY_REPORT, StepActor.STAFF),
    ReasonCode.PRESCRIBER_NOT_ACTIVE: (Requirement.PRESCRIBER, StepActor.PRESCRIBER),
    ReasonCode.PRESCRIBER_MISMATCH: (Requirement.PRESCRIBER, StepActor.PRESCRIBER),
    ReasonCode.CONFIRMATION_TEST_REQUIRED: (Requirement.PREGNANCY_TEST, StepActor.PRESCRIBER),
    ReasonCode.PREGNANCY_TEST_REQUIRED: (Requirement.PREGNANCY_TEST, StepActor.PRESCRIBER),
    ReasonCode.LOCKOUT_ACTIVE: (Requirement.PREGNANCY_TEST, StepActor.PRESCRIBER),
    ReasonCode.COUNSELING_NOT_CONFIRMED: (Requirement.COUNSELING, StepActor.PRESCRIBER),
    ReasonCode.COMPREHENSION_NOT_PASSED: (Requirement.COMPREHENSION, StepActor.PATIENT),
    ReasonCode.CONTRACEPTION_NOT_ATTESTED: (Requirement.CONTRACEPTION, StepActor.PATIENT),
    ReasonCode.CONTRACEPTION_MISMATCH: (Requirement.CONTRACEPTION, StepActor.PATIENT),
    ReasonCode.WINDOW_NOT_OPEN: (Requirement.WINDOW, StepActor.PHARMACIST),
    ReasonCode.WINDOW_EXPIRED: (Requirement.WINDOW, StepActor.PRESCRIBER),
    ReasonCode.DAYS_SUPPLY_EXCEEDS_LIMIT: (Requirement.PRESCRIPTION, StepActor.PRESCRIBER),
    ReasonCode.REFILLS_NOT_ALLOWED: (Requirement.PRESCRIPTION, StepActor.PRESCRIBER),
    ReasonCode.AUTHORIZATION_ALREADY_ISSUED: (Requirement.DISPENSING, StepActor.PHARMACIST),
    ReasonCode.REFILL_TOO_SOON: (Requirement.DISPENSING, StepActor.PHARMACIST),
}

# The requirements a status (no pharmacy asking) reports, in the order people meet them.
_CYCLE = (Requirement.PREGNANCY_TEST, Requirement.COUNSELING, Requirement.COMPREHENSION,
          Requirement.CONTRACEPTION, Requirement.WINDOW)
_ONLY_CAN_GET_PREGNANT = frozenset({Requirement.PREGNANCY_TEST, Requirement.CONTRACEPTION})


def _tests(p: Patient) -> str:
    return f"/patients/{p.registry_id}/tests"


def _counseling(p: Patient) -> str:
    return f"/patients/{p.registry_id}/counseling"


def _record(p: Patient) -> str:
    return f"/patients/{p.registry_id}"


def _not_active(p: Patient) -> str | None:
    if p.status == PatientStatus.PENDING_ACTIVATION:
        return "/activate"
    if p.status == PatientStatus.DEACTIVATED:
        return None
    return _record(p)  # treatment ended: the prescriber starts a new course there


def _window_expired(p: Patient) -> str:
    return _tests(p) if p.risk_category == RiskCategory.CAN_GET_PREGNANT else _counseling(p)


ENROLL_LINK = "/patients/new"  # no patient yet: the prescriber registers them

# Where, on our site, the step for a reason is done (paths; None: nowhere, e.g. wait).
LINK_OF: dict[ReasonCode, Callable[[Patient], str | None]] = {
    ReasonCode.PHARMACY_NOT_ACTIVE: lambda p: "/pharmacy/",
    ReasonCode.PHARMACIST_NOT_AUTHORIZED: lambda p: "/pharmacy/",
    ReasonCode.PATIENT_NOT_FOUND: lambda p: ENROLL_LINK,
    ReasonCode.PATIENT_NOT_ACTIVE: _not_active,
    ReasonCode.PREGNANCY_REPORTED: lambda p: None,
    ReasonCode.PRESCRIBER_NOT_ACTIVE: lambda p: "/prescriber/attest",
    ReasonCode.PRESCRIBER_MISMATCH: lambda p: f"/patients/{p.registry_id}/transfer",
    ReasonCode.CONFIRMATION_TEST_REQUIRED: _tests,
    ReasonCode.PREGNANCY_TEST_REQUIRED: _tests,
    ReasonCode.LOCKOUT_ACTIVE: _tests,
    ReasonCode.COUNSELING_NOT_CONFIRMED: _counseling,
    ReasonCode.COMPREHENSION_NOT_PASSED: lambda p: "/me/questions",
    ReasonCode.CONTRACEPTION_NOT_ATTESTED: lambda p: "/me/contraception",
    ReasonCode.CONTRACEPTION_MISMATCH: lambda p: "/me/contraception",
    ReasonCode.WINDOW_NOT_OPEN: lambda p: None,
    ReasonCode.WINDOW_EXPIRED: _window_expired,
    ReasonCode.DAYS_SUPPLY_EXCEEDS_LIMIT: lambda p: None,
    ReasonCode.REFILLS_NOT_ALLOWED: lambda p: None,
    ReasonCode.AUTHORIZATION_ALREADY_ISSUED: lambda p: "/pharmacy/authorizations",
    ReasonCode.REFILL_TOO_SOON: lambda p: None,
}


@dataclass(frozen=True)
class Step:
    code: ReasonCode  # our reason code
    text: str  # the wording module's sentence: what is wrong
    actor: StepActor  # who must act
    due: date | None
    link: str | None  # the path of our page where the step is done
    action: str | None = None  # the wording module's sentence: what to do (and by when)


@dataclass(frozen=True)
class RequirementResult:
    requirement: Requirement
    status: RequirementStatus
    steps: tuple[Step, ...] = ()


Overall = Literal["success", "data-required", "failure"]


@dataclass(frozen=True)
class Guidance:
    patient: Patient | None
    overall: Overall
    requirements: tuple[RequirementResult, ...]
    window_closes: date | None
    decision: Decision | None = None  # the rules' decision it was read from

    def requirement(self, which: Requirement) -> RequirementResult | None:
        return next((r for r in self.requirements if r.requirement == which), None)

    @property
    def missing(self) -> tuple[RequirementResult, ...]:
        return tuple(r for r in self.requirements if r.status != RequirementStatus.MET)


def step_for(reason: Reason, patient: Patient | None) -> Step:
    requirement_actor = REQUIREMENT_OF[reason.code][1]
    actor = _ACTOR_OF_RULES[reason.actor] if reason.actor is not None else requirement_actor
    if patient is None:
        link = ENROLL_LINK if reason.code == ReasonCode.PATIENT_NOT_FOUND else None
    else:
        link = LINK_OF[reason.code](patient)
    return Step(code=reason.code, text=reason.message, actor=actor, due=reason.due_on,
                link=link, action=reason.action)


def _blocking(reason: Reason, decision: Decision, patient: Patient | None) -> bool:
    """A reason nobody can act on now: no such patient, a reported pregnancy (and, while it
    stands, every cycle reason), a deactivated patient."""
    if reason.code in (ReasonCode.PATIENT_NOT_FOUND, ReasonCode.PREGNANCY_REPORTED):
        return True
    if reason.code in CYCLE_REASONS and "PREGNANCY_REPORTED" in decision.codes:
        return True
    return (reason.code == ReasonCode.PATIENT_NOT_ACTIVE and patient is not None
            and patient.status == PatientStatus.DEACTIVATED)


def _listed(patient: Patient | None) -> list[Requirement]:
    if patient is None:
        return [Requirement.ENROLLMENT]
    listed = [Requirement.ENROLLMENT, Requirement.PRESCRIBER, Requirement.PREGNANCY_REPORT]
    if patient.status in (PatientStatus.PENDING_ACTIVATION, PatientStatus.ACTIVE):
        # The rules check the cycle only for these (eligibility.evaluate); for the others a
        # cycle requirement would read "met" without having been looked at.
        listed += [r for r in _CYCLE if patient.risk_category == RiskCategory.CAN_GET_PREGNANT
                   or r not in _ONLY_CAN_GET_PREGNANT]
    listed.append(Requirement.DISPENSING)
    return listed


def guidance_from(decision: Decision, patient: Patient | None) -> Guidance:
    """Group a decision of the rules by requirement (also for a pharmacy's request: its
    pharmacy and prescription requirements are then listed when they fail)."""
    steps: dict[Requirement, list[Step]] = {}
    blocked: set[Requirement] = set()
    for reason in decision.reasons:
        requirement = REQUIREMENT_OF[reason.code][0]
        steps.setdefault(requirement, []).append(step_for(reason, patient))
        if _blocking(reason, decision, patient):
            blocked.add(requirement)
    order = _listed(patient)
    order += [r for r in Requirement if r in steps and r not in order]
    results = tuple(
        RequirementResult(
            requirement=r,
            status=(RequirementStatus.BLOCKED if r in blocked
                    else RequirementStatus.MISSING if r in steps else RequirementStatus.MET),
            steps=tuple(steps.get(r, ())),
        )
        for r in order
    )
    overall: Overall
    if decision.eligible:
        overall = "success"
    elif blocked:
        overall = "failure"
    else:
        overall = "data-required"
    closes = decision.window.closes_on if decision.window is not None else None
    return Guidance(patient=patient, overall=overall, requirements=results,
                    window_closes=closes, decision=decision)


def guidance_for(session: Session, patient: Patient | None, today: date) -> Guidance:
    """What ``patient`` (None: nobody matched) still needs today, by requirement."""
    facts = load_facts(session, patient) if patient is not None else None
    return guidance_from(evaluate(facts, today, current_params()), patient)
