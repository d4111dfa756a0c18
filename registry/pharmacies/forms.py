from __future__ import annotations

from wtforms import BooleanField, DateField, EmailField, PasswordField, SelectField, StringField
from wtforms.validators import Optional

from registry.security import PASSWORD_HINT
from registry.web.support import OneTimeForm


class ActivateForm(OneTimeForm):
    staff_trained = BooleanField("I certify that this pharmacy's staff are trained in the "
                                 "program requirements, and I attest to them.")


class PharmacistForm(OneTimeForm):
    first_name = StringField("First name")
    last_name = StringField("Last name")
    email = EmailField("Email")
    password = PasswordField("Temporary password", description=PASSWORD_HINT)
    license_number = StringField("Licence number")
    training_completed_on = DateField("Training completed on", validators=[Optional()])


class TrainingForm(OneTimeForm):
    training_completed_on = DateField("Training completed on", validators=[Optional()])


class RemoveForm(OneTimeForm):
    pass


class PharmacySystemForm(OneTimeForm):
    """Program staff register a pharmacy's software for the NCPDP SCRIPT REMS door."""

    name = StringField("System name", description="Vendor and site, as staff will know it.")
    pharmacy_id = SelectField("Pharmacy it acts for", coerce=int, validate_choice=False)


class SystemActionForm(OneTimeForm):
    """Rotate the credential, or deactivate: no fields, one button."""
