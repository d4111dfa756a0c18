"""Registering, changing and deactivating EHR systems (program staff), each change with its
audit entry in the same transaction."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from registry import clock
from registry.accounts.models import User
from registry.audit.operations import record
from registry.db import canonical_json
from registry.errors import NotFound, ValidationError
from registry.interop.ehr.models import EhrSystem
from registry.interop.ehr.schemas import EhrSystemInput, EhrSystemUpdate
from registry.policy import Permission, require
from registry.prescribers.models import Prescriber

ISSUER_TAKEN = "An EHR system with this issuer is registered already."


def _audit_view(system: EhrSystem) -> dict[str, Any]:
    """What the audit keeps of a system: everything but the keys themselves (their ids)."""
    return {"name": system.name, "issuer": system.issuer, "client_id": system.client_id,
            "fhir_base_url": system.fhir_base_url, "active": system.active,
            "key_ids": [k.get("kid") for k in system.jwks.get("keys", [])],
            "jwks_sha256": hashlib.sha256(canonical_json(system.jwks).encode()).hexdigest(),
            "prescriber_npis": [p.npi for p in system.prescribers]}


def _prescribers(session: Session, npis: Sequence[str]) -> list[Prescriber]:
    wanted = list(dict.fromkeys(npis))
    if not wanted:
        return []
    found = {p.npi: p for p in session.execute(
        select(Prescriber).where(Prescriber.npi.in_(wanted))).scalars()}
    unknown = [n for n in wanted if n not in found]
    if unknown:
        raise ValidationError(prescriber_npis="No enrolled prescriber has the NPI "
                              + ", ".join(unknown) + ".")
    return [found[n] for n in wanted]


def list_ehr_systems(session: Session, actor: User) -> list[EhrSystem]:
    require(actor.role, Permission.EHR_SYSTEMS_MANAGE)
    return list(session.execute(select(EhrSystem).order_by(EhrSystem.name, EhrSystem.id))
                .scalars())


def get_ehr_system(session: Session, actor: User, system_id: int, *,
                   for_update: bool = False) -> EhrSystem:
    require(actor.role, Permission.EHR_SYSTEMS_MANAGE)
    system = session.get(EhrSystem, system_id, with_for_update=for_update or None)
    if system is None:
        raise NotFound("No such EHR system.")
    return system


def register_ehr_system(session: Session, actor: User, data: EhrSystemInput) -> EhrSystem:
    """A new EHR system. Two registrations of one issuer at once: the unique issuer lets one
    in, and the other is told the issuer is taken (never a half-written system)."""
    require(actor.role, Permission.EHR_SYSTEMS_MANAGE)
    prescribers = _prescribers(session, data.prescriber_npis)
    if session.execute(select(EhrSystem.id).where(EhrSystem.issuer == data.issuer)).first():
        raise ValidationError(issuer=ISSUER_TAKEN)
    now = clock.now()
    system = EhrSystem(name=data.name, issuer=data.issuer, client_id=data.client_id,
                       jwks=data.jwks, fhir_base_url=data.fhir_base_url, active=True,
                       registered_at=now, updated_at=now, prescribers=prescribers)
    try:
        with session.begin_nested():
            session.add(system)
            session.flush()
    except IntegrityError:
        raise ValidationError(issuer=ISSUER_TAKEN) from None
    record(session, actor, "ehr-system:register", "ehr_system", system.id,
           after=_audit_view(system))
    return system


def update_ehr_system(session: Session, actor: User, system_id: int,
                      data: EhrSystemUpdate) -> EhrSystem:
    """Change what was sent. The row is locked first, so two changes at once apply one after
    the other, each audited against what the other left."""
    system = get_ehr_system(session, actor, system_id, for_update=True)
    before = _audit_view(system)
    sent = data.model_fields_set
    if "prescriber_npis" in sent and data.prescriber_npis is not None:
        system.prescribers = _prescribers(session, data.prescriber_npis)
    for name in ("name", "client_id", "jwks", "fhir_base_url", "active"):
        value = getattr(data, name)
        if name in sent and value is not None:
            setattr(system, name, value)
    after = _audit_view(system)
    if after == before:
        return system
    system.updated_at = clock.now()
    session.flush()
    if before["active"] and not system.active:
        action = "ehr-system:deactivate"
    elif not before["active"] and system.active:
        action = "ehr-system:reactivate"
    else:
        action = "ehr-system:update"
    record(session, actor, action, "ehr_system", system.id, before=before, after=after)
    return system
