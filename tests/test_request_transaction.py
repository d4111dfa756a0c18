"""One commit per request, and none when the request fails part-way."""

from __future__ import annotations

from flask import abort
from sqlalchemy import func, select

from registry import create_app, db
from registry.accounts.models import User
from registry.accounts.operations import create_staff
from tests.conftest import TEST_CONFIG, wipe


def _count(app) -> int:
    with app.app_context():
        return db.session().execute(select(func.count(User.id))).scalar_one()


def test_a_view_that_fails_after_writing_commits_nothing(database_url):
    app = create_app({**TEST_CONFIG, "DATABASE_URL": database_url})

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

    app.config["PROPAGATE_EXCEPTIONS"] = False
    engine = app.extensions["registry.engine"]
    wipe(engine)
    try:
        client = app.test_client()
        before = _count(app)
        assert client.post("/_test/write-then-fail/http").status_code == 409
        assert client.post("/_test/write-then-fail/crash").status_code == 500
        assert _count(app) == before
        assert client.post("/_test/write/whole").status_code == 200
        assert _count(app) == before + 1
    finally:
        wipe(engine)
        engine.dispose()
