"""The dashboard's tables as one Excel workbook, one sheet per table (issue 11): the same
figures the page shows, from the same engine, with the rates as percentages Excel can sum
and chart. Names come from the engine's rows; every text cell is written as a string (never
a formula)."""
from __future__ import annotations

import io
from collections.abc import Iterable
from typing import Any

import xlsxwriter

from tracker.core.translations import gettext as _
from tracker.reports.figures import RATE_KEYS, RATES, Figures, Report


class _Book:
    def __init__(self) -> None:
        self.buffer = io.BytesIO()
        self.book = xlsxwriter.Workbook(self.buffer, {"in_memory": True, "strings_to_formulas": False,
                                                      "strings_to_urls": False})
        self.head = self.book.add_format({"bold": True, "bg_color": "#DCE6F1", "border": 1, "text_wrap": True,
                                          "valign": "vcenter"})
        self.money = self.book.add_format({"num_format": "#,##0.00"})
        self.pct = self.book.add_format({"num_format": "0.0%"})
        self.int = self.book.add_format({"num_format": "0"})

    def sheet(self, title: str, headers: list[str], rows: Iterable[list[Any]], kinds: list[str]) -> None:
        ws = self.book.add_worksheet(title[:31])
        for c, header in enumerate(headers):
            ws.write_string(0, c, header, self.head)
            ws.set_column(c, c, 12 if c else 22)
        ws.freeze_panes(1, 1)
        r = 0
        for r, row in enumerate(rows, 1):
            for c, (value, kind) in enumerate(zip(row, kinds, strict=True)):
                if value is None:
                    ws.write_blank(r, c, None)
                elif kind == "text":
                    ws.write_string(r, c, str(value))
                else:
                    ws.write_number(r, c, float(value), getattr(self, kind))
        ws.autofilter(0, 0, max(r, 1), len(headers) - 1)

    def close(self) -> bytes:
        self.book.close()
        return self.buffer.getvalue()


def _figure_columns() -> tuple[list[str], list[str]]:
    headers = [_("签约项目（含终止）"), _("在库签约项目"), _("终止"), _("协议投资额（万元）"), _("实际到位资金（万元）"),
               _("10亿元以上"), _("其中长三角"), _("已开工及以后")]
    kinds = ["int", "int", "int", "money", "money", "int", "int", "int"]
    for rate in RATES:
        headers.append(str(rate.label))
        kinds.append("pct")
    headers += [_("红灯"), _("黄灯")]
    kinds += ["int", "int"]
    return headers, kinds


def _figure_values(f: Figures) -> list[Any]:
    rates = f.rates
    return [f.signed, f.live, f.terminated, f.investment, f.funds, f.count_10yi, f.yrd_10yi, f.started,
            *(rates[key] for key in RATE_KEYS), f.red, f.yellow]


def dashboard_workbook(report: Report, steps: list[Any], quarters: list[Any], ranks: list[Any],
                       period_label: str) -> bytes:
    """概况, 按单位/产业/来源地/规模, 推进漏斗, 分季度签约, 赛马排名."""
    out = _Book()
    headers, kinds = _figure_columns()
    as_of = report.query.as_of.isoformat() if report.query.as_of else _("今天")
    out.sheet(_("概况"), [_("范围"), *headers], [[f"{period_label} · {as_of}", *_figure_values(report.total)]],
              ["text", *kinds])
    for title, rows in ((_("按单位"), report.by_unit), (_("按产业"), report.by_industry),
                        (_("按来源地"), report.by_region), (_("按规模"), report.by_size)):
        out.sheet(title, [title.removeprefix("按").removeprefix("By ") or title, *headers],
                  [[row.label, *_figure_values(row.figures)] for row in rows], ["text", *kinds])
    out.sheet(_("推进漏斗"), [_("阶段（及以后）"), _("项目数"), _("协议投资额（万元）")],
              [[s.label, s.count, s.investment] for s in steps], ["text", "int", "money"])
    out.sheet(_("分季度签约"), [_("季度"), _("签约项目"), _("协议投资额（万元）")],
              [[q.label, q.count, q.investment] for q in quarters], ["text", "int", "money"])
    out.sheet(_("赛马排名"), [_("名次"), _("单位"), _("在库签约项目"), _("协议投资额（万元）"), _("10亿元以上"),
                           _("其中长三角"), _("开工项目"), _("实际到位资金（万元）"), _("红灯"), _("目标综合完成率")],
              [[r.rank, r.label, r.figures.live, r.actuals.investment, r.actuals.projects_10yi,
                r.actuals.projects_10yi_yrd, r.actuals.started, r.actuals.funds, r.figures.red, r.completion]
               for r in ranks],
              ["int", "text", "int", "money", "int", "int", "int", "money", "int", "pct"])
    return out.close()
