from sqlalchemy import func, select

from registry.audit.models import AuditEntry
from tests import factories as f


def test_first_prescription_flow_issues_an_rma(session, clock):
    clock.to("2026-03-02")
    dr = f.prescriber(session)
    ph = f.pharmacy(session)
    rph = f.pharmacist(session, ph)
    p = f.patient(session, dr)
    f.ready_for_first_prescription(session, p, clock)
    outcome = f.authorize(session, rph, p)
    assert outcome.eligible, outcome.reasons
    assert outcome.authorization.do_not_dispense_after.isoformat() == "2026-04-07"
    assert session.execute(select(func.count(AuditEntry.id))).scalar_one() > 10
