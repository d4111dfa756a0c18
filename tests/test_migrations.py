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
from sqlalchemy import create_engine, inspect, text
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
