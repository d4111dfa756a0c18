"""Prescriber and designee pages: the patient list, attestation, designees, acting for."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, session, url_for
from flask_login import current_user
from werkzeug.wrappers import Response

from registry import clock, db
from registry.accounts.models import Role
from registry.accounts.signup import sign_up
from registry.errors import ValidationError
from registry.params import current as current_params
from registry.patients.queries import for_prescriber, status
from registry.permissions import (
    designee_for_user,
    linked_prescriber_ids,
    prescriber_for_user,
    stakeholder_facts,
)
from registry.prescribers.forms import ActForForm, AttestForm, DesigneeForm, UnlinkForm
from registry.prescribers.models import Designee, DesigneeLink, Prescriber
from registry.prescribers.operations import (
    attest_designee,
    attest_prescriber,
    link_designee,
    unlink_designee,
)
from registry.rules import designee_standing, fmt, prescriber_standing
from registry.rules.identifiers import normalize_registry_id
from registry.rules.stakeholders import Standing, reminder_due
from registry.web.support import (
    actor,
    already_sent,
    apply_errors,
    choices,
    claim_submission,
    form_data,
    role_required,
)

bp = Blueprint("prescribers", __name__, url_prefix="/prescriber")

ACTING_FOR = "acting_for_prescriber_id"


def acting_prescriber_id() -> int | None:
    """Whose patients a prescriber or designee works on now (a designee's choice is kept in
    the session and re-checked against their current links on every request)."""
    s = db.session()
    if current_user.role == Role.PRESCRIBER:
        own = prescriber_for_user(s, actor())
        return own.id if own else None
    designee = designee_for_user(s, actor())
    if designee is None:
        return None
    linked = linked_prescriber_ids(s, designee)
    chosen = session.get(ACTING_FOR)
    if chosen in linked:
        return int(chosen)
    if len(linked) == 1:
        session[ACTING_FOR] = linked[0]
        return linked[0]
    return None


def need_prescriber() -> Prescriber | Response:
    """The acting prescriber, or a redirect for a designee who has not chosen one."""
    pid = acting_prescriber_id()
    if pid is None:
        flash("Choose the prescriber you act for first.", "info")
        return redirect(url_for("prescribers.act_for"))
    prescriber = db.session().get(Prescriber, pid)
    assert prescriber is not None
    return prescriber


@dataclass(frozen=True)
class Blocked:
    """Why the acting prescriber (or the designee) cannot register patients now, and what to do.
    ``attest`` is True when attesting is the way out (and so the page may invite it)."""

    who: str
    why: str
    todo: str
    attest: bool


def _blocked_by(standing: Standing, name: str, holder: Prescriber | Designee,
                own: bool) -> Blocked | None:
    if standing.active:
        return None
    you = "You are" if own else f"{name} is"
    if standing.state == "suspended":
        until = holder.suspended_until
        return Blocked(name, f"{you} suspended by program staff until {fmt(until)}"
                       if until else f"{you} suspended by program staff",
                       "Patients cannot be registered and no new authorization is issued "
                       "meanwhile; attesting again does not lift a suspension. Program staff can "
                       "tell you why and when it ends.", attest=False)
    if standing.state == "deactivated":
        return Blocked(name, f"{you} deactivated by program staff",
                       "Nothing can be done in the program for this prescriber's patients. "
                       "Contact program staff; the patients can be transferred to another "
                       "prescriber.", attest=False)
    verb = "has not attested" if standing.state == "pending" else "has a lapsed attestation"
    verb = ("You have not attested to the program requirements" if own and
            standing.state == "pending" else "Your yearly attestation has lapsed"
            if own else f"{name} {verb}")
    return Blocked(name, verb, "Attest to the program requirements (one page, one box) and "
                   "you can register patients again." if own else
                   f"{name} must attest (sign in and open Attestation) before you can act for "
                   "them.", attest=own)


def blocked(prescriber: Prescriber) -> Blocked | None:
    """Why the signed-in user cannot register a patient for ``prescriber`` now, or None."""
    today, params = clock.today(), current_params()
    if current_user.role == Role.DESIGNEE:
        designee = designee_for_user(db.session(), actor())
        if designee is not None:
            own = _blocked_by(designee_standing(stakeholder_facts(designee), today, params),
                              designee.name, designee, own=True)
            if own is not None:
                if own.attest:
                    return Blocked(own.who, own.why, "Attest to the program requirements "
                                   "(Attestation in the menu), then act for your prescribers.",
                                   attest=True)
                return own
    mine = current_user.role == Role.PRESCRIBER
    return _blocked_by(prescriber_standing(stakeholder_facts(prescriber), today, params),
                       prescriber.name, prescriber, own=mine)


def may_register() -> bool:
    """For the menu: offer "Register a patient" only when it can succeed (a designee who has
    not chosen a prescriber yet is offered it: the page asks them to choose)."""
    pid = acting_prescriber_id()
    if pid is None:
        return True
    prescriber = db.session().get(Prescriber, pid)
    return prescriber is not None and blocked(prescriber) is None


SORTS = {
    "name": lambda r: (r["patient"].last_name.lower(), r["patient"].first_name.lower()),
    "risk": lambda r: r["patient"].risk_category,
    "status": lambda r: r["patient"].status,
    "window": lambda r: (r["window_close"] is None, r["window_close"] or clock.today()),
    "due": lambda r: (r["due"] is None, r["due"] or clock.today()),
    "who": lambda r: r["step"].actor if r["step"] else "~",
}


@bp.get("/")
@role_required(Role.PRESCRIBER, Role.DESIGNEE)
def patients() -> Any:
    prescriber = need_prescriber()
    if isinstance(prescriber, Response):
        return prescriber
    s = db.session()
    q = (request.args.get("q") or "").strip()
    mine_only = request.args.get("mine") == "1"
    sort = request.args.get("sort", "due")
    if sort not in SORTS:
        sort = "due"
    descending = request.args.get("dir") == "desc"
    rows = []
    for patient in for_prescriber(s, prescriber.id):
        if q:
            rid = normalize_registry_id(q)
            if q.lower() not in patient.full_name.lower() and (not rid or rid not in
                                                               patient.registry_id):
                continue
        decision = status(s, patient)
        mine = next((st for st in decision.next_steps if st.actor == "prescriber"), None)
        needs_me = mine is not None
        if mine_only and not needs_me:
            continue
        # "Needs my action" lists what the prescriber has to do and by when, even when the
        # patient's own step comes first.
        step = mine if mine_only else (decision.next_steps[0] if decision.next_steps else None)
        due = (step.due_on or step.not_before) if step else None
        rows.append({
            "patient": patient, "decision": decision, "step": step, "due": due,
            "needs_me": needs_me,
            "window_close": decision.window.closes_on if decision.window else None,
        })
    rows.sort(key=SORTS[sort], reverse=descending)
    standing = prescriber_standing(stakeholder_facts(prescriber), clock.today(), current_params())
    return render_template(
        "prescribers/patients.html", prescriber=prescriber, rows=rows, q=q, mine=mine_only,
        sort=sort, descending=descending, standing=standing, blocked=blocked(prescriber),
        reminder=reminder_due(standing, clock.today(), current_params()),
    )


@bp.route("/attest", methods=["GET", "POST"])
@role_required(Role.PRESCRIBER)
def attest() -> Any:
    s = db.session()
    prescriber = prescriber_for_user(s, actor())
    assert prescriber is not None
    stop = blocked(prescriber)
    if stop is not None and not stop.attest:
        # Attesting would not help (suspended or deactivated): say so instead of a form.
        return render_template("prescribers/blocked.html", blocked=stop,
                               heading=f"Attestation for {prescriber.name}")
    form = AttestForm()
    if form.validate_on_submit():
        if not claim_submission(s, form):
            return already_sent(url_for("prescribers.attest"))
        attest_prescriber(s, actor(), prescriber)
        flash("Thank you: your attestation is recorded and you are active.", "success")
        return redirect(url_for("prescribers.patients"))
    params = current_params()
    standing = prescriber_standing(stakeholder_facts(prescriber), clock.today(), params)
    return render_template("prescribers/attest.html", form=form, standing=standing,
                           who=prescriber.name,
                           reminder=reminder_due(standing, clock.today(), params))


@bp.route("/designee-attest", methods=["GET", "POST"])
@role_required(Role.DESIGNEE)
def designee_attest() -> Any:
    s = db.session()
    designee = designee_for_user(s, actor())
    assert designee is not None
    form = AttestForm()
    form.agree.label.text = ("I attest that I know the program requirements and will follow "
                             "them when I act for my prescribers.")
    if form.validate_on_submit():
        if not claim_submission(s, form):
            return already_sent(url_for("prescribers.designee_attest"))
        attest_designee(s, actor(), designee)
        flash("Thank you: your attestation is recorded.", "success")
        return redirect(url_for("prescribers.patients"))
    params = current_params()
    standing = designee_standing(stakeholder_facts(designee), clock.today(), params)
    return render_template("prescribers/attest.html", form=form, standing=standing,
                           who=designee.name,
                           reminder=reminder_due(standing, clock.today(), params))


@bp.route("/act-for", methods=["GET", "POST"])
@role_required(Role.DESIGNEE)
def act_for() -> Any:
    s = db.session()
    designee = designee_for_user(s, actor())
    assert designee is not None
    linked = [s.get(Prescriber, pid) for pid in linked_prescriber_ids(s, designee)]
    form = ActForForm()
    form.prescriber_id.choices = choices([(str(p.id), f"{p.name} (NPI {p.npi})")
                                          for p in linked if p])
    if request.method == "GET" and session.get(ACTING_FOR):
        form.prescriber_id.data = session.get(ACTING_FOR)
    if form.validate_on_submit():
        session[ACTING_FOR] = form.prescriber_id.data
        chosen = s.get(Prescriber, form.prescriber_id.data)
        flash(f"You now act for {chosen.name if chosen else ''}.", "success")
        return redirect(url_for("prescribers.patients"))
    return render_template("prescribers/act_for.html", form=form, linked=linked)


@bp.route("/designees", methods=["GET", "POST"])
@role_required(Role.PRESCRIBER)
def designees() -> Any:
    s = db.session()
    prescriber = prescriber_for_user(s, actor())
    assert prescriber is not None
    form = DesigneeForm()
    if form.validate_on_submit():
        if not claim_submission(s, form):
            return already_sent(url_for("prescribers.designees"))
        data = form_data(form, "email", "password", "first_name", "last_name")
        try:
            # The same answer whether or not the address has an account already.
            sign_up(s, lambda: link_designee(s, actor(), prescriber, **data),
                    what="designee", password=data["password"], actor=actor())
        except ValidationError as exc:
            apply_errors(form, exc.errors)
        else:
            flash(f"We sent a message to {data['email']}. Once the designee confirms the "
                  "address by its link, they sign in and attest before acting for you.",
                  "success")
            return redirect(url_for("prescribers.designees"))
    links = s.query(DesigneeLink).filter(DesigneeLink.prescriber_id == prescriber.id,
                                         DesigneeLink.unlinked_on.is_(None)).all()
    return render_template("prescribers/designees.html", form=form, links=links,
                           unlink=UnlinkForm(formdata=None))


@bp.post("/designees/<int:designee_id>/unlink")
@role_required(Role.PRESCRIBER)
def unlink(designee_id: int) -> Any:
    s = db.session()
    prescriber = prescriber_for_user(s, actor())
    designee = s.get(Designee, designee_id)
    if prescriber is None or designee is None:
        abort(404)
    form = UnlinkForm()
    if form.validate_on_submit():
        if not claim_submission(s, form):
            return already_sent(url_for("prescribers.designees"))
        unlink_designee(s, actor(), prescriber, designee)
        flash(f"{designee.name} no longer acts for you.", "success")
    return redirect(url_for("prescribers.designees"))
