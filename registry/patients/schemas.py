"""Patients' typed contract: what a page's form or the API's body gives each operation, and
what the API answers. Each field is written here once (rules §2, §7)."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from pydantic import Field

from registry.accounts.models import Role
from registry.contract import (
    Day,
    Email,
    Flag,
    Input,
    LongText,
    Name,
    Npi,
    Output,
    Password,
    Reason,
    RecordId,
    RegistryId,
    Text,
)
from registry.patients.models import Patient, PatientStatus, RiskCategory
from registry.rules import Decision
from registry.rules.reasons import NextStep

# --- what operations take ------------------------------------------------------------------


class PatientRegistration(Input):
    """Registering a patient for a prescriber (rules §2)."""

    prescriber_id: Annotated[RecordId | None, Field(
        description="The prescriber a designee registers for (required for a designee).")] = None
    first_name: Name
    last_name: Name
    date_of_birth: Day
    email: Email
    risk_category: RiskCategory
    consent_signed_on: Day
    birth_defects_consent_signed_on: Annotated[Day | None, Field(
        description="Can get pregnant: defaults to consent_signed_on.")] = None
    guardian_name: Annotated[Text | None, Field(description="Required under 18.")] = None
    guardian_signed_on: Annotated[Day | None, Field(description="Required under 18.")] = None
    contraception_start_date: Annotated[Day | None, Field(
        description="Required for a patient who can get pregnant.")] = None
    home_tests_allowed: Flag = False
    different_person: Annotated[Flag | None, Field(
        description="false: refuse a patient already registered with the same name and date "
        "of birth; true: the caller confirmed it is someone else; absent: no check.")] = None


class PatientActivation(Input):
    registry_id: RegistryId
    date_of_birth: Day
    activation_code: Annotated[Text, Field(
        description="The one-time code from the prescriber.")]
    password: Password


class NewRiskCategory(Input):
    risk_category: RiskCategory
    reason: Reason
    contraception_start_date: Annotated[Day | None, Field(
        description="Required when the new category is can_get_pregnant.")] = None


class PatientChanges(Input):
    """PATCH: only the fields sent change."""

    contraception_start_date: Day | None = None
    home_tests_allowed: Annotated[Flag | None, Field(
        description="Prescriber only; allowing home tests under the 2026 rules needs "
        "home_test_procedure_attested: true.")] = None
    home_test_procedure_attested: Annotated[Flag | None, Field(
        description="The prescriber has a procedure to prevent a falsified home result "
        "(rules §4).")] = None
    email: Annotated[Email | None, Field(
        description="Only before the patient has activated their account.")] = None


class TreatmentEnding(Input):
    last_dose_on: Day


class NewCourse(Input):
    contraception_start_date: Annotated[Day | None, Field(
        description="Required for a patient who can get pregnant.")] = None


class TransferRequest(Input):
    """A prescriber takes the patient on (with date_of_birth); staff name the new prescriber
    (prescriber_npi)."""

    date_of_birth: Annotated[Day | None, Field(
        description="Required for a prescriber taking the patient on.")] = None
    prescriber_npi: Annotated[Npi | None, Field(
        description="Required for program staff: the new prescriber of record.")] = None
    reason: Reason | None = None


class Transfer(TransferRequest):
    registry_id: RegistryId


class Deactivation(Input):
    reason: Annotated[LongText, Field(description="Why the patient leaves the program.")]


# --- what the API answers ------------------------------------------------------------------


class PrescriberRef(Output):
    id: int
    npi: str
    name: str


class PatientOut(Output):
    registry_id: str
    first_name: str
    last_name: str
    date_of_birth: date
    email: str
    risk_category: RiskCategory
    status: PatientStatus
    prescriber: PrescriberRef
    registered_on: date
    activated_on: date | None
    consent_signed_on: date
    home_tests_allowed: bool
    contraception_start_date: date | None
    course_number: int
    last_dose_on: date | None
    treatment_completed_on: date | None
    deactivated_on: date | None

    @classmethod
    def of(cls, p: Patient) -> PatientOut:
        return cls(
            registry_id=p.registry_id, first_name=p.first_name, last_name=p.last_name,
            date_of_birth=p.date_of_birth, email=p.email,
            risk_category=RiskCategory(p.risk_category), status=PatientStatus(p.status),
            prescriber=PrescriberRef(id=p.prescriber.id, npi=p.prescriber.npi,
                                     name=p.prescriber.name),
            registered_on=p.registered_on, activated_on=p.activated_on,
            consent_signed_on=p.consent_signed_on, home_tests_allowed=p.home_tests_allowed,
            contraception_start_date=p.contraception_start_on, course_number=p.course_number,
            last_dose_on=p.last_dose_on, treatment_completed_on=p.treatment_completed_on,
            deactivated_on=p.deactivated_on)


class ActivationCodeOut(Output):
    activation_code: Annotated[str, Field(description="Shown once; earlier codes stop "
                                          "working.")]
    activation_expires_on: date


class Registered(ActivationCodeOut):
    registry_id: str
    status: PatientStatus


class Activated(Output):
    registry_id: str
    status: PatientStatus


class CourseOut(Output):
    registry_id: str
    course_number: int
    status: PatientStatus


class ReasonOut(Output):
    code: str
    message: str
    action: str | None
    actor: str | None
    due_on: date | None


class NextStepOut(Output):
    actor: str
    action: str
    due_on: date | None
    not_before: Annotated[date | None, Field(
        description="The first day on which doing it is useful (rules §5), or null.")]

    @classmethod
    def of(cls, step: NextStep) -> NextStepOut:
        return cls(actor=step.actor, action=step.action, due_on=step.due_on,
                   not_before=step.not_before)


class WindowOut(Output):
    cycle_id: int | None
    kind: str
    test_specimen_on: date | None
    window_opens_on: date
    window_closes_on: date | None


class TreatmentEndOut(Output):
    last_dose_on: date
    contraception_until: date | None
    end_of_treatment_test_due_on: date | None
    end_of_treatment_test_done: bool
    post_treatment_test_due_on: date | None
    post_treatment_test_done: bool
    overdue: list[str]


class StatusOut(Output):
    eligible: bool
    reasons: list[ReasonOut]
    ruleset: str
    today: date
    cycle: WindowOut | None
    next_steps: list[NextStepOut]
    lockout_until: date | None
    do_not_dispense_after: date | None
    treatment_end: TreatmentEndOut | None

    @classmethod
    def of(cls, d: Decision) -> StatusOut:
        w, end = d.window, d.treatment_end
        return cls(
            eligible=d.eligible, ruleset=d.ruleset, today=d.today,
            reasons=[ReasonOut(code=r.code, message=r.message, action=r.action, actor=r.actor,
                               due_on=r.due_on) for r in d.reasons],
            cycle=WindowOut(cycle_id=w.cycle_id, kind=w.kind, test_specimen_on=w.test_specimen_on,
                            window_opens_on=w.opens_on, window_closes_on=w.closes_on)
            if w is not None else None,
            next_steps=[NextStepOut.of(s) for s in d.next_steps],
            lockout_until=d.lockout_until, do_not_dispense_after=d.do_not_dispense_after,
            treatment_end=TreatmentEndOut(
                last_dose_on=end.last_dose_on, contraception_until=end.contraception_until,
                end_of_treatment_test_due_on=end.end_of_treatment_test_due_on,
                end_of_treatment_test_done=end.end_of_treatment_test_done,
                post_treatment_test_due_on=end.post_treatment_test_due_on,
                post_treatment_test_done=end.post_treatment_test_done,
                overdue=list(end.overdue)) if end is not None else None)


class EventOut(Output):
    on: date
    label: str
    state: Annotated[str, Field(description="past, today or future")]


class MeOut(Output):
    """The caller's own record; the patient's fields are null for other roles."""

    user_id: int
    role: Role
    email: str
    first_name: str
    last_name: str
    status: Annotated[str, Field(description="A patient's status, or the caller's standing.")]
    registry_id: str | None = None
    risk_category: RiskCategory | None = None
    next_steps: list[NextStepOut] | None = None
    timeline: list[EventOut] | None = None
    rma: Annotated[str | None, Field(
        description="The patient's open authorization, if any.")] = None
    do_not_dispense_after: date | None = None
