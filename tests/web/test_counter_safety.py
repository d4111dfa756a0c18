"""Safety and timing at the counter and in the clinic (issue 9): the earliest useful test on the
pages and in the API, a cancelled RMA read as DO NOT DISPENSE, confirmation before safety acts,
typos as field errors, and an ID card QR code that scans."""

from __future__ import annotations

import io
import re
from datetime import date
from typing import Any

from sqlalchemy import func, select

from registry.audit.models import AuditEntry
from registry.authorizations.models import AuthorizationDecision
from registry.authorizations.operations import reverse_authorization
from registry.pregnancies.models import PregnancyReport, PregnancyTest
from registry.rules import fmt
from tests import factories as f
from tests.api.conftest import Api
from tests.web.conftest import World, login
from tests.web.test_forms import token_of


def _alex(session: Any, clock: Any) -> f.Counter:
    """Confirmation specimen Sat 21 Nov 2026, 30 days dispensed Mon 23 Nov 2026."""
    world = f.Counter(session, clock, start="2026-10-22")
    clock.forward(days=2)
    outcome = f.authorize(session, world.pharmacist, world.patient)
    f.dispense(session, world.pharmacist, outcome)
    session.flush()
    return world


def test_after_a_dispense_pages_and_api_say_when_the_next_test_is_useful(
        app: Any, session: Any, clock: Any) -> None:
    world = _alex(session, clock)
    p = world.patient
    assert p.user is not None
    # 23 Nov + (30 - 7) = Wed 16 Dec, the first refill day; minus 6: Thu 10 Dec.
    client = app.test_client()
    login(client, world.prescriber.user)
    html = client.get(f"/patients/{p.registry_id}").get_data(as_text=True)
    assert 'data-testid="not-before">Not before Thu 10 Dec 2026<' in html
    assert "Sat 28 Nov 2026" not in html
    client = app.test_client()
    login(client, p.user)
    home = client.get("/me/").get_data(as_text=True)
    assert "<strong>Not before Thu 10 Dec 2026</strong>" in home
    assert "(from Thu 10 Dec 2026)" in home  # the one-sentence summary
    assert "Sat 28 Nov 2026" not in home

    api = Api(app)
    token = api.token(world.prescriber.user.email)
    steps = api.get(f"/patients/{p.registry_id}/status", token=token,
                    expect=200).get_json()["next_steps"]
    assert {"actor": "prescriber", "action": "Enter next month's pregnancy test.",
            "due_on": None, "not_before": "2026-12-10"} in steps


def _typo(digits: str) -> str:
    """The same ID with its last (check) digit mis-keyed."""
    return digits[:-1] + str((int(digits[-1]) + 1) % 10)


def test_typos_are_field_errors_on_the_page_and_in_the_api(
        app: Any, session: Any, clock: Any) -> None:
    world = f.Counter(session, clock)
    p = world.patient
    stored = select(func.count()).select_from(AuthorizationDecision)
    before = session.scalar(stored)
    body = {"registry_id": _typo(p.registry_id), "date_of_birth": p.date_of_birth.isoformat(),
            "prescriber_npi": p.prescriber.npi, "days_supply": 30, "quantity": 60,
            "refills": 0}
    api = Api(app)
    token = api.token(world.pharmacist.user.email)
    for path in ("/authorizations", "/authorization-checks"):
        got = api.post(path, body, token=token, key="typo-1", expect=422).get_json()
        assert got["errors"] == {
            "registry_id": ["The check digit does not match: re-key the ID."]}
        assert "reasons" not in got
        bad_npi = api.post(path, {**body, "registry_id": p.registry_id,
                                  "prescriber_npi": _typo(p.prescriber.npi)},
                           token=token, key="typo-2", expect=422).get_json()
        assert bad_npi["errors"] == {
            "prescriber_npi": ["The check digit does not match: re-key the NPI."]}
    assert session.scalar(stored) == before

    client = app.test_client()
    login(client, world.pharmacist.user)
    page = client.get("/pharmacy/authorize").get_data(as_text=True)
    html = client.post("/pharmacy/authorize", data={
        **body, "refills": "0", "form_token": token_of(page)}).get_data(as_text=True)
    assert "The check digit does not match: re-key the ID." in html
    assert "PATIENT_NOT_FOUND" not in html
    assert "Do not dispense: not authorized" not in html
    assert session.scalar(stored) == before


def _stop_box(html: str) -> str:
    match = re.search(r'<section class="answer no"[^>]*data-testid="do-not-dispense">(.*?)'
                      r"</section>", html, re.S)
    assert match, "no red DO NOT DISPENSE box"
    return " ".join(match.group(1).split())


def test_a_cancelled_reversed_or_expired_rma_says_do_not_dispense(
        app: Any, world: World, session: Any, clock: Any) -> None:
    # rma2 was cancelled by the pregnancy report on its issue day.
    client = app.test_client()
    login(client, world.rph2.user)
    html = client.get(f"/pharmacy/authorizations/{world.rma2.rma}").get_data(as_text=True)
    box = _stop_box(html)
    assert "DO NOT DISPENSE: this RMA is cancelled" in box
    assert "A pregnancy was reported for this patient" in box
    assert "Since</dt><dd class=\"bigdate\">Wed 1 Apr 2026" in box
    assert f"<strong>{fmt(world.rma2.do_not_dispense_after)}</strong>" not in html
    assert '<span class="badge bad">cancelled</span>' in html

    # An open RMA has no such box; once past its last day it reads as expired.
    client = app.test_client()
    login(client, world.rph1.user)
    url = f"/pharmacy/authorizations/{world.rma1.rma}"
    assert 'data-testid="do-not-dispense"' not in client.get(url).get_data(as_text=True)
    clock.forward(days=7)
    login(client, world.rph1.user)  # a week later the page session has ended (30 idle minutes)
    box = _stop_box(client.get(url).get_data(as_text=True))
    assert "DO NOT DISPENSE: this RMA is expired" in box
    assert f"Its last day was {fmt(world.rma1.do_not_dispense_after)}" in box
    assert "Wed 8 Apr 2026" in box

    clock.forward(days=-7)
    login(client, world.rph1.user)
    reverse_authorization(session, world.rph1.user, world.rma1,
        f.reversal_of(reason="Not picked up"))
    box = _stop_box(client.get(url).get_data(as_text=True))
    assert "DO NOT DISPENSE: this RMA is reversed" in box
    assert "The pharmacy reversed it: Not picked up" in box


def _decode_qr(html: str) -> list[Any]:
    """Rasterize the card's inline SVG as a browser would print it, then read it with ZXing."""
    import cairosvg
    import zxingcpp
    from PIL import Image

    match = re.search(r"<svg .*?</svg>", html, re.S)
    assert match, "no inline SVG QR code on the card"
    png = cairosvg.svg2png(bytestring=match.group(0).encode(), output_width=400,
                           background_color="white")
    image = Image.open(io.BytesIO(png)).convert("L")
    return list(zxingcpp.read_barcodes(image))


def test_the_id_card_qr_code_is_a_standard_qr_code_that_decodes_to_the_id(
        app: Any, session: Any, clock: Any) -> None:
    import zxingcpp

    clock.to("2026-03-02")
    dr = f.prescriber(session)
    p = f.patient(session, dr)
    assert p.user is not None
    for user, url in ((dr.user, f"/patients/{p.registry_id}/card"), (p.user, "/me/card")):
        client = app.test_client()
        login(client, user)
        found = _decode_qr(client.get(url).get_data(as_text=True))
        assert [(b.format, b.text) for b in found] == [
            (zxingcpp.BarcodeFormat.QRCode, p.registry_id)]


def _hidden_fields(html: str) -> dict[str, str]:
    """What a browser sends back from the confirmation page (its hidden fields)."""
    form = re.search(r'<section class="answer confirm".*?</section>', html, re.S)
    assert form, "no confirmation step"
    return dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">',
                           form.group(0)))


def test_a_positive_result_for_a_minor_needs_a_confirmed_second_step(
        app: Any, session: Any, clock: Any) -> None:
    clock.to("2026-03-02")
    dr = f.prescriber(session)
    designee = f.designee(session, dr)
    minor = f.patient(session, dr, date_of_birth=date(2008, 9, 1), guardian_name="Sam Roe",
                      guardian_signed_on=date(2026, 3, 2))
    reports = select(func.count()).select_from(PregnancyReport).where(
        PregnancyReport.patient_id == minor.id)
    tests = select(func.count()).select_from(PregnancyTest).where(
        PregnancyTest.patient_id == minor.id)
    client = app.test_client()
    login(client, designee.user)
    with client.session_transaction() as s:
        s["acting_for_prescriber_id"] = dr.id
    url = f"/patients/{minor.registry_id}/tests"
    token = token_of(client.get(url).get_data(as_text=True))
    sent = {"form_token": token, "specimen_collected_on": "2026-03-02", "result": "positive",
            "setting": "office"}

    first = client.post(url, data=sent)
    assert first.status_code == 200
    html = first.get_data(as_text=True)
    assert "You are about to record a POSITIVE pregnancy test for" in html
    assert "age 17 (a minor)" in html
    assert "every authorization is refused from now on" in html
    assert session.scalar(reports) == 0
    assert session.scalar(tests) == 0
    carried = _hidden_fields(html)
    assert carried["form_token"] == token
    assert carried["result"] == "positive"

    back = client.post(url, data={**carried, "go_back": "1"})
    assert back.status_code == 200
    assert 'value="positive" checked' in back.get_data(as_text=True) or \
        'checked id="result-1"' in back.get_data(as_text=True)
    assert session.scalar(reports) == 0

    done = client.post(url, data={**carried, "confirmed": "yes"})
    assert done.status_code == 302
    assert session.scalar(reports) == 1
    assert session.scalar(tests) == 1
    again = client.post(url, data={**carried, "confirmed": "yes"})  # a double click
    assert again.status_code == 302
    assert session.scalar(tests) == 1

    page = client.get(f"/patients/{minor.registry_id}").get_data(as_text=True)
    assert "negative screening" not in page
    assert "refer them to an obstetrician-gynecologist" in page


def test_every_safety_act_asks_first_and_does_nothing_until_confirmed(
        app: Any, world: World, session: Any, clock: Any) -> None:
    """Reversal, pharmacist removal, suspension, lifting a block, reporting a pregnancy, ending
    treatment: the first submit shows what will happen; nothing changes."""
    audit = select(func.count()).select_from(AuditEntry)
    acts = [
        (world.rph1.user, f"/pharmacy/authorizations/{world.rma1.rma}/reverse",
         {"reason": "Not picked up"}, "You are about to reverse RMA"),
        (world.rsp1.user, f"/pharmacy/pharmacists/{world.rph1.id}/remove", {},
         f"You are about to remove {world.rph1.name}"),
        (world.staff, "/staff/compliance/",
         {"subject_type": "pharmacy", "subject_id": str(world.ph1.id), "action": "suspension",
          "until": "2026-12-31", "reason": "No RMA"}, "You are about to suspend pharmacy"),
        (world.staff, f"/staff/pregnancies/{world.report_b.id}/lift",
         {"l-reason": "False positive"}, "You are about to lift the pregnancy block"),
        (world.dr_a.user, f"/patients/{world.pat_a.registry_id}/report-pregnancy",
         {"reported_on": "2026-04-01"}, "You are about to report a pregnancy for"),
        (world.dr_a.user, f"/patients/{world.pat_a.registry_id}/end-treatment",
         {"last_dose_on": "2026-04-01"}, "You are about to end"),
    ]
    for user, url, data, says in acts:
        client = app.test_client()
        login(client, user)
        before = session.scalar(audit)
        token_name = "l-form_token" if "/lift" in url else "form_token"
        response = client.post(url, data={token_name: "t-" + url, **data})
        assert response.status_code == 200, url
        html = response.get_data(as_text=True)
        assert says in html, url
        assert "Nothing has been recorded yet." in html
        assert session.scalar(audit) == before, url
    assert world.rma1.status == "authorized"
    assert world.rph1.removed_on is None
    assert world.ph1.suspended_until is None
    assert world.report_b.lifted_at is None
    assert world.pat_a.status == "active"


# --- at the counter --------------------------------------------------------------------------


def _ask(client: Any, **data: str) -> str:
    token = token_of(client.get("/pharmacy/authorize").get_data(as_text=True))
    return client.post("/pharmacy/authorize", data={
        "form_token": token, "days_supply": "30", "quantity": "60", "refills": "0", **data,
    }).get_data(as_text=True)


def test_the_counter_form_is_fast_to_key(app: Any, session: Any, clock: Any) -> None:
    world = f.Counter(session, clock)
    p = world.patient
    client = app.test_client()
    login(client, world.pharmacist.user)
    page = client.get("/pharmacy/authorize").get_data(as_text=True)
    rid_input = re.search(r"<input[^>]*id=\"registry_id\"[^>]*>", page)
    assert rid_input
    assert 'inputmode="numeric"' in rid_input.group(0)
    assert "autofocus" in rid_input.group(0)
    dob_input = re.search(r"<input[^>]*id=\"date_of_birth\"[^>]*>", page)
    assert dob_input
    assert 'type="text"' in dob_input.group(0)

    stored = select(func.count()).select_from(AuthorizationDecision)
    before = session.scalar(stored)
    bad = _ask(client, registry_id=p.registry_id, date_of_birth="14.05.1995",
               prescriber_npi=p.prescriber.npi)
    assert "Type the date as YYYY-MM-DD or MM/DD/YYYY." in bad
    assert session.scalar(stored) == before

    us_style = p.date_of_birth.strftime("%m/%d/%Y")
    html = _ask(client, registry_id=p.registry_id, date_of_birth=us_style,
                prescriber_npi=p.prescriber.npi)
    assert 'data-testid="rma"' in html
    answer = html.index('class="answer yes"')
    assert 'tabindex="-1" data-focus' in html[answer:answer + 200]
    assert html.index("Record the dispense") > answer
    after = re.search(r"<input[^>]*id=\"registry_id\"[^>]*>", html)
    assert after
    assert "autofocus" not in after.group(0)  # the focus goes to the answer


def test_already_issued_shows_the_open_rma_to_the_pharmacy_that_holds_it(
        app: Any, world: World) -> None:
    p = world.pat_a
    ask = {"registry_id": p.registry_id, "date_of_birth": p.date_of_birth.isoformat(),
           "prescriber_npi": world.dr_a.npi}
    client = app.test_client()
    login(client, world.rph1.user)
    html = _ask(client, **ask)
    assert "AUTHORIZATION_ALREADY_ISSUED" in html
    assert (f'<a href="/pharmacy/authorizations/{world.rma1.rma}"><code>{world.rma1.rma}'
            "</code></a>") in html
    other = app.test_client()
    login(other, world.rph2.user)
    html = _ask(other, **ask)
    assert "AUTHORIZATION_ALREADY_ISSUED" in html
    assert world.rma1.rma not in html
