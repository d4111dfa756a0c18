"""Safety and timing at the counter and in the clinic (issue 9): the earliest useful test on the
pages and in the API, a cancelled RMA read as DO NOT DISPENSE, confirmation before safety acts,
typos as field errors, and an ID card QR code that scans."""

from __future__ import annotations

from typing import Any

from tests import factories as f
from tests.api.conftest import Api
from tests.web.conftest import login


def _alex(session: Any, clock: Any) -> f.Counter:
    """Confirmation specimen Sat 21 Nov 2026, 30 days dispensed Mon 23 Nov 2026."""
    world = f.Counter(session, clock, start="2026-10-22")
    clock.forward(days=2)
    outcome = f.authorize(session, world.pharmacist, world.patient)
    f.dispense(session, world.pharmacist, outcome)
    session.flush()
    return world


def test_after_a_dispense_pages_and_api_say_when_the_next_test_is_useful(
        app: Any, session: Any, clock: Any) -> None:
    world = _alex(session, clock)
    p = world.patient
    assert p.user is not None
    # 23 Nov + (30 - 7) = Wed 16 Dec, the first refill day; minus 6: Thu 10 Dec.
    client = app.test_client()
    login(client, world.prescriber.user)
    html = client.get(f"/patients/{p.registry_id}").get_data(as_text=True)
    assert 'data-testid="not-before">Not before Thu 10 Dec 2026<' in html
    assert "Sat 28 Nov 2026" not in html
    client = app.test_client()
    login(client, p.user)
    home = client.get("/me/").get_data(as_text=True)
    assert "<strong>Not before Thu 10 Dec 2026</strong>" in home
    assert "(from Thu 10 Dec 2026)" in home  # the one-sentence summary
    assert "Sat 28 Nov 2026" not in home

    api = Api(app)
    token = api.token(world.prescriber.user.email)
    steps = api.get(f"/patients/{p.registry_id}/status", token=token,
                    expect=200).get_json()["next_steps"]
    assert {"actor": "prescriber", "action": "Enter next month's pregnancy test.",
            "due_on": None, "not_before": "2026-12-10"} in steps
