"""The JSON API v1 (``/api/v1``), its OpenAPI document and its docs page (``/api/docs``)."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    from registry.api import (  # noqa: F401 - registers handlers
        docs,
        endpoints,
        errors,
        idempotency,
    )
    from registry.api.blueprint import bp
    from registry.extensions import csrf

    csrf.exempt(bp)
    app.register_blueprint(bp)
    app.register_blueprint(docs.docs_bp)
    errors.init_app(app)
