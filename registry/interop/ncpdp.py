"""NCPDP SCRIPT REMS messages: reading what a pharmacy system sends, writing our answers.

No database here: :mod:`registry.interop.ncpdp_service` does the work, this module only turns
XML into typed requests and answers into XML. Incoming XML is parsed with defusedxml (no DTD,
no entity, no external reference); outgoing XML is built with ``xml.etree`` (never by
concatenating strings), so every value is escaped.

Both spellings the public peers (MITRE's rems-admin and pims) send are accepted, and nothing
else: the patient's name as ``Names/Name`` or ``Name``; the drug as
``MedicationPrescribed/DrugCoded/ProductCode/Code`` or
``MedicationPrescribed/Product/DrugCoded/NDC``. A missing or unreadable element is a
:class:`NcpdpError` naming it (answered as an NCPDP ``Error``, HTTP 400).
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring

MAX_BYTES = 64 * 1024
VERSION = "2017071"
PROGRAM = "REGISTRY-REMS"  # our From in every answer (Qualifier ZZZ: mutually defined)

INITIATION_REQUEST = "REMSInitiationRequest"
REMS_REQUEST = "REMSRequest"
MESSAGES = (INITIATION_REQUEST, REMS_REQUEST)

# NCPDP Error/Code: 601 the receiver cannot process the message as sent (its shape),
# 900 the transaction is rejected (who sent it, or what it asks).
CODE_UNPROCESSABLE = "601"
CODE_REJECTED = "900"

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


class NcpdpError(Exception):
    """A message we refuse: the HTTP status, the NCPDP Error code and the description (which
    names the element at fault)."""

    def __init__(self, status: int, description: str, *, code: str = CODE_UNPROCESSABLE,
                 relates_to: str | None = None) -> None:
        super().__init__(description)
        self.status = status
        self.code = code
        self.description = description
        self.relates_to = relates_to


# --- reading -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Envelope:
    message_id: str
    kind: str  # one of MESSAGES
    body: ET.Element
    from_id: str | None


@dataclass(frozen=True)
class PatientPart:
    registry_id: str | None
    first_name: str
    last_name: str
    date_of_birth: str


@dataclass(frozen=True)
class Common:
    """What both messages carry."""

    message_id: str
    reference_id: str
    patient: PatientPart
    pharmacy_ncpdp_id: str | None
    pharmacist_id: str
    prescriber_npi: str
    ndc: str


@dataclass(frozen=True)
class InitiationRequest(Common):
    pass


@dataclass(frozen=True)
class RemsRequest(Common):
    quantity: str
    days_supply: str
    refills: str


def _local(tag: Any) -> str:
    """The tag without a namespace: peers send SCRIPT with and without one."""
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def _child(parent: ET.Element, name: str) -> ET.Element | None:
    found = [c for c in parent if _local(c.tag) == name]
    if len(found) > 1:
        raise NcpdpError(400, f"{name} appears more than once under {_local(parent.tag)}.")
    return found[0] if found else None


def _find(parent: ET.Element, path: str) -> ET.Element | None:
    node: ET.Element | None = parent
    for name in path.split("/"):
        if node is None:
            return None
        node = _child(node, name)
    return node


def _text(parent: ET.Element, path: str, where: str, *, required: bool = True,
          max_length: int = 100) -> str | None:
    """The trimmed text at ``path``; ``where`` is how the error names the parent."""
    node = _find(parent, path)
    value = (node.text or "").strip() if node is not None else ""
    name = f"{where}/{path}"
    if not value:
        if required:
            raise NcpdpError(400, f"{name} is required.")
        return None
    if len(value) > max_length:
        raise NcpdpError(400, f"{name} must be at most {max_length} characters.")
    if _CONTROL.search(value):
        raise NcpdpError(400, f"{name} must not contain control characters.")
    return value


def _required(parent: ET.Element, path: str, where: str, *, max_length: int = 100) -> str:
    value = _text(parent, path, where, max_length=max_length)
    assert value is not None
    return value


def read_envelope(raw: bytes) -> Envelope:
    """Parse (defusedxml: no DTD, no entities) and check the envelope."""
    if len(raw) > MAX_BYTES:
        raise NcpdpError(413, f"The message is larger than {MAX_BYTES} bytes.")
    try:
        root = fromstring(raw, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except DefusedXmlException as exc:
        raise NcpdpError(400, "The message declares a DTD, an entity or an external "
                         f"reference, which this door never reads ({type(exc).__name__}).") \
            from None
    except (ET.ParseError, ValueError, UnicodeError, LookupError, RecursionError) as exc:
        raise NcpdpError(400, f"The message is not well-formed XML: {exc}.") from None
    if _local(root.tag) != "Message":
        raise NcpdpError(400, f"The root element is {_local(root.tag) or '?'}; "
                         "send an NCPDP SCRIPT Message.")
    header = _child(root, "Header")
    if header is None:
        raise NcpdpError(400, "Message/Header is required.")
    message_id = _required(header, "MessageID", "Message/Header", max_length=35)
    from_id = _text(header, "From", "Message/Header", required=False, max_length=35)
    body = _child(root, "Body")
    if body is None:
        raise NcpdpError(400, "Message/Body is required.", relates_to=message_id)
    parts = list(body)
    if len(parts) != 1:
        raise NcpdpError(400, "Message/Body must hold exactly one transaction "
                         f"({' or '.join(MESSAGES)}).", relates_to=message_id)
    kind = _local(parts[0].tag)
    if kind not in MESSAGES:
        raise NcpdpError(400, f"Message/Body/{kind or '?'} is not a transaction this door "
                         f"answers; send {' or '.join(MESSAGES)}.", relates_to=message_id)
    return Envelope(message_id=message_id, kind=kind, body=parts[0], from_id=from_id)


def _patient(tx: ET.Element, where: str) -> PatientPart:
    human = _find(tx, "Patient/HumanPatient")
    if human is None:
        raise NcpdpError(400, f"{where}/Patient/HumanPatient is required.")
    at = f"{where}/Patient/HumanPatient"
    names = _child(human, "Names")
    name = _child(human, "Name")
    if names is not None and name is not None:
        raise NcpdpError(400, f"{at} has both Names and Name; send one.")
    if names is not None:
        name = _child(names, "Name")
        if name is None:
            raise NcpdpError(400, f"{at}/Names/Name is required (or send {at}/Name).")
        name_at = f"{at}/Names/Name"
    elif name is not None:
        name_at = f"{at}/Name"
    else:
        raise NcpdpError(400, f"{at}/Names/Name (or {at}/Name) is required.")
    return PatientPart(
        registry_id=_text(human, "Identification/REMSPatientID", at, required=False,
                          max_length=30),
        last_name=_required(name, "LastName", name_at),
        first_name=_required(name, "FirstName", name_at),
        date_of_birth=_required(human, "DateOfBirth/Date", at, max_length=10),
    )


def _ndc(tx: ET.Element, where: str) -> str:
    med = _child(tx, "MedicationPrescribed")
    if med is None:
        raise NcpdpError(400, f"{where}/MedicationPrescribed is required.")
    at = f"{where}/MedicationPrescribed"
    coded = _child(med, "DrugCoded")
    product = _child(med, "Product")
    if coded is not None and product is not None:
        raise NcpdpError(400, f"{at} has both DrugCoded and Product; send one.")
    if coded is not None:
        code = _required(coded, "ProductCode/Code", f"{at}/DrugCoded", max_length=20)
        path = f"{at}/DrugCoded/ProductCode/Code"
    elif product is not None:
        code = _required(product, "DrugCoded/NDC", f"{at}/Product", max_length=20)
        path = f"{at}/Product/DrugCoded/NDC"
    else:
        raise NcpdpError(400, f"{at}/DrugCoded/ProductCode/Code (or {at}/Product/DrugCoded/NDC) "
                         "is required.")
    digits = code.replace("-", "")
    if not re.fullmatch(r"[0-9]{10,11}", digits):
        raise NcpdpError(400, f"{path} must be an NDC: 10 or 11 digits, hyphens allowed.")
    return digits


def _common(envelope: Envelope) -> dict[str, Any]:
    tx = envelope.body
    where = f"Message/Body/{envelope.kind}"
    pharmacy = _child(tx, "Pharmacy")
    if pharmacy is None:
        raise NcpdpError(400, f"{where}/Pharmacy is required.")
    return {
        "message_id": envelope.message_id,
        "reference_id": _required(tx, "REMSReferenceID", where, max_length=35),
        "patient": _patient(tx, where),
        "pharmacy_ncpdp_id": _text(pharmacy, "Identification/NCPDPID", f"{where}/Pharmacy",
                                   required=False, max_length=7),
        "pharmacist_id": _required(
            pharmacy, "Pharmacist/Identification/REMSHealthcareProviderEnrollmentID",
            f"{where}/Pharmacy", max_length=12),
        "prescriber_npi": _required(tx, "Prescriber/NonVeterinarian/Identification/NPI", where,
                                    max_length=20),
        "ndc": _ndc(tx, where),
    }


def read_initiation(envelope: Envelope) -> InitiationRequest:
    return InitiationRequest(**_common(envelope))


def read_rems_request(envelope: Envelope) -> RemsRequest:
    tx = envelope.body
    where = f"Message/Body/{envelope.kind}"
    common = _common(envelope)
    case_id = _text(tx, "Request/SolicitedModel/REMSCaseID", where, required=False,
                    max_length=30)
    patient: PatientPart = common["patient"]
    if case_id and patient.registry_id and case_id != patient.registry_id:
        raise NcpdpError(400, f"{where}/Request/SolicitedModel/REMSCaseID and "
                         f"{where}/Patient/HumanPatient/Identification/REMSPatientID differ.")
    registry_id = patient.registry_id or case_id
    if not registry_id:
        raise NcpdpError(400, f"{where}/Patient/HumanPatient/Identification/REMSPatientID "
                         "(the patient's registry ID, or Request/SolicitedModel/REMSCaseID) "
                         "is required.")
    common["patient"] = PatientPart(registry_id, patient.first_name, patient.last_name,
                                    patient.date_of_birth)
    return RemsRequest(
        **common,
        quantity=_required(tx, "MedicationPrescribed/Quantity/Value", where, max_length=12),
        days_supply=_required(tx, "MedicationPrescribed/DaysSupply", where, max_length=12),
        refills=_text(tx, "MedicationPrescribed/NumberOfRefills", where, required=False,
                      max_length=12) or "0",
    )


# Where each field of the authorization request comes from, to name it in an error.
ELEMENTS = {
    "registry_id": "Patient/HumanPatient/Identification/REMSPatientID",
    "date_of_birth": "Patient/HumanPatient/DateOfBirth/Date",
    "prescriber_npi": "Prescriber/NonVeterinarian/Identification/NPI",
    "quantity": "MedicationPrescribed/Quantity/Value",
    "days_supply": "MedicationPrescribed/DaysSupply",
    "refills": "MedicationPrescribed/NumberOfRefills",
}


def whole_number(value: str) -> int | str:
    """"60", "60.0", "60.000": 60. Anything else is passed on for the contract to refuse."""
    match = re.fullmatch(r"([0-9]{1,9})(?:\.0+)?", value)
    return int(match[1]) if match else value


def day(value: str) -> date | None:
    try:
        return date.fromisoformat(value) if re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", value) \
            else None
    except ValueError:
        return None


# --- writing -----------------------------------------------------------------------------


def _sub(parent: ET.Element, name: str, text: str | None = None,
         **attrs: str) -> ET.Element:
    node = ET.SubElement(parent, name, attrs)
    if text is not None:
        node.text = text
    return node


def _message(*, to: str, message_id: str, relates_to: str | None,
             sent: datetime) -> tuple[ET.Element, ET.Element]:
    root = ET.Element("Message", {
        "DatatypesVersion": VERSION, "TransportVersion": VERSION,
        "TransactionDomain": "SCRIPT", "TransactionVersion": VERSION,
        "StructuresVersion": VERSION, "ECLVersion": VERSION,
    })
    header = _sub(root, "Header")
    _sub(header, "To", to, Qualifier="P")
    _sub(header, "From", PROGRAM, Qualifier="ZZZ")
    _sub(header, "MessageID", message_id)
    if relates_to is not None:
        _sub(header, "RelatesToMessageID", relates_to)
    _sub(header, "SentTime", sent.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z")
    return root, _sub(root, "Body")


def _bytes(root: ET.Element) -> bytes:
    out: bytes = ET.tostring(root, encoding="utf-8", xml_declaration=True)
    return out


def _patient_out(parent: ET.Element, registry_id: str | None) -> None:
    patient = _sub(parent, "Patient")
    human = _sub(patient, "HumanPatient")
    if registry_id is not None:
        _sub(_sub(human, "Identification"), "REMSPatientID", registry_id)


@dataclass(frozen=True)
class Answer:
    """What we send back: the HTTP status and the XML."""

    status: int
    body: bytes


def initiation_open(*, to: str, message_id: str, relates_to: str, sent: datetime,
                    reference_id: str, registry_id: str) -> Answer:
    root, body = _message(to=to, message_id=message_id, relates_to=relates_to, sent=sent)
    tx = _sub(body, "REMSInitiationResponse")
    _sub(tx, "REMSReferenceID", reference_id)
    _patient_out(tx, registry_id)
    status = _sub(_sub(tx, "Response"), "ResponseStatus")
    opened = _sub(status, "Open")
    _sub(opened, "REMSPatientID", registry_id)
    _sub(opened, "REMSCaseID", registry_id)
    return Answer(200, _bytes(root))


def initiation_closed(*, to: str, message_id: str, relates_to: str, sent: datetime,
                      reference_id: str, reason_code: str, note: str) -> Answer:
    root, body = _message(to=to, message_id=message_id, relates_to=relates_to, sent=sent)
    tx = _sub(body, "REMSInitiationResponse")
    _sub(tx, "REMSReferenceID", reference_id)
    status = _sub(_sub(tx, "Response"), "ResponseStatus")
    closed = _sub(status, "Closed")
    _sub(closed, "ReasonCode", reason_code)
    _sub(closed, "REMSNote", note)
    return Answer(200, _bytes(root))


def rems_approved(*, to: str, message_id: str, relates_to: str, sent: datetime,
                  reference_id: str, registry_id: str, rma: str, issued_on: date,
                  do_not_dispense_after: date) -> Answer:
    root, body = _message(to=to, message_id=message_id, relates_to=relates_to, sent=sent)
    tx = _sub(body, "REMSResponse")
    _sub(tx, "REMSReferenceID", reference_id)
    _patient_out(tx, registry_id)
    status = _sub(_sub(tx, "Response"), "ResponseStatus")
    approved = _sub(status, "Approved")
    _sub(approved, "REMSCaseID", registry_id)
    _sub(approved, "REMSAuthorizationNumber", rma)
    period = _sub(approved, "AuthorizationPeriod")
    _sub(_sub(period, "EffectiveDate"), "Date", issued_on.isoformat())
    _sub(_sub(period, "ExpirationDate"), "Date", do_not_dispense_after.isoformat())
    return Answer(200, _bytes(root))


def rems_denied(*, to: str, message_id: str, relates_to: str, sent: datetime,
                reference_id: str, registry_id: str, reason_code: str,
                note: str) -> Answer:
    root, body = _message(to=to, message_id=message_id, relates_to=relates_to, sent=sent)
    tx = _sub(body, "REMSResponse")
    _sub(tx, "REMSReferenceID", reference_id)
    _patient_out(tx, registry_id)
    status = _sub(_sub(tx, "Response"), "ResponseStatus")
    denied = _sub(status, "Denied")
    _sub(denied, "REMSCaseID", registry_id)
    _sub(denied, "DeniedReasonCode", reason_code)
    _sub(denied, "REMSNote", note)
    return Answer(200, _bytes(root))


def error(exc: NcpdpError, *, to: str, message_id: str, sent: datetime) -> Answer:
    root, body = _message(to=to, message_id=message_id, relates_to=exc.relates_to, sent=sent)
    err = _sub(body, "Error")
    _sub(err, "Code", exc.code)
    _sub(err, "Description", _CONTROL.sub("", exc.description)[:1000])
    return Answer(exc.status, _bytes(root))
