"""The 通报 (全市招商引资项目推进情况通报): a monthly or quarterly PDF bulletin, built as a job.

Every figure comes from the report engine (``tracker.reports.figures``) with the dashboard's
own queries, made by ``parse_query`` from the dashboard's arguments, so a number in the
bulletin is the number the dashboard shows for the same arguments (and the project list it
links to):

- 本期 (the period): ``?year=Y&month=M`` or ``?year=Y&quarter=Q`` (``&as_of=`` when set);
- 本年累计 (year to date, also the 赛马 ranking against the year's targets):
  ``?from=Y-01-01&to=<period end>`` (same as-of date);
- 亮灯 (lights): ``?from=1990-01-01&to=2100-12-31`` — every signed project in scope, lit
  today (lights are today's state, whatever the as-of date); only the engine's light counts
  of that query are computed (``figures.light_rows``), not a whole report over every project.

Scope is the user's (a county user's bulletin covers the county only); the masthead names
the user's unit (``briefs.service.issuer_name``). The PDF goes through the briefs' pipeline
(``briefs.service``: same fonts, fetcher, time limit); the document is Chinese whatever the
UI language, so the content is built under the zh_CN locale (stage names) and unit names are
read from the units themselves.

The charts are the dashboard's (``tracker.reports.charts``), with print styles inside.
"""
from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from flask_babel import force_locale
from markupsafe import Markup, escape
from pydantic import ValidationInfo, model_validator
from sqlalchemy import select
from sqlalchemy.orm import joinedload

from tracker.auth.models import Unit
from tracker.core import formatting
from tracker.core.formatting import today_local
from tracker.core.input import Day, InputError, Integer, Line, OneOf, Schema, Text
from tracker.core.permissions import can
from tracker.core.translations import gettext as _
from tracker.core.translations import lazy_gettext as _l
from tracker.extensions import db
from tracker.jobs.worker import JobContext, JobError, JobOutput
from tracker.progress import counting
from tracker.progress.lights import light, lit_condition
from tracker.projects.models import Investor, Project
from tracker.reports import charts
from tracker.reports import figures as engine
from tracker.reports.figures import Figures, ReportQuery, parse_query
from tracker.workflow.stages import label as stage_label

KINDS = ("month", "quarter")
ISSUE_MAX = 20
PROBLEMS_MAX = 3000
# The red-light list prints the most overdue projects; past this many, the rest are counted
# and left to the project list (a bulletin of thousands of rows is read by nobody).
RED_LIST_MAX = 100
DEFAULT_TIMEOUT = 60.0  # seconds for the layout when rendered outside a job worker
ALL_FROM, ALL_TO = "1990-01-01", "2100-12-31"
CN_QUARTERS = {1: "一", 2: "二", 3: "三", 4: "四"}


# --- The request (the form, and the job's parameters) ----------------------------------------

class BulletinInput(Schema):
    """What the form posts; the job validates its parameters with it again."""

    kind: OneOf(KINDS, required=_l("请选择月度或季度。"), description=_l("month（月度）或 quarter（季度）"))
    year: Integer(minimum=1990, maximum=2100, required=_l("请填写年份。"), description=_l("年份"))
    month: Integer(minimum=1, maximum=12, description=_l("月份（月度通报）"))
    quarter: Integer(minimum=1, maximum=4, description=_l("季度（季度通报）"))
    as_of: Day(description=_l("数据截至日期（默认：统计期末，统计期未结束时为今天）"))
    issue: Line(ISSUE_MAX, description=_l("期号"))
    problems: Text(PROBLEMS_MAX, description=_l("需市级协调解决的问题"))

    @model_validator(mode="after")
    def _period(self, info: ValidationInfo) -> BulletinInput:
        if self.kind is None or self.year is None:
            return self
        part = self.month if self.kind == "month" else self.quarter
        if part is None:
            name = "month" if self.kind == "month" else "quarter"
            raise InputError({name: _("请选择月份。") if name == "month" else _("请选择季度。")})
        today = (info.context or {}).get("today") or today_local()
        start, end = bounds(self.kind, self.year, part)
        if start > today:
            raise InputError({"month" if self.kind == "month" else "quarter": _("该统计期尚未开始。")})
        if self.as_of is not None:
            if self.as_of > today:
                raise InputError({"as_of": _("数据截至日期不能晚于今天。")})
            if self.as_of < start:
                raise InputError({"as_of": _("数据截至日期不能早于统计期开始（%(d)s）。", d=start.isoformat())})
        return self

    @property
    def part(self) -> int:
        return (self.month if self.kind == "month" else self.quarter) or 0

    def params(self) -> dict[str, Any]:
        """The job's parameters (JSON)."""
        return {"kind": self.kind, "year": self.year, "part": self.part,
                "as_of": self.as_of.isoformat() if self.as_of else None,
                "issue": self.issue or "", "problems": self.problems or ""}


def bounds(kind: str, year: int, part: int) -> tuple[date, date]:
    return engine.month_bounds(year, part) if kind == "month" else engine.quarter_bounds(year, part)


def period_label(kind: str, year: int, part: int) -> str:
    """"2026年11月", "2026年第四季度" (the document is Chinese: not a UI string)."""
    return f"{year}年{part}月" if kind == "month" else f"{year}年第{CN_QUARTERS[part]}季度"


def scope_name(user: Any) -> str:
    """Whom the bulletin covers: 全市, or the county's name."""
    return CITY_SCOPE if user.is_city else user.unit.name


def bulletin_title(req: BulletinInput, scope: str) -> str:
    """"2026年11月全市招商引资项目推进情况通报": the PDF's title, its file name and the job's."""
    return f"{period_label(req.kind, req.year, req.part)}{scope}招商引资项目推进情况通报"


def default_as_of(kind: str, year: int, part: int, today: date) -> date:
    """The period's end, or today while the period is not over."""
    return min(bounds(kind, year, part)[1], today)


def from_params(params: dict[str, Any], today: date | None = None) -> BulletinInput:
    """A job's parameters back as a validated request (InputError if they no longer hold)."""
    from tracker.core.input import validate

    kind = params.get("kind")
    data = {"kind": kind, "year": _text(params.get("year")), "as_of": params.get("as_of"),
            "issue": params.get("issue") or "", "problems": params.get("problems") or "",
            "month": _text(params.get("part")) if kind == "month" else None,
            "quarter": _text(params.get("part")) if kind == "quarter" else None}
    return validate(BulletinInput, data, context={"today": today or today_local()})


def _text(value: Any) -> Any:
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


# --- The dashboard's queries -----------------------------------------------------------------

@dataclass(frozen=True)
class Queries:
    period: ReportQuery
    ytd: ReportQuery
    lights: ReportQuery


def queries(req: BulletinInput, today: date | None = None) -> Queries:
    today = today or today_local()
    start, end = bounds(req.kind, req.year, req.part)
    as_of = req.as_of or default_as_of(req.kind, req.year, req.part, today)
    as_of_arg = as_of.isoformat() if as_of < today else None  # today: counted live, as the dashboard does
    period_args = {"year": str(req.year), req.kind: str(req.part), "as_of": as_of_arg}
    ytd_args = {"from": date(req.year, 1, 1).isoformat(), "to": end.isoformat(), "as_of": as_of_arg}
    lights_args = {"from": ALL_FROM, "to": ALL_TO}
    clean = [{k: v for k, v in a.items() if v is not None} for a in (period_args, ytd_args, lights_args)]
    return Queries(*(parse_query(a, today) for a in clean))


# --- The content -------------------------------------------------------------------------------

@dataclass
class UnitRow:
    unit_id: int | None  # None: the 合计 row
    name: str
    period: Figures
    ytd: Figures


@dataclass
class RankLine:
    rank: int
    name: str
    actual: engine.Actuals
    target: Any  # UnitTarget | None
    completion: float | None


@dataclass
class RedLine:
    project_id: int
    name: str
    unit: str
    stage: str
    days_late: int
    due_on: date | None
    owner: str
    investment: Decimal


@dataclass
class LightsLine:
    name: str
    red: int
    yellow: int


@dataclass
class Bulletin:
    issuer: str
    scope: str  # 全市, or the county's name
    title: str
    period: str  # 2026年11月
    kind: str
    issue: str  # 第12期, or ""
    issued_on: date
    start: date
    end: date
    counted_on: date  # the as-of date (or today)
    ytd_start: date
    ytd_end: date
    totals: Figures  # the period
    ytd: Figures
    units: list[UnitRow]
    ranking: list[RankLine]
    target_year: int
    red: list[RedLine]
    red_total: int
    yellow_total: int
    lights_by_unit: list[LightsLine]
    lights_on: date
    problems: list[str]
    funnel: list[engine.Step]
    quarters: list[engine.QuarterSignings]
    is_city: bool = False
    charts: dict[str, Markup] = field(default_factory=dict)
    queries: Queries | None = None


CITY_SCOPE = "全市"


@contextmanager
def _zh() -> Iterator[None]:
    """The document is Chinese: stage names and labels built under zh_CN."""
    with force_locale("zh_CN"):
        yield


def _quiet(_percent: int, _message: str = "") -> None:
    return None


def build_bulletin(user: Any, req: BulletinInput, progress: Callable[[int, str], None] = _quiet,
                   today: date | None = None) -> Bulletin:
    """Everything the PDF prints, for ``user``'s scope. ``progress(percent, message)`` is
    called between the steps (the job reports it)."""
    from tracker.briefs.service import issuer_name

    today = today or today_local()
    qs = queries(req, today)
    units = _units(user)
    progress(10, _("正在统计本期签约情况…"))
    with _zh():
        period_report = engine.build_report(user, qs.period)
    progress(25, _("正在统计本年累计及各地推进情况…"))
    with _zh():
        ytd_report = engine.build_report(user, qs.ytd)
        rows = _unit_rows(units, period_report, ytd_report)
    progress(40, _("正在计算赛马排名…"))
    with _zh():
        ranking = [RankLine(r.rank, _unit_name(units, r.unit_id, r.label), r.actuals, r.target, r.completion)
                   for r in engine.ranking(user, qs.ytd)]
    progress(50, _("正在整理亮灯项目…"))
    with _zh():
        lights_by_unit = lights_per_unit(user, qs.lights, units)
        red = red_list(user, qs.lights, today, limit=RED_LIST_MAX)
        funnel = engine.funnel(ytd_report)
        quarters = engine.signings_by_quarter(user, qs.period)
    scope = scope_name(user)
    period = period_label(req.kind, req.year, req.part)
    issue = (req.issue or "").strip()
    if issue.isdigit():
        issue = f"第{issue}期"
    bulletin = Bulletin(
        issuer=issuer_name(user), scope=scope, title=bulletin_title(req, scope), period=period,
        kind=req.kind, issue=issue, issued_on=today, start=qs.period.start, end=qs.period.end,
        counted_on=qs.period.as_of or today, ytd_start=qs.ytd.start, ytd_end=qs.ytd.end,
        totals=period_report.total, ytd=ytd_report.total, units=rows, ranking=ranking, target_year=req.year,
        red=red, red_total=sum(line.red for line in lights_by_unit),
        yellow_total=sum(line.yellow for line in lights_by_unit),
        lights_by_unit=lights_by_unit, lights_on=today, problems=_paragraphs(req.problems or ""),
        funnel=funnel, quarters=quarters, is_city=bool(user.is_city), queries=qs,
    )
    progress(60, _("正在绘制图表…"))
    bulletin.charts = charts_for_print(funnel, quarters, font_stacks()["sans"])
    return bulletin


def _units(user: Any) -> dict[int, Unit]:
    """Every unit the user may see, by id (names come from here, never from a cached label)."""
    from tracker.core.permissions import scope_filter

    return {u.id: u for u in db.session.execute(select(Unit).where(scope_filter(user, Unit.id))).scalars()}


def _unit_name(units: dict[int, Unit], unit_id: Any, fallback: str) -> str:
    unit = units.get(unit_id)
    return unit.name if unit is not None else fallback


def _unit_rows(units: dict[int, Unit], period: engine.Report, ytd: engine.Report) -> list[UnitRow]:
    """One row per active county/district unit in scope (and any unit with signings), in the
    units' order, then 合计 when there is more than one."""
    by_period = {b.key: b.figures for b in period.by_unit}
    by_ytd = {b.key: b.figures for b in ytd.by_unit}
    ids = {uid for uid, u in units.items() if u.is_active and not u.is_city} | set(by_period) | set(by_ytd)
    ordered = sorted(ids, key=lambda uid: (units[uid].sort_order, uid) if uid in units else (10**6, uid))
    rows = [UnitRow(uid, _unit_name(units, uid, str(uid)), by_period.get(uid) or Figures(), by_ytd.get(uid) or Figures())
            for uid in ordered]
    if len(rows) > 1:
        rows.append(UnitRow(None, "合计", period.total, ytd.total))
    return rows


def lights_per_unit(user: Any, lights_q: ReportQuery, units: dict[int, Unit]) -> list[LightsLine]:
    """Red and yellow projects per unit (units with none left out), in the units' order: the
    engine's own light counts (``figures.light_rows``, what a report's ``red``/``yellow`` add
    up), without the rest of a report over every project (the cube and the milestones)."""
    red: dict[int, int] = {}
    yellow: dict[int, int] = {}
    for unit_id, _industry, _region, _band, r, y in engine.light_rows(user, lights_q):
        red[unit_id] = red.get(unit_id, 0) + r
        yellow[unit_id] = yellow.get(unit_id, 0) + y
    ids = sorted((uid for uid in red if red[uid] or yellow[uid]),
                 key=lambda uid: (units[uid].sort_order, uid) if uid in units else (10**6, uid))
    return [LightsLine(_unit_name(units, uid, str(uid)), red[uid], yellow[uid]) for uid in ids]


def red_list(user: Any, lights_q: ReportQuery, today: date, limit: int = RED_LIST_MAX) -> list[RedLine]:
    """The projects lit red today, most overdue first: the engine's own conditions (the
    same projects its ``red`` count counts), at most ``limit``."""
    conds = [*engine.scope_conditions(user, lights_q), lit_condition(Project, today, "red"),
             counting.first_signing()]
    projects = db.session.execute(
        select(Project).join(Investor, Investor.id == Project.investor_id).where(*conds)
        .options(joinedload(Project.unit), joinedload(Project.owner))
        .order_by(Project.due_on.asc(), Project.id.asc()).limit(limit)
    ).scalars().all()
    out = []
    for p in projects:
        lamp = light(p.due_on, p.red_on, today, stage=p.stage, archived=p.is_archived)
        owner = p.owner.display_name or p.owner.username if p.owner is not None else "—"
        out.append(RedLine(p.id, p.name, p.unit.name if p.unit else "—", stage_label(p.stage), lamp.days_late,
                           p.due_on, owner, p.contracted_investment))
    return out


def _paragraphs(text: str) -> list[str]:
    return [line.strip() for line in text.replace("\r\n", "\n").split("\n") if line.strip()]


# --- Formatting for the template -------------------------------------------------------------

# The dashboard's own formatters: the 通报 prints the dashboard's numbers, rounded alike.
pct = charts.percent
yi = formatting.yi


def yi_compact(value: Decimal | int | None) -> str:
    """万元 → 亿元 for a narrow cell: whole 亿元 from 100亿元 up (79,291), else two decimals."""
    return formatting.yi(value, 0 if value is not None and Decimal(value) >= 1_000_000 else 2)


def cn_date(value: date | None) -> str:
    return "—" if value is None else f"{value.year}年{value.month}月{value.day}日"


def pair(actual: Any, target: Any, money: bool = False) -> str:
    """"3 / 5" (actual / target); the target "—" when not set."""
    shown = yi(actual) if money else str(actual)
    if target is None:
        return f"{shown} / —"
    return f"{shown} / {yi(target) if money else target}"


@dataclass(frozen=True)
class RateLine:
    key: str
    label: str
    period: str
    ytd: str
    note: str


def _rate_text(f: Figures, spec: engine.Rate) -> str:
    rate = f.rates[spec.key]
    if spec.key == "funds_in_place":
        detail = f"{yi(f.funds)}/{yi(f.investment)}亿元"
    elif spec.key == "compliance":
        detail = f"{f.milestones_met}/{f.milestones_due}"
    else:
        detail = f"{f.reached(spec.reached)}/{f.signed}"
    return f"{pct(rate)}（{detail}）" if rate is not None else "—"


def rate_lines(b: Bulletin) -> list[RateLine]:
    """The rates (``figures.RATES``): their Chinese names and the 通报's own definitions."""
    with _zh():
        return [RateLine(spec.key, str(spec.label), _rate_text(b.totals, spec), _rate_text(b.ytd, spec),
                         spec.official) for spec in engine.RATES]


# --- Charts: the dashboard's, for print -------------------------------------------------------------

# The dashboard's SVG charts (``tracker.reports.charts``) take their colours and font from
# classes in app.css, which do not reach inside an SVG that WeasyPrint lays out: a <style>
# inside each SVG sets them for print (the prepared fonts, the document's red).
_PRINT_CHART_CSS = (
    "text{{font-family:{font}}} .chart-bar{{fill:#c00000}} .chart-track{{fill:#f0f0f0}} "
    ".chart-label{{fill:#222}} .chart-value{{fill:#333}} .chart-empty{{fill:#777}} "
    ".chart-axis{{stroke:#888;stroke-width:1}}"
)


FUNNEL_VALUE_ROOM = 215  # of the chart's 480 units: "10974个 · 234,573.13亿元" at its font size


def font_stacks() -> dict[str, str]:
    """The CSS font lists of the briefs' prepared fonts (serif body, sans bold headings)."""
    from tracker.briefs import fonts, render, service

    return render.font_stacks(fonts.manifest_files(service.font_dir()))


def print_chart(svg: Markup, font: str) -> Markup:
    """A dashboard chart with its print styles inside (``font``: a CSS font list of ours)."""
    text = str(svg)
    cut = text.index(">") + 1  # the end of the opening <svg …> tag (its attributes are escaped)
    css = _PRINT_CHART_CSS.format(font=font.replace('"', "'"))
    return Markup(text[:cut] + "<style>" + str(escape(css)) + "</style>" + text[cut:])


def charts_for_print(funnel: list[engine.Step], quarters: list[engine.QuarterSignings], font: str) -> dict[str, Markup]:

    def no_link(_drill: dict[str, Any]) -> None:  # a PDF has no project list to open
        return None

    with _zh():
        if any(step.count for step in funnel):
            # The dashboard's bars with room for a city's sums (234,573.13亿元) after them.
            bars = [charts.Bar(step.label, float(step.count), f"{step.count}个 · {yi(step.investment)}亿元")
                    for step in funnel]
            funnel_svg = charts.hbar_chart("funnel", "项目推进漏斗", bars, value_room=FUNNEL_VALUE_ROOM)
        else:
            funnel_svg = charts.funnel_chart(funnel, no_link)  # its "暂无数据"
        return {"funnel": print_chart(funnel_svg, font),
                "quarters": print_chart(charts.quarters_chart(quarters, no_link), font)}


# --- The PDF -----------------------------------------------------------------------------------

@dataclass
class Fmt:
    """What the PDF template may call."""

    pct = staticmethod(pct)
    yi = staticmethod(yi)
    yi_compact = staticmethod(yi_compact)
    cn_date = staticmethod(cn_date)
    pair = staticmethod(pair)


def render_bulletin(bulletin: Bulletin):
    """The PDF (``briefs.render.RenderResult``) through the briefs' pipeline."""
    from flask import current_app

    from tracker.briefs import service

    try:
        timeout = float(current_app.config.get("BULLETIN_RENDER_TIMEOUT", DEFAULT_TIMEOUT))
    except (TypeError, ValueError):
        timeout = DEFAULT_TIMEOUT
    stacks = font_stacks()
    # The briefs' renderer (same fonts, fetcher, time limit and error messages), with the
    # template rendered under zh_CN.
    return service.render_document("reports/bulletin_pdf.html", timeout, b=bulletin, f=Fmt(), rates=rate_lines(bulletin),
                           font_serif=Markup(stacks["serif"]), font_sans=Markup(stacks["sans"]))


def filename(bulletin: Bulletin) -> str:
    from tracker.briefs.service import pdf_filename

    return pdf_filename(bulletin.title)


# --- The job -------------------------------------------------------------------------------------

def make_bulletin(ctx: JobContext) -> JobOutput:
    """The ``bulletin`` job (``tracker.jobs.kinds``): checks the user may still see reports,
    builds the content in their scope, renders the PDF."""
    ctx.progress(3, _("正在核对权限与统计期…"))
    user = ctx.user
    if user is None or not user.is_active or not can("reports.view", user=user):
        raise JobError(_("您已无权生成通报。"))
    try:
        req = from_params(ctx.params)
    except InputError as err:
        raise JobError(_("通报的参数无效：%(why)s 请重新生成。", why=" ".join(err.errors.values()))) from None
    bulletin = build_bulletin(user, req, ctx.progress)
    ctx.progress(65, _("正在排版（%(n)d 个红灯项目）…", n=len(bulletin.red)))
    result = render_bulletin(bulletin)
    ctx.progress(95, _("正在保存（%(pages)d 页）…", pages=result.pages))
    return JobOutput(result.pdf, filename(bulletin))
