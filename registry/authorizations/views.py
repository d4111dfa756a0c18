"""The pharmacist's pages: ask for an authorization, record the dispense, reverse, look up."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from sqlalchemy import select

from registry import clock, db
from registry.accounts.models import Role
from registry.authorizations.forms import AuthorizeForm, DispenseForm, ReverseForm
from registry.authorizations.models import Authorization, AuthorizationDecision
from registry.authorizations.operations import (
    effective_status,
    find_authorization,
    record_dispense,
    request_authorization,
    reverse_authorization,
)
from registry.authorizations.queries import do_not_dispense, open_authorization_at
from registry.errors import Conflict, NotFound, ValidationError
from registry.patients.models import Patient
from registry.permissions import pharmacist_for_user
from registry.prescribers.models import Prescriber
from registry.rules import fmt
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

bp = Blueprint("authorizations", __name__, url_prefix="/pharmacy")

FIELDS = ("registry_id", "date_of_birth", "prescriber_npi", "days_supply", "quantity",
          "refills")


@bp.route("/authorize", methods=["GET", "POST"])
@role_required(Role.PHARMACIST)
def authorize() -> Any:
    """One form; the answer is an RMA in large type or every reason in plain words.

    The form token doubles as the idempotency key: sending the same form twice replays the
    first answer and issues nothing more.
    """
    form = AuthorizeForm()
    outcome = None
    if form.validate_on_submit():
        s = db.session()
        try:
            outcome = request_authorization(s, actor(), idempotency_key=form.form_token.data,
                                            **form_data(form, *FIELDS))
        except ValidationError as exc:
            apply_errors(form, exc.errors)
    dispense_form = None
    if outcome is not None and outcome.authorization is not None:
        auth = outcome.authorization
        dispense_form = DispenseForm(formdata=None, data={
            "dispensed_on": clock.today(), "quantity": auth.quantity,
            "days_supply": auth.days_supply})
    if outcome is not None and outcome.authorization is not None:
        form = AuthorizeForm(formdata=None)  # done: the next request starts blank
    elif outcome is not None:
        # Kept for a corrected retry, under a new token (a double click already went out
        # with the old one and is replayed, not repeated).
        form.form_token.data = AuthorizeForm(formdata=None).form_token.data
    held = None
    if outcome is not None and "AUTHORIZATION_ALREADY_ISSUED" in (
            r.get("code") for r in outcome.reasons):
        held = open_authorization_at(db.session(), outcome.decision.patient_id,
                                     outcome.decision.pharmacy_id, clock.today())
    if outcome is None and not form.errors:
        form.registry_id.render_kw = {**(form.registry_id.render_kw or {}), "autofocus": True}
    return render_template("authorizations/authorize.html", form=form, outcome=outcome,
                           dispense_form=dispense_form, held=held)


def _mine(rma: str) -> Authorization:
    return find_authorization(db.session(), actor(), rma)


@bp.get("/authorizations")
@role_required(Role.PHARMACIST)
def recent() -> Any:
    s = db.session()
    rma = (request.args.get("rma") or "").strip()
    if rma:
        try:
            auth = _mine(rma)
        except NotFound:
            flash(f"No authorization of this pharmacy has the RMA {rma}.", "error")
        else:
            return redirect(url_for("authorizations.detail", rma=auth.rma))
    me = pharmacist_for_user(s, actor())
    assert me is not None
    auths = s.execute(
        select(Authorization).where(Authorization.pharmacy_id == me.pharmacy_id)
        .order_by(Authorization.issued_at.desc()).limit(50)
    ).scalars().all()
    denials = s.execute(
        select(AuthorizationDecision).where(
            AuthorizationDecision.pharmacy_id == me.pharmacy_id,
            AuthorizationDecision.eligible.is_(False),
        ).order_by(AuthorizationDecision.id.desc()).limit(20)
    ).scalars().all()
    ids = {d.patient_id for d in denials if d.patient_id is not None}
    patients = {p.id: p for p in s.execute(select(Patient).where(Patient.id.in_(ids))
                                           ).scalars()} if ids else {}
    return render_template("authorizations/recent.html", auths=auths, denials=denials,
                           patients=patients, status_of=effective_status, rma=rma)


@bp.get("/authorizations/<rma>")
@role_required(Role.PHARMACIST)
def detail(rma: str) -> Any:
    auth = _mine(rma)
    return _detail(auth)


def _lost_race(rma: str, exc: Conflict) -> Any:
    """Another request changed the RMA first: nothing was stored; show it as it is now."""
    db.rollback_request()
    flash(exc.message, "error")
    return _detail(_mine(rma)), 409


def _detail(auth: Authorization, dispense_form: DispenseForm | None = None,
            reverse_form: ReverseForm | None = None) -> Any:
    return render_template(
        "authorizations/detail.html", auth=auth, status=effective_status(auth),
        stop=do_not_dispense(db.session(), auth),
        prescriber=db.session().get(Prescriber, auth.prescriber_id),
        dispense_form=dispense_form or DispenseForm(formdata=None, data={
            "dispensed_on": clock.today(), "quantity": auth.quantity,
            "days_supply": auth.days_supply}),
        reverse_form=reverse_form or ReverseForm(formdata=None),
    )


@bp.post("/authorizations/<rma>/dispense")
@role_required(Role.PHARMACIST)
def dispense(rma: str) -> Any:
    auth = _mine(rma)
    form = DispenseForm()
    if form.validate_on_submit():
        s = db.session()
        if not claim_submission(s, form):
            return already_sent(url_for("authorizations.detail", rma=auth.rma))
        try:
            record_dispense(s, actor(), auth, **form_data(form, "dispensed_on", "quantity",
                                                          "days_supply"))
        except ValidationError as exc:
            apply_errors(form, exc.errors, {"rma": "dispensed_on"})
            return _detail(auth, dispense_form=form)
        except Conflict as exc:
            return _lost_race(rma, exc)
        flash(f"Dispense recorded against RMA {auth.rma}.", "success")
        return redirect(url_for("authorizations.detail", rma=auth.rma))
    return _detail(auth, dispense_form=form)


def _confirm_reversal(auth: Authorization, form: ReverseForm) -> str:
    dispensed = effective_status(auth) == "dispensed"
    effects = (
        ["mark the dispense as returned to stock: it no longer counts for the patient's "
         "next refill date;"] if dispensed else
        ["end this RMA: nothing can be dispensed against it any more;"]
    ) + [f"free the patient's cycle for a new authorization while its window is open "
         f"(until {fmt(auth.do_not_dispense_after)})."]
    return confirm_page(
        heading=f"Reverse RMA {auth.rma}", submit="Confirm: reverse this authorization",
        about=f"reverse RMA {auth.rma} for {auth.patient.full_name}"
        + (" (already dispensed)." if dispensed else "."),
        facts=[("Reason", str(form.reason.data or ""))], effects=effects)


@bp.post("/authorizations/<rma>/reverse")
@role_required(Role.PHARMACIST)
def reverse(rma: str) -> Any:
    auth = _mine(rma)
    form = ReverseForm()
    if form.validate_on_submit() and not went_back():
        if not confirmed():
            return _confirm_reversal(auth, form)
        s = db.session()
        if not claim_submission(s, form):
            return already_sent(url_for("authorizations.detail", rma=auth.rma))
        try:
            reverse_authorization(s, actor(), auth, **form_data(form, "reason"))
        except ValidationError as exc:
            apply_errors(form, exc.errors, {"rma": "reason"})
            return _detail(auth, reverse_form=form)
        except Conflict as exc:
            return _lost_race(rma, exc)
        flash(f"RMA {auth.rma} is reversed.", "success")
        return redirect(url_for("authorizations.detail", rma=auth.rma))
    return _detail(auth, reverse_form=form)
