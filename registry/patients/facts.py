"""Load the snapshot of a patient the rules decide on (one place, used by every caller)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

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
    return load_facts_of(session, [patient])[patient.id]


def load_facts_of(session: Session, patients: Sequence[Patient]) -> dict[int, PatientFacts]:
    """The facts of many patients (a page of a list) in one statement per table, whatever
    their number; plain column reads, so always what the database holds now. The patients'
    own columns come from ``patients``, which the caller read."""
    if not patients:
        return {}
    ids = [p.id for p in patients]
    course = {p.id: p.course_number for p in patients}

    def in_course(pid: int, course_number: int | None) -> bool:
        return course_number == course[pid]

    def rows(statement: Any) -> dict[int, list[Any]]:
        out: dict[int, list[Any]] = defaultdict(list)
        for row in session.execute(statement):
            out[row.pid].append(row)
        return out

    prescribers = {row.id: row for row in session.execute(
        select(Prescriber.id, Prescriber.npi, Prescriber.attested_on,
               Prescriber.suspended_until, Prescriber.deactivated_on)
        .where(Prescriber.id.in_({p.prescriber_id for p in patients})))}
    reported = set(session.execute(
        select(PregnancyReport.patient_id).where(
            PregnancyReport.patient_id.in_(ids), PregnancyReport.lifted_at.is_(None))
    ).scalars())
    tests = rows(
        select(PregnancyTest.patient_id.label("pid"), PregnancyTest.course_number,
               PregnancyTest.id, PregnancyTest.specimen_collected_on, PregnancyTest.result,
               PregnancyTest.setting, PregnancyTest.purpose)
        .where(PregnancyTest.patient_id.in_(ids))
        .order_by(PregnancyTest.specimen_collected_on, PregnancyTest.id))
    cycles = rows(
        select(Cycle.patient_id.label("pid"), Cycle.course_number, Cycle.id, Cycle.number,
               Cycle.kind, Cycle.opened_on, Cycle.closes_on, Cycle.pregnancy_test_id)
        .where(Cycle.patient_id.in_(ids)).order_by(Cycle.number))
    counselings = rows(
        select(Counseling.patient_id.label("pid"), Counseling.course_number, Counseling.id,
               Counseling.counseled_on, Counseling.cycle_id, Counseling.methods,
               Counseling.abstinence)
        .where(Counseling.patient_id.in_(ids)).order_by(Counseling.id))
    passed = rows(
        select(ComprehensionAttempt.patient_id.label("pid"), ComprehensionAttempt.cycle_id)
        .where(ComprehensionAttempt.patient_id.in_(ids), ComprehensionAttempt.passed.is_(True)))
    entries = rows(
        select(ContraceptionEntry.patient_id.label("pid"), ContraceptionEntry.cycle_id,
               ContraceptionEntry.methods, ContraceptionEntry.abstinence,
               ContraceptionEntry.entered_on)
        .where(ContraceptionEntry.patient_id.in_(ids)).order_by(ContraceptionEntry.id))
    auths = rows(
        select(Authorization.patient_id.label("pid"), Authorization.id, Authorization.cycle_id,
               Authorization.status, Authorization.issued_on,
               Authorization.do_not_dispense_after)
        .where(Authorization.patient_id.in_(ids)).order_by(Authorization.id))
    dispenses = rows(
        select(Dispense.patient_id.label("pid"), Cycle.course_number, Dispense.dispensed_on,
               Dispense.days_supply, Cycle.kind)
        .join(Authorization, Authorization.id == Dispense.authorization_id)
        .join(Cycle, Cycle.id == Authorization.cycle_id)
        .where(Dispense.patient_id.in_(ids), Authorization.status == "dispensed"))

    facts: dict[int, PatientFacts] = {}
    for patient in patients:
        pid = patient.id
        prescriber = prescribers[patient.prescriber_id]
        its_cycles = [c for c in cycles[pid] if in_course(pid, c.course_number)]
        cycle_ids = {c.id for c in its_cycles}
        counseling_by_cycle: dict[int, CounselingFact] = {}
        counseling_facts = []
        for c in counselings[pid]:
            if not in_course(pid, c.course_number):
                continue
            fact = CounselingFact(c.id, c.counseled_on, c.cycle_id, frozenset(c.methods or ()),
                                  c.abstinence)
            counseling_facts.append(fact)
            if c.cycle_id is not None:
                counseling_by_cycle[c.cycle_id] = fact  # the latest confirmation counts
        passed_cycles = {a.cycle_id for a in passed[pid] if a.cycle_id is not None}
        contraception_by_cycle: dict[int, ContraceptionFact] = {}
        for e in entries[pid]:
            if e.cycle_id in cycle_ids:
                contraception_by_cycle[e.cycle_id] = ContraceptionFact(
                    frozenset(e.methods or ()), e.abstinence, e.entered_on)
        facts[pid] = PatientFacts(
            registry_id=patient.registry_id,
            date_of_birth=patient.date_of_birth,
            risk_category=patient.risk_category,
            status=patient.status,
            prescriber_npi=prescriber.npi,
            prescriber=StakeholderFacts(
                prescriber.attested_on, prescriber.suspended_until, prescriber.deactivated_on
            ),
            pregnancy_reported=pid in reported,
            home_tests_allowed=patient.home_tests_allowed,
            contraception_start_on=patient.contraception_start_on,
            course_started_on=patient.course_started_on,
            last_dose_on=patient.last_dose_on,
            tests=tuple(
                TestFact(t.id, t.specimen_collected_on, t.result, t.setting, t.purpose)
                for t in tests[pid] if in_course(pid, t.course_number)
            ),
            cycles=tuple(
                CycleFact(
                    c.id, c.number, c.kind, c.opened_on, c.closes_on, c.pregnancy_test_id,
                    counseling_by_cycle.get(c.id), c.id in passed_cycles,
                    contraception_by_cycle.get(c.id),
                )
                for c in its_cycles
            ),
            counselings=tuple(counseling_facts),
            authorizations=tuple(
                AuthorizationFact(a.id, a.cycle_id, a.status, a.issued_on,
                                  a.do_not_dispense_after)
                for a in auths[pid] if a.cycle_id in cycle_ids or a.status == "authorized"
            ),
            dispenses=tuple(
                DispenseFact(d.dispensed_on, d.days_supply, d.kind)
                for d in dispenses[pid] if in_course(pid, d.course_number)
            ),
            comprehension_passed_ever=bool(passed[pid]),
        )
    return facts
