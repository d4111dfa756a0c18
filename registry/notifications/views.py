"""The in-app messages of every role, reminder preferences, and the mail folder page."""

from __future__ import annotations

import re
from dataclasses import dataclass
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import BooleanField

from registry import db
from registry.notifications.channels import mail_folder
from registry.notifications.operations import (
    listed_messages,
    mark_read,
    set_reminders,
    unread_count,
)
from registry.policy import Permission
from registry.web.support import actor, requires, safe_next

bp = Blueprint("notifications", __name__)

# The home page of each role shows the newest messages (see templates/base.html).
HOME_ENDPOINTS = frozenset({"prescribers.patients", "authorizations.authorize", "me.home",
                            "staff.dashboard"})


class PreferencesForm(FlaskForm):
    reminders = BooleanField(
        "Send me reminders",
        description="Reminders before a window closes, digests and expiring attestations. "
                    "Safety alerts (a pregnancy report, a suspension) are always sent.")


class ReadForm(FlaskForm):
    pass


def inbox_summary() -> dict[str, Any]:
    """For the page header and the home pages: unread count and the newest messages."""
    if not current_user.is_authenticated:
        return {"count": 0, "messages": [], "on_home": False}
    user = actor()
    on_home = request.endpoint in HOME_ENDPOINTS
    session = db.session()
    return {"count": unread_count(session, user),
            "messages": listed_messages(session, user, limit=5) if on_home else [],
            "on_home": on_home, "form": ReadForm()}


@bp.get("/messages")
@requires(Permission.MESSAGES_READ)
def messages() -> Any:
    user = actor()
    return render_template("notifications/messages.html", form=ReadForm(),
                           messages=listed_messages(db.session(), user, limit=200))


@bp.post("/messages/<int:message_id>/read")
@requires(Permission.MESSAGES_READ)
def read_one(message_id: int) -> Any:
    form = ReadForm()
    if form.validate_on_submit():
        mark_read(db.session(), actor(), message_id)
    return redirect(safe_next(request.form.get("back")) or url_for("notifications.messages"))


@bp.post("/messages/read")
@requires(Permission.MESSAGES_READ)
def read_all() -> Any:
    form = ReadForm()
    if form.validate_on_submit():
        count = mark_read(db.session(), actor())
        flash(f"{count} message{'' if count == 1 else 's'} marked read.", "info")
    return redirect(url_for("notifications.messages"))


@bp.route("/preferences", methods=["GET", "POST"])
@requires(Permission.MESSAGES_READ)
def preferences() -> Any:
    user = actor()
    # An unticked box sends nothing: the form's data is what was posted, never the default.
    form = PreferencesForm(formdata=request.form if request.method == "POST" else None,
                           data={"reminders": user.reminders_enabled})
    if form.validate_on_submit():
        set_reminders(db.session(), user, bool(form.reminders.data))
        flash("Reminders are on." if form.reminders.data else
              "Reminders are off. Safety alerts still come.", "success")
        return redirect(url_for("notifications.preferences"))
    return render_template("notifications/preferences.html", form=form)


# --- the mail folder (no SMTP server configured) -------------------------------------------

MAIL_NAME = re.compile(r"^[0-9]{8}T[0-9]{6}-[0-9]{8}\.eml$")


@dataclass
class Letter:
    name: str
    to: str
    subject: str
    date: str
    text: str
    links: list[str]


def _letter(name: str, raw: bytes) -> Letter:
    mail = message_from_bytes(raw, policy=policy.default)
    assert isinstance(mail, EmailMessage)
    part = mail.get_body(("plain",))
    text = str(part.get_content()) if part is not None else ""
    return Letter(name=name, to=str(mail["To"] or ""), subject=str(mail["Subject"] or ""),
                  date=str(mail["Date"] or ""), text=text,
                  links=re.findall(r"https?://\S+", text))


@bp.get("/staff/mail")
@requires(Permission.MAIL_FOLDER_READ)
def mail_list() -> Any:
    folder = mail_folder(current_app)
    names = sorted((p.name for p in folder.glob("*.eml") if MAIL_NAME.match(p.name)),
                   reverse=True)[:200] if folder.is_dir() else []
    letters = [_letter(n, (folder / n).read_bytes()) for n in names]
    return render_template("notifications/mail_list.html", letters=letters, folder=folder,
                           smtp=bool(current_app.config.get("MAIL_SERVER")))


@bp.get("/staff/mail/<name>")
@requires(Permission.MAIL_FOLDER_READ)
def mail_one(name: str) -> Any:
    if not MAIL_NAME.match(name):
        abort(404)
    path = mail_folder(current_app) / name
    if not path.is_file():
        abort(404)
    return render_template("notifications/mail_one.html", letter=_letter(name, path.read_bytes()))
