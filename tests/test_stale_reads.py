"""Decisions use what is committed, not the copy a session loaded earlier (both databases).

A request's session keeps the objects it loaded (expire_on_commit=False). When another
request changes the row and commits in between, the operation must decide on the new row:
on PostgreSQL the race tests force this mid-transaction (tests/test_race_locks.py); here an
earlier transaction of the same session leaves the stale copy, which works on SQLite too.
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select

from registry import clock as registry_clock
from registry import db
from registry.authorizations.operations import record_dispense, reverse_authorization
from registry.errors import Conflict
from registry.models import Authorization, Dispense, Patient, User
from registry.patients.operations import change_risk_category
from registry.patients.schemas import NewRiskCategory
from tests import factories as f
from tests.races import authorize, issue, world


def test_authorization_decides_on_the_risk_category_committed_since_it_was_loaded(
        committing_app, clock):
    w = world(committing_app, clock, can_get_pregnant=False)
    with committing_app.app_context():
        session = db.session()
        stale = session.get(Patient, w["patient"])
        assert stale is not None
        assert stale.risk_category == "cannot_get_pregnant"
        db.commit_request()  # the copy stays in the session, not expired
        with committing_app.app_context():  # another request
            other = db.session()
            change_risk_category(other, other.get(User, w["dr_user"]),
                                 other.get(Patient, w["patient"]),
                                 NewRiskCategory(risk_category="can_get_pregnant",
                                                 reason="Misclassified",
                                                 contraception_start_date=registry_clock.today()))
            db.commit_request()
        outcome = authorize(w)(session)
        db.commit_request()
        assert outcome.authorization is None
        assert "CONFIRMATION_TEST_REQUIRED" in [r["code"] for r in outcome.reasons]
        assert stale.risk_category == "can_get_pregnant"  # re-read under the lock


@pytest.mark.parametrize("first", ["reverse", "dispense"])
def test_dispense_of_an_rma_closed_since_it_was_loaded_is_a_409(committing_app, clock,
                                                                first):
    w = world(committing_app, clock)
    rma = issue(committing_app, w)

    def dispense(session: Any, auth: Authorization, user: str) -> Any:
        return record_dispense(session, session.get(User, w[user]), auth,
            f.dispensation(dispensed_on=registry_clock.today(), quantity=60, days_supply=30))

    with committing_app.app_context():
        session = db.session()
        auth = session.execute(select(Authorization).where(Authorization.rma == rma)).scalar_one()
        db.commit_request()
        with committing_app.app_context():  # another pharmacist's request wins
            other = db.session()
            theirs = other.execute(
                select(Authorization).where(Authorization.rma == rma)).scalar_one()
            if first == "reverse":
                reverse_authorization(other, other.get(User, w["rph2_user"]), theirs,
                    f.reversal_of(reason="Not picked up"))
            else:
                dispense(other, theirs, "rph2_user")
            db.commit_request()
        with pytest.raises(Conflict) as exc:
            dispense(session, auth, "rph_user")
        db.rollback_request()
        assert f"already {first}" in exc.value.message
        assert "cannot be dispensed" in exc.value.message
        count = session.execute(select(func.count(Dispense.id)).where(
            Dispense.authorization_id == auth.id)).scalar_one()
        assert count == (1 if first == "dispense" else 0)
