"""Signing in and out, patient activation and prescriber enrollment."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, session, url_for
from flask_login import current_user, login_user, logout_user

from registry import db
from registry.accounts.models import Role, User
from registry.accounts.operations import LoginFailed, authenticate, end_session, open_session
from registry.errors import ValidationError
from registry.extensions import limiter
from registry.patients.operations import activate_patient
from registry.patients.schemas import PatientActivation
from registry.pharmacies.operations import register_pharmacy
from registry.prescribers.operations import enroll_prescriber
from registry.web.forms import ActivationForm, EnrollForm, LoginForm, PharmacyRegistrationForm
from registry.web.support import (
    SESSION_ID,
    Done,
    SignedIn,
    actor,
    already_sent,
    apply_errors,
    claim_submission,
    form_data,
    run_form,
    safe_next,
)

bp = Blueprint("auth", __name__)

HOME_BY_ROLE = {
    Role.PRESCRIBER: "prescribers.patients",
    Role.DESIGNEE: "prescribers.patients",
    Role.PHARMACIST: "authorizations.authorize",
    Role.PATIENT: "me.home",
    Role.STAFF: "staff.dashboard",
}


def start_session(user: User) -> None:
    """A fresh session at every sign-in: nothing from before survives (nor its CSRF token).
    It is also recorded on the server (user_sessions), which can end it."""
    session.clear()
    session[SESSION_ID] = open_session(db.session(), user)
    login_user(SignedIn(user))
    session.permanent = False


@bp.get("/")
def home() -> Any:
    if not current_user.is_authenticated:
        return redirect(url_for("auth.login"))
    return redirect(url_for(HOME_BY_ROLE[Role(current_user.role)]))


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit("30 per minute", methods=["POST"])
def login() -> Any:
    form = LoginForm()
    if request.method == "GET":
        form.next.data = safe_next(request.args.get("next")) or ""
    if form.validate_on_submit():
        try:
            user = authenticate(db.session(), email=form.email.data, password=form.password.data)
        except LoginFailed as exc:
            # The failure count (and a lock) is committed with this response on purpose.
            form.form_errors.append(exc.message)
            return render_template("auth/login.html", form=form), 200
        start_session(user)
        return redirect(safe_next(form.next.data) or url_for("auth.home"))
    return render_template("auth/login.html", form=form)


@bp.post("/logout")
def logout() -> Any:
    if current_user.is_authenticated:
        end_session(db.session(), actor(), session.get(SESSION_ID))
    logout_user()
    session.clear()
    flash("You are signed out.", "info")
    return redirect(url_for("auth.login"))


@bp.route("/activate", methods=["GET", "POST"])
@limiter.limit("20 per minute", methods=["POST"])
def activate() -> Any:
    form = ActivationForm()
    done = run_form(form, PatientActivation, activate_patient, sent_to=url_for("auth.login"))
    if isinstance(done, Done):
        assert done.value.user is not None
        start_session(done.value.user)
        flash("Your account is active. Welcome!", "success")
        return redirect(url_for("me.home"))
    return done or render_template("auth/activate.html", form=form)


@bp.route("/enroll", methods=["GET", "POST"])
def enroll() -> Any:
    form = EnrollForm()
    if form.validate_on_submit():
        s = db.session()
        if not claim_submission(s, form):
            return already_sent(url_for("auth.login"))
        try:
            prescriber = enroll_prescriber(s, **form_data(
                form, "email", "password", "first_name", "last_name", "npi", "license_state"))
        except ValidationError as exc:
            apply_errors(form, exc.errors)
        else:
            start_session(prescriber.user)
            flash("You are enrolled. Attest to the program requirements to become active.",
                  "success")
            return redirect(url_for("prescribers.attest"))
    return render_template("auth/enroll.html", form=form)


@bp.route("/register-pharmacy", methods=["GET", "POST"])
def register_pharmacy_page() -> Any:
    """A pharmacy registers with its Responsible Site Pharmacist, then activates (RSP page)."""
    form = PharmacyRegistrationForm()
    if form.validate_on_submit():
        s = db.session()
        if not claim_submission(s, form):
            return already_sent(url_for("auth.login"))
        data = form_data(form, "name", "ncpdp_id", "npi", "address", "rsp_first_name",
                         "rsp_last_name", "rsp_email", "rsp_password", "rsp_license_number")
        rsp = {key.removeprefix("rsp_"): data.pop(key) for key in list(data)
               if key.startswith("rsp_")}
        try:
            pharmacy = register_pharmacy(s, rsp=rsp, **data)
        except ValidationError as exc:
            apply_errors(form, exc.errors, {"rsp": "rsp_email"})
        else:
            start_session(pharmacy.pharmacists[0].user)
            flash(f"{pharmacy.name} is registered. Activate it below to start asking for "
                  "authorizations.", "success")
            return redirect(url_for("pharmacies.manage"))
    return render_template("auth/register_pharmacy.html", form=form)
