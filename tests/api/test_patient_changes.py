"""API v1.1 for a patient's record: PATCH, risk category with the contraception start date,
activation codes, new courses, transfers, deactivation and GET /me (behaviour, stored state,
audit entries)."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from sqlalchemy import func, select

from registry import clock as registry_clock
from registry import db
from registry.models import AuditEntry, Authorization, Patient
from tests import factories as f
from tests.api.conftest import PASSWORD, make_staff
from tests.api.world import World


def today() -> date:
    return registry_clock.today()


def stored(app: Any, registry_id: str) -> Patient:
    with app.app_context():
        patient = db.session().execute(
            select(Patient).where(Patient.registry_id == registry_id)).scalar_one()
        db.session().expunge(patient)
        return patient


def audit(app: Any, action: str) -> list[AuditEntry]:
    with app.app_context():
        rows = list(db.session().execute(
            select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id)
        ).scalars())
        for row in rows:
            db.session().expunge(row)
        return rows


def audit_count(app: Any) -> int:
    with app.app_context():
        return db.session().execute(select(func.count(AuditEntry.id))).scalar_one()


def errors_of(r: Any) -> dict[str, list[str]]:
    assert r.status_code == 422, r.get_json()
    assert r.mimetype == "application/problem+json"
    return r.get_json()["errors"]


def test_moving_to_can_get_pregnant_needs_the_contraception_start_date(api, app, clock):
    clock.to("2026-03-02")
    w = World(api).setup()
    p = w.register(can=False)
    path = f"/patients/{p.registry_id}/risk-category"
    before = audit_count(app)
    r = api.post(path, {"risk_category": "can_get_pregnant", "reason": "Not menopausal"},
                 token=w.dr)
    assert list(errors_of(r)) == ["contraception_start_date"]
    assert stored(app, p.registry_id).risk_category == "cannot_get_pregnant"
    assert audit_count(app) == before

    start = (today() - timedelta(days=10)).isoformat()
    body = api.post(path, {"risk_category": "can_get_pregnant", "reason": "Not menopausal",
                           "contraception_start_date": start}, token=w.dr, expect=200).get_json()
    assert (body["risk_category"], body["contraception_start_date"]) == (
        "can_get_pregnant", start)
    row = stored(app, p.registry_id)
    assert (row.risk_category, row.contraception_start_on.isoformat()) == (
        "can_get_pregnant", start)
    [entry] = audit(app, "patient:change_risk_category")
    assert entry.before == {"risk_category": "cannot_get_pregnant",
                            "contraception_start_on": None}
    assert entry.after == {"risk_category": "can_get_pregnant",
                           "contraception_start_on": start, "reason": "Not menopausal"}
    # The API can now take the patient all the way to an RMA (it could not before v1.1).
    assert w.test(p)["purpose"] == "screening"
    w.forward(clock, 20)  # 30 days after the contraception start date
    assert w.test(p)["purpose"] == "confirmation"
    w.complete_cycle(p)
    assert w.authorize(p)["status"] == "authorized"


def test_patch_corrects_the_record_and_allows_home_tests_with_the_attestation(api, app, clock):
    clock.to("2026-09-01")  # rule set 2026: allowing home tests needs the attestation
    w = World(api).setup()
    p = w.register(activate=False)
    path = f"/patients/{p.registry_id}"

    body = api.call("PATCH", path, {"email": "new.address@example.org",
                                    "contraception_start_date": "2026-08-20"},
                    token=w.dr, expect=200).get_json()
    assert (body["email"], body["contraception_start_date"]) == (
        "new.address@example.org", "2026-08-20")
    [entry] = audit(app, "patient:update")
    assert entry.before["email"] == p.email
    assert entry.after["email"] == "new.address@example.org"

    r = api.call("PATCH", path, {"home_tests_allowed": True}, token=w.dr)
    assert list(errors_of(r)) == ["home_test_procedure_attested"]
    assert stored(app, p.registry_id).home_tests_allowed is False
    r = api.call("PATCH", path, {"home_tests_allowed": 1}, token=w.dr)
    assert errors_of(r) == {"home_tests_allowed": ["Must be true or false."]}
    api.call("PATCH", path, {"home_tests_allowed": True, "home_test_procedure_attested": True},
             token=w.dr, expect=200)
    assert stored(app, p.registry_id).home_tests_allowed is True
    assert audit(app, "patient:update")[-1].after["home_test_procedure_attested"] is True

    api.post("/patients/activation", {"registry_id": p.registry_id,
                                      "date_of_birth": p.date_of_birth,
                                      "activation_code": p.code, "password": PASSWORD},
             expect=200)
    r = api.call("PATCH", path, {"email": "third@example.org"}, token=w.dr)
    assert "activated" in errors_of(r)["email"][0]
    assert stored(app, p.registry_id).email == "new.address@example.org"


def test_a_new_activation_code_replaces_the_old(api, app, clock):
    clock.to("2026-03-02")
    w = World(api).setup()
    p = w.register(activate=False)
    path = f"/patients/{p.registry_id}/activation-codes"
    body = api.post(path, token=w.dr, expect=201).get_json()
    assert body["activation_expires_on"] == (today() + timedelta(days=30)).isoformat()
    activation = {"registry_id": p.registry_id, "date_of_birth": p.date_of_birth,
                  "password": PASSWORD}
    r = api.post("/patients/activation", {**activation, "activation_code": p.code})
    assert list(errors_of(r)) == ["activation_code"]
    api.post("/patients/activation", {**activation, "activation_code": body["activation_code"]},
             expect=200)
    assert len(audit(app, "patient:reissue_activation_code")) == 1
    r = api.post(path, token=w.dr)
    assert "already activated" in errors_of(r)["registry_id"][0]


def test_a_new_course_after_treatment(api, app, clock):
    clock.to("2026-03-02")
    w = World(api).setup()
    p = w.register(can=False)
    path = f"/patients/{p.registry_id}/courses"
    r = api.post(path, {}, token=w.dr)
    assert list(errors_of(r)) == ["status"]
    api.post(f"/patients/{p.registry_id}/treatment-end", {"last_dose_on": today().isoformat()},
             token=w.dr, expect=200)
    body = api.post(path, {}, token=w.dr, expect=201).get_json()
    assert body == {"registry_id": p.registry_id, "course_number": 2, "status": "active"}
    row = stored(app, p.registry_id)
    assert (row.course_number, row.last_dose_on) == (2, None)
    [entry] = audit(app, "patient:start_course")
    assert (entry.before["course_number"], entry.after["course_number"]) == (1, 2)


def test_transfers_by_the_new_prescriber_and_by_staff(api, app, clock):
    clock.to("2026-03-02")
    w = World(api).setup()
    p = w.register()
    other_id, other_npi, other = w.enroll_prescriber()
    staff = api.token(make_staff(app))
    path = f"/patients/{p.registry_id}/transfers"

    r = api.post(path, {"date_of_birth": "1990-01-01"}, token=other)
    assert r.status_code == 404  # the wrong date of birth finds nobody
    r = api.post(path, {}, token=other)
    assert list(errors_of(r)) == ["date_of_birth"]
    body = api.post(path, {"date_of_birth": p.date_of_birth, "reason": "Moved"}, token=other,
                    expect=200).get_json()
    assert body["prescriber"] == {**body["prescriber"], "id": other_id, "npi": other_npi}
    assert stored(app, p.registry_id).prescriber_id == other_id
    # The old prescriber no longer sees the patient.
    assert api.get(f"/patients/{p.registry_id}", token=w.dr).status_code == 404

    bad_npi = w.dr_npi[:-1] + str((int(w.dr_npi[-1]) + 1) % 10)
    r = api.post(path, {"prescriber_npi": bad_npi}, token=staff)
    assert errors_of(r) == {"prescriber_npi": ["The check digit does not match: re-key the NPI."]}
    r = api.post(path, {"prescriber_npi": f.npi()}, token=staff)
    assert errors_of(r) == {"prescriber_npi": ["No enrolled prescriber has this NPI."]}
    api.post(path, {"prescriber_npi": w.dr_npi, "reason": "Back"}, token=staff, expect=200)
    assert stored(app, p.registry_id).prescriber_id == w.dr_id
    entries = audit(app, "patient:transfer")
    assert [(e.role, e.after) for e in entries] == [
        ("prescriber", {"prescriber_id": other_id, "reason": "Moved"}),
        ("staff", {"prescriber_id": w.dr_id, "reason": "Back"})]
    r = api.post(f"/patients/{p.registry_id[:-1]}x/transfers", {"prescriber_npi": w.dr_npi},
                 token=staff)
    assert list(errors_of(r)) == ["registry_id"]


def test_the_prescriber_of_record_deactivates_and_the_open_rma_is_cancelled(api, app, clock):
    clock.to("2026-03-02")
    w = World(api).setup()
    p = w.register()
    w.test(p)
    w.forward(clock, 30)
    w.test(p)
    w.complete_cycle(p)
    rma = w.authorize(p)["rma"]
    path = f"/patients/{p.registry_id}/deactivation"
    r = api.post(path, {"reason": ""}, token=w.dr)
    assert errors_of(r) == {"reason": ["This field is required."]}
    body = api.post(path, {"reason": "Moved abroad"}, token=w.dr, expect=200).get_json()
    assert (body["status"], body["deactivated_on"]) == ("deactivated", today().isoformat())
    with app.app_context():
        auth = db.session().execute(
            select(Authorization).where(Authorization.rma == rma)).scalar_one()
        assert auth.status == "cancelled"
    [entry] = audit(app, "patient:deactivate")
    assert entry.after == {"status": "deactivated", "deactivated_on": today().isoformat(),
                           "reason": "Moved abroad"}
    assert "PATIENT_NOT_ACTIVE" in w.denial_codes(p)
    r = api.post(path, {"reason": "Again"}, token=w.dr)
    assert "already deactivated" in errors_of(r)["reason"][0]
    assert len(audit(app, "patient:deactivate")) == 1


def test_me_is_the_callers_own_record(api, app, clock):
    clock.to("2026-03-02")
    w = World(api).setup()
    p = w.register()
    mine = api.get("/me", token=w.dr, expect=200).get_json()
    assert (mine["role"], mine["status"], mine["registry_id"]) == ("prescriber", "active", None)

    me = api.get("/me", token=p.token, expect=200).get_json()
    assert (me["role"], me["registry_id"], me["status"], me["risk_category"]) == (
        "patient", p.registry_id, "active", "can_get_pregnant")
    assert me["rma"] is None
    assert me["next_steps"]
    for step in me["next_steps"]:
        assert set(step) == {"actor", "action", "due_on", "not_before"}
    assert any(e["state"] == "today" for e in me["timeline"])

    w.test(p)
    w.forward(clock, 30)
    w.test(p)
    w.complete_cycle(p)
    issued = w.authorize(p)
    me = api.get("/me", token=p.token, expect=200).get_json()
    assert (me["rma"], me["do_not_dispense_after"]) == (
        issued["rma"], issued["do_not_dispense_after"])
    status = w.status(p)
    assert all(set(s) == {"actor", "action", "due_on", "not_before"}
               for s in status["next_steps"])
