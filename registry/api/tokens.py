"""POST /tokens, DELETE /tokens/current."""

from __future__ import annotations

from typing import Any

from registry import db
from registry.accounts.operations import LoginFailed
from registry.api import serializers
from registry.api.blueprint import bp, current_token, current_user, json_body, limit
from registry.api.errors import problem
from registry.api.operations import issue_token, revoke_token


@bp.post("/tokens")
@limit("API_RATELIMIT_TOKENS")
def create_token() -> Any:
    body = json_body()
    session = db.session()
    try:
        token, raw = issue_token(session, email=body.get("email"),
                                 password=body.get("password"), totp=body.get("totp"))
    except LoginFailed as exc:
        # Returned, not raised: the failure count is committed with the request.
        return problem(401, exc.message, slug="invalid-credentials", title="Login failed",
                       headers={"WWW-Authenticate": 'Bearer realm="registry"'})
    return serializers.token(token, raw), 201


@bp.delete("/tokens/current")
def delete_current_token() -> Any:
    user = current_user()
    token = current_token()
    assert token is not None
    revoke_token(db.session(), user, token)
    return "", 204
