"""Pregnancy tests and reports; the pregnancy registry for program staff."""

from __future__ import annotations

from datetime import date
from typing import Any

from flask import Blueprint, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from sqlalchemy import select

from registry import clock, db
from registry.accounts.models import Role
from registry.contract import parse
from registry.cycles.schemas import PregnancyTestEntry
from registry.errors import ValidationError
from registry.i18n import current_language
from registry.patients.models import Patient
from registry.patients.views import own_patient, visible_patient
from registry.policy import Permission
from registry.pregnancies.forms import FollowUpForm, LiftForm, ReportForm, TestForm
from registry.pregnancies.models import PregnancyReport
from registry.pregnancies.operations import (
    get_report,
    lift_pregnancy_block,
    record_follow_up,
    record_pregnancy_test,
    report_pregnancy,
)
from registry.pregnancies.schemas import FollowUpInput, LiftInput, PregnancyReportInput
from registry.rules import age_on, fmt
from registry.web.support import (
    Done,
    actor,
    already_sent,
    apply_errors,
    claim_submission,
    confirm_page,
    confirmed,
    form_data,
    requires,
    run_form,
    went_back,
)

bp = Blueprint("pregnancies", __name__)


@bp.route("/patients/<registry_id>/tests", methods=["GET", "POST"])
@requires(Permission.PREGNANCY_TESTS_RECORD)
def enter_test(registry_id: str) -> Any:
    patient = visible_patient(registry_id)
    form = TestForm()
    if form.validate_on_submit() and not went_back():
        if form.result.data == "positive" and not confirmed():
            return confirm_page(
                heading="Enter a pregnancy test", submit="Confirm: record the positive test",
                about=f"record a POSITIVE pregnancy test for {patient.full_name}.",
                facts=[*_who(patient),
                       ("Specimen collected", _day(form.specimen_collected_on.data)),
                       ("Setting", next((str(o.label.text) for o in form.setting if o.checked),
                                        str(form.setting.data)))],
                effects=_PREGNANCY_EFFECTS)
        s = db.session()
        if not claim_submission(s, form):
            return already_sent(url_for("patients.detail", registry_id=registry_id))
        try:
            entry = parse(PregnancyTestEntry, {k: v for k, v in form_data(
                form, "specimen_collected_on", "result", "setting").items() if v is not None})
            test, cycle = record_pregnancy_test(s, actor(), patient, entry)
        except ValidationError as exc:
            apply_errors(form, exc.errors, {"registry_id": "specimen_collected_on",
                                            "risk_category": "result"})
        else:
            msg = f"The {test.purpose.replace('_', ' ')} test is recorded."
            if cycle is not None and cycle.closes_on:
                msg += (f" Its window is open from {fmt(cycle.opened_on)} to "
                        f"{fmt(cycle.closes_on)}.")
            if test.result == "positive":
                msg = ("The positive test is recorded and reported as a pregnancy: "
                       "authorizations are now refused.")
            flash(msg, "success")
            return redirect(url_for("patients.detail", registry_id=registry_id))
    return render_template("patients/simple_form.html", form=form, patient=patient,
                           heading="Enter a pregnancy test", submit="Record the test",
                           note="Its purpose (screening, confirmation, monthly...) is worked "
                           "out from the patient's record.")


@bp.route("/patients/<registry_id>/report-pregnancy", methods=["GET", "POST"])
@requires(Permission.CARE_RECORD_READ)
def report(registry_id: str) -> Any:
    patient = visible_patient(registry_id)
    return _report(patient, url_for("patients.detail", registry_id=registry_id))


@bp.route("/me/report-pregnancy", methods=["GET", "POST"])
@requires(Permission.PREGNANCY_SELF_REPORT)
def report_self() -> Any:
    return _report(own_patient(), url_for("me.home"))


_PREGNANCY_EFFECTS = (
    "report a pregnancy for this patient: every authorization is refused from now on;",
    "cancel the patient's open authorization, if there is one, at once;",
    "put the case in the pregnancy registry for program staff. Only program staff can lift "
    "the block, and only after a documented false report.",
)


def _day(value: object) -> str:
    return fmt(value, current_language()) if isinstance(value, date) else str(value or "")


def _who(patient: Patient) -> list[tuple[str, str]]:
    age = age_on(patient.date_of_birth, clock.today())
    born = _("%(day)s, age %(age)s", day=_day(patient.date_of_birth), age=age)
    return [(_("Patient"), f"{patient.full_name} ({patient.registry_id})"),
            (_("Born"), born + (" " + _("(a minor)") if age < 18 else ""))]


def _report(patient: Patient, done: str) -> Any:
    form = ReportForm()
    if not form.is_submitted():
        form.reported_on.data = clock.today()
    if form.validate_on_submit() and not went_back() and not confirmed():
        own = actor().role == Role.PATIENT
        return confirm_page(
            heading=_("Report a pregnancy"), submit=_("Confirm: report the pregnancy"),
            about=_("report that you may be pregnant.") if own else
            f"report a pregnancy for {patient.full_name}.",
            facts=[*_who(patient), (_("Reported on"), _day(form.reported_on.data))],
            effects=(_("stop every authorization for you: pharmacies cannot dispense "
                       "isotretinoin to you until program staff review the report;"),
                     _("tell program staff, who will be in touch.")) if own
            else _PREGNANCY_EFFECTS)
    if went_back():
        return render_template("pregnancies/report.html", form=form, patient=patient)
    outcome = run_form(form, PregnancyReportInput,
                       lambda s, data: report_pregnancy(s, actor(), patient, data),
                       sent_to=done)
    if isinstance(outcome, Done):
        flash(_("The pregnancy is reported. Authorizations are refused until program staff "
                "review it. Program staff will be in touch."), "success")
        return redirect(done)
    return outcome or render_template("pregnancies/report.html", form=form, patient=patient)


@bp.get("/staff/pregnancies")
@requires(Permission.PREGNANCY_REGISTRY_READ)
def registry() -> Any:
    reports = db.session().execute(
        select(PregnancyReport).order_by(PregnancyReport.lifted_at.is_not(None),
                                         PregnancyReport.id.desc())
    ).scalars().all()
    return render_template("pregnancies/registry.html", reports=reports)


def _case(rep: PregnancyReport, follow: FollowUpForm | None = None,
          lift: LiftForm | None = None) -> str:
    if follow is None:
        follow = FollowUpForm(prefix="f", formdata=None, data={"noted_on": clock.today()})
    return render_template("pregnancies/case.html", report=rep, follow=follow,
                           lift=lift or LiftForm(prefix="l", formdata=None))


@bp.get("/staff/pregnancies/<int:report_id>")
@requires(Permission.PREGNANCY_REGISTRY_READ)
def case(report_id: int) -> Any:
    return _case(get_report(db.session(), actor(), report_id))


@bp.post("/staff/pregnancies/<int:report_id>/follow-up")
@requires(Permission.PREGNANCY_FOLLOW_UPS_RECORD)
def follow_up(report_id: int) -> Any:
    rep = get_report(db.session(), actor(), report_id)
    form = FollowUpForm(prefix="f")
    here = url_for("pregnancies.case", report_id=report_id)
    outcome = run_form(form, FollowUpInput,
                       lambda s, data: record_follow_up(s, actor(), rep, data), sent_to=here,
                       extra={"noted_on": form.noted_on.data or clock.today()})
    if isinstance(outcome, Done):
        flash("Follow-up recorded.", "success")
        return redirect(here)
    return outcome or _case(rep, follow=form)


@bp.post("/staff/pregnancies/<int:report_id>/lift")
@requires(Permission.PREGNANCY_BLOCKS_LIFT)
def lift(report_id: int) -> Any:
    rep = get_report(db.session(), actor(), report_id)
    form = LiftForm(prefix="l")
    here = url_for("pregnancies.case", report_id=report_id)
    if went_back():
        return _case(rep, lift=form)
    if form.validate_on_submit() and not confirmed():
        return confirm_page(
            heading="Lift the pregnancy block", submit="Confirm: lift the block",
            about=f"lift the pregnancy block of {rep.patient.full_name}.",
            facts=[("Reason", str(form.reason.data or ""))],
            effects=("close this report as a documented false report (not pregnant);",
                     "let pharmacies be authorized to dispense to the patient again, "
                     "as soon as every other check passes."))
    outcome = run_form(form, LiftInput,
                       lambda s, data: lift_pregnancy_block(s, actor(), rep, data), sent_to=here)
    if isinstance(outcome, Done):
        flash("The block is lifted; the patient can be authorized again when every other "
              "check passes.", "success")
        return redirect(here)
    return outcome or _case(rep, lift=form)
