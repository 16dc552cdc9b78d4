"""PostgreSQL cursors describe their columns only when asked (core.pg_cursor), and then exactly
as psycopg's own cursor does."""
from __future__ import annotations

import psycopg
import pytest
from sqlalchemy import select, text

from tracker.core.pg_cursor import LazyDescription, LazyDescriptionCursor


@pytest.fixture()
def raw(db):
    if db.engine.dialect.name != "postgresql":
        pytest.skip("psycopg cursors: PostgreSQL only")
    return db.session.connection().connection.driver_connection


def test_the_app_uses_it_and_results_are_unchanged(db, raw):
    assert isinstance(raw.cursor(), LazyDescriptionCursor)
    result = db.session.execute(text("select 1 as a, 'x'::text as b, now() as c"))
    assert list(result.keys()) == ["a", "b", "c"] and result.one()[:2] == (1, "x")
    from tracker.auth.models import Unit

    assert db.session.execute(select(Unit.id, Unit.name).limit(1)).all() is not None


def test_the_description_is_psycopg_s_own(raw):
    query = "select 1 as a, 'x'::varchar(7) as b, now() as c, null::numeric(10, 2) as d"
    plain = psycopg.Cursor(raw)
    plain.execute(query)
    lazy = raw.cursor()
    lazy.execute(query)
    described = lazy.description
    assert isinstance(described, LazyDescription) and len(described) == 4
    assert [tuple(c) for c in described] == [tuple(c) for c in plain.description]
    assert [c.name for c in described[1:]] == ["b", "c", "d"] and described[-1].type_code == plain.description[-1][1]


def test_columns_made_late_describe_their_own_result(raw):
    cur = raw.cursor()
    cur.execute("select 1 as first_one")
    described = cur.description  # nothing built yet
    cur.execute("select 2 as second_one, 3 as third_one")
    assert [c.name for c in described] == ["first_one"]
    assert [c.name for c in cur.description] == ["second_one", "third_one"]


def test_no_rows_no_description_and_an_empty_select(raw):
    cur = raw.cursor()
    cur.execute("create temporary table lazy_description_probe (x int)")
    assert cur.description is None
    cur.execute("select ;")  # rows, no columns: an empty description, as psycopg's
    assert cur.description is not None and list(cur.description) == []
