"""Flask extensions shared by the web pages and the API."""

from __future__ import annotations

import logging
import time

from flask import Flask, Response, request
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


def retry_after(response: Response) -> Response:
    """A refusal by a rate limit says when to try again (``Retry-After``, in seconds): when
    the limit that refused it resets. Only refusals ask the counter store for that; the
    limiter's X-RateLimit-* headers on every answer would cost each request a second round
    trip to it (Redis), and no client of ours reads them (api-v1.md: 429 with Retry-After)."""
    if response.status_code == 429 and "Retry-After" not in response.headers:
        seconds = 60
        try:
            current = limiter.current_limit
            if current is not None:
                seconds = int(current.reset_at - time.time()) + 1
        except Exception:  # the store went away between the refusal and now: a minute
            logging.getLogger("registry").warning(
                "rate limit store unreachable for Retry-After; answering 60 s", exc_info=True)
        response.headers["Retry-After"] = str(max(1, seconds))
    return response


def _limiter_pass_for_pages_only(app: Flask) -> None:
    """Flask-Limiter's own limits are on a few pages only (sign-in, password reset,
    account e-mails): its decorators, with no default limits. The API counts its calls
    itself (registry.api.blueprint.limit, with the same limiter's strategy and storage),
    so an API request skips Flask-Limiter's per-request pass, which resolves the
    request's endpoint against every decorated, default and exempted limit (about 0.05 ms
    of CPU even when there is none)."""
    check = limiter._check_request_limit
    hooks = app.before_request_funcs.setdefault(None, [])
    if check not in hooks:  # a limiter switched off (RATELIMIT_ENABLED) adds no hooks
        return
    at = hooks.index(check)

    def pages_only() -> None:
        if not request.path.startswith("/api/"):
            check()

    hooks[at] = pages_only


def init_app(app: Flask) -> None:
    # Where the counts live: memory:// is per process (each gunicorn worker counts on its
    # own); redis://host:6379/0 counts once for every worker and every server.
    app.config["RATELIMIT_STORAGE_URI"] = app.config["RATELIMIT_STORAGE_URL"]
    app.config["RATELIMIT_HEADERS_ENABLED"] = False
    limiter.init_app(app)
    _limiter_pass_for_pages_only(app)
    app.after_request(retry_after)
    csrf.init_app(app)
