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
METHODS = ["tubal_sterilization", "partner_vasectomy", "iud", "hormonal_combination_pill",
           "hormonal_patch", "hormonal_injection", "hormonal_implant", "hormonal_vaginal_ring",
           "male_latex_condom", "diaphragm_with_spermicide", "cervical_cap_with_spermicide",
           "vaginal_sponge", "progestin_only_pill"]


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
    "RiskCategory": {"type": "string", "enum": ["can_get_pregnant", "cannot_get_pregnant"]},
    "PatientRegistration": obj({
        "prescriber_id": {"type": "integer", "description": "Required for designees: the "
                          "prescriber they register the patient for."},
        "first_name": NAME, "last_name": NAME, "date_of_birth": DATE, "email": EMAIL,
        "risk_category": ref("RiskCategory"), "consent_signed_on": DATE,
        "birth_defects_consent_signed_on": DATE,
        "guardian_name": {"type": "string", "description": "Required under 18."},
        "guardian_signed_on": DATE,
        "contraception_start_date": DATE,
        "home_tests_allowed": {"type": "boolean"},
    }, ["first_name", "last_name", "date_of_birth", "email", "risk_category",
        "consent_signed_on"],
        example={"first_name": "Alex", "last_name": "Kim", "date_of_birth": "1998-05-14",
                 "email": "alex@example.org", "risk_category": "can_get_pregnant",
                 "consent_signed_on": "2026-03-02", "contraception_start_date": "2026-03-02"}),
    "PatientRegistered": obj({"registry_id": REGISTRY_ID,
                              "status": {"type": "string", "const": "pending_activation"},
                              "activation_code": {"type": "string"},
                              "activation_expires_on": DATE},
                             ["registry_id", "status", "activation_code",
                              "activation_expires_on"]),
    "PatientActivation": obj({"registry_id": REGISTRY_ID, "date_of_birth": DATE,
                              "activation_code": {"type": "string"}, "password": PASSWORD},
                             ["registry_id", "date_of_birth", "activation_code", "password"]),
    "PatientActivated": obj({"registry_id": REGISTRY_ID,
                             "status": {"type": "string", "const": "active"}}, ["status"]),
    "PatientState": {"type": "string", "enum": ["pending_activation", "active",
                                                "treatment_ended", "treatment_complete",
                                                "deactivated"]},
    "Patient": obj({
        "registry_id": REGISTRY_ID, "first_name": {"type": "string"},
        "last_name": {"type": "string"}, "date_of_birth": DATE, "email": {"type": "string"},
        "risk_category": ref("RiskCategory"), "status": ref("PatientState"),
        "prescriber": obj({"id": {"type": "integer"}, "npi": {"type": "string"},
                           "name": {"type": "string"}}, ["id", "npi", "name"]),
        "registered_on": DATE, "activated_on": nullable(DATE),
        "consent_signed_on": DATE, "home_tests_allowed": {"type": "boolean"},
        "contraception_start_date": nullable(DATE), "course_number": {"type": "integer"},
        "last_dose_on": nullable(DATE), "treatment_completed_on": nullable(DATE),
    }, ["registry_id", "first_name", "last_name", "date_of_birth", "risk_category", "status"]),
    "NextStep": obj({"actor": {"type": "string"}, "action": {"type": "string"},
                     "due_on": nullable(DATE), "not_before": nullable(DATE)},
                    ["actor", "action", "due_on"]),
    "Cycle": obj({"cycle_id": nullable({"type": "integer"}), "kind": {"type": "string"},
                  "test_specimen_on": nullable(DATE), "window_opens_on": DATE,
                  "window_closes_on": nullable(DATE)},
                 ["test_specimen_on", "window_opens_on", "window_closes_on"]),
    "PatientStatus": obj({
        "eligible": {"type": "boolean"},
        "reasons": {"type": "array", "items": ref("Reason")},
        "ruleset": {"type": "string", "enum": ["2021", "2026"]},
        "today": DATE,
        "cycle": nullable(ref("Cycle")),
        "next_steps": {"type": "array", "items": ref("NextStep")},
        "lockout_until": nullable(DATE),
        "do_not_dispense_after": nullable(DATE),
        "treatment_end": nullable({"type": "object"}),
    }, ["eligible", "reasons", "ruleset", "cycle", "next_steps", "lockout_until"]),
    "PregnancyTestRequest": obj({
        "specimen_collected_on": DATE,
        "result": {"type": "string", "enum": ["negative", "positive"]},
        "setting": {"type": "string", "enum": ["lab", "office", "home"]},
    }, ["specimen_collected_on", "result", "setting"],
        example={"specimen_collected_on": "2026-03-02", "result": "negative",
                 "setting": "lab"}),
    "PregnancyTestCreated": obj({
        "id": {"type": "integer"},
        "purpose": {"type": "string", "enum": ["screening", "confirmation", "monthly",
                                               "end_of_treatment", "post_treatment"]},
        "result": {"type": "string"}, "cycle_id": nullable({"type": "integer"}),
    }, ["id", "purpose"]),
    "Contraception": {
        "oneOf": [
            obj({"methods": {"type": "array", "items": {"type": "string", "enum": METHODS},
                             "minItems": 2, "maxItems": 2}}, ["methods"]),
            obj({"abstinence": {"type": "boolean", "const": True}}, ["abstinence"]),
        ],
        "description": "Two different methods, at least one primary; or abstinence.",
        "example": {"methods": ["iud", "male_latex_condom"]},
    },
    "CounselingRequest": obj({"counseled_on": DATE, "contraception": ref("Contraception")},
                             ["counseled_on"],
                             description="`contraception` is required for a patient who can "
                             "get pregnant.",
                             example={"counseled_on": "2026-03-02",
                                      "contraception": {"methods": ["iud",
                                                                    "male_latex_condom"]}}),
    "CounselingCreated": obj({"id": {"type": "integer"},
                              "cycle_id": nullable({"type": "integer"}),
                              "counseled_on": DATE, "window_closes_on": nullable(DATE)},
                             ["cycle_id"]),
    "ComprehensionQuestions": obj({
        "cycle_id": nullable({"type": "integer"}),
        "questions": {"type": "array", "items": obj({
            "id": {"type": "integer"}, "text": {"type": "string"},
            "choices": {"type": "array", "items": obj({"id": {"type": "string"},
                                                       "text": {"type": "string"}},
                                                      ["id", "text"])},
        }, ["id", "text", "choices"])},
    }, ["cycle_id", "questions"]),
    "ComprehensionAnswers": obj({"answers": {"type": "object", "additionalProperties":
                                             {"type": "string"},
                                             "description": "Question id → choice id."}},
                                ["answers"], example={"answers": {"1": "b", "4": "a"}}),
    "ComprehensionResult": obj({"passed": {"type": "boolean"},
                                "incorrect": {"type": "array", "items": {"type": "integer"}},
                                "cycle_id": nullable({"type": "integer"})},
                               ["passed", "incorrect"]),
    "ContraceptionEntered": obj({"matches_prescriber": {"type": "boolean"},
                                 "cycle_id": {"type": "integer"}}, ["matches_prescriber"]),
    "RiskCategoryChange": obj({"risk_category": ref("RiskCategory"),
                               "reason": {"type": "string", "minLength": 1,
                                          "maxLength": 1000}},
                              ["risk_category", "reason"]),
    "TreatmentEnd": obj({"last_dose_on": DATE}, ["last_dose_on"]),
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


PATHS: dict[str, Any] = {
    "/patients": {"post": operation(
        "Register a patient", "Patients", ok=201, ok_schema="PatientRegistered",
        body="PatientRegistration", who="prescriber; designee with prescriber_id",
        errors=(403,), idempotent=True,
        ok_description="Registered; give the patient the activation code.")},
    "/patients/activation": {"post": operation(
        "The patient activates their account", "Patients", ok=200,
        ok_schema="PatientActivated", body="PatientActivation", auth=False, who="anyone")},
    "/patients/{registry_id}": {"get": operation(
        "A patient's record", "Patients", ok=200, ok_schema="Patient",
        who="prescriber of record, their designees, the patient, staff", errors=(404,),
        parameters=[RID])},
    "/patients/{registry_id}/status": {"get": operation(
        "Where the patient stands today", "Patients", ok=200, ok_schema="PatientStatus",
        who="prescriber of record, their designees, the patient, staff", errors=(404,),
        parameters=[RID])},
    "/patients/{registry_id}/pregnancy-tests": {"post": operation(
        "Enter a pregnancy test (its purpose is derived)", "Patients", ok=201,
        ok_schema="PregnancyTestCreated", body="PregnancyTestRequest",
        who="prescriber of record, designee", errors=(403, 404), idempotent=True,
        parameters=[RID])},
    "/patients/{registry_id}/counseling": {"post": operation(
        "Confirm counseling for the current cycle", "Patients", ok=201,
        ok_schema="CounselingCreated", body="CounselingRequest", who="prescriber of record",
        errors=(403, 404), idempotent=True, parameters=[RID])},
    "/patients/{registry_id}/risk-category": {"post": operation(
        "Change the risk category", "Patients", ok=200, ok_schema="Patient",
        body="RiskCategoryChange", who="prescriber of record", errors=(403, 404),
        idempotent=True, parameters=[RID])},
    "/patients/{registry_id}/treatment-end": {"post": operation(
        "Record the last dose", "Patients", ok=200, ok_schema="Patient", body="TreatmentEnd",
        who="prescriber of record", errors=(403, 404), idempotent=True, parameters=[RID])},
    "/me/comprehension": {
        "get": operation("The comprehension questions for my current cycle", "Me", ok=200,
                         ok_schema="ComprehensionQuestions", who="patient",
                         errors=(403, 404, 422)),
        "post": operation("Answer the comprehension questions", "Me", ok=200,
                          ok_schema="ComprehensionResult", body="ComprehensionAnswers",
                          who="patient", errors=(403, 404), idempotent=True),
    },
    "/me/contraception": {"post": operation(
        "Enter my contraception for the current cycle", "Me", ok=201,
        ok_schema="ContraceptionEntered", body="Contraception", who="patient",
        errors=(403,), idempotent=True)},
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
