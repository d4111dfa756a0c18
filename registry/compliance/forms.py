from __future__ import annotations

from wtforms import DateField, HiddenField, SelectField, StringField, TextAreaField
from wtforms.validators import Optional

from registry.compliance.models import ComplianceActionKind, ComplianceSubject
from registry.web.support import OneTimeForm, choices


class ComplianceForm(OneTimeForm):
    subject_type = SelectField("Who", choices=choices([(s.value, s.value.capitalize())
                                                       for s in ComplianceSubject]),
                               validate_choice=False)
    subject = StringField("Name or number", description="A name, an email, an NPI, a pharmacy's "
                          "NCPDP number or a pharmacist's licence number.")
    subject_id = HiddenField()  # set once one person is found (or from the search page)
    action = SelectField("Action", choices=choices([(a.value, a.value.capitalize())
                                                    for a in ComplianceActionKind]),
                         validate_choice=False)
    until = DateField("Suspended until", validators=[Optional()],
                      description="Only for a suspension: the last day it lasts.")
    reason = TextAreaField("Reason")
