"""Two language switches of one user at once (PostgreSQL): the second waits for the first,
so the stored choice is the last one and the audit trail says what each replaced."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from registry import db
from registry.i18n.operations import choose_language
from registry.models import AuditEntry, User
from tests import factories as f
from tests.races import NOT_POSTGRES, ON_POSTGRES, Txn, wait_until_blocked

pytestmark = [pytest.mark.postgres, pytest.mark.skipif(not ON_POSTGRES, reason=NOT_POSTGRES)]


def _switch(user_id: int, language: str):
    def work(session):
        user = session.get(User, user_id)
        assert user is not None
        return choose_language(session, user, language)
    return work


def test_two_switches_at_once_run_one_after_the_other(committing_app, clock):
    clock.to("2026-03-02")
    with committing_app.app_context():
        p = f.patient(db.session(), f.prescriber(db.session()))
        user_id = p.user_id
        db.commit_request()
    assert user_id is not None
    first = Txn(committing_app, _switch(user_id, "es"), hold=True).hold()
    second = Txn(committing_app, _switch(user_id, "en"), hold=False).start()
    assert wait_until_blocked(committing_app, second) == "blocked"
    first.commit()
    first.finish()
    second.finish()
    assert first.error is None
    assert second.error is None
    with committing_app.app_context():
        s = db.session()
        user = s.get(User, user_id)
        assert user is not None
        assert user.language == "en"
        trail = s.execute(select(AuditEntry).where(AuditEntry.action == "user:language")
                          .order_by(AuditEntry.id)).scalars().all()
        assert [(e.before, e.after) for e in trail] == [
            ({"language": None}, {"language": "es"}),
            ({"language": "es"}, {"language": "en"}),
        ]
