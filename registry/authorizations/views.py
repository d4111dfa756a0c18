"""The pharmacist's pages: ask for an authorization, record the dispense, reverse, look up."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from sqlalchemy import select
from werkzeug.wrappers import Response

from registry import clock, db
from registry.authorizations.forms import AuthorizeForm, DispenseForm, ReverseForm
from registry.authorizations.models import Authorization, AuthorizationDecision
from registry.authorizations.operations import (
    effective_status,
    find_authorization,
    record_dispense,
    request_authorization,
    reverse_authorization,
)
from registry.authorizations.queries import (
    do_not_dispense,
    open_authorization_at,
    pharmacy_authorizations,
)
from registry.authorizations.schemas import AuthorizationRequest, Dispensation, ReversalReason
from registry.contract import parse
from registry.errors import Conflict, NotFound, ValidationError
from registry.patients.models import Patient
from registry.permissions import pharmacist_for_user
from registry.policy import Permission
from registry.prescribers.models import Prescriber
from registry.rules import fmt
from registry.web.support import (
    actor,
    apply_errors,
    confirm_page,
    confirmed,
    form_data,
    requires,
    run_form,
    went_back,
)

bp = Blueprint("authorizations", __name__, url_prefix="/pharmacy")

@bp.route("/authorize", methods=["GET", "POST"])
@requires(Permission.AUTHORIZATIONS_REQUEST)
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
            req = parse(AuthorizationRequest,
                        form_data(form, *AuthorizationRequest.model_fields))
            outcome = request_authorization(s, actor(), req,
                                            idempotency_key=form.form_token.data)
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
@requires(Permission.PHARMACIES_AUTHORIZATIONS_LIST)
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
    auths = pharmacy_authorizations(s, actor(), me.pharmacy_id, limit=50).items
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
@requires(Permission.PHARMACIES_AUTHORIZATIONS_LIST)
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
@requires(Permission.DISPENSES_RECORD)
def dispense(rma: str) -> Any:
    auth = _mine(rma)
    form = DispenseForm()
    try:
        sent = run_form(form, Dispensation,
                        lambda s, data: record_dispense(s, actor(), auth, data),
                        sent_to=url_for("authorizations.detail", rma=auth.rma),
                        aliases={"rma": "dispensed_on"})
    except Conflict as exc:
        return _lost_race(rma, exc)
    if isinstance(sent, Response):
        return sent
    if sent is None:
        return _detail(auth, dispense_form=form)
    flash(f"Dispense recorded against RMA {auth.rma}.", "success")
    return redirect(url_for("authorizations.detail", rma=auth.rma))


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
@requires(Permission.DISPENSES_REVERSE)
def reverse(rma: str) -> Any:
    auth = _mine(rma)
    form = ReverseForm()
    if went_back():
        return _detail(auth, reverse_form=form)
    if form.validate_on_submit() and not confirmed():
        return _confirm_reversal(auth, form)
    try:
        sent = run_form(form, ReversalReason,
                        lambda s, data: reverse_authorization(s, actor(), auth, data),
                        sent_to=url_for("authorizations.detail", rma=auth.rma),
                        aliases={"rma": "reason"})
    except Conflict as exc:
        return _lost_race(rma, exc)
    if isinstance(sent, Response):
        return sent
    if sent is None:
        return _detail(auth, reverse_form=form)
    flash(f"RMA {auth.rma} is reversed.", "success")
    return redirect(url_for("authorizations.detail", rma=auth.rma))
