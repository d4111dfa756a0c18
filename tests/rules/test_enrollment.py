"""Rules §2: age at registration (at least 12; a guardian under 18) and consent dates."""

from __future__ import annotations

from datetime import date

import pytest

from registry.rules import age_on, registration_errors
from tests.rules.build import P

TODAY = date(2026, 3, 10)


def errors(dob: date, **kw):
    data = {
        "date_of_birth": dob, "today": TODAY, "risk_category": "cannot_get_pregnant",
        "consent_signed_on": TODAY, "guardian_name": None, "guardian_signed_on": None,
        "contraception_start_on": None, "params": P,
    }
    data.update(kw)
    return registration_errors(**data)


def born_years_ago(years: int, *, birthday_tomorrow: bool = False) -> date:
    dob = date(TODAY.year - years, TODAY.month, TODAY.day)
    if birthday_tomorrow:
        dob = date(dob.year, TODAY.month, TODAY.day + 1)
    return dob


GUARDIAN = {"guardian_name": "Gwen Guardian", "guardian_signed_on": TODAY}


def test_age_on_counts_the_birthday_itself():
    assert age_on(date(2014, 3, 10), TODAY) == 12
    assert age_on(date(2014, 3, 11), TODAY) == 11


def test_age_11_the_day_before_the_12th_birthday_is_refused():
    errs = errors(born_years_ago(12, birthday_tomorrow=True), **GUARDIAN)
    assert list(errs) == ["date_of_birth"]
    assert "at least 12" in errs["date_of_birth"][0]
    assert "(is 11)" in errs["date_of_birth"][0]


def test_age_12_on_the_birthday_is_accepted():
    assert errors(born_years_ago(12), **GUARDIAN) == {}


def test_age_17_needs_a_guardian_name_and_signature_date():
    errs = errors(born_years_ago(18, birthday_tomorrow=True))
    assert set(errs) == {"guardian_name", "guardian_signed_on"}
    assert errors(born_years_ago(18, birthday_tomorrow=True), **GUARDIAN) == {}


def test_age_17_with_a_blank_guardian_name_is_refused():
    errs = errors(born_years_ago(17), guardian_name="   ", guardian_signed_on=TODAY)
    assert list(errs) == ["guardian_name"]


def test_age_18_on_the_birthday_needs_no_guardian():
    assert errors(born_years_ago(18)) == {}


def test_guardian_signature_in_the_future_is_refused():
    errs = errors(born_years_ago(15), guardian_name="G", guardian_signed_on=date(2026, 3, 11))
    assert list(errs) == ["guardian_signed_on"]


def test_future_date_of_birth_is_refused_alone():
    assert list(errors(date(2026, 3, 11))) == ["date_of_birth"]


@pytest.mark.parametrize(("signed", "fragment"), [
    (date(2026, 3, 11), "future"), (date(1990, 1, 1), "before the date of birth"),
])
def test_consent_date_must_be_between_birth_and_today(signed, fragment):
    errs = errors(date(1995, 6, 15), consent_signed_on=signed)
    assert list(errs) == ["consent_signed_on"]
    assert fragment in errs["consent_signed_on"][0]


def test_can_get_pregnant_needs_a_contraception_start_date():
    dob = date(1995, 6, 15)
    errs = errors(dob, risk_category="can_get_pregnant")
    assert list(errs) == ["contraception_start_date"]
    assert errors(dob, risk_category="can_get_pregnant",
                  contraception_start_on=date(2026, 4, 1)) == {}
    assert list(errors(dob, risk_category="can_get_pregnant",
                       contraception_start_on=date(1990, 1, 1))) == ["contraception_start_date"]


def test_minimum_and_adult_age_are_parameters():
    from registry.rules import Parameters

    params = Parameters(minimum_age=16, adult_age=21)
    errs = errors(born_years_ago(15), params=params, **GUARDIAN)
    assert list(errs) == ["date_of_birth"]
    assert list(errors(born_years_ago(20), params=params)) == ["guardian_name",
                                                               "guardian_signed_on"]
