"""The OpenAPI 3.1 document of the API, written by hand (served at /api/v1/openapi.json)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from registry.accounts.models import Role
from registry.api.contract import ENDPOINTS, ID_SCHEMA, TEXT_PARAMS, Endpoint
from registry.policy import Permission, holds, open_to_anyone, who
from registry.rules.reasons import REASON_CODES

JSON = "application/json"
PROBLEM = "application/problem+json"

DATE = {"type": "string", "format": "date", "example": "2026-03-02"}
DATETIME = {"type": "string", "format": "date-time"}
REGISTRY_ID = {"type": "string", "description": "10 digits, the last a check digit.",
               "example": "4031975528"}
PASSWORD = {"type": "string", "minLength": 12, "maxLength": 256, "format": "password",
            "example": "correct-horse-battery"}
EMAIL = {"type": "string", "format": "email", "maxLength": 254}
NAME = {"type": "string", "minLength": 1, "maxLength": 100}
NPI = {"type": "string", "pattern": "^[0-9]{10}$", "format": "npi",
       "description": "10 digits; the last is a Luhn check digit over \"80840\" and the first "
       "nine.", "example": "1234567893"}
STANDING = {"type": "string", "enum": ["pending", "active", "lapsed", "suspended",
                                        "deactivated", "removed"]}


def nullable(schema: dict[str, Any]) -> dict[str, Any]:
    out = dict(schema)
    kind = out.pop("type", None)
    if kind is None:
        return {"anyOf": [out, {"type": "null"}]}
    out["type"] = [kind, "null"] if isinstance(kind, str) else [*kind, "null"]
    if "enum" in out:
        out["enum"] = [*out["enum"], None]
    return out


def ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def obj(properties: dict[str, Any], required: list[str] | None = None,
        **extra: Any) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "object", "properties": properties, **extra}
    if required:
        schema["required"] = required
    return schema


SCHEMAS: dict[str, Any] = {
    "Problem": obj({
        "type": {"type": "string", "format": "uri",
                 "example": "https://registry.example/api/problems/not-found"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "errors": {"type": "object", "description": "Field name → messages.",
                   "additionalProperties": {"type": "array", "items": {"type": "string"}}},
        "reasons": {"type": "array", "items": ref("Reason")},
    }, ["type", "title", "status", "detail"],
        description="RFC 9457 problem details. Validation problems carry `errors`; a denied "
        "authorization carries `reasons`."),
    "ValidationProblem": {"allOf": [ref("Problem"), obj({"violates_schema": {
        "type": "boolean", "description": "True when the request breaks this document's "
        "schema; absent when it breaks a rule that needs today's date or the record."}},
        ["errors"])],
                          "example": {"type": "https://registry.example/api/problems/"
                                      "validation-error", "title": "Invalid request",
                                      "status": 422, "detail": "npi: This field is required.",
                                      "errors": {"npi": ["This field is required."]}}},
    "AuthorizationDenied": {
        "allOf": [ref("Problem"), obj({"ruleset": {"type": "string", "enum": ["2021", "2026"]}},
                                      ["reasons"])],
        "example": {"type": "https://registry.example/api/problems/authorization-denied",
                    "title": "Authorization denied", "status": 422,
                    "detail": "The dispensing authorization was denied; see `reasons`.",
                    "ruleset": "2026",
                    "reasons": [{"code": "COMPREHENSION_NOT_PASSED",
                                 "message": REASON_CODES["COMPREHENSION_NOT_PASSED"],
                                 "action": "The patient answers the comprehension questions.",
                                 "actor": "patient", "due_on": "2026-03-08"}]},
    },
    "ReasonCode": {"type": "string", "enum": sorted(REASON_CODES),
                   "description": "Stable reason codes (program rules §6)."},
    "Reason": obj({
        "code": ref("ReasonCode"),
        "message": {"type": "string"},
        "action": nullable({"type": "string", "description": "What to do about it."}),
        "actor": nullable({"type": "string", "description": "Who does it: prescriber, "
                           "patient, pharmacy, program_staff."}),
        "due_on": nullable(DATE),
    }, ["code", "message", "action"]),
    "PrescriberEnrollment": obj({
        "email": EMAIL, "password": PASSWORD, "first_name": NAME, "last_name": NAME, "npi": NPI,
        "license_state": {"type": "string", "minLength": 2, "maxLength": 2, "example": "NY"},
    }, ["email", "password", "first_name", "last_name", "npi"],
        example={"email": "dr.lee@clinic.example", "password": "correct-horse-battery",
                 "first_name": "Jo", "last_name": "Lee", "npi": "1234567893",
                 "license_state": "NY"}),
    "PrescriberStatus": obj({"id": {"type": "integer"}, "status": STANDING, "npi": NPI,
                             "attested_on": nullable(DATE), "expires_on": nullable(DATE)},
                            ["id", "status"]),
    "DesigneeRequest": obj({
        "email": EMAIL, "password": PASSWORD, "first_name": NAME, "last_name": NAME,
        "designee_id": {"type": "integer", "minimum": 1,
                        "description": "Link an existing designee instead of creating one."},
    }, description="Either email, password, first_name and last_name (a new designee), or "
        "designee_id (link an existing one).",
        example={"email": "desk@clinic.example", "password": "correct-horse-battery",
                 "first_name": "Sam", "last_name": "Ortiz"}),
    "DesigneeStatus": obj({"id": {"type": "integer"}, "status": STANDING,
                           "attested_on": nullable(DATE), "expires_on": nullable(DATE)},
                          ["id", "status"]),
    "PharmacyRegistration": obj({
        "name": {"type": "string", "minLength": 1, "maxLength": 200},
        "ncpdp_id": {"type": "string", "pattern": "^[0-9]{7}$", "example": "1234567"},
        "npi": NPI,
        "address": {"type": "string", "maxLength": 500},
        "rsp": obj({"email": EMAIL, "password": PASSWORD, "first_name": NAME,
                    "last_name": NAME,
                    "license_number": {"type": "string", "minLength": 1, "maxLength": 50}},
                   ["email", "password", "first_name", "last_name", "license_number"],
                   description="The Responsible Site Pharmacist."),
    }, ["name", "ncpdp_id", "npi", "rsp"],
        example={"name": "Main Street Pharmacy", "ncpdp_id": "7654321", "npi": "1679576722",
                 "address": "12 Main Street", "rsp": {
                     "email": "rsp@pharmacy.example", "password": "correct-horse-battery",
                     "first_name": "Jordan", "last_name": "Blake",
                     "license_number": "NY-RPH-1"}}),
    "PharmacyStatus": obj({"id": {"type": "integer"}, "status": STANDING,
                           "name": {"type": "string"}, "ncpdp_id": {"type": "string"},
                           "npi": {"type": "string"}, "activated_on": nullable(DATE),
                           "expires_on": nullable(DATE),
                           "rsp_pharmacist_id": nullable({"type": "integer"})},
                          ["id", "status"]),
    "PharmacyActivation": obj({"staff_trained": {"type": "boolean", "const": True}},
                              ["staff_trained"], example={"staff_trained": True}),
    "PharmacistRequest": obj({
        "email": EMAIL, "password": PASSWORD, "first_name": NAME, "last_name": NAME,
        "license_number": {"type": "string", "minLength": 1, "maxLength": 50},
        "training_completed_on": DATE,
    }, ["email", "password", "first_name", "last_name", "license_number",
        "training_completed_on"]),
    "PharmacistStatus": obj({"id": {"type": "integer"}, "status": STANDING,
                             "pharmacy_id": {"type": "integer"},
                             "training_completed_on": nullable(DATE),
                             "expires_on": nullable(DATE)}, ["id", "status"]),
    "AuthorizationRequest": obj({
        "registry_id": REGISTRY_ID, "date_of_birth": DATE, "prescriber_npi": NPI,
        "days_supply": {"type": "integer", "minimum": 1, "maximum": 366, "example": 30},
        "quantity": {"type": "integer", "minimum": 1, "maximum": 100000, "example": 60},
        "refills": {"type": "integer", "minimum": 0, "maximum": 99, "example": 0},
    }, ["registry_id", "date_of_birth", "prescriber_npi", "days_supply", "quantity",
        "refills"],
        example={"registry_id": "4031975528", "date_of_birth": "2008-05-14",
                 "prescriber_npi": "1234567893", "days_supply": 30, "quantity": 60,
                 "refills": 0}),
    "AuthorizationCheck": obj({"eligible": {"type": "boolean"},
                               "reasons": {"type": "array", "items": ref("Reason")},
                               "ruleset": {"type": "string", "enum": ["2021", "2026"]},
                               "do_not_dispense_after": nullable(DATE)},
                              ["eligible", "reasons", "ruleset"]),
    "AuthorizationStatus": {"type": "string", "enum": ["authorized", "dispensed", "reversed",
                                                       "expired", "cancelled"]},
    "AuthorizationIssued": obj({
        "rma": {"type": "string", "minLength": 12, "maxLength": 12},
        "status": {"type": "string", "const": "authorized"},
        "do_not_dispense_after": DATE,
        "ruleset": {"type": "string", "enum": ["2021", "2026"]},
        "issued_on": DATE, "days_supply": {"type": "integer"}, "quantity": {"type": "integer"},
        "refills": {"type": "integer"},
        "patient": obj({"first_name": {"type": "string"}, "last_name": {"type": "string"}},
                       ["first_name", "last_name"]),
    }, ["rma", "status", "do_not_dispense_after", "ruleset", "patient"],
        example={"rma": "K7MPX3RT9QWA", "status": "authorized",
                 "do_not_dispense_after": "2026-03-08", "ruleset": "2026",
                 "issued_on": "2026-03-03", "days_supply": 30, "quantity": 60, "refills": 0,
                 "patient": {"first_name": "Alex", "last_name": "Kim"}}),
    "Authorization": obj({
        "rma": {"type": "string"}, "status": ref("AuthorizationStatus"),
        "do_not_dispense_after": DATE, "ruleset": {"type": "string"},
        "issued_on": DATE, "issued_at": DATETIME, "days_supply": {"type": "integer"},
        "quantity": {"type": "integer"}, "refills": {"type": "integer"},
        "patient": obj({"registry_id": {"type": "string"}, "first_name": {"type": "string"},
                        "last_name": {"type": "string"}}),
        "pharmacy": obj({"id": {"type": "integer"}, "name": {"type": "string"},
                         "ncpdp_id": {"type": "string"}}),
        "dispense": nullable(obj({"dispensed_on": DATE, "quantity": {"type": "integer"},
                                  "days_supply": {"type": "integer"}})),
        "reversal": nullable(obj({"reason": {"type": "string"}, "reversed_at": DATETIME})),
    }, ["rma", "status", "do_not_dispense_after"]),
    "DispenseRequest": obj({"dispensed_on": DATE,
                            "quantity": {"type": "integer", "minimum": 1},
                            "days_supply": {"type": "integer", "minimum": 1}},
                           ["dispensed_on", "quantity", "days_supply"]),
    "Dispensed": obj({"rma": {"type": "string"}, "status": {"type": "string",
                                                           "const": "dispensed"},
                      "dispensed_on": nullable(DATE)}, ["status"]),
    "ReversalRequest": obj({"reason": {"type": "string", "minLength": 1, "maxLength": 1000}},
                           ["reason"], example={"reason": "Patient did not pick it up."}),
    "Reversed": obj({"rma": {"type": "string"},
                     "status": {"type": "string", "const": "reversed"}}, ["status"]),
}

ERROR_TEXT = {
    400: "The body is not valid JSON, or not a JSON object.",
    401: "No valid bearer token (or, for POST /tokens, wrong credentials).",
    403: "Authenticated, but this role may not do this.",
    404: "No such record, or one the caller may not see.",
    409: "The request contradicts the record.",
    413: "The body is over 64 KiB.",
    415: "The body is not JSON.",
    422: "A field is missing or invalid; `errors` names it.",
    429: "Rate limit exceeded; see Retry-After.",
    503: "The database cannot be reached or is too busy; nothing was stored. Send the same "
    "request again after Retry-After seconds.",
}


def _error(status: int) -> dict[str, Any]:
    schema = ref("ValidationProblem") if status == 422 else ref("Problem")
    response: dict[str, Any] = {"description": ERROR_TEXT[status],
                                "content": {PROBLEM: {"schema": schema}}}
    if status in (429, 503):
        response["headers"] = {"Retry-After": {"schema": {"type": "integer"},
                                               "description": "Seconds to wait."}}
    return response


def operation(summary: str, tag: str, *, ok: int, ok_schema: str | None,
              body: str | None = None, auth: bool = True, who: str = "",
              errors: tuple[int, ...] = (), idempotent: bool = False,
              parameters: list[dict[str, Any]] | None = None,
              ok_description: str = "Success.",
              extra_responses: dict[str, Any] | None = None) -> dict[str, Any]:
    op: dict[str, Any] = {"summary": summary, "tags": [tag],
                          "description": f"Who: {who}." if who else ""}
    params = list(parameters or [])
    if idempotent:
        params.append({"$ref": "#/components/parameters/IdempotencyKey"})
    if params:
        op["parameters"] = params
    if body:
        op["requestBody"] = {"required": True,
                             "content": {JSON: {"schema": ref(body)}}}
    ok_response: dict[str, Any] = {"description": ok_description}
    if ok_schema:
        ok_response["content"] = {JSON: {"schema": ref(ok_schema)}}
    responses: dict[str, Any] = {str(ok): ok_response}
    codes = set(errors) | {429, 503}
    if body:
        codes |= {400, 413, 415, 422}
    if idempotent:
        codes |= {422}  # the key was used for another request, or is too long
    if auth:
        codes |= {401}
    else:
        op["security"] = []
    for status in sorted(codes):
        responses[str(status)] = _error(status)
    responses.update(extra_responses or {})
    op["responses"] = responses
    return op


def path_param(name: str, schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "schema": schema,
            "description": description}


def query_param(name: str, schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "schema": schema,
            "description": description}


RID = path_param("registry_id", {"type": "string", "maxLength": 20}, "The patient's "
                 "registry ID.")
RMA = path_param("rma", {"type": "string", "maxLength": 20}, "The RMA number.")


def _id(name: str) -> dict[str, Any]:
    return path_param(name, {"type": "integer", "minimum": 1}, "Record id.")


DENIED = {"422": {"description": "Denied (with `reasons`), invalid (with `errors`), or the "
                  "Idempotency-Key was used for another request. A registry ID or NPI whose "
                  "check digit is wrong is invalid (`errors` names `registry_id` or "
                  "`prescriber_npi`), not a denial: no decision is stored.",
                  "content": {PROBLEM: {"schema": {"anyOf": [ref("AuthorizationDenied"),
                                                             ref("ValidationProblem")]}}}}}

PATHS: dict[str, Any] = {
    "/prescribers": {"post": operation(
        "Enroll as a prescriber", "Enrollment", ok=201, ok_schema="PrescriberStatus",
        body="PrescriberEnrollment", auth=False, who="anyone",
        ok_description="Enrolled, status `pending` until they attest.")},
    "/prescribers/{prescriber_id}/attestations": {"post": operation(
        "Attest to the program requirements (yearly)", "Enrollment", ok=201,
        ok_schema="PrescriberStatus", who="that prescriber", errors=(403, 404),
        idempotent=True, parameters=[_id("prescriber_id")])},
    "/prescribers/{prescriber_id}/designees": {"post": operation(
        "Create and link a designee, or link an existing one", "Enrollment", ok=201,
        ok_schema="DesigneeStatus", body="DesigneeRequest", who="that prescriber",
        errors=(403, 404), idempotent=True, parameters=[_id("prescriber_id")])},
    "/designees/{designee_id}/attestations": {"post": operation(
        "Designee attests (yearly)", "Enrollment", ok=201, ok_schema="DesigneeStatus",
        who="that designee", errors=(403, 404), idempotent=True,
        parameters=[_id("designee_id")])},
    "/pharmacies": {"post": operation(
        "Register a pharmacy with its Responsible Site Pharmacist", "Enrollment", ok=201,
        ok_schema="PharmacyStatus", body="PharmacyRegistration", auth=False, who="anyone")},
    "/pharmacies/{pharmacy_id}/activations": {"post": operation(
        "Activate the pharmacy (yearly), certifying staff training", "Enrollment", ok=201,
        ok_schema="PharmacyStatus", body="PharmacyActivation", who="its RSP",
        errors=(403, 404), idempotent=True, parameters=[_id("pharmacy_id")])},
    "/pharmacies/{pharmacy_id}/pharmacists": {"post": operation(
        "Add a pharmacist", "Enrollment", ok=201, ok_schema="PharmacistStatus",
        body="PharmacistRequest", who="its RSP", errors=(403, 404), idempotent=True,
        parameters=[_id("pharmacy_id")])},
    "/authorization-checks": {"post": operation(
        "Check an authorization without issuing it", "Authorizations", ok=200,
        ok_schema="AuthorizationCheck", body="AuthorizationRequest", who="pharmacist",
        errors=(403,), ok_description="The same reasons a request would get; nothing is "
        "issued or stored but the audit of the check.")},
    "/authorizations": {"post": operation(
        "Request a dispensing authorization (RMA)", "Authorizations", ok=201,
        ok_schema="AuthorizationIssued", body="AuthorizationRequest",
        who="pharmacist of an active pharmacy", errors=(403,), idempotent=True,
        ok_description="Issued. With the same Idempotency-Key the same RMA is returned.",
        extra_responses=DENIED)},
    "/authorizations/{rma}": {"get": operation(
        "An authorization", "Authorizations", ok=200, ok_schema="Authorization",
        who="the issuing pharmacy, prescriber of record, staff", errors=(404,),
        parameters=[RMA])},
    "/authorizations/{rma}/dispensation": {"post": operation(
        "Record the dispense", "Authorizations", ok=200, ok_schema="Dispensed",
        body="DispenseRequest", who="the issuing pharmacy's pharmacists",
        errors=(403, 404, 409), idempotent=True, parameters=[RMA])},
    "/authorizations/{rma}/reversal": {"post": operation(
        "Reverse (not dispensed, or returned to stock)", "Authorizations", ok=200,
        ok_schema="Reversed", body="ReversalRequest", who="the issuing pharmacy's "
        "pharmacists", errors=(403, 404, 409), idempotent=True, parameters=[RMA])},
    "/openapi.json": {"get": {
        "summary": "This document", "tags": ["Docs"], "security": [],
        "responses": {"200": {"description": "The OpenAPI 3.1 document.",
                              "content": {JSON: {"schema": {"type": "object"}}}}},
    }},
}


def _parameters(e: Endpoint, defs: dict[str, Any]) -> list[dict[str, Any]]:
    params: list[dict[str, Any]] = []
    for name in e.params:
        schema = TEXT_PARAMS.get(name, ID_SCHEMA)
        params.append({"name": name, "in": "path", "required": True,
                       "schema": {k: v for k, v in schema.items() if k != "description"},
                       "description": schema.get("description", "Record id.")})
    if e.query is not None:
        schema = e.query.model_json_schema(ref_template=REF)
        defs.update(schema.pop("$defs", {}))
        required = set(schema.get("required", []))
        for name, prop in schema.get("properties", {}).items():
            prop = dict(prop)
            description = prop.pop("description", "")
            prop.pop("title", None)
            params.append({"name": name, "in": "query", "required": name in required,
                           "schema": prop, "description": description})
    if e.idempotent:
        params.append({"$ref": "#/components/parameters/IdempotencyKey"})
    return params


REF = "#/components/schemas/{model}"


Refs = dict[tuple[type[BaseModel], Any], dict[str, Any]]


def model_schemas(endpoints: list[Endpoint], defs: dict[str, Any]) -> Refs:
    """Every body and response model, in one pass, so that names are unique (a model whose
    input and output shapes differ becomes ``Name-Input`` and ``Name-Output``)."""
    wanted: list[tuple[type[BaseModel], Any]] = []
    for e in endpoints:
        if e.body is not None:
            wanted.append((e.body, "validation"))
        if e.response is not None:
            wanted.append((e.response, "serialization"))
    if not wanted:
        return {}
    refs, top = models_json_schema(list(dict.fromkeys(wanted)), ref_template=REF)
    defs.update(top.get("$defs", {}))
    return {(model, mode): schema for (model, mode), schema in refs.items()
            if isinstance(model, type) and issubclass(model, BaseModel)}


def endpoint_operation(e: Endpoint, defs: dict[str, Any], refs: Refs) -> dict[str, Any]:
    """The OpenAPI operation of a declared endpoint, from its models and its permission."""
    description = f"Who: {who(e.permission)} (`{e.permission}`)."
    if e.description:
        description += "\n\n" + e.description
    op: dict[str, Any] = {"summary": e.summary, "tags": [e.tag], "description": description,
                          "operationId": e.label.lower().replace(" ", "_").replace("/", "_")
                          .replace("{", "").replace("}", "").replace("-", "_")}
    params = _parameters(e, defs)
    if params:
        op["parameters"] = params
    if e.body is not None:
        op["requestBody"] = {"required": True, "content": {
            JSON: {"schema": refs[(e.body, "validation")]}}}
    ok: dict[str, Any] = {"description": "Success." if e.status != 204 else "Done."}
    if e.response is not None:
        ok["content"] = {JSON: {"schema": refs[(e.response, "serialization")]}}
    responses: dict[str, Any] = {str(e.status): ok}
    codes = set(e.errors) | {429, 503}
    if e.body is not None:
        codes |= {400, 413, 415, 422}
    if e.query is not None or e.idempotent:
        codes |= {422}
    if e.params:
        codes |= {404}
    if open_to_anyone(e.permission):
        op["security"] = []
    else:
        codes |= {401}
        if not holds_every_role(e.permission):
            codes |= {403}
    for status in sorted(codes):
        responses[str(status)] = _error(status)
    op["responses"] = responses
    return op


def holds_every_role(permission: Permission) -> bool:
    return all(holds(role.value, permission) for role in Role)


def document(server_url: str = "/api/v1") -> dict[str, Any]:
    import registry.api.endpoints  # noqa: F401 - every endpoint declared

    defs: dict[str, Any] = {}
    paths: dict[str, Any] = {path: dict(ops) for path, ops in PATHS.items()}
    refs = model_schemas(ENDPOINTS, defs)
    for e in ENDPOINTS:
        paths.setdefault(e.path, {})[e.method.lower()] = endpoint_operation(e, defs, refs)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Pregnancy-prevention program registry API",
            "version": "1.0.0",
            "description": (
                "JSON API for pharmacy systems, EHRs and patient apps. Authenticate with "
                "`Authorization: Bearer <token>` from `POST /tokens`. Errors are "
                "`application/problem+json` (RFC 9457). Mutating requests accept an "
                "`Idempotency-Key` header. Rate limits answer 429 with `Retry-After`."
            ),
            "license": {"name": "Apache-2.0", "identifier": "Apache-2.0"},
        },
        "servers": [{"url": server_url}],
        "security": [{"bearerAuth": []}],
        "tags": [{"name": n} for n in ("Tokens", "Enrollment", "Patients", "Me",
                                       "Authorizations", "Oversight", "Docs")],
        "paths": paths,
        "components": {
            "securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer",
                                               "description": "A token from POST /tokens."}},
            "parameters": {"IdempotencyKey": {
                "name": "Idempotency-Key", "in": "header", "required": False,
                "schema": {"type": "string", "minLength": 1, "maxLength": 255},
                "description": "The same key from the same user with the same body returns "
                "the first response again and does nothing more; with a different body it "
                "is a 422 (`idempotency-key-reused`).",
            }},
            "schemas": {**SCHEMAS, **defs},
        },
    }
