"""Patient pages: registration with the ID card, the record, and the patient's own pages."""

from __future__ import annotations

from datetime import date
from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy.orm import Session
from werkzeug.wrappers import Response

from registry import db
from registry.accounts.models import Role
from registry.errors import NotFound, ValidationError
from registry.i18n.words import describe_methods
from registry.patients.forms import (
    CareForm,
    DeactivateForm,
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
    deactivate_patient,
    end_treatment,
    register_patient,
    reissue_activation_code,
    start_new_course,
    transfer_patient,
    update_patient,
)
from registry.patients.queries import by_registry_id, history, status
from registry.patients.schemas import (
    Deactivation,
    NewCourse,
    NewRiskCategory,
    PatientChanges,
    PatientRegistration,
    Transfer,
    TreatmentEnding,
)
from registry.permissions import can_view_patient, patient_for_user
from registry.policy import Permission as P
from registry.rules import fmt
from registry.web.support import (
    Done,
    OneTimeForm,
    actor,
    already_sent,
    claim_submission,
    confirm_page,
    confirmed,
    requires,
    run_form,
    went_back,
)
from registry.web.timeline import patient_sentence, qr_svg, timeline

bp = Blueprint("patients", __name__, url_prefix="/patients")
me = Blueprint("me", __name__, url_prefix="/me")


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


def _back_to(patient: Patient) -> str:
    return url_for("patients.detail", registry_id=patient.registry_id)


def _simple(form: OneTimeForm, patient: Patient, heading: str, submit: str,
            **extra: Any) -> str:
    return render_template("patients/simple_form.html", form=form, patient=patient,
                           heading=heading, submit=submit, **extra)


@bp.route("/new", methods=["GET", "POST"])
@requires(P.PATIENTS_REGISTER)
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
    extra = {"different_person": bool(form.different_person.data),
             "prescriber_id": prescriber.id if actor().role == Role.DESIGNEE else None}
    done = run_form(form, PatientRegistration,
                    lambda s, data: register_patient(s, actor(), data),
                    sent_to=url_for("prescribers.patients"), extra=extra)
    if isinstance(done, Done):
        patient, code, expires = done.value
        flash(f"{patient.full_name} is registered. Give them the card and the activation "
              "code below: the code is shown only now.", "success")
        return _card(patient, code, expires)
    return done or render_template("patients/register.html", form=form, prescriber=prescriber)


@bp.get("/<registry_id>")
@requires(P.CARE_RECORD_READ)
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
@requires(P.CARE_RECORD_READ)
def card(registry_id: str) -> Any:
    return _card(visible_patient(registry_id))


@bp.post("/<registry_id>/activation-code")
@requires(P.PATIENTS_ACTIVATION_CODES_ISSUE)
def reissue(registry_id: str) -> Any:
    patient = visible_patient(registry_id)
    form = ReissueForm()
    s = db.session()
    if form.validate_on_submit():
        if not claim_submission(s, form):
            return already_sent(_back_to(patient))
        try:
            code, expires = reissue_activation_code(s, actor(), patient)
        except ValidationError as exc:
            db.rollback_request()
            flash(" ".join(m for msgs in exc.errors.values() for m in msgs), "error")
            return redirect(_back_to(patient))
        flash("A new activation code was issued; earlier codes no longer work.", "success")
        return _card(patient, code, expires)
    return redirect(_back_to(patient))


@bp.route("/<registry_id>/risk-category", methods=["GET", "POST"])
@requires(P.PATIENTS_RISK_CATEGORY_CHANGE)
def risk_category(registry_id: str) -> Any:
    patient = visible_patient(registry_id)
    form = RiskCategoryForm()
    done = run_form(form, NewRiskCategory,
                    lambda s, data: change_risk_category(s, actor(), patient, data),
                    sent_to=_back_to(patient))
    if isinstance(done, Done):
        flash("The risk category was changed and the reason recorded.", "success")
        return redirect(_back_to(patient))
    return done or _simple(form, patient, "Change the risk category", "Change risk category")


@bp.post("/<registry_id>/care")
@requires(P.PATIENTS_HOME_TESTS_ALLOW)
def care(registry_id: str) -> Any:
    patient = visible_patient(registry_id)
    form = CareForm()
    done = run_form(form, PatientChanges,
                    lambda s, data: update_patient(s, actor(), patient, data),
                    sent_to=_back_to(patient))
    if isinstance(done, Done):
        flash("Home tests are now " + ("allowed." if patient.home_tests_allowed else
                                       "not allowed."), "success")
    elif done is None and form.is_submitted():
        flash(" ".join([*form.form_errors, *(m for f in form for m in f.errors)]), "error")
    return done if isinstance(done, Response) else redirect(_back_to(patient))


@bp.route("/<registry_id>/end-treatment", methods=["GET", "POST"])
@requires(P.PATIENTS_TREATMENT_END)
def finish(registry_id: str) -> Any:
    patient = visible_patient(registry_id)
    form = EndTreatmentForm()
    if form.is_submitted() and not went_back() and not confirmed() and form.validate():
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
    done = run_form(form, TreatmentEnding,
                    lambda s, data: end_treatment(s, actor(), patient, data),
                    sent_to=_back_to(patient)) if confirmed() else None
    if isinstance(done, Done):
        flash("Treatment end recorded.", "success")
        return redirect(_back_to(patient))
    return done or _simple(form, patient, "End treatment", "Record the end of treatment")


@bp.post("/<registry_id>/new-course")
@requires(P.PATIENTS_COURSE_START)
def new_course(registry_id: str) -> Any:
    patient = visible_patient(registry_id)
    form = NewCourseForm()
    done = run_form(form, NewCourse,
                    lambda s, data: start_new_course(s, actor(), patient, data),
                    sent_to=_back_to(patient))
    if isinstance(done, Done):
        flash("A new course of treatment has started.", "success")
    elif done is None and form.is_submitted() and (form.errors or form.form_errors):
        return _simple(form, patient, "Start a new course", "Start a new course",
                       action=url_for("patients.new_course", registry_id=registry_id))
    return done if isinstance(done, Response) else redirect(_back_to(patient))


@bp.route("/take-on", methods=["GET", "POST"])
@requires(P.PATIENTS_TAKE_ON)
def take_on() -> Any:
    """A prescriber becomes the prescriber of record, knowing the ID and date of birth."""

    def take(session: Session, data: Transfer) -> Patient:
        try:
            return transfer_patient(session, actor(), data)
        except NotFound as exc:  # a field error here: the ID or date of birth was mistyped
            raise ValidationError(registry_id=exc.message) from None

    form = TakeOnForm()
    done = run_form(form, Transfer, take, sent_to=url_for("prescribers.patients"))
    if isinstance(done, Done):
        flash(f"You are now {done.value.full_name}'s prescriber of record.", "success")
        return redirect(_back_to(done.value))
    return done or render_template("patients/take_on.html", form=form)


@bp.route("/<registry_id>/transfer", methods=["GET", "POST"])
@requires(P.PATIENTS_REASSIGN)
def transfer(registry_id: str) -> Any:
    patient = visible_patient(registry_id)
    form = TransferForm()
    done = run_form(form, Transfer, lambda s, data: transfer_patient(s, actor(), data),
                    sent_to=_back_to(patient),
                    extra={"registry_id": patient.registry_id,
                           "prescriber_npi": (form.to_prescriber_npi.data or "").strip()
                           or None},
                    aliases={"prescriber_npi": "to_prescriber_npi"})
    if isinstance(done, Done):
        flash(f"{patient.full_name} now has {patient.prescriber.name} as prescriber of record.",
              "success")
        return redirect(_back_to(patient))
    return done or _simple(
        form, patient, "Transfer to another prescriber", "Transfer",
        note=f"Prescriber of record now: {patient.prescriber.name} "
        f"(NPI {patient.prescriber.npi}). Open authorizations are cancelled.")


@bp.route("/<registry_id>/deactivate", methods=["GET", "POST"])
@requires(P.PATIENTS_DEACTIVATE)
def deactivate(registry_id: str) -> Any:
    """The prescriber of record or staff take the patient out of the program (rules §2)."""
    patient = visible_patient(registry_id)
    form = DeactivateForm()
    if form.is_submitted() and not went_back() and not confirmed() and form.validate():
        return confirm_page(
            heading="Deactivate the patient", submit="Confirm: deactivate",
            about=f"take {patient.full_name} out of the program.",
            facts=[("Reason", form.reason.data or "")],
            effects=["no more authorizations for this patient;",
                     "cancel the patient's open authorization, if there is one, at once."])
    done = run_form(form, Deactivation,
                    lambda s, data: deactivate_patient(s, actor(), patient, data),
                    sent_to=_back_to(patient)) if confirmed() else None
    if isinstance(done, Done):
        flash(f"{patient.full_name} is deactivated.", "success")
        return redirect(_back_to(patient))
    return done or _simple(form, patient, "Deactivate the patient", "Deactivate",
                           note="The patient leaves the program; open authorizations are "
                           "cancelled. Give the reason (kept in the audit log).")


# --- the patient's own pages ------------------------------------------------------------


def own_patient() -> Patient:
    patient = patient_for_user(db.session(), actor())
    if patient is None:  # pragma: no cover - every patient user has a record
        abort(404)
    return patient


@me.get("/")
@requires(P.MY_STEPS_READ)
def home() -> Any:
    patient = own_patient()
    decision = status(db.session(), patient)
    sentence, tone = patient_sentence(decision)
    return render_template("patients/home.html", patient=patient, decision=decision,
                           sentence=sentence, tone=tone, events=timeline(decision),
                           pregnancy="PREGNANCY_REPORTED" in decision.codes)


@me.get("/card", endpoint="card")
@requires(P.MY_STEPS_READ)
def my_card() -> Any:
    return _card(own_patient())


@me.get("/history", endpoint="history")
@requires(P.MY_STEPS_READ)
def history_page() -> Any:
    patient = own_patient()
    return render_template("patients/history.html", patient=patient,
                           hist=history(db.session(), patient), describe=describe_methods)
