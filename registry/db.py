"""Database engine, the per-request session and the shared model base.

There is exactly one place that commits: :func:`commit_request` (called once per
request by the app, once per command by the CLI). Operations only add and flush.
"""

from __future__ import annotations

import json
import logging
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from enum import StrEnum
from functools import partial
from typing import Any, TypeVar

from flask import Flask, current_app, g
from sqlalchemy import (
    JSON,
    DateTime,
    Engine,
    Enum,
    Index,
    MetaData,
    Table,
    TextClause,
    bindparam,
    create_engine,
    event,
    literal_column,
    text,
)
from sqlalchemy import exc as sa_exc
from sqlalchemy.orm import DeclarativeBase, Session, make_transient_to_detached, sessionmaker
from sqlalchemy.types import TypeDecorator
from werkzeug.exceptions import ServiceUnavailable

log = logging.getLogger(__name__)

T = TypeVar("T")

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware timestamp, stored in UTC, read back aware on every database."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given for a UTC timestamp column")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


_INSERTS_OR_NOTHING: dict[tuple[str, tuple[str, ...], tuple[str, ...], tuple[str, ...]],
                          TextClause] = {}


def insert_or_nothing(table: Table, names: tuple[str, ...], *, conflict: tuple[str, ...] = (),
                      returning: tuple[str, ...] = ()) -> TextClause:
    """``INSERT INTO table (names) VALUES (...) ON CONFLICT [(conflict)] DO NOTHING
    RETURNING returning``, the same text on PostgreSQL and SQLite, built once per shape.

    SQLAlchemy's dialect ``insert()`` constructs, the only ones with
    ``on_conflict_do_nothing``, have no cache key: every execution compiled them again
    (half of an authorization's CPU, once). A text statement is compiled once; its bound
    parameters keep their columns' types and its result columns are typed too (for
    ``select(Model).from_statement``). Only the table's own column names go into the text.
    """
    key = (table.name, names, conflict, returning)
    found = _INSERTS_OR_NOTHING.get(key)
    if found is not None:
        return found
    values = [table.c[n] for n in names]
    target = f" ({', '.join(table.c[n].name for n in conflict)})" if conflict else ""
    back = [table.c[n] for n in returning]
    sql = (f"INSERT INTO {table.name} ({', '.join(c.name for c in values)}) "  # noqa: S608
           f"VALUES ({', '.join(':' + c.name for c in values)}) "
           f"ON CONFLICT{target} DO NOTHING"
           + (f" RETURNING {', '.join(c.name for c in back)}" if back else ""))
    statement = text(sql).bindparams(*(bindparam(c.name, type_=c.type) for c in values))
    if back:
        statement = statement.columns(*back)  # type: ignore[assignment]
    _INSERTS_OR_NOTHING[key] = statement
    return statement


M = TypeVar("M")


def persistent_as_inserted(session: Session, row: M) -> M:
    """``row``, just inserted by a statement (``insert_or_nothing``) with every column it
    was given, as the session's persistent copy: its attributes are what was inserted,
    nothing of it is flushed again and an unloaded relationship loads on first use.
    What a unit-of-work flush would have left, for about a third of its CPU."""
    make_transient_to_detached(row)
    session.add(row)
    return row


def vocabulary(enum: type[StrEnum], name: str, length: int) -> Enum:
    """A column holding one word of :mod:`registry.rules.vocabulary`: a plain string column
    with a CHECK constraint named ``ck_<table>_<name>`` listing the values, read back as the
    enum, and a value outside it refused before it reaches the database."""
    return Enum(
        enum, name=name, length=length, native_enum=False, create_constraint=True,
        validate_strings=True, values_callable=lambda members: [m.value for m in members],
    )


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UTCDateTime(), dict[str, Any]: JSON, list[Any]: JSON}


FULL_NAME = "lower((first_name || ' ') || last_name)"  # what staff search matches names on


def trigram_index(name: str, expression: str) -> Index:
    """A PostgreSQL trigram index (pg_trgm, GIN) on ``expression``, so that staff search's
    ``LIKE '%text%'`` reads the index instead of every row. Made by migration 0006 on
    PostgreSQL only: SQLite has no trigram index and scans (its registries are small).

    The expression is written as PostgreSQL prints it back, so `alembic check` compares it.
    """
    return Index(name, literal_column(expression).label("trigrams"), postgresql_using="gin",
                 postgresql_ops={"trigrams": "gin_trgm_ops"})


def _sqlite_pragmas(dbapi_connection: Any, connection_record: Any, *,
                    busy_timeout_ms: int = 30000) -> None:
    dbapi_connection.isolation_level = None  # we issue BEGIN ourselves, see below
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


READ_ONLY_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def _sqlite_begin(conn: Any) -> None:
    # BEGIN IMMEDIATE takes the write lock up front, so two writers queue on the busy
    # timeout instead of failing with "database is locked" when a read turns into a write.
    # Requests that only read (GET, HEAD) begin a plain transaction and never queue.
    if _read_only_request():
        conn.exec_driver_sql("BEGIN")
    else:
        conn.exec_driver_sql("BEGIN IMMEDIATE")


def _read_only_request() -> bool:
    from flask import has_request_context, request

    return (
        has_request_context()
        and request.method in READ_ONLY_METHODS
        and not g.get("db_write_first", False)
    )


def request_may_write() -> bool:
    """False during a GET/HEAD: it reads without a write transaction (SQLite: a plain read
    transaction; PostgreSQL: no transaction at all, see :func:`session`). Bookkeeping it must
    still record goes to :func:`after_commit`."""
    return not _read_only_request()


_READ_ONLY_REFUSAL = ("A GET or HEAD request tried to write: it reads without a write "
                      "transaction. Change state in POST requests (bookkeeping: "
                      "db.after_commit).")


def _refuse_writes_in_read_only_requests(session: Session, flush_context: Any,
                                          instances: Any) -> None:
    if (session.new or session.dirty or session.deleted) and _read_only_request():
        raise RuntimeError(_READ_ONLY_REFUSAL)


_WRITING_STATEMENTS = frozenset({"INSERT", "UPDATE", "DELETE", "MERGE"})


def _refuse_statements_that_write(conn: Any, cursor: Any, statement: str, parameters: Any,
                                  context: Any, executemany: bool) -> None:
    """A GET or HEAD runs no statement that writes, but its after-commit bookkeeping. On
    PostgreSQL it reads in autocommit: a write would be committed on its own, apart from the
    request's others; on SQLite its read transaction would fail under contention. (A write
    hidden in a WITH is not seen here: none is written.)"""
    first = statement.lstrip()[:7].split(None, 1)
    if first and first[0].upper() in _WRITING_STATEMENTS and _read_only_request():
        raise RuntimeError(_READ_ONLY_REFUSAL)


def make_engine(url: str, *, busy_timeout_ms: int = 30000, connect_timeout: float | None = None,
                **kwargs: Any) -> Engine:
    """The engine for ``url``; ``kwargs`` go to ``create_engine`` (pool_size, pool_timeout...).

    No ``pool_pre_ping``: it costs a round trip on every checkout, i.e. every request, to
    catch what is rare (a server restart, an idle connection dropped by a firewall).
    ``pool_recycle`` replaces connections before such idle limits are reached, and a
    connection found dead mid-request is a 503 that invalidates the pool (the next request
    reconnects), see :func:`is_unavailable`.
    """
    if url.startswith("sqlite"):
        kwargs.pop("pool_recycle", None)  # a file: nothing on the other end to drop it
        if ":memory:" in url or url in ("sqlite://", "sqlite:///"):
            for key in ("pool_size", "max_overflow", "pool_timeout"):  # not a QueuePool
                kwargs.pop(key, None)
        engine = create_engine(url, connect_args={"check_same_thread": False}, **kwargs)
        event.listen(engine, "connect", partial(_sqlite_pragmas, busy_timeout_ms=busy_timeout_ms))
        event.listen(engine, "begin", _sqlite_begin)
        event.listen(engine, "before_cursor_execute", _refuse_statements_that_write)
        return engine
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    connect_args = dict(kwargs.pop("connect_args", {}))
    if connect_timeout is not None:
        connect_args.setdefault("connect_timeout", max(1, round(connect_timeout)))
    if url.startswith("postgresql+psycopg://"):
        from registry.pgcursor import Cursor

        connect_args.setdefault("cursor_factory", Cursor)  # columns made when read
    return create_engine(url, connect_args=connect_args, **kwargs)


def engine_options(config: Any) -> dict[str, Any]:
    """The pool and timeout settings of the configuration, for :func:`make_engine`."""
    return {
        "pool_size": int(config["DATABASE_POOL_SIZE"]),
        "max_overflow": int(config["DATABASE_MAX_OVERFLOW"]),
        "pool_timeout": float(config["DATABASE_POOL_TIMEOUT"]),
        "pool_recycle": int(config["DATABASE_POOL_RECYCLE"]),
        "connect_timeout": float(config["DATABASE_CONNECT_TIMEOUT"]),
        "busy_timeout_ms": int(config["SQLITE_BUSY_TIMEOUT_MS"]),
    }


# PostgreSQL error classes that mean "the database cannot serve you now": connection exception,
# insufficient resources (too many connections, disk full), operator intervention (shutdown).
UNAVAILABLE_SQLSTATES = ("08", "53", "57P")
SQLITE_UNAVAILABLE = ("database is locked", "database table is locked", "database is busy",
                      "unable to open database file")


def is_unavailable(error: BaseException) -> bool:
    """True when ``error`` says the database cannot be reached or is too busy, not that the
    request or the code is wrong: no connection in the pool in time, the server not
    answering or going away, SQLite's lock still held after the busy timeout."""
    if isinstance(error, sa_exc.TimeoutError):  # the pool had no connection in time
        return True
    if not isinstance(error, sa_exc.OperationalError | sa_exc.InterfaceError):
        return False
    if error.connection_invalidated:
        return True
    original = error.orig
    if isinstance(original, sqlite3.Error):
        message = str(original).lower()
        return any(text in message for text in SQLITE_UNAVAILABLE)
    sqlstate = getattr(original, "sqlstate", None)
    if sqlstate is None:  # psycopg: no answer from a server at all (refused, reset, closed)
        return True
    return str(sqlstate).startswith(UNAVAILABLE_SQLSTATES)


class DatabaseUnavailable(ServiceUnavailable):
    """503: the database could not serve this request; nothing was stored."""

    description = ("The registry cannot reach its database just now. Nothing was saved. "
                   "Try again in a few seconds.")


def unavailable() -> DatabaseUnavailable:
    """Forget the request's session (without talking to the database again) and say 503."""
    abandon_request()
    return DatabaseUnavailable(retry_after=int(current_app.config["UNAVAILABLE_RETRY_AFTER"]))


def init_app(app: Flask) -> None:
    engine = make_engine(app.config["SQLALCHEMY_URL"], **engine_options(app.config))
    app.extensions["registry.engine"] = engine
    app.extensions["registry.sessionmaker"] = sessionmaker(bind=engine, expire_on_commit=False)
    if engine.dialect.name == "postgresql":
        # GET and HEAD read without a transaction: on READ COMMITTED (PostgreSQL's default,
        # ours) each statement reads its own snapshot inside a transaction too, so the
        # answers are the same, without the BEGIN and COMMIT round trips. The same pool
        # (the option is set on checkout, undone on checkin); a write is refused.
        reader = engine.execution_options(isolation_level="AUTOCOMMIT")
        event.listen(reader, "before_cursor_execute", _refuse_statements_that_write)
        app.extensions["registry.reader"] = reader
    if not event.contains(Session, "before_flush", _refuse_writes_in_read_only_requests):
        event.listen(Session, "before_flush", _refuse_writes_in_read_only_requests)

    @app.teardown_appcontext
    def _close_session(exc: BaseException | None) -> None:
        session: Session | None = g.pop("db_session", None)
        if session is not None:
            try:
                if exc is not None or session.in_transaction():
                    session.rollback()
            except Exception as error:  # the database went away: nothing to roll back
                if not is_unavailable(error):
                    raise
                log.warning("Rollback at teardown failed, database unavailable: %s", error)
            finally:
                session.close()


def engine() -> Engine:
    found: Engine = current_app.extensions["registry.engine"]
    return found


def session() -> Session:
    """The session of the current request or command (created on first use)."""
    if "db_session" not in g:
        make = current_app.extensions["registry.sessionmaker"]
        reader = current_app.extensions.get("registry.reader")
        # A GET or HEAD reads through the engine's autocommit twin (PostgreSQL; see init_app),
        # unless the sessions are bound elsewhere (a test's one outer transaction).
        if reader is not None and _read_only_request() and \
                make.kw.get("bind") is current_app.extensions["registry.engine"]:
            g.db_session = make(bind=reader)
        else:
            g.db_session = make()
    found: Session = g.db_session
    return found


def commit_request() -> None:
    """The one commit of a request or command, then any bookkeeping deferred to after it."""
    if "db_session" not in g:
        return
    g.db_session.commit()
    g.pop("db_durable", None)
    for call in g.pop("db_after_commit_calls", ()):
        call()
    pending = g.pop("db_after_commit", [])
    if pending:
        # A transaction that starts with its write waits its turn for the SQLite lock,
        # unlike a read transaction that tries to become a write (see _sqlite_begin).
        g.db_write_first = True
        try:
            for write in pending:
                write(g.db_session)
            g.db_session.commit()
        except Exception as error:
            # The request's own work is committed; bookkeeping that meets an unavailable
            # database is dropped rather than turning a saved request into a 503.
            if not is_unavailable(error):
                raise
            log.warning("Bookkeeping after the commit dropped, database unavailable: %s", error)
            abandon_request()
        finally:
            g.db_write_first = False


def after_commit(write: Callable[[Session], None]) -> None:
    """Run ``write`` in a short transaction of its own after the request's commit.

    For bookkeeping that a read-only request must still record (an API token's last use).
    """
    g.setdefault("db_after_commit", []).append(write)


def after_commit_call(call: Callable[[], None]) -> None:
    """Call ``call`` once, with no transaction, after the request's commit (not after a
    rollback): to hand work to another thread, such as the audit sealer."""
    calls: dict[Callable[[], None], None] = g.setdefault("db_after_commit_calls", {})
    calls[call] = None


def rollback_request() -> None:
    if "db_session" not in g:
        return
    try:
        g.db_session.rollback()
    except Exception as error:  # the connection is gone: the server rolls back by itself
        if not is_unavailable(error):
            raise
        log.warning("Rollback failed, database unavailable: %s", error)
        g.pop("db_durable", None)  # nowhere to keep them: the database is gone
        abandon_request()
        return
    durable = g.pop("db_durable", [])
    if durable:  # what must outlive the rollback is written again, on its own
        g.db_write_first = True
        try:
            for write in durable:
                write(g.db_session)
            g.db_session.commit()
        except Exception:  # never hide the error being handled behind this one
            try:
                g.db_session.rollback()
            except Exception:
                abandon_request()
            current_app.logger.exception("Could not keep %d durable write(s)",
                                         len(durable))
        finally:
            g.db_write_first = False


def durable_write(write: Callable[[Session], T]) -> T:
    """Run ``write`` in the request's transaction, and again in a transaction of its own if
    the request is rolled back: for the few records that must outlive a failed request (a
    failed login's count, the audit entry of the lock it causes).

    Not a second connection: a request holding its connection while it waits for a second
    one can exhaust the pool under load (every worker thread holding one, waiting for one).
    A row ``write`` updates stays locked until the request ends (on SQLite the whole
    database is, as for any write), so concurrent writers of that row take turns.
    """
    result = write(session())
    g.setdefault("db_durable", []).append(write)
    return result


def abandon_request() -> None:
    """Drop the request's session and its deferred writes after the database failed, so that
    neither the commit after the request nor the teardown talks to it again."""
    g.pop("db_after_commit", None)
    g.pop("db_after_commit_calls", None)
    session: Session | None = g.pop("db_session", None)
    if session is None:
        return
    try:
        session.close()  # the pool invalidates a connection it cannot reset
    except Exception as error:
        if not is_unavailable(error):
            raise
        log.warning("Closing the session failed, database unavailable: %s", error)


@contextmanager
def unit_of_work() -> Iterator[Session]:
    """For commands and jobs: one transaction, committed at the end, rolled back on error."""
    s = session()
    try:
        yield s
        commit_request()
    except BaseException:
        rollback_request()
        raise


# json.dumps with these options builds an encoder per call; the audit walk calls this once
# per entry (the same text: dumps is exactly JSONEncoder(...).encode).
_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), default=str)


def canonical_json(value: Any) -> str:
    return _CANONICAL.encode(value)


def jsonable(value: Any) -> Any:
    """Turn dates and other values into what a JSON column stores and reads back unchanged."""
    return json.loads(canonical_json(value))
