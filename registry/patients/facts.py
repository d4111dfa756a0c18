"""Load the snapshot of a patient the rules decide on (one place, used by every caller)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from registry.authorizations.models import Authorization, Dispense
from registry.cycles.models import ComprehensionAttempt, ContraceptionEntry, Counseling, Cycle
from registry.patients.models import Patient
from registry.pregnancies.models import PregnancyReport, PregnancyTest
from registry.prescribers.models import Prescriber
from registry.rules import (
    AuthorizationFact,
    ContraceptionFact,
    CounselingFact,
    CycleFact,
    DispenseFact,
    PatientFacts,
    StakeholderFacts,
    TestFact,
)


def has_open_pregnancy_report(session: Session, patient_id: int) -> bool:
    return session.execute(
        select(PregnancyReport.id).where(
            PregnancyReport.patient_id == patient_id, PregnancyReport.lifted_at.is_(None)
        ).limit(1)
    ).first() is not None


def load_facts(session: Session, patient: Patient) -> PatientFacts:
    """Every fact is read from the database now, even rows the session already holds (a
    caller that locked the patient decides on what was committed before its lock)."""
    course = patient.course_number
    prescriber = session.get(Prescriber, patient.prescriber_id, populate_existing=True)
    assert prescriber is not None
    tests = session.execute(
        select(PregnancyTest).where(
            PregnancyTest.patient_id == patient.id, PregnancyTest.course_number == course
        ).order_by(PregnancyTest.specimen_collected_on, PregnancyTest.id)
        .execution_options(populate_existing=True)
    ).scalars().all()
    cycles = session.execute(
        select(Cycle).where(Cycle.patient_id == patient.id, Cycle.course_number == course)
        .order_by(Cycle.number).execution_options(populate_existing=True)
    ).scalars().all()
    counselings = session.execute(
        select(Counseling).where(
            Counseling.patient_id == patient.id, Counseling.course_number == course
        ).order_by(Counseling.id).execution_options(populate_existing=True)
    ).scalars().all()
    attempts = session.execute(
        select(ComprehensionAttempt.cycle_id, ComprehensionAttempt.course_number).where(
            ComprehensionAttempt.patient_id == patient.id, ComprehensionAttempt.passed.is_(True)
        )
    ).all()
    entries = session.execute(
        select(ContraceptionEntry).where(ContraceptionEntry.patient_id == patient.id)
        .order_by(ContraceptionEntry.id).execution_options(populate_existing=True)
    ).scalars().all()
    cycle_ids = {c.id for c in cycles}
    auths = session.execute(
        select(Authorization).where(Authorization.patient_id == patient.id)
        .order_by(Authorization.id).execution_options(populate_existing=True)
    ).scalars().all()
    dispense_rows = session.execute(
        select(Dispense, Cycle.kind)
        .join(Authorization, Authorization.id == Dispense.authorization_id)
        .join(Cycle, Cycle.id == Authorization.cycle_id)
        .where(
            Dispense.patient_id == patient.id,
            Authorization.status == "dispensed",
            Cycle.course_number == course,
        ).execution_options(populate_existing=True)
    ).all()

    counseling_by_cycle: dict[int, CounselingFact] = {}
    counseling_facts = []
    for c in counselings:
        fact = CounselingFact(c.id, c.counseled_on, c.cycle_id, frozenset(c.methods or ()),
                              c.abstinence)
        counseling_facts.append(fact)
        if c.cycle_id is not None:
            counseling_by_cycle[c.cycle_id] = fact  # the latest confirmation counts
    passed_cycles = {a.cycle_id for a in attempts if a.cycle_id is not None}
    contraception_by_cycle: dict[int, ContraceptionFact] = {}
    for e in entries:
        if e.cycle_id in cycle_ids:
            contraception_by_cycle[e.cycle_id] = ContraceptionFact(
                frozenset(e.methods or ()), e.abstinence, e.entered_on
            )
    return PatientFacts(
        registry_id=patient.registry_id,
        date_of_birth=patient.date_of_birth,
        risk_category=patient.risk_category,
        status=patient.status,
        prescriber_npi=prescriber.npi,
        prescriber=StakeholderFacts(
            prescriber.attested_on, prescriber.suspended_until, prescriber.deactivated_on
        ),
        pregnancy_reported=has_open_pregnancy_report(session, patient.id),
        home_tests_allowed=patient.home_tests_allowed,
        contraception_start_on=patient.contraception_start_on,
        course_started_on=patient.course_started_on,
        last_dose_on=patient.last_dose_on,
        tests=tuple(
            TestFact(t.id, t.specimen_collected_on, t.result, t.setting, t.purpose) for t in tests
        ),
        cycles=tuple(
            CycleFact(
                c.id, c.number, c.kind, c.opened_on, c.closes_on, c.pregnancy_test_id,
                counseling_by_cycle.get(c.id), c.id in passed_cycles,
                contraception_by_cycle.get(c.id),
            )
            for c in cycles
        ),
        counselings=tuple(counseling_facts),
        authorizations=tuple(
            AuthorizationFact(a.id, a.cycle_id, a.status, a.issued_on, a.do_not_dispense_after)
            for a in auths if a.cycle_id in cycle_ids or a.status == "authorized"
        ),
        dispenses=tuple(
            DispenseFact(d.dispensed_on, d.days_supply, kind)
            for d, kind in dispense_rows
        ),
        comprehension_passed_ever=bool(attempts),
    )
