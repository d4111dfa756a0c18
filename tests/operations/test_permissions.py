"""Who may do what: another prescriber's patient is not found (nobody learns it exists), a
wrong role is refused, a designee acts only for an active prescriber they are linked to,
an inactive prescriber cannot act. A refusal writes nothing."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from registry import clock as registry_clock
from registry.authorizations.operations import (
    check_authorization,
    record_dispense,
    request_authorization,
    reverse_authorization,
)
from registry.compliance.operations import record_compliance_action
from registry.compliance.schemas import ComplianceActionInput
from registry.cycles.operations import confirm_counseling
from registry.cycles.schemas import Contraception, CounselingEntry, PregnancyTestEntry
from registry.errors import NotFound, PermissionDenied
from registry.patients.operations import (
    change_risk_category,
    end_treatment,
    reissue_activation_code,
    transfer_patient,
    update_patient,
)
from registry.patients.schemas import (
    NewRiskCategory,
    PatientChanges,
    Transfer,
    TreatmentEnding,
)
from registry.pharmacies.operations import activate_pharmacy, add_pharmacist
from registry.pregnancies.operations import lift_pregnancy_block, report_pregnancy
from registry.pregnancies.schemas import LiftInput, PregnancyReportInput
from registry.prescribers.operations import attest_prescriber, link_designee, unlink_designee
from tests import factories as f
from tests.operations.conftest import last_audit_id, row_counts


def today():
    return registry_clock.today()


PATIENT_OPS = {
    "test": lambda s, actor, p: record_pregnancy_test_(s, actor, p),
    "counseling": lambda s, actor, p: confirm_counseling(s, actor, p, CounselingEntry(
        counseled_on=today(), contraception=Contraception(methods=f.METHODS))),
    "risk_category": lambda s, actor, p: change_risk_category(s, actor, p, NewRiskCategory(
        risk_category="cannot_get_pregnant", reason="Hysterectomy")),
    "care_settings": lambda s, actor, p: update_patient(s, actor, p, PatientChanges(
        home_tests_allowed=True, home_test_procedure_attested=True)),
    "end_treatment": lambda s, actor, p: end_treatment(s, actor, p, TreatmentEnding(
        last_dose_on=today())),
    "reissue_code": lambda s, actor, p: reissue_activation_code(s, actor, p),
}
PRESCRIBER_ONLY = ["counseling", "risk_category", "care_settings", "end_treatment"]


def record_pregnancy_test_(s, actor, p):
    from registry.pregnancies.operations import record_pregnancy_test

    return record_pregnancy_test(s, actor, p, PregnancyTestEntry(
        specimen_collected_on=today(), result="negative", setting="lab"))


def refused(session, exc_type, op, *args: Any, **kw: Any):
    before, audit = row_counts(session), last_audit_id(session)
    with pytest.raises(exc_type):
        op(*args, **kw)
    assert row_counts(session) == before
    assert last_audit_id(session) == audit


@pytest.mark.parametrize("op", sorted(PATIENT_OPS))
def test_another_prescribers_patient_is_not_found(session, cast, op):
    p = f.patient(session, cast.dr, activate=op != "reissue_code")
    refused(session, NotFound, PATIENT_OPS[op], session, cast.other_dr.user, p)


@pytest.mark.parametrize("op", sorted(PATIENT_OPS))
def test_an_unlinked_designee_does_not_see_the_patient(session, cast, op):
    """A designee of another prescriber gets "not found", like that prescriber would."""
    other_designee = f.designee(session, cast.other_dr)
    p = f.patient(session, cast.dr, activate=op != "reissue_code")
    refused(session, NotFound, PATIENT_OPS[op], session, other_designee.user, p)


@pytest.mark.parametrize("op", sorted(PATIENT_OPS))
def test_staff_pharmacist_and_the_patient_cannot_act_as_prescriber(session, cast, op):
    p = f.patient(session, cast.dr)
    refused(session, PermissionDenied, PATIENT_OPS[op], session, cast.staff, p)
    refused(session, PermissionDenied, PATIENT_OPS[op], session, p.user, p)
    refused(session, NotFound, PATIENT_OPS[op], session, cast.rph.user, p)


@pytest.mark.parametrize("op", PRESCRIBER_ONLY)
def test_only_the_prescriber_not_the_designee(session, cast, op):
    p = f.patient(session, cast.dr)
    refused(session, PermissionDenied, PATIENT_OPS[op], session, cast.designee.user, p)


def test_designee_may_enter_tests_and_register_patients_for_their_prescriber(session, cast):
    p = f.patient(session, cast.dr, actor=cast.designee.user)
    assert p.prescriber_id == cast.dr.id
    test, _ = record_pregnancy_test_(session, cast.designee.user, p)
    assert test.entered_by_id == cast.designee.user_id


def test_designee_not_linked_to_that_prescriber_cannot_register_for_them(session, cast):
    refused(session, PermissionDenied, f.patient, session, cast.other_dr,
            actor=cast.designee.user)


def test_designee_unlinked_loses_access(session, cast):
    p = f.patient(session, cast.dr)
    unlink_designee(session, cast.dr.user, cast.dr, cast.designee)
    refused(session, NotFound, record_pregnancy_test_, session, cast.designee.user, p)
    refused(session, PermissionDenied, f.patient, session, cast.dr, actor=cast.designee.user)


def _suspend(session, cast, subject_type, subject_id, days=10):
    return record_compliance_action(session, cast.staff, ComplianceActionInput(
        subject_type=subject_type, subject_id=subject_id, action="suspension",
        reason="Audit finding", until=today() + timedelta(days=days)))


@pytest.mark.parametrize("op", ["test", "reissue_code"])
def test_designee_of_an_inactive_prescriber_is_refused(session, cast, op):
    p = f.patient(session, cast.dr, activate=op != "reissue_code")
    _suspend(session, cast, "prescriber", cast.dr.id)
    refused(session, PermissionDenied, PATIENT_OPS[op], session, cast.designee.user, p)


def test_suspended_designee_is_refused(session, cast):
    p = f.patient(session, cast.dr)
    _suspend(session, cast, "designee", cast.designee.id)
    refused(session, PermissionDenied, record_pregnancy_test_, session, cast.designee.user, p)


def test_designee_attestation_lapses_after_365_days(session, cast, clock):
    p = f.patient(session, cast.dr)
    clock.forward(days=364)
    attest_prescriber(session, cast.dr.user, cast.dr)
    record_pregnancy_test_(session, cast.designee.user, p)  # day 364: still active
    clock.forward(days=1)
    refused(session, PermissionDenied, record_pregnancy_test_, session, cast.designee.user, p)


@pytest.mark.parametrize("op", sorted(PATIENT_OPS))
def test_prescriber_whose_attestation_lapsed_is_refused(session, cast, clock, op):
    p = f.patient(session, cast.dr, activate=op != "reissue_code")
    clock.forward(days=365)
    refused(session, PermissionDenied, PATIENT_OPS[op], session, cast.dr.user, p)
    attest_prescriber(session, cast.dr.user, cast.dr)
    if op != "counseling":  # re-attested, the same call goes through (counseling needs a cycle)
        PATIENT_OPS[op](session, cast.dr.user, p)


def test_prescriber_attests_only_for_themselves(session, cast):
    refused(session, PermissionDenied, attest_prescriber, session, cast.other_dr.user, cast.dr)


def test_prescriber_manages_only_their_own_designees(session, cast):
    refused(session, PermissionDenied, link_designee, session, cast.other_dr.user, cast.dr,
            f.linking(email="x@example.org", password=f.PASSWORD, first_name="X",
                      last_name="Y"))


def test_only_the_rsp_runs_the_pharmacy(session, cast):
    refused(session, PermissionDenied, activate_pharmacy, session, cast.rph.user,
            cast.pharmacy, f.CERTIFIED)
    other = f.pharmacy(session)
    refused(session, NotFound, activate_pharmacy, session, f.rsp_of(other).user,
            cast.pharmacy, f.CERTIFIED)
    refused(session, PermissionDenied, add_pharmacist, session, cast.rph.user, cast.pharmacy,
            f.addition(email="z@example.org", password=f.PASSWORD, first_name="Z",
                       last_name="Z", license_number="1", training_completed_on=today()))


def _request(p):
    return {"registry_id": p.registry_id, "date_of_birth": p.date_of_birth.isoformat(),
            "prescriber_npi": p.prescriber.npi, "days_supply": 30, "quantity": 60,
            "refills": 0}


@pytest.mark.parametrize("who", ["dr", "designee", "staff", "patient"])
def test_only_pharmacists_ask_for_authorizations(session, cast, who):
    p = f.patient(session, cast.dr)
    actor = {"dr": cast.dr.user, "designee": cast.designee.user, "staff": cast.staff,
             "patient": p.user}[who]
    refused(session, PermissionDenied, request_authorization, session, actor,
            f.request(**_request(p)))
    refused(session, PermissionDenied, check_authorization, session, actor,
            f.request(**_request(p)))


def test_dispense_and_reversal_only_by_the_issuing_pharmacy(session, cast, clock):
    p = f.patient(session, cast.dr)
    f.ready_for_first_prescription(session, p, clock)
    auth = f.authorize(session, cast.rph, p).authorization
    other = f.pharmacist(session, f.pharmacy(session))
    refused(session, NotFound, record_dispense, session, other.user, auth,
            f.dispensation(dispensed_on=today(), quantity=60, days_supply=30))
    refused(session, NotFound, reverse_authorization, session, other.user, auth,
            f.reversal_of(reason="x"))
    refused(session, PermissionDenied, record_dispense, session, cast.dr.user, auth,
            f.dispensation(dispensed_on=today(), quantity=60, days_supply=30))


def test_only_staff_record_compliance_actions_and_lift_blocks(session, cast):
    p = f.patient(session, cast.dr)
    for actor in (cast.dr.user, cast.designee.user, cast.rph.user, p.user):
        refused(session, PermissionDenied, record_compliance_action, session, actor,
                ComplianceActionInput(subject_type="pharmacy", subject_id=cast.pharmacy.id,
                                      action="warning", reason="x"))
    report = report_pregnancy(session, cast.dr.user, p, PregnancyReportInput(reported_on=today()))
    for actor in (cast.dr.user, cast.designee.user, cast.rph.user, p.user):
        refused(session, PermissionDenied, lift_pregnancy_block, session, actor, report,
                LiftInput(reason="False report"))


@pytest.mark.parametrize("who", ["designee", "pharmacist", "patient"])
def test_transfer_only_by_staff_or_the_new_prescriber(session, cast, who):
    p = f.patient(session, cast.dr)
    actor = {"designee": f.designee(session, cast.other_dr).user, "pharmacist": cast.rph.user,
             "patient": p.user}[who]
    refused(session, PermissionDenied, transfer_patient, session, actor,
            Transfer(registry_id=p.registry_id, date_of_birth=p.date_of_birth))


def test_transfer_by_an_inactive_new_prescriber_is_refused(session, cast):
    p = f.patient(session, cast.dr)
    _suspend(session, cast, "prescriber", cast.other_dr.id)
    refused(session, PermissionDenied, transfer_patient, session, cast.other_dr.user,
            Transfer(registry_id=p.registry_id, date_of_birth=p.date_of_birth))
