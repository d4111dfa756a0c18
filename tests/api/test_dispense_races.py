"""Dispense and reversal calls sent at once through the API (PostgreSQL, real commits).

To make "at once" certain, a third transaction holds the patient's row lock while the two
requests are sent: both load the RMA, then both queue on the lock (the test waits until
PostgreSQL shows two waiters), then the holder lets go.
"""

from __future__ import annotations

import threading
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select

from registry import clock as registry_clock
from registry import db
from registry.models import Authorization, Dispense, Reversal, User
from tests.api.conftest import Api
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

pytestmark = [pytest.mark.postgres, pytest.mark.skipif(not ON_POSTGRES, reason=NOT_POSTGRES)]


def _tokens(app: Flask, w: dict[str, Any]) -> tuple[str, str]:
    with app.app_context():
        session = db.session()
        emails = [session.get(User, w[k]).email for k in ("rph_user", "rph2_user")]
    api = Api(app)
    return api.token(emails[0]), api.token(emails[1])


def _send(app: Flask, token: str, path: str, body: dict[str, Any]) -> dict[str, Any]:
    r = app.test_client().post("/api/v1" + path, json=body,
                               headers={"Authorization": f"Bearer {token}"})
    return {"status": r.status_code, "type": r.content_type, "body": r.get_json(silent=True)}


def _at_once(app: Flask, w: dict[str, Any], calls: list[tuple[str, str, dict[str, Any]]]
             ) -> list[dict[str, Any]]:
    """Send the calls in order, each queued on the patient's lock before the next is sent."""
    holder = Txn(app, hold_patient_lock(w), hold=True).hold()
    results: list[dict[str, Any]] = [{} for _ in calls]

    def run(i: int) -> None:
        token, path, body = calls[i]
        try:
            results[i] = _send(app, token, path, body)
        except Exception as exc:  # asserted below: none may escape
            results[i] = {"status": "exception", "body": repr(exc)}

    threads = [threading.Thread(target=run, args=(i,), daemon=True) for i in range(len(calls))]
    for n, t in enumerate(threads, start=1):
        t.start()
        assert wait_until_blocked(app, waiting=n) == "blocked"
    holder.commit()
    holder.finish()
    for t in threads:
        t.join(TIMEOUT)
    return results


def _counts(app: Flask, rma: str) -> tuple[str, int, int]:
    with app.app_context():
        session = db.session()
        auth = session.execute(select(Authorization).where(Authorization.rma == rma)).scalar_one()
        return (auth.status,
                session.execute(select(func.count(Dispense.id)).where(
                    Dispense.authorization_id == auth.id)).scalar_one(),
                session.execute(select(func.count(Reversal.id)).where(
                    Reversal.authorization_id == auth.id)).scalar_one())


def test_two_dispenses_at_once_give_one_200_and_one_409_problem(committing_app, clock):
    w = world(committing_app, clock)
    rma = issue(committing_app, w)
    first, second = _tokens(committing_app, w)
    body = {"dispensed_on": registry_clock.today().isoformat(), "quantity": 60,
            "days_supply": 30}
    path = f"/authorizations/{rma}/dispensation"
    results = _at_once(committing_app, w, [(first, path, body), (second, path, body)])
    assert sorted(str(r["status"]) for r in results) == ["200", "409"], results
    lost = next(r for r in results if r["status"] == 409)
    assert lost["type"] == "application/problem+json"
    assert lost["body"]["status"] == 409
    assert "already dispensed" in lost["body"]["detail"]
    assert _counts(committing_app, rma) == ("dispensed", 1, 0)


def test_reversal_and_dispense_at_once_the_dispense_loses_with_409(committing_app, clock):
    w = world(committing_app, clock)
    rma = issue(committing_app, w)
    first, second = _tokens(committing_app, w)
    results = _at_once(committing_app, w, [
        (first, f"/authorizations/{rma}/reversal", {"reason": "Not picked up"}),
        (second, f"/authorizations/{rma}/dispensation",
         {"dispensed_on": registry_clock.today().isoformat(), "quantity": 60,
          "days_supply": 30}),
    ])
    assert [r["status"] for r in results] == [200, 409], results
    assert results[1]["type"] == "application/problem+json"
    detail = results[1]["body"]["detail"]
    assert "already reversed" in detail
    assert "cannot be dispensed" in detail
    assert _counts(committing_app, rma) == ("reversed", 0, 1)


def test_dispense_and_reversal_at_once_is_a_return_to_stock(committing_app, clock):
    w = world(committing_app, clock)
    rma = issue(committing_app, w)
    first, second = _tokens(committing_app, w)
    results = _at_once(committing_app, w, [
        (first, f"/authorizations/{rma}/dispensation",
         {"dispensed_on": registry_clock.today().isoformat(), "quantity": 60,
          "days_supply": 30}),
        (second, f"/authorizations/{rma}/reversal", {"reason": "Returned to stock"}),
    ])
    assert [r["status"] for r in results] == [200, 200], results
    assert _counts(committing_app, rma) == ("reversed", 1, 1)
