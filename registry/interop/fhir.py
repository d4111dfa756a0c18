"""HL7 FHIR (R4 JSON) for the US Medication REMS IG's ``GuidanceResponse/$rems-etasu``: read
the input ``Parameters``, and write the answer from the requirements view.

Models: ``fhir.resources.R4B`` (pydantic v2). The IG is on FHIR R4 (4.0.1); the library's
pydantic-v2 releases carry R4B (4.3.0) and R5 but no longer R4. Every resource this door
reads or writes (Parameters, Patient, Medication, MedicationRequest, GuidanceResponse,
OperationOutcome, Identifier, Reference, Annotation, DataRequirement) has the same JSON in
R4 and R4B, so R4B validates the R4 wire format; R5 would not (its GuidanceResponse and
MedicationRequest changed).

Nothing here touches the database; :mod:`registry.interop.api` finds the patient.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Any, NamedTuple

from pydantic import ValidationError as PydanticValidationError

from registry.interop.requirements import (
    Guidance,
    Requirement,
    RequirementResult,
    RequirementStatus,
    Step,
)
from registry.interop.systems import (
    ISOTRETINOIN_RXCUI,
    PROGRAM_NAME,
    REGISTRY_ID_SYSTEM,
    REMS_MODULE_URI,
    RXNORM_SYSTEM,
)
from registry.rules.dates import fmt
from registry.rules.identifiers import normalize_registry_id, registry_id_is_valid

if TYPE_CHECKING:
    from fhir.resources.R4B.medication import Medication
    from fhir.resources.R4B.medicationrequest import MedicationRequest
    from fhir.resources.R4B.operationoutcome import OperationOutcome
    from fhir.resources.R4B.parameters import Parameters
    from fhir.resources.R4B.patient import Patient as FhirPatient


class _R4B(NamedTuple):
    Medication: type[Medication]
    MedicationRequest: type[MedicationRequest]
    OperationOutcome: type[OperationOutcome]
    Parameters: type[Parameters]
    Patient: type[FhirPatient]


@functools.cache
def _r4b() -> _R4B:
    """The fhir.resources models, imported at the first FHIR request rather than with the
    app (about 0.15 s of every process's start, gunicorn workers, `registry worker` and each
    command, most of which never answer FHIR)."""
    from fhir.resources.R4B.medication import Medication
    from fhir.resources.R4B.medicationrequest import MedicationRequest
    from fhir.resources.R4B.operationoutcome import OperationOutcome
    from fhir.resources.R4B.parameters import Parameters
    from fhir.resources.R4B.patient import Patient

    return _R4B(Medication, MedicationRequest, OperationOutcome, Parameters, Patient)


FHIR_JSON = "application/fhir+json"
CASE_NUMBER_NAMES = ("case_number", "caseNumber")
OUTPUT_PARAMETERS_ID = "etasuOutputParameters"

# The IG's statuses for the whole answer and for each requirement.
GUIDANCE_STATUS: dict[RequirementStatus, str] = {
    RequirementStatus.MET: "success",
    RequirementStatus.MISSING: "data-required",
    RequirementStatus.BLOCKED: "failure",
}
REQUIREMENT_TITLE: dict[Requirement, str] = {
    Requirement.ENROLLMENT: "Patient enrollment",
    Requirement.PRESCRIBER: "Prescriber certification",
    Requirement.PREGNANCY_REPORT: "No pregnancy reported",
    Requirement.PREGNANCY_TEST: "Negative pregnancy test",
    Requirement.COUNSELING: "Counseling confirmed",
    Requirement.COMPREHENSION: "Comprehension questions passed",
    Requirement.CONTRACEPTION: "Contraception entered",
    Requirement.WINDOW: "Prescription window open",
    Requirement.DISPENSING: "No authorization open, not too soon",
    Requirement.PHARMACY: "Pharmacy and pharmacist certified",
    Requirement.PRESCRIPTION: "Days' supply and refills",
}

# OperationOutcome.issue.code for each HTTP status this door answers with.
ISSUE_CODE: dict[int, str] = {
    400: "structure", 401: "login", 403: "forbidden", 404: "not-found", 405: "not-supported",
    413: "too-costly", 415: "not-supported", 422: "processing", 429: "throttled",
    503: "transient",
}


class FhirError(Exception):
    """Bad input at the FHIR door: answered as an OperationOutcome with this status."""

    def __init__(self, status: int, diagnostics: str, *, code: str | None = None,
                 expression: str | None = None) -> None:
        super().__init__(diagnostics)
        self.status = status
        self.diagnostics = diagnostics
        self.code = code or ISSUE_CODE.get(status, "processing")
        self.expression = expression


def operation_outcome(status: int, diagnostics: str, *, code: str | None = None,
                      expression: str | None = None) -> dict[str, Any]:
    issue: dict[str, Any] = {
        "severity": "error" if status < 500 else "fatal",
        "code": code or ISSUE_CODE.get(status, "exception"),
        "diagnostics": diagnostics,
    }
    if expression:
        issue["expression"] = [expression]
    return validated(_r4b().OperationOutcome,
                     {"resourceType": "OperationOutcome", "issue": [issue]})


def validated(model: Any, resource: dict[str, Any]) -> dict[str, Any]:
    """``resource``, checked by ``fhir.resources``: what we send is valid FHIR or the request
    fails loudly (a bug, caught by the tests). Sent as built (the model's own dump costs
    more than the rest of the request)."""
    model.model_validate(resource)
    return resource


# --- reading the input ------------------------------------------------------------------


@dataclass(frozen=True)
class EtasuQuery:
    """What the caller asked about: a registry ID (from the case number or our identifier),
    or only a Patient we will not guess from."""

    registry_id: str | None
    birth_date: date | None
    patient_reference: str | None  # "Patient/<the EHR's id>", echoed back as the subject
    named_only: bool  # a Patient with no registry ID: never matched by name and birth date


def _pydantic_message(exc: PydanticValidationError) -> tuple[str, str | None]:
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first.get("loc", ()))
    message = str(first.get("msg", "invalid"))
    return (f"The Parameters resource is not valid FHIR: {where}: {message}"
            if where else f"The Parameters resource is not valid FHIR: {message}"), where or None


def read_parameters(body: dict[str, Any]) -> Parameters:
    """The body as a FHIR ``Parameters`` resource, validated: 400 naming what is wrong."""
    if not body:
        raise FhirError(400, "The body is empty: send a FHIR Parameters resource.",
                        code="structure")
    kind = body.get("resourceType")
    if kind != "Parameters":
        raise FhirError(400, f"Send a Parameters resource (resourceType \"Parameters\"), not "
                        f"{kind!r}." if kind else
                        "The body has no resourceType: send a FHIR Parameters resource.",
                        code="structure", expression="resourceType")
    try:
        return _r4b().Parameters.model_validate(body)
    except PydanticValidationError as exc:
        message, where = _pydantic_message(exc)
        raise FhirError(400, message, code="structure", expression=where) from None
    except (ValueError, TypeError, RecursionError) as exc:  # the library's own checks
        raise FhirError(400, f"The Parameters resource is not valid FHIR: {exc}",
                        code="structure") from None


def _registry_id(raw: str, where: str) -> str:
    rid = normalize_registry_id(raw)
    if not (len(rid) == 10 and rid.isdigit()):
        raise FhirError(422, f"{where}: a registry ID (case number) is 10 digits.",
                        code="value", expression=where)
    if not registry_id_is_valid(rid):
        raise FhirError(422, f"{where}: the registry ID's check digit does not match: "
                        "re-key the ID.", code="value", expression=where)
    return rid


def _codings_of(medication: Any, where: str) -> tuple[list[Any], str]:
    r4b = _r4b()
    if isinstance(medication, r4b.Medication):
        return list((medication.code.coding if medication.code else None) or ()), where
    if not isinstance(medication, r4b.MedicationRequest):  # pragma: no cover - checked by caller
        return [], where
    if medication.medicationCodeableConcept is not None:
        return (list(medication.medicationCodeableConcept.coding or ()),
                f"{where}.medicationCodeableConcept")
    ref = medication.medicationReference
    if ref is not None and ref.reference and ref.reference.startswith("#"):
        for contained in medication.contained or ():
            if isinstance(contained, r4b.Medication) and contained.id == ref.reference[1:]:
                return list((contained.code.coding if contained.code else None) or ()), where
    raise FhirError(422, f"{where}: the MedicationRequest names no medication code (a "
                    "medicationCodeableConcept, or a reference to a contained Medication).",
                    code="required", expression=where)


def check_medication(medication: Any, where: str) -> None:
    """The medication must be isotretinoin, coded with RxNorm 6064: 422 otherwise."""
    codings, at = _codings_of(medication, where)
    rxnorm = [c for c in codings if (c.system or "").rstrip("/") == RXNORM_SYSTEM]
    if not rxnorm:
        raise FhirError(422, f"{at}: code the medication with RxNorm ({RXNORM_SYSTEM}); "
                        f"this program covers isotretinoin, RxNorm {ISOTRETINOIN_RXCUI}.",
                        code="code-invalid", expression=at)
    if not any(c.code == ISOTRETINOIN_RXCUI for c in rxnorm):
        codes = ", ".join(sorted({str(c.code) for c in rxnorm}))
        raise FhirError(422, f"{at}: RxNorm {codes} is not isotretinoin (RxNorm "
                        f"{ISOTRETINOIN_RXCUI}): this REMS program covers isotretinoin only.",
                        code="not-supported", expression=at)


def read_query(parameters: Parameters) -> EtasuQuery:
    """The patient asked about, from ``patient`` + ``medication`` or a case number."""
    r4b = _r4b()
    patient: FhirPatient | None = None
    case_numbers: list[tuple[str, str]] = []
    medications: list[tuple[Any, str]] = []
    for i, param in enumerate(parameters.parameter or ()):
        where = f"Parameters.parameter[{i}]"
        name, resource = param.name, param.resource
        if name == "patient":
            if not isinstance(resource, r4b.Patient):
                raise FhirError(400, f"{where}: the patient parameter holds a Patient "
                                "resource.", code="structure", expression=where)
            if patient is not None:
                raise FhirError(422, "Send one patient.", code="structure", expression=where)
            patient = resource
        elif name == "medication":
            if not isinstance(resource, r4b.Medication | r4b.MedicationRequest):
                raise FhirError(400, f"{where}: the medication parameter holds a Medication "
                                "or MedicationRequest resource.", code="structure",
                                expression=where)
            medications.append((resource, f"{where}.resource"))
        elif name in CASE_NUMBER_NAMES:
            if not isinstance(param.valueString, str) or not param.valueString.strip():
                raise FhirError(422, f"{where}: the {name} parameter is a valueString (our "
                                "registry ID).", code="value", expression=where)
            case_numbers.append((param.valueString, f"{where}.valueString"))
    for medication, where in medications:
        check_medication(medication, where)

    registry_ids = {_registry_id(raw, where) for raw, where in case_numbers}
    birth_date: date | None = None
    reference: str | None = None
    if patient is not None:
        for j, identifier in enumerate(patient.identifier or ()):
            if (identifier.system or "").rstrip("/") == REGISTRY_ID_SYSTEM and identifier.value:
                registry_ids.add(_registry_id(
                    identifier.value, f"Patient.identifier[{j}].value"))
        if patient.birthDate is not None:
            if not isinstance(patient.birthDate, date):
                raise FhirError(422, "Patient.birthDate: give the full date of birth "
                                "(YYYY-MM-DD).", code="value", expression="Patient.birthDate")
            birth_date = patient.birthDate
        if patient.id:
            reference = f"Patient/{patient.id}"
    if len(registry_ids) > 1:
        raise FhirError(422, "The case number and the Patient's registry ID differ: send "
                        "one registry ID.", code="value")
    if not registry_ids:
        if patient is None:
            raise FhirError(422, "Send a patient (Patient with our registry ID as identifier "
                            f"system {REGISTRY_ID_SYSTEM} and birthDate) and a medication, "
                            "or a case_number.", code="required", expression="Parameters")
        return EtasuQuery(None, birth_date, reference, named_only=True)
    if not case_numbers:  # the patient + medication form of the IG
        if birth_date is None:
            raise FhirError(422, "Patient.birthDate is required with the registry ID.",
                            code="required", expression="Patient.birthDate")
        if not medications:
            raise FhirError(422, "Send the medication (Medication or MedicationRequest coded "
                            f"RxNorm {ISOTRETINOIN_RXCUI}) with the patient.",
                            code="required", expression="Parameters")
    return EtasuQuery(registry_ids.pop(), birth_date, reference, named_only=False)


# --- writing the answer ------------------------------------------------------------------


def _subject(registry_id: str | None, reference: str | None,
             display: str | None = None) -> dict[str, Any] | None:
    subject: dict[str, Any] = {}
    if reference:
        subject["reference"] = reference
    if registry_id:
        subject["identifier"] = {"system": REGISTRY_ID_SYSTEM, "value": registry_id}
    if display:
        subject["display"] = display
    return subject or None


def step_note(step: Step, absolute: Callable[[str], str]) -> str:
    parts = [f"{step.code}: {step.text}"]
    if step.action:
        parts.append(f"To do ({step.actor}): {step.action}")
    if step.due is not None:
        parts.append(f"Due by {fmt(step.due)}.")
    if step.link:
        parts.append(f"Where: {absolute(step.link)}")
    return " ".join(parts)


def _requirement_response(result: RequirementResult, subject: dict[str, Any] | None,
                          absolute: Callable[[str], str]) -> dict[str, Any]:
    title = REQUIREMENT_TITLE[result.requirement]
    notes = ([{"text": step_note(step, absolute)} for step in result.steps]
             or [{"text": f"{title}: met."}])
    response: dict[str, Any] = {
        "resourceType": "GuidanceResponse",
        "identifier": [{"system": f"{REMS_MODULE_URI}/requirement",
                        "value": result.requirement.value}],
        "moduleUri": REMS_MODULE_URI,
        "status": GUIDANCE_STATUS[result.status],
        "note": notes,
    }
    if subject:
        response["subject"] = subject
    return response


def etasu_answer(guidance: Guidance, query: EtasuQuery, *, now: str,
                 absolute: Callable[[str], str]) -> dict[str, Any]:
    """The output Parameters: one ``rems-etasu`` GuidanceResponse, its requirements in a
    contained Parameters (one GuidanceResponse each), and the ``case_number``."""
    registry_id = guidance.patient.registry_id if guidance.patient is not None else None
    subject = _subject(registry_id, query.patient_reference)
    outputs: list[dict[str, Any]] = [
        {"name": result.requirement.value,
         "resource": _requirement_response(result, subject, absolute)}
        for result in guidance.requirements
    ]
    if registry_id:
        outputs.append({"name": "case_number", "valueString": registry_id})
    summary = _summary(guidance)
    response: dict[str, Any] = {
        "resourceType": "GuidanceResponse",
        "contained": [{"resourceType": "Parameters", "id": OUTPUT_PARAMETERS_ID,
                       "parameter": outputs}],
        "moduleUri": REMS_MODULE_URI,
        "status": guidance.overall,
        "occurrenceDateTime": now,
        "outputParameters": {"reference": f"#{OUTPUT_PARAMETERS_ID}"},
        "note": [{"text": summary}],
    }
    if subject:
        response["subject"] = subject
    answer: dict[str, Any] = {"resourceType": "Parameters",
                               "parameter": [{"name": "rems-etasu", "resource": response}]}
    if registry_id:
        answer["parameter"].append({"name": "case_number", "valueString": registry_id})
    return validated(_r4b().Parameters, answer)


def _summary(guidance: Guidance) -> str:
    if guidance.overall == "success":
        closes = (f" The prescription window closes on {fmt(guidance.window_closes)}."
                  if guidance.window_closes else "")
        return f"{PROGRAM_NAME}: every requirement is met today.{closes}"
    open_ = [REQUIREMENT_TITLE[r.requirement] for r in guidance.missing]
    word = "Blocked" if guidance.overall == "failure" else "Still needed"
    return f"{PROGRAM_NAME}: {word}: {'; '.join(open_)}."


def identify_first(query: EtasuQuery, *, now: str) -> dict[str, Any]:
    """A Patient with no registry ID: ``data-required``, asking for it. Never a guess from the
    name and birth date (two people can share both)."""
    text = ("The patient is not identified: send the registry ID (case number) from the "
            f"patient's card as a Patient.identifier with system {REGISTRY_ID_SYSTEM}, or as "
            "the case_number parameter. A patient is never matched by name and birth date "
            "alone. A patient not yet enrolled is registered by the prescriber first.")
    response: dict[str, Any] = {
        "resourceType": "GuidanceResponse",
        "moduleUri": REMS_MODULE_URI,
        "status": "data-required",
        "occurrenceDateTime": now,
        "note": [{"text": text}],
        "dataRequirement": [{"type": "Patient", "mustSupport": ["identifier"]}],
    }
    subject = _subject(None, query.patient_reference)
    if subject:
        response["subject"] = subject
    return validated(_r4b().Parameters,
                     {"resourceType": "Parameters",
                      "parameter": [{"name": "rems-etasu", "resource": response}]})
