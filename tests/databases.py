"""Scratch PostgreSQL databases for tests that need one of their own (migrations, the browser
test, backups): created on demand, emptied before use."""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text


def ensure_pg_database(url: str) -> None:
    """Create the database named at the end of ``url`` unless it exists."""
    base, _, name = url.rpartition("/")
    admin = create_engine(f"{base}/postgres", isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            if not conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}).scalar():
                conn.execute(text(f'CREATE DATABASE "{name}"'))
    finally:
        admin.dispose()


def reset_pg_schema(url: str) -> None:
    """Drop everything in the database's public schema."""
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
    finally:
        engine.dispose()


def empty_pg_database(url: str) -> None:
    ensure_pg_database(url)
    reset_pg_schema(url)


def drop_pg_database(url: str) -> None:
    base, _, name = url.rpartition("/")
    admin = create_engine(f"{base}/postgres", isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()


def scratch_url(database_url: str, name: str, directory: Path) -> str:
    """An empty scratch database of the suite's kind: on PostgreSQL ``<test database>_<name>``,
    on SQLite ``<name>.db`` in ``directory``."""
    if database_url.startswith("postgresql"):
        url = f"{database_url}_{name}"
        empty_pg_database(url)
        return url
    return f"sqlite:///{directory / f'{name}.db'}"


@contextmanager
def scratch_app(database_url: str, name: str, directory: Path, revision: str | None = None) -> Iterator[Any]:
    """An app bound to a scratch database (``scratch_url``), inside its app context: migrated
    to ``revision`` when given, else empty."""
    from flask_migrate import upgrade

    from tracker import create_app
    from tracker.extensions import db

    application = create_app({"TESTING": True, "SECRET_KEY": "test-secret",
                              "SQLALCHEMY_DATABASE_URI": scratch_url(database_url, name, directory),
                              "RATELIMIT_STORAGE_URI": "memory://"})
    with application.app_context():
        if revision is not None:
            upgrade(revision=revision)
        try:
            yield application
        finally:
            db.session.remove()
            db.engine.dispose()
