"""The browser pages: sign-in, template filters, error pages, and every feature's views."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from flask import Flask, g, render_template, request
from flask_babel import lazy_gettext as _l
from flask_login import LoginManager
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from registry import clock, db
from registry.accounts.models import User
from registry.errors import NotFound, PermissionDenied, RegistryError
from registry.i18n import N_, current_language, text
from registry.rules import fmt
from registry.web.support import SESSION_ID, SignedIn

login_manager = LoginManager()
login_manager.login_view = "auth.login"
login_manager.login_message = N_("Please sign in to see this page.")
login_manager.localize_callback = text
login_manager.login_message_category = "info"
login_manager.session_protection = "strong"


@login_manager.user_loader
def _load_user(user_id: str) -> SignedIn | None:
    """The signed-in user, only while their server-side session is live (not ended by
    logout, not idle, not too old): a copied cookie is worth nothing after that."""
    from flask import session as cookie

    from registry.accounts.operations import session_in_use

    try:
        uid = int(user_id)
    except ValueError:
        return None
    s = db.session()
    if session_in_use(s, uid, cookie.get(SESSION_ID)) is None:
        return None
    user = s.get(User, uid)
    return SignedIn(user) if user is not None else None


def date_filter(value: Any) -> str:
    """"Tue 3 Mar 2026": windows are counted in days, so the weekday is shown."""
    if value is None or value == "":
        return ""
    if isinstance(value, str):
        try:
            value = date.fromisoformat(value[:10])
        except ValueError:
            return value
    if isinstance(value, datetime):
        value = value.astimezone(clock.program_timezone()).date()
    return fmt(value, current_language())


def datetime_filter(value: datetime | None) -> str:
    if value is None:
        return ""
    local = value.astimezone(clock.program_timezone())
    return f"{fmt(local.date(), current_language())} {local:%H:%M}"


def words_filter(value: Any) -> str:
    """A code such as ``can_get_pregnant`` as words: "can get pregnant"."""
    return str(value or "").replace("_", " ")


WHO = {
    "prescriber": _l("the prescriber"),
    "patient": _l("the patient"),
    "pharmacy": _l("the pharmacy"),
    "program_staff": _l("program staff"),
}

YOUR = {
    "prescriber": _l("your prescriber"),
    "patient": _l("you"),
    "pharmacy": _l("your pharmacy"),
    "program_staff": _l("program staff"),
}


def who_filter(value: Any) -> str:
    return str(WHO.get(str(value), words_filter(value)))


def your_filter(value: Any) -> str:
    """Who acts next, as the patient reads it: "your prescriber"."""
    return str(YOUR.get(str(value), words_filter(value)))


FRIENDLY = {
    403: (_l("Not allowed"), _l("Your account cannot open this page.")),
    404: (_l("Not found"), _l("There is no such page, or it is not yours to see.")),
    405: (_l("Not found"), _l("There is no such page.")),
    429: (_l("Too many tries"), _l("Wait a minute, then try again.")),
    500: (_l("Something went wrong"), _l("Nothing was saved. Please try again; if it happens "
          "again, contact program staff.")),
    503: (_l("Try again in a moment"), _l("The registry cannot reach its database just now. "
          "Nothing was saved. Please try again in a few seconds.")),
}


def web_error_page(exc: HTTPException) -> Any:
    code = exc.code or 500
    if code >= 500:
        db.rollback_request()
    if code == 503:
        # The page's menu would load the signed-in user from the database that just failed.
        g._login_user = login_manager.anonymous_user()
    name, description = FRIENDLY.get(code, (exc.name, exc.description))
    if isinstance(exc, CSRFError):
        name, description = (_l("This form has expired"),
                             _l("The page was open too long or was sent from elsewhere. Go "
                                "back, reload the page and send the form again."))
    headers = [(k, v) for k, v in exc.get_headers() if k.lower() != "content-type"]
    return render_template("error.html", code=code, name=name, description=description), code, (
        headers)


def _registry_error_page(exc: RegistryError) -> Any:
    """PermissionDenied and NotFound raised by an operation in a page become 403 and 404."""
    db.rollback_request()
    names = {403: _l("Not allowed"), 404: _l("Not found")}
    code = 403 if isinstance(exc, PermissionDenied) else 404 if isinstance(exc, NotFound) else (
        exc.status)
    return render_template("error.html", code=code, name=names.get(code, _l("Cannot do this")),
                           description=exc.message), code


def init_app(app: Flask) -> None:
    if app.config.get("PREFERRED_URL_SCHEME") == "https" or app.config.get("SECURE_COOKIES"):
        app.config["SESSION_COOKIE_SECURE"] = True
        app.config["REMEMBER_COOKIE_SECURE"] = True
    app.config.setdefault("REMEMBER_COOKIE_HTTPONLY", True)
    app.config.setdefault("REMEMBER_COOKIE_SAMESITE", "Lax")
    login_manager.init_app(app)

    app.jinja_env.filters["day"] = date_filter
    app.jinja_env.filters["when"] = datetime_filter
    app.jinja_env.filters["words"] = words_filter
    app.jinja_env.filters["who"] = who_filter
    app.jinja_env.filters["your"] = your_filter
    app.jinja_env.globals["today"] = clock.today
    from registry.web.timeline import about_the_patient, reason_when, step_when

    app.jinja_env.globals["about_the_patient"] = about_the_patient

    app.jinja_env.globals["step_when"] = step_when
    app.jinja_env.globals["reason_when"] = reason_when
    app.jinja_env.filters["capitalize_first"] = lambda v: str(v)[:1].upper() + str(v)[1:]
    app.extensions["registry.web_error_handler"] = web_error_page

    from registry.accounts import views as account_views
    from registry.authorizations import views as authorization_views
    from registry.compliance import views as compliance_views
    from registry.cycles import views as cycle_views
    from registry.i18n import views as language_views
    from registry.interop.cds import views as cds_views
    from registry.interop.ehr import views as ehr_views
    from registry.notifications import views as notification_views
    from registry.patients import views as patient_views
    from registry.pharmacies import views as pharmacy_views
    from registry.pregnancies import views as pregnancy_views
    from registry.prescribers import views as prescriber_views
    from registry.staff import views as staff_views
    from registry.web import auth

    app.jinja_env.globals["may_register"] = prescriber_views.may_register
    app.jinja_env.globals["inbox_summary"] = notification_views.inbox_summary
    blueprints = [auth.bp, prescriber_views.bp, patient_views.bp, patient_views.me,
                  cycle_views.bp, pregnancy_views.bp, authorization_views.bp,
                  pharmacy_views.bp, pharmacy_views.systems_bp, compliance_views.bp,
                  staff_views.bp, account_views.bp, notification_views.bp, language_views.bp,
                  ehr_views.bp, cds_views.bp]
    for bp in blueprints:
        if RegistryError not in bp.error_handler_spec[None][None]:
            bp.register_error_handler(RegistryError, _registry_error_page)
        app.register_blueprint(bp)
    from registry.extensions import csrf

    csrf.exempt(cds_views.bp)  # machine-to-machine: a signed JWT, no cookie
    app.extensions.setdefault("registry.error_handlers_by_prefix", {})["/cds-services"] = (
        cds_views.door_error)

    @app.before_request
    def _user_from_this_request() -> None:
        # Each request reads its user from its own cookie, even when an application context
        # outlives one request (as in tests and CLI-driven calls).
        g.pop("_login_user", None)

    @app.after_request
    def _security_headers(response: Any) -> Any:
        if not request.path.startswith("/api/"):
            response.headers.setdefault(
                "Content-Security-Policy",
                "default-src 'self'; img-src 'self' data:; style-src 'self'; "
                "script-src 'self'; frame-ancestors 'none'; form-action 'self'",
            )
            response.headers.setdefault("X-Content-Type-Options", "nosniff")
            response.headers.setdefault("Referrer-Policy", "same-origin")
        return response

