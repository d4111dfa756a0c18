"""Read-only lookups for program staff."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, literal_column, or_, select
from sqlalchemy.orm import Session, joinedload

from registry.accounts.models import User
from registry.patients.models import Patient
from registry.pharmacies.models import Pharmacist, Pharmacy
from registry.prescribers.models import Designee, Prescriber
from registry.rules import fmt
from registry.rules.identifiers import npi_is_valid, registry_id_is_valid


@dataclass(frozen=True)
class Hit:
    kind: str  # prescriber, designee, pharmacy, pharmacist, patient
    id: int
    name: str
    detail: str
    registry_id: str | None = None
    key: str = ""  # the number staff use for them: NPI, NCPDP, licence, email, registry ID


def _like(text: str) -> str:
    """``%text%`` for LIKE, with LIKE's own wildcards in ``text`` taken literally."""
    escaped = text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _full_name(first: Any, last: Any) -> Any:
    """The expression the trigram indexes on names are built on (registry.db.FULL_NAME)."""
    return func.lower(first + literal_column("' '") + last)


def _prescriber_hit(p: Prescriber) -> Hit:
    return Hit("prescriber", p.id, p.name, f"NPI {p.npi} · {p.user.email}", key=p.npi)


def _designee_hit(d: Designee) -> Hit:
    return Hit("designee", d.id, d.name, d.user.email, key=d.user.email)


def _pharmacy_hit(ph: Pharmacy) -> Hit:
    return Hit("pharmacy", ph.id, ph.name, f"NCPDP {ph.ncpdp_id} · NPI {ph.npi}",
               key=ph.ncpdp_id)


def _pharmacist_hit(rph: Pharmacist) -> Hit:
    return Hit("pharmacist", rph.id, rph.name,
               f"{rph.pharmacy.name} · licence {rph.license_number}", key=rph.license_number)


def _patient_hit(pt: Patient) -> Hit:
    return Hit("patient", pt.id, pt.full_name,
               f"registry ID {pt.registry_id} · {pt.status.replace('_', ' ')}",
               pt.registry_id, key=pt.registry_id)


def search(session: Session, text: str, limit: int = 25) -> list[Hit]:
    """Any stakeholder by name, email, NPI, NCPDP ID, licence or registry ID.

    A whole registry ID, NPI, NCPDP number or email address is looked up by its unique
    index first; names and parts of numbers or addresses are matched anywhere (trigram
    indexes on PostgreSQL), so the answer stays quick at a million patients.
    """
    q = text.strip()
    if not q:
        return []
    return _identified(session, q) or _matching(session, q, limit)


def _identified(session: Session, q: str) -> list[Hit]:
    """Who a complete identifier names, by exact match on an indexed column."""
    digits = q.replace(" ", "").replace("-", "")
    hits: list[Hit] = []
    if digits.isdigit() and len(digits) == 10:
        if registry_id_is_valid(digits):
            hits += [_patient_hit(pt) for pt in session.execute(
                select(Patient).where(Patient.registry_id == digits)).scalars()]
        if npi_is_valid(digits):
            hits += [_prescriber_hit(p) for p in session.execute(
                select(Prescriber).where(Prescriber.npi == digits)).scalars()]
            hits += [_pharmacy_hit(ph) for ph in session.execute(
                select(Pharmacy).where(Pharmacy.npi == digits)).scalars()]
    elif digits.isdigit() and len(digits) == 7:
        hits += [_pharmacy_hit(ph) for ph in session.execute(
            select(Pharmacy).where(Pharmacy.ncpdp_id == digits)).scalars()]
    elif "@" in q and " " not in q:
        mail = q.lower()  # stored in lower case (registry.validation.email_value)
        hits += [_prescriber_hit(p) for p in session.execute(
            select(Prescriber).join(User, Prescriber.user_id == User.id)
            .where(User.email == mail)).scalars()]
        hits += [_designee_hit(d) for d in session.execute(
            select(Designee).join(User, Designee.user_id == User.id)
            .where(User.email == mail)).scalars()]
        hits += [_pharmacist_hit(rph) for rph in session.execute(
            select(Pharmacist).join(User, Pharmacist.user_id == User.id)
            .where(User.email == mail).options(joinedload(Pharmacist.pharmacy))).scalars()]
        hits += [_patient_hit(pt) for pt in session.execute(
            select(Patient).where(Patient.email == mail)).scalars()]
    return hits


def _matching(session: Session, q: str, limit: int) -> list[Hit]:
    """Names, emails and numbers containing ``q`` (any case)."""
    like = _like(q)
    digits = q.replace(" ", "").replace("-", "")
    user_match = or_(_full_name(User.first_name, User.last_name).like(like, escape="\\"),
                     func.lower(User.email).like(like, escape="\\"))
    hits: list[Hit] = []
    hits += [_prescriber_hit(p) for p in session.execute(
        select(Prescriber).join(User, Prescriber.user_id == User.id)
        .where(or_(user_match, Prescriber.npi == digits)).limit(limit)).scalars()]
    hits += [_designee_hit(d) for d in session.execute(
        select(Designee).join(User, Designee.user_id == User.id)
        .where(user_match).limit(limit)).scalars()]
    hits += [_pharmacy_hit(ph) for ph in session.execute(
        select(Pharmacy).where(or_(
            func.lower(Pharmacy.name).like(like, escape="\\"), Pharmacy.ncpdp_id == digits,
            Pharmacy.npi == digits)).limit(limit)).scalars()]
    hits += [_pharmacist_hit(rph) for rph in session.execute(
        select(Pharmacist).join(User, Pharmacist.user_id == User.id)
        .where(or_(user_match, func.lower(Pharmacist.license_number) == q.lower()))
        .options(joinedload(Pharmacist.pharmacy)).limit(limit)).scalars()]
    hits += [_patient_hit(pt) for pt in session.execute(
        select(Patient).where(or_(
            _full_name(Patient.first_name, Patient.last_name).like(like, escape="\\"),
            func.lower(Patient.email).like(like, escape="\\"), Patient.registry_id == digits))
        .limit(limit)).scalars()]
    return hits


def stakeholder_label(obj: object) -> str:
    """How staff pages name someone: a name with the number people use, never an internal id."""
    if isinstance(obj, Prescriber):
        return f"{obj.name} (NPI {obj.npi})"
    if isinstance(obj, Designee):
        return f"{obj.name} (designee, {obj.user.email})"
    if isinstance(obj, Pharmacy):
        return f"{obj.name} (NCPDP {obj.ncpdp_id})"
    if isinstance(obj, Pharmacist):
        return f"{obj.name} (pharmacist, licence {obj.license_number}, {obj.pharmacy.name})"
    if isinstance(obj, Patient):
        return f"{obj.full_name} (registry ID {obj.registry_id})"
    if isinstance(obj, User):
        profile = _profile(obj)
        if profile is not None:
            return stakeholder_label(profile)
        return f"{obj.full_name} ({obj.role.replace('_', ' ')}, {obj.email})"
    return str(obj)


def _profile(user: User) -> object | None:
    from sqlalchemy.orm import object_session

    session = object_session(user)
    model: Any = {"prescriber": Prescriber, "designee": Designee, "pharmacist": Pharmacist,
             "patient": Patient}.get(user.role)
    if session is None or model is None:
        return None
    return session.execute(select(model).where(model.user_id == user.id)).scalar()


MODELS: dict[str, type] = {"prescriber": Prescriber, "designee": Designee,
                           "pharmacy": Pharmacy, "pharmacist": Pharmacist,
                           "patient": Patient, "user": User}


def _cycle() -> tuple[Any, str, str, str]:
    from registry.cycles.models import Cycle

    return Cycle, "patient", "patient_id", "cycle"


def _session_row() -> tuple[Any, str, str, str]:
    from registry.accounts.models import UserSession

    return UserSession, "user", "user_id", "sign-in session"


def _report() -> tuple[Any, str, str, str]:
    from registry.pregnancies.models import PregnancyReport

    return PregnancyReport, "patient", "patient_id", "pregnancy report"


def _token() -> tuple[Any, str, str, str]:
    from registry.api.models import ApiToken

    return ApiToken, "user", "user_id", "API token"


def _link() -> tuple[Any, str, str, str]:
    from registry.prescribers.models import DesigneeLink

    return DesigneeLink, "designee", "designee_id", "designee link"


def _notification() -> tuple[Any, str, str, str]:
    from registry.notifications.models import Notification

    return Notification, "user", "recipient_id", "message"


# Records that belong to someone: named by their owner (a cycle of a patient, ...).
_OWNED = {"cycle": _cycle, "user_session": _session_row, "pregnancy_report": _report,
          "api_token": _token, "designee_link": _link, "notification": _notification}


def subject_label(session: Session, kind: str, ident: object) -> str:
    """An audit entry's record by name: "Dana Rivera (NPI …)", "RMA 1234", or the type alone."""
    if ident in (None, ""):
        return kind
    model = MODELS.get(kind)
    if model is not None and str(ident).isdigit():
        obj = session.get(model, int(str(ident)))
        if obj is not None:
            return stakeholder_label(obj)
    if kind == "authorization":  # recorded by its RMA number
        from registry.authorizations.models import Authorization

        auth = session.execute(
            select(Authorization).where(Authorization.rma == str(ident))).scalar()
        patient = session.get(Patient, auth.patient_id) if auth is not None else None
        return f"RMA {ident}" + (f" for {stakeholder_label(patient)}" if patient else "")
    if kind == "authorization_decision" and str(ident).isdigit():
        from registry.authorizations.models import AuthorizationDecision

        decision = session.get(AuthorizationDecision, int(str(ident)))
        if decision is not None:
            outcome = "authorization" if decision.eligible else "denial"
            who = session.get(Patient, decision.patient_id) if decision.patient_id else None
            return f"{outcome} of {fmt(decision.requested_on)}" + (
                f" for {stakeholder_label(who)}" if who else " (patient not identified)")
    owned = _OWNED.get(kind)
    if owned is not None and str(ident).isdigit():
        model, owner_kind, owner_attr, words = owned()
        row = session.get(model, int(str(ident)))
        if row is not None:
            owner = subject_label(session, owner_kind, getattr(row, owner_attr))
            extra = f" {row.number}" if kind == "cycle" else ""
            return f"{words}{extra} of {owner}"
    return f"{kind.replace('_', ' ')} {ident}"


def find_stakeholders(session: Session, kind: str, text: str, limit: int = 10) -> list[Any]:
    """Someone of this kind by name, email, NPI (prescriber, pharmacy), NCPDP number
    (pharmacy) or licence (pharmacist): what staff know, instead of an internal id."""
    return [obj for hit in search(session, text, limit=limit) if hit.kind == kind
            for obj in [session.get(MODELS[kind], hit.id)] if obj is not None]


def audit_subject_filter(session: Session, text: str) -> str:
    """``type:number`` typed by staff (a registry ID, NPI, NCPDP number, email) as the audit
    log's ``type:id``; anything else is passed on as it is."""
    kind, sep, ident = text.strip().partition(":")
    ident = ident.strip()
    if not sep or not ident or kind not in MODELS or kind == "user":
        return text.strip()
    if kind == "patient":
        found = session.execute(select(Patient.id).where(
            Patient.registry_id == ident.replace(" ", "").replace("-", ""))).scalar()
    else:
        objs = find_stakeholders(session, kind, ident, limit=2)
        found = objs[0].id if len(objs) == 1 else None
    return f"{kind}:{found}" if found is not None else f"{kind}:{ident}"


def user_for(session: Session, text: str) -> int | None:
    """The user staff mean by an email, a prescriber's NPI or a patient's registry ID."""
    q = text.strip()
    digits = q.replace(" ", "").replace("-", "")
    found = session.execute(select(User.id).where(User.email == q.lower())).scalar()
    if found is None and digits.isdigit():
        found = session.execute(select(Prescriber.user_id).where(
            Prescriber.npi == digits)).scalar()
        if found is None:
            found = session.execute(select(Patient.user_id).where(
                Patient.registry_id == digits)).scalar()
    return found
