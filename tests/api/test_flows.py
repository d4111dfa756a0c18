"""End to end through the API only, from an empty database, with time moved between steps."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from registry import clock as registry_clock
from registry import db
from registry.models import AuditEntry, Authorization, AuthorizationDecision, User
from tests.api.conftest import make_staff
from tests.api.world import World

# The 2021 rules apply to decisions before 2026-08-08, the 2026 rules from that day.
RULESETS = [pytest.param("2026-03-02", "2021", id="ruleset-2021"),
            pytest.param("2026-09-01", "2026", id="ruleset-2026")]


def today() -> date:
    return registry_clock.today()


def days_from_today(n: int) -> str:
    return (today() + timedelta(days=n)).isoformat()


def test_the_database_starts_empty(app):
    with app.app_context():
        assert db.session().execute(select(func.count(User.id))).scalar_one() == 0


@pytest.mark.parametrize(("start", "ruleset"), RULESETS)
def test_patient_who_can_get_pregnant_registration_to_post_treatment_test(
        api, clock, start, ruleset, app):
    clock.to(start)
    w = World(api).setup()
    p = w.register(can=True)
    assert w.test(p)["purpose"] == "screening"
    status = w.status(p)
    assert status["eligible"] is False
    assert "CONFIRMATION_TEST_REQUIRED" in [r["code"] for r in status["reasons"]]

    w.forward(clock, 30)
    assert w.test(p)["purpose"] == "confirmation"
    rmas = []
    for month in range(3):
        if month:
            w.forward(clock, 28)
            assert w.test(p)["purpose"] == "monthly"
        test_day = today()
        assert w.denial_codes(p) == ["COUNSELING_NOT_CONFIRMED", "COMPREHENSION_NOT_PASSED",
                                     "CONTRACEPTION_NOT_ATTESTED"]
        w.complete_cycle(p)
        status = w.status(p, token=p.token)
        assert status["eligible"] is True, status
        assert status["ruleset"] == ruleset
        assert status["cycle"]["test_specimen_on"] == test_day.isoformat()
        assert status["cycle"]["window_closes_on"] == days_from_today(6)

        check = api.post("/authorization-checks", w.request_body(p), token=w.rph,
                         expect=200).get_json()
        assert check == {"eligible": True, "reasons": [], "ruleset": ruleset,
                         "do_not_dispense_after": days_from_today(6)}
        issued = w.authorize(p)
        assert issued["status"] == "authorized"
        assert issued["ruleset"] == ruleset
        assert issued["do_not_dispense_after"] == days_from_today(6)
        assert issued["patient"]["first_name"] == "Pat"
        got = api.get(f"/authorizations/{issued['rma']}", token=w.dr, expect=200).get_json()
        assert got["status"] == "authorized"
        w.dispense(issued["rma"])
        rmas.append(issued["rma"])
        got = api.get(f"/authorizations/{issued['rma']}", token=w.rph, expect=200).get_json()
        assert got["status"] == "dispensed"
        assert got["dispense"]["dispensed_on"] == today().isoformat()
    assert len(set(rmas)) == 3

    w.forward(clock, 25)
    r = api.post(f"/patients/{p.registry_id}/treatment-end",
                 {"last_dose_on": today().isoformat()}, token=w.dr, expect=200)
    assert r.get_json()["status"] == "treatment_ended"
    assert w.test(p)["purpose"] == "end_of_treatment"
    assert w.denial_codes(p) == ["PATIENT_NOT_ACTIVE"]
    w.forward(clock, 30)
    assert w.test(p)["purpose"] == "post_treatment"
    record = api.get(f"/patients/{p.registry_id}", token=p.token, expect=200).get_json()
    assert record["status"] == "treatment_complete"
    with app.app_context():
        session = db.session()
        assert session.execute(select(func.count(Authorization.id))).scalar_one() == 3
        actions = set(session.execute(select(AuditEntry.action)).scalars())
    assert {"patient:register", "patient:activate", "pregnancy_test:record",
            "counseling:confirm", "comprehension:attempt", "contraception:attest",
            "authorization:check", "authorization:issue", "authorization:dispense",
            "patient:end_treatment", "patient:complete_treatment",
            "api_token:issue"} <= actions


@pytest.mark.parametrize(("start", "ruleset"), RULESETS)
def test_patient_who_cannot_get_pregnant(api, clock, start, ruleset):
    clock.to(start)
    w = World(api).setup()
    p = w.register(can=False)
    assert w.denial_codes(p) == ["COUNSELING_NOT_CONFIRMED", "COMPREHENSION_NOT_PASSED"]
    counseled = w.counsel(p, can=False)
    questions = api.get("/me/comprehension", token=p.token, expect=200).get_json()
    assert questions["cycle_id"] is None  # answered once, not per cycle
    w.answer_questions(p)
    first = w.authorize(p)
    assert first["ruleset"] == ruleset
    if ruleset == "2021":
        # The 30-day window opened by counseling: day 30 is the last day.
        assert counseled["cycle_id"] is not None
        assert first["do_not_dispense_after"] == days_from_today(29)
    else:
        assert counseled["cycle_id"] is None
        assert first["do_not_dispense_after"] == days_from_today(7)
    w.dispense(first["rma"])

    w.forward(clock, 30)
    if ruleset == "2021":
        codes = w.denial_codes(p)
        assert "COUNSELING_NOT_CONFIRMED" in codes or "WINDOW_EXPIRED" in codes, codes
        w.counsel(p, can=False)
    second = w.authorize(p)
    assert second["rma"] != first["rma"]


@pytest.mark.parametrize(("start", "ruleset"), RULESETS)
def test_missed_first_window_lockout_only_under_2021(api, clock, start, ruleset):
    clock.to(start)
    w = World(api).setup()
    p = w.register(can=True)
    w.test(p)
    w.forward(clock, 30)
    confirmation_day = today()
    w.test(p)
    w.complete_cycle(p)
    w.forward(clock, 7)  # day 8: the 7-day window has ended
    codes = w.denial_codes(p)
    status = w.status(p)
    lockout_end = (confirmation_day + timedelta(days=19)).isoformat()
    if ruleset == "2021":
        assert codes == ["WINDOW_EXPIRED", "LOCKOUT_ACTIVE"]
        assert status["lockout_until"] == lockout_end
        refused = w.test(p, expect=422)
        assert "specimen_collected_on" in refused["errors"]
        w.travel_to(clock, lockout_end)
    else:
        assert codes == ["WINDOW_EXPIRED"]
        assert status["lockout_until"] is None
    assert w.test(p)["purpose"] == "confirmation"
    w.complete_cycle(p)
    assert w.authorize(p)["status"] == "authorized"


def test_reversal_then_new_authorization_in_the_same_window(api, clock):
    clock.to("2026-09-01")
    w = World(api).setup()
    p = w.register(can=True)
    w.test(p)
    w.forward(clock, 30)
    w.test(p)
    w.complete_cycle(p)
    first = w.authorize(p)
    assert w.denial_codes(p) == ["AUTHORIZATION_ALREADY_ISSUED"]
    w.forward(clock, 2)
    r = api.post(f"/authorizations/{first['rma']}/reversal", {"reason": "Not picked up"},
                 token=w.rph, expect=200)
    assert r.get_json()["status"] == "reversed"
    second = w.authorize(p)
    assert second["rma"] != first["rma"]
    assert second["do_not_dispense_after"] == first["do_not_dispense_after"]
    assert api.get(f"/authorizations/{first['rma']}", token=w.dr,
                   expect=200).get_json()["status"] == "reversed"
    w.dispense(second["rma"])


def test_pregnancy_report_blocks_at_once(api, clock, app):
    clock.to("2026-09-01")
    w = World(api).setup()
    p = w.register(can=True)
    w.test(p)
    w.forward(clock, 30)
    w.test(p)
    w.complete_cycle(p)
    issued = w.authorize(p)
    r = api.post(f"/patients/{p.registry_id}/pregnancy-reports",
                 {"reported_on": today().isoformat(), "notes": "Missed period"},
                 token=p.token, expect=201)
    assert r.get_json()["id"]
    got = api.get(f"/authorizations/{issued['rma']}", token=w.rph, expect=200).get_json()
    assert got["status"] == "cancelled"
    assert "PREGNANCY_REPORTED" in w.denial_codes(p)
    status = w.status(p)
    assert status["eligible"] is False
    assert "PREGNANCY_REPORTED" in [x["code"] for x in status["reasons"]]
    with app.app_context():
        decisions = db.session().execute(
            select(AuthorizationDecision.eligible).order_by(AuthorizationDecision.id)
        ).scalars().all()
    assert decisions == [True, False]


def test_suspended_pharmacy_is_denied(api, clock, app):
    clock.to("2026-09-01")
    w = World(api).setup()
    p = w.register(can=False)
    w.counsel(p, can=False)
    w.answer_questions(p)
    staff = api.token(make_staff(app))
    r = api.post("/compliance-actions", {
        "subject_type": "pharmacy", "subject_id": w.pharmacy_id, "action": "suspension",
        "reason": "Dispensed without an authorization", "until": days_from_today(30)},
        token=staff, expect=201)
    assert r.get_json()["action"] == "suspension"
    assert w.denial_codes(p) == ["PHARMACY_NOT_ACTIVE"]
    check = api.post("/authorization-checks", w.request_body(p), token=w.rph,
                     expect=200).get_json()
    assert check["eligible"] is False
    assert [x["code"] for x in check["reasons"]] == ["PHARMACY_NOT_ACTIVE"]
    w.forward(clock, 31)
    assert w.authorize(p)["status"] == "authorized"
