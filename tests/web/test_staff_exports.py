"""Staff CSV exports (summary report, audit log) and "Verify the audit chain" from the
staff pages (issue 9): real CSV, names not internal ids, formula-safe cells, the same
verification as `registry audit verify`, audited."""

from __future__ import annotations

import csv
import io
import re
from typing import Any

import pytest
from sqlalchemy import select, update

from registry.audit.checkpoints import write_checkpoint
from registry.audit.models import AuditEntry
from registry.audit.operations import seal
from registry.staff.exports import safe_cell
from tests import factories as f
from tests.harness import tampering
from tests.web.conftest import World, login


def _csv(response: Any) -> list[dict[str, str]]:
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    assert response.mimetype == "text/csv"
    return list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))


def test_report_csv_is_an_attachment_for_the_period_on_the_page(app: Any, world: World) -> None:
    client = app.test_client()
    login(client, world.staff)
    response = client.get("/staff/report.csv?date_from=2026-03-01&date_to=2026-04-30")
    disposition = response.headers["Content-Disposition"]
    assert disposition == 'attachment; filename="summary-report-2026-03-01-to-2026-04-30.csv"'
    rows = {(r["Section"], r["Item"]): r["Value"] for r in _csv(response)}
    assert rows[("period", "from")] == "2026-03-01"
    assert rows[("period", "to")] == "2026-04-30"
    assert rows[("authorizations", "issued")] == "2"
    assert rows[("enrolled", "patients")] == "2"
    assert rows[("enrolled", "prescribers")] == "2"
    assert rows[("pregnancies", "reported")] == "1"
    # a period with nothing in it says so, it is not the default 30 days
    empty = {(r["Section"], r["Item"]): r["Value"] for r in _csv(
        client.get("/staff/report.csv?date_from=2025-01-01&date_to=2025-01-31"))}
    assert empty[("authorizations", "issued")] == "0"
    # the page links to the export of the period it shows
    page = client.get("/staff/report?date_from=2026-03-01&date_to=2026-04-30")
    assert "/staff/report.csv?date_from=2026-03-01&amp;date_to=2026-04-30" in page.get_data(
        as_text=True)


def test_audit_csv_names_people_and_records_and_keeps_the_filters(app: Any, world: World,
                                                                  session: Any) -> None:
    client = app.test_client()
    login(client, world.staff)
    response = client.get("/staff/audit.csv?action=patient:register")
    assert response.headers["Content-Disposition"].startswith('attachment; filename="audit-log-')
    rows = _csv(response)
    stored = session.execute(select(AuditEntry.id).where(
        AuditEntry.action == "patient:register").order_by(AuditEntry.id.desc())).scalars().all()
    assert [int(r["Entry"]) for r in rows] == stored
    assert {r["Action"] for r in rows} == {"patient:register"}
    records = {r["Record"] for r in rows}
    assert (f"Avery Applewood (registry ID {world.pat_a.registry_id})") in records
    assert (f"Bailey Bramblecot (registry ID {world.pat_b.registry_id})") in records
    who = {r["Who"] for r in rows}
    assert f"{world.dr_a.name} (NPI {world.dr_a.npi})" in who
    # never "prescriber 2" or "patient 7"
    everything = _csv(client.get("/staff/audit.csv"))
    assert len(everything) == session.execute(select(AuditEntry.id)).all().__len__()
    for row in everything:
        assert not re.fullmatch(r"[a-z_ ]+ \d+", row["Record"]), row
        assert not re.fullmatch(r"[a-z_ ]+ \d+", row["Who"]), row
    rma = next(r for r in everything if r["Action"] == "authorization:issue")
    assert rma["Record"].startswith("RMA ")
    assert rma["Who"].endswith(f", {world.ph1.name})") or rma["Who"].endswith(
        f", {world.ph2.name})")
    # the page links to the export with its filters
    page = client.get("/staff/audit?action=patient:register").get_data(as_text=True)
    assert "/staff/audit.csv?action=patient:register" in page


def test_audit_csv_pages_past_one_batch(app: Any, world: World, session: Any) -> None:
    from registry.audit.operations import record

    for n in range(520):
        record(session, world.staff, "test:bulk", "pharmacy", world.ph1.id, after={"n": n})
    session.flush()
    client = app.test_client()
    login(client, world.staff)
    rows = _csv(client.get("/staff/audit.csv?action=test:bulk"))
    assert len(rows) == 520
    assert {r["Record"] for r in rows} == {f"{world.ph1.name} (NCPDP {world.ph1.ncpdp_id})"}


@pytest.mark.parametrize("typed", ["=HYPERLINK(\"http://x\")", "+1+1", "-2+3", "@SUM(A1)",
                                   "\t=1", "\r=1"])
def test_cells_a_spreadsheet_would_run_are_prefixed(typed: str) -> None:
    assert safe_cell(typed) == "'" + typed
    assert safe_cell("Rivera") == "Rivera"
    assert safe_cell(12) == "12"


def test_a_typed_formula_in_a_name_is_text_in_the_export(app: Any, world: World,
                                                        session: Any) -> None:
    evil = f.patient(session, world.dr_a, first_name="=cmd|' /C calc'!A0", last_name="Hacker")
    client = app.test_client()
    login(client, world.staff)
    rows = _csv(client.get("/staff/audit.csv?action=patient:register"))
    record = next(r["Record"] for r in rows if evil.registry_id in r["Record"])
    assert record == f"'=cmd|' /C calc'!A0 Hacker (registry ID {evil.registry_id})"


def test_only_staff_export_or_verify(app: Any, world: World) -> None:
    client = app.test_client()
    login(client, world.dr_a.user)
    assert client.get("/staff/audit.csv").status_code == 403
    assert client.get("/staff/report.csv").status_code == 403
    assert client.post("/staff/audit/verify").status_code == 403
    anonymous = app.test_client()
    assert anonymous.get("/staff/audit.csv").status_code == 302


def test_verify_from_the_staff_page_says_intact_and_is_audited(app: Any, world: World,
                                                              session: Any) -> None:
    seal(session)
    checkpoint = write_checkpoint(session)
    client = app.test_client()
    login(client, world.staff)
    page = client.get("/staff/audit").get_data(as_text=True)
    assert 'action="/staff/audit/verify"' in page
    response = client.post("/staff/audit/verify")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "The audit log is intact" in html
    said = re.search(r"Every entry up to entry (\d+) \(position (\d+) in the chain\)", html)
    assert said, html
    head_id, head_seq = int(said[1]), int(said[2])
    # the head it names is the chain's head when it ran (the sign-in is sealed after it)
    assert head_seq >= checkpoint.count
    assert session.get(AuditEntry, head_id).seq == head_seq
    verified = session.execute(select(AuditEntry).where(
        AuditEntry.action == "audit:verify")).scalar_one()
    assert verified.after["head_seq"] == head_seq
    assert "It matches the newest signed checkpoint" in html
    entry = session.execute(select(AuditEntry).where(
        AuditEntry.action == "audit:verify")).scalar_one()
    assert entry.user_id == world.staff.id
    assert entry.after["intact"] is True
    assert entry.after["checked"] >= checkpoint.count


def test_verify_from_the_staff_page_names_what_was_tampered_with(app: Any, world: World,
                                                                session: Any) -> None:
    seal(session)
    write_checkpoint(session)
    target = session.execute(select(AuditEntry).where(AuditEntry.seq == 3)).scalar_one()
    with tampering(session):
        session.execute(update(AuditEntry).where(AuditEntry.id == target.id)
                        .values(subject_id="999"))
    client = app.test_client()
    login(client, world.staff)
    html = client.post("/staff/audit/verify").get_data(as_text=True)
    assert "The audit log is NOT intact" in html
    assert "An entry was changed after it was written" in html
    assert f"entry {target.id} (seq 3): its content does not match" in html
    entry = session.execute(select(AuditEntry).where(
        AuditEntry.action == "audit:verify")).scalar_one()
    assert entry.after["intact"] is False
    assert "edited" in {finding["kind"] for finding in entry.after["findings"]}


def test_audit_page_names_people_and_records_not_internal_ids(app: Any, world: World) -> None:
    client = app.test_client()
    login(client, world.staff)
    html = client.get("/staff/audit?action=patient:register").get_data(as_text=True)
    who = re.findall(r'<td data-label="Who">(.*?)</td>', html)
    records = re.findall(r'<td data-label="Record">(.*?)</td>', html)
    assert f"{world.dr_a.name} (NPI {world.dr_a.npi})" in who
    assert f"Avery Applewood (registry ID {world.pat_a.registry_id})" in records
    for cell in who + records:
        assert not re.fullmatch(r"[a-z_ ]+ \d+", cell), cell
