"""Hardened sign-in: rate-limit keys, a shared limit store, the atomic failed-login counter,
the same argon2 work for every outcome, server-side sessions and the password policy."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import uuid
from datetime import timedelta
from typing import Any

import argon2
import pytest
from sqlalchemy import func, select

from registry import clock as registry_clock
from registry import create_app, db
from registry.accounts.models import User
from registry.accounts.operations import create_staff
from registry.accounts.schemas import Credentials
from registry.api.operations import issue_token
from registry.audit.models import AuditEntry
from registry.errors import ValidationError
from registry.extensions import limiter
from tests import factories as f
from tests.api.conftest import Api
from tests.harness import TEST_CONFIG, wipe

# --- rate limits: keyed on the verified account, else on the address -------------------


@pytest.fixture
def limited(database_url):
    """The limiter on, small limits, on the real engine (rows are committed, then wiped)."""
    app = create_app({**TEST_CONFIG, "DATABASE_URL": database_url, "RATELIMIT_ENABLED": True,
                      "API_RATELIMIT_TOKENS": "3 per minute",
                      "API_RATELIMIT_LOOKUPS": "2 per minute"})
    limiter.reset()
    wipe(app.extensions["registry.engine"])
    try:
        yield app
    finally:
        limiter.enabled = False  # the limiter is shared by every app of the process
        limiter.reset()
        wipe(app.extensions["registry.engine"])
        app.extensions["registry.engine"].dispose()


def _tokens_for_two_pharmacists(app: Any) -> tuple[str, str]:
    with app.app_context():
        session = db.session()
        ph = f.pharmacy(session)
        emails = [f.pharmacist(session, ph).user.email for _ in range(2)]
        raws = [issue_token(session, Credentials(email=e, password=f.PASSWORD))[1]
                for e in emails]
        db.commit_request()
    return raws[0], raws[1]


def test_random_bearer_values_do_not_get_a_fresh_budget(limited):
    api = Api(limited)
    path = "/patients/0000000000"
    assert api.get(path, token="rgt_guess_one").status_code == 401
    assert api.get(path, token="rgt_guess_two").status_code == 401
    # A third unverifiable value is the same caller (the address), out of budget.
    r = api.get(path, token=f"rgt_{uuid.uuid4().hex}")
    assert r.status_code == 429
    # ... and so is the same address without any header.
    assert api.get(path).status_code == 429


def test_activation_guesses_with_random_bearers_are_limited(limited):
    api = Api(limited)
    body = {"registry_id": "0000000000", "date_of_birth": "2000-01-01",
            "activation_code": "ABCD-EFGH", "password": "a long enough password"}
    statuses = [api.post("/patients/activation", body, token=f"rgt_{uuid.uuid4().hex}")
                .status_code for _ in range(5)]
    assert statuses[:2] == [422, 422]
    assert statuses[2:] == [429, 429, 429]


def test_token_requests_with_random_bearers_are_limited(limited):
    api = Api(limited)
    body = {"email": "nobody@example.org", "password": "not the password"}
    statuses = [api.post("/tokens", body, token=f"rgt_{uuid.uuid4().hex}").status_code
                for _ in range(5)]
    assert statuses == [401, 401, 401, 429, 429]


def test_each_verified_account_has_its_own_budget(limited):
    first, second = _tokens_for_two_pharmacists(limited)
    api = Api(limited)
    path = "/patients/0000000000"
    assert [api.get(path, token=first).status_code for _ in range(3)] == [403, 403, 429]
    # Another account, from the same address, is another caller.
    assert api.get(path, token=second).status_code == 403
    # The address's own (anonymous) budget is untouched by the accounts' calls.
    assert api.get(path, token="rgt_unknown").status_code == 401


def test_a_signed_in_web_user_is_keyed_on_the_account(limited):
    from flask_login import login_user

    from registry.extensions import rate_limit_key
    from registry.web.support import SignedIn

    with limited.app_context():
        user = f.staff(db.session())
        db.commit_request()
    with limited.test_request_context("/staff/", environ_base={"REMOTE_ADDR": "10.1.2.3"}):
        assert rate_limit_key() == "addr:10.1.2.3"
        login_user(SignedIn(user))
        assert rate_limit_key() == f"user:{user.id}"


# One process loads the registry, then forks one child per worker, one after the other
# (gunicorn forks its workers from its master the same way, deploy/gunicorn.conf.py
# preload_app): each child is configured from the environment the way production is, makes
# its own app and sends its token requests. The children share nothing but Redis. The app
# the parent makes first is never used: making it imports every module an app needs (the
# views, the models, the Redis client are imported by create_app itself), which each child
# would otherwise import again (~0.4 s CPU each); what it leaves is frozen, never walked by
# the children's garbage collector.
_WORKERS_SCRIPT = """
import gc, json, os, sys
from registry import create_app

create_app()
gc.freeze()

for prefix, requests in json.loads(sys.argv[1]):
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read)
        status = 1
        try:
            os.environ["REGISTRY_RATELIMIT_KEY_PREFIX"] = prefix
            app = create_app()
            c = app.test_client()
            out = [c.post("/api/v1/tokens", json={"email": "nobody@example.org",
                                                  "password": "not the password"}).status_code
                   for _ in range(requests)]
            os.write(write, json.dumps(out).encode())
            status = 0
        finally:
            os._exit(status)
    os.close(write)
    chunks = []
    while chunk := os.read(read, 65536):
        chunks.append(chunk)
    os.close(read)
    _, status = os.waitpid(pid, 0)
    if status != 0:
        sys.exit(f"worker {prefix} failed: {status}")
    print(b"".join(chunks).decode())
"""


def _worker_processes(database_url: str, workers: list[tuple[str, int]]) -> list[list[int]]:
    """Separate processes (a gunicorn worker stands for each), one after the other,
    configured from the environment the way production is, each sending its number of
    token requests with its rate-limit key prefix; the status codes each one got."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("REGISTRY_")}
    env.update({
        "REGISTRY_DATABASE_URL": database_url,
        "REGISTRY_SECRET_KEY": "test-secret",
        "REGISTRY_ARGON2_TIME_COST": "1", "REGISTRY_ARGON2_MEMORY_COST": "1024",
        "REGISTRY_ARGON2_PARALLELISM": "1",
        "REGISTRY_RATELIMIT_STORAGE_URL": "redis://127.0.0.1:6379/0",
        "REGISTRY_API_RATELIMIT_TOKENS": "3 per minute",
    })
    done = subprocess.run([sys.executable, "-c", _WORKERS_SCRIPT, json.dumps(workers)],
                          env=env, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    return [json.loads(line) for line in done.stdout.strip().splitlines()[-len(workers):]]


def test_two_workers_share_one_budget_in_redis(database_url):
    prefix = f"registry-test-{uuid.uuid4().hex[:12]}"
    first, second, other = _worker_processes(
        database_url, [(prefix, 2), (prefix, 2), (prefix + "-other", 1)])
    assert first == [401, 401]
    # The second worker sees the first one's two requests: one left, then refused.
    assert second == [401, 429]
    # Another prefix (another deployment, another test run) has its own budget.
    assert other == [401]


# --- the failed-login counter ----------------------------------------------------------


class VerifyCounter:
    """Counts argon2 verifications (all of them, and those against one given hash)."""

    def __init__(self, monkeypatch: Any) -> None:
        self.lock = threading.Lock()
        self.total = 0
        self.against: dict[str, int] = {}
        original = argon2.PasswordHasher.verify

        def counting(ph: Any, hash: Any, password: Any) -> Any:
            with self.lock:
                self.total += 1
                key = hash.decode() if isinstance(hash, bytes) else hash
                self.against[key] = self.against.get(key, 0) + 1
            return original(ph, hash, password)

        monkeypatch.setattr(argon2.PasswordHasher, "verify", counting)

    def reset(self) -> None:
        with self.lock:
            self.total = 0
            self.against.clear()


THREADS = 30


def _committed_user(app: Any) -> tuple[int, str, str]:
    with app.app_context():
        user = f.staff(db.session())
        db.commit_request()
        return user.id, user.email, user.password_hash


def _at_once(work: Any) -> list[Any]:
    barrier = threading.Barrier(THREADS)
    results: list[Any] = [None] * THREADS

    def worker(i: int) -> None:
        try:
            barrier.wait()
            results[i] = work(i)
        except Exception as exc:  # asserted below: none escaped
            results[i] = exc

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=180)
    return results


def _lock_entries(app: Any, user_id: int) -> int:
    with app.app_context():
        return db.session().execute(select(func.count(AuditEntry.id)).where(
            AuditEntry.action == "user:lock", AuditEntry.subject_id == str(user_id))).scalar_one()


@pytest.mark.postgres
def test_concurrent_wrong_passwords_never_exceed_the_threshold_on_the_web(committing_app,
                                                                         monkeypatch):
    user_id, email, password_hash = _committed_user(committing_app)
    counter = VerifyCounter(monkeypatch)

    def attempt(i: int) -> int:
        client = committing_app.test_client()
        r = client.post("/login", data={"email": email, "password": f"wrong password {i}"})
        return r.status_code

    results = _at_once(attempt)
    assert results == [200] * THREADS, results
    limit = committing_app.config["LOGIN_MAX_FAILURES"]
    assert counter.against.get(password_hash, 0) <= limit
    with committing_app.app_context():
        user = db.session().get(User, user_id)
        assert user is not None
        assert user.locked_until is not None
        assert user.locked_until > registry_clock.now()
    assert _lock_entries(committing_app, user_id) == 1


@pytest.mark.postgres
def test_concurrent_wrong_passwords_never_exceed_the_threshold_on_the_api(committing_app,
                                                                         monkeypatch):
    user_id, email, password_hash = _committed_user(committing_app)
    counter = VerifyCounter(monkeypatch)

    def attempt(i: int) -> int:
        r = Api(committing_app).post("/tokens", {"email": email,
                                                 "password": f"wrong password {i}"})
        return r.status_code

    results = _at_once(attempt)
    assert results == [401] * THREADS, results
    assert counter.against.get(password_hash, 0) <= committing_app.config["LOGIN_MAX_FAILURES"]
    assert _lock_entries(committing_app, user_id) == 1


def test_a_failure_is_counted_even_when_the_request_fails_afterwards(committing_app,
                                                                    monkeypatch):
    user_id, email, _ = _committed_user(committing_app)
    import registry.accounts.api as tokens

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("the response could not be made")

    monkeypatch.setattr(tokens, "problem", broken)
    committing_app.config["PROPAGATE_EXCEPTIONS"] = False
    try:
        r = Api(committing_app).post("/tokens", {"email": email, "password": "wrong password"})
    finally:
        committing_app.config["PROPAGATE_EXCEPTIONS"] = None
    assert r.status_code == 500
    with committing_app.app_context():
        assert db.session().get(User, user_id).failed_logins == 1  # type: ignore[union-attr]


def test_a_correct_password_resets_the_counter_and_the_lock_expires(app, session, clock):
    clock.to("2026-09-01")
    user = f.staff(session)
    client = app.test_client()
    for _ in range(3):
        client.post("/login", data={"email": user.email, "password": "wrong password"})
    session.expire_all()
    assert session.get(User, user.id).failed_logins == 3
    assert client.post("/login", data={"email": user.email,
                                       "password": f.PASSWORD}).status_code == 302
    session.expire_all()
    assert session.get(User, user.id).failed_logins == 0
    client.post("/logout")
    for _ in range(app.config["LOGIN_MAX_FAILURES"]):
        client.post("/login", data={"email": user.email, "password": "wrong password"})
    locked = client.post("/login", data={"email": user.email, "password": f.PASSWORD})
    assert "locked" in locked.get_data(as_text=True)
    clock.to(registry_clock.now() + timedelta(minutes=app.config["LOGIN_LOCK_MINUTES"] + 1))
    assert client.post("/login", data={"email": user.email,
                                       "password": f.PASSWORD}).status_code == 302


# --- the same argon2 work whatever matches ---------------------------------------------


def test_login_does_the_same_argon2_work_for_every_outcome(app, session, clock, monkeypatch):
    clock.to("2026-09-01")
    known = f.staff(session)
    locked = f.staff(session)
    locked.locked_until = registry_clock.now() + timedelta(minutes=5)
    locked.failed_logins = app.config["LOGIN_MAX_FAILURES"]
    session.flush()
    counter = VerifyCounter(monkeypatch)
    client = app.test_client()
    work = {}
    for name, email in [("unknown", "nobody@example.org"), ("known", known.email),
                        ("locked", locked.email)]:
        counter.reset()
        client.post("/login", data={"email": email, "password": "wrong password"})
        work[name] = counter.total
    assert work == {"unknown": 1, "known": 1, "locked": 1}


def test_activation_does_the_same_argon2_work_whether_or_not_the_patient_matches(
        app, session, clock, monkeypatch):
    clock.to("2026-09-01")
    dr = f.prescriber(session)
    pending = f.patient(session, dr, activate=False)
    rid, dob = pending.registry_id, pending.date_of_birth.isoformat()
    db.commit_request()
    counter = VerifyCounter(monkeypatch)
    api = Api(app)
    work = {}
    for name, body in [
        ("no such patient", {"registry_id": "0000000000", "date_of_birth": dob}),
        ("wrong birth date", {"registry_id": rid, "date_of_birth": "1990-01-01"}),
        ("patient matches", {"registry_id": rid, "date_of_birth": dob}),
    ]:
        counter.reset()
        r = api.post("/patients/activation", {**body, "activation_code": "WRONG-CODE",
                                              "password": "a long enough password"})
        assert r.status_code == 422
        work[name] = counter.total
    assert work == {"no such patient": 1, "wrong birth date": 1, "patient matches": 1}


# --- server-side sessions ----------------------------------------------------------------


def _sign_in(app: Any, email: str) -> Any:
    client = app.test_client()
    r = client.post("/login", data={"email": email, "password": f.PASSWORD})
    assert r.status_code == 302, r.get_data(as_text=True)
    return client


def _session_cookie(client: Any, app: Any) -> str:
    cookie = client.get_cookie(app.config.get("SESSION_COOKIE_NAME", "session"))
    assert cookie is not None
    return cookie.value


def test_logout_ends_the_session_on_the_server(app, session, clock):
    clock.to("2026-09-01")
    user = f.staff(session)
    client = _sign_in(app, user.email)
    stolen = _session_cookie(client, app)
    assert client.get("/staff/").status_code == 200
    assert client.post("/logout").status_code == 302
    replay = app.test_client()
    replay.set_cookie(app.config.get("SESSION_COOKIE_NAME", "session"), stolen)
    r = replay.get("/staff/")
    assert r.status_code == 302
    assert "/login" in r.headers["Location"]


def test_an_idle_session_ends_after_30_minutes(app, session, clock):
    clock.to("2026-09-01")
    user = f.staff(session)
    client = _sign_in(app, user.email)
    start = registry_clock.now()
    clock.to(start + timedelta(minutes=25))
    assert client.get("/staff/").status_code == 200  # in use: seen again
    clock.to(start + timedelta(minutes=50))
    assert client.get("/staff/").status_code == 200  # 25 minutes after it was last seen
    clock.to(start + timedelta(minutes=81))
    assert client.get("/staff/").status_code == 302  # 31 minutes idle


def test_a_session_ends_after_12_hours_however_busy(app, session, clock):
    clock.to("2026-09-01")
    user = f.staff(session)
    client = _sign_in(app, user.email)
    start = registry_clock.now()
    for step in range(1, 36):  # every 20 minutes, for 11 h 40 min
        clock.to(start + timedelta(minutes=20 * step))
        assert client.get("/staff/").status_code == 200, step
    clock.to(start + timedelta(hours=12, minutes=1))
    assert client.get("/staff/").status_code == 302


def test_a_new_sign_in_gets_a_new_session_and_the_old_one_stays_its_own(app, session, clock):
    clock.to("2026-09-01")
    user = f.staff(session)
    phone, desk = _sign_in(app, user.email), _sign_in(app, user.email)
    phone.post("/logout")
    assert phone.get("/staff/").status_code == 302
    assert desk.get("/staff/").status_code == 200  # signing out on one device only


# --- the password policy ----------------------------------------------------------------


@pytest.mark.parametrize("password", ["password12", " " * 10, " " * 14, "qwerty123456",
                                      "123qweasdzxc", "Password123456", "short"])
def test_weak_passwords_are_refused_naming_the_field(session, password):
    with pytest.raises(ValidationError) as exc:
        create_staff(session, None, email="new.staff@example.org", password=password)
    assert list(exc.value.errors) == ["password"]
    assert all("password" in m.lower() or "characters" in m.lower()
               for m in exc.value.errors["password"])


@pytest.mark.parametrize("password", ["demo-password", f.PASSWORD, "long-enough-pw",
                                      "tall giraffe under a lamp"])
def test_good_passwords_are_accepted(session, password):
    user = create_staff(session, None, email=f"ok{uuid.uuid4().hex[:6]}@example.org",
                        password=password)
    assert user.id is not None


def test_enrollment_and_activation_apply_the_policy(app, session, clock):
    clock.to("2026-09-01")
    api = Api(app)
    r = api.post("/prescribers", {"email": "dr.weak@example.org", "password": "password12",
                                  "first_name": "Ada", "last_name": "Lee", "npi": f.npi()})
    assert r.status_code == 422
    assert set(r.get_json()["errors"]) == {"password"}
    dr = f.prescriber(session)
    pending = f.patient(session, dr, activate=False)
    db.commit_request()
    r = api.post("/patients/activation", {
        "registry_id": pending.registry_id, "date_of_birth": pending.date_of_birth.isoformat(),
        "activation_code": "WRONG-CODE", "password": "            "})
    assert r.status_code == 422
    assert set(r.get_json()["errors"]) == {"password"}
    page = app.test_client().post("/enroll", data={
        "email": "dr.weak2@example.org", "password": "qwerty123456", "first_name": "Ada",
        "last_name": "Lee", "npi": f.npi(), "license_state": "NY", "form_token": "t-weak"})
    assert page.status_code == 200
    assert "common" in page.get_data(as_text=True).lower()


def test_ending_every_sign_in_ends_sessions_and_revokes_tokens(app, session, clock):
    """What a password change or reset must do (there is no such page or endpoint yet)."""
    from registry.accounts.operations import end_every_sign_in

    clock.to("2026-09-01")
    user = f.staff(session)
    boss = f.staff(session)
    browser = _sign_in(app, user.email)
    _, raw = issue_token(session, Credentials(email=user.email, password=f.PASSWORD))
    db.commit_request()
    api = Api(app)
    assert api.get("/reports/summary", token=raw).status_code == 200
    assert browser.get("/staff/").status_code == 200

    assert end_every_sign_in(session, boss, user, why="password changed") == 2
    db.commit_request()
    assert browser.get("/staff/").status_code == 302
    assert api.get("/reports/summary", token=raw).status_code == 401
    entry = session.execute(select(AuditEntry).where(
        AuditEntry.action == "user:end_sign_ins")).scalar_one()
    assert entry.after == {"sessions_ended": 1, "api_tokens_revoked": 1,
                           "why": "password changed"}
