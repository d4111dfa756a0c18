"""A small demo data set: every kind of user, patients at different points of the cycle."""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy.orm import Session

from registry import clock
from registry.accounts.operations import create_staff
from registry.cycles.operations import (
    attest_contraception,
    comprehension_questions,
    confirm_counseling,
    load_question_bank,
    take_comprehension,
)
from registry.patients.models import Patient
from registry.patients.operations import (
    activate_patient,
    register_patient,
    reissue_activation_code,
)
from registry.pharmacies.operations import activate_pharmacy, add_pharmacist, register_pharmacy
from registry.pregnancies.operations import record_pregnancy_test
from registry.prescribers.operations import (
    attest_designee,
    attest_prescriber,
    enroll_prescriber,
    link_designee,
)

PASSWORD = "demo-password"  # noqa: S105 - printed for people trying the demo


def _ago(days: int) -> date:
    return clock.today() - timedelta(days=days)


def load_demo(session: Session) -> list[tuple[str, str, str]]:
    """Build the demo through the same operations as everything else; returns the logins."""
    load_question_bank(session)
    logins: list[tuple[str, str, str]] = []
    staff = create_staff(session, None, email="staff@demo.example", password=PASSWORD,
                         first_name="Pat", last_name="Oversight")
    logins.append(("staff", staff.email, "program staff"))

    with clock.travel(-45):
        dr_rivera = enroll_prescriber(session, email="rivera@demo.example", password=PASSWORD,
                                      first_name="Ana", last_name="Rivera", npi="1234567893",
                                      license_state="NY")
        attest_prescriber(session, dr_rivera.user, dr_rivera)
        dr_chen = enroll_prescriber(session, email="chen@demo.example", password=PASSWORD,
                                    first_name="Wei", last_name="Chen", npi="1245319599",
                                    license_state="NJ")
        attest_prescriber(session, dr_chen.user, dr_chen)
        designee = link_designee(session, dr_rivera.user, dr_rivera,
                                 email="frontdesk@demo.example", password=PASSWORD,
                                 first_name="Sam", last_name="Ortiz")
        attest_designee(session, designee.user, designee)
        pharmacy = register_pharmacy(
            session, name="Main Street Pharmacy", ncpdp_id="1234567", npi="1679576722",
            address="12 Main Street, Albany NY",
            rsp={"email": "rsp@demo.example", "password": PASSWORD, "first_name": "Jordan",
                 "last_name": "Blake", "license_number": "NY-RPH-0001"},
        )
        rsp_user = pharmacy.pharmacists[0].user
        activate_pharmacy(session, rsp_user, pharmacy, staff_trained=True)
        add_pharmacist(session, rsp_user, pharmacy, email="pharmacist@demo.example",
                       password=PASSWORD, first_name="Lee", last_name="Morgan",
                       license_number="NY-RPH-0002", training_completed_on=clock.today())

        alex, _, _ = register_patient(
            session, dr_rivera.user, first_name="Alex", last_name="Kim",
            date_of_birth="2008-05-14", email="alex@demo.example",
            risk_category="can_get_pregnant", consent_signed_on=clock.today().isoformat(),
            guardian_name="Morgan Kim", guardian_signed_on=clock.today().isoformat(),
            contraception_start_date=clock.today().isoformat(),
        )
        casey, _, _ = register_patient(
            session, dr_rivera.user, first_name="Casey", last_name="Nguyen",
            date_of_birth="1979-11-02", email="casey@demo.example",
            risk_category="cannot_get_pregnant", consent_signed_on=clock.today().isoformat(),
        )
    with clock.travel(-40):
        record_pregnancy_test(session, dr_rivera.user, alex, specimen_collected_on=_ago(0),
                              result="negative", setting="office")
    with clock.travel(-10):
        blake, blake_code, _ = register_patient(
            session, designee.user, prescriber_id=dr_rivera.id, first_name="Blake",
            last_name="Santos", date_of_birth="1999-01-20", email="blake@demo.example",
            risk_category="can_get_pregnant", consent_signed_on=clock.today().isoformat(),
            contraception_start_date=(clock.today() - timedelta(days=20)).isoformat(),
        )
        record_pregnancy_test(session, designee.user, blake, specimen_collected_on=_ago(0),
                              result="negative", setting="lab")
    with clock.travel(-2):
        record_pregnancy_test(session, dr_rivera.user, alex, specimen_collected_on=_ago(0),
                              result="negative", setting="lab")
        confirm_counseling(session, dr_rivera.user, alex, counseled_on=_ago(0),
                           contraception={"methods": ["iud", "male_latex_condom"]})
        confirm_counseling(session, dr_rivera.user, casey, counseled_on=_ago(0))
        for patient in (alex, casey):
            code, _ = reissue_activation_code(session, dr_rivera.user, patient)
            activate_patient(session, registry_id=patient.registry_id,
                             date_of_birth=patient.date_of_birth, activation_code=code,
                             password=PASSWORD)
    with clock.travel(-1):
        for patient in (alex, casey):
            _pass_questions(session, patient)
        assert alex.user is not None
        attest_contraception(session, alex.user,
                             contraception={"methods": ["iud", "male_latex_condom"]})

    dana, dana_code, _ = register_patient(
        session, dr_chen.user, first_name="Dana", last_name="Okafor",
        date_of_birth="2001-07-30", email="dana@demo.example",
        risk_category="can_get_pregnant", consent_signed_on=clock.today().isoformat(),
        contraception_start_date=clock.today().isoformat(),
    )
    logins += [
        ("prescriber", "rivera@demo.example", f"Dr Ana Rivera, NPI {dr_rivera.npi}"),
        ("prescriber", "chen@demo.example", f"Dr Wei Chen, NPI {dr_chen.npi}"),
        ("designee", "frontdesk@demo.example", "acts for Dr Rivera"),
        ("pharmacist", "rsp@demo.example", f"Responsible Site Pharmacist, {pharmacy.name}"),
        ("pharmacist", "pharmacist@demo.example", pharmacy.name),
        ("patient", "alex@demo.example",
         f"Alex Kim, registry ID {alex.registry_id}, born {alex.date_of_birth}: "
         "can get pregnant, ready for an authorization today"),
        ("patient", "casey@demo.example",
         f"Casey Nguyen, registry ID {casey.registry_id}, born {casey.date_of_birth}: "
         "cannot get pregnant, ready for an authorization"),
        ("(not active)", "blake@demo.example",
         f"Blake Santos, registry ID {blake.registry_id}, born {blake.date_of_birth}: "
         f"screening done, confirmation test due; activation code {blake_code}"),
        ("(not active)", "dana@demo.example",
         f"Dana Okafor, registry ID {dana.registry_id}, born {dana.date_of_birth}: "
         f"just registered; activation code {dana_code}"),
    ]
    return logins


def _pass_questions(session: Session, patient: Patient) -> None:
    assert patient.user is not None
    _, questions = comprehension_questions(session, patient.user)
    take_comprehension(session, patient.user,
                       answers={str(q.id): q.correct_choice for q in questions})
