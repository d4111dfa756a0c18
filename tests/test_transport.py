"""HTTPS hardening: HSTS and ``__Host-`` secure cookies whenever the request is HTTPS (directly
or through a trusted proxy), plain HTTP on localhost unchanged, and ``Cache-Control: no-store``
on every answer that can carry personal data."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from sqlalchemy.orm import Session

from registry import create_app
from tests import factories as f
from tests.harness import TEST_CONFIG

HTTPS = "https://localhost"


def _set_cookies(response: Any) -> list[str]:
    return response.headers.getlist("Set-Cookie")


def _cookie(response: Any, name: str) -> str:
    found = [c for c in _set_cookies(response) if c.split("=", 1)[0] == name]
    assert len(found) == 1, _set_cookies(response)
    return found[0]


def _attributes(cookie: str) -> set[str]:
    return {part.strip().split("=", 1)[0].lower() for part in cookie.split(";")[1:]}


def _sign_in(client: Any, session: Session, **kw: Any) -> Any:
    user = f.staff(session)
    session.commit()  # a savepoint release in the test harness: the request sees the user
    response = client.post("/login", data={"email": user.email, "password": f.PASSWORD}, **kw)
    assert response.status_code == 302, response.get_data(as_text=True)
    return response


@pytest.fixture
def proxied_app(app: Flask) -> Any:
    """The test app's database transaction, seen by an app that trusts one proxy."""
    proxied = create_app({**TEST_CONFIG, "DATABASE_URL": app.config["SQLALCHEMY_URL"],
                          "TRUSTED_PROXIES": 1})
    engine = proxied.extensions["registry.engine"]
    proxied.extensions["registry.sessionmaker"] = app.extensions["registry.sessionmaker"]
    yield proxied
    engine.dispose()


def test_https_answers_carry_hsts(client: Any) -> None:
    response = client.get("/login", base_url=HTTPS)
    assert response.status_code == 200
    hsts = response.headers.get("Strict-Transport-Security", "")
    assert "max-age=" in hsts
    assert int(hsts.split("max-age=")[1].split(";")[0]) >= 31536000
    assert "includeSubDomains" in hsts
    api = client.get("/api/v1/openapi.json", base_url=HTTPS)
    assert "max-age=" in api.headers.get("Strict-Transport-Security", "")


def test_plain_http_answers_carry_no_hsts(client: Any) -> None:
    # A browser ignores HSTS over HTTP; sending it on localhost would only confuse.
    assert "Strict-Transport-Security" not in client.get("/login").headers


def test_https_sign_in_sets_a_host_prefixed_secure_cookie_that_is_read_back(
    client: Any, session: Session
) -> None:
    response = _sign_in(client, session, base_url=HTTPS)
    cookie = _cookie(response, "__Host-session")
    attributes = _attributes(cookie)
    assert {"secure", "httponly", "path", "samesite"} <= attributes
    assert "domain" not in attributes
    assert "Path=/;" in cookie + ";"
    assert not [c for c in _set_cookies(response) if c.startswith("session=")]
    # The prefixed cookie is the one read on the next HTTPS request: the page is signed in.
    page = client.get("/staff/", base_url=HTTPS)
    assert page.status_code == 200, page.status_code


def test_plain_http_sign_in_keeps_working_for_make_run(client: Any, session: Session) -> None:
    response = _sign_in(client, session)
    cookie = _cookie(response, "session")
    assert "secure" not in _attributes(cookie)
    assert client.get("/staff/").status_code == 200


def test_https_through_a_trusted_proxy_counts_as_https(proxied_app: Flask,
                                                        session: Session) -> None:
    client = proxied_app.test_client()
    forwarded = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.9"}
    response = _sign_in(client, session, headers=forwarded)
    assert "max-age=" in response.headers.get("Strict-Transport-Security", "")
    cookie = _cookie(response, "__Host-session")
    assert "secure" in _attributes(cookie)
    # The test client keeps a Secure cookie for https URLs only; the proxy talks plain HTTP to
    # the app, so send the cookie back as the browser would, through the proxy.
    client.set_cookie("__Host-session", cookie.split(";")[0].split("=", 1)[1])
    assert client.get("/staff/", headers=forwarded).status_code == 200


def test_a_forwarded_proto_from_an_untrusted_client_is_ignored(client: Any) -> None:
    response = client.get("/login", headers={"X-Forwarded-Proto": "https"})
    assert "Strict-Transport-Security" not in response.headers


def test_the_signed_in_session_is_not_read_from_the_unprefixed_cookie_over_https(
    client: Any, session: Session
) -> None:
    """A cookie set over plain HTTP (which a network attacker can plant) does not sign anyone
    in over HTTPS."""
    response = _sign_in(client, session)
    value = _cookie(response, "session").split(";")[0].split("=", 1)[1]
    https_client = client.application.test_client()
    https_client.set_cookie("session", value, domain="localhost")
    assert https_client.get("/staff/", base_url=HTTPS).status_code == 302


def test_no_store_on_pages_api_answers_and_tokens(client: Any, session: Session) -> None:
    user = f.staff(session)
    session.commit()
    token = client.post("/api/v1/tokens", json={"email": user.email, "password": f.PASSWORD})
    assert token.status_code == 201
    assert "no-store" in token.headers.get("Cache-Control", "")
    problem = client.get("/api/v1/patients/0000000000")
    assert problem.status_code == 401
    assert "no-store" in problem.headers.get("Cache-Control", "")
    assert "no-store" in client.get("/login").headers.get("Cache-Control", "")
    _sign_in(client, session)
    page = client.get("/staff/")
    assert page.status_code == 200
    assert "no-store" in page.headers.get("Cache-Control", "")


def test_static_files_stay_cacheable(client: Any) -> None:
    response = client.get("/static/registry.css")
    assert response.status_code == 200
    assert "no-store" not in response.headers.get("Cache-Control", "")
    response.close()



def test_every_cookie_set_over_https_is_secure_and_host_prefixed(
    client: Any, session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Flask-Login clears its remember cookie when a page with a form (a CSRF token in the
    session) is seen anonymously, and at logout; any cookie the app sets over HTTPS is Secure
    and __Host- named, whoever sets it."""
    seen = []
    with monkeypatch.context() as patch:
        patch.setitem(client.application.config, "WTF_CSRF_ENABLED", True)
        seen += _set_cookies(client.get("/login", base_url=HTTPS))
        assert any("remember" in c for c in seen), seen
    seen += _set_cookies(_sign_in(client, session, base_url=HTTPS))
    seen += _set_cookies(client.post("/logout", base_url=HTTPS))
    assert seen
    for cookie in seen:
        assert cookie.startswith("__Host-"), cookie
        assert "secure" in _attributes(cookie), cookie
        assert "domain" not in _attributes(cookie), cookie


def test_the_api_neither_reads_nor_writes_the_session_cookie(client: Any, session: Session) -> None:
    """A signed-in browser's cookie rides along on its calls to the API: the API has no
    session (its caller is the bearer token), so the cookie is not opened, and nothing is
    written back; pages and the API's own docs page keep theirs."""
    _sign_in(client, session)
    from flask import request_finished
    from flask import session as flask_session

    seen: list[tuple[str, dict[str, Any]]] = []

    def look(sender: Any, response: Any, **extra: Any) -> None:  # as the view saw it
        seen.append((type(flask_session._get_current_object()).__name__, dict(flask_session)))

    with request_finished.connected_to(look, client.application):
        answer = client.get("/api/v1/reports/summary")  # no token: 401, with the cookie
        assert answer.status_code == 401
        assert _set_cookies(answer) == []
        assert seen.pop() == ("NullSession", {})
        assert client.get("/staff/").status_code == 200
        kind, contents = seen.pop()
        assert kind != "NullSession"
        assert "_user_id" in contents
        assert client.get("/api/docs").status_code == 200
        assert seen.pop()[0] != "NullSession"
