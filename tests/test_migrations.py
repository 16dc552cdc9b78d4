"""The Alembic migrations are the only source of the schema: they must match the models
exactly, and they must go down and up again cleanly.

Each test builds its own scratch database next to the session one (a temporary SQLite file,
or on PostgreSQL a database named ``<test database>_mig``), so the schema the other tests
share is never touched.
"""
from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text

from tests import databases


@pytest.fixture()
def scratch_app(database_url, tmp_path):
    """An app bound to an empty scratch database of the same kind as the suite's."""
    with databases.scratch_app(database_url, "mig", tmp_path) as application:
        yield application


def _for_this_dialect(dialect_name: str):
    """Skip model indexes declared for another database (Index(...).ddl_if(dialect=...))
    and the search tables outside the metadata."""
    from tracker.projects.search import is_search_table


    def include_object(obj, name, type_, _reflected, _compare_to):
        if type_ == "table" and is_search_table(name):  # SQLite's FTS5 keyword index
            return False
        ddl_if = getattr(obj, "_ddl_if", None) if type_ == "index" else None
        return not (ddl_if and ddl_if.dialect and ddl_if.dialect != dialect_name)

    return include_object


def _schema_diff():
    from tracker.extensions import db

    with db.engine.connect() as conn:
        context = MigrationContext.configure(
            conn,
            opts={
                "compare_type": True,
                "compare_server_default": False,
                "target_metadata": db.metadata,
                "include_object": _for_this_dialect(conn.dialect.name),
            },
        )
        return compare_metadata(context, db.metadata)


def _tables() -> set[str]:
    from tracker.extensions import db

    return set(inspect(db.engine).get_table_names()) - {"alembic_version"}


def test_models_and_migrations_do_not_drift(scratch_app):
    from flask_migrate import upgrade

    upgrade()
    diff = _schema_diff()
    assert diff == [], (
        "The models differ from the schema the migrations build; generate a migration "
        "(flask db migrate -m '...') and review it:\n" + "\n".join(map(repr, diff))
    )


def test_upgrade_downgrade_upgrade(scratch_app):
    from flask_migrate import downgrade, upgrade

    from tracker.extensions import db
    from tracker.projects.search import SEARCH_TABLES, is_search_table

    model_tables = {t.name for t in db.metadata.sorted_tables}
    search = set(SEARCH_TABLES) if db.engine.dialect.name == "sqlite" else {"project_name_gram", "investor_name_gram"}

    upgrade()
    assert {t for t in _tables() if not is_search_table(t)} == model_tables
    assert search <= _tables()

    downgrade(revision="base")
    assert _tables() == set(), "downgrade to base left tables behind"

    upgrade()
    assert {t for t in _tables() if not is_search_table(t)} == model_tables and search <= _tables()
    assert _schema_diff() == []


def _literals(sql: str) -> list[str]:
    """The quoted literals and numbers of a CHECK's text, which survive how each database
    re-prints the expression (PostgreSQL turns ``x IN ('a','b')`` into ``x = ANY (ARRAY[…])``)."""
    import re

    quoted = re.findall(r"'((?:[^']|'')*)'", sql)
    unquoted = re.sub(r"'(?:[^']|'')*'", " ", sql)
    numbers = re.findall(r"(?<![\w.])\d+(?:\.\d+)?(?![\w.])", unquoted)
    return sorted(quoted) + sorted(numbers)


def _model_checks(table) -> dict[str, list[str]]:
    from sqlalchemy import CheckConstraint

    out = {}
    for constraint in table.constraints:
        if isinstance(constraint, CheckConstraint):
            name = str(constraint.name)
            if not name.startswith("ck_"):
                name = f"ck_{table.name}_{name}"
            out[name] = _literals(str(constraint.sqltext))
    return out


def _check_drift() -> list[str]:
    """Alembic's compare_metadata ignores CHECK constraints: compare them here, by name and by
    the values they allow (e.g. the stage list of ``stage_known``)."""
    from tracker.extensions import db

    inspector = inspect(db.engine)
    problems = []
    for table in db.metadata.sorted_tables:
        expected = _model_checks(table)
        found = {c["name"]: _literals(c["sqltext"]) for c in inspector.get_check_constraints(table.name)}
        for name in expected.keys() - found.keys():
            problems.append(f"{name}: in the model, missing from the migrated database")
        for name in found.keys() - expected.keys():
            problems.append(f"{name}: in the migrated database, not in the model")
        for name in expected.keys() & found.keys():
            if expected[name] != found[name]:
                problems.append(f"{name}: model allows {expected[name]}, database {found[name]}")
    return problems


def test_check_constraints_do_not_drift(scratch_app):
    from flask_migrate import upgrade

    upgrade()
    assert _check_drift() == []


def test_check_drift_is_seen(scratch_app, monkeypatch):
    """The comparison itself works: a stage added to the model's CHECK is reported."""
    from flask_migrate import upgrade
    from sqlalchemy import CheckConstraint

    from tracker.extensions import db

    upgrade()
    table = db.metadata.tables["project"]
    check = next(c for c in table.constraints if isinstance(c, CheckConstraint) and "stage_known" in str(c.name))
    monkeypatch.setattr(check, "sqltext", text(str(check.sqltext).replace("'signed'", "'signed','relocated'")))
    assert any("stage_known" in p and "relocated" in p for p in _check_drift())
