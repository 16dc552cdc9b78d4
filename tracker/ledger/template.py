"""The blank 台账 template: the import's headers, one example row, and drop-down lists (data
validation) for 产业, 阶段, 落户地 (the user's scope) and 来源地 from the current reference
data, kept on a hidden sheet so a list may be longer than Excel's 255-character limit."""
from __future__ import annotations

import functools
from datetime import date
from typing import Any

from tracker.core.translations import gettext as _
from tracker.core.translations import lazy_gettext as _l
from tracker.ledger.columns import COLUMNS, Column
from tracker.ledger.export import header
from tracker.ledger.rows import NEW_ROW_STAGES
from tracker.projects.choices import project_choices
from tracker.workflow.stages import label

TEMPLATE_KEYS: tuple[str, ...] = tuple(c.key for c in COLUMNS if c.importable and c.key != "id")
VALIDATED_ROWS = 2000  # rows below the header that get the drop-downs


def _lists(user: Any) -> dict[str, list[str]]:
    """Each drop-down's values, by column key, in the hidden sheet's column order (A, B, …):
    what the import accepts — the reference rows the user may pick (the choices the import
    validates against) and the stages a new row may be in."""
    choices = project_choices(user)

    def names(key: str) -> list[str]:
        return [name for _id, name in choices[key].options]

    return {"industry_id": names("industry_id"), "stage": [label(c) for c in NEW_ROW_STAGES],
            "unit_id": names("unit_id"), "source_region_id": names("source_region_id")}


EXAMPLE_NAME = _l("示例：年产10万套新能源汽车零部件项目（导入前请删除本行）")


def is_example(name: str) -> bool:
    """The template's example row, in whichever language the template was downloaded."""
    return name.strip() in _example_names()


@functools.cache
def _example_names() -> frozenset[str]:
    # Once per process (the catalogues do not change while it runs), not once per row.
    from flask_babel import force_locale

    names = set()
    for locale in ("zh_CN", "en"):
        with force_locale(locale):
            names.add(str(EXAMPLE_NAME))
    return frozenset(names)


def _example(lists: dict[str, list[str]], key: str) -> Any:
    first = {k: (v[0] if v else "") for k, v in lists.items()}
    return {
        "name": str(EXAMPLE_NAME),
        "investor_name": _("示例新能源科技有限公司"), "investor_uscc": "",
        "source_region_id": first["source_region_id"], "industry_id": first["industry_id"],
        "unit_id": first["unit_id"], "contracted_investment": 52000, "funds_in_place": 0,
        "signed_on": date(2024, 12, 20), "stage": label("signed"), "planned.construction": date(2025, 6, 30),
        "content": _("新建厂房及生产线"), "land_area_mu": 120, "is_provincial_major": _("否"),
    }.get(key)


def write_template(user: Any, target: Any) -> None:
    import xlsxwriter
    from xlsxwriter.utility import xl_col_to_name

    columns: list[Column] = [c for c in COLUMNS if c.key in TEMPLATE_KEYS]
    lists = _lists(user)
    book = xlsxwriter.Workbook(target, {"strings_to_formulas": False, "strings_to_urls": False})
    sheet = book.add_worksheet(_("签约项目台账"))
    hidden = book.add_worksheet("lists")
    head = book.add_format({"bold": True, "bg_color": "#DCE6F1", "border": 1, "text_wrap": True,
                            "valign": "vcenter", "align": "center"})
    example = book.add_format({"font_color": "#7F7F7F", "italic": True})
    example_date = book.add_format({"font_color": "#7F7F7F", "italic": True, "num_format": "yyyy-mm-dd"})
    date_fmt = book.add_format({"num_format": "yyyy-mm-dd"})
    money_fmt = book.add_format({"num_format": "#,##0.00"})
    sheet.set_row(0, 32)
    for c, column in enumerate(columns):
        sheet.write_string(0, c, header(column), head)
        fmt = date_fmt if column.kind == "date" else money_fmt if column.kind == "money" else None
        sheet.set_column(c, c, column.width, fmt)
        value = _example(lists, column.key)
        if isinstance(value, date):
            sheet.write_datetime(1, c, value, example_date)
        elif isinstance(value, int | float):
            sheet.write_number(1, c, value, example)
        elif value:
            sheet.write_string(1, c, str(value), example)
    for i, (key, values) in enumerate(lists.items()):
        for r, value in enumerate(values):
            hidden.write_string(r, i, value)
        col = next(c for c, column in enumerate(columns) if column.key == key)
        letter = xl_col_to_name(i)
        if values:
            sheet.data_validation(1, col, VALIDATED_ROWS, col, {
                "validate": "list", "source": f"=lists!${letter}$1:${letter}${len(values)}",
                "error_type": "warning", "error_title": _("不在列表中"),
                "error_message": _("请从下拉列表中选择（系统中的名称）。")})
    for c, column in enumerate(columns):
        if column.kind == "date":
            sheet.data_validation(1, c, VALIDATED_ROWS, c, {
                "validate": "date", "criteria": ">=", "value": date(1990, 1, 1), "error_type": "warning",
                "error_message": _("请填写日期，如 2024-12-20。")})
    hidden.hide()
    sheet.freeze_panes(1, 2)
    sheet.activate()
    book.close()
