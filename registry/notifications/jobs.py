"""The daily reminder scan, run by `registry worker` at REMINDER_HOUR in the program time zone.

A million patients are never evaluated one by one: the candidates for a day are picked in
SQL by the dates that can make a reminder due today (a window closing, an RMA's last day, a
dispense whose next useful test day is today, ...), and the rules are evaluated only for
them (:mod:`registry.notifications.reminders` reads the decision). The candidate queries
are a superset; the rules decide.

Each batch of patients is one transaction. A second run on the same day (another worker,
a restart) queues nothing new: the outbox keeps one message per recipient, kind and event.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session, selectinload

from registry import clock, db
from registry.authorizations.models import Authorization, AuthorizationStatus, Dispense
from registry.cycles.models import Cycle, CycleKind
from registry.notifications.alerts import pharmacy_recipients, send
from registry.notifications.reminders import (
    Timing,
    attestation_line,
    digest_lines,
    patient_reminders,
    prescriber_digest,
    rma_not_picked_up,
    rma_not_picked_up_due,
)
from registry.params import current as current_params
from registry.patients.facts import load_facts
from registry.patients.models import Patient, PatientStatus, RiskCategory
from registry.pregnancies.models import PregnancyTest
from registry.prescribers.models import Designee, DesigneeLink, Prescriber
from registry.rules import (
    DispenseFact,
    Parameters,
    PatientFacts,
    StakeholderFacts,
    designee_standing,
    earliest_useful_test_on,
    evaluate,
    prescriber_standing,
)

log = logging.getLogger("registry.notifications")

BATCH = 500
LIVE_STATUSES = (PatientStatus.PENDING_ACTIVATION, PatientStatus.ACTIVE,
                 PatientStatus.TREATMENT_ENDED)
REMINDED_STATUSES = (PatientStatus.ACTIVE, PatientStatus.TREATMENT_ENDED)


@dataclass
class ScanResult:
    day: date
    candidates: int = 0
    queued: dict[str, int] = field(default_factory=lambda: defaultdict(int))

    def count(self, kind: str, message: object) -> None:
        if message is not None:
            self.queued[kind] += 1


def useful_test_offsets(params: Parameters) -> dict[int, list[int]]:
    """For each days' supply, how many days after a dispense the next useful test day falls,
    asked of the rules themselves (so the SQL below holds no copy of the refill arithmetic):
    {offset: [days' supplies]}."""
    ref = date(2000, 1, 1)
    offsets: dict[int, list[int]] = defaultdict(list)
    for supply in range(1, params.max_days_supply + 1):
        facts = PatientFacts(
            registry_id="", date_of_birth=ref, risk_category=RiskCategory.CAN_GET_PREGNANT,
            status=PatientStatus.ACTIVE, prescriber_npi="", prescriber=StakeholderFacts(None),
            dispenses=(DispenseFact(ref, supply, CycleKind.TEST_WINDOW),),
        )
        useful = earliest_useful_test_on(facts, params)
        if useful is not None:
            offsets[(useful - ref).days].append(supply)
    return dict(offsets)


def candidate_patient_ids(session: Session, today: date, params: Parameters,
                          timing: Timing, config: Any) -> set[int]:
    """Patients for whom something may be due today, by date columns (indexed)."""
    days = timedelta
    ending_days = int(config.get("REMINDER_TREATMENT_END_DAYS", 90))
    queries = [
        # a window closing within the digest's horizon (the patient's reminder is one day of it)
        select(Cycle.patient_id).where(
            Cycle.closes_on.between(today, today + days(timing.window_closing_days))),
        # an RMA waiting, its last day near
        select(Authorization.patient_id).where(
            Authorization.status == AuthorizationStatus.AUTHORIZED,
            Authorization.do_not_dispense_after.between(
                today, today + days(timing.pickup_days))),
        # a dispense whose next useful test day is today
        select(Dispense.patient_id).where(or_(*(
            and_(Dispense.dispensed_on == today - days(offset), Dispense.days_supply.in_(supply))
            for offset, supply in useful_test_offsets(params).items()
        ))),
        # the first day a confirmation specimen may be collected
        select(PregnancyTest.patient_id).where(
            PregnancyTest.specimen_collected_on
            == today - days(params.confirmation_after_screening_days),
            PregnancyTest.purpose == "screening"),
        select(Patient.id).where(
            Patient.contraception_start_on == today - days(params.contraception_before_days)),
        # rule set 2021: the lockout after a missed first window ends
        select(Cycle.patient_id).where(
            Cycle.opened_on == today - days(params.lockout_days),
            Cycle.kind == CycleKind.TEST_WINDOW),
        # end of treatment: tests due or overdue, for a while after the last dose
        select(Patient.id).where(
            Patient.status == PatientStatus.TREATMENT_ENDED,
            Patient.last_dose_on.between(today - days(ending_days), today)),
    ]
    ids: set[int] = set()
    for query in queries:
        ids.update(session.execute(query).scalars())
    return ids


def _batches(items: Iterable[int], size: int = BATCH) -> Iterator[list[int]]:
    batch: list[int] = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


Digests = dict[int, list[tuple[str, list[str]]]]


def remind_patients(session: Session, patient_ids: list[int], today: date, params: Parameters,
                    timing: Timing, result: ScanResult, digests: Digests) -> None:
    """Evaluate the rules for these patients; queue their reminders, collect digest lines."""
    patients = session.execute(
        select(Patient).where(Patient.id.in_(patient_ids), Patient.status.in_(LIVE_STATUSES))
        .options(selectinload(Patient.user)).order_by(Patient.id)
    ).scalars().all()
    for patient in patients:
        facts = load_facts(session, patient)
        decision = evaluate(facts, today, params)
        if patient.user is not None and patient.status in REMINDED_STATUSES:
            for notice in patient_reminders(patient.id, facts, decision, params, timing):
                result.count(notice.kind, send(session, patient.user, notice))
        lines = digest_lines(decision, timing)
        if lines:
            digests[patient.prescriber_id].append(
                (f"{patient.full_name} ({patient.registry_id})", lines))


def scan_patients(today: date, params: Parameters, timing: Timing, result: ScanResult,
                  config: Any) -> Digests:
    """Patient reminders, queued batch by batch; returns each prescriber's digest lines."""
    digests: Digests = defaultdict(list)
    with db.unit_of_work() as session:
        ids = sorted(candidate_patient_ids(session, today, params, timing, config))
    result.candidates = len(ids)
    for batch in _batches(ids):
        with db.unit_of_work() as session:
            remind_patients(session, batch, today, params, timing, result, digests)
    return digests


def attestation_lines(session: Session, today: date, params: Parameters,
                      ) -> dict[int, list[str]]:
    """Each prescriber's own and their linked designees' attestations expiring soon."""
    lines: dict[int, list[str]] = defaultdict(list)
    since = today - timedelta(days=params.prescriber_attestation_days)
    until = since + timedelta(days=params.attestation_reminder_days)
    for prescriber in session.execute(
        select(Prescriber).where(Prescriber.attested_on.between(since, until))
        .order_by(Prescriber.id)
    ).scalars():
        standing = prescriber_standing(
            StakeholderFacts(prescriber.attested_on, prescriber.suspended_until,
                             prescriber.deactivated_on), today, params)
        line = attestation_line("Your own", standing, today, params)
        if line:
            lines[prescriber.id].append(line)
    since = today - timedelta(days=params.designee_attestation_days)
    until = since + timedelta(days=params.attestation_reminder_days)
    for designee, prescriber_id in session.execute(
        select(Designee, DesigneeLink.prescriber_id)
        .join(DesigneeLink, DesigneeLink.designee_id == Designee.id)
        .where(Designee.attested_on.between(since, until), DesigneeLink.unlinked_on.is_(None))
        .order_by(Designee.id, DesigneeLink.prescriber_id)
    ).all():
        standing = designee_standing(
            StakeholderFacts(designee.attested_on, designee.suspended_until,
                             designee.deactivated_on), today, params)
        line = attestation_line(f"Your designee {designee.name}", standing, today, params)
        if line:
            lines[prescriber_id].append(line)
    return lines


def send_digests(today: date, params: Parameters,
                 patients: Digests, result: ScanResult) -> None:
    with db.unit_of_work() as session:
        attestations = attestation_lines(session, today, params)
    prescriber_ids = sorted(set(patients) | set(attestations))
    for batch in _batches(prescriber_ids):
        with db.unit_of_work() as session:
            for prescriber in session.execute(
                select(Prescriber).where(Prescriber.id.in_(batch)).order_by(Prescriber.id)
            ).scalars():
                notice = prescriber_digest(today, patients.get(prescriber.id, []),
                                           attestations.get(prescriber.id, []))
                if notice is not None:
                    result.count(notice.kind, send(session, prescriber.user, notice))


def remind_pharmacies(today: date, params: Parameters, result: ScanResult) -> None:
    with db.unit_of_work() as session:
        for auth in session.execute(
            select(Authorization).where(
                Authorization.status == AuthorizationStatus.AUTHORIZED,
                Authorization.do_not_dispense_after == today - timedelta(days=1),
            ).order_by(Authorization.id)
        ).scalars():
            if not rma_not_picked_up_due(auth.status, auth.do_not_dispense_after, today, params):
                continue
            notice = rma_not_picked_up(auth.id, auth.rma, auth.do_not_dispense_after)
            for user in pharmacy_recipients(session, auth.pharmacy_id, auth.pharmacist_id):
                result.count(notice.kind, send(session, user, notice))


def run_reminders(today: date | None = None) -> ScanResult:
    """Every reminder due on ``today`` (default: the program's today), queued once."""
    from flask import current_app

    today = today or clock.today()
    params = current_params()
    timing = Timing.from_config(current_app.config)
    result = ScanResult(today)
    digests = scan_patients(today, params, timing, result, current_app.config)
    send_digests(today, params, digests, result)
    remind_pharmacies(today, params, result)
    log.info("reminders for %s: %d candidates, queued %s", today, result.candidates,
             dict(result.queued) or "nothing")
    return result


class DailyReminders:
    """The worker's job: once a day, at or after REMINDER_HOUR in the program time zone.

    Called every minute or so; it remembers the day it last ran in this process. Another
    worker, or this one restarted, runs the day again and queues nothing twice.
    """

    def __init__(self, hour: int) -> None:
        self.hour = hour
        self.done_on: date | None = None

    def __call__(self) -> None:
        local = clock.now().astimezone(clock.program_timezone())
        if local.hour < self.hour or self.done_on == local.date():
            return
        run_reminders(local.date())
        self.done_on = local.date()
