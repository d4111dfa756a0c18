"""Prescribers and designees: enrollment, attestations, designee links, the patient list."""

from __future__ import annotations

from registry import db
from registry.accounts.models import User
from registry.accounts.schemas import SignUpAnswer
from registry.accounts.signup import INVITATION_ANSWER, SIGNUP_ANSWER, sign_up
from registry.api.contract import endpoint
from registry.errors import NotFound
from registry.policy import Permission as P
from registry.prescribers.models import Designee
from registry.prescribers.operations import (
    attest_designee,
    attest_prescriber,
    enroll_prescriber,
    link_designee,
    unlink_designee,
)
from registry.prescribers.queries import (
    listed_prescriber,
    patient_page,
    visible_designee,
    visible_prescriber,
)
from registry.prescribers.schemas import (
    DesigneeLinking,
    DesigneeOut,
    NextStepOut,
    PatientList,
    PatientListItem,
    PatientListQuery,
    PrescriberEnrollment,
    PrescriberOut,
    WindowOut,
)


@endpoint("POST", "/prescribers", permission=P.PRESCRIBERS_ENROLL, body=PrescriberEnrollment,
          response=SignUpAnswer, status=202, tag="Enrollment",
          summary="Enroll as a prescriber",
          description="The same answer whether or not the address is registered: a new "
          "address gets a link to confirm it, then the prescriber signs in (status `pending` "
          "until they attest); the owner of a known address is told by email instead.")
def create_prescriber(user: User | None, body: PrescriberEnrollment) -> SignUpAnswer:
    session = db.session()
    sign_up(session, lambda: enroll_prescriber(session, body), what="enroll",
            password=body.password)
    return SIGNUP_ANSWER


@endpoint("POST", "/prescribers/{prescriber_id}/attestations",
          permission=P.PRESCRIBERS_ATTEST, response=PrescriberOut, status=201,
          tag="Enrollment", summary="Attest to the program requirements (yearly)")
def attest_as_prescriber(user: User, prescriber_id: int) -> PrescriberOut:
    session = db.session()
    prescriber = visible_prescriber(session, user, prescriber_id)
    return PrescriberOut.of(attest_prescriber(session, user, prescriber))


@endpoint("POST", "/prescribers/{prescriber_id}/designees", permission=P.DESIGNEES_MANAGE,
          body=DesigneeLinking, response=DesigneeOut, status=201, tag="Enrollment",
          summary="Create and link a designee, or link an existing one",
          also=((202, SignUpAnswer, "A new designee is invited: the same answer whether or "
                 "not the address is registered."),))
def add_designee(user: User, prescriber_id: int,
                 body: DesigneeLinking) -> DesigneeOut | tuple[SignUpAnswer, int]:
    session = db.session()
    prescriber = visible_prescriber(session, user, prescriber_id)
    if body.designee_id is None:  # a new account: the same answer for a known address
        sign_up(session, lambda: link_designee(session, user, prescriber, body),
                what="designee", password=body.password, actor=user)
        return INVITATION_ANSWER, 202
    return DesigneeOut.of(link_designee(session, user, prescriber, body))


@endpoint("DELETE", "/prescribers/{prescriber_id}/designees/{designee_id}",
          permission=P.DESIGNEES_MANAGE, status=204, tag="Enrollment",
          summary="Unlink a designee (they no longer act for this prescriber)")
def remove_designee(user: User, prescriber_id: int, designee_id: int) -> None:
    session = db.session()
    prescriber = visible_prescriber(session, user, prescriber_id)
    designee = session.get(Designee, designee_id)
    if designee is None:
        raise NotFound("This designee is not linked to you.")
    unlink_designee(session, user, prescriber, designee)


@endpoint("POST", "/designees/{designee_id}/attestations", permission=P.DESIGNEES_ATTEST,
          response=DesigneeOut, status=201, tag="Enrollment",
          summary="Designee attests (yearly)")
def attest_as_designee(user: User, designee_id: int) -> DesigneeOut:
    session = db.session()
    designee = visible_designee(session, user, designee_id)
    return DesigneeOut.of(attest_designee(session, user, designee))


@endpoint("GET", "/prescribers/{prescriber_id}/patients",
          permission=P.PRESCRIBERS_PATIENTS_LIST, query=PatientListQuery,
          response=PatientList, tag="Patients", summary="The prescriber's patients",
          description="By last name, a page at a time: pass `next_cursor` as `cursor` for "
          "the next page (null on the last). `window` is the open window, if any; "
          "`next_step` the first step due (with `needs_action`, the prescriber's own).")
def list_patients(user: User, prescriber_id: int, query: PatientListQuery) -> PatientList:
    session = db.session()
    prescriber = listed_prescriber(session, user, prescriber_id)
    page = patient_page(session, prescriber.id, q=query.q, needs_action=query.needs_action,
                        cursor=query.cursor, limit=query.limit)
    return PatientList(items=[
        PatientListItem(registry_id=r.patient.registry_id, name=r.patient.full_name,
                   risk_category=r.patient.risk_category, status=r.patient.status,
                   window=WindowOut.of(None if "PREGNANCY_REPORTED" in r.decision.codes
                                       else r.decision.window),
                   next_step=NextStepOut.of(r.step), needs_action=r.needs_me)
        for r in page.rows], next_cursor=page.next_cursor)
