"""The API's conventions: problem+json errors, bearer tokens, Idempotency-Key, rate limits."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from registry import create_app, db
from registry.api.blueprint import token_hash
from registry.extensions import limiter
from registry.models import ApiToken, AuditEntry, IdempotencyRecord, Patient, User
from tests.api.conftest import PASSWORD, Api, make_staff
from tests.api.world import World
from tests.harness import TEST_CONFIG

PROBLEM = "application/problem+json"


def assert_problem(response, status, type_suffix=None):
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == PROBLEM
    body = response.get_json(force=True)
    assert set(body) >= {"type", "title", "status", "detail"}
    assert body["status"] == status
    if type_suffix:
        assert body["type"].endswith("/" + type_suffix), body["type"]
    return body


# --- errors -------------------------------------------------------------------------


def test_unknown_path_is_a_problem_404(api):
    assert_problem(api.get("/no-such-thing"), 404, "not-found")
    assert_problem(api.client.get("/api/elsewhere"), 404, "not-found")


def test_wrong_method_is_a_problem_405_with_allow(api):
    r = api.call("PUT", "/tokens", {})
    assert_problem(r, 405, "method-not-allowed")
    assert "POST" in r.headers["Allow"]


def test_body_over_64_kib_is_a_problem_413(api):
    r = api.client.post("/api/v1/prescribers", data=b'{"a": "' + b"x" * 70_000 + b'"}',
                        content_type="application/json")
    assert_problem(r, 413, "payload-too-large")


def test_malformed_json_is_a_problem_400(api):
    r = api.client.post("/api/v1/prescribers", data="{not json",
                        content_type="application/json")
    body = assert_problem(r, 400, "bad-request")
    assert "not valid JSON" in body["detail"]
    r = api.client.post("/api/v1/prescribers", data="[1, 2]", content_type="application/json")
    assert_problem(r, 400, "bad-request")


def test_deeply_nested_json_is_a_problem_400_not_a_crash(api):
    r = api.client.post("/api/v1/prescribers", data="[" * 30_000 + "]" * 30_000,
                        content_type="application/json")
    assert_problem(r, 400, "bad-request")


def test_nul_characters_are_422_with_the_field_named_not_a_database_error(api, clock):
    # PostgreSQL refuses NUL in text: the API must refuse it first, naming the field.
    clock.to("2026-09-01")
    w = World(api).setup()
    body = assert_problem(api.post("/pharmacies", {"name": "A\u0000", "rsp": {
        "first_name": "x\u0000y"}, "ncpdp_id": "1234567"}), 422)
    assert set(body["errors"]) == {"name", "rsp.first_name"}
    body = assert_problem(api.post("/tokens", {"email": "a\u0000@b.c", "password": "x"}), 422)
    assert set(body["errors"]) == {"email"}
    assert_problem(api.get("/patients/12%0034", token=w.dr), 404)
    assert_problem(api.get("/authorizations/AB%00", token=w.dr), 404)
    body = assert_problem(api.get("/audit?subject=a%00b", token=w.dr), 422)
    assert set(body["errors"]) == {"subject"}
    body = assert_problem(api.post("/patients", {}, token=w.dr, key="k\x00"), 422)
    assert "Idempotency-Key" in body["errors"]


@pytest.mark.parametrize("subject_id", [2**31, 2**63, "9223372036854775808", -(2**40)])
def test_integers_beyond_what_the_database_holds_are_422(api, app, clock, subject_id):
    clock.to("2026-09-01")
    staff = api.token(make_staff(app))
    body = assert_problem(api.post("/compliance-actions", {
        "subject_type": "pharmacy", "subject_id": subject_id, "action": "notice",
        "reason": "x"}, token=staff), 422)
    assert set(body["errors"]) == {"subject_id"}


@pytest.mark.parametrize("field", ["contraception_start_date", "date_of_birth",
                                   "consent_signed_on"])
@pytest.mark.parametrize("day", ["9999-12-31", "0001-01-01"])
def test_dates_at_the_ends_of_the_calendar_are_422_not_an_overflow_later(api, clock, field,
                                                                        day):
    # Accepted, 9999-12-31 as a contraception start date made every later status a 500.
    clock.to("2026-09-01")
    w = World(api).setup()
    body = {"first_name": "A", "last_name": "B", "date_of_birth": "2000-01-01",
            "email": "calendar@example.org", "risk_category": "can_get_pregnant",
            "consent_signed_on": "2026-09-01", "contraception_start_date": "2026-09-01",
            field: day}
    problem = assert_problem(api.post("/patients", body, token=w.dr), 422)
    assert "between 1900-01-01 and 2199-12-31" in " ".join(problem["errors"][field])


@pytest.mark.parametrize("since", ["9999-12-31", "0001-01-01T00:00:00+01:00", "yesterday",
                                   "2026-01-01T00:00:00", "2026-13-01"])
def test_bad_audit_since_is_422(api, app, clock, since):
    clock.to("2026-09-01")
    staff = api.token(make_staff(app))
    body = assert_problem(api.get(f"/audit?since={since.replace('+', '%2B')}", token=staff),
                          422)
    assert set(body["errors"]) == {"since"}


def test_audit_pages_newest_first_since_a_time(api, app, clock):
    clock.to("2026-09-01")
    staff = api.token(make_staff(app))
    World(api).setup()
    first = api.get("/audit?limit=3", token=staff, expect=200).get_json()
    ids = [e["id"] for e in first["entries"]]
    assert ids == sorted(ids, reverse=True)
    assert first["next_before_id"] == ids[-1]
    second = api.get(f"/audit?limit=3&before_id={ids[-1]}", token=staff,
                     expect=200).get_json()
    assert max(e["id"] for e in second["entries"]) < ids[-1]
    later = api.get("/audit?since=2026-09-02&subject=prescriber", token=staff,
                    expect=200).get_json()
    assert later["entries"] == []
    today = api.get("/audit?since=2026-09-01T00:00:00-04:00&subject=prescriber", token=staff,
                    expect=200).get_json()
    assert {e["subject_type"] for e in today["entries"]} == {"prescriber"}


def test_a_body_that_is_not_json_is_a_problem_415(api):
    r = api.client.post("/api/v1/prescribers", data="email=a", content_type="text/plain")
    assert_problem(r, 415, "unsupported-media-type")


def test_validation_errors_name_the_fields(api, app):
    body = assert_problem(api.post("/prescribers", {"email": "not-an-email", "npi": "123"}),
                          422, "validation-error")
    assert {"email", "password", "first_name", "last_name", "npi"} <= set(body["errors"])
    assert all(isinstance(m, list) and m for m in body["errors"].values())
    with app.app_context():
        assert db.session().execute(select(func.count(User.id))).scalar_one() == 0


def test_wrong_types_are_422_not_500(api, clock):
    clock.to("2026-09-01")
    w = World(api).setup()
    r = api.post("/patients", {"first_name": 5, "date_of_birth": "yesterday",
                               "risk_category": ["x"], "home_tests_allowed": {}},
                 token=w.dr)
    body = assert_problem(r, 422)
    assert {"first_name", "date_of_birth", "risk_category", "home_tests_allowed"} <= set(
        body["errors"])


# --- tokens ---------------------------------------------------------------------------


def test_token_lifecycle(api, app, clock):
    clock.to("2026-09-01")
    w = World(api).setup()
    r = api.post("/tokens", {"email": w.emails["dr"], "password": PASSWORD}, expect=201)
    body = r.get_json()
    assert body["role"] == "prescriber"
    assert body["expires_at"].startswith("2026-09-02")  # 12 hours after noon
    raw = body["token"]
    with app.app_context():
        row = db.session().execute(
            select(ApiToken).where(ApiToken.token_hash == token_hash(raw))).scalar_one()
        assert row.user_id == body["user_id"]
        stored = db.session().execute(select(ApiToken.token_hash)).scalars().all()
        assert raw not in stored  # only the SHA-256 is kept
    def last_used():
        with app.app_context():
            return db.session().execute(
                select(ApiToken.last_used_at).where(ApiToken.token_hash == token_hash(raw))
            ).scalar_one()

    assert last_used() is None
    rid = w.register().registry_id
    api.get(f"/patients/{rid}", token=raw, expect=200)
    first_use = last_used()
    assert first_use is not None
    clock.forward(days=0.0005)  # 43 seconds: not written again
    api.get(f"/patients/{rid}", token=raw, expect=200)
    assert last_used() == first_use
    clock.forward(days=0.001)  # a minute and a half later it is
    api.get(f"/patients/{rid}", token=raw, expect=200)
    assert last_used() > first_use
    api.delete("/tokens/current", token=raw, expect=204)
    body = assert_problem(api.get(f"/patients/{w.patients[0].registry_id}", token=raw), 401,
                          "unauthorized")
    assert "revoked" in body["detail"]
    with app.app_context():
        actions = db.session().execute(
            select(AuditEntry.action).where(AuditEntry.subject_type == "api_token")
        ).scalars().all()
    assert "api_token:revoke" in actions
    assert "api_token:issue" in actions


def test_token_expires_after_api_token_hours(api, clock):
    clock.to("2026-09-01")
    w = World(api).setup()
    from datetime import datetime
    from zoneinfo import ZoneInfo
    clock.to(datetime(2026, 9, 1, 23, 59, tzinfo=ZoneInfo("America/New_York")))
    api.get("/reports/summary", token=w.dr, expect=403)  # still valid: authenticated
    clock.to(datetime(2026, 9, 2, 0, 1, tzinfo=ZoneInfo("America/New_York")))
    assert_problem(api.get("/reports/summary", token=w.dr), 401)


def test_missing_or_garbage_token_is_401_with_www_authenticate(api):
    r = api.get("/reports/summary")
    assert_problem(r, 401, "unauthorized")
    assert r.headers["WWW-Authenticate"].startswith("Bearer")
    assert_problem(api.get("/reports/summary", token="rgt_nonsense"), 401)


def test_wrong_password_is_401_and_the_failure_is_counted(api, app, clock):
    clock.to("2026-09-01")
    w = World(api).setup()
    body = assert_problem(api.post("/tokens", {"email": w.emails["dr"], "password": "wrong!"}),
                          401, "invalid-credentials")
    assert body["detail"] == "Wrong email or password."
    with app.app_context():
        user = db.session().execute(
            select(User).where(User.email == w.emails["dr"])).scalar_one()
        assert user.failed_logins == 1
    missing = assert_problem(api.post("/tokens", {}), 422)
    assert set(missing["errors"]) == {"email", "password"}


def test_lockout_after_too_many_failures(api, app, clock):
    clock.to("2026-09-01")
    w = World(api).setup()
    for _ in range(app.config["LOGIN_MAX_FAILURES"]):
        api.post("/tokens", {"email": w.emails["dr"], "password": "wrong-password"})
    body = assert_problem(api.post("/tokens", {"email": w.emails["dr"], "password": PASSWORD}),
                          401)
    assert "locked" in body["detail"]


def test_totp_is_required_when_enabled(api, app, clock):
    import base64
    import hashlib
    import hmac
    import struct

    from registry import clock as registry_clock

    clock.to("2026-09-01")
    w = World(api).setup()
    secret = base64.b32encode(b"12345678901234567890").decode()
    with app.app_context():
        user = db.session().execute(
            select(User).where(User.email == w.emails["dr"])).scalar_one()
        user.totp_secret = secret
        db.commit_request()
    assert_problem(api.post("/tokens", {"email": w.emails["dr"], "password": PASSWORD}), 401)
    assert_problem(api.post("/tokens", {"email": w.emails["dr"], "password": PASSWORD,
                                        "totp": "000000"}), 401)
    counter = int(registry_clock.now().timestamp()) // 30
    digest = hmac.new(b"12345678901234567890", struct.pack(">Q", counter), hashlib.sha1).digest()
    start = digest[-1] & 0x0F
    code = (struct.unpack(">I", digest[start:start + 4])[0] & 0x7FFFFFFF) % 1_000_000
    api.post("/tokens", {"email": w.emails["dr"], "password": PASSWORD, "totp": f"{code:06d}"},
             expect=201)


# --- idempotency ------------------------------------------------------------------------


def _patient_body(n: int = 1):
    return {"first_name": "Idem", "last_name": f"Potent{n}", "date_of_birth": "1990-01-01",
            "email": f"idem{n}@example.org", "risk_category": "cannot_get_pregnant",
            "consent_signed_on": "2026-09-01"}


def _count(app, model, *where):
    with app.app_context():
        return db.session().execute(select(func.count(model.id)).where(*where)).scalar_one()


def test_same_key_same_body_replays_the_first_response(api, app, clock):
    clock.to("2026-09-01")
    w = World(api).setup()
    first = api.post("/patients", _patient_body(), token=w.dr, key="k-1", expect=201)
    audit_before = _count(app, AuditEntry)
    again = api.post("/patients", _patient_body(), token=w.dr, key="k-1", expect=201)
    assert again.get_json() == first.get_json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert _count(app, Patient) == 1
    assert _count(app, AuditEntry) == audit_before  # nothing more was done
    with app.app_context():
        rec = db.session().execute(select(IdempotencyRecord)).scalar_one()
        assert (rec.key, rec.method, rec.path, rec.status) == (
            "k-1", "POST", "/api/v1/patients", 201)


def test_a_replayed_activation_code_is_not_stored_readable(api, app, clock):
    """The code's only other copy is a hash; the replay store keeps it encrypted."""
    clock.to("2026-09-01")
    w = World(api).setup()
    first = api.post("/patients", _patient_body(), token=w.dr, key="k-secret", expect=201)
    code = first.get_json()["activation_code"]
    with app.app_context():
        stored = db.session().execute(select(IdempotencyRecord.response_body)).scalar_one()
    assert code not in json.dumps(stored)
    assert stored["registry_id"] == first.get_json()["registry_id"]
    again = api.post("/patients", _patient_body(), token=w.dr, key="k-secret", expect=201)
    assert again.get_json()["activation_code"] == code


def test_same_key_different_body_is_422(api, app, clock):
    clock.to("2026-09-01")
    w = World(api).setup()
    api.post("/patients", _patient_body(1), token=w.dr, key="k-2", expect=201)
    body = assert_problem(api.post("/patients", _patient_body(2), token=w.dr, key="k-2"), 422,
                          "idempotency-key-reused")
    assert "Idempotency-Key" in body["errors"]
    assert _count(app, Patient) == 1
    # Another endpoint with the same key is a different request too.
    assert_problem(api.post(f"/prescribers/{w.dr_id}/attestations", token=w.dr, key="k-2"),
                   422, "idempotency-key-reused")


def test_keys_are_scoped_to_the_user(api, app, clock):
    clock.to("2026-09-01")
    w = World(api).setup()
    _other_id, _, other = w.enroll_prescriber()
    a = api.post("/patients", _patient_body(1), token=w.dr, key="shared", expect=201)
    b = api.post("/patients", {**_patient_body(1), "email": "idem-b@example.org"}, token=other,
                 key="shared", expect=201)
    assert a.get_json()["registry_id"] != b.get_json()["registry_id"]
    assert _count(app, Patient) == 2


def test_a_failed_request_is_not_stored_so_the_retry_runs(api, app, clock):
    clock.to("2026-09-01")
    w = World(api).setup()
    assert_problem(api.post("/patients", {**_patient_body(), "email": "bad"}, token=w.dr,
                            key="k-3"), 422, "validation-error")
    assert _count(app, IdempotencyRecord) == 0
    api.post("/patients", _patient_body(), token=w.dr, key="k-3", expect=201)


def test_authorization_key_replays_the_same_rma_and_refuses_another_body(api, app, clock):
    clock.to("2026-09-01")
    w = World(api).setup()
    p = w.register(can=False)
    w.counsel(p, can=False)
    w.answer_questions(p)
    first = w.authorize(p, key="rma-1")
    r = api.post("/authorizations", w.request_body(p), token=w.rph, key="rma-1", expect=201)
    assert r.get_json() == first
    assert r.headers["Idempotent-Replayed"] == "true"
    body = assert_problem(api.post("/authorizations", w.request_body(p, quantity=30),
                                   token=w.rph, key="rma-1"), 422, "idempotency-key-reused")
    assert body["errors"]
    assert _count(app, AuditEntry, AuditEntry.action == "authorization:issue") == 1


def test_an_overlong_key_is_422(api, clock):
    clock.to("2026-09-01")
    w = World(api).setup()
    body = assert_problem(api.post("/patients", _patient_body(), token=w.dr, key="x" * 256),
                          422)
    assert "Idempotency-Key" in body["errors"]


# --- rate limits ----------------------------------------------------------------------


@pytest.fixture
def limited(database_url):
    """An app with the limiter on and small limits (the suite runs with it off)."""
    app = create_app({**TEST_CONFIG, "DATABASE_URL": database_url, "RATELIMIT_ENABLED": True,
                      "API_RATELIMIT_TOKENS": "3 per minute",
                      "API_RATELIMIT_LOOKUPS": "2 per minute"})
    limiter.reset()
    try:
        yield Api(app)
    finally:
        limiter.enabled = False  # the limiter is shared by every app of the process
        limiter.reset()
        app.extensions["registry.engine"].dispose()


def test_token_requests_are_rate_limited_with_retry_after(limited):
    for _ in range(3):
        assert_problem(limited.post("/tokens", {"email": "nobody@example.org",
                                                "password": "x"}), 401)
    r = limited.post("/tokens", {"email": "nobody@example.org", "password": "x"})
    body = assert_problem(r, 429, "rate-limited")
    assert 0 < int(r.headers["Retry-After"]) <= 61  # when this minute's window resets
    assert "Retry-After" in body["detail"]


@pytest.mark.parametrize("path", ["/patients/0000000000", "/patients/0000000000/status"])
def test_patient_lookups_are_rate_limited(limited, path):
    for _ in range(2):
        assert_problem(limited.get(path, token="rgt_guessing"), 401)
    r = limited.get(path, token="rgt_guessing")
    assert_problem(r, 429, "rate-limited")
    assert int(r.headers["Retry-After"]) > 0
    # Another unverifiable token is not another caller: it counts against the same address
    # (each verified account has its own budget: tests/test_signin.py).
    assert_problem(limited.get(path, token="rgt_someone_else"), 429, "rate-limited")


def test_authorization_requests_are_rate_limited(limited):
    for _ in range(2):
        limited.post("/authorizations", {}, token="rgt_guessing")
    assert_problem(limited.post("/authorizations", {}, token="rgt_guessing"), 429)
    for _ in range(2):
        limited.post("/authorization-checks", {}, token="rgt_guessing")
    assert_problem(limited.post("/authorization-checks", {}, token="rgt_guessing"), 429)


def test_no_api_endpoint_carries_a_flask_limiter_decorator(app):
    """API requests skip Flask-Limiter's per-request pass (registry.extensions
    _not_a_page): an endpoint decorated with ``@limiter.limit`` would go unlimited. The
    API's limits are ``registry.api.blueprint.limit``, tested above."""
    from flask_limiter.util import get_qualified_name

    api_rules = [r for r in app.url_map.iter_rules() if r.rule.startswith("/api/")]
    assert len(api_rules) > 40
    for rule in api_rules:
        name = get_qualified_name(app.view_functions[rule.endpoint])
        assert not limiter.limit_manager.decorated_limits(name), rule.rule
        assert name not in limiter._marked_for_limiting, rule.rule
        assert not limiter.limit_manager.has_hints(rule.endpoint), rule.rule
    # and the check sees a decorated page when there is one
    pages = [get_qualified_name(app.view_functions[r.endpoint])
             for r in app.url_map.iter_rules() if not r.rule.startswith("/api/")]
    assert any(name in limiter._marked_for_limiting for name in pages)


def test_an_unexpected_failure_is_a_problem_500_and_nothing_is_stored(api, app, clock,
                                                                     monkeypatch):
    clock.to("2026-09-01")
    w = World(api).setup()
    import registry.patients.api as endpoints

    def broken(session, *args, **kwargs):
        from registry.audit.operations import record

        record(session, None, "test:half_written", "test", 1)  # written, then a failure
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(endpoints, "activate_patient", broken)
    monkeypatch.setitem(app.config, "PROPAGATE_EXCEPTIONS", False)
    p = w.register(activate=False)
    audit_before = _count(app, AuditEntry)
    r = api.post("/patients/activation", {"registry_id": p.registry_id,
                                          "date_of_birth": p.date_of_birth,
                                          "activation_code": p.code, "password": PASSWORD})
    body = assert_problem(r, 500, "internal-error")
    assert "disk on fire" not in body["detail"]
    assert _count(app, AuditEntry) == audit_before
