"""Every JSON body the API sends, in one place."""

from __future__ import annotations

from dataclasses import asdict
from datetime import date, datetime
from typing import Any

from registry.cycles.models import (
    ComprehensionAttempt,
    ComprehensionQuestion,
    ContraceptionEntry,
    Counseling,
    Cycle,
)
from registry.patients.models import Patient
from registry.pregnancies.models import PregnancyTest
from registry.rules import (
    Decision,
)


def iso(value: date | datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def patient(p: Patient) -> dict[str, Any]:
    return {
        "registry_id": p.registry_id,
        "first_name": p.first_name,
        "last_name": p.last_name,
        "date_of_birth": iso(p.date_of_birth),
        "email": p.email,
        "risk_category": p.risk_category,
        "status": p.status,
        "prescriber": {"id": p.prescriber.id, "npi": p.prescriber.npi,
                       "name": p.prescriber.name},
        "registered_on": iso(p.registered_on),
        "activated_on": iso(p.activated_on),
        "consent_signed_on": iso(p.consent_signed_on),
        "home_tests_allowed": p.home_tests_allowed,
        "contraception_start_date": iso(p.contraception_start_on),
        "course_number": p.course_number,
        "last_dose_on": iso(p.last_dose_on),
        "treatment_completed_on": iso(p.treatment_completed_on),
    }


def registered(p: Patient, code: str, expires: date) -> dict[str, Any]:
    return {"registry_id": p.registry_id, "status": p.status, "activation_code": code,
            "activation_expires_on": iso(expires)}


def activated(p: Patient) -> dict[str, Any]:
    return {"registry_id": p.registry_id, "status": p.status}


def pregnancy_test(test: PregnancyTest, cycle: Cycle | None) -> dict[str, Any]:
    return {"id": test.id, "purpose": test.purpose, "result": test.result,
            "cycle_id": cycle.id if cycle else None}


def counseling(row: Counseling, cycle: Cycle | None) -> dict[str, Any]:
    return {"id": row.id, "cycle_id": row.cycle_id, "counseled_on": iso(row.counseled_on),
            "window_closes_on": iso(cycle.closes_on) if cycle else None}


def comprehension_questions(cycle: Cycle | None,
                            questions: list[ComprehensionQuestion]) -> dict[str, Any]:
    """The questions and choices, never the correct answers."""
    return {
        "cycle_id": cycle.id if cycle else None,
        "questions": [{"id": q.id, "text": q.text,
                       "choices": [{"id": c["id"], "text": c["text"]} for c in q.choices]}
                      for q in questions],
    }


def comprehension_result(attempt: ComprehensionAttempt) -> dict[str, Any]:
    return {"passed": attempt.passed, "incorrect": list(attempt.incorrect),
            "cycle_id": attempt.cycle_id}


def contraception(entry: ContraceptionEntry) -> dict[str, Any]:
    return {"matches_prescriber": entry.matches_prescriber, "cycle_id": entry.cycle_id}


def reason(r: dict[str, Any]) -> dict[str, Any]:
    return {"code": r["code"], "message": r["message"], "action": r.get("action"),
            "actor": r.get("actor"), "due_on": r.get("due_on")}


def reasons(decision: Decision) -> list[dict[str, Any]]:
    return [reason(r.as_dict()) for r in decision.reasons]


def status(decision: Decision) -> dict[str, Any]:
    cycle = decision.window.as_dict() if decision.window is not None else None
    end = decision.treatment_end
    return {
        "eligible": decision.eligible,
        "reasons": reasons(decision),
        "ruleset": decision.ruleset,
        "today": iso(decision.today),
        "cycle": cycle,
        "next_steps": [s.as_dict() for s in decision.next_steps],
        "lockout_until": iso(decision.lockout_until),
        "do_not_dispense_after": iso(decision.do_not_dispense_after),
        "treatment_end": {k: (iso(v) if isinstance(v, date) else
                              list(v) if isinstance(v, tuple) else v)
                          for k, v in asdict(end).items()} if end is not None else None,
    }
