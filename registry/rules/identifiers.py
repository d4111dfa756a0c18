"""Identifiers with check digits: prescriber NPI (Luhn) and patient registry ID (Verhoeff)."""

from __future__ import annotations

import secrets


def _luhn_valid(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 1:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def npi_is_valid(npi: str) -> bool:
    """A 10-digit NPI whose last digit is the Luhn check digit over "80840" + the first 9."""
    return len(npi) == 10 and npi.isdigit() and _luhn_valid("80840" + npi)


def npi_with_check_digit(first_nine: str) -> str:
    for d in "0123456789":
        if npi_is_valid(first_nine + d):
            return first_nine + d
    raise ValueError(first_nine)  # pragma: no cover - one digit always fits


# Verhoeff: catches every single-digit error and every swap of adjacent digits,
# the two typos a pharmacist makes reading an ID card over the counter.
_D = [
    [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
    [1, 2, 3, 4, 0, 6, 7, 8, 9, 5],
    [2, 3, 4, 0, 1, 7, 8, 9, 5, 6],
    [3, 4, 0, 1, 2, 8, 9, 5, 6, 7],
    [4, 0, 1, 2, 3, 9, 5, 6, 7, 8],
    [5, 9, 8, 7, 6, 0, 4, 3, 2, 1],
    [6, 5, 9, 8, 7, 1, 0, 4, 3, 2],
    [7, 6, 5, 9, 8, 2, 1, 0, 4, 3],
    [8, 7, 6, 5, 9, 3, 2, 1, 0, 4],
    [9, 8, 7, 6, 5, 4, 3, 2, 1, 0],
]
_P = [
    [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
    [1, 5, 7, 6, 2, 8, 3, 0, 9, 4],
    [5, 8, 0, 3, 7, 9, 6, 1, 4, 2],
    [8, 9, 1, 6, 0, 4, 3, 5, 2, 7],
    [9, 4, 5, 3, 1, 2, 6, 8, 7, 0],
    [4, 2, 8, 6, 5, 7, 3, 9, 0, 1],
    [2, 7, 9, 3, 8, 0, 6, 4, 1, 5],
    [7, 0, 4, 6, 9, 1, 3, 2, 5, 8],
]
_INV = [0, 4, 3, 2, 1, 5, 6, 7, 8, 9]


def verhoeff_check_digit(number: str) -> str:
    c = 0
    for i, ch in enumerate(reversed(number)):
        c = _D[c][_P[(i + 1) % 8][int(ch)]]
    return str(_INV[c])


def registry_id_is_valid(registry_id: str) -> bool:
    if len(registry_id) != 10 or not registry_id.isdigit():
        return False
    c = 0
    for i, ch in enumerate(reversed(registry_id)):
        c = _D[c][_P[i % 8][int(ch)]]
    return c == 0


def new_registry_id() -> str:
    body = str(secrets.randbelow(9 * 10**8) + 10**8)  # 9 digits, no leading zero
    return body + verhoeff_check_digit(body)


def normalize_registry_id(raw: str) -> str:
    """Accept the ID as printed on the card (with spaces or dashes)."""
    return "".join(ch for ch in raw if not ch.isspace() and ch != "-")


RMA_ALPHABET = "ACDEFHJKLMNPQRTUVWXY3479"  # no 0/O, 1/I, 2/Z, 5/S, 6/G/b, 8/B


def new_rma() -> str:
    return "".join(secrets.choice(RMA_ALPHABET) for _ in range(12))


ACTIVATION_ALPHABET = RMA_ALPHABET


def new_activation_code() -> str:
    return "".join(secrets.choice(ACTIVATION_ALPHABET) for _ in range(10))
