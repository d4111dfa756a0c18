from __future__ import annotations

from wtforms import BooleanField, DateField, EmailField, RadioField, StringField, TextAreaField
from wtforms.validators import Optional

from registry.web.support import OneTimeForm, choices

RISK_CHOICES = choices([
    ("can_get_pregnant", "Can get pregnant (includes tubal ligation)"),
    ("cannot_get_pregnant", "Cannot get pregnant (hysterectomy, bilateral oophorectomy, or "
     "medically confirmed menopause)"),
])


class RegisterPatientForm(OneTimeForm):
    first_name = StringField("First name")
    last_name = StringField("Last name")
    date_of_birth = DateField("Date of birth", validators=[Optional()])
    email = EmailField("Patient's email", description="They sign in with it after activation.")
    risk_category = RadioField("Risk category", choices=RISK_CHOICES, validate_choice=False)
    consent_signed_on = DateField("Informed consent signed on", validators=[Optional()])
    birth_defects_consent_signed_on = DateField(
        "Birth-defects consent signed on", validators=[Optional()],
        description="For a patient who can get pregnant; defaults to the consent date.")
    guardian_name = StringField("Parent or guardian's name", description="Required under 18.")
    guardian_signed_on = DateField("Parent or guardian signed on", validators=[Optional()])
    contraception_start_date = DateField(
        "Contraception started on", validators=[Optional()],
        description="For a patient who can get pregnant: the confirmation test must be at "
        "least 30 days after this.")
    home_tests_allowed = BooleanField("Allow home pregnancy tests once treatment has started "
                                      "(2026 rules)")
    different_person = BooleanField("Same name and date of birth, but a different person")


class RiskCategoryForm(OneTimeForm):
    risk_category = RadioField("New risk category", choices=RISK_CHOICES, validate_choice=False)
    reason = TextAreaField("Reason for the change")
    contraception_start_date = DateField(
        "Contraception started on", validators=[Optional()],
        description="Required when the patient now can get pregnant: the confirmation test "
        "must be at least 30 days after this.")


class CareForm(OneTimeForm):
    home_tests_allowed = BooleanField("Allow home pregnancy tests once treatment has started "
                                      "(2026 rules)")
    home_test_procedure_attested = BooleanField(
        "I have a procedure to prevent a falsified home result (for example a time-stamped "
        "photo of the test)")


class EndTreatmentForm(OneTimeForm):
    last_dose_on = DateField("Date of the last dose", validators=[Optional()])


class NewCourseForm(OneTimeForm):
    contraception_start_date = DateField("Contraception started on", validators=[Optional()])


class ReissueForm(OneTimeForm):
    pass


class TakeOnForm(OneTimeForm):
    registry_id = StringField("Patient's registry ID")
    date_of_birth = DateField("Patient's date of birth", validators=[Optional()])
    reason = TextAreaField("Reason", description="Optional, e.g. the patient moved.")


class DeactivateForm(OneTimeForm):
    reason = TextAreaField("Reason for taking the patient out of the program")


class TransferForm(OneTimeForm):
    to_prescriber_npi = StringField("New prescriber's NPI")
    reason = TextAreaField("Reason for the transfer")
