"""The FHIR door: ``POST /fhir/GuidanceResponse/$rems-etasu`` (US Medication REMS IG STU2).

Authenticated with the API's bearer tokens; a read (nothing is stored, as the status
endpoint). Every error is a FHIR OperationOutcome (``application/fhir+json``).
"""

from __future__ import annotations

import json
from typing import Any

from flask import Blueprint, Flask, Response, current_app
from werkzeug.exceptions import HTTPException

from registry import clock, db
from registry.accounts.models import Role, User
from registry.api.blueprint import current_user, json_body, limit
from registry.errors import RegistryError, ValidationError
from registry.interop.fhir import (
    FHIR_JSON,
    EtasuQuery,
    FhirError,
    etasu_answer,
    identify_first,
    operation_outcome,
    read_parameters,
    read_query,
)
from registry.interop.requirements import guidance_for
from registry.patients.models import Patient
from registry.patients.queries import by_registry_id
from registry.permissions import can_view_patient
from registry.policy import Permission, require

bp = Blueprint("fhir", __name__, url_prefix="/fhir")


def fhir_response(resource: dict[str, Any], status: int = 200,
                  headers: dict[str, str] | None = None) -> Response:
    response = Response(json.dumps(resource), status=status, mimetype=FHIR_JSON)
    response.headers["Cache-Control"] = "no-store"
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def _absolute(path: str) -> str:
    return str(current_app.config["PUBLIC_URL"]).rstrip("/") + path


def _patient(user: User, query: EtasuQuery) -> Patient | None:
    """The patient asked about, if the caller may see them; None otherwise, whether or not
    the registry ID exists (the answer is then the IG's ``failure``, the same for both, so
    that nobody learns which registry IDs exist: rules §6)."""
    session = db.session()
    assert query.registry_id is not None
    patient = by_registry_id(session, query.registry_id)
    if patient is None:
        return None
    if query.birth_date is not None and patient.date_of_birth != query.birth_date:
        return None
    if user.role == Role.PHARMACIST:
        # A pharmacist sees any patient, as when asking for an authorization, but only by
        # registry ID and date of birth together (rules §6: no enumeration).
        if query.birth_date is None:
            raise FhirError(422, "A pharmacist names the patient by registry ID and date of "
                            "birth: send a Patient with birthDate.", code="required",
                            expression="Patient.birthDate")
        return patient
    if not can_view_patient(session, user, patient):
        return None
    return patient


def rems_etasu() -> Response:
    """What the patient still needs before isotretinoin can be dispensed, by requirement."""
    user = current_user()  # 401 before anything is read
    require(user.role, Permission.REMS_STATUS_READ)  # 403 before any record is looked up
    query = read_query(read_parameters(json_body()))
    now = clock.now().isoformat(timespec="seconds")
    if query.registry_id is None:
        return fhir_response(identify_first(query, now=now))
    patient = _patient(user, query)
    guidance = guidance_for(db.session(), patient, clock.today())
    return fhir_response(etasu_answer(guidance, query, now=now, absolute=_absolute))


rems_etasu.permission = Permission.REMS_STATUS_READ  # type: ignore[attr-defined]
bp.add_url_rule("/GuidanceResponse/$rems-etasu", endpoint="rems_etasu", methods=["POST"],
                view_func=limit("API_RATELIMIT_LOOKUPS")(rems_etasu))


def fhir_error(exc: Exception) -> Response:
    """Any error under /fhir/: an OperationOutcome, nothing stored."""
    db.rollback_request()
    headers: dict[str, str] = {}
    if isinstance(exc, FhirError):
        return fhir_response(operation_outcome(exc.status, exc.diagnostics, code=exc.code,
                                               expression=exc.expression), exc.status)
    if isinstance(exc, ValidationError):
        fields = "; ".join(f"{name}: {' '.join(msgs)}" for name, msgs in exc.errors.items())
        return fhir_response(operation_outcome(422, fields or exc.message, code="invalid"), 422)
    if isinstance(exc, RegistryError):
        status = exc.status
        detail = exc.message or "The request failed."
    elif isinstance(exc, HTTPException):
        status = exc.code or 500
        headers = {k: v for k, v in exc.get_headers() if k.lower() != "content-type"}
        detail = exc.description or exc.name
        if status == 404 and "requested URL was not found" in detail:
            detail = "There is nothing at this path: the operation is POST " \
                     "/fhir/GuidanceResponse/$rems-etasu."
        elif status == 429:
            detail = f"Rate limit exceeded ({exc.description}). Retry after the Retry-After " \
                     "seconds."
        elif status >= 500 and status != 503:
            detail = "The server failed to answer this request; nothing was stored."
    else:  # pragma: no cover - Flask hands unhandled errors over as InternalServerError
        status, detail = 500, "The server failed to answer this request; nothing was stored."
    if status == 401:
        headers["WWW-Authenticate"] = 'Bearer realm="registry"'
    return fhir_response(operation_outcome(status, detail), status, headers)


bp.register_error_handler(FhirError, fhir_error)
bp.register_error_handler(RegistryError, fhir_error)
bp.register_error_handler(HTTPException, fhir_error)


def init_app(app: Flask) -> None:
    from registry.extensions import csrf

    csrf.exempt(bp)
    app.register_blueprint(bp)
    # Errors before a view is chosen (no such path, wrong method) answer FHIR too.
    app.extensions.setdefault("registry.error_handlers_by_prefix", {})["/fhir/"] = fhir_error
