"""Signing up without telling anyone whether an address is registered.

Enrollment (prescribers), pharmacy registration (its RSP), designee creation and the web
sign-up pages answer the same, status and body, whether the address is new or not: a new
address gets an account waiting for confirmation and a link to confirm it; the owner of a
known address gets a message saying someone tried, instead. Both cost one password hash.
(For a patient's address not yet activated there is no account to write to: nothing is
sent, and the answer is still the same.)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from sqlalchemy.orm import Session

from registry import clock
from registry.accounts.models import User
from registry.accounts.operations import AddressInUse, address_owner
from registry.audit.operations import record
from registry.notifications.models import Category
from registry.notifications.operations import enqueue_mail, public_url
from registry.security import hash_secret

T = TypeVar("T")

SIGNUP_ANSWER = {
    "status": "confirmation_sent",
    "detail": "If this address can be used, we sent a message to it. Follow its link to "
              "confirm the address, then sign in.",
}
INVITATION_ANSWER = {
    "status": "invitation_sent",
    "detail": "We sent a message to this address. The designee follows its link to confirm "
              "it, then signs in.",
}

ATTEMPTS = {
    "enroll": "enroll as a prescriber",
    "register_pharmacy": "register a pharmacy with you as its Responsible Site Pharmacist",
    "designee": "add you as a designee",
    "pharmacist": "add you as a pharmacist",
}


def sign_up(session: Session, run: Callable[[], T], *,
            what: str, password: object, actor: User | None = None) -> T | None:
    """Run the operation creating the account (``run``) in a savepoint and return its result
    (the new account got its confirmation link from ``new_user``). For an address in use
    nothing ``run`` wrote stays, the owner is told, and None is returned. The caller gives
    the same answer in both cases."""
    try:
        with session.begin_nested():
            result = run()
    except AddressInUse as taken:
        hash_secret(password if isinstance(password, str) else "")  # as long as a new one
        tell_owner(session, taken.email, what=what, actor=actor)
        return None
    return result


def tell_owner(session: Session, email: str, *, what: str, actor: User | None) -> None:
    """The owner of ``email`` hears that someone tried to use it (once a day per kind)."""
    owner = address_owner(session, email)
    if owner is None:
        return
    record(session, actor, "user:address_in_use", "user", owner.id, after={"attempt": what})
    enqueue_mail(
        session, owner, "address_in_use", kind=f"account:address_in_use:{what}",
        event_key=clock.today().isoformat(), category=Category.ACCOUNT, actor=actor,
        reason="Someone used your email address on a registry form.",
        link=public_url("/forgot-password"),
        context={"attempt": ATTEMPTS.get(what, what), "actor": actor, "owner": owner})
