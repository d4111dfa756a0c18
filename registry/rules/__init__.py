"""The program rules as pure functions: facts and a date in, a decision with reasons out.

Nothing in this package touches the database, the request or the clock; callers pass
``today`` and the :class:`Parameters` in force.
"""

from registry.rules.contraception import (
    PRIMARY_METHODS,
    SECONDARY_METHODS,
    same_choice,
    validate_choice,
)
from registry.rules.dates import fmt
from registry.rules.decision import Decision, Window
from registry.rules.eligibility import evaluate
from registry.rules.enrollment import age_on, registration_errors
from registry.rules.facts import (
    AuthorizationFact,
    ContraceptionFact,
    CounselingFact,
    CycleFact,
    DispenseFact,
    PatientFacts,
    RequestFacts,
    StakeholderFacts,
    TestFact,
)
from registry.rules.history import (
    earliest_refill_on,
    earliest_useful_test_on,
    treatment_started,
    window_close,
)
from registry.rules.params import RULESET_2021, RULESET_2026, Parameters, ruleset_for
from registry.rules.pregnancy_tests import TestClassification, classify_test, lockout_until
from registry.rules.reasons import REASON_CODES, NextStep, Reason
from registry.rules.rulesets import RULE_SETS, RuleSet, rules_in_force
from registry.rules.stakeholders import (
    Standing,
    designee_standing,
    pharmacist_standing,
    pharmacy_standing,
    prescriber_standing,
)

__all__ = [
    "PRIMARY_METHODS",
    "REASON_CODES",
    "RULESET_2021",
    "RULESET_2026",
    "RULE_SETS",
    "SECONDARY_METHODS",
    "AuthorizationFact",
    "ContraceptionFact",
    "CounselingFact",
    "CycleFact",
    "Decision",
    "DispenseFact",
    "NextStep",
    "Parameters",
    "PatientFacts",
    "Reason",
    "RequestFacts",
    "RuleSet",
    "StakeholderFacts",
    "Standing",
    "TestClassification",
    "TestFact",
    "Window",
    "age_on",
    "classify_test",
    "designee_standing",
    "earliest_refill_on",
    "earliest_useful_test_on",
    "evaluate",
    "fmt",
    "lockout_until",
    "pharmacist_standing",
    "pharmacy_standing",
    "prescriber_standing",
    "registration_errors",
    "rules_in_force",
    "ruleset_for",
    "same_choice",
    "treatment_started",
    "validate_choice",
    "window_close",
]
