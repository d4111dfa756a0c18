"""EHR systems through the API: program staff register, list, change and deactivate them."""

from __future__ import annotations

from registry import db
from registry.accounts.models import User
from registry.api.contract import endpoint
from registry.interop.ehr.operations import (
    get_ehr_system,
    list_ehr_systems,
    register_ehr_system,
    update_ehr_system,
)
from registry.interop.ehr.schemas import (
    EhrSystemInput,
    EhrSystemList,
    EhrSystemOut,
    EhrSystemUpdate,
)
from registry.policy import Permission as P

TAG = "EHR systems"


@endpoint("POST", "/ehr-systems", permission=P.EHR_SYSTEMS_MANAGE, body=EhrSystemInput,
          response=EhrSystemOut, status=201, tag=TAG, summary="Register an EHR system",
          description="The EHR's CDS Hooks calls are then accepted when signed by one of "
          "these public keys, with this issuer, for these prescribers.")
def create_ehr_system(user: User, body: EhrSystemInput) -> EhrSystemOut:
    return EhrSystemOut.of(register_ehr_system(db.session(), user, body))


@endpoint("GET", "/ehr-systems", permission=P.EHR_SYSTEMS_MANAGE, response=EhrSystemList,
          tag=TAG, summary="The registered EHR systems")
def ehr_systems(user: User) -> EhrSystemList:
    return EhrSystemList(items=[EhrSystemOut.of(s) for s in list_ehr_systems(db.session(), user)])


@endpoint("GET", "/ehr-systems/{ehr_system_id}", permission=P.EHR_SYSTEMS_MANAGE,
          response=EhrSystemOut, tag=TAG, summary="One EHR system")
def ehr_system(user: User, ehr_system_id: int) -> EhrSystemOut:
    return EhrSystemOut.of(get_ehr_system(db.session(), user, ehr_system_id))


@endpoint("PATCH", "/ehr-systems/{ehr_system_id}", permission=P.EHR_SYSTEMS_MANAGE,
          body=EhrSystemUpdate, response=EhrSystemOut, tag=TAG,
          summary="Change or deactivate an EHR system",
          description="Only the fields sent change. `active: false` deactivates it: its "
          "calls get 401 from then on. `prescriber_npis` replaces the whole list.")
def change_ehr_system(user: User, ehr_system_id: int, body: EhrSystemUpdate) -> EhrSystemOut:
    return EhrSystemOut.of(update_ehr_system(db.session(), user, ehr_system_id, body))
