"""Non-compliance actions through the API (rules §9)."""

from __future__ import annotations

from registry import db
from registry.accounts.models import User
from registry.api.contract import endpoint
from registry.compliance.operations import record_compliance_action
from registry.compliance.schemas import ComplianceActionInput, ComplianceActionOut
from registry.policy import Permission as P


@endpoint("POST", "/compliance-actions", permission=P.COMPLIANCE_ACT, body=ComplianceActionInput,
          response=ComplianceActionOut, status=201, tag="Oversight",
          summary="Record a notice, warning, suspension or deactivation",
          description="A suspension or deactivation takes effect at once: open RMAs issued "
          "through the subject are cancelled.")
def create_compliance_action(user: User, body: ComplianceActionInput) -> ComplianceActionOut:
    return ComplianceActionOut.of(record_compliance_action(db.session(), user, body))
