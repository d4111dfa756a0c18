"""The pharmacy page when a dispense loses a race to a reversal (PostgreSQL, real commits)."""

from __future__ import annotations

import re
import threading
from typing import Any

import pytest
from sqlalchemy import select

from registry import clock as registry_clock
from registry import db
from registry.models import Authorization, User
from tests.races import (
    NOT_POSTGRES,
    ON_POSTGRES,
    TIMEOUT,
    Txn,
    hold_patient_lock,
    issue,
    wait_until_blocked,
    world,
)
from tests.web.conftest import login

pytestmark = [pytest.mark.postgres, pytest.mark.skipif(not ON_POSTGRES, reason=NOT_POSTGRES)]


def _client(app: Any, user_id: int, rma: str) -> tuple[Any, str]:
    """A logged-in pharmacist's browser on the RMA page, and the page's one-time form token."""
    with app.app_context():
        user = db.session().get(User, user_id)
        client = app.test_client()
        login(client, user)
    page = client.get(f"/pharmacy/authorizations/{rma}").get_data(as_text=True)
    token = re.findall(r'name="form_token" type="hidden" value="([^"]+)"', page)[0]
    return client, token


def test_a_dispense_that_lost_to_a_reversal_shows_what_happened(committing_app, clock):
    w = world(committing_app, clock)
    rma = issue(committing_app, w)
    reverser, reverse_token = _client(committing_app, w["rph_user"], rma)
    dispenser, dispense_token = _client(committing_app, w["rph2_user"], rma)
    holder = Txn(committing_app, hold_patient_lock(w), hold=True).hold()
    responses: dict[str, Any] = {}

    def send(name: str, client: Any, path: str, data: dict[str, str]) -> None:
        responses[name] = client.post(path, data=data)

    calls = [
        ("reverse", reverser, f"/pharmacy/authorizations/{rma}/reverse",
         {"form_token": reverse_token, "reason": "Not picked up", "confirmed": "yes"}),
        ("dispense", dispenser, f"/pharmacy/authorizations/{rma}/dispense",
         {"form_token": dispense_token, "dispensed_on": registry_clock.today().isoformat(),
          "quantity": "60", "days_supply": "30"}),
    ]
    threads = [threading.Thread(target=send, args=call, daemon=True) for call in calls]
    for n, t in enumerate(threads, start=1):
        t.start()
        assert wait_until_blocked(committing_app, waiting=n) == "blocked"
    holder.commit()
    holder.finish()
    for t in threads:
        t.join(TIMEOUT)

    assert responses["reverse"].status_code == 302
    page = responses["dispense"]
    assert page.status_code == 409
    html = page.get_data(as_text=True)
    assert "already reversed" in html
    assert "cannot be dispensed" in html
    assert rma in html  # the RMA's own page, showing its state now
    with committing_app.app_context():
        auth = db.session().execute(
            select(Authorization).where(Authorization.rma == rma)).scalar_one()
        assert auth.status == "reversed"
