"""Which reminders are due on a day, read off the rules' own decision (no second copy).

Everything here is pure: a :class:`~registry.rules.Decision` (what :func:`evaluate` says
about a patient today), the patient's facts and the parameters in, :class:`Notice` s out.
The dates come from the decision's next steps (``due_on``, ``not_before``), its window and
its treatment end; nothing here recomputes a window or a refill day. The job in
:mod:`registry.notifications.jobs` picks the candidates in SQL and sends what this returns.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from registry.rules import Decision, Parameters, PatientFacts, Standing, fmt
from registry.rules.history import open_authorizations
from registry.rules.reasons import NextStep
from registry.rules.rulesets import rules_in_force
from registry.rules.stakeholders import reminder_due
from registry.web.timeline import about_the_patient, waiting_rma_until

# Kinds of message; the outbox keeps one message per recipient, kind and event key.
TEST_DAY = "reminder:test_day"
WINDOW_CLOSING = "reminder:window_closing"
PICKUP = "reminder:pickup"
PRESCRIBER_DIGEST = "reminder:prescriber_digest"
RMA_NOT_PICKED_UP = "reminder:rma_not_picked_up"
# Safety alerts: sent at once, from the operation that causes them; nobody can turn them off.
RMA_CANCELLED = "alert:rma_cancelled"
PREGNANCY_REPORTED = "alert:pregnancy_reported"
SUSPENDED = "alert:suspended"


@dataclass(frozen=True)
class Link:
    """A page of the registry, turned into an absolute URL when the message is queued."""

    endpoint: str
    values: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Notice:
    """A message to queue: ``templates/mail/<template>.txt`` rendered with ``context`` (in the
    recipient's language), saying ``reason`` (why they got it) and linking to ``link``."""

    kind: str
    event_key: str
    template: str
    context: dict[str, Any]
    reason: str
    link: Link
    safety: bool = False


@dataclass(frozen=True)
class Timing:
    """How far ahead reminders go out (configuration, not program rules)."""

    window_closing_days: int = 2  # patient: the window closes in this many days
    pickup_days: int = 1  # patient: the RMA's last day is this many days away (or fewer)

    @classmethod
    def from_config(cls, config: Any) -> Timing:
        return cls(
            window_closing_days=int(config.get("REMINDER_WINDOW_CLOSING_DAYS", 2)),
            pickup_days=int(config.get("REMINDER_PICKUP_DAYS", 1)),
        )


# --- the patient ---------------------------------------------------------------------


def test_day_steps(decision: Decision) -> list[NextStep]:
    """The care team's steps that may start today: the rules give a pregnancy test step a
    ``not_before`` day (the earliest useful specimen), and today is that day."""
    return [s for s in decision.next_steps
            if s.actor == "prescriber" and s.not_before == decision.today]


def closing_window_steps(decision: Decision, timing: Timing) -> list[NextStep]:
    """The patient's own steps due on the last day of a window that closes in
    ``window_closing_days`` days."""
    window = decision.window
    if window is None or window.closes_on is None:
        return []
    if (window.closes_on - decision.today).days != timing.window_closing_days:
        return []
    return [s for s in decision.next_steps
            if s.actor == "patient" and s.due_on == window.closes_on]


def waiting_authorization(decision: Decision, facts: PatientFacts, params: Parameters,
                          timing: Timing) -> tuple[int, date] | None:
    """The open RMA waiting at the pharmacy, when its last day is near: (its id, last day)."""
    last_day = waiting_rma_until(decision)
    if last_day is None or not 0 <= (last_day - decision.today).days <= timing.pickup_days:
        return None
    for auth in open_authorizations(facts, decision.today):
        if auth.do_not_dispense_after == last_day:
            return auth.id, last_day
    return None


def patient_reminders(patient_id: int, facts: PatientFacts, decision: Decision,
                      params: Parameters, timing: Timing) -> list[Notice]:
    today = decision.today
    notices: list[Notice] = []
    for step in test_day_steps(decision)[:1]:
        notices.append(Notice(
            TEST_DAY, f"test-day:{patient_id}:{today.isoformat()}", "reminder_test_day",
            {"day": today, "step": step.action},
            f"The program rules make {fmt(today)} the first day your next pregnancy test "
            "counts.",
            Link("me.home"),
        ))
    steps = closing_window_steps(decision, timing)
    if steps and decision.window is not None and decision.window.closes_on is not None:
        closes = decision.window.closes_on
        notices.append(Notice(
            WINDOW_CLOSING, f"window-closing:{decision.window.cycle_id}",
            "reminder_window_closing", {"closes_on": closes, "steps": [s.action for s in steps]},
            f"Your window closes in {timing.window_closing_days} days with steps still open.",
            Link("me.home"),
        ))
    waiting = waiting_authorization(decision, facts, params, timing)
    if waiting is not None:
        auth_id, last_day = waiting
        notices.append(Notice(
            PICKUP, f"pickup:{auth_id}", "reminder_pickup", {"last_day": last_day},
            f"Your authorization's last day is {fmt(last_day)}.",
            Link("me.home"),
        ))
    return notices


# --- the prescriber's daily digest ---------------------------------------------------


def digest_lines(decision: Decision, timing: Timing) -> list[str]:
    """What the prescriber should know about one patient today (empty: nothing)."""
    today = decision.today
    lines: list[str] = []
    window = decision.window
    if window is not None and window.closes_on is not None and \
            0 <= (window.closes_on - today).days <= timing.window_closing_days:
        open_steps = [s for s in decision.next_steps
                      if s.actor in ("patient", "prescriber") and s.due_on == window.closes_on]
        if open_steps:
            steps = "; ".join(about_the_patient(s).rstrip(".") for s in open_steps)
            lines.append(f"window closes {fmt(window.closes_on)}, still open: {steps}.")
    end = decision.treatment_end
    if end is not None:
        if "end_of_treatment" in end.overdue and end.end_of_treatment_test_due_on:
            lines.append("end-of-treatment pregnancy test overdue (due "
                         f"{fmt(end.end_of_treatment_test_due_on)}).")
        due = end.post_treatment_test_due_on
        if due is not None and not end.post_treatment_test_done and today >= due:
            state = "overdue" if "post_treatment" in end.overdue else "due"
            lines.append(f"post-treatment pregnancy test {state} (from {fmt(due)}).")
    return lines


def attestation_line(who: str, standing: Standing, today: date, params: Parameters) -> str | None:
    if not reminder_due(standing, today, params) or standing.expires_on is None:
        return None
    last_day = standing.expires_on - timedelta(days=1)
    return f"{who}: attestation expires after {fmt(last_day)}; attest again before then."


def prescriber_digest(today: date, patients: list[tuple[str, list[str]]],
                      attestations: list[str]) -> Notice | None:
    """One message a day: each patient's lines under their name, then attestations."""
    if not patients and not attestations:
        return None
    return Notice(
        PRESCRIBER_DIGEST, f"digest:{today.isoformat()}", "reminder_prescriber_digest",
        {"day": today, "patients": patients, "attestations": attestations,
         "count": len(patients) + len(attestations)},
        "You are the prescriber of record of these patients, or the prescriber these "
        "attestations belong to; this digest is sent on days when something needs you.",
        Link("prescribers.patients"),
    )


# --- the pharmacy ------------------------------------------------------------------


def rma_not_picked_up_due(status: str, do_not_dispense_after: date, today: date,
                          params: Parameters) -> bool:
    """Rules §6, rule set 2026: the day after an RMA's do-not-dispense-after date, one still
    neither dispensed nor reversed must be reversed by the issuing pharmacy."""
    return (status == "authorized"
            and today == do_not_dispense_after + timedelta(days=1)
            and rules_in_force(today, params).reminds_unreversed_rmas)


def rma_not_picked_up(auth_id: int, rma: str, do_not_dispense_after: date) -> Notice:
    return Notice(
        RMA_NOT_PICKED_UP, f"rma-not-picked-up:{auth_id}", "reminder_rma_not_picked_up",
        {"rma": rma, "last_day": do_not_dispense_after},
        "Your pharmacy issued this RMA and it is still open after its last day.",
        Link("authorizations.detail", {"rma": rma}),
    )
