"""Every JSON body the API sends, in one place."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from registry import clock
from registry.authorizations.models import Authorization
from registry.authorizations.operations import Outcome, effective_status
from registry.params import current as current_params
from registry.pharmacies.models import Pharmacist, Pharmacy
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




def reason(r: dict[str, Any]) -> dict[str, Any]:
    return {"code": r["code"], "message": r["message"], "action": r.get("action"),
            "actor": r.get("actor"), "due_on": r.get("due_on")}


def reasons(decision: Decision) -> list[dict[str, Any]]:
    return [reason(r.as_dict()) for r in decision.reasons]


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


