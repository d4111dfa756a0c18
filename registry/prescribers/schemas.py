"""Prescribers and designees through the contract: enrollment, designees, the patient list."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal, cast

from pydantic import AfterValidator, BeforeValidator, ConfigDict, Field, Strict, WithJsonSchema
from pydantic_core import PydanticCustomError

from registry import clock
from registry.accounts.schemas import NewAccount
from registry.contract import (
    PAGE_SIZE,
    TEXT_PATTERN,
    Cursor,
    Email,
    Input,
    Name,
    Npi,
    Output,
    PageSize,
    Password,
    Query,
    QueryFlag,
    RecordId,
    trimmed,
)
from registry.params import current as current_params
from registry.prescribers.models import Designee, Prescriber
from registry.rules import StakeholderFacts, designee_standing, prescriber_standing
from registry.rules.eligibility import Window
from registry.rules.reasons import NextStep

US_STATES = (
    "AL", "AK", "AZ", "AR", "CA", "CO", "CT", "DE", "DC", "FL", "GA", "HI", "ID", "IL", "IN",
    "IA", "KS", "KY", "LA", "ME", "MD", "MA", "MI", "MN", "MS", "MO", "MT", "NE", "NV", "NH",
    "NJ", "NM", "NY", "NC", "ND", "OH", "OK", "OR", "PA", "PR", "RI", "SC", "SD", "TN", "TX",
    "UT", "VT", "VA", "VI", "WA", "WV", "WI", "WY", "GU", "AS", "MP",
)
# A stakeholder's standing (rules §2), as registry.rules.stakeholders computes it.
Standing = Literal["pending", "active", "lapsed", "suspended", "deactivated", "removed"]


def _state(value: Any) -> Any:
    if isinstance(value, str) and value not in US_STATES:
        raise PydanticCustomError("license_state", "Must be a two-letter US state code.")
    return value


LicenseState = Annotated[str, BeforeValidator(_state), Strict(),
                         WithJsonSchema({"type": "string", "enum": list(US_STATES),
                                         "example": "NY",
                                         "description": "Two-letter US state code."})]


class PrescriberEnrollment(NewAccount):
    npi: Npi
    license_state: LicenseState | None = None


class DesigneeLinking(Input):
    """A new designee's account, or ``designee_id`` to link one who already has an account."""

    model_config = ConfigDict(json_schema_extra={
        "description": "Either email, password, first_name and last_name (a new designee), "
                       "or designee_id (link an existing one).",
        "anyOf": [{"required": ["designee_id"]},
                  {"required": ["email", "password", "first_name", "last_name"]}]})

    designee_id: RecordId | None = None
    email: Email | None = None
    password: Password | None = None
    first_name: Name | None = None
    last_name: Name | None = None

    def account(self) -> NewAccount | None:
        """The new designee's account when every field of it is here."""
        if (self.email is None or self.password is None or self.first_name is None
                or self.last_name is None):
            return None
        return NewAccount(email=self.email, password=self.password,
                          first_name=self.first_name, last_name=self.last_name)


class PrescriberOut(Output):
    id: int
    status: Standing
    npi: str
    attested_on: date | None
    expires_on: date | None

    @classmethod
    def of(cls, p: Prescriber) -> PrescriberOut:
        s = prescriber_standing(
            StakeholderFacts(p.attested_on, p.suspended_until, p.deactivated_on),
            clock.today(), current_params())
        return cls(id=p.id, status=cast(Standing, s.state), npi=p.npi,
                   attested_on=p.attested_on, expires_on=s.expires_on)


class DesigneeOut(Output):
    id: int
    status: Standing
    attested_on: date | None
    expires_on: date | None

    @classmethod
    def of(cls, d: Designee) -> DesigneeOut:
        s = designee_standing(
            StakeholderFacts(d.attested_on, d.suspended_until, d.deactivated_on),
            clock.today(), current_params())
        return cls(id=d.id, status=cast(Standing, s.state), attested_on=d.attested_on,
                   expires_on=s.expires_on)


# --- the prescriber's patients -------------------------------------------------------------


Search = Annotated[str, Strict(), Field(min_length=1, max_length=100, pattern=TEXT_PATTERN,
                                        description="Part of the name, or of the registry "
                                        "ID."), AfterValidator(trimmed)]


class PatientListQuery(Query):
    q: Search | None = None
    needs_action: Annotated[QueryFlag, Field(description="Only patients waiting for the "
                                             "prescriber (the step shown is theirs).")] = False
    cursor: Cursor | None = None
    limit: PageSize = PAGE_SIZE


class NextStepOut(Output):
    actor: str
    action: str
    due_on: date | None
    not_before: date | None

    @classmethod
    def of(cls, step: NextStep | None) -> NextStepOut | None:
        if step is None:
            return None
        return cls(actor=step.actor, action=step.action, due_on=step.due_on,
                   not_before=step.not_before)


class WindowOut(Output):
    kind: str
    opens_on: date
    closes_on: date | None

    @classmethod
    def of(cls, window: Window | None) -> WindowOut | None:
        if window is None:
            return None
        return cls(kind=window.kind, opens_on=window.opens_on, closes_on=window.closes_on)


class PatientListItem(Output):
    registry_id: str
    name: str
    risk_category: str
    status: str
    window: WindowOut | None
    next_step: NextStepOut | None
    needs_action: bool = Field(description="A step of the prescriber's is pending.")


class PatientList(Output):
    items: list[PatientListItem]
    next_cursor: str | None

