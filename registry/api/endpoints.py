"""Importing this module declares every ``/api/v1`` endpoint on the blueprint."""

from registry.accounts import api as accounts_api
from registry.api import oversight, patients
from registry.authorizations import api as authorizations_api
from registry.pharmacies import api as pharmacies_api
from registry.prescribers import api as prescribers_api

__all__ = ["accounts_api", "authorizations_api", "oversight", "patients", "pharmacies_api",
           "prescribers_api"]
