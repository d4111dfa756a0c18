from __future__ import annotations

from wtforms import DateField, IntegerField, SelectField, TextAreaField
from wtforms.validators import Optional

from registry.compliance.models import ComplianceActionKind, ComplianceSubject
from registry.web.support import OneTimeForm, choices


class ComplianceForm(OneTimeForm):
    subject_type = SelectField("Who", choices=choices([(s.value, s.value.capitalize())
                                                       for s in ComplianceSubject]),
                               validate_choice=False)
    subject_id = IntegerField("Their id", validators=[Optional()],
                              description="Find it with the search page.")
    action = SelectField("Action", choices=choices([(a.value, a.value.capitalize())
                                                    for a in ComplianceActionKind]),
                         validate_choice=False)
    until = DateField("Suspended until", validators=[Optional()],
                      description="Only for a suspension: the last day it lasts.")
    reason = TextAreaField("Reason")
