"""The ``/api/v1`` blueprint, bearer-token authentication and JSON body parsing."""

from __future__ import annotations

import functools
import hashlib
import json
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from flask import Blueprint, current_app, request
from limits import RateLimitItem
from limits import parse as parse_limit
from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import Session, defer, lazyload
from werkzeug.exceptions import BadRequest, HTTPException, TooManyRequests, UnsupportedMediaType

from registry import clock, db
from registry.accounts.models import User
from registry.api.models import ApiToken
from registry.errors import NotFound, ValidationError
from registry.permissions import remember_caller
from registry.pharmacies.models import Pharmacist, Pharmacy
from registry.prescribers.models import Prescriber

bp = Blueprint("api", __name__, url_prefix="/api/v1")

LAST_USED_RESOLUTION = timedelta(minutes=1)


class ApiUnauthorized(HTTPException):
    code = 401
    description = "Send a valid bearer token: Authorization: Bearer <token> (POST /api/v1/tokens)."


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def bearer_token() -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        return None
    return value.strip()


# The door, in one statement: the token, its user and, when the user is one, their
# pharmacist (with the pharmacy) or prescriber record, which the operations would otherwise
# each fetch again (registry.permissions.remember_caller). Built once: its cache key and SQL
# are reused by every request. The user relationships are not joined a second time: the
# many-to-one lazy loads find the user in the session's identity map.
_DOOR = (
    select(ApiToken, User, Pharmacist, Pharmacy, Prescriber)
    .join(User, User.id == ApiToken.user_id)
    .outerjoin(Pharmacist, Pharmacist.user_id == User.id)
    .outerjoin(Pharmacy, Pharmacy.id == Pharmacist.pharmacy_id)
    .outerjoin(Prescriber, Prescriber.user_id == User.id)
    .where(ApiToken.token_hash == bindparam("token_hash"))
    .options(lazyload(ApiToken.user), lazyload(Pharmacist.user), lazyload(Prescriber.user),
             # what no API operation reads of its caller: loaded on first use if ever
             # (each column read costs every request about 3 us, in psycopg and the ORM)
             defer(ApiToken.token_hash), defer(ApiToken.created_at),
             defer(User.password_hash), defer(User.totp_secret), defer(User.created_at),
             defer(User.failed_logins), defer(User.locked_until),
             defer(User.email_confirmed_at), defer(Pharmacy.address),
             defer(Pharmacy.registered_at), defer(Prescriber.enrolled_at))
)


def current_token() -> ApiToken | None:
    """The request's valid token, or None (no header, unknown, expired or revoked)."""
    cache = request.environ  # per request (an app context, and ``g``, may span several)
    if "registry.api_token" in cache:
        return cache["registry.api_token"]
    token = None
    raw = bearer_token()
    if raw is not None and len(raw) <= 200:
        session = db.session()
        found = session.execute(_DOOR, {"token_hash": token_hash(raw)}).first()
        now = clock.now()
        row: ApiToken | None = found[0] if found is not None else None
        if found is not None and row is not None and row.revoked_at is None \
                and row.expires_at > now:
            remember_caller(session, found.User, pharmacist=found.Pharmacist,
                            pharmacy=found.Pharmacy, prescriber=found.Prescriber)
            # At most one write a minute: a busy client's parallel requests would otherwise
            # all queue on this row's lock.
            if row.last_used_at is None or now - row.last_used_at > LAST_USED_RESOLUTION:
                if db.request_may_write():
                    row.last_used_at = now
                    session.flush()
                else:
                    db.after_commit(_touch(row.id, now))
            token = row
    cache["registry.api_token"] = token
    return token


def _touch(token_id: int, now: datetime) -> Callable[[Session], None]:
    def write(session: Session) -> None:
        session.execute(update(ApiToken).where(ApiToken.id == token_id).values(last_used_at=now))

    return write


def current_user() -> User:
    """The authenticated caller; 401 when there is none."""
    token = current_token()
    if token is None:
        if bearer_token() is not None:
            raise ApiUnauthorized("This token is not valid: it is unknown, expired or revoked.")
        raise ApiUnauthorized()
    return token.user


def optional_user() -> User | None:
    token = current_token()
    return token.user if token is not None else None


def json_body() -> dict[str, Any]:
    """The request body as a JSON object: 415 if it is not JSON, 400 if it does not parse."""
    if "registry.api_json" in request.environ:
        return request.environ["registry.api_json"]
    raw = request.get_data(cache=True)
    if not raw.strip():
        body: Any = {}
    else:
        if not request.mimetype or not (
            request.mimetype == "application/json" or request.mimetype.endswith("+json")
        ):
            raise UnsupportedMediaType("Send the body as JSON: Content-Type: application/json.")
        try:
            body = json.loads(raw)
        except (ValueError, UnicodeDecodeError, RecursionError) as exc:
            raise BadRequest(f"The body is not valid JSON: {exc}.") from None
        if not isinstance(body, dict):
            raise BadRequest("The body must be a JSON object.")
        problems = unstorable_fields(body)
        if problems:
            raise ValidationError(problems)
    request.environ["registry.api_json"] = body
    return body


NUL_MESSAGE = "Must not contain the NUL character (\\u0000)."
MAX_INT = 2**31 - 1
INT_MESSAGE = f"Must be a whole number between {-MAX_INT} and {MAX_INT}."


def unstorable_fields(value: Any, path: str = "") -> dict[str, str]:
    """Values no database column takes: text with NUL, integers beyond 32 bits. Refused with
    the field named, before any query, so that they are a 422 and never a database error."""
    found: dict[str, str] = {}
    if isinstance(value, str):
        if "\x00" in value:
            found[path or "body"] = NUL_MESSAGE
    elif isinstance(value, int) and not isinstance(value, bool):
        if abs(value) > MAX_INT:
            found[path or "body"] = INT_MESSAGE
    elif isinstance(value, dict):
        for key, item in value.items():
            name = f"{path}.{key}" if path else str(key)
            if "\x00" in str(key):
                found[name.replace("\x00", "")] = NUL_MESSAGE
            else:
                found.update(unstorable_fields(item, name))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            found.update(unstorable_fields(item, f"{path}[{i}]"))
    return found


@bp.before_request
def _refuse_nul_characters() -> None:
    """A NUL in the path or the query is refused before any query meets the database."""
    for value in (request.view_args or {}).values():
        if isinstance(value, str) and "\x00" in value:
            raise NotFound("No such record.")
    fields = [name.replace("\x00", "") for name, value in request.args.items(multi=True)
              if "\x00" in name or "\x00" in value]
    if fields:
        raise ValidationError(dict.fromkeys(fields, NUL_MESSAGE))


@functools.lru_cache(maxsize=64)
def _parsed_limit(value: str) -> RateLimitItem:
    return parse_limit(value)


def limit(config_key: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """The endpoint's rate limit, ``current_app.config[config_key]`` ("60 per minute"),
    counted per caller (registry.extensions.rate_limit_key: the verified account, else the
    address) by Flask-Limiter's own strategy and storage (Redis when served), so its switch
    (``limiter.enabled``) and ``limiter.reset()`` hold for it too. Asked here through the
    `limits` library that Flask-Limiter is built on: its decorator's bookkeeping (shared
    and dynamic limits, exemptions, per-method scopes, none of which the API uses) cost
    about 0.15 ms of CPU per request, a tenth of a status lookup. A refusal is a 429 with
    Retry-After, the end of the window."""
    from registry.extensions import limiter, rate_limit_key

    def decorate(view: Callable[..., Any]) -> Callable[..., Any]:
        scope = f"api.{view.__name__}"

        @functools.wraps(view)
        def limited(**path_params: Any) -> Any:
            if limiter.enabled:
                item = _parsed_limit(str(current_app.config[config_key]))
                who = (current_app.config["RATELIMIT_KEY_PREFIX"], rate_limit_key(), scope)
                strategy = limiter.limiter
                if not strategy.hit(item, *who):
                    reset_at = strategy.get_window_stats(item, *who).reset_time
                    raise TooManyRequests(description=str(item), retry_after=max(
                        1, int(reset_at - time.time()) + 1))
            return view(**path_params)

        return limited

    return decorate
