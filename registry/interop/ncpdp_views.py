"""``POST /ncpdp/script``: the one NCPDP SCRIPT REMS door (XML over HTTP).

It dispatches on the transaction in the message body (``REMSInitiationRequest`` or
``REMSRequest``); see :mod:`registry.interop.ncpdp_service` and docs/interop.md. Every answer
is an NCPDP message (``application/xml``): a refusal is an ``Error`` with a 4xx status, never
an HTML page and never a 5xx for anything the caller sent.
"""

from __future__ import annotations

from flask import Blueprint, Flask, Response, request
from werkzeug.exceptions import HTTPException

from registry import db
from registry.interop import ncpdp_service
from registry.interop.ncpdp import MAX_BYTES, NcpdpError

bp = Blueprint("ncpdp", __name__, url_prefix="/ncpdp")

XML_TYPES = frozenset({"application/xml", "text/xml"})
MIMETYPE = "application/xml"


def _credential() -> str | None:
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    return value.strip() or None if scheme.lower() == "bearer" else None


def _send(answer_status: int, body: bytes) -> Response:
    return Response(body, status=answer_status, mimetype=MIMETYPE)


@bp.post("/script")
def script() -> Response:
    if request.mimetype not in XML_TYPES:
        refused = ncpdp_service.refusal(NcpdpError(
            415, "Send the message as XML: Content-Type: application/xml."))
        return _send(refused.status, refused.body)
    if (request.content_length or 0) > MAX_BYTES:
        refused = ncpdp_service.refusal(NcpdpError(
            413, f"The message is larger than {MAX_BYTES} bytes."))
        return _send(refused.status, refused.body)
    try:
        raw = request.get_data(cache=False)
    except HTTPException as exc:  # a body the server could not read (too large, cut off)
        refused = ncpdp_service.refusal(NcpdpError(exc.code or 400, str(exc.description)))
        return _send(refused.status, refused.body)
    answer, roll_back = ncpdp_service.handle(db.session(), _credential(), raw)
    if roll_back:
        db.rollback_request()
    return _send(answer.status, answer.body)


def init_app(app: Flask) -> None:
    from registry.extensions import csrf

    csrf.exempt(bp)
    app.register_blueprint(bp)
