"""Build a registry of N patients for the benchmarks, quickly and honestly.

    .venv/bin/python bench/seed.py --patients 10000 --audit-dir instance/bench/10k \
        --database-url postgresql://postgres@127.0.0.1:5432/registry_bench_10k

1. A fresh schema (the migrations) and the question bank.
2. Prescribers, pharmacies and pharmacists, made by the real operations.
3. Template patients, made by the real operations (registration, activation, pregnancy
   tests, counseling, comprehension answers, contraception, RMAs issued and dispensed), in
   several states: ready for their first RMA today, RMA open, RMA dispensed, cannot get
   pregnant (ready), missing their comprehension answers, waiting for activation.
4. Clones of the templates made in SQL, table by table (INSERT ... SELECT over
   generate_series on PostgreSQL, a recursive CTE on SQLite): clone k of a row gets the id
   ``id + k * span`` (span: how many ids the templates took in that table), foreign keys
   to cloned rows move the same way, and what must be unique is made unique (e-mail
   addresses, registry IDs with their check digit, RMA numbers). Passwords: a clone keeps
   its template's argon2 hash (same password, distinct user).
5. Each clone's audit entries: the templates' entries with the clone's ids, inserted
   unsealed like every entry the registry writes, then sealed in id order after the
   chain's head: the hashes are computed here in Python, exactly as the sealer does
   (``entry_hash``), and written by the one UPDATE the append-only triggers allow.
   SQLite: the registry's own sealer.
6. A signed checkpoint, then ``registry audit verify`` (``--verify``) says whether the
   chain is intact.

Nothing else may use the database while it is seeded (the clones extend the audit chain
from the head this script read; the audit log's plain indexes are dropped during the bulk
load and built again at the end).

Patients in the "ready" state are the pool ``bench/run`` issues real RMAs to (each once);
their window is open for a week from the day of seeding.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from registry.accounts.operations import addresses_trusted
from registry.db import canonical_json

ROOT = Path(__file__).resolve().parent.parent

PASSWORD = "bench-password-1"  # every bench account (same hash for a template's clones)
PRESCRIBERS = 8
PHARMACIES = 4
PHARMACISTS_PER_PHARMACY = 2
METHODS = {"methods": ["iud", "male_latex_condom"]}

# Template states and how many templates of each per prescriber (out of 10): "ready" (half
# the patients) is the pool bench/run issues RMAs to.
STATES: dict[str, int] = {
    "ready": 5,  # can get pregnant: tests, counseling, answers, contraception: eligible today
    "readyx": 1,  # cannot get pregnant: counseled, answers: eligible today
    "open": 1,  # an RMA issued today, not yet dispensed
    "dispensed": 1,  # an RMA issued and dispensed today
    "incomplete": 1,  # counseled, no comprehension answers nor contraception: one denial
    "pending": 1,  # registered, not activated
}

# Not cloned: the people and places every patient shares, and what the bench never makes.
SHARED_TABLES = {"prescribers", "designees", "designee_links", "pharmacies", "pharmacists",
                 "comprehension_questions", "compliance_actions", "api_tokens",
                 "idempotency_records", "user_sessions", "form_submissions", "audit_entries",
                 # filled by the database's trigger as the cloned decisions are inserted
                 "denial_reasons"}
# Columns whose value must differ per clone (unique, or a person's name and address).
PREFIXED = {("users", "email"), ("patients", "email")}
SUFFIXED = {("users", "last_name"), ("patients", "last_name")}
GENERATED = {("patients", "registry_id"), ("authorizations", "rma")}


def log(message: str) -> None:
    print(message, flush=True)


def registry_id_for(row_id: int, base: int = 900_000_000) -> str:
    """A clone's registry ID: ``base - row_id`` and its check digit (9 digits for any id
    under ``base - 100 million``); ``base`` from :func:`registry_id_base`."""
    from registry.rules.identifiers import verhoeff_check_digit

    body = str(base - row_id)
    return body + verhoeff_check_digit(body)


def registry_id_base(templates: Iterable[str], last_row_id: int) -> int:
    """Where the clones' registry IDs count down from: the first of 900, 850, 800...
    million whose ``last_row_id`` IDs below it hold none of the templates' (made by the
    registry, at random: with 80 templates and a million clones, 900 million alone met
    one of them about one seed in eleven)."""
    bodies = [int(t[:9]) for t in templates]
    for base in range(900_000_000, 100_000_000 + last_row_id, -50_000_000):
        if not any(base - last_row_id <= b <= base for b in bodies):
            return base
    raise SystemExit("bench/seed.py: no range of registry IDs free for the clones")


RMA_ALPHABET = "ACDEFHJKLMNPQRTUVWXY3479"


def rma_for(row_id: int) -> str:
    digits = []
    n = row_id
    while n:
        n, r = divmod(n, len(RMA_ALPHABET))
        digits.append(RMA_ALPHABET[r])
    return "B" + "".join(reversed(digits)).rjust(11, "A")  # B...: never a random RMA's 1st?


def generated_value(table: str, column: str, new_id: int, base: int = 900_000_000) -> str:
    return registry_id_for(new_id, base) if column == "registry_id" else rma_for(new_id)


# --- 1-3: the real operations -----------------------------------------------------------


@dataclass
class Built:
    templates: dict[str, list[int]] = field(default_factory=dict)  # state -> patient ids


def build_people(session: Any, prescribers: int = PRESCRIBERS) -> None:
    from registry import clock
    from registry.contract import parse
    from registry.pharmacies.operations import activate_pharmacy, add_pharmacist, register_pharmacy
    from registry.pharmacies.schemas import (
        PharmacistAddition,
        PharmacyActivation,
        PharmacyRegistration,
    )
    from registry.prescribers.operations import attest_prescriber, enroll_prescriber
    from registry.prescribers.schemas import PrescriberEnrollment
    from registry.rules.identifiers import npi_with_check_digit

    with clock.travel(-40):
        for i in range(prescribers):
            dr = enroll_prescriber(session, parse(
                PrescriberEnrollment, email=f"bench-dr{i}@example.org", password=PASSWORD,
                first_name="Bench", last_name=f"Prescriber{i}",
                npi=npi_with_check_digit(f"19{i:07d}")))
            attest_prescriber(session, dr.user, dr)
        for i in range(PHARMACIES):
            ph = register_pharmacy(session, parse(
                PharmacyRegistration, name=f"Bench Pharmacy {i}", ncpdp_id=f"76{i:05d}",
                npi=npi_with_check_digit(f"18{i:07d}"),
                rsp={"email": f"bench-rsp{i}@example.org", "password": PASSWORD,
                     "first_name": "Bench", "last_name": f"Rsp{i}", "license_number": f"R{i}"}))
            rsp = ph.pharmacists[0].user
            activate_pharmacy(session, rsp, ph, PharmacyActivation(staff_trained=True))
            for j in range(PHARMACISTS_PER_PHARMACY):
                add_pharmacist(session, rsp, ph, parse(
                    PharmacistAddition, email=f"bench-rph{i}-{j}@example.org",
                    password=PASSWORD, first_name="Bench", last_name=f"Pharmacist{i}-{j}",
                    license_number=f"P{i}-{j}", training_completed_on=clock.today()))


def build_templates(session: Any, commit: Any) -> Built:
    """Template patients in every state, by the operations a prescriber, patient and
    pharmacist would use (screening 31 days ago, everything else today)."""
    from sqlalchemy import select

    from registry import clock
    from registry.accounts.models import User
    from registry.authorizations.operations import record_dispense, request_authorization
    from registry.authorizations.schemas import AuthorizationRequest, Dispensation
    from registry.contract import parse
    from registry.cycles.operations import (
        attest_contraception,
        comprehension_questions,
        confirm_counseling,
        take_comprehension,
    )
    from registry.cycles.schemas import (
        ComprehensionAnswers,
        Contraception,
        CounselingEntry,
        PregnancyTestEntry,
    )
    from registry.patients.operations import activate_patient, register_patient
    from registry.patients.schemas import PatientActivation, PatientRegistration
    from registry.pharmacies.models import Pharmacist
    from registry.pregnancies.operations import record_pregnancy_test
    from registry.prescribers.models import Prescriber

    prescribers = session.execute(select(Prescriber).order_by(Prescriber.id)).scalars().all()
    pharmacists = session.execute(
        select(Pharmacist).order_by(Pharmacist.id)).scalars().all()
    built = Built({state: [] for state in STATES})
    plan = [(dr, state, n) for dr in prescribers for state, count in STATES.items()
            for n in range(count)]
    made = []
    with clock.travel(-31):
        for dr, state, n in plan:
            can = state != "readyx"
            p, code, _ = register_patient(session, dr.user, parse(
                PatientRegistration, first_name="Bench", last_name=f"{state}{dr.id}x{n}",
                date_of_birth="1990-01-01", email=f"bench-{state}-{dr.id}-{n}@example.org",
                risk_category="can_get_pregnant" if can else "cannot_get_pregnant",
                consent_signed_on=clock.today(),
                contraception_start_date=clock.today() if can else None))
            if state != "pending":
                activate_patient(session, PatientActivation(
                    registry_id=p.registry_id, date_of_birth=p.date_of_birth,
                    activation_code=code, password=PASSWORD))
                if can:
                    record_pregnancy_test(session, dr.user, p, parse(
                        PregnancyTestEntry, specimen_collected_on=clock.today(),
                        result="negative", setting="lab"))
            made.append((dr, state, p))
        commit()
    for i, (dr, state, p) in enumerate(made):
        built.templates[state].append(p.id)
        if state == "pending":
            continue
        can = state != "readyx"
        if can:
            record_pregnancy_test(session, dr.user, p, parse(
                PregnancyTestEntry, specimen_collected_on=clock.today(), result="negative",
                setting="lab"))
        confirm_counseling(session, dr.user, p, parse(
            CounselingEntry, counseled_on=clock.today(),
            **({"contraception": METHODS} if can else {})))
        if state == "incomplete":
            # A pharmacist asks anyway and is denied (answers and contraception missing):
            # the summary report has denials and their reasons to count.
            rph = pharmacists[i % len(pharmacists)]
            outcome = request_authorization(session, session.get(User, rph.user_id), parse(
                AuthorizationRequest, registry_id=p.registry_id, date_of_birth="1990-01-01",
                prescriber_npi=dr.npi, days_supply=30, quantity=60, refills=0))
            if outcome.authorization is not None:
                raise SystemExit("template incomplete: authorized")
            continue
        _, questions = comprehension_questions(session, p.user)
        take_comprehension(session, p.user, ComprehensionAnswers(
            answers={str(q.id): q.correct_choice for q in questions}))
        if can:
            attest_contraception(session, p.user, parse(Contraception, METHODS))
        if state in ("open", "dispensed"):
            rph = pharmacists[i % len(pharmacists)]
            outcome = request_authorization(session, session.get(User, rph.user_id), parse(
                AuthorizationRequest, registry_id=p.registry_id, date_of_birth="1990-01-01",
                prescriber_npi=dr.npi, days_supply=30, quantity=60, refills=0))
            if outcome.authorization is None:
                raise SystemExit(f"template {state}: not authorized: {outcome.reasons}")
            if state == "dispensed":
                record_dispense(session, session.get(User, rph.user_id), outcome.authorization,
                                parse(Dispensation, dispensed_on=clock.today(), quantity=60,
                                      days_supply=30))
        commit()
    commit()
    return built


def ready_cases(database_url: str, limit: int) -> tuple[list[str], list[dict[str, Any]]]:
    """From a seeded database: the pharmacists' e-mails, and up to ``limit`` request bodies
    (authorization check or request) for patients eligible today with no RMA yet, in
    random order. What bench/run, bench/authorize.py and bench/slow_clients.py ask with."""
    from sqlalchemy import create_engine

    if database_url.startswith("postgresql://"):
        database_url = "postgresql+psycopg://" + database_url.removeprefix("postgresql://")
    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            pharmacists = [r[0] for r in conn.exec_driver_sql(
                "SELECT email FROM users WHERE email LIKE 'bench-rph%%' ORDER BY id")]
            rows = conn.exec_driver_sql(
                "SELECT p.registry_id, pr.npi FROM patients p "
                "JOIN prescribers pr ON pr.id = p.prescriber_id "
                "WHERE p.last_name LIKE 'ready%%' AND p.last_name NOT LIKE 'readyx%%' "
                "AND p.status = 'active' AND NOT EXISTS "
                "(SELECT 1 FROM authorizations a WHERE a.patient_id = p.id) "
                f"ORDER BY random() LIMIT {int(limit)}").all()
    finally:
        engine.dispose()
    bodies = [{"registry_id": rid, "date_of_birth": "1990-01-01", "prescriber_npi": npi,
               "days_supply": 30, "quantity": 60, "refills": 0} for rid, npi in rows]
    return pharmacists, bodies


# --- 4: clones in SQL ------------------------------------------------------------------


@dataclass
class Span:
    lo: int  # template rows: lo < id <= hi
    hi: int

    @property
    def size(self) -> int:
        return self.hi - self.lo


def max_ids(conn: Any, tables: list[Any]) -> dict[str, int]:
    from sqlalchemy import func, select

    return {t.name: conn.execute(select(func.coalesce(func.max(t.c.id), 0))).scalar_one()
            for t in tables}


def clone_sql(table: Any, spans: dict[str, Span], dialect: str, k0: int, k1: int) -> str:
    span = spans[table.name]
    exprs, joins = [], []
    for col in table.columns:
        ref = f"src.{col.name}"
        fk = next(iter(col.foreign_keys), None)
        target = fk.column.table.name if fk is not None else None
        if col.name == "id":
            exprs.append(f"src.id + s.k * {span.size}")
        elif (table.name, col.name) in GENERATED:
            alias = f"g_{col.name}"
            joins.append(f"JOIN seed_generated {alias} ON {alias}.tbl = '{table.name}' "
                         f"AND {alias}.id = src.id + s.k * {span.size}")
            exprs.append(f"{alias}.value")
        elif target in spans:
            t = spans[target]
            exprs.append(f"CASE WHEN {ref} > {t.lo} THEN {ref} + s.k * {t.size} ELSE {ref} END")
        elif (table.name, col.name) in PREFIXED:
            exprs.append(f"'c' || CAST(s.k AS VARCHAR(10)) || '.' || {ref}")
        elif (table.name, col.name) in SUFFIXED:
            exprs.append(f"{ref} || 'c' || CAST(s.k AS VARCHAR(10))")
        else:
            exprs.append(ref)
    columns = ", ".join(f'"{c.name}"' for c in table.columns)
    if dialect == "postgresql":
        series, prefix = f"generate_series({k0}, {k1}) AS s(k)", ""
    else:
        prefix = (f"WITH RECURSIVE s(k) AS (SELECT {k0} UNION ALL SELECT k + 1 FROM s "
                  f"WHERE k < {k1}) ")
        series = "s"
    return (f'{prefix}INSERT INTO "{table.name}" ({columns}) SELECT {", ".join(exprs)} '
            f'FROM "{table.name}" AS src CROSS JOIN {series} {" ".join(joins)} '
            f"WHERE src.id > {span.lo} AND src.id <= {span.hi}")


# --- 5: audit entries of the clones ------------------------------------------------------


class AuditCloner:
    """The templates' audit entries, as clone k would have written them."""

    ID_KEYS = {"patient_id": "patients", "user_id": "users", "cycle_id": "cycles",
               "authorization_id": "authorizations", "pregnancy_test_id": "pregnancy_tests",
               "counseling_id": "counselings", "attempt_id": "comprehension_attempts",
               "decision_id": "authorization_decisions"}
    # What the "id" in an entry's data names, when it is not the subject itself.
    ACTION_TABLE = {"pregnancy_test:record": "pregnancy_tests", "counseling:confirm": "counselings",
                    "contraception:attest": "contraception_entries",
                    "comprehension:attempt": "comprehension_attempts"}

    def __init__(self, entries: list[Any], spans: dict[str, Span], tables: dict[str, Any],
                 template_values: dict[tuple[str, str], dict[str, int]],
                 registry_id_base: int = 900_000_000) -> None:
        self.entries = entries
        self.spans = spans
        self.tables = tables
        # generated values of the templates (registry ID -> patient id, RMA -> auth id)
        self.template_values = template_values
        self.registry_id_base = registry_id_base

    def _fk_target(self, table: str | None, key: str) -> str | None:
        t = self.tables.get(table or "")
        if t is not None and key in t.c:
            fk = next(iter(t.c[key].foreign_keys), None)
            if fk is not None:
                return str(fk.column.table.name)
        return self.ID_KEYS.get(key)

    def _mover(self, table: str | None, key: str, value: Any) -> Callable[[int], Any] | None:
        """How ``value`` (under ``key``, in a record of ``table``) reads in clone k; None
        when it is the same in every clone."""
        if isinstance(value, dict | list) or value is None:
            return None
        if key == "id" or (key.endswith("_id") and key != "registry_id"):
            span = self.spans.get((table if key == "id" else self._fk_target(table, key)) or "")
            try:
                n = int(value)
            except (TypeError, ValueError):
                return None
            if span is None or n <= span.lo:
                return None
            size = span.size
            if isinstance(value, str):
                return lambda k: str(n + k * size)
            return lambda k: n + k * size
        if key in ("registry_id", "rma") and isinstance(value, str):
            table_of = "patients" if key == "registry_id" else "authorizations"
            tid = self.template_values[(table_of, key)].get(value)
            if tid is None:
                return None
            size = self.spans[table_of].size
            if key == "rma":
                return lambda k: rma_for(tid + k * size)
            base = self.registry_id_base
            return lambda k: registry_id_for(tid + k * size, base)
        if key == "email" and isinstance(value, str):
            return lambda k: f"c{k}.{value}"
        if key == "last_name" and isinstance(value, str):
            return lambda k: f"{value}c{k}"
        return None

    def _mark(self, table: str | None, data: Any, funcs: list[Any]) -> Any:
        """``data`` with every value that changes per clone replaced by a marker."""
        if not isinstance(data, dict):
            return data
        out = {}
        for key, v in data.items():
            mover = self._mover(table, key, v)
            if isinstance(v, dict):
                out[key] = self._mark(table, v, funcs)
            elif mover is not None:
                funcs.append(mover)
                out[key] = f"@@S{len(funcs) - 1}@@"
            else:
                out[key] = v
        return out

    def _compile(self, e: Any) -> tuple[Any, ...]:
        table = e.subject_type + "s" if e.subject_type + "s" in self.spans else None
        data_table = self.ACTION_TABLE.get(e.action, table)
        funcs: list[Any] = []
        before = self._mark(data_table, e.before, funcs)
        after = self._mark(data_table, e.after, funcs)
        marked = {}
        for name, value, of in (("user_id", e.user_id, "users"),
                                ("subject_id", e.subject_id, table)):
            mover = self._mover(of, "id", value)
            if mover is None:
                marked[name] = (None, value)
            else:
                funcs.append(mover)
                marked[name] = (len(funcs) - 1, f"@@S{len(funcs) - 1}@@")
        content = {"occurred_at": e.occurred_at.isoformat(), "user_id": marked["user_id"][1],
                   "role": e.role, "action": e.action, "subject_type": e.subject_type,
                   "subject_id": marked["subject_id"][1], "before": before, "after": after}
        return (e, funcs, Template(canonical_json(content)),
                Template(canonical_json(before)) if before is not None else None,
                Template(canonical_json(after)) if after is not None else None,
                marked["user_id"][0], marked["subject_id"][0])

    def rows(self, k: int) -> Iterator[tuple[tuple[Any, ...], str]]:
        """((id, occurred_at, user_id, role, action, subject_type, subject_id, before JSON,
        after JSON), the canonical JSON of the content that is hashed)"""
        if not hasattr(self, "_compiled"):
            self._compiled = [self._compile(e) for e in self.entries]
        size = self.spans["audit_entries"].size
        dumps = json.dumps
        for e, funcs, content, before, after, user_at, subject_at in self._compiled:
            values = [f(k) for f in funcs]
            texts = [str(v) if type(v) is int else dumps(v) for v in values]
            yield ((e.id + k * size, e.occurred_at,
                    e.user_id if user_at is None else values[user_at],
                    e.role, e.action, e.subject_type,
                    e.subject_id if subject_at is None else values[subject_at],
                    before.render(texts) if before else None,
                    after.render(texts) if after else None), content.render(texts))


class Template:
    """A JSON text with markers where a clone's values go (JSON texts themselves)."""

    def __init__(self, text: str) -> None:
        parts = re.split(r'"@@S(\d+)@@"', text)
        literal = [p.replace("{", "{{").replace("}", "}}") for p in parts[0::2]]
        fields = [f"{{{i}}}" for i in parts[1::2]]
        self.format = "".join(a + b for a, b in zip(literal, [*fields, ""], strict=True))

    def render(self, values: list[str]) -> str:
        return self.format.format(*values)


@dataclass
class Row:
    """What ``entry_hash`` reads of an entry."""

    occurred_at: datetime
    user_id: int | None
    role: str
    action: str
    subject_type: str
    subject_id: str | None
    before: Any
    after: Any


# --- the whole build -----------------------------------------------------------------------


def fresh_schema(app: Any, url: str) -> None:
    from alembic import command
    from sqlalchemy import text

    from registry import db
    from registry.cli import alembic_config
    from registry.cycles.operations import load_question_bank

    if url.startswith("postgresql"):
        with db.engine().begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
    command.upgrade(alembic_config(url), "head")
    with db.unit_of_work() as session:
        load_question_bank(session)


def seed(url: str, patients: int, audit_dir: Path, *, verify: bool = False,
         chunk: int = 250, prescribers: int = PRESCRIBERS,
         config: dict[str, Any] | None = None) -> dict[str, Any]:
    """Build the registry; returns figures (patients, audit entries, seconds)."""
    from sqlalchemy import select, text

    from registry import create_app, db
    from registry.audit.checkpoints import verify_log, write_checkpoint
    from registry.audit.models import AuditEntry
    from registry.audit.operations import (
        CONTENT_COLUMNS,
        GENESIS,
        chain_head,
        entry_hash,
        seal,
    )
    from registry.config import from_environment
    from registry.models import Base

    audit_dir.mkdir(parents=True, exist_ok=True)
    # The served app's configuration (defaults and REGISTRY_* variables: the argon2
    # parameters above all), on this database and audit files; ``config`` overrides.
    settings = {**from_environment(os.environ), **(config or {}), "DATABASE_URL": url,
                "AUDIT_SIGNING_KEY_FILE": str(audit_dir / "audit-signing-key.pem"),
                "AUDIT_CHECKPOINT_FILE": str(audit_dir / "audit-checkpoints.jsonl")}
    checkpoints = audit_dir / "audit-checkpoints.jsonl"
    if checkpoints.exists():
        checkpoints.unlink()  # a fresh chain: the old checkpoints would say "emptied"
    app = create_app(settings)
    started = time.perf_counter()
    figures: dict[str, Any] = {}
    with app.app_context():
        fresh_schema(app, url)
        session = db.session()
        tables = [t for t in Base.metadata.sorted_tables if "id" in t.c]
        by_name = {t.name: t for t in tables}
        with addresses_trusted():  # made-up addresses: no confirmation links
            build_people(session, prescribers)
            db.commit_request()
            conn = session.connection()
            before = max_ids(conn, tables)
            built = build_templates(session, db.commit_request)
        with db.unit_of_work() as s:
            seal(s)
        conn = session.connection()
        after = max_ids(conn, tables)
        spans = {name: Span(before[name], after[name]) for name in after
                 if after[name] > before[name] and name not in SHARED_TABLES}
        audit_span = Span(before["audit_entries"], after["audit_entries"])
        n_templates = sum(len(v) for v in built.templates.values())
        clones = max(0, -(-patients // n_templates) - 1)
        t_templates = time.perf_counter() - started
        log(f"templates: {n_templates} patients by the real operations in "
            f"{t_templates:.1f} s; {clones} clones of each to make")

        template_entries = session.execute(
            select(AuditEntry.id, *CONTENT_COLUMNS)
            .where(AuditEntry.id > audit_span.lo, AuditEntry.id <= audit_span.hi)
            .order_by(AuditEntry.id)).all()
        template_values = {
            ("patients", "registry_id"): dict(session.execute(text(
                f"SELECT registry_id, id FROM patients WHERE id > {spans['patients'].lo}")).all()),
            ("authorizations", "rma"): dict(session.execute(text(
                f"SELECT rma, id FROM authorizations WHERE id > "
                f"{spans['authorizations'].lo}")).all()),
        }
        last_patient = spans["patients"].hi + clones * spans["patients"].size
        base = registry_id_base(template_values[("patients", "registry_id")], last_patient)
        cloner = AuditCloner(template_entries, {**spans, "audit_entries": audit_span},
                             by_name, template_values, base)
        db.commit_request()

        dialect = db.engine().dialect.name
        clone_tables = [t for t in tables if t.name in spans]
        with db.engine().connect() as conn:
            cur = Cursor(conn, dialect)
            cur.execute("CREATE TEMPORARY TABLE seed_generated "
                        "(tbl VARCHAR(40), id BIGINT, value VARCHAR(20), PRIMARY KEY (tbl, id))")
            head = conn.exec_driver_sql(
                "SELECT seq, hash FROM audit_entries WHERE seq IS NOT NULL "
                "ORDER BY seq DESC LIMIT 1").first()
            seq, prev = (int(head[0]), str(head[1])) if head else (0, GENESIS)
            t_clone = time.perf_counter()
            entries = 0
            # Bulk load: the audit log's plain indexes are built once at the end rather than
            # updated twice per entry (insert, then seal). Unique ones stay: they check.
            rebuilt = [ix for ix in AuditEntry.__table__.indexes if not ix.unique]
            if dialect == "postgresql" and clones:
                for ix in rebuilt:
                    ix.drop(conn)
                conn.commit()
            for k0 in range(1, clones + 1, chunk):
                k1 = min(clones, k0 + chunk - 1)
                generated = [(tbl, tid + k * spans[tbl].size,
                              generated_value(tbl, col, tid + k * spans[tbl].size, base))
                             for (tbl, col), values in template_values.items()
                             for tid in values.values() for k in range(k0, k1 + 1)]
                cur.write_rows("seed_generated", ("tbl", "id", "value"), generated)
                t0 = time.perf_counter()
                for table in clone_tables:
                    cur.execute(clone_sql(table, spans, dialect, k0, k1))
                t1 = time.perf_counter()
                rows = [r for k in range(k0, k1 + 1) for r in cloner.rows(k)]
                if dialect == "postgresql":
                    seals = []
                    for i, (r, content) in enumerate(rows):
                        seq += 1
                        digest = hashlib.sha256((prev + content).encode()).hexdigest()
                        if i % 5000 == 0:  # the sealer's own function agrees
                            row = Row(r[1], r[2], r[3], r[4], r[5], r[6], _loads(r[7]),
                                      _loads(r[8]))
                            assert entry_hash(prev, row) == digest, (r, content)
                        seals.append((r[0], seq, prev, digest))
                        prev = digest
                    t2 = time.perf_counter()
                    cur.write_rows("audit_entries", AUDIT_COLUMNS, [r for r, _ in rows])
                    t3 = time.perf_counter()
                    cur.seal_rows(seals)
                else:  # through the ORM's types; the registry's sealer chains them below
                    conn.execute(AuditEntry.__table__.insert(), [
                        dict(zip(AUDIT_COLUMNS, (*r[:7], _loads(r[7]), _loads(r[8])),
                                 strict=True)) for r, _ in rows])
                cur.execute("DELETE FROM seed_generated")
                conn.commit()
                t4 = time.perf_counter()
                if dialect == "postgresql":
                    phases = (f" [SQL clone {t1 - t0:.1f} s, audit rows and hashes "
                              f"{t2 - t1:.1f} s, COPY {t3 - t2:.1f} s, seal {t4 - t3:.1f} s]")
                else:
                    phases = ""
                entries += len(rows)
                done = n_templates * (k1 + 1)
                rate = done / (time.perf_counter() - t_clone)
                log(f"  {done:,} patients, {entries:,} cloned audit entries "
                    f"({rate:,.0f} patients/s){phases}")
            if dialect == "postgresql":
                finish_postgresql(conn, tables)
        db.engine().dispose()

    with app.app_context():
        with db.unit_of_work() as s:
            sealed = seal(s)  # SQLite: the clones' entries; PostgreSQL: nothing left
        with db.unit_of_work() as s:
            checkpoint = write_checkpoint(s)
            head_seq, _ = chain_head(s)
        elapsed = time.perf_counter() - started
        count = db.session().execute(text("SELECT count(*) FROM patients")).scalar_one()
        figures = {"patients": count, "templates": n_templates, "audit_entries": head_seq,
                   "sealed_by_registry": sealed, "seconds": round(elapsed, 1),
                   "checkpoint": checkpoint.count}
        log(f"seeded {count:,} patients, {head_seq:,} audit entries (chain head signed) "
            f"in {elapsed:.1f} s")
        if verify:
            t0 = time.perf_counter()
            report = verify_log(db.session())
            figures["verify_ok"] = report.ok if hasattr(report, "ok") else not report.findings
            figures["verify_seconds"] = round(time.perf_counter() - t0, 1)
            log(f"audit verify: {'intact' if not report.findings else 'BROKEN'} "
                f"({report.summary()}) in {figures['verify_seconds']} s")
            for finding in report.findings[:10]:
                log(f"  [{finding.kind}] {finding.message}")
        db.rollback_request()
        db.engine().dispose()
    return figures


def finish_postgresql(conn: Any, tables: list[Any]) -> None:
    """After the bulk load (or an interrupted one): the audit log's plain indexes built
    again, the id sequences moved past the clones, the tables vacuumed and the planner's
    statistics up to date."""
    from registry.audit.models import AuditEntry

    t0 = time.perf_counter()
    for ix in AuditEntry.__table__.indexes:
        ix.create(conn, checkfirst=True)
    conn.commit()
    log(f"  audit indexes built in {time.perf_counter() - t0:.1f} s")
    for table in tables:
        conn.exec_driver_sql(f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), "
                             f"(SELECT coalesce(max(id), 1) FROM \"{table.name}\"))")
    conn.commit()
    # VACUUM, not only ANALYZE: the visibility map makes counts over the audit log's seq
    # index (audit verify from a checkpoint) index-only scans; autovacuum would get there
    # later. VACUUM cannot run in a transaction.
    t0 = time.perf_counter()
    conn.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql("VACUUM ANALYZE")
    conn.commit()
    log(f"  vacuumed and analyzed in {time.perf_counter() - t0:.1f} s")


def finish_interrupted(url: str, audit_dir: Path) -> None:
    """An interrupted seed keeps every chunk it committed (each with its audit entries,
    sealed): make that registry usable, and sign its chain's head."""
    from registry import create_app, db
    from registry.audit.checkpoints import write_checkpoint
    from registry.config import from_environment
    from registry.models import Base

    app = create_app({**from_environment(os.environ), "DATABASE_URL": url,
                      "AUDIT_SIGNING_KEY_FILE": str(audit_dir / "audit-signing-key.pem"),
                      "AUDIT_CHECKPOINT_FILE": str(audit_dir / "audit-checkpoints.jsonl")})
    with app.app_context():
        if db.engine().dialect.name == "postgresql":
            with db.engine().connect() as conn:
                finish_postgresql(conn, [t for t in Base.metadata.sorted_tables if "id" in t.c])
        with db.unit_of_work() as s:
            checkpoint = write_checkpoint(s)
        log(f"finished: {checkpoint.count:,} audit entries, chain head signed")
        db.engine().dispose()


def _loads(text: str | None) -> Any:
    return None if text is None else json.loads(text)


AUDIT_COLUMNS = ("id", "occurred_at", "user_id", "role", "action", "subject_type",
                 "subject_id", "before", "after")


class Cursor:
    """Plain SQL and bulk writes on one connection (COPY on PostgreSQL)."""

    def __init__(self, conn: Any, dialect: str) -> None:
        self.conn, self.dialect = conn, dialect

    def execute(self, sql: str) -> None:
        self.conn.exec_driver_sql(sql)

    def write_rows(self, table: str, columns: tuple[str, ...],
                   rows: list[tuple[Any, ...]]) -> None:
        if not rows:
            return
        names = ", ".join(columns)
        if self.dialect == "postgresql":
            cursor = self.conn.connection.driver_connection.cursor()
            with cursor.copy(f"COPY {table} ({names}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        else:
            marks = ", ".join("?" for _ in columns)
            self.conn.exec_driver_sql(f"INSERT INTO {table} ({names}) VALUES ({marks})", rows)

    def seal_rows(self, seals: list[tuple[int, int, str, str]]) -> None:
        """PostgreSQL: the one UPDATE the append-only trigger allows, for many at once."""
        self.execute("CREATE TEMPORARY TABLE IF NOT EXISTS seed_seals (id BIGINT PRIMARY KEY, "
                     "seq BIGINT, prev_hash VARCHAR(64), hash VARCHAR(64))")
        self.write_rows("seed_seals", ("id", "seq", "prev_hash", "hash"), seals)
        self.execute("UPDATE audit_entries a SET seq = s.seq, prev_hash = s.prev_hash, "
                     "hash = s.hash FROM seed_seals s WHERE a.id = s.id")
        self.execute("TRUNCATE seed_seals")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", required=True,
                        help="the database to (re)build: everything in it is dropped")
    parser.add_argument("--patients", type=int, default=10_000)
    parser.add_argument("--audit-dir", type=Path, required=True,
                        help="where the audit signing key and checkpoints go")
    parser.add_argument("--verify", action="store_true",
                        help="run the audit verification at the end (a full walk)")
    parser.add_argument("--chunk", type=int, default=250, help="clones per transaction")
    parser.add_argument("--json", type=Path, help="write the figures here")
    parser.add_argument("--finish", action="store_true",
                        help="only make an interrupted seed usable (what it committed)")
    args = parser.parse_args(argv)
    if args.finish:
        finish_interrupted(args.database_url, args.audit_dir)
        return
    figures = seed(args.database_url, args.patients, args.audit_dir, verify=args.verify,
                   chunk=args.chunk)
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n")
    if args.verify and not figures.get("verify_ok"):
        sys.exit(1)


if __name__ == "__main__":
    main()

