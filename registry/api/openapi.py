"""The OpenAPI 3.1 document of the API (served at /api/v1/openapi.json), assembled from the
declared endpoints: their permission, their models' JSON Schema and the errors every
endpoint shares. Only the problem details are written here."""

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


PATHS: dict[str, Any] = {
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
        wanted += [(model, "serialization") for _, model, _ in e.also]
        if e.denies is not None:
            wanted.append((e.denies, "serialization"))
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
    for status, model, when in e.also:
        responses[str(status)] = {"description": when, "content": {
            JSON: {"schema": refs[(model, "serialization")]}}}
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
    if e.denies is not None:
        responses["422"] = {
            "description": "Denied (with `reasons`), or invalid (with `errors`): a registry "
            "ID or NPI whose check digit is wrong is invalid, not a denial, and no decision "
            "is stored.",
            "content": {PROBLEM: {"schema": {"anyOf": [refs[(e.denies, "serialization")],
                                                       ref("ValidationProblem")]}}}}
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
            "version": "1.1.0",
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
