"""Open a submission whatever it really is and return its sheets as raw cell grids.

Nothing here interprets a cell: a :class:`Sheet` holds the values exactly as the engine gives
them (text unstripped, numbers as the engine types them, dates as ``datetime``/``date``), plus
what the layout step needs to know about the sheet — hidden state and merged ranges.

Engines
-------
- ``python-calamine`` first for ``.xlsx``/``.xlsm``/``.xls``/``.ods``: it is the fastest reader
  and, in version 0.9, exposes both sheet visibility (``sheets_metadata``) and merged ranges
  (``merged_cell_ranges``, for xlsx and xls).  It does **not** keep Excel error cells
  (``#DIV/0!`` comes back as ``""``), so they are patched into calamine's grid: for an xlsx
  from the sheet XML (the archive guard's inflate pass notes which worksheets have ``t="e"``
  cells), for an xls from ``xlrd`` (one pass that also measures each sheet's used area).
  The error cells are the only thing taken from elsewhere: a workbook that has them is
  otherwise read by calamine like every other workbook, deliberately (it was once re-read
  whole by openpyxl, which types cells differently).  So, there as everywhere, whole numbers
  come back as ``float``, dates at midnight as ``date`` (not ``datetime``), and the covered
  cells of a merged range keep whatever value the file stores in them (openpyxl empties them).
  An error cell takes the text openpyxl reads for it (the cached ``<v>``, entity references
  resolved, CDATA sections taken literally).
- ``openpyxl`` (xlsx) and ``xlrd`` (xls) are the fallbacks when calamine cannot open a file;
  openpyxl also reads an xlsx whose error cells cannot be placed from the sheet XML alone
  (an error cell without an ``r`` reference).
- CSV files go through :func:`read_csv_file` (encoding detection below); HTML tables saved
  with an ``.xls`` name (a common "export to Excel" of web systems) through a small
  ``html.parser`` reader that keeps ``colspan``/``rowspan`` as merged ranges.

:func:`read_any` dispatches on the file's first bytes, not its name, and says in
``Sheet.note`` when the name lied.
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import html
import io
import itertools
import os
import re
import stat
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Any, Literal, NamedTuple

from analysis.ingest.errors import UnreadableFileError
from analysis.ingest.formulas import (Formula, evaluate_formulas, uncached_formulas,
                                       xls_uncached_formulas)
from analysis.ingest.guards import (ERROR_CELL_START, XML_PREFIX, ArchiveLimits, ArchiveScan,
                                     cell_reference, check_open_archive)

__all__ = [
    "Sheet",
    "MergedRange",
    "a1",
    "col_letter",
    "sniff_format",
    "read_any",
    "read_workbook",
    "read_csv_file",
    "decode_text",
]

Engine = Literal["calamine", "openpyxl", "xlrd", "csv", "html"]
FileFormat = Literal["xlsx", "xls", "ods", "csv", "html", "empty", "unknown"]


class MergedRange(NamedTuple):
    """A merged block, 0-based and inclusive at both ends."""

    first_row: int
    first_col: int
    last_row: int
    last_col: int

    @property
    def a1(self) -> str:
        return f"{a1(self.first_row, self.first_col)}:{a1(self.last_row, self.last_col)}"


@dataclass
class Sheet:
    """One worksheet (or a whole CSV file) as raw cells.

    Attributes
    ----------
    name : str
        Worksheet name; ``"csv"`` for a CSV file and ``"html"`` (``"html2"``, … for further
        tables) for an HTML export, so that messages read ``喜德县.csv, sheet csv, cell D7``.
    cells : list of list
        Rectangular grid, ``cells[row][col]``, 0-based, starting at cell A1; empty cells are
        ``""`` (calamine, CSV) or ``None`` (openpyxl, xlrd never; normalised to ``""``).
    hidden : bool
        ``True`` for hidden and "very hidden" sheets.
    merged : list of MergedRange
        Merged blocks where the format records them (empty for CSV).
    engine : str
        ``"calamine"``, ``"openpyxl"``, ``"xlrd"``, ``"csv"`` or ``"html"``.
    file : str
        The path read.
    file_format : str
        What the content really is (``"xlsx"``, ``"xls"``, ``"ods"``, ``"csv"``, ``"html"``).
    encoding : str or None
        Text encoding used (CSV and HTML only).
    note : str
        What the reader had to work around (wrong extension, engine fallback, encoding guess).
    formulas : dict
        Formula cells the workbook saved without a result, by (row, col)
        (:class:`analysis.ingest.formulas.Formula`): the grid holds the evaluated number, or the
        formula's text ``=…`` when it could not be evaluated.
    """

    name: str
    cells: list[list[Any]]
    hidden: bool = False
    merged: list[MergedRange] = field(default_factory=list)
    engine: str = "calamine"
    file: str = ""
    file_format: str = ""
    encoding: str | None = None
    note: str = ""
    formulas: dict[tuple[int, int], Formula] = field(default_factory=dict)

    @property
    def n_rows(self) -> int:
        return len(self.cells)

    @property
    def n_cols(self) -> int:
        return max(map(len, self.cells), default=0)

    def to_frame(self) -> "pd.DataFrame":
        """The non-empty cells, long: ``row`` and ``col`` (1-based, as Excel counts), ``cell``
        (A1), ``value`` (raw, object dtype) and ``merged`` (the A1 range of the merged block the
        cell starts, else empty)."""
        import pandas as pd

        starts = {(m.first_row, m.first_col): m.a1 for m in self.merged}
        rows = [
            (r + 1, c + 1, a1(r, c), v, starts.get((r, c), ""))
            for r, line in enumerate(self.cells)
            for c, v in enumerate(line)
            if not (v is None or (isinstance(v, str) and v == ""))
        ]
        out = pd.DataFrame(rows, columns=["row", "col", "cell", "value", "merged"])
        out["value"] = out["value"].astype(object)
        return out

    def cell(self, row: int, col: int) -> Any:
        """The raw value at (row, col), ``""`` outside the grid."""
        if 0 <= row < len(self.cells) and 0 <= col < len(self.cells[row]):
            return self.cells[row][col]
        return ""


def col_letter(col: int) -> str:
    """0-based column index → Excel letters (0 → ``A``, 26 → ``AA``)."""
    if col < 0:
        raise ValueError(f"column index must be ≥ 0, got {col}")
    letters = ""
    n = col + 1
    while n:
        n, rem = divmod(n - 1, 26)
        letters = chr(65 + rem) + letters
    return letters


def a1(row: int, col: int) -> str:
    """0-based (row, col) → A1 reference: ``a1(6, 3) == "D7"``."""
    if row < 0:
        raise ValueError(f"row index must be ≥ 0, got {row}")
    return f"{col_letter(col)}{row + 1}"


def _rectangular(rows: list[list[Any]]) -> list[list[Any]]:
    """The grid padded to one width with ``""`` for ``None``, trailing empty rows dropped.

    The engines hand over freshly built lists, so a grid that is already rectangular and free
    of ``None`` (calamine's, always) is kept as it is instead of copied cell by cell.
    """
    widths = set(map(len, rows))
    width = max(widths, default=0)
    if len(widths) <= 1 and None not in itertools.chain.from_iterable(rows):
        out = rows
    else:
        out = [[("" if v is None else v) for v in r] + [""] * (width - len(r)) for r in rows]
    # drop trailing rows that are entirely empty (engines disagree on them)
    while out and all(v == "" for v in out[-1]):
        out.pop()
    return out


def _cover_merged(sheets: list[Sheet]) -> None:
    """Widen each grid to hold its merged blocks: engines end the grid at the last *value*, so a
    title merged over A1:F1 above a four-column table would otherwise stick out of it."""
    for s in sheets:
        if not s.merged:
            continue
        rows = max(len(s.cells), max(m.last_row for m in s.merged) + 1)
        cols = max(s.n_cols, max(m.last_col for m in s.merged) + 1)
        if rows == len(s.cells) and set(map(len, s.cells)) <= {cols}:
            continue  # already covers every block: nothing to copy
        s.cells = [r + [""] * (cols - len(r)) for r in s.cells] + [[""] * cols for _ in range(rows - len(s.cells))]


# --------------------------------------------------------------------------------------------
# sniffing


_OLE2 = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"


def sniff_format(path: str | Path) -> FileFormat:
    """What a file really is, from its first bytes (and, for zips, its member names)."""
    with _sniffed(Path(path)) as (fmt, _archive):
        return fmt


@contextlib.contextmanager
def _sniffed(p: Path) -> Iterator[tuple[FileFormat, zipfile.ZipFile | None]]:
    """The file's format and, for a zip-based workbook, the archive left open until the block
    ends: the guard inflates it and the error-cell patch reads from it, so one open serves all
    three (each open parses the whole zip directory again)."""
    _refuse_special_file(p)
    try:
        with p.open("rb") as fh:
            head = fh.read(4096)
    except OSError as exc:
        raise UnreadableFileError(f"cannot be opened: {exc.strerror or exc}", file=p, rule="unreadable") from exc
    if not head.startswith(b"PK\x03\x04"):
        yield _sniff_head(head), None
        return
    try:
        archive = zipfile.ZipFile(p)
    except zipfile.BadZipFile:
        yield "unknown", None
        return
    with archive:
        yield _zip_format(archive.namelist()), archive


_SPECIAL_FILES = ((stat.S_ISFIFO, "named pipe (FIFO)"), (stat.S_ISSOCK, "socket"),
                  (stat.S_ISCHR, "character device"), (stat.S_ISBLK, "block device"),
                  (stat.S_ISDIR, "folder"))


def _refuse_special_file(p: Path) -> None:
    """Refuse anything but a regular file before it is opened.

    Opening a named pipe blocks until something writes to it (the cleaner waited forever on a
    FIFO called ``pipe.csv``), a device such as ``/dev/zero`` never ends, a socket cannot be
    opened at all.  A symbolic link is followed; one whose target is missing is named as such.

    Raises
    ------
    UnreadableFileError
        Rule ``not_a_file`` (pipe, socket, device, folder, dangling link) or ``unreadable``
        (cannot be examined, e.g. permission denied).
    """
    try:
        mode = os.stat(p).st_mode
    except FileNotFoundError as exc:
        if os.path.islink(p):
            raise UnreadableFileError(
                f"is a symbolic link to {os.readlink(p)}, which does not exist — "
                "请报送文件本身，而不是快捷方式或链接", file=p, rule="not_a_file") from exc
        raise UnreadableFileError(f"cannot be opened: {exc.strerror or exc}", file=p,
                                  rule="unreadable") from exc
    except OSError as exc:
        raise UnreadableFileError(f"cannot be opened: {exc.strerror or exc}", file=p,
                                  rule="unreadable") from exc
    if stat.S_ISREG(mode):
        return
    kind = next((kind for test, kind in _SPECIAL_FILES if test(mode)), "special file")
    raise UnreadableFileError(f"is a {kind}, not a regular file — not opened; "
                              "请报送普通的 Excel 或 CSV 文件", file=p, rule="not_a_file")


def _zip_format(names: list[str]) -> FileFormat:
    """A zip's format from its member names: an OOXML workbook keeps its parts under ``xl/``,
    an ODF spreadsheet has ``content.xml``."""
    if "xl/workbook.xml" in names or any(n.startswith("xl/") for n in names):
        return "xlsx"
    if "content.xml" in names:
        return "ods"
    return "unknown"


def _sniff_head(head: bytes) -> FileFormat:
    """The format of a file that is not a zip, from its first 4 KiB."""
    if not head.strip():
        return "empty"
    if head.startswith(_OLE2):
        return "xls"  # also encrypted xlsx; the reader reports that
    text = head.lstrip(b"\xef\xbb\xbf\xff\xfe\x00 \t\r\n").lower().replace(b"\x00", b"")
    if text.startswith(b"<?xml") and b"<html" not in text:
        # Excel 2003 XML (<Workbook><Table><Row>…) has a "<Table" too: it is not an HTML export
        return "unknown"
    if text.startswith((b"<!doctype html", b"<html", b"<table", b"<meta", b"<head", b"<body")) or (
        text.startswith(b"<") and b"<table" in head.lower().replace(b"\x00", b"")
    ):
        return "html"
    if text.startswith(b"<?xml"):
        return "unknown"  # Excel 2003 XML and the like
    if b"\x00" in head and not head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        # Excel's "Unicode text" without its byte-order mark is UTF-16 all the same: NUL
        # bytes on one side of every pair (the ASCII tabs, digits and line ends)
        if (enc := _utf16_without_bom(head[:len(head) // 2 * 2])) is None:
            return "unknown"
        text = head[:len(head) // 2 * 2].decode(enc, errors="replace").lstrip().lower()
        return "html" if text.startswith(("<!doctype html", "<html", "<table")) else "csv"
    return "csv"


def _utf16_without_bom(data: bytes) -> str | None:
    """``"utf-16-le"``/``"utf-16-be"`` when ``data`` reads as UTF-16 text without a byte-order
    mark: every NUL byte on the same side of its pair, at least one pair in eight with one (the
    tabs, digits and line ends of an export; Chinese characters have none), no NUL pair, and the
    bytes decode strictly.  ``None`` otherwise (binary data has NULs on both sides)."""
    if len(data) < 4 or len(data) % 2:
        return None
    even, odd = data[0::2], data[1::2]
    nul_even, nul_odd = even.count(0), odd.count(0)
    pairs = len(data) // 2
    for enc, nul, other in (("utf-16-le", nul_odd, nul_even), ("utf-16-be", nul_even, nul_odd)):
        if other == 0 and nul * 8 >= pairs:
            try:
                data.decode(enc)
            except UnicodeDecodeError:
                return None
            return enc
    return None


# --------------------------------------------------------------------------------------------
# workbooks


CellPatch = tuple[int, int, str]
"""An Excel error cell to put back into calamine's grid: 0-based row, column and its text."""

_CELL_END = re.compile(rb"</" + XML_PREFIX + rb"c\s*>")
_VALUE = re.compile(rb"<" + XML_PREFIX + rb"v(?:\s[^>]*)?>(.*?)</" + XML_PREFIX + rb"v\s*>", re.DOTALL)
_CDATA = re.compile(r"<!\[CDATA\[(.*?)\]\]>", re.DOTALL)


def _error_cells_in_sheet_xml(xml: bytes) -> list[CellPatch] | None:
    """The error cells of one worksheet part (``<c r="D7" t="e"><v>#DIV/0!</v></c>``) with the
    text Excel shows, as openpyxl reads it (the cached ``<v>``, see :func:`_xml_text`); a cell
    without a value is left out (calamine's ``""`` is right for it).

    An error cell is what the archive guard counts as one (:data:`guards.ERROR_CELL_START`,
    the start tag running to the next ``>``), placed by :func:`guards.cell_reference`.
    ``None`` when an error cell has no ``r`` reference: its place then depends on the cells
    before it, which only a full parse knows.
    """
    found: list[CellPatch] = []
    pos = 0
    while (start := ERROR_CELL_START.search(xml, pos)) is not None:
        tag_end = xml.find(b">", start.end()) + 1
        if tag_end == 0:
            break  # an unfinished tag at the end of the part is no cell
        pos = tag_end
        tag = xml[start.start():tag_end]
        place = cell_reference(tag)
        if place is None:
            return None
        if tag.endswith(b"/>"):
            continue
        end = _CELL_END.search(xml, tag_end)
        value = _VALUE.search(xml, tag_end, end.start() if end else len(xml))
        if value is None or not value.group(1):
            continue
        found.append((*place, _xml_text(value.group(1))))
    return found


def _xml_text(raw: bytes) -> str:
    """The text of an element's content as an XML parser gives it: CDATA sections taken
    literally (``<![CDATA[#N/A]]>`` → ``#N/A``), character and entity references resolved
    everywhere else."""
    parts = _CDATA.split(raw.decode("utf-8", errors="replace"))
    # split with one group: even items lie outside CDATA sections, odd items are their content
    return "".join(part if i % 2 else html.unescape(part) for i, part in enumerate(parts))


def _xlsx_error_cells(archive: zipfile.ZipFile, scan: ArchiveScan) -> dict[str, list[CellPatch]] | None:
    """Error cells per sheet name, read from the worksheet parts the guard found them in and
    placed by the guard's map of worksheet parts to sheet names (the workbook relationships).

    ``None`` when they cannot be placed for certain (an error cell without a reference, or a
    workbook part that does not parse): the caller then reads the workbook with openpyxl.
    """
    if scan.sheet_names is None:
        return None
    try:
        out: dict[str, list[CellPatch]] = {}
        for part in sorted(scan.error_parts):
            name = scan.sheet_names.get(part)
            if name is None:
                continue  # a part no sheet refers to: no engine reads it
            cells = _error_cells_in_sheet_xml(archive.read(part))
            if cells is None:
                return None
            out[name] = cells
    except (KeyError, zipfile.BadZipFile):
        return None
    return out


def _grow(sheet: Sheet, cells: list[tuple[int, int, Any]]) -> None:
    """Widen and lengthen a sheet's grid to hold the given (row, col, …) cells: calamine ends the
    grid at the last cell it kept, and the cells patched in may lie beyond it."""
    n_rows = max(len(sheet.cells), max(r for r, _, _ in cells) + 1)
    width = max(sheet.n_cols, max(c for _, c, _ in cells) + 1)
    if n_rows > len(sheet.cells) or width > sheet.n_cols:
        sheet.cells = ([row + [""] * (width - len(row)) for row in sheet.cells]
                       + [[""] * width for _ in range(n_rows - len(sheet.cells))])


def _put_cells(sheets: list[Sheet], cells_by_sheet: dict[str, list[CellPatch]]) -> int:
    """Write the error cells into the grids of the sheets they belong to, growing a grid when a
    cell lies beyond calamine's last value; return how many were written."""
    by_name = {s.name: s for s in sheets}
    patched = 0
    for name, cells in cells_by_sheet.items():
        target = by_name.get(name)
        if target is None or not cells:
            continue
        _grow(target, cells)
        for r, c, text in cells:
            target.cells[r][c] = text
            patched += 1
    return patched


def _put_uncached_formulas(sheets: list[Sheet], archive: zipfile.ZipFile, scan: ArchiveScan) -> int:
    """Find the formula cells each worksheet part saved without a result (calamine drops them),
    evaluate them against the sheet's grid and write the number — or, when a formula cannot be
    evaluated, its text ``=…`` — into the grid; keep each in ``Sheet.formulas``.  Returns how
    many were found.

    The parts have passed the archive guard already (their sizes are within its limits), and
    only the parts in which its inflate pass saw a formula without its result are read again.
    """
    if not scan.sheet_names or not scan.formula_parts:
        return 0  # the guard's inflate pass saw no formula without its result
    found: dict[str, list[tuple[int, int, str]]] = {}
    for part, name in sorted(scan.sheet_names.items()):
        if part not in scan.formula_parts:
            continue
        try:
            cells = uncached_formulas(archive.read(part))
        except (KeyError, zipfile.BadZipFile):
            continue
        if cells:
            found[name] = cells
    return _put_formulas(sheets, found)


def _put_formulas(sheets: list[Sheet], found: dict[str, list[tuple[int, int, str]]]) -> int:
    """Evaluate each sheet's unsaved formulas against its grid and write the number — or, when a
    formula cannot be evaluated, its text ``=…`` — into the grid; keep each in
    ``Sheet.formulas``.  Returns how many there were."""
    by_name = {s.name: s for s in sheets}
    n = 0
    for name, cells in found.items():
        sheet = by_name.get(name)
        if sheet is None or not cells:
            continue
        _grow(sheet, cells)
        for f in evaluate_formulas(sheet.cells, cells):
            sheet.cells[f.row][f.col] = f.value if f.value is not None else f.text
            sheet.formulas[(f.row, f.col)] = f
            n += 1
    return n


@dataclass
class _XlsScan:
    """What one xlrd pass over an .xls found: its error cells per sheet name, or why xlrd could
    not open it (``failure``)."""

    errors: dict[str, list[CellPatch]] = field(default_factory=dict)
    failure: Exception | None = None
    empty_texts: bool = False
    """A cell typed as text but empty: what xlwt's formulas (stored without a result) read as;
    only then are the FORMULA records looked at (:func:`formulas.xls_uncached_formulas`)."""


def _scan_xls(path: Path, limits: ArchiveLimits | None) -> _XlsScan:
    """One xlrd pass over an .xls, before calamine builds any grid: refuse a sheet whose used
    area exceeds ``limits.max_cells``, and list the Excel error cells.

    One cell at row 65536, column IV makes calamine build a 16.7-million-cell grid (measured:
    12 s and 1.4 GB for a 6 KiB file).  xlrd with ``ragged_rows`` keeps only the cells that
    exist, so it measures the area cheaply.  calamine blanks error cells in BIFF files as it
    does in xlsx, and there is no cheap byte scan for them in an OLE container, so the same
    pass (xlrd, the reference BIFF reader) lists them for :func:`_put_cells`.

    A file xlrd cannot open is left to the engines; ``failure`` keeps xlrd's reason.

    Raises
    ------
    UnreadableFileError
        ``sheet_too_large``.
    """
    import xlrd

    lim = limits or ArchiveLimits.from_env()
    try:
        book = xlrd.open_workbook(str(path), on_demand=True, ragged_rows=True)
    except Exception as exc:  # noqa: BLE001 - corrupt or encrypted: the readers below say which
        return _XlsScan(failure=exc)
    scan = _XlsScan()
    try:
        for i in range(book.nsheets):
            sh = book.sheet_by_index(i)
            cells = sh.nrows * max(sh.ncols, 1)
            if cells > lim.max_cells:
                raise UnreadableFileError(
                    f"sheet {sh.name} reaches row {sh.nrows}, column {sh.ncols}: {cells:,} cells, "
                    f"more than the limit {lim.max_cells:,} — refused (a stray cell far below or "
                    "right of the table?); 请删除表格以外的多余单元格后重新报送",
                    file=path, rule="sheet_too_large")
            errors = []
            for r in range(sh.nrows):
                types = sh.row_types(r)
                if xlrd.XL_CELL_ERROR in types:
                    errors += [(r, c, xlrd.error_text_from_code.get(sh.cell_value(r, c), "#N/A"))
                               for c, ctype in enumerate(types) if ctype == xlrd.XL_CELL_ERROR]
                if not scan.empty_texts and xlrd.XL_CELL_TEXT in types:
                    values = sh.row_values(r)
                    scan.empty_texts = "" in values and any(
                        t == xlrd.XL_CELL_TEXT and v == "" for t, v in zip(types, values))
            if errors:
                scan.errors.setdefault(sh.name, []).extend(errors)
            book.unload_sheet(i)
    finally:
        book.release_resources()
    return scan


def _read_calamine(path: Path) -> list[Sheet]:
    """Every sheet as calamine reads it.

    A panic inside calamine (a Rust bug hit by a malformed file) reaches Python as pyo3's
    ``PanicException``, which derives from ``BaseException``, not ``Exception``, so the
    reader's ``except Exception`` would let it stop the whole run; it becomes an unreadable
    file here.  It is not handed to the fallback engine: the file is malformed in a way the
    guards did not foresee, and openpyxl may then build a grid as large as the one calamine
    choked on.

    Raises
    ------
    UnreadableFileError
        calamine panicked (rule ``unreadable``).
    """
    try:
        return _calamine_sheets(path)
    except BaseException as exc:
        if not (type(exc).__name__ == "PanicException" and type(exc).__module__ == "pyo3_runtime"):
            raise
        raise UnreadableFileError(
            f"cannot be read: the calamine engine crashed on it (panic: {exc}) — the file is "
            "malformed; 请用 Excel 打开后另存为 .xlsx 重新报送", file=path, rule="unreadable") from exc


def _calamine_sheets(path: Path) -> list[Sheet]:
    from python_calamine import CalamineWorkbook, SheetTypeEnum, SheetVisibleEnum

    sheets: list[Sheet] = []
    wb = CalamineWorkbook.from_path(str(path))
    try:
        for meta in wb.sheets_metadata:
            if meta.typ not in (SheetTypeEnum.WorkSheet,):
                continue  # chart sheets and macro sheets hold no data cells
            sh = wb.get_sheet_by_name(meta.name)
            rows = sh.to_python(skip_empty_area=False)
            merged = [MergedRange(a[0], a[1], b[0], b[1]) for a, b in (sh.merged_cell_ranges or [])]
            sheets.append(
                Sheet(
                    name=meta.name,
                    cells=_rectangular(rows),
                    hidden=meta.visible != SheetVisibleEnum.Visible,
                    merged=merged,
                    engine="calamine",
                    file=str(path),
                )
            )
    finally:
        wb.close()
    return sheets


def _read_openpyxl(path: Path) -> list[Sheet]:
    import openpyxl

    # data_only: the cached results of formulas are what the clerk saw; not read_only, because
    # read-only worksheets do not expose merged ranges.
    wb = openpyxl.load_workbook(path, data_only=True)
    sheets: list[Sheet] = []
    try:
        for ws in wb.worksheets:
            rows = [list(r) for r in ws.iter_rows(values_only=True)]
            merged = [
                MergedRange(m.min_row - 1, m.min_col - 1, m.max_row - 1, m.max_col - 1)
                for m in ws.merged_cells.ranges
            ]
            sheets.append(
                Sheet(
                    name=ws.title,
                    cells=_rectangular(rows),
                    hidden=ws.sheet_state != "visible",
                    merged=merged,
                    engine="openpyxl",
                    file=str(path),
                )
            )
    finally:
        wb.close()
    return sheets


def _read_xlrd(path: Path) -> list[Sheet]:
    import xlrd

    book = xlrd.open_workbook(str(path), formatting_info=True)
    sheets: list[Sheet] = []
    for sh in book.sheets():
        rows: list[list[Any]] = []
        for r in range(sh.nrows):
            row: list[Any] = []
            for c in range(sh.ncols):
                cell = sh.cell(r, c)
                if cell.ctype == xlrd.XL_CELL_DATE:
                    row.append(xlrd.xldate.xldate_as_datetime(cell.value, book.datemode))
                elif cell.ctype == xlrd.XL_CELL_ERROR:
                    row.append(xlrd.error_text_from_code.get(cell.value, "#N/A"))
                elif cell.ctype == xlrd.XL_CELL_BOOLEAN:
                    row.append(bool(cell.value))
                elif cell.ctype in (xlrd.XL_CELL_EMPTY, xlrd.XL_CELL_BLANK):
                    row.append("")
                else:
                    row.append(cell.value)
            rows.append(row)
        merged = [MergedRange(rlo, clo, rhi - 1, chi - 1) for rlo, rhi, clo, chi in sh.merged_cells]
        sheets.append(
            Sheet(
                name=sh.name,
                cells=_rectangular(rows),
                hidden=sh.visibility != 0,
                merged=merged,
                engine="xlrd",
                file=str(path),
            )
        )
    return sheets


# "EncryptedPackage" as a CFB directory entry name (UTF-16LE): Office's password protection
# wraps the whole .xlsx in an OLE container holding this stream (MS-OFFCRYPTO 2.3.4)
_ENCRYPTED_PACKAGE = "EncryptedPackage".encode("utf-16-le")


def _refuse_encrypted_ole(path: Path) -> None:
    """Refuse an encrypted Office document before the engines give a confusing reason."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise UnreadableFileError(f"cannot be opened: {exc.strerror or exc}", file=path,
                                  rule="unreadable") from exc
    if _ENCRYPTED_PACKAGE in data:
        raise UnreadableFileError(
            "is password-protected (an encrypted Office package) — 工作簿设置了密码，"
            "请取消密码（文件→信息→保护工作簿→用密码进行加密，清空密码）后重新报送",
            file=path, rule="password_protected",
        )


def read_workbook(path: str | Path, limits: ArchiveLimits | None = None) -> list[Sheet]:
    """Read every worksheet of an Excel or ODS workbook.

    Zip-based workbooks (xlsx, ods) pass the archive guard first
    (:func:`analysis.ingest.guards.check_open_archive`, on the archive opened to sniff the
    format: archive bombs, XML DOCTYPE/entity attacks, damaged archives, far-away cells); OLE
    files are checked for Office encryption and, by one xlrd pass, for far-away cells.

    Parameters
    ----------
    path : str or path-like
        An ``.xlsx``/``.xlsm``/``.xls``/``.ods`` file (the content decides, see
        :func:`sniff_format`; use :func:`read_any` for files that may be CSV or HTML).
    limits : ArchiveLimits, optional
        Inflation limits for zip-based workbooks (default ``ArchiveLimits.from_env()``).

    Returns
    -------
    list of Sheet
        In workbook order, hidden sheets included (flagged), chart sheets left out.

    Raises
    ------
    UnreadableFileError
        Corrupt, encrypted or not a workbook; the message says which and what to do.
    """
    p = Path(path)
    with _sniffed(p) as (fmt, archive):
        if fmt not in ("xlsx", "xls", "ods"):
            raise UnreadableFileError(
                f"is not an Excel workbook (content looks like {fmt}) — 请另存为 .xlsx 后重新报送",
                file=p, rule="not_a_workbook",
            )
        return _read_workbook(p, fmt, archive, limits)


def _read_workbook(p: Path, fmt: FileFormat, archive: zipfile.ZipFile | None,
                   limits: ArchiveLimits | None) -> list[Sheet]:
    """:func:`read_workbook` once the format is known; ``archive`` is the open zip of an
    xlsx/ods (``None`` for an xls)."""
    scan = ArchiveScan()
    xls = _XlsScan()
    if archive is not None:
        scan = check_open_archive(archive, p, limits)
    else:
        _refuse_encrypted_ole(p)
        xls = _scan_xls(p, limits)
    notes: list[str] = []
    try:
        sheets = _read_calamine(p)
        if fmt == "xlsx" and scan.error_parts:
            errors = _xlsx_error_cells(archive, scan)
            if errors is None:
                sheets = _read_openpyxl(p)
                notes.append("read with openpyxl because the workbook has Excel error cells, which calamine blanks")
            elif n_errors := _put_cells(sheets, errors):
                notes.append(f"{n_errors} Excel error cell(s) taken from the sheet XML, because calamine blanks them")
        if fmt == "xlsx":
            if n_formulas := _put_uncached_formulas(sheets, archive, scan):
                notes.append(f"{n_formulas} formula(s) saved without their result, evaluated where simple")
        elif fmt == "xls":
            if xls.failure is not None:
                # as when xlrd listed the error cells after calamine: a file xlrd cannot open
                # goes to the fallback, whose message gives both engines' reasons
                raise xls.failure
            if n_errors := _put_cells(sheets, xls.errors):
                notes.append(f"{n_errors} Excel error cell(s) taken from xlrd, because calamine blanks them")
            if xls.empty_texts and (n_formulas := _put_formulas(
                    sheets, xls_uncached_formulas(p.read_bytes()))):
                notes.append(f"{n_formulas} formula(s) saved without their result, evaluated where simple")
    except Exception as first:  # noqa: BLE001 - any calamine failure → try the reference reader
        if isinstance(first, UnreadableFileError):
            raise  # calamine panicked: refused, see _read_calamine
        fallback = {"xlsx": _read_openpyxl, "xls": _read_xlrd}.get(fmt)
        if fallback is None:
            raise UnreadableFileError(f"cannot be read: {first}", file=p, rule="unreadable") from first
        try:
            sheets = fallback(p)
        except Exception as second:  # noqa: BLE001
            reason = str(second) or type(second).__name__
            if fmt == "xls" and ("encrypt" in reason.lower() or "password" in str(first).lower()):
                reason = "the workbook is password-protected (加密) — 请取消密码后重新报送"
            elif fmt == "xls" and "Workbook" in reason:
                reason = f"{reason} (an OLE file that is not an .xls: maybe an encrypted .xlsx) — 请取消密码后重新报送"
            raise UnreadableFileError(
                f"cannot be read by calamine ({first}) nor {fallback.__name__[6:]} ({reason})",
                file=p, rule="unreadable",
            ) from second
        notes.append(f"calamine failed ({first}); read with {sheets[0].engine if sheets else 'fallback'}")
    _cover_merged(sheets)
    for s in sheets:
        s.file_format = fmt
        s.note = "; ".join(notes)
    return sheets


# --------------------------------------------------------------------------------------------
# text files


def decode_text(data: bytes) -> tuple[str, str, str]:
    """Decode the bytes of a text export; return ``(text, encoding, note)``.

    Order and why:

    1. a UTF-16 byte-order mark → UTF-16 (Excel's "Unicode text" export);
    2. ``utf-8-sig``, strictly: it accepts UTF-8 with and without BOM, and GBK bytes almost never
       form valid UTF-8 (GBK lead bytes 0x81–0xFE followed by trail bytes 0x40–0xFE rarely make
       UTF-8 continuation patterns), so a strict success is a reliable answer;
    3. ``gb18030``, strictly: it is a superset of GB2312 and GBK, so every GBK file (the usual
       Chinese Windows export) decodes identically, plus the rare characters GBK lacks — this is
       more reliable on short Chinese text than a statistical guess, which can pick Big5 or
       a Latin code page for a few dozen bytes;
    4. only then ``charset-normalizer``'s best guess, reported in ``note``.

    UTF-16 without a byte-order mark (Excel's "Unicode text" saved by some tools) is recognised
    by its NUL bytes (:func:`_utf16_without_bom`).  Text that decodes as GB18030 but reads as
    nonsense — Japanese kana, private-use and unassigned characters instead of Chinese — is
    what Big5 (traditional Chinese) or Shift-JIS (Japanese) bytes become under GB18030; such a
    file is refused with the encoding it really seems to be in, rather than read as garbage
    (:func:`_plausible_chinese`).

    Raises
    ------
    UnreadableFileError
        When no encoding decodes the bytes, or they are Big5/Shift-JIS; the message names the
        encodings tried.
    """
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            return data.decode("utf-16"), "utf-16", ""
        except UnicodeDecodeError as exc:
            # found by the property tests: a UTF-16 mark in front of an odd number of bytes
            # used to escape as a bare UnicodeDecodeError and stop the whole run
            raise UnreadableFileError(
                f"starts with a UTF-16 mark but is not valid UTF-16 ({exc.reason} at byte "
                f"{exc.start}) — 请重新导出为 UTF-8 或 GBK 编码的 CSV", rule="encoding",
            ) from exc
    if data.startswith(codecs.BOM_UTF8):
        try:
            data[3:].decode("utf-8")
        except UnicodeDecodeError:
            # a UTF-8 mark in front of GBK bytes: some tools add the mark without re-encoding
            try:
                return data[3:].decode("gb18030"), "gb18030", "UTF-8 byte-order mark in front of GBK text; read as GBK"
            except UnicodeDecodeError:
                pass
    if (utf16 := _utf16_without_bom(data)) is not None:
        return data.decode(utf16), utf16, "UTF-16 text without a byte-order mark"
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    else:
        return text, "utf-8-sig" if data.startswith(codecs.BOM_UTF8) else "utf-8", ""
    try:
        text = data.decode("gb18030")
    except UnicodeDecodeError:
        text = None
    if text is not None and _plausible_chinese(text):
        return text, "gb18030", ""
    foreign = _foreign_cjk(data)
    if foreign is not None:
        raise UnreadableFileError(
            f"is not UTF-8 or GBK/GB18030 text: its bytes read as {foreign} (tried UTF-8, UTF-16, "
            "GB18030, Big5, Shift-JIS) — 请用 Excel 或记事本另存为 UTF-8 或 GBK 编码的 CSV 后重新报送",
            rule="encoding")
    if text is not None:
        return text, "gb18030", ""
    from charset_normalizer import from_bytes

    best = from_bytes(data).best()
    if best is None:
        raise UnreadableFileError(
            "is not text in any known encoding (tried UTF-8, UTF-16, GB18030, Big5, Shift-JIS and "
            "charset-normalizer's guess) — 请另存为 UTF-8 或 GBK 编码的 CSV", rule="encoding"
        )
    return str(best), best.encoding, f"encoding guessed by charset-normalizer: {best.encoding}"


_MIN_JUDGED = 8
"""Fewest non-ASCII characters on which :func:`_plausible_chinese` judges a text at all."""


def _plausible_chinese(text: str) -> bool:
    """Whether text decoded as GB18030 reads as the Chinese a clerk writes: at least 90 % of
    its non-ASCII characters lie in GB2312 (the 6,763 common characters and the usual symbols
    and full-width forms) and are not Japanese kana.  Big5 and Shift-JIS bytes decoded as
    GB18030 give rare characters, kana and private-use code points instead.  Texts with fewer
    than :data:`_MIN_JUDGED` non-ASCII characters are not judged (plausible)."""
    wide = [ch for ch in text if ord(ch) > 127]
    if len(wide) < _MIN_JUDGED:
        return True
    good = 0
    for ch in wide:
        if "\u3040" <= ch <= "\u30ff":
            continue  # kana: GB2312 has them, Chinese forms do not use them
        try:
            ch.encode("gb2312")
        except UnicodeEncodeError:
            continue
        good += 1
    return good >= 0.9 * len(wide)


def _foreign_cjk(data: bytes) -> str | None:
    """``"Big5 (traditional Chinese)"`` or ``"Shift-JIS (Japanese)"`` when the bytes decode
    strictly in that encoding into mostly CJK characters (or kana, for Shift-JIS); ``None``
    otherwise.  Checked only once UTF-8 and plausible GB18030 have failed."""
    best, best_share = None, 0.0
    for codec, name, extra in (("big5", "Big5 (traditional Chinese)", ""),
                               ("shift_jis", "Shift-JIS (Japanese)", "kana")):
        try:
            text = data.decode(codec)
        except UnicodeDecodeError:
            continue
        wide = [ch for ch in text if ord(ch) > 127]
        if len(wide) < _MIN_JUDGED:
            continue
        cjk = sum(1 for ch in wide if "\u4e00" <= ch <= "\u9fff" or "\u3000" <= ch <= "\u303f"
                  or "\uff00" <= ch <= "\uffef" or (extra and "\u3040" <= ch <= "\u30ff"))
        share = cjk / len(wide)
        if share >= 0.9 and share > best_share:
            best, best_share = name, share
    return best


def read_csv_file(path: str | Path) -> Sheet:
    """Read a CSV (or tab-separated) export into one :class:`Sheet` of strings.

    Parameters
    ----------
    path : str or path-like

    Returns
    -------
    Sheet
        ``name`` is ``"csv"``; every cell is the text between separators
        (unstripped, ``""`` when empty); ``encoding`` says how the bytes were decoded (see
        :func:`decode_text`).

    Raises
    ------
    UnreadableFileError
        Empty file, undecodable bytes or malformed quoting.
    """
    p = Path(path)
    _refuse_special_file(p)
    _refuse_huge_text(p)
    try:
        data = p.read_bytes()
    except OSError as exc:
        raise UnreadableFileError(f"cannot be opened: {exc.strerror or exc}", file=p, rule="unreadable") from exc
    if not data.strip():
        raise UnreadableFileError("is empty — 文件为空，请重新导出", file=p, rule="empty_file")
    try:
        text, encoding, note = decode_text(data)
    except UnreadableFileError as exc:
        exc.file = str(p)
        raise
    if not text.strip():
        # a byte-order mark and nothing else (or only white space after it)
        raise UnreadableFileError("is empty — 文件为空，请重新导出", file=p, rule="empty_file")
    sample = text[:8192]
    lines = [line for line in sample.splitlines() if line.strip()][:50]
    if lines and sum("\t" in line for line in lines) * 2 >= len(lines):
        # Excel's "Unicode text" is tab-separated, and its title line (one field) has no tab,
        # which throws the Sniffer off
        dialect: Any = csv.excel_tab
    else:
        try:
            # Only separators clerks' systems use; the Sniffer alone happily picks letters.
            dialect = csv.Sniffer().sniff(sample, delimiters=",\t;|")
        except csv.Error:
            dialect = csv.excel
    try:
        rows = [list(r) for r in csv.reader(io.StringIO(text, newline=""), dialect)]
    except csv.Error as exc:
        raise UnreadableFileError(f"is not valid CSV ({exc}) — 请检查引号是否成对", file=p, rule="csv") from exc
    if rows and any("\n" in v or "\r" in v for v in rows[-1]):
        # only an unterminated quote can swallow lines into the file's last field
        _refuse_unterminated_quote(text, dialect, p)
    return Sheet(
        name="csv",
        cells=_rectangular(rows),
        engine="csv",
        file=str(p),
        file_format="csv",
        encoding=encoding,
        note=note,
    )


def _refuse_unterminated_quote(text: str, dialect: Any, path: Path) -> None:
    """Refuse a CSV whose last quoted field never closes.

    The csv module reads such a field to the end of the file without complaint, so every line
    after the stray quote would vanish into one cell; its strict mode reports it instead.
    """
    if getattr(dialect, "quoting", csv.QUOTE_MINIMAL) == csv.QUOTE_NONE:
        return
    reader = csv.reader(io.StringIO(text, newline=""), dialect, strict=True)
    start = 0
    try:
        for _ in reader:
            start = reader.line_num
    except csv.Error as exc:
        if "end of data" not in str(exc) and "unexpected end" not in str(exc):
            return  # other strict-mode complaints (a quote inside a field) are harmless here
        raise UnreadableFileError(
            f"has a quote (\") opened on line {start + 1} that never closes, so every later line "
            "would be read into one cell — 请检查引号是否成对", file=path, rule="csv",
        ) from exc


# text of these elements is not shown as a line of the page (Excel shows none of it either)
_HTML_HIDDEN = frozenset({"head", "title", "script", "style"})
# elements that end a line of text outside the tables
_HTML_BLOCKS = frozenset({"p", "div", "br", "h1", "h2", "h3", "h4", "h5", "h6", "li", "caption",
                          "center", "tr", "table", "body", "html", "hr"})


class _TableParser(HTMLParser):
    """Collect the cells of every ``<table>``, expanding colspan/rowspan into merged ranges, and
    the lines of text around the tables.

    Web systems' "export to Excel" puts the title and the period (``统计时段：2013年1月1日至
    2013年6月30日``) in a ``<caption>`` or in paragraphs above the table, and the 填表人 lines
    below it; Excel opening such a file shows them as rows above and below the table.  So each
    table keeps the lines that precede it (``before``; the caption among them) and the last
    table the lines that follow it (``after``).
    """

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tables: list[tuple[list[list[Any]], list[MergedRange]]] = []
        self.before: list[list[str]] = []
        self.after: list[str] = []
        self._lines: list[str] = []
        self._text: list[str] = []
        self._hidden = 0
        self._grid: dict[tuple[int, int], str] | None = None
        self._merged: list[MergedRange] = []
        self._row = -1
        self._col = 0
        self._cell: list[str] | None = None
        self._caption: list[str] | None = None
        self._span = (1, 1)

    def _end_line(self) -> None:
        line = " ".join("".join(self._text).split())
        if line:
            self._lines.append(line)
        self._text = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _HTML_HIDDEN:
            self._hidden += 1
        if self._grid is None and tag in _HTML_BLOCKS:
            self._end_line()
        if tag == "caption" and self._grid is not None:
            self._caption = []
        if tag == "table":
            self.before.append(self._lines)
            self._lines = []
            self._grid, self._merged, self._row = {}, [], -1
        elif tag == "tr" and self._grid is not None:
            self._row += 1
            self._col = 0
        elif tag in ("td", "th") and self._grid is not None:
            if self._row < 0:
                self._row = 0
            while (self._row, self._col) in self._grid:
                self._col += 1
            a = dict(attrs)

            def span(k: str) -> int:
                try:
                    return max(1, int(a.get(k) or 1))
                except ValueError:
                    return 1

            self._span = (span("rowspan"), span("colspan"))
            self._cell = []
        elif tag == "br" and self._cell is not None:
            self._cell.append("\n")

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)
        elif self._caption is not None:
            self._caption.append(data)
        elif self._grid is None and not self._hidden:
            self._text.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag in _HTML_HIDDEN and self._hidden:
            self._hidden -= 1
        if self._grid is None and tag in _HTML_BLOCKS:
            self._end_line()
        if tag == "caption" and self._caption is not None:
            line = " ".join("".join(self._caption).split())
            if line:
                self.before[-1].append(line)
            self._caption = None
        if tag in ("td", "th") and self._cell is not None and self._grid is not None:
            rs, cs = self._span
            text = "".join(self._cell)
            for dr in range(rs):
                for dc in range(cs):
                    self._grid[(self._row + dr, self._col + dc)] = text if (dr, dc) == (0, 0) else ""
            if rs > 1 or cs > 1:
                self._merged.append(MergedRange(self._row, self._col, self._row + rs - 1, self._col + cs - 1))
            self._col += cs
            self._cell = None
        elif tag == "table" and self._grid is not None:
            if self._grid:
                nr = max(r for r, _ in self._grid) + 1
                nc = max(c for _, c in self._grid) + 1
                rows = [[self._grid.get((r, c), "") for c in range(nc)] for r in range(nr)]
            else:
                rows = []
            self.tables.append((rows, self._merged))
            self._grid = None

    def close(self) -> None:
        super().close()
        self._end_line()
        self.after, self._lines = self._lines, []


MAX_TEXT_ENV = "RESIDENCY_MAX_TEXT_MB"
MAX_TEXT_MB = 256
"""Largest CSV/HTML file read (MiB; ``$RESIDENCY_MAX_TEXT_MB`` overrides).  Text files are read
whole and decoded, which needs several times their size in memory; the largest real prefecture
export is well under 1 MiB."""


def _refuse_huge_text(path: Path) -> None:
    text = os.environ.get(MAX_TEXT_ENV, "").strip()
    try:
        limit_mb = float(text) if text else MAX_TEXT_MB
    except ValueError:
        limit_mb = -1.0
    if limit_mb <= 0:
        raise ValueError(f"environment variable {MAX_TEXT_ENV}={text!r} must be a positive number")
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise UnreadableFileError(f"cannot be opened: {exc.strerror or exc}", file=path,
                                  rule="unreadable") from exc
    if size > limit_mb * 1024 * 1024:
        raise UnreadableFileError(
            f"is {size / 1024 / 1024:.0f} MiB of text, more than the limit {limit_mb:g} MiB "
            f"(${MAX_TEXT_ENV}) — 请按市州拆分后重新报送", file=path, rule="too_large")


def _read_html(path: Path) -> list[Sheet]:
    _refuse_huge_text(path)
    data = path.read_bytes()
    m = re.search(rb'charset=["\']?([A-Za-z0-9_\-]+)', data[:4096])
    text = None
    encoding = None
    if m:
        try:
            encoding = m.group(1).decode("ascii").lower()
            text = data.decode(encoding)
        except (LookupError, UnicodeDecodeError):
            text = None
    if text is None:
        try:
            text, encoding, _ = decode_text(data)
        except UnreadableFileError as exc:
            exc.file = str(path)
            raise
    parser = _TableParser()
    parser.feed(text)
    parser.close()
    if not any(rows for rows, _ in parser.tables):
        # a page without a table, or tables without cells, holds no data: say so rather than
        # return empty sheets that would pass unnoticed
        raise UnreadableFileError("is an HTML page without a table — 请导出为 Excel 或 CSV", file=path, rule="html")
    sheets = []
    last = len(parser.tables) - 1
    for i, (rows, merged) in enumerate(parser.tables):
        name = "html" if i == 0 else f"html{i + 1}"
        # the lines around the table become rows above (and, for the last table, below) it,
        # where Excel shows them: merged ranges move down with the table
        above = [[line] for line in parser.before[i]]
        below = [[line] for line in parser.after] if i == last else []
        shift = len(above)
        merged = [MergedRange(m.first_row + shift, m.first_col, m.last_row + shift, m.last_col)
                  for m in merged]
        sheets.append(Sheet(name=name, cells=_rectangular(above + rows + below), merged=merged,
                            engine="html", file=str(path), file_format="html",
                            encoding=encoding))
    _cover_merged(sheets)
    return sheets


def _starts_with_zip(path: Path) -> bool:
    with path.open("rb") as fh:
        return fh.read(4) == b"PK\x03\x04"


_EXPECTED = {".xlsx": "xlsx", ".xlsm": "xlsx", ".xls": "xls", ".ods": "ods", ".csv": "csv",
             ".txt": "csv", ".tsv": "csv", ".htm": "html", ".html": "html"}


def read_any(path: str | Path, limits: ArchiveLimits | None = None) -> list[Sheet]:
    """Read a submission by what it really contains, whatever its extension says.

    Parameters
    ----------
    path : str or path-like
    limits : ArchiveLimits, optional
        Inflation limits for zip-based workbooks (see :func:`read_workbook`).

    Returns
    -------
    list of Sheet
        One per worksheet (workbooks), one per table (HTML) or one (CSV).  When the extension
        disagrees with the content (a ``.xlsx`` that is really CSV, an ``.xls`` that is an HTML
        export), each sheet's ``note`` says so.

    Raises
    ------
    UnreadableFileError
        Empty, unknown, corrupt, encrypted or hostile content, or only hidden sheets (the
        message names the file and the reason).
    """
    p = Path(path)
    with _sniffed(p) as (fmt, archive):
        if fmt == "empty":
            raise UnreadableFileError("is empty — 文件为空，请重新报送", file=p, rule="empty_file")
        if fmt == "unknown" and _starts_with_zip(p):
            raise UnreadableFileError(
                "is neither a readable workbook nor text: a damaged or truncated zip archive (its "
                "directory cannot be read) — "
                "请用 Excel 打开后另存为 .xlsx 重新报送", file=p, rule="corrupt_zip",
            )
        if fmt == "unknown":
            raise UnreadableFileError(
                "is neither an Excel workbook, a CSV file nor an HTML table — 请另存为 .xlsx 后重新报送",
                file=p, rule="unknown_format",
            )
        if fmt in ("xlsx", "xls", "ods"):
            sheets = _read_workbook(p, fmt, archive, limits)
        elif fmt == "html":
            sheets = _read_html(p)
        else:
            sheets = [read_csv_file(p)]
    if sheets and all(s.hidden for s in sheets):
        # nothing would be read, and a file that vanishes from the counts is a silent drop
        names = "、".join(str(s.name) for s in sheets)
        raise UnreadableFileError(
            f"has only hidden sheets ({names}) — 请在 Excel 中取消隐藏数据工作表（右键工作表标签→取消隐藏）后重新报送",
            file=p, rule="only_hidden_sheets",
        )
    expected = _EXPECTED.get(p.suffix.lower())
    if expected != fmt:
        said = f'named "{p.suffix}"' if p.suffix else "without extension"
        msg = f"file {said} is really {fmt.upper()}; read as {fmt.upper()}"
        for s in sheets:
            s.note = f"{msg}; {s.note}" if s.note else msg
    return sheets
