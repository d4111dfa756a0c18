"""Every reason code of rules §6 comes out of a real request (facts loaded from the
database, decision stored with its reasons), not only out of hand-built snapshots."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from registry import clock as registry_clock
from registry.authorizations.models import AuthorizationDecision
from registry.compliance.operations import record_compliance_action
from registry.compliance.schemas import ComplianceActionInput
from registry.contract import parse
from registry.pharmacies.operations import remove_pharmacist
from registry.pregnancies.operations import report_pregnancy
from registry.pregnancies.schemas import PregnancyReportInput
from registry.rules import REASON_CODES
from tests import factories as f


def today():
    return registry_clock.today()


def _ready(s, c, clock):
    p = f.patient(s, c.dr)
    f.ready_for_first_prescription(s, p, clock)
    return p


def _cycle_without(step):
    def build(s, c, clock):
        p = f.patient(s, c.dr)
        f.enter_test(s, p)
        clock.forward(days=30)
        f.enter_test(s, p)
        if step != "counseling":
            f.counsel(s, p)
            if step != "comprehension":
                f.pass_questions(s, p)
            if step == "mismatch":
                f.attest(s, p, ["hormonal_patch", "male_latex_condom"])
        return f.authorize(s, c.rph, p)
    return build


def _suspend(s, c, subject_type, subject_id):
    record_compliance_action(s, c.staff, ComplianceActionInput(
        subject_type=subject_type, subject_id=subject_id, action="suspension", reason="r",
        until=today() + timedelta(days=3)))


def pharmacy_not_active(s, c, clock):
    p = _ready(s, c, clock)
    _suspend(s, c, "pharmacy", c.pharmacy.id)
    return f.authorize(s, c.rph, p)


def pharmacist_not_authorized(s, c, clock):
    p = _ready(s, c, clock)
    remove_pharmacist(s, f.rsp_of(c.pharmacy).user, c.rph)
    return f.authorize(s, c.rph, p)


def patient_not_found(s, c, clock):
    p = _ready(s, c, clock)
    return f.authorize(s, c.rph, p, date_of_birth="1990-01-01")


def patient_not_active(s, c, clock):
    p = f.patient(s, c.dr, can_get_pregnant=False, activate=False)
    return f.authorize(s, c.rph, p)


def pregnancy_reported(s, c, clock):
    p = _ready(s, c, clock)
    report_pregnancy(s, p.user, p, parse(PregnancyReportInput, reported_on=today()))
    return f.authorize(s, c.rph, p)


def prescriber_not_active(s, c, clock):
    p = _ready(s, c, clock)
    _suspend(s, c, "prescriber", c.dr.id)
    return f.authorize(s, c.rph, p)


def prescriber_mismatch(s, c, clock):
    return f.authorize(s, c.rph, _ready(s, c, clock), prescriber_npi=c.other_dr.npi)


def confirmation_test_required(s, c, clock):
    p = f.patient(s, c.dr)
    f.enter_test(s, p)
    return f.authorize(s, c.rph, p)


def pregnancy_test_required(s, c, clock):
    p = _ready(s, c, clock)
    f.dispense(s, c.rph, f.authorize(s, c.rph, p))
    clock.forward(days=30)
    return f.authorize(s, c.rph, p)


def window_not_open(s, c, clock):
    """A specimen dated in the future is refused at entry, so this only happens when the
    registry's clock is behind the entry (here: the clock is moved back a day)."""
    p = _ready(s, c, clock)
    clock.forward(days=-1)
    return f.authorize(s, c.rph, p)


def window_expired(s, c, clock):
    p = _ready(s, c, clock)
    clock.forward(days=7)
    return f.authorize(s, c.rph, p)


def lockout_active(s, c, clock):
    return window_expired(s, c, clock)


def authorization_already_issued(s, c, clock):
    p = _ready(s, c, clock)
    f.authorize(s, c.rph, p)
    return f.authorize(s, c.rph, p)


def refill_too_soon(s, c, clock):
    p = _ready(s, c, clock)
    f.dispense(s, c.rph, f.authorize(s, c.rph, p))
    clock.forward(days=20)
    f.enter_test(s, p)
    f.complete_cycle(s, p)
    return f.authorize(s, c.rph, p)


SCENARIOS = {
    "PHARMACY_NOT_ACTIVE": pharmacy_not_active,
    "PHARMACIST_NOT_AUTHORIZED": pharmacist_not_authorized,
    "PATIENT_NOT_FOUND": patient_not_found,
    "PATIENT_NOT_ACTIVE": patient_not_active,
    "PREGNANCY_REPORTED": pregnancy_reported,
    "PRESCRIBER_NOT_ACTIVE": prescriber_not_active,
    "PRESCRIBER_MISMATCH": prescriber_mismatch,
    "CONFIRMATION_TEST_REQUIRED": confirmation_test_required,
    "PREGNANCY_TEST_REQUIRED": pregnancy_test_required,
    "COUNSELING_NOT_CONFIRMED": _cycle_without("counseling"),
    "COMPREHENSION_NOT_PASSED": _cycle_without("comprehension"),
    "CONTRACEPTION_NOT_ATTESTED": _cycle_without("contraception"),
    "CONTRACEPTION_MISMATCH": _cycle_without("mismatch"),
    "WINDOW_NOT_OPEN": window_not_open,
    "WINDOW_EXPIRED": window_expired,
    "LOCKOUT_ACTIVE": lockout_active,
    "DAYS_SUPPLY_EXCEEDS_LIMIT": lambda s, c, clock: f.authorize(s, c.rph, _ready(s, c, clock),
                                                                 days_supply=31),
    "REFILLS_NOT_ALLOWED": lambda s, c, clock: f.authorize(s, c.rph, _ready(s, c, clock),
                                                           refills=1),
    "AUTHORIZATION_ALREADY_ISSUED": authorization_already_issued,
    "REFILL_TOO_SOON": refill_too_soon,
}


@pytest.mark.parametrize("code", sorted(REASON_CODES))
def test_reason_code_from_a_real_request_is_stored(session, cast, clock, code):
    assert code in SCENARIOS, f"no request produces {code}"
    outcome = SCENARIOS[code](session, cast, clock)
    assert outcome.authorization is None
    stored = session.execute(
        select(AuthorizationDecision).where(AuthorizationDecision.id == outcome.decision.id)
    ).scalar_one()
    assert stored.eligible is False
    assert code in [r["code"] for r in stored.reasons], stored.reasons
    assert stored.requested_by_id == cast.rph.user_id


def test_several_reasons_stored_in_one_decision(session, cast, clock):
    p = f.patient(session, cast.dr)
    f.enter_test(session, p)
    clock.forward(days=30)
    f.enter_test(session, p)
    _suspend(session, cast, "prescriber", cast.dr.id)
    outcome = f.authorize(session, cast.rph, p, days_supply=45, refills=3,
                          prescriber_npi=cast.other_dr.npi)
    stored = session.get(AuthorizationDecision, outcome.decision.id)
    assert [r["code"] for r in stored.reasons] == [
        "DAYS_SUPPLY_EXCEEDS_LIMIT", "REFILLS_NOT_ALLOWED", "PRESCRIBER_NOT_ACTIVE",
        "PRESCRIBER_MISMATCH", "COUNSELING_NOT_CONFIRMED", "COMPREHENSION_NOT_PASSED",
        "CONTRACEPTION_NOT_ATTESTED",
    ]
    assert all(r["message"] for r in stored.reasons)
