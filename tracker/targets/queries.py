"""Target against actual, for every screen that shows it (the targets page, the dashboard,
the home page): the five figures, the progress of one figure, and the per-unit board.

The actual figures come from the report engine (``tracker.reports.figures.unit_actuals``),
each with the project-list query behind it (``drill``), so every actual links to the list
whose totals equal it. Templates render what is built here and never query; the bar itself
is the macro ``progress`` in templates/targets/_macros.html, fed by ``progress`` below
(registered as the Jinja global ``target_progress``).
"""
from __future__ import annotations

import calendar
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from tracker.auth.models import Unit
from tracker.core.translations import lazy_gettext as _l
from tracker.targets.models import UnitTarget
from tracker.targets.operations import targets_for, units_in_scope


@dataclass(frozen=True)
class Figure:
    code: str  # the attribute on UnitTarget and on the report engine's Actuals
    label: Any
    kind: str  # count | money (万元)


FIGURES: tuple[Figure, ...] = (
    Figure("projects_10yi", _l("10亿元以上项目"), "count"),
    Figure("projects_10yi_yrd", _l("其中来自长三角"), "count"),
    Figure("investment", _l("协议投资额"), "money"),
    Figure("started", _l("开工项目"), "count"),
    Figure("funds", _l("实际到位资金"), "money"),
)


# --- one figure's progress ------------------------------------------------------------------------

@dataclass(frozen=True)
class Progress:
    """``percent``: actual / target in whole percent (None without a positive target), never
    shown as 100 before the target is reached; ``width``: the bar's fill, 0–100; ``state``:
    none (no target) | done | behind (below the time-proportional pace) | on."""

    percent: int | None
    width: int
    state: str
    pace: int | None = None


def progress(actual: Any, target: Any, pace: Any = None) -> Progress:
    """Progress of ``actual`` towards ``target``; ``pace`` is the share of the period gone
    (percent, see ``year_pace``): a figure below it is behind schedule (序时进度)."""
    pace_pct = None if pace is None else int(pace)
    if target is None or actual is None:
        return Progress(None, 0, "none", pace_pct)
    target, actual = Decimal(target), Decimal(actual)
    if target <= 0:
        return Progress(None, 0, "none", pace_pct)
    exact = actual * 100 / target
    percent = int(exact.quantize(Decimal(1), rounding=ROUND_HALF_UP))
    if actual < target:
        percent = min(percent, 99)  # 199 of 200 is not done
        state = "behind" if pace_pct is not None and exact < pace_pct else "on"
    else:
        state = "done"
    return Progress(percent, max(0, min(100, percent)), state, pace_pct)


def year_pace(year: int, today: date) -> int | None:
    """The share of ``year`` gone by ``today`` in whole percent: 100 for a past year, None for
    a future one (nothing is behind yet)."""
    if year < today.year:
        return 100
    if year > today.year:
        return None
    days = 366 if calendar.isleap(year) else 365
    return int(today.timetuple().tm_yday * 100 / days)


# --- the board: one row per unit ----------------------------------------------------------------

@dataclass
class Cell:
    figure: Figure
    target: Any  # int | Decimal | None (no target set)
    actual: Any  # int | Decimal
    href_args: dict[str, Any] | None  # project-list query of the actual


@dataclass
class Row:
    unit: Unit | None  # the unit whose target the row shows (the 全市 row: the city unit)
    target: UnitTarget | None
    cells: list[Cell]
    editable: bool = False  # the viewer may set this row's target
    label: Any = ""


@dataclass
class Board:
    year: int
    pace: int | None
    rows: list[Row]
    total: Row | None = None  # the city user's 全市 row
    targets: dict[int, UnitTarget] = field(default_factory=dict)

    @property
    def any_target(self) -> bool:
        return bool(self.targets)


def _cell(figure: Figure, target: UnitTarget | None, actual: Any, drill: dict[str, Any] | None) -> Cell:
    target_value = getattr(target, figure.code) if target is not None else None
    return Cell(figure, target_value, actual, drill)


def _actual(actuals: Any, code: str) -> tuple[Any, dict[str, Any] | None]:
    """A unit's actual figure and its drill-down; None = the unit signed nothing that year
    (the engine lists only units with signings): 0, with nothing to list."""
    if actuals is None:
        return 0, None
    drill = (getattr(actuals, "drill", None) or {}).get(code)
    return getattr(actuals, code), (dict(drill) if drill else None)


def board(user: Any, year: int, actuals: dict[int, Any], *, today: date,
          may_manage: bool = False) -> Board:
    """The targets page's rows: each unit in the user's scope (for the city: every county
    office, and the city bureau's own row only when it has projects of its own), target
    against actual per figure; for a city user also the 全市 row, whose target is the city
    unit's own target (the city-wide one) or, when that is not set, the sum of the units'.
    ``actuals``: the report engine's figures by unit id (``unit_actuals``)."""
    pace = year_pace(year, today)
    targets = targets_for(user, year)
    units = units_in_scope(user)
    city_unit = next((u for u in units if u.is_city), None) if user.is_city else None
    rows: list[Row] = []
    for unit in units:
        unit_actuals = actuals.get(unit.id)
        if unit is city_unit and not any(getattr(unit_actuals, f.code, 0) for f in FIGURES):
            continue  # the bureau files no projects of its own: its target is the 全市 row
        target = None if unit is city_unit else targets.get(unit.id)
        cells = [_cell(f, target, *_actual(unit_actuals, f.code)) for f in FIGURES]
        rows.append(Row(unit, target, cells, editable=may_manage and unit is not city_unit, label=unit.name))
    total = None
    if user.is_city:
        city_target = targets.get(city_unit.id) if city_unit is not None else None
        cells = []
        for f in FIGURES:
            if city_target is not None:
                target_value = getattr(city_target, f.code)
            else:
                values = [getattr(t, f.code) for uid, t in targets.items() if city_unit is None or uid != city_unit.id]
                target_value = sum(values) if values else None
            actual, drill = _sum_actuals(actuals, f.code)
            cells.append(Cell(f, target_value, actual, drill))
        total = Row(city_unit, city_target, cells, editable=may_manage and city_unit is not None,
                    label=_l("全市"))
    return Board(year, pace, rows, total, targets)


def _sum_actuals(actuals: dict[int, Any], code: str) -> tuple[Any, dict[str, Any] | None]:
    """Σ of every unit's actual; its drill is a unit's drill without the unit."""
    total: Any = 0
    drill = None
    for item in actuals.values():
        value, unit_drill = _actual(item, code)
        total += value
        if drill is None and unit_drill is not None:
            drill = {k: v for k, v in unit_drill.items() if k != "unit"}
    return total, drill
