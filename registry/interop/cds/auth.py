"""Who is calling: the bearer JWT a CDS client signs for each call (CDS Hooks 2.0, "Trusting
CDS Clients"), verified against the key set program staff registered for its issuer.

No key is ever fetched from an address (the ``jku`` header and a ``jwks_url`` are ignored):
the registered document is the only source of keys. The token must name the service's
own URL as ``aud``, carry ``iss``, ``iat``, ``exp`` (at most five minutes ahead) and a
``jti`` that this issuer has not used before.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from registry import clock
from registry.interop.ehr.models import EhrSystem, EhrTokenUse

# The asymmetric algorithms a CDS client may sign with (the spec names RS384 and ES384);
# never "none" and never an HMAC, whose "key" would be the public key itself.
ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384",
              "ES512", "EdDSA")
LEEWAY = timedelta(seconds=60)
LONGEST_LIFE = timedelta(minutes=5)
MAX_TOKEN_CHARS = 16_000


class CdsUnauthorized(Exception):
    """The call is not from a registered, active EHR system: answered 401, nothing stored."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def bearer(header: str | None) -> str:
    if not header:
        raise CdsUnauthorized("A bearer JWT signed by the EHR is required (CDS Hooks: "
                              "Authorization: Bearer <jwt>).")
    scheme, _, token = header.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise CdsUnauthorized("The Authorization header must be 'Bearer <jwt>'.")
    if len(token) > MAX_TOKEN_CHARS:
        raise CdsUnauthorized("The bearer token is too long to be a CDS Hooks JWT.")
    return token


def _instant(claims: dict[str, Any], name: str) -> datetime:
    value = claims.get(name)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise CdsUnauthorized(f"The JWT has no numeric '{name}' claim.")
    try:
        return datetime.fromtimestamp(value, UTC)
    except (OverflowError, OSError, ValueError):
        raise CdsUnauthorized(f"The JWT's '{name}' claim is not a time.") from None


def _key_for(system: EhrSystem, header: dict[str, Any]) -> Any:
    """The registered key the header names (by ``kid``), or the only key when there is
    one and no ``kid`` is given."""
    keys = [k for k in system.jwks.get("keys", []) if isinstance(k, dict)]
    kid = header.get("kid")
    if kid is not None:
        keys = [k for k in keys if k.get("kid") == kid]
        if not keys:
            raise CdsUnauthorized(f"No key with kid '{kid}' is registered for this issuer.")
    elif len(keys) != 1:
        raise CdsUnauthorized("The JWT header has no 'kid' and the issuer has several keys.")
    import jwt

    try:
        return jwt.PyJWK(keys[0], algorithm=str(header.get("alg"))).key
    except (jwt.PyJWKError, jwt.InvalidKeyError, ValueError, TypeError):
        raise CdsUnauthorized("The registered key cannot verify this JWT's algorithm.") from None


def authenticate(session: Session, header: str | None, audiences: list[str]) -> EhrSystem:
    """The registered, active EHR system that signed this call's JWT; or CdsUnauthorized.

    The ``jti`` is recorded in the caller's transaction (kept until the token expires); a
    second use, even one racing the first, meets the unique constraint and is refused.
    """
    # PyJWT (and the cryptography it loads, ~0.05 s) at the first CDS Hooks call, not in
    # every process that starts the app.
    import jwt

    token = bearer(header)
    try:
        head = jwt.get_unverified_header(token)
        unverified = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError:
        raise CdsUnauthorized("The bearer token is not a well-formed JWT.") from None
    alg = head.get("alg")
    if alg not in ALGORITHMS:
        raise CdsUnauthorized(f"The JWT algorithm must be one of {', '.join(ALGORITHMS)} "
                              f"(got {alg!r}).")
    issuer = unverified.get("iss")
    if not isinstance(issuer, str) or not issuer:
        raise CdsUnauthorized("The JWT has no 'iss' claim.")
    system = session.execute(
        select(EhrSystem).where(EhrSystem.issuer == issuer.rstrip("/"))).scalar_one_or_none()
    if system is None:
        raise CdsUnauthorized("The JWT's issuer is not a registered EHR system.")
    if not system.active:
        raise CdsUnauthorized("This EHR system is deactivated in the program.")
    key = _key_for(system, head)
    try:
        claims = jwt.decode(
            token, key, algorithms=[alg], audience=audiences,
            options={"verify_exp": False, "verify_iat": False, "verify_nbf": False,
                     "verify_iss": False, "require": ["iss", "aud", "exp", "iat", "jti"]})
    except jwt.InvalidSignatureError:
        raise CdsUnauthorized("The JWT's signature does not verify with the registered "
                              "keys.") from None
    except jwt.InvalidAudienceError:
        raise CdsUnauthorized("The JWT's 'aud' is not this service's URL.") from None
    except jwt.MissingRequiredClaimError as error:
        raise CdsUnauthorized(f"The JWT has no '{error.claim}' claim.") from None
    except jwt.PyJWTError:
        raise CdsUnauthorized("The JWT cannot be verified.") from None
    now = clock.now()
    expires, issued = _instant(claims, "exp"), _instant(claims, "iat")
    if expires + LEEWAY < now:
        raise CdsUnauthorized("The JWT has expired.")
    if issued - LEEWAY > now:
        raise CdsUnauthorized("The JWT was issued in the future ('iat').")
    if expires - now > LONGEST_LIFE + LEEWAY:
        raise CdsUnauthorized("The JWT's 'exp' is more than five minutes ahead.")
    jti = claims.get("jti")
    if not isinstance(jti, str) or not jti or len(jti) > 200:
        raise CdsUnauthorized("The JWT's 'jti' must be a string of at most 200 characters.")
    _use_once(session, system, jti, expires + LEEWAY, now)
    return system


def _use_once(session: Session, system: EhrSystem, jti: str, keep_until: datetime,
              now: datetime) -> None:
    if session.execute(select(EhrTokenUse.id).where(
            EhrTokenUse.ehr_system_id == system.id, EhrTokenUse.jti == jti)).first():
        raise CdsUnauthorized("This JWT was used before ('jti' replayed).")
    try:
        with session.begin_nested():
            session.add(EhrTokenUse(ehr_system_id=system.id, jti=jti, expires_at=keep_until))
            session.flush()
    except IntegrityError:
        raise CdsUnauthorized("This JWT was used before ('jti' replayed).") from None
    session.execute(delete(EhrTokenUse).where(EhrTokenUse.ehr_system_id == system.id,
                                              EhrTokenUse.expires_at < now))
