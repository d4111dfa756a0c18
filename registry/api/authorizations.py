"""Dispensing authorizations: checks, requests (RMA), lookups, dispenses and reversals."""

from __future__ import annotations

from typing import Any

from registry import db
from registry.api import serializers
from registry.api.blueprint import bp, current_user, json_body, limit
from registry.api.errors import problem
from registry.api.idempotency import idempotency_key, idempotent, key_reused
from registry.authorizations.operations import (
    check_authorization,
    find_authorization,
    record_dispense,
    request_authorization,
    reverse_authorization,
)
from registry.errors import Conflict

REQUEST_FIELDS = ("registry_id", "date_of_birth", "prescriber_npi", "days_supply", "quantity",
                  "refills")


def _request(body: dict[str, Any]) -> dict[str, Any]:
    return {k: body.get(k) for k in REQUEST_FIELDS}


@bp.post("/authorization-checks")
@limit("API_RATELIMIT_LOOKUPS")
def create_check() -> Any:
    user = current_user()
    decision = check_authorization(db.session(), user, **_request(json_body()))
    return serializers.check(decision), 200


@bp.post("/authorizations")
@limit("API_RATELIMIT_LOOKUPS")
def create_authorization() -> Any:
    """The core stores the decision with the key and replays it (safe under concurrency)."""
    user = current_user()
    body = json_body()
    key = idempotency_key()
    try:
        outcome = request_authorization(db.session(), user, idempotency_key=key,
                                        **_request(body))
    except Conflict:
        db.rollback_request()
        return key_reused()
    headers = {"Idempotent-Replayed": "true"} if outcome.replayed else {}
    if outcome.authorization is not None:
        return serializers.issued(outcome), 201, headers
    return problem(
        422, "The dispensing authorization was denied; see `reasons`.",
        slug="authorization-denied", title="Authorization denied",
        reasons=[serializers.reason(r) for r in outcome.reasons],
        ruleset=outcome.decision.ruleset, headers=headers,
    )


@bp.get("/authorizations/<rma>")
def get_authorization(rma: str) -> Any:
    user = current_user()
    return serializers.authorization(find_authorization(db.session(), user, rma))


@bp.post("/authorizations/<rma>/dispensation")
@idempotent
def dispense(rma: str) -> Any:
    user = current_user()
    body = json_body()
    session = db.session()
    auth = find_authorization(session, user, rma)
    record_dispense(session, user, auth, dispensed_on=body.get("dispensed_on"),
                    quantity=body.get("quantity"), days_supply=body.get("days_supply"))
    return serializers.dispensed(auth), 200


@bp.post("/authorizations/<rma>/reversal")
@idempotent
def reverse(rma: str) -> Any:
    user = current_user()
    body = json_body()
    session = db.session()
    auth = find_authorization(session, user, rma)
    reverse_authorization(session, user, auth, reason=body.get("reason"))
    return serializers.reversed_(auth), 200
