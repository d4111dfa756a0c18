"""Who may do what: one table, read by the pages, the API endpoints, the operations and the
permission-matrix tests.

Each page and endpoint declares the :class:`Permission` it needs; a caller whose role does
not hold it is refused at the door (401 when anonymous and the permission is not open to
anyone, 403 otherwise) before any record is looked up, so the refusal reveals nothing.
Whether the caller may act on *this* record (the prescriber of record, the issuing
pharmacy, the pharmacy's RSP) is decided by the operation, which answers 404 for a record
the caller may not see (``registry.permissions``).
"""

from __future__ import annotations

from enum import StrEnum

from registry.accounts.models import Role
from registry.errors import PermissionDenied


class Anyone(StrEnum):
    """A caller with no account (signing in, enrolling, activating)."""

    ANONYMOUS = "anonymous"


Holder = Role | Anyone


class Permission(StrEnum):
    """``resource:action`` (warehouse's shape), in the program's own words."""

    # signing in and the caller's own record
    SIGN_IN = "session:sign-in"  # the sign-in, sign-out and home pages
    ACCOUNT_RECOVER = "account:recover"  # forgot password, reset, confirm an address
    LANGUAGE_CHOOSE = "language:choose"
    MESSAGES_READ = "messages:read"  # one's own messages and reminder preferences
    MAIL_FOLDER_READ = "mail-folder:read"  # what the registry sent, when no SMTP is set
    TOKENS_ISSUE = "tokens:issue"
    TOKENS_REVOKE = "tokens:revoke"
    ME_READ = "me:read"
    API_DOCS_READ = "api-docs:read"
    # enrollment (rules §2)
    PRESCRIBERS_ENROLL = "prescribers:enroll"
    PRESCRIBERS_ATTEST = "prescribers:attest"
    PRESCRIBERS_PATIENTS_LIST = "prescribers:patients:list"
    DESIGNEES_MANAGE = "designees:manage"
    DESIGNEES_ATTEST = "designees:attest"
    DESIGNEES_ACT_FOR = "designees:act-for"
    PHARMACIES_ENROLL = "pharmacies:enroll"
    PHARMACIES_ACTIVATE = "pharmacies:activate"
    PHARMACISTS_MANAGE = "pharmacists:manage"
    PHARMACIES_AUTHORIZATIONS_LIST = "pharmacies:authorizations:list"
    PHARMACY_SYSTEMS_MANAGE = "pharmacy-systems:manage"  # register, rotate, deactivate
    # patients (rules §2, §3, §7)
    PATIENTS_REGISTER = "patients:register"
    PATIENTS_ACTIVATE = "patients:activate"
    PATIENTS_READ = "patients:read"
    REMS_STATUS_READ = "rems-status:read"  # what a patient still needs, for an EHR or pharmacy
    MY_STEPS_READ = "me:steps:read"
    CARE_RECORD_READ = "care-record:read"  # the care team's pages of a patient's record
    PATIENTS_UPDATE = "patients:update"
    PATIENTS_HOME_TESTS_ALLOW = "patients:home-tests:allow"
    PATIENTS_ACTIVATION_CODES_ISSUE = "patients:activation-codes:issue"
    PATIENTS_RISK_CATEGORY_CHANGE = "patients:risk-category:change"
    PATIENTS_TREATMENT_END = "patients:treatment:end"
    PATIENTS_COURSE_START = "patients:course:start"
    PATIENTS_TRANSFER = "patients:transfer"
    PATIENTS_TAKE_ON = "patients:take-on"
    PATIENTS_REASSIGN = "patients:reassign"
    PATIENTS_DEACTIVATE = "patients:deactivate"
    # the monthly cycle (rules §3 to §5)
    PREGNANCY_TESTS_RECORD = "pregnancy-tests:record"
    COUNSELING_RECORD = "counseling:record"
    COMPREHENSION_TAKE = "comprehension:take"
    CONTRACEPTION_ATTEST = "contraception:attest"
    # pregnancies (rules §8)
    PREGNANCY_REPORTS_CREATE = "pregnancy-reports:create"
    PREGNANCY_SELF_REPORT = "pregnancy-reports:self-report"
    PREGNANCY_REPORTS_READ = "pregnancy-reports:read"
    PREGNANCY_REGISTRY_READ = "pregnancy-registry:read"
    PREGNANCY_FOLLOW_UPS_RECORD = "pregnancy-follow-ups:record"
    PREGNANCY_BLOCKS_LIFT = "pregnancy-blocks:lift"
    # the counter (rules §6)
    AUTHORIZATIONS_CHECK = "authorizations:check"
    AUTHORIZATIONS_REQUEST = "authorizations:request"
    AUTHORIZATIONS_READ = "authorizations:read"
    DISPENSES_RECORD = "dispenses:record"
    DISPENSES_REVERSE = "dispenses:reverse"
    # oversight (rules §9, §10)
    COMPLIANCE_ACT = "compliance:act"
    REPORTS_READ = "reports:read"
    AUDIT_READ = "audit:read"
    STAFF_SEARCH = "staff:search"
    STAFF_EXPORT = "staff:export"
    # other systems (EHRs) registered to call the standard doors
    EHR_SYSTEMS_MANAGE = "ehr-systems:manage"
    # the CDS Hooks doors: open at the door, the EHR's signed JWT authenticates each call
    CDS_HOOKS_CALL = "cds-hooks:call"


ANYONE: frozenset[Holder] = frozenset({Anyone.ANONYMOUS, *Role})
SIGNED_IN: frozenset[Holder] = frozenset(Role)
CARE: frozenset[Holder] = frozenset({Role.PRESCRIBER, Role.DESIGNEE})
PRESCRIBER: frozenset[Holder] = frozenset({Role.PRESCRIBER})
PHARMACIST: frozenset[Holder] = frozenset({Role.PHARMACIST})
PATIENT: frozenset[Holder] = frozenset({Role.PATIENT})
STAFF: frozenset[Holder] = frozenset({Role.STAFF})

P = Permission
HOLDERS: dict[Permission, frozenset[Holder]] = {
    P.SIGN_IN: ANYONE,
    P.ACCOUNT_RECOVER: ANYONE,
    P.LANGUAGE_CHOOSE: ANYONE,
    P.MESSAGES_READ: SIGNED_IN,
    P.MAIL_FOLDER_READ: STAFF,
    P.TOKENS_ISSUE: ANYONE,
    P.TOKENS_REVOKE: SIGNED_IN,
    P.ME_READ: SIGNED_IN,
    P.API_DOCS_READ: ANYONE,
    P.PRESCRIBERS_ENROLL: ANYONE,
    P.PRESCRIBERS_ATTEST: PRESCRIBER,
    P.PRESCRIBERS_PATIENTS_LIST: CARE,
    P.DESIGNEES_MANAGE: PRESCRIBER,
    P.DESIGNEES_ATTEST: frozenset({Role.DESIGNEE}),
    P.DESIGNEES_ACT_FOR: frozenset({Role.DESIGNEE}),  # choose the prescriber they act for
    P.PHARMACIES_ENROLL: ANYONE,
    P.PHARMACIES_ACTIVATE: PHARMACIST,  # the pharmacy's RSP: the operation checks which
    P.PHARMACISTS_MANAGE: PHARMACIST,  # the RSP, likewise
    P.PHARMACIES_AUTHORIZATIONS_LIST: PHARMACIST,
    P.PHARMACY_SYSTEMS_MANAGE: STAFF,
    P.PATIENTS_REGISTER: CARE,
    P.PATIENTS_ACTIVATE: ANYONE,
    P.PATIENTS_READ: frozenset({Role.PRESCRIBER, Role.DESIGNEE, Role.PATIENT, Role.STAFF}),
    # The FHIR $rems-etasu door: the care team and staff (the patient's record), a pharmacist
    # by registry ID and date of birth, as for an authorization.
    P.REMS_STATUS_READ: frozenset({Role.PRESCRIBER, Role.DESIGNEE, Role.PHARMACIST,
                                   Role.STAFF}),
    P.CARE_RECORD_READ: frozenset({Role.PRESCRIBER, Role.DESIGNEE, Role.STAFF}),
    P.MY_STEPS_READ: PATIENT,  # the patient's own pages
    P.PATIENTS_UPDATE: CARE,
    P.PATIENTS_HOME_TESTS_ALLOW: PRESCRIBER,  # with an attestation under 2026 (rules §4)
    P.PATIENTS_ACTIVATION_CODES_ISSUE: CARE,
    P.PATIENTS_RISK_CATEGORY_CHANGE: PRESCRIBER,
    P.PATIENTS_TREATMENT_END: PRESCRIBER,
    P.PATIENTS_COURSE_START: PRESCRIBER,
    P.PATIENTS_TRANSFER: frozenset({Role.PRESCRIBER, Role.STAFF}),  # one of the two below
    P.PATIENTS_TAKE_ON: PRESCRIBER,  # with the registry ID and date of birth (rules §2)
    P.PATIENTS_REASSIGN: STAFF,  # naming the new prescriber
    P.PATIENTS_DEACTIVATE: frozenset({Role.PRESCRIBER, Role.STAFF}),
    P.PREGNANCY_TESTS_RECORD: CARE,
    P.COUNSELING_RECORD: PRESCRIBER,
    P.COMPREHENSION_TAKE: PATIENT,
    P.CONTRACEPTION_ATTEST: PATIENT,
    P.PREGNANCY_REPORTS_CREATE: SIGNED_IN,  # rules §8: anyone who learns of it, on a record
    P.PREGNANCY_SELF_REPORT: PATIENT,
    P.PREGNANCY_REPORTS_READ: SIGNED_IN,  # staff, or the reporter: the operation checks
    P.PREGNANCY_REGISTRY_READ: STAFF,
    P.PREGNANCY_FOLLOW_UPS_RECORD: STAFF,
    P.PREGNANCY_BLOCKS_LIFT: STAFF,
    P.AUTHORIZATIONS_CHECK: PHARMACIST,
    P.AUTHORIZATIONS_REQUEST: PHARMACIST,
    P.AUTHORIZATIONS_READ: frozenset({Role.PRESCRIBER, Role.DESIGNEE, Role.PHARMACIST,
                                      Role.STAFF}),
    P.DISPENSES_RECORD: PHARMACIST,
    P.DISPENSES_REVERSE: PHARMACIST,
    P.COMPLIANCE_ACT: STAFF,
    P.REPORTS_READ: STAFF,
    P.AUDIT_READ: STAFF,
    P.STAFF_SEARCH: STAFF,
    P.STAFF_EXPORT: STAFF,
    P.EHR_SYSTEMS_MANAGE: STAFF,
    P.CDS_HOOKS_CALL: ANYONE,
}


def holds(role: str | None, permission: Permission) -> bool:
    """Whether a caller of ``role`` (None: not signed in) holds ``permission``."""
    holder: Holder = Role(role) if role is not None else Anyone.ANONYMOUS
    return holder in HOLDERS[permission]


def open_to_anyone(permission: Permission) -> bool:
    return Anyone.ANONYMOUS in HOLDERS[permission]


def require(role: str | None, permission: Permission) -> None:
    """For operations: refuse a caller whose role does not hold ``permission``."""
    if not holds(role, permission):
        raise PermissionDenied(f"Your role may not do this ({permission}).")


def who(permission: Permission) -> str:
    """In words, for the API's documentation: "prescriber, designee"."""
    holders = HOLDERS[permission]
    if holders == ANYONE:
        return "anyone"
    return ", ".join(h.value for h in sorted(holders, key=lambda h: h.value))
