"""The URIs the standard doors speak, defined once (FHIR, CDS Hooks, NCPDP all read them).

The program's own URIs never change once systems store identifiers under them: a deployment
that owns another domain changes them here once, before its first EHR connects."""

from __future__ import annotations

PROGRAM_BASE = "https://registry.example.org"
# A patient's registry ID (our case number) as a FHIR Identifier.system.
REGISTRY_ID_SYSTEM = f"{PROGRAM_BASE}/fhir/sid/registry-id"
# A GuidanceResponse.moduleUri: the program's ETASU check ($rems-etasu).
REMS_MODULE_URI = f"{PROGRAM_BASE}/fhir/rems/isotretinoin-etasu"
PROGRAM_NAME = "Isotretinoin pregnancy-prevention program"

RXNORM_SYSTEM = "http://www.nlm.nih.gov/research/umls/rxnorm"
ISOTRETINOIN_RXCUI = "6064"  # RxNorm ingredient: isotretinoin
