"""Read-only lookups for program staff."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from registry.accounts.models import User
from registry.patients.models import Patient
from registry.pharmacies.models import Pharmacist, Pharmacy
from registry.prescribers.models import Designee, Prescriber


@dataclass(frozen=True)
class Hit:
    kind: str  # prescriber, designee, pharmacy, pharmacist, patient
    id: int
    name: str
    detail: str
    registry_id: str | None = None


def search(session: Session, text: str, limit: int = 25) -> list[Hit]:
    """Any stakeholder by name, email, NPI, NCPDP ID, licence or registry ID."""
    q = text.strip()
    if not q:
        return []
    like = f"%{q.lower()}%"
    digits = q.replace(" ", "").replace("-", "")
    user_match = or_(func.lower(User.first_name + " " + User.last_name).like(like),
                     func.lower(User.email).like(like))
    hits: list[Hit] = []
    for p in session.execute(select(Prescriber).join(User, Prescriber.user_id == User.id)
                             .where(or_(user_match, Prescriber.npi == digits))
                             .limit(limit)).scalars():
        hits.append(Hit("prescriber", p.id, p.name, f"NPI {p.npi} · {p.user.email}"))
    for d in session.execute(select(Designee).join(User, Designee.user_id == User.id)
                             .where(user_match).limit(limit)).scalars():
        hits.append(Hit("designee", d.id, d.name, d.user.email))
    for ph in session.execute(select(Pharmacy).where(or_(
            func.lower(Pharmacy.name).like(like), Pharmacy.ncpdp_id == digits,
            Pharmacy.npi == digits)).limit(limit)).scalars():
        hits.append(Hit("pharmacy", ph.id, ph.name, f"NCPDP {ph.ncpdp_id} · NPI {ph.npi}"))
    for rph in session.execute(select(Pharmacist).join(User, Pharmacist.user_id == User.id)
                               .where(or_(user_match, func.lower(Pharmacist.license_number)
                                          == q.lower())).limit(limit)).scalars():
        hits.append(Hit("pharmacist", rph.id, rph.name,
                        f"{rph.pharmacy.name} · licence {rph.license_number}"))
    for pt in session.execute(select(Patient).where(or_(
            func.lower(Patient.first_name + " " + Patient.last_name).like(like),
            func.lower(Patient.email).like(like), Patient.registry_id == digits))
            .limit(limit)).scalars():
        hits.append(Hit("patient", pt.id, pt.full_name,
                        f"registry ID {pt.registry_id} · {pt.status.replace('_', ' ')}",
                        pt.registry_id))
    return hits
