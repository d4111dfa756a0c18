"""The axe harness itself: it runs under the app's CSP, and it can fail."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import Error

from tests.browser.conftest import audited_page, axe_source, axe_violations, close

pytestmark = pytest.mark.browser


def test_axe_runs_with_the_csp_on_and_a_script_tag_would_not(live_app: Any, browser: Any
                                                             ) -> None:
    _, base = live_app
    page = audited_page(browser, base)
    response = page.goto("/login")
    assert "script-src 'self'" in response.headers["content-security-policy"]
    # A <script> added to the page is inline script: the CSP refuses it, so axe is not there.
    with pytest.raises(Error, match=r"violates the following Content Security Policy "
                                    r"directive 'script-src 'self''"):
        page.add_script_tag(content=axe_source())
    assert page.evaluate("() => typeof window.axe") == "undefined"
    # Evaluated through the DevTools protocol, outside the page's CSP: axe runs.
    assert axe_violations(page) == []
    assert page.evaluate("() => axe.version").startswith("4.")
    close(page)


def test_axe_finds_a_planted_violation(live_app: Any, browser: Any) -> None:
    _, base = live_app
    page = audited_page(browser, base)
    page.goto("/login")
    page.evaluate("""() => { const i = document.createElement('input');
                            document.querySelector('main').appendChild(i); }""")
    found = {v["id"] for v in axe_violations(page)}
    assert "label" in found
    page.context.close()


def test_a_page_loaded_but_never_checked_fails_the_test(live_app: Any, browser: Any) -> None:
    _, base = live_app
    page = audited_page(browser, base)
    page.goto("/login")
    page.goto("/activate")  # /login was never checked
    with pytest.raises(AssertionError, match="never checked by axe"):
        close(page)
