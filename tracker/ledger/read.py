"""Reading an office's ledger file: .xlsx / .xls (python-calamine) or .csv in whatever
encoding Chinese Excel saved it (UTF-8, UTF-8 with BOM, GBK/GB18030), finding the header row
below any title rows, filling merged cells and mapping headers to ledger columns.

python-calamine (Rust) reads workbooks several times faster than openpyxl and reads the
old .xls too; charset-normalizer guesses an encoding only when UTF-8 and GB18030 both fail.
"""
from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from tracker.core.translations import gettext as _
from tracker.ledger.columns import Column, match_header, normalise

MAX_BYTES = 20 * 1024 * 1024
MAX_ROWS = 100_000
HEADER_SCAN_ROWS = 15  # title rows above the header: a real ledger has one or two
MIN_HEADER_MATCHES = 3
_SEQ_HEADERS = {"序号", "编号", "No", "No."}


class LedgerFileError(Exception):
    """The file cannot be read as a ledger; ``message`` says why, for the user."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


@dataclass
class Grid:
    """The first sheet's cells (merged cells filled in) as read, 0-based."""

    rows: list[list[Any]]
    sheet: str = ""
    kind: str = "xlsx"  # xlsx | xls | csv
    encoding: str = ""  # csv only
    merged: list[Any] = field(default_factory=list)  # ((r0, c0), (r1, c1)) as read (the error workbook keeps them)


@dataclass
class Layout:
    """Where the header is and which column holds what."""

    header_row: int  # 0-based index in Grid.rows
    columns: dict[int, Column]  # grid column index → ledger column
    units: dict[int, str | None]  # grid column index → money unit from the header ("wan"/"yi")
    headers: dict[int, str] = field(default_factory=dict)  # grid column index → header text
    ignored: list[str] = field(default_factory=list)  # header texts matching no column


def read_grid(filename: str, data: bytes) -> Grid:
    if not data:
        raise LedgerFileError(_("文件是空的。"))
    if len(data) > MAX_BYTES:
        raise LedgerFileError(_("文件超过 %(n)d MB，请分批导入。", n=MAX_BYTES // (1024 * 1024)))
    if data[:4] == b"PK\x03\x04":
        return _read_workbook(data, "xlsx")
    if data[:8] == b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1":
        return _read_workbook(data, "xls")
    if b"\x00" in data[:4096] and not data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise LedgerFileError(_("无法识别的文件格式：请上传 Excel（.xlsx、.xls）或 CSV 文件。"))
    return _read_csv(data)


def _read_workbook(data: bytes, kind: str) -> Grid:
    from python_calamine import CalamineWorkbook

    try:
        book = CalamineWorkbook.from_filelike(io.BytesIO(data))
        if not book.sheet_names:
            raise LedgerFileError(_("工作簿中没有工作表。"))
        sheet = book.get_sheet_by_index(0)
        rows = []
        for i, row in enumerate(sheet.iter_rows()):
            if i > MAX_ROWS + HEADER_SCAN_ROWS:
                raise LedgerFileError(_("一次最多导入 %(n)d 行，请分批导入。", n=MAX_ROWS))
            rows.append(list(row))
        merged = sheet.merged_cell_ranges or []
    except LedgerFileError:
        raise
    except Exception:  # noqa: BLE001 - calamine raises several kinds for a damaged file
        raise LedgerFileError(_("文件无法作为 Excel 工作簿读取（可能已损坏或不是 Excel 文件）。")) from None
    grid = Grid(rows=rows, sheet=sheet.name, kind=kind, merged=list(merged))
    _fill_merged(grid, merged)
    return grid


def _fill_merged(grid: Grid, merged: list[Any]) -> None:
    """A merged cell's value belongs to every cell it covers (calamine gives it to the
    top-left one only): a merged header then names each column under it."""
    for (r0, c0), (r1, c1) in merged:
        if r0 >= len(grid.rows) or c0 >= len(grid.rows[r0]):
            continue
        value = grid.rows[r0][c0]
        for r in range(r0, min(r1, len(grid.rows) - 1) + 1):
            row = grid.rows[r]
            if len(row) <= c1:
                row.extend([""] * (c1 + 1 - len(row)))
            for c in range(c0, c1 + 1):
                if (r, c) != (r0, c0):
                    row[c] = value


def decode_text(data: bytes) -> tuple[str, str]:
    """(text, encoding name) of a CSV: a BOM decides; else UTF-8, else GB18030 (a superset
    of GBK and GB2312), else what charset-normalizer finds."""
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8", errors="replace"), "UTF-8 (BOM)"
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16"), "UTF-16"
    for encoding, name in (("utf-8", "UTF-8"), ("gb18030", "GBK/GB18030")):
        try:
            return data.decode(encoding), name
        except UnicodeDecodeError:
            continue
    from charset_normalizer import from_bytes

    best = from_bytes(data[:200_000]).best()
    if best is None:
        raise LedgerFileError(_("无法识别文件的文字编码：请在 Excel 中另存为“CSV UTF-8”或 .xlsx 后再导入。"))
    return str(data.decode(best.encoding, errors="replace")), best.encoding


def _read_csv(data: bytes) -> Grid:
    text, encoding = decode_text(data)
    try:
        dialect = csv.Sniffer().sniff(text[:4096], delimiters=",\t;")
    except csv.Error:
        dialect = csv.excel
    rows = []
    for i, row in enumerate(csv.reader(io.StringIO(text), dialect)):
        if i > MAX_ROWS + HEADER_SCAN_ROWS:
            raise LedgerFileError(_("一次最多导入 %(n)d 行，请分批导入。", n=MAX_ROWS))
        rows.append([_unquote(cell) for cell in row])
    return Grid(rows=rows, kind="csv", encoding=encoding)


# What a spreadsheet reads as a formula: the export neutralises it, reading undoes that.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _unquote(cell: str) -> str:
    """The export's CSV neutralises a cell that would read as a formula with a leading
    apostrophe ('=…); reading it back removes it, so a re-import changes nothing."""
    return cell[1:] if cell.startswith("'") and cell[1:].startswith(FORMULA_STARTS) else cell


def find_layout(grid: Grid) -> Layout:
    """The header row: of the first rows, the one naming the most ledger columns (title
    rows above it name none). A header split over two rows (a merged group header above
    "（亿元）" sub-headers, say) is read as both rows' text joined."""
    best: Layout | None = None
    best_score = -1
    for r in range(min(HEADER_SCAN_ROWS, len(grid.rows))):
        for texts in _header_candidates(grid, r):
            layout = _layout(r, texts)
            # Distinct columns named; at a tie the lower row wins (the sub-header under a
            # merged group header, which names each column once).
            score = len({c.key for c in layout.columns.values()})
            if score >= best_score:
                best, best_score = layout, score
    if best is None or best_score < MIN_HEADER_MATCHES:
        raise LedgerFileError(_("没有找到表头：前 %(n)d 行中没有一行包含“项目名称”“投资方”“协议投资额”等列名。",
                                n=HEADER_SCAN_ROWS))
    keys = [c.key for c in best.columns.values()]
    if "name" not in keys:
        raise LedgerFileError(_("表头中没有“项目名称”列。"))
    duplicated = sorted({str(c.header) for c in best.columns.values() if keys.count(c.key) > 1})
    if duplicated:
        raise LedgerFileError(_("表头中有重复的列：%(cols)s。", cols="、".join(duplicated)))
    return best


def _header_candidates(grid: Grid, r: int) -> list[list[str]]:
    row = [str(v) if v not in (None, "") else "" for v in grid.rows[r]]
    out = [row]
    if r > 0:
        above = grid.rows[r - 1]
        joined = []
        for c, text in enumerate(row):
            top = str(above[c]) if c < len(above) and above[c] not in (None, "") else ""
            joined.append(text if not top or normalise(top) == normalise(text) else top + text)
        out.append(joined)
    return out


def _layout(r: int, texts: list[str]) -> Layout:
    columns: dict[int, Column] = {}
    units: dict[int, str | None] = {}
    headers: dict[int, str] = {}
    ignored: list[str] = []
    for c, text in enumerate(texts):
        if not normalise(text):
            continue
        column, unit = match_header(text)
        if column is None:
            if normalise(text) not in _SEQ_HEADERS:
                ignored.append(text)
            continue
        columns[c], units[c], headers[c] = column, unit, text
    return Layout(r, columns, units, headers, ignored)


def cell_text(value: Any) -> str:
    """A cell as text (numbers without a trailing .0, dates ISO)."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == datetime.min.time() else value.isoformat(" ")
    if isinstance(value, date):
        return value.isoformat()
    return str(value).strip()
