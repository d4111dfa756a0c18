"""Bad input at the NCPDP door: a clear 4xx NCPDP Error naming what is wrong, nothing stored,
never a 5xx (and a hypothesis run over the door)."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from registry import db
from registry.models import Pharmacist
from tests.harness import fuzz_examples
from tests.interop.ncpdp_support import DOOR, counts, fixture, read, send, values, world

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
]>
<Message><Header><MessageID>&lol4;</MessageID></Header><Body/></Message>"""

EXTERNAL_ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE m [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<Message><Header><MessageID>&xxe;</MessageID></Header><Body/></Message>"""


def _error(response, status: int, *words: str) -> str:
    assert response.status_code == status, (response.status_code, response.data[:500])
    root = read(response)
    err = root.find("Body/Error")
    assert err is not None, response.data
    assert err.findtext("Code") in ("601", "900")
    description = err.findtext("Description") or ""
    for word in words:
        assert word in description, (word, description)
    return description


def _drop(raw: bytes, start: bytes, end: bytes) -> bytes:
    i = raw.index(start)
    j = raw.index(end, i) + len(end)
    return raw[:i] + raw[j:]


@pytest.fixture
def w(app, clock):
    return world(app, clock)


def test_bad_messages_are_refused_and_nothing_is_stored(app, w):
    client = app.test_client()
    good = fixture("rems_request.xml", **values(w, "BAD-1"))
    before = counts(app)
    cases = [
        (b"<Message><Header>", 400, ["not well-formed"]),
        (b"", 400, ["not well-formed"]),
        # An encoding Python does not know (the fuzz found it: LookupError, then a 500).
        (b'<?xml version="1.0" encoding="AUTF-8"?><Message/>', 400, ["not well-formed"]),
        (BILLION_LAUGHS, 400, ["DTD"]),
        (EXTERNAL_ENTITY, 400, ["DTD"]),
        (good.replace(b"<Message ", b"<Note ").replace(b"</Message>", b"</Note>"), 400,
         ["root element is Note"]),
        (good.replace(b"REMSRequest>", b"NewRx>"), 400, ["Message/Body/NewRx"]),
        (_drop(good, b"<MessageID>", b"</MessageID>"), 400, ["Message/Header/MessageID"]),
        (_drop(good, b"<DaysSupply>", b"</DaysSupply>"), 400,
         ["MedicationPrescribed/DaysSupply is required"]),
        (_drop(good, b"<DateOfBirth>", b"</DateOfBirth>"), 400, ["DateOfBirth/Date"]),
        (_drop(good, b"<DrugCoded>", b"</DrugCoded>"), 400,
         ["DrugCoded/ProductCode/Code", "Product/DrugCoded/NDC"]),
        (good.replace(b"<Code>00378661193</Code>", b"<NDC>00378661193</NDC>"), 400,
         ["DrugCoded/ProductCode/Code"]),
        (_drop(good, b"<Names>", b"</Names>"), 400, ["Names/Name", "/Name"]),
        (good.replace(b"<Names>", b"<Names><Nom/>").replace(b"<Name>\n", b"<Alias>\n")
             .replace(b"</Name>\n          </Names>", b"</Alias>\n          </Names>"), 400,
         ["Names/Name is required"]),
        (_drop(good, b"<NPI>", b"</NPI>"), 400, ["Prescriber/NonVeterinarian/Identification/NPI"]),
        (_drop(good, b"<REMSHealthcareProviderEnrollmentID>",
               b"</REMSHealthcareProviderEnrollmentID>"), 400, ["REMSHealthcareProvider"]),
        (good.replace(b"<Value>60</Value>", b"<Value>sixty</Value>"), 400,
         ["MedicationPrescribed/Quantity/Value"]),
        (good.replace(b"<DaysSupply>30</DaysSupply>", b"<DaysSupply>900</DaysSupply>"), 400,
         ["MedicationPrescribed/DaysSupply"]),
        (good.replace(w["body"]["prescriber_npi"].encode(), b"1234567890"), 400,
         ["NPI"]),
        (good.replace(b"<REMSCaseID>", b"<REMSCaseID>9").replace(
            b"<REMSPatientID>", b"<REMSPatientID>"), 400, ["REMSCaseID", "differ"]),
    ]
    for raw, status, words in cases:
        _error(send(client, raw, w["credential"]), status, *words)
    assert counts(app) == before


def test_who_is_asking(app, w):
    client = app.test_client()
    good = fixture("rems_request.xml", **values(w, "WHO-1"))
    before = counts(app)
    _error(send(client, good, None), 401, "Authorization: Bearer")
    _error(send(client, good, "rps_not-a-credential"), 401, "unknown")
    # a pharmacist of another pharmacy, through this pharmacy's system
    _error(send(client, fixture("rems_request.xml", **values(w, "WHO-2",
                                                             PHARMACIST_ID=w["other_rph"])),
                w["credential"]), 403, "is not a pharmacist of")
    # this pharmacy's pharmacist, through the other pharmacy's system
    _error(send(client, good, w["other_credential"]), 403, "NCPDPID")
    _error(send(client, fixture("rems_request.xml", **values(w, "WHO-3", NCPDP_ID="0000000")),
                w["credential"]), 403, "NCPDPID")
    _error(send(client, fixture("rems_request.xml", **values(w, "WHO-4",
                                                             PHARMACIST_ID="99999999")),
                w["credential"]), 403, "is not a pharmacist of")
    _error(send(client, good, w["credential"], content_type="application/json"), 415, "XML")
    assert counts(app) == before


def test_an_inactive_pharmacist_is_refused(app, w):
    from registry import clock as registry_clock

    with app.app_context():
        rph = db.session().get(Pharmacist, w["rph"])
        assert rph is not None
        rph.removed_on = registry_clock.today()
        db.commit_request()
    before = counts(app)
    r = send(app.test_client(), fixture("rems_request.xml", **values(w, "IN-1")),
             w["credential"])
    _error(r, 403, f"Pharmacist {w['rph']}")
    assert counts(app) == before


def test_a_message_too_large_is_refused(app, w):
    raw = b"<Message>" + b" " * (70 * 1024) + b"</Message>"
    _error(send(app.test_client(), raw, w["credential"]), 413, "larger")


XML_BITS = st.sampled_from([
    b"<Message>", b"</Message>", b"<Header>", b"</Header>", b"<Body>", b"</Body>",
    b"<REMSRequest>", b"</REMSRequest>", b"<REMSInitiationRequest>", b"<MessageID>x</MessageID>",
    b"<!DOCTYPE a [<!ENTITY b 'c'>]>", b"&b;", b"<?xml version='1.0'?>", b"\x00", b"\xff",
    b"<Patient><HumanPatient><Name/></HumanPatient></Patient>", b"<DaysSupply>-1</DaysSupply>",
    b"<Pharmacy><Pharmacist><Identification><REMSHealthcareProviderEnrollmentID>1"
    b"</REMSHealthcareProviderEnrollmentID></Identification></Pharmacist></Pharmacy>",
])


@settings(max_examples=fuzz_examples(60), deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(data=st.data())
def test_fuzz_the_door_never_answers_5xx(app, w, data):
    client = app.test_client()
    mode = data.draw(st.sampled_from(["bits", "bytes", "mutate"]))
    if mode == "bits":
        raw = b"".join(data.draw(st.lists(XML_BITS, max_size=12)))
    elif mode == "bytes":
        raw = data.draw(st.binary(max_size=300))
    else:
        good = fixture("rems_request.xml", **values(w, "FZ-1"))
        i = data.draw(st.integers(0, len(good) - 1))
        j = data.draw(st.integers(i, min(len(good), i + 40)))
        raw = good[:i] + data.draw(st.binary(max_size=20)) + good[j:]
    credential = data.draw(st.sampled_from([w["credential"], None, "rps_x"]))
    r = send(client, raw, credential)
    assert r.status_code < 500, r.data
    assert r.mimetype == "application/xml"
    read(r)


def test_get_is_not_a_door(app, w):
    assert app.test_client().get(DOOR).status_code == 405
