"""Two changes to one patient's record at once end as they would one after the other
(PostgreSQL: real transactions on two connections)."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from registry import db
from registry.errors import ValidationError
from registry.models import ActivationCode, AuditEntry, Patient, Prescriber, User
from registry.patients.operations import (
    activate_patient,
    deactivate_patient,
    reissue_activation_code,
    transfer_patient,
)
from registry.patients.schemas import Deactivation, PatientActivation, Transfer
from tests import factories as f
from tests.races import NOT_POSTGRES, ON_POSTGRES, Txn, wait_until_blocked, world

pytestmark = [pytest.mark.postgres, pytest.mark.skipif(not ON_POSTGRES, reason=NOT_POSTGRES)]


def _pending(app: Any, clock: Any) -> dict[str, Any]:
    w = world(app, clock)
    with app.app_context():
        session = db.session()
        p = f.patient(session, session.get(Prescriber, w["dr"]), activate=False)
        w["pending"] = p.id
        w["pending_rid"], w["pending_dob"] = p.registry_id, p.date_of_birth
        db.commit_request()
    return w


def _reissue(w: dict[str, Any]) -> Any:
    def work(session: Session) -> Any:
        return reissue_activation_code(session, session.get(User, w["dr_user"]),
                                       session.get(Patient, w["pending"]))[0]
    return work


def test_two_new_activation_codes_at_once_leave_only_the_last_one(committing_app, clock):
    w = _pending(committing_app, clock)
    a = Txn(committing_app, _reissue(w), hold=True).hold()
    b = Txn(committing_app, _reissue(w), hold=False).start()
    state = wait_until_blocked(committing_app, b)
    a.commit()
    first, second = a.finish(), b.finish()
    assert (a.error, b.error) == (None, None)
    assert state == "blocked", "the second reissue did not wait for the first"
    with committing_app.app_context():
        session = db.session()
        unused = session.execute(select(func.count(ActivationCode.id)).where(
            ActivationCode.patient_id == w["pending"], ActivationCode.used_at.is_(None))
        ).scalar_one()
        assert unused == 1
        activation = {"registry_id": w["pending_rid"], "date_of_birth": w["pending_dob"],
                      "password": f.PASSWORD}
        with pytest.raises(ValidationError):
            activate_patient(session, PatientActivation(**activation, activation_code=first))
        activate_patient(session, PatientActivation(**activation, activation_code=second))
        db.commit_request()


def test_two_deactivations_at_once_deactivate_once(committing_app, clock):
    w = world(committing_app, clock)

    def deactivate(who: str) -> Any:
        def work(session: Session) -> Any:
            return deactivate_patient(session, session.get(User, w[who]),
                                      session.get(Patient, w["patient"]),
                                      Deactivation(reason=f"by {who}"))
        return work

    a = Txn(committing_app, deactivate("dr_user"), hold=True).hold()
    b = Txn(committing_app, deactivate("staff_user"), hold=False).start()
    state = wait_until_blocked(committing_app, b)
    a.commit()
    a.finish()
    b.finish()
    assert state == "blocked"
    assert a.error is None
    assert isinstance(b.error, ValidationError)
    assert "already deactivated" in b.error.errors["reason"][0]
    with committing_app.app_context():
        entries = db.session().execute(select(AuditEntry.after).where(
            AuditEntry.action == "patient:deactivate")).scalars().all()
        assert [e["reason"] for e in entries] == ["by dr_user"]


def test_two_prescribers_taking_on_one_patient_at_once_end_in_one_order(committing_app, clock):
    w = world(committing_app, clock)
    with committing_app.app_context():
        third = f.prescriber(db.session())
        w["third_user"], w["third"] = third.user_id, third.id
        db.commit_request()

    def take_on(who: str) -> Any:
        def work(session: Session) -> Any:
            return transfer_patient(session, session.get(User, w[who]), Transfer(
                registry_id=w["body"]["registry_id"], date_of_birth=w["body"]["date_of_birth"],
                reason=who))
        return work

    a = Txn(committing_app, take_on("third_user"), hold=True).hold()
    b = Txn(committing_app, take_on("dr_user"), hold=False).start()
    state = wait_until_blocked(committing_app, b)
    a.commit()
    a.finish()
    b.finish()
    assert state == "blocked"
    assert (a.error, b.error) == (None, None)  # A, then B took the patient back from A
    with committing_app.app_context():
        session = db.session()
        assert session.get(Patient, w["patient"]).prescriber_id == w["dr"]
        entries = session.execute(select(AuditEntry).where(
            AuditEntry.action == "patient:transfer").order_by(AuditEntry.id)).scalars().all()
        assert [(e.before["prescriber_id"], e.after["prescriber_id"]) for e in entries] == [
            (w["dr"], w["third"]), (w["third"], w["dr"])]
