"""The cycle through the real operations: test purposes, positive tests, the window, the
2021 lockout, home tests and the rule-set switch, as stored and as the status shows them."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import select

from registry import clock as registry_clock
from registry.authorizations.models import Authorization, AuthorizationDecision
from registry.authorizations.operations import reverse_authorization
from registry.cycles.models import Cycle
from registry.errors import ValidationError
from registry.patients.operations import end_treatment, update_patient
from registry.patients.queries import status
from registry.patients.schemas import (
    NewCourse,
    NewRiskCategory,
    PatientChanges,
    TreatmentEnding,
)
from registry.pharmacies.operations import activate_pharmacy
from registry.pregnancies.models import PregnancyReport, PregnancyTest
from registry.prescribers.operations import attest_prescriber
from registry.rules import Parameters
from tests import factories as f
from tests.operations.conftest import DAY_2026


def today() -> date:
    return registry_clock.today()


def codes(outcome) -> list[str]:
    return [r["code"] for r in outcome.reasons]


def purposes(session, p) -> list[str]:
    return list(session.execute(
        select(PregnancyTest.purpose).where(PregnancyTest.patient_id == p.id)
        .order_by(PregnancyTest.id)
    ).scalars())


def test_purposes_screening_confirmation_monthly_end_and_post_treatment(session, cast, clock):
    p = f.patient(session, cast.dr)
    test, cycle = f.enter_test(session, p)
    assert (test.purpose, cycle) == ("screening", None)
    clock.forward(days=30)
    test, cycle = f.enter_test(session, p)
    assert test.purpose == "confirmation"
    assert (cycle.opened_on, cycle.closes_on) == (today(), today() + timedelta(days=6))
    assert cycle.pregnancy_test_id == test.id
    f.complete_cycle(session, p)
    f.dispense(session, cast.rph, f.authorize(session, cast.rph, p))
    clock.forward(days=28)
    test, cycle = f.enter_test(session, p)
    assert test.purpose == "monthly"
    assert cycle.number == 2
    last_dose = today()
    end_treatment(session, cast.dr.user, p, TreatmentEnding(last_dose_on=last_dose))
    clock.forward(days=29)
    test, cycle = f.enter_test(session, p)
    assert (test.purpose, cycle) == ("end_of_treatment", None)
    assert p.status == "treatment_ended"
    clock.forward(days=1)
    test, cycle = f.enter_test(session, p)
    assert (test.purpose, cycle) == ("post_treatment", None)
    assert p.status == "treatment_complete"
    assert p.treatment_completed_on == today()
    assert purposes(session, p) == ["screening", "confirmation", "monthly", "end_of_treatment",
                                    "post_treatment"]


def test_treatment_end_status_shows_due_and_overdue(session, cast, clock):
    p = f.patient(session, cast.dr)
    f.ready_for_first_prescription(session, p, clock)
    f.dispense(session, cast.rph, f.authorize(session, cast.rph, p))
    last = today()
    end_treatment(session, cast.dr.user, p, TreatmentEnding(last_dose_on=last))
    end = status(session, p).treatment_end
    assert end.contraception_until == last + timedelta(days=30)
    assert end.post_treatment_test_due_on == last + timedelta(days=30)
    clock.forward(days=8)
    assert status(session, p).treatment_end.overdue == ("end_of_treatment",)


def test_positive_test_blocks_at_once_and_cancels_the_open_authorization(session, cast, clock):
    p = f.patient(session, cast.dr)
    f.ready_for_first_prescription(session, p, clock)
    auth = f.authorize(session, cast.rph, p).authorization
    test, cycle = f.enter_test(session, p, result="positive", setting="home")
    assert cycle is None
    assert session.get(Authorization, auth.id).status == "cancelled"
    report = session.execute(
        select(PregnancyReport).where(PregnancyReport.patient_id == p.id)
    ).scalar_one()
    assert (report.pregnancy_test_id, report.lifted_at) == (test.id, None)
    outcome = f.authorize(session, cast.rph, p)
    assert not outcome.eligible
    assert "PREGNANCY_REPORTED" in codes(outcome)
    assert "PREGNANCY_REPORTED" in status(session, p).codes


def test_window_day_7_issues_day_8_expired(session, cast, clock):
    p = f.patient(session, cast.dr)
    f.ready_for_first_prescription(session, p, clock)
    opened = today()
    clock.forward(days=6)
    outcome = f.authorize(session, cast.rph, p)
    assert outcome.eligible, outcome.reasons
    assert outcome.authorization.do_not_dispense_after == opened + timedelta(days=6)
    assert outcome.authorization.ruleset == "2021"


def test_window_day_8_is_expired_with_the_2021_lockout_date(session, cast, clock):
    p = f.patient(session, cast.dr)
    f.ready_for_first_prescription(session, p, clock)
    opened = today()
    clock.forward(days=7)
    outcome = f.authorize(session, cast.rph, p)
    assert codes(outcome) == ["WINDOW_EXPIRED", "LOCKOUT_ACTIVE"]
    decision = status(session, p)
    assert decision.lockout_until == opened + timedelta(days=19)
    stored = session.get(AuthorizationDecision, outcome.decision.id)
    assert (stored.eligible, stored.ruleset) == (False, "2021")
    assert stored.reasons[1]["due_on"] == (opened + timedelta(days=19)).isoformat()
    # Day 19 after the missed confirmation: refused; day 20 (opened + 19): accepted.
    clock.forward(days=11)
    with pytest.raises(ValidationError) as exc:
        f.enter_test(session, p)
    assert "specimen_collected_on" in exc.value.errors
    clock.forward(days=1)
    _, cycle = f.enter_test(session, p)
    assert cycle.opened_on == opened + timedelta(days=19)
    assert status(session, p).lockout_until is None


def test_2026_no_lockout_a_new_confirmation_at_once(session, cast, clock):
    clock.to(DAY_2026)
    dr, ph = f.prescriber(session), f.pharmacy(session)
    rph = f.pharmacist(session, ph)
    p = f.patient(session, dr)
    f.ready_for_first_prescription(session, p, clock)
    clock.forward(days=7)
    assert codes(f.authorize(session, rph, p)) == ["WINDOW_EXPIRED"]
    assert status(session, p).lockout_until is None
    _, cycle = f.enter_test(session, p)
    assert cycle is not None
    f.complete_cycle(session, p)
    assert f.authorize(session, rph, p).eligible


def test_no_lockout_after_the_first_dispense(session, cast, clock):
    p = f.patient(session, cast.dr)
    f.ready_for_first_prescription(session, p, clock)
    f.dispense(session, cast.rph, f.authorize(session, cast.rph, p))
    clock.forward(days=23)
    f.enter_test(session, p)
    clock.forward(days=7)  # the second window is missed
    assert codes(f.authorize(session, cast.rph, p)) == ["WINDOW_EXPIRED"]
    assert status(session, p).lockout_until is None
    _, cycle = f.enter_test(session, p)
    assert cycle is not None


def _treated(session, cast, clock, *, home_allowed: bool):
    p = f.patient(session, cast.dr, home_tests_allowed=home_allowed)
    f.ready_for_first_prescription(session, p, clock)
    f.dispense(session, cast.rph, f.authorize(session, cast.rph, p))
    clock.forward(days=23)
    return p


def test_2021_home_test_refused_after_treatment_started_even_if_allowed(session, cast, clock):
    p = _treated(session, cast, clock, home_allowed=True)
    with pytest.raises(ValidationError) as exc:
        f.enter_test(session, p, setting="home")
    assert list(exc.value.errors) == ["setting"]


@pytest.mark.parametrize("allowed", [True, False])
def test_2026_home_test_after_treatment_started_if_allowed(session, cast, clock, allowed):
    clock.to(DAY_2026)
    cast.dr = f.prescriber(session)
    cast.pharmacy = f.pharmacy(session)
    cast.rph = f.pharmacist(session, cast.pharmacy)
    p = _treated(session, cast, clock, home_allowed=allowed)
    if allowed:
        test, _cycle = f.enter_test(session, p, setting="home")
        assert (test.purpose, test.setting) == ("monthly", "home")
        f.complete_cycle(session, p)
        assert f.authorize(session, cast.rph, p).eligible
    else:
        with pytest.raises(ValidationError) as exc:
            f.enter_test(session, p, setting="home")
        assert list(exc.value.errors) == ["setting"]
        update_patient(session, cast.dr.user, p, PatientChanges(
            home_tests_allowed=True, home_test_procedure_attested=True))
        assert f.enter_test(session, p, setting="home")[1] is not None


@pytest.mark.parametrize("day", ["2026-08-07", "2026-08-08"])
def test_2026_home_test_before_treatment_refused_on_both_sides_of_the_switch(
    session, clock, day,
):
    clock.to(day)
    dr = f.prescriber(session)
    p = f.patient(session, dr, home_tests_allowed=True)
    with pytest.raises(ValidationError):
        f.enter_test(session, p, setting="home")


@pytest.mark.parametrize(("day", "ruleset"), [("2026-08-07", "2021"), ("2026-08-08", "2026")])
def test_ruleset_switch_on_the_effective_date(session, clock, day, ruleset):
    """A patient who cannot get pregnant, counseled at enrollment long ago: under 2021 they
    need this month's counseling; from the effective date they do not."""
    clock.to("2026-07-01")
    dr, ph = f.prescriber(session), f.pharmacy(session)
    p = f.patient(session, dr, can_get_pregnant=False)
    f.counsel(session, p)
    f.pass_questions(session, p)
    clock.to(day)
    attest_prescriber(session, dr.user, dr)  # a yearly re-attestation keeps them active
    activate_pharmacy(session, f.rsp_of(ph).user, ph, f.certification(staff_trained=True))
    rph = f.pharmacist(session, ph)
    outcome = f.authorize(session, rph, p)
    assert outcome.decision.ruleset == ruleset
    if ruleset == "2021":
        assert codes(outcome) == ["WINDOW_EXPIRED"]
    else:
        assert outcome.eligible
        assert outcome.authorization.do_not_dispense_after == today() + timedelta(days=7)
        assert session.get(Cycle, outcome.authorization.cycle_id).kind == "per_authorization"


def test_ruleset_switch_on_a_configured_date(session, app, clock, monkeypatch):
    monkeypatch.setitem(app.extensions, "registry.params",
                        Parameters(ruleset_2026_effective=date(2026, 3, 1)))
    clock.to("2026-02-28")
    dr, ph = f.prescriber(session), f.pharmacy(session)
    rph = f.pharmacist(session, ph)
    p = f.patient(session, dr)
    f.ready_for_first_prescription(session, p, clock)  # first window on 2026-03-30
    clock.forward(days=7)
    outcome = f.authorize(session, rph, p)
    assert outcome.decision.ruleset == "2026"
    assert codes(outcome) == ["WINDOW_EXPIRED"]  # no 2021 lockout after the configured date
    assert outcome.decision.parameters["ruleset_2026_effective"] == "2026-03-01"


def test_cannot_get_pregnant_2021_window_day_30_and_31(session, cast, clock):
    p = f.patient(session, cast.dr, can_get_pregnant=False)
    f.pass_questions(session, p)
    _, cycle = f.counsel(session, p)
    assert cycle.closes_on == today() + timedelta(days=29)
    clock.forward(days=29)
    outcome = f.authorize(session, cast.rph, p)
    assert outcome.eligible, outcome.reasons
    assert outcome.authorization.do_not_dispense_after == today()
    reverse_authorization(session, cast.rph.user, outcome.authorization,
        f.reversal_of(reason="Not needed"))
    clock.forward(days=1)
    assert codes(f.authorize(session, cast.rph, p)) == ["WINDOW_EXPIRED"]


def test_confirmation_19_days_after_screening_and_30_after_contraception(session, cast, clock):
    p = f.patient(session, cast.dr, contraception_start_date=(today() - timedelta(days=11))
                  .isoformat())
    f.enter_test(session, p)  # screening today; contraception + 30 = today + 19
    clock.forward(days=18)
    with pytest.raises(ValidationError):
        f.enter_test(session, p)
    clock.forward(days=1)
    test, cycle = f.enter_test(session, p)
    assert test.purpose == "confirmation"
    assert cycle is not None


def test_contraception_start_29_days_before_confirmation_is_too_late(session, cast, clock):
    p = f.patient(session, cast.dr)  # contraception started today
    f.enter_test(session, p)
    clock.forward(days=29)
    with pytest.raises(ValidationError) as exc:
        f.enter_test(session, p)
    assert "30 days after contraception started" in " ".join(
        exc.value.errors["specimen_collected_on"])
    clock.forward(days=1)
    assert f.enter_test(session, p)[0].purpose == "confirmation"


def test_changed_to_can_get_pregnant_needs_a_contraception_start_before_confirmation(
    session, cast, clock,
):
    """A patient moved to ``can_get_pregnant`` needs the date their contraception started
    with the change (API v1.1); the confirmation test needs 30 days of contraception (rules
    §4), counted from that date, which the prescriber can correct."""
    from registry.patients.operations import change_risk_category

    p = f.patient(session, cast.dr, can_get_pregnant=False)
    with pytest.raises(ValidationError) as exc:
        change_risk_category(session, cast.dr.user, p, NewRiskCategory(
            risk_category="can_get_pregnant", reason="Not menopausal after all"))
    assert list(exc.value.errors) == ["contraception_start_date"]
    assert p.risk_category == "cannot_get_pregnant"
    change_risk_category(session, cast.dr.user, p, NewRiskCategory(
        risk_category="can_get_pregnant", reason="Not menopausal after all",
        contraception_start_date=today()))
    assert p.contraception_start_on == today()
    f.enter_test(session, p)
    clock.forward(days=19)
    with pytest.raises(ValidationError) as exc:  # 19 days of contraception, not 30
        f.enter_test(session, p)
    assert "specimen_collected_on" in exc.value.errors
    update_patient(session, cast.dr.user, p, PatientChanges(
        contraception_start_date=(today() - timedelta(days=29)).isoformat()))
    with pytest.raises(ValidationError):
        f.enter_test(session, p)
    clock.forward(days=1)
    assert f.enter_test(session, p)[0].purpose == "confirmation"


@pytest.mark.parametrize(("hour", "ok"), [(23, True), (24, False)])
def test_window_ends_at_midnight_in_the_program_time_zone(session, cast, clock, hour, ok):
    """Day 7 ends at 23:59:59 New York time (already the next day in UTC at 23:00)."""
    p = f.patient(session, cast.dr)
    f.ready_for_first_prescription(session, p, clock)
    day7 = today() + timedelta(days=6)
    if hour == 24:
        clock.to((day7 + timedelta(days=1)).isoformat(), hour=0)
    else:
        clock.to(day7.isoformat(), hour=hour)
    outcome = f.authorize(session, cast.rph, p)
    assert outcome.eligible is ok, outcome.reasons


def test_a_new_course_starts_again_with_a_screening_test(session, cast, clock):
    from registry.patients.operations import start_new_course

    p = f.patient(session, cast.dr)
    f.ready_for_first_prescription(session, p, clock)
    f.dispense(session, cast.rph, f.authorize(session, cast.rph, p))
    end_treatment(session, cast.dr.user, p, TreatmentEnding(last_dose_on=today()))
    clock.forward(days=30)
    f.enter_test(session, p)  # post-treatment: complete
    assert p.status == "treatment_complete"
    clock.forward(days=60)
    start_new_course(session, cast.dr.user, p, NewCourse(contraception_start_date=today()))
    assert (p.status, p.course_number) == ("active", 2)
    decision = status(session, p)
    assert decision.codes == ["CONFIRMATION_TEST_REQUIRED"]
    assert f.enter_test(session, p)[0].purpose == "screening"
