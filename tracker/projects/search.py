"""Keyword search over project and investor names that does not read every row.

PostgreSQL: ``pg_trgm`` GIN indexes on the names answer ``ILIKE '%…%'`` directly (case-
insensitive for Latin letters, as SQLite's LIKE and FTS5 trigram are: "smart" finds "Smart"). SQLite:
FTS5 tables with the trigram tokenizer (``project_name_fts``, ``investor_name_fts``, kept in
step with the base tables by triggers: see the migration) answer a phrase query.

A keyword of one or two characters (港, 电池, 吉利: common in Chinese) is below a trigram: it is
looked up among each name's single characters and pairs of neighbouring characters instead
(``project_name_gram`` and ``investor_name_gram``, kept by triggers on both databases: see
the migrations), which is exactly "contains" for one or two characters.

The project side and the investor side are separate indexed lookups joined by UNION: an OR
across the two tables would make both databases scan the project table.
"""
from __future__ import annotations

from typing import Any

from sqlalchemy import Text, cast, column, func, select, table, union

from tracker.extensions import db
from tracker.projects.models import Investor, Project

FTS_TABLES = ("project_name_fts", "investor_name_fts")
SEARCH_TABLES = (*FTS_TABLES, "project_name_gram", "investor_name_gram", "search_seq")


def is_search_table(name: str) -> bool:
    """The keyword tables (SQLite's FTS5 with their shadow tables ``…_fts_data`` and so on,
    both databases' gram tables, SQLite's table of numbers): made by the migrations, outside
    the models' metadata (schema comparisons skip them)."""
    return name.startswith(SEARCH_TABLES)


_project_fts = table("project_name_fts", column("rowid"), column("project_name_fts"))
_investor_fts = table("investor_name_fts", column("rowid"), column("investor_name_fts"))
_project_gram = table("project_name_gram", column("gram"), column("id"))
_investor_gram = table("investor_name_gram", column("gram"), column("id"))


def _with_gram(grams: Any, q: str) -> Any:
    """The ids of the rows whose name has the character ``q``, or the two characters ``q``
    side by side (case-insensitive as LIKE is: lower() on both sides, in the database)."""
    return select(grams.c.id).where(grams.c.gram == func.lower(cast(q, Text)))


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
    elif 1 <= len(q) <= 2:
        by_name = _with_gram(_project_gram, q)
        by_investor = select(Project.id).where(Project.investor_id.in_(_with_gram(_investor_gram, q)))
    else:
        by_name = select(Project.id).where(Project.name.icontains(q, autoescape=True))
        by_investor = select(Project.id).where(Project.investor_id.in_(
            select(Investor.id).where(Investor.name.icontains(q, autoescape=True))))
    return Project.id.in_(union(by_name, by_investor))
