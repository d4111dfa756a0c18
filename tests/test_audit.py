"""The audit chain (rules §10): written with each change, verified by `registry audit verify`."""

from __future__ import annotations

import itertools

from sqlalchemy import func, select, text, update

from registry.audit.models import AuditEntry
from registry.audit.operations import GENESIS, seal, verify_chain
from tests import factories as f
from tests.harness import tampering


def _build_history(session, clock):
    """A history of operations, sealed as the request's after-commit sealing would."""
    c = f.Counter(session, clock)
    f.dispense(session, c.pharmacist, f.authorize(session, c.pharmacist, c.patient))
    seal(session)
    return session.execute(select(AuditEntry).order_by(AuditEntry.id)).scalars().all()


def _verify_cli(app):
    return app.test_cli_runner().invoke(args=["audit", "verify"])


def test_chain_links_every_entry_to_the_one_before(session, clock):
    entries = _build_history(session, clock)
    assert len([e for e in entries if e.action != "comprehension_bank:load"]) >= 15
    assert entries[0].prev_hash == GENESIS  # the table's first entry starts the chain
    for before, after in itertools.pairwise(entries):
        assert after.prev_hash == before.hash
    actions = [e.action for e in entries]
    for tag in ("prescriber:enroll", "prescriber:attest", "pharmacy:register",
                "pharmacy:activate", "pharmacist:add", "patient:register", "patient:activate",
                "pregnancy_test:record", "cycle:open", "counseling:confirm",
                "comprehension:attempt", "contraception:attest", "authorization:issue",
                "authorization:dispense"):
        assert tag in actions, tag
    issue = next(e for e in entries if e.action == "authorization:issue")
    assert issue.user_id is not None
    assert issue.role == "pharmacist"
    assert issue.after["status"] == "authorized"
    assert issue.after["rma"] == issue.subject_id


def test_verify_passes_on_a_clean_database(app, session, clock):
    _build_history(session, clock)
    result = _verify_cli(app)
    assert result.exit_code == 0, result.output
    assert "intact" in result.output
    assert verify_chain(session).ok


def test_verify_fails_on_an_edited_row(app, session, clock):
    entries = _build_history(session, clock)
    target = entries[len(entries) // 2]
    with tampering(session):
        session.execute(
            update(AuditEntry).where(AuditEntry.id == target.id).values(action="patient:nothing")
        )
    result = _verify_cli(app)
    assert result.exit_code == 1
    assert f"entry {target.id}" in result.output
    assert "does not match its hash" in result.output


def test_verify_fails_on_an_edited_payload(app, session, clock):
    entries = _build_history(session, clock)
    target = next(e for e in entries if e.action == "authorization:dispense")
    after = dict(target.after)
    after["quantity"] = 1
    with tampering(session):
        session.execute(update(AuditEntry).where(AuditEntry.id == target.id).values(after=after))
    result = verify_chain(session)
    assert not result.ok
    assert result.first_bad_id == target.id


def test_verify_fails_on_a_deleted_row(app, session, clock):
    entries = _build_history(session, clock)
    gone = entries[5]
    with tampering(session):
        session.execute(text("DELETE FROM audit_entries WHERE id = :id"), {"id": gone.id})
    result = _verify_cli(app)
    assert result.exit_code == 1
    assert f"entry {entries[6].id}" in result.output
    assert "broken" in result.output


def test_verify_fails_on_reordered_rows(app, session, clock):
    entries = _build_history(session, clock)
    a, b = entries[3], entries[4]
    columns = ("occurred_at", "user_id", "role", "action", "subject_type", "subject_id",
               "before", "after", "prev_hash", "hash")
    values_a = {c: getattr(a, c) for c in columns}
    values_b = {c: getattr(b, c) for c in columns}
    # Swap the two rows' contents: the same entries, in another order.
    with tampering(session):
        session.execute(
            update(AuditEntry).where(AuditEntry.id == a.id).values(hash="tmp-" + a.hash[:60])
        )
        session.execute(update(AuditEntry).where(AuditEntry.id == b.id).values(**values_a))
        session.execute(update(AuditEntry).where(AuditEntry.id == a.id).values(**values_b))
    result = _verify_cli(app)
    assert result.exit_code == 1
    assert f"entry {a.id}" in result.output


def test_a_refused_operation_leaves_no_audit_entry(session, clock):
    import pytest

    from registry.cycles.schemas import PregnancyTestEntry
    from registry.errors import ValidationError
    from registry.pregnancies.operations import record_pregnancy_test

    clock.to("2026-03-02")
    dr = f.prescriber(session)
    p = f.patient(session, dr)
    count = session.execute(select(func.count(AuditEntry.id))).scalar_one()
    with pytest.raises(ValidationError) as exc:
        record_pregnancy_test(session, dr.user, p, PregnancyTestEntry(
            specimen_collected_on="2026-03-09", result="negative", setting="lab"))
    assert "specimen_collected_on" in exc.value.errors
    assert session.execute(select(func.count(AuditEntry.id))).scalar_one() == count
