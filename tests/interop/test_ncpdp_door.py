"""The NCPDP SCRIPT REMS door end to end (SQLite, and PostgreSQL with
REGISTRY_TEST_DATABASE_URL): a pharmacy system identifies a patient, gets an RMA, is denied a
second for the same cycle, and gets the first answer again, byte for byte, for the same
message ID. Every answer is parsed back."""

from __future__ import annotations

from sqlalchemy import select

from registry import db
from registry.models import AuditEntry, Authorization, AuthorizationDecision
from tests.interop.ncpdp_support import (
    counts,
    fixture,
    pharmacist_user,
    read,
    send,
    values,
    world,
)


def test_a_pharmacy_system_gets_an_rma_then_already_issued_and_replays(app, clock):
    w = world(app, clock)
    client = app.test_client()

    first = send(client, fixture("rems_request.xml", **values(w, "MSG-1")), w["credential"])
    assert first.status_code == 200, first.data
    root = read(first)
    assert root.findtext("Header/RelatesToMessageID") == "MSG-1"
    assert root.findtext("Header/To") == w["ncpdp_id"]
    approved = root.find("Body/REMSResponse/Response/ResponseStatus/Approved")
    assert approved is not None, first.data
    assert root.findtext("Body/REMSResponse/REMSReferenceID") == "REFMSG-1"
    rma = approved.findtext("REMSAuthorizationNumber")
    with app.app_context():
        auth = db.session().execute(select(Authorization)).scalar_one()
        assert auth.rma == rma
        assert auth.pharmacist_id == w["rph"]
        assert approved.findtext("AuthorizationPeriod/ExpirationDate/Date") == \
            auth.do_not_dispense_after.isoformat()
        assert approved.findtext("AuthorizationPeriod/EffectiveDate/Date") == \
            auth.issued_on.isoformat()
        # audited as the pharmacist, through the system
        entry = db.session().execute(select(AuditEntry).where(
            AuditEntry.action == "authorization:issue")).scalar_one()
        assert entry.user_id == pharmacist_user(app, w["rph"])
        assert entry.after is not None
        assert entry.after["via"] == {"pharmacy_system_id": w["system"],
                                      "pharmacy_system": "Counter software",
                                      "door": "ncpdp", "message_id": "MSG-1"}

    second = send(client, fixture("rems_request.xml", **values(w, "MSG-2")), w["credential"])
    assert second.status_code == 200
    root2 = read(second)
    denied = root2.find("Body/REMSResponse/Response/ResponseStatus/Denied")
    assert denied is not None, second.data
    assert denied.findtext("DeniedReasonCode") == "EO"
    assert (denied.findtext("REMSNote") or "").startswith("AUTHORIZATION_ALREADY_ISSUED: ")
    assert denied.findtext("REMSCaseID") == w["body"]["registry_id"]

    before = counts(app)
    again = send(client, fixture("rems_request.xml", **values(w, "MSG-1")), w["credential"])
    assert again.status_code == 200
    assert again.data == first.data  # byte for byte
    again2 = send(client, fixture("rems_request.xml", **values(w, "MSG-2")), w["credential"])
    assert again2.data == second.data
    assert counts(app) == before  # a replay stores nothing, audits nothing
    with app.app_context():
        assert len(db.session().execute(select(Authorization)).all()) == 1
        assert len(db.session().execute(select(AuthorizationDecision)).all()) == 2


def test_the_same_message_id_with_another_request_is_refused(app, clock):
    w = world(app, clock)
    client = app.test_client()
    assert send(client, fixture("rems_request.xml", **values(w, "MSG-9")),
                w["credential"]).status_code == 200
    before = counts(app)
    raw = fixture("rems_request.xml", **values(w, "MSG-9")).replace(
        b"<DaysSupply>30</DaysSupply>", b"<DaysSupply>20</DaysSupply>")
    r = send(client, raw, w["credential"])
    assert r.status_code == 409
    err = read(r).find("Body/Error")
    assert err is not None
    assert err.findtext("Code") == "900"
    assert "MessageID" in (err.findtext("Description") or "")
    assert counts(app) == before


def test_a_denial_names_our_reasons(app, clock):
    w = world(app, clock)
    client = app.test_client()
    raw = fixture("rems_request.xml", **values(w, "MSG-D", DOB="1999-12-31"))
    r = send(client, raw, w["credential"])
    denied = read(r).find("Body/REMSResponse/Response/ResponseStatus/Denied")
    assert denied is not None
    assert denied.findtext("DeniedReasonCode") == "EC"
    assert (denied.findtext("REMSNote") or "").startswith("PATIENT_NOT_FOUND: ")
    assert counts(app)["authorizations"] == 0


def test_initiation_finds_exactly_one_patient_by_name_birth_date_and_prescriber(app, clock):
    w = world(app, clock)
    client = app.test_client()
    r = send(client, fixture("rems_initiation_request.xml", **values(w, "INI-1")),
             w["credential"])
    assert r.status_code == 200, r.data
    root = read(r)
    opened = root.find("Body/REMSInitiationResponse/Response/ResponseStatus/Open")
    assert opened is not None, r.data
    assert opened.findtext("REMSPatientID") == w["body"]["registry_id"]
    assert root.findtext("Body/REMSInitiationResponse/REMSReferenceID") == "INITINI-1"
    with app.app_context():
        entry = db.session().execute(select(AuditEntry).where(
            AuditEntry.action == "patient:identify")).scalar_one()
        assert entry.user_id == pharmacist_user(app, w["rph"])
        assert entry.after is not None
        assert entry.after["found"] is True
        assert entry.after["via"]["pharmacy_system_id"] == w["system"]

    # the wrong prescriber, or the wrong birth date: Closed, never a guess
    for over in ({"PRESCRIBER_NPI": "1234567893"}, {"DOB": "2000-01-01"}):
        r = send(client, fixture("rems_initiation_request.xml", **values(w, "INI-2", **over)),
                 w["credential"])
        closed = read(r).find("Body/REMSInitiationResponse/Response/ResponseStatus/Closed")
        assert closed is not None, r.data
        assert closed.findtext("ReasonCode") == "EC"
        assert "registry ID" in (closed.findtext("REMSNote") or "")


def test_initiation_with_two_matching_patients_asks_for_the_registry_id(app, clock):
    w = world(app, clock)
    from registry.models import Patient, Prescriber
    from tests import factories as f

    with app.app_context():
        s = db.session()
        first = s.get(Patient, w["patient"])
        dr = s.get(Prescriber, w["dr"])
        assert first is not None
        assert dr is not None
        twin = f.patient(s, dr, can_get_pregnant=False)
        twin.first_name, twin.last_name = first.first_name, first.last_name
        twin.date_of_birth = first.date_of_birth
        db.commit_request()
    r = send(app.test_client(), fixture("rems_initiation_request.xml", **values(w, "INI-3")),
             w["credential"])
    closed = read(r).find("Body/REMSInitiationResponse/Response/ResponseStatus/Closed")
    assert closed is not None, r.data
    assert "More than one patient" in (closed.findtext("REMSNote") or "")


def test_initiation_by_registry_id_and_birth_date(app, clock):
    w = world(app, clock)
    raw = fixture("rems_request.xml", **values(w, "INI-4")).replace(
        b"REMSRequest>", b"REMSInitiationRequest>")
    r = send(app.test_client(), raw, w["credential"])
    opened = read(r).find("Body/REMSInitiationResponse/Response/ResponseStatus/Open")
    assert opened is not None, r.data
    assert opened.findtext("REMSCaseID") == w["body"]["registry_id"]


def test_the_other_spellings_get_the_same_rma(app, clock):
    """Name (not Names/Name) and Product/DrugCoded/NDC (not DrugCoded/ProductCode/Code)."""
    w = world(app, clock)
    raw = fixture("rems_request.xml", **values(w, "ALT-1"))
    raw = raw.replace(b"<Names>", b"").replace(b"</Names>", b"")
    raw = raw.replace(b"<DrugCoded>\n          <ProductCode>\n            <Code>00378661193</Code>"
                      b"\n            <Qualifier>ND</Qualifier>\n          </ProductCode>\n"
                      b"        </DrugCoded>",
                      b"<Product><DrugCoded><NDC>00378-6611-93</NDC></DrugCoded></Product>")
    assert b"<Product>" in raw
    assert b"<Names>" not in raw
    r = send(app.test_client(), raw, w["credential"])
    root = read(r)
    assert root.find("Body/REMSResponse/Response/ResponseStatus/Approved") is not None, r.data
