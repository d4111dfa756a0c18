"""The floor: the least a JSON endpoint of this stack can do, served like the registry.

One Flask endpoint: the bearer token is looked up (by its SHA-256, as the registry stores
it) and one patient row is read by key, with SQLAlchemy on the registry's own database:
2 statements. Every registry endpoint is measured against it (``bench/run``); the ratio
says how much the registry adds to the cost of the framework, the driver and the server.

    GUNICORN_BIND=127.0.0.1:8102 REGISTRY_DATABASE_URL=postgresql://... \\
        .venv/bin/gunicorn -c bench/gunicorn.conf.py 'bench.floor:create_app()'
"""

from __future__ import annotations

import hashlib
import os
from typing import Any

from flask import Flask, g, jsonify, request
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from registry import clock
from registry.api.models import ApiToken
from registry.db import make_engine
from registry.patients.models import Patient


def create_app(database_url: str | None = None) -> Flask:
    app = Flask(__name__)
    url = database_url or os.environ["REGISTRY_DATABASE_URL"]
    # The registry's engine (same driver and pool settings), as the registry makes it.
    engine = make_engine(url, pool_size=5, max_overflow=10, pool_timeout=10)
    app.extensions["registry.engine"] = engine  # as the registry keeps it (gunicorn's when_ready)
    make_session = sessionmaker(bind=engine, expire_on_commit=False)

    def session() -> Session:
        if "session" not in g:
            g.session = make_session()
        return g.session  # type: ignore[no-any-return]

    @app.teardown_appcontext
    def _close(exc: BaseException | None) -> None:
        s = g.pop("session", None)
        if s is not None:
            s.close()

    @app.post("/api/v1/floor")
    def floor() -> Any:
        auth = request.headers.get("Authorization", "")
        raw = auth.removeprefix("Bearer ").strip()
        digest = hashlib.sha256(raw.encode()).hexdigest()
        s = session()
        token = s.execute(
            select(ApiToken.user_id, ApiToken.expires_at).where(ApiToken.token_hash == digest)
        ).first()
        if token is None or token.expires_at <= clock.now():
            return jsonify(error="invalid token"), 401
        body = request.get_json(silent=True) or {}
        patient = s.execute(
            select(Patient).where(Patient.registry_id == str(body.get("registry_id", "")))
        ).scalar_one_or_none()
        if patient is None:
            return jsonify(error="no such patient"), 404
        return jsonify(registry_id=patient.registry_id, status=patient.status,
                       risk_category=patient.risk_category)

    return app
