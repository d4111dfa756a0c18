from sqlalchemy import func, select

from registry.audit.models import AuditEntry
from tests import factories as f


def test_first_prescription_flow_issues_an_rma(session, clock):
    c = f.Counter(session, clock, start="2026-03-02")
    outcome = f.authorize(session, c.pharmacist, c.patient)
    assert outcome.eligible, outcome.reasons
    assert outcome.authorization.do_not_dispense_after.isoformat() == "2026-04-07"
    assert session.execute(select(func.count(AuditEntry.id))).scalar_one() > 10
