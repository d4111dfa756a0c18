"""The floor: the least a JSON endpoint of this stack can do, served like the registry.
And the ceilings of an RMA and of a check: the most such endpoints of this stack could reach.

One Flask endpoint: the bearer token is looked up (by its SHA-256, as the registry stores
it) and one patient row is read by key, with SQLAlchemy on the registry's own database:
2 statements. Every registry endpoint is measured against it (``bench/run``); the ratio
says how much the registry adds to the cost of the framework, the driver and the server.

The ceiling of an RMA (``POST /api/v1/ceiling``, ``bench/run --only ceiling``): an RMA's
database work as the registry does it, and its decision, with nothing else. The registry's
own seven statements (the caller's door, the patient's lock, the stakeholders' lock, the
facts, the RMA, the decision and the audit entry; their SQLAlchemy Core statements,
executed on the session's connection, so no ORM entity is made) and its own rules
(``evaluate``), then one commit, and the audit entry's seal by a sealer thread as in the
registry. No validation, permissions, idempotency, rate limit, error handling or
serializer: what an RMA would cost if all of those were free, which bounds what an RMA
endpoint with these statements can reach on Flask and SQLAlchemy. The ceiling of a check
(``POST /api/v1/ceiling-check``) is the same for a check: the door, the patient with their
facts, the audit entry.

    GUNICORN_BIND=127.0.0.1:8102 REGISTRY_DATABASE_URL=postgresql://... \\
        .venv/bin/gunicorn -c bench/gunicorn.conf.py 'bench.floor:create_app()'
"""

from __future__ import annotations

import hashlib
import os
from typing import Any

from flask import Flask, g, jsonify, request
from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session, sessionmaker

from registry import clock
from registry.api.blueprint import bearer_token, token_hash
from registry.api.models import ApiToken
from registry.audit.sealer import sealer
from registry.config import DEFAULTS
from registry.db import canonical_json, make_engine
from registry.patients.models import Patient


def create_app(database_url: str | None = None) -> Flask:
    app = Flask(__name__)
    url = database_url or os.environ["REGISTRY_DATABASE_URL"]
    # The registry's engine (same driver and pool settings), as the registry makes it.
    engine = make_engine(url, pool_size=5, max_overflow=10, pool_timeout=10)
    app.extensions["registry.engine"] = engine  # as the registry keeps it (gunicorn's when_ready)
    make_session = sessionmaker(bind=engine, expire_on_commit=False)
    # The ceilings' audit entries are sealed as the registry's are: by a sealer thread per
    # worker, woken after each commit (registry/audit/sealer.py), at the registry's pace.
    app.config["AUDIT_SEAL_INTERVAL_MS"] = DEFAULTS["AUDIT_SEAL_INTERVAL_MS"]
    app.extensions["registry.sessionmaker"] = make_session

    def session() -> Session:
        if "session" not in g:
            g.session = make_session()
        return g.session  # type: ignore[no-any-return]

    @app.teardown_appcontext
    def _close(exc: BaseException | None) -> None:
        s = g.pop("session", None)
        if s is not None:
            s.close()

    @app.post("/api/v1/floor")
    def floor() -> Any:
        s = session()
        token = s.execute(
            select(ApiToken.user_id, ApiToken.expires_at)
            .where(ApiToken.token_hash == token_hash(bearer_token() or ""))
        ).first()
        if token is None or token.expires_at <= clock.now():
            return jsonify(error="invalid token"), 401
        body = request.get_json(silent=True) or {}
        patient = s.execute(
            select(Patient).where(Patient.registry_id == str(body.get("registry_id", "")))
        ).scalar_one_or_none()
        if patient is None:
            return jsonify(error="no such patient"), 404
        return jsonify(registry_id=patient.registry_id, status=patient.status,
                       risk_category=patient.risk_category)

    @app.post("/api/v1/ceiling")
    def ceiling() -> Any:
        answer = _committed(ceiling_rma)
        return jsonify(answer), 201 if "rma" in answer else 422

    @app.post("/api/v1/ceiling-check")
    def ceiling_of_a_check() -> Any:
        answer = _committed(ceiling_check)
        return jsonify(answer), 401 if "error" in answer else 200

    def _committed(work: Any) -> dict[str, Any]:
        s = session()
        try:
            answer: dict[str, Any] = work(s, request.get_json(silent=True) or {})
            s.commit()
        except Exception:
            s.rollback()
            raise
        sealer(app).wake()
        return answer

    return app


def ceiling_rma(s: Session, body: dict[str, Any]) -> dict[str, Any]:
    """The registry's statements and rules for one RMA, on the connection (see above)."""
    from registry.audit.operations import _INSERT as INSERT_AUDIT
    from registry.authorizations.models import (
        Authorization,
        AuthorizationDecision,
        AuthorizationStatus,
    )
    from registry.authorizations.operations import _insert_returning_id
    from registry.patients.facts import _FACTS_OF_ONE, PatientRow, _by_part, _facts
    from registry.rules.eligibility import evaluate
    from registry.rules.identifiers import new_rma
    from registry.rules.params import Parameters
    from registry.rules.vocabulary import PatientStatus, RiskCategory

    conn = s.connection()
    caller = _caller(conn)
    if caller is None:
        return {"error": "invalid token"}
    row = conn.execute(_CEILING_LOCK_PATIENT,
                       {"registry_id": str(body.get("registry_id", ""))}).first()
    if row is None:
        return {"error": "no such patient"}
    standing = conn.execute(_CEILING_SHARE, {
        "prescriber_id": row.prescriber_id, "pharmacy_id": caller.pharmacy_id,
        "pharmacist_id": caller.pharmacist_id}).one()
    patient = PatientRow(
        id=row.id, registry_id=row.registry_id, user_id=row.user_id,
        prescriber_id=row.prescriber_id, course_number=row.course_number,
        date_of_birth=row.date_of_birth, risk_category=RiskCategory(row.risk_category),
        status=PatientStatus(row.status), home_tests_allowed=row.home_tests_allowed,
        contraception_start_on=row.contraception_start_on,
        course_started_on=row.course_started_on, last_dose_on=row.last_dose_on)
    facts = _facts(patient, _by_part(conn.execute(
        _FACTS_OF_ONE, {"id": row.id, "prescriber_id": row.prescriber_id})))
    today, now = clock.today(), clock.now()
    request_facts = _request_facts(body, standing)
    decision = evaluate(facts, today, Parameters(), request_facts)
    rma = None
    auth_id = None
    if decision.eligible and decision.cycle is not None and not decision.needs_new_cycle:
        rma = new_rma()
        values = {"rma": rma, "patient_id": row.id, "prescriber_id": row.prescriber_id,
                  "pharmacy_id": caller.pharmacy_id, "pharmacist_id": caller.pharmacist_id,
                  "status": AuthorizationStatus.AUTHORIZED, "ruleset": decision.ruleset,
                  "issued_on": today,
                  "issued_at": now, "do_not_dispense_after": decision.do_not_dispense_after,
                  "days_supply": request_facts.days_supply,
                  "quantity": request_facts.quantity, "refills": request_facts.refills,
                  "closed_at": None, "cycle_id": decision.cycle.id}
        auth_id = conn.execute(_insert_returning_id(Authorization, tuple(values)),
                               values).scalar()
    reasons = [r.as_dict() for r in decision.reasons]
    decided = {
        "requested_at": now, "requested_on": today, "requested_by_id": caller.user_id,
        "pharmacist_id": caller.pharmacist_id, "pharmacy_id": caller.pharmacy_id,
        "patient_id": row.id, "request": body,
        "request_fingerprint": hashlib.sha256(canonical_json(body).encode()).hexdigest(),
        "idempotency_key": None, "eligible": auth_id is not None, "reasons": reasons,
        "ruleset": decision.ruleset, "parameters": decision.parameters,
        "authorization_id": auth_id}
    decision_id = conn.execute(_insert_returning_id(AuthorizationDecision, tuple(decided)),
                               decided).scalar()
    conn.execute(INSERT_AUDIT, {
        "occurred_at": now, "user_id": caller.user_id, "role": caller.role,
        "action": "authorization:issue" if auth_id else "authorization:deny",
        "subject_type": "authorization" if auth_id else "authorization_decision",
        "subject_id": rma or str(decision_id), "before": None,
        "after": {"rma": rma, "decision_id": decision_id, "reasons": reasons}})
    if rma is None:
        return {"reasons": [r["code"] for r in reasons]}
    return {"rma": rma, "status": AuthorizationStatus.AUTHORIZED, "ruleset": decision.ruleset,
            "do_not_dispense_after": str(decision.do_not_dispense_after),
            "patient": {"first_name": row.first_name, "last_name": row.last_name}}


def ceiling_check(s: Session, body: dict[str, Any]) -> dict[str, Any]:
    """The registry's statements and rules for one authorization check: the door, the
    patient with their facts (one statement, as the registry reads them for a check) and
    the audit entry of the check."""
    from registry.audit.operations import _INSERT as INSERT_AUDIT
    from registry.patients.facts import load_by_registry_id
    from registry.rules.eligibility import evaluate
    from registry.rules.params import Parameters

    conn = s.connection()
    caller = _caller(conn)
    if caller is None:
        return {"error": "invalid token"}
    found = load_by_registry_id(s, str(body.get("registry_id", "")))
    decision = evaluate(found[1] if found else None, clock.today(), Parameters(),
                        _request_facts(body, caller))
    conn.execute(INSERT_AUDIT, {
        "occurred_at": clock.now(), "user_id": caller.user_id, "role": caller.role,
        "action": "authorization:check", "subject_type": "patient",
        "subject_id": str(found[0].id) if found else None, "before": None,
        "after": {"request": body, "eligible": decision.eligible,
                  "reasons": decision.codes, "ruleset": decision.ruleset,
                  "pharmacy_id": caller.pharmacy_id}})
    return {"eligible": decision.eligible, "reasons": decision.codes,
            "ruleset": decision.ruleset,
            "do_not_dispense_after": str(decision.do_not_dispense_after)}


def _caller(conn: Any) -> Any:
    """The request's valid token with its pharmacist's and pharmacy's standing (one row),
    or None."""
    caller = conn.execute(_CEILING_DOOR,
                          {"token_hash": token_hash(bearer_token() or "")}).first()
    if caller is None or caller.expires_at <= clock.now() or caller.revoked_at is not None:
        return None
    return caller


def _request_facts(body: dict[str, Any], standing: Any) -> Any:
    from registry.rules.facts import RequestFacts, StakeholderFacts

    return RequestFacts(
        prescriber_npi=str(body.get("prescriber_npi", "")),
        days_supply=int(body.get("days_supply", 30)), quantity=int(body.get("quantity", 60)),
        refills=int(body.get("refills", 0)),
        pharmacy=StakeholderFacts(standing.activated_on, standing.pharmacy_suspended_until,
                                  standing.pharmacy_deactivated_on),
        pharmacist=StakeholderFacts(standing.training_completed_on, standing.suspended_until,
                                    standing.deactivated_on, standing.removed_on))


def _ceiling_statements() -> tuple[Any, Any, Any]:
    """The door, the patient's lock and the stakeholders' lock as the registry runs them
    (registry/api/blueprint.py, registry/locks.py), selecting columns instead of entities."""
    from sqlalchemy import true

    from registry.accounts.models import User
    from registry.pharmacies.models import Pharmacist, Pharmacy
    from registry.prescribers.models import Prescriber

    door = (select(ApiToken.user_id, ApiToken.expires_at, ApiToken.revoked_at, User.role,
                   Pharmacist.id.label("pharmacist_id"), Pharmacist.pharmacy_id,
                   *_standing(Pharmacy, Pharmacist))
            .join(User, User.id == ApiToken.user_id)
            .join(Pharmacist, Pharmacist.user_id == User.id)
            .join(Pharmacy, Pharmacy.id == Pharmacist.pharmacy_id)
            .where(ApiToken.token_hash == bindparam("token_hash")))
    table = Patient.__table__
    lock = select(table).where(table.c.registry_id == bindparam("registry_id")) \
        .with_for_update(of=table)
    share = (select(Prescriber.id, *_standing(Pharmacy, Pharmacist))
             .select_from(Prescriber).join(Pharmacy, true()).join(Pharmacist, true())
             .where(Prescriber.id == bindparam("prescriber_id"),
                    Pharmacy.id == bindparam("pharmacy_id"),
                    Pharmacist.id == bindparam("pharmacist_id"))
             .with_for_update(of=[Prescriber, Pharmacy, Pharmacist], key_share=True,
                              read=True))
    return door, lock, share


def _standing(pharmacy: Any, pharmacist: Any) -> list[Any]:
    return [pharmacy.activated_on, pharmacy.suspended_until.label("pharmacy_suspended_until"),
            pharmacy.deactivated_on.label("pharmacy_deactivated_on"),
            pharmacist.training_completed_on, pharmacist.suspended_until,
            pharmacist.deactivated_on, pharmacist.removed_on]


_CEILING_DOOR, _CEILING_LOCK_PATIENT, _CEILING_SHARE = _ceiling_statements()
