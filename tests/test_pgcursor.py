"""The engine's cursor on PostgreSQL (registry/pgcursor.py): a ``description`` whose columns
are made when read, and that reads exactly as psycopg's own."""

from __future__ import annotations

import psycopg
import pytest
from flask import Flask

from registry.pgcursor import Cursor, Description
from tests.races import ON_POSTGRES

pytestmark = pytest.mark.skipif(not ON_POSTGRES, reason="the psycopg cursor: PostgreSQL only")

WIDE = "SELECT 1 AS one, 'two'::text AS two, now() AS three, NULL::numeric(5, 2) AS four"


def _described(cursor: psycopg.Cursor, sql: str) -> list[tuple[object, ...]] | None:
    cursor.execute(sql)
    description = cursor.description
    return None if description is None else [tuple(column) for column in description]


def test_the_apps_engine_uses_the_cursor(app: Flask) -> None:
    connection = app.extensions["registry.engine"].raw_connection()
    try:
        cursor = connection.cursor()
        assert type(cursor) is Cursor
    finally:
        connection.close()


def test_a_description_reads_as_psycopgs_own(database_url: str) -> None:
    url = database_url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(url) as plain, psycopg.connect(url, cursor_factory=Cursor) as lazy:
        for sql in (WIDE, "SELECT", "SELECT 1 WHERE false", "CREATE TEMPORARY TABLE t (x int)",
                    "INSERT INTO t VALUES (1)", "INSERT INTO t VALUES (2) RETURNING x, x + 1"):
            expected = _described(plain.cursor(), sql)
            assert _described(lazy.cursor(), sql) == expected, sql
        cursor = lazy.cursor()
        cursor.execute(WIDE)
        described = cursor.description
        assert isinstance(described, Description)
        assert len(described) == 4
        assert [c.name for c in described] == ["one", "two", "three", "four"]
        assert described[-1].name == "four"
        assert described[1:3][0].name == "two"
        assert [c.name for c in described[::-2]] == ["four", "two"]
        assert [tuple(c) for c in described] == [
            tuple(c) for c in plain.execute(WIDE).description or []]
        with pytest.raises(IndexError):
            described[4]


def test_a_description_describes_its_own_result_after_the_cursor_moved_on(
        database_url: str) -> None:
    # SQLAlchemy reads the columns at once when it does read them; anyone who keeps the
    # description still gets the result it was asked about, not the cursor's next one.
    url = database_url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(url, cursor_factory=Cursor) as connection:
        cursor = connection.cursor()
        cursor.execute(WIDE)
        kept = cursor.description
        cursor.execute("SELECT 'x' AS other")
        assert kept is not None
        assert [c.name for c in kept] == ["one", "two", "three", "four"]
        assert kept[2].type_code == cursor.adapters.types["timestamptz"].oid
        assert [c.name for c in cursor.description or []] == ["other"]
