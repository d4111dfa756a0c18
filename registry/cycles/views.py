"""Counseling (prescriber), comprehension questions and contraception (patient)."""

from __future__ import annotations

import secrets
from typing import Any

from flask import Blueprint, flash, redirect, render_template, url_for
from flask_babel import gettext as _

from registry import clock, db
from registry.accounts.models import Role
from registry.cycles.forms import (
    CONTRACEPTION_ALIASES,
    METHOD_HELP,
    ContraceptionFields,
    CounselingForm,
    questions_form,
)
from registry.cycles.operations import (
    already_passed,
    attest_contraception,
    comprehension_questions,
    confirm_counseling,
    review_comprehension,
    take_comprehension,
)
from registry.errors import ValidationError
from registry.patients.queries import status
from registry.patients.views import own_patient, visible_patient
from registry.rules.contraception import PRIMARY_METHODS, SECONDARY_METHODS
from registry.web.support import actor, already_sent, apply_errors, claim_submission, role_required

bp = Blueprint("cycles", __name__)


def _methods_help() -> dict[str, Any]:
    return {"primary": PRIMARY_METHODS, "secondary": SECONDARY_METHODS, "help": METHOD_HELP}


@bp.route("/patients/<registry_id>/counseling", methods=["GET", "POST"])
@role_required(Role.PRESCRIBER)
def counseling(registry_id: str) -> Any:
    patient = visible_patient(registry_id)
    form = CounselingForm()
    if not form.is_submitted() and form.counseled_on.data is None:
        form.counseled_on.data = clock.today()
    if form.validate_on_submit():
        s = db.session()
        if not claim_submission(s, form):
            return already_sent(url_for("patients.detail", registry_id=registry_id))
        data: dict[str, Any] = {"counseled_on": form.counseled_on.data}
        if patient.can_get_pregnant:
            data["contraception"] = form.contraception()
        try:
            confirm_counseling(s, actor(), patient, **data)
        except ValidationError as exc:
            apply_errors(form, exc.errors, CONTRACEPTION_ALIASES)
        else:
            flash("Counseling confirmed.", "success")
            return redirect(url_for("patients.detail", registry_id=registry_id))
    return render_template("cycles/counseling.html", form=form, patient=patient,
                           **_methods_help())


@bp.route("/me/questions", methods=["GET", "POST"])
@role_required(Role.PATIENT)
def questions() -> Any:
    s = db.session()
    patient = own_patient()
    decision = status(s, patient)
    if "PREGNANCY_REPORTED" in decision.codes:
        return render_template("cycles/questions.html", blocked=_("A pregnancy has been "
                               "reported: there are no questions to answer. Talk to your "
                               "prescriber."), form=None, asked=[])
    try:
        cycle, asked = comprehension_questions(s, actor())
    except ValidationError as exc:
        db.rollback_request()
        return render_template("cycles/questions.html", blocked=" ".join(
            m for msgs in exc.errors.values() for m in msgs), form=None, asked=[])
    already = already_passed(s, patient, cycle)
    form = questions_form(asked)
    wrong: set[int] = set()
    if form.validate_on_submit() and already:
        # A look back after passing: graded on the page, nothing stored (no new attempt).
        try:
            wrong = set(review_comprehension(s, actor(), answers={
                str(q.id): form[f"q_{q.id}"].data for q in asked}))
        except ValidationError as exc:
            apply_errors(form, exc.errors, {f"answers.{q.id}": f"q_{q.id}" for q in asked})
        else:
            form.form_token.data = secrets.token_urlsafe(24)
            flash(_("All right.") if not wrong else _("%(wrong)s of %(asked)s answers are "
                  "not right (marked below).", wrong=len(wrong), asked=len(asked)), "info")
        return render_template("cycles/questions.html", form=form, asked=asked, wrong=wrong,
                               already=already, blocked=None, reviewed=True)
    if form.validate_on_submit():
        if not claim_submission(s, form):
            return already_sent(url_for("cycles.questions"))
        answers = {str(q.id): form[f"q_{q.id}"].data for q in asked}
        try:
            attempt = take_comprehension(s, actor(), answers=answers)
        except ValidationError as exc:
            apply_errors(form, exc.errors, {f"answers.{q.id}": f"q_{q.id}" for q in asked})
        else:
            if attempt.passed:
                flash(_("You passed: every answer is right."), "success")
                return redirect(url_for("me.home"))
            wrong = {int(i) for i in attempt.incorrect}
            form.form_token.data = secrets.token_urlsafe(24)  # a retake is a new submission
            form.form_errors.append(
                _("%(wrong)s of %(asked)s answers are not right (marked below). "
                  "Read the hint, change your answers and send them again.", wrong=len(wrong),
                  asked=len(asked)))
    return render_template("cycles/questions.html", form=form, asked=asked, wrong=wrong,
                           already=already, blocked=None)


@bp.route("/me/contraception", methods=["GET", "POST"])
@role_required(Role.PATIENT)
def contraception() -> Any:
    patient = own_patient()
    if not patient.can_get_pregnant:
        # No form that could only end in "recorded only for patients who can get pregnant".
        return render_template("cycles/questions.html", blocked=_("You do not need to enter "
                               "contraception: your risk category is \u201ccannot get "
                               "pregnant\u201d. If this is wrong, tell your prescriber."),
                               form=None, asked=[], heading=_("My contraception"))
    if "PREGNANCY_REPORTED" in status(db.session(), patient).codes:
        return render_template("cycles/questions.html", blocked=_("A pregnancy has been "
                               "reported: there is nothing to enter. Talk to your prescriber."),
                               form=None, asked=[], heading=_("My contraception"))
    form = ContraceptionFields()
    if form.validate_on_submit():
        s = db.session()
        if not claim_submission(s, form):
            return already_sent(url_for("me.home"))
        try:
            entry = attest_contraception(s, actor(), contraception=form.contraception())
        except ValidationError as exc:
            apply_errors(form, exc.errors, CONTRACEPTION_ALIASES)
        else:
            if entry.matches_prescriber:
                flash(_("Thank you: your contraception matches what your prescriber entered."),
                      "success")
            else:
                flash(_("Your contraception does not match what your prescriber entered. Check "
                      "with your prescriber and enter it again."), "error")
            return redirect(url_for("me.home"))
    return render_template("cycles/contraception.html", form=form, **_methods_help())
