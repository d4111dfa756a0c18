"""A database that cannot be reached, or is too busy, answers 503 with Retry-After (problem+json
under /api/, a page elsewhere), never a 500, and the failing request's rollback does not crash."""

from __future__ import annotations

import socket
import sqlite3
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from sqlalchemy.orm import Session

from registry import create_app
from tests import factories as f
from tests.harness import TEST_CONFIG

BEARER = {"Authorization": "Bearer not-a-real-token-but-it-must-be-looked-up"}


def _closed_port() -> int:
    """A local port where nothing listens (bound, then closed again)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _make(url: str, **config: Any) -> Flask:
    return create_app({**TEST_CONFIG, "DATABASE_URL": url, **config})


def _assert_api_503(response: Any) -> None:
    assert response.status_code == 503, (response.status_code, response.get_data(as_text=True))
    assert response.mimetype == "application/problem+json"
    body = response.get_json()
    assert body["status"] == 503
    assert body["type"].endswith("/api/problems/service-unavailable")
    assert int(response.headers["Retry-After"]) > 0
    assert "no-store" in response.headers.get("Cache-Control", "")


def _assert_page_503(response: Any) -> None:
    assert response.status_code == 503, (response.status_code, response.get_data(as_text=True))
    assert response.mimetype == "text/html"
    text = response.get_data(as_text=True)
    assert "Error 503" in text
    assert "Something went wrong" not in text
    assert int(response.headers["Retry-After"]) > 0


@pytest.fixture
def dead_app() -> Iterator[Flask]:
    app = _make(f"postgresql://postgres@127.0.0.1:{_closed_port()}/registry",
                DATABASE_CONNECT_TIMEOUT=2)
    yield app
    app.extensions["registry.engine"].dispose()


def test_no_database_server_api_call_is_503(dead_app: Flask) -> None:
    client = dead_app.test_client()
    _assert_api_503(client.get("/api/v1/patients/0000000000/status", headers=BEARER))
    _assert_api_503(client.post("/api/v1/tokens",
                                json={"email": "x@example.org", "password": "long-enough-pw"}))


def test_no_database_server_page_is_503(dead_app: Flask) -> None:
    client = dead_app.test_client()
    _assert_page_503(client.post("/login", data={"email": "x@example.org",
                                                 "password": "long-enough-pw"}))


def test_no_database_server_signed_in_page_is_503(dead_app: Flask, app: Flask,
                                                  session: Session) -> None:
    """The user loader meets the dead database first; the 503 page itself must not need it."""
    user = f.staff(session)
    session.commit()
    good = app.test_client()
    signed_in = good.post("/login", data={"email": user.email, "password": f.PASSWORD})
    assert signed_in.status_code == 302
    cookie = good.get_cookie("session")
    assert cookie is not None
    client = dead_app.test_client()
    client.set_cookie("session", cookie.value)
    _assert_page_503(client.get("/staff/"))


@pytest.fixture
def one_connection_app(database_url: str) -> Iterator[Flask]:
    app = _make(database_url, DATABASE_POOL_SIZE=1, DATABASE_MAX_OVERFLOW=0,
                DATABASE_POOL_TIMEOUT=0.2)
    yield app
    app.extensions["registry.engine"].dispose()


def test_pool_exhausted_is_503(one_connection_app: Flask) -> None:
    engine = one_connection_app.extensions["registry.engine"]
    client = one_connection_app.test_client()
    with engine.connect():  # another request holds the only connection
        _assert_api_503(client.get("/api/v1/patients/0000000000/status", headers=BEARER))
        _assert_page_503(client.post("/login", data={"email": "x@example.org",
                                                     "password": "long-enough-pw"}))
    # Once the connection is back, the same app answers normally.
    response = client.get("/api/v1/patients/0000000000/status", headers=BEARER)
    assert response.status_code == 401


def test_sqlite_database_locked_after_the_busy_timeout_is_503(tmp_path: Any) -> None:
    path = tmp_path / "locked.sqlite3"
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("PRAGMA journal_mode=WAL")
    holder.execute("CREATE TABLE t (x INTEGER)")
    app = _make(f"sqlite:///{path}", SQLITE_BUSY_TIMEOUT_MS=100)
    try:
        holder.execute("BEGIN IMMEDIATE")  # another writer holds the write lock
        client = app.test_client()
        _assert_api_503(client.post("/api/v1/tokens",
                                    json={"email": "x@example.org", "password": "long-enough"}))
        _assert_page_503(client.post("/login", data={"email": "x@example.org",
                                                     "password": "long-enough-pw"}))
    finally:
        holder.rollback()
        holder.close()
        app.extensions["registry.engine"].dispose()


def test_connection_lost_mid_request_is_503_and_the_rollback_survives(database_url: str) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("the server ending a connection is a PostgreSQL case (runs on PostgreSQL)")
    from sqlalchemy import text

    from registry import db

    app = _make(database_url)

    @app.route("/_test/connection-lost", methods=["POST"])
    def connection_lost() -> str:
        session = db.session()
        session.execute(text("SELECT 1"))
        session.execute(text("SELECT pg_terminate_backend(pg_backend_pid())"))
        return "not reached"

    @app.route("/_test/ping")
    def ping() -> str:
        return str(db.session().execute(text("SELECT 1")).scalar_one())

    try:
        client = app.test_client()
        _assert_page_503(client.post("/_test/connection-lost"))
        # The pool let go of the dead connection: the next request gets a live one.
        response = client.get("/_test/ping")
        assert response.status_code == 200
        assert response.get_data(as_text=True) == "1"
    finally:
        app.extensions["registry.engine"].dispose()


def test_an_idle_pooled_connection_the_server_dropped_is_one_503_then_reconnects(
        database_url: str) -> None:
    """No ping before every request (pool_pre_ping): a pooled connection that died while idle
    (server restart, firewall) fails the one request that takes it, with a 503 that says to
    retry, and the pool reconnects for the next."""
    if not database_url.startswith("postgresql"):
        pytest.skip("a server dropping a connection is a PostgreSQL case (runs on PostgreSQL)")
    from sqlalchemy import text

    from registry import db
    from registry.db import make_engine

    app = _make(database_url, DATABASE_POOL_SIZE=1, DATABASE_MAX_OVERFLOW=0)

    @app.route("/_test/backend")
    def backend() -> str:
        return str(db.session().execute(text("SELECT pg_backend_pid()")).scalar_one())

    engine = app.extensions["registry.engine"]
    try:
        client = app.test_client()
        pid = int(client.get("/_test/backend").get_data(as_text=True))
        other = make_engine(database_url)  # the app's pool holds the idle connection
        with other.connect() as admin:
            admin.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
            admin.commit()
        other.dispose()
        _assert_page_503(client.get("/_test/backend"))
        response = client.get("/_test/backend")
        assert response.status_code == 200
        assert int(response.get_data(as_text=True)) != pid
    finally:
        engine.dispose()


def test_connections_are_recycled_not_pinged(database_url: str) -> None:
    app = _make(database_url, DATABASE_POOL_RECYCLE=600)
    engine = app.extensions["registry.engine"]
    try:
        assert engine.pool._pre_ping is False
        expected = 600 if database_url.startswith("postgresql") else -1
        assert engine.pool._recycle == expected
    finally:
        engine.dispose()


def test_the_api_reference_documents_the_503(client: Any) -> None:
    paths = client.get("/api/v1/openapi.json").get_json()["paths"]
    paths.pop("/openapi.json")  # a static document: it never needs the database
    undocumented = [f"{method.upper()} {path}" for path, methods in paths.items()
                    for method, op in methods.items()
                    if "Retry-After" not in op["responses"].get("503", {}).get("headers", {})]
    assert undocumented == []


def test_bookkeeping_after_the_commit_failing_does_not_undo_the_answer(database_url: str) -> None:
    """The request's work is committed; a deferred write after it (an API token's last use)
    that meets an unavailable database is dropped, not turned into a 503 for work that was
    saved."""
    import psycopg
    from sqlalchemy import exc as sa_exc
    from sqlalchemy import func, select

    from registry import db
    from registry.accounts.models import User
    from registry.accounts.operations import create_staff
    from tests.harness import wipe

    app = _make(database_url)

    def lost(session: Session) -> None:
        raise sa_exc.OperationalError("UPDATE api_tokens ...", {},
                                      psycopg.OperationalError("server closed the connection"))

    @app.route("/_test/write-then-bookkeeping", methods=["POST"])
    def write_then_bookkeeping() -> str:
        create_staff(db.session(), None, email="kept@example.org", password="long-enough-pw")
        db.after_commit(lost)
        return "saved"

    engine = app.extensions["registry.engine"]
    wipe(engine)
    try:
        response = app.test_client().post("/_test/write-then-bookkeeping")
        assert response.status_code == 200, response.get_data(as_text=True)
        with app.app_context():
            kept = db.session().execute(
                select(func.count(User.id)).where(User.email == "kept@example.org")).scalar()
        assert kept == 1
    finally:
        wipe(engine)
        engine.dispose()
