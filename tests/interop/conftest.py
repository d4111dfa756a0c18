"""Helpers for the standard doors: the IG's examples (our own copies, with placeholders), a
FHIR client, and bearer tokens."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from flask import Flask
from sqlalchemy.orm import Session

from registry.accounts.models import User
from registry.accounts.schemas import Credentials
from registry.api.operations import issue_token
from tests import factories as f

FIXTURES = Path(__file__).parent / "fixtures"
ETASU = "/fhir/GuidanceResponse/$rems-etasu"


def fixture(name: str, **values: str) -> dict[str, Any]:
    """A fixture file with its ``{{name}}`` placeholders filled in."""
    text = (FIXTURES / name).read_text()
    for key, value in values.items():
        text = text.replace("{{" + key + "}}", value)
    loaded: dict[str, Any] = json.loads(text)
    return loaded


def token_for(session: Session, user: User) -> str:
    return issue_token(session, Credentials(email=user.email, password=f.PASSWORD))[1]


class Fhir:
    def __init__(self, app: Flask) -> None:
        self.client = app.test_client()

    def etasu(self, body: Any, token: str | None, *, raw: bytes | None = None,
              content_type: str = "application/fhir+json") -> Any:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        data = raw if raw is not None else json.dumps(body).encode()
        return self.client.post(ETASU, data=data, headers=headers, content_type=content_type)


def etasu_of(answer: dict[str, Any]) -> dict[str, Any]:
    """The rems-etasu GuidanceResponse of an answer."""
    (param,) = [p for p in answer["parameter"] if p["name"] == "rems-etasu"]
    resource: dict[str, Any] = param["resource"]
    return resource


def requirements_of(answer: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Each requirement's GuidanceResponse by name, from the contained output Parameters."""
    guidance = etasu_of(answer)
    (contained,) = guidance["contained"]
    assert guidance["outputParameters"]["reference"] == "#" + contained["id"]
    return {p["name"]: p["resource"] for p in contained["parameter"] if "resource" in p}
