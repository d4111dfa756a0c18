"""Pharmacies and pharmacists through the contract: registration, activation, staff."""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Annotated, cast

from pydantic import AfterValidator, Field, Strict, WithJsonSchema
from pydantic_core import PydanticCustomError

from registry import clock
from registry.accounts.schemas import NewAccount
from registry.contract import TEXT_PATTERN, Day, Input, Npi, Output, RecordId, Text, trimmed
from registry.params import current as current_params
from registry.pharmacies.models import Pharmacist, Pharmacy, PharmacySystem
from registry.prescribers.schemas import Standing
from registry.rules import StakeholderFacts, pharmacist_standing, pharmacy_standing

LicenseNumber = Annotated[str, Strict(), Field(min_length=1, max_length=50, pattern=TEXT_PATTERN),
                          AfterValidator(trimmed)]
Address = Annotated[str, Strict(), Field(min_length=1, max_length=500, pattern=TEXT_PATTERN),
                    AfterValidator(trimmed)]


def _ncpdp(value: str) -> str:
    if not re.fullmatch(r"[0-9]{7}", value):
        raise PydanticCustomError("ncpdp_id", "Must be 7 digits.")
    return value


NcpdpId = Annotated[str, Strict(), AfterValidator(_ncpdp),
                    WithJsonSchema({"type": "string", "pattern": "^[0-9]{7}$",
                                    "example": "7654321",
                                    "description": "The NCPDP provider ID: 7 digits."})]


def _certified(value: bool) -> bool:
    if value is not True:
        raise PydanticCustomError("staff_trained", "The Responsible Site Pharmacist must "
                                  "certify that the pharmacy's staff are trained.")
    return value


Certified = Annotated[bool, Strict(), AfterValidator(_certified),
                      WithJsonSchema({"type": "boolean", "const": True})]


class PharmacistAccount(NewAccount):
    license_number: LicenseNumber


class PharmacyRegistration(Input):
    name: Text
    ncpdp_id: NcpdpId
    npi: Npi
    address: Address | None = None
    rsp: Annotated[PharmacistAccount,
                   Field(description="The Responsible Site Pharmacist.")]


class PharmacyActivation(Input):
    staff_trained: Certified


class PharmacistAddition(PharmacistAccount):
    training_completed_on: Day


class TrainingRecord(Input):
    training_completed_on: Day


class PharmacyOut(Output):
    id: int
    status: Standing
    name: str
    ncpdp_id: str
    npi: str
    activated_on: date | None
    expires_on: date | None
    rsp_pharmacist_id: int | None

    @classmethod
    def of(cls, ph: Pharmacy) -> PharmacyOut:
        s = pharmacy_standing(
            StakeholderFacts(ph.activated_on, ph.suspended_until, ph.deactivated_on),
            clock.today(), current_params())
        rsp = next((p for p in ph.pharmacists if p.is_rsp), None)
        return cls(id=ph.id, status=cast(Standing, s.state), name=ph.name,
                   ncpdp_id=ph.ncpdp_id, npi=ph.npi, activated_on=ph.activated_on,
                   expires_on=s.expires_on, rsp_pharmacist_id=rsp.id if rsp else None)


class PharmacistOut(Output):
    id: int
    status: Standing
    pharmacy_id: int
    name: str
    training_completed_on: date | None
    expires_on: date | None
    removed_on: date | None

    @classmethod
    def of(cls, p: Pharmacist) -> PharmacistOut:
        s = pharmacist_standing(
            StakeholderFacts(p.training_completed_on, p.suspended_until, p.deactivated_on,
                             p.removed_on), clock.today(), current_params())
        return cls(id=p.id, status=cast(Standing, s.state), pharmacy_id=p.pharmacy_id,
                   name=p.name, training_completed_on=p.training_completed_on,
                   expires_on=s.expires_on, removed_on=p.removed_on)


# --- pharmacy systems (the NCPDP SCRIPT REMS door) ----------------------------------------


class PharmacySystemRegistration(Input):
    name: Annotated[Text, Field(description="What staff call the system: vendor and site.")]
    pharmacy_id: Annotated[RecordId, Field(description="The pharmacy it acts for.")]


class PharmacySystemOut(Output):
    id: int
    name: str
    pharmacy_id: int
    pharmacy_name: str
    active: bool
    registered_at: datetime
    credential_issued_at: datetime
    deactivated_at: datetime | None

    @classmethod
    def of(cls, system: PharmacySystem) -> PharmacySystemOut:
        return cls(id=system.id, name=system.name, pharmacy_id=system.pharmacy_id,
                   pharmacy_name=system.pharmacy.name, active=system.active,
                   registered_at=system.registered_at,
                   credential_issued_at=system.credential_issued_at,
                   deactivated_at=system.deactivated_at)


class PharmacySystemCredential(PharmacySystemOut):
    """The answer that carries the credential: shown this once, never stored readable."""

    credential: str = Field(description="Send as `Authorization: Bearer <credential>` to "
                            "POST /ncpdp/script. Only its hash is kept: store it now.")

    @classmethod
    def issued(cls, system: PharmacySystem, credential: str) -> PharmacySystemCredential:
        return cls(**PharmacySystemOut.of(system).model_dump(), credential=credential)


class PharmacySystemList(Output):
    items: list[PharmacySystemOut]
