"""The OpenAPI document validates, agrees with the app's routes, and schemathesis finds no
5xx and no response that breaks it."""

from __future__ import annotations

import os
from collections import Counter
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openapi_spec_validator import validate
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from registry.api.openapi import document
from registry.rules.identifiers import npi_with_check_digit
from registry.rules.reasons import REASON_CODES
from tests.api.conftest import Api, make_staff
from tests.api.world import World


def test_the_document_is_valid_openapi_3_1(api):
    doc = api.get("/openapi.json", expect=200).get_json()
    assert doc["openapi"] == "3.1.0"
    validate(doc)
    assert doc["components"]["schemas"]["ReasonCode"]["enum"] == sorted(REASON_CODES)
    assert doc["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"


def test_every_route_is_documented_and_every_documented_path_exists(app):
    routes = set()
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/api/v1"):
            path = rule.rule.removeprefix("/api/v1")
            for name in ("prescriber_id", "designee_id", "pharmacy_id", "pharmacist_id"):
                path = path.replace(f"<int:{name}>", "{" + name + "}")
            path = path.replace("<registry_id>", "{registry_id}").replace("<rma>", "{rma}")
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


@pytest.fixture
def fuzz_world(app, clock) -> dict[str, Any]:
    clock.to("2026-09-01")
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
    }


# What the server checks beyond JSON Schema (an NPI's check digit; a password that is not easy
# to guess, rules in registry/security.py): generated both ways, so that some bodies get past
# validation into the operations and others test the refusals.
schemathesis.openapi.format("npi", st.one_of(
    st.from_regex(r"\A[0-9]{9}\Z").map(npi_with_check_digit), st.from_regex(r"\A[0-9]{10}\Z")))
schemathesis.openapi.format("password", st.one_of(
    st.builds("{}-{}-{}-{}".format, *[st.sampled_from(
        ["violet", "anchor", "meadow", "copper", "lantern", "orchard", "glacier", "pepper"])] * 3,
        st.integers(10, 99999)),
    st.text(min_size=12, max_size=40)))

TOKEN_FOR_TAG = {"Authorizations": "pharmacist", "Oversight": "staff", "Me": "patient"}
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
]


def test_schemathesis_finds_no_server_error_and_no_schema_violation(app, fuzz_world):
    """Every operation, 25 generated requests each, with a real token of a fitting
    role. (schemathesis' pytest fixture loader does not run on pytest 9, so the operations
    are driven through Hypothesis directly.)"""
    api_schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    operations = [result.ok() for result in api_schema.get_all_operations()]
    labels = {op.label for op in operations}
    documented = {f"{m.upper()} {p}" for p, ops in document()["paths"].items() for m in ops}
    assert labels == documented - {"GET /openapi.json"}  # schemathesis skips the schema itself
    fuzz_world["seen"] = []
    for operation in operations:
        fuzz(operation, fuzz_world)
    seen = fuzz_world["seen"]
    print(sorted(Counter(status for _, status in seen).items()))
    assert len({label for label, _ in seen}) == len(operations)
    assert len(seen) >= 5 * len(operations)
    # Generated bodies get past validation too, not only into 4xx answers.
    assert {label for label, status in seen if status < 300} >= {
        "POST /prescribers", "GET /reports/summary", "GET /audit", "GET /patients/{registry_id}",
        "GET /patients/{registry_id}/status", "GET /authorizations/{rma}"}


def fuzz(operation: Any, fuzz_world: dict[str, Any]) -> None:
    tag = (operation.definition.raw.get("tags") or [""])[0]
    role = TOKEN_FOR_TAG.get(tag, "prescriber")

    @given(case=operation.as_strategy())
    @settings(
        max_examples=int(os.environ.get("API_FUZZ_EXAMPLES", "25")),  # CI: 25
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def run(case: Any) -> None:
        token = fuzz_world[role]
        # Real records in the path, so that generated bodies reach the operations (random
        # ids only meet 404s, which the permission matrix covers).
        for name in case.path_parameters or {}:
            if name in fuzz_world["path"]:
                case.path_parameters[name] = fuzz_world["path"][name]
        if case.path == "/tokens/current":  # revoking must not end the run
            token = fuzz_world["api"].token(fuzz_world["email"])
        response = case.call_and_validate(
            headers={"Authorization": f"Bearer {token}"}, checks=CHECKS
        )
        fuzz_world["seen"].append((operation.label, response.status_code))

    run()
