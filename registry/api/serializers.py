"""Every JSON body the API sends, in one place."""

from __future__ import annotations

from dataclasses import asdict
from datetime import date, datetime
from typing import Any

from registry import clock
from registry.authorizations.models import Authorization
from registry.authorizations.operations import Outcome, effective_status
from registry.cycles.models import (
    ComprehensionAttempt,
    ComprehensionQuestion,
    ContraceptionEntry,
    Counseling,
    Cycle,
)
from registry.params import current as current_params
from registry.patients.models import Patient
from registry.pharmacies.models import Pharmacist, Pharmacy
from registry.pregnancies.models import PregnancyTest
from registry.prescribers.models import Designee, Prescriber
from registry.rules import (
    Decision,
    StakeholderFacts,
    designee_standing,
    pharmacist_standing,
    pharmacy_standing,
    prescriber_standing,
)


def iso(value: date | datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def prescriber_status(p: Prescriber) -> dict[str, Any]:
    s = prescriber_standing(StakeholderFacts(p.attested_on, p.suspended_until, p.deactivated_on),
                            clock.today(), current_params())
    return {"id": p.id, "status": s.state, "npi": p.npi, "attested_on": iso(p.attested_on),
            "expires_on": iso(s.expires_on)}


def designee_status(d: Designee) -> dict[str, Any]:
    s = designee_standing(StakeholderFacts(d.attested_on, d.suspended_until, d.deactivated_on),
                          clock.today(), current_params())
    return {"id": d.id, "status": s.state, "attested_on": iso(d.attested_on),
            "expires_on": iso(s.expires_on)}


def pharmacy_status(ph: Pharmacy) -> dict[str, Any]:
    s = pharmacy_standing(
        StakeholderFacts(ph.activated_on, ph.suspended_until, ph.deactivated_on),
        clock.today(), current_params(),
    )
    rsp = next((p for p in ph.pharmacists if p.is_rsp), None)
    return {"id": ph.id, "status": s.state, "name": ph.name, "ncpdp_id": ph.ncpdp_id,
            "npi": ph.npi, "activated_on": iso(ph.activated_on), "expires_on": iso(s.expires_on),
            "rsp_pharmacist_id": rsp.id if rsp else None}


def pharmacist_status(p: Pharmacist) -> dict[str, Any]:
    s = pharmacist_standing(
        StakeholderFacts(p.training_completed_on, p.suspended_until, p.deactivated_on,
                         p.removed_on), clock.today(), current_params(),
    )
    return {"id": p.id, "status": s.state, "pharmacy_id": p.pharmacy_id,
            "training_completed_on": iso(p.training_completed_on),
            "expires_on": iso(s.expires_on)}


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


def check(decision: Decision) -> dict[str, Any]:
    return {"eligible": decision.eligible, "reasons": reasons(decision),
            "ruleset": decision.ruleset,
            "do_not_dispense_after": iso(decision.do_not_dispense_after)}


def issued(outcome: Outcome) -> dict[str, Any]:
    """The answer to the request that issued the RMA (replayed unchanged on retries)."""
    auth = outcome.authorization
    assert auth is not None
    return {
        "rma": auth.rma,
        "status": "authorized",
        "do_not_dispense_after": iso(auth.do_not_dispense_after),
        "ruleset": auth.ruleset,
        "issued_on": iso(auth.issued_on),
        "days_supply": auth.days_supply,
        "quantity": auth.quantity,
        "refills": auth.refills,
        "patient": {"first_name": auth.patient.first_name, "last_name": auth.patient.last_name},
    }


def authorization(auth: Authorization) -> dict[str, Any]:
    return {
        "rma": auth.rma,
        "status": effective_status(auth),
        "do_not_dispense_after": iso(auth.do_not_dispense_after),
        "ruleset": auth.ruleset,
        "issued_on": iso(auth.issued_on),
        "issued_at": iso(auth.issued_at),
        "days_supply": auth.days_supply,
        "quantity": auth.quantity,
        "refills": auth.refills,
        "patient": {"registry_id": auth.patient.registry_id,
                    "first_name": auth.patient.first_name,
                    "last_name": auth.patient.last_name},
        "pharmacy": {"id": auth.pharmacy.id, "name": auth.pharmacy.name,
                     "ncpdp_id": auth.pharmacy.ncpdp_id},
        "dispense": {"dispensed_on": iso(auth.dispense.dispensed_on),
                     "quantity": auth.dispense.quantity,
                     "days_supply": auth.dispense.days_supply} if auth.dispense else None,
        "reversal": {"reason": auth.reversal.reason,
                     "reversed_at": iso(auth.reversal.reversed_at)} if auth.reversal else None,
    }


def dispensed(auth: Authorization) -> dict[str, Any]:
    return {"rma": auth.rma, "status": "dispensed",
            "dispensed_on": iso(auth.dispense.dispensed_on) if auth.dispense else None}


def reversed_(auth: Authorization) -> dict[str, Any]:
    return {"rma": auth.rma, "status": "reversed"}


