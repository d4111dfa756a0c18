"""Pregnancy registry follow-up and lift, the RSP's pharmacy page, risk category and the
end of treatment, through the pages, with the stored state and audit checked."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from registry.audit.models import AuditEntry
from registry.patients.models import Patient, RiskCategoryChange
from registry.pharmacies.models import Pharmacist
from registry.pregnancies.models import PregnancyReport
from tests import factories as f
from tests.mail import confirm_address
from tests.web.conftest import World, login
from tests.web.test_forms import token_of


def test_staff_follow_up_and_lift_a_pregnancy_report(app: Any, world: World,
                                                     session: Any) -> None:
    client = app.test_client()
    login(client, world.staff)
    listing = client.get("/staff/pregnancies").get_data(as_text=True)
    assert world.pat_b.full_name in listing
    assert "blocking" in listing
    page = client.get(f"/staff/pregnancies/{world.report_b.id}").get_data(as_text=True)
    missing = client.post(f"/staff/pregnancies/{world.report_b.id}/follow-up", data={
        "f-form_token": token_of(page, "f-form_token"), "f-outcome": "miscarriage"})
    html = missing.get_data(as_text=True)
    assert "Follow-up note: This field is required." in html
    assert '<option selected value="miscarriage">' in html
    done = client.post(f"/staff/pregnancies/{world.report_b.id}/follow-up", data={
        "f-form_token": token_of(page, "f-form_token"), "f-note": "Called the clinic.",
        "f-outcome": "ongoing"})
    assert done.status_code == 302
    lift = client.post(f"/staff/pregnancies/{world.report_b.id}/lift", data={
        "l-form_token": token_of(page, "l-form_token"),
        "l-reason": "Lab confirmed a false positive.", "confirmed": "yes"})
    assert lift.status_code == 302
    report = session.get(PregnancyReport, world.report_b.id)
    session.refresh(report)
    assert report.lifted_at is not None
    assert [fu.note for fu in report.follow_ups] == ["Called the clinic."]
    actions = session.execute(select(AuditEntry.action).where(
        AuditEntry.subject_type == "pregnancy_report").order_by(AuditEntry.id)).scalars().all()
    assert actions == ["pregnancy:follow_up", "pregnancy:lift"]


def test_rsp_adds_a_pharmacist_and_errors_keep_the_input(app: Any, world: World,
                                                         session: Any) -> None:
    client = app.test_client()
    login(client, world.rsp1.user)
    page = client.get("/pharmacy/").get_data(as_text=True)
    token = token_of(page)
    bad = client.post("/pharmacy/pharmacists", data={
        "form_token": token, "first_name": "Nia", "last_name": "Okoro", "email": "nia@",
        "password": "short", "license_number": "RPH-9"}).get_data(as_text=True)
    assert "Email: Not a valid email address" in bad
    assert "Temporary password: Use at least 12 characters." in bad
    assert "Training completed on: This field is required." in bad
    assert 'value="Okoro"' in bad
    good = client.post("/pharmacy/pharmacists", data={
        "form_token": token, "first_name": "Nia", "last_name": "Okoro",
        "email": "nia@pharmacy.example.org", "password": f.PASSWORD,
        "license_number": "RPH-9", "training_completed_on": "2026-03-30"})
    assert good.status_code == 302
    added = session.execute(select(Pharmacist).where(
        Pharmacist.license_number == "RPH-9")).scalar_one()
    assert added.pharmacy_id == world.ph1.id
    # a plain pharmacist sees the page but not the RSP's forms
    other = app.test_client()
    login(other, world.rph1.user)
    html = other.get("/pharmacy/").get_data(as_text=True)
    assert "Add a pharmacist" not in html
    assert "Okoro" in html


def test_risk_category_change_needs_a_reason_and_treatment_end(app: Any, world: World,
                                                              session: Any) -> None:
    client = app.test_client()
    login(client, world.dr_a.user)
    rid = world.pat_a.registry_id
    page = client.get(f"/patients/{rid}/risk-category").get_data(as_text=True)
    html = client.post(f"/patients/{rid}/risk-category", data={
        "form_token": token_of(page), "risk_category": "cannot_get_pregnant"}
    ).get_data(as_text=True)
    assert "Reason for the change: This field is required." in html
    assert client.post(f"/patients/{rid}/risk-category", data={
        "form_token": token_of(page), "risk_category": "cannot_get_pregnant",
        "reason": "Hysterectomy on record."}).status_code == 302
    change = session.execute(select(RiskCategoryChange).where(
        RiskCategoryChange.patient_id == world.pat_a.id,
        RiskCategoryChange.reason == "Hysterectomy on record.")).scalar_one()
    assert change.to_category == "cannot_get_pregnant"
    page = client.get(f"/patients/{rid}/end-treatment").get_data(as_text=True)
    future = client.post(f"/patients/{rid}/end-treatment", data={
        "form_token": token_of(page), "last_dose_on": "2099-01-01",
        "confirmed": "yes"}).get_data(as_text=True)
    assert "Date of the last dose: The last dose date cannot be in the future." in future
    assert client.post(f"/patients/{rid}/end-treatment", data={
        "form_token": token_of(page), "last_dose_on": "2026-03-31",
        "confirmed": "yes"}).status_code == 302
    assert session.get(Patient, world.pat_a.id).status == "treatment_complete"


def test_anonymous_post_goes_to_login_without_a_next_it_cannot_follow(app: Any) -> None:
    response = app.test_client().post("/pharmacy/authorize", data={})
    assert response.status_code == 302
    assert response.headers["Location"] == "/login"


def test_a_pharmacy_registers_then_its_rsp_activates_it(app: Any, session: Any) -> None:
    from registry.pharmacies.models import Pharmacy

    client = app.test_client()
    page = client.get("/register-pharmacy").get_data(as_text=True)
    data = {"form_token": token_of(page), "name": "Corner Pharmacy", "ncpdp_id": "7654321",
            "npi": f.npi(), "rsp_first_name": "Ana", "rsp_last_name": "Silva",
            "rsp_email": "not-mail", "rsp_password": f.PASSWORD, "rsp_license_number": "R-1"}
    html = client.post("/register-pharmacy", data=data).get_data(as_text=True)
    assert "Email: Not a valid email address" in html
    assert 'value="Corner Pharmacy"' in html
    response = client.post("/register-pharmacy", data={**data, "rsp_email": "ana@corner.example"})
    assert "Check your email" in response.get_data(as_text=True)
    pharmacy = session.execute(select(Pharmacy).where(Pharmacy.ncpdp_id == "7654321")
                               ).scalar_one()
    assert pharmacy.activated_on is None
    # The RSP confirms the address by the emailed link, then signs in.
    confirm_address(app, "ana@corner.example")
    assert client.post("/login", data={"email": "ana@corner.example",
                                       "password": f.PASSWORD}).status_code == 302
    manage = client.get("/pharmacy/").get_data(as_text=True)
    assert "has not been activated by its Responsible Site Pharmacist" in manage
    unticked = client.post("/pharmacy/activate", data={"form_token": token_of(manage)})
    assert "certify that the pharmacy&#39;s staff are trained" in unticked.get_data(as_text=True)
    ticked = client.post("/pharmacy/activate", data={"form_token": token_of(manage),
                                                     "staff_trained": "y"})
    assert ticked.status_code == 302
    session.refresh(pharmacy)
    assert pharmacy.activated_on is not None


def test_transfers_by_the_new_prescriber_and_by_staff(app: Any, world: World,
                                                     session: Any) -> None:
    client = app.test_client()
    login(client, world.dr_a.user)
    page = client.get("/patients/take-on").get_data(as_text=True)
    wrong = client.post("/patients/take-on", data={
        "form_token": token_of(page), "registry_id": world.pat_b.registry_id,
        "date_of_birth": "1990-01-01"}).get_data(as_text=True)
    assert "No patient matches that registry ID and date of birth." in wrong
    assert client.post("/patients/take-on", data={
        "form_token": token_of(page), "registry_id": world.pat_b.registry_id,
        "date_of_birth": world.pat_b.date_of_birth.isoformat()}).status_code == 302
    assert session.get(Patient, world.pat_b.id).prescriber_id == world.dr_a.id

    staff = app.test_client()
    login(staff, world.staff)
    page = staff.get(f"/patients/{world.pat_b.registry_id}/transfer").get_data(as_text=True)
    unknown = staff.post(f"/patients/{world.pat_b.registry_id}/transfer", data={
        "form_token": token_of(page), "to_prescriber_npi": "1234567893"}).get_data(as_text=True)
    assert "New prescriber&#39;s NPI: No enrolled prescriber has this NPI." in unknown
    assert staff.post(f"/patients/{world.pat_b.registry_id}/transfer", data={
        "form_token": token_of(page), "to_prescriber_npi": world.dr_b.npi,
        "reason": "Back to the first prescriber."}).status_code == 302
    assert session.get(Patient, world.pat_b.id).prescriber_id == world.dr_b.id
    transfers = session.execute(select(AuditEntry).where(
        AuditEntry.action == "patient:transfer").order_by(AuditEntry.id)).scalars().all()
    assert [t.role for t in transfers] == ["prescriber", "staff"]
