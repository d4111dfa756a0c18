"""Forms of the sign-in pages: login, patient activation, prescriber enrollment."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import DateField, EmailField, HiddenField, PasswordField, StringField
from wtforms.validators import Optional

from registry.security import PASSWORD_HINT
from registry.web.support import OneTimeForm


class LoginForm(FlaskForm):
    email = EmailField(_l("Email"), render_kw={"autocomplete": "username"})
    password = PasswordField(_l("Password"), render_kw={"autocomplete": "current-password"})
    next = HiddenField()


class ActivationForm(OneTimeForm):
    registry_id = StringField(_l("Registry ID"), description=_l("The 10 digits on your ID card."))
    date_of_birth = DateField(_l("Date of birth"), validators=[Optional()])
    activation_code = StringField(_l("Activation code"),
                                  description=_l("From your prescriber; it works once."))
    password = PasswordField(_l("Choose a password"), description=_l(PASSWORD_HINT),
                             render_kw={"autocomplete": "new-password"})


class EnrollForm(OneTimeForm):
    first_name = StringField(_l("First name"))
    last_name = StringField(_l("Last name"))
    email = EmailField(_l("Email"))
    password = PasswordField(_l("Choose a password"), description=_l(PASSWORD_HINT),
                             render_kw={"autocomplete": "new-password"})
    npi = StringField(_l("NPI"), description=_l("Your 10-digit National Provider Identifier."))
    license_state = StringField(_l("Licence state"), description=_l("Two letters, e.g. NY."))


class PharmacyRegistrationForm(OneTimeForm):
    name = StringField(_l("Pharmacy name"))
    ncpdp_id = StringField(_l("NCPDP provider ID"), description=_l("7 digits."))
    npi = StringField(_l("Pharmacy NPI"), description=_l("10 digits."))
    address = StringField(_l("Address"))
    rsp_first_name = StringField(_l("First name"))
    rsp_last_name = StringField(_l("Last name"))
    rsp_email = EmailField(_l("Email"), render_kw={"autocomplete": "username"})
    rsp_password = PasswordField(_l("Choose a password"), description=_l(PASSWORD_HINT),
                                 render_kw={"autocomplete": "new-password"})
    rsp_license_number = StringField(_l("Pharmacist licence number"))
