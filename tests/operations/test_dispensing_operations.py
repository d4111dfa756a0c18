"""Authorizations, dispenses and reversals (rules §6) and compliance actions taking effect
at once (rules §9), through the real operations and the database."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from registry import clock as registry_clock
from registry.authorizations.models import Authorization, AuthorizationDecision, Dispense
from registry.authorizations.operations import record_dispense, reverse_authorization
from registry.compliance.models import ComplianceAction
from registry.compliance.operations import record_compliance_action
from registry.compliance.schemas import ComplianceActionInput
from registry.contract import parse
from registry.errors import PermissionDenied, ValidationError
from registry.pharmacies.operations import record_training, remove_pharmacist
from registry.rules.identifiers import RMA_ALPHABET, verhoeff_check_digit
from tests import factories as f


def today():
    return registry_clock.today()


def codes(outcome) -> list[str]:
    return [r["code"] for r in outcome.reasons]


@pytest.fixture
def ready(session, cast, clock):
    p = f.patient(session, cast.dr)
    f.ready_for_first_prescription(session, p, clock)
    return p


def test_issued_rma_is_stored_with_its_decision(session, cast, ready):
    outcome = f.authorize(session, cast.rph, ready)
    auth = outcome.authorization
    assert len(auth.rma) == 12
    assert set(auth.rma) <= set(RMA_ALPHABET)
    assert (auth.status, auth.days_supply, auth.quantity, auth.refills) == (
        "authorized", 30, 60, 0)
    stored = session.get(AuthorizationDecision, outcome.decision.id)
    assert (stored.eligible, stored.reasons, stored.authorization_id) == (True, [], auth.id)
    assert stored.requested_by_id == cast.rph.user_id
    assert stored.ruleset == "2021"
    assert stored.parameters["max_days_supply"] == 30


def test_denial_is_stored_with_every_reason(session, cast, ready):
    outcome = f.authorize(session, cast.rph, ready, days_supply=31, refills=1,
                          prescriber_npi=cast.other_dr.npi)
    assert outcome.authorization is None
    stored = session.get(AuthorizationDecision, outcome.decision.id)
    assert [r["code"] for r in stored.reasons] == [
        "DAYS_SUPPLY_EXCEEDS_LIMIT", "REFILLS_NOT_ALLOWED", "PRESCRIBER_MISMATCH"]
    assert stored.eligible is False
    assert session.execute(select(func.count(Authorization.id))).scalar_one() == 0


@pytest.mark.parametrize(("days", "ok"), [(30, True), (31, False)])
def test_days_supply_30_ok_31_refused(session, cast, ready, days, ok):
    outcome = f.authorize(session, cast.rph, ready, days_supply=days)
    assert outcome.eligible is ok
    if not ok:
        assert codes(outcome) == ["DAYS_SUPPLY_EXCEEDS_LIMIT"]


@pytest.mark.parametrize(("refills", "ok"), [(0, True), (1, False)])
def test_refills_0_ok_1_refused(session, cast, ready, refills, ok):
    outcome = f.authorize(session, cast.rph, ready, refills=refills)
    assert outcome.eligible is ok
    if not ok:
        assert codes(outcome) == ["REFILLS_NOT_ALLOWED"]


def test_patient_not_found_for_a_wrong_date_of_birth_or_id(session, cast, ready):
    wrong_dob = (ready.date_of_birth + timedelta(days=1)).isoformat()
    assert codes(f.authorize(session, cast.rph, ready, date_of_birth=wrong_dob)) == [
        "PATIENT_NOT_FOUND"]
    # A well-formed ID (valid check digit) that is nobody's stays PATIENT_NOT_FOUND; an ID
    # with a wrong check digit is a typo, refused as bad input (test_typos_are_field_errors).
    rid = ready.registry_id
    other = next(body + verhoeff_check_digit(body) for n in range(1, 10)
                 if (body := f"{(int(rid[:9]) + n) % 10**9:09d}") != rid[:9])
    assert codes(f.authorize(session, cast.rph, ready, registry_id=other)) == [
        "PATIENT_NOT_FOUND"]


def test_typos_are_field_errors_and_store_no_decision(session, cast, ready):
    """api-v1 additions: a wrong check digit in the registry ID or the NPI is a 422 naming
    the field, not a PATIENT_NOT_FOUND or PRESCRIBER_MISMATCH denial, and nothing is stored."""
    stored = select(func.count()).select_from(AuthorizationDecision)
    before = session.scalar(stored)
    rid = ready.registry_id
    swapped = rid[:3] + rid[4] + rid[3] + rid[5:] if rid[3] != rid[4] else None
    last_digit = rid[:-1] + str((int(rid[-1]) + 1) % 10)
    for typo in filter(None, (swapped, last_digit)):
        with pytest.raises(ValidationError) as exc:
            f.authorize(session, cast.rph, ready, registry_id=typo)
        assert exc.value.errors == {
            "registry_id": ["The check digit does not match: re-key the ID."]}
    npi = ready.prescriber.npi
    bad_npi = npi[:-1] + str((int(npi[-1]) + 1) % 10)
    with pytest.raises(ValidationError) as exc:
        f.authorize(session, cast.rph, ready, prescriber_npi=bad_npi)
    assert exc.value.errors == {
        "prescriber_npi": ["The check digit does not match: re-key the NPI."]}
    assert session.scalar(stored) == before


def test_reversal_frees_the_cycle_while_the_window_is_open(session, cast, ready, clock):
    first = f.authorize(session, cast.rph, ready).authorization
    clock.forward(days=3)
    reverse_authorization(session, cast.rph.user, first, reason="Not picked up")
    assert first.status == "reversed"
    again = f.authorize(session, cast.rph, ready)
    assert again.eligible, again.reasons
    assert again.authorization.cycle_id == first.cycle_id
    assert again.authorization.rma != first.rma


def test_reversal_after_the_window_does_not_free_the_cycle(session, cast, ready, clock):
    first = f.authorize(session, cast.rph, ready).authorization
    clock.forward(days=6)  # day 7: last day
    reverse_authorization(session, cast.rph.user, first, reason="Returned to stock")
    clock.forward(days=1)  # day 8
    outcome = f.authorize(session, cast.rph, ready)
    assert not outcome.eligible
    assert "WINDOW_EXPIRED" in codes(outcome)


def test_dispense_reversed_returned_to_stock_frees_the_cycle(session, cast, ready):
    outcome = f.authorize(session, cast.rph, ready)
    f.dispense(session, cast.rph, outcome)
    reverse_authorization(session, cast.rph.user, outcome.authorization, reason="Returned")
    assert f.authorize(session, cast.rph, ready).eligible


def test_second_request_while_one_is_open_is_denied(session, cast, ready):
    f.authorize(session, cast.rph, ready)
    assert codes(f.authorize(session, cast.rph, ready)) == ["AUTHORIZATION_ALREADY_ISSUED"]


def test_dispense_on_the_do_not_dispense_after_day(session, cast, ready, clock):
    auth = f.authorize(session, cast.rph, ready, quantity=60, days_supply=30).authorization
    clock.forward(days=6)
    assert today() == auth.do_not_dispense_after
    dispense = record_dispense(session, cast.rph.user, auth, dispensed_on=today(),
                               quantity=59, days_supply=29)
    assert (dispense.quantity, dispense.days_supply) == (59, 29)
    assert auth.status == "dispensed"
    assert session.execute(select(func.count(Dispense.id))).scalar_one() == 1


def test_dispense_after_the_do_not_dispense_after_day_is_refused(session, cast, ready, clock):
    auth = f.authorize(session, cast.rph, ready).authorization
    clock.forward(days=7)
    with pytest.raises(ValidationError) as exc:
        record_dispense(session, cast.rph.user, auth, dispensed_on=today(), quantity=60,
                        days_supply=30)
    assert {"rma", "dispensed_on"} <= set(exc.value.errors)
    assert session.get(Authorization, auth.id).status == "authorized"  # expires when asked


@pytest.mark.parametrize(("quantity", "days", "field"), [(61, 30, "quantity"),
                                                         (60, 31, "days_supply")])
def test_dispense_above_what_was_authorized_is_refused(session, cast, ready, quantity, days,
                                                       field):
    auth = f.authorize(session, cast.rph, ready).authorization
    with pytest.raises(ValidationError) as exc:
        record_dispense(session, cast.rph.user, auth, dispensed_on=today(), quantity=quantity,
                        days_supply=days)
    assert list(exc.value.errors) == [field]


def test_refill_too_soon_until_days_supply_minus_7(session, cast, ready, clock):
    f.dispense(session, cast.rph, f.authorize(session, cast.rph, ready), days=30)
    first = today()
    clock.forward(days=20)
    f.enter_test(session, ready)
    f.complete_cycle(session, ready)
    clock.forward(days=2)  # 22 days after the dispense: one day too soon
    outcome = f.authorize(session, cast.rph, ready)
    assert codes(outcome) == ["REFILL_TOO_SOON"]
    assert outcome.reasons[0]["due_on"] == (first + timedelta(days=23)).isoformat()
    clock.forward(days=1)  # exactly 23 days
    assert f.authorize(session, cast.rph, ready).eligible


# --- compliance actions take effect at once -------------------------------------------


def _act(session, cast, subject_type, subject_id, action, **kw):
    data = {"reason": "Finding 12"}
    if action == "suspension":
        data["until"] = (today() + timedelta(days=5)).isoformat()
    data.update(kw)
    return record_compliance_action(session, cast.staff, parse(
        ComplianceActionInput, subject_type=subject_type, subject_id=subject_id, action=action,
        **data))


@pytest.mark.parametrize("action", ["suspension", "deactivation"])
def test_pharmacy_suspended_or_deactivated_is_refused_at_once(session, cast, ready, action):
    row = _act(session, cast, "pharmacy", cast.pharmacy.id, action)
    assert session.get(ComplianceAction, row.id).recorded_by_id == cast.staff.id
    assert codes(f.authorize(session, cast.rph, ready)) == ["PHARMACY_NOT_ACTIVE"]


def test_pharmacy_suspension_ends_after_its_last_day(session, cast, ready, clock):
    _act(session, cast, "pharmacy", cast.pharmacy.id, "suspension",
         until=(today() + timedelta(days=2)).isoformat())
    clock.forward(days=2)
    assert "PHARMACY_NOT_ACTIVE" in codes(f.authorize(session, cast.rph, ready))
    clock.forward(days=1)  # the day after the suspension's last day
    assert f.authorize(session, cast.rph, ready).eligible


@pytest.mark.parametrize("action", ["suspension", "deactivation"])
def test_prescriber_suspended_or_deactivated_is_refused_at_once(session, cast, ready, action):
    open_auth = f.authorize(session, cast.rph, ready).authorization
    _act(session, cast, "prescriber", cast.dr.id, action)
    assert session.get(Authorization, open_auth.id).status == "cancelled"
    assert codes(f.authorize(session, cast.rph, ready)) == ["PRESCRIBER_NOT_ACTIVE"]


@pytest.mark.parametrize("action", ["suspension", "deactivation"])
def test_pharmacist_suspended_or_deactivated_is_refused_at_once(session, cast, ready, action):
    _act(session, cast, "pharmacist", cast.rph.id, action)
    assert codes(f.authorize(session, cast.rph, ready)) == ["PHARMACIST_NOT_AUTHORIZED"]


@pytest.mark.parametrize("action", ["notice", "warning"])
def test_notice_and_warning_do_not_stop_anyone(session, cast, ready, action):
    _act(session, cast, "pharmacy", cast.pharmacy.id, action)
    _act(session, cast, "prescriber", cast.dr.id, action)
    assert f.authorize(session, cast.rph, ready).eligible


def test_suspended_pharmacy_cannot_dispense_an_earlier_rma(session, cast, ready):
    auth = f.authorize(session, cast.rph, ready).authorization
    _act(session, cast, "pharmacy", cast.pharmacy.id, "suspension")
    with pytest.raises(PermissionDenied):
        record_dispense(session, cast.rph.user, auth, dispensed_on=today(), quantity=60,
                        days_supply=30)


def test_deactivated_prescriber_cannot_re_attest(session, cast):
    from registry.prescribers.operations import attest_prescriber

    _act(session, cast, "prescriber", cast.dr.id, "deactivation")
    with pytest.raises(PermissionDenied):
        attest_prescriber(session, cast.dr.user, cast.dr)


def test_pharmacist_removed_or_training_lapsed(session, cast, ready, clock):
    rph2 = f.pharmacist(session, cast.pharmacy, trained_on=today() - timedelta(days=365))
    assert f.authorize(session, rph2, ready).eligible  # training exactly 365 days old
    reverse_authorization(session, rph2.user, session.execute(
        select(Authorization).where(Authorization.status == "authorized")).scalar_one(),
        reason="test")
    record_training(session, f.rsp_of(cast.pharmacy).user, rph2,
                    training_completed_on=today() - timedelta(days=366))
    assert codes(f.authorize(session, rph2, ready)) == ["PHARMACIST_NOT_AUTHORIZED"]
    remove_pharmacist(session, f.rsp_of(cast.pharmacy).user, cast.rph)
    assert codes(f.authorize(session, cast.rph, ready)) == ["PHARMACIST_NOT_AUTHORIZED"]


def test_prescriber_attestation_364_days_ok_365_not(session, clock):
    clock.to("2025-09-01")
    dr = f.prescriber(session)
    clock.forward(days=330)
    ph = f.pharmacy(session)
    rph = f.pharmacist(session, ph)
    p = f.patient(session, dr)
    f.enter_test(session, p)
    clock.forward(days=30)  # 360 days after the attestation
    f.enter_test(session, p)
    f.complete_cycle(session, p)
    clock.forward(days=4)  # day 364
    outcome = f.authorize(session, rph, p)
    assert outcome.eligible, outcome.reasons
    reverse_authorization(session, rph.user, outcome.authorization, reason="test")
    clock.forward(days=1)  # day 365
    assert codes(f.authorize(session, rph, p)) == ["PRESCRIBER_NOT_ACTIVE"]


def test_cannot_get_pregnant_2026_dnda_issue_plus_7_and_a_new_cycle_each_time(session, clock):
    from registry.cycles.models import Cycle

    clock.to("2026-09-01")
    dr, ph = f.prescriber(session), f.pharmacy(session)
    rph = f.pharmacist(session, ph)
    p = f.patient(session, dr, can_get_pregnant=False)
    f.counsel(session, p)
    f.pass_questions(session, p)
    first = f.authorize(session, rph, p).authorization
    assert first.do_not_dispense_after == today() + timedelta(days=7)
    clock.forward(days=8)  # not dispensed: it expires, and a new one may be asked for
    second = f.authorize(session, rph, p)
    assert second.eligible, second.reasons
    assert session.get(Authorization, first.id).status == "expired"
    assert second.authorization.cycle_id != first.cycle_id
    assert session.get(Cycle, second.authorization.cycle_id).kind == "per_authorization"
    clock.forward(days=7)  # the do-not-dispense-after day itself
    f.dispense(session, rph, second)
    assert codes(f.authorize(session, rph, p)) == ["REFILL_TOO_SOON"]


def test_cannot_get_pregnant_2026_dispense_after_day_7_is_refused(session, clock):
    clock.to("2026-09-01")
    dr, ph = f.prescriber(session), f.pharmacy(session)
    rph = f.pharmacist(session, ph)
    p = f.patient(session, dr, can_get_pregnant=False)
    f.counsel(session, p)
    f.pass_questions(session, p)
    auth = f.authorize(session, rph, p).authorization
    clock.forward(days=8)
    with pytest.raises(ValidationError) as exc:
        record_dispense(session, rph.user, auth, dispensed_on=today(), quantity=60,
                        days_supply=30)
    assert "dispensed_on" in exc.value.errors


def test_pharmacy_activation_364_days_ok_365_lapsed_until_the_rsp_renews(session, clock):
    from registry.pharmacies.operations import activate_pharmacy

    clock.to("2025-09-01")
    ph = f.pharmacy(session)
    rph = f.pharmacist(session, ph)
    clock.forward(days=330)
    dr = f.prescriber(session)
    p = f.patient(session, dr)
    f.ready_for_first_prescription(session, p, clock)  # activation + 360 days
    clock.forward(days=4)  # day 364
    outcome = f.authorize(session, rph, p)
    assert outcome.eligible, outcome.reasons
    reverse_authorization(session, rph.user, outcome.authorization, reason="test")
    clock.forward(days=1)  # day 365 (the pharmacist's training, 365 days old, still counts)
    assert codes(f.authorize(session, rph, p)) == ["PHARMACY_NOT_ACTIVE"]
    activate_pharmacy(session, f.rsp_of(ph).user, ph, staff_trained=True)
    assert f.authorize(session, rph, p).eligible


@pytest.mark.parametrize("action", ["suspension", "deactivation"])
def test_suspended_pharmacys_open_rma_does_not_strand_the_patient(session, cast, ready, action):
    """Interpretation: the suspended pharmacy can neither dispense nor reverse its open RMA,
    so it is cancelled at once (as for a suspended prescriber); otherwise the patient could
    not be served elsewhere until it expired, and the window (and, in 2021, the first
    prescription) would be lost."""
    from tests.operations.conftest import last_audit_id, tags_since

    auth = f.authorize(session, cast.rph, ready).authorization
    start = last_audit_id(session)
    _act(session, cast, "pharmacy", cast.pharmacy.id, action)
    assert tags_since(session, start) == [f"pharmacy:{action}", "authorization:cancel"]
    assert session.get(Authorization, auth.id).status == "cancelled"
    elsewhere = f.pharmacist(session, f.pharmacy(session))
    outcome = f.authorize(session, elsewhere, ready)
    assert outcome.eligible, outcome.reasons
    assert outcome.authorization.cycle_id == auth.cycle_id
