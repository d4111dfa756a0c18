"""The OpenAPI document validates, agrees with the app's routes, and schemathesis finds no
5xx and no response that breaks it."""

from __future__ import annotations

import re
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import registry.api.endpoints  # noqa: F401 - every endpoint declared
from registry import clock as registry_clock
from registry.accounts.models import Role
from registry.api.contract import ENDPOINTS
from registry.api.openapi import document
from registry.policy import holds
from registry.rules.identifiers import npi_with_check_digit, verhoeff_check_digit
from registry.rules.reasons import REASON_CODES
from tests.api.conftest import Api, make_staff
from tests.api.world import World
from tests.harness import Shared, fuzz_examples


def test_the_document_is_valid_openapi_3_1(api):
    doc = api.get("/openapi.json", expect=200).get_json()
    assert doc["openapi"] == "3.1.0"
    from openapi_spec_validator import validate

    validate(doc)
    assert sorted(doc["components"]["schemas"]["ReasonCode"]["enum"]) == sorted(REASON_CODES)
    assert doc["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"


def test_every_route_is_documented_and_every_documented_path_exists(app):
    routes = set()
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/api/v1"):
            path = re.sub(r"<(?:int:)?(\w+)>", r"{\1}", rule.rule.removeprefix("/api/v1"))
            for method in rule.methods - {"HEAD", "OPTIONS"}:
                routes.add((method.lower(), path))
    documented = {(m, p) for p, ops in document()["paths"].items() for m in ops}
    assert routes == documented


def test_docs_page_is_rendered_by_the_app_without_external_assets(api):
    r = api.client.get("/api/docs")
    assert r.status_code == 200
    html = r.get_data(as_text=True)
    for path in document()["paths"]:
        assert f"/api/v1{path}" in html
    assert "<script" not in html
    assert "http://" not in html.replace("http://localhost", "")
    assert "https://" not in html.replace("https://registry.example", "")
    assert "AUTHORIZATION_ALREADY_ISSUED" in html
    r = api.client.get("/api/problems/authorization-denied")
    assert r.status_code == 302
    assert r.headers["Location"].endswith("#problem-authorization-denied")


@pytest.fixture(scope="module")
def fuzz_world(shared_app: Shared) -> dict[str, Any]:
    shared_app.clock.to("2026-09-01")
    app = shared_app.app
    api = Api(app)
    w = World(api).setup()
    patient = w.register(can=True)
    other = w.register(can=False)
    w.counsel(other, can=False)
    w.answer_questions(other)
    rma = w.authorize(other)["rma"]
    return {
        "path": {"registry_id": patient.registry_id, "rma": rma, "prescriber_id": w.dr_id,
                 "pharmacy_id": w.pharmacy_id},
        "prescriber": w.dr,
        "pharmacist": w.rph,
        "patient": patient.token,
        "staff": api.token(make_staff(app)),
        "api": api,
        "email": w.emails["rph"],
        "now": registry_clock.now(),
    }


# What the server checks beyond JSON Schema (an NPI's check digit; a password that is not easy
# to guess, rules in registry/security.py): generated both ways, so that some bodies get past
# validation into the operations and others test the refusals.
# Formats whose values the server checks beyond JSON Schema (an NPI's or a registry ID's check
# digit; a password not easy to guess, registry/security.py; an email address someone can
# receive mail at, not a special-use domain such as .test): generated valid, so that valid
# requests get past validation into the operations. Invalid ones come from negative mode.
# (Registered by the ``operations`` fixture, before schemathesis loads the document:
# schemathesis and the OpenAPI validator are imported by the tests that use them, not when
# the module is collected, as it is by every xdist worker, ~0.2 s CPU for the one that
# does not run it.)
FORMATS = {
    "npi": st.from_regex(r"\A[0-9]{9}\Z").map(npi_with_check_digit),
    "registry-id": st.from_regex(r"\A[0-9]{9}\Z").map(
        lambda body: body + verhoeff_check_digit(body)),
    "password": st.builds("{}-{}-{}-{}".format, *[st.sampled_from(
        ["violet", "anchor", "meadow", "copper", "lantern", "orchard", "glacier", "pepper"])] * 3,
        st.integers(10, 99999)),
    "email": st.builds("{}{}@example.org".format, st.sampled_from(
        ["pat", "dr.lee", "rph_1", "front-desk"]), st.integers(0, 10**6)),
}

TOKEN_FOR_TAG = {"Authorizations": "pharmacist", "Oversight": "staff", "Me": "patient"}
FUZZ_ROLES = {"prescriber": Role.PRESCRIBER, "pharmacist": Role.PHARMACIST,
              "patient": Role.PATIENT, "staff": Role.STAFF}
CHECKS = [  # schemathesis.checks
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_schema_conformance",
    "response_headers_conformance",
]
LABELS = sorted(f"{m.upper()} {p}" for p, ops in document()["paths"].items() for m in ops
                if p != "/openapi.json")
EXAMPLES = fuzz_examples(100)  # per operation and mode


def test_schemathesis_sees_every_documented_operation(operations):
    # ``operations``: every operation schemathesis loads from the app's document (built once
    # per module for the fuzz tests below).
    assert set(operations) == set(LABELS)  # schemathesis skips the document itself


@pytest.mark.parametrize("mode", ["positive", "negative"])  # schemathesis' GenerationMode
@pytest.mark.parametrize("label", LABELS)
def test_schemathesis_finds_no_server_error_and_no_mismatch(label, mode, shared_app,
                                                             fuzz_world, operations, clock):
    """Generated requests, valid and invalid by the document, with a real token of a role
    that holds the endpoint's permission. Valid requests (positive) are never refused for
    breaking the schema (``violates_schema``) and their answers match the document; invalid
    ones (negative) are refused with a 4xx. (schemathesis' pytest loader does not run on
    pytest 9, so the operations are driven through Hypothesis directly.)"""
    operation = operations[label]
    clock.to(fuzz_world["now"])
    seen: list[int] = []
    with shared_app.rolled_back():
        fuzz(operation, mode, fuzz_world, seen)
    assert len(seen) >= 5
    if mode == "positive" and label in REACHED:
        assert any(status < 300 for status in seen), seen  # valid bodies get through too


# Operations where generated valid requests must also succeed, not only meet 4xx answers.
REACHED = {"POST /prescribers", "GET /reports/summary", "GET /audit",
           "GET /patients/{registry_id}", "GET /patients/{registry_id}/status",
           "GET /authorizations/{rma}"}


@pytest.fixture(scope="module")
def operations(shared_app: Shared) -> dict[str, Any]:
    import schemathesis

    for name, strategy in FORMATS.items():
        schemathesis.openapi.format(name, strategy)
    api_schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", shared_app.app)
    loaded = [r.ok() for r in api_schema.get_all_operations()]
    by_label = {operation.label: operation for operation in loaded}
    assert len(by_label) == len(loaded)  # no two operations share a label
    return by_label


def _role(operation: Any) -> str:
    declared = {e.label: e for e in ENDPOINTS}.get(operation.label)
    if declared is not None:
        for role, holder in FUZZ_ROLES.items():
            if holds(holder, declared.permission):
                return role
        return "prescriber"
    tag = (operation.definition.raw.get("tags") or [""])[0]
    return TOKEN_FOR_TAG.get(tag, "prescriber")


def fuzz(operation: Any, mode: str, fuzz_world: dict[str, Any], seen: list[int]) -> None:
    from schemathesis import GenerationMode
    from schemathesis import checks as schemathesis_checks
    from schemathesis.core.parameters import ParameterLocation

    role = _role(operation)
    positive = mode == "positive"
    checks = [getattr(schemathesis_checks, name) for name in CHECKS] + (
        [] if positive else [schemathesis_checks.negative_data_rejection])

    @given(case=operation.as_strategy(generation_mode=GenerationMode(mode)))
    @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))
    def run(case: Any) -> None:
        token = fuzz_world[role]
        if positive:
            # Real records in the path, so that valid bodies reach the operations (random
            # ids only meet 404s, which the permission matrix covers). A negative case
            # keeps its path: the path may be what makes it invalid.
            for name in case.path_parameters or {}:
                if name in fuzz_world["path"]:
                    case.path_parameters[name] = fuzz_world["path"][name]
        if case.path == "/tokens/current":  # revoking must not end the run
            token = fuzz_world["api"].token(fuzz_world["email"])
        headers = {"Authorization": f"Bearer {token}"}
        if case.meta is not None and case.meta.is_negative_at(ParameterLocation.HEADER):
            headers = {}  # the invalid part may be the missing token itself
        response = case.call_and_validate(headers=headers, checks=checks)
        seen.append(response.status_code)
        if positive and response.status_code == 422:
            body = response.json()
            assert not body.get("violates_schema"), (operation.label, case.body, body)

    run()
