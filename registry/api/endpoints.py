"""Importing this module declares every ``/api/v1`` endpoint on the blueprint."""

from registry.accounts import api as accounts_api
from registry.api import authorizations, enrollment, oversight, patients
from registry.cycles import api as cycles_api
from registry.patients import api as patients_api

__all__ = ["accounts_api", "authorizations", "cycles_api", "enrollment", "oversight",
           "patients", "patients_api"]
