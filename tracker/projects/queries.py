"""The project list: filters parsed from the query string, one scoped query, totals.

The totals follow ``tracker.progress.counting`` (what counts, once, at which stage), so a
dashboard figure and the list it links to add up the same projects."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

from sqlalchemy import and_, case, func, inspect, select
from sqlalchemy.orm import selectinload

from tracker.auth.models import Unit
from tracker.core import datacache
from tracker.core.db import unindexed
from tracker.core.formatting import ref_name, today_local
from tracker.core.input import Problem, int_arg, parse_date
from tracker.core.pagination import Page, page_arg
from tracker.core.permissions import scope_filter
from tracker.extensions import db
from tracker.progress import counting
from tracker.progress.lights import lit_condition
from tracker.projects import tally
from tracker.projects.models import Industry, Investor, Project, SourceRegion
from tracker.projects.schemas import SIZE_BAND_CODES, SORT_CODES
from tracker.projects.search import matching_projects
from tracker.workflow import models as _workflow_models  # noqa: F401  (Project.has_pending, used below)
from tracker.workflow.stages import CODES, MAIN_CODES

# Size bands (万元): 10亿元以上, 50亿元以上, 百亿级.
SIZE_BANDS = {"10": Decimal(100_000), "50": Decimal(500_000), "100": Decimal(1_000_000)}

SORTS = {
    "signed": (Project.signed_on.desc().nulls_last(), Project.id.desc()),
    "signed_asc": (Project.signed_on.asc().nulls_last(), Project.id.asc()),
    "investment": (Project.contracted_investment.desc(), Project.id.desc()),
    "investment_asc": (Project.contracted_investment.asc(), Project.id.asc()),
    "name": (Project.name.asc(), Project.id.asc()),
    "updated": (Project.updated_at.desc(), Project.id.desc()),
    # Most overdue first (the earliest due date); projects that cannot be late last.
    "late": (Project.due_on.asc().nulls_last(), Project.id.asc()),
}
LIT_CODES = ("any", "yellow", "red")
REACHED_CODES = MAIN_CODES[1:]


def _day_arg(raw: Any) -> date | None:
    try:
        day = parse_date(raw) if raw else None
    except Problem:
        return None
    return day if day is None or 1990 <= day.year <= 2100 else None
DEFAULT_SORT = "signed"
assert tuple(SIZE_BANDS) == SIZE_BAND_CODES and tuple(SORTS) == SORT_CODES  # the API's schema names them


@dataclass
class ProjectFilters:
    q: str = ""
    stage: str = ""
    unit: int | None = None
    industry: int | None = None
    region: str = ""  # a source_region id, or "yrd" for all 长三角 regions
    size: str = ""
    year: int | None = None
    # Drill-down from the dashboard: signed within [signed_from, signed_to], counted at the
    # stage of ``as_of`` (see tracker.progress.counting), ``reached`` a stage or later.
    signed_from: date | None = None
    signed_to: date | None = None
    as_of: date | None = None
    reached: str = ""
    lit: str = ""  # any | yellow | red
    mine: bool = False  # the signed-in user's own projects (owner)
    archived: bool = False
    sort: str = DEFAULT_SORT
    page: int = 1
    problems: list[str] = field(default_factory=list)

    @classmethod
    def from_args(cls, args) -> ProjectFilters:
        f = cls()
        f.q = (args.get("q") or "").replace("\x00", "").strip()[:50]
        stage = args.get("stage") or ""
        f.stage = stage if stage in CODES else ""
        f.unit = int_arg(args.get("unit"))
        f.industry = int_arg(args.get("industry"))
        region = args.get("region") or ""
        f.region = region if region == "yrd" or int_arg(region) is not None else ""
        size = args.get("size") or ""
        f.size = size if size in SIZE_BANDS else ""
        year = int_arg(args.get("year"))
        f.year = year if year and 1990 <= year <= 2100 else None
        f.signed_from = _day_arg(args.get("signed_from"))
        f.signed_to = _day_arg(args.get("signed_to"))
        f.as_of = _day_arg(args.get("as_of"))
        reached = args.get("reached") or ""
        f.reached = reached if reached in REACHED_CODES else ""
        lit = args.get("lit") or ""
        f.lit = lit if lit in LIT_CODES else ""
        f.mine = args.get("mine") == "1"
        f.archived = args.get("archived") == "1"
        sort = args.get("sort") or DEFAULT_SORT
        f.sort = sort if sort in SORTS else DEFAULT_SORT
        f.page = page_arg(args.get("page"))
        return f

    def as_args(self, **override: Any) -> dict[str, Any]:
        """Query-string arguments that reproduce these filters (for links)."""
        out = {
            "q": self.q, "stage": self.stage, "unit": self.unit, "industry": self.industry,
            "region": self.region, "size": self.size, "year": self.year,
            "signed_from": self.signed_from.isoformat() if self.signed_from else None,
            "signed_to": self.signed_to.isoformat() if self.signed_to else None,
            "as_of": self.as_of.isoformat() if self.as_of else None,
            "reached": self.reached, "lit": self.lit, "mine": "1" if self.mine else None,
            "archived": "1" if self.archived else None,
            "sort": None if self.sort == DEFAULT_SORT else self.sort,
        }
        out.update(override)
        return {k: v for k, v in out.items() if v not in (None, "")}

    @property
    def active(self) -> bool:
        return bool(self.q or self.stage or self.unit or self.industry or self.region or self.size or self.year
                    or self.signed_from or self.signed_to or self.as_of or self.reached or self.lit or self.mine)


def _investors_where(*conds) -> Any:
    return Project.investor_id.in_(select(Investor.id).where(*conds))


def _conditions(user, f: ProjectFilters) -> list[Any]:
    # Filters on the investor are IN-subqueries, never joins: the paged query then reads the
    # project table alone and the database can stop after one page of the sort order.
    # With a lights filter (which already says "not archived" in a form no index serves) the
    # archived condition must not be indexable either: SQLite, without statistics, read every
    # live project through the is_archived index and sorted them (~210 ms at 100,000) instead
    # of walking the due-date index, where the lit projects are, and stopping after a page.
    archived = unindexed(Project.is_archived) if f.lit else Project.is_archived
    conds: list[Any] = [scope_filter(user, Project.unit_id), archived.is_(f.archived)]
    if f.q:
        conds.append(matching_projects(f.q))
    if f.stage:
        conds.append(Project.stage == f.stage)
    if f.unit:
        conds.append(Project.unit_id == f.unit)
    if f.industry:
        conds.append(Project.industry_id == f.industry)
    if f.region == "yrd":
        conds.append(_investors_where(
            Investor.source_region_id.in_(select(SourceRegion.id).where(SourceRegion.is_yrd.is_(True)))))
    elif f.region:
        conds.append(_investors_where(Investor.source_region_id == int(f.region)))
    if f.size:
        conds.append(Project.contracted_investment >= SIZE_BANDS[f.size])
    if f.year:
        conds.append(Project.signed_on.between(date(f.year, 1, 1), date(f.year, 12, 31)))
    conds += counting.period(f.signed_from, f.signed_to, f.as_of)
    if f.reached:
        conds.append(counting.reached(f.reached, f.as_of))
    if f.lit:
        conds.append(lit_condition(Project, today_local(), "" if f.lit == "any" else f.lit))
    if f.mine:
        conds.append(Project.owner_id == user.id)
    return conds


@dataclass(frozen=True)
class Sum:
    """Projects of one category: counted once (增资 not counted), and the sums (增资 included)."""

    count: int = 0
    investment: Decimal = Decimal(0)
    funds: Decimal = Decimal(0)


@dataclass
class Totals:
    """The totals line. ``rows`` is every listed row (the pager's count); ``signed`` counts
    what the list's title says: signed and later, live (paused included); 在谈 and 终止 are
    apart; ``increases`` is the number of 增资 rows (their amounts are in the sums)."""

    rows: int
    signed: Sum = field(default_factory=Sum)
    negotiating: Sum = field(default_factory=Sum)
    terminated: Sum = field(default_factory=Sum)
    increases: int = 0

    @property
    def count(self) -> int:  # every row (the API's ``count``)
        return self.rows

    @property
    def investment(self) -> Decimal:  # every row's contracted investment
        return self.signed.investment + self.negotiating.investment + self.terminated.investment


def totals(conds: Any, as_of: date | None = None) -> Totals:
    """One grouped query: rows, once-counted projects and sums per category."""
    # Per-project values in a subquery, grouped outside: PostgreSQL cannot match a GROUP BY
    # expression that carries bound parameters (the as-of date) to the same one in SELECT.
    # The stage is read once per project (on an as-of date it is a subquery), categorised
    # in a middle layer.
    per_project = select(
        counting.counts_as(as_of).label("stage"), counting.once().label("once"),
        Project.contracted_investment.label("inv"), counting.funds(as_of).label("funds"),
        case((Project.increase_of_id.is_not(None), 1), else_=0).label("inc"),
    ).where(conds).subquery()
    p = per_project.c
    categorised = select(counting.category(p.stage).label("cat"), p.once, p.inv, p.funds, p.inc).subquery()
    c = categorised.c
    rows = db.session.execute(
        select(c.cat, func.count(), func.sum(c.once), func.coalesce(func.sum(c.inv), 0),
               func.coalesce(func.sum(c.funds), 0), func.sum(c.inc)).group_by(c.cat)
    ).all()
    out = Totals(rows=sum(int(r[1]) for r in rows), increases=sum(int(r[5] or 0) for r in rows))
    for r in rows:
        setattr(out, r[0], Sum(int(r[2] or 0), Decimal(r[3]), Decimal(r[4])))
    return out


def _totals_and_page(user, f: ProjectFilters, per_page: int) -> tuple[Totals, int]:
    """The totals line (one query) and the page number, capped."""
    # Scope, unit, stage and archived: from the tally the database keeps (projects.tally);
    # other filters read every matching row. Either is kept until the data changes
    # (core.datacache), per scope and filters (the user's own id only for 我的项目). The
    # conditions are built only when it is not kept: most views only need the page number.
    found = datacache.cached(("totals", _filters_key(user, f)),
                             lambda: tally.totals(user, f) if tally.covers(f)
                             else totals(and_(*_conditions(user, f)), f.as_of))
    return found, min(f.page, max(1, -(-found.rows // per_page)))


def capped_page(user, f: ProjectFilters, per_page: int) -> int:
    """The page ``f`` asks for, or the last one when it asks past it (the totals are kept)."""
    return _totals_and_page(user, f, per_page)[1]


def rows_key(user, f: ProjectFilters, page_no: int, per_page: int) -> tuple:
    """What one page of the list depends on besides the data (and the UI language, which
    ``core.datacache`` adds): the scope, the filters, the sort and the page."""
    return _filters_key(user, f), f.sort, page_no, per_page


def _filters_key(user, f: ProjectFilters) -> tuple:
    """What a list's rows depend on besides the data: the scope and the filters (not the sort
    or the page); the user's own id only for 我的项目."""
    return datacache.scope_key(user), user.id if f.mine else None, tuple(sorted(f.as_args(sort=None).items()))


def project_page(user, f: ProjectFilters, per_page: int = 50) -> tuple[Page, Totals]:
    """One page of projects (ORM objects, for the API) plus the totals line, in a constant
    number of queries whatever the page size: the totals, the page, and one each for its
    investors, industries and units."""
    totals, page_no = _totals_and_page(user, f, per_page)
    conds = and_(*_conditions(user, f))
    rows = db.session.execute(
        select(Project).where(conds)
        .options(selectinload(Project.investor), selectinload(Project.industry), selectinload(Project.unit))
        .order_by(*SORTS[f.sort])
        .limit(per_page)
        .offset((page_no - 1) * per_page)
    ).scalars().all()
    return Page(items=list(rows), page=page_no, per_page=per_page, total=totals.rows), totals


@dataclass(frozen=True)
class ListRow:
    """What one row of the list page shows (plain values: no ORM objects to build)."""

    id: int
    name: str
    investor_name: str
    unit_name: str
    industry_name: str
    stage: str
    signed_on: date | None
    contracted_investment: Decimal
    is_provincial_major: bool
    is_qianxiang_wanyi: bool
    is_yrd_major: bool
    has_pending: bool = False  # a stage request awaits a decision (the row's 待审批 mark)
    due_on: date | None = None  # lights (tracker.progress.lights)
    red_on: date | None = None
    stage_since: date | None = None
    is_increase: bool = False  # 增资


# ``has_pending`` is a column of the paged query, not a query per row: the partial unique
# index on pending requests (one per project) answers it.
_LIST_COLUMNS = (Project.id, Project.name, Project.investor_id, Project.unit_id, Project.industry_id, Project.stage,
                 Project.signed_on, Project.contracted_investment, Project.is_provincial_major,
                 Project.is_qianxiang_wanyi, Project.is_yrd_major, Project.has_pending, Project.due_on, Project.red_on,
                 Project.stage_since, Project.increase_of_id)


def page_rows(conds: Any, sort: str, page_no: int, per_page: int, reference: dict[str, list]) -> tuple[ListRow, ...]:
    """One page of the list as plain values, read now (two queries: the page's columns and
    its investors' names)."""
    found = db.session.execute(
        select(*_LIST_COLUMNS).where(conds).order_by(*SORTS[sort]).limit(per_page).offset((page_no - 1) * per_page)
    ).all()
    investors = dict(db.session.execute(
        select(Investor.id, Investor.name).where(Investor.id.in_({r.investor_id for r in found}))
    ).all()) if found else {}
    units = {u.id: ref_name(u) for u in reference["units"]}  # English names in the English UI
    industries = {i.id: ref_name(i) for i in reference["industries"]}
    return tuple(ListRow(r.id, r.name, investors.get(r.investor_id, ""), units.get(r.unit_id, ""),
                         industries.get(r.industry_id, ""), r.stage, r.signed_on, r.contracted_investment,
                         r.is_provincial_major, r.is_qianxiang_wanyi, r.is_yrd_major, bool(r.has_pending),
                         r.due_on, r.red_on, r.stage_since, r.increase_of_id is not None)
                 for r in found)


def list_page(user, f: ProjectFilters, reference: dict[str, list], per_page: int = 50) -> tuple[Page, Totals]:
    """The list page's rows as plain values plus the totals line: three queries (totals, the
    page's columns, its investors' names), none while the data has not changed (both kept by
    ``core.datacache``). Unit and industry names come from ``reference`` (``filter_choices``:
    every unit in scope, every industry)."""
    totals, page_no = _totals_and_page(user, f, per_page)
    # The rows, like the totals, stay right until the data changes (a pending request, a light,
    # a renamed industry: every change is audited, and lights follow the day): the list, its
    # next page and the way back to it cost no query while nothing changed.
    items = datacache.cached(("rows", rows_key(user, f, page_no, per_page)),
                             lambda: page_rows(and_(*_conditions(user, f)), f.sort, page_no, per_page, reference),
                             shelf="pages")
    return Page(items=list(items), page=page_no, per_page=per_page, total=totals.rows), totals


def filter_choices(user) -> dict[str, list]:
    """Options for the filter bar (units limited to the user's scope), as plain read-only
    copies kept until the data changes (reference edits are audited: ``core.datacache``):
    three statements a page fewer."""
    return datacache.cached(("choices", datacache.scope_key(user)), lambda: _filter_choices(user))


class Choice(SimpleNamespace):
    """A reference row's columns (id, name, name_en, …) without its ORM object."""


def plain(row: Any) -> Choice | None:
    """A reference row's loaded columns as a plain read-only copy (None stays None)."""
    if row is None:
        return None
    state = inspect(row)
    return Choice(**{c.key: getattr(row, c.key) for c in state.mapper.column_attrs if c.key not in state.unloaded})


def _plain(rows: Any) -> list[Choice]:
    return [plain(r) for r in rows]


def _filter_choices(user) -> dict[str, list]:
    # Every unit in scope, retired ones too (their projects still show them), all industries.
    units = db.session.execute(
        select(Unit).where(scope_filter(user, Unit.id)).order_by(Unit.is_active.desc(), Unit.sort_order, Unit.id)
    ).scalars().all()
    industries = db.session.execute(select(Industry).order_by(Industry.sort_order, Industry.id)).scalars().all()
    regions = db.session.execute(select(SourceRegion).order_by(SourceRegion.sort_order, SourceRegion.id)).scalars().all()
    return {"units": _plain(units), "industries": _plain(industries), "regions": _plain(regions)}
