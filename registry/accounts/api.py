"""POST /tokens, DELETE /tokens/current."""

from __future__ import annotations

from flask import Response

from registry import db
from registry.accounts.models import Role, User
from registry.accounts.operations import LoginFailed
from registry.accounts.schemas import Credentials, TokenOut
from registry.api.blueprint import current_token
from registry.api.contract import endpoint
from registry.api.errors import problem
from registry.api.operations import issue_token, revoke_token
from registry.policy import Permission as P


@endpoint("POST", "/tokens", permission=P.TOKENS_ISSUE, body=Credentials, response=TokenOut,
          status=201, tag="Tokens", summary="Get a bearer token", errors=(401,),
          rate_limit="API_RATELIMIT_TOKENS",
          description="Wrong credentials, or an account locked for a few minutes after "
          "too many failures, answer 401 (`invalid-credentials`).")
def create_token(user: User | None, body: Credentials) -> TokenOut | Response:
    try:
        token, raw = issue_token(db.session(), body)
    except LoginFailed as exc:
        # Returned, not raised: the failure count is committed with the request.
        return problem(401, exc.message, slug="invalid-credentials", title="Login failed",
                       headers={"WWW-Authenticate": 'Bearer realm="registry"'})
    return TokenOut(token=raw, expires_at=token.expires_at, role=Role(token.user.role),
                    user_id=token.user_id)


@endpoint("DELETE", "/tokens/current", permission=P.TOKENS_REVOKE, status=204, tag="Tokens",
          summary="Revoke the token of this request", idempotent=False)
def delete_current_token(user: User) -> None:
    token = current_token()
    assert token is not None
    revoke_token(db.session(), user, token)
