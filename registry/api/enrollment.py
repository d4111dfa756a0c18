"""Prescribers, designees, pharmacies and pharmacists join the program."""

from __future__ import annotations

from typing import Any

from registry import db
from registry.accounts.signup import INVITATION_ANSWER, SIGNUP_ANSWER, sign_up
from registry.api import serializers
from registry.api.blueprint import bp, current_user, json_body
from registry.api.idempotency import idempotent
from registry.errors import NotFound
from registry.pharmacies.models import Pharmacy
from registry.pharmacies.operations import activate_pharmacy, add_pharmacist, register_pharmacy
from registry.prescribers.operations import (
    attest_designee,
    attest_prescriber,
    enroll_prescriber,
    link_designee,
)
from registry.prescribers.queries import visible_designee, visible_prescriber

MAX_ID = 2**31 - 1


def record_id(value: int, what: str) -> int:
    if value > MAX_ID:
        raise NotFound(f"No such {what}.")
    return value


def _fields(body: dict[str, Any], *names: str) -> dict[str, Any]:
    return {n: body.get(n) for n in names}


@bp.post("/prescribers")
def create_prescriber() -> Any:
    body = json_body()
    session = db.session()
    fields = _fields(body, "email", "password", "first_name", "last_name", "npi",
                     "license_state")
    # The same answer whether or not the address is known (registry.accounts.signup).
    sign_up(session, lambda: enroll_prescriber(session, **fields),
            what="enroll", password=fields["password"])
    return SIGNUP_ANSWER, 202


@bp.post("/prescribers/<int:prescriber_id>/attestations")
@idempotent
def attest_as_prescriber(prescriber_id: int) -> Any:
    user = current_user()
    session = db.session()
    prescriber = visible_prescriber(session, user, record_id(prescriber_id, "prescriber"))
    attest_prescriber(session, user, prescriber)
    return serializers.prescriber_status(prescriber), 201


@bp.post("/prescribers/<int:prescriber_id>/designees")
@idempotent
def add_designee(prescriber_id: int) -> Any:
    user = current_user()
    body = json_body()
    session = db.session()
    prescriber = visible_prescriber(session, user, record_id(prescriber_id, "prescriber"))
    fields = _fields(body, "designee_id", "email", "password", "first_name", "last_name")
    if fields["designee_id"] is None:  # a new account: the same answer for a known address
        sign_up(session, lambda: link_designee(session, user, prescriber, **fields),
                what="designee", password=fields["password"], actor=user)
        return INVITATION_ANSWER, 202
    designee = link_designee(session, user, prescriber, **fields)
    return serializers.designee_status(designee), 201


@bp.post("/designees/<int:designee_id>/attestations")
@idempotent
def attest_as_designee(designee_id: int) -> Any:
    user = current_user()
    session = db.session()
    designee = visible_designee(session, user, record_id(designee_id, "designee"))
    attest_designee(session, user, designee)
    return serializers.designee_status(designee), 201


@bp.post("/pharmacies")
def create_pharmacy() -> Any:
    body = json_body()
    session = db.session()
    fields = _fields(body, "name", "ncpdp_id", "npi", "address", "rsp")
    rsp = fields["rsp"]
    sign_up(session, lambda: register_pharmacy(session, **fields),
            what="register_pharmacy",
            password=rsp.get("password") if isinstance(rsp, dict) else None)
    return SIGNUP_ANSWER, 202


def _pharmacy(pharmacy_id: int) -> Pharmacy:
    pharmacy = db.session().get(Pharmacy, record_id(pharmacy_id, "pharmacy"))
    if pharmacy is None:
        raise NotFound("No such pharmacy.")
    return pharmacy


@bp.post("/pharmacies/<int:pharmacy_id>/activations")
@idempotent
def activate_pharmacy_account(pharmacy_id: int) -> Any:
    user = current_user()
    body = json_body()
    pharmacy = activate_pharmacy(db.session(), user, _pharmacy(pharmacy_id),
                                 staff_trained=body.get("staff_trained"))
    return serializers.pharmacy_status(pharmacy), 201


@bp.post("/pharmacies/<int:pharmacy_id>/pharmacists")
@idempotent
def create_pharmacist(pharmacy_id: int) -> Any:
    user = current_user()
    body = json_body()
    pharmacist = add_pharmacist(db.session(), user, _pharmacy(pharmacy_id), **_fields(
        body, "email", "password", "first_name", "last_name", "license_number",
        "training_completed_on"))
    return serializers.pharmacist_status(pharmacist), 201
