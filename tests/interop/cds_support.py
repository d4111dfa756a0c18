"""Helpers for the CDS Hooks tests: an EHR's keys, its signed JWTs, its registration, and the
requests it sends (built from the specification's published examples, our own files)."""

from __future__ import annotations

import copy
import json
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec
from flask import Flask
from flask.testing import FlaskClient
from jsonschema import Draft202012Validator, FormatChecker
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from registry.contract import parse
from registry.interop.ehr.models import EhrSystem, EhrTokenUse
from registry.interop.ehr.operations import register_ehr_system
from registry.interop.ehr.schemas import EhrSystemInput
from registry.interop.systems import REGISTRY_ID_SYSTEM
from registry.models import AuditEntry
from registry.patients.models import Patient
from registry.prescribers.models import Prescriber
from tests import factories as f

FIXTURES = Path(__file__).parent / "fixtures"
ISSUER = "https://ehr.example.org"
FHIR_BASE = "https://ehr.example.org/fhir"
HOST = "http://localhost"
NPI_SYSTEM = "http://hl7.org/fhir/sid/us-npi"


def fixture(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


def validator(name: str) -> Draft202012Validator:
    return Draft202012Validator(fixture(name), format_checker=FormatChecker())


RESPONSE = validator("cds-hooks-response.schema.json")
DISCOVERY = validator("cds-hooks-discovery.schema.json")
ERROR = validator("cds-hooks-error.schema.json")


@dataclass
class Ehr:
    """An EHR's signing key (EC P-384, ES384 as CDS Hooks recommends) and its public JWKS."""

    kid: str = field(default_factory=lambda: uuid.uuid4().hex[:12])
    key: Any = field(default_factory=lambda: ec.generate_private_key(ec.SECP384R1()))

    @property
    def public_jwk(self) -> dict[str, Any]:
        jwk: dict[str, Any] = jwt.algorithms.ECAlgorithm.to_jwk(self.key.public_key(),
                                                               as_dict=True)
        return {**jwk, "kid": self.kid, "alg": "ES384", "use": "sig"}

    @property
    def private_jwk(self) -> dict[str, Any]:
        jwk: dict[str, Any] = jwt.algorithms.ECAlgorithm.to_jwk(self.key, as_dict=True)
        return {**jwk, "kid": self.kid}

    def jwks(self) -> dict[str, Any]:
        return {"keys": [self.public_jwk]}

    def token(self, aud: str, *, iss: str = ISSUER, lifetime: int = 300, now: float | None = None,
              jti: str | None = None, kid: str | None = None, **claims: Any) -> str:
        issued = int(time.time() if now is None else now)
        body = {"iss": iss, "aud": aud, "iat": issued, "exp": issued + lifetime,
                "jti": jti or uuid.uuid4().hex, **claims}
        return jwt.encode(body, self.key, algorithm="ES384",
                          headers={"kid": kid or self.kid, "typ": "JWT"})


def register(session: Session, ehr: Ehr, prescribers: list[Prescriber], *,
             issuer: str = ISSUER) -> EhrSystem:
    staff = f.staff(session)
    return register_ehr_system(session, staff, parse(EhrSystemInput, {
        "name": "Example EHR", "issuer": issuer, "client_id": "registry-cds",
        "jwks": ehr.jwks(), "fhir_base_url": FHIR_BASE,
        "prescriber_npis": [p.npi for p in prescribers]}))


def service_url(service: str) -> str:
    return f"{HOST}/cds-services/{service}"


def order_sign(prescriber: Prescriber | None, patient: Patient | None, *,
               drug: str = "6064") -> dict[str, Any]:
    """The specification's order-sign example, with our identifiers on its resources."""
    body: dict[str, Any] = copy.deepcopy(fixture("cds-hooks-order-sign-request.json"))
    order = body["context"]["draftOrders"]["entry"][0]["resource"]
    order["medicationCodeableConcept"]["coding"][0]["code"] = drug
    if patient is not None:
        body["prefetch"]["patient"]["identifier"] = [
            {"system": REGISTRY_ID_SYSTEM, "value": patient.registry_id}]
        body["prefetch"]["patient"]["birthDate"] = patient.date_of_birth.isoformat()
    if prescriber is not None:
        body["prefetch"]["practitioner"]["identifier"] = [
            {"system": NPI_SYSTEM, "value": prescriber.npi}]
    return body


def call(client: FlaskClient, service: str, body: Any, token: str | None,
         **headers: str) -> Any:
    sent = dict(headers)
    if token is not None:
        sent["Authorization"] = f"Bearer {token}"
    return client.post(f"/cds-services/{service}", json=body, headers=sent)


def audit_count(session: Session) -> int:
    return int(session.scalar(select(func.count()).select_from(AuditEntry)) or 0)


def jti_count(session: Session) -> int:
    return int(session.scalar(select(func.count()).select_from(EhrTokenUse)) or 0)


def valid_response(answer: Any) -> list[dict[str, Any]]:
    assert answer.status_code == 200, answer.get_data(as_text=True)
    data = answer.get_json()
    errors = sorted(RESPONSE.iter_errors(data), key=str)
    assert not errors, [e.message for e in errors]
    cards: list[dict[str, Any]] = data["cards"]
    return cards


def app_fetcher(app: Flask, fetcher: Any) -> Any:
    previous = app.extensions.get("registry.cds_fetcher")
    app.extensions["registry.cds_fetcher"] = fetcher
    return previous
