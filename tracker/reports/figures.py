"""The figures leaders judge the bureau by, within a user's scope: signings, the rates of
DOMAIN.md by unit, industry, source region and size band, the funnel, signings by quarter,
the 赛马 ranking of units and their targets.

Counting follows ``tracker.progress.counting`` (once per project, 增资 only in sums, the
stage on an as-of date, paused at the stage paused from, terminated as signed only), the
same rules the project list's totals use: every figure carries the list arguments
(``drill``) of the projects behind it, and that list's totals equal the figure.

One grouped query (the *cube*: unit × industry × source region × size band × stage) feeds
every breakdown; compliance (履约率) and the lights add one query each. Results are cached
per scope and query until the data changes (``core.datacache``).
"""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from flask_babel import LazyString
from sqlalchemy import and_, case, func, or_, select

from tracker.auth.models import Unit
from tracker.core import datacache
from tracker.core.db import column_rows
from tracker.core.formatting import today_local
from tracker.core.input import Problem, int_arg, parse_date
from tracker.core.permissions import scope_filter
from tracker.core.translations import lazy_gettext as _l
from tracker.extensions import db
from tracker.progress import counting
from tracker.progress.lights import lit_condition
from tracker.projects.models import Investor, Project, SourceRegion
from tracker.targets.models import UnitTarget
from tracker.workflow.models import Milestone
from tracker.workflow.stages import BY_CODE, MAIN_CODES

# Size bands (万元, cumulative as on the list): 10亿元以上, 50亿元以上, 百亿级.
BANDS: tuple[tuple[str, Decimal], ...] = (("10", Decimal(100_000)), ("50", Decimal(500_000)),
                                          ("100", Decimal(1_000_000)))
SIGNED_ON_AND_LATER = MAIN_CODES[1:]


# --- The rates -------------------------------------------------------------------------------

@dataclass(frozen=True)
class Rate:
    """One of the five rates of DOMAIN.md, named as every output names it (the dashboard,
    the workbook, the charts, the 通报): ``label``, ``numerator`` and ``denominator`` in the
    UI's language (lazy: read them where the language is known); ``official`` is the 通报's
    definition, which is Chinese whatever the UI language (not a UI string)."""

    key: str
    label: LazyString | str
    numerator: LazyString | str  # what the numerator counts (the dashboard's titles)
    denominator: LazyString | str
    official: str  # the 通报's "numerator / denominator"
    reached: str | None = None  # the numerator: projects at this stage or later (their drill's ``reached``)

    def translated(self) -> Rate:
        """This rate with its texts read in the current language (plain strings)."""
        from dataclasses import replace

        return replace(self, label=str(self.label), numerator=str(self.numerator), denominator=str(self.denominator))


RATES: tuple[Rate, ...] = (
    Rate("landing", _l("落地率"), _l("已注册及以后"), _l("签约项目（含终止）"),
         "已注册及以后阶段的项目 / 签约项目", "registered"),
    Rate("construction", _l("开工率"), _l("已开工及以后"), _l("签约项目（含终止）"),
         "已开工及以后阶段的项目 / 签约项目", "construction"),
    Rate("production", _l("投产率"), _l("已投产及以后"), _l("签约项目（含终止）"),
         "已投产及以后阶段的项目 / 签约项目", "production"),
    Rate("funds_in_place", _l("资金到位率"), _l("实际到位资金"), _l("协议投资额（含终止）"),
         "实际到位资金 / 协议投资额"),
    Rate("compliance", _l("履约率"), _l("按期完成的里程碑"), _l("到期的里程碑"),
         "按计划日期完成的节点 / 已到期的节点"),
)
RATE_KEYS = tuple(rate.key for rate in RATES)
RATE_STAGES = {rate.key: rate.reached for rate in RATES if rate.reached}  # the stage-reached rates


# --- The question asked --------------------------------------------------------------------

@dataclass(frozen=True)
class ReportQuery:
    """A period of signing dates, an optional as-of date and filters (the list's names)."""

    start: date
    end: date
    as_of: date | None = None
    unit: int | None = None
    industry: int | None = None
    region: str = ""  # a source_region id or "yrd"
    size: str = ""  # "10" | "50" | "100"
    kind: str = "year"  # year | quarter | month | custom
    year: int = 0
    part: int = 0  # quarter 1-4 or month 1-12

    @property
    def ref_date(self) -> date:
        """The day the stages are counted on (and milestones are due by)."""
        return self.as_of or today_local()

    def list_args(self, **extra: Any) -> dict[str, Any]:
        """Project-list query arguments selecting this query's projects (plus ``extra``)."""
        args = {"signed_from": self.start.isoformat(), "signed_to": self.end.isoformat(),
                "as_of": self.as_of.isoformat() if self.as_of else None, "unit": self.unit,
                "industry": self.industry, "region": self.region, "size": self.size}
        args.update(extra)
        return {k: v for k, v in args.items() if v not in (None, "")}

    def args(self) -> dict[str, Any]:
        """The dashboard's own query arguments for this query (links between periods)."""
        out: dict[str, Any] = {"year": self.year or None}
        if self.kind == "quarter":
            out["quarter"] = self.part
        elif self.kind == "month":
            out["month"] = self.part
        elif self.kind == "custom":
            out = {"from": self.start.isoformat(), "to": self.end.isoformat()}
        out.update(as_of=self.as_of.isoformat() if self.as_of else None, unit=self.unit, industry=self.industry,
                   region=self.region, size=self.size)
        return {k: v for k, v in out.items() if v not in (None, "")}

    def narrowed(self, **filters: Any) -> ReportQuery:
        from dataclasses import replace

        return replace(self, **filters)


def _day(raw: Any) -> date | None:
    try:
        day = parse_date(raw) if raw else None
    except Problem:
        return None
    return day if day is None or 1990 <= day.year <= 2100 else None


def quarter_bounds(year: int, quarter: int) -> tuple[date, date]:
    start = date(year, 3 * quarter - 2, 1)
    end = date(year + (quarter == 4), 1 if quarter == 4 else 3 * quarter + 1, 1)
    return start, date.fromordinal(end.toordinal() - 1)


def month_bounds(year: int, month: int) -> tuple[date, date]:
    end = date(year + (month == 12), 1 if month == 12 else month + 1, 1)
    return date(year, month, 1), date.fromordinal(end.toordinal() - 1)


def parse_query(args: Any, today: date | None = None) -> ReportQuery:
    """The dashboard's arguments, leniently: what is not understood falls back to the
    default (this year, counted today). ``from``/``to`` make a custom period."""
    today = today or today_local()
    year = int_arg(args.get("year"))
    year = year if year and 1990 <= year <= 2100 else today.year
    quarter, month = int_arg(args.get("quarter")), int_arg(args.get("month"))
    start, end = _day(args.get("from")), _day(args.get("to"))
    if start and end and start <= end:
        kind, part = "custom", 0
    elif quarter and 1 <= quarter <= 4:
        (start, end), kind, part = quarter_bounds(year, quarter), "quarter", quarter
    elif month and 1 <= month <= 12:
        (start, end), kind, part = month_bounds(year, month), "month", month
    else:
        start, end, kind, part = date(year, 1, 1), date(year, 12, 31), "year", 0
    as_of = _day(args.get("as_of"))
    region = args.get("region") or ""
    region = region if region == "yrd" or int_arg(region) is not None else ""
    size = args.get("size") or ""
    return ReportQuery(start=start, end=end, as_of=as_of if as_of and as_of < today else None,
                       unit=int_arg(args.get("unit")), industry=int_arg(args.get("industry")), region=region,
                       size=size if size in dict(BANDS) else "", kind=kind, year=start.year if kind == "custom"
                       else year, part=part)


def year_query(year: int, **filters: Any) -> ReportQuery:
    return ReportQuery(start=date(year, 1, 1), end=date(year, 12, 31), year=year, **filters)


# --- Figures of a set of projects ------------------------------------------------------------

@dataclass
class Figures:
    """Counts (once per project) and sums of one set of projects signed in the period.

    ``signed`` is every signing counted (terminated included: the rates' denominator),
    ``live`` the signed projects still alive, ``stages`` counts per stage counted at
    (main-line codes and ``terminated``)."""

    stages: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    stage_investment: dict[str, Decimal] = field(default_factory=lambda: defaultdict(Decimal))
    investment: Decimal = Decimal(0)  # Σ 协议投资额 of every signing (增资 and terminated included)
    live_investment: Decimal = Decimal(0)
    funds: Decimal = Decimal(0)  # Σ 实际到位资金, same projects as ``investment``
    live_funds: Decimal = Decimal(0)
    yrd_10yi: int = 0  # live first signings of 10亿元以上 from 长三角
    count_10yi: int = 0  # live first signings of 10亿元以上
    milestones_due: int = 0
    milestones_met: int = 0
    red: int = 0  # lit today (live projects in the set, whatever the as-of date)
    yellow: int = 0

    def add_projects(self, stage: str, once: int, investment: Decimal, funds: Decimal, *, ten_yi: bool,
            in_yrd: bool) -> None:
        """Count projects of ``stage`` in (``once`` of them first signings), of 10亿元以上 or
        not, from 长三角 or not."""
        self.stages[stage] += once
        self.stage_investment[stage] += investment
        if stage == "negotiating":
            return
        self.investment += investment
        self.funds += funds
        if stage != "terminated":
            self.live_investment += investment
            self.live_funds += funds
            if ten_yi:
                self.count_10yi += once
                self.yrd_10yi += once if in_yrd else 0

    @property
    def signed(self) -> int:
        return sum(n for code, n in self.stages.items() if code != "negotiating")

    @property
    def terminated(self) -> int:
        return self.stages.get("terminated", 0)

    @property
    def live(self) -> int:
        return self.signed - self.terminated

    def reached(self, code: str) -> int:
        start = BY_CODE[code].order
        return sum(n for c, n in self.stages.items() if c in BY_CODE and not BY_CODE[c].is_side
                   and BY_CODE[c].order >= start)

    @property
    def started(self) -> int:
        return self.reached("construction")

    @property
    def rates(self) -> dict[str, float | None]:
        """Fractions 0–1 (None when there is nothing to divide by)."""
        def ratio(a: Any, b: Any) -> float | None:
            return float(Decimal(a) / Decimal(b)) if b else None

        out = {key: ratio(self.reached(code), self.signed) for key, code in RATE_STAGES.items()}
        out["funds_in_place"] = ratio(self.funds, self.investment)
        out["compliance"] = ratio(self.milestones_met, self.milestones_due)
        return out


@dataclass(frozen=True)
class Cell:
    """One row of the cube: projects sharing unit, industry, region, band and stage."""

    unit_id: int
    industry_id: int
    region_id: int
    band: int  # 0: below 10亿, 1: 10亿+, 2: 50亿+, 3: 百亿+
    stage: str
    once: int
    investment: Decimal
    funds: Decimal


def scope_conditions(user: Any, q: ReportQuery, *, existed: bool = True) -> list[Any]:
    """The query's projects in the user's scope; ``existed=False``: see ``counting.period``
    (the caller then keeps the rows whose as-of stage is not NULL: ``_per_project``)."""
    conds: list[Any] = [scope_filter(user, Project.unit_id), Project.is_archived.is_(False),
                        Project.signed_on.is_not(None)]
    conds += counting.period(q.start, q.end, q.as_of, existed=existed)
    if q.unit:
        conds.append(Project.unit_id == q.unit)
    if q.industry:
        conds.append(Project.industry_id == q.industry)
    if q.region == "yrd":
        conds.append(Investor.source_region_id.in_(select(SourceRegion.id).where(SourceRegion.is_yrd.is_(True))))
    elif q.region:
        conds.append(Investor.source_region_id == int(q.region))
    if q.size:
        conds.append(Project.contracted_investment >= dict(BANDS)[q.size])
    return conds


def _band() -> Any:
    inv = Project.contracted_investment
    return case(*((inv >= amount, i) for i, (_code, amount) in reversed(list(enumerate(BANDS, 1)))), else_=0)


def _per_project(user: Any, q: ReportQuery, name: str, *columns: Any, where: tuple = ()) -> tuple[Any, list[Any]]:
    """The query's projects with ``columns`` (one of them ``counts_as(q.as_of)`` labelled
    "stage") as a CTE, and the conditions the outer query must add on it.

    On an as-of date the stage is a subquery on the stage history: selected once per project
    in a MATERIALIZED CTE, and "the project existed then" (stage not NULL) is tested on that
    column outside, where the period's own condition ran the subquery once more per project
    (PostgreSQL evaluates a scalar subquery wherever it is written). Without an as-of date
    the stage is a CASE over the project's columns and the CTE is left to the planner
    (materialized, the compliance CTE made PostgreSQL hash every milestone and spill to disk:
    ~120 ms at 100,000 projects, ~80 ms inlined)."""
    cte = (select(*columns).join(Investor, Investor.id == Project.investor_id)
           .where(*scope_conditions(user, q, existed=False), *where)).cte(name)
    if q.as_of is None:
        return cte, []
    cte = cte.prefix_with("MATERIALIZED")  # a new CTE object: the condition must name this one
    return cte, [cte.c.stage.is_not(None)]


def _cube(user: Any, q: ReportQuery) -> list[Cell]:
    per_project, existed = _per_project(
        user, q, "cube_projects",
        Project.unit_id, Project.industry_id, Investor.source_region_id.label("region_id"), _band().label("band"),
        counting.counts_as(q.as_of).label("stage"), counting.once().label("once"),
        Project.contracted_investment.label("inv"), counting.funds(q.as_of).label("funds"))
    c = per_project.c
    rows = column_rows(
        db.session,
        select(c.unit_id, c.industry_id, c.region_id, c.band, c.stage, func.sum(c.once),
               func.coalesce(func.sum(c.inv), 0), func.coalesce(func.sum(c.funds), 0))
        .where(*existed)
        .group_by(c.unit_id, c.industry_id, c.region_id, c.band, c.stage))
    return [Cell(r[0], r[1], r[2], int(r[3]), r[4], int(r[5] or 0), Decimal(r[6]), Decimal(r[7])) for r in rows]


def _stage_order() -> Any:
    return {code: BY_CODE[code].order for code in MAIN_CODES}


def _compliance(user: Any, q: ReportQuery) -> list[tuple[int, int, int, int, int, int]]:
    """(unit, industry, region, band, due, met) of the period's milestones (履约率): a
    milestone is due once its planned date is past (on the reference date); it is met when
    reached on or before it. Not due: a paused project's open milestones (a paused project
    is not late) and the open milestone of a stage the project went past (skipped)."""
    ref = q.ref_date
    order = _stage_order()
    # The projects with their stage (on an as-of date two subqueries each, run once per
    # project: ``_per_project``, not again per milestone); the outer layers decide met / due
    # from plain columns.
    projects, existed = _per_project(
        user, q, "compliance_projects",
        Project.id, Project.unit_id, Project.industry_id, Investor.source_region_id.label("region_id"),
        _band().label("band"), counting.counts_as(q.as_of).label("stage"),
        (counting.state_on(q.as_of) == "paused").label("paused"), where=(counting.first_signing(),))
    p = projects.c
    per_milestone = (
        select(p.unit_id, p.industry_id, p.region_id, p.band, p.stage.label("stage_now"), p.paused,
               Milestone.stage.label("ms_stage"),
               case((Milestone.actual_on <= ref, Milestone.actual_on), else_=None).label("actual"),
               Milestone.planned_on)
        .select_from(Milestone).join(projects, p.id == Milestone.project_id)
        .where(Milestone.planned_on.is_not(None), Milestone.planned_on <= ref, *existed)
    ).subquery()
    m = per_milestone.c
    ms_order = case(*((m.ms_stage == code, n) for code, n in order.items()), else_=99)
    now_order = case(*((m.stage_now == code, n) for code, n in order.items()), else_=-1)
    met = and_(m.actual.is_not(None), m.actual <= m.planned_on)
    open_ok = and_(m.actual.is_(None), m.paused.is_(False), now_order < ms_order)
    per = select(m.unit_id, m.industry_id, m.region_id, m.band, case((met, 1), else_=0).label("met"),
                 case((or_(m.actual.is_not(None), open_ok), 1), else_=0).label("due")).subquery()
    c = per.c
    return [tuple(int(v or 0) for v in r) for r in column_rows(
        db.session,
        select(c.unit_id, c.industry_id, c.region_id, c.band, func.sum(c.due), func.sum(c.met))
        .group_by(c.unit_id, c.industry_id, c.region_id, c.band))]


def light_rows(user: Any, q: ReportQuery) -> list[tuple[int, int, int, int, int, int]]:
    """(unit, industry, region, band, red, yellow): the period's projects lit today."""
    today = today_local()
    red = lit_condition(Project, today, "red")
    per = (
        select(Project.unit_id, Project.industry_id, Investor.source_region_id.label("region_id"),
               _band().label("band"), case((red, 1), else_=0).label("red"))
        .join(Investor, Investor.id == Project.investor_id)
        .where(*scope_conditions(user, q), lit_condition(Project, today), counting.first_signing())
    ).subquery()
    c = per.c
    return [(r[0], r[1], r[2], int(r[3]), int(r[4] or 0), int(r[5]) - int(r[4] or 0)) for r in column_rows(
        db.session, select(c.unit_id, c.industry_id, c.region_id, c.band, func.sum(c.red), func.count())
        .group_by(c.unit_id, c.industry_id, c.region_id, c.band))]


# --- The report ------------------------------------------------------------------------------

@dataclass
class Breakdown:
    key: Any
    label: str
    figures: Figures
    drill: dict[str, Any]  # list arguments narrowing the query to this row


@dataclass
class Report:
    query: ReportQuery
    total: Figures
    by_unit: list[Breakdown]
    by_industry: list[Breakdown]
    by_region: list[Breakdown]  # 长三角 first (all its regions), then each region
    by_size: list[Breakdown]  # cumulative bands
    yrd_region_ids: frozenset[int]

    def drill(self, **extra: Any) -> dict[str, Any]:
        return self.query.list_args(**extra)


class _Grouper:
    """Figures per breakdown row: everything, each unit, industry and region, 长三角 and the
    size bands (cumulative: 10亿元以上 holds 50亿).

    In two steps, because the cube has thousands of cells (~6,700 at 100,000 projects) and
    each belongs to four to eight sets: first the cells are summed per dimension value with
    only what the figures tell apart (band, stage, 长三角 or not) kept, a few additions per
    cell; then each of those sums (far fewer than cells × sets) is added to its figures (a
    dozen fields). The compliance and light rows likewise."""

    EVERYTHING = ("all",)

    def __init__(self, cells: list[Cell], compliance: list[tuple], lights: list[tuple], yrd: frozenset[int]):
        self.yrd = yrd
        self._sets: dict[tuple, Figures] = defaultdict(Figures)
        sums: dict[tuple, list] = defaultdict(lambda: [0, Decimal(0), Decimal(0)])
        for c in cells:
            tail = (c.band, c.region_id in yrd, c.stage)
            for key in self._dimensions(c.unit_id, c.industry_id, c.region_id):
                s = sums[key + tail]
                s[0] += c.once
                s[1] += c.investment
                s[2] += c.funds
        for (*key, band, in_yrd, stage), (once, investment, funds) in sums.items():
            for f in self._targets(key, band, in_yrd):
                f.add_projects(stage, once, investment, funds, ten_yi=band >= 1, in_yrd=in_yrd)
        for rows, fields in ((compliance, ("milestones_due", "milestones_met")), (lights, ("red", "yellow"))):
            pairs: dict[tuple, list] = defaultdict(lambda: [0, 0])
            for unit, industry, region, band, a, b in rows:
                tail = (band, region in yrd)
                for key in self._dimensions(unit, industry, region):
                    p = pairs[key + tail]
                    p[0] += a
                    p[1] += b
            for (*key, band, in_yrd), (a, b) in pairs.items():
                for f in self._targets(key, band, in_yrd):
                    setattr(f, fields[0], getattr(f, fields[0]) + a)
                    setattr(f, fields[1], getattr(f, fields[1]) + b)
        for f in self._sets.values():
            f.stages = defaultdict(int, {k: v for k, v in f.stages.items() if v})

    @staticmethod
    def _dimensions(unit: int, industry: int | None, region: int | None) -> tuple[tuple, ...]:
        """The first step's keys of a row: everything, its unit, industry and region."""
        return ("all", None), ("unit", unit), ("industry", industry), ("region", region)

    def _targets(self, key: list, band: int, in_yrd: bool) -> list[Figures]:
        """The figures a sum of ``key`` = [dimension, value] adds to: that row's; for the
        sums over everything also 长三角's (of its regions) and the size bands'."""
        if key[0] != "all":
            return [self._sets[tuple(key)]]
        keys = [self.EVERYTHING, *([("yrd",)] if in_yrd else []), *(("size", n) for n in range(1, band + 1))]
        return [self._sets[k] for k in keys]

    def figures(self, *key: Any) -> Figures:
        """The figures of ``key`` ("all",), ("unit", id), ("industry", id), ("region", id),
        ("yrd",) or ("size", n): n = 1, 2, 3 for the bands of ``BANDS`` (10亿, 50亿, 百亿);
        empty figures when nothing belongs to it."""
        found = self._sets.get(key)
        return found if found is not None else Figures()


def _named(model: Any, ids: Iterable[int]) -> list[Any]:
    ids = set(ids)
    if not ids:
        return []
    return db.session.execute(select(model).where(model.id.in_(ids))
                              .order_by(model.sort_order, model.id)).scalars().all()


def build_report(user: Any, q: ReportQuery) -> Report:
    """Every figure of the dashboard for ``q`` within the user's scope (cached)."""
    return _cached(("report", _scope_key(user), q), lambda: _build_report(user, q))


def _build_report(user: Any, q: ReportQuery) -> Report:
    from tracker.core.formatting import ref_name

    cells = _cube(user, q)
    g = _Grouper(cells, _compliance(user, q), light_rows(user, q), _yrd_ids())
    everything = g.figures(*g.EVERYTHING)
    units = [u for u in _named(Unit, {c.unit_id for c in cells})]
    by_unit = [Breakdown(u.id, ref_name(u), g.figures("unit", u.id), q.list_args(unit=u.id))
               for u in units]
    from tracker.projects.models import Industry

    industries = _named(Industry, {c.industry_id for c in cells})
    by_industry = [Breakdown(i.id, ref_name(i), g.figures("industry", i.id),
                             q.list_args(industry=i.id)) for i in industries]
    regions = _named(SourceRegion, {c.region_id for c in cells})
    by_region = []
    if not q.region:
        by_region.append(Breakdown("yrd", str(_yrd_label()), g.figures("yrd"),
                                   q.list_args(region="yrd")))
    by_region += [Breakdown(r.id, ref_name(r), g.figures("region", r.id),
                            q.list_args(region=r.id)) for r in regions]
    names = band_labels()
    by_size = [Breakdown(code, names[code], g.figures("size", n),
                         q.list_args(size=code)) for n, (code, _amount) in enumerate(BANDS, 1)
               if not q.size or int(code) >= int(q.size)]
    return Report(q, everything, by_unit, by_industry, by_region, by_size, g.yrd)


def _yrd_ids() -> frozenset[int]:
    return frozenset(db.session.execute(select(SourceRegion.id).where(SourceRegion.is_yrd.is_(True))).scalars())


def _yrd_label() -> Any:
    from flask_babel import gettext as _

    return _("长三角（合计）")


def band_labels() -> dict[str, str]:
    """The size bands' names in the page's language, by code (the dashboard's table and chart)."""
    from flask_babel import gettext as _

    return {"10": _("10亿元以上"), "50": _("50亿元以上"), "100": _("百亿级")}


# --- Funnel, signings by quarter ----------------------------------------------------------------

@dataclass
class Step:
    code: str
    label: str
    count: int
    investment: Decimal
    drill: dict[str, Any]


def funnel(report: Report) -> list[Step]:
    """Projects (and Σ investment, 增资 included) that reached each main-line stage or
    later, the live signed projects at the top; each links to the list behind it."""
    from tracker.workflow.stages import at_or_after, label

    f = report.total
    return [Step(code, label(code), f.reached(code),
                 sum((f.stage_investment.get(c, Decimal(0)) for c in at_or_after(code)), Decimal(0)),
                 report.query.list_args(reached=code))
            for code in SIGNED_ON_AND_LATER]


@dataclass
class QuarterSignings:
    year: int
    quarter: int
    count: int  # first signings (terminated since included: they were signed)
    investment: Decimal
    drill: dict[str, Any]

    @property
    def label(self) -> str:
        return f"{self.year} Q{self.quarter}"


def signings_by_quarter(user: Any, q: ReportQuery, quarters: int = 8) -> list[QuarterSignings]:
    """Signings (count once, Σ investment) in the ``quarters`` quarters up to the period's end."""
    return _cached(("quarters", _scope_key(user), q, quarters), lambda: _signings_by_quarter(user, q, quarters))


def _signings_by_quarter(user: Any, q: ReportQuery, quarters: int) -> list[QuarterSignings]:
    end = min(q.end, q.as_of) if q.as_of else q.end
    last = (end.year, (end.month - 1) // 3 + 1)
    keys = []
    y, qt = last
    for _ in range(quarters):
        keys.append((y, qt))
        y, qt = (y, qt - 1) if qt > 1 else (y - 1, 4)
    keys.reverse()
    first_start = quarter_bounds(*keys[0])[0]
    wide = q.narrowed(start=first_start, end=end)
    # Grouped by the signing day itself (at most ~730 rows) and put into quarters here: no
    # date function on every row (SQLite's STRFTIME took most of this query's time).
    per, _existed = _per_project(user, wide, "quarter_projects", Project.signed_on.label("day"),
                                 counting.counts_as(q.as_of).label("stage"), counting.once().label("once"),
                                 Project.contracted_investment.label("inv"))
    c = per.c
    found: dict[tuple[int, int], tuple[int, Decimal]] = defaultdict(lambda: (0, Decimal(0)))
    for day, n, inv in column_rows(  # not negotiating: not NULL either (the project existed)
            db.session, select(c.day, func.sum(c.once), func.coalesce(func.sum(c.inv), 0))
            .where(c.stage != "negotiating").group_by(c.day)):
        key = (day.year, (day.month - 1) // 3 + 1)
        old = found[key]
        found[key] = (old[0] + int(n or 0), old[1] + Decimal(inv))
    out = []
    for y, qt in keys:
        start, stop = quarter_bounds(y, qt)
        n, inv = found[(y, qt)]
        out.append(QuarterSignings(y, qt, n, inv, q.narrowed(start=start, end=min(stop, end)).list_args()))
    return out


# --- Ranking and targets -------------------------------------------------------------------------

@dataclass
class Actuals:
    """A unit's figures for a year against its targets (``tracker.targets``)."""

    projects_10yi: int = 0
    projects_10yi_yrd: int = 0
    investment: Decimal = Decimal(0)
    started: int = 0
    funds: Decimal = Decimal(0)
    drill: dict[str, dict[str, Any]] = field(default_factory=dict)


TARGET_FIELDS = ("projects_10yi", "projects_10yi_yrd", "investment", "started", "funds")


def drill_10yi(drill: dict[str, Any]) -> dict[str, Any]:
    """The list behind a 10亿元以上 count of the projects ``drill`` selects: a size band
    already chosen (50亿/百亿) is within 10亿元以上, so it stays."""
    return {**drill, "size": drill.get("size") or "10"}


def drill_10yi_yrd(drill: dict[str, Any], yrd_ids: frozenset[int]) -> dict[str, Any] | None:
    """The list behind "10亿元以上 from 长三角" of the projects ``drill`` selects; None when
    ``drill`` is narrowed to a region outside 长三角 (the count is 0 and no list shows it)."""
    region = drill.get("region") or "yrd"
    if region != "yrd" and int(region) not in yrd_ids:
        return None
    return {**drill_10yi(drill), "region": region}


def _actuals(f: Figures, q: ReportQuery, yrd_ids: frozenset[int] = frozenset()) -> Actuals:
    base = q.list_args()
    return Actuals(
        projects_10yi=f.count_10yi, projects_10yi_yrd=f.yrd_10yi, investment=f.live_investment, started=f.started,
        funds=f.live_funds,
        drill={"projects_10yi": drill_10yi(base), "projects_10yi_yrd": drill_10yi_yrd(base, yrd_ids),
               "investment": q.list_args(), "started": q.list_args(reached="construction"),
               "funds": q.list_args()})


def unit_actuals(user: Any, year: int) -> dict[int, Actuals]:
    """Per unit in scope with projects signed in ``year``: the five target figures, live
    signings only (terminated excluded), each with its drill-down list arguments."""
    q = year_query(year)
    report = build_report(user, q)
    return {row.key: _actuals(row.figures, q.narrowed(unit=row.key), report.yrd_region_ids) for row in report.by_unit}


def completion(actual: Actuals, target: Any) -> float | None:
    """Mean completion (0–1+, not capped) over the targets that are set (> 0)."""
    parts = [float(Decimal(getattr(actual, name)) / Decimal(getattr(target, name)))
             for name in TARGET_FIELDS if target is not None and getattr(target, name)]
    return sum(parts) / len(parts) if parts else None


@dataclass
class RankRow:
    rank: int
    unit_id: int
    label: str
    figures: Figures
    actuals: Actuals
    target: Any  # UnitTarget | None
    completion: float | None
    drill: dict[str, Any]


def ranking(user: Any, q: ReportQuery) -> list[RankRow]:
    """赛马: the units in scope, by completion of their year's targets (units without
    targets after), then by Σ contracted investment (live), then signings. Always every
    unit in scope: a query narrowed to one unit ranks it among the others."""
    q = q.narrowed(unit=None)
    report = build_report(user, q)
    units = {u.id: u for u in db.session.execute(select(Unit).where(
        scope_filter(user, Unit.id), Unit.is_active.is_(True), Unit.is_city.is_(False))).scalars()}
    targets = {t.unit_id: t for t in db.session.execute(select(UnitTarget).where(
        UnitTarget.year == q.start.year, scope_filter(user, UnitTarget.unit_id))).scalars()}
    by_unit = {row.key: row for row in report.by_unit}
    from tracker.core.formatting import ref_name

    rows = []
    for uid in set(units) | set(by_unit):
        row = by_unit.get(uid)
        figures = row.figures if row else Figures()
        label = row.label if row else ref_name(units[uid])
        uq = q.narrowed(unit=uid)
        actual = _actuals(figures, uq, report.yrd_region_ids)
        target = targets.get(uid)
        rows.append(RankRow(0, uid, label, figures, actual, target, completion(actual, target), uq.list_args()))
    rows.sort(key=lambda r: (r.completion is None, -(r.completion or 0), -r.figures.live_investment,
                             -r.figures.live, r.label))
    for i, r in enumerate(rows, 1):
        r.rank = i
    return rows


# --- The summary API ----------------------------------------------------------------------------

def summary(user: Any, q: ReportQuery) -> dict[str, Any]:
    """``GET /api/v1/reports/summary``: the period's signings within the caller's scope."""
    f = build_report(user, q).total
    return {
        "signed": f.signed,
        "by_stage": {code: f.stages.get(code, 0) for code in (*SIGNED_ON_AND_LATER, "terminated")},
        "contracted_investment": f.investment,
        "funds_in_place": f.funds,
        "rates": f.rates,
    }


# --- Cache ---------------------------------------------------------------------------------------

_scope_key = datacache.scope_key
_cached = datacache.cached
clear_cache = datacache.clear
