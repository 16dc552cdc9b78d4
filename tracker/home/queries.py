"""What the home page ("今日") shows each role: the few things that need attention today.

- staff: my lit projects (most overdue first), my pending and recently rejected stage
  requests, the open milestones of my projects due within 30 days and the overdue ones;
- manager: the approvals waiting (the amount in 亿元 and 万元, flagged when it looks like a
  unit mistake), the unit's lit projects, the unit's figures for the year against its targets;
- leader: the year's figures in scope (the city, or a county leader's unit), the 赛马 ranking,
  the largest stalled (lit) projects;
- admin: users and reference data.

Every section is a fixed number of queries, each with a LIMIT (plus, where a total is shown,
one aggregate), whatever the number of projects: the home page is benchmarked at 100,000
projects. Lit projects are found through the stored ``due_on``/``red_on`` dates
(``tracker.progress.lights``; index ``ix_project_due``), "mine" through ``owner_id``
(indexed). Items are plain dataclasses: templates render them and never query.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

from sqlalchemy import and_, case, exists, func, or_, select
from sqlalchemy.orm import aliased, joinedload

from tracker.auth.models import Role, Unit, User
from tracker.core.db import unindexed, utcnow
from tracker.core.formatting import ref_name
from tracker.core.input import Problem, parse_amount
from tracker.core.permissions import scope_filter
from tracker.extensions import db
from tracker.progress.lights import NOT_LIT, Light, light, lit_condition
from tracker.projects.models import Industry, Platform, Project, SourceRegion
from tracker.projects.schemas import amount_warnings
from tracker.workflow.models import Milestone, StageRequest
from tracker.workflow.operations import approval_queue
from tracker.workflow.stages import BY_CODE, MAIN_CODES

LIMIT = 10  # rows per section; "查看全部" leads to the full list
MILESTONE_DAYS = 30  # milestones due within this many days
REJECTED_DAYS = 30  # rejected requests shown this long (unless resubmitted since)
RANKING_ROWS = 10
COUNT_CAP = 500  # a unit's or the city's lit projects are counted up to this ("500+")


# --- Items -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class ProjectItem:
    """A project row: a lit project (or a stalled one, for leaders)."""

    id: int
    name: str
    unit_name: str
    stage: str
    investment: Decimal
    due_on: date | None
    light: Light
    owner_name: str = ""


@dataclass
class Section:
    """Some rows of a longer list: ``total`` rows in all, ``more`` the project-list arguments
    of the whole list (None: no list to link to)."""

    items: list[Any]
    total: int = 0
    red: int = 0  # lit sections: how many of ``total`` are red
    more: dict[str, Any] | None = None
    capped: bool = False  # there are more than ``total`` (= COUNT_CAP); ``red`` is then partial

    @property
    def yellow(self) -> int:
        return self.total - self.red

    @property
    def truncated(self) -> bool:
        return self.total > len(self.items)


@dataclass(frozen=True)
class RequestItem:
    """One of my stage requests: pending, or rejected (with who rejected it and why)."""

    id: int
    project_id: int
    project_name: str
    kind: str
    from_stage: str
    to_stage: str
    status: str
    actual_date: date
    requested_at: datetime
    decided_at: datetime | None
    decided_by: str
    decision_comment: str


@dataclass(frozen=True)
class MilestoneItem:
    project_id: int
    project_name: str
    stage: str  # the milestone's stage (reaching it is what falls due)
    project_stage: str
    planned_on: date
    days: int  # days until it falls due (negative: days overdue)
    overdue_count: int = 0  # overdue milestones of the project (the overdue list: one row a project)

    @property
    def overdue(self) -> bool:
        return self.days < 0


@dataclass(frozen=True)
class ApprovalItem:
    """A request waiting for this manager, with the amounts a unit mistake would show in."""

    id: int
    project_id: int
    project_name: str
    unit_name: str
    kind: str
    from_stage: str
    to_stage: str
    actual_date: date
    requested_by: str
    requested_at: datetime
    investment: Decimal  # 万元
    registered_capital: Decimal | None  # 万元 (the request's value, else the project's)
    warnings: tuple[str, ...]  # why the amount looks wrong (empty: plausible)


@dataclass
class StaffHome:
    lit: Section
    requests: list[RequestItem]
    pending: int
    rejected: int
    upcoming: Section
    overdue: Section
    horizon: date


@dataclass
class ManagerHome:
    approvals: Section
    lit: Section
    targets: Any  # tracker.targets.queries.Row | None (the unit's, or the 全市 row)
    pace: int | None
    year: int


@dataclass
class Rate:
    key: str
    label: Any
    value: float | None
    drill: dict[str, Any] | None  # project-list arguments (None: the dashboard explains it)


@dataclass
class LeaderHome:
    year: int
    scope_label: str
    figures: Any  # tracker.reports.figures.Figures
    drill: dict[str, Any]  # the list behind the signings
    rates: list[Rate]
    ranking: list[Any]  # tracker.reports.figures.RankRow, top rows
    ranking_total: int
    stalled: Section


@dataclass
class AdminHome:
    users_active: int
    users_inactive: int
    never_logged_in: int
    by_role: dict[str, int]  # active users per role
    recent_logins: list[Any]
    reference: list[dict[str, Any]] = field(default_factory=list)


# --- Shared pieces ---------------------------------------------------------------------------

def _unit_label(name: str, name_en: str | None) -> str:
    return ref_name(SimpleNamespace(name=name, name_en=name_en or ""))


def _lit_section(user: Any, today: date, *, mine: bool, order: str) -> Section:
    """Lit projects in scope (or the user's own), ``order`` ``late`` (most overdue first) or
    ``investment`` (largest first), with how many there are and how many of them are red.

    The user's own projects: one query over them (the owner index; the totals as window
    aggregates). A unit's or the city's: the page reads the sort order's index and stops
    after ``LIMIT`` rows, and the count stops at ``COUNT_CAP`` (beyond it the page says "500+"
    and the list behind "查看全部" gives the exact figure): a count of every lit project of a
    city with 100,000 projects would cost more than the rest of the page."""
    red_flag = case((lit_condition(Project, today, "red"), 1), else_=0)
    owner = aliased(User)
    ordering = ((Project.due_on.asc(), Project.id.asc()) if order == "late"
                else (Project.contracted_investment.desc(), Project.id.desc()))
    columns = (Project.id, Project.name, Project.stage, Project.contracted_investment, Project.due_on,
               Project.red_on, Unit.name, Unit.name_en, owner.display_name)
    capped = False
    if mine:
        conds = [Project.owner_id == user.id, _scope_unindexed(user), lit_condition(Project, today)]
        rows = db.session.execute(
            select(*columns, func.count().over(), func.sum(red_flag).over())
            .join(Unit, Unit.id == Project.unit_id).outerjoin(owner, owner.id == Project.owner_id)
            .where(*conds).order_by(*ordering).limit(LIMIT)
        ).all()
        total, red = (int(rows[0][9]), int(rows[0][10] or 0)) if rows else (0, 0)
    else:
        conds = [scope_filter(user, Project.unit_id), lit_condition(Project, today)]
        some = select(red_flag.label("red")).where(*conds).limit(COUNT_CAP + 1).subquery()
        total, red = db.session.execute(select(func.count(), func.sum(some.c.red))).one()
        total, red = int(total), int(red or 0)
        capped = total > COUNT_CAP
        rows = db.session.execute(
            select(*columns).join(Unit, Unit.id == Project.unit_id).outerjoin(owner, owner.id == Project.owner_id)
            .where(*conds).order_by(*ordering).limit(LIMIT)
        ).all() if total else []
    items = [ProjectItem(r[0], r[1], _unit_label(r[6], r[7]), r[2], Decimal(r[3]), r[4],
                         light(r[4], r[5], today, stage=r[2]), r[8] or "") for r in rows]
    return Section(items, min(total, COUNT_CAP) if capped else total, red, _lit_args(mine, order), capped)


def _scope_unindexed(user: Any) -> Any:
    """The unit scope for the user's own projects, written so that no index on ``unit_id``
    is used: the owner's index finds a few hundred rows, the unit's would find thousands
    (SQLite otherwise picks the unit index)."""
    return scope_filter(user, unindexed(Project.unit_id))


def _lit_args(mine: bool, order: str) -> dict[str, Any]:
    args: dict[str, Any] = {"lit": "any", "sort": order}
    if mine:
        args["mine"] = "1"
    return args


# --- Staff -----------------------------------------------------------------------------------

def _my_requests(user: Any) -> tuple[list[RequestItem], int, int]:
    """My pending requests, then my rejected ones of the last ``REJECTED_DAYS`` days that no
    later request on the project has followed up; with how many of each there are."""
    later = aliased(StageRequest)
    followed_up = exists().where(later.project_id == StageRequest.project_id, later.id > StageRequest.id)
    since = utcnow() - timedelta(days=REJECTED_DAYS)
    decider = aliased(User)
    pending = StageRequest.status == "pending"
    rows = db.session.execute(
        select(StageRequest.id, StageRequest.project_id, Project.name, StageRequest.kind, StageRequest.from_stage,
               StageRequest.to_stage, StageRequest.status, StageRequest.actual_date, StageRequest.requested_at,
               StageRequest.decided_at, decider.display_name, StageRequest.decision_comment,
               # Both counts on every row, over all the rows before the LIMIT (a page full of
               # pending requests still says how many were rejected).
               func.sum(case((pending, 1), else_=0)).over(), func.sum(case((pending, 0), else_=1)).over())
        .join(Project, Project.id == StageRequest.project_id)
        .outerjoin(decider, decider.id == StageRequest.decided_by_id)
        .where(StageRequest.requested_by_id == user.id, scope_filter(user, Project.unit_id),
               Project.is_archived.is_(False), StageRequest.status.in_(("pending", "rejected")),
               or_(pending, and_(StageRequest.status == "rejected", StageRequest.decided_at >= since, ~followed_up)))
        .order_by(case((pending, 0), else_=1), func.coalesce(StageRequest.decided_at, StageRequest.requested_at).desc(),
                  StageRequest.id.desc())
        .limit(LIMIT)
    ).all()
    items = [RequestItem(r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8], r[9], r[10] or "", r[11] or "")
             for r in rows]
    return items, int(rows[0][12]) if rows else 0, int(rows[0][13]) if rows else 0


def _stage_order(column: Any) -> Any:
    return case({code: BY_CODE[code].order for code in MAIN_CODES}, value=column, else_=-1)


def _open_milestones(user: Any) -> list[Any]:
    """Open milestones of my projects: not reached, of a stage after the project's current
    one (a stage the project went past is not waited for), the project neither paused,
    terminated, at full capacity nor archived."""
    # ``actual_on`` is compared through coalesce(): most milestones are open, and SQLite would
    # otherwise read every open milestone through its index instead of the owner's projects'.
    return [Project.owner_id == user.id, _scope_unindexed(user), Project.is_archived.is_(False),
            Project.stage.not_in(NOT_LIT + ("paused",)), func.coalesce(Milestone.actual_on, None).is_(None),
            Milestone.planned_on.is_not(None), _stage_order(Milestone.stage) > _stage_order(Project.stage)]


def _milestones(user: Any, today: date) -> tuple[Section, Section]:
    """Open milestones of my projects in one pass over them: those planned from today to
    ``MILESTONE_DAYS`` days ahead (soonest first), and the overdue ones (planned before today),
    one row per project (its earliest, with how many of its milestones are overdue), the
    longest overdue first; ``LIMIT`` of each, with their totals (overdue: projects)."""
    horizon = today + timedelta(days=MILESTONE_DAYS)
    late = case((Milestone.planned_on < today, 1), else_=0)
    per = (
        select(Milestone.id.label("mid"), Milestone.project_id.label("pid"), Project.name.label("name"),
               Milestone.stage.label("ms"), Project.stage.label("stage"), Milestone.planned_on.label("planned"),
               late.label("late"),
               func.row_number().over(partition_by=(Milestone.project_id, late),
                                      order_by=(Milestone.planned_on, Milestone.id)).label("nth"),
               func.count().over(partition_by=(Milestone.project_id, late)).label("of_project"))
        .join(Project, Project.id == Milestone.project_id)
        .where(*_open_milestones(user), Milestone.planned_on <= horizon)
    ).subquery()
    shown = (
        select(per, func.row_number().over(partition_by=per.c.late, order_by=(per.c.planned, per.c.mid))
               .label("rank"), func.count().over(partition_by=per.c.late).label("group_total"))
        .where(or_(per.c.late == 0, per.c.nth == 1))
    ).subquery()
    rows = db.session.execute(
        select(shown.c.pid, shown.c.name, shown.c.ms, shown.c.stage, shown.c.planned, shown.c.late,
               shown.c.of_project, shown.c.group_total)
        .where(shown.c.rank <= LIMIT).order_by(shown.c.late, shown.c.planned, shown.c.mid)
    ).all()
    upcoming, overdue = Section([]), Section([])
    for pid, name, ms, stage, planned, is_late, of_project, group_total in rows:
        section = overdue if is_late else upcoming
        section.items.append(MilestoneItem(pid, name, ms, stage, planned, (planned - today).days,
                                           int(of_project) if is_late else 0))
        section.total = int(group_total)
    return upcoming, overdue


def staff_home(user: Any, today: date) -> StaffHome:
    requests, pending, rejected = _my_requests(user)
    upcoming, overdue = _milestones(user, today)
    return StaffHome(
        lit=_lit_section(user, today, mine=True, order="late"),
        requests=requests, pending=pending, rejected=rejected,
        upcoming=upcoming, overdue=overdue,
        horizon=today + timedelta(days=MILESTONE_DAYS),
    )


# --- Manager ---------------------------------------------------------------------------------

def _decimal(raw: Any) -> Decimal | None:
    """An amount a stage request stored (already parsed by the input layer when filed)."""
    try:
        return parse_amount(raw)
    except Problem:
        return None


def amount_flags(investment: Decimal, registered_capital: Decimal | None) -> tuple[str, ...]:
    """Why an amount looks like a unit mistake: the project form's rule (an investment below
    100 万元, a registered capital above the investment)."""
    warnings = amount_warnings(investment, registered_capital=registered_capital)
    return tuple(warnings[k] for k in ("contracted_investment", "registered_capital") if k in warnings)


def _approvals(user: Any) -> Section:
    queue = approval_queue(user)
    total = db.session.execute(select(func.count()).select_from(queue.order_by(None).subquery())).scalar_one()
    if not total:
        return Section([], 0)
    requests = db.session.execute(
        queue.options(joinedload(StageRequest.project).joinedload(Project.unit)).limit(LIMIT)).unique().scalars().all()
    items = []
    for r in requests:
        p = r.project
        capital = _decimal((r.values or {}).get("registered_capital"))
        if capital is None:
            capital = p.registered_capital
        investment = Decimal(p.contracted_investment)
        items.append(ApprovalItem(
            r.id, p.id, p.name, ref_name(p.unit), r.kind, r.from_stage, r.to_stage, r.actual_date,
            str(r.requested_by), r.requested_at, investment, capital, amount_flags(investment, capital)))
    return Section(items, int(total))


def _targets_row(user: Any, year: int, today: date) -> tuple[Any, int | None]:
    """The unit's targets row (a city manager: the 全市 row) with the year's actuals."""
    from tracker.reports.figures import unit_actuals
    from tracker.targets.queries import board

    result = board(user, year, unit_actuals(user, year), today=today)
    if user.is_city:
        return result.total, result.pace
    own = next((row for row in result.rows if row.unit is not None and row.unit.id == user.unit_id), None)
    return own, result.pace


def manager_home(user: Any, today: date) -> ManagerHome:
    row, pace = _targets_row(user, today.year, today)
    return ManagerHome(approvals=_approvals(user), lit=_lit_section(user, today, mine=False, order="late"),
                       targets=row, pace=pace, year=today.year)


# --- Leader ----------------------------------------------------------------------------------

def _rates(figures: Any, q: Any) -> list[Rate]:
    """The five rates as reports.figures.RATES names them; a stage rate drills to the list."""
    from tracker.reports.figures import RATES

    return [Rate(r.key, r.label, figures.rates[r.key], q.list_args(reached=r.reached) if r.reached else None)
            for r in RATES]


def leader_home(user: Any, today: date) -> LeaderHome:
    from flask_babel import gettext as _

    from tracker.reports.figures import build_report, ranking, year_query

    q = year_query(today.year)
    # Both read the same cached report (the data version is read once per request).
    rows = ranking(user, q) if user.is_city else []
    figures = build_report(user, q).total
    return LeaderHome(
        year=today.year, scope_label=_("全市") if user.is_city else ref_name(user.unit), figures=figures,
        drill=q.list_args(), rates=_rates(figures, q), ranking=rows[:RANKING_ROWS], ranking_total=len(rows),
        stalled=_lit_section(user, today, mine=False, order="investment"),
    )


# --- Admin -----------------------------------------------------------------------------------

REFERENCE_KINDS = (("industries", Industry), ("regions", SourceRegion), ("platforms", Platform), ("units", Unit))


def admin_home(user: Any) -> AdminHome:
    rows = db.session.execute(
        select(User.role, User.is_active_user, func.count(), func.sum(case((User.last_login_at.is_(None), 1), else_=0)))
        .group_by(User.role, User.is_active_user)
    ).all()
    by_role = {role.value: 0 for role in Role}
    active = inactive = never = 0
    for role, is_active, n, never_n in rows:
        if is_active:
            active += n
            by_role[role] = by_role.get(role, 0) + n
            never += int(never_n or 0)
        else:
            inactive += n
    recent = db.session.execute(
        select(User.id, User.display_name, User.username, User.last_login_at, Unit.name, Unit.name_en)
        .join(Unit, Unit.id == User.unit_id)
        .where(User.last_login_at.is_not(None)).order_by(User.last_login_at.desc(), User.id.desc()).limit(5)
    ).all()
    logins = [SimpleNamespace(id=r[0], name=r[1], username=r[2], at=r[3], unit=_unit_label(r[4], r[5]))
              for r in recent]
    counts = db.session.execute(select(*(
        part for _slug, model in REFERENCE_KINDS for part in (
            select(func.count()).select_from(model).scalar_subquery(),
            select(func.count()).select_from(model).where(model.is_active.is_(True)).scalar_subquery()))
    )).one()
    from tracker.projects.reference_forms import KINDS

    reference = [{"slug": slug, "title": KINDS[slug].title, "total": int(counts[2 * i]),
                  "active": int(counts[2 * i + 1])} for i, (slug, _model) in enumerate(REFERENCE_KINDS)]
    return AdminHome(active, inactive, never, by_role, logins, reference)

