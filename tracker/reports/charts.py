"""Charts as plain SVG, rendered on the server (no JavaScript, no CDN, nothing the CSP forbids).

Each function returns an inline ``<svg>`` (Markup) sized by its ``viewBox`` and
``width="100%"``, so it scales to a phone and to paper. Colours and fonts come from classes
(``.chart`` in tracker/static/css/app.css) and presentation attributes, never ``style``
attributes (the CSP has no ``'unsafe-inline'`` for styles). Every chart has a ``<title>``
and a ``<desc>`` (its ``aria-labelledby``), every bar carries its figure as text — colour
alone never says anything — and links to the project list behind it. The page shows the
same figures in a table beside each chart.

Every label and URL is escaped: the SVG is built with ``Markup.format``, which escapes its
arguments (a unit or industry name is user-editable reference data).
"""
from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from markupsafe import Markup

from tracker.core.formatting import money
from tracker.core.translations import gettext as _
from tracker.reports.figures import RATES

WIDTH = 400  # viewBox units; the page scales it (max-width in CSS): legible on a phone
FONT = 14
_ids = itertools.count(1)


@dataclass(frozen=True)
class Bar:
    label: str
    value: float  # the bar's length in the chart's unit
    text: str  # the figure written beside the bar
    href: str | None = None
    title: str = ""  # a tooltip (the figure in words)


def _n(x: float) -> str:
    """A coordinate: short, locale-free."""
    return f"{x:.1f}".rstrip("0").rstrip(".")


def _chart_id(prefix: str) -> str:
    return f"{prefix}-{next(_ids)}"


def _svg(prefix: str, title: str, desc: str, height: float, body: Markup, css: str) -> Markup:
    cid = _chart_id(prefix)
    # A chart whose bars are links is a group of links (an image may not hold interactive
    # controls: screen readers would skip them); one without links is an image.
    role = "group" if "chart-link" in body else "img"
    return Markup(
        '<svg class="chart {css}" viewBox="0 0 {w} {h}" width="100%" preserveAspectRatio="xMinYMin meet" '
        'role="{role}" aria-labelledby="{cid}-t {cid}-d" focusable="false" xmlns="http://www.w3.org/2000/svg">'
        '<title id="{cid}-t">{title}</title><desc id="{cid}-d">{desc}</desc>{body}</svg>'
    ).format(css=css, w=WIDTH, h=_n(height), cid=cid, title=title, desc=desc, body=body, role=role)


def _link(href: str | None, inner: Markup, title: str = "") -> Markup:
    if not href:
        return inner
    tip = Markup("<title>{}</title>").format(title) if title else Markup("")
    return Markup('<a href="{}" class="chart-link">{}{}</a>').format(href, tip, inner)


def _empty(prefix: str, title: str) -> Markup:
    body = Markup('<text x="{x}" y="34" text-anchor="middle" font-size="{f}" class="chart-empty">{t}</text>').format(
        x=WIDTH // 2, f=FONT, t=_("暂无数据"))
    return _svg(prefix, title, _("暂无数据"), 56, body, "chart-none")


def hbar_chart(prefix: str, title: str, bars: Sequence[Bar], *, scale: float | None = None,
               value_room: float | None = None) -> Markup:
    """Horizontal bars, one per row: the label above its bar, the figure after it (room for
    the longest figure is kept on the right)."""
    if not bars:
        return _empty(prefix, title)
    if value_room is None:
        value_room = min(WIDTH / 2, max(_text_width(b.text, FONT) for b in bars) + 10)
    top = max((b.value for b in bars), default=0) if scale is None else scale
    room = WIDTH - value_room
    row, parts = 38, []
    for i, b in enumerate(bars):
        y = 4 + i * row
        length = 0 if not top else max(0.0, min(1.0, b.value / top)) * room
        inner = Markup(
            '<text x="0" y="{ty}" font-size="{f}" class="chart-label">{label}</text>'
            '<rect x="0" y="{by}" width="{bw}" height="14" rx="2" class="chart-track"/>'
            '{fill}'
            '<text x="{vx}" y="{vy}" font-size="{f}" class="chart-value">{text}</text>'
        ).format(ty=_n(y + 12), f=FONT, label=b.label, by=_n(y + 17), bw=_n(room),
                 fill=Markup('<rect x="0" y="{by}" width="{w}" height="14" rx="2" class="chart-bar"/>').format(
                     by=_n(y + 17), w=_n(length)) if length else Markup(""),
                 vx=_n(room + 6), vy=_n(y + 29), text=b.text)
        parts.append(_link(b.href, Markup('<g class="chart-row">{}</g>').format(inner), b.title))
    desc = "; ".join(f"{b.label}: {b.text}" for b in bars)
    return _svg(prefix, title, desc, 8 + len(bars) * row, Markup("").join(parts), "chart-hbar")


def column_chart(prefix: str, title: str, cols: Sequence[Bar]) -> Markup:
    """Vertical columns (e.g. quarters), the figure above each, the label (two lines) below."""
    if not cols:
        return _empty(prefix, title)
    top = max(c.value for c in cols)
    plot_top, plot_bottom = 22.0, 170.0
    step = WIDTH / len(cols)
    width = min(40.0, step * 0.6)
    parts = [Markup('<line x1="0" x2="{w}" y1="{y}" y2="{y}" class="chart-axis"/>').format(w=WIDTH, y=_n(plot_bottom))]
    for i, c in enumerate(cols):
        cx = step * i + step / 2
        h = 0 if not top else (c.value / top) * (plot_bottom - plot_top)
        first, _sep, second = c.label.partition(" ")
        inner = Markup(
            '{bar}<text x="{cx}" y="{vy}" text-anchor="middle" font-size="{f}" class="chart-value">{text}</text>'
            '<text x="{cx}" y="{l1}" text-anchor="middle" font-size="{fs}" class="chart-label">{first}</text>'
            '<text x="{cx}" y="{l2}" text-anchor="middle" font-size="{fs}" class="chart-label">{second}</text>'
        ).format(
            bar=Markup('<rect x="{x}" y="{y}" width="{w}" height="{h}" class="chart-bar"/>').format(
                x=_n(cx - width / 2), y=_n(plot_bottom - h), w=_n(width), h=_n(h)) if h else Markup(""),
            cx=_n(cx), vy=_n(plot_bottom - h - 5), f=FONT, text=c.text, l1=_n(plot_bottom + 15),
            l2=_n(plot_bottom + 29), fs=FONT - 1, first=first, second=second)
        parts.append(_link(c.href, Markup('<g class="chart-col">{}</g>').format(inner), c.title))
    desc = "; ".join(f"{c.label}: {c.text}" for c in cols)
    return _svg(prefix, title, desc, plot_bottom + 36, Markup("").join(parts), "chart-columns")


@dataclass(frozen=True)
class Group:
    label: str
    bars: Sequence[Bar]  # one per series, in the legend's order


def grouped_hbar_chart(prefix: str, title: str, series: Sequence[str], groups: Sequence[Group], *,
                       scale: float = 1.0, value_room: float = 56, max_label: float = 120) -> Markup:
    """Groups of thin horizontal bars (one per series), the group's label on their left
    (shortened with … when long; the full label is the group's tooltip), a legend on top;
    each bar's figure is written after it, so the colours only repeat the legend."""
    if not groups:
        return _empty(prefix, title)
    label_w = min(max_label, max(_text_width(g.label, FONT) for g in groups)) + 8
    room = WIDTH - value_room - label_w
    legend = []
    x = label_w
    for n, name in enumerate(series, 1):
        legend.append(Markup(
            '<rect x="{x}" y="2" width="11" height="11" class="chart-bar s{n}"/>'
            '<text x="{tx}" y="12" font-size="{f}" class="chart-label">{name}</text>'
        ).format(x=_n(x), n=n, tx=_n(x + 15), f=FONT - 1, name=name))
        x += 15 + _text_width(name, FONT - 1) + 16
    bar_h, gap = 10.0, 2.0
    group_h = len(series) * (bar_h + gap) + 9
    parts = [Markup('<g class="chart-legend">{}</g>').format(Markup("").join(legend))]
    for i, g in enumerate(groups):
        y0 = 22 + i * group_h
        rows = [Markup('<text x="0" y="{y}" font-size="{f}" class="chart-label"><title>{full}</title>{label}</text>').format(
            y=_n(y0 + (len(series) * (bar_h + gap)) / 2 + 4), f=FONT, full=g.label,
            label=_shorten(g.label, max_label, FONT))]
        for n, b in enumerate(g.bars, 1):
            by = y0 + (n - 1) * (bar_h + gap)
            length = max(0.0, min(1.0, b.value / scale)) * room if scale else 0
            inner = Markup(
                '<rect x="{x}" y="{by}" width="{room}" height="{h}" class="chart-track"/>{fill}'
                '<text x="{vx}" y="{vy}" font-size="{f}" class="chart-value">{text}</text>'
            ).format(x=_n(label_w), by=_n(by), room=_n(room), h=_n(bar_h),
                     fill=Markup('<rect x="{x}" y="{by}" width="{w}" height="{h}" class="chart-bar s{n}"/>').format(
                         x=_n(label_w), by=_n(by), w=_n(length), h=_n(bar_h), n=n) if length else Markup(""),
                     vx=_n(label_w + room + 4), vy=_n(by + bar_h - 0.5), f=FONT - 2, text=b.text)
            rows.append(_link(b.href, inner, b.title))
        parts.append(Markup('<g class="chart-group">{}</g>').format(Markup("").join(rows)))
    desc = "; ".join(f"{g.label}: " + ", ".join(f"{s} {b.text}" for s, b in zip(series, g.bars)) for g in groups)
    return _svg(prefix, title, desc, 22 + len(groups) * group_h, Markup("").join(parts), "chart-grouped")


def _shorten(text: str, width: float, size: float) -> str:
    """``text`` cut to about ``width`` at ``size``, with … when cut."""
    text = str(text)
    if _text_width(text, size) <= width:
        return text
    out = ""
    for ch in text:
        if _text_width(out + ch + "…", size) > width:
            break
        out += ch
    return out.rstrip() + "…"


def _text_width(text: str, size: float) -> float:
    """Roughly how wide ``text`` is at ``size`` (CJK characters are square, Latin about half)."""
    return sum(size if ord(ch) > 0x2E80 else size * 0.56 for ch in str(text))


def percent(rate: float | None) -> str:
    """A rate (fraction) as text: '62.5%', or '—' when there is nothing to divide by."""
    return "—" if rate is None else f"{rate * 100:.1f}%"


# --- The dashboard's charts -------------------------------------------------------------------

def _count_and_money(count: int, amount: Decimal) -> str:
    return _("%(n)d 个 · %(m)s", n=count, m=str(money(amount)))


def funnel_chart(steps: Sequence[Any], href: Callable[[dict[str, Any]], str]) -> Markup:
    """The funnel: projects (and Σ investment) that reached each stage or later."""
    bars = [Bar(str(s.label), float(s.count), _count_and_money(s.count, s.investment), href(s.drill),
                _("查看对应的项目清单")) for s in steps]
    if not any(s.count for s in steps):
        return _empty("funnel", _("项目推进漏斗"))
    return hbar_chart("funnel", _("项目推进漏斗：达到各阶段及以后的项目数和协议投资额"), bars)


def quarters_chart(quarters: Sequence[Any], href: Callable[[dict[str, Any]], str]) -> Markup:
    """Signings by quarter: the count above each column (the table gives the amounts)."""
    cols = [Bar(q.label, float(q.count), str(q.count), href(q.drill),
                _("%(label)s：签约 %(n)d 个，%(m)s", label=q.label, n=q.count, m=str(money(q.investment))))
            for q in quarters]
    if not any(q.count for q in quarters):
        return _empty("quarters", _("分季度签约"))
    return column_chart("quarters", _("分季度签约项目数"), cols)


def unit_rates_chart(rows: Sequence[tuple[str, Any, dict[str, Any]]],
                     href: Callable[[dict[str, Any]], str]) -> Markup:
    """落地率, 开工率, 投产率 (the stage-reached rates of ``figures.RATES``) by unit:
    (label, Figures, drill) per unit."""
    shown = [rate for rate in RATES if rate.reached]
    series = [str(rate.label) for rate in shown]
    groups = []
    for label, f, drill in rows:
        rates = f.rates
        bars = []
        for name, spec in zip(series, shown, strict=True):
            rate, code = rates[spec.key], spec.reached
            bars.append(Bar(name, rate or 0.0, percent(rate), href({**drill, "reached": code}),
                            _("%(name)s %(pct)s（%(a)d / %(b)d）", name=name, pct=percent(rate),
                              a=f.reached(code), b=f.signed)))
        groups.append(Group(label, bars))
    return grouped_hbar_chart("unit-rates", _("各单位落地率、开工率、投产率"), series, groups)
