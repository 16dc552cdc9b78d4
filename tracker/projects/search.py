"""Keyword search over project and investor names that does not read every row.

PostgreSQL: ``pg_trgm`` GIN indexes on the names answer ``ILIKE '%…%'`` directly (case-
insensitive for Latin letters, as SQLite's LIKE and FTS5 trigram are: "smart" finds "Smart"). SQLite:
FTS5 tables with the trigram tokenizer (``project_name_fts``, ``investor_name_fts``, kept in
step with the base tables by triggers: see the migration) answer a phrase query. A keyword
shorter than a trigram (1–2 characters) cannot use either index: it is a plain LIKE, as
before. The project side and the investor side are separate indexed lookups joined by
UNION: an OR across the two tables would make both databases scan the project table.
"""
from __future__ import annotations

from typing import Any

from sqlalchemy import column, select, table, union

from tracker.extensions import db
from tracker.projects.models import Investor, Project

FTS_TABLES = ("project_name_fts", "investor_name_fts")


def is_search_table(name: str) -> bool:
    """SQLite's FTS5 tables and their shadow tables (``…_fts_data`` and so on): made by the
    migration, outside the models' metadata (schema comparisons skip them)."""
    return name.startswith(FTS_TABLES)


_project_fts = table("project_name_fts", column("rowid"), column("project_name_fts"))
_investor_fts = table("investor_name_fts", column("rowid"), column("investor_name_fts"))


def _phrase(q: str) -> str:
    """An FTS5 phrase: the keyword quoted, its own quotes doubled (no query syntax)."""
    return '"' + q.replace('"', '""') + '"'


def matching_projects(q: str) -> Any:
    """A condition on Project: its name or its investor's name contains ``q``."""
    if len(q) >= 3 and db.engine.dialect.name == "sqlite":
        phrase = _phrase(q)
        by_name = select(_project_fts.c.rowid).where(_project_fts.c.project_name_fts.op("MATCH")(phrase))
        by_investor = select(Project.id).where(Project.investor_id.in_(
            select(_investor_fts.c.rowid).where(_investor_fts.c.investor_name_fts.op("MATCH")(phrase))))
    else:
        by_name = select(Project.id).where(Project.name.icontains(q, autoescape=True))
        by_investor = select(Project.id).where(Project.investor_id.in_(
            select(Investor.id).where(Investor.name.icontains(q, autoescape=True))))
    return Project.id.in_(union(by_name, by_investor))
