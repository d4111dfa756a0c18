"""The pregnancy-prevention program registry."""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any

from flask import Flask, Response, request
from werkzeug.exceptions import HTTPException
from werkzeug.middleware.proxy_fix import ProxyFix

from registry import config as config_module
from registry import db


def _secret_key(instance_path: str) -> str:
    """A stable secret for this instance, generated once into instance/secret_key."""
    path = Path(instance_path) / "secret_key"
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another worker (or an earlier start) made it first
        return path.read_text().strip()
    with os.fdopen(fd, "w") as handle:
        handle.write(secrets.token_hex(32))
    return path.read_text().strip()


class RegistryFlask(Flask):
    """Flask, with the rule that an exception out of a view undoes the request's changes.

    Flask runs ``after_request`` (where the one commit is) for responses made by error
    handlers too, so the rollback must happen as soon as the exception is seen.

    An unavailable database (no server, no free connection in the pool, SQLite still locked
    after its busy timeout) is a 503 with Retry-After, through the usual error pages.
    """

    def handle_user_exception(self, e: Exception) -> Any:
        if db.is_unavailable(e):
            self.logger.warning("Database unavailable: %s", e)
            return super().handle_user_exception(db.unavailable())
        db.rollback_request()
        return super().handle_user_exception(e)

    def handle_exception(self, e: Exception) -> Any:
        # Reached by an exception outside the view, e.g. in the commit after the request.
        if db.is_unavailable(e):
            self.logger.warning("Database unavailable: %s", e)
            response = self.handle_http_exception(db.unavailable())
            return self.finalize_request(response, from_error_handler=True)
        db.rollback_request()
        return super().handle_exception(e)


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    app = RegistryFlask(
        __name__,
        instance_relative_config=True,
        template_folder=str(Path(__file__).resolve().parent.parent / "templates"),
    )
    os.makedirs(app.instance_path, exist_ok=True)
    app.config.from_mapping(config_module.DEFAULTS)
    if test_config is None:
        app.config.from_pyfile("config.py", silent=True)
        app.config.from_mapping(config_module.from_environment(os.environ))
    else:
        app.config.from_mapping(test_config)
    config_module.validate(app.config)
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = _secret_key(app.instance_path)
    url = app.config.get("DATABASE_URL") or (
        "sqlite:///" + os.path.join(app.instance_path, "registry.sqlite3")
    )
    app.config["SQLALCHEMY_URL"] = url

    db.init_app(app)
    proxies = int(app.config["TRUSTED_PROXIES"])
    if proxies > 0:
        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]
            app.wsgi_app, x_for=proxies, x_proto=proxies, x_host=proxies
        )
    from registry import api, cli, extensions, i18n, interop, transport, web

    transport.init_app(app)
    extensions.init_app(app)
    i18n.init_app(app)
    cli.init_app(app)
    web.init_app(app)
    api.init_app(app)
    interop.init_app(app)
    _register_request_transaction(app)
    _register_error_dispatch(app)
    return app


def _register_request_transaction(app: Flask) -> None:
    """One commit per request, in one place; any exception rolls everything back."""

    @app.after_request
    def _commit(response: Response) -> Response:
        db.commit_request()
        return response


def _register_error_dispatch(app: Flask) -> None:
    """HTTP errors answer as problem+json under /api/ and as a page elsewhere.

    The API and the web pages each put their handler in ``app.extensions`` under
    ``registry.api_error_handler`` / ``registry.web_error_handler``.
    """

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException) -> Any:
        for prefix, door in app.extensions.get("registry.error_handlers_by_prefix", {}).items():
            if request.path.startswith(prefix):  # a standard door answers in its own format
                return door(exc)
        key = "registry.api_error_handler" if request.path.startswith("/api/") else (
            "registry.web_error_handler"
        )
        handler = app.extensions.get(key)
        return handler(exc) if handler else exc
