"""Importing this module declares every ``/api/v1`` endpoint on the blueprint."""

from registry.accounts import api as accounts_api
from registry.api import authorizations, enrollment
from registry.compliance import api as compliance_api
from registry.cycles import api as cycles_api
from registry.patients import api as patients_api
from registry.pregnancies import api as pregnancies_api
from registry.staff import api as staff_api

__all__ = ["accounts_api", "authorizations", "compliance_api", "cycles_api", "enrollment",
           "patients_api", "pregnancies_api", "staff_api"]
