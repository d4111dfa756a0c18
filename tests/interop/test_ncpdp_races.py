"""REMSRequests at once for one cycle (real commits, threads; row locks on PostgreSQL, the
write lock on SQLite): exactly one RMA, and one decision per message ID."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from registry import db
from registry.models import Authorization, AuthorizationDecision
from tests.interop.ncpdp_support import fixture, read, send, values, world
from tests.races import at_once

THREADS = 8




def _count(app: Any, column: Any) -> int:
    with app.app_context():
        return int(db.session().execute(select(func.count(column))).scalar_one())


def _status(response: Any) -> str:
    root = read(response)
    status = root.find("Body/REMSResponse/Response/ResponseStatus")
    assert status is not None, response.data
    return status[0].tag


def test_concurrent_requests_for_one_cycle_issue_one_rma(committing_app, clock):
    w = world(committing_app, clock)

    def work(i: int) -> tuple[int, bytes, str]:
        r = send(committing_app.test_client(),
                 fixture("rems_request.xml", **values(w, f"RACE-{i}")), w["credential"])
        return r.status_code, r.data, _status(r)

    results = at_once(THREADS, work)
    assert not [r for r in results if isinstance(r, Exception)], results
    assert {status for status, _, _ in results} == {200}
    assert sorted(kind for _, _, kind in results) == ["Approved"] + ["Denied"] * (THREADS - 1)
    assert _count(committing_app, Authorization.id) == 1
    assert _count(committing_app, AuthorizationDecision.id) == THREADS


def test_the_same_message_at_once_is_decided_once(committing_app, clock):
    w = world(committing_app, clock)
    raw = fixture("rems_request.xml", **values(w, "SAME-1"))

    def work(i: int) -> tuple[int, bytes]:
        r = send(committing_app.test_client(), raw, w["credential"])
        return r.status_code, r.data

    results = at_once(THREADS, work)
    assert not [r for r in results if isinstance(r, Exception)], results
    assert {status for status, _ in results} == {200}
    assert len({body for _, body in results}) == 1  # every twin got the same bytes
    assert _count(committing_app, Authorization.id) == 1
    assert _count(committing_app, AuthorizationDecision.id) == 1
