"""Fetching what the prefetch lacks, from the EHR's FHIR server only (CDS Hooks: the service
"MAY" fetch with ``fhirServer`` and ``fhirAuthorization``).

The fetcher is injectable (``app.extensions["registry.cds_fetcher"]``): tests use a fake and
never the network. Only a relative reference of the ``Type/id`` shape is fetched, and only
from the FHIR server registered for the calling system.
"""

from __future__ import annotations

import json
import re
import urllib.request
from typing import Any, Protocol

REFERENCE = re.compile(r"^(Patient|Practitioner)/(?!\.+$)[A-Za-z0-9\-.]{1,64}$")
TIMEOUT_SECONDS = 5
MAX_BYTES = 1_000_000


class Fetcher(Protocol):
    def __call__(self, base: str, reference: str, access_token: str | None,
                 ) -> dict[str, Any] | None: ...


def http_fetch(base: str, reference: str, access_token: str | None) -> dict[str, Any] | None:
    """GET ``base/reference`` as FHIR JSON; None on any failure (the card then says what is
    missing rather than the call failing)."""
    if not base.startswith(("https://", "http://")):
        return None
    # S310: the scheme is http(s), checked above; the base is the registered FHIR server
    request = urllib.request.Request(base.rstrip("/") + "/" + reference,  # noqa: S310
                                     headers={"Accept": "application/fhir+json"})
    if access_token:
        request.add_header("Authorization", f"Bearer {access_token}")
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as answer:  # noqa: S310
            data = json.loads(answer.read(MAX_BYTES))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def fetchable(reference: str) -> bool:
    return bool(REFERENCE.match(reference))
