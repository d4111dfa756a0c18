"""Safety alerts, queued at once in the transaction of what causes them, and the one way
reminders and alerts reach the outbox (:func:`send`).

An operation calls one function here (a pregnancy report, a cancelled RMA, a suspension);
the message exists exactly when the change is committed, and nobody can turn it off.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import current_app
from sqlalchemy import select
from sqlalchemy.orm import Session

from registry.accounts.models import Role, User
from registry.authorizations.models import Authorization
from registry.notifications.models import Category, Notification
from registry.notifications.operations import enqueue_mail
from registry.notifications.reminders import (
    PREGNANCY_REPORTED,
    RMA_CANCELLED,
    SUSPENDED,
    Link,
    Notice,
)
from registry.patients.models import Patient
from registry.pharmacies.models import Pharmacist, Pharmacy


def page_url(link: Link) -> str:
    """``url_for(..., _external=True)`` for a message: against PUBLIC_URL, since a worker has
    no request to take the host from (and a link must not depend on who caused it)."""
    public = urlsplit(str(current_app.config["PUBLIC_URL"]))
    adapter = current_app.url_map.bind(public.netloc, script_name=public.path or "/",
                                       url_scheme=public.scheme or "http")
    return adapter.build(link.endpoint, link.values, force_external=True)


def send(session: Session, recipient: User, notice: Notice,
         actor: User | None = None) -> Notification | None:
    """Queue ``notice`` for ``recipient`` once (None: already queued for this event, or a
    reminder the recipient turned off). Every message says why it was sent and links to the
    page (templates/mail/_layout.txt)."""
    return enqueue_mail(
        session, recipient, notice.template, kind=notice.kind, event_key=notice.event_key,
        reason=notice.reason, context=notice.context, link=page_url(notice.link),
        category=Category.ALERT if notice.safety else Category.REMINDER,
        safety=notice.safety, actor=actor,
        lang=getattr(recipient, "language", None) or "en",  # the user's choice, once stored
    )


def staff_users(session: Session) -> list[User]:
    return list(session.execute(
        select(User).where(User.role == Role.STAFF).order_by(User.id)).scalars())


def pharmacy_recipients(session: Session, pharmacy_id: int,
                        also: int | None = None) -> list[User]:
    """The pharmacy's Responsible Site Pharmacists and pharmacist ``also``, if still there."""
    rows = session.execute(
        select(Pharmacist).where(
            Pharmacist.pharmacy_id == pharmacy_id,
            Pharmacist.removed_on.is_(None),
            Pharmacist.is_rsp.is_(True) | (Pharmacist.id == (also if also is not None else -1)),
        ).order_by(Pharmacist.id)
    ).scalars().all()
    return [p.user for p in rows]


def pregnancy_reported(session: Session, actor: User | None, patient: Patient,
                       report_id: int, *, positive_test: bool) -> int:
    """Rules §8: the prescriber of record and program staff learn of it at once."""
    context = {"positive_test": positive_test, "registry_id": patient.registry_id,
               "patient_name": patient.full_name, "report_id": report_id}
    notice = Notice(
        PREGNANCY_REPORTED, f"pregnancy-report:{report_id}", "alert_pregnancy_reported",
        {**context, "to_staff": False},
        "You are this patient's prescriber of record; pregnancy reports are safety alerts "
        "and cannot be turned off.",
        Link("patients.detail", {"registry_id": patient.registry_id}), safety=True,
    )
    sent = int(send(session, patient.prescriber.user, notice, actor) is not None)
    staff_notice = Notice(
        PREGNANCY_REPORTED, f"pregnancy-report:{report_id}", "alert_pregnancy_reported",
        {**context, "to_staff": True},
        "Program staff follow up every pregnancy report; this is a safety alert.",
        Link("pregnancies.case", {"report_id": report_id}), safety=True,
    )
    for user in staff_users(session):
        sent += send(session, user, staff_notice, actor) is not None
    return sent


def rma_cancelled(session: Session, actor: User | None, auth: Authorization, why: str) -> int:
    """The issuing pharmacy learns at once that an RMA it holds must not be dispensed."""
    notice = Notice(
        RMA_CANCELLED, f"rma-cancelled:{auth.id}", "alert_rma_cancelled",
        {"rma": auth.rma, "last_day": auth.do_not_dispense_after, "why": why},
        "Your pharmacy issued this RMA; a cancelled RMA is a safety alert.",
        Link("authorizations.detail", {"rma": auth.rma}), safety=True,
    )
    return sum(send(session, user, notice, actor) is not None
               for user in pharmacy_recipients(session, auth.pharmacy_id, auth.pharmacist_id))


def stakeholder_suspended(session: Session, actor: User | None, subject_type: str,
                          subject: object, action: str, action_id: int, reason: str) -> int:
    """Rules §9: a suspension or deactivation takes effect at once; the person learns at once
    (a pharmacy's Responsible Site Pharmacists for a pharmacy)."""
    if isinstance(subject, Pharmacy):
        users = pharmacy_recipients(session, subject.id)
        pharmacy = subject.name
    else:
        user = getattr(subject, "user", None)
        users = [user] if isinstance(user, User) else []
        pharmacy = None
    notice = Notice(
        SUSPENDED, f"{action}:{action_id}", "alert_suspended",
        {"pharmacy": pharmacy, "action": action, "grounds": reason,
         "until": getattr(subject, "suspended_until", None) if action == "suspension" else None},
        f"Program staff recorded a {action} against this {subject_type}; this is a safety "
        "alert and cannot be turned off.",
        Link("auth.home"), safety=True,
    )
    return sum(send(session, user, notice, actor) is not None for user in users)
