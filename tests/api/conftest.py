"""Helpers for driving the registry through its JSON API only."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from registry import db
from registry.models import ComprehensionQuestion
from tests import factories as f

PASSWORD = f.PASSWORD
METHODS = ["iud", "male_latex_condom"]


class Api:
    """A test client that speaks JSON to /api/v1 and checks the status it expects."""

    def __init__(self, app: Flask) -> None:
        self.app = app
        self.client = app.test_client()

    def call(self, method: str, path: str, body: Any = None, *, token: str | None = None,
             key: str | None = None, expect: int | None = None,
             headers: dict[str, str] | None = None) -> Any:
        sent = dict(headers or {})
        if token:
            sent["Authorization"] = f"Bearer {token}"
        if key:
            sent["Idempotency-Key"] = key
        kwargs: dict[str, Any] = {"headers": sent}
        if body is not None:
            kwargs["json"] = body
        response = self.client.open("/api/v1" + path, method=method, **kwargs)
        if expect is not None:
            assert response.status_code == expect, (method, path, response.status_code,
                                                    response.get_json(silent=True))
        return response

    def get(self, path: str, **kw: Any) -> Any:
        return self.call("GET", path, **kw)

    def post(self, path: str, body: Any = None, **kw: Any) -> Any:
        return self.call("POST", path, body if body is not None else {}, **kw)

    def delete(self, path: str, **kw: Any) -> Any:
        return self.call("DELETE", path, **kw)

    def token(self, email: str, password: str = PASSWORD) -> str:
        r = self.post("/tokens", {"email": email, "password": password}, expect=201)
        return str(r.get_json()["token"])


@pytest.fixture
def api(app: Flask) -> Api:
    return Api(app)


def correct_answers(app: Flask, questions: list[dict[str, Any]]) -> dict[str, str]:
    """What a patient who read the guide would answer (read from the packaged bank)."""
    with app.app_context():
        session = db.session()
        ids = [q["id"] for q in questions]
        rows = session.execute(
            select(ComprehensionQuestion).where(ComprehensionQuestion.id.in_(ids))
        ).scalars()
        return {str(q.id): q.correct_choice for q in rows}


def make_staff(app: Flask) -> str:
    """Program staff are created on the command line; the factory stands in for it."""
    with app.app_context():
        user = f.staff(db.session())
        email = user.email
        db.commit_request()
    return email
