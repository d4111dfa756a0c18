"""Each operation writes its audit entries in the same transaction: exactly one with its
``subject:action`` tag, or the documented number (a test that opens a cycle also writes
``cycle:open``; cancelling open authorizations writes one ``authorization:cancel`` each)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from registry import clock as registry_clock
from registry.accounts.operations import create_staff
from registry.authorizations.operations import (
    check_authorization,
    reverse_authorization,
)
from registry.compliance.operations import record_compliance_action
from registry.compliance.schemas import ComplianceActionInput
from registry.contract import parse
from registry.patients.operations import (
    change_risk_category,
    end_treatment,
    register_patient,
    reissue_activation_code,
    start_new_course,
    transfer_patient,
    update_patient,
)
from registry.patients.schemas import (
    NewCourse,
    NewRiskCategory,
    PatientActivation,
    PatientChanges,
    PatientRegistration,
    Transfer,
    TreatmentEnding,
)
from registry.pharmacies.operations import record_training, remove_pharmacist
from registry.pregnancies.operations import (
    lift_pregnancy_block,
    record_follow_up,
    report_pregnancy,
)
from registry.pregnancies.schemas import FollowUpInput, LiftInput, PregnancyReportInput
from registry.prescribers.operations import attest_designee, unlink_designee
from tests import factories as f
from tests.operations.conftest import audit_since, last_audit_id


def today():
    return registry_clock.today()


def tagged(session, fn: Callable[[], Any]) -> tuple[Any, list[Any]]:
    start = last_audit_id(session)
    result = fn()
    return result, audit_since(session, start)


def tags(entries) -> list[str]:
    return [e.action for e in entries]


def test_stakeholder_operations_write_one_entry_each(session, clock):
    clock.to("2026-03-02")
    staff, entries = tagged(session, lambda: f.staff(session))
    assert tags(entries) == ["staff:create"]
    assert entries[0].role == "system"
    assert entries[0].user_id is None
    _, entries = tagged(session, lambda: create_staff(session, staff, email="s2@example.org",
                                                      password=f.PASSWORD))
    assert tags(entries) == ["staff:create"]
    assert (entries[0].user_id, entries[0].role) == (staff.id, "staff")

    dr, entries = tagged(session, lambda: f.prescriber(session))
    assert tags(entries) == ["prescriber:enroll", "prescriber:attest"]
    assert entries[1].after == {"attested_on": today().isoformat()}
    assert entries[1].before == {"attested_on": None}
    assert entries[1].subject_type == "prescriber"
    assert entries[1].subject_id == str(dr.id)

    des, entries = tagged(session, lambda: f.designee(session, dr, attest=False))
    assert tags(entries) == ["designee:create", "designee:link"]
    _, entries = tagged(session, lambda: attest_designee(session, des.user, des))
    assert tags(entries) == ["designee:attest"]
    _, entries = tagged(session, lambda: unlink_designee(session, dr.user, dr, des))
    assert tags(entries) == ["designee:unlink"]

    ph, entries = tagged(session, lambda: f.pharmacy(session))
    assert tags(entries) == ["pharmacy:register", "pharmacy:activate"]
    rph, entries = tagged(session, lambda: f.pharmacist(session, ph))
    assert tags(entries) == ["pharmacist:add"]
    assert "password_hash" not in entries[0].after
    rsp = f.rsp_of(ph).user
    _, entries = tagged(session, lambda: record_training(session, rsp, rph,
        f.training(training_completed_on=today())))
    assert tags(entries) == ["pharmacist:train"]
    _, entries = tagged(session, lambda: remove_pharmacist(session, rsp, rph))
    assert tags(entries) == ["pharmacist:remove"]
    assert entries[0].after == {"removed_on": today().isoformat()}

    for subject_type, subject_id in (("prescriber", dr.id), ("designee", des.id),
                                     ("pharmacy", ph.id), ("pharmacist", rph.id)):
        for action in ("notice", "warning", "deactivation"):
            _, entries = tagged(session, lambda st=subject_type, si=subject_id, a=action:
                                record_compliance_action(session, staff, ComplianceActionInput(
                                    subject_type=st, subject_id=si, action=a, reason="r")))
            # a deactivation takes effect at once: the person (a pharmacy's RSP) is told
            expected = [f"{subject_type}:{action}"] + (
                ["notification:queue"] if action == "deactivation" else [])
            assert tags(entries) == expected
            assert entries[0].after["reason"] == "r"


def test_patient_lifecycle_entries(session, clock):
    clock.to("2026-03-02")
    staff = f.staff(session)
    dr, other = f.prescriber(session), f.prescriber(session)
    ph = f.pharmacy(session)
    rph = f.pharmacist(session, ph)

    (p, _code, _), entries = tagged(session, lambda: register_patient(
        session, dr.user, PatientRegistration(
            first_name="A", last_name="B", date_of_birth="1995-06-15", email="ab@example.org",
            risk_category="can_get_pregnant", consent_signed_on=today(),
            contraception_start_date=today())))
    assert tags(entries) == ["patient:register"]
    assert entries[0].after["registry_id"] == p.registry_id
    _, entries = tagged(session, lambda: reissue_activation_code(session, dr.user, p))
    assert tags(entries) == ["patient:reissue_activation_code"]
    from registry.patients.operations import activate_patient

    code2, _ = reissue_activation_code(session, dr.user, p)
    _, entries = tagged(session, lambda: activate_patient(
        session, PatientActivation(registry_id=p.registry_id, date_of_birth=p.date_of_birth,
                                   activation_code=code2, password=f.PASSWORD)))
    # The new account's address is unconfirmed: a link to confirm it is queued.
    assert tags(entries) == ["notification:queue", "patient:activate"]
    assert entries[0].role == "patient"

    _, entries = tagged(session, lambda: f.enter_test(session, p))
    assert tags(entries) == ["pregnancy_test:record"]
    clock.forward(days=30)
    _, entries = tagged(session, lambda: f.enter_test(session, p))
    assert tags(entries) == ["pregnancy_test:record", "cycle:open"]
    _, entries = tagged(session, lambda: f.counsel(session, p))
    assert tags(entries) == ["counseling:confirm"]
    _, entries = tagged(session, lambda: f.pass_questions(session, p))
    assert tags(entries) == ["comprehension:attempt"]
    _, entries = tagged(session, lambda: f.attest(session, p))
    assert tags(entries) == ["contraception:attest"]

    req = {"registry_id": p.registry_id, "date_of_birth": p.date_of_birth.isoformat(),
           "prescriber_npi": dr.npi, "days_supply": 30, "quantity": 60, "refills": 0}
    _, entries = tagged(session, lambda: check_authorization(session, rph.user, f.request(**req)))
    assert tags(entries) == ["authorization:check"]
    outcome, entries = tagged(session, lambda: f.authorize(session, rph, p))
    assert tags(entries) == ["authorization:issue"]
    assert entries[0].subject_id == outcome.authorization.rma
    _, entries = tagged(session, lambda: f.authorize(session, rph, p))
    assert tags(entries) == ["authorization:deny"]
    _, entries = tagged(session, lambda: reverse_authorization(
        session, rph.user, outcome.authorization, f.reversal_of(reason="Not picked up")))
    assert tags(entries) == ["authorization:reverse"]
    outcome, _ = tagged(session, lambda: f.authorize(session, rph, p))
    _, entries = tagged(session, lambda: f.dispense(session, rph, outcome))
    assert tags(entries) == ["authorization:dispense"]

    _, entries = tagged(session, lambda: update_patient(session, dr.user, p, PatientChanges(
        home_tests_allowed=True, home_test_procedure_attested=True)))
    assert tags(entries) == ["patient:update"]
    assert entries[0].before["home_tests_allowed"] is False
    assert entries[0].after["home_tests_allowed"] is True

    clock.forward(days=25)
    f.enter_test(session, p)
    f.complete_cycle(session, p)
    open_rma = f.authorize(session, rph, p)
    assert open_rma.eligible, open_rma.reasons
    _, entries = tagged(session, lambda: transfer_patient(
        session, staff, Transfer(registry_id=p.registry_id, prescriber_npi=other.npi,
                                 reason="Moved")))
    # the issuing pharmacist and the pharmacy's RSP are alerted to the cancelled RMA
    assert tags(entries) == ["authorization:cancel", "notification:queue", "notification:queue",
                             "patient:transfer"]
    assert entries[3].before == {"prescriber_id": dr.id}
    assert entries[3].after == {"prescriber_id": other.id, "reason": "Moved"}

    _, entries = tagged(session, lambda: end_treatment(session, other.user, p,
                                                       TreatmentEnding(last_dose_on=today())))
    assert tags(entries) == ["patient:end_treatment"]
    clock.forward(days=30)
    _, entries = tagged(session, lambda: f.enter_test(session, p))
    assert tags(entries) == ["pregnancy_test:record", "patient:complete_treatment"]
    _, entries = tagged(session, lambda: start_new_course(
        session, other.user, p, NewCourse(contraception_start_date=today())))
    assert tags(entries) == ["patient:start_course"]

    _, entries = tagged(session, lambda: change_risk_category(
        session, other.user, p, NewRiskCategory(risk_category="cannot_get_pregnant",
                                                reason="Hysterectomy")))
    assert tags(entries) == ["patient:change_risk_category"]
    assert entries[0].after["reason"] == "Hysterectomy"

    report, entries = tagged(session, lambda: report_pregnancy(session, other.user, p,
            parse(PregnancyReportInput, reported_on=today())))
    # the prescriber of record and program staff are alerted at once
    assert tags(entries) == ["pregnancy:report", "notification:queue", "notification:queue"]
    _, entries = tagged(session, lambda: record_follow_up(session, staff, report,
            parse(FollowUpInput, noted_on=today(), note="Called")))
    assert tags(entries) == ["pregnancy:follow_up"]
    _, entries = tagged(session, lambda: lift_pregnancy_block(session, staff, report,
            parse(LiftInput, reason="Lab error")))
    assert tags(entries) == ["pregnancy:lift"]


def test_cannot_get_pregnant_2021_counseling_opens_its_window(session, clock):
    clock.to("2026-03-02")
    dr = f.prescriber(session)
    p = f.patient(session, dr, can_get_pregnant=False)
    _, entries = tagged(session, lambda: f.counsel(session, p))
    assert tags(entries) == ["cycle:open", "counseling:confirm"]
    assert entries[0].after["closes_on"] == (today() + timedelta(days=29)).isoformat()


def test_cannot_get_pregnant_2026_authorization_opens_its_own_cycle(session, clock):
    clock.to("2026-09-01")
    _, _, rph, p = f.ready_without_pregnancy_risk(session)
    outcome, entries = tagged(session, lambda: f.authorize(session, rph, p))
    assert outcome.eligible, outcome.reasons
    assert tags(entries) == ["cycle:open", "authorization:issue"]


def test_expired_authorization_is_marked_with_its_own_entry(session, clock):
    clock.to("2026-03-02")
    dr = f.prescriber(session)
    ph = f.pharmacy(session)
    rph = f.pharmacist(session, ph)
    p = f.patient(session, dr)
    f.ready_for_first_prescription(session, p, clock)
    f.authorize(session, rph, p)
    clock.forward(days=7)
    _, entries = tagged(session, lambda: f.authorize(session, rph, p))
    assert tags(entries) == ["authorization:expire", "authorization:deny"]
