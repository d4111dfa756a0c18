"""Load the snapshot of a patient the rules decide on (one place, used by every caller)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import (
    JSON,
    BindParameter,
    Boolean,
    ColumnElement,
    Date,
    Integer,
    Select,
    String,
    bindparam,
    cast,
    literal_column,
    null,
    select,
    union_all,
)
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
from registry.rules.vocabulary import PatientStatus, RiskCategory


def has_open_pregnancy_report(session: Session, patient_id: int) -> bool:
    return session.execute(
        select(PregnancyReport.id).where(
            PregnancyReport.patient_id == patient_id, PregnancyReport.lifted_at.is_(None)
        ).limit(1)
    ).first() is not None


# One statement for every row the decisions need, for one patient or a page of them: each
# part of the UNION ALL is tagged with what it is and fills the same typed slots (the first
# part's types decode every row, so it names them all). Plain column reads: always what the
# database holds now, never a copy the session loaded before the caller's lock.
_SLOTS: tuple[tuple[str, Any], ...] = (
    ("pid", Integer), ("course", Integer),
    ("id", Integer), ("i1", Integer), ("i2", Integer),
    ("d1", Date), ("d2", Date), ("d3", Date), ("d4", Date),
    ("s1", String), ("s2", String), ("s3", String),
    ("b1", Boolean), ("j1", JSON),
)
(PRESCRIBER, REPORT, TEST, CYCLE, COUNSELING, PASSED, CONTRACEPTION, AUTHORIZATION,
 DISPENSE, PATIENT) = range(10)


def _part(tag: int, **values: Any) -> Select[Any]:
    """The part that comes first in its UNION: every slot labelled and typed."""
    columns: list[ColumnElement[Any]] = [literal_column(str(tag), Integer).label("tag")]
    for name, type_ in _SLOTS:
        value: Any = values.get(name)
        if value is None:
            value = cast(null(), type_)
        elif type_ is String:
            value = cast(value, String)  # statuses may be enum-typed columns
        columns.append(value.label(name))
    return select(*columns)


_NULL: ColumnElement[Any] = literal_column("NULL")


def _later_part(tag: int, **values: Any) -> Select[Any]:
    """A part after the first: the first part names and types every slot, so here an
    empty slot is a bare NULL, and nothing is labelled or cast (a status column is text,
    the first part's type for it). That keeps the statement's text under psycopg's 4 KiB
    limit for caching a statement's conversion (about 0.05 ms a request beyond it)."""
    columns: list[ColumnElement[Any]] = [literal_column(str(tag), Integer)]
    for name, _ in _SLOTS:
        value: Any = values.get(name)
        columns.append(_NULL if value is None else value)
    return select(*columns)


def _facts_statement(ids: Any = None, prescriber_ids: Any = None,
                     *more: Select[Any]) -> Any:
    """Built once (at import): the patients' and prescribers' ids are expanding bound
    parameters (or subqueries), so every call reuses the statement, its cache key and its
    compiled SQL instead of building a nine-part UNION ALL again (most of a decision's CPU
    once). The first part (``more``'s, else the prescriber's) names and types the slots."""
    if ids is None:
        ids = bindparam("ids", expanding=True)
    if prescriber_ids is None:
        prescriber_ids = bindparam("prescriber_ids", expanding=True)
    return union_all(
        *more,
        (_later_part if more else _part)(
            PRESCRIBER, id=Prescriber.id, s1=Prescriber.npi, d1=Prescriber.attested_on,
            d2=Prescriber.suspended_until, d3=Prescriber.deactivated_on)
        .where(Prescriber.id.in_(prescriber_ids)),
        _later_part(REPORT, pid=PregnancyReport.patient_id, id=PregnancyReport.id)
        .where(PregnancyReport.patient_id.in_(ids), PregnancyReport.lifted_at.is_(None)),
        _later_part(TEST, pid=PregnancyTest.patient_id, course=PregnancyTest.course_number,
                    id=PregnancyTest.id, d1=PregnancyTest.specimen_collected_on,
                    s1=PregnancyTest.result, s2=PregnancyTest.setting, s3=PregnancyTest.purpose)
        .where(PregnancyTest.patient_id.in_(ids)),
        _later_part(CYCLE, pid=Cycle.patient_id, course=Cycle.course_number, id=Cycle.id,
                    i1=Cycle.number, i2=Cycle.pregnancy_test_id, s1=Cycle.kind, d1=Cycle.opened_on,
                    d2=Cycle.closes_on)
        .where(Cycle.patient_id.in_(ids)),
        _later_part(COUNSELING, pid=Counseling.patient_id, course=Counseling.course_number,
                    id=Counseling.id, i1=Counseling.cycle_id, d1=Counseling.counseled_on,
                    j1=Counseling.methods, b1=Counseling.abstinence)
        .where(Counseling.patient_id.in_(ids)),
        _later_part(PASSED, pid=ComprehensionAttempt.patient_id, id=ComprehensionAttempt.id,
                    i1=ComprehensionAttempt.cycle_id)
        .where(ComprehensionAttempt.patient_id.in_(ids), ComprehensionAttempt.passed.is_(True)),
        _later_part(CONTRACEPTION, pid=ContraceptionEntry.patient_id, id=ContraceptionEntry.id,
                    i1=ContraceptionEntry.cycle_id, d1=ContraceptionEntry.entered_on,
                    j1=ContraceptionEntry.methods, b1=ContraceptionEntry.abstinence)
        .where(ContraceptionEntry.patient_id.in_(ids)),
        _later_part(AUTHORIZATION, pid=Authorization.patient_id, id=Authorization.id,
                    i1=Authorization.cycle_id, s1=Authorization.status, d1=Authorization.issued_on,
                    d2=Authorization.do_not_dispense_after)
        .where(Authorization.patient_id.in_(ids)),
        _later_part(DISPENSE, pid=Dispense.patient_id, course=Cycle.course_number, id=Dispense.id,
                    i1=Dispense.days_supply, d1=Dispense.dispensed_on, s1=Cycle.kind)
        .select_from(Dispense)
        .join(Authorization, Authorization.id == Dispense.authorization_id)
        .join(Cycle, Cycle.id == Authorization.cycle_id)
        .where(Dispense.patient_id.in_(ids), Authorization.status == "dispensed"),
    )


_FACTS = _facts_statement()
# The same for one patient, with plain parameters: an expanding IN is rendered into the SQL
# again on every execution (about 0.035 ms of an authorization's CPU).
_FACTS_OF_ONE = _facts_statement([bindparam("id")], [bindparam("prescriber_id")])


def _by_registry_id_statement() -> Any:
    """The same parts for the one patient of a registry ID, and that patient's own row (the
    PATIENT part): a lookup by registry ID and its decision in one statement."""
    registry_id: BindParameter[Any] = bindparam("registry_id")
    patient = select(Patient.id).where(Patient.registry_id == registry_id).scalar_subquery()
    prescriber = select(Patient.prescriber_id).where(Patient.registry_id == registry_id) \
        .scalar_subquery()
    own_row = _part(
        PATIENT, pid=Patient.id, course=Patient.course_number, id=Patient.id,
        i1=Patient.user_id, i2=Patient.prescriber_id, s1=Patient.registry_id,
        s2=Patient.risk_category, s3=Patient.status, d1=Patient.date_of_birth,
        d2=Patient.contraception_start_on, d3=Patient.course_started_on,
        d4=Patient.last_dose_on, b1=Patient.home_tests_allowed,
    ).where(Patient.registry_id == registry_id)
    return _facts_statement(patient, prescriber, own_row)


_FACTS_BY_REGISTRY_ID = _by_registry_id_statement()


@dataclass(frozen=True, slots=True)
class PatientRow:
    """A patient's own columns as the decision reads them (not an ORM entity: nothing to
    lazy-load or flush). What the permission checks read, too: user and prescriber."""

    id: int
    registry_id: str
    user_id: int | None
    prescriber_id: int
    course_number: int
    date_of_birth: date
    risk_category: RiskCategory
    status: PatientStatus
    home_tests_allowed: bool
    contraception_start_on: date | None
    course_started_on: date | None
    last_dose_on: date | None


def load_by_registry_id(session: Session,
                        registry_id: str) -> tuple[PatientRow, PatientFacts] | None:
    """The patient of ``registry_id`` (already normalized) and their facts, read together
    in one statement; None if there is none. For reads that lock nothing (status, checks):
    a caller that locks the patient re-reads under its lock (load_facts)."""
    rows = _by_part(session.execute(_FACTS_BY_REGISTRY_ID, {"registry_id": registry_id}))
    own = next((part[0] for (tag, _), part in rows.items() if tag == PATIENT), None)
    if own is None:
        return None
    patient = PatientRow(
        id=own.id, registry_id=own.s1, user_id=own.i1, prescriber_id=own.i2,
        course_number=own.course, date_of_birth=own.d1, risk_category=RiskCategory(own.s2),
        status=PatientStatus(own.s3), home_tests_allowed=bool(own.b1),
        contraception_start_on=own.d2, course_started_on=own.d3, last_dose_on=own.d4)
    return patient, _facts(patient, rows)


def load_facts(session: Session, patient: Patient) -> PatientFacts:
    """Every fact is read from the database now, in one statement, even rows the session
    already holds (a caller that locked the patient decides on what was committed before
    its lock). The patient's own columns come from ``patient``, which the caller re-read."""
    rows = _by_part(session.execute(
        _FACTS_OF_ONE, {"id": patient.id, "prescriber_id": patient.prescriber_id}))
    return _facts(patient, rows)


def load_facts_of(session: Session, patients: Sequence[Patient]) -> dict[int, PatientFacts]:
    """The facts of many patients (a page of a list) in the same one statement, whatever
    their number."""
    if not patients:
        return {}
    parameters = {"ids": [p.id for p in patients],
                  "prescriber_ids": sorted({p.prescriber_id for p in patients})}
    rows = _by_part(session.execute(_FACTS, parameters))
    return {p.id: _facts(p, rows) for p in patients}


def _by_part(result: Any) -> dict[tuple[int, int | None], list[Any]]:
    """The UNION's rows by (part, patient id; the prescriber's id for PRESCRIBER), each
    part in id order."""
    rows: dict[tuple[int, int | None], list[Any]] = defaultdict(list)
    for row in result:
        rows[(row.tag, row.id if row.tag == PRESCRIBER else row.pid)].append(row)
    for part in rows.values():
        part.sort(key=lambda r: r.id)
    return rows


def _facts(patient: Patient | PatientRow,
           all_rows: dict[tuple[int, int | None], list[Any]]) -> PatientFacts:
    pid, course = patient.id, patient.course_number

    def part(tag: int) -> list[Any]:
        return [r for r in all_rows.get((tag, pid), ())
                if r.course is None or r.course == course]

    prescriber = all_rows[(PRESCRIBER, patient.prescriber_id)][0]
    tests = sorted(part(TEST), key=lambda t: (t.d1, t.id))
    cycles = sorted(part(CYCLE), key=lambda c: c.i1)
    passed = part(PASSED)

    counseling_by_cycle: dict[int, CounselingFact] = {}
    counseling_facts = []
    for c in part(COUNSELING):
        fact = CounselingFact(c.id, c.d1, c.i1, frozenset(c.j1 or ()), c.b1)
        counseling_facts.append(fact)
        if c.i1 is not None:
            counseling_by_cycle[c.i1] = fact  # the latest confirmation counts
    passed_cycles = {a.i1 for a in passed if a.i1 is not None}
    cycle_ids = {c.id for c in cycles}
    contraception_by_cycle: dict[int, ContraceptionFact] = {}
    for e in part(CONTRACEPTION):
        if e.i1 in cycle_ids:
            contraception_by_cycle[e.i1] = ContraceptionFact(frozenset(e.j1 or ()), e.b1, e.d1)
    return PatientFacts(
        registry_id=patient.registry_id,
        date_of_birth=patient.date_of_birth,
        risk_category=patient.risk_category,
        status=patient.status,
        prescriber_npi=prescriber.s1,
        prescriber=StakeholderFacts(prescriber.d1, prescriber.d2, prescriber.d3),
        pregnancy_reported=bool(part(REPORT)),
        home_tests_allowed=patient.home_tests_allowed,
        contraception_start_on=patient.contraception_start_on,
        course_started_on=patient.course_started_on,
        last_dose_on=patient.last_dose_on,
        tests=tuple(TestFact(t.id, t.d1, t.s1, t.s2, t.s3) for t in tests),
        cycles=tuple(
            CycleFact(
                c.id, c.i1, c.s1, c.d1, c.d2, c.i2, counseling_by_cycle.get(c.id),
                c.id in passed_cycles, contraception_by_cycle.get(c.id),
            )
            for c in cycles
        ),
        counselings=tuple(counseling_facts),
        authorizations=tuple(
            AuthorizationFact(a.id, a.i1, a.s1, a.d1, a.d2)
            for a in part(AUTHORIZATION) if a.i1 in cycle_ids or a.s1 == "authorized"
        ),
        dispenses=tuple(DispenseFact(d.d1, d.i1, d.s1) for d in part(DISPENSE)),
        comprehension_passed_ever=bool(passed),
    )
