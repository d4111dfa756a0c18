"""Pregnancy reports (rules §8), activation codes (§2), the comprehension questions (§5)
and the contraception the patient enters (§3, §5)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from registry import clock as registry_clock
from registry.authorizations.models import Authorization
from registry.contract import parse
from registry.cycles.models import ComprehensionAttempt, ComprehensionQuestion
from registry.cycles.operations import (
    attest_contraception,
    bank_data,
    comprehension_questions,
    take_comprehension,
)
from registry.cycles.schemas import ComprehensionAnswers, Contraception
from registry.errors import NotFound, PermissionDenied, ValidationError
from registry.patients.operations import activate_patient, register_patient
from registry.patients.queries import status
from registry.patients.schemas import PatientActivation, PatientRegistration
from registry.pregnancies.models import PregnancyReport
from registry.pregnancies.operations import (
    get_report,
    lift_pregnancy_block,
    pregnancy_registry,
    report_pregnancy,
)
from registry.pregnancies.schemas import LiftInput, PregnancyReportInput, RegistryQuery
from tests import factories as f
from tests.operations.conftest import last_audit_id, row_counts


def today():
    return registry_clock.today()


def codes(outcome) -> list[str]:
    return [r["code"] for r in outcome.reasons]


# --- pregnancy reports ----------------------------------------------------------------


@pytest.fixture
def served(session, cast, clock):
    """A patient in an open first window with an open RMA from cast.rph's pharmacy."""
    p = f.patient(session, cast.dr)
    f.ready_for_first_prescription(session, p, clock)
    auth = f.authorize(session, cast.rph, p).authorization
    return p, auth


@pytest.mark.parametrize("who", ["prescriber", "designee", "pharmacist", "patient", "staff"])
def test_each_allowed_reporter_blocks_at_once(session, cast, served, who):
    p, auth = served
    actor = {"prescriber": cast.dr.user, "designee": cast.designee.user,
             "pharmacist": cast.rph.user, "patient": p.user, "staff": cast.staff}[who]
    report = report_pregnancy(session, actor, p,
            parse(PregnancyReportInput, reported_on=today(), notes="Suspected"))
    assert (report.reporter_role, report.reported_by_id, report.outcome) == (
        actor.role, actor.id, "ongoing")
    assert session.get(Authorization, auth.id).status == "cancelled"
    assert codes(f.authorize(session, cast.rph, p)) == ["PREGNANCY_REPORTED"]
    assert get_report(session, cast.staff, report.id).patient_id == p.id


@pytest.mark.parametrize("who", ["other_prescriber", "other_designee",
                                 "pharmacist_who_did_not_serve", "other_patient"])
def test_others_cannot_report(session, cast, served, who):
    p, auth = served
    actor = {
        "other_prescriber": lambda: cast.other_dr.user,
        "other_designee": lambda: f.designee(session, cast.other_dr).user,
        "pharmacist_who_did_not_serve": lambda: f.pharmacist(session, f.pharmacy(session)).user,
        "other_patient": lambda: f.patient(session, cast.dr).user,
    }[who]()
    before, audit = row_counts(session), last_audit_id(session)
    with pytest.raises(NotFound):
        report_pregnancy(session, actor, p, parse(PregnancyReportInput, reported_on=today()))
    assert (row_counts(session), last_audit_id(session)) == (before, audit)
    assert session.get(Authorization, auth.id).status == "authorized"


def test_only_staff_see_the_pregnancy_registry_and_the_reporter_their_report(session, cast,
                                                                          served):
    """API v1.1: ``GET /pregnancy-reports/{id}`` is for staff and the reporter."""
    p, _ = served
    report = report_pregnancy(session, cast.dr.user, p, PregnancyReportInput(reported_on=today()))
    assert get_report(session, cast.dr.user, report.id) is report
    for someone_else in (cast.rph.user, p.user, f.prescriber(session).user):
        with pytest.raises(NotFound):
            get_report(session, someone_else, report.id)
    with pytest.raises(PermissionDenied):
        pregnancy_registry(session, cast.dr.user, RegistryQuery())
    assert pregnancy_registry(session, cast.staff, RegistryQuery()) == ([report], None)


def test_staff_lift_with_a_reason_and_the_patient_may_go_on(session, cast, served):
    p, _ = served
    report = report_pregnancy(session, p.user, p, parse(PregnancyReportInput, reported_on=today()))
    lift_pregnancy_block(session, cast.staff, report,
            parse(LiftInput, reason="Documented false report"))
    stored = session.get(PregnancyReport, report.id)
    assert stored.lift_reason == "Documented false report"
    assert stored.lifted_by_id == cast.staff.id
    assert stored.outcome == "not_pregnant"
    outcome = f.authorize(session, cast.rph, p)
    assert outcome.eligible, outcome.reasons


def test_lift_without_a_reason_keeps_the_block(session, cast, served):
    p, _ = served
    report = report_pregnancy(session, p.user, p, parse(PregnancyReportInput, reported_on=today()))
    with pytest.raises(ValidationError):
        lift_pregnancy_block(session, cast.staff, report, parse(LiftInput, reason=""))
    assert session.get(PregnancyReport, report.id).lifted_at is None
    assert "PREGNANCY_REPORTED" in status(session, p).codes


def test_two_reports_need_two_lifts(session, cast, served):
    p, _ = served
    first = report_pregnancy(session, p.user, p, parse(PregnancyReportInput, reported_on=today()))
    report_pregnancy(session, cast.dr.user, p, parse(PregnancyReportInput, reported_on=today()))
    lift_pregnancy_block(session, cast.staff, first,
            parse(LiftInput, reason="Documented false report"))
    assert "PREGNANCY_REPORTED" in status(session, p).codes


# --- activation -----------------------------------------------------------------------


def _register(session, dr):
    return register_patient(session, dr.user, PatientRegistration(
        first_name="Ann", last_name="Act", date_of_birth="2000-01-31",
        email="ann.act@example.org", risk_category="cannot_get_pregnant",
        consent_signed_on=today()))


@pytest.mark.parametrize(("after", "ok"), [(30, True), (31, False)])
def test_activation_code_valid_30_days_expired_on_day_31(session, cast, clock, after, ok):
    p, code, expires = _register(session, cast.dr)
    assert expires == today() + timedelta(days=30)
    clock.forward(days=after)
    activate = lambda: activate_patient(  # noqa: E731
        session, PatientActivation(registry_id=p.registry_id, date_of_birth="2000-01-31",
                                   activation_code=code.lower(), password=f.PASSWORD))
    if ok:
        activate()
        assert (p.status, p.activated_on) == ("active", today())
        assert p.user.role == "patient"
    else:
        with pytest.raises(ValidationError) as exc:
            activate()
        assert "expired" in exc.value.errors["activation_code"][0]
        assert p.status == "pending_activation"


def test_activation_code_is_one_time_and_reissue_invalidates_the_old(session, cast):
    from registry.patients.operations import reissue_activation_code

    p, code, _ = _register(session, cast.dr)
    new_code, _ = reissue_activation_code(session, cast.dr.user, p)
    with pytest.raises(ValidationError):
        activate_patient(session, PatientActivation(
            registry_id=p.registry_id, date_of_birth=p.date_of_birth,
            activation_code=code, password=f.PASSWORD))
    activate_patient(session, PatientActivation(
            registry_id=p.registry_id, date_of_birth=p.date_of_birth,
            activation_code=new_code, password=f.PASSWORD))
    with pytest.raises(ValidationError):
        activate_patient(session, PatientActivation(
            registry_id=p.registry_id, date_of_birth=p.date_of_birth,
            activation_code=new_code, password=f.PASSWORD))


def test_not_yet_activated_patient_is_not_active(session, cast, clock):
    p = f.patient(session, cast.dr, can_get_pregnant=False, activate=False)
    f.counsel(session, p)
    # Not activated: also has not answered the questions (done once, at activation).
    assert codes(f.authorize(session, cast.rph, p)) == ["PATIENT_NOT_ACTIVE",
                                                        "COMPREHENSION_NOT_PASSED"]


@pytest.mark.parametrize(("years_days", "field"), [((12, 1), "date_of_birth"),
                                                   ((12, 0), None),
                                                   ((18, 1), "guardian_name"),
                                                   ((18, 0), None)])
def test_registration_ages_11_12_17_18(session, cast, years_days, field):
    years, extra = years_days
    dob = today().replace(year=today().year - years) + timedelta(days=extra)
    data = {"first_name": "Y", "last_name": "Oung", "date_of_birth": dob,
            "email": "young@example.org", "risk_category": "cannot_get_pregnant",
            "consent_signed_on": today()}
    if years == 12:
        data.update(guardian_name="Parent", guardian_signed_on=today())
    if field is None:
        p, _, _ = register_patient(session, cast.dr.user, PatientRegistration(**data))
        assert p.date_of_birth == dob
    else:
        with pytest.raises(ValidationError) as exc:
            register_patient(session, cast.dr.user, PatientRegistration(**data))
        assert field in exc.value.errors


# --- comprehension questions ------------------------------------------------------------


def _in_cycle(session, cast, clock):
    p = f.patient(session, cast.dr)
    f.enter_test(session, p)
    clock.forward(days=30)
    f.enter_test(session, p)
    f.counsel(session, p)
    return p


def test_question_bank_has_at_least_15_questions_loaded(session):
    data = bank_data()
    assert len(data["questions"]) >= 15
    stored = session.execute(select(ComprehensionQuestion).where(
        ComprehensionQuestion.bank_version == data["version"])).scalars().all()
    assert len(stored) == len(data["questions"])
    assert {q.topic for q in stored} >= {"risks", "contraception", "program"}
    for q in stored:
        assert q.correct_choice in {str(c["id"]) for c in q.choices}


def test_seven_questions_asked_the_same_set_on_retake(session, cast, clock):
    p = _in_cycle(session, cast, clock)
    _, first = comprehension_questions(session, p.user)
    _, again = comprehension_questions(session, p.user)
    assert len(first) == 7
    assert len({q.id for q in first}) == 7
    assert [q.id for q in again] == [q.id for q in first]


def test_passing_needs_every_answer_correct(session, cast, clock):
    p = _in_cycle(session, cast, clock)
    _, questions = comprehension_questions(session, p.user)
    correct = {str(q.id): q.correct_choice for q in questions}
    attempts = []
    for q in questions:  # six right and one wrong, whichever one it is, fails
        wrong = next(str(c["id"]) for c in q.choices if str(c["id"]) != q.correct_choice)
        attempt = take_comprehension(session, p.user, ComprehensionAnswers(
            answers={**correct, str(q.id): wrong}))
        assert (attempt.passed, attempt.incorrect) == (False, [q.id])
        attempts.append(attempt)
    assert "COMPREHENSION_NOT_PASSED" in status(session, p).codes
    # Retake with the same questions, all correct.
    retake = f.pass_questions(session, p)
    assert retake.passed
    assert retake.question_ids == attempts[0].question_ids
    assert "COMPREHENSION_NOT_PASSED" not in status(session, p).codes
    assert session.execute(select(ComprehensionAttempt.passed).where(
        ComprehensionAttempt.patient_id == p.id).order_by(ComprehensionAttempt.id)
    ).scalars().all() == [False] * 7 + [True]


def test_a_new_cycle_asks_again(session, cast, clock):
    p = _in_cycle(session, cast, clock)
    f.pass_questions(session, p)
    f.attest(session, p)
    f.dispense(session, cast.rph, f.authorize(session, cast.rph, p))
    clock.forward(days=25)
    f.enter_test(session, p)
    f.counsel(session, p)
    assert "COMPREHENSION_NOT_PASSED" in status(session, p).codes


def test_patient_who_cannot_get_pregnant_answers_once(session, cast, clock):
    p = f.patient(session, cast.dr, can_get_pregnant=False)
    f.pass_questions(session, p)
    f.counsel(session, p)
    assert f.authorize(session, cast.rph, p).eligible


def test_missing_answer_is_named(session, cast, clock):
    p = _in_cycle(session, cast, clock)
    _, questions = comprehension_questions(session, p.user)
    answers = {str(q.id): q.correct_choice for q in questions[1:]}
    with pytest.raises(ValidationError) as exc:
        take_comprehension(session, p.user, ComprehensionAnswers(answers=answers))
    assert list(exc.value.errors) == [f"answers.{questions[0].id}"]


# --- contraception the patient enters ---------------------------------------------------


def test_contraception_mismatch_then_matching_re_entry(session, cast, clock):
    p = _in_cycle(session, cast, clock)
    f.pass_questions(session, p)
    entry = attest_contraception(session, p.user, Contraception(
        methods=["hormonal_patch", "male_latex_condom"]))
    assert entry.matches_prescriber is False
    outcome = f.authorize(session, cast.rph, p)
    assert codes(outcome) == ["CONTRACEPTION_MISMATCH"]
    entry = attest_contraception(session, p.user, Contraception(
        methods=["male_latex_condom", "iud"]))  # the prescriber's, in another order
    assert entry.matches_prescriber is True
    assert f.authorize(session, cast.rph, p).eligible


def test_abstinence_must_match_too(session, cast, clock):
    p = f.patient(session, cast.dr)
    f.enter_test(session, p)
    clock.forward(days=30)
    f.enter_test(session, p)
    f.counsel(session, p, abstinence=True)
    f.pass_questions(session, p)
    assert attest_contraception(session, p.user, Contraception(abstinence=True)
                                ).matches_prescriber
    assert f.authorize(session, cast.rph, p).eligible


def test_only_the_patient_enters_their_contraception(session, cast, clock):
    _in_cycle(session, cast, clock)
    with pytest.raises(PermissionDenied):
        attest_contraception(session, cast.dr.user, Contraception(methods=f.METHODS))
    with pytest.raises(PermissionDenied):
        take_comprehension(session, cast.dr.user, ComprehensionAnswers(answers={}))
