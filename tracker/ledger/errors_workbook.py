"""The dry run's errors as the office's own workbook: every row as it was read (title rows,
header and all), the bad cells filled red, and a 错误说明 column naming each problem's column
and reason, so the office corrects its file and imports it again.
"""
from __future__ import annotations

from datetime import date, datetime, time
from typing import Any

from tracker.core.translations import gettext as _
from tracker.ledger.operations import ImportPlan
from tracker.ledger.rows import column_header

STREAM_ROWS = 20_000


def write_errors(plan: ImportPlan, target: Any) -> int:
    """Write the workbook to ``target`` (a path or a binary file); returns the rows in error."""
    import xlsxwriter

    # Constant memory for long files; it writes row by row, so a merge over two rows would
    # cut the row above short: long files lose their merges, as few as they have.
    streaming = len(plan.grid.rows) > STREAM_ROWS
    book = xlsxwriter.Workbook(target, {"constant_memory": streaming, "strings_to_formulas": False,
                                        "strings_to_urls": False, "strings_to_numbers": False})
    sheet = book.add_worksheet(_("错误标注"))
    bad = book.add_format({"bg_color": "#FFC7CE", "font_color": "#9C0006", "border": 1, "border_color": "#C00000"})
    bad_date = book.add_format({"bg_color": "#FFC7CE", "font_color": "#9C0006", "border": 1,
                                "border_color": "#C00000", "num_format": "yyyy-mm-dd"})
    date_fmt = book.add_format({"num_format": "yyyy-mm-dd"})
    head = book.add_format({"bold": True, "bg_color": "#DCE6F1", "border": 1, "text_wrap": True})
    note = book.add_format({"font_color": "#9C0006", "text_wrap": True, "valign": "top"})
    ok_note = book.add_format({"font_color": "#1F7A4D"})
    merged_fmt = book.add_format({"align": "center", "valign": "vcenter", "bold": True})
    grid = plan.grid
    width = max((len(r) for r in grid.rows), default=0)
    message_col = width
    by_row = {o.row.row_no - 1: o for o in plan.outcomes}
    header_row = plan.layout.header_row
    for c in range(width):
        sheet.set_column(c, c, plan.layout.columns[c].width if c in plan.layout.columns else 12)
    sheet.set_column(message_col, message_col, 60)
    # Merged cells as the office merged them (the reader copied their value to every cell).
    merges: dict[int, list[tuple[int, int, int, int]]] = {}
    covered: set[tuple[int, int]] = set()
    for (r0, c0), (r1, c1) in [] if streaming else grid.merged:
        if (r0, c0) == (r1, c1) or r0 >= len(grid.rows):
            continue
        merges.setdefault(r0, []).append((r0, c0, r1, c1))
        covered.update((r, c) for r in range(r0, r1 + 1) for c in range(c0, c1 + 1))
    errors = 0
    for r, values in enumerate(grid.rows):
        outcome = by_row.get(r)
        bad_cols: set[int] = set()
        lines: list[str] = []
        if outcome is not None and outcome.row.errors:
            errors += 1
            for key, message in outcome.row.errors.items():
                col = outcome.row.cells.get(key)
                if col is not None:
                    bad_cols.add(col)
                lines.append(f"{column_header(key)}：{message}")
        for r0, c0, r1, c1 in merges.get(r, ()):
            value = values[c0] if c0 < len(values) else ""
            fmt = head if r0 <= header_row <= r1 else merged_fmt
            sheet.merge_range(r0, c0, r1, c1, "", fmt)
            _write(sheet, r0, c0, value, fmt)
        for c, value in enumerate(values):
            if (r, c) in covered and c not in bad_cols:
                continue
            _write(sheet, r, c, value, (bad_date if c in bad_cols else date_fmt) if isinstance(value, date)
                   else (bad if c in bad_cols else (head if r == header_row else None)))
        for c in bad_cols - set(range(len(values))):
            sheet.write_blank(r, c, None, bad)
        if r == header_row:
            sheet.write_string(r, message_col, _("错误说明"), head)
        elif lines:
            sheet.write_string(r, message_col, "\n".join(lines), note)
        elif outcome is not None:
            sheet.write_string(r, message_col, _("无误"), ok_note)
    sheet.freeze_panes(header_row + 1, 0)
    book.close()
    return errors


def _write(sheet: Any, r: int, c: int, value: Any, fmt: Any) -> None:
    if value is None or value == "":
        if fmt is not None:
            sheet.write_blank(r, c, None, fmt)
    elif isinstance(value, bool):
        sheet.write_boolean(r, c, value, fmt)
    elif isinstance(value, int | float):
        sheet.write_number(r, c, value, fmt)
    elif isinstance(value, datetime | date):
        sheet.write_datetime(r, c, value, fmt)
    elif isinstance(value, time):
        sheet.write_string(r, c, value.isoformat(), fmt)
    else:  # text, as text: never a formula
        sheet.write_string(r, c, str(value), fmt)
