"""The record's pages on the typed contract: deactivation with its confirmation step, the
contraception start date with a move to "can get pregnant", the home-test attestation."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from registry.audit.models import AuditEntry
from registry.authorizations.models import Authorization
from registry.patients.models import Patient
from tests import factories as f
from tests.web.conftest import World, login
from tests.web.test_forms import token_of


def test_the_prescriber_deactivates_a_patient_after_confirming(app: Any, world: World,
                                                              session: Any) -> None:
    client = app.test_client()
    login(client, world.dr_a.user)
    rid = world.pat_a.registry_id
    assert f"/patients/{rid}/deactivate" in client.get(f"/patients/{rid}").get_data(
        as_text=True)
    page = client.get(f"/patients/{rid}/deactivate").get_data(as_text=True)
    empty = client.post(f"/patients/{rid}/deactivate", data={
        "form_token": token_of(page), "confirmed": "yes"}).get_data(as_text=True)
    assert "This field is required." in empty
    first = client.post(f"/patients/{rid}/deactivate", data={
        "form_token": token_of(page), "reason": "Moved abroad"})
    assert first.status_code == 200
    assert "Confirm: deactivate" in first.get_data(as_text=True)
    assert session.get(Patient, world.pat_a.id).status == "active"  # nothing done yet
    done = client.post(f"/patients/{rid}/deactivate", data={
        "form_token": token_of(page), "reason": "Moved abroad", "confirmed": "yes"})
    assert done.status_code == 302
    session.expire_all()
    assert session.get(Patient, world.pat_a.id).status == "deactivated"
    assert session.execute(select(Authorization.status).where(
        Authorization.patient_id == world.pat_a.id)).scalars().all() == ["cancelled"]
    entry = session.execute(select(AuditEntry).where(
        AuditEntry.action == "patient:deactivate")).scalar_one()
    assert (entry.role, entry.after["reason"]) == ("prescriber", "Moved abroad")
    assert "/deactivate" not in client.get(f"/patients/{rid}").get_data(as_text=True)


def test_staff_see_the_deactivate_button_designees_do_not_get_the_page(
        app: Any, world: World) -> None:
    staff = app.test_client()
    login(staff, world.staff)
    rid = world.pat_b.registry_id
    assert f"/patients/{rid}/deactivate" in staff.get(f"/patients/{rid}").get_data(as_text=True)
    designee = app.test_client()
    login(designee, world.des_a.user)
    assert designee.get(f"/patients/{world.pat_a.registry_id}/deactivate").status_code == 403


def test_moving_to_can_get_pregnant_asks_for_the_contraception_start_date(
        app: Any, world: World, session: Any, clock: Any) -> None:
    p = f.patient(session, world.dr_a, can_get_pregnant=False)
    session.commit()
    client = app.test_client()
    login(client, world.dr_a.user)
    path = f"/patients/{p.registry_id}/risk-category"
    page = client.get(path).get_data(as_text=True)
    assert 'name="contraception_start_date"' in page
    html = client.post(path, data={"form_token": token_of(page),
                                   "risk_category": "can_get_pregnant",
                                   "reason": "Not menopausal"}).get_data(as_text=True)
    assert "Contraception started on: Required when the new category is can_get_pregnant" \
        in html
    session.expire_all()
    assert session.get(Patient, p.id).risk_category == "cannot_get_pregnant"
    assert client.post(path, data={"form_token": token_of(page),
                                   "risk_category": "can_get_pregnant",
                                   "reason": "Not menopausal",
                                   "contraception_start_date": "2026-03-01"}).status_code == 302
    session.expire_all()
    changed = session.get(Patient, p.id)
    assert (changed.risk_category, changed.contraception_start_on.isoformat()) == (
        "can_get_pregnant", "2026-03-01")


def test_home_tests_under_2026_need_the_prescribers_attestation(
        app: Any, world: World, session: Any, clock: Any) -> None:
    clock.to("2026-09-01")
    client = app.test_client()
    login(client, world.dr_a.user)
    rid = world.pat_a.registry_id
    page = client.get(f"/patients/{rid}").get_data(as_text=True)
    assert 'name="home_test_procedure_attested"' in page
    refused = client.post(f"/patients/{rid}/care", data={
        "form_token": token_of(page), "home_tests_allowed": "y"}, follow_redirects=True)
    assert "Allowing home tests needs your attestation" in refused.get_data(as_text=True)
    session.expire_all()
    assert session.get(Patient, world.pat_a.id).home_tests_allowed is False
    page = client.get(f"/patients/{rid}").get_data(as_text=True)
    assert client.post(f"/patients/{rid}/care", data={
        "form_token": token_of(page), "home_tests_allowed": "y",
        "home_test_procedure_attested": "y"}).status_code == 302
    session.expire_all()
    assert session.get(Patient, world.pat_a.id).home_tests_allowed is True
