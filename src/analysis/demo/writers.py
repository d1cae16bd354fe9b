"""In-memory workbooks and their serialisation to .xlsx (xlsxwriter), .xls (xlwt) and CSV.

Layouts build :class:`Book` objects (a grid of :class:`Cell` per sheet); this module writes them
byte-identically for a given content: xlsxwriter gets a fixed ``created`` time and already stamps
zip members 1980-01-01; xlwt writes no time; CSV bytes are encoded explicitly with ``\\r\\n``.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import xlsxwriter
import xlwt
from xlsxwriter.utility import xl_rowcol_to_cell

from analysis.demo import params
from analysis.demo.mess import BAD_KINDS


@dataclass
class Cell:
    """One cell: a value (text or number), optionally a formula whose cached result is ``value``.

    ``mess`` is (kind, clean value); ``bad`` is (kind, county, period, indicator) of a genuinely
    bad record; ``context`` is (county_code, period, indicator) for the mess table.
    """

    value: object
    style: str = "cell"
    formula: str | None = None
    mess: tuple[str, object] | None = None
    bad: tuple[str, str, str, str] | None = None
    context: tuple[str, str, str] = ("", "", "")


@dataclass
class Sheet:
    name: str
    cells: dict[tuple[int, int], Cell] = field(default_factory=dict)
    merges: list[tuple[int, int, int, int]] = field(default_factory=list)
    hidden: bool = False
    widths: dict[int, float] = field(default_factory=dict)

    def put(self, r: int, c: int, value: object, style: str = "cell", **kw) -> Cell:
        cell = Cell(value, style, **kw)
        self.cells[(r, c)] = cell
        return cell

    def merge(self, r1: int, c1: int, r2: int, c2: int, value: object, style: str) -> None:
        self.put(r1, c1, value, style)
        if (r1, c1) != (r2, c2):
            self.merges.append((r1, c1, r2, c2))

    @property
    def n_rows(self) -> int:
        return 1 + max((r for r, _ in self.cells), default=-1)

    @property
    def n_cols(self) -> int:
        return 1 + max((c for _, c in self.cells), default=-1)


@dataclass
class Book:
    """A file to write: ``path`` is relative to the output folder."""

    path: str
    fmt: str                      # xlsx | xls | csv
    sheets: list[Sheet] = field(default_factory=list)
    encoding: str = "utf-8"       # CSV only
    notes: list[tuple[str, str, str, object]] = field(default_factory=list)
    """File-level mess: (kind, sheet, raw text, clean value)."""


_XLSX_STYLES = {
    "title": dict(bold=True, font_size=16, align="center", valign="vcenter"),
    "header": dict(bold=True, border=1, align="center", valign="vcenter", text_wrap=True,
                   bg_color="#F2F2F2"),
    "code": dict(border=1, align="center", font_size=9),
    "cell": dict(border=1),
    "total": dict(border=1, bold=True),
    "note": dict(),
    "date": dict(border=1, num_format="yyyy.mm.dd"),
}


def _write_xlsx(book: Book, path: Path) -> None:
    # in_memory: members are stamped 1980-01-01 directly, with no temp file whose mtime (and
    # time zone) could leak into the zip
    wb = xlsxwriter.Workbook(str(path), {"strings_to_numbers": False, "strings_to_formulas": False,
                                         "in_memory": True})
    wb.set_properties({"created": params.FIXED_CREATED, "author": "", "company": ""})
    fmts = {k: wb.add_format({"font_name": "宋体", **v}) for k, v in _XLSX_STYLES.items()}
    for sheet in book.sheets:
        ws = wb.add_worksheet(sheet.name)
        if sheet.hidden:
            ws.hide()
        for c, w in sorted(sheet.widths.items()):
            ws.set_column(c, c, w)
        merged_at = {(r1, c1): (r2, c2) for r1, c1, r2, c2 in sheet.merges}
        for (r, c), cell in sorted(sheet.cells.items()):
            fmt = fmts[cell.style]
            if (r, c) in merged_at:
                r2, c2 = merged_at[(r, c)]
                ws.merge_range(r, c, r2, c2, cell.value, fmt)
            elif cell.formula is not None:
                ws.write_formula(r, c, cell.formula, fmt, cell.value)
            elif cell.value is None or cell.value == "":
                ws.write_blank(r, c, None, fmt)
            elif isinstance(cell.value, (int, float)):
                ws.write_number(r, c, cell.value, fmt)
            elif hasattr(cell.value, "year"):
                ws.write_datetime(r, c, pd.Timestamp(cell.value).to_pydatetime(), fmts["date"])
            else:
                ws.write_string(r, c, str(cell.value), fmt)
    wb.close()


def _write_xls(book: Book, path: Path) -> None:
    wb = xlwt.Workbook(encoding="utf-8")
    title = xlwt.easyxf("font: bold on, height 320; align: horiz center, vert center")
    header = xlwt.easyxf("font: bold on; align: horiz center, vert center, wrap on; "
                         "borders: left thin, right thin, top thin, bottom thin")
    plain = xlwt.easyxf("borders: left thin, right thin, top thin, bottom thin")
    styles = {"title": title, "header": header, "code": header, "cell": plain, "total": header,
              "note": xlwt.easyxf(""), "date": xlwt.easyxf("", num_format_str="yyyy.mm.dd")}
    for sheet in book.sheets:
        ws = wb.add_sheet(sheet.name)
        if sheet.hidden:
            ws.visibility = 1
        merged_at = {(r1, c1): (r2, c2) for r1, c1, r2, c2 in sheet.merges}
        for (r, c), cell in sorted(sheet.cells.items()):
            style = styles[cell.style]
            value = "" if cell.value is None else cell.value
            if (r, c) in merged_at:
                r2, c2 = merged_at[(r, c)]
                ws.write_merge(r, r2, c, c2, value, style)
            else:
                ws.write(r, c, value, style)
    wb.save(str(path))


def _write_csv(book: Book, path: Path) -> None:
    sheet = book.sheets[0]
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    for r in range(sheet.n_rows):
        row = []
        for c in range(sheet.n_cols):
            cell = sheet.cells.get((r, c))
            v = "" if cell is None or cell.value is None else cell.value
            row.append(v)
        w.writerow(row)
    encoding = {"utf-8-bom": "utf-8-sig"}.get(book.encoding, book.encoding)
    path.write_bytes(buf.getvalue().encode(encoding))


def write_book(book: Book, out_dir: Path) -> Path:
    """Write one book under ``out_dir``; return its path."""
    path = Path(out_dir) / book.path
    path.parent.mkdir(parents=True, exist_ok=True)
    {"xlsx": _write_xlsx, "xls": _write_xls, "csv": _write_csv}[book.fmt](book, path)
    return path


def records(books: list[Book]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Collect ``(mess, bad_records)`` tables from the cells and notes of ``books``."""
    mess, bad = [], []
    for book in books:
        for kind, sheet, raw, clean in book.notes:
            mess.append(dict(file=book.path, sheet=sheet, cell="", kind=kind, raw=raw,
                             clean_value=clean, county_code="", period="", indicator=""))
        for sheet in book.sheets:
            for (r, c), cell in sorted(sheet.cells.items()):
                a1 = xl_rowcol_to_cell(r, c)
                if cell.mess is not None:
                    kind, clean = cell.mess
                    county, period, indicator = cell.context
                    mess.append(dict(file=book.path, sheet=sheet.name, cell=a1, kind=kind,
                                     raw=cell.value, clean_value=clean, county_code=county,
                                     period=period, indicator=indicator))
                if cell.bad is not None:
                    kind, county, period, indicator = cell.bad
                    bad.append(dict(file=book.path, sheet=sheet.name, cell=a1, county=county,
                                    period=period, indicator=indicator, kind=kind,
                                    rule=BAD_KINDS[kind], raw=cell.value))
    mess_df = pd.DataFrame(mess, columns=["file", "sheet", "cell", "kind", "raw", "clean_value",
                                          "county_code", "period", "indicator"])
    bad_df = pd.DataFrame(bad, columns=["file", "sheet", "cell", "county", "period", "indicator",
                                        "kind", "rule", "raw"])
    for df in (mess_df, bad_df):
        df["raw"] = df["raw"].map(lambda v: "" if v is None else str(v))
    mess_df["clean_value"] = mess_df["clean_value"].map(lambda v: "" if v is None else str(v))
    return mess_df, bad_df
