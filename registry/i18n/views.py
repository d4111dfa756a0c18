"""The language switch shown on every page."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, redirect, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user

from registry import db
from registry.i18n import LANGUAGES, SESSION_KEY
from registry.i18n.operations import choose_language
from registry.policy import Permission
from registry.web.support import actor, requires, safe_next

bp = Blueprint("i18n", __name__)


@bp.post("/language")
@requires(Permission.LANGUAGE_CHOOSE)
def switch() -> Any:
    """Any visitor: kept in the session; a signed-in user's choice is also stored."""
    language = request.form.get("language", "")
    if language not in LANGUAGES:
        abort(400, description=_("Language: choose one of %(languages)s.",
                                 languages=", ".join(LANGUAGES.values())))
    session[SESSION_KEY] = language
    if current_user.is_authenticated:
        choose_language(db.session(), actor(), language)
    return redirect(safe_next(request.form.get("next")) or url_for("auth.home"))
