"""Declarative base, constraint naming convention and small column helpers."""
from __future__ import annotations

from collections.abc import Callable
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import datetime, timezone
from functools import cache
from typing import Any, TypeVar

from sqlalchemy import DateTime, MetaData, TypeDecorator, event, func
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, scoped_session

# Named constraints let Alembic (batch mode on SQLite) alter and drop them by name.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def unindexed(column: Any) -> Any:
    """``column`` as an expression no index serves (the same values: coalesced with itself).
    For a condition nearly every row meets: SQLite without statistics would otherwise read
    the rows through that column's index, one by one, instead of the index that stops after
    a page."""
    return func.coalesce(column, column)


S = TypeVar("S")


def built_once(build: Callable[[], S]) -> Callable[[], S]:
    """``build()``'s statement, built on the first call and the same object after: the values
    go in at ``execute`` as ``bindparam``s. For the statements every page runs: building a
    select (loader options above all) and its cache key costs 0.1-0.7 ms of CPU each time,
    as much as running it (bench/statements.py); built once, SQLAlchemy keeps its cache key
    too. A statement is immutable, so threads may share it."""
    return cache(build)


def column_rows(session: Any, statement: Any, params: dict | None = None) -> list:
    """The rows of a ``statement`` that selects columns, not entities (aggregates), executed
    on the session's connection: the same rows without the ORM's per-row processing, which
    took ~2/3 of the client-side CPU of a dashboard's cube (6,700 rows) at 100,000 projects.
    The session's pending changes are flushed first, as its own ``execute`` would (not inside
    ``no_autoflush`` or a flush); the ORM's execute hooks are bypassed (the app has none)."""
    if isinstance(session, scoped_session):
        session = session()
    if session.autoflush and not session._flushing:
        session.flush()
    return session.connection().execute(statement, params).all()


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class UTCDateTime(TypeDecorator):
    """Timezone-aware UTC datetimes on both SQLite (which drops tzinfo) and PostgreSQL."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(timezone.utc)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value, dialect):
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
        return value


class TimestampMixin:
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, nullable=False)
    updated_at: Mapped[datetime] = mapped_column(
        UTCDateTime(), default=utcnow, onupdate=utcnow, nullable=False
    )


# Set for requests and commands that write: on SQLite their transactions begin IMMEDIATE.
write_intent: ContextVar[bool] = ContextVar("write_intent", default=False)


@contextmanager
def writing():
    """Mark the enclosed work as a write (CLI, benchmarks, threads in tests).

    Must wrap the *start* of the transaction: on SQLite a transaction that began as a
    reader cannot safely become a writer while another connection writes.
    """
    token = write_intent.set(True)
    try:
        yield
    finally:
        write_intent.reset(token)


@event.listens_for(Engine, "connect")
def _sqlite_pragmas(dbapi_connection, connection_record):  # pragma: no cover - driver hook
    module = type(dbapi_connection).__module__
    if not module.startswith("sqlite3"):
        return
    # Let SQLAlchemy/us emit BEGIN ourselves (see _sqlite_begin) instead of pysqlite.
    dbapi_connection.isolation_level = None
    cur = dbapi_connection.cursor()
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA busy_timeout=5000")
    cur.close()


@event.listens_for(Engine, "begin")
def _sqlite_begin(conn):  # pragma: no cover - driver hook
    # Write transactions on SQLite start as IMMEDIATE so two writers queue on the
    # busy timeout instead of failing with "database is locked" at commit.
    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql("BEGIN IMMEDIATE" if write_intent.get() else "BEGIN")
