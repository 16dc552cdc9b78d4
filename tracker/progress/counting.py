"""What counts, as SQL: the one place the list's totals, the dashboard, the home page, the
通报 and the summary API take their counting rules from (DOMAIN.md, "Rates").

- A project counts once, under its first signing: a 增资 (``increase_of_id`` set) adds its
  amount — only the added capital — to the sums and nothing to the counts.
- It counts at its current stage, or at its stage on an as-of date (the stage history): a
  paused project at the stage it was paused from, a terminated one as signed only
  (category ``terminated``: in a rate's denominator, never in a numerator).
- Categories: ``negotiating`` (在谈, not signed), ``terminated`` (终止), ``signed`` (every
  other state: signed and later, paused included — the live signed projects).
- Archived projects count nowhere.
- On an as-of date a project counts only if it existed then (it has a stage event on or
  before the date) and was signed by then.
"""
from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import case, func, literal, select
from sqlalchemy.orm import aliased

from tracker.funds.models import FundsRecord
from tracker.progress.models import StageEvent
from tracker.projects.models import Project
from tracker.workflow.stages import at_or_after


def counts_as(as_of: date | None = None) -> Any:
    """The stage code a project counts at (``terminated`` for terminated projects); NULL on
    an as-of date before the project existed."""
    if as_of is None:
        return case((Project.stage == "paused", Project.paused_from_stage), else_=Project.stage)
    return _on(StageEvent.counts_as, as_of)


def state_on(as_of: date | None = None) -> Any:
    """The project's state (``paused`` and ``terminated`` as such) now or on ``as_of``."""
    return Project.stage if as_of is None else _on(StageEvent.to_stage, as_of)


def _on(column: Any, as_of: date) -> Any:
    """``column`` of the project's last *recorded* event among those effective on or before
    ``as_of``. Recording order, not the effective dates, decides between them: a correction,
    pause or termination may be dated before the move it follows (a correction back to the
    stage's real date), and the last recorded event is always the current state, so the
    stage on any date after the last change is the current stage."""
    event = aliased(StageEvent)
    return (select(getattr(event, column.key))
            .where(event.project_id == Project.id, event.effective_on <= as_of)
            .order_by(event.id.desc())
            .limit(1).correlate(Project).scalar_subquery())


# The totals' categories: these stages apart, every other one (signed and later) "signed".
APART = ("negotiating", "terminated")


def category(stage_expr: Any) -> Any:
    """``negotiating`` / ``terminated`` / ``signed`` from a ``counts_as`` expression."""
    return case(*((stage_expr == code, literal(code)) for code in APART), else_=literal("signed"))


def category_of(counts_as_code: str | None) -> str:
    """``category`` of a stage code read already (the tally's, ``projects.tally``)."""
    return counts_as_code if counts_as_code in APART else "signed"


def funds(as_of: date | None = None) -> Any:
    """Funds in place (万元): the stored sum, or the records received by ``as_of``."""
    if as_of is None:
        return Project.funds_in_place
    return func.coalesce(
        select(func.sum(FundsRecord.amount))
        .where(FundsRecord.project_id == Project.id, FundsRecord.received_on <= as_of)
        .correlate(Project).scalar_subquery(), 0)


def first_signing() -> Any:
    return Project.increase_of_id.is_(None)


def once() -> Any:
    """1 for a project that counts, 0 for a 增资 (sum it to count projects)."""
    return case((Project.increase_of_id.is_(None), 1), else_=0)


def period(start: date | None, end: date | None, as_of: date | None = None, *, existed: bool = True) -> list[Any]:
    """Signed within [start, end] (either may be open) and, on an as-of date, by then and
    existing then. ``existed=False`` leaves the last out (``counts_as(as_of)`` is not NULL):
    for a query that selects ``counts_as(as_of)`` once per project and filters on it itself."""
    conds: list[Any] = []
    if start is not None:
        conds.append(Project.signed_on >= start)
    if end is not None:
        conds.append(Project.signed_on <= end)
    if as_of is not None:
        conds.append(Project.signed_on <= as_of)
        if existed:
            conds.append(counts_as(as_of).is_not(None))
    return conds


def reached(code: str, as_of: date | None = None) -> Any:
    """Counts at ``code`` or a later main-line stage (a rate's numerator)."""
    return counts_as(as_of).in_(at_or_after(code))

