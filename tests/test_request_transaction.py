"""One commit per request, and none when the request fails part-way."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from flask import Flask, abort
from sqlalchemy import func, select

from registry import create_app, db
from registry.accounts.models import User
from registry.accounts.operations import create_staff
from tests.harness import TEST_CONFIG, wipe


def _count(app) -> int:
    with app.app_context():
        return db.session().execute(select(func.count(User.id))).scalar_one()


@pytest.fixture
def own_app(database_url: str) -> Iterator[Flask]:
    """An app of this test's own (it adds routes), on emptied tables, emptied again after;
    a view's failure is answered (500), not raised into the test."""
    app = create_app({**TEST_CONFIG, "DATABASE_URL": database_url})
    app.config["PROPAGATE_EXCEPTIONS"] = False
    engine = app.extensions["registry.engine"]
    wipe(engine)
    try:
        yield app
    finally:
        wipe(engine)
        engine.dispose()


def test_a_view_that_fails_after_writing_commits_nothing(own_app):
    app = own_app

    @app.route("/_test/write-then-fail/<kind>", methods=["POST"])
    def write_then_fail(kind: str):
        create_staff(db.session(), None, email=f"half-{kind}@example.org",
                     password="long-enough-pw")
        if kind == "http":
            abort(409)
        raise RuntimeError("boom")

    @app.route("/_test/write/<name>", methods=["POST"])
    def write(name: str):
        create_staff(db.session(), None, email=f"{name}@example.org", password="long-enough-pw")
        return "ok"

    client = app.test_client()
    before = _count(app)
    assert client.post("/_test/write-then-fail/http").status_code == 409
    assert client.post("/_test/write-then-fail/crash").status_code == 500
    assert _count(app) == before
    assert client.post("/_test/write/whole").status_code == 200
    assert _count(app) == before + 1


def test_a_get_reads_but_cannot_write_and_its_bookkeeping_is_kept(own_app):
    """GET and HEAD read without a write transaction (PostgreSQL: no transaction at all,
    each statement committed by itself): a write through the ORM or in SQL is refused and
    stores nothing; bookkeeping handed to db.after_commit is written after the answer."""
    from sqlalchemy import insert

    app = own_app
    seen: dict[str, object] = {}

    @app.get("/_test/read")
    def read():
        session = db.session()
        seen["count"] = session.execute(select(func.count(User.id))).scalar_one()
        if session.get_bind().dialect.name == "postgresql":
            # No BEGIN was sent: the connection is idle, not in a transaction.
            raw = session.connection().connection.dbapi_connection
            seen["autocommit"] = raw.autocommit
            seen["in_transaction"] = raw.info.transaction_status.name
        db.after_commit(lambda s: create_staff(s, None, email="kept@example.org",
                                               password="long-enough-pw"))
        return "ok"

    @app.get("/_test/orm-write")
    def orm_write():
        create_staff(db.session(), None, email="orm@example.org", password="long-enough-pw")
        return "wrote"

    @app.get("/_test/sql-write")
    def sql_write():
        db.session().execute(insert(User).values(
            email="sql@example.org", password_hash="x", role="staff", first_name="Sql",
            last_name="Write"))
        return "wrote"

    engine = app.extensions["registry.engine"]
    client = app.test_client()
    before = _count(app)
    assert client.get("/_test/read").status_code == 200
    assert seen["count"] == before
    if engine.dialect.name == "postgresql":
        assert seen["autocommit"] is True
        assert seen["in_transaction"] == "IDLE"
    assert _count(app) == before + 1  # the bookkeeping, after the answer
    assert client.get("/_test/orm-write").status_code == 500
    assert client.get("/_test/sql-write").status_code == 500
    with app.app_context():
        emails = set(db.session().execute(select(User.email)).scalars())
    assert "orm@example.org" not in emails
    assert "sql@example.org" not in emails
    assert "kept@example.org" in emails
