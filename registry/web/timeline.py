"""Turning a Decision into what a person reads: one sentence, a timeline, a QR code.

Nothing is decided here: every date and step comes from the rules' Decision. The words are
in the page's language: the rules' English steps are looked up in the catalog.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import segno
from flask_babel import gettext as _
from markupsafe import Markup, escape

from registry.i18n import current_language, text
from registry.rules import Decision, fmt
from registry.rules.reasons import NextStep


@dataclass(frozen=True)
class Event:
    on: date
    label: str
    state: str  # past, today, future


# Reasons whose date is the first day something may happen, not a deadline.
NOT_BEFORE_CODES = frozenset({"REFILL_TOO_SOON", "LOCKOUT_ACTIVE", "WINDOW_NOT_OPEN"})


def reason_when(code: str) -> str:
    """The word before a reason's date: "not before" for a first allowed day, else "by"."""
    return _("not before") if code in NOT_BEFORE_CODES else _("by")


def step_when(step: NextStep) -> str:
    """A step's date in words: "until" for what goes on until a day (keep using
    contraception), "by" for a deadline."""
    if step.due_on is None:
        return ""
    day = _day(step.due_on)
    return _("until %(day)s", day=day) if step.action.startswith("Keep using") else _(
        "by %(day)s", day=day)


def _day(day: date) -> str:
    return fmt(day, current_language())


# The patient's steps are written to the patient ("Enter your contraception"); on the care
# team's pages they are said about the patient.
ABOUT_THE_PATIENT = {
    "Enter your contraception methods.": "The patient enters their contraception methods.",
    "Re-enter your contraception to match your prescriber's.":
        "The patient re-enters their contraception to match the prescriber's.",
    "Answer this month's comprehension questions.":
        "The patient answers this month's comprehension questions.",
    "Answer the comprehension questions.": "The patient answers the comprehension questions.",
    "Keep using both contraception methods.": "The patient keeps using both contraception "
    "methods.",
    "Activate the account with the activation code from the prescriber.":
        "The patient activates their account with the activation code from the prescriber.",
}


def about_the_patient(step: NextStep) -> str:
    """A step as the prescriber reads it: the patient's steps in the third person."""
    if step.actor == "patient":
        return ABOUT_THE_PATIENT.get(step.action, f"The patient: {step.action}")
    return step.action


def waiting_rma_until(decision: Decision) -> date | None:
    """The "do not dispense after" day of an RMA issued and waiting at the pharmacy."""
    for r in decision.reasons:
        if r.code == "AUTHORIZATION_ALREADY_ISSUED" and r.actor == "pharmacy" and r.due_on:
            return r.due_on
    return None


def timeline(decision: Decision) -> list[Event]:
    today = decision.today
    items: list[tuple[date, str]] = []
    if "PREGNANCY_REPORTED" in decision.codes:
        # No window or monthly steps after a pregnancy report: nothing is to be filled.
        return [Event(today, _("Where you are now"), "today")]
    if decision.window:
        w = decision.window
        if w.test_specimen_on:
            items.append((w.test_specimen_on, _("Pregnancy test specimen collected")))
        items.append((w.opens_on, _("Prescription window opens (day 1)")))
        if w.closes_on:
            items.append((w.closes_on, _("Prescription window closes: last day to fill")))
    if decision.lockout_until:
        items.append((decision.lockout_until, _("Waiting period ends: new confirmation test "
                      "possible")))
    for step in decision.next_steps:
        if step.not_before and not any(d == step.not_before for d, _label in items):
            items.append((step.not_before, _("From this day: %(step)s",
                                               step=text(step.action).rstrip("."))))
    end = decision.treatment_end
    if end:
        items.append((end.last_dose_on, _("Last dose")))
        if end.end_of_treatment_test_due_on and not end.end_of_treatment_test_done:
            items.append((end.end_of_treatment_test_due_on, _("End-of-treatment test due")))
        if end.contraception_until:
            items.append((end.contraception_until, _("Keep using contraception until this "
                                                     "day")))
        if end.post_treatment_test_due_on and not end.post_treatment_test_done:
            items.append((end.post_treatment_test_due_on, _("Post-treatment pregnancy test "
                                                            "due")))
    if not any(d == today for d, _label in items):
        items.append((today, _("Where you are now")))
    items.sort(key=lambda item: item[0])
    return [
        Event(d, label, "past" if d < today else "today" if d == today else "future")
        for d, label in items
    ]


def patient_sentence(decision: Decision) -> tuple[str, str]:
    """What the patient should do now and by when, in one sentence, and a tone for it."""
    if "PREGNANCY_REPORTED" in decision.codes:
        return (_("A pregnancy has been reported: do not take isotretinoin, and talk to your "
                  "prescriber today."), "bad")
    if decision.eligible and decision.do_not_dispense_after:
        return (_("You are all set: pick up your prescription by %(day)s.",
                  day=_day(decision.do_not_dispense_after)), "ok")
    waiting = waiting_rma_until(decision)
    if waiting:
        return (_("Your prescription is authorized and waiting at the pharmacy: pick it up by "
                  "%(day)s.", day=_day(waiting)), "ok")
    mine = [s for s in decision.next_steps if s.actor == "patient"]
    if mine:
        step = mine[0]
        when = f" {step_when(step)}" if step.due_on else ""
        return f"{text(step.action).rstrip('.')}{when}.", "warn"
    if decision.next_steps:
        step = decision.next_steps[0]
        who = {"prescriber": _("your prescriber"), "pharmacy": _("your pharmacy"),
               "program_staff": _("program staff")}.get(step.actor, step.actor)
        when = (" " + _("(by %(day)s)", day=_day(step.due_on)) if step.due_on else
                " " + _("(from %(day)s)", day=_day(step.not_before)) if step.not_before else "")
        action = text(step.action).rstrip(".")
        return (_("Nothing to do right now: next, %(who)s will %(action)s%(when)s.", who=who,
                  action=f"{action[:1].lower()}{action[1:]}", when=when), "")
    return _("Nothing to do right now."), ""


def qr_svg(text: str, label: str) -> Markup:
    """A standard QR code as inline SVG (no image request, no script).

    Never a Micro QR code, which segno picks for short text: phone cameras and most
    pharmacy scanners do not read Micro QR.
    """
    svg = segno.make(text, error="m", micro=False).svg_inline(scale=4, omitsize=True,
                                                                title=label)
    safe = str(escape(label))
    return Markup(svg.replace("<svg ", f'<svg role="img" aria-label="{safe}" ', 1))  # noqa: S704 - segno output

