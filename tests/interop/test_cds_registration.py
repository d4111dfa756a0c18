"""Program staff register EHR systems (page and API): public keys only, known prescribers,
one system per issuer, every change audited; other roles are refused at the door."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from registry.interop.ehr.models import EhrSystem
from registry.models import AuditEntry
from tests import factories as f
from tests.api.conftest import Api, make_staff
from tests.interop.cds_support import FHIR_BASE, ISSUER, Ehr, audit_count
from tests.web.conftest import login


def _body(ehr: Ehr, npis: list[str], **over: Any) -> dict[str, Any]:
    return {"name": "Example EHR", "issuer": ISSUER, "client_id": "registry-cds",
            "jwks": ehr.jwks(), "fhir_base_url": FHIR_BASE, "prescriber_npis": npis, **over}


@pytest.fixture
def api(app: Flask) -> Api:
    return Api(app)


@pytest.fixture
def staff_token(app: Flask, api: Api) -> str:
    return api.token(make_staff(app))


def _entries(session: Session, action: str) -> list[AuditEntry]:
    return list(session.execute(select(AuditEntry).where(AuditEntry.action == action)
                                .order_by(AuditEntry.id)).scalars())


def test_staff_register_change_and_deactivate_through_the_api(
        app: Flask, session: Session, api: Api, staff_token: str) -> None:
    dr, dr2 = f.prescriber(session), f.prescriber(session)
    session.commit()
    ehr = Ehr()
    made = api.post("/ehr-systems", _body(ehr, [dr.npi]), token=staff_token, expect=201)
    out = made.get_json()
    assert out["issuer"] == ISSUER
    assert out["active"] is True
    assert out["prescriber_npis"] == [dr.npi]
    assert out["key_ids"] == [ehr.kid]
    assert "jwks" not in out  # the keys are stored, not echoed
    stored = session.execute(select(EhrSystem)).scalar_one()
    assert stored.jwks == ehr.jwks()
    [entry] = _entries(session, "ehr-system:register")
    assert entry.subject_id == str(stored.id)
    assert entry.after is not None
    assert entry.after["prescriber_npis"] == [dr.npi]

    path = f"/ehr-systems/{out['id']}"
    changed = api.call("PATCH", path, {"prescriber_npis": [dr.npi, dr2.npi]},
                       token=staff_token, expect=200).get_json()
    assert changed["prescriber_npis"] == [dr.npi, dr2.npi]
    assert len(_entries(session, "ehr-system:update")) == 1
    # Sending the same again changes nothing and writes nothing.
    api.call("PATCH", path, {"prescriber_npis": [dr.npi, dr2.npi]}, token=staff_token,
             expect=200)
    assert len(_entries(session, "ehr-system:update")) == 1
    off = api.call("PATCH", path, {"active": False}, token=staff_token, expect=200).get_json()
    assert off["active"] is False
    [gone] = _entries(session, "ehr-system:deactivate")
    assert gone.before is not None
    assert gone.before["active"] is True
    assert api.get("/ehr-systems", token=staff_token, expect=200).get_json()["items"][0][
        "active"] is False
    assert api.get(path, token=staff_token, expect=200).get_json()["id"] == out["id"]
    api.get("/ehr-systems/999999", token=staff_token, expect=404)


@pytest.mark.parametrize(("change", "field", "words"), [
    (lambda e, b: b["jwks"]["keys"].__setitem__(0, e.private_jwk), "jwks", "private key"),
    (lambda e, b: b.update(jwks={"keys": [{"kty": "oct", "k": "c2VjcmV0"}]}), "jwks",
     "kty must be RSA, EC or OKP"),
    (lambda e, b: b.update(jwks={"keys": []}), "jwks", "JWK Set"),
    (lambda e, b: b.update(jwks={"keys": [{"kty": "EC", "crv": "P-384", "x": "AA"}]}), "jwks",
     "cannot be read"),
    (lambda e, b: b.update(issuer="not a url"), "issuer", "absolute http(s) address"),
    (lambda e, b: b.update(prescriber_npis=["1234567893"]), "prescriber_npis",
     "No enrolled prescriber"),
    (lambda e, b: b.update(prescriber_npis=["1234567890"]), "prescriber_npis[0]",
     "check digit"),
    (lambda e, b: b.pop("fhir_base_url"), "fhir_base_url", "required"),
])
def test_bad_registrations_are_422_naming_the_field_and_store_nothing(
        session: Session, api: Api, staff_token: str, change: Any, field: str,
        words: str) -> None:
    dr = f.prescriber(session)
    session.commit()
    ehr = Ehr()
    body = _body(ehr, [dr.npi])
    change(ehr, body)
    before = audit_count(session)
    answer = api.post("/ehr-systems", body, token=staff_token, expect=422)
    messages = " ".join(answer.get_json()["errors"][field])
    assert words in messages, messages
    assert session.execute(select(EhrSystem)).first() is None
    assert audit_count(session) == before


def test_one_system_per_issuer(session: Session, api: Api, staff_token: str) -> None:
    api.post("/ehr-systems", _body(Ehr(), []), token=staff_token, expect=201)
    answer = api.post("/ehr-systems", _body(Ehr(), [], issuer=ISSUER + "/"), token=staff_token,
                      expect=422)
    assert answer.get_json()["errors"]["issuer"] == [
        "An EHR system with this issuer is registered already."]
    assert len(session.execute(select(EhrSystem)).all()) == 1


def test_only_staff_manage_systems(session: Session, api: Api) -> None:
    dr = f.prescriber(session)
    session.commit()
    token = api.token(dr.user.email)
    api.post("/ehr-systems", _body(Ehr(), [dr.npi]), token=token, expect=403)
    api.post("/ehr-systems", _body(Ehr(), [dr.npi]), expect=401)
    api.get("/ehr-systems", token=token, expect=403)
    assert session.execute(select(EhrSystem)).first() is None


def test_staff_register_and_deactivate_on_the_page(app: Flask, session: Session) -> None:
    import json

    staff = f.staff(session)
    dr = f.prescriber(session)
    session.commit()
    client = app.test_client()
    login(client, staff)
    assert client.get("/staff/systems/").status_code == 200
    ehr = Ehr()
    form = {"form_token": "t-1", "name": "Clinic EHR", "issuer": ISSUER,
            "client_id": "registry", "jwks_text": json.dumps(ehr.jwks()),
            "fhir_base_url": FHIR_BASE, "npis_text": dr.npi}
    # A private key is refused on the page too, with the field named.
    bad = client.post("/staff/systems/", data={
        **form, "form_token": "t-0", "jwks_text": json.dumps({"keys": [ehr.private_jwk]})})
    assert bad.status_code == 200
    assert "private key material" in bad.get_data(as_text=True)
    assert session.execute(select(EhrSystem)).first() is None
    not_json = client.post("/staff/systems/", data={**form, "form_token": "t-9",
                                                    "jwks_text": "{"})
    assert "Must be JSON" in not_json.get_data(as_text=True)
    made = client.post("/staff/systems/", data=form)
    assert made.status_code == 302, made.get_data(as_text=True)
    system = session.execute(select(EhrSystem)).scalar_one()
    assert [p.npi for p in system.prescribers] == [dr.npi]
    page = client.get(f"/staff/systems/{system.id}")
    assert ISSUER in page.get_data(as_text=True)
    # Deactivate: the box unticked.
    saved = client.post(f"/staff/systems/{system.id}", data={
        **form, "form_token": "t-2"})
    assert saved.status_code == 302
    session.expire_all()
    stored = session.get(EhrSystem, system.id)
    assert stored is not None
    assert stored.active is False
    assert _entries(session, "ehr-system:deactivate")


def test_other_roles_do_not_see_the_page(app: Flask, session: Session) -> None:
    dr = f.prescriber(session)
    session.commit()
    client = app.test_client()
    assert client.get("/staff/systems/").status_code == 302  # to the sign-in page
    login(client, dr.user)
    assert client.get("/staff/systems/").status_code == 403
