"""Answering a CDS Hooks call from a registered EHR system: find the prescriber (by the NPI on
the Practitioner) among those the system serves, find the patient by our registry ID among
that prescriber's patients, read the rules' decision, and audit the call as the system
acting for the prescriber."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from registry import clock
from registry.audit.operations import record
from registry.contract import parse
from registry.interop.cds.cards import (
    guidance_cards,
    prescriber_not_served_card,
    unmatched_patient_card,
)
from registry.interop.cds.fetch import Fetcher, fetchable
from registry.interop.cds.resources import (
    NPI_SYSTEM,
    REGISTRY_ID_SYSTEM,
    bundle_resources,
    identifier,
    is_isotretinoin_order,
    reference_of,
)
from registry.interop.cds.schemas import (
    Context,
    HookRequest,
    OrderContext,
    SelectContext,
)
from registry.interop.ehr.models import EhrSystem
from registry.interop.requirements import guidance_for
from registry.patients.models import Patient
from registry.prescribers.models import Prescriber
from registry.rules.identifiers import normalize_registry_id, registry_id_is_valid


@dataclass(frozen=True)
class Service:
    id: str
    hook: str
    title: str
    description: str
    context: type[Context]
    prefetch: dict[str, str]


PREFETCH = {"patient": "Patient/{{context.patientId}}", "practitioner": "{{context.userId}}"}
SERVICES: dict[str, Service] = {s.id: s for s in (
    Service("isotretinoin-order-sign", "order-sign", "Isotretinoin program: before signing",
            "For a draft isotretinoin order (RxNorm 6064): what the patient still needs "
            "before a dispense, who must act, and links to do it in the registry.",
            OrderContext, PREFETCH),
    Service("isotretinoin-order-select", "order-select",
            "Isotretinoin program: on selecting the order",
            "When isotretinoin (RxNorm 6064) is selected: the patient's program status.",
            SelectContext, PREFETCH),
    Service("isotretinoin-patient-view", "patient-view",
            "Isotretinoin program: patient status",
            "For a patient enrolled in the program (our registry ID on the Patient): what "
            "is missing this month and who must act.", Context, PREFETCH),
)}


@dataclass(frozen=True)
class Call:
    """What the view hands over: the system, the parsed request, and how to fetch."""

    system: EhrSystem
    service: Service
    request: HookRequest
    fetcher: Fetcher
    public_url: str


def parse_call(service: Service, body: Any) -> tuple[HookRequest, Context]:
    request = parse(HookRequest, body)
    context = parse(service.context, request.context)
    return request, context


def _resource(call: Call, key: str, reference: str, kind: str) -> dict[str, Any] | None:
    """From the prefetch, else from the EHR's own FHIR server (the one registered for it)."""
    given = (call.request.prefetch or {}).get(key)
    if isinstance(given, dict) and given.get("resourceType") == kind:
        return given
    server, auth = call.request.fhirServer, call.request.fhirAuthorization
    if server is None or auth is None or not fetchable(reference):
        return None
    if server.rstrip("/") != call.system.fhir_base_url.rstrip("/"):
        return None  # never fetch from an address the program did not register
    found = call.fetcher(server, reference, auth.access_token)
    return found if isinstance(found, dict) and found.get("resourceType") == kind else None


def _orders(service: Service, context: Context) -> list[dict[str, Any]]:
    if not isinstance(context, OrderContext):
        return []
    orders = [r for r in bundle_resources(context.draftOrders) if is_isotretinoin_order(r)]
    if isinstance(context, SelectContext):
        chosen = set(context.selections)
        orders = [o for o in orders if reference_of(o) in chosen]
    return orders


def _prescriber(call: Call, context: Context) -> Prescriber | None:
    if not context.userId.startswith("Practitioner/"):
        return None
    practitioner = _resource(call, "practitioner", context.userId, "Practitioner")
    if practitioner is None or (practitioner.get("id") is not None
                                and f"Practitioner/{practitioner['id']}" != context.userId):
        return None
    npi = identifier(practitioner, NPI_SYSTEM)
    return next((p for p in call.system.prescribers if p.npi == npi), None)


def _birth_date(resource: dict[str, Any]) -> date | None:
    value = resource.get("birthDate")
    try:
        return date.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        return None


def _patient(session: Session, call: Call, context: Context, prescriber: Prescriber,
             ) -> tuple[Patient | None, str | None]:
    """The prescriber's patient named by our registry ID on the Patient (and the ID seen)."""
    resource = _resource(call, "patient", f"Patient/{context.patientId}", "Patient")
    given = identifier(resource, REGISTRY_ID_SYSTEM) if resource else None
    if given is None or resource is None:
        return None, None
    rid = normalize_registry_id(given)
    if not (len(rid) == 10 and rid.isdigit() and registry_id_is_valid(rid)):
        return None, given[:30]
    patient = session.execute(select(Patient).where(
        Patient.registry_id == rid, Patient.prescriber_id == prescriber.id)).scalar_one_or_none()
    born = _birth_date(resource)
    if patient is not None and born is not None and born != patient.date_of_birth:
        patient = None
    return patient, rid


def answer(session: Session, call: Call, context: Context) -> list[dict[str, Any]]:
    """The cards for this call; the call is audited whatever the answer."""
    service, system = call.service, call.system
    orders = _orders(service, context)
    about: dict[str, Any] = {"via_system": system.id, "system_issuer": system.issuer,
                             "hook": service.hook, "hook_instance": call.request.hookInstance,
                             "user": context.userId}
    if service.hook != "patient-view" and not orders:
        record(session, None, f"cds:{service.hook}", "ehr_system", system.id,
               after={**about, "isotretinoin": False, "cards": 0})
        return []
    prescriber = _prescriber(call, context)
    if prescriber is None:
        cards = [] if service.hook == "patient-view" else [
            prescriber_not_served_card(call.public_url)]
        record(session, None, f"cds:{service.hook}", "ehr_system", system.id,
               after={**about, "outcome": "prescriber-not-served", "cards": len(cards)})
        return cards
    patient, seen_id = _patient(session, call, context, prescriber)
    if patient is None:
        cards = [] if service.hook == "patient-view" else [
            unmatched_patient_card(call.public_url, registry_id=seen_id)]
        record(session, prescriber.user, f"cds:{service.hook}", "patient", None,
               after={**about, "outcome": "patient-not-matched", "cards": len(cards)})
        return cards
    guidance = guidance_for(session, patient, clock.today())
    cards = guidance_cards(guidance, patient, call.public_url, orders)
    record(session, prescriber.user, f"cds:{service.hook}", "patient", patient.id,
           after={**about, "registry_id": patient.registry_id, "outcome": guidance.overall,
                  "missing": [r.requirement.value for r in guidance.missing],
                  "cards": len(cards)})
    return cards
