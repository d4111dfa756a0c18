"""Signing in through the API: what a client sends and what it gets back."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated

from pydantic import Field, Strict, StringConstraints

from registry.accounts.models import Role
from registry.contract import Email, Input, Name, Output, Password, Text

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


class NewAccount(Input):
    """The four fields every new account has (a prescriber, designee or pharmacist)."""

    email: Email
    password: Password
    first_name: Name
    last_name: Name


class SignUpState(StrEnum):
    CONFIRMATION_SENT = "confirmation_sent"
    INVITATION_SENT = "invitation_sent"


class SignUpAnswer(Output):
    """The answer to a sign-up, the same whether or not the address was known
    (registry.accounts.signup): nothing in it says which."""

    status: SignUpState
    detail: str
