"""The language a user reads the registry in."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from registry.accounts.models import User
from registry.audit.operations import record
from registry.errors import ValidationError
from registry.i18n import LANGUAGES


def choose_language(session: Session, actor: User, language: object) -> User:
    """Store the user's own choice of language (pages, and later messages, use it).

    The user's row is locked (FOR UPDATE) and read again first: two switches at once run
    one after the other, so the audit trail's "before" is the value the second one replaced.
    """
    if not isinstance(language, str) or language not in LANGUAGES:
        raise ValidationError(language="Choose one of: " + ", ".join(LANGUAGES) + ".")
    session.execute(select(User).where(User.id == actor.id).with_for_update()
                    .execution_options(populate_existing=True)).scalar_one()
    before = actor.language
    if before == language:
        return actor
    actor.language = language
    session.flush()
    record(session, actor, "user:language", "user", actor.id,
           before={"language": before}, after={"language": language})
    return actor
