"""The monthly cycle's endpoints: pregnancy tests and counseling (the prescriber's side), the
comprehension questions and contraception (the patient's own)."""

from __future__ import annotations

from registry import db
from registry.accounts.models import User
from registry.api.contract import endpoint
from registry.cycles.operations import (
    attest_contraception,
    comprehension_questions,
    confirm_counseling,
    take_comprehension,
)
from registry.cycles.schemas import (
    ComprehensionAnswers,
    ComprehensionResultOut,
    Contraception,
    ContraceptionOut,
    CounselingEntry,
    CounselingOut,
    PregnancyTestEntry,
    PregnancyTestOut,
    QuestionsOut,
)
from registry.patients.queries import visible_patient
from registry.policy import Permission as P
from registry.pregnancies.operations import record_pregnancy_test

TAG = "Patients"


@endpoint("POST", "/patients/{registry_id}/pregnancy-tests", permission=P.PREGNANCY_TESTS_RECORD,
          body=PregnancyTestEntry, response=PregnancyTestOut, status=201, tag=TAG,
          errors=(404,), summary="Enter a pregnancy test (its purpose is derived)")
def create_pregnancy_test(user: User, registry_id: str,
                          body: PregnancyTestEntry) -> PregnancyTestOut:
    session = db.session()
    patient = visible_patient(session, user, registry_id)
    return PregnancyTestOut.of(*record_pregnancy_test(session, user, patient, body))


@endpoint("POST", "/patients/{registry_id}/counseling", permission=P.COUNSELING_RECORD,
          body=CounselingEntry, response=CounselingOut, status=201, tag=TAG, errors=(404,),
          summary="Confirm this month's counseling")
def create_counseling(user: User, registry_id: str, body: CounselingEntry) -> CounselingOut:
    session = db.session()
    patient = visible_patient(session, user, registry_id)
    row, cycle = confirm_counseling(session, user, patient, body)
    return CounselingOut(id=row.id, cycle_id=row.cycle_id, counseled_on=row.counseled_on,
                         window_closes_on=cycle.closes_on if cycle else None)


@endpoint("GET", "/me/comprehension", permission=P.COMPREHENSION_TAKE, response=QuestionsOut,
          tag="Me", summary="My comprehension questions (the same set on every retake)",
          errors=(404, 422), description="422 when there are no questions to answer yet "
          "(no open cycle, or counseling not confirmed), saying what must happen first.")
def get_comprehension(user: User) -> QuestionsOut:
    return QuestionsOut.of(*comprehension_questions(db.session(), user))


@endpoint("POST", "/me/comprehension", permission=P.COMPREHENSION_TAKE,
          body=ComprehensionAnswers, response=ComprehensionResultOut, tag="Me",
          summary="Answer my comprehension questions", errors=(404,))
def answer_comprehension(user: User, body: ComprehensionAnswers) -> ComprehensionResultOut:
    return ComprehensionResultOut.of(take_comprehension(db.session(), user, body))


@endpoint("POST", "/me/contraception", permission=P.CONTRACEPTION_ATTEST, body=Contraception,
          response=ContraceptionOut, status=201, tag="Me",
          summary="Enter my contraception for this cycle")
def enter_contraception(user: User, body: Contraception) -> ContraceptionOut:
    entry = attest_contraception(db.session(), user, body)
    return ContraceptionOut(matches_prescriber=entry.matches_prescriber, cycle_id=entry.cycle_id)
