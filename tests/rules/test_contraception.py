"""Rules §3: a valid contraception choice is two different methods of which at least one is
primary, or a commitment to abstinence; the progestin-only mini-pill is refused clearly."""

from __future__ import annotations

from itertools import product

import pytest

from registry.rules import PRIMARY_METHODS, SECONDARY_METHODS, same_choice, validate_choice
from registry.rules.contraception import MINI_PILL, describe


@pytest.mark.parametrize(("a", "b"), list(product(PRIMARY_METHODS, SECONDARY_METHODS)))
def test_primary_plus_secondary_is_valid(a, b):
    assert validate_choice([a, b], False) == []


def test_two_different_primaries_are_valid():
    assert validate_choice(["iud", "hormonal_patch"], False) == []


@pytest.mark.parametrize("pair", [
    ["male_latex_condom", "diaphragm_with_spermicide"],
    ["vaginal_sponge", "cervical_cap_with_spermicide"],
])
def test_two_secondaries_are_refused(pair):
    assert validate_choice(pair, False) == [
        "At least one of the two methods must be a primary method."
    ]


@pytest.mark.parametrize("method", ["iud", "male_latex_condom"])
def test_the_same_method_twice_is_refused(method):
    assert validate_choice([method, method], False) == ["The two methods must be different."]


@pytest.mark.parametrize("methods", [[], None, ["iud"], ["iud", "male_latex_condom",
                                                         "hormonal_patch"]])
def test_not_exactly_two_methods_is_refused(methods):
    problems = validate_choice(methods, False)
    assert problems == ["Choose exactly two methods (or a commitment to abstinence)."]


def test_abstinence_alone_is_valid():
    assert validate_choice(None, True) == []
    assert validate_choice([], True) == []


def test_abstinence_with_methods_is_refused():
    assert validate_choice(["iud", "male_latex_condom"], True) == [
        "Choose either a commitment to abstinence or two methods, not both."
    ]


@pytest.mark.parametrize("methods", [[MINI_PILL, "male_latex_condom"], [MINI_PILL, "iud"],
                                     [MINI_PILL]])
def test_mini_pill_is_refused_with_a_clear_message(methods):
    problems = validate_choice(methods, False)
    assert len(problems) == 1
    assert "mini-pill" in problems[0]
    assert "cannot be one of the two" in problems[0]


def test_mini_pill_is_not_a_listed_method():
    assert MINI_PILL not in PRIMARY_METHODS
    assert MINI_PILL not in SECONDARY_METHODS


def test_unknown_method_is_named():
    assert validate_choice(["iud", "rhythm"], False) == ["Unknown method: rhythm."]


def test_same_choice_ignores_order_and_distinguishes_abstinence():
    assert same_choice(["iud", "male_latex_condom"], False, ["male_latex_condom", "iud"], False)
    assert not same_choice(["iud", "male_latex_condom"], False, ["iud", "vaginal_sponge"], False)
    assert same_choice(None, True, None, True)
    assert not same_choice(None, True, ["iud", "male_latex_condom"], False)
    assert not same_choice(["iud", "male_latex_condom"], False, None, True)


def test_describe_reads_in_plain_words():
    assert describe(None, True) == "Commitment to abstinence"
    assert describe(["iud", "male_latex_condom"], False).startswith("Intrauterine device")
