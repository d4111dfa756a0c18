"""The registry's doors for other systems (EHRs, pharmacy systems): HL7 FHIR REMS, CDS Hooks,
NCPDP SCRIPT. Each door speaks its own standard; what a patient still needs is computed once,
in :mod:`registry.interop.requirements`, from the rules' own decision."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    from registry.interop import api

    api.init_app(app)
