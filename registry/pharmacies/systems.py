"""Pharmacy systems: program staff register a pharmacy's software, rotate its credential and
deactivate it; the NCPDP SCRIPT REMS door (registry/interop/ncpdp.py) authenticates it.

Each change is one operation with its audit entry. The credential is shown once; only its
SHA-256 is stored, as for API bearer tokens (``ApiToken.token_hash``): a random 256-bit
secret needs no slow hash, and the unique index finds it in one lookup.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from sqlalchemy import select
from sqlalchemy.orm import Session

from registry import clock, locks, policy
from registry.accounts.models import User
from registry.audit.operations import record
from registry.errors import NotFound, ValidationError
from registry.pharmacies.models import Pharmacy, PharmacySystem
from registry.pharmacies.schemas import PharmacySystemRegistration
from registry.policy import Permission

CREDENTIAL_PREFIX = "rps_"
MAX_CREDENTIAL_LENGTH = 200


def credential_hash(credential: str) -> str:
    return hashlib.sha256(credential.encode()).hexdigest()


def _new_credential() -> str:
    return CREDENTIAL_PREFIX + secrets.token_urlsafe(32)


def register_system(session: Session, actor: User,
                    data: PharmacySystemRegistration) -> tuple[PharmacySystem, str]:
    """Register a system for a pharmacy; returns it and its credential (shown once)."""
    policy.require(actor.role, Permission.PHARMACY_SYSTEMS_MANAGE)
    pharmacy = session.get(Pharmacy, data.pharmacy_id)
    if pharmacy is None:
        raise ValidationError(pharmacy_id="No pharmacy with this ID.")
    credential = _new_credential()
    now = clock.now()
    system = PharmacySystem(name=data.name, pharmacy_id=pharmacy.id,
                            credential_hash=credential_hash(credential),
                            credential_issued_at=now, registered_at=now, active=True,
                            deactivated_at=None)
    session.add(system)
    session.flush()
    record(session, actor, "pharmacy_system:register", "pharmacy_system", system.id,
           after={"name": system.name, "pharmacy_id": pharmacy.id, "active": True,
                  "credential_issued_at": now})
    return system, credential


def find_system(session: Session, actor: User, system_id: int) -> PharmacySystem:
    policy.require(actor.role, Permission.PHARMACY_SYSTEMS_MANAGE)
    system = session.get(PharmacySystem, system_id)
    if system is None:
        raise NotFound("No such pharmacy system.")
    return system


def list_systems(session: Session, actor: User) -> list[PharmacySystem]:
    policy.require(actor.role, Permission.PHARMACY_SYSTEMS_MANAGE)
    return list(session.execute(
        select(PharmacySystem).order_by(PharmacySystem.id)).scalars())


def _locked(session: Session, system: PharmacySystem) -> PharmacySystem:
    """Re-read the row under a lock: of two changes at once, the second sees the first."""
    locked = locks.lock_stakeholder(session, PharmacySystem, system.id)
    assert locked is not None
    return locked


def rotate_credential(session: Session, actor: User,
                      system: PharmacySystem) -> tuple[PharmacySystem, str]:
    """A new credential; the old one stops working at once. Refused for an inactive system."""
    policy.require(actor.role, Permission.PHARMACY_SYSTEMS_MANAGE)
    system = _locked(session, system)
    if not system.active:
        raise ValidationError(id="This pharmacy system is deactivated; register a new one.")
    credential = _new_credential()
    before = system.credential_issued_at
    system.credential_hash = credential_hash(credential)
    system.credential_issued_at = clock.now()
    session.flush()
    record(session, actor, "pharmacy_system:rotate", "pharmacy_system", system.id,
           before={"credential_issued_at": before},
           after={"credential_issued_at": system.credential_issued_at})
    return system, credential


def deactivate_system(session: Session, actor: User, system: PharmacySystem) -> PharmacySystem:
    """The credential stops working; the record and what the system did are kept."""
    policy.require(actor.role, Permission.PHARMACY_SYSTEMS_MANAGE)
    system = _locked(session, system)
    if not system.active:
        return system  # already done: deactivating twice changes nothing and logs nothing
    system.active = False
    system.deactivated_at = clock.now()
    session.flush()
    record(session, actor, "pharmacy_system:deactivate", "pharmacy_system", system.id,
           before={"active": True},
           after={"active": False, "deactivated_at": system.deactivated_at})
    return system


def authenticate_system(session: Session, credential: str | None) -> PharmacySystem | None:
    """The active system holding this credential, or None (unknown, rotated, deactivated)."""
    if not credential or len(credential) > MAX_CREDENTIAL_LENGTH or "\x00" in credential:
        return None
    digest = credential_hash(credential)
    system = session.execute(
        select(PharmacySystem).where(PharmacySystem.credential_hash == digest)).scalar()
    if system is None or not system.active:
        return None
    if not hmac.compare_digest(system.credential_hash, digest):  # pragma: no cover
        return None
    return system
