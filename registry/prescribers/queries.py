"""Read-only lookups of prescribers and designees."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Select, func, literal, select, tuple_
from sqlalchemy.orm import Session

from registry import clock
from registry.accounts.models import Role, User
from registry.errors import NotFound, ValidationError
from registry.params import current as current_params
from registry.patients.facts import load_facts_of
from registry.patients.models import Patient
from registry.permissions import designee_for_user, linked_prescriber_ids, prescriber_for_user
from registry.prescribers.models import Designee, Prescriber
from registry.rules import Decision, evaluate
from registry.rules.identifiers import normalize_registry_id
from registry.rules.reasons import NextStep


def by_npi(session: Session, npi: str) -> Prescriber | None:
    cleaned = (npi or "").replace(" ", "").replace("-", "")
    return session.execute(select(Prescriber).where(Prescriber.npi == cleaned)).scalar()


def visible_prescriber(session: Session, actor: User, prescriber_id: int) -> Prescriber:
    """Staff and the prescriber themselves see a prescriber's record; others get NotFound."""
    prescriber = session.get(Prescriber, prescriber_id)
    if prescriber is None:
        raise NotFound("No such prescriber.")
    if actor.role == Role.STAFF:
        return prescriber
    own = prescriber_for_user(session, actor)
    if own is None or own.id != prescriber.id:
        raise NotFound("No such prescriber.")
    return prescriber


def visible_designee(session: Session, actor: User, designee_id: int) -> Designee:
    """Staff, the designee and their linked prescribers see a designee; others get NotFound."""
    designee = session.get(Designee, designee_id)
    if designee is None:
        raise NotFound("No such designee.")
    if actor.role == Role.STAFF:
        return designee
    own = designee_for_user(session, actor)
    if own is not None and own.id == designee.id:
        return designee
    prescriber = prescriber_for_user(session, actor)
    if prescriber is not None and prescriber.id in linked_prescriber_ids(session, designee):
        return designee
    raise NotFound("No such designee.")


# --- the prescriber's patients, a page at a time ----------------------------------------


@dataclass(frozen=True)
class PatientRow:
    patient: Patient
    decision: Decision
    step: NextStep | None  # the prescriber's own step when only those are listed
    needs_me: bool  # a step of the prescriber's is pending


@dataclass(frozen=True)
class PatientPage:
    rows: list[PatientRow]
    next_cursor: str | None


def _matching(prescriber_id: int, q: str | None) -> Select[tuple[Patient]]:
    statement = select(Patient).where(Patient.prescriber_id == prescriber_id)
    if q:
        name = func.lower(Patient.first_name + " " + Patient.last_name)
        match = name.contains(q.lower(), autoescape=True)
        rid = normalize_registry_id(q)
        if rid:
            match = match | Patient.registry_id.contains(rid, autoescape=True)
        statement = statement.where(match)
    return statement


def _cursor_key(session: Session, prescriber_id: int,
                cursor: str) -> tuple[str, str, int]:
    """The cursor is the registry ID of the last patient of the previous page."""
    after = session.execute(
        select(Patient.last_name, Patient.first_name, Patient.id).where(
            Patient.registry_id == cursor, Patient.prescriber_id == prescriber_id)
    ).first()
    if after is None:
        raise ValidationError(cursor="Not a cursor of this list: start again without it.")
    return after.last_name, after.first_name, after.id


def patient_page(session: Session, prescriber_id: int, *, q: str | None = None,
                 needs_action: bool = False, cursor: str | None = None,
                 limit: int = 50) -> PatientPage:
    """The prescriber's patients by name, ``limit`` at a time (keyset: each page starts
    after the cursor, so a page costs the same however deep it is). The facts of a page's
    patients are read together, a few statements for the whole page."""
    today, params = clock.today(), current_params()
    order = (Patient.last_name, Patient.first_name, Patient.id)
    key = _cursor_key(session, prescriber_id, cursor) if cursor else None
    rows: list[PatientRow] = []
    last: Patient | None = None
    while True:
        statement = _matching(prescriber_id, q)
        if key is not None:
            statement = statement.where(tuple_(*order) > tuple_(*map(literal, key)))
        batch = list(session.execute(statement.order_by(*order).limit(limit + 1)).scalars())
        more = len(batch) > limit
        batch = batch[:limit]
        facts = load_facts_of(session, batch)
        for patient in batch:
            decision = evaluate(facts[patient.id], today, params)
            mine = next((s for s in decision.next_steps if s.actor == "prescriber"), None)
            if needs_action and mine is None:
                last = patient
                continue
            # "Needs my action" lists what the prescriber has to do and by when, even when
            # the patient's own step comes first.
            step = mine if needs_action else (decision.next_steps[0]
                                               if decision.next_steps else None)
            rows.append(PatientRow(patient, decision, step, mine is not None))
            last = patient
            if len(rows) == limit:
                break
        if len(rows) == limit:
            ended = patient is batch[-1] and not more
            return PatientPage(rows, None if ended else rows[-1].patient.registry_id)
        if not more:
            return PatientPage(rows, None)
        assert last is not None
        key = (last.last_name, last.first_name, last.id)


def listed_prescriber(session: Session, actor: User, prescriber_id: int) -> Prescriber:
    """The prescriber whose patients ``actor`` may list: themselves, or one a designee is
    linked to; NotFound otherwise."""
    prescriber = session.get(Prescriber, prescriber_id)
    if prescriber is not None:
        if actor.role == Role.PRESCRIBER:
            own = prescriber_for_user(session, actor)
            if own is not None and own.id == prescriber.id:
                return prescriber
        elif actor.role == Role.DESIGNEE:
            designee = designee_for_user(session, actor)
            if designee is not None and prescriber.id in linked_prescriber_ids(session,
                                                                               designee):
                return prescriber
    raise NotFound("No such prescriber.")
