"""Rules §2: a transfer to another prescriber is an audited act of program staff, or of the
new prescriber who knows the patient's registry ID and date of birth."""

from __future__ import annotations

from datetime import timedelta

import pytest

from registry.authorizations.models import Authorization
from registry.contract import parse
from registry.cycles.schemas import PregnancyTestEntry
from registry.errors import NotFound, PermissionDenied, ValidationError
from registry.patients.operations import transfer_patient
from registry.patients.schemas import Transfer
from registry.pregnancies.operations import record_pregnancy_test
from registry.rules.identifiers import verhoeff_check_digit
from tests import factories as f
from tests.operations.conftest import last_audit_id, row_counts, tags_since


def test_staff_transfer_moves_the_patient_and_the_care(session, cast, clock):
    p = f.patient(session, cast.dr)
    start = last_audit_id(session)
    transfer_patient(session, cast.staff, parse(Transfer, {
        "registry_id": p.registry_id, "prescriber_npi": cast.other_dr.npi}))
    assert tags_since(session, start) == ["patient:transfer"]
    session.expire_all()
    assert p.prescriber_id == cast.other_dr.id
    # The new prescriber now acts; the old one no longer sees the patient.
    test = PregnancyTestEntry(specimen_collected_on=clock_today(), result="negative",
                              setting="lab")
    record_pregnancy_test(session, cast.other_dr.user, p, test)
    with pytest.raises(NotFound):
        record_pregnancy_test(session, cast.dr.user, p, test)


def clock_today():
    from registry import clock

    return clock.today()


def test_transferred_patient_reads_back_the_new_prescriber_at_once(session, cast):
    """Within the same unit of work, ``patient.prescriber`` is the new prescriber (it used
    to keep the old one until the session expired, so a response showed the old NPI)."""
    p = f.patient(session, cast.dr)
    assert p.prescriber.id == cast.dr.id
    transfer_patient(session, cast.other_dr.user, parse(Transfer, {
        "registry_id": p.registry_id, "date_of_birth": p.date_of_birth}))
    assert p.prescriber.id == cast.other_dr.id
    assert p.prescriber.npi == cast.other_dr.npi


def test_new_prescriber_transfers_with_registry_id_and_date_of_birth(session, cast):
    p = f.patient(session, cast.dr)
    card = f"{p.registry_id[:5]}-{p.registry_id[5:]}"  # as printed on the ID card
    transfer_patient(session, cast.other_dr.user, parse(Transfer, {
        "registry_id": card, "date_of_birth": p.date_of_birth}))
    assert p.prescriber_id == cast.other_dr.id


@pytest.mark.parametrize("wrong", ["dob", "registry_id", "check_digit"])
def test_new_prescriber_with_a_wrong_date_of_birth_or_id_finds_nobody(session, cast, wrong):
    """A well-formed ID of nobody finds nobody; a wrong check digit is a typo to re-key."""
    p = f.patient(session, cast.dr)
    rid, dob = p.registry_id, p.date_of_birth
    if wrong == "dob":
        dob = dob + timedelta(days=1)
    elif wrong == "registry_id":
        body = f"{(int(rid[:9]) + 1) % 10**9:09d}"
        rid = body + verhoeff_check_digit(body)
    else:
        rid = rid[:-1] + str((int(rid[-1]) + 1) % 10)
    before = row_counts(session)
    if wrong == "check_digit":
        with pytest.raises(ValidationError) as exc:
            transfer_patient(session, cast.other_dr.user, parse(Transfer, {
        "registry_id": rid, "date_of_birth": dob}))
        assert exc.value.errors == {
            "registry_id": ["The check digit does not match: re-key the ID."]}
    else:
        with pytest.raises(NotFound):
            transfer_patient(session, cast.other_dr.user, parse(Transfer, {
        "registry_id": rid, "date_of_birth": dob}))
    assert row_counts(session) == before
    assert p.prescriber_id == cast.dr.id


def test_transfer_cancels_an_open_authorization(session, cast, clock):
    p = f.patient(session, cast.dr)
    f.ready_for_first_prescription(session, p, clock)
    auth = f.authorize(session, cast.rph, p).authorization
    transfer_patient(session, cast.other_dr.user, parse(Transfer, {
        "registry_id": p.registry_id, "date_of_birth": p.date_of_birth}))
    assert session.get(Authorization, auth.id).status == "cancelled"
    # The pharmacy must now give the new prescriber's NPI.
    outcome = f.authorize(session, cast.rph, p, prescriber_npi=cast.dr.npi)
    assert "PRESCRIBER_MISMATCH" in [r["code"] for r in outcome.reasons]
    assert f.authorize(session, cast.rph, p, prescriber_npi=cast.other_dr.npi).eligible


def test_designee_cannot_transfer_even_to_their_own_prescriber(session, cast):
    p = f.patient(session, cast.other_dr)
    before = row_counts(session)
    with pytest.raises(PermissionDenied):
        transfer_patient(session, cast.designee.user, parse(Transfer, {
        "registry_id": p.registry_id, "date_of_birth": p.date_of_birth}))
    assert row_counts(session) == before
    assert p.prescriber_id == cast.other_dr.id
