"""The CDS Hooks doors: ``GET /cds-services`` (discovery) and ``POST /cds-services/<id>``.

Every call is authenticated by the EHR's JWT (:mod:`registry.interop.cds.auth`) before its
body is read; a refused call answers 401 with a JSON error and stores nothing.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, current_app, jsonify, request
from werkzeug.exceptions import HTTPException

from registry import db
from registry.errors import ValidationError
from registry.interop.cds.auth import CdsUnauthorized, authenticate
from registry.interop.cds.fetch import Fetcher, http_fetch
from registry.interop.cds.operations import SERVICES, Call, parse_call
from registry.interop.cds.operations import answer as answer_call
from registry.policy import Permission
from registry.web.support import requires

bp = Blueprint("cds", __name__, url_prefix="/cds-services")
FETCHER = "registry.cds_fetcher"


def _json(body: dict[str, Any], status: int = 200) -> Response:
    response = jsonify(body)
    response.status_code = status
    return response


def _error(status: int, message: str, **extra: Any) -> Response:
    db.rollback_request()
    response = _json({"error": message, "status": status, **extra}, status)
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer error="invalid_token"'
    return response


def door_error(exc: HTTPException) -> Response:
    """Errors before a view is chosen (no such path, wrong method) answer JSON too."""
    code = exc.code or 500
    return _error(code, str(exc.description or exc.name))


def public_url() -> str:
    configured = str(current_app.config.get("PUBLIC_URL") or "").rstrip("/")
    return configured or request.host_url.rstrip("/")


@bp.route("", methods=["GET"])
@requires(Permission.CDS_HOOKS_CALL)
def discovery() -> Response:
    return _json({"services": [
        {"hook": s.hook, "id": s.id, "title": s.title, "description": s.description,
         "prefetch": dict(s.prefetch),
         "usageRequirements": "The EHR system is registered with the program (issuer, "
         "public keys, the prescribers it serves); the Patient carries the registry ID."}
        for s in SERVICES.values()]})


@bp.after_request
def _cross_origin(response: Response) -> Response:
    """CDS clients may call from a browser (CDS Hooks: CORS); no cookie is ever read here,
    the JWT alone authenticates, so any origin may call."""
    response.headers["Access-Control-Allow-Origin"] = "*"
    response.headers["Access-Control-Allow-Methods"] = "GET, POST, OPTIONS"
    response.headers["Access-Control-Allow-Headers"] = "Authorization, Content-Type"
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.route("/<service_id>", methods=["POST"])
@requires(Permission.CDS_HOOKS_CALL)
def call(service_id: str) -> Response:
    service = SERVICES.get(service_id)
    if service is None:
        return _error(404, f"No CDS service '{service_id[:80]}': see GET /cds-services.")
    audiences = list(dict.fromkeys([request.base_url, public_url() + request.path]))
    session = db.session()
    try:
        system = authenticate(session, request.headers.get("Authorization"), audiences)
    except CdsUnauthorized as refused:
        return _error(401, refused.message)
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        return _error(400, "The body must be a JSON object (a CDS Hooks request).")
    try:
        hook_request, context = parse_call(service, body)
    except ValidationError as bad:
        return _error(400, "The CDS Hooks request is not valid.", errors=bad.errors)
    if hook_request.hook != service.hook:
        return _error(400, "The CDS Hooks request is not valid.", errors={
            "hook": [f"This service answers the '{service.hook}' hook."]})
    fetcher: Fetcher = current_app.extensions.get(FETCHER, http_fetch)
    cards = answer_call(session, Call(system=system, service=service, request=hook_request,
                                      fetcher=fetcher, public_url=public_url()), context)
    return _json({"cards": cards})
