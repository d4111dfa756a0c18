from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import DateField, StringField
from wtforms.validators import Optional


class PeriodForm(FlaskForm):
    class Meta:
        csrf = False  # a GET filter: it changes nothing

    date_from = DateField("From", validators=[Optional()])
    date_to = DateField("To", validators=[Optional()])


class AuditFilterForm(FlaskForm):
    class Meta:
        csrf = False

    subject = StringField("Subject", description="A type such as patient, or type:number, e.g. "
                          "patient:registry ID, prescriber:NPI, pharmacy:NCPDP number.")
    action = StringField("Action", description="A tag such as authorization:issue.")
    who = StringField("Who", description="An email, a prescriber's NPI or a patient's registry "
                      "ID.")
    since = DateField("Since", validators=[Optional()])
