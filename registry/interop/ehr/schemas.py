"""What program staff send to register an EHR system, and what they get back."""

from __future__ import annotations

import json
import re
from datetime import datetime
from typing import Annotated, Any
from urllib.parse import urlsplit

from pydantic import AfterValidator, BeforeValidator, Field, Strict, WithJsonSchema
from pydantic_core import PydanticCustomError

from registry.contract import Flag, Input, Name, Npi, Output, Text
from registry.interop.ehr.models import EhrSystem

# What the key set of an EHR may hold: asymmetric public keys only (CDS Hooks signs with
# RS384 or ES384; a symmetric "oct" key would be a shared secret, not a public key).
PUBLIC_KEY_TYPES = frozenset({"RSA", "EC", "OKP"})
# The members of a JWK that are private key material (RFC 7518 §6.2.2, §6.3.2; RFC 8037).
PRIVATE_MEMBERS = frozenset({"d", "p", "q", "dp", "dq", "qi", "oth", "k"})
MAX_KEYS = 20
MAX_JWKS_BYTES = 32_000


URL_PATTERN = r"^https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?(/[^\s\x00]*)?$"
URL_MESSAGE = "Must be an absolute http(s) address."


def _url(value: str) -> str:
    try:
        parts = urlsplit(value)
    except ValueError:
        raise PydanticCustomError("url", URL_MESSAGE) from None
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise PydanticCustomError("url", URL_MESSAGE)
    return value.rstrip("/")


def _url_shape(value: Any) -> Any:
    """The pattern's refusal in words (JSON Schema's pattern is the same expression)."""
    if isinstance(value, str) and not re.match(URL_PATTERN, value):
        raise PydanticCustomError("url", URL_MESSAGE)
    return value


Url = Annotated[str, Strict(), Field(min_length=1, max_length=500),
                BeforeValidator(_url_shape), AfterValidator(_url),
                WithJsonSchema({"type": "string", "format": "uri", "maxLength": 500,
                                "pattern": URL_PATTERN,
                                "example": "https://ehr.example.org/fhir"})]


def public_jwks(value: dict[str, Any]) -> dict[str, Any]:
    """A JSON Web Key Set of public keys that PyJWT can read; private key material refused."""
    import jwt

    if len(json.dumps(value)) > MAX_JWKS_BYTES:
        raise PydanticCustomError("jwks", f"The key set is over {MAX_JWKS_BYTES} bytes.")
    keys = value.get("keys")
    if not isinstance(keys, list) or not keys:
        raise PydanticCustomError("jwks", "Must be a JWK Set: {\"keys\": [ ...public keys ]}.")
    if len(keys) > MAX_KEYS:
        raise PydanticCustomError("jwks", f"At most {MAX_KEYS} keys.")
    for number, key in enumerate(keys, start=1):
        if not isinstance(key, dict):
            raise PydanticCustomError("jwks", f"Key {number} is not a JSON object.")
        if key.get("kty") not in PUBLIC_KEY_TYPES:
            raise PydanticCustomError(
                "jwks", f"Key {number}: kty must be RSA, EC or OKP (a public key).")
        private = sorted(PRIVATE_MEMBERS & set(key))
        if private:
            raise PydanticCustomError(
                "jwks", f"Key {number} holds private key material ({', '.join(private)}): "
                "register the public keys only, and treat this private key as disclosed.")
        try:
            jwt.PyJWK(key)
        except (jwt.PyJWKError, jwt.InvalidKeyError, ValueError, TypeError) as error:
            raise PydanticCustomError(
                "jwks", f"Key {number} cannot be read as a public key: {error}.") from None
    return {"keys": keys}


Jwks = Annotated[dict[str, Any], AfterValidator(public_jwks),
                 WithJsonSchema({"type": "object", "required": ["keys"], "format": "jwks",
                                 "description": "The EHR's JSON Web Key Set (RFC 7517): its "
                                 "public keys only (RSA, EC or OKP), each readable as a "
                                 "key (checked by the server).",
                                 "properties": {"keys": {"type": "array", "minItems": 1,
                                                         "maxItems": MAX_KEYS,
                                                         "items": {"type": "object"}}}})]
Npis = Annotated[list[Npi], Field(max_length=1000, description="The NPIs of the prescribers "
                                  "this EHR system may act for.")]


class EhrSystemInput(Input):
    name: Name
    issuer: Annotated[Url, Field(description="The `iss` of the EHR's JWTs (CDS Hooks).")]
    client_id: Text
    jwks: Jwks
    fhir_base_url: Annotated[Url, Field(description="The FHIR server the EHR names as "
                                        "`fhirServer`; the only address data is fetched from.")]
    prescriber_npis: Npis = []


class EhrSystemUpdate(Input):
    """Only the fields sent change; ``active: false`` deactivates the system at once."""

    name: Name | None = None
    client_id: Text | None = None
    jwks: Jwks | None = None
    fhir_base_url: Url | None = None
    prescriber_npis: Npis | None = None
    active: Flag | None = None


class EhrSystemOut(Output):
    id: int
    name: str
    issuer: str
    client_id: str
    fhir_base_url: str
    active: bool
    key_ids: list[str]
    prescriber_npis: list[str]
    registered_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, system: EhrSystem) -> EhrSystemOut:
        return cls(id=system.id, name=system.name, issuer=system.issuer,
                   client_id=system.client_id, fhir_base_url=system.fhir_base_url,
                   active=system.active,
                   key_ids=[str(k.get("kid", "")) for k in system.jwks.get("keys", [])],
                   prescriber_npis=[p.npi for p in system.prescribers],
                   registered_at=system.registered_at, updated_at=system.updated_at)


class EhrSystemList(Output):
    items: list[EhrSystemOut]
