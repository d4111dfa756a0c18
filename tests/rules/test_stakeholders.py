"""Rules §2: when prescribers, designees, pharmacies and pharmacists are active.

Interpretation (from registry/rules/stakeholders.py): a prescriber, designee or pharmacy is
inactive *on* the 365th day after the last attestation/activation (so day 364 is the last
active day); a pharmacist's training lapses when it is *older than* 365 days (so day 365 is
still good, day 366 is not). A suspension "until" a date includes that date.
"""

from __future__ import annotations

from datetime import date

import pytest

from registry.rules import (
    Parameters,
    StakeholderFacts,
    designee_standing,
    pharmacist_standing,
    pharmacy_standing,
    prescriber_standing,
)
from registry.rules.dates import fmt
from registry.rules.stakeholders import reminder_due
from tests.rules.build import P, d

SINCE = date(2025, 1, 10)
YEARLY = [prescriber_standing, designee_standing, pharmacy_standing]


@pytest.mark.parametrize("standing", YEARLY)
def test_yearly_attestation_active_on_day_364_lapsed_on_day_365(standing):
    facts = StakeholderFacts(since=SINCE)
    on_364 = standing(facts, SINCE + d(364), P)
    on_365 = standing(facts, SINCE + d(365), P)
    assert (on_364.active, on_364.state) == (True, "active")
    assert (on_365.active, on_365.state) == (False, "lapsed")
    assert on_364.expires_on == on_365.expires_on == SINCE + d(365)


@pytest.mark.parametrize("standing", YEARLY)
def test_active_on_the_day_of_attestation(standing):
    assert standing(StakeholderFacts(since=SINCE), SINCE, P).active


@pytest.mark.parametrize("standing", [*YEARLY, pharmacist_standing])
def test_never_attested_is_pending(standing):
    s = standing(StakeholderFacts(since=None), SINCE, P)
    assert (s.active, s.state, s.expires_on) == (False, "pending", None)


def test_reattestation_restarts_the_year():
    renewed = StakeholderFacts(since=SINCE + d(300))
    assert prescriber_standing(renewed, SINCE + d(400), P).active
    assert not prescriber_standing(renewed, SINCE + d(665), P).active


def test_attestation_period_is_a_parameter():
    short = Parameters(prescriber_attestation_days=30)
    facts = StakeholderFacts(since=SINCE)
    assert prescriber_standing(facts, SINCE + d(29), short).active
    assert not prescriber_standing(facts, SINCE + d(30), short).active


def test_pharmacist_training_good_on_day_365_lapsed_on_day_366():
    facts = StakeholderFacts(since=SINCE)
    assert pharmacist_standing(facts, SINCE + d(365), P).active
    lapsed = pharmacist_standing(facts, SINCE + d(366), P)
    assert (lapsed.active, lapsed.state) == (False, "lapsed")
    assert "more than a year old" in lapsed.detail


@pytest.mark.parametrize("standing", [*YEARLY, pharmacist_standing])
def test_suspension_until_a_date_includes_that_date(standing):
    until = SINCE + d(50)
    facts = StakeholderFacts(since=SINCE, suspended_until=until)
    assert standing(facts, SINCE + d(49), P).state == "suspended"
    last = standing(facts, until, P)
    assert (last.active, last.state) == (False, "suspended")
    assert f"until {fmt(until)}" in last.detail  # the readable form used on every page
    assert standing(facts, until + d(1), P).active


@pytest.mark.parametrize("standing", [*YEARLY, pharmacist_standing])
def test_deactivation_takes_effect_on_its_day_and_stays(standing):
    facts = StakeholderFacts(since=SINCE, deactivated_on=SINCE + d(20))
    assert standing(facts, SINCE + d(19), P).active
    for later in (20, 21, 200):
        s = standing(facts, SINCE + d(later), P)
        assert (s.active, s.state) == (False, "deactivated")


def test_deactivation_wins_over_a_fresh_attestation_and_a_suspension():
    facts = StakeholderFacts(since=SINCE + d(30), suspended_until=SINCE + d(60),
                             deactivated_on=SINCE + d(20))
    assert prescriber_standing(facts, SINCE + d(40), P).state == "deactivated"


def test_removed_pharmacist_is_not_authorized_from_the_removal_day():
    facts = StakeholderFacts(since=SINCE, removed_on=SINCE + d(5))
    assert pharmacist_standing(facts, SINCE + d(4), P).active
    s = pharmacist_standing(facts, SINCE + d(5), P)
    assert (s.active, s.state) == (False, "removed")


def test_reminder_due_in_the_last_30_days_only():
    facts = StakeholderFacts(since=SINCE)
    assert not reminder_due(prescriber_standing(facts, SINCE + d(334), P), SINCE + d(334), P)
    assert reminder_due(prescriber_standing(facts, SINCE + d(335), P), SINCE + d(335), P)
    lapsed = prescriber_standing(facts, SINCE + d(365), P)
    assert not reminder_due(lapsed, SINCE + d(365), P)
