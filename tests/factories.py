"""Stakeholders built through the real operations, so tests start from states the app makes."""

from __future__ import annotations

import itertools
from datetime import date, timedelta
from typing import Any

from sqlalchemy.orm import Session

from registry import clock
from registry.accounts.models import User
from registry.accounts.operations import addresses_trusted, create_staff
from registry.authorizations.operations import Outcome, record_dispense, request_authorization
from registry.authorizations.schemas import AuthorizationRequest, Dispensation, ReversalReason
from registry.contract import parse
from registry.cycles.operations import (
    attest_contraception,
    comprehension_questions,
    confirm_counseling,
    take_comprehension,
)
from registry.cycles.schemas import (
    ComprehensionAnswers,
    Contraception,
    CounselingEntry,
    PregnancyTestEntry,
)
from registry.patients.models import Patient
from registry.patients.operations import activate_patient, register_patient
from registry.patients.operations import end_treatment as end_patient_treatment
from registry.patients.schemas import PatientActivation, PatientRegistration, TreatmentEnding
from registry.pharmacies.models import Pharmacist, Pharmacy
from registry.pharmacies.operations import activate_pharmacy, add_pharmacist, register_pharmacy
from registry.pharmacies.schemas import (
    PharmacistAddition,
    PharmacyActivation,
    PharmacyRegistration,
    TrainingRecord,
)
from registry.pregnancies.operations import record_pregnancy_test
from registry.prescribers.models import Designee, Prescriber
from registry.prescribers.operations import (
    attest_designee,
    attest_prescriber,
    enroll_prescriber,
    link_designee,
)
from registry.prescribers.schemas import DesigneeLinking, PrescriberEnrollment
from registry.rules.identifiers import npi_with_check_digit

PASSWORD = "correct-horse-battery"
METHODS = ["iud", "male_latex_condom"]
_seq = itertools.count(1)


def _n() -> int:
    return next(_seq)


def npi() -> str:
    return npi_with_check_digit(f"1{_n():08d}")


def ncpdp() -> str:
    return f"{_n() % 10_000_000:07d}"


def staff(session: Session) -> User:
    return create_staff(session, None, email=f"staff{_n()}@example.org", password=PASSWORD)


@addresses_trusted()
def prescriber(session: Session, *, attest: bool = True, **kw: Any) -> Prescriber:
    n = _n()
    p = enroll_prescriber(session, PrescriberEnrollment(
        email=kw.get("email", f"dr{n}@example.org"), password=PASSWORD,
        first_name=kw.get("first_name", "Ada"), last_name=kw.get("last_name", f"Doctor{n}"),
        npi=kw.get("npi") or npi(), license_state="NY",
    ))
    if attest:
        attest_prescriber(session, p.user, p)
    return p


@addresses_trusted()
def designee(session: Session, of: Prescriber, *, attest: bool = True) -> Designee:
    n = _n()
    d = link_designee(session, of.user, of, DesigneeLinking(
        email=f"staff{n}@clinic.example.org", password=PASSWORD, first_name="Dee",
        last_name=f"Signee{n}"))
    if attest:
        attest_designee(session, d.user, d)
    return d


@addresses_trusted()
def pharmacy(session: Session, *, activate: bool = True) -> Pharmacy:
    n = _n()
    ph = register_pharmacy(session, PharmacyRegistration.model_validate({
        "name": f"Pharmacy {n}", "ncpdp_id": ncpdp(), "npi": npi(), "address": "1 Main St",
        "rsp": {"email": f"rsp{n}@pharmacy.example.org", "password": PASSWORD,
                "first_name": "Rita", "last_name": f"Responsible{n}",
                "license_number": f"L{n}"},
    }))
    if activate:
        activate_by_rsp(session, ph)
    return ph


def activate_by_rsp(session: Session, ph: Pharmacy) -> Pharmacy:
    """The pharmacy's RSP activates it, certifying staff training."""
    return activate_pharmacy(session, rsp_of(ph).user, ph, CERTIFIED)


CERTIFIED = PharmacyActivation(staff_trained=True)


def rsp_of(ph: Pharmacy) -> Pharmacist:
    return next(p for p in ph.pharmacists if p.is_rsp)


@addresses_trusted()
def pharmacist(session: Session, ph: Pharmacy, *, trained_on: date | None = None) -> Pharmacist:
    n = _n()
    return add_pharmacist(session, rsp_of(ph).user, ph, PharmacistAddition(
        email=f"rph{n}@pharmacy.example.org", password=PASSWORD, first_name="Phil",
        last_name=f"Pharmacist{n}", license_number=f"P{n}",
        training_completed_on=trained_on or clock.today(),
    ))


@addresses_trusted()
def patient(session: Session, of: Prescriber, *, can_get_pregnant: bool = True,
            activate: bool = True, actor: User | None = None, **kw: Any) -> Patient:
    p, code = registered(session, of, can_get_pregnant=can_get_pregnant, actor=actor, **kw)
    if activate:
        activate_patient(session, PatientActivation(
            registry_id=p.registry_id, date_of_birth=p.date_of_birth, activation_code=code,
            password=PASSWORD))
    return p


def registered(session: Session, of: Prescriber, *, can_get_pregnant: bool = True,
               actor: User | None = None, **kw: Any) -> tuple[Patient, str]:
    """A patient registered and not yet activated, with their activation code."""
    n = _n()
    today = clock.today()
    data: dict[str, Any] = {
        "first_name": "Pat", "last_name": f"Ient{n}", "date_of_birth": date(1995, 6, 15),
        "email": f"patient{n}@example.org",
        "risk_category": "can_get_pregnant" if can_get_pregnant else "cannot_get_pregnant",
        "consent_signed_on": today,
        "contraception_start_date": today if can_get_pregnant else None,
    }
    data.update(kw)
    if actor is not None and actor.role == "designee":
        data["prescriber_id"] = of.id
    p, code, _ = register_patient(session, actor or of.user, parse(PatientRegistration, data))
    return p, code


def end_treatment(session: Session, p: Patient, last_dose_on: date | None = None) -> Patient:
    """The prescriber of record records the last dose (today by default)."""
    return end_patient_treatment(session, p.prescriber.user, p,
                                 TreatmentEnding(last_dose_on=last_dose_on or clock.today()))


def enter_test(session: Session, p: Patient, on: date | None = None, *,
                result: str = "negative", setting: str = "lab") -> Any:
    return record_pregnancy_test(session, p.prescriber.user, p, parse(PregnancyTestEntry, {
        "specimen_collected_on": on or clock.today(), "result": result, "setting": setting}))


def counsel(session: Session, p: Patient, methods: list[str] | None = None,
            abstinence: bool = False) -> Any:
    contraception: dict[str, Any] = (
        {"abstinence": True} if abstinence else {"methods": methods or METHODS}
    )
    return confirm_counseling(session, p.prescriber.user, p, parse(CounselingEntry, {
        "counseled_on": clock.today(),
        "contraception": contraception if p.can_get_pregnant else None}))


def pass_questions(session: Session, p: Patient) -> Any:
    assert p.user is not None
    _, questions = comprehension_questions(session, p.user)
    return take_comprehension(session, p.user, ComprehensionAnswers(
        answers={str(q.id): q.correct_choice for q in questions}))


def attest(session: Session, p: Patient, methods: list[str] | None = None) -> Any:
    assert p.user is not None
    return attest_contraception(session, p.user, Contraception(methods=methods or METHODS))


def complete_cycle(session: Session, p: Patient) -> None:
    """Counseling, questions and contraception for the cycle the last test opened."""
    counsel(session, p)
    if p.can_get_pregnant:
        pass_questions(session, p)
        attest(session, p)


def ready_for_first_prescription(session: Session, p: Patient, travel: Any) -> None:
    """Screening today, then travel 30 days and confirm: the first window is open on day 1."""
    enter_test(session, p)
    travel.forward(days=30)
    enter_test(session, p)
    complete_cycle(session, p)


def authorize(session: Session, rph: Pharmacist, p: Patient, **kw: Any) -> Outcome:
    data: dict[str, Any] = {
        "registry_id": p.registry_id, "date_of_birth": p.date_of_birth.isoformat(),
        "prescriber_npi": p.prescriber.npi, "days_supply": 30, "quantity": 60, "refills": 0,
    }
    data.update(kw)
    return request_authorization(session, rph.user, request(**data))


# Typed inputs as a page or the API builds them: bad values raise the same ValidationError,
# naming the field.


def request(**data: Any) -> AuthorizationRequest:
    return parse(AuthorizationRequest, data)


def dispensation(**data: Any) -> Dispensation:
    return parse(Dispensation, data)


def reversal_of(**data: Any) -> ReversalReason:
    return parse(ReversalReason, data)


def training(**data: Any) -> TrainingRecord:
    return parse(TrainingRecord, data)


def certification(**data: Any) -> PharmacyActivation:
    return parse(PharmacyActivation, data)


def linking(**data: Any) -> DesigneeLinking:
    return parse(DesigneeLinking, data)


def enrollment(**data: Any) -> PrescriberEnrollment:
    return parse(PrescriberEnrollment, data)


def registration(**data: Any) -> PharmacyRegistration:
    return parse(PharmacyRegistration, data)


def addition(**data: Any) -> PharmacistAddition:
    return parse(PharmacistAddition, data)


def dispense(session: Session, rph: Pharmacist, outcome: Outcome, *,
             on: date | None = None, days: int = 30) -> Any:
    assert outcome.authorization is not None
    auth = outcome.authorization
    return record_dispense(session, rph.user, auth, Dispensation(
        dispensed_on=on or clock.today(), quantity=auth.quantity, days_supply=days))


def days(n: int) -> timedelta:
    return timedelta(days=n)


def ready_without_pregnancy_risk(
        session: Session) -> tuple[Prescriber, Pharmacy, Pharmacist, Patient]:
    """A prescriber, a pharmacy with a pharmacist, and a patient who cannot get pregnant,
    counseled and with the questions passed: eligible for an RMA today. (prescriber,
    pharmacy, pharmacist, patient)"""
    dr = prescriber(session)
    ph = pharmacy(session)
    rph = pharmacist(session, ph)
    p = patient(session, dr, can_get_pregnant=False)
    counsel(session, p)
    pass_questions(session, p)
    return dr, ph, rph, p


class Counter:
    """A prescriber, an active pharmacy with a trained pharmacist, and one patient who can
    get pregnant, ready for the first prescription (window open on its day 1)."""

    def __init__(self, session: Session, travel: Any, start: str = "2026-03-02") -> None:
        travel.to(start)
        self.prescriber = prescriber(session)
        self.pharmacy = pharmacy(session)
        self.pharmacist = pharmacist(session, self.pharmacy)
        self.patient = patient(session, self.prescriber)
        ready_for_first_prescription(session, self.patient, travel)
