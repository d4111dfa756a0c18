"""The facts a decision is made on: one statement, the same facts as reading each table
with the ORM, and read from the database even when the session holds older copies."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import event, select, update
from sqlalchemy.orm import Session

from registry import clock as registry_clock
from registry.authorizations.models import Authorization, Dispense
from registry.authorizations.operations import check_authorization
from registry.authorizations.schemas import AuthorizationRequest
from registry.cycles.models import ComprehensionAttempt, ContraceptionEntry, Counseling, Cycle
from registry.patients import queries
from registry.patients.facts import load_by_registry_id, load_facts, load_facts_of
from registry.patients.models import Patient
from registry.pregnancies.models import PregnancyReport, PregnancyTest
from registry.pregnancies.operations import report_pregnancy
from registry.pregnancies.schemas import PregnancyReportInput
from registry.prescribers.models import Prescriber
from registry.rules import (
    AuthorizationFact,
    ContraceptionFact,
    CounselingFact,
    CycleFact,
    DispenseFact,
    PatientFacts,
    StakeholderFacts,
)
from registry.rules import TestFact as PregnancyTestFact
from tests import factories as f


@contextmanager
def statements(session: Session) -> Iterator[list[str]]:
    """The SQL statements the session's connection runs inside the block."""
    seen: list[str] = []
    engine = session.get_bind().engine

    def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        seen.append(statement)

    session.flush()
    event.listen(engine, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", count)


def facts_table_by_table(session: Session, patient: Patient) -> PatientFacts:
    """The facts read the plain way, one ORM query per table (what load_facts replaced)."""
    course = patient.course_number
    prescriber = session.get(Prescriber, patient.prescriber_id, populate_existing=True)
    assert prescriber is not None
    tests = session.execute(select(PregnancyTest).where(
        PregnancyTest.patient_id == patient.id, PregnancyTest.course_number == course)
        .order_by(PregnancyTest.specimen_collected_on, PregnancyTest.id)).scalars().all()
    cycles = session.execute(select(Cycle).where(
        Cycle.patient_id == patient.id, Cycle.course_number == course)
        .order_by(Cycle.number)).scalars().all()
    counselings = session.execute(select(Counseling).where(
        Counseling.patient_id == patient.id, Counseling.course_number == course)
        .order_by(Counseling.id)).scalars().all()
    attempts = session.execute(select(ComprehensionAttempt.cycle_id).where(
        ComprehensionAttempt.patient_id == patient.id,
        ComprehensionAttempt.passed.is_(True))).all()
    entries = session.execute(select(ContraceptionEntry).where(
        ContraceptionEntry.patient_id == patient.id).order_by(ContraceptionEntry.id)
    ).scalars().all()
    auths = session.execute(select(Authorization).where(
        Authorization.patient_id == patient.id).order_by(Authorization.id)).scalars().all()
    dispenses = session.execute(
        select(Dispense, Cycle.kind)
        .join(Authorization, Authorization.id == Dispense.authorization_id)
        .join(Cycle, Cycle.id == Authorization.cycle_id)
        .where(Dispense.patient_id == patient.id, Authorization.status == "dispensed",
               Cycle.course_number == course).order_by(Dispense.id)).all()
    open_report = session.execute(select(PregnancyReport.id).where(
        PregnancyReport.patient_id == patient.id, PregnancyReport.lifted_at.is_(None))
    ).first() is not None
    cycle_ids = {c.id for c in cycles}
    by_cycle = {}
    counseling_facts = []
    for c in counselings:
        fact = CounselingFact(c.id, c.counseled_on, c.cycle_id, frozenset(c.methods or ()),
                              c.abstinence)
        counseling_facts.append(fact)
        if c.cycle_id is not None:
            by_cycle[c.cycle_id] = fact
    passed = {a.cycle_id for a in attempts if a.cycle_id is not None}
    contraception = {e.cycle_id: ContraceptionFact(frozenset(e.methods or ()), e.abstinence,
                                                   e.entered_on)
                     for e in entries if e.cycle_id in cycle_ids}
    return PatientFacts(
        registry_id=patient.registry_id, date_of_birth=patient.date_of_birth,
        risk_category=patient.risk_category, status=patient.status,
        prescriber_npi=prescriber.npi,
        prescriber=StakeholderFacts(prescriber.attested_on, prescriber.suspended_until,
                                    prescriber.deactivated_on),
        pregnancy_reported=open_report, home_tests_allowed=patient.home_tests_allowed,
        contraception_start_on=patient.contraception_start_on,
        course_started_on=patient.course_started_on, last_dose_on=patient.last_dose_on,
        tests=tuple(PregnancyTestFact(t.id, t.specimen_collected_on, t.result, t.setting, t.purpose)
                    for t in tests),
        cycles=tuple(CycleFact(c.id, c.number, c.kind, c.opened_on, c.closes_on,
                               c.pregnancy_test_id, by_cycle.get(c.id), c.id in passed,
                               contraception.get(c.id)) for c in cycles),
        counselings=tuple(counseling_facts),
        authorizations=tuple(
            AuthorizationFact(a.id, a.cycle_id, a.status, a.issued_on, a.do_not_dispense_after)
            for a in auths if a.cycle_id in cycle_ids or a.status == "authorized"),
        dispenses=tuple(DispenseFact(d.dispensed_on, d.days_supply, kind)
                        for d, kind in dispenses),
        comprehension_passed_ever=bool(attempts),
    )


def _two_months(session: Session, clock: Any) -> f.Counter:
    """Month one authorized and dispensed, month two counseled and authorized."""
    c = f.Counter(session, clock)
    f.dispense(session, c.pharmacist, f.authorize(session, c.pharmacist, c.patient))
    clock.forward(days=30)
    f.enter_test(session, c.patient)
    f.complete_cycle(session, c.patient)
    assert f.authorize(session, c.pharmacist, c.patient).authorization is not None
    return c


def test_the_facts_of_a_patient_with_history_are_those_of_each_table(session, clock):
    c = _two_months(session, clock)
    session.expire_all()
    facts = load_facts(session, c.patient)
    assert facts == facts_table_by_table(session, c.patient)
    assert len(facts.tests) == 3
    assert [cycle.number for cycle in facts.cycles] == [1, 2]
    assert all(cycle.comprehension_passed and cycle.counseling and cycle.contraception
               for cycle in facts.cycles)
    assert [a.status for a in facts.authorizations] == ["dispensed", "authorized"]
    assert len(facts.dispenses) == 1
    assert facts.dispenses[0].days_supply == 30
    assert facts.prescriber_npi == c.prescriber.npi
    assert facts.pregnancy_reported is False
    assert facts.comprehension_passed_ever is True


def test_the_facts_of_a_page_of_patients_are_each_patients_own(session, clock):
    """A list reads many patients' facts in one statement (load_facts_of, expanding
    parameters); a decision reads one patient's with its own statement (load_facts): the
    same facts for each patient, whoever else is on the page."""
    c = _two_months(session, clock)
    newcomer = f.patient(session, c.prescriber)
    elsewhere = f.patient(session, f.prescriber(session))  # another prescriber's
    patients = [c.patient, newcomer, elsewhere]
    session.expire_all()
    batch = load_facts_of(session, patients)
    assert set(batch) == {p.id for p in patients}
    for p in patients:
        assert batch[p.id] == load_facts(session, p) == facts_table_by_table(session, p)
    assert len(batch[c.patient.id].tests) == 3
    assert batch[newcomer.id].tests == ()
    assert batch[elsewhere.id].prescriber_npi != batch[c.patient.id].prescriber_npi


def test_an_open_pregnancy_report_is_a_fact(session, clock):
    c = _two_months(session, clock)
    report_pregnancy(session, c.prescriber.user, c.patient,
                     PregnancyReportInput(reported_on=registry_clock.today()))
    facts = load_facts(session, c.patient)
    assert facts.pregnancy_reported is True
    assert facts == facts_table_by_table(session, c.patient)
    assert "cancelled" in [a.status for a in facts.authorizations]


def test_a_new_patient_has_no_facts_but_their_own(session, clock):
    clock.to("2026-03-02")
    patient = f.patient(session, f.prescriber(session))
    facts = load_facts(session, patient)
    assert facts == facts_table_by_table(session, patient)
    assert (facts.tests, facts.cycles, facts.counselings, facts.authorizations,
            facts.dispenses) == ((), (), (), (), ())
    assert facts.comprehension_passed_ever is False


def test_facts_come_from_the_database_not_the_session(session, clock):
    """A caller that locked the patient decides on what was committed before its lock, even
    when the session holds copies loaded earlier."""
    c = _two_months(session, clock)
    session.execute(select(Prescriber).where(Prescriber.id == c.prescriber.id)).scalar_one()
    session.execute(update(Prescriber).where(Prescriber.id == c.prescriber.id)
                    .values(suspended_until=registry_clock.today(), attested_on=None)
                    .execution_options(synchronize_session=False))
    session.execute(update(Authorization).where(Authorization.patient_id == c.patient.id,
                                                Authorization.status == "authorized")
                    .values(status="reversed").execution_options(synchronize_session=False))
    assert c.prescriber.attested_on is not None  # the session's copy is the old one
    facts = load_facts(session, c.patient)
    assert facts.prescriber.since is None
    assert facts.prescriber.suspended_until == registry_clock.today()
    assert "authorized" not in [a.status for a in facts.authorizations]


def test_the_facts_of_one_decision_are_one_statement(session, clock):
    c = _two_months(session, clock)
    with statements(session) as seen:
        queries.status(session, c.patient)
    assert len(seen) == 1, seen


def test_an_authorization_check_runs_few_statements(session, clock):
    """Guards the lean path: who asks (refreshed), the pharmacy, which patient, the facts
    (one statement), the audit entry."""
    c = _two_months(session, clock)
    session.expire_all()
    with statements(session) as seen:
        decision = check_authorization(session, c.pharmacist.user, AuthorizationRequest(
            registry_id=c.patient.registry_id, date_of_birth=c.patient.date_of_birth,
            prescriber_npi=c.prescriber.npi, days_supply=30, quantity=60, refills=0))
        session.flush()
    assert not decision.eligible  # the month's authorization is open
    assert len(seen) <= 8, "\n".join(seen)  # 1 of them the facts (9 before)


def _by_registry_id(session: Session, patient: Patient) -> PatientFacts:
    found = load_by_registry_id(session, patient.registry_id)
    assert found is not None
    row, facts = found
    assert (row.id, row.user_id, row.prescriber_id, row.course_number) == (
        patient.id, patient.user_id, patient.prescriber_id, patient.course_number)
    return facts


def test_the_patient_and_their_facts_read_by_registry_id_are_those_of_each_table(
        session, clock):
    """The one-statement lookup of status and checks (the patient's row is a part of the
    same UNION) reads what the table-by-table reading reads, at every stage."""
    clock.to("2026-03-02")
    new = f.patient(session, f.prescriber(session))
    assert _by_registry_id(session, new) == facts_table_by_table(session, new)
    c = _two_months(session, clock)
    session.expire_all()
    assert _by_registry_id(session, c.patient) == facts_table_by_table(session, c.patient)
    report_pregnancy(session, c.prescriber.user, c.patient,
                     PregnancyReportInput(reported_on=registry_clock.today()))
    facts = _by_registry_id(session, c.patient)
    assert facts.pregnancy_reported is True
    assert facts == facts_table_by_table(session, c.patient)
    assert load_by_registry_id(session, "0000000000") is None


def test_a_status_lookup_by_registry_id_is_one_statement(session, clock):
    c = _two_months(session, clock)
    staff = f.staff(session)  # who may see every patient: no lookup of the caller's links
    session.expire_all()
    registry_id, _ = c.patient.registry_id, staff.role  # loaded again before counting
    with statements(session) as seen:
        decision = queries.visible_status(session, staff, registry_id)
    assert len(seen) == 1, seen
    assert decision == queries.status(session, c.patient)
