"""The list's totals kept by the database as project rows change: no scan of the projects.

The totals line (``queries.totals``) counts and sums every matching project. Cached per filters
(``core.datacache``), it still read every live project on the first view after any change: at
100,000 projects 22–48 ms for the city's list and the API (bench/scale.py, "cold"). For the
filters most views use — scope, unit, stage, archived or not — the same figures are read here
from ``project_tally``: rows of (unit, archived, stage, paused-from stage, first signing or
增资) with the number of projects and their sums, which triggers on ``project`` keep (migration
f3a4b5c6d7e8). The triggers only ever *add* rows — a change adds the old values negated and the
new ones — so writers never wait for one another on a shared counter row (and cannot deadlock
on two of them); ``fold`` sums the rows into one per key from time to time (the job runner's
housekeeping), which keeps the table at a few hundred rows.

Amounts are kept in fen (万元 × 100, integers): exact on SQLite too, where the amounts
themselves are stored as floating point. Rows inserted in bulk (a ledger import, a benchmark's
data) each add a row here: ``fold`` after them. A later migration that rebuilds the project
table on SQLite (``batch_alter_table``) must create the triggers again (tests/test_tally.py
fails otherwise).
"""
from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

from sqlalchemy import BigInteger, Boolean, Index, Integer, String, delete, func, insert, select, text
from sqlalchemy.orm import Mapped, mapped_column

from tracker.core.permissions import scope_filter
from tracker.extensions import db

FOLD_ABOVE = 1000  # rows in the table before ``fold`` sums them up
_KEY = ("unit_id", "is_archived", "stage", "paused_from_stage", "is_first")


class ProjectTally(db.Model):
    """Written by the database's triggers only (see the module's docstring)."""

    __tablename__ = "project_tally"
    __table_args__ = (Index("ix_project_tally_key", "is_archived", "unit_id", "stage"),)

    # Two ids a counted change, more at each fold: 64-bit on PostgreSQL (SQLite's rowid is).
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    unit_id: Mapped[int] = mapped_column(Integer)
    is_archived: Mapped[bool] = mapped_column(Boolean)
    stage: Mapped[str] = mapped_column(String(20))
    paused_from_stage: Mapped[str | None] = mapped_column(String(20), nullable=True)
    is_first: Mapped[bool] = mapped_column(Boolean)  # not a 增资 (increase_of_id is NULL)
    n: Mapped[int] = mapped_column(Integer)
    investment_fen: Mapped[int] = mapped_column(BigInteger)
    funds_fen: Mapped[int] = mapped_column(BigInteger)


def covers(f) -> bool:
    """Can the totals of the list filters ``f`` (``queries.ProjectFilters``) be read here? Only
    scope, unit, stage and archived are keys (the sort and the page do not change totals); any
    other filter — one added later too — needs the projects themselves."""
    from tracker.projects.queries import ProjectFilters

    return replace(f, stage="", unit=None, archived=False, sort=ProjectFilters.sort, page=1,
                   problems=[]) == ProjectFilters()


def totals(user, f):
    """``queries.Totals`` for ``f`` (``covers(f)``) in ``user``'s scope, from the tally."""
    from tracker.progress.counting import category_of
    from tracker.projects.queries import Sum, Totals

    t = ProjectTally
    conds = [scope_filter(user, t.unit_id), t.is_archived.is_(f.archived)]
    if f.stage:
        conds.append(t.stage == f.stage)
    if f.unit:
        conds.append(t.unit_id == f.unit)
    rows = db.session.execute(
        select(t.stage, t.paused_from_stage, t.is_first, func.sum(t.n), func.sum(t.investment_fen),
               func.sum(t.funds_fen))
        .where(*conds).group_by(t.stage, t.paused_from_stage, t.is_first)).all()
    sums: dict[str, list] = {}
    out = Totals(rows=0)
    for stage, paused_from, is_first, n, investment, funds in rows:
        n = int(n or 0)
        out.rows += n
        if not is_first:
            out.increases += n
        cat = sums.setdefault(category_of(paused_from if stage == "paused" else stage), [0, 0, 0])
        cat[0] += n if is_first else 0
        cat[1] += int(investment or 0)
        cat[2] += int(funds or 0)
    for name, (count, investment, funds) in sums.items():
        setattr(out, name, Sum(count, Decimal(investment) / 100, Decimal(funds) / 100))
    return out


def fold(above: int = FOLD_ABOVE) -> bool:
    """Sum the tally's rows into one per key (dropping keys that sum to nothing) once there are
    more than ``above``; True when it did. Call in a writing transaction (``core.db.writing``)
    and commit. On PostgreSQL one statement (one snapshot: a row added meanwhile by another
    transaction is neither summed nor deleted); SQLite has one writer at a time."""
    t = ProjectTally.__table__
    if db.session.execute(select(func.count()).select_from(t)).scalar_one() <= above:
        return False
    if db.session.get_bind().dialect.name == "postgresql":
        names = ", ".join(_KEY)
        db.session.execute(text(
            f"WITH gone AS (DELETE FROM project_tally RETURNING {names}, n, investment_fen, funds_fen) "
            f"INSERT INTO project_tally ({names}, n, investment_fen, funds_fen) "
            f"SELECT {names}, sum(n), sum(investment_fen), sum(funds_fen) FROM gone GROUP BY {names} "
            f"HAVING sum(n) <> 0 OR sum(investment_fen) <> 0 OR sum(funds_fen) <> 0"))
        return True
    key = [t.c[k] for k in _KEY]
    nonzero = (func.sum(t.c.n) != 0) | (func.sum(t.c.investment_fen) != 0) | (func.sum(t.c.funds_fen) != 0)
    top = db.session.execute(select(func.max(t.c.id))).scalar_one()
    summed = select(*key, func.sum(t.c.n), func.sum(t.c.investment_fen), func.sum(t.c.funds_fen)) \
        .where(t.c.id <= top).group_by(*key).having(nonzero)
    db.session.execute(insert(t).from_select([*_KEY, "n", "investment_fen", "funds_fen"], summed))
    db.session.execute(delete(t).where(t.c.id <= top))
    return True

