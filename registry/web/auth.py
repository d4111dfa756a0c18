"""Signing in and out, patient activation and prescriber enrollment."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_user, logout_user
from werkzeug.wrappers import Response

from registry import db
from registry.accounts.models import Role, User
from registry.accounts.operations import LoginFailed, authenticate, end_session, open_session
from registry.accounts.signup import SIGNUP_ANSWER, sign_up
from registry.extensions import limiter
from registry.i18n import SESSION_KEY
from registry.patients.operations import activate_patient
from registry.patients.schemas import PatientActivation
from registry.pharmacies.operations import register_pharmacy
from registry.pharmacies.schemas import PharmacistAccount, PharmacyRegistration
from registry.policy import Permission
from registry.prescribers.operations import enroll_prescriber
from registry.prescribers.schemas import PrescriberEnrollment
from registry.web.forms import ActivationForm, EnrollForm, LoginForm, PharmacyRegistrationForm
from registry.web.support import (
    SESSION_ID,
    Done,
    SignedIn,
    actor,
    form_data,
    requires,
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
    language = user.language or session.get(SESSION_KEY)
    session.clear()
    if language:  # the user's stored choice, else the switch's before sign-in
        session[SESSION_KEY] = language
    session[SESSION_ID] = open_session(db.session(), user)
    login_user(SignedIn(user))
    session.permanent = False


@bp.get("/")
@requires(Permission.SIGN_IN)
def home() -> Any:
    if not current_user.is_authenticated:
        return redirect(url_for("auth.login"))
    return redirect(url_for(HOME_BY_ROLE[Role(current_user.role)]))


@bp.route("/login", methods=["GET", "POST"])
@requires(Permission.SIGN_IN)
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
@requires(Permission.SIGN_IN)
def logout() -> Any:
    if current_user.is_authenticated:
        end_session(db.session(), actor(), session.get(SESSION_ID))
    logout_user()
    language = session.get(SESSION_KEY)
    session.clear()
    if language:
        session[SESSION_KEY] = language
    flash(_("You are signed out."), "info")
    return redirect(url_for("auth.login"))


@bp.route("/activate", methods=["GET", "POST"])
@requires(Permission.PATIENTS_ACTIVATE)
@limiter.limit("20 per minute", methods=["POST"])
def activate() -> Any:
    form = ActivationForm()
    done = run_form(form, PatientActivation, activate_patient, sent_to=url_for("auth.login"))
    if isinstance(done, Done):
        assert done.value.user is not None
        start_session(done.value.user)
        flash(_("Your account is active. Welcome!"), "success")
        return redirect(url_for("me.home"))
    return done or render_template("auth/activate.html", form=form)


def _check_your_email() -> Any:
    """The answer of every sign-up page, whether or not the address was known."""
    return render_template("accounts/sent.html", heading="Check your email",
                           message=SIGNUP_ANSWER.detail)


@bp.route("/enroll", methods=["GET", "POST"])
@requires(Permission.PRESCRIBERS_ENROLL)
@limiter.limit("30 per minute", methods=["POST"])
def enroll() -> Any:
    form = EnrollForm()
    state = (form.license_state.data or "").strip().upper() or None
    sent = run_form(form, PrescriberEnrollment,
                    lambda s, data: sign_up(s, lambda: enroll_prescriber(s, data),
                                            what="enroll", password=data.password),
                    sent_to=url_for("auth.login"), extra={"license_state": state})
    if isinstance(sent, Response):
        return sent
    if sent is not None:
        return _check_your_email()
    return render_template("auth/enroll.html", form=form)


@bp.route("/register-pharmacy", methods=["GET", "POST"])
@requires(Permission.PHARMACIES_ENROLL)
@limiter.limit("30 per minute", methods=["POST"])
def register_pharmacy_page() -> Any:
    """A pharmacy registers with its Responsible Site Pharmacist, then activates (RSP page)."""
    form = PharmacyRegistrationForm()
    rsp = {name: form_data(form, f"rsp_{name}")[f"rsp_{name}"]
           for name in PharmacistAccount.model_fields}
    sent = run_form(form, PharmacyRegistration,
                    lambda s, data: sign_up(s, lambda: register_pharmacy(s, data),
                                            what="register_pharmacy",
                                            password=data.rsp.password),
                    sent_to=url_for("auth.login"), extra={"rsp": rsp},
                    aliases={"rsp": "rsp_email"})
    if isinstance(sent, Response):
        return sent
    if sent is not None:
        return _check_your_email()
    return render_template("auth/register_pharmacy.html", form=form)
