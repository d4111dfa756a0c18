"""Program staff register, change and deactivate EHR systems (/staff/systems)."""

from __future__ import annotations

import json
import re
from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for

from registry import db
from registry.interop.ehr.forms import EhrSystemEditForm, EhrSystemForm
from registry.interop.ehr.operations import (
    get_ehr_system,
    list_ehr_systems,
    register_ehr_system,
    update_ehr_system,
)
from registry.interop.ehr.schemas import EhrSystemInput, EhrSystemUpdate
from registry.policy import Permission
from registry.web.support import Done, actor, requires, run_form

bp = Blueprint("ehr_systems", __name__, url_prefix="/staff/systems")
ALIASES = {"jwks": "jwks_text", "prescriber_npis": "npis_text"}


def _typed_fields(form: EhrSystemForm) -> dict[str, Any] | None:
    """The key set and the NPIs as the schema takes them; None (with the field's error
    shown) when the key set is not JSON."""
    extra: dict[str, Any] = {
        "prescriber_npis": [n for n in re.split(r"[\s,;]+", form.npis_text.data or "") if n]}
    try:
        extra["jwks"] = json.loads(form.jwks_text.data or "")
    except ValueError:
        form.jwks_text.errors = [*form.jwks_text.errors, "Must be JSON: {\"keys\": [...]}."]
        return None
    return extra


@bp.route("/", methods=["GET", "POST"])
@requires(Permission.EHR_SYSTEMS_MANAGE)
def systems() -> Any:
    form = EhrSystemForm()
    if form.is_submitted() and (extra := _typed_fields(form)) is not None:
        outcome = run_form(form, EhrSystemInput,
                           lambda s, data: register_ehr_system(s, actor(), data),
                           sent_to=url_for("ehr_systems.systems"), extra=extra,
                           aliases=ALIASES)
        if isinstance(outcome, Done):
            flash(f"Registered the EHR system {outcome.value.name}.", "success")
            return redirect(url_for("ehr_systems.system", system_id=outcome.value.id))
        if outcome is not None:
            return outcome
    found = list_ehr_systems(db.session(), actor())
    return render_template("interop/ehr_systems.html", form=form, systems=found)


@bp.route("/<int:system_id>", methods=["GET", "POST"])
@requires(Permission.EHR_SYSTEMS_MANAGE)
def system(system_id: int) -> Any:
    found = get_ehr_system(db.session(), actor(), system_id)
    form = EhrSystemEditForm()
    if request.method == "GET":
        form.name.data, form.issuer.data = found.name, found.issuer
        form.client_id.data, form.fhir_base_url.data = found.client_id, found.fhir_base_url
        form.jwks_text.data = json.dumps(found.jwks, indent=2)
        form.npis_text.data = "\n".join(p.npi for p in found.prescribers)
        form.active.data = found.active
    elif (extra := _typed_fields(form)) is not None:
        outcome = run_form(form, EhrSystemUpdate,
                           lambda s, data: update_ehr_system(s, actor(), system_id, data),
                           sent_to=url_for("ehr_systems.system", system_id=system_id),
                           extra={**extra, "active": bool(form.active.data)}, aliases=ALIASES)
        if isinstance(outcome, Done):
            flash(f"Saved the EHR system {outcome.value.name}"
                  + ("" if outcome.value.active else " (deactivated)") + ".", "success")
            return redirect(url_for("ehr_systems.system", system_id=system_id))
        if outcome is not None:
            return outcome
    return render_template("interop/ehr_system.html", form=form, system=found)
