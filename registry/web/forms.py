"""Forms of the sign-in pages: login, patient activation, prescriber enrollment."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import DateField, EmailField, HiddenField, PasswordField, StringField
from wtforms.validators import Optional

from registry.security import PASSWORD_HINT
from registry.web.support import OneTimeForm


class LoginForm(FlaskForm):
    email = EmailField("Email", render_kw={"autocomplete": "username"})
    password = PasswordField("Password", render_kw={"autocomplete": "current-password"})
    next = HiddenField()


class ActivationForm(OneTimeForm):
    registry_id = StringField("Registry ID", description="The 10 digits on your ID card.")
    date_of_birth = DateField("Date of birth", validators=[Optional()])
    activation_code = StringField("Activation code",
                                  description="From your prescriber; it works once.")
    password = PasswordField("Choose a password", description=PASSWORD_HINT,
                             render_kw={"autocomplete": "new-password"})


class EnrollForm(OneTimeForm):
    first_name = StringField("First name")
    last_name = StringField("Last name")
    email = EmailField("Email")
    password = PasswordField("Choose a password", description=PASSWORD_HINT,
                             render_kw={"autocomplete": "new-password"})
    npi = StringField("NPI", description="Your 10-digit National Provider Identifier.")
    license_state = StringField("Licence state", description="Two letters, e.g. NY.")


class PharmacyRegistrationForm(OneTimeForm):
    name = StringField("Pharmacy name")
    ncpdp_id = StringField("NCPDP provider ID", description="7 digits.")
    npi = StringField("Pharmacy NPI", description="10 digits.")
    address = StringField("Address")
    rsp_first_name = StringField("First name")
    rsp_last_name = StringField("Last name")
    rsp_email = EmailField("Email", render_kw={"autocomplete": "username"})
    rsp_password = PasswordField("Choose a password", description=PASSWORD_HINT,
                                 render_kw={"autocomplete": "new-password"})
    rsp_license_number = StringField("Pharmacist licence number")
