"""When prescribers, designees, pharmacies and pharmacists are active (rules §2)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from registry.rules.dates import fmt
from registry.rules.facts import StakeholderFacts
from registry.rules.params import Parameters


@dataclass(frozen=True)
class Standing:
    active: bool
    state: str  # pending, active, lapsed, suspended, deactivated, removed
    expires_on: date | None  # first day on which it is no longer active
    detail: str


def _standing(
    facts: StakeholderFacts, today: date, valid_days: int, pending_text: str, lapsed_text: str
) -> Standing:
    expires = facts.since + timedelta(days=valid_days) if facts.since else None
    if facts.deactivated_on and today >= facts.deactivated_on:
        return Standing(False, "deactivated", expires, "deactivated by program staff")
    if facts.removed_on and today >= facts.removed_on:
        return Standing(False, "removed", expires, "removed from the pharmacy")
    if facts.suspended_until and today <= facts.suspended_until:
        until = fmt(facts.suspended_until)
        return Standing(False, "suspended", expires, f"suspended by program staff until {until}")
    if facts.since is None or expires is None:
        return Standing(False, "pending", None, pending_text)
    if today >= expires:
        return Standing(False, "lapsed", expires, lapsed_text)
    return Standing(True, "active", expires, "active")


def prescriber_standing(facts: StakeholderFacts, today: date, params: Parameters) -> Standing:
    """Active from attestation until the 365th day after it (inactive on that day)."""
    return _standing(
        facts, today, params.prescriber_attestation_days,
        "has not attested to the program requirements",
        "attestation has lapsed (yearly re-attestation is due)",
    )


def designee_standing(facts: StakeholderFacts, today: date, params: Parameters) -> Standing:
    return _standing(
        facts, today, params.designee_attestation_days,
        "has not attested to the program requirements",
        "attestation has lapsed (yearly re-attestation is due)",
    )


def pharmacy_standing(facts: StakeholderFacts, today: date, params: Parameters) -> Standing:
    return _standing(
        facts, today, params.pharmacy_activation_days,
        "has not been activated by its Responsible Site Pharmacist",
        "activation has lapsed (the Responsible Site Pharmacist must re-activate yearly)",
    )


def pharmacist_standing(facts: StakeholderFacts, today: date, params: Parameters) -> Standing:
    """Lapses when the training is *older than* 365 days, so day 365 is still good."""
    return _standing(
        facts, today, params.pharmacist_training_days + 1,
        "has no training-completed date",
        "training is more than a year old",
    )


def reminder_due(standing: Standing, today: date, params: Parameters) -> bool:
    """True within the reminder period before a yearly attestation or activation lapses."""
    return bool(
        standing.active
        and standing.expires_on
        and (standing.expires_on - today).days <= params.attestation_reminder_days
    )
