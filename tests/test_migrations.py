"""The migrations build the schema from nothing, tear it down, and build it again, on SQLite
and PostgreSQL; and they agree with the models (what `alembic check` checks)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import CheckConstraint, Connection, Enum, create_engine, inspect, text
from sqlalchemy.engine import make_url

from registry.cli import alembic_config
from registry.db import make_engine
from registry.models import Base


@pytest.fixture
def empty_database(tmp_path) -> Iterator[str]:
    """A brand-new database of the kind the suite runs on."""
    url = os.environ.get("REGISTRY_TEST_DATABASE_URL")
    if not url:
        yield "sqlite:///" + str(tmp_path / "migrations.sqlite3")
        return
    name = f"registry_migrations_{uuid.uuid4().hex[:8]}"
    admin = create_engine(make_url(url.replace("postgresql://", "postgresql+psycopg://"))
                          .set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield str(make_url(url).set(database=name))
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _tables(url: str) -> set[str]:
    engine = make_engine(url)
    try:
        return set(inspect(engine).get_table_names()) - {"alembic_version"}
    finally:
        engine.dispose()


def _diff(url: str) -> list[object]:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            ctx = MigrationContext.configure(conn, opts={"compare_type": True})
            return list(compare_metadata(ctx, Base.metadata))
    finally:
        engine.dispose()


def test_upgrade_downgrade_upgrade(empty_database):
    cfg = alembic_config(empty_database)
    command.upgrade(cfg, "head")
    model_tables = {t.name for t in Base.metadata.sorted_tables}
    assert _tables(empty_database) == model_tables
    assert _diff(empty_database) == []

    command.downgrade(cfg, "base")
    assert _tables(empty_database) == set()

    command.upgrade(cfg, "head")
    assert _tables(empty_database) == model_tables
    assert _diff(empty_database) == []


def test_partial_unique_indexes_exist_after_migration(empty_database):
    command.upgrade(alembic_config(empty_database), "head")
    engine = make_engine(empty_database)
    try:
        indexes = {ix["name"]: ix for ix in inspect(engine).get_indexes("authorizations")}
    finally:
        engine.dispose()
    assert indexes["uq_authorizations_one_open_per_patient"]["unique"]
    assert indexes["uq_authorizations_one_live_per_cycle"]["unique"]


def test_every_vocabulary_column_has_its_named_check_constraint(empty_database):
    """Each column holding a word of the vocabulary is checked by the database too, under
    the name ck_<table>_<column's name>, exactly as the models declare it."""
    command.upgrade(alembic_config(empty_database), "head")
    engine = make_engine(empty_database)
    try:
        inspector = inspect(engine)
        for table in Base.metadata.sorted_tables:
            declared = {
                c.name for c in table.constraints
                if isinstance(c, CheckConstraint) and isinstance(c.name, str)
            }
            found = {c["name"] for c in inspector.get_check_constraints(table.name)}
            assert found == declared, table.name
        # The rebuilt tables keep their partial unique indexes (SQLite's batch mode copies
        # tables): one open authorization per patient still means "open" only.
        with engine.connect() as conn:
            where = _index_where(conn, "uq_authorizations_one_open_per_patient")
    finally:
        engine.dispose()
    assert "authorized" in where
    vocabulary_columns = {
        (t.name, col.name) for t in Base.metadata.sorted_tables for col in t.columns
        if isinstance(col.type, Enum)
    }
    assert ("cycles", "ruleset") in vocabulary_columns
    assert ("pregnancy_reports", "outcome") in vocabulary_columns


def _index_where(conn: Connection, name: str) -> str:
    if conn.dialect.name == "sqlite":
        sql = conn.execute(text("SELECT sql FROM sqlite_master WHERE name = :n"), {"n": name})
    else:
        sql = conn.execute(text("SELECT indexdef FROM pg_indexes WHERE indexname = :n"),
                           {"n": name})
    return str(sql.scalar_one()).lower().split(" where ", 1)[1]


def test_reason_codes_are_backfilled_and_then_filled_by_the_database(empty_database):
    """0013: the reasons of the denials stored before it are copied into denial_reasons (one
    row per reason, duplicates included, none for an approval); after it the database adds
    the rows itself in the statement that stores a denial."""
    cfg = alembic_config(empty_database)
    command.upgrade(cfg, "0010_reminders")
    engine = make_engine(empty_database)
    at = "2026-05-01 10:00:00+00:00"
    decision = ("INSERT INTO authorization_decisions (id, requested_at, requested_on, "
                "requested_by_id, request, request_fingerprint, eligible, reasons, ruleset, "
                "parameters) VALUES (:id, :at, '2026-05-01', 1, '{}', 'f', :eligible, "
                ":reasons, '2026', '{}')")
    denied = '[{"code": "NO_TEST"}, {"code": "NO_COUNSELING"}, {"code": "NO_TEST"}]'
    try:
        with engine.begin() as conn:
            conn.execute(text(
                "INSERT INTO users (id, email, password_hash, role, first_name, last_name, "
                "created_at, failed_logins) VALUES (1, 'rph@example.org', 'x', 'pharmacist', "
                "'A', 'B', :at, 0)"), {"at": at})
            conn.execute(text(decision), {"id": 1, "at": at, "eligible": False,
                                          "reasons": denied})
            conn.execute(text(decision), {"id": 2, "at": at, "eligible": True, "reasons": "[]"})
            conn.execute(text(decision), {"id": 3, "at": at, "eligible": False,
                                          "reasons": '[{"code": "PATIENT_NOT_FOUND"}]'})
        command.upgrade(cfg, "head")
        rows = "SELECT decision_id, code FROM denial_reasons ORDER BY decision_id, code, id"
        with engine.connect() as conn:
            assert conn.execute(text(rows)).all() == [
                (1, "NO_COUNSELING"), (1, "NO_TEST"), (1, "NO_TEST"), (3, "PATIENT_NOT_FOUND")]
        with engine.begin() as conn:
            conn.execute(text(decision), {"id": 4, "at": at, "eligible": False,
                                          "reasons": '[{"code": "NO_ANSWERS"}]'})
            conn.execute(text(decision), {"id": 5, "at": at, "eligible": True, "reasons": "[]"})
            assert conn.execute(text(
                "SELECT code FROM denial_reasons WHERE decision_id >= 4")).all() == [
                ("NO_ANSWERS",)]
        with engine.connect() as conn:
            # the copied instant is the decision's, on either database
            assert conn.execute(text(
                "SELECT count(*) FROM denial_reasons r JOIN authorization_decisions d "
                "ON d.id = r.decision_id AND d.requested_at = r.requested_at")).scalar_one() == 5
        command.downgrade(cfg, "0010_reminders")
        assert "denial_reasons" not in _tables(empty_database)
        with engine.begin() as conn:  # and no trigger is left to write to it
            conn.execute(text(decision), {"id": 6, "at": at, "eligible": False,
                                          "reasons": '[{"code": "NO_TEST"}]'})
    finally:
        engine.dispose()
