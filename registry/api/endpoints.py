"""Importing this module registers every ``/api/v1`` route on the blueprint."""

from registry.api import authorizations, enrollment, oversight, patients, tokens

__all__ = ["authorizations", "enrollment", "oversight", "patients", "tokens"]
