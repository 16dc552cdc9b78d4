"""The dashboard (统计): the figures leaders judge the bureau by, within the user's scope.

Everything on the page comes from the report engine (``tracker.reports.figures``): one
report (a constant number of grouped queries, whatever the number of units or projects),
the funnel derived from it, signings by quarter and the 赛马 ranking. Every figure carries
the project-list arguments (``drill``) of the projects behind it; the page links each
number to that list, whose totals equal it (tests/test_drilldown.py).

Arguments are read leniently (``parse_query``): what is not understood falls back to the
default and the page says so, it never fails. A unit, industry or region that does not
exist — or a unit outside the user's scope — is dropped from the query with a notice, so
another county's id shows nothing of that county.
"""
from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any
from urllib.parse import urlencode

from flask import Blueprint, Response, render_template, request, url_for
from flask_login import current_user, login_required
from markupsafe import Markup

from tracker.core import datacache, pieces
from tracker.core.formatting import today_local
from tracker.core.input import int_arg
from tracker.core.permissions import require
from tracker.core.translations import gettext as _
from tracker.projects.queries import filter_choices
from tracker.reports import charts
from tracker.reports.figures import (
    BANDS,
    RATES,
    Rate,
    ReportQuery,
    band_labels,
    build_report,
    drill_10yi,
    drill_10yi_yrd,
    funnel,
    parse_query,
    ranking,
    signings_by_quarter,
)

bp = Blueprint("reports", __name__, url_prefix="/reports")

YEARS_BACK = 8  # the year picker: this year and the ones before


def rate_specs() -> list[Rate]:
    """The five rates of DOMAIN.md (``figures.RATES``) in the page's language."""
    return [rate.translated() for rate in RATES]


def _period_label(q: ReportQuery) -> str:
    if q.kind == "quarter":
        return _("%(y)d 年第 %(q)d 季度", y=q.year, q=q.part)
    if q.kind == "month":
        return _("%(y)d 年 %(m)d 月", y=q.year, m=q.part)
    if q.kind == "custom":
        return _("%(a)s 至 %(b)s", a=q.start.isoformat(), b=q.end.isoformat())
    return _("%(y)d 年", y=q.year)


def _shift(q: ReportQuery, step: int) -> dict[str, Any] | None:
    """The dashboard's arguments for the period before (-1) or after (+1); None for a custom one."""
    args = q.args()
    if q.kind == "year":
        year = q.year + step
        if not 1990 <= year <= 2100:
            return None
        return {**args, "year": year}
    if q.kind in ("quarter", "month"):
        per_year = 4 if q.kind == "quarter" else 12
        index = q.year * per_year + (q.part - 1) + step
        year, part = divmod(index, per_year)
        if not 1990 <= year <= 2100:
            return None
        return {**args, "year": year, q.kind: part + 1}
    return None


def _notices(args: Any, q: ReportQuery) -> list[str]:
    """What was asked for but not understood (and so ignored)."""
    out = []
    raw_year = args.get("year")
    if raw_year and int_arg(raw_year) != q.year and q.kind != "custom":
        out.append(_("年份“%(v)s”无效，已按 %(y)d 年统计。", v=raw_year[:20], y=q.year))
    for name, top in (("quarter", 4), ("month", 12)):
        raw, number = args.get(name), int_arg(args.get(name))
        if raw and not (number and 1 <= number <= top):
            out.append(_("“%(v)s”不是有效的季度或月份，已忽略。", v=raw[:20]))
    if (args.get("from") or args.get("to")) and q.kind != "custom":
        out.append(_("自定义期间须填写有效的起止日期，且开始日期不晚于结束日期；已按上面的期间统计。"))
    raw_as_of = args.get("as_of")
    if raw_as_of and q.as_of is None:
        out.append(_("统计日期“%(v)s”无效或不早于今天，已按今天的阶段统计。", v=raw_as_of[:20]))
    if args.get("region") and not q.region:
        out.append(_("来源地无效，已忽略。"))
    if args.get("size") and not q.size:
        out.append(_("规模无效，已忽略。"))
    return out


ARG_NAMES = ("year", "quarter", "month", "from", "to", "as_of", "unit", "industry", "region", "size")


def _period_args(args: Any) -> tuple[dict[str, str], list[str]]:
    """The arguments ``parse_query`` reads. The filter bar's 期间 select (``part``: ``q1``–``q4``,
    ``m1``–``m12``, ``custom`` or empty for the whole year) says which of quarter, month and
    the custom dates count: the others are dropped (links carry quarter/month/from/to
    directly and no ``part``)."""
    out = {name: args.get(name) for name in ARG_NAMES if args.get(name) not in (None, "")}
    if "part" not in args:
        return out, []
    part = args.get("part") or ""
    for name in ("quarter", "month", "from", "to"):
        out.pop(name, None)
    notices = []
    if part == "custom":
        out.update({name: args.get(name) for name in ("from", "to") if args.get(name)})
        if not (out.get("from") and out.get("to")):
            notices.append(_("自定义期间须填写起止日期；已按全年统计。"))
    elif len(part) in (2, 3) and part[0] in "qm" and part[1:].isdigit():
        out["quarter" if part[0] == "q" else "month"] = part[1:]
    elif part:
        notices.append(_("“%(v)s”不是有效的季度或月份，已忽略。", v=part[:20]))
    return out, notices


def _dashboard_query(raw: Any, choices: dict[str, list], today: date) -> tuple[ReportQuery, list[str]]:
    args, notices = _period_args(raw)
    q = parse_query(args, today)
    notices += _notices(args, q)
    # Ids the user cannot pick are dropped: a unit outside the scope (or none at all), an
    # industry or region that does not exist. Nothing of another county ever shows.
    if args.get("unit") and (q.unit is None or q.unit not in {u.id for u in choices["units"]}):
        q = q.narrowed(unit=None)
        notices.append(_("所选单位不存在或不在您的查看范围内，已忽略。"))
    if args.get("industry") and (q.industry is None or q.industry not in {i.id for i in choices["industries"]}):
        q = q.narrowed(industry=None)
        notices.append(_("所选产业不存在，已忽略。"))
    if q.region and q.region != "yrd" and int(q.region) not in {r.id for r in choices["regions"]}:
        q = q.narrowed(region="")
        notices.append(_("来源地无效，已忽略。"))
    return q, list(dict.fromkeys(notices))


def _list_href() -> Callable[[dict[str, Any]], str]:
    """``url_for('projects.list_projects', **drill)`` for the page's hundreds of links, without
    building each through the URL map (the same URL: the list's path and the drill's query)."""
    base = url_for("projects.list_projects")

    def href(drill: dict[str, Any]) -> str:
        return f"{base}?{urlencode(drill)}" if drill else base

    return href


@bp.get("/")
@login_required
def dashboard():
    require("reports.view")
    today = today_local()
    choices = filter_choices(current_user)
    q, notices = _dashboard_query(request.args, choices, today)
    # The body shows the figures of the user's scope only (no per-person or per-role part):
    # kept per scope and query until the data changes (the day is in the version). Rendering
    # its hundreds of links and charts took ~45-90 ms at every view. A page with notices
    # (arguments that were dropped: their text is in the page) is not kept, so made-up
    # arguments cannot fill the shelf.
    def build() -> str:
        return _dashboard_body(q, notices, choices, today)

    body = Markup(build()) if notices else pieces.kept(("dashboard", datacache.scope_key(current_user), q), build)
    return render_template("reports/dashboard.html", body=body)


def _dashboard_body(q: ReportQuery, notices: list[str], choices: dict[str, list], today: date) -> str:
    report = build_report(current_user, q)
    steps = funnel(report)
    quarters = signings_by_quarter(current_user, q)
    # The ranking compares the units: always every unit in scope (the other filters apply);
    # the chosen unit is marked in it. (figures.ranking on a unit-filtered query would list
    # the other units with no figures but links to their full lists.)
    ranks = ranking(current_user, q)

    specs = rate_specs()

    from tracker.targets.queries import year_pace

    pace = year_pace(q.start.year, today)
    sections = [
        ("unit", _("按单位"), report.by_unit),
        ("industry", _("按产业"), report.by_industry),
        ("region", _("按来源地"), report.by_region),
        ("size", _("按规模"), report.by_size),
    ]
    href = _list_href()
    charts_html = {
        "funnel": charts.funnel_chart(steps, href),
        "quarters": charts.quarters_chart(quarters, href),
        "unit_rates": charts.unit_rates_chart(
            [(row.label, row.figures, row.drill) for row in report.by_unit],
            href) if len(report.by_unit) > 1 else None,
    }
    this_year = today.year
    years = sorted(set(range(this_year - YEARS_BACK, this_year + 1)) | {q.year}, reverse=True)
    return render_template(
        "reports/_dashboard_body.html", q=q, report=report, total=report.total, steps=steps, quarters=quarters,
        ranks=ranks, specs=specs, sections=sections, charts=charts_html,
        choices=choices, notices=notices, period_label=_period_label(q), prev_args=_shift(q, -1),
        next_args=_shift(q, 1) if q.end < today else None, years=years, bands=[code for code, _a in BANDS],
        band_names=band_labels(), pace=pace, today=today, filters_active=_filters_active(q),
        as_of_max=date.fromordinal(today.toordinal() - 1), drill_10yi=drill_10yi,
        drill_10yi_yrd=lambda drill: drill_10yi_yrd(drill, report.yrd_region_ids), list_href=href,
    )


def _filters_active(q: ReportQuery) -> bool:
    return bool(q.unit or q.industry or q.region or q.size or q.as_of)


@bp.get("/export.xlsx")
@login_required
def export_workbook():
    """The dashboard's tables for the same query as one workbook, one sheet per table."""
    from tracker.reports.workbook import dashboard_workbook

    require("reports.view")
    q, _notices = _dashboard_query(request.args, filter_choices(current_user), today_local())
    report = build_report(current_user, q)
    data = dashboard_workbook(report, funnel(report), signings_by_quarter(current_user, q),
                              ranking(current_user, q), _period_label(q))
    name = f"dashboard-{q.start.isoformat()}-{q.end.isoformat()}.xlsx"
    return Response(data, mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})
