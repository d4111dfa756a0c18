"""The lean authorization path: what it does not ask the database (issue 11).

The door reads the caller's token, user, pharmacist and pharmacy in one statement and the
operations do not fetch them again; the RMA goes in without a pre-check of its number; the
answer never lazy-loads; a refusal by the unique indexes (ON CONFLICT DO NOTHING) is a
denial, never an error or a half-written record.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import event, func, select

from registry import clock as registry_clock
from registry import db
from registry.accounts.models import User
from registry.api.blueprint import current_token
from registry.authorizations.operations import _insert_rma, request_authorization
from registry.authorizations.schemas import AuthorizationIssued, AuthorizationRequest
from registry.models import Authorization, AuthorizationDecision
from registry.permissions import pharmacist_for_user
from registry.pharmacies.models import Pharmacy
from tests.api.world import counter_world


@contextmanager
def statements(app: Any) -> Iterator[list[str]]:
    """The SQL the app's engine runs inside the block (savepoints of the test harness too)."""
    seen: list[str] = []
    engine = app.extensions["registry.engine"]

    def log(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        seen.append(" ".join(statement.split()))

    event.listen(engine, "before_cursor_execute", log)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", log)


def _own(seen: list[str]) -> list[str]:
    return [s for s in seen if "SAVEPOINT" not in s.upper()]


def test_the_door_is_one_statement_and_its_rows_are_not_fetched_again(app, clock):
    w = counter_world(app, clock)
    with app.test_request_context("/api/v1/authorization-checks", method="POST",
                                  headers={"Authorization": f"Bearer {w['rph']}"}):
        session = db.session()
        with statements(app) as seen:
            token = current_token()
        assert token is not None
        assert len(_own(seen)) <= 2  # the door, and at most the token's last-use stamp
        assert _own(seen)[0].startswith("SELECT")
        assert "pharmacists" in _own(seen)[0]
        assert "pharmacies" in _own(seen)[0]
        with statements(app) as seen:
            user = token.user
            pharmacist = pharmacist_for_user(session, user)
            pharmacy = session.get(Pharmacy, pharmacist.pharmacy_id) if pharmacist else None
        assert isinstance(user, User)
        assert user.email == w["rph_email"]
        assert pharmacist is not None
        assert pharmacist.id == w["pharmacist_id"]
        assert pharmacy is not None
        assert pharmacy.id == w["pharmacy_id"]
        assert not [s for s in _own(seen) if "pharmacists" in s or "pharmacies" in s
                    or "users" in s], seen


def test_remembered_rows_are_used_only_for_that_session_and_user(app, clock):
    w = counter_world(app, clock)
    with app.test_request_context("/api/v1/authorization-checks", method="POST",
                                  headers={"Authorization": f"Bearer {w['rph']}"}):
        token = current_token()
        assert token is not None
        other_session = app.extensions["registry.sessionmaker"]()
        try:
            found = pharmacist_for_user(other_session, token.user)
            assert found is not None
            assert found.id == w["pharmacist_id"]
            assert found is not pharmacist_for_user(db.session(), token.user)
        finally:
            other_session.close()
        doctor = db.session().execute(
            select(User).where(User.email == w["dr_email"])).scalar_one()
        assert pharmacist_for_user(db.session(), doctor) is None


def test_issuing_asks_no_rma_pre_check_and_the_answer_does_not_lazy_load(app, clock):
    w = counter_world(app, clock)
    with statements(app) as seen:
        r = w["api"].post("/authorizations", w["request"], token=w["rph"], expect=201)
    rma = r.get_json()["rma"]
    assert r.get_json()["patient"]["first_name"]
    own = _own(seen)
    assert not [s for s in own if "WHERE authorizations.rma" in s], own
    inserts = [i for i, s in enumerate(own) if s.startswith("INSERT INTO authorizations ")]
    assert len(inserts) == 1
    assert "ON CONFLICT DO NOTHING" in own[inserts[0]]
    # Nothing reads the patient again once the RMA is in (the answer names them).
    assert not [s for s in own[inserts[0]:] if s.startswith("SELECT patients.")], own
    # The caller's pharmacist is not looked up by user again after the door (the locks
    # re-read it by id, which is the point of them).
    assert not [s for s in own if "WHERE pharmacists.user_id" in s], own
    # Prescriber, pharmacy and pharmacist are locked (PostgreSQL: FOR KEY SHARE, in that
    # order) and the last two re-read in one statement, not one each.
    shared = [s for s in own if "FROM prescribers JOIN pharmacies" in s]
    assert len(shared) == 1, own
    assert not [s for s in own if "FROM pharmacies" in s or "FROM pharmacists" in s], own
    if app.extensions["registry.engine"].dialect.name == "postgresql":
        assert "FOR KEY SHARE OF prescribers, pharmacies, pharmacists" in shared[0]
    with app.app_context():
        stored = db.session().execute(
            select(Authorization).where(Authorization.rma == rma)).scalar_one()
        assert stored.patient_id == w["patient_id"]


def test_serializing_an_issued_rma_runs_no_statement(app, clock):
    w = counter_world(app, clock)
    with app.test_request_context("/", method="POST"):
        session = db.session()
        user = session.execute(select(User).where(User.email == w["rph_email"])).scalar_one()
        outcome = request_authorization(session, user,
                                        AuthorizationRequest.model_validate(w["request"]))
        assert outcome.authorization is not None
        with statements(app) as seen:
            answer = AuthorizationIssued.of(outcome.authorization)
        assert answer.patient.first_name
        assert _own(seen) == []


def test_a_refusal_by_the_unique_index_is_none_and_leaves_nothing(app, clock):
    """A second open RMA for the patient, put in behind the rules' back: the INSERT ... ON
    CONFLICT DO NOTHING inserts nothing and says so; the first RMA is untouched."""
    w = counter_world(app, clock)
    first = w["api"].post("/authorizations", w["request"], token=w["rph"],
                          expect=201).get_json()
    with app.test_request_context("/", method="POST"):
        session = db.session()
        existing = session.execute(
            select(Authorization).where(Authorization.rma == first["rma"])).scalar_one()
        values = {c: getattr(existing, c) for c in (
            "patient_id", "prescriber_id", "pharmacy_id", "pharmacist_id", "status",
            "ruleset", "issued_on", "issued_at", "do_not_dispense_after", "days_supply",
            "quantity", "refills", "closed_at", "cycle_id")}
        before = session.execute(select(func.count(Authorization.id))).scalar_one()
        assert _insert_rma(session, values) is None
        assert session.execute(select(func.count(Authorization.id))).scalar_one() == before
        session.rollback()


def test_an_idempotent_request_is_looked_up_once_and_replayed(app, clock):
    w = counter_world(app, clock)
    first = w["api"].post("/authorizations", w["request"], token=w["rph"], key="k-1",
                          expect=201)
    with statements(app) as seen:
        again = w["api"].post("/authorizations", w["request"], token=w["rph"], key="k-1",
                              expect=201)
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert again.get_json() == first.get_json()
    own = _own(seen)
    assert len([s for s in own if "FROM authorization_decisions" in s]) == 1, own
    assert not [s for s in own if "idempotency_records" in s], own
    with app.app_context():
        assert db.session().execute(
            select(func.count(AuthorizationDecision.id))).scalar_one() == 1
    other = dict(w["request"], days_supply=20)
    r = w["api"].post("/authorizations", other, token=w["rph"], key="k-1", expect=422)
    assert r.get_json()["errors"]["Idempotency-Key"]
    with app.app_context():
        session = db.session()
        assert session.execute(select(func.count(Authorization.id))).scalar_one() == 1


def test_a_refused_rma_takes_back_the_cycle_opened_for_it(app, clock):
    """Cannot get pregnant, 2026 rules: the RMA opens its own cycle. When the unique index
    refuses the RMA (an open one put in behind the rules' back), that cycle and its audit
    entry go too (the savepoint), and the answer is None: a denial, not an error."""
    from registry.audit.models import AuditEntry
    from registry.authorizations.operations import _evaluate_locked, _issue
    from registry.cycles.models import Cycle

    w = counter_world(app, clock)
    with app.test_request_context("/", method="POST"):
        session = db.session()
        user = session.execute(select(User).where(User.email == w["rph_email"])).scalar_one()
        req = AuthorizationRequest.model_validate(w["request"])
        pharmacist, patient, decision = _evaluate_locked(session, user, req)
        assert patient is not None
        assert decision.eligible
        assert decision.needs_new_cycle
        first = _issue(session, user, pharmacist, patient, decision, req, registry_clock.now(),
                       registry_clock.today())
        assert first is not None
        cycles = session.execute(select(func.count(Cycle.id))).scalar_one()
        entries = session.execute(select(func.count(AuditEntry.id))).scalar_one()
        assert _issue(session, user, pharmacist, patient, decision, req, registry_clock.now(),
                      registry_clock.today()) is None
        assert session.execute(select(func.count(Cycle.id))).scalar_one() == cycles
        assert session.execute(select(func.count(AuditEntry.id))).scalar_one() == entries
        assert session.execute(select(func.count(Authorization.id)).where(
            Authorization.patient_id == patient.id)).scalar_one() == 1
        session.rollback()



def test_every_statement_at_the_counter_has_a_cache_key(app, clock):
    """A statement SQLAlchemy cannot key (its dialect insert() constructs, for one) is
    compiled again on every request: that was half of an authorization's CPU. The door, the
    check, the status and the RMA (its insert included) are all compiled once."""
    from sqlalchemy.engine.default import NO_CACHE_KEY

    w = counter_world(app, clock)
    rid = w["request"]["registry_id"]
    seen: list[tuple[Any, str]] = []

    def log(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any,
            executemany: bool) -> None:
        seen.append((context.cache_hit, " ".join(statement.split())[:90]))

    engine = app.extensions["registry.engine"]
    event.listen(engine, "before_cursor_execute", log)
    try:
        w["api"].post("/authorization-checks", w["request"], token=w["rph"], expect=200)
        w["api"].get(f"/patients/{rid}/status", token=w["dr"], expect=200)
        w["api"].post("/authorizations", w["request"], token=w["rph"], expect=201)
    finally:
        event.remove(engine, "before_cursor_execute", log)
    assert any(s.startswith("INSERT INTO authorizations") for _, s in seen), seen
    assert not [s for hit, s in seen if hit is NO_CACHE_KEY and s in _own([s])]


def test_the_facts_statements_are_short_enough_for_psycopg_to_cache_their_conversion(app):
    """psycopg caches a statement's conversion to PostgreSQL's $n form only when its text
    is at most 4 KiB: a longer facts statement costs every check and status its conversion
    again. (The length is the same with whatever database the suite runs on: it is
    measured on the PostgreSQL dialect.)"""
    from psycopg._queries import MAX_CACHED_STATEMENT_LENGTH
    from sqlalchemy.dialects.postgresql import psycopg as pg_psycopg

    from registry.patients import facts

    dialect = pg_psycopg.dialect()
    for statement in (facts._FACTS, facts._FACTS_OF_ONE, facts._FACTS_BY_REGISTRY_ID):
        assert len(str(statement.compile(dialect=dialect))) <= MAX_CACHED_STATEMENT_LENGTH
