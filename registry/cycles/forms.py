from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l
from wtforms import BooleanField, DateField, RadioField, SelectField
from wtforms.validators import Optional

from registry.i18n import current_language
from registry.rules.contraception import MINI_PILL, PRIMARY_METHODS, SECONDARY_METHODS
from registry.web.support import OneTimeForm, choices

METHOD_CHOICES = [
    *choices([("", _l("Choose a method"))]),
    *choices([(k, _l(v)) for k, v in PRIMARY_METHODS.items()], _l("Primary methods")),
    *choices([(k, _l(v)) for k, v in SECONDARY_METHODS.items()], _l("Secondary methods")),
    *choices([(MINI_PILL, _l("Progestin-only \"mini-pill\""))], _l("Not accepted")),
]

# Plain-words help shown next to the choice (a teenager on a phone reads this).
METHOD_HELP = {
    "tubal_sterilization": _l("Tubes tied or blocked (you still count as able to get "
                              "pregnant)."),
    "partner_vasectomy": _l("Your only partner has had a vasectomy."),
    "iud": _l("A small device placed in the uterus by a clinician (copper or hormonal)."),
    "hormonal_combination_pill": _l("A daily pill with estrogen and progestin."),
    "hormonal_patch": _l("A skin patch changed weekly."),
    "hormonal_injection": _l("A shot every 3 months."),
    "hormonal_implant": _l("A small rod under the skin of the arm."),
    "hormonal_vaginal_ring": _l("A ring placed in the vagina, changed monthly."),
    "male_latex_condom": _l("Used every time; with or without spermicide."),
    "diaphragm_with_spermicide": _l("A cup placed before sex, always with spermicide."),
    "cervical_cap_with_spermicide": _l("A small cap over the cervix, always with spermicide."),
    "vaginal_sponge": _l("A sponge that contains spermicide."),
}


class ContraceptionFields(OneTimeForm):
    abstinence = BooleanField(_l("I commit to abstinence (no sex) instead of two methods"))
    method_1 = SelectField(_l("First method"), choices=METHOD_CHOICES, validate_choice=False)
    method_2 = SelectField(_l("Second method"), choices=METHOD_CHOICES, validate_choice=False)

    def contraception(self) -> dict[str, Any]:
        methods = [m for m in (self.method_1.data, self.method_2.data) if m]
        return {"methods": methods, "abstinence": bool(self.abstinence.data)}


class CounselingForm(ContraceptionFields):
    counseled_on = DateField(_l("Counseled on"), validators=[Optional()])


def questions_form(questions: list[Any], **kwargs: Any) -> OneTimeForm:
    """A form with one radio group per asked question, named ``q_<id>``."""

    class QuestionsForm(OneTimeForm):
        pass

    language = current_language()
    for q in questions:
        shown = q.in_language(language)
        setattr(QuestionsForm, f"q_{q.id}", RadioField(
            shown["text"], choices=choices([(c["id"], c["text"]) for c in shown["choices"]]),
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
