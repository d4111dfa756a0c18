"""psycopg's cursor, with a ``description`` whose columns are made only when read.

SQLAlchemy reads ``cursor.description`` after every statement, to see whether rows came back;
it reads the columns themselves only the first time it runs a compiled statement (after
that it keeps the result's metadata with the compiled statement). psycopg's ``description``
makes a Column object for each column every time, about 0.8 us each: a check's four
statements return about 50 columns, an RMA's about 100, so every API request paid 40 to
80 us for objects nobody looked at. Here ``description`` says whether there are columns and
how many, and makes each Column when it is first read, from the result it was asked about
(even if the cursor has run another statement since).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any, overload

import psycopg
from psycopg import Column
from psycopg.pq import ExecStatus

_TUPLES = (ExecStatus.TUPLES_OK, ExecStatus.SINGLE_TUPLE, ExecStatus.TUPLES_CHUNK)


class _AtResult:
    """The cursor as it was when its description was asked for: its result then, and
    everything else (encoding, adapters) from the cursor itself."""

    __slots__ = ("_cursor", "pgresult")

    def __init__(self, cursor: psycopg.Cursor[Any]) -> None:
        self.pgresult = cursor.pgresult
        self._cursor = cursor

    def __getattr__(self, name: str) -> Any:
        return getattr(self._cursor, name)


class Description(Sequence[Column]):
    """The columns of one result, each made on first read (a list's behaviour otherwise)."""

    __slots__ = ("_at", "_columns")

    def __init__(self, cursor: psycopg.Cursor[Any], count: int) -> None:
        self._at = _AtResult(cursor)
        self._columns: list[Column | None] = [None] * count

    def __len__(self) -> int:
        return len(self._columns)

    def _column(self, index: int) -> Column:
        column = self._columns[index]
        if column is None:
            column = self._columns[index] = Column(self._at, index)  # type: ignore[arg-type]
        return column

    @overload
    def __getitem__(self, index: int) -> Column: ...

    @overload
    def __getitem__(self, index: slice) -> list[Column]: ...

    def __getitem__(self, index: int | slice) -> Column | list[Column]:
        if isinstance(index, slice):
            return [self._column(i) for i in range(*index.indices(len(self._columns)))]
        if index < 0:
            index += len(self._columns)
        if not 0 <= index < len(self._columns):
            raise IndexError("description index out of range")
        return self._column(index)

    def __iter__(self) -> Iterator[Column]:
        return (self._column(i) for i in range(len(self._columns)))

    def __repr__(self) -> str:
        return repr(list(self))


class Cursor(psycopg.Cursor[Any]):
    """The engine's cursor on PostgreSQL (``cursor_factory``)."""

    @property
    def description(self) -> Description | None:  # type: ignore[override]
        result = self.pgresult
        # As psycopg's own: columns also for a result that said it has rows but no
        # columns ("SELECT ;"), None for one without rows (an INSERT without RETURNING).
        if result is not None and (result.nfields or result.status in _TUPLES):
            return Description(self, result.nfields)
        return None
