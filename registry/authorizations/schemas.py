"""The counter through the contract: the authorization request (the same fields for a check
and a request, on the page and in the API), dispenses, reversals and what the API answers."""

from __future__ import annotations

import hashlib
from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BeforeValidator, Field, Strict

from registry.authorizations.models import Authorization, AuthorizationStatus
from registry.contract import (
    PAGE_SIZE,
    TEXT_PATTERN,
    Count,
    Cursor,
    Day,
    Input,
    Npi,
    Output,
    PageSize,
    Query,
    RegistryId,
    trimmed,
    whole,
)
from registry.db import canonical_json
from registry.rules import Decision
from registry.rules.vocabulary import ReasonCode

Ruleset = Literal["2021", "2026"]
DaysSupply = Annotated[int, Strict(), Field(ge=1, le=366, examples=[30]),
                       BeforeValidator(whole)]
Quantity = Annotated[int, Strict(), Field(ge=1, le=100000, examples=[60]),
                     BeforeValidator(whole)]
Refills = Annotated[int, Strict(), Field(ge=0, le=99, examples=[0]), BeforeValidator(whole)]
Why = Annotated[str, Strict(), Field(min_length=1, max_length=1000, pattern=TEXT_PATTERN,
                                     description="Not dispensed, or returned to stock."),
                AfterValidator(trimmed)]


class AuthorizationRequest(Input):
    """What the pharmacist reads off the patient's card and the prescription."""

    registry_id: RegistryId
    date_of_birth: Day
    prescriber_npi: Npi
    days_supply: DaysSupply
    quantity: Quantity
    refills: Refills

    def as_dict(self) -> dict[str, Any]:
        """As stored with the decision (and in the audit log)."""
        return self.model_dump(mode="json")

    def fingerprint(self) -> str:
        return hashlib.sha256(canonical_json(self.as_dict()).encode()).hexdigest()


class Dispensation(Input):
    dispensed_on: Day
    quantity: Count
    days_supply: Count


class ReversalReason(Input):
    reason: Why


# --- answers ------------------------------------------------------------------------------


class ReasonOut(Output):
    code: ReasonCode
    message: str
    action: str | None
    actor: str | None = Field(description="Who does it: prescriber, patient, pharmacy, "
                              "program_staff.")
    due_on: date | None

    @classmethod
    def of(cls, reason: dict[str, Any]) -> ReasonOut:
        return cls(code=reason["code"], message=reason["message"],
                   action=reason.get("action"), actor=reason.get("actor"),
                   due_on=reason.get("due_on"))


class AuthorizationCheckOut(Output):
    eligible: bool
    reasons: list[ReasonOut]
    ruleset: Ruleset
    do_not_dispense_after: date | None

    @classmethod
    def of(cls, decision: Decision) -> AuthorizationCheckOut:
        return cls(eligible=decision.eligible,
                   reasons=[ReasonOut.of(r.as_dict()) for r in decision.reasons],
                   ruleset=decision.ruleset,  # type: ignore[arg-type]
                   do_not_dispense_after=decision.do_not_dispense_after)


class PatientNamed(Output):
    first_name: str
    last_name: str


class AuthorizationIssued(Output):
    """The answer to the request that issued the RMA (replayed unchanged on retries)."""

    rma: str = Field(min_length=12, max_length=12)
    status: Literal["authorized"] = "authorized"
    do_not_dispense_after: date
    ruleset: Ruleset
    issued_on: date
    days_supply: int
    quantity: int
    refills: int
    patient: PatientNamed

    @classmethod
    def of(cls, auth: Authorization) -> AuthorizationIssued:
        return cls(rma=auth.rma, do_not_dispense_after=auth.do_not_dispense_after,
                   ruleset=auth.ruleset,  # type: ignore[arg-type]
                   issued_on=auth.issued_on, days_supply=auth.days_supply,
                   quantity=auth.quantity, refills=auth.refills,
                   patient=PatientNamed(first_name=auth.patient.first_name,
                                        last_name=auth.patient.last_name))


class PatientOfRma(PatientNamed):
    registry_id: str


class PharmacyOfRma(Output):
    id: int
    name: str
    ncpdp_id: str


class DispenseOut(Output):
    dispensed_on: date
    quantity: int
    days_supply: int


class ReversalOut(Output):
    reason: str
    reversed_at: datetime


class AuthorizationOut(Output):
    rma: str
    status: AuthorizationStatus
    do_not_dispense_after: date
    ruleset: str
    issued_on: date
    issued_at: datetime
    days_supply: int
    quantity: int
    refills: int
    patient: PatientOfRma
    pharmacy: PharmacyOfRma
    dispense: DispenseOut | None
    reversal: ReversalOut | None

    @classmethod
    def of(cls, auth: Authorization, status: str) -> AuthorizationOut:
        """``status`` as it stands today (an open RMA past its last day reads expired)."""
        return cls(
            rma=auth.rma, status=AuthorizationStatus(status),
            do_not_dispense_after=auth.do_not_dispense_after, ruleset=auth.ruleset,
            issued_on=auth.issued_on, issued_at=auth.issued_at, days_supply=auth.days_supply,
            quantity=auth.quantity, refills=auth.refills,
            patient=PatientOfRma.model_validate(auth.patient),
            pharmacy=PharmacyOfRma.model_validate(auth.pharmacy),
            dispense=DispenseOut.model_validate(auth.dispense) if auth.dispense else None,
            reversal=ReversalOut.model_validate(auth.reversal) if auth.reversal else None,
        )


class Dispensed(Output):
    rma: str
    status: Literal["dispensed"] = "dispensed"
    dispensed_on: date


class Reversed(Output):
    rma: str
    status: Literal["reversed"] = "reversed"


class PharmacyAuthorizationsQuery(Query):
    since: Annotated[Day, Field(description="Only RMAs issued on or after this day.")] \
        | None = None
    cursor: Cursor | None = None
    limit: PageSize = PAGE_SIZE


class AuthorizationPage(Output):
    items: list[AuthorizationOut]
    next_cursor: str | None


class AuthorizationDenied(Output):
    """The problem (RFC 9457) of a denied request: every check that failed, in words."""

    type: str = Field(examples=["https://registry.example/api/problems/authorization-denied"])
    title: str
    status: int
    detail: str
    reasons: list[ReasonOut]
    ruleset: Ruleset
