"""Every model, imported once so that the metadata (and Alembic) sees all tables."""

from registry.accounts.models import AccountLink, Role, User, UserSession
from registry.api.models import ApiToken, IdempotencyRecord
from registry.audit.models import AuditEntry
from registry.authorizations.models import (
    Authorization,
    AuthorizationDecision,
    AuthorizationStatus,
    DenialReason,
    Dispense,
    Reversal,
)
from registry.compliance.models import ComplianceAction
from registry.cycles.models import (
    ComprehensionAttempt,
    ComprehensionQuestion,
    ContraceptionEntry,
    Counseling,
    Cycle,
    CycleKind,
)
from registry.db import Base
from registry.interop.ehr.models import EhrSystem, EhrSystemPrescriber, EhrTokenUse
from registry.notifications.models import Notification
from registry.patients.models import (
    ActivationCode,
    Patient,
    PatientStatus,
    RiskCategory,
    RiskCategoryChange,
)
from registry.pharmacies.models import Pharmacist, Pharmacy, PharmacySystem
from registry.pregnancies.models import PregnancyFollowUp, PregnancyReport, PregnancyTest
from registry.prescribers.models import Designee, DesigneeLink, Prescriber
from registry.web.models import FormSubmission

__all__ = [
    "AccountLink",
    "ActivationCode",
    "ApiToken",
    "AuditEntry",
    "Authorization",
    "AuthorizationDecision",
    "AuthorizationStatus",
    "Base",
    "ComplianceAction",
    "ComprehensionAttempt",
    "ComprehensionQuestion",
    "ContraceptionEntry",
    "Counseling",
    "Cycle",
    "CycleKind",
    "DenialReason",
    "Designee",
    "DesigneeLink",
    "Dispense",
    "EhrSystem",
    "EhrSystemPrescriber",
    "EhrTokenUse",
    "FormSubmission",
    "IdempotencyRecord",
    "Notification",
    "Patient",
    "PatientStatus",
    "Pharmacist",
    "Pharmacy",
    "PharmacySystem",
    "PregnancyFollowUp",
    "PregnancyReport",
    "PregnancyTest",
    "Prescriber",
    "Reversal",
    "RiskCategory",
    "RiskCategoryChange",
    "Role",
    "User",
    "UserSession",
]
