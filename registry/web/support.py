"""What every web page shares: the signed-in user, role checks, one-time forms, errors."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import wraps
from typing import Any, Generic, TypeVar, cast
from urllib.parse import urlsplit

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import UserMixin, current_user
from flask_wtf import FlaskForm
from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from werkzeug.wrappers import Response
from wtforms import DateField, HiddenField
from wtforms.fields.choices import SelectChoice
from wtforms.widgets import TextInput

from registry import db
from registry.accounts.models import User
from registry.contract import parse
from registry.errors import ValidationError
from registry.i18n import N_
from registry.policy import Permission, holds, open_to_anyone
from registry.web.models import FormSubmission

F = TypeVar("F", bound=Callable[..., Any])
M = TypeVar("M", bound=BaseModel)
T = TypeVar("T")

SESSION_ID = "sid"  # the key, in the signed cookie, of the server-side session's random id


class SignedIn(UserMixin):
    """Flask-Login's view of a :class:`User`; operations get the model itself."""

    def __init__(self, user: User) -> None:
        self.user = user
        self.id = user.id
        self.role = user.role


def actor() -> User:
    """The signed-in user (views are guarded, so there is one)."""
    return cast(SignedIn, current_user).user


def requires(permission: Permission) -> Callable[[F], F]:
    """Declared on every page: the policy's table says who holds ``permission``.

    Anonymous (and the permission not open to anyone): to the login page (302). Signed in
    with a role that does not hold it: 403, before any record is looked up.
    """

    def decorate(view: F) -> F:
        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if open_to_anyone(permission):  # (the user is not even loaded for these)
                return view(*args, **kwargs)
            if not current_user.is_authenticated:
                back = request.full_path.rstrip("?") if request.method == "GET" else None
                return redirect(url_for("auth.login", next=back))
            if not holds(current_user.role, permission):
                abort(403)
            return view(*args, **kwargs)

        wrapper.permission = permission  # type: ignore[attr-defined]
        return cast(F, wrapper)

    return decorate


def safe_next(target: str | None) -> str | None:
    """Only a same-site relative path may be followed after login (no open redirect)."""
    if not target:
        return None
    target = target.strip()
    if "\\" in target or any(ord(c) < 32 for c in target):
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return None
    return target


class OneTimeForm(FlaskForm):
    """A form carrying a one-time token: sending it twice acts once (see FormSubmission)."""

    form_token = HiddenField()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # A new token for a form being shown; a sent form keeps the token it came with (a
        # POST without one is refused by claim_submission).
        shown = kwargs.get("formdata", True) is None or not self.is_submitted()
        if shown and not self.form_token.data:
            self.form_token.data = secrets.token_urlsafe(24)


class TypedDateField(DateField):
    """A date typed as text, the way it is read off a card or a prescription.

    Accepts YYYY-MM-DD and MM/DD/YYYY (a native date picker is slow to fill from a
    document and its format depends on the browser's locale); anything else is a field error.
    """

    widget = TextInput()
    FORMATS = ("%Y-%m-%d", "%m/%d/%Y")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("format", list(self.FORMATS))
        kwargs.setdefault("render_kw", {"placeholder": _l("YYYY-MM-DD or MM/DD/YYYY"),
                                        "autocomplete": "off"})
        super().__init__(*args, **kwargs)

    def process_formdata(self, valuelist: list[Any]) -> None:
        try:
            super().process_formdata(valuelist)
        except ValueError as exc:
            raise ValueError(N_("Type the date as YYYY-MM-DD or MM/DD/YYYY.")) from exc


def claim_submission(session: Session, form: OneTimeForm) -> bool:
    """Record the form's token in this request's transaction; False when already used.

    The caller acts only on True. If the action then fails and the request is rolled back,
    the token is free again, so the user can correct the form and send it.
    """
    token = (form.form_token.data or "").strip()[:64]
    if not token:
        return False
    if session.execute(select(FormSubmission.id).where(FormSubmission.nonce == token)).first():
        return False
    user_id = current_user.id if current_user.is_authenticated else None
    try:
        with session.begin_nested():
            session.add(FormSubmission(nonce=token, user_id=user_id))
    except IntegrityError:
        return False
    return True


def already_sent(target: str) -> Response:
    flash(_("This form was already sent: it was acted on once, not twice."), "info")
    return redirect(target)


# --- the second step of an irreversible or safety act -----------------------------------


def went_back() -> bool:
    """The user chose "Go back" on a confirmation page: show the form again, do nothing."""
    return request.method == "POST" and request.form.get("go_back") == "1"


def confirmed() -> bool:
    """This submit is the confirmed one (the operation may be called now)."""
    return request.method == "POST" and request.form.get("confirmed") == "yes"


def confirm_page(*, heading: str, about: str, effects: Sequence[str], submit: str,
                 facts: Sequence[tuple[str, str]] = ()) -> str:
    """"You are about to ...: this will ..." with Confirm and Go back; nothing is done yet.

    Everything the form sent (its CSRF and one-time tokens included) is carried in hidden
    fields to the same address: the confirmed submit is the form's own submit, so the token
    is claimed once, by the act itself.
    """
    carried = [(name, value) for name, values in request.form.lists()
               if name not in ("confirmed", "go_back") for value in values]
    return render_template("confirm.html", heading=heading, about=about, effects=effects,
                           submit=submit, facts=facts, carried=carried, action=request.path)


def apply_errors(form: FlaskForm, errors: Mapping[str, Sequence[str]],
                 aliases: Mapping[str, str] | None = None) -> None:
    """Show an operation's field errors on the form's fields (keeping what was typed).

    Errors for a field the form does not have go to the form's top-level list, each still
    named by its field.
    """
    db.rollback_request()
    aliases = aliases or {}
    extra: list[str] = []
    for name, messages in errors.items():
        target = aliases.get(name, name.replace(".", "_"))
        field = form._fields.get(target)
        if field is not None:
            field.errors = [*list(field.errors or []), *messages]
        else:
            label = name.replace("_", " ").replace(".", " ")
            extra += [f"{label[:1].upper()}{label[1:]}: {m}" for m in messages]
    form.form_errors = [*list(form.form_errors), *extra]


@dataclass(frozen=True)
class Done(Generic[T]):
    """What the operation returned, once a form was sent, claimed and acted on."""

    value: T


def run_form(form: OneTimeForm, schema: type[M], act: Callable[[Session, M], T], *,
             sent_to: str, extra: Mapping[str, Any] | None = None,
             aliases: Mapping[str, str] | None = None) -> Done[T] | Response | None:
    """The one shape of a form page: validate → claim the one-time token → build the typed
    input → call the operation → map its field errors onto the form.

    Returns ``Done(result)`` when the operation ran; a redirect to ``sent_to`` when the form
    had already been sent (it acted once, not twice); None when the form is to be shown
    (again, with its errors and what was typed).
    The input is built from the form's fields named like the schema's, plus ``extra``.
    """
    if not form.validate_on_submit():
        return None
    session = db.session()
    if not claim_submission(session, form):
        return already_sent(sent_to)
    names = [name for name in schema.model_fields if name in form._fields]
    try:
        data = parse(schema, {**form_data(form, *names), **(extra or {})})
        return Done(act(session, data))
    except ValidationError as exc:
        apply_errors(form, exc.errors, aliases)
        return None


def form_data(form: FlaskForm, *names: str) -> dict[str, Any]:
    """The named fields' values for an operation: dates as dates, empty text as None."""
    out: dict[str, Any] = {}
    for name in names:
        value = form._fields[name].data
        if isinstance(value, str):
            value = value.strip() or None
        out[name] = value
    return out


def choices(pairs: Sequence[tuple[str, str]], optgroup: str | None = None) -> list[SelectChoice]:
    """WTForms choices (tuples are deprecated there)."""
    return [SelectChoice(value, label, optgroup=optgroup) for value, label in pairs]
