"""The counter: authorization checks and requests (RMA), lookups, dispenses and reversals."""

from __future__ import annotations

from flask import Response

from registry import clock, db
from registry.accounts.models import User
from registry.api.contract import endpoint
from registry.api.errors import problem
from registry.api.idempotency import idempotency_key, key_reused
from registry.authorizations.operations import (
    check_authorization,
    effective_status,
    find_authorization,
    record_dispense,
    request_authorization,
    reverse_authorization,
)
from registry.authorizations.queries import pharmacy_authorizations
from registry.authorizations.schemas import (
    AuthorizationCheckOut,
    AuthorizationDenied,
    AuthorizationIssued,
    AuthorizationOut,
    AuthorizationPage,
    AuthorizationRequest,
    Dispensation,
    Dispensed,
    PharmacyAuthorizationsQuery,
    ReasonOut,
    ReversalReason,
    Reversed,
)
from registry.errors import Conflict
from registry.policy import Permission as P


@endpoint("POST", "/authorization-checks", permission=P.AUTHORIZATIONS_CHECK,
          body=AuthorizationRequest, response=AuthorizationCheckOut, tag="Authorizations",
          summary="Check an authorization without issuing it",
          rate_limit="API_RATELIMIT_LOOKUPS", idempotent=False,
          description="The same reasons a request would get; nothing is issued or stored "
          "but the audit of the check. A registry ID or NPI whose check digit is wrong is "
          "invalid (422 naming the field), not a denial.")
def create_check(user: User, body: AuthorizationRequest) -> AuthorizationCheckOut:
    return AuthorizationCheckOut.of(check_authorization(db.session(), user, body))


@endpoint("POST", "/authorizations", permission=P.AUTHORIZATIONS_REQUEST,
          body=AuthorizationRequest, response=AuthorizationIssued, status=201,
          tag="Authorizations", summary="Request a dispensing authorization (RMA)",
          rate_limit="API_RATELIMIT_LOOKUPS", denies=AuthorizationDenied, replays_itself=True,
          description="Denied: 422 problem with `type` ending `/authorization-denied`, "
          "`reasons` and `ruleset`. A registry ID or NPI whose check digit is wrong is "
          "invalid (`errors` names `registry_id` or `prescriber_npi`), not a denial: no "
          "decision is stored. An `Idempotency-Key` header is kept with the decision: the "
          "same key with the same body returns the same RMA (or denial) again "
          "(`Idempotent-Replayed: true`), with another body it is a 422.")
def create_authorization(user: User, body: AuthorizationRequest) -> Response:
    """The core stores the decision with the key and replays it (safe under concurrency):
    a denial, which the shared idempotency layer would not keep, is replayed from there, and
    so is the page's form token. The shared layer is not used here (one lookup, not two)."""
    key = idempotency_key()
    try:
        outcome = request_authorization(db.session(), user, body, idempotency_key=key)
    except Conflict:
        db.rollback_request()
        return key_reused()
    headers = {"Idempotent-Replayed": "true"} if outcome.replayed else {}
    if outcome.authorization is not None:
        answer = AuthorizationIssued.of(outcome.authorization)
        return Response(answer.model_dump_json(), status=201, headers=headers,
                        mimetype="application/json")
    return problem(
        422, "The dispensing authorization was denied; see `reasons`.",
        slug="authorization-denied", title="Authorization denied",
        reasons=[ReasonOut.of(r).model_dump(mode="json") for r in outcome.reasons],
        ruleset=outcome.decision.ruleset, headers=headers,
    )


@endpoint("GET", "/authorizations/{rma}", permission=P.AUTHORIZATIONS_READ,
          response=AuthorizationOut, tag="Authorizations", summary="An authorization",
          description="The issuing pharmacy, the prescriber of record (and their designees), "
          "staff; anyone else gets 404.")
def get_authorization(user: User, rma: str) -> AuthorizationOut:
    auth = find_authorization(db.session(), user, rma)
    return AuthorizationOut.of(auth, effective_status(auth))


@endpoint("POST", "/authorizations/{rma}/dispensation", permission=P.DISPENSES_RECORD,
          body=Dispensation, response=Dispensed, tag="Authorizations",
          summary="Record the dispense", errors=(409,),
          description="The issuing pharmacy's pharmacists. An RMA changed by another "
          "request meanwhile is a 409 naming what happened.")
def dispense(user: User, rma: str, body: Dispensation) -> Dispensed:
    session = db.session()
    auth = find_authorization(session, user, rma)
    done = record_dispense(session, user, auth, body)
    return Dispensed(rma=auth.rma, dispensed_on=done.dispensed_on)


@endpoint("POST", "/authorizations/{rma}/reversal", permission=P.DISPENSES_REVERSE,
          body=ReversalReason, response=Reversed, tag="Authorizations",
          summary="Reverse (not dispensed, or returned to stock)", errors=(409,),
          description="The issuing pharmacy's pharmacists.")
def reverse(user: User, rma: str, body: ReversalReason) -> Reversed:
    session = db.session()
    auth = find_authorization(session, user, rma)
    reverse_authorization(session, user, auth, body)
    return Reversed(rma=auth.rma)


@endpoint("GET", "/pharmacies/{pharmacy_id}/authorizations",
          permission=P.PHARMACIES_AUTHORIZATIONS_LIST, query=PharmacyAuthorizationsQuery,
          response=AuthorizationPage, tag="Authorizations",
          summary="The pharmacy's authorizations, newest first",
          description="Its pharmacists. Pass `next_cursor` as `cursor` for the next page "
          "(null on the last).")
def list_pharmacy_authorizations(user: User, pharmacy_id: int,
                                 query: PharmacyAuthorizationsQuery) -> AuthorizationPage:
    page = pharmacy_authorizations(db.session(), user, pharmacy_id, since=query.since,
                                   cursor=query.cursor, limit=query.limit)
    today = clock.today()
    return AuthorizationPage(items=[AuthorizationOut.of(a, effective_status(a, today))
                                    for a in page.items], next_cursor=page.next_cursor)
