"""When prescribers, designees, pharmacies and pharmacists are active (rules §2)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from registry.rules import wording
from registry.rules.facts import StakeholderFacts
from registry.rules.params import Parameters
from registry.rules.vocabulary import StandingState


@dataclass(frozen=True)
class Standing:
    active: bool
    state: StandingState
    expires_on: date | None  # first day on which it is no longer active
    detail: str


def _standing(
    facts: StakeholderFacts, today: date, valid_days: int, pending_text: str, lapsed_text: str
) -> Standing:
    expires = facts.since + timedelta(days=valid_days) if facts.since else None
    if facts.deactivated_on and today >= facts.deactivated_on:
        state = StandingState.DEACTIVATED
        return Standing(False, state, expires, wording.standing_detail(state))
    if facts.removed_on and today >= facts.removed_on:
        state = StandingState.REMOVED
        return Standing(False, state, expires, wording.standing_detail(state))
    if facts.suspended_until and today <= facts.suspended_until:
        state = StandingState.SUSPENDED
        return Standing(False, state, expires,
                        wording.standing_detail(state, facts.suspended_until))
    if facts.since is None or expires is None:
        return Standing(False, StandingState.PENDING, None, pending_text)
    if today >= expires:
        return Standing(False, StandingState.LAPSED, expires, lapsed_text)
    return Standing(True, StandingState.ACTIVE, expires,
                    wording.standing_detail(StandingState.ACTIVE))


def prescriber_standing(facts: StakeholderFacts, today: date, params: Parameters) -> Standing:
    """Active from attestation until the 365th day after it (inactive on that day)."""
    return _standing(
        facts, today, params.prescriber_attestation_days,
        wording.ATTESTATION_PENDING, wording.ATTESTATION_LAPSED,
    )


def designee_standing(facts: StakeholderFacts, today: date, params: Parameters) -> Standing:
    return _standing(
        facts, today, params.designee_attestation_days,
        wording.ATTESTATION_PENDING, wording.ATTESTATION_LAPSED,
    )


def pharmacy_standing(facts: StakeholderFacts, today: date, params: Parameters) -> Standing:
    return _standing(
        facts, today, params.pharmacy_activation_days,
        wording.PHARMACY_PENDING, wording.PHARMACY_LAPSED,
    )


def pharmacist_standing(facts: StakeholderFacts, today: date, params: Parameters) -> Standing:
    """Lapses when the training is *older than* 365 days, so day 365 is still good."""
    return _standing(
        facts, today, params.pharmacist_training_days + 1,
        wording.PHARMACIST_PENDING, wording.PHARMACIST_LAPSED,
    )


def reminder_due(standing: Standing, today: date, params: Parameters) -> bool:
    """True within the reminder period before a yearly attestation or activation lapses."""
    return bool(
        standing.active
        and standing.expires_on
        and (standing.expires_on - today).days <= params.attestation_reminder_days
    )
