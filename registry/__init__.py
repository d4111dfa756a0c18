"""The pregnancy-prevention program registry."""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any

from flask import Flask, Response

from registry import config as config_module
from registry import db


def _secret_key(instance_path: str) -> str:
    """A stable secret for this instance, generated once into instance/secret_key."""
    path = Path(instance_path) / "secret_key"
    if path.exists():
        return path.read_text().strip()
    key = secrets.token_hex(32)
    path.write_text(key)
    path.chmod(0o600)
    return key


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    app = Flask(
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

    from registry import cli

    cli.init_app(app)
    _register_request_transaction(app)
    return app


def _register_request_transaction(app: Flask) -> None:
    """One commit per request, in one place; any exception rolls everything back."""

    @app.after_request
    def _commit(response: Response) -> Response:
        db.commit_request()
        return response
