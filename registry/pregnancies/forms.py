from __future__ import annotations

from wtforms import DateField, RadioField, SelectField, TextAreaField
from wtforms.validators import Optional

from registry.pregnancies.models import PregnancyOutcome
from registry.web.support import OneTimeForm, TypedDateField, choices


class TestForm(OneTimeForm):
    specimen_collected_on = DateField("Specimen collected on", validators=[Optional()])
    result = RadioField("Result",
                        choices=choices([("negative", "Negative"), ("positive", "Positive")]),
                        validate_choice=False)
    setting = RadioField("Where the test was done", choices=choices([
        ("lab", "Laboratory"), ("office", "Prescriber's office"), ("home", "At home")]),
        validate_choice=False)


class ReportForm(OneTimeForm):
    reported_on = DateField("Date of the report", validators=[Optional()])
    notes = TextAreaField("What you know", description="Optional.")


class FollowUpForm(OneTimeForm):
    noted_on = TypedDateField("Learned on", validators=[Optional()],
                              description="Left empty: today.")
    note = TextAreaField("Follow-up note")
    outcome = SelectField("Outcome", choices=choices([("", "No change")] + [
        (o.value, o.value.replace("_", " ")) for o in PregnancyOutcome]), validate_choice=False)
    outcome_on = DateField("Outcome date", validators=[Optional()])


class LiftForm(OneTimeForm):
    reason = TextAreaField("Why the block is lifted", description="A documented false report.")
