"""The requirements view: the rules' own decision, grouped by requirement, with who acts,
by when and on which page of ours."""

from __future__ import annotations

from datetime import date
from typing import Any

from flask import Flask
from sqlalchemy.orm import Session

from registry import clock as registry_clock
from registry.interop.requirements import (
    LINK_OF,
    REQUIREMENT_OF,
    Requirement,
    RequirementStatus,
    StepActor,
    guidance_for,
)
from registry.patients.queries import status
from registry.pregnancies.operations import report_pregnancy
from registry.pregnancies.schemas import PregnancyReportInput
from registry.rules.vocabulary import ReasonCode
from tests import factories as f


def test_every_reason_code_has_one_requirement_actor_and_link() -> None:
    assert set(REQUIREMENT_OF) == set(ReasonCode)
    assert set(LINK_OF) == set(ReasonCode)
    for code, (requirement, actor) in REQUIREMENT_OF.items():
        assert isinstance(requirement, Requirement), code
        assert isinstance(actor, StepActor), code


def _statuses(guidance: Any) -> dict[str, str]:
    return {r.requirement.value: r.status.value for r in guidance.requirements}


def _routes(app: Flask, path: str) -> bool:
    adapter = app.url_map.bind("localhost")
    try:
        adapter.match(path, method="GET")
    except Exception:
        return False
    return True


def test_unknown_patient_is_a_failure_asking_to_enroll(session: Session) -> None:
    g = guidance_for(session, None, date(2026, 3, 2))
    assert g.overall == "failure"
    assert _statuses(g) == {"enrollment": "blocked"}
    (step,) = g.requirements[0].steps
    assert step.code == ReasonCode.PATIENT_NOT_FOUND
    assert step.link == "/patients/new"


def test_a_patient_goes_from_data_required_to_success(app: Flask, session: Session,
                                                      clock: Any) -> None:
    clock.to("2026-03-02")
    dr = f.prescriber(session)
    p, _code = f.registered(session, dr)
    g = guidance_for(session, p, registry_clock.today())
    assert g.overall == "data-required"
    s = _statuses(g)
    assert s["enrollment"] == "missing"
    assert s["pregnancy_test"] == "missing"
    assert s["prescriber"] == "met"
    assert s["pregnancy_report"] == "met"
    enrollment = g.requirement(Requirement.ENROLLMENT)
    assert enrollment is not None
    assert [(st.code, st.actor, st.link) for st in enrollment.steps] == [
        (ReasonCode.PATIENT_NOT_ACTIVE, StepActor.PATIENT, "/activate")]
    # Every link names a page of ours.
    for r in g.requirements:
        for st in r.steps:
            assert st.link is None or _routes(app, st.link), st.link

    p = f.patient(session, dr)
    f.enter_test(session, p)
    clock.forward(days=30)
    f.enter_test(session, p)
    g = guidance_for(session, p, registry_clock.today())
    s = _statuses(g)
    assert g.overall == "data-required"
    assert s["enrollment"] == "met"
    assert s["pregnancy_test"] == "met"
    assert s["counseling"] == "missing"
    counseling = g.requirement(Requirement.COUNSELING)
    assert counseling is not None
    assert counseling.steps[0].actor == StepActor.PRESCRIBER
    assert counseling.steps[0].link == f"/patients/{p.registry_id}/counseling"
    assert counseling.steps[0].due == g.window_closes
    assert g.window_closes == registry_clock.today() + f.days(6)

    f.counsel(session, p)
    g = guidance_for(session, p, registry_clock.today())
    assert _statuses(g)["counseling"] == "met"
    assert _statuses(g)["comprehension"] == "missing"
    f.pass_questions(session, p)
    f.attest(session, p)
    g = guidance_for(session, p, registry_clock.today())
    assert g.overall == "success"
    assert all(r.status == RequirementStatus.MET for r in g.requirements)
    # The same decision as the status page: no second copy of the rules.
    assert status(session, p).eligible


def test_the_view_is_the_status_decision_grouped(session: Session, clock: Any) -> None:
    clock.to("2026-03-02")
    dr = f.prescriber(session)
    p = f.patient(session, dr)
    decision = status(session, p)
    g = guidance_for(session, p, registry_clock.today())
    codes = sorted(st.code.value for r in g.requirements for st in r.steps)
    assert codes == sorted(decision.codes)
    assert codes  # a fresh patient has something missing


def test_a_reported_pregnancy_is_a_failure(session: Session, clock: Any) -> None:
    clock.to("2026-03-02")
    dr = f.prescriber(session)
    p = f.patient(session, dr)
    f.enter_test(session, p)
    report_pregnancy(session, dr.user, p,
                     PregnancyReportInput(reported_on=registry_clock.today()))
    g = guidance_for(session, p, registry_clock.today())
    assert g.overall == "failure"
    s = _statuses(g)
    assert s["pregnancy_report"] == "blocked"
    assert s["pregnancy_test"] == "blocked"  # no "enter a test" while the block stands


def test_cannot_get_pregnant_lists_no_test_or_contraception(session: Session,
                                                            clock: Any) -> None:
    clock.to("2026-03-02")
    dr = f.prescriber(session)
    p = f.patient(session, dr, can_get_pregnant=False)
    g = guidance_for(session, p, registry_clock.today())
    s = _statuses(g)
    assert "pregnancy_test" not in s
    assert "contraception" not in s
    assert s["counseling"] == "missing"
    assert g.overall == "data-required"


def test_every_link_is_a_page_of_ours(app: Flask, session: Session, clock: Any) -> None:
    clock.to("2026-03-02")
    dr = f.prescriber(session)
    for p in (f.patient(session, dr), f.patient(session, dr, can_get_pregnant=False),
              f.registered(session, dr)[0]):
        for code in ReasonCode:
            link = LINK_OF[code](p)
            assert link is None or _routes(app, link), (code, link)
