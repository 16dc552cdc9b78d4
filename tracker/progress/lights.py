"""Red/yellow lights (亮灯): is a project's next stage overdue?

The next stage falls due ``yellow_months`` after the current stage began (``stage_since``)
and turns red after ``red_months`` (``StageDeadline``, admin-edited, DOMAIN.md's defaults).
A planned date for the next milestone, where set, takes precedence: yellow the day after
it, red once the gap between the two deadlines has passed after it as well. Paused,
terminated, archived projects and those at full capacity are never lit.

The dates are stored on the project (``due_on``, ``red_on``) so lists filter and sort by
them with an index; ``refresh`` recomputes them and every operation that changes a stage,
a planned date, the signing date or a deadline calls it. A project is late on the day
*after* ``due_on`` (``today > due_on``), red on the day after ``red_on``.
"""
from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date
from typing import Any

import sqlalchemy as sa

from tracker.core.db import unindexed
from tracker.workflow.stages import MAIN_CODES

NOT_LIT = ("paused", "terminated", "full_capacity")


def add_months(day: date, months: int) -> date:
    """``day`` plus whole months, the day clamped to the month's end (1-31 + 1 = 2-28/29)."""
    month0 = day.month - 1 + months
    year, month = day.year + month0 // 12, month0 % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def next_stage(stage: str) -> str | None:
    if stage not in MAIN_CODES or stage == MAIN_CODES[-1]:
        return None
    return MAIN_CODES[MAIN_CODES.index(stage) + 1]


def due_dates(stage: str, since: date | None, planned_next: date | None,
              deadlines: dict[str, tuple[int, int]]) -> tuple[date | None, date | None]:
    """(due_on, red_on) for a project in ``stage`` since ``since``."""
    if stage in NOT_LIT or stage not in deadlines:
        return None, None
    yellow, red = deadlines[stage]
    if planned_next is not None:
        return planned_next, add_months(planned_next, red - yellow)
    if since is None:
        return None, None
    return add_months(since, yellow), add_months(since, red)


@dataclass(frozen=True)
class Light:
    colour: str  # "red" | "yellow" | ""
    days_late: int  # days past due_on (0 when not late)


def light(due_on: date | None, red_on: date | None, today: date, *, stage: str = "",
          archived: bool = False) -> Light:
    if due_on is None or archived or stage in NOT_LIT or today <= due_on:
        return Light("", 0)
    return Light("red" if red_on is not None and today > red_on else "yellow", (today - due_on).days)


def lit_condition(project: Any, today: date, colour: str = "") -> Any:
    """SQL: the project is lit today (any colour, or ``red``/``yellow``)."""
    # Nearly every project is live: "not archived" must not pick the is_archived index over
    # the due-date or investment index that stops after a page.
    live = unindexed(project.is_archived).is_(False)
    base = sa.and_(project.due_on < today, live, project.stage.not_in(NOT_LIT))
    if colour == "red":
        return sa.and_(base, project.red_on < today)
    if colour == "yellow":
        return sa.and_(base, sa.or_(project.red_on.is_(None), project.red_on >= today))
    return base


# --- Keeping the stored dates right ---------------------------------------------------------

_meta = sa.MetaData()
_project = sa.Table("project", _meta, sa.Column("id", sa.Integer), sa.Column("stage", sa.String),
                    sa.Column("stage_since", sa.Date), sa.Column("due_on", sa.Date), sa.Column("red_on", sa.Date))
_milestone = sa.Table("milestone", _meta, sa.Column("project_id", sa.Integer), sa.Column("stage", sa.String),
                      sa.Column("planned_on", sa.Date))
_deadline = sa.Table("stage_deadline", _meta, sa.Column("stage", sa.String), sa.Column("yellow_months", sa.Integer),
                     sa.Column("red_months", sa.Integer))


def deadlines(session: Any) -> dict[str, tuple[int, int]]:
    return {r.stage: (r.yellow_months, r.red_months) for r in session.execute(sa.select(_deadline))}


def refresh(session: Any, project_ids: list[int] | None = None, *, stage: str | None = None,
            batch: int = 5000) -> int:
    """Recompute ``due_on``/``red_on`` of the given projects (or those in ``stage``, or all);
    returns how many rows changed. Core statements: usable from a migration."""
    if project_ids is not None and len(project_ids) > batch:  # bounded IN lists
        return sum(refresh(session, list(project_ids[i:i + batch]), stage=stage, batch=batch)
                   for i in range(0, len(project_ids), batch))
    limits = deadlines(session)
    q = sa.select(_project.c.id, _project.c.stage, _project.c.stage_since, _project.c.due_on, _project.c.red_on)
    if project_ids is not None:
        q = q.where(_project.c.id.in_(project_ids))
    if stage is not None:
        q = q.where(_project.c.stage == stage)
    rows = session.execute(q.order_by(_project.c.id)).all()
    changed = 0
    for i in range(0, len(rows), batch):
        chunk = rows[i:i + batch]
        planned = {(m.project_id, m.stage): m.planned_on for m in session.execute(
            sa.select(_milestone).where(_milestone.c.project_id.in_([r.id for r in chunk]),
                                        _milestone.c.planned_on.is_not(None)))}
        updates = []
        for r in chunk:
            nxt = next_stage(r.stage)
            due, red = due_dates(r.stage, r.stage_since, planned.get((r.id, nxt)) if nxt else None, limits)
            if (due, red) != (r.due_on, r.red_on):
                updates.append({"pid": r.id, "due": due, "red": red})
        if updates:
            session.execute(sa.update(_project).where(_project.c.id == sa.bindparam("pid"))
                            .values(due_on=sa.bindparam("due"), red_on=sa.bindparam("red")), updates)
        changed += len(updates)
    return changed


def refresh_project(project: Any) -> None:
    """Recompute one ORM project's dates in place (after a move or a planning change)."""
    from tracker.extensions import db
    from tracker.workflow.models import Milestone

    nxt = next_stage(project.stage)
    planned = db.session.execute(sa.select(Milestone.planned_on).where(
        Milestone.project_id == project.id, Milestone.stage == nxt)).scalar_one_or_none() if nxt else None
    due, red = due_dates(project.stage, project.stage_since, planned, deadlines(db.session))
    if (due, red) != (project.due_on, project.red_on):
        # A bulk UPDATE, not an attribute change: derived dates must not bump the version
        # (someone editing the project form meanwhile would be told it changed). Only this
        # object is brought in step (as recency.touch does): "evaluate" would scan every
        # object the session holds, each time (a long import: quadratic).
        from sqlalchemy.orm.attributes import set_committed_value

        from tracker.projects.models import Project

        db.session.execute(sa.update(Project).where(Project.id == project.id).values(due_on=due, red_on=red)
                           .execution_options(synchronize_session=False))
        set_committed_value(project, "due_on", due)
        set_committed_value(project, "red_on", red)


def default_plan(signed_on: date, limits: dict[str, tuple[int, int]]) -> dict[str, date]:
    """Planned dates for a new project's milestones: each stage due its yellow deadline after
    the one before, starting from the signing date."""
    plan: dict[str, date] = {}
    day = signed_on
    for stage in MAIN_CODES[1:-1]:
        nxt = next_stage(stage)
        if nxt is None or stage not in limits:
            break
        day = add_months(day, limits[stage][0])
        plan[nxt] = day
    return plan
