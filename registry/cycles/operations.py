"""The monthly cycle: counseling, comprehension questions, contraception (rules §3, §5)."""

from __future__ import annotations

import json
import random
from datetime import timedelta
from importlib import resources
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from registry import clock, locks, policy
from registry.accounts.models import User
from registry.audit.operations import record, snapshot
from registry.cycles.models import (
    ComprehensionAttempt,
    ComprehensionQuestion,
    ContraceptionEntry,
    Counseling,
    Cycle,
    CycleKind,
)
from registry.cycles.schemas import ComprehensionAnswers, Contraception, CounselingEntry
from registry.errors import Errors, NotFound, PermissionDenied, ValidationError
from registry.params import current as current_params
from registry.patients.facts import load_facts
from registry.patients.models import Patient, PatientStatus
from registry.permissions import patient_for_care, patient_for_user
from registry.policy import Permission
from registry.rules import CycleFact, evaluate, rules_in_force, validate_choice, window_close
from registry.rules.contraception import same_choice
from registry.rules.vocabulary import RiskCategory, RuleSetName

CAN = RiskCategory.CAN_GET_PREGNANT


def lock_patient(session: Session, patient: Patient) -> None:
    """Serialize state changes of one patient and re-read it (see registry/locks.py)."""
    locks.lock_patient(session, patient)


def open_cycle(
    session: Session, actor: User | None, patient: Patient, *, kind: CycleKind,
    opened_on: Any, closes_on: Any, ruleset: RuleSetName, test_id: int | None = None,
) -> Cycle:
    number = (session.execute(
        select(func.max(Cycle.number)).where(Cycle.patient_id == patient.id)
    ).scalar() or 0) + 1
    cycle = Cycle(
        patient_id=patient.id, number=number, course_number=patient.course_number,
        kind=kind, ruleset=ruleset, opened_on=opened_on, closes_on=closes_on,
        pregnancy_test_id=test_id,
    )
    session.add(cycle)
    session.flush()
    record(session, actor, "cycle:open", "cycle", cycle.id, after=snapshot(cycle))
    return cycle


def current_test_cycle(session: Session, patient: Patient) -> Cycle | None:
    return session.execute(
        select(Cycle).where(
            Cycle.patient_id == patient.id,
            Cycle.course_number == patient.course_number,
            Cycle.kind == CycleKind.TEST_WINDOW,
        ).order_by(Cycle.number.desc()).limit(1)
    ).scalar()


def _contraception_choice(errors: Errors, choice: Contraception | None,
                         field: str = "contraception") -> tuple[list[str] | None, bool]:
    """The methods (None for abstinence) and abstinence, once the rules accept the choice."""
    choice = choice or Contraception()
    methods = list(choice.methods or [])
    for problem in validate_choice(methods, choice.abstinence):
        errors.add(f"{field}.methods", problem)
    return (None if choice.abstinence else methods), choice.abstinence


def confirm_counseling(session: Session, actor: User, patient: Patient,
                       data: CounselingEntry) -> tuple[Counseling, Cycle | None]:
    """The prescriber confirms counseling for the current cycle (with contraception for a
    patient who can get pregnant). For a patient who cannot get pregnant under rule set 2021,
    the confirmation opens a 30-day window."""
    patient_for_care(session, actor, patient, prescriber_only=True)
    policy.require(actor.role, Permission.COUNSELING_RECORD)
    lock_patient(session, patient)
    errors = Errors()
    today = clock.today()
    params = current_params()
    counseled_on = data.counseled_on
    if counseled_on > today:
        errors.add("counseled_on", "The counseling date cannot be in the future.")
    methods: list[str] | None = None
    abstinence = False
    if patient.risk_category == CAN:
        methods, abstinence = _contraception_choice(errors, data.contraception)
    if patient.status not in (PatientStatus.ACTIVE, PatientStatus.PENDING_ACTIVATION):
        errors.add("counseled_on", f"The patient is {patient.status.replace('_', ' ')}.")
    cycle: Cycle | None = None
    rules = rules_in_force(today, params)
    if patient.risk_category == CAN and not errors:
        cycle = current_test_cycle(session, patient)
        if cycle is None or cycle.closes_on is None or today > cycle.closes_on:
            errors.add("counseled_on", "There is no open cycle: enter this month's negative "
                       "pregnancy test first; counseling is confirmed for the cycle it opens.")
        elif counseled_on < cycle.opened_on - timedelta(days=params.window_days):
            errors.add("counseled_on", "The counseling date is too long before this cycle's "
                       "pregnancy test.")
    errors.raise_if_any()
    if patient.risk_category != CAN and rules.monthly_counseling:
        cycle = open_cycle(
            session, actor, patient, kind=rules.cannot_get_pregnant_cycle,
            opened_on=counseled_on,
            closes_on=window_close(counseled_on, rules.cannot_get_pregnant_days(params)),
            ruleset=rules.name,
        )
    prescriber_id = patient.prescriber_id
    counseling = Counseling(
        patient_id=patient.id, cycle_id=cycle.id if cycle else None,
        course_number=patient.course_number, counseled_on=counseled_on,
        prescriber_id=prescriber_id, methods=methods, abstinence=abstinence,
    )
    session.add(counseling)
    session.flush()
    record(session, actor, "counseling:confirm", "patient", patient.id, after=snapshot(counseling))
    return counseling, cycle


# --- comprehension questions ---------------------------------------------------------

BANK_FILE = "comprehension_bank.json"
# Questions (by key) only for a patient who can get pregnant, besides the contraception topic.
# Seven remain for the other category (risks, the risk categories, program rules), as §5 asks.
CAN_GET_PREGNANT_ONLY = frozenset({"monthly-test", "window", "post-test"})


def bank_data() -> dict[str, Any]:
    text = resources.files("registry.data").joinpath(BANK_FILE).read_text(encoding="utf-8")
    data: dict[str, Any] = json.loads(text)
    return data


def load_question_bank(session: Session) -> int:
    """Insert the packaged question bank's version if it is not there yet; returns rows added."""
    data = bank_data()
    version = data["version"]
    exists = session.execute(
        select(ComprehensionQuestion.id).where(ComprehensionQuestion.bank_version == version)
        .limit(1)
    ).first()
    if exists:
        return 0
    others = [lang for lang in data.get("languages", ["en"]) if lang != "en"]
    for q in data["questions"]:
        session.add(ComprehensionQuestion(
            bank_version=version, key=q["key"], topic=q["topic"], text=q["text"],
            choices=q["choices"], correct_choice=q["correct"], explanation=q["explanation"],
            translations={lang: q[lang] for lang in others if lang in q} or None,
        ))
    session.flush()
    record(session, None, "comprehension_bank:load", "comprehension_bank", version,
           after={"version": version, "questions": len(data["questions"])})
    return len(data["questions"])


def current_bank_version(session: Session) -> str:
    version = session.execute(
        select(ComprehensionQuestion.bank_version).order_by(ComprehensionQuestion.id.desc())
        .limit(1)
    ).scalar()
    if version is None:
        raise NotFound("The comprehension question bank is not loaded (run `registry db upgrade`).")
    return version


def _patient_actor(session: Session, actor: User, permission: Permission) -> Patient:
    policy.require(actor.role, permission)
    patient = patient_for_user(session, actor)
    if patient is None:  # pragma: no cover
        raise PermissionDenied("No patient record for this account.")
    return patient


def _comprehension_scope(session: Session, patient: Patient) -> tuple[Cycle | None, str]:
    """The cycle the questions are for (None: the once-only set of a patient who cannot get
    pregnant), or raise with what must happen first."""
    if patient.status != PatientStatus.ACTIVE:
        raise ValidationError(answers="Your account is not active.")
    if patient.risk_category != CAN:
        return None, f"patient-{patient.id}-course-{patient.course_number}"
    today = clock.today()
    facts = load_facts(session, patient)
    decision = evaluate(facts, today, current_params())
    cycle = decision.cycle
    if cycle is None or cycle.closes_on is None or not (
        cycle.opened_on <= today <= cycle.closes_on
    ):
        raise ValidationError(answers="There is no open cycle yet: your prescriber enters your "
                              "pregnancy test and confirms counseling first.")
    if cycle.counseling is None:
        raise ValidationError(answers="Your prescriber has not confirmed this month's counseling "
                              "yet; the questions open after that.")
    row = session.get(Cycle, cycle.id)
    assert row is not None
    return row, f"cycle-{cycle.id}"


def comprehension_questions(session: Session, actor: User) -> tuple[Cycle | None, list[Any]]:
    """The questions for the patient's current cycle: the same set on every retake."""
    patient = _patient_actor(session, actor, Permission.COMPREHENSION_TAKE)
    cycle, seed = _comprehension_scope(session, patient)
    version = current_bank_version(session)
    bank = session.execute(
        select(ComprehensionQuestion).where(ComprehensionQuestion.bank_version == version)
        .order_by(ComprehensionQuestion.id)
    ).scalars().all()
    if patient.risk_category != CAN:
        # Questions about contraception, monthly tests and the test's window do not apply to
        # a patient who cannot get pregnant: they get the questions of their category.
        bank = [q for q in bank if q.key not in CAN_GET_PREGNANT_ONLY
                and q.topic != "contraception"]
    count = min(current_params().comprehension_questions_per_cycle, len(bank))
    chosen = random.Random(seed).sample(list(bank), count)  # noqa: S311 - selection, not secrecy
    return cycle, chosen


def already_passed(session: Session, patient: Patient, cycle: Cycle | None) -> bool:
    """Passed for this cycle (or, for a patient who cannot get pregnant, this course)."""
    stmt = select(ComprehensionAttempt.id).where(
        ComprehensionAttempt.patient_id == patient.id, ComprehensionAttempt.passed.is_(True),
        ComprehensionAttempt.course_number == patient.course_number)
    stmt = stmt.where(ComprehensionAttempt.cycle_id == cycle.id) if cycle is not None else (
        stmt.where(ComprehensionAttempt.cycle_id.is_(None)))
    return session.execute(stmt.limit(1)).first() is not None


def _grade(questions: list[Any], data: ComprehensionAnswers) -> tuple[dict[str, str], list[int]]:
    errors = Errors()
    given = data.answers
    for q in questions:
        choice = given.get(str(q.id))
        if choice is None or choice == "":
            errors.add(f"answers.{q.id}", "Answer this question.")
        elif choice not in {str(c["id"]) for c in q.choices}:
            errors.add(f"answers.{q.id}", "Not one of this question's choices.")
    extra = set(given) - {str(q.id) for q in questions}
    if extra:
        errors.add("answers", "These questions were not asked: " + ", ".join(sorted(extra)) + ".")
    errors.raise_if_any()
    incorrect = [q.id for q in questions if str(given[str(q.id)]) != q.correct_choice]
    return {str(q.id): str(given[str(q.id)]) for q in questions}, incorrect


def review_comprehension(session: Session, actor: User,
                         data: ComprehensionAnswers) -> list[int]:
    """A patient who has passed looks at the questions again: graded, nothing is stored."""
    _, questions = comprehension_questions(session, actor)
    return _grade(questions, data)[1]


def take_comprehension(session: Session, actor: User,
                       data: ComprehensionAnswers) -> ComprehensionAttempt:
    """Grade an attempt; passing means every asked question answered correctly (rules §5)."""
    patient = _patient_actor(session, actor, Permission.COMPREHENSION_TAKE)
    cycle, questions = comprehension_questions(session, actor)
    given, incorrect = _grade(questions, data)
    attempt = ComprehensionAttempt(
        patient_id=patient.id, cycle_id=cycle.id if cycle else None,
        course_number=patient.course_number, bank_version=questions[0].bank_version,
        question_ids=[q.id for q in questions], answers=given, incorrect=incorrect,
        passed=not incorrect, taken_on=clock.today(),
    )
    session.add(attempt)
    session.flush()
    record(session, actor, "comprehension:attempt", "patient", patient.id,
           after={"attempt_id": attempt.id, "cycle_id": attempt.cycle_id,
                  "passed": attempt.passed, "incorrect": incorrect})
    return attempt


def attest_contraception(session: Session, actor: User,
                         data: Contraception) -> ContraceptionEntry:
    """The patient enters their contraception for the cycle, after the prescriber did."""
    patient = _patient_actor(session, actor, Permission.CONTRACEPTION_ATTEST)
    lock_patient(session, patient)
    errors = Errors()
    methods, abstinence = _contraception_choice(errors, data)
    errors.raise_if_any()
    if patient.risk_category != CAN:
        raise ValidationError(contraception="Contraception is recorded only for patients who "
                              "can get pregnant.")
    if patient.status != PatientStatus.ACTIVE:
        raise ValidationError(contraception="Your account is not active.")
    today = clock.today()
    decision = evaluate(load_facts(session, patient), today, current_params())
    cycle: CycleFact | None = decision.cycle
    if cycle is None or cycle.closes_on is None or not (
        cycle.opened_on <= today <= cycle.closes_on
    ):
        raise ValidationError(contraception="There is no open cycle: your prescriber enters "
                              "your pregnancy test and confirms counseling first.")
    if cycle.counseling is None:
        raise ValidationError(contraception="Your prescriber has not confirmed this month's "
                              "counseling yet; enter your contraception after that.")
    matches = same_choice(methods, abstinence, cycle.counseling.methods,
                          cycle.counseling.abstinence)
    entry = ContraceptionEntry(
        patient_id=patient.id, cycle_id=cycle.id, methods=methods, abstinence=abstinence,
        matches_prescriber=matches, entered_on=today,
    )
    session.add(entry)
    session.flush()
    record(session, actor, "contraception:attest", "patient", patient.id,
           after=snapshot(entry))
    return entry
