"""The language switch shown on every page."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, redirect, request, session, url_for
from flask_login import current_user

from registry import db
from registry.errors import ValidationError
from registry.i18n import LANGUAGES, SESSION_KEY
from registry.i18n.operations import choose_language
from registry.web.support import actor, safe_next

bp = Blueprint("i18n", __name__)


@bp.post("/language")
def switch() -> Any:
    language = request.form.get("language", "")
    if language not in LANGUAGES:
        abort(400)
    session[SESSION_KEY] = language
    if current_user.is_authenticated:
        try:
            choose_language(db.session(), actor(), language)
        except ValidationError:  # pragma: no cover - checked above
            abort(400)
    return redirect(safe_next(request.form.get("next")) or url_for("auth.home"))
