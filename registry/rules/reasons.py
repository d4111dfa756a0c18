"""Reason codes of rules §6, with the plain words a pharmacist reads at the counter."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

REASON_CODES: dict[str, str] = {
    "PHARMACY_NOT_ACTIVE": "The pharmacy is not active in the program.",
    "PHARMACIST_NOT_AUTHORIZED": "The pharmacist is not authorized to request authorizations.",
    "PATIENT_NOT_FOUND": "No patient matches that registry ID and date of birth.",
    "PATIENT_NOT_ACTIVE": "The patient is not active in the program.",
    "PREGNANCY_REPORTED": "A pregnancy has been reported for this patient.",
    "PRESCRIBER_NOT_ACTIVE": "The patient's prescriber is not active in the program.",
    "PRESCRIBER_MISMATCH": "The prescriber NPI is not the patient's prescriber of record.",
    "CONFIRMATION_TEST_REQUIRED": (
        "The screening and confirmation pregnancy tests are not both done."
    ),
    "PREGNANCY_TEST_REQUIRED": "There is no negative pregnancy test for the current cycle.",
    "COUNSELING_NOT_CONFIRMED": "The prescriber has not confirmed counseling for this cycle.",
    "COMPREHENSION_NOT_PASSED": "The patient has not passed the comprehension questions.",
    "CONTRACEPTION_NOT_ATTESTED": "The patient has not entered their contraception.",
    "CONTRACEPTION_MISMATCH": "The patient's contraception does not match the prescriber's.",
    "WINDOW_NOT_OPEN": "The prescription window has not opened yet.",
    "WINDOW_EXPIRED": "The prescription window has ended.",
    "LOCKOUT_ACTIVE": "A new confirmation test cannot be taken yet (missed first window).",
    "DAYS_SUPPLY_EXCEEDS_LIMIT": "The days' supply is over the limit.",
    "REFILLS_NOT_ALLOWED": (
        "Refills are not allowed: each prescription needs its own authorization."
    ),
    "AUTHORIZATION_ALREADY_ISSUED": "An authorization is already open or this cycle was dispensed.",
    "REFILL_TOO_SOON": "It is too soon since the last dispense.",
}


@dataclass(frozen=True)
class Reason:
    code: str
    message: str
    action: str | None = None
    actor: str | None = None  # prescriber, patient, pharmacy, program_staff
    due_on: date | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "message": self.message,
            "action": self.action,
            "actor": self.actor,
            "due_on": self.due_on.isoformat() if self.due_on else None,
        }


@dataclass(frozen=True)
class NextStep:
    actor: str
    action: str
    due_on: date | None = None
    not_before: date | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "actor": self.actor,
            "action": self.action,
            "due_on": self.due_on.isoformat() if self.due_on else None,
            "not_before": self.not_before.isoformat() if self.not_before else None,
        }
