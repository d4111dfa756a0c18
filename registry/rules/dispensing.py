"""Dispensing authorization (rules §6): the pharmacy's request, the patient's and the
prescriber's standing, an authorization already open, and a refill too soon."""

from __future__ import annotations

from datetime import date

from registry.rules import wording
from registry.rules.decision import Findings
from registry.rules.facts import PatientFacts, RequestFacts
from registry.rules.history import earliest_refill_on, open_authorizations
from registry.rules.params import Parameters
from registry.rules.stakeholders import (
    pharmacist_standing,
    pharmacy_standing,
    prescriber_standing,
)
from registry.rules.vocabulary import Actor, PatientStatus, ReasonCode


def check_request(found: Findings, request: RequestFacts, today: date,
                  params: Parameters) -> None:
    pharmacy = pharmacy_standing(request.pharmacy, today, params)
    if not pharmacy.active:
        found.reason(ReasonCode.PHARMACY_NOT_ACTIVE, wording.pharmacy_not_active(pharmacy.detail),
                     Actor.PHARMACY)
    pharmacist = pharmacist_standing(request.pharmacist, today, params)
    if not pharmacist.active:
        found.reason(ReasonCode.PHARMACIST_NOT_AUTHORIZED,
                     wording.pharmacist_not_authorized(pharmacist.detail), Actor.PHARMACY)
    if request.days_supply > params.max_days_supply:
        found.reason(ReasonCode.DAYS_SUPPLY_EXCEEDS_LIMIT,
                     wording.days_supply_exceeds_limit(request.days_supply,
                                                       params.max_days_supply),
                     Actor.PHARMACY)
    if request.refills != 0:
        found.reason(ReasonCode.REFILLS_NOT_ALLOWED, wording.refills_not_allowed(request.refills),
                     Actor.PRESCRIBER)


def check_patient(
    found: Findings, facts: PatientFacts, today: date, params: Parameters,
    request: RequestFacts | None,
) -> None:
    if facts.pregnancy_reported:
        found.reason(ReasonCode.PREGNANCY_REPORTED, wording.PREGNANCY_REPORTED,
                     Actor.PROGRAM_STAFF)
    if facts.status != PatientStatus.ACTIVE:
        pending = facts.status == PatientStatus.PENDING_ACTIVATION
        found.reason(ReasonCode.PATIENT_NOT_ACTIVE, wording.patient_not_active(facts.status),
                     Actor.PATIENT if pending else Actor.PRESCRIBER)
        if pending:
            found.step(Actor.PATIENT, wording.STEP_ACTIVATE)
    prescriber = prescriber_standing(facts.prescriber, today, params)
    if not prescriber.active:
        found.reason(ReasonCode.PRESCRIBER_NOT_ACTIVE,
                     wording.prescriber_not_active(prescriber.detail), Actor.PRESCRIBER)
    if request is not None and request.prescriber_npi != facts.prescriber_npi:
        found.reason(ReasonCode.PRESCRIBER_MISMATCH,
                     wording.prescriber_mismatch(request.prescriber_npi), Actor.PHARMACY)
    open_now = open_authorizations(facts, today)
    if open_now:
        auth = open_now[0]
        found.reason(ReasonCode.AUTHORIZATION_ALREADY_ISSUED,
                     wording.authorization_open(auth.do_not_dispense_after), Actor.PHARMACY,
                     auth.do_not_dispense_after)
        # What happens next is the pick-up: say so, with its last day (not a blank step).
        found.step(Actor.PATIENT, wording.STEP_PICK_UP, due_on=auth.do_not_dispense_after)


def check_supply(found: Findings, facts: PatientFacts, today: date, params: Parameters) -> None:
    earliest = earliest_refill_on(facts, params)
    if earliest is None:
        return
    last = max(facts.dispenses, key=lambda d: d.dispensed_on)
    if today < earliest:
        found.reason(ReasonCode.REFILL_TOO_SOON,
                     wording.refill_too_soon(last.dispensed_on, last.days_supply, earliest),
                     Actor.PHARMACY, earliest)
        if not found.steps:  # nothing else to do before then: the next authorization
            found.step(Actor.PHARMACY, wording.STEP_NEXT_AUTHORIZATION, not_before=earliest)
