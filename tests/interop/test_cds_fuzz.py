"""A fuzz run over the CDS Hooks door: whatever the body or the Authorization header, the
answer is JSON and never a 5xx; a 200 is always valid CDS Hooks."""

from __future__ import annotations

import copy
from typing import Any

from flask import Flask
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.orm import Session

from tests import factories as f
from tests.harness import fuzz_examples
from tests.interop.cds_support import (
    ERROR,
    RESPONSE,
    Ehr,
    call,
    order_sign,
    register,
    service_url,
)

EXAMPLES = fuzz_examples(150)
SERVICES = ["isotretinoin-order-sign", "isotretinoin-order-select",
            "isotretinoin-patient-view"]
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-2**40, 2**40) | st.floats(allow_nan=False)
    | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner,
                                                                max_size=4),
    max_leaves=20)
# Paths into the order-sign example that a fuzzed value replaces.
PATHS = [("hook",), ("hookInstance",), ("fhirServer",), ("fhirAuthorization",),
         ("context",), ("context", "userId"), ("context", "patientId"),
         ("context", "draftOrders"), ("context", "draftOrders", "entry"),
         ("context", "selections"), ("prefetch",), ("prefetch", "patient"),
         ("prefetch", "patient", "identifier"), ("prefetch", "patient", "birthDate"),
         ("prefetch", "practitioner"), ("prefetch", "practitioner", "identifier")]


def _check(answer: Any) -> None:
    assert answer.status_code < 500, answer.get_data(as_text=True)
    assert answer.mimetype == "application/json"
    data = answer.get_json()
    if answer.status_code == 200:
        assert not list(RESPONSE.iter_errors(data)), data
    else:
        assert not list(ERROR.iter_errors(data)), data


def test_fuzzed_bodies_and_headers_never_fail_the_server(
        app: Flask, session: Session, clock: Any) -> None:
    clock.to("2026-03-02")
    ehr = Ehr()
    dr = f.prescriber(session)
    register(session, ehr, [dr])
    patient = f.patient(session, dr)
    session.commit()
    base = order_sign(dr, patient)
    client = app.test_client()

    @given(service=st.sampled_from(SERVICES), path=st.sampled_from(PATHS), value=json_values,
           whole=st.booleans())
    @settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=True,
              suppress_health_check=list(HealthCheck))
    def bodies(service: str, path: tuple[str, ...], value: Any, whole: bool) -> None:
        body: Any = copy.deepcopy(base)
        if whole:
            body = value
        else:
            target = body
            for key in path[:-1]:
                target = target.setdefault(key, {}) if isinstance(target, dict) else {}
            if isinstance(target, dict):
                target[path[-1]] = value
        _check(call(client, service, body, ehr.token(service_url(service))))

    @given(header=st.text(max_size=200) | st.builds(
        "Bearer {}.{}.{}".format, st.text(max_size=40), st.text(max_size=40),
        st.text(max_size=40)))
    @settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=True,
              suppress_health_check=list(HealthCheck))
    def headers(header: str) -> None:
        try:
            answer = client.post(f"/cds-services/{SERVICES[0]}", json=base,
                                 headers={"Authorization": header})
        except ValueError:  # a header value the test client itself cannot send
            return
        assert answer.status_code == 401
        _check(answer)

    bodies()
    headers()
