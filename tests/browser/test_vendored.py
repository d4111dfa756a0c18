"""The camera's decoder served by the app is exactly the pinned npm package's built file, with
its licence (`make vendor` rebuilds it)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
NODE = ROOT / "tests" / "browser" / "node_modules"


def test_vendored_jsqr_is_the_pinned_package() -> None:
    package = json.loads((NODE / "jsqr" / "package.json").read_text())
    lock = json.loads((ROOT / "tests" / "browser" / "package-lock.json").read_text())
    assert package["version"] == lock["packages"]["node_modules/jsqr"]["version"]
    assert package["license"] == "Apache-2.0"
    vendor = ROOT / "registry" / "static" / "vendor"
    assert (vendor / "jsQR.js").read_bytes() == (NODE / "jsqr" / "dist" / "jsQR.js").read_bytes()
    assert (vendor / "jsQR.LICENSE").read_text() == (NODE / "jsqr" / "LICENSE").read_text()


def test_axe_is_not_shipped_with_the_app() -> None:
    static = ROOT / "registry" / "static"
    assert not [p for p in static.rglob("*") if "axe" in p.name.lower()]
