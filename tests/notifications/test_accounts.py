"""Account recovery by an emailed one-time link, confirmation of addresses, and sign-up
answers that do not tell whether an address is registered."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from registry import clock as registry_clock
from registry import db
from registry.accounts.models import AccountLink, User
from registry.accounts.schemas import Credentials
from registry.api.operations import issue_token
from registry.audit.models import AuditEntry
from registry.notifications.delivery import deliver_due
from registry.notifications.models import Notification
from registry.pharmacies.models import Pharmacy
from registry.prescribers.models import Designee, Prescriber
from tests import factories as f
from tests.api.conftest import Api
from tests.mail import confirm_address, link_path
from tests.notifications.conftest import SmtpServer

NEW_PASSWORD = "a-brand-new-passphrase"


def _sign_in(app: Flask, email: str, password: str = f.PASSWORD) -> Any:
    client = app.test_client()
    r = client.post("/login", data={"email": email, "password": password})
    return client if r.status_code == 302 else r


def _link_in(smtp: SmtpServer, to: str) -> str:
    mails = [m for m in smtp.inbox.messages if m["To"] == to]
    assert mails, f"nothing arrived for {to}"
    found = re.search(r"https?://\S+", smtp.inbox.text(mails[-1]))
    assert found
    return urlsplit(found.group(0)).path


def _audit_actions(session: Session, user_id: int) -> list[str]:
    return list(session.execute(select(AuditEntry.action).where(
        AuditEntry.subject_type == "user", AuditEntry.subject_id == str(user_id))
        .order_by(AuditEntry.id)).scalars())


# --- forgot password -----------------------------------------------------------------------


def test_password_reset_end_to_end_through_the_smtp_server(
        app: Flask, session: Session, clock: Any, smtp_config: SmtpServer) -> None:
    clock.to("2026-09-01")
    dr = f.prescriber(session)
    email = dr.user.email
    _, token = issue_token(session, Credentials(email=email, password=f.PASSWORD))
    db.commit_request()
    browser = _sign_in(app, email)
    assert browser.get("/prescriber/").status_code == 200
    client = app.test_client()
    assert "Forgot password?" in client.get("/login").get_data(as_text=True)
    page = client.post("/forgot-password", data={"email": email.upper()})
    assert page.status_code == 200
    assert "Check your email" in page.get_data(as_text=True)
    assert deliver_due(app).sent == 1
    path = _link_in(smtp_config, email)
    assert path.startswith("/reset-password/")
    assert client.get(path).status_code == 200
    weak = client.post(path, data={"password": "password"})
    assert weak.status_code == 200  # the policy names the field; the link still works
    assert "New password" in weak.get_data(as_text=True)
    done = client.post(path, data={"password": NEW_PASSWORD})
    assert done.status_code == 302
    assert done.headers["Location"].endswith("/login")
    # Every earlier sign-in ended; the old password no longer works, the new one does.
    assert browser.get("/prescriber/").status_code == 302
    assert Api(app).get("/reports/summary", token=token).status_code == 401
    assert _sign_in(app, email).status_code == 200
    assert not isinstance(_sign_in(app, email, NEW_PASSWORD), type(page))
    # The link works once.
    assert client.get(path).status_code == 410
    assert client.post(path, data={"password": "another-new-passphrase"}).status_code == 410
    actions = _audit_actions(session, dr.user.id)
    assert "user:reset_requested" in actions
    assert actions.index("user:password_reset") < actions.index("user:end_sign_ins")
    # Neither the outbox nor the links table keeps the token.
    raw = path.rsplit("/", 1)[1]
    bodies = session.execute(select(Notification.body)).scalars().all()
    assert all(raw not in body for body in bodies)
    assert session.execute(select(func.count()).select_from(AccountLink).where(
        AccountLink.token_hash == raw)).scalar_one() == 0


def test_an_old_link_is_refused(app: Flask, session: Session, clock: Any) -> None:
    clock.to("2026-09-01")
    user = f.staff(session)
    db.commit_request()
    client = app.test_client()
    client.post("/forgot-password", data={"email": user.email})
    first = link_path(app, user.email, "account:password_reset")
    client.post("/forgot-password", data={"email": user.email})
    second = link_path(app, user.email, "account:password_reset")
    assert first != second
    assert client.get(first).status_code == 410  # a newer link was sent
    assert client.get(second).status_code == 200
    clock.to(registry_clock.now() + timedelta(minutes=31))  # PASSWORD_RESET_MINUTES = 30
    expired = client.post(second, data={"password": NEW_PASSWORD})
    assert expired.status_code == 410
    assert "does not work" in expired.get_data(as_text=True)
    assert not isinstance(_sign_in(app, user.email), type(expired))  # unchanged


def test_forgot_password_answers_the_same_for_an_unknown_address(
        app: Flask, session: Session, clock: Any) -> None:
    clock.to("2026-09-01")
    user = f.staff(session)
    db.commit_request()
    client = app.test_client()
    known = client.post("/forgot-password", data={"email": user.email})
    unknown = client.post("/forgot-password", data={"email": "nobody@example.org"})
    assert (known.status_code, known.get_data()) == (unknown.status_code, unknown.get_data())
    assert session.execute(select(func.count()).select_from(Notification)).scalar_one() == 1


def test_at_most_three_reset_messages_an_hour(app: Flask, session: Session,
                                              clock: Any) -> None:
    clock.to("2026-09-01")
    user = f.staff(session)
    db.commit_request()
    client = app.test_client()
    for _ in range(5):
        assert client.post("/forgot-password", data={"email": user.email}).status_code == 200
    kinds = session.execute(select(func.count()).select_from(Notification).where(
        Notification.kind == "account:password_reset")).scalar_one()
    assert kinds == 3
    clock.to(registry_clock.now() + timedelta(minutes=61))
    client.post("/forgot-password", data={"email": user.email})
    assert session.execute(select(func.count()).select_from(Notification).where(
        Notification.kind == "account:password_reset")).scalar_one() == 4


def test_forgot_password_is_rate_limited_per_client(base_app: Flask, clock: Any) -> None:
    from registry import create_app
    from registry.extensions import limiter
    from tests.harness import TEST_CONFIG

    app = create_app({**TEST_CONFIG, "DATABASE_URL": base_app.config["DATABASE_URL"],
                      "RATELIMIT_ENABLED": True, "API_RATELIMIT_ACCOUNT_MAIL": "2 per hour"})
    limiter.reset()
    try:
        client = app.test_client()
        codes = [client.post("/forgot-password", data={"email": f"x{n}@example.org"})
                 .status_code for n in range(3)]
    finally:
        limiter.enabled = False
        limiter.reset()
        app.extensions["registry.engine"].dispose()
    assert codes == [200, 200, 429]


# --- sign-up without enumeration -----------------------------------------------------------


def _enrollment(email: str) -> dict[str, Any]:
    return {"email": email, "password": f.PASSWORD, "first_name": "Ada", "last_name": "Lee",
            "npi": f.npi(), "license_state": "NY"}


def test_enrolling_with_a_known_address_answers_exactly_as_a_new_one(
        app: Flask, session: Session, clock: Any, smtp_config: SmtpServer) -> None:
    clock.to("2026-09-01")
    existing = f.pharmacist(session, f.pharmacy(session)).user
    db.commit_request()
    api = Api(app)
    prescribers = session.execute(select(func.count()).select_from(Prescriber)).scalar_one()
    taken = api.post("/prescribers", _enrollment(existing.email.upper()))
    new = api.post("/prescribers", _enrollment("brand.new@example.org"))
    assert (taken.status_code, taken.get_data()) == (new.status_code, new.get_data())
    assert new.status_code == 202
    assert session.execute(select(func.count()).select_from(Prescriber)).scalar_one() == (
        prescribers + 1)
    deliver_due(app)
    to_owner = [m for m in smtp_config.inbox.messages if m["To"] == existing.email]
    assert [m["Subject"] for m in to_owner] == ["Someone used your address on the registry"]
    assert "enroll as a prescriber" in smtp_config.inbox.text(to_owner[0])
    assert "user:address_in_use" in _audit_actions(session, existing.id)
    # The new account waits for its address to be confirmed.
    refused = api.post("/tokens", {"email": "brand.new@example.org", "password": f.PASSWORD})
    assert refused.status_code == 401
    assert "Confirm your email" in refused.get_json()["detail"]
    assert _link_in(smtp_config, "brand.new@example.org").startswith("/confirm-email/")
    browser = app.test_client()
    path = _link_in(smtp_config, "brand.new@example.org")
    assert browser.get(path).status_code == 200  # opening the link changes nothing
    assert api.post("/tokens", {"email": "brand.new@example.org",
                                "password": f.PASSWORD}).status_code == 401
    assert browser.post(path).status_code == 302
    assert api.post("/tokens", {"email": "brand.new@example.org",
                                "password": f.PASSWORD}).status_code == 201
    assert browser.post(path).status_code == 410


def test_the_same_answer_is_sent_only_once_a_day_to_the_owner(
        app: Flask, session: Session, clock: Any) -> None:
    clock.to("2026-09-01")
    existing = f.staff(session)
    db.commit_request()
    api = Api(app)
    for _ in range(3):
        assert api.post("/prescribers", _enrollment(existing.email)).status_code == 202
    assert session.execute(select(func.count()).select_from(Notification).where(
        Notification.recipient_id == existing.id)).scalar_one() == 1


def test_a_bad_field_is_still_named_with_a_known_address(app: Flask, session: Session,
                                                         clock: Any) -> None:
    clock.to("2026-09-01")
    existing = f.staff(session)
    db.commit_request()
    api = Api(app)
    taken = api.post("/prescribers", {**_enrollment(existing.email), "npi": "123"})
    new = api.post("/prescribers", {**_enrollment("other.new@example.org"), "npi": "123"})
    assert taken.status_code == new.status_code == 422
    assert taken.get_json()["errors"] == new.get_json()["errors"]
    assert set(new.get_json()["errors"]) == {"npi"}


def _pharmacy(email: str) -> dict[str, Any]:
    return {"name": "Corner", "ncpdp_id": f.ncpdp(), "npi": f.npi(), "rsp": {
        "email": email, "password": f.PASSWORD, "first_name": "Rita", "last_name": "Rsp",
        "license_number": "L-9"}}


def test_registering_a_pharmacy_with_a_known_rsp_address(app: Flask, session: Session,
                                                         clock: Any) -> None:
    clock.to("2026-09-01")
    existing = f.prescriber(session).user
    db.commit_request()
    api = Api(app)
    before = session.execute(select(func.count()).select_from(Pharmacy)).scalar_one()
    taken = api.post("/pharmacies", _pharmacy(existing.email))
    new = api.post("/pharmacies", _pharmacy("new.rsp@example.org"))
    assert (taken.status_code, taken.get_data()) == (new.status_code, new.get_data())
    # Nothing of the refused registration stayed: one pharmacy more, not two.
    assert session.execute(select(func.count()).select_from(Pharmacy)).scalar_one() == before + 1
    assert session.execute(select(Notification.kind).where(
        Notification.recipient_id == existing.id)).scalars().all() == [
        "account:address_in_use:register_pharmacy"]


def test_creating_a_designee_with_a_known_address(app: Flask, session: Session,
                                                  clock: Any) -> None:
    clock.to("2026-09-01")
    dr = f.prescriber(session)
    existing = f.patient(session, dr).user
    assert existing is not None
    _, token = issue_token(session, Credentials(email=dr.user.email, password=f.PASSWORD))
    db.commit_request()
    api = Api(app)
    designees = session.execute(select(func.count()).select_from(Designee)).scalar_one()

    def create(email: str) -> Any:
        return api.post(f"/prescribers/{dr.id}/designees", {
            "email": email, "password": f.PASSWORD, "first_name": "Sam", "last_name": "O"},
            token=token)

    taken, new = create(existing.email), create("desk@clinic.example.org")
    assert (taken.status_code, taken.get_data()) == (new.status_code, new.get_data())
    assert session.execute(select(func.count()).select_from(Designee)).scalar_one() == (
        designees + 1)
    confirm_address(app, "desk@clinic.example.org")
    assert api.post("/tokens", {"email": "desk@clinic.example.org",
                                "password": f.PASSWORD}).status_code == 201


def test_the_web_sign_up_pages_answer_the_same(app: Flask, session: Session,
                                               clock: Any) -> None:
    clock.to("2026-09-01")
    existing = f.staff(session)
    db.commit_request()
    client = app.test_client()

    def enroll(email: str, token: str) -> Any:
        return client.post("/enroll", data={**_enrollment(email), "form_token": token})

    def register(email: str, token: str) -> Any:
        data = _pharmacy(email)
        rsp = data.pop("rsp")
        return client.post("/register-pharmacy", data={
            **data, **{f"rsp_{k}": v for k, v in rsp.items()}, "form_token": token})

    for send in (enroll, register):
        taken = send(existing.email, f"t-{send.__name__}-1")
        new = send(f"web.{send.__name__}@example.org", f"t-{send.__name__}-2")
        assert taken.status_code == new.status_code == 200
        assert taken.get_data() == new.get_data()
        assert "Check your email" in new.get_data(as_text=True)
    assert session.execute(select(func.count()).select_from(Notification).where(
        Notification.recipient_id == existing.id)).scalar_one() == 2
    unconfirmed = session.execute(select(User).where(
        User.email == "web.enroll@example.org")).scalar_one()
    assert unconfirmed.email_confirmed_at is None
    refused = client.post("/login", data={"email": unconfirmed.email, "password": f.PASSWORD})
    assert "Confirm your email address first" in refused.get_data(as_text=True)
