"""The staff page for pharmacy systems: register (credential shown once), rotate, deactivate;
each one operation with its audit entry."""

from __future__ import annotations

import re

from sqlalchemy import select

from registry import db
from registry.models import AuditEntry, PharmacySystem, User
from tests.interop.ncpdp_support import fixture, send, values, world
from tests.web.conftest import login

TOKEN = re.compile(r'name="form_token" type="hidden" value="([^"]+)"')


def _token(page: str) -> str:
    found = TOKEN.search(page)
    assert found, page[:2000]
    return found[1]


def test_staff_register_rotate_and_deactivate_on_the_page(app, clock):
    w = world(app, clock)
    client = app.test_client()
    with app.app_context():
        staff = db.session().get(User, w["staff_user"])
        assert staff is not None
        login(client, staff)
    page = client.get("/staff/pharmacy-systems/")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Counter software" in html
    assert w["credential"] not in html  # never shown again

    r = client.post("/staff/pharmacy-systems/", data={
        "form_token": _token(html), "name": "Front till", "pharmacy_id": str(w["pharmacy"])})
    assert r.status_code == 200
    shown = r.get_data(as_text=True)
    credential = re.search(r"<code>(rps_[^<]+)</code>", shown)
    assert credential, shown[:3000]
    with app.app_context():
        system = db.session().execute(select(PharmacySystem).where(
            PharmacySystem.name == "Front till")).scalar_one()
        system_id = system.id
    assert send(app.test_client(), fixture("rems_initiation_request.xml", **values(w, "P-1")),
                credential[1]).status_code == 200
    assert credential[1] not in client.get("/staff/pharmacy-systems/").get_data(as_text=True)

    html = client.get("/staff/pharmacy-systems/").get_data(as_text=True)
    r = client.post(f"/staff/pharmacy-systems/{system_id}/credential",
                    data={"form_token": _token(html)})
    assert r.status_code == 200
    rotated = re.search(r"<code>(rps_[^<]+)</code>", r.get_data(as_text=True))
    assert rotated
    assert rotated[1] != credential[1]
    assert send(app.test_client(), fixture("rems_initiation_request.xml", **values(w, "P-2")),
                credential[1]).status_code == 401

    html = client.get("/staff/pharmacy-systems/").get_data(as_text=True)
    r = client.post(f"/staff/pharmacy-systems/{system_id}/deactivate",
                    data={"form_token": _token(html)})
    assert r.status_code == 302
    assert send(app.test_client(), fixture("rems_initiation_request.xml", **values(w, "P-3")),
                rotated[1]).status_code == 401
    with app.app_context():
        actions = list(db.session().execute(select(AuditEntry.action).where(
            AuditEntry.subject_type == "pharmacy_system",
            AuditEntry.subject_id == str(system_id)).order_by(AuditEntry.id)).scalars())
    assert actions == ["pharmacy_system:register", "pharmacy_system:rotate",
                       "pharmacy_system:deactivate"]


def test_a_bad_registration_shows_the_field_and_stores_nothing(app, clock):
    w = world(app, clock)
    client = app.test_client()
    with app.app_context():
        staff = db.session().get(User, w["staff_user"])
        assert staff is not None
        login(client, staff)
        before = len(db.session().execute(select(PharmacySystem)).all())
    html = client.get("/staff/pharmacy-systems/").get_data(as_text=True)
    r = client.post("/staff/pharmacy-systems/", data={
        "form_token": _token(html), "name": "", "pharmacy_id": str(w["pharmacy"])})
    assert r.status_code == 200
    assert "rps_" not in r.get_data(as_text=True)
    with app.app_context():
        assert len(db.session().execute(select(PharmacySystem)).all()) == before
