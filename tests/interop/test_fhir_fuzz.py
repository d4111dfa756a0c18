"""A fuzz run over the $rems-etasu door: whatever arrives, the answer is FHIR (Parameters or
an OperationOutcome), never a 5xx, and nothing is stored."""

from __future__ import annotations

import json
from typing import Any

from fhir.resources.R4B.operationoutcome import OperationOutcome
from fhir.resources.R4B.parameters import Parameters
from flask import Flask
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from registry.audit.models import AuditEntry
from registry.interop.systems import REGISTRY_ID_SYSTEM, RXNORM_SYSTEM
from tests import factories as f
from tests.harness import fuzz_examples
from tests.interop.conftest import ETASU, token_for

EXAMPLES = fuzz_examples(150)

scalars = st.one_of(st.none(), st.booleans(), st.integers(-(2**40), 2**40),
                    st.floats(allow_nan=False), st.text(max_size=20))
json_values = st.recursive(
    scalars,
    lambda children: st.one_of(st.lists(children, max_size=4),
                               st.dictionaries(st.text(max_size=10), children, max_size=4)),
    max_leaves=20,
)


def _body(world: dict[str, str]) -> Any:
    """Parameters close to valid: each part right, wrong or missing, so the fuzz reaches
    past the first check."""
    rid = st.one_of(st.just(world["registry_id"]), st.just(world["other_id"]),
                    st.text(max_size=14), st.from_regex(r"\A[0-9 -]{8,14}\Z"))
    dob = st.one_of(st.just(world["birth_date"]), st.dates().map(str), st.text(max_size=12),
                    st.integers())
    identifier = st.fixed_dictionaries({
        "system": st.one_of(st.just(REGISTRY_ID_SYSTEM), st.text(max_size=10)),
        "value": rid})
    patient = st.fixed_dictionaries(
        {"resourceType": st.sampled_from(["Patient"] * 6 + ["Medication", "Basic"])},
        optional={"id": st.from_regex(r"\A[A-Za-z0-9\-.]{1,20}\Z"),
                  "identifier": st.lists(identifier, max_size=2),
                  "birthDate": dob,
                  "name": st.lists(st.fixed_dictionaries({"family": st.text(max_size=8)}),
                                   max_size=1)})
    coding = st.fixed_dictionaries({
        "system": st.one_of(st.just(RXNORM_SYSTEM), st.text(max_size=10)),
        "code": st.one_of(st.just("6064"), st.sampled_from(["161", "", "6064 "]),
                          st.integers())})
    medication = st.one_of(
        st.fixed_dictionaries({"resourceType": st.just("Medication")},
                              optional={"code": st.fixed_dictionaries(
                                  {"coding": st.lists(coding, max_size=2)})}),
        st.fixed_dictionaries({"resourceType": st.just("MedicationRequest"),
                               "status": st.sampled_from(["draft", "active", "bogus"]),
                               "intent": st.sampled_from(["order", "plan"]),
                               "subject": st.just({"reference": "Patient/x"})},
                              optional={"medicationCodeableConcept": st.fixed_dictionaries(
                                  {"coding": st.lists(coding, max_size=2)})}),
        json_values)
    parameter = st.one_of(
        st.fixed_dictionaries({"name": st.just("patient"), "resource": patient}),
        st.fixed_dictionaries({"name": st.just("patient"), "resource": patient}),
        st.fixed_dictionaries({"name": st.just("medication"), "resource": medication}),
        st.fixed_dictionaries({"name": st.just("medication"), "resource": medication}),
        st.fixed_dictionaries({"name": st.sampled_from(["case_number", "caseNumber"]),
                               "valueString": st.one_of(rid, st.integers())}),
        st.fixed_dictionaries({"name": st.text(max_size=8)}, optional={"valueString": scalars}),
        json_values)
    parameters = st.fixed_dictionaries({"resourceType": st.just("Parameters"),
                                        "parameter": st.lists(parameter, max_size=4)})
    other = st.one_of(
        st.fixed_dictionaries({"resourceType": st.sampled_from(["Parameters", "Patient", ""])},
                              optional={"parameter": json_values, "id": json_values}),
        json_values)
    # Mostly Parameters close to valid (so the fuzz reaches the decision), some anything.
    return st.integers(0, 9).flatmap(lambda i: parameters if i < 7 else other)


def test_no_input_gets_a_5xx_or_stores_anything(app: Flask, session: Session,
                                                clock: Any) -> None:
    clock.to("2026-03-02")
    dr = f.prescriber(session)
    p = f.patient(session, dr)
    other = f.patient(session, f.prescriber(session))
    world = {"registry_id": p.registry_id, "other_id": other.registry_id,
             "birth_date": p.date_of_birth.isoformat(), "token": token_for(session, dr.user)}
    session.commit()
    client = app.test_client()
    headers = {"Authorization": f"Bearer {world['token']}"}
    before = session.execute(select(func.count()).select_from(AuditEntry)).scalar_one()
    seen: dict[int, int] = {}

    @given(body=_body(world), raw=st.integers(0, 9).flatmap(
               lambda i: st.binary(max_size=40) if i == 0 else st.none()),
           content_type=st.sampled_from(["application/fhir+json", "application/json",
                                         "application/fhir+json; charset=utf-8"]))
    @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))
    def run(body: Any, raw: bytes | None, content_type: str) -> None:
        data = raw if raw is not None else json.dumps(body).encode()
        response = client.post(ETASU, data=data, headers=headers, content_type=content_type)
        assert response.status_code < 500, (body, response.get_data(as_text=True))
        assert response.mimetype == "application/fhir+json"
        answer = json.loads(response.get_data())
        if response.status_code == 200:
            Parameters.model_validate(answer)
        else:
            OperationOutcome.model_validate(answer)
            assert answer["issue"][0]["diagnostics"]
        seen[response.status_code] = seen.get(response.status_code, 0) + 1

    run()
    assert session.execute(select(func.count()).select_from(AuditEntry)).scalar_one() == before
    # The fuzz reached the decision, not only the first check.
    assert seen.get(200, 0) > 0, seen
    assert seen.get(400, 0) > 0, seen
    assert seen.get(422, 0) > 0, seen
