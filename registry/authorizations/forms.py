from __future__ import annotations

from wtforms import DateField, IntegerField, StringField, TextAreaField
from wtforms.validators import Optional

from registry.web.support import OneTimeForm, TypedDateField


class AuthorizeForm(OneTimeForm):
    registry_id = StringField("Patient's registry ID", description="10 digits, from the "
                              "patient's ID card.",
                              render_kw={"inputmode": "numeric", "autocomplete": "off",
                                         "data-scan-target": "registry_id"})
    date_of_birth = TypedDateField("Patient's date of birth", validators=[Optional()],
                                   description="YYYY-MM-DD or MM/DD/YYYY.")
    prescriber_npi = StringField("Prescriber's NPI", description="From the prescription.",
                                 render_kw={"inputmode": "numeric", "autocomplete": "off"})
    days_supply = IntegerField("Days' supply", validators=[Optional()])
    quantity = IntegerField("Quantity", validators=[Optional()])
    refills = IntegerField("Refills", validators=[Optional()], default=0)


class DispenseForm(OneTimeForm):
    dispensed_on = DateField("Dispensed on", validators=[Optional()])
    quantity = IntegerField("Quantity dispensed", validators=[Optional()])
    days_supply = IntegerField("Days' supply dispensed", validators=[Optional()])


class ReverseForm(OneTimeForm):
    reason = TextAreaField("Why it is reversed", description="Not dispensed, or returned to "
                           "stock.")
