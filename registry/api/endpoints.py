"""Importing this module declares every ``/api/v1`` endpoint on the blueprint."""

from registry.accounts import api as accounts_api
from registry.api import authorizations, enrollment, oversight, patients
from registry.pregnancies import api as pregnancies_api

__all__ = ["accounts_api", "authorizations", "enrollment", "oversight", "patients",
           "pregnancies_api"]
