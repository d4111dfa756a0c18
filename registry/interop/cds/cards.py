"""CDS Hooks cards from the rules' decision, grouped by requirement
(:mod:`registry.interop.requirements`): one card per party who must act, naming them in its
summary, with every reason and its date in the detail and links to our own pages.

Indicator: ``critical`` when something blocks the prescription that nobody can fix now (a
reported pregnancy, a deactivated record); ``warning`` when the prescriber must act;
``info`` when others must act (the patient, the pharmacy) or when all is met.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date
from typing import Any

from registry.interop.cds.resources import PROGRAM_NAME, REGISTRY_ID_SYSTEM, reference_of
from registry.interop.requirements import (
    ENROLL_LINK,
    Guidance,
    Requirement,
    RequirementStatus,
    Step,
    StepActor,
)
from registry.patients.models import Patient

SUMMARY_LIMIT = 139  # CDS Hooks: "summary ... SHOULD be under 140 characters"
ACTOR_ORDER = (StepActor.PRESCRIBER, StepActor.PATIENT, StepActor.PHARMACIST, StepActor.STAFF)
WHO = {StepActor.PRESCRIBER: "Prescriber", StepActor.PATIENT: "Patient",
       StepActor.PHARMACIST: "Pharmacy", StepActor.STAFF: "Program staff"}
REQUIREMENT_WORDS = {
    Requirement.ENROLLMENT: "enrollment", Requirement.PRESCRIBER: "prescriber status",
    Requirement.PREGNANCY_REPORT: "pregnancy report", Requirement.PREGNANCY_TEST:
    "pregnancy test", Requirement.COUNSELING: "counseling", Requirement.COMPREHENSION:
    "comprehension questions", Requirement.CONTRACEPTION: "contraception",
    Requirement.WINDOW: "prescription window", Requirement.DISPENSING: "dispensing",
    Requirement.PHARMACY: "pharmacy", Requirement.PRESCRIPTION: "prescription",
}
# The label of a link to the page where a step is done, by requirement.
LINK_LABELS = {
    Requirement.ENROLLMENT: "Enroll or activate the patient",
    Requirement.PRESCRIBER: "Open the prescriber's record",
    Requirement.PREGNANCY_TEST: "Enter the pregnancy test",
    Requirement.COUNSELING: "Confirm counseling",
    Requirement.COMPREHENSION: "Answer the comprehension questions (patient)",
    Requirement.CONTRACEPTION: "Enter contraception (patient)",
    Requirement.WINDOW: "Open the patient's record",
    Requirement.DISPENSING: "See the open authorization",
}


def _source(public_url: str) -> dict[str, Any]:
    return {"label": PROGRAM_NAME, "url": public_url + "/"}


def _card(summary: str, indicator: str, detail: str, public_url: str,
          links: Sequence[dict[str, str]] = (), suggestions: Sequence[dict[str, Any]] = (),
          ) -> dict[str, Any]:
    if len(summary) > SUMMARY_LIMIT:
        summary = summary[:SUMMARY_LIMIT - 1].rstrip() + "…"
    card: dict[str, Any] = {"uuid": str(uuid.uuid4()), "summary": summary,
                            "indicator": indicator, "detail": detail,
                            "source": _source(public_url)}
    if links:
        card["links"] = list(links)
    if suggestions:
        card["suggestions"] = list(suggestions)
        card["selectionBehavior"] = "at-most-one"
    return card


def _day(value: date | None) -> str:
    return value.isoformat() if value else ""


def _step_line(requirement: Requirement, step: Step) -> str:
    due = f" (by {_day(step.due)})" if step.due else ""
    action = f" {step.action}" if step.action else ""
    return (f"- **{REQUIREMENT_WORDS[requirement].capitalize()}**{due}: {step.text}{action}"
            f" `{step.code}`")


def _links(steps: Sequence[tuple[Requirement, Step]], public_url: str) -> list[dict[str, str]]:
    seen: dict[str, dict[str, str]] = {}
    for requirement, step in steps:
        if step.link and step.link not in seen:
            seen[step.link] = {"label": LINK_LABELS.get(requirement, "Open in the registry"),
                               "url": public_url + step.link, "type": "absolute"}
    return list(seen.values())


def _remove_order(orders: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """The one suggestion we make: take the isotretinoin order out of this signing."""
    if not orders:
        return []
    return [{"label": "Remove the isotretinoin order", "uuid": str(uuid.uuid4()),
             "isRecommended": True,
             "actions": [{"type": "delete", "description": "Remove the isotretinoin order: "
                          "it cannot be dispensed while this stands.",
                          "resourceId": [reference_of(o) for o in orders]}]}]


def guidance_cards(guidance: Guidance, patient: Patient, public_url: str,
                   orders: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """The cards for a matched patient: one when all is met, else one per party to act."""
    who = f"{patient.first_name} {patient.last_name} ({patient.registry_id})"
    closes = guidance.window_closes
    if guidance.overall == "success":
        window = f"; the prescription window closes {_day(closes)}" if closes else ""
        return [_card(f"Isotretinoin: {patient.first_name} meets every program requirement "
                      f"today{window}.", "info",
                      f"{who} can be dispensed isotretinoin today{window}.\n\n"
                      "The pharmacy obtains the authorization (RMA) at dispensing.",
                      public_url)]
    by_actor: dict[StepActor, list[tuple[Requirement, Step]]] = {}
    blocked: list[tuple[Requirement, Step]] = []
    for result in guidance.missing:
        for step in result.steps:
            if result.status == RequirementStatus.BLOCKED:
                blocked.append((result.requirement, step))
            else:
                by_actor.setdefault(step.actor, []).append((result.requirement, step))
    cards: list[dict[str, Any]] = []
    if blocked:
        names = ", ".join(dict.fromkeys(REQUIREMENT_WORDS[r] for r, _ in blocked))
        detail = (f"Isotretinoin cannot be dispensed to {who}:\n\n"
                  + "\n".join(_step_line(r, s) for r, s in blocked))
        cards.append(_card(f"Prescriber: do not prescribe isotretinoin now; blocked ({names}).",
                           "critical", detail, public_url, _links(blocked, public_url),
                           _remove_order(orders)))
    for actor in ACTOR_ORDER:
        steps = by_actor.get(actor)
        if not steps:
            continue
        names = ", ".join(dict.fromkeys(REQUIREMENT_WORDS[r] for r, _ in steps))
        lines = "\n".join(_step_line(r, s) for r, s in steps)
        window = f"\n\nThe prescription window closes {_day(closes)}." if closes else ""
        detail = f"Before isotretinoin can be dispensed to {who}:\n\n{lines}{window}"
        indicator = "warning" if actor == StepActor.PRESCRIBER else "info"
        cards.append(_card(f"{WHO[actor]} must act before isotretinoin can be dispensed: "
                           f"{names}.", indicator, detail, public_url,
                           _links(steps, public_url)))
    return cards


def unmatched_patient_card(public_url: str, *, registry_id: str | None) -> dict[str, Any]:
    """No patient of this prescriber matches: ask to enroll, or to record the registry ID.
    A patient is never looked up by name and birth date."""
    given = (f"The registry ID {registry_id} on this patient's record matches none of your "
             "patients in the program (or the birth date differs).\n\n") if registry_id else ""
    detail = (f"{given}Enroll the patient in the {PROGRAM_NAME} before prescribing "
              "isotretinoin, or add their registry ID to the patient's record in the EHR as "
              f"an identifier with system `{REGISTRY_ID_SYSTEM}`. The registry never guesses a "
              "patient from a name and a birth date.")
    return _card("Prescriber: enroll this patient in the program, or record their registry "
                 "ID in the EHR.", "warning", detail, public_url,
                 [{"label": "Enroll the patient", "url": public_url + ENROLL_LINK,
                   "type": "absolute"}])


def prescriber_not_served_card(public_url: str) -> dict[str, Any]:
    detail = ("The registry cannot tell you about this patient: the signed-in user is not a "
              "prescriber this EHR system is registered to act for (matched by the NPI on the "
              "Practitioner). Ask program staff to add your NPI to this EHR system, or enroll "
              "as a prescriber.")
    return _card("Prescriber: your NPI is not registered with the program for this EHR.",
                 "warning", detail, public_url,
                 [{"label": "Enroll as a prescriber", "url": public_url + "/enroll",
                   "type": "absolute"}])
