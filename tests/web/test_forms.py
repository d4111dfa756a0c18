"""How the forms behave: errors name the field and keep the input, a form sent twice acts once,
logins lock and are audited, no open redirect, a fresh session at login, CSRF, cookies."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from registry import clock as registry_clock
from registry import create_app
from registry.accounts.models import User
from registry.audit.models import AuditEntry
from registry.authorizations.models import Authorization, AuthorizationDecision, Dispense
from registry.patients.models import Patient
from registry.web.models import FormSubmission
from tests import factories as f
from tests.harness import TEST_CONFIG, app_of_one_test
from tests.web.conftest import World, build_world, login

# This module commits for real (committing_app): each test has a transaction and a world of
# its own, not the module-wide ones of tests/web/conftest.py.


@pytest.fixture
def app(base_app: Flask) -> Iterator[Flask]:
    with app_of_one_test(base_app) as joined:
        yield joined


@pytest.fixture
def world(session: Session, clock: Any) -> World:
    return build_world(session, clock)


def token_of(html: str, name: str = "form_token") -> str:
    match = re.search(rf'name="{re.escape(name)}" type="hidden" value="([^"]+)"', html) or \
        re.search(rf'id="{re.escape(name)}" name="{re.escape(name)}" type="hidden" '
                  r'value="([^"]+)"', html)
    assert match, f"no {name} in the page"
    return match.group(1)


def patient_form(**overrides: Any) -> dict[str, Any]:
    today = registry_clock.today()
    data = {
        "first_name": "Robin", "last_name": "Quill", "date_of_birth": "2000-01-02",
        "email": "robin.quill@example.org", "risk_category": "can_get_pregnant",
        "consent_signed_on": today.isoformat(),
        "contraception_start_date": (today - timedelta(days=30)).isoformat(),
    }
    data.update(overrides)
    return data


def test_errors_name_the_field_and_keep_what_was_typed(app: Any, session: Any,
                                                      clock: Any) -> None:
    clock.to("2026-03-02")
    dr = f.prescriber(session)
    client = app.test_client()
    login(client, dr.user)
    page = client.get("/patients/new").get_data(as_text=True)
    response = client.post("/patients/new", data=patient_form(
        form_token=token_of(page), date_of_birth="", email="not-an-email",
        guardian_name="Sam Quill"))
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "Date of birth: This field is required." in html
    assert "Patient&#39;s email: Not a valid email address" in html
    assert 'value="Robin"' in html
    assert 'value="Quill"' in html
    assert 'value="not-an-email"' in html
    assert 'value="Sam Quill"' in html
    assert 'href="#date_of_birth"' in html  # the summary links to the field
    assert session.execute(select(func.count(Patient.id))).scalar_one() == 0
    # Corrected with the same token, the form goes through: the failed try did not use it up.
    response = client.post("/patients/new", data=patient_form(form_token=token_of(page)))
    assert response.status_code == 200
    assert "Activation code" in response.get_data(as_text=True)
    assert session.execute(select(func.count(Patient.id))).scalar_one() == 1


def test_a_form_sent_twice_acts_once(app: Any, session: Any, clock: Any) -> None:
    clock.to("2026-03-02")
    dr = f.prescriber(session)
    client = app.test_client()
    login(client, dr.user)
    token = token_of(client.get("/patients/new").get_data(as_text=True))
    first = client.post("/patients/new", data=patient_form(form_token=token))
    second = client.post("/patients/new", data=patient_form(form_token=token))
    assert first.status_code == 200
    assert second.status_code == 302
    assert "already sent" in client.get(second.headers["Location"]).get_data(as_text=True)
    assert session.execute(select(func.count(Patient.id))).scalar_one() == 1
    registered = session.execute(select(func.count(AuditEntry.id)).where(
        AuditEntry.action == "patient:register")).scalar_one()
    assert registered == 1
    assert session.execute(select(FormSubmission).where(
        FormSubmission.nonce == token)).scalar_one().user_id == dr.user.id


def test_a_post_without_its_token_does_nothing(app: Any, session: Any, clock: Any) -> None:
    clock.to("2026-03-02")
    dr = f.prescriber(session)
    client = app.test_client()
    login(client, dr.user)
    response = client.post("/patients/new", data=patient_form())
    assert response.status_code == 302
    assert session.execute(select(func.count(Patient.id))).scalar_one() == 0


def test_authorization_and_dispense_sent_twice_act_once(app: Any, world: World,
                                                        session: Any) -> None:
    pat = world.pat_a
    # free the patient: the world's open authorization is reversed through the page first
    client = app.test_client()
    login(client, world.rph1.user)
    page = client.get(f"/pharmacy/authorizations/{world.rma1.rma}").get_data(as_text=True)
    reverse_token = re.findall(r'name="form_token" type="hidden" value="([^"]+)"', page)[-1]
    for _ in range(2):
        client.post(f"/pharmacy/authorizations/{world.rma1.rma}/reverse",
                    data={"form_token": reverse_token, "reason": "Not picked up",
                          "confirmed": "yes"})
    assert session.get(Authorization, world.rma1.id).status == "reversed"
    reversals = session.execute(select(func.count(AuditEntry.id)).where(
        AuditEntry.action == "authorization:reverse")).scalar_one()
    assert reversals == 1

    token = token_of(client.get("/pharmacy/authorize").get_data(as_text=True))
    data = {"form_token": token, "registry_id": pat.registry_id,
            "date_of_birth": pat.date_of_birth.isoformat(), "prescriber_npi": world.dr_a.npi,
            "days_supply": "30", "quantity": "60", "refills": "0"}
    first = client.post("/pharmacy/authorize", data=data).get_data(as_text=True)
    second = client.post("/pharmacy/authorize", data=data).get_data(as_text=True)
    rmas = session.execute(select(Authorization.rma).where(
        Authorization.patient_id == pat.id, Authorization.status == "authorized")).scalars().all()
    assert len(rmas) == 1
    assert f'data-testid="rma">{rmas[0]}<' in first
    assert f'data-testid="rma">{rmas[0]}<' in second
    assert "nothing new was issued" in second
    assert session.execute(select(func.count(AuthorizationDecision.id)).where(
        AuthorizationDecision.idempotency_key == token)).scalar_one() == 1

    dispense_token = re.findall(r'name="form_token" type="hidden" value="([^"]+)"', first)[0]
    body = {"form_token": dispense_token, "dispensed_on": registry_clock.today().isoformat(),
            "quantity": "60", "days_supply": "30"}
    assert client.post(f"/pharmacy/authorizations/{rmas[0]}/dispense",
                       data=body).status_code == 302
    assert client.post(f"/pharmacy/authorizations/{rmas[0]}/dispense",
                       data=body).status_code == 302
    assert session.execute(select(func.count(Dispense.id)).where(
        Dispense.patient_id == pat.id)).scalar_one() == 1


def test_login_locks_after_ten_failures_and_the_lock_is_audited(app: Any, session: Any) -> None:
    user = f.staff(session)
    client = app.test_client()
    for attempt in range(1, 11):
        response = client.post("/login", data={"email": user.email, "password": "wrong-one!!"})
        assert response.status_code == 200
        if attempt < 10:
            assert "Wrong email or password." in response.get_data(as_text=True)
            session.expire_all()
            assert session.get(User, user.id).failed_logins == attempt  # kept, not rolled back
    assert "locked" in response.get_data(as_text=True)
    lock = session.execute(select(AuditEntry).where(
        AuditEntry.action == "user:lock", AuditEntry.subject_id == str(user.id))).scalar_one()
    assert lock.after["failed_logins"] == 10
    refused = client.post("/login", data={"email": user.email, "password": f.PASSWORD})
    assert refused.status_code == 200
    assert "locked" in refused.get_data(as_text=True)
    assert client.get("/staff/").status_code == 302  # still not signed in


def test_no_open_redirect_after_login(app: Any, session: Any) -> None:
    user = f.staff(session)
    for target in ["https://evil.example/", "//evil.example/x", "/\\evil.example",
                   "javascript:alert(1)", "evil.example"]:
        client = app.test_client()
        response = client.post("/login", data={"email": user.email, "password": f.PASSWORD,
                                               "next": target})
        assert response.status_code == 302
        assert response.headers["Location"] == "/", target
    client = app.test_client()
    page = client.get("/staff/audit?action=user:lock")
    assert page.status_code == 302
    login_page = client.get(page.headers["Location"]).get_data(as_text=True)
    assert 'value="/staff/audit?action=user:lock"' in login_page
    response = client.post("/login", data={"email": user.email, "password": f.PASSWORD,
                                           "next": "/staff/audit?action=user:lock"})
    assert response.headers["Location"] == "/staff/audit?action=user:lock"


def test_session_is_fresh_at_login(app: Any, session: Any) -> None:
    user = f.staff(session)
    client = app.test_client()
    with client.session_transaction() as s:
        s["planted"] = "from before login"
        s["_user_id"] = "999999"
        s["csrf_token"] = "old-token"
    login(client, user)
    with client.session_transaction() as s:
        assert "planted" not in s
        assert s.get("csrf_token") != "old-token"
        assert s["_user_id"] == str(user.id)


def test_post_without_csrf_token_is_refused(committing_app: Any) -> None:
    from registry import db

    with committing_app.app_context(), db.unit_of_work() as s:
        email = f.staff(s).email
    committing_app.config["WTF_CSRF_ENABLED"] = True
    try:
        client = committing_app.test_client()
        refused = client.post("/login", data={"email": email, "password": f.PASSWORD})
        assert refused.status_code == 400
        assert "This form has expired" in refused.get_data(as_text=True)
        assert client.get("/staff/").status_code == 302
        page = client.get("/login").get_data(as_text=True)
        csrf = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page)
        assert csrf
        ok = client.post("/login", data={"email": email, "password": f.PASSWORD,
                                         "csrf_token": csrf.group(1)})
        assert ok.status_code == 302
        assert client.get("/staff/").status_code == 200
        # signed in, a form without its token is still refused
        assert client.post("/logout").status_code == 400
    finally:
        committing_app.config["WTF_CSRF_ENABLED"] = False


def test_cookies_are_secure_over_https(database_url: str) -> None:
    app = create_app({**TEST_CONFIG, "PREFERRED_URL_SCHEME": "https",
                      "DATABASE_URL": database_url})
    assert app.config["SESSION_COOKIE_SECURE"] is True
    assert app.config["REMEMBER_COOKIE_SECURE"] is True
    response = app.test_client().post("/logout", base_url="https://localhost")
    cookie = response.headers.get("Set-Cookie", "")
    assert "Secure" in cookie
    assert "HttpOnly" in cookie
    plain = create_app({**TEST_CONFIG, "DATABASE_URL": database_url})
    assert not plain.config.get("SESSION_COOKIE_SECURE")


def test_unknown_page_is_a_friendly_error(app: Any) -> None:
    response = app.test_client().get("/no/such/page")
    assert response.status_code == 404
    html = response.get_data(as_text=True)
    assert "<h1>Not found</h1>" in html
    assert "Go to your home page" in html
