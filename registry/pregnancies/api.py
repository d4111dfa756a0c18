"""Pregnancy reports and the pregnancy registry through the API (rules §8)."""

from __future__ import annotations

from registry import db
from registry.accounts.models import User
from registry.api.contract import endpoint
from registry.errors import NotFound
from registry.patients.queries import by_registry_id
from registry.policy import Permission as P
from registry.pregnancies.operations import (
    get_report,
    lift_pregnancy_block,
    pregnancy_registry,
    record_follow_up,
    report_pregnancy,
)
from registry.pregnancies.schemas import (
    Created,
    FollowUpInput,
    Lifted,
    LiftInput,
    PregnancyReportInput,
    PregnancyReportOut,
    RegistryPage,
    RegistryQuery,
)


@endpoint("POST", "/patients/{registry_id}/pregnancy-reports",
          permission=P.PREGNANCY_REPORTS_CREATE, body=PregnancyReportInput,
          response=PregnancyReportOut, status=201, tag="Pregnancies",
          summary="Report a pregnancy (every authorization is refused until staff lift it)",
          description="The prescriber of record, their designees, the patient, program staff, "
          "or a pharmacist of a pharmacy that has served the patient. The patient's open "
          "authorization is cancelled at once.")
def create_pregnancy_report(user: User, registry_id: str,
                            body: PregnancyReportInput) -> PregnancyReportOut:
    session = db.session()
    patient = by_registry_id(session, registry_id)
    if patient is None:
        raise NotFound("No such patient.")
    # Who may report on this record (a pharmacist who served them, too): the operation.
    return PregnancyReportOut.of(report_pregnancy(session, user, patient, body))


@endpoint("GET", "/pregnancy-reports", permission=P.PREGNANCY_REGISTRY_READ,
          query=RegistryQuery, response=RegistryPage, tag="Pregnancies",
          summary="The pregnancy registry, newest first")
def list_pregnancy_reports(user: User, query: RegistryQuery) -> RegistryPage:
    reports, cursor = pregnancy_registry(db.session(), user, query)
    return RegistryPage(items=[PregnancyReportOut.of(r) for r in reports], next_cursor=cursor)


@endpoint("GET", "/pregnancy-reports/{report_id}", permission=P.PREGNANCY_REPORTS_READ,
          response=PregnancyReportOut, tag="Pregnancies",
          summary="A pregnancy report with its follow-ups",
          description="Program staff see every report; whoever reported one sees that one.")
def get_pregnancy_report(user: User, report_id: int) -> PregnancyReportOut:
    return PregnancyReportOut.of(get_report(db.session(), user, report_id))


@endpoint("POST", "/pregnancy-reports/{report_id}/follow-ups",
          permission=P.PREGNANCY_FOLLOW_UPS_RECORD, body=FollowUpInput, response=Created,
          status=201, tag="Pregnancies", summary="Record a follow-up (and the outcome)")
def create_follow_up(user: User, report_id: int, body: FollowUpInput) -> Created:
    session = db.session()
    follow = record_follow_up(session, user, get_report(session, user, report_id), body)
    return Created(id=follow.id)


@endpoint("POST", "/pregnancy-reports/{report_id}/lift", permission=P.PREGNANCY_BLOCKS_LIFT,
          body=LiftInput, response=Lifted, tag="Pregnancies",
          summary="Lift the block after a documented false report",
          description="The patient can be authorized again as soon as every other check "
          "passes.")
def lift(user: User, report_id: int, body: LiftInput) -> Lifted:
    session = db.session()
    report = lift_pregnancy_block(session, user, get_report(session, user, report_id), body)
    assert report.lifted_at is not None
    return Lifted(lifted_at=report.lifted_at)
