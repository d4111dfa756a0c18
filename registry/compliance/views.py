"""Non-compliance actions recorded by program staff."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from sqlalchemy import select

from registry import db
from registry.accounts.models import Role
from registry.compliance.forms import ComplianceForm
from registry.compliance.models import ComplianceAction
from registry.compliance.operations import SUBJECT_MODELS, record_compliance_action
from registry.errors import ValidationError
from registry.web.support import (
    actor,
    already_sent,
    apply_errors,
    claim_submission,
    form_data,
    role_required,
)

bp = Blueprint("compliance", __name__, url_prefix="/staff/compliance")


def subject_name(kind: str, ident: int) -> str:
    obj = db.session().get(SUBJECT_MODELS[kind], ident) if kind in SUBJECT_MODELS else None
    return getattr(obj, "name", f"{kind} {ident}") if obj is not None else f"{kind} {ident}"


@bp.route("/", methods=["GET", "POST"])
@role_required(Role.STAFF)
def actions() -> Any:
    form = ComplianceForm()
    if request.method == "GET":
        if request.args.get("subject_type") in SUBJECT_MODELS:
            form.subject_type.data = request.args["subject_type"]
        if (request.args.get("subject_id") or "").isdigit():
            form.subject_id.data = int(request.args["subject_id"])
    if form.validate_on_submit():
        s = db.session()
        if not claim_submission(s, form):
            return already_sent(url_for("compliance.actions"))
        try:
            row = record_compliance_action(s, actor(), **form_data(
                form, "subject_type", "subject_id", "action", "until", "reason"))
        except ValidationError as exc:
            apply_errors(form, exc.errors)
        else:
            flash(f"Recorded: {row.action} of {subject_name(row.subject_type, row.subject_id)}.",
                  "success")
            return redirect(url_for("compliance.actions"))
    recent = db.session().execute(
        select(ComplianceAction).order_by(ComplianceAction.id.desc()).limit(50)
    ).scalars().all()
    return render_template("compliance/actions.html", form=form, recent=recent,
                           subject_name=subject_name)
