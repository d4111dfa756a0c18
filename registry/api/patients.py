"""POST /patients/{registry_id}/pregnancy-reports (the pregnancies feature's, to move)."""

from __future__ import annotations

from typing import Any

from registry import db
from registry.api import serializers
from registry.api.blueprint import bp, current_user, json_body
from registry.api.idempotency import idempotent
from registry.errors import NotFound
from registry.patients.queries import by_registry_id
from registry.pregnancies.operations import report_pregnancy


@bp.post("/patients/<registry_id>/pregnancy-reports")
@idempotent
def create_pregnancy_report(registry_id: str) -> Any:
    user = current_user()
    body = json_body()
    session = db.session()
    patient = by_registry_id(session, registry_id)
    if patient is None:
        raise NotFound("No such patient.")
    report = report_pregnancy(session, user, patient, reported_on=body.get("reported_on"),
                              notes=body.get("notes"))
    return serializers.pregnancy_report(report), 201
