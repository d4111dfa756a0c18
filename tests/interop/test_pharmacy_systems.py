"""Registering a pharmacy system, rotating its credential and deactivating it (staff, through
the API): each change audited, the credential shown once and stored only hashed."""

from __future__ import annotations

from sqlalchemy import select, text

from registry import db
from registry.models import AuditEntry, IdempotencyRecord, PharmacySystem
from tests.api.conftest import Api
from tests.interop.ncpdp_support import fixture, read, send, values, world


def _staff_token(app, w) -> str:
    from registry.models import User

    with app.app_context():
        staff = db.session().get(User, w["staff_user"])
        assert staff is not None
        email = staff.email
    return Api(app).token(email)


def _actions(app, system_id: int) -> list[str]:
    with app.app_context():
        return list(db.session().execute(
            select(AuditEntry.action).where(AuditEntry.subject_type == "pharmacy_system",
                                            AuditEntry.subject_id == str(system_id))
            .order_by(AuditEntry.id)).scalars())


def test_register_rotate_deactivate_through_the_api(app, clock):
    w = world(app, clock)
    api = Api(app)
    token = _staff_token(app, w)
    made = api.post("/pharmacy-systems", {"name": "Till 2", "pharmacy_id": w["pharmacy"]},
                    token=token, key="reg-1", expect=201).get_json()
    credential = made["credential"]
    assert credential.startswith("rps_")
    assert made["active"] is True
    assert made["pharmacy_id"] == w["pharmacy"]
    with app.app_context():
        s = db.session()
        system = s.get(PharmacySystem, made["id"])
        assert system is not None
        assert system.credential_hash != credential
        # never readable at rest: not in its row, not in the idempotency record
        dump = " ".join(str(v) for v in s.execute(
            text("SELECT * FROM pharmacy_systems")).all())
        assert credential not in dump
        stored = s.execute(select(IdempotencyRecord)).scalars().all()
        assert stored
        assert all(credential not in str(r.response_body) for r in stored)
    # the replay shows the same credential again (sealed at rest)
    replay = api.post("/pharmacy-systems", {"name": "Till 2", "pharmacy_id": w["pharmacy"]},
                      token=token, key="reg-1", expect=201).get_json()
    assert replay["credential"] == credential

    client = app.test_client()
    ok = send(client, fixture("rems_initiation_request.xml", **values(w, "I-1")), credential)
    assert ok.status_code == 200, ok.data

    listed = api.get("/pharmacy-systems", token=token, expect=200).get_json()["items"]
    assert made["id"] in [i["id"] for i in listed]
    assert credential not in str(listed)
    assert all("credential" not in i for i in listed)

    rotated = api.post(f"/pharmacy-systems/{made['id']}/credential", token=token,
                       expect=201).get_json()
    assert rotated["credential"] != credential
    assert send(client, fixture("rems_initiation_request.xml", **values(w, "I-2")),
                credential).status_code == 401
    assert send(client, fixture("rems_initiation_request.xml", **values(w, "I-3")),
                rotated["credential"]).status_code == 200

    api.delete(f"/pharmacy-systems/{made['id']}", token=token, expect=204)
    api.delete(f"/pharmacy-systems/{made['id']}", token=token, expect=204)  # no change
    r = send(client, fixture("rems_initiation_request.xml", **values(w, "I-4")),
             rotated["credential"])
    assert r.status_code == 401
    assert read(r).find("Body/Error") is not None
    refused = api.post(f"/pharmacy-systems/{made['id']}/credential", token=token, expect=422)
    assert "deactivated" in refused.get_data(as_text=True)
    assert _actions(app, made["id"]) == ["pharmacy_system:register", "pharmacy_system:rotate",
                                         "pharmacy_system:deactivate"]
    with app.app_context():
        system = db.session().get(PharmacySystem, made["id"])
        assert system is not None
        assert system.active is False
        assert system.deactivated_at is not None


def test_bad_registrations_name_the_field_and_store_nothing(app, clock):
    w = world(app, clock)
    api = Api(app)
    token = _staff_token(app, w)
    with app.app_context():
        before = len(db.session().execute(select(PharmacySystem)).all())
    r = api.post("/pharmacy-systems", {"name": "X", "pharmacy_id": 999999}, token=token,
                 expect=422)
    assert "pharmacy_id" in r.get_json()["errors"]
    r = api.post("/pharmacy-systems", {"name": " ", "pharmacy_id": w["pharmacy"]},
                 token=token, expect=422)
    assert "name" in r.get_json()["errors"]
    api.post(f"/pharmacy-systems/{999999}/credential", token=token, expect=404)
    with app.app_context():
        assert len(db.session().execute(select(PharmacySystem)).all()) == before
