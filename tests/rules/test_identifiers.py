"""Identifiers: prescriber NPI (Luhn over "80840" + 9 digits) and the patient registry ID
(Verhoeff), which must catch the typos made at a pharmacy counter."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from registry.rules.identifiers import (
    RMA_ALPHABET,
    new_registry_id,
    new_rma,
    normalize_registry_id,
    npi_is_valid,
    npi_with_check_digit,
    registry_id_is_valid,
    verhoeff_check_digit,
)


def test_known_valid_npi_and_every_other_check_digit_rejected():
    # 1234567893 is the worked example of the CMS NPI check-digit document.
    assert npi_is_valid("1234567893")
    for digit in "012456789":
        assert not npi_is_valid("123456789" + digit)


@pytest.mark.parametrize("bad", ["", "123456789", "12345678930", "12345678a3", " 1234567893",
                                 "123456789-3"])
def test_npi_must_be_exactly_ten_digits(bad):
    assert not npi_is_valid(bad)


@given(st.text(alphabet="0123456789", min_size=9, max_size=9))
def test_npi_with_check_digit_is_valid_and_unique(first_nine):
    npi = npi_with_check_digit(first_nine)
    assert npi[:9] == first_nine
    assert npi_is_valid(npi)
    assert sum(npi_is_valid(first_nine + c) for c in "0123456789") == 1


def test_verhoeff_known_value():
    # The textbook examples: 236 -> 3, 12345 -> 1.
    assert verhoeff_check_digit("236") == "3"
    assert verhoeff_check_digit("12345") == "1"
    body = "123456789"
    assert registry_id_is_valid(body + verhoeff_check_digit(body))


ids = st.text(alphabet="0123456789", min_size=9, max_size=9).map(
    lambda body: body + verhoeff_check_digit(body)
)


@given(ids)
def test_registry_id_every_single_digit_error_is_rejected(rid):
    assert registry_id_is_valid(rid)
    for i in range(10):
        for digit in "0123456789":
            if digit != rid[i]:
                typo = rid[:i] + digit + rid[i + 1:]
                assert not registry_id_is_valid(typo), (rid, typo)


@given(ids)
def test_registry_id_every_adjacent_transposition_is_rejected(rid):
    for i in range(9):
        if rid[i] != rid[i + 1]:
            swapped = rid[:i] + rid[i + 1] + rid[i] + rid[i + 2:]
            assert not registry_id_is_valid(swapped), (rid, swapped)


@pytest.mark.parametrize("bad", ["", "123456789", "12345678901", "12345 6789", "abcdefghij"])
def test_registry_id_must_be_ten_digits(bad):
    assert not registry_id_is_valid(bad)


def test_new_registry_ids_are_valid_ten_digits_without_leading_zero():
    for _ in range(200):
        rid = new_registry_id()
        assert len(rid) == 10
        assert rid[0] != "0"
        assert registry_id_is_valid(rid)


def test_registry_id_as_printed_on_the_card_is_normalized():
    assert normalize_registry_id(" 12345-67890 ") == "1234567890"
    assert normalize_registry_id("123 456 7890") == "1234567890"


def test_rma_is_12_characters_without_look_alikes():
    for ch in "0O1I2Z5S6G8B":
        assert ch not in RMA_ALPHABET
    seen = {new_rma() for _ in range(500)}
    assert len(seen) == 500
    assert all(len(r) == 12 and set(r) <= set(RMA_ALPHABET) for r in seen)
