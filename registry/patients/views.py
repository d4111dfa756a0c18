"""Patient pages: registration with the ID card, the record, and the patient's own pages."""

from __future__ import annotations

from datetime import date
from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from registry import db
from registry.accounts.models import Role
from registry.errors import Errors, NotFound, ValidationError
from registry.i18n.words import describe_methods
from registry.patients.forms import (
    CareForm,
    EndTreatmentForm,
    NewCourseForm,
    RegisterPatientForm,
    ReissueForm,
    RiskCategoryForm,
    TakeOnForm,
    TransferForm,
)
from registry.patients.models import Patient
from registry.patients.operations import (
    change_risk_category,
    end_treatment,
    register_patient,
    reissue_activation_code,
    start_new_course,
    transfer_patient,
    update_care_settings,
)
from registry.patients.queries import by_registry_id, history, status
from registry.permissions import can_view_patient, patient_for_user
from registry.prescribers.queries import by_npi
from registry.rules import fmt
from registry.validation import npi_value
from registry.web.support import (
    actor,
    already_sent,
    apply_errors,
    claim_submission,
    confirm_page,
    confirmed,
    form_data,
    role_required,
    went_back,
)
from registry.web.timeline import patient_sentence, qr_svg, timeline

bp = Blueprint("patients", __name__, url_prefix="/patients")
me = Blueprint("me", __name__, url_prefix="/me")

CARE_ROLES = (Role.PRESCRIBER, Role.DESIGNEE, Role.STAFF)


def visible_patient(registry_id: str) -> Patient:
    """The patient if the signed-in user may see them; otherwise 404 (nothing is revealed)."""
    patient = by_registry_id(db.session(), registry_id)
    if patient is None or not can_view_patient(db.session(), actor(), patient):
        abort(404)
    return patient


def _card(patient: Patient, code: str | None = None, expires: date | None = None) -> str:
    return render_template(
        "patients/card.html", patient=patient, code=code, expires=expires,
        qr=qr_svg(patient.registry_id, _("QR code of registry ID %(registry_id)s",
                                         registry_id=patient.registry_id)),
    )


@bp.route("/new", methods=["GET", "POST"])
@role_required(Role.PRESCRIBER, Role.DESIGNEE)
def register() -> Any:
    from registry.prescribers.views import blocked, need_prescriber

    prescriber = need_prescriber()
    if isinstance(prescriber, Response):
        return prescriber
    stop = blocked(prescriber)
    # Say why before anything is typed (a filled form would end in a bare 403). A form sent
    # anyway (the standing changed meanwhile) is shown again with the reason.
    if stop is not None and request.method == "GET":
        return render_template("prescribers/blocked.html", blocked=stop,
                               heading="Register a patient")
    form = RegisterPatientForm()
    if stop is not None and form.is_submitted():
        form.validate()
        form.form_errors = [*list(form.form_errors), f"{stop.why}. {stop.todo} Nothing was "
                            "saved; what you typed is kept below."]
        return render_template("patients/register.html", form=form, prescriber=prescriber,
                               blocked=stop), 403
    if form.validate_on_submit():
        s = db.session()
        if not claim_submission(s, form):
            return already_sent(url_for("prescribers.patients"))
        data = form_data(form, "first_name", "last_name", "date_of_birth", "email",
                         "risk_category", "consent_signed_on", "birth_defects_consent_signed_on",
                         "guardian_name", "guardian_signed_on", "contraception_start_date",
                         "home_tests_allowed")
        if actor().role == Role.DESIGNEE:
            data["prescriber_id"] = prescriber.id
        data["different_person"] = bool(form.different_person.data)
        try:
            patient, code, expires = register_patient(s, actor(), **data)
        except ValidationError as exc:
            apply_errors(form, exc.errors)
        else:
            flash(f"{patient.full_name} is registered. Give them the card and the activation "
                  "code below: the code is shown only now.", "success")
            return _card(patient, code, expires)
    return render_template("patients/register.html", form=form, prescriber=prescriber)


@bp.get("/<registry_id>")
@role_required(*CARE_ROLES)
def detail(registry_id: str) -> Any:
    patient = visible_patient(registry_id)
    s = db.session()
    decision = status(s, patient)
    is_prescriber = actor().role == Role.PRESCRIBER
    return render_template(
        "patients/detail.html", patient=patient, decision=decision, events=timeline(decision),
        hist=history(s, patient), describe=describe_methods, is_prescriber=is_prescriber,
        is_care=actor().role in (Role.PRESCRIBER, Role.DESIGNEE),
        risk_form=RiskCategoryForm(formdata=None), care_form=CareForm(
            formdata=None, data={"home_tests_allowed": patient.home_tests_allowed}),
        reissue_form=ReissueForm(formdata=None), course_form=NewCourseForm(formdata=None),
    )


@bp.get("/<registry_id>/card")
@role_required(*CARE_ROLES)
def card(registry_id: str) -> Any:
    return _card(visible_patient(registry_id))


@bp.post("/<registry_id>/activation-code")
@role_required(Role.PRESCRIBER, Role.DESIGNEE)
def reissue(registry_id: str) -> Any:
    patient = visible_patient(registry_id)
    form = ReissueForm()
    s = db.session()
    if form.validate_on_submit():
        if not claim_submission(s, form):
            return already_sent(url_for("patients.detail", registry_id=registry_id))
        try:
            code, expires = reissue_activation_code(s, actor(), patient)
        except ValidationError as exc:
            db.rollback_request()
            flash(" ".join(m for msgs in exc.errors.values() for m in msgs), "error")
            return redirect(url_for("patients.detail", registry_id=registry_id))
        flash("A new activation code was issued; earlier codes no longer work.", "success")
        return _card(patient, code, expires)
    return redirect(url_for("patients.detail", registry_id=registry_id))


@bp.route("/<registry_id>/risk-category", methods=["GET", "POST"])
@role_required(Role.PRESCRIBER)
def risk_category(registry_id: str) -> Any:
    patient = visible_patient(registry_id)
    form = RiskCategoryForm()
    if form.validate_on_submit():
        s = db.session()
        if not claim_submission(s, form):
            return already_sent(url_for("patients.detail", registry_id=registry_id))
        try:
            change_risk_category(s, actor(), patient,
                                 **form_data(form, "risk_category", "reason"))
        except ValidationError as exc:
            apply_errors(form, exc.errors)
        else:
            flash("The risk category was changed and the reason recorded.", "success")
            return redirect(url_for("patients.detail", registry_id=registry_id))
    return render_template("patients/simple_form.html", form=form, patient=patient,
                           heading="Change the risk category", submit="Change risk category")


@bp.post("/<registry_id>/care")
@role_required(Role.PRESCRIBER)
def care(registry_id: str) -> Any:
    patient = visible_patient(registry_id)
    form = CareForm()
    s = db.session()
    if form.validate_on_submit():
        if not claim_submission(s, form):
            return already_sent(url_for("patients.detail", registry_id=registry_id))
        update_care_settings(s, actor(), patient,
                             home_tests_allowed=bool(form.home_tests_allowed.data))
        flash("Home tests are now " + ("allowed." if patient.home_tests_allowed else
                                       "not allowed."), "success")
    return redirect(url_for("patients.detail", registry_id=registry_id))


@bp.route("/<registry_id>/end-treatment", methods=["GET", "POST"])
@role_required(Role.PRESCRIBER)
def finish(registry_id: str) -> Any:
    patient = visible_patient(registry_id)
    form = EndTreatmentForm()
    if form.validate_on_submit() and not went_back():
        if not confirmed():
            last = form.last_dose_on.data
            effects = ["end the patient's treatment: no more authorizations in this course "
                       "(a new course starts again from the beginning);",
                       "cancel the patient's open authorization, if there is one, at once;"]
            if patient.can_get_pregnant:
                effects.append("start the end-of-treatment and post-treatment pregnancy tests "
                               "and the 30 days of contraception after the last dose.")
            return confirm_page(
                heading="End treatment", submit="Confirm: end the treatment",
                about=f"end {patient.full_name}'s treatment.",
                facts=[("Last dose", fmt(last) if isinstance(last, date) else str(last))],
                effects=effects)
        s = db.session()
        if not claim_submission(s, form):
            return already_sent(url_for("patients.detail", registry_id=registry_id))
        try:
            end_treatment(s, actor(), patient, **form_data(form, "last_dose_on"))
        except ValidationError as exc:
            apply_errors(form, exc.errors)
        else:
            flash("Treatment end recorded.", "success")
            return redirect(url_for("patients.detail", registry_id=registry_id))
    return render_template("patients/simple_form.html", form=form, patient=patient,
                           heading="End treatment", submit="Record the end of treatment")


@bp.post("/<registry_id>/new-course")
@role_required(Role.PRESCRIBER)
def new_course(registry_id: str) -> Any:
    patient = visible_patient(registry_id)
    form = NewCourseForm()
    s = db.session()
    if form.validate_on_submit():
        if not claim_submission(s, form):
            return already_sent(url_for("patients.detail", registry_id=registry_id))
        try:
            start_new_course(s, actor(), patient,
                             **form_data(form, "contraception_start_date"))
        except ValidationError as exc:
            apply_errors(form, exc.errors)
            return render_template("patients/simple_form.html", form=form, patient=patient,
                                   heading="Start a new course", submit="Start a new course",
                                   action=url_for("patients.new_course",
                                                  registry_id=registry_id))
        flash("A new course of treatment has started.", "success")
    return redirect(url_for("patients.detail", registry_id=registry_id))


@bp.route("/take-on", methods=["GET", "POST"])
@role_required(Role.PRESCRIBER)
def take_on() -> Any:
    """A prescriber becomes the prescriber of record, knowing the ID and date of birth."""
    form = TakeOnForm()
    if form.validate_on_submit():
        s = db.session()
        if not claim_submission(s, form):
            return already_sent(url_for("prescribers.patients"))
        try:
            patient = transfer_patient(s, actor(), **form_data(
                form, "registry_id", "date_of_birth", "reason"))
        except ValidationError as exc:
            apply_errors(form, exc.errors, {"to_prescriber_id": "registry_id"})
        except NotFound as exc:
            apply_errors(form, {"registry_id": [exc.message]})
        else:
            flash(f"You are now {patient.full_name}'s prescriber of record.", "success")
            return redirect(url_for("patients.detail", registry_id=patient.registry_id))
    return render_template("patients/take_on.html", form=form)


@bp.route("/<registry_id>/transfer", methods=["GET", "POST"])
@role_required(Role.STAFF)
def transfer(registry_id: str) -> Any:
    patient = visible_patient(registry_id)
    form = TransferForm()
    if form.validate_on_submit():
        s = db.session()
        if not claim_submission(s, form):
            return already_sent(url_for("patients.detail", registry_id=registry_id))
        try:
            errors = Errors()
            npi = npi_value(errors, "to_prescriber_npi", form.to_prescriber_npi.data)
            errors.raise_if_any()
            target = by_npi(s, npi or "")
            if target is None:
                raise ValidationError(to_prescriber_npi="No enrolled prescriber has this NPI.")
            transfer_patient(s, actor(), registry_id=patient.registry_id,
                             date_of_birth=patient.date_of_birth, to_prescriber_id=target.id,
                             reason=form.reason.data or None)
        except ValidationError as exc:
            apply_errors(form, exc.errors, {"to_prescriber_id": "to_prescriber_npi"})
        else:
            flash(f"{patient.full_name} now has {target.name} as prescriber of record.",
                  "success")
            return redirect(url_for("patients.detail", registry_id=registry_id))
    return render_template("patients/simple_form.html", form=form, patient=patient,
                           heading="Transfer to another prescriber", submit="Transfer",
                           note=f"Prescriber of record now: {patient.prescriber.name} "
                           f"(NPI {patient.prescriber.npi}). Open authorizations are cancelled.")


# --- the patient's own pages ------------------------------------------------------------


def own_patient() -> Patient:
    patient = patient_for_user(db.session(), actor())
    if patient is None:  # pragma: no cover - every patient user has a record
        abort(404)
    return patient


@me.get("/")
@role_required(Role.PATIENT)
def home() -> Any:
    patient = own_patient()
    decision = status(db.session(), patient)
    sentence, tone = patient_sentence(decision)
    return render_template("patients/home.html", patient=patient, decision=decision,
                           sentence=sentence, tone=tone, events=timeline(decision),
                           pregnancy="PREGNANCY_REPORTED" in decision.codes)


@me.get("/card", endpoint="card")
@role_required(Role.PATIENT)
def my_card() -> Any:
    return _card(own_patient())


@me.get("/history", endpoint="history")
@role_required(Role.PATIENT)
def history_page() -> Any:
    patient = own_patient()
    return render_template("patients/history.html", patient=patient,
                           hist=history(db.session(), patient), describe=describe_methods)
