"""Races at the EHR doors (PostgreSQL): one JWT presented twice at once is accepted once; two
registrations of one issuer at once make one system."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from registry import db
from registry.contract import parse
from registry.errors import ValidationError
from registry.interop.cds.auth import CdsUnauthorized, authenticate
from registry.interop.ehr.models import EhrSystem, EhrTokenUse
from registry.interop.ehr.operations import register_ehr_system
from registry.interop.ehr.schemas import EhrSystemInput
from registry.models import AuditEntry, User
from tests import factories as f
from tests.interop.cds_support import FHIR_BASE, ISSUER, Ehr, register, service_url
from tests.races import NOT_POSTGRES, ON_POSTGRES, Txn, wait_until_blocked

pytestmark = [pytest.mark.postgres, pytest.mark.skipif(not ON_POSTGRES, reason=NOT_POSTGRES)]


def test_one_token_sent_twice_at_once_is_accepted_once(committing_app: Any, clock: Any) -> None:
    clock.to("2026-03-02")
    ehr = Ehr()
    with committing_app.app_context():
        session = db.session()
        register(session, ehr, [f.prescriber(session)])
        db.commit_request()
    aud = service_url("isotretinoin-order-sign")
    header = f"Bearer {ehr.token(aud)}"

    def use(session: Session) -> Any:
        return authenticate(session, header, [aud])

    first = Txn(committing_app, use, hold=True).hold()
    second = Txn(committing_app, use, hold=False).start()
    state = wait_until_blocked(committing_app, second)
    first.commit()
    first.finish()
    second.finish()
    assert first.error is None, first.error
    assert state == "blocked", "the second use did not wait for the first"
    assert isinstance(second.error, CdsUnauthorized), second.error
    assert "used before" in second.error.message
    with committing_app.app_context():
        assert db.session().scalar(select(func.count()).select_from(EhrTokenUse)) == 1


def test_two_registrations_of_one_issuer_at_once_make_one_system(committing_app: Any,
                                                                 clock: Any) -> None:
    clock.to("2026-03-02")
    with committing_app.app_context():
        staff_id = f.staff(db.session()).id
        db.commit_request()

    def register_one(session: Session) -> Any:
        return register_ehr_system(session, session.get(User, staff_id), parse(
            EhrSystemInput, {"name": "EHR", "issuer": ISSUER, "client_id": "c",
                             "jwks": Ehr().jwks(), "fhir_base_url": FHIR_BASE}))

    first = Txn(committing_app, register_one, hold=True).hold()
    second = Txn(committing_app, register_one, hold=False).start()
    state = wait_until_blocked(committing_app, second)
    first.commit()
    first.finish()
    second.finish()
    assert first.error is None, first.error
    assert state == "blocked"
    assert isinstance(second.error, ValidationError), second.error
    assert second.error.errors == {"issuer": [
        "An EHR system with this issuer is registered already."]}
    with committing_app.app_context():
        session = db.session()
        assert session.scalar(select(func.count()).select_from(EhrSystem)) == 1
        assert session.scalar(select(func.count()).select_from(AuditEntry).where(
            AuditEntry.action == "ehr-system:register")) == 1
