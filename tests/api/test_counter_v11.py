"""The v1.1 doors of the counter and the prescriber's office: unlinking a designee, the
prescriber's patient list, a pharmacist's training and removal, the pharmacy's RMAs."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import event, select

from registry import clock as registry_clock
from registry import db
from registry.accounts.schemas import Credentials
from registry.api.operations import issue_token
from registry.models import AuditEntry, Designee, DesigneeLink, Pharmacist
from registry.prescribers.queries import patient_page
from tests import factories as f
from tests.api.conftest import PASSWORD
from tests.api.world import World, record_of
from tests.mail import confirm_address


@dataclass(frozen=True)
class Entry:
    subject_id: str | None
    before: Any
    after: Any


def _audit(app: Any, action: str) -> list[Entry]:
    with app.app_context():
        return [Entry(e.subject_id, e.before, e.after) for e in db.session().execute(
            select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id)
        ).scalars()]


def test_a_prescriber_unlinks_a_designee_who_then_no_longer_sees_the_list(api, app, clock):
    clock.to("2026-03-02")
    w = World(api).setup()
    p = w.register(can=False)
    invited = api.post(f"/prescribers/{w.dr_id}/designees", {
        "email": "desk@clinic.example.org", "password": PASSWORD, "first_name": "Sam",
        "last_name": "Ortiz"}, token=w.dr, expect=202).get_json()
    assert invited["status"] == "invitation_sent"  # no id: the answer reveals no account
    confirm_address(app, "desk@clinic.example.org")
    r = {"id": record_of(app, Designee, "desk@clinic.example.org")}
    desk = api.token("desk@clinic.example.org")
    assert api.post(f"/designees/{r['id']}/attestations", token=desk,
                    expect=201).get_json()["status"] == "active"
    listed = api.get(f"/prescribers/{w.dr_id}/patients", token=desk, expect=200).get_json()
    assert [i["registry_id"] for i in listed["items"]] == [p.registry_id]

    api.delete(f"/prescribers/{w.dr_id}/designees/{r['id']}", token=w.dr, expect=204)

    with app.app_context():
        link = db.session().execute(select(DesigneeLink)).scalar_one()
        assert link.unlinked_on == registry_clock.today()
        link_id = link.id
    [entry] = _audit(app, "designee:unlink")
    assert entry.subject_id == str(link_id)
    assert entry.before["unlinked_on"] is None
    assert entry.after["unlinked_on"] == registry_clock.today().isoformat()
    # Gone: the designee no longer sees the list, and a second unlink finds no link.
    api.get(f"/prescribers/{w.dr_id}/patients", token=desk, expect=404)
    api.delete(f"/prescribers/{w.dr_id}/designees/{r['id']}", token=w.dr, expect=404)
    api.delete(f"/prescribers/{w.dr_id}/designees/999999", token=w.dr, expect=404)
    assert len(_audit(app, "designee:unlink")) == 1
    # Linked again by id (the designee keeps their account).
    again = api.post(f"/prescribers/{w.dr_id}/designees", {"designee_id": r["id"]},
                     token=w.dr, expect=201).get_json()
    assert again["id"] == r["id"]
    api.get(f"/prescribers/{w.dr_id}/patients", token=desk, expect=200)


def test_linking_a_designee_names_each_missing_field(api, clock):
    clock.to("2026-03-02")
    w = World(api).setup()
    body = api.post(f"/prescribers/{w.dr_id}/designees", {"email": "x@clinic.example.org"},
                    token=w.dr, expect=422).get_json()
    assert set(body["errors"]) == {"password", "first_name", "last_name"}


def test_the_patient_list_pages_by_name_and_shows_each_next_step(api, clock):
    clock.to("2026-03-02")
    w = World(api).setup()
    patients = [w.register(can=i % 2 == 0) for i in range(5)]
    names: list[str] = []
    cursor = None
    pages = 0
    while True:
        url = f"/prescribers/{w.dr_id}/patients?limit=2" + (f"&cursor={cursor}" if cursor
                                                              else "")
        page = api.get(url, token=w.dr, expect=200).get_json()
        pages += 1
        assert len(page["items"]) <= 2
        for item in page["items"]:
            assert set(item) == {"registry_id", "name", "risk_category", "status", "window",
                                 "next_step", "needs_action"}
            assert item["status"] == "active"
            step = item["next_step"]
            assert step is not None
            assert set(step) == {"actor", "action", "due_on", "not_before"}
            names.append(item["name"])
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert pages == 3
    # Every patient once, by last name (Api<n>, registered in order).
    assert len(names) == 5 == len(set(names))
    assert names == sorted(names, key=lambda n: n.split()[1])

    # A patient who can get pregnant starts with a screening test: the prescriber's step.
    mine = api.get(f"/prescribers/{w.dr_id}/patients?needs_action=true", token=w.dr,
                   expect=200).get_json()
    assert mine["items"], mine
    assert all(i["needs_action"] and i["next_step"]["actor"] == "prescriber"
               for i in mine["items"])
    # Search by part of the registry ID (spaces and dashes as typed).
    rid = patients[3].registry_id
    found = api.get(f"/prescribers/{w.dr_id}/patients?q={rid[:3]}-{rid[3:]}", token=w.dr,
                    expect=200).get_json()
    assert [i["registry_id"] for i in found["items"]] == [rid]


def test_the_patient_list_refuses_bad_paging_naming_the_field(api, clock):
    clock.to("2026-03-02")
    w = World(api).setup()
    for query, field in (("limit=0", "limit"), ("limit=501", "limit"), ("limit=x", "limit"),
                         ("needs_action=maybe", "needs_action"), ("cursor=0000000000", "cursor")):
        body = api.get(f"/prescribers/{w.dr_id}/patients?{query}", token=w.dr,
                       expect=422).get_json()
        assert field in body["errors"], (query, body)


def test_a_page_of_the_list_costs_the_same_few_statements_however_many_patients(
        app, session, clock):
    """The facts of a page's patients are read together (issue 11): a page of 12 takes the
    same number of statements as a page of 3."""
    clock.to("2026-03-02")
    dr = f.prescriber(session)
    for _ in range(12):
        p = f.patient(session, dr)
        f.enter_test(session, p)

    engine = session.get_bind()
    counted: list[str] = []

    def count(*args: Any) -> None:
        counted.append(args[2])

    def statements(limit: int) -> tuple[int, int]:
        counted.clear()
        event.listen(engine, "before_cursor_execute", count)
        try:
            page = patient_page(session, dr.id, limit=limit)
        finally:
            event.remove(engine, "before_cursor_execute", count)
        return len(counted), len(page.rows)

    small, shown_small = statements(3)
    large, shown_large = statements(12)
    assert (shown_small, shown_large) == (3, 12)
    assert small == large <= 12, counted


def test_the_rsp_records_training_and_removes_a_pharmacist(api, app, clock):
    clock.to("2026-03-02")
    w = World(api).setup()
    with app.app_context():
        rph = db.session().execute(
            select(Pharmacist).where(Pharmacist.is_rsp.is_(False))).scalar_one()
        rph_id, rsp_id = rph.id, db.session().execute(
            select(Pharmacist.id).where(Pharmacist.is_rsp.is_(True))).scalar_one()
    url = f"/pharmacies/{w.pharmacy_id}/pharmacists/{rph_id}"
    old = (registry_clock.today() - timedelta(days=400)).isoformat()
    body = api.call("PATCH", url, {"training_completed_on": old}, token=w.rsp,
                    expect=200).get_json()
    assert body["status"] == "lapsed"
    assert body["training_completed_on"] == old
    [entry] = _audit(app, "pharmacist:train")
    assert entry.after == {"training_completed_on": old}
    tomorrow = (registry_clock.today() + timedelta(days=1)).isoformat()
    bad = api.call("PATCH", url, {"training_completed_on": tomorrow}, token=w.rsp,
                   expect=422).get_json()
    assert list(bad["errors"]) == ["training_completed_on"]
    # A pharmacist who is not the RSP may not manage staff.
    api.call("PATCH", url, {"training_completed_on": old}, token=w.rph, expect=403)

    api.delete(url, token=w.rsp, expect=204)
    with app.app_context():
        assert db.session().get(Pharmacist, rph_id).removed_on == registry_clock.today()
    [removed] = _audit(app, "pharmacist:remove")
    assert removed.subject_id == str(rph_id)
    again = api.delete(url, token=w.rsp, expect=422).get_json()
    assert list(again["errors"]) == ["pharmacist_id"]
    own = api.delete(f"/pharmacies/{w.pharmacy_id}/pharmacists/{rsp_id}", token=w.rsp,
                     expect=422).get_json()
    assert "cannot remove themselves" in own["errors"]["pharmacist_id"][0]
    assert len(_audit(app, "pharmacist:remove")) == 1


def test_the_pharmacy_lists_its_rmas_newest_first_a_page_at_a_time(app, session, clock, api):
    counter = f.Counter(session, clock)
    rph = counter.pharmacist
    others = [f.patient(session, counter.prescriber) for _ in range(2)]
    issued = [f.authorize(session, rph, counter.patient).authorization]
    for p in others:  # a day apart each, so "since" has days to choose from
        clock.forward(days=1)
        f.ready_for_first_prescription(session, p, clock)
        issued.append(f.authorize(session, rph, p).authorization)
    assert all(issued)
    stranger = f.pharmacist(session, f.pharmacy(session))
    token = issue_token(session, Credentials(email=rph.user.email, password=PASSWORD))[1]
    outsider = issue_token(session, Credentials(email=stranger.user.email,
                                                password=PASSWORD))[1]
    session.commit()
    rmas = [a.rma for a in issued]

    url = f"/pharmacies/{counter.pharmacy.id}/authorizations"
    first = api.get(url + "?limit=2", token=token, expect=200).get_json()
    assert [i["rma"] for i in first["items"]] == rmas[::-1][:2]
    assert first["items"][0]["patient"]["registry_id"] == others[-1].registry_id
    assert first["items"][0]["status"] == "authorized"
    assert first["items"][0]["pharmacy"]["id"] == counter.pharmacy.id
    second = api.get(url + f"?limit=2&cursor={first['next_cursor']}", token=token,
                     expect=200).get_json()
    assert [i["rma"] for i in second["items"]] == [rmas[0]]
    assert second["next_cursor"] is None
    since = issued[-1].issued_on.isoformat()
    recent = api.get(url + f"?since={since}", token=token, expect=200).get_json()
    assert [i["rma"] for i in recent["items"]] == [rmas[-1]]
    # Another pharmacy's pharmacist sees nothing of it.
    api.get(url, token=outsider, expect=404)
    bad = api.get(url + "?since=2026-02-30", token=token, expect=422).get_json()
    assert list(bad["errors"]) == ["since"]
