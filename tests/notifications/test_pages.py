"""The in-app messages on each role's home page, reminder settings, the mail folder page."""

from __future__ import annotations

from typing import Any

from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from registry import db
from registry.accounts.models import User
from registry.notifications.delivery import deliver_due
from registry.notifications.models import Category, Notification
from registry.notifications.operations import enqueue
from tests import factories as f
from tests.web.conftest import login


def _message(session: Session, user: User, key: str, **kw: Any) -> Notification:
    message = enqueue(session, user, kind="reminder:test", event_key=key,
                      subject=f"Subject {key}", body="Body", reason=f"Reason {key}.",
                      link="/somewhere", **kw)
    assert message is not None
    return message


def test_home_pages_list_the_messages_with_why_and_mark_read(app: Flask, session: Session,
                                                             clock: Any) -> None:
    clock.to("2026-03-02")
    dr = f.prescriber(session)
    ph = f.pharmacy(session)
    rph = f.pharmacist(session, ph)
    patient = f.patient(session, dr)
    staff = f.staff(session)
    homes = {dr.user: "/prescriber/", rph.user: "/pharmacy/authorize",
             patient.user: "/me/", staff: "/staff/"}
    for user in homes:
        assert user is not None
        _message(session, user, "one")
        _message(session, user, "alert", category=Category.ALERT, safety=True)
    other = _message(session, f.staff(session), "not-yours")
    db.commit_request()
    for user, home in homes.items():
        assert user is not None
        client = app.test_client()
        login(client, user)
        page = client.get(home).get_data(as_text=True)
        assert "2 unread" in page, home
        assert "Subject one" in page
        assert "Why you got this: Reason one." in page
        assert "Subject not-yours" not in page
    client = app.test_client()
    login(client, staff)
    mine = session.execute(select(Notification.id).where(
        Notification.recipient_id == staff.id, Notification.event_key == "one")).scalar_one()
    assert client.post(f"/messages/{mine}/read", data={"back": "/staff/"}).status_code == 302
    assert "1 unread" in client.get("/staff/").get_data(as_text=True)
    away = client.post(f"/messages/{mine}/read", data={"back": "https://evil.example/"})
    assert away.headers["Location"] == "/messages"  # only a page of the registry
    assert client.post(f"/messages/{other.id}/read").status_code == 404
    session.refresh(other)
    assert other.read_at is None
    page = client.get("/messages").get_data(as_text=True)
    assert "Subject alert" in page
    assert client.post("/messages/read").status_code == 302
    assert "unread" not in client.get("/staff/").get_data(as_text=True)


def test_reminders_can_be_turned_off_but_not_safety_alerts(app: Flask, session: Session,
                                                           clock: Any) -> None:
    clock.to("2026-03-02")
    staff = f.staff(session)
    db.commit_request()
    client = app.test_client()
    login(client, staff)
    assert 'checked' in client.get("/preferences").get_data(as_text=True)
    assert client.post("/preferences", data={}).status_code == 302
    session.refresh(staff)
    assert staff.reminders_enabled is False
    assert enqueue(session, staff, kind="reminder:x", event_key="1", subject="s", body="b",
                   reason="r") is None
    assert enqueue(session, staff, kind="alert:x", event_key="1", subject="s", body="b",
                   reason="r", category=Category.ALERT, safety=True) is not None
    assert client.post("/preferences", data={"reminders": "y"}).status_code == 302
    session.refresh(staff)
    assert staff.reminders_enabled is True


def test_the_mail_folder_page_shows_what_was_written(app: Flask, session: Session,
                                                     clock: Any) -> None:
    clock.to("2026-03-02")
    staff = f.staff(session)
    dr = f.prescriber(session)
    _message(session, dr.user, "mail", body_html=None)
    deliver_due(app)  # no MAIL_SERVER in the tests: the folder (a temporary directory)
    db.commit_request()
    client = app.test_client()
    login(client, staff)
    listing = client.get("/staff/mail").get_data(as_text=True)
    assert dr.user.email in listing
    assert "Subject mail" in listing
    name = listing.split('href="/staff/mail/', 1)[1].split('"', 1)[0]
    letter = client.get(f"/staff/mail/{name}").get_data(as_text=True)
    assert "Subject mail" in letter
    assert "Body" in letter
    assert client.get("/staff/mail/..%2Fsecret_key").status_code == 404
    patient_client = app.test_client()
    login(patient_client, dr.user)
    assert patient_client.get("/staff/mail").status_code == 403
