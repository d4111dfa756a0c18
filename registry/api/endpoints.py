"""Importing this module declares every ``/api/v1`` endpoint on the blueprint: each feature's
doors are in its own ``api.py``."""

from registry.accounts import api as accounts_api
from registry.authorizations import api as authorizations_api
from registry.compliance import api as compliance_api
from registry.cycles import api as cycles_api
from registry.interop.ehr import api as ehr_systems_api
from registry.patients import api as patients_api
from registry.pharmacies import api as pharmacies_api
from registry.pregnancies import api as pregnancies_api
from registry.prescribers import api as prescribers_api
from registry.staff import api as staff_api

__all__ = ["accounts_api", "authorizations_api", "compliance_api", "cycles_api", "ehr_systems_api",
           "patients_api", "pharmacies_api", "pregnancies_api", "prescribers_api", "staff_api"]
