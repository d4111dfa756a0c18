"""The staff summary report (rules §9): counted in the database, the same counts as reading
every row and applying the rules one by one."""

from __future__ import annotations

from collections import Counter
from datetime import date, timedelta
from typing import Any

from sqlalchemy import event, func, select
from sqlalchemy.orm import Session

from registry import clock as registry_clock
from registry.authorizations.models import (
    AuthorizationDecision,
    DenialReason,
    Dispense,
    Reversal,
)
from registry.authorizations.operations import reverse_authorization
from registry.authorizations.schemas import ReversalReason
from registry.compliance.models import ComplianceAction
from registry.compliance.operations import record_compliance_action
from registry.compliance.schemas import ComplianceActionInput
from registry.contract import parse
from registry.params import current as current_params
from registry.patients.models import Patient
from registry.pharmacies.models import Pharmacist, Pharmacy
from registry.pharmacies.operations import remove_pharmacist
from registry.pregnancies.models import PregnancyReport
from registry.pregnancies.operations import report_pregnancy
from registry.pregnancies.schemas import PregnancyReportInput
from registry.prescribers.models import Designee, Prescriber
from registry.reports import Summary, _start, summary
from registry.rules import (
    StakeholderFacts,
    designee_standing,
    pharmacist_standing,
    pharmacy_standing,
    prescriber_standing,
)
from tests import factories as f


def summary_row_by_row(session: Session, period_from: date, period_to: date) -> Summary:
    """The report read the plain way: every row loaded, the rules applied to each."""
    start, end = _start(period_from), _start(period_to + timedelta(days=1))
    params = current_params()
    as_of = min(period_to, registry_clock.today())
    prescribers = session.execute(select(Prescriber)).scalars().all()
    designees = session.execute(select(Designee)).scalars().all()
    pharmacies = session.execute(select(Pharmacy)).scalars().all()
    pharmacists = session.execute(select(Pharmacist)).scalars().all()
    patients = session.execute(select(Patient)).scalars().all()
    decisions = session.execute(select(AuthorizationDecision).where(
        AuthorizationDecision.requested_at >= start, AuthorizationDecision.requested_at < end)
    ).scalars().all()
    reasons = Counter(r["code"] for d in decisions if not d.eligible for r in d.reasons)
    actions = Counter(a.action for a in session.execute(select(ComplianceAction)).scalars()
                      if period_from <= a.recorded_on <= period_to)
    return Summary(
        period_from=period_from, period_to=period_to,
        enrolled={"prescribers": len(prescribers), "designees": len(designees),
                  "pharmacies": len(pharmacies), "pharmacists": len(pharmacists),
                  "patients": sum(p.registered_on <= period_to for p in patients)},
        active={
            "prescribers": sum(prescriber_standing(StakeholderFacts(
                p.attested_on, p.suspended_until, p.deactivated_on), as_of, params).active
                for p in prescribers),
            "designees": sum(designee_standing(StakeholderFacts(
                d.attested_on, d.suspended_until, d.deactivated_on), as_of, params).active
                for d in designees),
            "pharmacies": sum(pharmacy_standing(StakeholderFacts(
                p.activated_on, p.suspended_until, p.deactivated_on), as_of, params).active
                for p in pharmacies),
            "pharmacists": sum(pharmacist_standing(StakeholderFacts(
                p.training_completed_on, p.suspended_until, p.deactivated_on, p.removed_on),
                as_of, params).active for p in pharmacists),
            "patients": sum(p.status == "active" for p in patients),
        },
        authorizations_issued=sum(d.eligible for d in decisions),
        authorizations_denied=sum(not d.eligible for d in decisions),
        denials_by_reason=dict(sorted(reasons.items(), key=lambda kv: (-kv[1], kv[0]))),
        dispenses=sum(period_from <= d.dispensed_on <= period_to
                      for d in session.execute(select(Dispense)).scalars()),
        reversals=sum(start <= r.reversed_at < end
                      for r in session.execute(select(Reversal)).scalars()),
        pregnancies_reported=sum(period_from <= r.reported_on <= period_to
                                 for r in session.execute(select(PregnancyReport)).scalars()),
        compliance_actions=dict(actions),
    )


def _a_season(session: Session, clock: Any) -> dict[str, Any]:
    """March to May 2026: issued, dispensed, reversed and denied authorizations, a pregnancy
    report, stakeholders suspended, deactivated, removed, lapsed and never attested."""
    c = f.Counter(session, clock)  # 2026-03-02, first window open on 2026-04-01
    staff = f.staff(session)
    f.dispense(session, c.pharmacist, f.authorize(session, c.pharmacist, c.patient))
    waiting = f.patient(session, c.prescriber)  # no test yet: denied, several reasons
    for _ in range(2):
        assert f.authorize(session, c.pharmacist, waiting).authorization is None
    f.patient(session, c.prescriber, activate=False)  # registered, not active
    f.prescriber(session, attest=False)  # never attested: enrolled, not active
    suspended = f.prescriber(session)
    f.designee(session, c.prescriber)
    f.designee(session, suspended, attest=False)
    closed = f.pharmacy(session)
    f.pharmacy(session, activate=False)
    gone = f.pharmacist(session, c.pharmacy)
    remove_pharmacist(session, f.rsp_of(c.pharmacy).user, gone)
    record_compliance_action(session, staff, parse(
        ComplianceActionInput, subject_type="prescriber", subject_id=suspended.id,
        action="suspension", until="2026-12-31", reason="Late"))
    record_compliance_action(session, staff, ComplianceActionInput(
        subject_type="pharmacy", subject_id=closed.id, action="deactivation", reason="Closed"))
    record_compliance_action(session, staff, ComplianceActionInput(
        subject_type="pharmacy", subject_id=closed.id, action="notice", reason="Letter sent"))
    clock.forward(days=30)  # 2026-05-01: the second month
    f.enter_test(session, c.patient)
    f.complete_cycle(session, c.patient)
    second = f.authorize(session, c.pharmacist, c.patient)
    assert second.authorization is not None
    reverse_authorization(session, c.pharmacist.user, second.authorization,
                          ReversalReason(reason="Not needed"))
    other = f.patient(session, c.prescriber)
    report_pregnancy(session, c.prescriber.user, other,
                     PregnancyReportInput(reported_on=registry_clock.today()))
    assert f.authorize(session, c.pharmacist, other).authorization is None
    return {"counter": c, "staff": staff}


def test_the_summary_counts_what_happened(session, clock):
    _a_season(session, clock)
    result = summary(session, date(2026, 3, 1), date(2026, 5, 31))
    assert result.authorizations_issued == 2
    assert result.authorizations_denied == 3
    assert result.dispenses == 1
    assert result.reversals == 1
    assert result.pregnancies_reported == 1
    assert result.compliance_actions == {"suspension": 1, "deactivation": 1, "notice": 1}
    assert result.enrolled == {"prescribers": 3, "designees": 2, "pharmacies": 3,
                               "pharmacists": 5, "patients": 4}
    # the suspended and the unattested prescriber, the unattested designee, the closed and
    # the never-activated pharmacy (and the RSP of the latter, untrained), the removed
    # pharmacist; the patient never activated
    assert result.active == {"prescribers": 1, "designees": 1, "pharmacies": 1,
                             "pharmacists": 3, "patients": 3}
    codes = result.denials_by_reason
    assert sum(codes.values()) >= 3
    assert codes["PREGNANCY_REPORTED"] == 1
    assert list(codes.values()) == sorted(codes.values(), reverse=True)
    assert result == summary_row_by_row(session, date(2026, 3, 1), date(2026, 5, 31))


def test_the_summary_of_other_periods_is_the_row_by_row_count(session, clock):
    _a_season(session, clock)
    for start, end in [(date(2026, 3, 1), date(2026, 3, 31)), (date(2026, 5, 1),
                       date(2026, 5, 1)), (date(2025, 1, 1), date(2025, 12, 31)),
                       (date(2026, 4, 1), date(2027, 3, 31))]:
        assert summary(session, start, end) == summary_row_by_row(session, start, end), start
    empty = summary(session, date(2025, 1, 1), date(2025, 12, 31))
    assert (empty.authorizations_issued, empty.denials_by_reason, empty.dispenses) == (0, {}, 0)
    assert empty.enrolled["patients"] == 0


def test_each_denial_stores_its_reasons_by_code_in_the_same_statement(session, clock):
    """What the report counts (denial_reasons) is, row for row, the reasons of the denied
    decisions, stamped with their time; an approval has none; a denial rolled back takes
    its reasons with it."""
    world = _a_season(session, clock)
    session.flush()
    decisions = session.execute(select(AuthorizationDecision)).scalars().all()
    expected = Counter((d.id, d.requested_at, r["code"]) for d in decisions if not d.eligible
                       for r in d.reasons)
    stored = Counter(session.execute(select(
        DenialReason.decision_id, DenialReason.requested_at, DenialReason.code)).tuples())
    assert stored == expected
    assert sum(stored.values()) >= 3
    c = world["counter"]
    nested = session.begin_nested()
    assert f.authorize(session, c.pharmacist, f.patient(session, c.prescriber)
                       ).authorization is None
    session.flush()
    assert session.scalar(select(func.count(DenialReason.id))) > sum(expected.values())
    nested.rollback()
    assert session.scalar(select(func.count(DenialReason.id))) == sum(expected.values())


def test_standing_follows_the_rules_at_the_edge_of_a_year(session, clock):
    """The rules decide standing: an attestation is good for 364 days, training for 365."""
    _a_season(session, clock)
    everyone_on = date(2026, 3, 2)  # the counter's prescriber, pharmacy and pharmacists
    active = {}
    for days_later in (364, 365, 366):
        day = everyone_on + timedelta(days=days_later)
        clock.to(day.isoformat())
        result = summary(session, day, day)
        assert result == summary_row_by_row(session, day, day), days_later
        active[days_later] = result.active
    # the others joined a month later (the suspension is over by then), and stay active
    assert [active[d]["prescribers"] for d in (364, 365)] == [2, 1]
    assert [active[d]["pharmacies"] for d in (364, 365)] == [1, 0]
    assert [active[d]["pharmacists"] for d in (365, 366)] == [3, 1]


def test_the_summary_is_a_few_statements_however_many_rows(session, clock):
    _a_season(session, clock)
    session.flush()
    seen: list[str] = []
    engine = session.get_bind().engine

    def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        seen.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    try:
        summary(session, date(2026, 1, 1), date(2026, 12, 31))
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert len(seen) == 4, seen
    assert session.execute(select(func.count(AuthorizationDecision.id))).scalar_one() == 5
