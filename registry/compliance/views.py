"""Non-compliance actions recorded by program staff."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from sqlalchemy import select

from registry import db
from registry.compliance.forms import ComplianceForm
from registry.compliance.models import ComplianceAction
from registry.compliance.operations import SUBJECT_MODELS, record_compliance_action
from registry.compliance.schemas import ComplianceActionInput
from registry.policy import Permission
from registry.rules import fmt
from registry.staff.queries import find_stakeholders, stakeholder_label
from registry.web.support import (
    Done,
    actor,
    confirm_page,
    confirmed,
    requires,
    run_form,
    went_back,
)

bp = Blueprint("compliance", __name__, url_prefix="/staff/compliance")


def subject_name(kind: str, ident: int, *, label: bool = False) -> str:
    """The subject's name (``label``: with the number staff know them by)."""
    obj = db.session().get(SUBJECT_MODELS[kind], ident) if kind in SUBJECT_MODELS else None
    if obj is None:
        return kind
    return stakeholder_label(obj) if label else str(obj.name)


KEYS = {"prescriber": lambda o: o.npi, "pharmacy": lambda o: o.ncpdp_id,
        "pharmacist": lambda o: o.license_number, "designee": lambda o: o.user.email}


def _subject_id(form: ComplianceForm) -> int | None:
    ident = str(form.subject_id.data or "")
    return int(ident) if ident.isdigit() else None


def _find_subject(form: ComplianceForm) -> bool:
    """Staff name the subject by what they know (name, NPI, NCPDP number, licence, email);
    exactly one match sets ``subject_id``, otherwise the field says what to type."""
    kind = str(form.subject_type.data or "")
    text = (form.subject.data or "").strip()
    if not text:
        if str(form.subject_id.data or "").isdigit():
            return True
        form.subject.errors = [*form.subject.errors, "This field is required."]
        return False
    if kind not in SUBJECT_MODELS:
        return True  # the operation names the field
    found = find_stakeholders(db.session(), kind, text)
    if len(found) == 1:
        form.subject_id.data = str(found[0].id)
        return True
    form.subject_id.data = ""
    if not found:
        form.subject.errors = [*form.subject.errors, f"No {kind} matches “{text}”."]
    else:
        form.subject.errors = [*form.subject.errors, f"{len(found)} match: "
                               + "; ".join(stakeholder_label(o) for o in found)
                               + ". Type the number to choose one."]
    return False


def _confirm(form: ComplianceForm) -> str:
    kind = str(form.subject_type.data)
    name = subject_name(kind, int(form.subject_id.data or 0))
    until = form.until.data
    what = ("suspend" if form.action.data == "suspension" else "deactivate")
    effects = [f"make the {kind} inactive in the program at once"
               + (f", until {fmt(until)} included;" if what == "suspend" and until else ";")]
    if kind == "prescriber":
        effects.append("cancel every open authorization of their patients; pharmacies are "
                       "refused new ones for those patients while the prescriber is inactive.")
    elif kind == "pharmacy":
        effects.append("cancel the pharmacy's open authorizations and refuse its new requests.")
    else:
        effects.append("refuse their acts in the program while they are inactive.")
    return confirm_page(
        heading="Non-compliance action", submit=f"Confirm: {what} {name}",
        about=f"{what} {kind} {name}.", facts=[("Reason", str(form.reason.data or ""))],
        effects=effects)


@bp.route("/", methods=["GET", "POST"])
@requires(Permission.COMPLIANCE_ACT)
def actions() -> Any:
    form = ComplianceForm()
    if request.method == "GET":
        if request.args.get("subject_type") in SUBJECT_MODELS:
            form.subject_type.data = request.args["subject_type"]
        form.subject.data = request.args.get("subject") or None
        ident = request.args.get("subject_id") or ""
        kind = str(form.subject_type.data or "")
        obj = db.session().get(SUBJECT_MODELS[kind], int(ident)) if (
            ident.isdigit() and kind in SUBJECT_MODELS) else None
        if obj is not None and not form.subject.data:
            form.subject.data = KEYS[kind](obj)
        if form.subject.data and form.subject_type.data:
            _find_subject(form)
            form.subject.errors = []
    if form.validate_on_submit() and not went_back() and _find_subject(form):
        stops = form.action.data in ("suspension", "deactivation")
        if stops and not confirmed():
            return _confirm(form)
        outcome = run_form(form, ComplianceActionInput,
                           lambda s, data: record_compliance_action(s, actor(), data),
                           sent_to=url_for("compliance.actions"),
                           extra={"subject_id": _subject_id(form)})
        if isinstance(outcome, Done):
            row = outcome.value
            flash(f"Recorded: {row.action} of {subject_name(row.subject_type, row.subject_id)}.",
                  "success")
            return redirect(url_for("compliance.actions"))
        if outcome is not None:
            return outcome
    recent = db.session().execute(
        select(ComplianceAction).order_by(ComplianceAction.id.desc()).limit(50)
    ).scalars().all()
    return render_template("compliance/actions.html", form=form, recent=recent,
                           subject_name=subject_name)
