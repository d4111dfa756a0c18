"""Users: creating accounts (with their profile in the feature that owns it)."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from registry.accounts.models import Role, User
from registry.audit.operations import record, snapshot
from registry.errors import Errors, PermissionDenied
from registry.security import hash_secret, password_problems
from registry.validation import email_value, text_value


def email_taken(session: Session, email: str) -> bool:
    return session.execute(
        select(User.id).where(func.lower(User.email) == email.lower())
    ).first() is not None


def validate_new_user(
    session: Session, errors: Errors, *, email: object, password: object,
    first_name: object, last_name: object, prefix: str = "",
) -> tuple[str | None, str | None, str | None, str | None]:
    """Check the four fields every account has; ``prefix`` names nested fields (``rsp.``)."""
    mail = email_value(errors, prefix + "email", email)
    if mail and email_taken(session, mail):
        errors.add(prefix + "email", "An account with this email already exists.")
    pw = password if isinstance(password, str) else None
    if not pw:
        errors.add(prefix + "password", "This field is required.")
    else:
        for problem in password_problems(pw):
            errors.add(prefix + "password", problem)
    first = text_value(errors, prefix + "first_name", first_name, max_length=100)
    last = text_value(errors, prefix + "last_name", last_name, max_length=100)
    return mail, pw, first, last


def new_user(session: Session, *, email: str, password: str, role: Role,
             first_name: str, last_name: str) -> User:
    user = User(
        email=email, password_hash=hash_secret(password), role=role.value,
        first_name=first_name, last_name=last_name, failed_logins=0,
    )
    session.add(user)
    session.flush()
    return user


def create_staff(
    session: Session, actor: User | None, *, email: object, password: object,
    first_name: object = "Program", last_name: object = "Staff",
) -> User:
    """Program staff are created on the command line (actor None) or by other staff."""
    if actor is not None and actor.role != Role.STAFF:
        raise PermissionDenied("Only program staff can create program staff.")
    errors = Errors()
    mail, pw, first, last = validate_new_user(
        session, errors, email=email, password=password, first_name=first_name,
        last_name=last_name,
    )
    errors.raise_if_any()
    assert mail and pw and first and last
    user = new_user(session, email=mail, password=pw, role=Role.STAFF,
                    first_name=first, last_name=last)
    record(session, actor, "staff:create", "user", user.id, after=snapshot(user))
    return user
