"""The pharmacist's printable RMA record and recent denials in plain words; the prescriber's
sortable list marks the sorted column header (issue 9)."""

from __future__ import annotations

import html as html_lib
import re
from typing import Any

from tests import factories as f
from tests.web.conftest import World, login


def _text(page: str) -> str:
    return html_lib.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page)))


def test_the_rma_record_names_everything_a_paper_file_needs(app: Any, world: World) -> None:
    client = app.test_client()
    login(client, world.rph1.user)
    page = client.get(f"/pharmacy/authorizations/{world.rma1.rma}").get_data(as_text=True)
    text = _text(page)
    assert "<button type=\"button\" data-print>Print this record</button>" in page
    for fact in (f"RMA number {world.rma1.rma}", "Status authorized",
                 f"Patient Avery Applewood, registry ID {world.pat_a.registry_id}",
                 f"Prescriber {world.dr_a.name}, NPI {world.dr_a.npi}",
                 f"Pharmacy {world.ph1.name}, NCPDP {world.ph1.ncpdp_id}",
                 "Do not dispense after", "Valid only until the date above"):
        assert fact in text, fact
    assert 'class="grid two no-print"' in page  # the forms stay off paper
    assert "DO NOT DISPENSE" not in text


def test_a_cancelled_rma_prints_as_do_not_dispense(app: Any, world: World) -> None:
    client = app.test_client()
    login(client, world.rph2.user)
    text = _text(client.get(f"/pharmacy/authorizations/{world.rma2.rma}").get_data(
        as_text=True))
    assert "Authorization record: DO NOT DISPENSE" in text
    assert "This record is NOT a valid authorization: do not dispense against it." in text
    assert f"Prescriber {world.dr_b.name}, NPI {world.dr_b.npi}" in text


def test_recent_denials_say_why_in_words_not_codes(app: Any, session: Any,
                                                   world: World) -> None:
    denied = f.authorize(session, world.rph1, world.pat_a, days_supply=45, refills=2)
    assert denied.authorization is None
    codes = [r["code"] if isinstance(r, dict) else r.code for r in denied.reasons]
    session.commit()
    client = app.test_client()
    login(client, world.rph1.user)
    page = client.get("/pharmacy/authorizations").get_data(as_text=True)
    denials = _text(page[page.index("Recent denials"):])
    assert f"Avery Applewood (registry ID {world.pat_a.registry_id}): not authorized." in denials
    assert "45 days' supply is more than the 30 days allowed." in denials
    assert "Who acts:" in denials
    assert codes
    for code in codes:
        assert code not in denials


def test_the_sorted_column_header_carries_aria_sort(app: Any, world: World) -> None:
    client = app.test_client()
    login(client, world.dr_a.user)
    page = client.get("/prescriber/?sort=name&dir=desc").get_data(as_text=True)
    assert re.findall(r"<th [^>]*aria-sort=\"(\w+)\"[^>]*><a [^>]*>Patient", page) == [
        "descending"]
    assert not re.search(r"<a [^>]*aria-sort", page)
    assert page.count("aria-sort=") == 1


def test_code_blocks_take_focus_and_have_a_name(app: Any, world: World) -> None:
    client = app.test_client()
    docs = client.get("/api/docs").get_data(as_text=True)
    blocks = re.findall(r"<pre[^>]*>", docs)
    assert len(blocks) >= 2
    for tag in blocks:
        assert 'tabindex="0"' in tag, tag
        assert "aria-label=" in tag, tag
    login(client, world.staff)
    audit = client.get("/staff/audit").get_data(as_text=True)
    blocks = re.findall(r"<pre[^>]*>", audit)
    assert blocks
    for tag in blocks:
        assert 'tabindex="0"' in tag, tag
        assert "aria-label=" in tag, tag
