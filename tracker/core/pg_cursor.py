"""A psycopg cursor whose ``description`` builds its column objects only when they are read.

psycopg builds a ``Column`` object per result column every time ``description`` is read
(four libpq calls and a type lookup each), and SQLAlchemy reads it after every statement,
only to see that there is a result: for a statement it has run before, it takes the
columns from the compiled statement it keeps. A project page's first view reads ~170
columns (the project with its relations): ~0.25 ms of CPU a page for objects nobody looked
at (bench/load.py, issue 12). Here ``description`` is a sequence that knows its length and
makes a column when one is asked for, from the result it was taken from. (It keeps that
result, rows and all, while it lives: SQLAlchemy keeps only the names and types it reads.)
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import psycopg
from psycopg.pq import ExecStatus

_TUPLES = (ExecStatus.TUPLES_OK, ExecStatus.SINGLE_TUPLE, ExecStatus.TUPLES_CHUNK)


class _ResultOf:
    """What ``psycopg.Column`` reads of its cursor, fixed at one result: a column made later
    (after the cursor moved on) still describes the result it came from."""

    __slots__ = ("pgresult", "_encoding", "adapters")

    def __init__(self, cursor: psycopg.Cursor):
        self.pgresult, self._encoding, self.adapters = cursor.pgresult, cursor._encoding, cursor.adapters


class LazyDescription(Sequence):
    __slots__ = ("_of", "_n", "_columns")

    def __init__(self, cursor: psycopg.Cursor, n: int):
        self._of, self._n, self._columns = _ResultOf(cursor), n, None

    def _all(self) -> list:
        if self._columns is None:
            self._columns = [psycopg.Column(self._of, i) for i in range(self._n)]
        return self._columns

    def __len__(self) -> int:
        return self._n

    def __getitem__(self, index: Any) -> Any:
        return self._all()[index]

    def __iter__(self):
        return iter(self._all())

    def __repr__(self) -> str:
        return repr(self._all())


class LazyDescriptionCursor(psycopg.Cursor):
    @property
    def description(self) -> LazyDescription | None:
        res = self.pgresult
        # As psycopg's own: columns when there are fields, or when the statement said it
        # returned rows (``SELECT ;``).
        if res and (res.nfields or res.status in _TUPLES):
            return LazyDescription(self, res.nfields)
        return None
