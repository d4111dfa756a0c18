"""Every error under ``/api/`` answers as ``application/problem+json`` (RFC 9457)."""

from __future__ import annotations

from typing import Any

from flask import Flask, Response, jsonify, request
from werkzeug.exceptions import HTTPException

from registry import db
from registry.api.blueprint import bp
from registry.errors import (
    Conflict,
    InputError,
    NotFound,
    PermissionDenied,
    RegistryError,
    ValidationError,
)

PROBLEM_JSON = "application/problem+json"

# slug, title for each status the API answers with
TITLES: dict[int, tuple[str, str]] = {
    400: ("bad-request", "Bad request"),
    401: ("unauthorized", "Authentication required"),
    403: ("forbidden", "Not allowed"),
    404: ("not-found", "Not found"),
    405: ("method-not-allowed", "Method not allowed"),
    409: ("conflict", "Conflict"),
    413: ("payload-too-large", "Request body too large"),
    415: ("unsupported-media-type", "Unsupported media type"),
    422: ("validation-error", "Invalid request"),
    429: ("rate-limited", "Too many requests"),
    500: ("internal-error", "Internal error"),
    503: ("service-unavailable", "Service unavailable"),
}

PROBLEM_TYPES = {
    "bad-request": "The request could not be read (for example the body is not valid JSON).",
    "unauthorized": "No bearer token, or the token is unknown, expired or revoked.",
    "invalid-credentials": "The email and password (and code) did not match, or the account "
    "is locked for a few minutes after too many failures.",
    "forbidden": "The caller is authenticated but their role may not do this.",
    "not-found": "No such record, or one the caller may not see (404, not 403, so that "
    "nobody learns what exists).",
    "method-not-allowed": "The path exists but not with this method; see the Allow header.",
    "conflict": "The request contradicts the record.",
    "payload-too-large": "The body is over 64 KiB.",
    "unsupported-media-type": "The body is not JSON.",
    "validation-error": "A field is missing or wrong: `errors` maps each field to messages.",
    "idempotency-key-reused": "This Idempotency-Key was already used by this user for a "
    "different request.",
    "authorization-denied": "The dispensing authorization was denied: `reasons` lists every "
    "check that failed, each with a code, a message and what to do.",
    "rate-limited": "Too many requests: wait the number of seconds in Retry-After.",
    "internal-error": "The server failed; nothing was stored.",
    "service-unavailable": "The database cannot be reached or is too busy just now; nothing "
    "was stored. Send the same request again after the Retry-After seconds (with the same "
    "Idempotency-Key).",
}


def problem_type(slug: str) -> str:
    return request.host_url.rstrip("/") + "/api/problems/" + slug


def problem(status: int, detail: str, *, slug: str | None = None, title: str | None = None,
            headers: dict[str, str] | None = None, **extra: Any) -> Response:
    default_slug, default_title = TITLES.get(status, ("error", "Error"))
    body = {
        "type": problem_type(slug or default_slug),
        "title": title or default_title,
        "status": status,
        "detail": detail,
        **extra,
    }
    response = jsonify(body)
    response.status_code = status
    response.content_type = PROBLEM_JSON
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def api_http_error(exc: HTTPException) -> Response:
    """For ``app.extensions["registry.api_error_handler"]``: any HTTP error under /api/."""
    db.rollback_request()
    status = exc.code or 500
    headers = {k: v for k, v in exc.get_headers() if k.lower() != "content-type"}
    if status == 401:
        headers["WWW-Authenticate"] = 'Bearer realm="registry"'
    detail = exc.description or ""
    if status == 404 and "requested URL was not found" in detail:
        detail = "There is nothing at this path."
    if status == 413:
        detail = "The request body is over the 64 KiB limit."
    if status == 429:
        detail = f"Rate limit exceeded ({exc.description}). Retry after the Retry-After seconds."
    if status == 503:
        detail = ("The registry cannot reach its database just now; nothing was stored. "
                  "Retry after the Retry-After seconds.")
    elif status >= 500:
        detail = "The server failed to answer this request; nothing was stored."
    return problem(status, detail, headers=headers)


def _registry_error(exc: RegistryError) -> Response:
    db.rollback_request()
    if isinstance(exc, InputError):
        return problem(422, exc.message or "The request has invalid fields.", errors=exc.errors,
                       violates_schema=True)
    if isinstance(exc, ValidationError):
        return problem(422, exc.message or "The request has invalid fields.", errors=exc.errors)
    if isinstance(exc, NotFound):
        return problem(404, exc.message or "Not found.")
    if isinstance(exc, PermissionDenied):
        return problem(403, exc.message or "Not allowed.")
    if isinstance(exc, Conflict):
        return problem(409, exc.message or "Conflict.")
    return problem(exc.status, exc.message or "The request failed.")


bp.register_error_handler(RegistryError, _registry_error)


def init_app(app: Flask) -> None:
    app.extensions["registry.api_error_handler"] = api_http_error
