"""Shared by the NCPDP tests: the world, the fixtures filled in, the door called, answers
read back (with defusedxml, as a peer would)."""

from __future__ import annotations

from pathlib import Path
from string import Template
from typing import Any
from xml.etree.ElementTree import Element

from defusedxml.ElementTree import fromstring
from flask import Flask
from sqlalchemy import func, select

from registry import db
from registry.contract import parse
from registry.models import (
    AuditEntry,
    Authorization,
    AuthorizationDecision,
    Patient,
    Pharmacist,
    Pharmacy,
    User,
)
from registry.pharmacies.schemas import PharmacySystemRegistration
from registry.pharmacies.systems import register_system
from tests import races

FIXTURES = Path(__file__).parent / "fixtures" / "ncpdp"
DOOR = "/ncpdp/script"


def fixture(name: str, **values: Any) -> bytes:
    text = (FIXTURES / name).read_text(encoding="utf-8")
    return Template(text).substitute({k: str(v) for k, v in values.items()}).encode()


def world(app: Flask, clock: Any) -> dict[str, Any]:
    """races.world (a patient ready for a first prescription, her prescriber, a pharmacy with
    two pharmacists, staff), plus a registered pharmacy system and its credential, and a
    second pharmacy with its own pharmacist and system."""
    w = races.world(app, clock)
    with app.app_context():
        session = db.session()
        staff = session.get(User, w["staff_user"])
        assert staff is not None
        system, credential = register_system(session, staff, parse(
            PharmacySystemRegistration, name="Counter software", pharmacy_id=w["pharmacy"]))
        from tests import factories as f

        other_ph = f.pharmacy(session)
        other_rph = f.pharmacist(session, other_ph)
        other_system, other_credential = register_system(session, staff, parse(
            PharmacySystemRegistration, name="Other counter", pharmacy_id=other_ph.id))
        patient = session.get(Patient, w["patient"])
        pharmacy = session.get(Pharmacy, w["pharmacy"])
        assert patient is not None
        assert pharmacy is not None
        w.update({
            "system": system.id, "credential": credential, "ncpdp_id": pharmacy.ncpdp_id,
            "other_system": other_system.id, "other_credential": other_credential,
            "other_rph": other_rph.id, "other_ncpdp_id": other_ph.ncpdp_id,
            "first_name": patient.first_name, "last_name": patient.last_name,
        })
        db.commit_request()
    return w


def values(w: dict[str, Any], message_id: str = "MSG-1", **over: Any) -> dict[str, Any]:
    body = w["body"]
    out = {"NCPDP_ID": w["ncpdp_id"], "MESSAGE_ID": message_id,
           "REGISTRY_ID": body["registry_id"], "DOB": body["date_of_birth"],
           "PRESCRIBER_NPI": body["prescriber_npi"], "PHARMACIST_ID": w["rph"],
           "FIRST_NAME": w["first_name"], "LAST_NAME": w["last_name"]}
    out.update(over)
    return out


def send(client: Any, raw: bytes, credential: str | None, *,
         content_type: str = "application/xml") -> Any:
    headers = {"Authorization": f"Bearer {credential}"} if credential else {}
    return client.post(DOOR, data=raw, headers=headers, content_type=content_type)


def read(response: Any) -> Element:
    """The answer parsed back as a peer would parse it: XML, one Message with a header."""
    assert response.mimetype == "application/xml", response.data[:200]
    root = fromstring(response.data, forbid_dtd=True)
    assert root.tag == "Message"
    header = root.find("Header")
    assert header is not None
    for name in ("To", "From", "MessageID", "SentTime"):
        assert (header.findtext(name) or "").strip(), name
    return root


def counts(app: Flask) -> dict[str, int]:
    with app.app_context():
        s = db.session()
        return {
            "authorizations": s.execute(select(func.count(Authorization.id))).scalar_one(),
            "decisions": s.execute(select(func.count(AuthorizationDecision.id))).scalar_one(),
            "audit": s.execute(select(func.count(AuditEntry.id))).scalar_one(),
        }


def pharmacist_user(app: Flask, pharmacist_id: int) -> int:
    with app.app_context():
        rph = db.session().get(Pharmacist, pharmacist_id)
        assert rph is not None
        return rph.user_id
