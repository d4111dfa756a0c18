"""Flask extensions shared by the web pages and the API."""

from __future__ import annotations

from flask import Flask, request
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_wtf.csrf import CSRFProtect


def rate_limit_key() -> str:
    """Who a rate limit counts against: the verified account when there is one (a valid
    bearer token's user, or the signed-in web user), else the client's address.

    An unknown, expired or revoked bearer value counts against the address: otherwise every
    random value would be a fresh caller with a fresh budget.
    """
    from registry.api.blueprint import bearer_token, current_token

    if bearer_token() is not None:
        token = current_token()
        if token is not None:
            return f"user:{token.user_id}"
    elif not request.path.startswith("/api/"):
        from flask_login import current_user

        if current_user.is_authenticated:
            return f"user:{current_user.id}"
    return "addr:" + (get_remote_address() or "unknown")


limiter = Limiter(key_func=rate_limit_key, default_limits=[])
csrf = CSRFProtect()


def init_app(app: Flask) -> None:
    # Where the counts live: memory:// is per process (each gunicorn worker counts on its
    # own); redis://host:6379/0 counts once for every worker and every server.
    app.config["RATELIMIT_STORAGE_URI"] = app.config["RATELIMIT_STORAGE_URL"]
    app.config["RATELIMIT_HEADERS_ENABLED"] = True
    limiter.init_app(app)
    csrf.init_app(app)
