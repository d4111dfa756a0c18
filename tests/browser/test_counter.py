"""At the counter and in the clinic, in a real browser with axe on every page (issue 9):
keyboard-only authorization with a scanned ID, scan to fill (scanner and camera), the printable
RMA, denials in plain words, the positive-test confirmation, sortable headers and focusable
code blocks."""

from __future__ import annotations

import io
import re
import tempfile
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from registry import db
from registry.authorizations.models import Authorization, AuthorizationDecision, Dispense
from registry.patients.models import Patient
from registry.pregnancies.models import PregnancyReport
from tests import factories as f
from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS, audit, audited_page, close, shot

pytestmark = pytest.mark.browser

W: dict[str, Any] = {}


@pytest.fixture(scope="module")
def world(live_app: Any, travel: Any) -> dict[str, Any]:
    """A prescriber with one patient ready for a first prescription and one who is not yet;
    an active pharmacy with a pharmacist; a staff member."""
    app, _ = live_app
    with app.app_context(), db.unit_of_work() as s:
        dr = f.prescriber(s, first_name="Dana", last_name="Okafor")
        ready = f.patient(s, dr, first_name="Casey", last_name="Quill",
                          date_of_birth=date(2000, 1, 15))
        other = f.patient(s, dr, first_name="Robin", last_name="Vale")
        f.enter_test(s, other)
        ph = f.pharmacy(s)
        rph = f.pharmacist(s, ph)
        staff = f.staff(s)
        W.update(dr=dr.user.email, npi=dr.npi, ready_id=ready.registry_id,
                 other_id=other.registry_id, rph=rph.user.email, pharmacy=ph.name,
                 ncpdp=ph.ncpdp_id, staff=staff.email, dr_name=dr.name)
        f.ready_for_first_prescription(s, ready, travel)  # 30 days later: the window is open
    return W


def sign_in(page: Any, email: str) -> None:
    page.goto("/login")
    audit(page)
    page.fill("#email", email)
    page.fill("#password", f.PASSWORD)
    page.click("button:has-text('Sign in')")
    page.wait_for_load_state()
    audit(page)


def card_qr_content(page: Any, registry_id: str) -> str:
    """What a 2D scanner reads from the ID card as the browser shows it (ZXing on a
    screenshot of the rendered card)."""
    import zxingcpp
    from PIL import Image

    page.goto(f"/patients/{registry_id}/card")
    audit(page)
    png = page.locator(".idcard svg").screenshot()
    found = zxingcpp.read_barcodes(Image.open(io.BytesIO(png)).convert("L"))
    assert [b.format for b in found] == [zxingcpp.BarcodeFormat.QRCode]
    text: str = found[0].text
    return text


def focused(page: Any) -> str:
    return str(page.evaluate("() => document.activeElement.id || "
                             "document.activeElement.textContent.trim().slice(0, 40)"))


def test_1_pharmacist_authorizes_by_keyboard_with_a_scanned_id_and_prints_the_rma(
        live_app: Any, browser: Any, world: dict[str, Any]) -> None:
    app, base = live_app
    page = audited_page(browser, base)
    sign_in(page, world["dr"])
    scanned = card_qr_content(page, world["ready_id"])
    assert scanned == world["ready_id"]
    close(page)

    page = audited_page(browser, base)
    sign_in(page, world["rph"])
    page.goto("/pharmacy/authorize")
    audit(page)
    assert focused(page) == "registry_id"  # focused on arrival: the scanner types into it
    # A 2D scanner in keyboard mode: the card's content typed fast, then its Enter suffix.
    page.keyboard.type(scanned, delay=4)
    page.keyboard.press("Enter")
    assert page.input_value("#registry_id") == world["ready_id"]
    assert focused(page) == "date_of_birth"  # Enter moved on; the half-filled form stayed here
    assert page.locator(".error-summary").count() == 0
    audit(page)
    shot(page, "c01-scanned-id")
    page.keyboard.type("01/15/2000")
    page.keyboard.press("Tab")
    assert focused(page) == "prescriber_npi"
    page.keyboard.type(world["npi"])
    page.keyboard.press("Tab")
    page.keyboard.type("30")
    page.keyboard.press("Tab")
    page.keyboard.type("60")
    page.keyboard.press("Tab")
    page.keyboard.type("0")  # the refills field's 0 is selected on Tab: typed over
    with page.expect_navigation():
        page.keyboard.press("Enter")
    audit(page)
    rma = page.inner_text("[data-testid=rma]").strip()
    assert focused(page).startswith("Authorized")  # focus on the answer
    page.keyboard.press("Tab")  # the next Tab stop after the answer
    assert focused(page) == "Record the dispense"
    shot(page, "c02-authorized-by-keyboard")
    page.keyboard.press("Enter")
    page.wait_for_url(f"**/pharmacy/authorizations/{rma}")
    audit(page)
    assert f"Dispense recorded against RMA {rma}." in page.inner_text("main")
    with app.app_context():
        s = db.session()
        auth = s.execute(select(Authorization).where(Authorization.rma == rma)).scalar_one()
        assert auth.patient.registry_id == world["ready_id"]
        assert s.scalar(select(func.count()).select_from(Dispense).where(
            Dispense.authorization_id == auth.id)) == 1

    # The printable record: everything a paper file needs, nothing to click.
    page.emulate_media(media="print")
    record = page.inner_text("main")
    for fact in (rma, world["ready_id"], "Quill", world["dr_name"], world["npi"],
                 world["pharmacy"], world["ncpdp"], "Issued", "Do not dispense after",
                 "dispensed"):
        assert fact in record, fact
    for hidden in ("header.site", "footer.site", "button[data-print]",
                   "form[action$='/reverse']"):
        assert not page.locator(hidden).first.is_visible(), hidden
    assert page.locator(".print-only").first.is_visible()
    assert "nothing more may be dispensed against this RMA" in record
    audit(page)
    shot(page, "c03-rma-print")
    pdf = page.pdf(format="Letter")
    assert pdf.startswith(b"%PDF")
    page.emulate_media(media="screen")
    W["rma"] = rma
    close(page)


def test_2_a_reversed_rma_prints_as_do_not_dispense(live_app: Any, browser: Any,
                                                    world: dict[str, Any]) -> None:
    _, base = live_app
    page = audited_page(browser, base)
    sign_in(page, world["rph"])
    page.goto(f"/pharmacy/authorizations/{W['rma']}")
    audit(page)
    page.fill("#reason", "Returned to stock")
    page.click("button:has-text('Reverse this authorization')")
    audit(page)
    page.click("button:has-text('Confirm: reverse this authorization')")
    page.wait_for_load_state()
    audit(page)
    page.emulate_media(media="print")
    assert page.locator("[data-testid=do-not-dispense]").is_visible()
    text = page.inner_text("main")
    assert "DO NOT DISPENSE" in text
    assert "This record is NOT a valid authorization" in text
    assert "Was valid until" in text
    shot(page, "c04-rma-reversed-print")
    page.emulate_media(media="screen")
    close(page)


def test_3_a_scanner_payload_longer_than_the_id_fills_the_id(
        live_app: Any, browser: Any, world: dict[str, Any]) -> None:
    _, base = live_app
    page = audited_page(browser, base)
    sign_in(page, world["rph"])
    rid = world["ready_id"]
    for payload, key in ((f"REGISTRY ID: {rid}", "Tab"), (f"https://registry.example/p/{rid}",
                                                         "Enter"),
                         (f"{rid[:3]} {rid[3:6]} {rid[6:]}", "Enter")):
        page.goto("/pharmacy/authorize")
        audit(page)
        assert focused(page) == "registry_id"
        page.keyboard.type(payload, delay=2)
        page.keyboard.press(key)
        assert page.input_value("#registry_id") == rid, payload
        assert focused(page) == "date_of_birth", payload
    # Typed by hand, digit by digit, the field is left alone (a wrong digit is the server's
    # field error, not silently "fixed").
    page.goto("/pharmacy/authorize")
    audit(page)
    page.keyboard.type("12345678901")
    assert page.input_value("#registry_id") == "12345678901"
    close(page)


def test_4_recent_denials_are_in_plain_words(live_app: Any, browser: Any,
                                             world: dict[str, Any]) -> None:
    app, base = live_app
    page = audited_page(browser, base)
    sign_in(page, world["rph"])
    page.goto("/pharmacy/authorize")
    audit(page)
    page.fill("#registry_id", world["ready_id"])
    page.fill("#date_of_birth", "2000-01-15")
    page.fill("#prescriber_npi", world["npi"])
    page.fill("#days_supply", "45")
    page.fill("#quantity", "60")
    page.click("button:has-text('Ask for an authorization')")
    page.wait_for_load_state()
    audit(page)
    assert page.locator(".answer.no").is_visible()
    page.goto("/pharmacy/authorizations")
    audit(page)
    denials = page.inner_text("ul.denials")
    assert "Quill" in denials
    assert "45 days' supply is more than the 30 days allowed." in denials
    assert "Who acts: the pharmacy" in denials
    with app.app_context():
        codes = {r["code"] for d in db.session().execute(select(AuthorizationDecision).where(
            AuthorizationDecision.eligible.is_(False))).scalars() for r in d.reasons}
    assert codes
    for code in codes:
        assert code not in denials
    shot(page, "c05-recent-denials")
    close(page)


def test_5_positive_test_asks_for_confirmation_then_blocks(
        live_app: Any, browser: Any, world: dict[str, Any], travel: Any) -> None:
    app, base = live_app
    page = audited_page(browser, base)
    sign_in(page, world["dr"])
    page.goto(f"/patients/{world['other_id']}")
    audit(page)
    page.click("a.button:has-text('Enter a pregnancy test')")
    audit(page)
    with app.app_context():
        from registry import clock

        today = clock.today()
    page.fill("#specimen_collected_on", today.isoformat())
    page.click("label:has-text('Positive')")
    page.click("label:has-text('Laboratory')")
    page.click("button:has-text('Record the test')")
    page.wait_for_load_state()
    audit(page)
    main = page.inner_text("main")
    assert "You are about to record a POSITIVE pregnancy test for" in main
    assert "every authorization is refused from now on" in main
    shot(page, "c06-positive-confirm")
    with app.app_context():
        s = db.session()
        patient = s.execute(select(Patient).where(
            Patient.registry_id == world["other_id"])).scalar_one()
        reports = select(func.count()).select_from(PregnancyReport).where(
            PregnancyReport.patient_id == patient.id)
        assert s.scalar(reports) == 0  # nothing happens before the confirmation
    page.click("button:has-text('Confirm: record the positive test')")
    page.wait_for_load_state()
    audit(page)
    main = page.inner_text("main")
    assert "refer them to an obstetrician-gynecologist" in main
    assert "negative screening" not in main
    with app.app_context():
        assert db.session().scalar(reports) == 1
    shot(page, "c07-positive-blocked")
    close(page)


def test_6_sortable_headers_code_blocks_and_the_audit_log_pass_axe(
        live_app: Any, browser: Any, world: dict[str, Any]) -> None:
    _, base = live_app
    page = audited_page(browser, base)
    sign_in(page, world["dr"])
    page.goto("/prescriber/?sort=name&dir=desc")
    audit(page)
    header = page.locator("th[aria-sort]")
    assert header.count() == 1
    assert header.get_attribute("aria-sort") == "descending"
    assert "Patient" in header.inner_text()
    assert page.locator("a[aria-sort]").count() == 0
    shot(page, "c08-sorted-list")
    close(page)

    page = audited_page(browser, base)
    page.goto("/api/docs")
    audit(page)
    blocks = page.locator("pre")
    assert blocks.count() >= 2
    for i in range(blocks.count()):
        assert blocks.nth(i).get_attribute("tabindex") == "0"
        assert blocks.nth(i).get_attribute("aria-label")
    page.set_viewport_size({"width": 375, "height": 800})  # narrow: the blocks scroll
    audit(page)
    page.set_viewport_size({"width": 1280, "height": 800})
    close(page)

    page = audited_page(browser, base)
    sign_in(page, world["staff"])
    page.goto("/staff/audit")
    audit(page)
    page.locator("details summary").first.click()
    assert page.locator("pre.data").first.is_visible()
    assert page.locator("pre.data").first.get_attribute("tabindex") == "0"
    audit(page)
    close(page)


def test_7_no_camera_no_camera_button(live_app: Any, browser: Any,
                                      world: dict[str, Any]) -> None:
    _, base = live_app
    page = audited_page(browser, base)
    sign_in(page, world["rph"])
    page.goto("/pharmacy/authorize")  # this Chromium has no camera
    audit(page)
    page.wait_for_function("() => document.readyState === 'complete'")
    assert page.evaluate("() => typeof window.jsQR") == "function"  # served by the app
    assert not page.locator("#scan-camera").is_visible()
    close(page)


def _y4m_of_card(text: str, path: Path) -> None:
    """A fake camera's video: the card's QR code (as the app draws it) on a grey desk."""
    import segno

    qr = segno.make(text, error="m", micro=False)
    width, height, scale = 640, 480, 8
    rows = [list(r) for r in qr.matrix_iter(scale=scale, border=4)]
    y = bytearray([160]) * (width * height)
    top, left = (height - len(rows)) // 2, (width - len(rows[0])) // 2
    for r, row in enumerate(rows):
        line = bytes(0 if dark else 255 for dark in row)
        start = (top + r) * width + left
        y[start:start + len(line)] = line
    frame = b"FRAME\n" + bytes(y) + bytes([128]) * (width * height // 2)
    with path.open("wb") as out:
        out.write(f"YUV4MPEG2 W{width} H{height} F10:1 Ip A1:1 C420jpeg\n".encode())
        for _ in range(5):
            out.write(frame)


@pytest.fixture(scope="module")
def camera_browser(playwright: Any, world: dict[str, Any]) -> Iterator[Any]:
    """Chromium with a fake camera that films the card."""
    with tempfile.TemporaryDirectory(prefix="registry-camera-") as tmp:
        video = Path(tmp) / "card.y4m"
        _y4m_of_card(world["ready_id"], video)
        args = [*CHROMIUM_ARGS, "--use-fake-ui-for-media-stream",
                "--use-fake-device-for-media-stream",
                f"--use-file-for-fake-video-capture={video}"]
        b = playwright.chromium.launch(executable_path=CHROMIUM, args=args)
        try:
            yield b
        finally:
            b.close()


def test_8_the_camera_reads_the_card_and_fills_the_id(
        live_app: Any, camera_browser: Any, world: dict[str, Any]) -> None:
    _, base = live_app
    page = audited_page(camera_browser, base)
    page.context.grant_permissions(["camera"])
    sign_in(page, world["rph"])
    page.goto("/pharmacy/authorize")
    button = page.locator("#scan-camera")
    button.wait_for(state="visible")
    audit(page)
    shot(page, "c09-camera-button")
    assert page.input_value("#registry_id") == ""
    button.click()
    page.wait_for_function(
        "id => document.getElementById('registry_id').value === id", arg=world["ready_id"],
        timeout=15000)
    assert re.search(r"Registry ID \d{10} read from the card", page.inner_text("#scan-status"))
    assert focused(page) == "date_of_birth"
    assert not page.locator("#scan-panel").is_visible()  # the camera is off again
    audit(page)
    close(page)
