"""Every operation validates its input, names the bad field, and writes nothing at all when
it refuses (the row count of every table and the audit log are unchanged)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

import pytest

from registry import clock as registry_clock
from registry.accounts.operations import create_staff
from registry.authorizations.operations import (
    record_dispense,
    request_authorization,
    reverse_authorization,
)
from registry.compliance.operations import record_compliance_action
from registry.compliance.schemas import ComplianceActionInput
from registry.contract import parse
from registry.cycles import operations as cycles
from registry.cycles.schemas import (
    ComprehensionAnswers,
    Contraception,
    CounselingEntry,
    PregnancyTestEntry,
)
from registry.errors import ValidationError
from registry.patients import operations as patients
from registry.patients.schemas import (
    NewRiskCategory,
    PatientActivation,
    PatientRegistration,
    Transfer,
    TreatmentEnding,
)
from registry.pharmacies.operations import (
    activate_pharmacy,
    add_pharmacist,
    record_training,
    register_pharmacy,
)
from registry.pregnancies import operations as pregnancies
from registry.pregnancies.operations import lift_pregnancy_block, report_pregnancy
from registry.pregnancies.schemas import LiftInput, PregnancyReportInput
from registry.prescribers.operations import enroll_prescriber, link_designee
from tests import factories as f
from tests.operations.conftest import last_audit_id, row_counts

# Typed operations get their input the way a page or the API builds it: raw values checked
# against the operation's schema (``parse``), then the operation's own checks.


def register_patient(session, actor, **data):
    return patients.register_patient(session, actor, parse(PatientRegistration, data))


def activate_patient(session, **data):
    return patients.activate_patient(session, parse(PatientActivation, data))


def change_risk_category(session, actor, patient, **data):
    return patients.change_risk_category(session, actor, patient, parse(NewRiskCategory, data))


def end_treatment(session, actor, patient, **data):
    return patients.end_treatment(session, actor, patient, parse(TreatmentEnding, data))


def transfer_patient(session, actor, **data):
    return patients.transfer_patient(session, actor, parse(Transfer, data))


def record_pregnancy_test(session, actor, patient, **data):
    return pregnancies.record_pregnancy_test(session, actor, patient,
                                             parse(PregnancyTestEntry, data))


def confirm_counseling(session, actor, patient, **data):
    return cycles.confirm_counseling(session, actor, patient, parse(CounselingEntry, data))


def take_comprehension(session, actor, **data):
    return cycles.take_comprehension(session, actor, parse(ComprehensionAnswers, data))


def attest_contraception(session, actor, *, contraception):
    return cycles.attest_contraception(session, actor, parse(Contraception, contraception))


Case = Callable[[Any, Any, Any], Callable[[], Any]]
CASES: list[Any] = []


def case(field: str, *ids: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register ``builder(session, cast, clock, bad)`` once per bad value."""

    def wrap(builder: Callable[..., Any]) -> Callable[..., Any]:
        for bad_id in ids:
            CASES.append(pytest.param(builder, field, bad_id,
                                      id=f"{builder.__name__}-{field}-{bad_id}"))
        return builder

    return wrap


def today() -> date:
    return registry_clock.today()


TOMORROW = "tomorrow"
BAD: dict[str, Any] = {
    "missing": None, "blank": "   ", "list": ["x"], "number": 12, "not-a-date": "03/02/2026",
    "bad-date": "2026-02-30", "zero": 0, "negative": -1, "bool": True, "text": "abc",
    "too-long": "x" * 5000, "bad-check-digit": "1234567890", "nine-digits": "123456789",
}


def bad(value_id: str) -> Any:
    if value_id == TOMORROW:
        return (today() + timedelta(days=1)).isoformat()
    return BAD[value_id]


# --- stakeholders ---------------------------------------------------------------------


def _prescriber_data(**kw: Any) -> dict[str, Any]:
    data = {"email": "new.dr@example.org", "password": f.PASSWORD, "first_name": "N",
            "last_name": "Dr", "npi": f.npi(), "license_state": "NY"}
    data.update(kw)
    return data


@case("npi", "missing", "bad-check-digit", "nine-digits", "list")
def enroll_bad_npi(session, cast, clock, value):
    return lambda: enroll_prescriber(session, f.enrollment(**_prescriber_data(npi=bad(value))))


@case("email", "missing", "text", "number")
def enroll_bad_email(session, cast, clock, value):
    return lambda: enroll_prescriber(session, f.enrollment(**_prescriber_data(email=bad(value))))


@case("license_state", "text", "number")
def enroll_bad_state(session, cast, clock, value):
    return lambda: enroll_prescriber(session,
        f.enrollment(**_prescriber_data(license_state=bad(value))))


@case("password", "missing", "number")
def enroll_bad_password(session, cast, clock, value):
    return lambda: enroll_prescriber(session, f.enrollment(**_prescriber_data(password=bad(value))))


@case("npi", "duplicate")
def enroll_duplicate_npi(session, cast, clock, value):
    return lambda: enroll_prescriber(session, f.enrollment(**_prescriber_data(npi=cast.dr.npi)))


@case("email", "missing", "text")
def link_designee_bad_email(session, cast, clock, value):
    return lambda: link_designee(session, cast.dr.user, cast.dr,
        f.linking(email=bad(value), password=f.PASSWORD, first_name="A", last_name="B"))


@case("staff_trained", "missing", "text")
def activate_pharmacy_not_certified(session, cast, clock, value):
    ph = f.pharmacy(session, activate=False)
    return lambda: activate_pharmacy(session, f.rsp_of(ph).user, ph,
        f.certification(staff_trained=bad(value)))


def _pharmacy_data(**kw: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "name": "New Pharmacy", "ncpdp_id": "7654321", "npi": f.npi(), "address": "2 Main St",
        "rsp": {"email": "new.rsp@example.org", "password": f.PASSWORD, "first_name": "R",
                "last_name": "S", "license_number": "L-1"},
    }
    data.update(kw)
    return data


@case("ncpdp_id", "missing", "nine-digits", "text")
def register_pharmacy_bad_ncpdp(session, cast, clock, value):
    return lambda: register_pharmacy(session, f.registration(**_pharmacy_data(ncpdp_id=bad(value))))


@case("npi", "bad-check-digit", "missing")
def register_pharmacy_bad_npi(session, cast, clock, value):
    return lambda: register_pharmacy(session, f.registration(**_pharmacy_data(npi=bad(value))))


@case("rsp", "missing", "text")
def register_pharmacy_no_rsp(session, cast, clock, value):
    return lambda: register_pharmacy(session, f.registration(**_pharmacy_data(rsp=bad(value))))


@case("rsp.license_number", "missing")
def register_pharmacy_rsp_licence(session, cast, clock, value):
    data = _pharmacy_data()
    data["rsp"]["license_number"] = bad(value)
    return lambda: register_pharmacy(session, f.registration(**data))


@case("training_completed_on", "missing", TOMORROW, "not-a-date", "bad-date")
def add_pharmacist_bad_training(session, cast, clock, value):
    return lambda: add_pharmacist(
        session, f.rsp_of(cast.pharmacy).user, cast.pharmacy, f.addition(
            email="new.rph@example.org", password=f.PASSWORD, first_name="P", last_name="H",
            license_number="P-9", training_completed_on=bad(value)))


@case("training_completed_on", TOMORROW, "missing")
def record_training_bad_date(session, cast, clock, value):
    return lambda: record_training(session, f.rsp_of(cast.pharmacy).user, cast.rph,
        f.training(training_completed_on=bad(value)))


# --- patients -------------------------------------------------------------------------


def _patient_data(**kw: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "first_name": "Pat", "last_name": "Ient", "date_of_birth": "1995-06-15",
        "email": "new.patient@example.org", "risk_category": "can_get_pregnant",
        "consent_signed_on": today().isoformat(),
        "contraception_start_date": today().isoformat(),
    }
    data.update(kw)
    return data


@case("date_of_birth", "missing", TOMORROW, "not-a-date", "number")
def register_patient_bad_dob(session, cast, clock, value):
    return lambda: register_patient(session, cast.dr.user, **_patient_data(
        date_of_birth=bad(value)))


@case("first_name", "missing", "blank", "too-long", "number")
def register_patient_bad_name(session, cast, clock, value):
    return lambda: register_patient(session, cast.dr.user, **_patient_data(first_name=bad(value)))


@case("risk_category", "missing", "text", "list")
def register_patient_bad_category(session, cast, clock, value):
    return lambda: register_patient(session, cast.dr.user, **_patient_data(
        risk_category=bad(value)))


@case("consent_signed_on", "missing", TOMORROW)
def register_patient_bad_consent(session, cast, clock, value):
    return lambda: register_patient(session, cast.dr.user, **_patient_data(
        consent_signed_on=bad(value)))


@case("contraception_start_date", "missing", "not-a-date")
def register_patient_bad_contraception_start(session, cast, clock, value):
    return lambda: register_patient(session, cast.dr.user, **_patient_data(
        contraception_start_date=bad(value)))


@case("date_of_birth", "age-11")
def register_patient_too_young(session, cast, clock, value):
    dob = today().replace(year=today().year - 12) + timedelta(days=1)
    return lambda: register_patient(session, cast.dr.user, **_patient_data(
        date_of_birth=dob.isoformat(), guardian_name="G", guardian_signed_on=today()))


@case("guardian_name", "age-17")
def register_patient_minor_without_guardian(session, cast, clock, value):
    dob = today().replace(year=today().year - 18) + timedelta(days=1)
    return lambda: register_patient(session, cast.dr.user, **_patient_data(
        date_of_birth=dob.isoformat(), guardian_signed_on=today()))


@case("home_tests_allowed", "text", "number")
def register_patient_bad_home_tests(session, cast, clock, value):
    return lambda: register_patient(session, cast.dr.user, **_patient_data(
        home_tests_allowed=bad(value)))


@case("prescriber_id", "missing", "text", "zero")
def designee_registers_without_prescriber(session, cast, clock, value):
    return lambda: register_patient(session, cast.designee.user, **_patient_data(
        prescriber_id=bad(value)))


@case("password", "missing", "number")
def activate_patient_bad_password(session, cast, clock, value):
    p, code, _ = register_patient(session, cast.dr.user, **_patient_data())
    return lambda: activate_patient(session, registry_id=p.registry_id,
                                    date_of_birth=p.date_of_birth, activation_code=code,
                                    password=bad(value))


@case("activation_code", "missing", "wrong", "wrong-dob", "expired")
def activate_patient_bad_code(session, cast, clock, value):
    p, code, _ = register_patient(session, cast.dr.user, **_patient_data())
    dob = p.date_of_birth
    if value == "missing":
        code = None
    elif value == "wrong":
        code = "AAAAAAAAAA"
    elif value == "wrong-dob":
        dob = dob + timedelta(days=1)
    else:
        clock.forward(days=31)
    return lambda: activate_patient(session, registry_id=p.registry_id, date_of_birth=dob,
                                    activation_code=code, password=f.PASSWORD)


@case("reason", "missing", "blank")
def change_category_without_reason(session, cast, clock, value):
    p = f.patient(session, cast.dr)
    return lambda: change_risk_category(session, cast.dr.user, p,
                                        risk_category="cannot_get_pregnant", reason=bad(value))


@case("risk_category", "same", "text")
def change_category_bad(session, cast, clock, value):
    p = f.patient(session, cast.dr)
    risk = "can_get_pregnant" if value == "same" else bad(value)
    return lambda: change_risk_category(session, cast.dr.user, p, risk_category=risk,
                                        reason="Hysterectomy")


@case("last_dose_on", "missing", TOMORROW, "not-a-date", "before-course")
def end_treatment_bad_date(session, cast, clock, value):
    p = f.patient(session, cast.dr)
    last = ((today() - timedelta(days=1)).isoformat() if value == "before-course"
            else bad(value))
    return lambda: end_treatment(session, cast.dr.user, p, last_dose_on=last)


@case("registry_id", "missing", "nine-digits")
def transfer_bad_registry_id(session, cast, clock, value):
    f.patient(session, cast.dr)
    return lambda: transfer_patient(session, cast.staff, registry_id=bad(value),
                                    prescriber_npi=cast.other_dr.npi)


@case("prescriber_npi", "missing", "nine-digits", "bad-check-digit", "number", "unknown",
      "same")
def transfer_bad_target(session, cast, clock, value):
    p = f.patient(session, cast.dr)
    target = {"unknown": f.npi(), "same": cast.dr.npi}.get(value) or bad(value)
    return lambda: transfer_patient(session, cast.staff, registry_id=p.registry_id,
                                    prescriber_npi=target)


@case("date_of_birth", "missing", "not-a-date")
def transfer_bad_dob(session, cast, clock, value):
    p = f.patient(session, cast.dr)
    return lambda: transfer_patient(session, cast.other_dr.user, registry_id=p.registry_id,
                                    date_of_birth=bad(value))


# --- pregnancy tests, counseling, questions, contraception --------------------------


@case("specimen_collected_on", "missing", TOMORROW, "not-a-date", "before-birth")
def preg_test_bad_specimen_date(session, cast, clock, value):
    p = f.patient(session, cast.dr)
    on = "1990-01-01" if value == "before-birth" else bad(value)
    return lambda: record_pregnancy_test(session, cast.dr.user, p, specimen_collected_on=on,
                                         result="negative", setting="lab")


@case("result", "missing", "text", "number")
def preg_test_bad_result(session, cast, clock, value):
    p = f.patient(session, cast.dr)
    return lambda: record_pregnancy_test(session, cast.dr.user, p, specimen_collected_on=today(),
                                         result=bad(value), setting="lab")


@case("setting", "missing", "text", "home-screening")
def preg_test_bad_setting(session, cast, clock, value):
    p = f.patient(session, cast.dr)
    where = "home" if value == "home-screening" else bad(value)
    return lambda: record_pregnancy_test(session, cast.dr.user, p, specimen_collected_on=today(),
                                         result="negative", setting=where)


@case("specimen_collected_on", "18-days-after-screening")
def confirmation_too_early(session, cast, clock, value):
    p = f.patient(session, cast.dr, contraception_start_date="2025-01-01")
    f.enter_test(session, p)
    clock.forward(days=18)
    return lambda: f.enter_test(session, p)


@case("risk_category", "cannot-get-pregnant")
def preg_test_for_patient_who_cannot_get_pregnant(session, cast, clock, value):
    p = f.patient(session, cast.dr, can_get_pregnant=False)
    return lambda: f.enter_test(session, p)


def _open_cycle(session, cast, clock):
    p = f.patient(session, cast.dr)
    f.enter_test(session, p)
    clock.forward(days=30)
    f.enter_test(session, p)
    return p


@case("counseled_on", "missing", TOMORROW, "not-a-date")
def counseling_bad_date(session, cast, clock, value):
    p = _open_cycle(session, cast, clock)
    return lambda: confirm_counseling(session, cast.dr.user, p, counseled_on=bad(value),
                                      contraception={"methods": f.METHODS})


@case("contraception.methods", "mini-pill", "two-secondary", "one", "same-twice",
      "abstinence-and-methods")
def counseling_bad_methods(session, cast, clock, value):
    p = _open_cycle(session, cast, clock)
    contraception: dict[str, Any] = {
        "mini-pill": {"methods": ["progestin_only_pill", "male_latex_condom"]},
        "two-secondary": {"methods": ["male_latex_condom", "vaginal_sponge"]},
        "one": {"methods": ["iud"]},
        "same-twice": {"methods": ["iud", "iud"]},
        "abstinence-and-methods": {"methods": f.METHODS, "abstinence": True},
    }[value]
    return lambda: confirm_counseling(session, cast.dr.user, p, counseled_on=today(),
                                      contraception=contraception)


@case("contraception", "text", "list")
def counseling_contraception_not_an_object(session, cast, clock, value):
    p = _open_cycle(session, cast, clock)
    return lambda: confirm_counseling(session, cast.dr.user, p, counseled_on=today(),
                                      contraception=bad(value))


@case("counseled_on", "no-open-cycle")
def counseling_without_a_cycle(session, cast, clock, value):
    p = f.patient(session, cast.dr)
    return lambda: f.counsel(session, p)


@case("answers", "text", "list", "unasked")
def comprehension_bad_answers(session, cast, clock, value):
    p = _open_cycle(session, cast, clock)
    f.counsel(session, p)
    answers = {"999999": "a"} if value == "unasked" else bad(value)
    return lambda: take_comprehension(session, p.user, answers=answers)


@case("answers", "before-counseling")
def comprehension_before_counseling(session, cast, clock, value):
    p = _open_cycle(session, cast, clock)
    return lambda: f.pass_questions(session, p)


@case("contraception.methods", "mini-pill")
def patient_contraception_mini_pill(session, cast, clock, value):
    p = _open_cycle(session, cast, clock)
    f.counsel(session, p)
    return lambda: attest_contraception(session, p.user, contraception={
        "methods": ["progestin_only_pill", "iud"]})


@case("contraception", "before-counseling")
def patient_contraception_before_counseling(session, cast, clock, value):
    p = _open_cycle(session, cast, clock)
    return lambda: f.attest(session, p)


# --- authorizations ---------------------------------------------------------------


def _request(p, **kw: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "registry_id": p.registry_id, "date_of_birth": p.date_of_birth.isoformat(),
        "prescriber_npi": p.prescriber.npi, "days_supply": 30, "quantity": 60, "refills": 0,
    }
    data.update(kw)
    return data


@case("registry_id", "missing", "nine-digits", "list")
def request_bad_registry_id(session, cast, clock, value):
    p = f.patient(session, cast.dr)
    return lambda: request_authorization(session, cast.rph.user, f.request(**_request(
        p, registry_id=bad(value))))


@case("date_of_birth", "missing", "not-a-date", "bad-date")
def request_bad_dob(session, cast, clock, value):
    p = f.patient(session, cast.dr)
    return lambda: request_authorization(session, cast.rph.user, f.request(**_request(
        p, date_of_birth=bad(value))))


@case("prescriber_npi", "missing", "nine-digits")
def request_bad_npi(session, cast, clock, value):
    p = f.patient(session, cast.dr)
    return lambda: request_authorization(session, cast.rph.user, f.request(**_request(
        p, prescriber_npi=bad(value))))


@case("days_supply", "missing", "zero", "negative", "text", "bool")
def request_bad_days(session, cast, clock, value):
    p = f.patient(session, cast.dr)
    return lambda: request_authorization(session, cast.rph.user, f.request(**_request(
        p, days_supply=bad(value))))


@case("quantity", "missing", "zero", "text")
def request_bad_quantity(session, cast, clock, value):
    p = f.patient(session, cast.dr)
    return lambda: request_authorization(session, cast.rph.user, f.request(**_request(
        p, quantity=bad(value))))


@case("refills", "missing", "negative", "text")
def request_bad_refills(session, cast, clock, value):
    p = f.patient(session, cast.dr)
    return lambda: request_authorization(session, cast.rph.user, f.request(**_request(
        p, refills=bad(value))))


def _issued(session, cast, clock):
    p = f.patient(session, cast.dr)
    f.ready_for_first_prescription(session, p, clock)
    outcome = f.authorize(session, cast.rph, p, quantity=60, days_supply=30)
    assert outcome.eligible, outcome.reasons
    return outcome.authorization


@case("dispensed_on", "missing", TOMORROW, "after-dnda", "before-issue", "not-a-date")
def dispense_bad_date(session, cast, clock, value):
    auth = _issued(session, cast, clock)
    if value == "after-dnda":
        clock.forward(days=7)
        on = auth.do_not_dispense_after + timedelta(days=1)
    elif value == "before-issue":
        on = auth.issued_on - timedelta(days=1)
    else:
        on = bad(value)
    return lambda: record_dispense(session, cast.rph.user, auth,
        f.dispensation(dispensed_on=on, quantity=60, days_supply=30))


@case("quantity", "above-authorized", "zero", "text")
def dispense_bad_quantity(session, cast, clock, value):
    auth = _issued(session, cast, clock)
    qty = 61 if value == "above-authorized" else bad(value)
    return lambda: record_dispense(session, cast.rph.user, auth,
        f.dispensation(dispensed_on=today(), quantity=qty, days_supply=30))


@case("days_supply", "above-authorized", "missing")
def dispense_bad_days(session, cast, clock, value):
    auth = _issued(session, cast, clock)
    days = 31 if value == "above-authorized" else bad(value)
    return lambda: record_dispense(session, cast.rph.user, auth,
        f.dispensation(dispensed_on=today(), quantity=60, days_supply=days))


@case("rma", "already-dispensed")
def dispense_twice(session, cast, clock, value):
    auth = _issued(session, cast, clock)
    record_dispense(session, cast.rph.user, auth,
        f.dispensation(dispensed_on=today(), quantity=60, days_supply=30))
    return lambda: record_dispense(session, cast.rph.user, auth,
        f.dispensation(dispensed_on=today(), quantity=60, days_supply=30))


@case("rma", "already-reversed", "cancelled")
def reverse_twice(session, cast, clock, value):
    auth = _issued(session, cast, clock)
    if value == "already-reversed":
        reverse_authorization(session, cast.rph.user, auth, f.reversal_of(reason="Not picked up"))
    else:
        report_pregnancy(session, cast.dr.user, auth.patient,
                parse(PregnancyReportInput, reported_on=today()))
    return lambda: reverse_authorization(session, cast.rph.user, auth,
        f.reversal_of(reason="Again"))


@case("reason", "missing", "blank")
def reverse_without_reason(session, cast, clock, value):
    auth = _issued(session, cast, clock)
    return lambda: reverse_authorization(session, cast.rph.user, auth,
        f.reversal_of(reason=bad(value)))


# --- pregnancy reports and compliance -------------------------------------------------


@case("reported_on", "missing", TOMORROW, "not-a-date")
def report_bad_date(session, cast, clock, value):
    p = f.patient(session, cast.dr)
    return lambda: report_pregnancy(session, cast.dr.user, p,
            parse(PregnancyReportInput, reported_on=bad(value)))


@case("reason", "missing", "blank", "already-lifted")
def lift_bad(session, cast, clock, value):
    p = f.patient(session, cast.dr)
    report = report_pregnancy(session, cast.dr.user, p,
            parse(PregnancyReportInput, reported_on=today()))
    reason = bad(value) if value != "already-lifted" else "Lab error"
    if value == "already-lifted":
        lift_pregnancy_block(session, cast.staff, report,
                parse(LiftInput, reason="Documented false report"))
    return lambda: lift_pregnancy_block(session, cast.staff, report,
            parse(LiftInput, reason=reason))


def _compliance(cast, **kw: Any) -> dict[str, Any]:
    data: dict[str, Any] = {"subject_type": "prescriber", "subject_id": cast.dr.id,
                            "action": "suspension", "reason": "Audit finding",
                            "until": (today() + timedelta(days=10)).isoformat()}
    data.update(kw)
    return data


@case("until", "missing", "yesterday", "not-a-date", "warning-with-until")
def compliance_bad_until(session, cast, clock, value):
    if value == "yesterday":
        data = _compliance(cast, until=(today() - timedelta(days=1)).isoformat())
    elif value == "warning-with-until":
        data = _compliance(cast, action="warning")
    else:
        data = _compliance(cast, until=bad(value))
    return lambda: record_compliance_action(session, cast.staff,
                                            parse(ComplianceActionInput, data))


@case("subject_type", "missing", "text", "patient")
def compliance_bad_subject_type(session, cast, clock, value):
    st = "patient" if value == "patient" else bad(value)
    return lambda: record_compliance_action(session, cast.staff, parse(
        ComplianceActionInput, _compliance(cast, subject_type=st)))


@case("subject_id", "missing", "zero", "unknown")
def compliance_bad_subject_id(session, cast, clock, value):
    sid = 10**6 if value == "unknown" else bad(value)
    return lambda: record_compliance_action(session, cast.staff, parse(
        ComplianceActionInput, _compliance(cast, subject_id=sid)))


@case("action", "missing", "text")
def compliance_bad_action(session, cast, clock, value):
    return lambda: record_compliance_action(session, cast.staff, parse(
        ComplianceActionInput, _compliance(cast, action=bad(value))))


@case("reason", "missing", "blank")
def compliance_without_reason(session, cast, clock, value):
    return lambda: record_compliance_action(session, cast.staff, parse(
        ComplianceActionInput, _compliance(cast, reason=bad(value))))


@case("email", "missing", "duplicate")
def create_staff_bad_email(session, cast, clock, value):
    mail = cast.staff.email if value == "duplicate" else bad(value)
    return lambda: create_staff(session, cast.staff, email=mail, password=f.PASSWORD)


@pytest.mark.parametrize(("builder", "field", "value"), CASES)
def test_bad_input_is_refused_naming_the_field_and_nothing_is_written(
    session, cast, clock, builder, field, value,
):
    op = builder(session, cast, clock, value)
    before = row_counts(session)
    audit = last_audit_id(session)
    with pytest.raises(ValidationError) as exc:
        op()
    assert field in exc.value.errors, exc.value.errors
    assert all(exc.value.errors[field]), exc.value.errors
    assert row_counts(session) == before
    assert last_audit_id(session) == audit
