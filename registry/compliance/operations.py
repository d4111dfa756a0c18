"""Non-compliance actions by program staff (rules §9)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from registry import clock, locks
from registry.accounts.models import User
from registry.audit.operations import record, snapshot
from registry.authorizations.models import Authorization, AuthorizationStatus
from registry.compliance.models import ComplianceAction, ComplianceActionKind
from registry.compliance.schemas import ComplianceActionInput
from registry.contract import MISSING
from registry.errors import ValidationError
from registry.patients.models import Patient
from registry.patients.operations import cancel_open_authorizations
from registry.pharmacies.models import Pharmacist, Pharmacy
from registry.policy import Permission, require
from registry.prescribers.models import Designee, Prescriber

SUBJECT_MODELS: dict[str, Any] = {
    "prescriber": Prescriber,
    "designee": Designee,
    "pharmacy": Pharmacy,
    "pharmacist": Pharmacist,
}


def record_compliance_action(session: Session, actor: User,
                             data: ComplianceActionInput) -> ComplianceAction:
    """A notice, warning, suspension (until a date) or deactivation; the last two take effect
    at once."""
    require(actor.role, Permission.COMPLIANCE_ACT)
    subject_type, subject_id, action = data.subject_type, data.subject_id, data.action
    reason, until = data.reason, data.until
    suspension = action == ComplianceActionKind.SUSPENSION
    if suspension and until is None:
        raise ValidationError(until=MISSING)
    if until and suspension and until < clock.today():
        raise ValidationError(until="A suspension must last until today or a later day.")
    if until and not suspension:
        raise ValidationError(until="Only a suspension has an end date.")
    today = clock.today()
    takes_effect = action in (ComplianceActionKind.SUSPENSION, ComplianceActionKind.DEACTIVATION)
    # FOR UPDATE on the subject: authorizations in flight through it (they hold it FOR KEY
    # SHARE) finish first and their RMAs are cancelled below; later ones wait and see the
    # suspension. The RMAs to cancel are locked now, before the first audit entry, in the
    # lock order of registry/locks.py.
    subject = locks.lock_stakeholder(session, SUBJECT_MODELS[subject_type], subject_id)
    if subject is None:
        raise ValidationError(subject_id=f"No {subject_type} with this id.")
    if takes_effect and subject_type == "prescriber":
        locks.lock_open_authorizations(session, prescriber_id=subject_id)
    if takes_effect and subject_type == "pharmacy":
        locks.lock_open_authorizations(session, pharmacy_id=subject_id)
    row = ComplianceAction(
        subject_type=subject_type.value, subject_id=subject_id, action=action.value,
        reason=reason,
        until=until, recorded_on=today, recorded_at=clock.now(), recorded_by_id=actor.id,
    )
    session.add(row)
    before = snapshot(subject, "suspended_until", "deactivated_on")
    if action == ComplianceActionKind.SUSPENSION:
        subject.suspended_until = until
    elif action == ComplianceActionKind.DEACTIVATION:
        subject.deactivated_on = today
    session.flush()
    record(session, actor, f"{subject_type}:{action}", subject_type.value, subject_id,
           before=before,
           after={**snapshot(subject, "suspended_until", "deactivated_on"), "reason": reason,
                  "compliance_action_id": row.id})
    if action in (ComplianceActionKind.SUSPENSION, ComplianceActionKind.DEACTIVATION) and (
        subject_type == "prescriber"
    ):
        for patient in session.execute(
            select(Patient).where(Patient.prescriber_id == subject_id)
        ).scalars():
            cancel_open_authorizations(session, actor, patient, f"prescriber {action}")
    if action in (ComplianceActionKind.SUSPENSION, ComplianceActionKind.DEACTIVATION) and (
        subject_type == "pharmacy"
    ):
        # The pharmacy can no longer dispense or reverse its open RMAs; cancel them so its
        # patients can be served elsewhere within their window.
        for patient in session.execute(
            select(Patient).join(Authorization, Authorization.patient_id == Patient.id).where(
                Authorization.pharmacy_id == subject_id,
                Authorization.status == AuthorizationStatus.AUTHORIZED,
            )
        ).scalars().unique():
            cancel_open_authorizations(session, actor, patient, f"pharmacy {action}")
    return row
