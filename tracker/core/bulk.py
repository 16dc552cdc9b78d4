"""Inserting, updating and finding many rows at once (a ledger import's thousands of projects).

SQLAlchemy asks for new ids with ``INSERT … VALUES (…), (…) … RETURNING id`` (its
"insertmanyvalues"): on SQLite that is fast; on PostgreSQL psycopg spends most of the time
converting the giant statement's placeholders (3,000 audit rows: 0.49 s, against 0.10 s
for a pipelined executemany). So on PostgreSQL the ids come from the table's sequence first
(one statement) and the rows go in as one JSON document (``json_to_recordset``): one
statement whatever the number of rows, with no escaping (a text array made psycopg escape
every backslash of every escaped character). A 10,000-row import's commit went from 39 s to
11–16 s on PostgreSQL with this. A few rows take the plain statements.
"""
from __future__ import annotations

import json
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import bindparam, insert, select, text
from sqlalchemy.orm import Session

# Below this many rows the plain statements are as quick (and a single create stays one
# INSERT … RETURNING).
FEW = 20


def allocate_ids(session: Session, table: Any, n: int) -> list[int] | None:
    """``n`` fresh ids for ``table`` from its sequence on PostgreSQL; None elsewhere, or for
    a few rows (let the INSERT assign them)."""
    if n < FEW or session.get_bind().dialect.name != "postgresql":
        return None
    return list(session.execute(
        text("SELECT nextval(pg_get_serial_sequence(:t, 'id')) FROM generate_series(1, :n)"),
        {"t": table.name, "n": n}).scalars())


def insert_returning_ids(session: Session, model: Any, rows: list[dict[str, Any]]) -> list[int]:
    """Insert ``rows`` into ``model``'s table (ORM bulk INSERT: Python-side defaults apply)
    and return their ids in order."""
    if not rows:
        return []
    ids = allocate_ids(session, model.__table__, len(rows))
    if ids is None:
        return list(session.execute(insert(model).returning(model.id, sort_by_parameter_order=True),
                                    rows).scalars())
    insert_many(session, model, [{"id": i, **row} for row, i in zip(rows, ids, strict=True)])
    return ids


def unit_pairs(session: Session, model: Any, column: Any, keys: set[tuple[int, Any]], *entities: Any) -> list[Any]:
    """Rows of ``model`` (objects, or the ``entities`` columns as rows) whose unit_id is one
    of the ``keys``' units and ``column`` one of their values, 500 values a statement: two
    single-column IN lists, which an index on (unit_id, column) answers, where a row-value
    IN list of pairs makes PostgreSQL scan the table. A superset: the caller keeps the rows
    whose exact pair is in ``keys``."""
    units = sorted({unit_id for unit_id, _v in keys})
    values = sorted({value for _u, value in keys})
    found: list[Any] = []
    for i in range(0, len(values), 500):
        q = select(*(entities or (model,))).where(model.unit_id.in_(units), column.in_(values[i:i + 500]))
        result = session.execute(q)
        found += result.all() if entities else result.scalars().all()
    return found


def insert_many(session: Session, model: Any, rows: list[dict[str, Any]]) -> None:
    """Insert ``rows`` (all with the same keys; columns left out take their Python-side
    defaults). On PostgreSQL one ``INSERT … SELECT FROM json_to_recordset(…)`` statement
    whatever the number of rows (50,000 milestones: one statement and one JSON document,
    where an executemany sends 50,000 and a text array needs every quote escaped). Elsewhere
    SQLAlchemy's bulk INSERT."""
    if not rows:
        return
    dialect = session.get_bind().dialect
    if dialect.name != "postgresql" or len(rows) < FEW:
        session.execute(insert(model), rows)
        return
    table = model.__table__
    defaults = [c for c in table.columns if c.key not in rows[0] and c.default is not None]
    if defaults:
        fill = {c.key: c.default for c in defaults}
        rows = [{**row, **{k: d.arg if d.is_scalar else d.arg(None) for k, d in fill.items()}} for row in rows]
    columns = [table.c[k] for k in rows[0]]
    source, params = _recordset(dialect, columns, rows, "r")
    names = ", ".join(dialect.identifier_preparer.quote(c.name) for c in columns)
    session.execute(text(f"INSERT INTO {table.name} ({names}) SELECT {names} FROM {source}"), params)


def update_many(conn: Any, table: Any, rows: list[dict[str, Any]]) -> None:
    """Set columns of many rows of ``table`` by id: each row is ``{"id": …, column: value, …}``
    (the same keys in all). PostgreSQL: one ``UPDATE … FROM json_to_recordset(…)``;
    elsewhere an executemany."""
    if not rows:
        return
    dialect = conn.dialect
    keys = [k for k in rows[0] if k != "id"]
    if dialect.name != "postgresql" or len(rows) < FEW:
        conn.execute(table.update().where(table.c.id == bindparam("b_id"))
                     .values({k: bindparam(f"b_{k}") for k in keys}),
                     [{f"b_{k}": v for k, v in row.items()} for row in rows])
        return
    quote = dialect.identifier_preparer.quote
    source, params = _recordset(dialect, [table.c[k] for k in rows[0]], rows, "u")
    sets = ", ".join(f"{quote(table.c[k].name)} = u.{quote(table.c[k].name)}" for k in keys)
    conn.execute(text(f"UPDATE {table.name} SET {sets} FROM {source} "
                      f"WHERE {table.name}.id = u.id"), params)


def _recordset(dialect: Any, columns: list[Any], rows: list[dict[str, Any]],
               alias: str) -> tuple[str, dict[str, str]]:
    """``json_to_recordset(…) AS alias(column type, …)`` over ``rows`` sent as one JSON document."""
    quote = dialect.identifier_preparer.quote
    shape = ", ".join(f"{quote(c.name)} {c.type.compile(dialect=dialect)}" for c in columns)
    document = json.dumps([{c.name: row[c.key] for c in columns} for row in rows], ensure_ascii=False,
                          separators=(",", ":"), default=_json_value)
    return f"json_to_recordset(CAST(:rows AS json)) AS {alias}({shape})", {"rows": document}


def _json_value(value: Any) -> Any:
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    raise TypeError(f"cannot send {type(value).__name__} in a bulk statement")
