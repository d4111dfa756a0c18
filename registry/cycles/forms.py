from __future__ import annotations

from typing import Any

from wtforms import BooleanField, DateField, RadioField, SelectField
from wtforms.validators import Optional

from registry.rules.contraception import MINI_PILL, PRIMARY_METHODS, SECONDARY_METHODS
from registry.web.support import OneTimeForm, choices

METHOD_CHOICES = [
    *choices([("", "Choose a method")]),
    *choices(list(PRIMARY_METHODS.items()), "Primary methods"),
    *choices(list(SECONDARY_METHODS.items()), "Secondary methods"),
    *choices([(MINI_PILL, "Progestin-only \"mini-pill\"")], "Not accepted"),
]

# Plain-words help shown next to the choice (a teenager on a phone reads this).
METHOD_HELP = {
    "tubal_sterilization": "Tubes tied or blocked (you still count as able to get pregnant).",
    "partner_vasectomy": "Your only partner has had a vasectomy.",
    "iud": "A small device placed in the uterus by a clinician (copper or hormonal).",
    "hormonal_combination_pill": "A daily pill with estrogen and progestin.",
    "hormonal_patch": "A skin patch changed weekly.",
    "hormonal_injection": "A shot every 3 months.",
    "hormonal_implant": "A small rod under the skin of the arm.",
    "hormonal_vaginal_ring": "A ring placed in the vagina, changed monthly.",
    "male_latex_condom": "Used every time; with or without spermicide.",
    "diaphragm_with_spermicide": "A cup placed before sex, always with spermicide.",
    "cervical_cap_with_spermicide": "A small cap over the cervix, always with spermicide.",
    "vaginal_sponge": "A sponge that contains spermicide.",
}


class ContraceptionFields(OneTimeForm):
    abstinence = BooleanField("I commit to abstinence (no sex) instead of two methods")
    method_1 = SelectField("First method", choices=METHOD_CHOICES, validate_choice=False)
    method_2 = SelectField("Second method", choices=METHOD_CHOICES, validate_choice=False)

    def contraception(self) -> dict[str, Any]:
        methods = [m for m in (self.method_1.data, self.method_2.data) if m]
        return {"methods": methods, "abstinence": bool(self.abstinence.data)}


class CounselingForm(ContraceptionFields):
    counseled_on = DateField("Counseled on", validators=[Optional()])


def questions_form(questions: list[Any], **kwargs: Any) -> OneTimeForm:
    """A form with one radio group per asked question, named ``q_<id>``."""

    class QuestionsForm(OneTimeForm):
        pass

    for q in questions:
        setattr(QuestionsForm, f"q_{q.id}", RadioField(
            q.text, choices=choices([(c["id"], c["text"]) for c in q.choices]),
            validate_choice=False))
    return QuestionsForm(**kwargs)


CONTRACEPTION_ALIASES = {
    "contraception": "method_1",
    "contraception.methods": "method_1",
    "contraception.methods[0]": "method_1",
    "contraception.methods[1]": "method_2",
    "contraception.abstinence": "abstinence",
    "methods": "method_1",
    "methods[0]": "method_1",
    "methods[1]": "method_2",
}
