"""A real server in a background thread, on its own SQLite file built by the migrations, and
Debian's Chromium driven by Playwright. Screenshots go to test-artifacts/screenshots/ (or
$REGISTRY_SHOTS).

Every page a test loads is checked with axe-core (tests/browser/node_modules, installed by
`npm ci --prefix tests/browser`; never served by the app) against WCAG 2.2 A/AA, with the app's
Content-Security-Policy on. axe is evaluated through the DevTools protocol (page.evaluate), which
the page's CSP does not govern; a <script> tag added to the page (page.add_script_tag) is refused
by `script-src 'self'`, which tests/browser/test_a11y_harness.py shows."""

from __future__ import annotations

import os
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from flask import Flask
from werkzeug.serving import make_server

from registry import create_app, db
from registry.cli import alembic_config
from tests.harness import TEST_CONFIG, Clock, travelling

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
SHOTS = Path(os.environ.get("REGISTRY_SHOTS")
             or Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots")
AXE = Path(__file__).resolve().parent / "node_modules" / "axe-core" / "axe.min.js"
WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]


@pytest.fixture(scope="module")
def travel() -> Iterator[Clock]:
    """Time for the whole module (the server thread shares the process, so it moves too)."""
    with travelling() as c:
        yield c


@pytest.fixture(scope="module")
def live_app(travel: Clock) -> Iterator[tuple[Flask, str]]:
    travel.to("2026-03-02")
    with tempfile.TemporaryDirectory(prefix="registry-browser-") as tmp:
        url = "sqlite:///" + os.path.join(tmp, "browser.sqlite3")
        app = create_app({**TEST_CONFIG, "WTF_CSRF_ENABLED": True, "DATABASE_URL": url,
                          "TESTING": False, "MAIL_FOLDER": os.path.join(tmp, "mail")})
        with app.app_context():
            command.upgrade(alembic_config(url), "head")
            from registry.cycles.operations import load_question_bank

            with db.unit_of_work() as session:
                load_question_bank(session)
        server = make_server("127.0.0.1", 0, app, threaded=True)
        app.config["PUBLIC_URL"] = f"http://127.0.0.1:{server.server_port}"  # links in mail
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield app, f"http://127.0.0.1:{server.server_port}"
        finally:
            server.shutdown()
            thread.join(timeout=10)
            app.extensions["registry.engine"].dispose()


@pytest.fixture(scope="session")
def playwright() -> Iterator[Any]:
    """One Playwright for the session (its sync API cannot be started twice at once)."""
    if not os.path.exists(CHROMIUM):
        pytest.fail(f"{CHROMIUM} is missing: apt-get install -y chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        yield pw


@pytest.fixture(scope="module")
def browser(playwright: Any) -> Iterator[Any]:
    b = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    try:
        yield b
    finally:
        b.close()


def axe_source() -> str:
    if not AXE.exists():
        pytest.fail(f"{AXE} is missing: npm ci --prefix tests/browser")
    return AXE.read_text()


def axe_violations(page: Any) -> list[dict[str, Any]]:
    """The WCAG 2.2 A/AA violations axe finds on the page as it is now."""
    if not page.evaluate("() => typeof window.axe === 'object'"):
        page.evaluate(axe_source())
    result: list[dict[str, Any]] = page.evaluate(
        """tags => axe.run(document, {runOnly: {type: 'tag', values: tags},
                                     resultTypes: ['violations']})
            .then(r => r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
                nodes: v.nodes.map(n => n.target.join(' ') + ': ' + n.failureSummary)})))""",
        WCAG_TAGS)
    return result


class Audited:
    """Counts the pages a browser page loads, so that a test cannot leave one unchecked."""

    def __init__(self, page: Any) -> None:
        self.unchecked: list[str] = []
        self.pending: str | None = None
        self.checks = 0
        page.on("load", self._loaded)

    def _loaded(self, page: Any) -> None:
        if self.pending is not None:
            self.unchecked.append(self.pending)
        self.pending = page.url


def audit(page: Any) -> None:
    """Fail on any WCAG 2.2 A/AA violation on the page as it is now."""
    page.wait_for_load_state()
    violations = axe_violations(page)
    state: Audited | None = getattr(page, "_audited", None)
    if state is not None:
        state.pending = None
        state.checks += 1
    assert not violations, f"axe on {page.url}:\n" + "\n".join(
        f"- {v['id']} ({v['impact']}): {v['help']}\n    " + "\n    ".join(v["nodes"])
        for v in violations)


def audited_page(browser: Any, base: str) -> Any:
    context = browser.new_context(base_url=base, viewport={"width": 1280, "height": 800})
    page = context.new_page()
    page._audited = Audited(page)
    return page


def close(page: Any) -> None:
    """Close the page's context, after checking that every page it loaded went through axe."""
    state: Audited = page._audited
    if state.pending is not None:
        audit(page)
    page.context.close()
    assert not state.unchecked, f"pages loaded but never checked by axe: {state.unchecked}"


def shot(page: Any, name: str) -> None:
    """Check the page with axe and save it, at phone and desktop width."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    for width in (375, 1280):
        page.set_viewport_size({"width": width, "height": 800})
        audit(page)
        page.screenshot(path=str(SHOTS / f"{name}-{width}.png"), full_page=True)
    page.set_viewport_size({"width": 1280, "height": 800})
