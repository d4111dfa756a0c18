"""The demo (issue 9): Dr Rivera with about thirty patients at every point of the cycle, so
a new user sees a real list; built through the operations, quick to load, logins kept."""

from __future__ import annotations

import re
from datetime import date
from typing import Any

import pytest
from sqlalchemy import func, select

from registry import clock as registry_clock
from registry.accounts.models import User
from registry.authorizations.models import Authorization, AuthorizationDecision, Dispense
from registry.demo import PASSWORD, load_demo
from registry.patients.models import Patient
from registry.pregnancies.models import PregnancyReport
from registry.prescribers.models import Prescriber


def _login(client: Any, email: str) -> None:
    response = client.post("/login", data={"email": email, "password": PASSWORD})
    assert response.status_code == 302, response.get_data(as_text=True)[:300]


def _cells(html: str, label: str) -> list[str]:
    return [re.sub(r"<[^>]+>|\s+", " ", c).strip()
            for c in re.findall(rf'<td data-label="{label}"[^>]*>(.*?)</td>', html, re.S)]


# 23:00 on 23 November: three weeks after clocks went back, the hour at which the demo's
# history once fell a day short (its clock stepped back 24 hours at a time).
@pytest.mark.parametrize(("today", "hour"), [("2026-11-23", 23), ("2026-05-04", 12)],
                         ids=["rules-2026", "rules-2021"])
def test_demo_gives_rivera_a_real_list(app: Any, session: Any, clock: Any, today: str,
                                       hour: int) -> None:
    clock.to(today, hour=hour)
    logins = load_demo(session)
    session.flush()
    rivera = session.execute(select(Prescriber).where(
        Prescriber.npi == "1234567893")).scalar_one()
    patients = session.execute(select(Patient).where(
        Patient.prescriber_id == rivera.id)).scalars().all()
    assert 25 <= len(patients) <= 35
    # both risk categories, minors with a guardian, several states
    assert {p.risk_category for p in patients} == {"can_get_pregnant", "cannot_get_pregnant"}
    day = registry_clock.today()
    minors = [p for p in patients if p.date_of_birth > day.replace(year=day.year - 18)]
    assert len(minors) >= 2
    assert all(p.guardian_name for p in minors)
    assert {"active", "pending_activation", "treatment_ended"} <= {p.status for p in patients}
    rivera_ids = [p.id for p in patients]
    auths = session.execute(select(Authorization).where(
        Authorization.patient_id.in_(rivera_ids))).scalars().all()
    assert any(a.status == "authorized" and a.do_not_dispense_after >= day for a in auths)
    assert session.execute(select(func.count(Dispense.id))).scalar_one() >= 8
    assert session.execute(select(func.count(PregnancyReport.id))).scalar_one() == 1

    client = app.test_client()
    _login(client, "rivera@demo.example")
    html = client.get("/prescriber/").get_data(as_text=True)
    assert f"{len(patients)} patients shown" in html
    statuses = _cells(html, "Status")
    assert statuses.count("ready to dispense") >= 3
    assert statuses.count("pregnancy reported") == 1
    assert "pending activation" in statuses
    steps = set(_cells(html, "Next step"))
    assert len(steps) >= 6, steps  # patients at many different points of the cycle
    whose = set(_cells(html, "Whose"))
    assert len(whose) >= 3, whose  # the prescriber, the patient, the pharmacy...

    # the lockout exists under rule set 2021 only: running now under 2021 it is current;
    # under 2026 the pharmacy's request refused during it stays in the history
    jordan = next(p for p in patients if p.first_name == "Jordan")
    refused = session.execute(select(AuthorizationDecision).where(
        AuthorizationDecision.patient_id == jordan.id)).scalar_one()
    assert not refused.eligible
    assert refused.ruleset == "2021"
    if today == "2026-05-04":
        page = client.get(f"/patients/{jordan.registry_id}").get_data(as_text=True)
        assert "Waiting period ends" in page or "lockout" in page.lower()

    # the logins the README lists still work, with the password printed
    emails = {email for _, email, _ in logins}
    for email in ("staff@demo.example", "rivera@demo.example", "chen@demo.example",
                  "frontdesk@demo.example", "pharmacist@demo.example", "rsp@demo.example",
                  "alex@demo.example", "casey@demo.example"):
        assert email in emails
        _login(app.test_client(), email)
    alex = session.execute(select(Patient).where(Patient.email == "alex@demo.example")).scalar_one()
    assert alex.date_of_birth == date(2008, 5, 14)  # README, docs/api.md and bench/ use it
    ready = client.get("/prescriber/?q=Kim").get_data(as_text=True)
    assert "ready to dispense" in ready


def test_demo_passwords_are_hashed_cheaply_then_at_full_strength_on_sign_in(
        app: Any, session: Any, clock: Any) -> None:
    clock.to("2026-11-23")
    load_demo(session)
    user = session.execute(select(User).where(User.email == "alex@demo.example")).scalar_one()
    assert "m=8,t=1,p=1" in user.password_hash
    _login(app.test_client(), "alex@demo.example")
    session.refresh(user)
    configured = f"m={app.config['ARGON2_MEMORY_COST']},t={app.config['ARGON2_TIME_COST']}"
    assert configured in user.password_hash


def test_the_demo_clock_moves_by_calendar_days_across_daylight_saving(clock: Any) -> None:
    """At 23:00 in New York, three weeks after clocks went back, 42 x 24 hours back is
    00:00 the next day: the demo's stories then fell a day short of a rule's 30 days."""
    clock.to("2026-11-23", hour=23)
    with registry_clock.travel(-42):
        assert registry_clock.today() == date(2026, 10, 12)
        assert registry_clock.now().hour == 3  # 23:00 EDT is 03:00 UTC
    with registry_clock.travel(0):
        assert registry_clock.today() == date(2026, 11, 23)

