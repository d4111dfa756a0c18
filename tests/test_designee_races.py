"""Two unlinks of the same designee at once act once (PostgreSQL: the link row is locked)."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from registry import db
from registry.errors import NotFound
from registry.models import AuditEntry, Designee, DesigneeLink, Prescriber, User
from registry.prescribers.operations import unlink_designee
from tests import factories as f
from tests.races import NOT_POSTGRES, ON_POSTGRES, Txn, wait_until_blocked

pytestmark = [pytest.mark.postgres, pytest.mark.skipif(not ON_POSTGRES, reason=NOT_POSTGRES)]


def test_two_unlinks_at_once_unlink_once_and_the_second_finds_no_link(committing_app, clock):
    clock.to("2026-03-02")
    with committing_app.app_context():
        session = db.session()
        dr = f.prescriber(session)
        des = f.designee(session, dr)
        ids = {"dr": dr.id, "dr_user": dr.user_id, "designee": des.id}
        db.commit_request()

    def unlink(session: Session) -> Any:
        return unlink_designee(session, session.get(User, ids["dr_user"]),
                               session.get(Prescriber, ids["dr"]),
                               session.get(Designee, ids["designee"]))

    first = Txn(committing_app, unlink, hold=True).hold()
    second = Txn(committing_app, unlink, hold=False).start()
    state = wait_until_blocked(committing_app, second)
    first.commit()
    first.finish()
    second.finish()
    assert first.error is None, first.error
    assert state == "blocked", "the second unlink did not wait for the first"
    assert isinstance(second.error, NotFound), second.error
    with committing_app.app_context():
        session = db.session()
        link = session.execute(select(DesigneeLink)).scalar_one()
        assert link.unlinked_on is not None
        entries = session.execute(select(AuditEntry.subject_id).where(
            AuditEntry.action == "designee:unlink")).scalars().all()
        assert entries == [str(link.id)]
