"""Test harness: the schema is built by the migrations; each test runs inside a transaction
that is rolled back at its end. ``REGISTRY_TEST_DATABASE_URL`` selects PostgreSQL.

A plugin of the processes that run tests (tests/conftest.py registers it): its fixtures
are those of every test."""

from __future__ import annotations

import atexit
import functools
import gc
import itertools
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine
import zxcvbn
from alembic import command
from flask import Flask
from sqlalchemy import Connection, Engine, create_engine, delete, make_url, text
from sqlalchemy.orm import Session, sessionmaker
from werkzeug.routing import Rule

from registry import create_app, db
from registry.cli import alembic_config
from registry.models import Base, ComprehensionQuestion

NY = ZoneInfo("America/New_York")

# zxcvbn scores a password the same way every time (a pure function of the password) and
# costs 3 to 9 ms a call; the suite creates thousands of accounts with a handful of
# passwords. Remembered per password, in the test process only: a registry process never
# keeps a plaintext password after the request that carried it.
_zxcvbn = zxcvbn.zxcvbn
_zxcvbn_scored = functools.lru_cache(maxsize=1024)(_zxcvbn)


def _zxcvbn_remembered(password: str, user_inputs: Any = None) -> dict[str, Any]:
    if user_inputs is not None:
        return dict(_zxcvbn(password, user_inputs))
    return dict(_zxcvbn_scored(password))


zxcvbn.zxcvbn = _zxcvbn_remembered

# Each app made builds a URL builder for each of its ~130 routes: werkzeug writes a function's
# syntax tree and compiles it, twice a route (~30 ms of create_app's ~35 ms), and the suite
# makes ~45 apps of the same routes. In the test process only, a builder is compiled once
# per route (its text, its static and variable parts in order, the names of its defaults,
# and whether unknown arguments are appended as a query): the function werkzeug compiles
# depends on nothing else (no globals; the rule and its converters are its argument, bound
# per rule). A route with a default for one of its variables is compiled as before (the
# default's value is written into the code).
_compile_builder = Rule._compile_builder
_builders: dict[tuple[Any, ...], Any] = {}


def _compile_builder_once(self: Rule, append_unknown: bool = True) -> Any:
    defaults = self.defaults or {}
    if any(dynamic and part in defaults for dynamic, part in self._trace):
        return _compile_builder(self, append_unknown)
    key = (self.rule, tuple(self._trace), tuple(defaults), append_unknown)
    if key not in _builders:
        _builders[key] = _compile_builder(self, append_unknown)
    return _builders[key]


Rule._compile_builder = _compile_builder_once  # type: ignore[method-assign]

# The cyclic garbage collector, tuned for a test process: Python's default (a young
# collection every 700 allocations) made collection ~10 % of each xdist worker's CPU (some
# 10 s of the suite's ~90), because each collection of the older generations walks
# everything imported (Hypothesis, schemathesis, SQLAlchemy, every test module). Young
# collections are rarer here, and what exists once the tests are collected is frozen (never
# walked again): the same garbage is collected, less often. The app's own processes keep
# Python's defaults.
gc.set_threshold(10_000, 10, 10)


# The audit log's signing key and checkpoints: never in instance/ during tests. The
# `app` and `committing_app` fixtures give each test a checkpoint file of its own.
_AUDIT_DIR = tempfile.mkdtemp(prefix="registry-test-audit-")
atexit.register(shutil.rmtree, _AUDIT_DIR, ignore_errors=True)

TEST_CONFIG: dict[str, Any] = {
    "TESTING": True,
    "SECRET_KEY": "test-secret",
    "WTF_CSRF_ENABLED": False,
    # argon2 at 16 KiB (0.02 ms a hash; 1 MiB took 0.4 ms, some 2 s of the suite's CPU over
    # its ~4,000 hashes and checks): still not the demo's cheap 8 KiB, so the test that sign-in
    # rehashes a demo password at the configured cost (tests/test_demo.py) tells them apart.
    "ARGON2_TIME_COST": 1,
    "ARGON2_MEMORY_COST": 16,
    "ARGON2_PARALLELISM": 1,
    "RATELIMIT_ENABLED": False,
    # What a request wrote is sealed before it returns (tests/test_background_sealer.py
    # covers the served default, "background").
    "AUDIT_SEAL_AFTER_COMMIT": "request",
    "AUDIT_SIGNING_KEY_FILE": os.path.join(_AUDIT_DIR, "audit-signing-key.pem"),
    "AUDIT_CHECKPOINT_FILE": os.path.join(_AUDIT_DIR, "audit-checkpoints.jsonl"),
    # Email without an SMTP server goes to a folder: never instance/mail during tests.
    "MAIL_FOLDER": os.path.join(_AUDIT_DIR, "mail"),
}


def fuzz_examples(default: int) -> int:
    """Generated examples per fuzz test: ``API_FUZZ_EXAMPLES`` when set (``make test``: 20;
    the PostgreSQL run in .ci/run: 100), else the test's own ``default``."""
    return int(os.environ.get("API_FUZZ_EXAMPLES", default))


def _database_url(tmp_root: str) -> str:
    url = os.environ.get("REGISTRY_TEST_DATABASE_URL")
    if url:
        worker = os.environ.get("PYTEST_XDIST_WORKER")
        return _worker_database(url, worker) if worker else url
    return "sqlite:///" + os.path.join(tmp_root, "test.sqlite3")


def _worker_database(url: str, worker: str) -> str:
    """Under pytest-xdist each worker has a PostgreSQL database of its own (made here)."""
    base = make_url(url)
    own = base.set(database=f"{base.database}_{worker}")
    admin = create_engine(base.set(drivername="postgresql+psycopg", database="postgres"),
                          isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        exists = conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :name"),
                              {"name": own.database}).first()
        if not exists:
            conn.execute(text(f'CREATE DATABASE "{own.database}"'))
    admin.dispose()
    atexit.register(_drop_database, own.render_as_string(hide_password=False))
    return own.render_as_string(hide_password=False)


def _drop_database(url: str) -> None:
    own = make_url(url)
    admin = create_engine(own.set(drivername="postgresql+psycopg", database="postgres"),
                          isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{own.database}" WITH (FORCE)'))
    admin.dispose()


def pytest_sessionfinish(session: pytest.Session) -> None:
    """The audit walk's fork server, if a test started one, is stopped with the tests: left
    alone it outlives this process by a moment (it exits once it notices), so a run would
    end with it still running."""
    segments = sys.modules.get("registry.audit.segments")
    if segments is not None:
        segments.stop_fork_server()


@pytest.fixture(scope="session")
def database_url() -> Iterator[str]:
    with tempfile.TemporaryDirectory(prefix="registry-test-") as tmp:
        url = _database_url(tmp)
        app = create_app({**TEST_CONFIG, "DATABASE_URL": url})
        with app.app_context():
            if url.startswith("postgresql"):
                # A clean schema every run: drop whatever an earlier run left behind.
                with app.extensions["registry.engine"].begin() as conn:
                    conn.execute(text("DROP SCHEMA public CASCADE"))
                    conn.execute(text("CREATE SCHEMA public"))
            command.upgrade(alembic_config(url), "head")
            from registry.cycles.operations import load_question_bank

            with db.unit_of_work() as session:
                load_question_bank(session)
        db_engine: Engine = app.extensions["registry.engine"]
        db_engine.dispose()
        yield url


@pytest.fixture(autouse=True)
def _rate_limits_off() -> None:
    """The limiter is one object shared by every app of the process, and an app made with the
    default configuration turns it on: each test starts with it off (tests of the limits turn
    it on themselves), whatever ran before it in this worker."""
    from registry.extensions import limiter

    limiter.enabled = False


@pytest.fixture(scope="session")
def base_app(database_url: str) -> Flask:
    return create_app({**TEST_CONFIG, "DATABASE_URL": database_url})


_checkpoint_files = itertools.count()


@contextmanager
def _own_checkpoint_file(app: Flask) -> Iterator[None]:
    """Checkpoints of a rolled-back test must not be checked against the next test's chain:
    a file of its own (a new name in the process' audit folder, removed afterwards; not a
    ``tmp_path`` each, whose folders cost more to make and to clean up than the tests that
    never write a checkpoint)."""
    original = app.config["AUDIT_CHECKPOINT_FILE"]
    own = Path(_AUDIT_DIR, f"audit-checkpoints-{next(_checkpoint_files)}.jsonl")
    app.config["AUDIT_CHECKPOINT_FILE"] = str(own)
    try:
        yield
    finally:
        app.config["AUDIT_CHECKPOINT_FILE"] = original
        own.unlink(missing_ok=True)


@pytest.fixture
def app(base_app: Flask) -> Iterator[Flask]:
    """The app with every session joined to one outer transaction, rolled back afterwards."""
    with app_of_one_test(base_app) as joined:
        yield joined


@contextmanager
def app_of_one_test(base_app: Flask) -> Iterator[Flask]:
    """``app`` for modules that override it (a module-wide world) but not in every module."""
    engine: Engine = base_app.extensions["registry.engine"]
    connection = engine.connect()
    outer = connection.begin()
    original = base_app.extensions["registry.sessionmaker"]
    base_app.extensions["registry.sessionmaker"] = sessionmaker(
        bind=connection, expire_on_commit=False, join_transaction_mode="create_savepoint"
    )
    try:
        with _own_checkpoint_file(base_app):
            yield base_app
    finally:
        base_app.extensions["registry.sessionmaker"] = original
        outer.rollback()
        connection.close()


@dataclass
class Shared:
    """One connection and one outer transaction for a whole test module."""

    app: Flask
    connection: Connection
    clock: Clock

    @contextmanager
    def rolled_back(self) -> Iterator[None]:
        """What happens inside is undone (a SAVEPOINT on the module's transaction)."""
        savepoint = self.connection.begin_nested()
        try:
            yield
        finally:
            savepoint.rollback()


@pytest.fixture(scope="module")
def shared_app(base_app: Flask) -> Iterator[Shared]:
    """For a module that builds its world once: the app with every session joined to one
    outer transaction for the whole module (rolled back at its end); tests run their calls
    in ``shared_app.rolled_back()`` so that each meets the same world."""
    engine: Engine = base_app.extensions["registry.engine"]
    connection = engine.connect()
    outer = connection.begin()
    original = base_app.extensions["registry.sessionmaker"]
    base_app.extensions["registry.sessionmaker"] = sessionmaker(
        bind=connection, expire_on_commit=False, join_transaction_mode="create_savepoint")
    clock = Clock()
    try:
        with _own_checkpoint_file(base_app):
            yield Shared(base_app, connection, clock)
    finally:
        clock.stop()
        base_app.extensions["registry.sessionmaker"] = original
        outer.rollback()
        connection.close()


@pytest.fixture
def session(app: Flask) -> Iterator[Session]:
    with app.app_context():
        yield db.session()


@pytest.fixture
def client(app: Flask) -> Any:
    return app.test_client()


@contextmanager
def audit_triggers_bypassed(conn: Connection) -> Iterator[None]:
    """TEST HARNESS ONLY: lift the database's append-only guard on audit_entries.

    Inside the caller's transaction: on PostgreSQL by ``SET LOCAL session_replication_role
    = replica`` (the test database user is a superuser), on SQLite by dropping the
    triggers and recreating them from their own stored SQL. For emptying tables between
    committing tests, and for tampering the way an attacker owning the database would.
    """
    if conn.dialect.name == "postgresql":
        conn.execute(text("SET LOCAL session_replication_role = replica"))
        try:
            yield
        finally:
            conn.execute(text("SET LOCAL session_replication_role = origin"))
        return
    triggers = conn.execute(text(
        "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' "
        "AND tbl_name = 'audit_entries'")).all()
    for name, _ in triggers:
        conn.execute(text(f'DROP TRIGGER "{name}"'))
    try:
        yield
    finally:
        for _, sql in triggers:
            conn.execute(text(sql))


def wipe(engine: Engine) -> None:
    """Delete every row but the question bank (for tests that really commit)."""
    with engine.begin() as conn, audit_triggers_bypassed(conn):
        for table in reversed(Base.metadata.sorted_tables):
            if table.name == ComprehensionQuestion.__tablename__:
                continue
            conn.execute(delete(table))


@pytest.fixture
def committing_app(base_app: Flask) -> Iterator[Flask]:
    """The app on the real engine: requests commit for real. Tables are emptied afterwards."""
    engine: Engine = base_app.extensions["registry.engine"]
    wipe(engine)
    try:
        with _own_checkpoint_file(base_app):
            yield base_app
    finally:
        wipe(engine)


@contextmanager
def tampering(session: Session) -> Iterator[Session]:
    """Change audit entries as an attacker with the database owner's powers (tests only)."""
    session.flush()
    with audit_triggers_bypassed(session.connection()):
        yield session
        session.flush()
    session.expire_all()


class Clock:
    """Move the registry's time: ``clock.to("2026-03-03")`` or ``clock.forward(days=8)``."""

    def __init__(self) -> None:
        self._traveller: Any = None

    def to(self, when: str | datetime, hour: int = 12) -> None:
        if isinstance(when, str):
            y, m, d = (int(p) for p in when.split("-"))
            when = datetime(y, m, d, hour, 0, tzinfo=NY)
        if self._traveller is not None:
            self._traveller.stop()
        self._traveller = time_machine.travel(when, tick=False)
        self._traveller.start()

    def forward(self, days: int = 0) -> None:
        from datetime import timedelta

        from registry import clock

        self.to(clock.now() + timedelta(days=days))

    def stop(self) -> None:
        if self._traveller is not None:
            self._traveller.stop()
            self._traveller = None


@contextmanager
def travelling() -> Iterator[Clock]:
    """A Clock that is put back (time runs on its own again) however the block ends."""
    c = Clock()
    try:
        yield c
    finally:
        c.stop()


@pytest.fixture
def clock() -> Iterator[Clock]:
    with travelling() as c:
        yield c
