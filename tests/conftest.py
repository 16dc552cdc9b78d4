"""Test fixtures.

The schema is built once per test session by the Alembic migrations (never create_all), on
SQLite by default or on PostgreSQL when TEST_DATABASE_URL is set. Each test runs inside an
outer transaction that is rolled back afterwards; the app's own commits only release
savepoints (join_transaction_mode="create_savepoint"), so tests stay isolated and fast.
Tests that need real commits across connections (concurrency, the live server) use the
`committed_db` fixture instead, which truncates the tables afterwards.
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

import flask_babel
import pytest
from flask import g, has_app_context
from flask.testing import FlaskClient
from sqlalchemy import text
from sqlalchemy.orm import Session as _SASession

from tests import factories
from tests.databases import ensure_pg_database, reset_pg_schema

PG_DEFAULT = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


class SASession(_SASession):
    """Plain SQLAlchemy session accepting Flask-SQLAlchemy's ``db`` keyword."""

    def __init__(self, db=None, **kwargs):
        super().__init__(**kwargs)


def _database_url(worker: str) -> str:
    url = os.environ.get("TEST_DATABASE_URL", "").strip()
    if url in ("pg", "postgres", "postgresql"):
        url = PG_DEFAULT
    if url.startswith("postgresql"):
        if worker != "master":
            url = f"{url}_{worker}"  # one database per xdist worker
        ensure_pg_database(url)
        return url
    tmp = Path(tempfile.mkdtemp(prefix=f"tracker-test-{worker}-"))
    return f"sqlite:///{tmp / 'test.db'}"


def _reset_database(url: str) -> None:
    if url.startswith("postgresql"):
        reset_pg_schema(url)


@pytest.fixture(scope="session")
def database_url(worker_id="master"):
    return _database_url(os.environ.get("PYTEST_XDIST_WORKER", "master"))


@pytest.fixture(scope="session")
def app(database_url, tmp_path_factory):
    from flask_migrate import upgrade

    from tracker import create_app

    _reset_database(database_url)
    instance = tmp_path_factory.mktemp("instance")
    application = create_app(
        {
            "TESTING": True,
            "SECRET_KEY": "test-secret",
            "SQLALCHEMY_DATABASE_URI": database_url,
            "WTF_CSRF_ENABLED": False,
            "RATELIMIT_STORAGE_URI": "memory://",
            "SERVER_NAME": "tracker.test",
            "UPLOAD_DIR": str(instance / "uploads"),
            # No booklet cache: tests look at how each PDF is rendered (test_pdf_cache turns it on).
            "PDF_CACHE_FILES": 0,
            "PDF_BRIEF_CACHE_FILES": 0,
            "PDF_CACHE_DIR": str(instance / "pdf-cache"),
        }
    )
    with application.app_context():
        upgrade()
    yield application


@pytest.fixture()
def db(app):
    """The Flask-SQLAlchemy db, its session bound to a per-test rolled-back transaction."""
    from tracker.extensions import db as _db
    from tracker.extensions import limiter

    ctx = app.app_context()
    ctx.push()
    connection = _db.engine.connect()
    outer = connection.begin()
    original = _db.session
    # A plain Session: Flask-SQLAlchemy's own Session.get_bind would pick the engine and
    # ignore the connection bound here, escaping the rollback.
    _db.session = _db._make_scoped_session(
        {"bind": connection, "join_transaction_mode": "create_savepoint", "class_": SASession}
    )
    limiter.reset()
    # Report figures are cached by data version; rolled-back tests can repeat a version.
    from tracker.reports.figures import clear_cache

    clear_cache()
    try:
        yield _db
    finally:
        _db.session.remove()
        _db.session = original
        outer.rollback()
        connection.close()
        ctx.pop()


class IsolatedClient(FlaskClient):
    """The `db` fixture keeps one app context pushed, so requests share `flask.g`; forget what
    Flask-Login, Flask-WTF and Flask-Babel cached there so each request reads its own session."""

    def open(self, *args, **kwargs):
        if has_app_context():
            g.pop("_login_user", None)
            g.pop("csrf_token", None)  # Flask-WTF keeps the request's signed token there
            flask_babel.refresh()  # the locale is cached on g too
        return super().open(*args, **kwargs)


@pytest.fixture()
def client(app, db):
    app.test_client_class = IsolatedClient
    return app.test_client()


@pytest.fixture()
def login_as(client, db):
    """Log the test client in as a user (object or username) without a password round-trip."""
    from sqlalchemy import select

    from tracker.auth.models import User

    def _login(user):
        # Commit the test's setup (only to a savepoint of the outer transaction): otherwise
        # the app's own rollback after a refused input would discard it mid-test.
        db.session.commit()
        if isinstance(user, str):
            user = db.session.execute(select(User).where(User.username == user)).scalar_one()
        factories.sign_in(client, user)
        db.session.commit()
        return user

    return _login


@pytest.fixture()
def ref(db):
    """Reference rows (city + counties, industries, regions, a platform)."""
    return factories.reference()


@pytest.fixture()
def committed_db(app):
    """Real commits (for concurrency and live-server tests); tables emptied afterwards."""
    from tracker.extensions import db as _db

    ctx = app.app_context()
    ctx.push()
    try:
        yield _db
    finally:
        _db.session.remove()
        tables = [t.name for t in reversed(_db.metadata.sorted_tables)]
        with _db.engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                # TRUNCATE fires no row triggers: the keyword gram tables they keep go too.
                tables += ["project_name_gram", "investor_name_gram"]
                conn.execute(text("TRUNCATE " + ", ".join(f'"{t}"' for t in tables) + " RESTART IDENTITY CASCADE"))
            else:
                for t in tables:
                    conn.execute(text(f'DELETE FROM "{t}"'))
                conn.execute(text("DELETE FROM project_tally"))  # the project rows' deletion counted there
            # Reference rows the migrations seed, which every later test expects.
            from tracker.progress.models import DEFAULT_DEADLINES, StageDeadline

            conn.execute(StageDeadline.__table__.insert(), [
                {"stage": stage, "yellow_months": y, "red_months": r, "version_id": 1}
                for stage, (y, r) in DEFAULT_DEADLINES.items()])
        ctx.pop()
