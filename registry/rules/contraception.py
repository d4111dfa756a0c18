"""Contraception choices (rules §3)."""

from __future__ import annotations

from collections.abc import Iterable

PRIMARY_METHODS: dict[str, str] = {
    "tubal_sterilization": "Tubal sterilization",
    "partner_vasectomy": "Partner's vasectomy",
    "iud": "Intrauterine device (IUD)",
    "hormonal_combination_pill": "Combination birth-control pill (estrogen and progestin)",
    "hormonal_patch": "Hormonal patch",
    "hormonal_injection": "Hormonal injection",
    "hormonal_implant": "Hormonal implant",
    "hormonal_vaginal_ring": "Hormonal vaginal ring",
}
SECONDARY_METHODS: dict[str, str] = {
    "male_latex_condom": "Male latex condom (with or without spermicide)",
    "diaphragm_with_spermicide": "Diaphragm with spermicide",
    "cervical_cap_with_spermicide": "Cervical cap with spermicide",
    "vaginal_sponge": "Vaginal sponge (contains spermicide)",
}
MINI_PILL = "progestin_only_pill"
ALL_METHODS = {**PRIMARY_METHODS, **SECONDARY_METHODS}


def validate_choice(methods: Iterable[str] | None, abstinence: bool) -> list[str]:
    """Return what is wrong with a contraception choice; empty when it is acceptable."""
    chosen = [m for m in (methods or []) if m]
    if abstinence:
        if chosen:
            return ["Choose either a commitment to abstinence or two methods, not both."]
        return []
    problems: list[str] = []
    if MINI_PILL in chosen:
        problems.append(
            "The progestin-only \"mini-pill\" is not effective enough with isotretinoin and "
            "cannot be one of the two methods."
        )
    unknown = [m for m in chosen if m not in ALL_METHODS and m != MINI_PILL]
    if unknown:
        problems.append("Unknown method: " + ", ".join(sorted(unknown)) + ".")
    if problems:
        return problems
    if len(chosen) != 2:
        return ["Choose exactly two methods (or a commitment to abstinence)."]
    if chosen[0] == chosen[1]:
        return ["The two methods must be different."]
    if not any(m in PRIMARY_METHODS for m in chosen):
        return ["At least one of the two methods must be a primary method."]
    return []


def same_choice(
    a_methods: Iterable[str] | None, a_abstinence: bool,
    b_methods: Iterable[str] | None, b_abstinence: bool,
) -> bool:
    if a_abstinence or b_abstinence:
        return a_abstinence == b_abstinence
    return set(a_methods or []) == set(b_methods or [])


def describe(methods: Iterable[str] | None, abstinence: bool) -> str:
    if abstinence:
        return "Commitment to abstinence"
    return " and ".join(ALL_METHODS.get(m, m) for m in (methods or []))
