"""The pharmacy page: standing, and for the Responsible Site Pharmacist, activation and staff."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, url_for
from sqlalchemy import select
from werkzeug.wrappers import Response

from registry import clock, db
from registry.errors import ValidationError
from registry.params import current as current_params
from registry.permissions import pharmacist_for_user
from registry.pharmacies.forms import (
    ActivateForm,
    PharmacistForm,
    PharmacySystemForm,
    RemoveForm,
    SystemActionForm,
    TrainingForm,
)
from registry.pharmacies.models import Pharmacist, Pharmacy, PharmacySystem
from registry.pharmacies.operations import (
    activate_pharmacy,
    add_pharmacist,
    record_training,
    remove_pharmacist,
    require_rsp,
)
from registry.pharmacies.schemas import (
    PharmacistAddition,
    PharmacyActivation,
    PharmacySystemRegistration,
    TrainingRecord,
)
from registry.pharmacies.systems import (
    deactivate_system,
    find_system,
    list_systems,
    register_system,
    rotate_credential,
)
from registry.policy import Permission
from registry.rules import StakeholderFacts, pharmacist_standing, pharmacy_standing
from registry.rules.stakeholders import reminder_due
from registry.web.support import (
    actor,
    already_sent,
    claim_submission,
    confirm_page,
    confirmed,
    requires,
    run_form,
    went_back,
)

bp = Blueprint("pharmacies", __name__, url_prefix="/pharmacy")


def _mine() -> tuple[Pharmacist, Pharmacy]:
    me = pharmacist_for_user(db.session(), actor())
    if me is None:  # pragma: no cover
        abort(404)
    return me, me.pharmacy


def _page(activate: ActivateForm | None = None, add: PharmacistForm | None = None,
          training: dict[int, TrainingForm] | None = None) -> str:
    me, pharmacy = _mine()
    today, params = clock.today(), current_params()
    standing = pharmacy_standing(StakeholderFacts(pharmacy.activated_on, pharmacy.suspended_until,
                                                  pharmacy.deactivated_on), today, params)
    staff = []
    members = db.session().execute(
        select(Pharmacist).where(Pharmacist.pharmacy_id == pharmacy.id)).scalars().all()
    for p in sorted(members, key=lambda p: (p.removed_on is not None, p.name)):
        st = pharmacist_standing(StakeholderFacts(p.training_completed_on, p.suspended_until,
                                                  p.deactivated_on, p.removed_on), today, params)
        form = (training or {}).get(p.id) or TrainingForm(
            formdata=None, prefix=f"t{p.id}")  # the day they trained, not assumed today
        form.training_completed_on.label.text = f"Training completed on ({p.name})"
        staff.append((p, st, form))
    return render_template(
        "pharmacies/manage.html", me=me, pharmacy=pharmacy, standing=standing, staff=staff,
        reminder=reminder_due(standing, today, params),
        activate=activate or ActivateForm(formdata=None),
        add=add or PharmacistForm(formdata=None),
        remove=RemoveForm(formdata=None),
    )


@bp.get("/")
@requires(Permission.PHARMACIES_AUTHORIZATIONS_LIST)
def manage() -> Any:
    return _page()


def _back() -> Response:
    return redirect(url_for("pharmacies.manage"))


@bp.post("/activate")
@requires(Permission.PHARMACIES_ACTIVATE)
def activate() -> Any:
    _, pharmacy = _mine()
    require_rsp(db.session(), actor(), pharmacy)  # before the form is read: 403, not errors
    form = ActivateForm()
    sent = run_form(form, PharmacyActivation,
                    lambda s, data: activate_pharmacy(s, actor(), pharmacy, data),
                    sent_to=url_for("pharmacies.manage"),
                    extra={"staff_trained": bool(form.staff_trained.data)})
    if isinstance(sent, Response):
        return sent
    if sent is None and form.errors:
        return _page(activate=form)
    if sent is not None:
        flash("The pharmacy is activated for a year.", "success")
    return _back()


@bp.post("/pharmacists")
@requires(Permission.PHARMACISTS_MANAGE)
def add() -> Any:
    _, pharmacy = _mine()
    require_rsp(db.session(), actor(), pharmacy)
    form = PharmacistForm()
    sent = run_form(form, PharmacistAddition,
                    lambda s, data: add_pharmacist(s, actor(), pharmacy, data),
                    sent_to=url_for("pharmacies.manage"))
    if isinstance(sent, Response):
        return sent
    if sent is None and form.errors:
        return _page(add=form)
    if sent is not None:
        flash(f"{sent.value.name} is added.", "success")
    return _back()


def _pharmacist(pharmacist_id: int) -> Pharmacist:
    _, pharmacy = _mine()
    p = db.session().get(Pharmacist, pharmacist_id)
    if p is None or p.pharmacy_id != pharmacy.id:
        abort(404)
    return p


@bp.post("/pharmacists/<int:pharmacist_id>/training")
@requires(Permission.PHARMACISTS_MANAGE)
def training(pharmacist_id: int) -> Any:
    p = _pharmacist(pharmacist_id)
    require_rsp(db.session(), actor(), p.pharmacy)
    form = TrainingForm(prefix=f"t{p.id}")
    sent = run_form(form, TrainingRecord,
                    lambda s, data: record_training(s, actor(), p, data),
                    sent_to=url_for("pharmacies.manage"))
    if isinstance(sent, Response):
        return sent
    if sent is None and form.errors:
        return _page(training={p.id: form})
    if sent is not None:
        flash(f"Training date recorded for {p.name}.", "success")
    return _back()


@bp.post("/pharmacists/<int:pharmacist_id>/remove")
@requires(Permission.PHARMACISTS_MANAGE)
def remove(pharmacist_id: int) -> Any:
    p = _pharmacist(pharmacist_id)
    form = RemoveForm()
    if form.validate_on_submit() and not went_back():
        if not confirmed():
            require_rsp(db.session(), actor(), p.pharmacy)  # only the RSP is asked
            return confirm_page(
                heading="Remove a pharmacist", submit=f"Confirm: remove {p.name}",
                about=f"remove {p.name} from {p.pharmacy.name}.",
                effects=(f"stop {p.name} from asking for authorizations and recording "
                         "dispenses for this pharmacy, at once;",
                         "keep everything they recorded; adding them back needs a new "
                         "account."))
        s = db.session()
        if not claim_submission(s, form):
            return already_sent(url_for("pharmacies.manage"))
        try:
            remove_pharmacist(s, actor(), p)
        except ValidationError as exc:
            db.rollback_request()
            flash(" ".join(m for msgs in exc.errors.values() for m in msgs), "error")
        else:
            flash(f"{p.name} is removed from the pharmacy.", "success")
    return _back()


# --- pharmacy systems (program staff) -------------------------------------------------------

systems_bp = Blueprint("pharmacy_systems", __name__, url_prefix="/staff/pharmacy-systems")


def _systems_page(form: PharmacySystemForm | None = None, *,
                  shown: tuple[PharmacySystem, str] | None = None) -> str:
    """The list, the registration form, and (once, right after it is issued) a credential."""
    session = db.session()
    form = form or PharmacySystemForm(formdata=None)
    pharmacies = session.execute(select(Pharmacy).order_by(Pharmacy.name)).scalars().all()
    form.pharmacy_id.choices = [(p.id, f"{p.name} (NCPDP {p.ncpdp_id})") for p in pharmacies]
    return render_template("pharmacies/systems.html", form=form,
                           systems=list_systems(session, actor()),
                           action=SystemActionForm(formdata=None), shown=shown)


@systems_bp.get("/")
@requires(Permission.PHARMACY_SYSTEMS_MANAGE)
def systems() -> Any:
    return _systems_page()


@systems_bp.post("/")
@requires(Permission.PHARMACY_SYSTEMS_MANAGE)
def register() -> Any:
    form = PharmacySystemForm()
    form.pharmacy_id.choices = []
    sent = run_form(form, PharmacySystemRegistration,
                    lambda s, data: register_system(s, actor(), data),
                    sent_to=url_for("pharmacy_systems.systems"))
    if isinstance(sent, Response):
        return sent
    if sent is None:
        return _systems_page(form)
    system, credential = sent.value
    flash(f"{system.name} is registered. Copy its credential now: it is shown only once.",
          "success")
    return _systems_page(shown=(system, credential))


def _system_action(system_id: int) -> PharmacySystem | Response | None:
    """The system, once the one-time form is claimed; a redirect if it was sent already."""
    system = find_system(db.session(), actor(), system_id)
    form = SystemActionForm()
    if not form.validate_on_submit():
        return None
    if not claim_submission(db.session(), form):
        return already_sent(url_for("pharmacy_systems.systems"))
    return system


@systems_bp.post("/<int:system_id>/credential")
@requires(Permission.PHARMACY_SYSTEMS_MANAGE)
def rotate(system_id: int) -> Any:
    got = _system_action(system_id)
    if isinstance(got, Response):
        return got
    if got is None:
        return redirect(url_for("pharmacy_systems.systems"))
    try:
        system, credential = rotate_credential(db.session(), actor(), got)
    except ValidationError as exc:
        db.rollback_request()
        flash(" ".join(m for msgs in exc.errors.values() for m in msgs), "error")
        return redirect(url_for("pharmacy_systems.systems"))
    flash(f"{system.name} has a new credential; the old one no longer works. Copy it now: it "
          "is shown only once.", "success")
    return _systems_page(shown=(system, credential))


@systems_bp.post("/<int:system_id>/deactivate")
@requires(Permission.PHARMACY_SYSTEMS_MANAGE)
def deactivate(system_id: int) -> Any:
    got = _system_action(system_id)
    if isinstance(got, Response):
        return got
    if got is not None:
        deactivate_system(db.session(), actor(), got)
        flash(f"{got.name} is deactivated: its credential no longer works.", "success")
    return redirect(url_for("pharmacy_systems.systems"))
