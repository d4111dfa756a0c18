"""What every answer says about transport and caching.

- HTTPS (directly, or through a proxy trusted with ``TRUSTED_PROXIES``): the answer carries
  ``Strict-Transport-Security`` and the session cookie is ``Secure`` and named with the
  ``__Host-`` prefix (so that it has ``Path=/`` and no ``Domain``, and a cookie planted over
  plain HTTP or by a sibling domain is never read). Plain HTTP (``make run`` on localhost)
  keeps the plain ``session`` cookie. Any other cookie set over HTTPS is made Secure too.
- Every answer but the static files is ``Cache-Control: no-store``: API answers carry tokens
  and patient data, and every page is either signed in or a form.
"""

from __future__ import annotations

from flask import Flask, Request, Response, has_request_context, request
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface

HOST_PREFIX = "__Host-"
API_PREFIX = "/api/v1/"  # registry.api.blueprint


def request_is_https() -> bool:
    return has_request_context() and request.is_secure


class RegistrySessionInterface(SecureCookieSessionInterface):
    """Flask's signed cookie session, named and flagged per request by its scheme.

    The JSON API (``/api/v1/``) has no session: a caller is its bearer token, and its
    answers are in English whatever a cookie says. Its requests get Flask's null session,
    so a cookie that comes along is neither verified nor written back (about 0.04 ms of
    CPU per request, at the counter's rate)."""

    def open_session(self, app: Flask, request: Request) -> SecureCookieSession | None:
        if request.path.startswith(API_PREFIX):
            return None  # Flask makes the null session
        return super().open_session(app, request)

    def get_cookie_name(self, app: Flask) -> str:
        name = super().get_cookie_name(app)
        if request_is_https() and not name.startswith(HOST_PREFIX):
            return HOST_PREFIX + name
        return name

    def get_cookie_secure(self, app: Flask) -> bool:
        return request_is_https() or super().get_cookie_secure(app)

    def get_cookie_domain(self, app: Flask) -> str | None:
        if request_is_https():
            return None  # a __Host- cookie must not name a domain
        return super().get_cookie_domain(app)

    def get_cookie_path(self, app: Flask) -> str:
        if request_is_https():
            return "/"  # and must be for the whole site
        return super().get_cookie_path(app)


def _secure_cookies(response: Response) -> None:
    """Over HTTPS every cookie is Secure, whoever set it (Flask-Login clears its remember
    cookie on its own, for example)."""
    cookies = response.headers.getlist("Set-Cookie")
    if not cookies or all(_is_secure(c) for c in cookies):
        return
    response.headers.remove("Set-Cookie")
    for cookie in cookies:
        response.headers.add("Set-Cookie", cookie if _is_secure(cookie) else cookie + "; Secure")


def _is_secure(cookie: str) -> bool:
    return any(part.strip().lower() == "secure" for part in cookie.split(";")[1:])


def _transport_headers(response: Response) -> Response:
    from flask import current_app

    if request.is_secure:
        if current_app.config.get("HSTS"):
            response.headers.setdefault("Strict-Transport-Security", current_app.config["HSTS"])
        _secure_cookies(response)
    if request.endpoint != "static" and "Cache-Control" not in response.headers:
        response.headers["Cache-Control"] = "no-store"
    return response


def init_app(app: Flask) -> None:
    app.session_interface = RegistrySessionInterface()
    # Remember-me is not offered, but Flask-Login still clears its cookie now and then. Named
    # __Host- (Path=/, no Domain: Flask-Login's defaults), it can only ever exist over HTTPS.
    app.config.setdefault("REMEMBER_COOKIE_NAME", HOST_PREFIX + "remember_token")
    app.after_request(_transport_headers)
