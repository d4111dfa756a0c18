"""The demo data set: every kind of user, and Dr Rivera with about thirty patients at every
point of the cycle, built through the same operations as everything else, with time travel.

Each patient's story is a list of steps ("registered 35 days ago, screening test that day,
confirmation test 2 days ago, ..."). The steps of all stories are run in date order, with
the registry's clock moved to each step's day, so the audit log reads in time order and
every rule (windows, lockout, refill too soon) is applied as it would have been that day.

The demo's passwords and activation codes are printed for anyone to use, so they are hashed
with a cheap argon2 setting while the demo loads (see ``registry.security.cheap_hashing``);
a demo user's password hash is brought to full strength at their first sign-in.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from sqlalchemy.orm import Session

from registry import clock
from registry.accounts.models import User
from registry.accounts.operations import addresses_trusted, create_staff
from registry.authorizations.models import Authorization
from registry.authorizations.operations import record_dispense, request_authorization
from registry.authorizations.schemas import AuthorizationRequest, Dispensation
from registry.contract import parse
from registry.cycles.operations import (
    attest_contraception,
    comprehension_questions,
    confirm_counseling,
    load_question_bank,
    take_comprehension,
)
from registry.cycles.schemas import (
    ComprehensionAnswers,
    Contraception,
    CounselingEntry,
    PregnancyTestEntry,
)
from registry.params import current as current_params
from registry.patients.models import Patient
from registry.patients.operations import activate_patient, end_treatment, register_patient
from registry.patients.schemas import PatientActivation, PatientRegistration, TreatmentEnding
from registry.pharmacies.models import Pharmacist
from registry.pharmacies.operations import activate_pharmacy, add_pharmacist, register_pharmacy
from registry.pharmacies.schemas import PharmacistAddition, PharmacyActivation, PharmacyRegistration
from registry.pregnancies.operations import record_pregnancy_test, report_pregnancy
from registry.pregnancies.schemas import PregnancyReportInput
from registry.prescribers.models import Prescriber
from registry.prescribers.operations import (
    attest_designee,
    attest_prescriber,
    enroll_prescriber,
    link_designee,
)
from registry.prescribers.schemas import DesigneeLinking, PrescriberEnrollment
from registry.security import cheap_hashing

PASSWORD = "demo-password"  # noqa: S105 - printed for people trying the demo
CONTRACEPTION = {"methods": ["iud", "male_latex_condom"]}
SETUP_DAYS_AGO = 200  # prescribers, designee and pharmacy are enrolled this long ago


@dataclass
class Story:
    """One demo patient: who they are and what happened to them, step by step."""

    first: str
    last: str
    born: date
    can_get_pregnant: bool = True
    steps: list[tuple[int, str, dict[str, Any]]] = field(default_factory=list)
    note: str = ""
    login: bool = False  # listed among the printed logins
    email: str | None = None  # default: first.last@demo.example
    patient: Patient | None = None
    code: str | None = None
    rma: Authorization | None = None

    def at(self, days_ago: int, action: str, **kw: Any) -> Story:
        self.steps.append((days_ago, action, kw))
        return self


@dataclass
class Cast:
    rivera: Prescriber
    designee_user: User
    pharmacist: Pharmacist


def _born(years: int, days: int = 0) -> date:
    """A date of birth ``years`` (and ``days``) before today."""
    today = clock.today()
    try:
        birthday = today.replace(year=today.year - years)
    except ValueError:  # 29 February
        birthday = today.replace(year=today.year - years, day=28)
    return birthday - timedelta(days=days)


def _first_course(story: Story, confirmed: int, *, until: str = "dispensed",
                  registered: int | None = None, rx: int | None = None) -> Story:
    """Registration, screening, confirmation on day ``confirmed`` (days ago), then the cycle's
    steps up to ``until`` (counseled, questions, contraception, authorized, dispensed)."""
    order = ["confirmed", "counseled", "questions", "contraception", "authorized", "dispensed"]
    reach = order.index(until)
    registered = confirmed + 30 if registered is None else registered
    story.at(registered, "register").at(registered, "test", setting="office")
    story.at(confirmed, "test")
    if reach >= 1:
        story.at(confirmed, "counsel")
    if reach >= 2:
        story.at(confirmed, "questions")
    if reach >= 3:
        story.at(confirmed, "contraception")
    if reach >= 4:
        story.at(confirmed if rx is None else rx, "authorize")
    if reach >= 5:
        story.at(confirmed if rx is None else rx, "dispense")
    return story


def _month(story: Story, tested: int, *, until: str = "dispensed") -> Story:
    """A monthly cycle (treatment started): test on day ``tested`` (days ago), then on."""
    order = ["tested", "counseled", "questions", "contraception", "authorized", "dispensed"]
    reach = order.index(until)
    story.at(tested, "test")
    for step, name in enumerate(("counsel", "questions", "contraception", "authorize",
                                 "dispense"), start=1):
        if reach >= step:
            story.at(tested, name)
    return story


def _cannot(story: Story, registered: int, *, until: str) -> Story:
    """A patient who cannot get pregnant: registered, then counseled, questions, fills."""
    story.can_get_pregnant = False
    story.at(registered, "register")
    steps = ["registered", "counseled", "questions", "authorized", "dispensed"]
    reach = steps.index(until)
    if reach >= 1:
        story.at(registered, "counsel")
    if reach >= 2:
        story.at(registered, "questions")
    if reach >= 3:
        story.at(registered, "authorize")
    if reach >= 4:
        story.at(registered, "dispense")
    return story


def _lockout_story() -> Story | None:
    """A missed first window under rule set 2021, then a pharmacy's request refused during
    the lockout (a new confirmation specimen is refused until the lockout ends).

    The lockout exists only under rule set 2021, so this story is set on days when that rule
    set was in force: ending today if it still is, else ending the day before rule set 2026
    began (the refusal then stays in the patient's history). Left out when those days are
    too long ago for the demo's prescriber (enrolled SETUP_DAYS_AGO days ago).
    """
    today = clock.today()
    effective = current_params().ruleset_2026_effective
    end = min(today, effective - timedelta(days=1))
    ago = (today - end).days
    if ago + 50 > SETUP_DAYS_AGO:
        return None
    story = Story("Jordan", "Reyes", _born(24, 100),
                  note="missed the first window under rule set 2021: lockout")
    # confirmation 12 days before `end`: window missed, lockout until 7 days after `end`
    _first_course(story, ago + 12, until="contraception")
    story.at(ago, "authorize")  # refused: the window was missed, the lockout runs
    return story


def _stories() -> list[Story]:
    """Dr Rivera's patients, about thirty, at every point of the cycle."""
    s: list[Story] = []
    # --- who can get pregnant, first course --------------------------------------------
    # Alex, Casey and Blake keep the logins and dates of birth that README.md, docs/api.md
    # and bench/ use.
    alex = Story("Alex", "Kim", date(2008, 5, 14), login=True, email="alex@demo.example",
                 note="can get pregnant, ready for an authorization today")
    s.append(_first_course(alex, 2, until="contraception", registered=45))
    s.append(_first_course(Story("Riley", "Chen-Baptiste", _born(22, 10)), 1,
                           until="contraception"))
    blake = Story("Blake", "Santos", date(1999, 1, 20), login=True, email="blake@demo.example",
                  note="screening done, confirmation test due")
    s.append(blake.at(10, "register", by_designee=True, activate=False)
             .at(10, "test", setting="lab"))
    s.append(Story("Harper", "Osei", _born(19, 20)).at(1, "register", by_designee=True))
    s.append(Story("Quinn", "Larsen", _born(31, 77)).at(0, "register", activate=False))
    s.append(Story("Sofia", "Marquez", _born(25, 5)).at(14, "register").at(14, "test"))
    s.append(_first_course(Story("Maya", "Goldberg", _born(20, 60)), 1, until="confirmed"))
    s.append(_first_course(Story("Zoe", "Adeyemi", _born(29, 15)), 3, until="counseled"))
    s.append(_first_course(Story("Ruby", "Ellis", _born(16, 120), login=True,
                                 email="ruby@demo.example",
                                 note="a minor (guardian signed): questions to answer"),
                           2, until="counseled"))
    s.append(_first_course(Story("Ines", "Haddad", _born(26, 33)), 2, until="questions"))
    # an RMA waiting at the pharmacy, and one collected a few days ago
    s.append(_first_course(Story("Nora", "Fitzgerald", _born(21, 90)), 2, until="authorized",
                           rx=0))
    s.append(_first_course(Story("Ava", "Tanaka", _born(28, 12)), 5, until="dispensed"))
    # a first window missed (under rule set 2026 a new test can be taken at once)
    s.append(_first_course(Story("Elif", "Demir", _born(30, 3)), 12, until="contraception"))
    lockout = _lockout_story()
    if lockout:
        s.append(lockout)
    # --- in treatment --------------------------------------------------------------------
    s.append(_month(_first_course(Story("Grace", "Mensah", _born(24, 44)), 33), 2,
                    until="contraception"))
    s.append(_month(_first_course(Story("Chloe", "Dubois", _born(22, 150)), 40), 5,
                    until="questions"))
    s.append(_month(_first_course(Story("Priya", "Raman", _born(32, 8)), 31), 1,
                    until="tested"))
    s.append(_first_course(Story("Hana", "Suzuki", _born(27, 180)), 12))  # next test later
    s.append(_month(_first_course(Story("Olivia", "Brennan", _born(25, 61)), 60), 28))
    s.append(_month(_month(_first_course(Story("Mia", "Kowalski", _born(23, 2)), 75), 45),
                    15))
    # one pregnancy reported (authorizations blocked), one treatment ending
    preg = _first_course(Story("Tara", "Whitfield", _born(26, 140),
                               note="pregnancy reported"), 40)
    s.append(preg.at(6, "report_pregnancy"))
    ending = _month(_first_course(Story("Esme", "Carter", _born(29, 210),
                                        note="treatment ended: end-of-treatment tests due"),
                                  70), 40)
    s.append(ending.at(4, "end_treatment"))
    # --- who cannot get pregnant ----------------------------------------------------------
    casey = Story("Casey", "Nguyen", date(1979, 11, 2), login=True, email="casey@demo.example",
                  note="cannot get pregnant, ready for an authorization")
    s.append(_cannot(casey, 2, until="questions"))
    s.append(_cannot(Story("Marcus", "Johnson", _born(18, 30)), 1, until="registered"))
    s.append(_cannot(Story("Daniel", "Okonkwo", _born(35, 99)), 3, until="counseled"))
    s.append(_cannot(Story("Luis", "Fernandez", _born(22, 64)), 20, until="dispensed"))
    s.append(_cannot(Story("Omar", "Siddiqui", _born(41, 7)), 1, until="authorized"))
    s.append(_cannot(Story("Ethan", "Wright", _born(16, 300),
                           note="a minor who cannot get pregnant"), 4, until="questions"))
    s.append(_cannot(Story("Samuel", "Park", _born(33, 15)), 9, until="dispensed"))
    return s


def _run(session: Session, cast: Cast, story: Story, action: str, kw: dict[str, Any]) -> None:
    try:
        _act(session, cast, story, action, kw)
    except Exception as exc:
        exc.add_note(f"demo: {story.first} {story.last}, step {action!r} on {clock.today()}")
        raise


def _act(session: Session, cast: Cast, story: Story, action: str, kw: dict[str, Any]) -> None:
    today = clock.today()
    if action == "register":
        by_designee = kw.get("by_designee", False)
        minor = _born(18) < story.born
        data: dict[str, Any] = {
            "first_name": story.first, "last_name": story.last,
            "date_of_birth": story.born.isoformat(),
            "email": story.email or f"{story.first}.{story.last}@demo.example".lower(),
            "risk_category": "can_get_pregnant" if story.can_get_pregnant
            else "cannot_get_pregnant",
            "consent_signed_on": today.isoformat(),
        }
        if story.can_get_pregnant:
            data["contraception_start_date"] = today.isoformat()
        if minor:
            data["guardian_name"] = f"Robin {story.last}"
            data["guardian_signed_on"] = today.isoformat()
        if by_designee:
            data["prescriber_id"] = cast.rivera.id
        actor = cast.designee_user if by_designee else cast.rivera.user
        story.patient, story.code, _ = register_patient(
            session, actor, parse(PatientRegistration, data))
        if kw.get("activate", True):
            activate_patient(session, PatientActivation(
                registry_id=story.patient.registry_id, date_of_birth=story.patient.date_of_birth,
                activation_code=story.code, password=PASSWORD))
        return
    patient = story.patient
    assert patient is not None
    if action == "test":
        record_pregnancy_test(session, cast.rivera.user, patient, parse(PregnancyTestEntry, {
            "specimen_collected_on": today, "result": kw.get("result", "negative"),
            "setting": kw.get("setting", "lab")}))
    elif action == "counsel":
        confirm_counseling(session, cast.rivera.user, patient, CounselingEntry(
            counseled_on=today, contraception=parse(Contraception, CONTRACEPTION)
            if patient.can_get_pregnant else None))
    elif action == "questions":
        assert patient.user is not None
        _, questions = comprehension_questions(session, patient.user)
        take_comprehension(session, patient.user, ComprehensionAnswers(
            answers={str(q.id): q.correct_choice for q in questions}))
    elif action == "contraception":
        assert patient.user is not None
        attest_contraception(session, patient.user, parse(Contraception, CONTRACEPTION))
    elif action == "authorize":
        outcome = request_authorization(session, cast.pharmacist.user, AuthorizationRequest(
            registry_id=patient.registry_id, date_of_birth=patient.date_of_birth,
            prescriber_npi=cast.rivera.npi, days_supply=30, quantity=60, refills=0))
        story.rma = outcome.authorization
    elif action == "dispense":
        assert story.rma is not None, f"{story.first} {story.last}: no RMA to dispense"
        record_dispense(session, cast.pharmacist.user, story.rma, Dispensation(
            dispensed_on=today, quantity=story.rma.quantity,
            days_supply=story.rma.days_supply))
    elif action == "report_pregnancy":
        report_pregnancy(session, cast.rivera.user, patient, PregnancyReportInput(
            reported_on=today, notes="Reported by the patient by phone."))
    elif action == "end_treatment":
        end_treatment(session, cast.rivera.user, patient,
                      TreatmentEnding(last_dose_on=today - timedelta(days=1)))
    else:  # pragma: no cover - a typo in a story above
        raise ValueError(f"unknown demo step {action!r}")


def load_demo(session: Session) -> list[tuple[str, str, str]]:
    """Build the demo through the same operations as everything else; returns the logins."""
    with cheap_hashing(), addresses_trusted():
        return _load(session)


def _load(session: Session) -> list[tuple[str, str, str]]:
    load_question_bank(session)
    logins: list[tuple[str, str, str]] = []
    staff = create_staff(session, None, email="staff@demo.example", password=PASSWORD,
                         first_name="Pat", last_name="Oversight")
    logins.append(("staff", staff.email, "program staff"))

    with clock.travel(-SETUP_DAYS_AGO):
        dr_rivera = enroll_prescriber(session, PrescriberEnrollment(
            email="rivera@demo.example", password=PASSWORD, first_name="Ana",
            last_name="Rivera", npi="1234567893", license_state="NY"))
        attest_prescriber(session, dr_rivera.user, dr_rivera)
        dr_chen = enroll_prescriber(session, PrescriberEnrollment(
            email="chen@demo.example", password=PASSWORD, first_name="Wei", last_name="Chen",
            npi="1245319599", license_state="NJ"))
        attest_prescriber(session, dr_chen.user, dr_chen)
        designee = link_designee(session, dr_rivera.user, dr_rivera, DesigneeLinking(
            email="frontdesk@demo.example", password=PASSWORD, first_name="Sam",
            last_name="Ortiz"))
        attest_designee(session, designee.user, designee)
        pharmacy = register_pharmacy(session, PharmacyRegistration.model_validate({
            "name": "Main Street Pharmacy", "ncpdp_id": "1234567", "npi": "1679576722",
            "address": "12 Main Street, Albany NY",
            "rsp": {"email": "rsp@demo.example", "password": PASSWORD, "first_name": "Jordan",
                    "last_name": "Blake", "license_number": "NY-RPH-0001"}}))
        rsp_user = pharmacy.pharmacists[0].user
        activate_pharmacy(session, rsp_user, pharmacy, PharmacyActivation(staff_trained=True))
        pharmacist = add_pharmacist(session, rsp_user, pharmacy, PharmacistAddition(
            email="pharmacist@demo.example", password=PASSWORD, first_name="Lee",
            last_name="Morgan", license_number="NY-RPH-0002",
            training_completed_on=clock.today()))

    cast = Cast(dr_rivera, designee.user, pharmacist)
    stories = _stories()
    steps: list[tuple[int, int, Callable[[], None]]] = []
    for story in stories:
        for days_ago, action, kw in story.steps:
            def step(story: Story = story, action: str = action,
                     kw: dict[str, Any] = kw) -> None:
                _run(session, cast, story, action, kw)
            steps.append((days_ago, len(steps), step))
    for days_ago, _, run_step in sorted(steps, key=lambda s: (-s[0], s[1])):
        with clock.travel(-days_ago):
            run_step()
    assert all(st.patient is not None for st in stories)

    dana, dana_code, _ = register_patient(session, dr_chen.user, parse(PatientRegistration, {
        "first_name": "Dana", "last_name": "Okafor", "date_of_birth": "2001-07-30",
        "email": "dana@demo.example", "risk_category": "can_get_pregnant",
        "consent_signed_on": clock.today(), "contraception_start_date": clock.today()}))
    logins += [
        ("prescriber", "rivera@demo.example",
         f"Dr Ana Rivera, NPI {dr_rivera.npi}: {len(stories)} patients"),
        ("prescriber", "chen@demo.example", f"Dr Wei Chen, NPI {dr_chen.npi}"),
        ("designee", "frontdesk@demo.example", "acts for Dr Rivera"),
        ("pharmacist", "rsp@demo.example", f"Responsible Site Pharmacist, {pharmacy.name}"),
        ("pharmacist", "pharmacist@demo.example", pharmacy.name),
    ]
    for story in stories:
        if story.login:
            p = story.patient
            assert p is not None
            active = p.user is not None
            logins.append((
                "patient" if active else "(not active)",
                p.email or "",
                f"{p.full_name}, registry ID {p.registry_id}, born {p.date_of_birth}: "
                f"{story.note}" + ("" if active else f"; activation code {story.code}")))
    logins.append(("(not active)", "dana@demo.example",
                   f"Dana Okafor (Dr Chen), registry ID {dana.registry_id}, born "
                   f"{dana.date_of_birth}: just registered; activation code {dana_code}"))
    return logins
