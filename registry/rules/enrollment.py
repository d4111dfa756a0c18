"""Registration of patients: age, guardian and consent (rules §2, §3)."""

from __future__ import annotations

from datetime import date

from registry.rules.params import Parameters
from registry.rules.vocabulary import RiskCategory


def age_on(date_of_birth: date, day: date) -> int:
    years = day.year - date_of_birth.year
    if (day.month, day.day) < (date_of_birth.month, date_of_birth.day):
        years -= 1
    return years


def registration_errors(
    *,
    date_of_birth: date,
    today: date,
    risk_category: str,
    consent_signed_on: date,
    guardian_name: str | None,
    guardian_signed_on: date | None,
    contraception_start_on: date | None,
    params: Parameters,
) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}

    def err(field: str, message: str) -> None:
        errors.setdefault(field, []).append(message)

    if date_of_birth > today:
        err("date_of_birth", "The date of birth cannot be in the future.")
        return errors
    age = age_on(date_of_birth, today)
    if age < params.minimum_age:
        err(
            "date_of_birth",
            f"The patient must be at least {params.minimum_age} years old on the day of "
            f"registration (is {age}).",
        )
    if consent_signed_on > today:
        err("consent_signed_on", "The consent signature date cannot be in the future.")
    if consent_signed_on < date_of_birth:
        err("consent_signed_on", "The consent signature date is before the date of birth.")
    if age < params.adult_age:
        if not (guardian_name or "").strip():
            err("guardian_name", f"Patients under {params.adult_age} need a parent or guardian's "
                "name with the consent.")
        if guardian_signed_on is None:
            err("guardian_signed_on", f"Patients under {params.adult_age} need the parent or "
                "guardian's signature date.")
        elif guardian_signed_on > today:
            err("guardian_signed_on", "The guardian's signature date cannot be in the future.")
    if risk_category == RiskCategory.CAN_GET_PREGNANT:
        if contraception_start_on is None:
            err("contraception_start_date", "Required for a patient who can get pregnant: the "
                "date the patient started using contraception (or the planned start date).")
        elif contraception_start_on < date_of_birth:
            err("contraception_start_date", "The contraception start date is before the date "
                "of birth.")
    return errors
