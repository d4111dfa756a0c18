"""A real server in a background thread, on its own SQLite file built by the migrations, and
Debian's Chromium driven by Playwright. Screenshots go to test-artifacts/screenshots/."""

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
from tests.conftest import TEST_CONFIG, Clock

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
SHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"


@pytest.fixture(scope="module")
def travel() -> Iterator[Clock]:
    """Time for the whole module (the server thread shares the process, so it moves too)."""
    c = Clock()
    try:
        yield c
    finally:
        c.stop()


@pytest.fixture(scope="module")
def live_app(travel: Clock) -> Iterator[tuple[Flask, str]]:
    travel.to("2026-03-02")
    with tempfile.TemporaryDirectory(prefix="registry-browser-") as tmp:
        url = "sqlite:///" + os.path.join(tmp, "browser.sqlite3")
        app = create_app({**TEST_CONFIG, "WTF_CSRF_ENABLED": True, "DATABASE_URL": url,
                          "TESTING": False})
        with app.app_context():
            command.upgrade(alembic_config(url), "head")
            from registry.cycles.operations import load_question_bank

            with db.unit_of_work() as session:
                load_question_bank(session)
        server = make_server("127.0.0.1", 0, app, threaded=True)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield app, f"http://127.0.0.1:{server.server_port}"
        finally:
            server.shutdown()
            thread.join(timeout=10)
            app.extensions["registry.engine"].dispose()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not os.path.exists(CHROMIUM):
        pytest.fail(f"{CHROMIUM} is missing: apt-get install -y chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()


def shot(page: Any, name: str) -> None:
    """Save the page at phone and desktop width."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    for width in (375, 1280):
        page.set_viewport_size({"width": width, "height": 800})
        page.screenshot(path=str(SHOTS / f"{name}-{width}.png"), full_page=True)
    page.set_viewport_size({"width": 1280, "height": 800})
