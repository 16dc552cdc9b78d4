"""The project list as a 台账: .xlsx (XlsxWriter, constant memory) or .csv (UTF-8 with BOM).

Exactly the list page's filters and scope (``tracker.projects.queries``): the rows are one
streamed query (``yield_per``: a server-side cursor on PostgreSQL) read in batches, each
batch's milestones in one more query, and written as they come, so 100,000 projects never
sit in memory at once. The file is written to a temporary file and sent from there.

Values are written so that importing the export unchanged changes nothing: reference data
by its Chinese name (what the import's choices accept), amounts in 万元 as numbers, dates as
dates, the stage in the UI language (the import reads both), 责任人 by display name (the
username where two people share one), the 系统编号 last.

Text typed by users is never read as a formula: in the workbook every text cell is written
with ``write_string`` (a string cell, whatever it begins with), and in the CSV a cell that
begins with = + - @ or a tab/CR gets a leading apostrophe, as OWASP advises; the import
removes that apostrophe again.
"""
from __future__ import annotations

import csv
import io
import os
import tempfile
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import IO, Any

from sqlalchemy import String, and_, select, type_coerce

from tracker.auth.models import Unit, User
from tracker.core.translations import gettext as _
from tracker.extensions import db
from tracker.ledger.columns import COLUMNS, Column, _is_zh
from tracker.ledger.read import FORMULA_STARTS
from tracker.projects.models import Industry, Investor, Platform, Project, SourceRegion
from tracker.projects.queries import SORTS, ProjectFilters, _conditions
from tracker.workflow.stages import BY_CODE

BATCH = 2000
# The 台账 layout: the import's columns without the long text ones (建设内容, 用地面积).
EXPORT_KEYS: tuple[str, ...] = tuple(c.key for c in COLUMNS if c.key not in ("content", "land_area_mu"))
EXPORT_COLUMNS: tuple[Column, ...] = tuple(c for c in COLUMNS if c.key in EXPORT_KEYS)


def header(column: Column) -> str:
    """The exported header in the UI language, money columns with their unit."""
    title = column.title()
    if column.kind == "money":
        return f"{title}（万元）" if _is_zh() else f"{title} (10k CNY)"
    return title


def neutralise(text: str) -> str:
    """A CSV cell that a spreadsheet would read as a formula, made inert."""
    return "'" + text if text and text.startswith(FORMULA_STARTS) else text


@dataclass
class Export:
    """What was written: the rows and the totals of the money columns."""

    rows: int = 0
    investment: Decimal = Decimal(0)
    funds: Decimal = Decimal(0)


# --- reading --------------------------------------------------------------------------------

def _names() -> dict[str, dict[int, str]]:
    """Reference rows by id → the name the import accepts (Chinese; few rows)."""
    out = {}
    for key, model in (("unit_id", Unit), ("industry_id", Industry), ("source_region_id", SourceRegion),
                       ("platform_id", Platform)):
        out[key] = dict(db.session.execute(select(model.id, model.name)).all())
    users = db.session.execute(select(User.id, User.display_name, User.username)).all()
    shared = {name for name, n in Counter(name for _id, name, _u in users).items() if n > 1}
    out["owner_id"] = {uid: (username if name in shared else name) for uid, name, username in users}
    return out


_SELECT = (Project.id, Project.name, Investor.name.label("investor_name"), Investor.uscc.label("investor_uscc"),
           Investor.source_region_id, Project.industry_id, Project.unit_id, Project.platform_id,
           Project.contracted_investment, Project.funds_in_place, type_coerce(Project.signed_on, String),
           Project.stage, Project.owner_id, Project.is_provincial_major, Project.is_qianxiang_wanyi,
           Project.is_yrd_major)
_POSITION = {key: i for i, key in enumerate(select(*_SELECT).selected_columns.keys())}


class _Days(dict):
    """Dates as read (ISO text from SQLite — read as text, SQLAlchemy's date parsing per value
    costs seconds at 100,000 rows — or dates from PostgreSQL) → ``date``, each parsed once."""

    def __missing__(self, value: Any) -> date | None:
        day = value if isinstance(value, date) or value is None else date.fromisoformat(str(value)[:10])
        self[value] = day
        return day


def _cell_getters(names: dict[str, dict[int, str]], days: _Days) -> list[Callable[[Any, list], Any]]:
    """Per export column, how its value comes from the row and the project's milestone dates."""
    yes = _("是")
    stage_labels = {code: str(stage.label) for code, stage in BY_CODE.items()}
    milestone_slots = [c.key for c in EXPORT_COLUMNS if c.stage]
    getters: list[Callable[[Any, list], Any]] = []
    for column in EXPORT_COLUMNS:
        key = column.key
        if key == "seq":
            getters.append(None)  # filled in by the caller
        elif column.stage:
            getters.append(lambda r, ms, i=milestone_slots.index(key): ms[i] if ms else None)
        elif key in names:
            getters.append(lambda r, ms, i=_POSITION[key], n=names[key]: n.get(r[i]))
        elif key == "stage":
            getters.append(lambda r, ms, i=_POSITION[key]: stage_labels.get(r[i], r[i]))
        elif key == "signed_on":
            getters.append(lambda r, ms, i=_POSITION[key]: days[r[i]])
        elif column.kind == "flag":
            getters.append(lambda r, ms, i=_POSITION[key]: yes if r[i] else None)
        else:
            getters.append(lambda r, ms, i=_POSITION[key]: r[i])
    return getters


def iter_rows(user: Any, filters: ProjectFilters, batch: int = BATCH) -> Iterator[list[Any]]:
    """The export's rows (values in ``EXPORT_COLUMNS`` order), streamed in batches."""
    from tracker.workflow.models import Milestone

    days = _Days()
    getters = _cell_getters(_names(), days)
    slots = {c.key: i for i, c in enumerate(c for c in EXPORT_COLUMNS if c.stage)}
    n_slots = len(slots)
    stmt = (select(*_SELECT).join(Investor, Investor.id == Project.investor_id)
            .where(and_(*_conditions(user, filters))).order_by(*SORTS[filters.sort])
            .execution_options(yield_per=batch))
    seq = 0
    result = db.session.execute(stmt)
    for part in result.partitions(batch):
        milestones: dict[int, list] = {}
        for pid, stage, planned, actual in db.session.execute(
                select(Milestone.project_id, Milestone.stage, type_coerce(Milestone.planned_on, String),
                       type_coerce(Milestone.actual_on, String))
                .where(Milestone.project_id.in_([r[0] for r in part]))):
            ms = milestones.get(pid)
            if ms is None:
                ms = milestones[pid] = [None] * n_slots
            i = slots.get(f"planned.{stage}")
            if i is not None:
                ms[i] = days[planned]
                ms[i + 1] = days[actual]
        for r in part:
            seq += 1
            ms = milestones.get(r[0])
            out = [g(r, ms) if g is not None else seq for g in getters]
            yield out


# --- writing --------------------------------------------------------------------------------

def _money_index() -> tuple[int, int]:
    return EXPORT_KEYS.index("contracted_investment"), EXPORT_KEYS.index("funds_in_place")


def write_xlsx(rows: Iterator[list[Any]], target: str, sheet_name: str | None = None,
               progress: Callable[[int], None] | None = None) -> Export:
    """The 台账 workbook: header row frozen with an autofilter, widths, numbers as numbers
    (万元, two decimals), dates as dates, a totals row (SUBTOTAL: it follows the filter)."""
    import xlsxwriter

    book = xlsxwriter.Workbook(target, {"constant_memory": True, "strings_to_formulas": False,
                                        "strings_to_urls": False, "strings_to_numbers": False})
    sheet = book.add_worksheet((sheet_name or _("签约项目台账"))[:31])
    head = book.add_format({"bold": True, "bg_color": "#DCE6F1", "border": 1, "text_wrap": True,
                            "valign": "vcenter", "align": "center"})
    money_fmt = book.add_format({"num_format": "#,##0.00"})
    date_fmt = book.add_format({"num_format": "yyyy-mm-dd"})
    total_fmt = book.add_format({"bold": True, "top": 1})
    total_money = book.add_format({"bold": True, "top": 1, "num_format": "#,##0.00"})
    # The undecorated writers (XlsxWriter's own "_write_*": the public ones first parse
    # "A1"-style arguments, a fifth of the time at 100,000 rows); dates as their Excel serial
    # numbers with a date format (what a date cell is), each date converted once.
    write_number = getattr(sheet, "_write_number", sheet.write_number)
    write_string = getattr(sheet, "_write_string", sheet.write_string)
    serials: dict[date, int] = {}
    epoch = date(1899, 12, 30)

    def write_date(r: int, c: int, day: date) -> None:
        serial = serials.get(day)
        if serial is None:
            serial = serials[day] = (day - epoch).days
        write_number(r, c, serial, date_fmt)

    writers = []
    for c, column in enumerate(EXPORT_COLUMNS):
        sheet.set_column(c, c, column.width)
        if column.kind == "money":
            writers.append(lambda r, c, v: write_number(r, c, float(v), money_fmt))
        elif column.kind == "date":
            writers.append(write_date)
        elif column.kind in ("seq", "id", "int"):
            writers.append(write_number)
        else:
            writers.append(lambda r, c, v: write_string(r, c, str(v)))
    sheet.set_row(0, 32)
    for c, column in enumerate(EXPORT_COLUMNS):
        sheet.write_string(0, c, header(column), head)
    sheet.freeze_panes(1, 2)
    done = Export()
    inv_col, funds_col = _money_index()
    r = 0
    for r, values in enumerate(rows, start=1):
        for c, value in enumerate(values):
            if value is not None and value != "":
                writers[c](r, c, value)
        done.investment += values[inv_col] or 0
        done.funds += values[funds_col] or 0
        if progress and r % 1000 == 0:
            progress(r)
    done.rows = r
    last = len(EXPORT_COLUMNS) - 1
    sheet.autofilter(0, 0, max(r, 1), last)
    total_row = r + 1
    sheet.write_string(total_row, 0, _("合计"), total_fmt)
    sheet.write_formula(total_row, 1, f"=SUBTOTAL(103,B2:B{r + 1})",
                        book.add_format({"bold": True, "top": 1, "num_format": _('0" 个项目"')}), r)
    for col, value in ((inv_col, done.investment), (funds_col, done.funds)):
        letter = xlsxwriter.utility.xl_col_to_name(col)
        sheet.write_formula(total_row, col, f"=SUBTOTAL(109,{letter}2:{letter}{r + 1})", total_money, float(value))
    book.close()
    return done


def write_csv(rows: Iterator[list[Any]], out: IO[bytes]) -> Export:
    """UTF-8 with a BOM (Excel then opens Chinese text right); dates ISO, amounts plain."""
    text = io.TextIOWrapper(out, encoding="utf-8-sig", newline="", write_through=True)
    writer = csv.writer(text)
    writer.writerow([header(c) for c in EXPORT_COLUMNS])
    kinds = [c.kind for c in EXPORT_COLUMNS]
    done = Export()
    inv_col, funds_col = _money_index()
    for values in rows:
        line = []
        for kind, value in zip(kinds, values, strict=True):
            if value is None:
                line.append("")
            elif kind == "money":
                line.append(f"{value:.2f}")
            elif kind == "date":
                line.append(value.isoformat())
            elif kind in ("seq", "id", "int"):
                line.append(str(value))
            else:
                line.append(neutralise(str(value)))
        writer.writerow(line)
        done.rows += 1
        done.investment += values[inv_col] or 0
        done.funds += values[funds_col] or 0
    text.flush()
    text.detach()
    return done


def export_file(user: Any, filters: ProjectFilters, kind: str) -> IO[bytes]:
    """The export written to an anonymous temporary file (gone once closed), rewound."""
    if kind == "xlsx":
        named = tempfile.NamedTemporaryFile(suffix=".xlsx", delete=False)
        named.close()
        try:
            write_xlsx(iter_rows(user, filters), named.name)
            handle = open(named.name, "rb")
        finally:
            os.unlink(named.name)  # the open handle keeps the data until it is closed
        return handle
    handle = tempfile.TemporaryFile()
    write_csv(iter_rows(user, filters), handle)
    handle.seek(0)
    return handle


def filename(kind: str) -> str:
    from tracker.core.formatting import today_local

    return f"{_('签约项目台账')}-{today_local().isoformat()}.{kind}"
