"""Guards against hostile submissions: archive bombs, XML attacks, formula injection.

A workbook (``.xlsx``/``.ods``) is a zip of XML files, and both layers can be turned against the
reader:

- an **archive bomb** — a few hundred kilobytes that inflate to gigabytes — exhausts memory
  before any cell is read.  :func:`check_archive` refuses it from the zip directory alone
  (declared sizes, compression ratio, member count: nothing is inflated), then inflates each
  member as a stream, counting bytes, so a member whose header lies about its size is caught
  too (Python's zip reader stops at the declared size and the CRC check then fails);
- **XML entity attacks** (billion laughs, quadratic blow-up, external entities that read local
  files) need a ``<!DOCTYPE`` declaring entities.  No Office or ODF part ever has one, so any
  DOCTYPE in the prolog of any XML member is refused.  This is stricter and cheaper than parsing
  each member with ``defusedxml`` (which would parse every sheet a second time) and covers the
  engines (calamine's quick-xml, openpyxl's ElementTree) alike.

Text cells that start with ``=``, ``+``, ``-``, ``@``, tab or carriage return are run as formulas
by Excel when a CSV is opened (CSV/formula injection, OWASP).  :func:`neutralize_formulas` prefixes
such cells with an apostrophe before a CSV is written.

Limits are configurable per call (:class:`ArchiveLimits`) or by environment variables
``RESIDENCY_ZIP_MAX_MB``, ``RESIDENCY_ZIP_MAX_MEMBER_MB``, ``RESIDENCY_ZIP_MAX_RATIO``,
``RESIDENCY_ZIP_MAX_MEMBERS`` and ``RESIDENCY_MAX_CELLS`` (:meth:`ArchiveLimits.from_env`).

A third guard concerns the engines themselves: a sheet whose cell references reach far away
(one cell at ``XFD1048576``) makes calamine allocate the whole grid and abort the process, so
the used area of each worksheet is measured from its XML before any engine opens it.
"""

from __future__ import annotations

import codecs
import operator
import os
import re
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from analysis.ingest.errors import UnreadableFileError

__all__ = [
    "ArchiveLimits",
    "ArchiveScan",
    "check_archive",
    "check_open_archive",
    "is_formula_like",
    "neutralize_formulas",
    "FORMULA_PREFIXES",
]

_MB = 1024 * 1024

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r", "\n")
"""First characters that make a spreadsheet treat a text cell as a formula (OWASP list)."""


@dataclass(frozen=True)
class ArchiveLimits:
    """How much a workbook archive may inflate before it is refused.

    Attributes
    ----------
    max_total_bytes : int
        Sum of the members' uncompressed sizes, bytes (default 512 MiB: a 100,000-row
        prefecture sheet is about 40 MiB of XML).
    max_member_bytes : int
        Uncompressed size of one member, bytes (default 256 MiB).
    max_ratio : float
        Uncompressed / compressed size of one member (default 200).  Real sheet XML measured on
        the demo workbooks compresses at most 10:1; 200 MB of spaces compresses about 1000:1.
    ratio_floor_bytes : int
        Members smaller than this (default 1 MiB) are not held to ``max_ratio``: tiny parts
        such as empty styles compress very well but cannot hurt.
    max_members : int
        Number of members (default 10,000; a workbook with 200 sheets has under 1,000).
    max_cells : int
        Rows × columns of a worksheet's used area, from the cell references in its XML
        (default 10,000,000; a 100,000-row prefecture sheet of 26 columns has 2.6 million).
        One cell at ``XFD1048576`` makes calamine allocate the whole 17-billion-cell grid and
        abort the process (measured: a 6 KiB file, ``memory allocation of 549755813888 bytes
        failed``), which no ``except`` can catch.
    """

    max_total_bytes: int = 512 * _MB
    max_member_bytes: int = 256 * _MB
    max_ratio: float = 200.0
    ratio_floor_bytes: int = 1 * _MB
    max_members: int = 10_000
    max_cells: int = 10_000_000

    @classmethod
    def from_env(cls) -> ArchiveLimits:
        """Defaults, overridden by ``RESIDENCY_ZIP_MAX_MB`` (total, MiB),
        ``RESIDENCY_ZIP_MAX_MEMBER_MB`` (MiB), ``RESIDENCY_ZIP_MAX_RATIO``,
        ``RESIDENCY_ZIP_MAX_MEMBERS`` and ``RESIDENCY_MAX_CELLS``.

        Raises
        ------
        ValueError
            A variable is set but is not a positive number (the message names it).
        """
        base = cls()

        def get(var: str, default: float, scale: float = 1) -> float:
            text = os.environ.get(var)
            if text is None or text.strip() == "":
                return default * scale
            try:
                value = float(text)
            except ValueError:
                value = -1.0
            if value <= 0:
                raise ValueError(f"environment variable {var}={text!r} must be a positive number")
            return value * scale

        return cls(
            max_total_bytes=int(get("RESIDENCY_ZIP_MAX_MB", base.max_total_bytes / _MB, _MB)),
            max_member_bytes=int(get("RESIDENCY_ZIP_MAX_MEMBER_MB", base.max_member_bytes / _MB, _MB)),
            max_ratio=get("RESIDENCY_ZIP_MAX_RATIO", base.max_ratio),
            ratio_floor_bytes=base.ratio_floor_bytes,
            max_members=int(get("RESIDENCY_ZIP_MAX_MEMBERS", base.max_members)),
            max_cells=int(get("RESIDENCY_MAX_CELLS", base.max_cells)),
        )


@dataclass(frozen=True)
class ArchiveScan:
    """What :func:`check_archive` learnt while inflating every member, kept for the reader so
    that it need not open and inflate the archive again.

    Attributes
    ----------
    names : tuple of str
        The member names, in archive order.
    error_parts : frozenset of str
        Worksheet members holding at least one error-typed cell (``<c … t="e">``, a cached
        ``#DIV/0!`` and the like), which calamine blanks and the reader patches back in.
    """

    names: tuple[str, ...] = ()
    error_parts: frozenset[str] = frozenset()


def _refuse(path: Path, message: str, rule: str) -> UnreadableFileError:
    return UnreadableFileError(message, file=path, rule=rule)


_DOCTYPE = re.compile(r"<!\s*(DOCTYPE|ENTITY)", re.IGNORECASE)
_SHEET = re.compile(r"xl/worksheets/[^/]+\.xml$", re.IGNORECASE)
# cell (r="D7") and row (r="7") references: in sheet XML the bare r attribute is used only for
# these, so one plain scan finds the used area (no tag matching: measured 2–3× faster).  The
# scan runs over the XML with every whitespace byte made a space (_SPACES), so that the pattern
# can start with the literal " r", which the regex engine finds much faster than "\sr".
_REF = re.compile(rb""" r\s*=\s*["']([A-Z]{0,3})([0-9]{1,7})["']""")
_SPACES = bytes.maketrans(b"\t\n\r\f\v", b"     ")  # the bytes \s matches, besides " "
_ROOT_START = re.compile(r"<[A-Za-z_:]")
# a cell start tag typed as an error (t="e"), with or without a namespace prefix
_ERROR_CELL_TAG = re.compile(rb"""<(?:[A-Za-z_][\w.-]*:)?c\s[^>]*?\bt\s*=\s*["']e["']""")
_CHUNK = 1 * _MB


_LATIN1 = codecs.getincrementaldecoder("latin-1")


def _text_decoder(first: bytes):
    """An incremental decoder for an XML member, chosen from its byte-order mark."""
    if first.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return codecs.getincrementaldecoder("utf-16")(errors="replace")
    if len(first) >= 2 and (first[0] == 0 or first[1] == 0):  # UTF-16 without BOM
        enc = "utf-16-be" if first[0] == 0 else "utf-16-le"
        return codecs.getincrementaldecoder(enc)(errors="replace")
    # UTF-8 and every ASCII-compatible encoding spell "<!DOCTYPE" with the same bytes
    return _LATIN1()


def check_archive(path: str | os.PathLike, limits: ArchiveLimits | None = None) -> ArchiveScan:
    """Refuse a zip-based workbook that would exhaust memory or carries an XML attack.

    Order: the zip directory (member count, declared sizes and ratios — nothing inflated);
    then each member inflated as a stream in 1 MiB chunks, counting the bytes actually
    produced against the limits and scanning XML prologs for ``<!DOCTYPE``/``<!ENTITY``.

    Parameters
    ----------
    path : path-like
        An ``.xlsx``/``.xlsm``/``.ods`` file (any zip).
    limits : ArchiveLimits, optional
        Default :meth:`ArchiveLimits.from_env`.

    Returns
    -------
    ArchiveScan
        Member names and the worksheets holding error cells (see :func:`check_open_archive`).

    Raises
    ------
    UnreadableFileError
        With rule ``zip_bomb`` (too large, too compressed, too many members), ``xml_doctype``
        (a DOCTYPE/ENTITY declaration, naming the member), ``sheet_too_large`` (a worksheet
        whose cell references span more than ``max_cells``) or ``corrupt_zip`` (truncated
        archive, bad CRC, unsupported compression).
    """
    p = Path(path)
    try:
        zf = zipfile.ZipFile(p)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError) as exc:
        raise _refuse(p, f"is a damaged or truncated archive ({exc}) — {_FIX}", "corrupt_zip") from exc
    with zf:
        return check_open_archive(zf, p, limits)


_FIX = "请用 Excel 打开后另存为 .xlsx 重新报送"


def check_open_archive(zf: zipfile.ZipFile, path: str | os.PathLike,
                       limits: ArchiveLimits | None = None) -> ArchiveScan:
    """:func:`check_archive` on an archive the caller has already opened (the reader opens it
    once to sniff the format, check it and patch error cells); ``path`` names it in messages.

    The one inflate pass also notes which worksheets hold error-typed cells, so that the reader
    does not scan the sheet XML a second time to find out.
    """
    p = Path(path)
    lim = limits or ArchiveLimits.from_env()
    infos = zf.infolist()
    if len(infos) > lim.max_members:
        raise _refuse(p, f"holds {len(infos)} archive members, more than the limit "
                         f"{lim.max_members} — refused as a possible zip bomb; {_FIX}", "zip_bomb")
    total = 0
    for info in infos:
        total += info.file_size
        ratio = info.file_size / max(info.compress_size, 1)
        if info.file_size > lim.max_member_bytes or (
                info.file_size >= lim.ratio_floor_bytes and ratio > lim.max_ratio):
            raise _refuse(p, f"member {info.filename} would inflate to "
                             f"{info.file_size / _MB:.1f} MiB (ratio {ratio:.0f}:1; limits "
                             f"{lim.max_member_bytes / _MB:.0f} MiB, {lim.max_ratio:.0f}:1) — "
                             f"refused as a possible zip bomb; {_FIX}", "zip_bomb")
    if total > lim.max_total_bytes:
        raise _refuse(p, f"would inflate to {total / _MB:.1f} MiB in all (limit "
                         f"{lim.max_total_bytes / _MB:.0f} MiB) — refused as a possible zip "
                         f"bomb; {_FIX}", "zip_bomb")
    inflated = 0
    error_parts = []
    for info in infos:
        if info.is_dir():
            continue
        size, has_errors = _scan_member(zf, info, p, lim, inflated)
        inflated += size
        if has_errors:
            error_parts.append(info.filename)
    return ArchiveScan(tuple(i.filename for i in infos), frozenset(error_parts))


def _scan_member(zf: zipfile.ZipFile, info: zipfile.ZipInfo, p: Path, lim: ArchiveLimits,
                 before: int) -> tuple[int, bool]:
    """Inflate one member as a stream; refuse on the limits or a DOCTYPE.

    Returns the member's real size and, for a worksheet, whether it holds an error-typed cell.
    """
    is_xml = info.filename.lower().endswith((".xml", ".rels", ".vml"))
    is_sheet = bool(_SHEET.match(info.filename))
    max_row = max_col = 0
    has_errors = False
    raw_tail = b""
    size = 0
    prolog = _Prolog(p, info.filename) if is_xml else None
    try:
        with zf.open(info) as fh:
            while True:
                chunk = fh.read(_CHUNK)
                if not chunk:
                    break
                size += len(chunk)
                if size > lim.max_member_bytes or before + size > lim.max_total_bytes:
                    raise _refuse(p, f"member {info.filename} inflates beyond the limits "
                                     f"({lim.max_member_bytes / _MB:.0f} MiB per member, "
                                     f"{lim.max_total_bytes / _MB:.0f} MiB in all) — refused as a "
                                     "possible zip bomb", "zip_bomb")
                if is_sheet:
                    window = raw_tail + chunk  # a start tag split across two chunks
                    rows, cols = _used_area(window)
                    max_row, max_col = max(max_row, rows), max(max_col, cols)
                    has_errors = has_errors or _has_error_cell(window)
                    raw_tail = chunk[-512:]
                if prolog is not None and prolog.feed(chunk):
                    prolog = None
                if len(chunk) < _CHUNK:
                    break  # a short read is the member's end, and zipfile has checked its CRC
        if is_sheet and max_row * max(max_col, 1) > lim.max_cells:
            raise _refuse(p, f"member {info.filename} reaches row {max_row}, column {max_col}: "
                             f"{max_row * max(max_col, 1):,} cells, more than the limit "
                             f"{lim.max_cells:,} — refused (a stray cell far below or right of "
                             "the table?); 请删除表格以外的多余单元格后重新报送", "sheet_too_large")
    except UnreadableFileError:
        raise
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, NotImplementedError,
            RuntimeError, ValueError) as exc:
        # RuntimeError: an encrypted zip member; NotImplementedError: unknown compression
        raise _refuse(p, f"member {info.filename} cannot be inflated ({exc}) — the archive is "
                         "damaged or encrypted; 请用 Excel 打开后另存为 .xlsx 重新报送",
                      "corrupt_zip") from exc
    return size, has_errors


class _Prolog:
    """Watches the prolog of one XML member, chunk by chunk, for a DOCTYPE/ENTITY declaration.

    Only the prolog (before the root element) can declare anything, and it is short, so each
    chunk is decoded a few KiB at a time and the work stops at the root element rather than
    decoding the whole member.
    """

    STEP = 1024

    def __init__(self, path: Path, member: str) -> None:
        self.path, self.member = path, member
        self.decoder = None
        self.tail = ""  # a declaration split across two pieces

    def feed(self, chunk: bytes) -> bool:
        """Check the next chunk; ``True`` once the root element has started (prolog over).

        Raises UnreadableFileError (``xml_doctype``) on a declaration in the prolog."""
        if self.decoder is None:
            self.decoder = _text_decoder(chunk[:4])
        for start in range(0, len(chunk), self.STEP):
            text = self.tail + self.decoder.decode(chunk[start:start + self.STEP])
            root = _ROOT_START.search(text)
            if _DOCTYPE.search(text, 0, len(text) if root is None else root.start()):
                raise _refuse(self.path, f"member {self.member} declares a DOCTYPE/ENTITY, "
                                         "which no genuine workbook does (an XML entity attack "
                                         "such as billion laughs) — refused; 请用 Excel 重新保存后报送",
                              "xml_doctype")
            if root is not None:
                return True
            self.tail = text[-16:]
        return False


_ROW_OF = operator.itemgetter(1)
_COL_OF = operator.itemgetter(0)


def _used_area(xml: bytes) -> tuple[int, int]:
    """Largest row number and column number referenced in a piece of sheet XML (0 when none).

    The references are collected by one regex scan; the maxima are taken over the *distinct*
    row numbers and column letters (a few dozen columns, a few hundred rows), so the work per
    cell stays inside the regex engine and ``map``.
    """
    refs = _REF.findall(xml.translate(_SPACES))
    if not refs:
        return 0, 0
    max_row = max(map(int, set(map(_ROW_OF, refs))))
    max_col = max(map(_column_number, set(map(_COL_OF, refs))))
    return max_row, max_col


def _has_error_cell(xml: bytes) -> bool:
    """Whether a piece of sheet XML has an error-typed cell; a substring test first, because
    almost no sheet has one and the regex would otherwise scan every sheet."""
    if b'"e"' not in xml and b"'e'" not in xml:
        return False
    return _ERROR_CELL_TAG.search(xml) is not None


def _column_number(letters: bytes) -> int:
    """``b"A"`` → 1, ``b"XFD"`` → 16384."""
    n = 0
    for ch in letters:
        n = n * 26 + ch - 64
    return n


def is_formula_like(value: object) -> bool:
    """True if ``value`` is text that a spreadsheet would run as a formula.

    Parameters
    ----------
    value : object
        Any cell value; only ``str`` can be formula-like (numbers such as ``-5`` stored as
        numbers are safe).
    """
    return isinstance(value, str) and value.startswith(FORMULA_PREFIXES)


def neutralize_formulas(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``frame`` whose formula-like text cells start with an apostrophe.

    The apostrophe is what Excel itself shows for "text that looks like a formula"; the rest of
    the text is kept, so ``=HYPERLINK(...)`` is still readable in the cell but never runs.
    Column names are treated the same way.  Non-text columns are untouched.

    Parameters
    ----------
    frame : pandas.DataFrame

    Returns
    -------
    pandas.DataFrame
        Same shape, index and dtypes.
    """
    out = frame.copy()
    for col in out.columns:
        s = out[col]
        if s.dtype == object or pd.api.types.is_string_dtype(s.dtype):
            mask = s.map(is_formula_like).astype(bool)
            if mask.any():
                out.loc[mask, col] = "'" + s[mask].astype(str)
    out.columns = ["'" + c if is_formula_like(c) else c for c in out.columns]
    return out
