"""Pages behind the account emails: forgot password, reset it, confirm an address."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, render_template, url_for
from flask_wtf import FlaskForm
from wtforms import EmailField, PasswordField

from registry import db
from registry.accounts.links import (
    LINK_REFUSED,
    confirm_email,
    link_works,
    request_password_reset,
    reset_password,
)
from registry.accounts.models import AccountLinkPurpose
from registry.errors import ValidationError
from registry.extensions import limiter
from registry.policy import Permission
from registry.security import PASSWORD_HINT
from registry.web.support import apply_errors, requires

bp = Blueprint("accounts", __name__)

FORGOT_ANSWER = ("If an account uses this address, we sent it a link to choose a new "
                 "password. It works once, for a short while. Check your inbox (and spam).")


class ForgotForm(FlaskForm):
    email = EmailField("Email", render_kw={"autocomplete": "username"})


class ResetForm(FlaskForm):
    password = PasswordField("New password", description=PASSWORD_HINT,
                             render_kw={"autocomplete": "new-password"})


class ConfirmForm(FlaskForm):
    pass


def _account_mail_limit() -> str:
    from flask import current_app

    return str(current_app.config["API_RATELIMIT_ACCOUNT_MAIL"])


@bp.route("/forgot-password", methods=["GET", "POST"])
@requires(Permission.ACCOUNT_RECOVER)
@limiter.limit(_account_mail_limit, methods=["POST"])
def forgot_password() -> Any:
    form = ForgotForm()
    if form.validate_on_submit():
        request_password_reset(db.session(), email=form.email.data)
        # The same page whether or not the address has an account.
        return render_template("accounts/sent.html", heading="Check your email",
                               message=FORGOT_ANSWER)
    return render_template("accounts/forgot.html", form=form)


@bp.route("/reset-password/<token>", methods=["GET", "POST"], endpoint="reset_password")
@requires(Permission.ACCOUNT_RECOVER)
@limiter.limit("20 per minute", methods=["POST"])
def reset_password_page(token: str) -> Any:
    s = db.session()
    if not link_works(s, token, AccountLinkPurpose.PASSWORD_RESET):
        return render_template("accounts/link_refused.html", message=LINK_REFUSED), 410
    form = ResetForm()
    if form.validate_on_submit():
        try:
            reset_password(s, token=token, password=form.password.data)
        except ValidationError as exc:
            if "token" in exc.errors:
                db.rollback_request()
                return render_template("accounts/link_refused.html", message=LINK_REFUSED), 410
            apply_errors(form, exc.errors)
        else:
            flash("Your password is changed, and every other sign-in of your account has "
                  "ended. Sign in with the new password.", "success")
            return redirect(url_for("auth.login"))
    return render_template("accounts/reset.html", form=form, token=token)


@bp.route("/confirm-email/<token>", methods=["GET", "POST"], endpoint="confirm_email")
@requires(Permission.ACCOUNT_RECOVER)
@limiter.limit("20 per minute", methods=["POST"])
def confirm_email_page(token: str) -> Any:
    """A button, not a GET that writes: mail scanners that open links confirm nothing."""
    s = db.session()
    if not link_works(s, token, AccountLinkPurpose.CONFIRM_EMAIL):
        return render_template("accounts/link_refused.html", message=LINK_REFUSED), 410
    form = ConfirmForm()
    if form.validate_on_submit():
        try:
            confirm_email(s, token=token)
        except ValidationError:
            db.rollback_request()
            return render_template("accounts/link_refused.html", message=LINK_REFUSED), 410
        flash("Your email address is confirmed. You can sign in.", "success")
        return redirect(url_for("auth.login"))
    return render_template("accounts/confirm.html", form=form, token=token)
