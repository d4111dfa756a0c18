"""Staff search: whole identifiers by their unique index, names and parts anywhere; on
PostgreSQL the partial matches read trigram indexes, never every row."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import event
from sqlalchemy.orm import Session

from registry.rules.identifiers import npi_is_valid, npi_with_check_digit, registry_id_is_valid
from registry.staff.queries import search, user_for
from tests import factories as f
from tests.races import ON_POSTGRES


@contextmanager
def statements(session: Session) -> Iterator[list[tuple[str, Any]]]:
    seen: list[tuple[str, Any]] = []
    engine = session.get_bind().engine

    def keep(conn: Any, cursor: Any, statement: str, parameters: Any, *args: Any) -> None:
        seen.append((statement, parameters))

    session.flush()
    event.listen(engine, "before_cursor_execute", keep)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", keep)


@pytest.fixture
def people(session: Session, clock: Any) -> dict[str, Any]:
    clock.to("2026-03-02")
    dr = f.prescriber(session, first_name="Marguerite", last_name="Okonkwo-Smith")
    ph = f.pharmacy(session)
    return {
        "dr": dr, "ph": ph, "rph": f.pharmacist(session, ph), "des": f.designee(session, dr),
        "pt": f.patient(session, dr, first_name="Zuzanna", last_name="Quintero"),
        "other": f.patient(session, dr, first_name="Zelda", last_name="Quinn"),
    }


def _kinds(hits: list[Any]) -> list[tuple[str, int]]:
    return [(h.kind, h.id) for h in hits]


def test_a_whole_registry_id_is_looked_up_not_scanned(session, people):
    pt = people["pt"]
    spaced = f"{pt.registry_id[:3]} {pt.registry_id[3:6]}-{pt.registry_id[6:]}"
    for text in (pt.registry_id, spaced):
        with statements(session) as seen:
            hits = search(session, text)
        assert _kinds(hits) == [("patient", pt.id)]
        assert hits[0].registry_id == pt.registry_id
        # One index lookup; one in ten registry IDs is also a valid NPI (the two check digits
        # are independent), and is then looked up as a prescriber's and a pharmacy's too.
        assert len(seen) == (3 if npi_is_valid(pt.registry_id) else 1)
        assert not any("LIKE" in sql.upper() for sql, _ in seen)


def test_an_npi_finds_the_prescriber_or_the_pharmacy(session, people):
    dr, ph = people["dr"], people["ph"]
    with statements(session) as seen:
        assert _kinds(search(session, dr.npi)) == [("prescriber", dr.id)]
    assert not any("LIKE" in s.upper() for s, _ in seen)
    assert _kinds(search(session, ph.npi)) == [("pharmacy", ph.id)]
    assert _kinds(search(session, ph.ncpdp_id)) == [("pharmacy", ph.id)]


def test_a_whole_email_finds_its_owner_in_any_case(session, people):
    for key in ("dr", "des", "rph", "pt"):
        person = people[key]
        email = person.email if key == "pt" else person.user.email
        with statements(session) as seen:
            hits = search(session, f"  {email.upper()} ")
        assert (people[key].id in [h.id for h in hits if h.kind in
                                   {"dr": "prescriber", "des": "designee",
                                    "rph": "pharmacist", "pt": "patient"}[key]]), key
        assert not any("LIKE" in s.upper() for s, _ in seen), key
    assert user_for(session, people["dr"].user.email.upper()) == people["dr"].user_id


def test_unknown_identifiers_fall_back_to_partial_matching(session, people):
    unknown_npi = npi_with_check_digit("999999999")
    assert search(session, unknown_npi) == []
    missing = next(f"12345678{d}{e}" for d in "0123456789" for e in "0123456789"
                   if registry_id_is_valid(f"12345678{d}{e}"))
    assert search(session, missing) == []
    part = people["dr"].user.email.split("@")[0][2:]  # "dr12@..." minus its first letters
    assert ("prescriber", people["dr"].id) in _kinds(search(session, part))


def test_names_match_anywhere_in_any_case(session, people):
    assert _kinds(search(session, "zuzanna quin")) == [("patient", people["pt"].id)]
    assert {h.id for h in search(session, "QUIN") if h.kind == "patient"} == {
        people["pt"].id, people["other"].id}
    assert _kinds(search(session, "konkwo-sm")) == [("prescriber", people["dr"].id)]
    assert search(session, "   ") == []


def test_like_wildcards_are_taken_literally(session, people):
    assert search(session, "%") == []
    assert search(session, "Zuz_nna") == []
    assert search(session, "a%a") == []


@pytest.mark.postgres
@pytest.mark.skipif(not ON_POSTGRES, reason="trigram indexes exist only on PostgreSQL")
def test_partial_matches_read_the_trigram_indexes(session, people):
    """With sequential scans priced out, the patients' and pharmacies' LIKE is answered from
    their trigram indexes (on a handful of rows the planner would rightly scan; at a million
    it must not have to). Prescribers, designees and pharmacists are few: their users are
    joined by key."""
    with statements(session) as seen:
        search(session, "quint")
    conn = session.connection()
    conn.exec_driver_sql("SET LOCAL enable_seqscan = off")
    plans = []
    for statement, parameters in seen:
        rows = conn.exec_driver_sql("EXPLAIN " + statement, parameters).all()
        plans.append("\n".join(r[0] for r in rows))
    conn.exec_driver_sql("SET LOCAL enable_seqscan = on")
    everything = "\n".join(plans)
    for index in ("ix_patients_name_trgm", "ix_patients_email_trgm", "ix_pharmacies_name_trgm"):
        assert index in everything, everything
    patients_plan = next(p for p in plans if "patients" in p)
    assert "Seq Scan on patients" not in patients_plan, patients_plan
