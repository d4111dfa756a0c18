"""Rule-set differences are one table (registry/rules/rulesets.py) that every rule consults:
changing a row changes what the rules do under that rule set, with no other edit."""

from __future__ import annotations

from dataclasses import replace

import pytest

from registry.config import DEFAULTS
from registry.rules import RULE_SETS, Parameters, classify_test, evaluate, rules_in_force
from registry.rules.params import config_defaults, next_ruleset_change, ruleset_for
from registry.rules.vocabulary import CycleKind, RuleSetName
from tests.rules.build import (
    DAY_2021,
    DAY_2026,
    P,
    auth,
    cannot_patient,
    d,
    first_cycle_patient,
    request,
    treated_patient,
)


def test_every_rule_set_has_its_row():
    assert set(RULE_SETS) == set(RuleSetName)
    assert all(row.name == name for name, row in RULE_SETS.items())
    assert rules_in_force(DAY_2021, P).name == "2021"
    assert rules_in_force(DAY_2026, P).name == "2026"


def test_what_each_rule_set_does():
    old, new = RULE_SETS[RuleSetName.OF_2021], RULE_SETS[RuleSetName.OF_2026]
    assert (old.missed_first_window_lockout, new.missed_first_window_lockout) == (True, False)
    assert (old.home_tests_after_treatment_starts,
            new.home_tests_after_treatment_starts) == (False, True)
    assert (old.monthly_counseling, new.monthly_counseling) == (True, False)
    assert old.cannot_get_pregnant_days(Parameters(no_pregnancy_window_2021_days=28)) == 28
    assert new.cannot_get_pregnant_days(Parameters(no_pregnancy_dispense_days_2026=5)) == 5
    assert (old.reminds_unreversed_rmas, new.reminds_unreversed_rmas) == (False, True)


def _row(monkeypatch: pytest.MonkeyPatch, name: RuleSetName, **changes: object) -> None:
    monkeypatch.setitem(RULE_SETS, name, replace(RULE_SETS[name], **changes))


def _missed_first_window(opened):
    return first_cycle_patient(opened, authorizations=(auth(1, 1, "expired", opened),))


def test_the_lockout_follows_the_table(monkeypatch):
    opened = DAY_2026 - d(10)
    facts = _missed_first_window(opened)
    today = opened + d(7)
    assert evaluate(facts, today, P, request(today)).lockout_until is None
    _row(monkeypatch, RuleSetName.OF_2026, missed_first_window_lockout=True)
    decision = evaluate(facts, today, P, request(today))
    assert decision.lockout_until == opened + d(19)
    lockout = next(r for r in decision.reasons if r.code == "LOCKOUT_ACTIVE")
    assert "under the 2026 rules" in lockout.message


def test_home_tests_follow_the_table(monkeypatch):
    facts = treated_patient(DAY_2021, DAY_2021 - d(30), home_tests_allowed=True)
    refused = classify_test(facts, DAY_2021, "negative", "home", DAY_2021, P)
    assert list(refused.errors) == ["setting"]
    _row(monkeypatch, RuleSetName.OF_2021, home_tests_after_treatment_starts=True)
    assert classify_test(facts, DAY_2021, "negative", "home", DAY_2021, P).errors == {}


def test_counseling_of_patients_who_cannot_get_pregnant_follows_the_table(monkeypatch):
    facts = cannot_patient(DAY_2026)
    decision = evaluate(facts, DAY_2026, P, request(DAY_2026))
    assert decision.needs_new_cycle
    assert "at enrollment" in decision.reasons[0].message
    _row(monkeypatch, RuleSetName.OF_2026, cannot_get_pregnant_cycle=CycleKind.COUNSELING_WINDOW)
    monthly = evaluate(facts, DAY_2026, P, request(DAY_2026))
    assert not monthly.needs_new_cycle
    assert monthly.codes == ["COUNSELING_NOT_CONFIRMED"]
    assert "this month's counseling" in monthly.reasons[0].message


def test_the_rule_set_in_force_and_the_next_one():
    assert ruleset_for(P.ruleset_2021_effective - d(1), P) == RuleSetName.OF_2021
    assert ruleset_for(P.ruleset_2026_effective - d(1), P) == RuleSetName.OF_2021
    assert ruleset_for(P.ruleset_2026_effective, P) == RuleSetName.OF_2026
    assert next_ruleset_change(DAY_2021, P) == (RuleSetName.OF_2026, P.ruleset_2026_effective)
    assert next_ruleset_change(P.ruleset_2026_effective, P) is None


def test_parameter_defaults_live_in_one_place():
    """The app's configuration takes the rule parameters' defaults from Parameters."""
    assert config_defaults()["WINDOW_DAYS"] == 7
    assert config_defaults()["RULESET_2026_EFFECTIVE"] == "2026-08-08"
    for key, value in config_defaults().items():
        assert DEFAULTS[key] == value
    assert Parameters.from_config(DEFAULTS) == Parameters()
