"""Reading the few FHIR R4 things a CDS call carries: the patient's identifiers, the
practitioner's NPI, and whether a draft MedicationRequest is for isotretinoin."""

from __future__ import annotations

from typing import Any

from registry.interop.systems import (
    ISOTRETINOIN_RXCUI,
    PROGRAM_NAME,
    REGISTRY_ID_SYSTEM,
    RXNORM_SYSTEM,
)

__all__ = ["ISOTRETINOIN_RXCUI", "NPI_SYSTEM", "PROGRAM_NAME", "REGISTRY_ID_SYSTEM",
           "RXNORM_SYSTEM"]

NPI_SYSTEM = "http://hl7.org/fhir/sid/us-npi"  # a Practitioner's NPI (US Core)


def identifier(resource: Any, system: str) -> str | None:
    """The value of the resource's first identifier in ``system``."""
    if not isinstance(resource, dict):
        return None
    for ident in resource.get("identifier") or []:
        if isinstance(ident, dict) and ident.get("system") == system:
            value = ident.get("value")
            if isinstance(value, str) and value.strip():
                return value.strip()
    return None


def _codings(concept: Any) -> list[dict[str, Any]]:
    if not isinstance(concept, dict):
        return []
    return [c for c in concept.get("coding") or [] if isinstance(c, dict)]


def _is_isotretinoin(concept: Any) -> bool:
    return any(c.get("system") == RXNORM_SYSTEM and str(c.get("code")) == ISOTRETINOIN_RXCUI
               for c in _codings(concept))


def is_isotretinoin_order(resource: Any) -> bool:
    """A MedicationRequest coded with RxNorm 6064, directly or through a contained
    Medication it references."""
    if not isinstance(resource, dict) or resource.get("resourceType") != "MedicationRequest":
        return False
    if _is_isotretinoin(resource.get("medicationCodeableConcept")):
        return True
    reference = (resource.get("medicationReference") or {})
    ref = reference.get("reference") if isinstance(reference, dict) else None
    if isinstance(ref, str) and ref.startswith("#"):
        for contained in resource.get("contained") or []:
            if (isinstance(contained, dict) and contained.get("resourceType") == "Medication"
                    and contained.get("id") == ref[1:]
                    and _is_isotretinoin(contained.get("code"))):
                return True
    return False


def bundle_resources(bundle: Any) -> list[dict[str, Any]]:
    """The resources of a Bundle's entries (what ``draftOrders`` holds)."""
    if not isinstance(bundle, dict) or bundle.get("resourceType") != "Bundle":
        return []
    return [e["resource"] for e in bundle.get("entry") or []
            if isinstance(e, dict) and isinstance(e.get("resource"), dict)]


def reference_of(resource: dict[str, Any]) -> str:
    return f"{resource.get('resourceType')}/{resource.get('id')}"
