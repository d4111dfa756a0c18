from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, PasswordField, SelectField, StringField
from wtforms.validators import DataRequired

from registry.security import PASSWORD_HINT
from registry.web.support import OneTimeForm


class AttestForm(OneTimeForm):
    agree = BooleanField(
        "I attest that I know the risks of isotretinoin and the program requirements, and "
        "that I will follow them for every patient.",
        validators=[DataRequired("Tick the box to attest.")],
    )


class ActForForm(FlaskForm):
    prescriber_id = SelectField("Prescriber you act for", coerce=int)


class DesigneeForm(OneTimeForm):
    first_name = StringField("First name")
    last_name = StringField("Last name")
    email = EmailField("Email")
    password = PasswordField("Temporary password",
                             description=PASSWORD_HINT + " Give it to them in person.")


class UnlinkForm(OneTimeForm):
    pass
