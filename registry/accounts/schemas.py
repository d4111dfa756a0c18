"""Signing in through the API: what a client sends and what it gets back."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import Field, Strict, StringConstraints

from registry.accounts.models import Role
from registry.contract import Input, Output, Text

Totp = Annotated[str, StringConstraints(pattern=r"^[0-9]{6}$"),
                 Field(description="The 6-digit code of the authenticator app.")]


class Credentials(Input):
    email: Annotated[Text, Field(description="The account's email address.")]
    password: Annotated[str, Strict(), Field(
        min_length=1, max_length=256, pattern=r"^[^\x00]*$",
        json_schema_extra={"format": "password"})]
    totp: Totp | None = None


class TokenOut(Output):
    token: str
    token_type: str = "Bearer"  # noqa: S105 - the scheme's name, not a secret
    expires_at: datetime
    role: Role
    user_id: int
