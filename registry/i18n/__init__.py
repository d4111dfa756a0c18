"""Spanish and English: which language a page is in, and the words the rules hand over.

A page's language is the user's own choice, else the browser's Accept-Language, else
English. The choice is made with the switch on every page and kept in the session cookie;
a signed-in user's choice is also stored (``users.language``) and put back in the session
at every sign-in. The API stays in English.

The rules produce English sentences (next steps, contraception method names, field errors);
they are looked up in the catalog when shown (:func:`text`), so the rules stay pure and the
catalog holds them (see :mod:`registry.i18n.extract`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Flask, has_app_context, has_request_context, request, session
from flask_babel import Babel, get_locale, gettext, refresh

LANGUAGES: dict[str, str] = {"en": "English", "es": "Español"}
DEFAULT_LANGUAGE = "en"
SESSION_KEY = "language"
TRANSLATIONS = Path(__file__).resolve().parent.parent.parent / "translations"

babel = Babel()


def chosen_language() -> str | None:
    """The language chosen with the switch, or stored on the user and put in the session
    at sign-in. Read from the session only: choosing a page's language never loads the
    signed-in user (Flask-Login's session protection runs where it always did)."""
    picked = session.get(SESSION_KEY)
    return picked if picked in LANGUAGES else None


def select_language() -> str:
    if not has_request_context() or request.path.startswith("/api/"):
        return DEFAULT_LANGUAGE
    return chosen_language() or request.accept_languages.best_match(
        list(LANGUAGES), default=DEFAULT_LANGUAGE)


def current_language() -> str:
    """The language being written in: the page's, or the one set by ``force_locale``."""
    locale = get_locale() if has_app_context() else None
    return locale.language if locale is not None and locale.language in LANGUAGES else (
        DEFAULT_LANGUAGE)


def language_of(user: Any) -> str:
    """The language to write to a user in outside their request (emails, reminders):
    ``with flask_babel.force_locale(language_of(user)): ...``."""
    language = getattr(user, "language", None)
    return language if language in LANGUAGES else DEFAULT_LANGUAGE


def N_(message: str) -> str:
    """Marks an English sentence for the catalog where it is written; it is translated
    where it is shown (``text``, the ``|tr`` filter)."""
    return message


def text(message: Any) -> str:
    """An English sentence from the rules or an operation, in the page's language (itself
    when the catalog has no translation). It is a finished sentence, never %-formatted
    itself; one built with a number in it ("Use at least 12 characters.") is translated
    through the message it was built from (:data:`registry.i18n.words.BUILT_MESSAGES`)."""
    if not message:
        return ""
    english = str(message)
    translated = gettext(english)
    if translated != english or current_language() == DEFAULT_LANGUAGE:
        return translated
    from registry.i18n.words import built_message_patterns

    for pattern, built in built_message_patterns():
        found = pattern.fullmatch(english)
        if found:
            return gettext(built, **found.groupdict())
    return english


def init_app(app: Flask) -> None:
    app.config.setdefault("BABEL_DEFAULT_LOCALE", DEFAULT_LANGUAGE)
    app.config.setdefault("BABEL_TRANSLATION_DIRECTORIES", str(TRANSLATIONS))
    babel.init_app(app, locale_selector=select_language)
    # Flask-Babel keeps the language on ``g``: each request chooses again, even when an
    # application context outlives one request (tests, CLI-driven calls).
    app.before_request(refresh)
    app.jinja_env.filters["tr"] = text
    app.jinja_env.globals["current_language"] = current_language
    app.jinja_env.globals["LANGUAGES"] = LANGUAGES
