"""Pregnancy tests and pregnancy reports (rules §4, §8)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload, selectinload

from registry import clock, locks
from registry.accounts.models import Role, User
from registry.audit.operations import record, snapshot
from registry.authorizations.models import Authorization
from registry.cycles.models import Cycle, CycleKind
from registry.cycles.operations import lock_patient, open_cycle
from registry.cycles.schemas import PregnancyTestEntry
from registry.errors import Errors, NotFound, ValidationError
from registry.notifications import alerts
from registry.params import current as current_params
from registry.patients.facts import load_facts
from registry.patients.models import Patient, PatientStatus
from registry.patients.operations import cancel_open_authorizations
from registry.permissions import can_view_patient, patient_for_care, pharmacist_for_user
from registry.policy import Permission, holds, require
from registry.pregnancies.models import (
    PregnancyFollowUp,
    PregnancyOutcome,
    PregnancyReport,
    PregnancyTest,
    PregnancyTestResult,
)
from registry.pregnancies.schemas import (
    FollowUpInput,
    LiftInput,
    PregnancyReportInput,
    RegistryQuery,
    ReportState,
)
from registry.rules import classify_test, ruleset_for, window_close


def record_pregnancy_test(
    session: Session, actor: User, patient: Patient, data: PregnancyTestEntry,
) -> tuple[PregnancyTest, Cycle | None]:
    """Enter a test; its purpose is derived. A negative test that qualifies opens a cycle;
    a positive one blocks the patient at once, as a reported pregnancy does."""
    patient_for_care(session, actor, patient)
    require(actor.role, Permission.PREGNANCY_TESTS_RECORD)
    lock_patient(session, patient)
    # A positive test cancels the open RMA after audit entries: lock it first (registry/locks.py).
    locks.lock_open_authorizations(session, patient_id=patient.id)
    specimen_on, res, where = data.specimen_collected_on, data.result.value, data.setting.value
    if patient.status in (PatientStatus.DEACTIVATED, PatientStatus.TREATMENT_COMPLETE):
        raise ValidationError(registry_id=f"The patient is {patient.status.replace('_', ' ')}.")
    today = clock.today()
    params = current_params()
    facts = load_facts(session, patient)
    verdict = classify_test(facts, specimen_on, res, where, today, params)
    if verdict.errors:
        raise ValidationError(verdict.errors)
    test = PregnancyTest(
        patient_id=patient.id, course_number=patient.course_number,
        specimen_collected_on=specimen_on, result=res, setting=where, purpose=verdict.purpose,
        entered_by_id=actor.id,
    )
    session.add(test)
    session.flush()
    record(session, actor, "pregnancy_test:record", "patient", patient.id, after=snapshot(test))
    cycle = None
    if res == PregnancyTestResult.POSITIVE:
        _open_report(session, actor, patient, reported_on=today, test=test,
                     notes="Positive pregnancy test entered.")
    elif verdict.opens_cycle:
        cycle = open_cycle(
            session, actor, patient, kind=CycleKind.TEST_WINDOW, opened_on=specimen_on,
            closes_on=window_close(specimen_on, params.window_days),
            ruleset=ruleset_for(today, params), test_id=test.id,
        )
    elif verdict.purpose == "post_treatment" and patient.status == PatientStatus.TREATMENT_ENDED:
        before = snapshot(patient, "status", "treatment_completed_on")
        patient.status = PatientStatus.TREATMENT_COMPLETE
        patient.treatment_completed_on = today
        session.flush()
        record(session, actor, "patient:complete_treatment", "patient", patient.id,
               before=before, after=snapshot(patient, "status", "treatment_completed_on"))
    return test, cycle


def _open_report(session: Session, actor: User, patient: Patient, *, reported_on: object,
                 test: PregnancyTest | None = None, notes: str | None = None) -> PregnancyReport:
    report = PregnancyReport(
        patient_id=patient.id, reported_on=reported_on, reported_by_id=actor.id,
        reporter_role=actor.role, pregnancy_test_id=test.id if test else None, notes=notes,
        outcome=PregnancyOutcome.ONGOING.value,
    )
    session.add(report)
    session.flush()
    record(session, actor, "pregnancy:report", "patient", patient.id, after=snapshot(report))
    alerts.pregnancy_reported(session, actor, patient, report.id, positive_test=test is not None)
    cancel_open_authorizations(session, actor, patient, "pregnancy reported")
    return report


def _may_report(session: Session, actor: User, patient: Patient) -> bool:
    """Prescriber of record, their designees, the patient, staff, or a pharmacist whose
    pharmacy has served the patient (rules §8)."""
    if actor.role == Role.PHARMACIST:
        me = pharmacist_for_user(session, actor)
        return me is not None and session.execute(
            select(Authorization.id).where(
                Authorization.patient_id == patient.id,
                Authorization.pharmacy_id == me.pharmacy_id,
            ).limit(1)
        ).first() is not None
    return can_view_patient(session, actor, patient)


def report_pregnancy(session: Session, actor: User, patient: Patient,
                     data: PregnancyReportInput) -> PregnancyReport:
    require(actor.role, Permission.PREGNANCY_REPORTS_CREATE)
    if not _may_report(session, actor, patient):
        raise NotFound("No such patient.")
    lock_patient(session, patient)
    locks.lock_open_authorizations(session, patient_id=patient.id)  # cancelled after the audit
    if data.reported_on > clock.today():
        raise ValidationError(reported_on="The report date cannot be in the future.")
    return _open_report(session, actor, patient, reported_on=data.reported_on, notes=data.notes)


def lift_pregnancy_block(session: Session, actor: User, report: PregnancyReport,
                         data: LiftInput) -> PregnancyReport:
    """Only program staff lift a block, after a documented false report."""
    require(actor.role, Permission.PREGNANCY_BLOCKS_LIFT)
    # Two staff lifting at once: the second waits here, then sees the first's lift.
    locks.lock_patient(session, report.patient_id)
    session.refresh(report)
    if report.lifted_at is not None:
        raise ValidationError(reason="This report was already lifted.")
    before = snapshot(report, "lifted_at", "lift_reason", "outcome")
    report.lifted_at = clock.now()
    report.lifted_by_id = actor.id
    report.lift_reason = data.reason
    report.outcome = PregnancyOutcome.NOT_PREGNANT
    session.flush()
    record(session, actor, "pregnancy:lift", "pregnancy_report", report.id, before=before,
           after=snapshot(report, "lifted_at", "lift_reason", "outcome"))
    return report


def record_follow_up(session: Session, actor: User, report: PregnancyReport,
                     data: FollowUpInput) -> PregnancyFollowUp:
    require(actor.role, Permission.PREGNANCY_FOLLOW_UPS_RECORD)
    errors = Errors()
    today = clock.today()
    if data.noted_on > today:
        errors.add("noted_on", "Cannot be in the future.")
    if data.outcome_on and data.outcome_on > today:
        errors.add("outcome_on", "Cannot be in the future.")
    if data.outcome_on and data.outcome is None:
        errors.add("outcome", "Give the outcome that happened on that date.")
    errors.raise_if_any()
    before = snapshot(report, "outcome", "outcome_on")
    follow = PregnancyFollowUp(report_id=report.id, recorded_on=data.noted_on,
                               recorded_by_id=actor.id, note=data.note)
    session.add(follow)
    if data.outcome is not None:
        report.outcome = data.outcome
        report.outcome_on = data.outcome_on
    session.flush()
    record(session, actor, "pregnancy:follow_up", "pregnancy_report", report.id, before=before,
           after={**snapshot(report, "outcome", "outcome_on"), "note": data.note,
                  "noted_on": data.noted_on.isoformat()})
    return follow


def get_report(session: Session, actor: User, report_id: int) -> PregnancyReport:
    """Program staff see every report; whoever reported one sees that one (rules §8)."""
    require(actor.role, Permission.PREGNANCY_REPORTS_READ)
    report = session.get(PregnancyReport, report_id)
    if report is None or not (holds(actor.role, Permission.PREGNANCY_REGISTRY_READ)
                              or report.reported_by_id == actor.id):
        raise NotFound("No such pregnancy report.")
    return report


def pregnancy_registry(session: Session, actor: User,
                       query: RegistryQuery) -> tuple[list[PregnancyReport], str | None]:
    """The pregnancy registry, newest first, a page at a time (keyset on the id)."""
    require(actor.role, Permission.PREGNANCY_REGISTRY_READ)
    stmt = (select(PregnancyReport)
            .options(selectinload(PregnancyReport.follow_ups),
                     joinedload(PregnancyReport.patient))
            .order_by(PregnancyReport.id.desc()).limit(query.limit + 1))
    if query.status == ReportState.OPEN:
        stmt = stmt.where(PregnancyReport.lifted_at.is_(None))
    elif query.status == ReportState.LIFTED:
        stmt = stmt.where(PregnancyReport.lifted_at.is_not(None))
    if query.cursor is not None:
        stmt = stmt.where(PregnancyReport.id < int(query.cursor))
    rows = list(session.execute(stmt).unique().scalars())
    more = len(rows) > query.limit
    rows = rows[:query.limit]
    return rows, (str(rows[-1].id) if more else None)
