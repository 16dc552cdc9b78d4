"""Scratch PostgreSQL databases for tests that need one of their own (migrations, the browser
test, backups): created on demand, emptied before use."""
from __future__ import annotations

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
