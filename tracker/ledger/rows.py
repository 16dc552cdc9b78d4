"""One ledger row → the input the project form and the API take (``ProjectFields``), so a
row is checked by the same rules with the same messages; plus what only a ledger carries
(the stage a project has already reached and its milestone dates, the export's id).
"""
from __future__ import annotations

import functools
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from tracker.core.input import InputError, Problem, fold_width, parse_date, validate
from tracker.core.translations import gettext as _
from tracker.ledger.columns import BY_KEY, normalise
from tracker.ledger.read import Grid, Layout, cell_text
from tracker.workflow.stages import BY_CODE, CODES, MILESTONE_CODES

_TRUE = {"是", "√", "✓", "y", "yes", "true", "1", "★", "●"}
_FALSE = {"", "否", "×", "n", "no", "false", "0", "-", "—", "无"}
_TOTAL_WORDS = ("合计", "总计", "小计", "total")
# The stages a row may bring a new project in: any but 暂缓, which needs a reason and a resume
# date (asked for in the system). The template's drop-down offers these.
NEW_ROW_STAGES: tuple[str, ...] = tuple(c for c in CODES if c != "paused")


@dataclass
class LedgerRow:
    """A data row as read: its sheet row number (1-based, as Excel shows it), the input
    for ``ProjectFields``, what the ledger adds, and problems found by column key."""

    row_no: int
    data: dict[str, Any] = field(default_factory=dict)
    stage: str | None = None
    planned: dict[str, date] = field(default_factory=dict)
    actual: dict[str, date] = field(default_factory=dict)
    project_id: int | None = None
    errors: dict[str, str] = field(default_factory=dict)
    cells: dict[str, int] = field(default_factory=dict)  # column key → grid column index

    def error(self, key: str, message: str) -> None:
        self.errors.setdefault(key, message)


def stage_code(text: str) -> str:
    """A stage from its Chinese name (已开工 or 开工), its English name or its code."""
    code = _stage_names().get(normalise(text).lower())
    if code is not None:
        return code
    raise Problem(_("未知的阶段“%(v)s”：可填 在谈、已签约、已注册、已供地、已开工、已竣工、已投产、已达产、暂缓、终止。",
                    v=text))


@functools.lru_cache(maxsize=1)
def _stage_names() -> dict[str, str]:
    """Every name a stage goes by (已开工, 开工, Construction started, construction) → its
    code, worked out once (translating per row cost seconds at 10,000 rows)."""
    names: dict[str, str] = {}
    for code in CODES:
        stage = BY_CODE[code]
        chinese = normalise(_chinese(stage.label))
        for name in (code, str(stage.english).lower(), chinese, chinese.lstrip("已")):
            names.setdefault(name, code)
    return names


def _chinese(label: Any) -> str:
    from flask_babel import force_locale

    with force_locale("zh"):
        return str(label)


def _flag(text: str) -> bool:
    value = normalise(text).lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise Problem(_("请填“是”或“否”。"))


def is_blank_or_total(values: list[Any]) -> bool:
    texts = [cell_text(v) for v in values]
    if not any(texts):
        return True
    joined = "".join(texts[:3]).lower()
    return any(word in joined for word in _TOTAL_WORDS) and sum(1 for t in texts if t) <= len(texts) // 2 + 2


def read_rows(grid: Grid, layout: Layout) -> list[LedgerRow]:
    """Every data row under the header (blank and 合计 rows skipped), parsed leniently:
    what cannot be read becomes an error on its column; validation comes after."""
    out = []
    for r in range(layout.header_row + 1, len(grid.rows)):
        values = grid.rows[r]
        if is_blank_or_total(values):
            continue
        row = LedgerRow(row_no=r + 1)
        for c, column in layout.columns.items():
            raw = values[c] if c < len(values) else None
            text = cell_text(raw)
            row.cells[column.key] = c
            try:
                _take(row, column.key, column.kind, raw, text, layout.units.get(c))
            except Problem as problem:
                row.error(column.key, str(problem))
        out.append(row)
    return out


def _take(row: LedgerRow, key: str, kind: str, raw: Any, text: str, unit: str | None) -> None:
    if kind == "id":
        if text:
            digits = fold_width(text)
            if not digits.isdigit() or not 0 < int(digits) < 2**31:
                raise Problem(_("系统编号应为导出台账中的数字，新项目请留空。"))
            row.project_id = int(digits)
        return
    if kind == "stage":
        if text:
            row.stage = stage_code(text)
        return
    if key.startswith(("planned.", "actual.")):
        if text:
            day = parse_date(raw if isinstance(raw, date) else text)
            (row.planned if key.startswith("planned.") else row.actual)[key.split(".", 1)[1]] = day
        return
    if kind == "flag":
        row.data[key] = _flag(text)
        return
    if kind == "money":
        # As typed: the input layer reads "5.2亿" / "3,000万" (projects.schemas.amount_in_wan),
        # a unit in the cell winning over the one in the column's header.
        if text:
            row.data[key] = text
            if unit:
                row.data[f"{key}_unit"] = unit
        return
    if kind == "date":
        row.data[key] = raw if isinstance(raw, date) else (text or None)
        return
    row.data[key] = text or None


def validate_row(row: LedgerRow, schema: Any, context: dict[str, Any]) -> Any:
    """The row's values through the project input schema; errors land on the row. The
    schema stops early on some problems (an amount in 亿元 is converted before the other
    fields are checked), so the row is checked again without the fields found wrong, until
    every problem is known."""
    data = dict(row.data)
    for _attempt in range(4):
        try:
            values = validate(schema, data, context=context)
        except InputError as err:
            for key, message in err.errors.items():
                row.error(key.removesuffix("_unit"), message)
            dropped = {k for k in err.errors} | {k.removesuffix("_unit") for k in err.errors}
            if not dropped & set(data):
                return None
            data = {k: v for k, v in data.items() if k not in dropped and k.removesuffix("_unit") not in dropped}
            continue
        return None if row.errors else values
    return None


def check_milestones(row: LedgerRow) -> None:
    """Actual dates only for stages the row's stage has reached, in order."""
    if not row.actual:
        return
    stage = row.stage or "signed"
    reached = MILESTONE_CODES[: MILESTONE_CODES.index(stage) + 1] if stage in MILESTONE_CODES else ()
    if stage in ("paused", "terminated"):
        return
    for code in row.actual:
        if code not in reached:
            row.error(f"actual.{code}", _("项目阶段为“%(s)s”，不应有“%(m)s”的实际日期。",
                                          s=_chinese(BY_CODE[stage].label), m=_chinese(BY_CODE[code].label)))
    last = None
    for code in MILESTONE_CODES:
        day = row.actual.get(code)
        if day and last and day < last:
            row.error(f"actual.{code}", _("实际日期早于上一阶段的实际日期。"))
        last = day or last


def column_header(key: str) -> str:
    column = BY_KEY.get(key)
    return column.title() if column else key
