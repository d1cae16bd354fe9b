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
such cells with an apostrophe before a CSV is written, and puts one after every line break that a
formula follows, for readers that split a cell at its line breaks.

Limits are configurable per call (:class:`ArchiveLimits`) or by environment variables
``RESIDENCY_ZIP_MAX_MB``, ``RESIDENCY_ZIP_MAX_MEMBER_MB``, ``RESIDENCY_ZIP_MAX_RATIO``,
``RESIDENCY_ZIP_MAX_MEMBERS`` and ``RESIDENCY_MAX_CELLS`` (:meth:`ArchiveLimits.from_env`).

A third guard concerns the engines themselves: a sheet whose cell references reach far away
(one cell at ``XFD1048576``) makes calamine allocate the whole grid and abort the process, so
the used area of each worksheet is measured from its XML before any engine opens it.  Which
members are worksheets is read from the workbook's relationships, as the engines find them
(:func:`_sheet_parts`), not from the usual ``xl/worksheets/`` folder alone: a crafted workbook
can keep its sheet at any path.
"""

from __future__ import annotations

import codecs
import contextlib
import functools
import operator
import os
import posixpath
import re
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from xml.etree import ElementTree

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
    "XML_PREFIX",
    "ERROR_CELL_START",
    "UNCACHED_FORMULA",
    "cell_reference",
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
    sheet_names : dict or None
        Worksheet member → sheet name, through the workbook part that ``_rels/.rels`` names
        and its relationships (the sheets' part names need not follow the sheet order);
        ``None`` when that workbook part is missing or does not parse.
    """

    names: tuple[str, ...] = ()
    error_parts: frozenset[str] = frozenset()
    sheet_names: dict[str, str] | None = None
    formula_parts: frozenset[str] = frozenset()
    """Worksheet members holding a formula saved without its result (:data:`UNCACHED_FORMULA`),
    which calamine drops and the reader evaluates or reports (``analysis.ingest.formulas``)."""


# a formula element followed by no result: an empty or self-closed <v>, or the cell's end
# (files written by openpyxl, WPS with recalculation off); Excel always saves the result
UNCACHED_FORMULA = re.compile(
    rb"(?:</(?:\w+:)?f\s*>|<(?:\w+:)?f\b[^>]*/>)\s*"
    rb"(?:<(?:\w+:)?v\b[^>]*/>|<(?:\w+:)?v\b[^>]*>\s*</(?:\w+:)?v\s*>|</(?:\w+:)?c\s*>)")


def _has_uncached_formula(xml: bytes) -> bool:
    """Whether a piece of sheet XML holds a formula without its result; a substring test first,
    because most sheets have no formula at all."""
    if b"f>" not in xml and b"f/>" not in xml and b"f />" not in xml:
        return False
    return UNCACHED_FORMULA.search(xml) is not None


def _refuse(path: Path, message: str, rule: str) -> UnreadableFileError:
    return UnreadableFileError(message, file=path, rule=rule)


_DOCTYPE = re.compile(r"<!\s*(DOCTYPE|ENTITY)", re.IGNORECASE)
_SHEET = re.compile(r"xl/worksheets/[^/]+\.xml$", re.IGNORECASE)
# cell (r="D7") and row (r="7") references: in sheet XML the bare r attribute is used only for
# these, so one plain scan finds the used area (no tag matching: measured 2–3× faster).  The
# scan runs over the XML with every whitespace byte made a space (_SPACES), so that the pattern
# can start with the literal " r", which the regex engine finds much faster than "\sr".
# Letters in either case and any number of them or of digits: calamine reads r="xfd1048576" as
# XFD1048576 and r="A99999999" as row 99,999,999 (measured: an abort and a hang), so a pattern
# that stopped at upper case, three letters or seven digits let those through.
_REF = re.compile(rb""" r\s*=\s*["']([A-Za-z]*)([0-9]+)["']""")
# calamine also takes an attribute written straight after the previous value's quote
# (<c t="n"r="E3">, not well-formed XML, which openpyxl refuses); rare, so looked for only when
# a quote is followed by an r at all
_REF_AFTER_QUOTE = re.compile(rb"""["']r\s*=\s*["']([A-Za-z]*)([0-9]+)["']""")
_ANY_REF = re.compile(rb"""[ "']r\s*=\s*["']([A-Za-z]*)([0-9]+)["']""")
# start tags of cells and rows with their attributes, quoted values read whole (a ">" may stand
# in a value); calamine matches local names, so any namespace prefix, and takes an attribute
# straight after the previous value's quote
_ATTRIBUTES = rb"""(?:\s*[\w:.-]+\s*=\s*(?:"[^"]*"|'[^']*'))*"""
_CELL_OR_ROW = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?(c|row)(?=[\s/>])(" + _ATTRIBUTES + rb")\s*/?>")
_CELL_OR_ROW_START = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?(?:c|row)(?=[\s/>])")
_ATTRIBUTE = re.compile(rb"""([\w:.-]+)\s*=\s*(?:"([^"]*)"|'([^']*)')""")
_REFERENCE = re.compile(rb"([A-Za-z]*)([0-9]+)")
# a cell or row start tag without an r attribute: the engines place it after the cell or row
# before it, so the references alone do not give the used area (measured: 16,384 such cells on
# row 1,048,576 make calamine panic; with a row above them, abort the process)
_UNREFERENCED = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?(?:c|row)(?=[\s/>])"
                           rb"""(?:\s*(?!r\s*=)[\w:.-]+\s*=\s*(?:"[^"]*"|'[^']*'))*\s*/?>""")
_HUGE = 10 ** 12
"""Stands for a row or column number too long to be real (more than 9 digits or 6 letters)."""
_SPACES = bytes.maketrans(b"\t\n\r\f\v", b"     ")  # the bytes \s matches, besides " "
# what ends the search for the root element of an XML member: a comment or processing
# instruction (skipped: "<!-- <x -->" is not the root) or the root's start tag
_PROLOG_MARKUP = re.compile(r"<!--|<\?|<[A-Za-z_:]")
_CLOSER = {"<!--": "-->", "<?": "?>"}
XML_PREFIX = rb"(?:[A-Za-z_][\w.-]*:)?"
"""An optional namespace prefix on an element name (``x:`` in ``<x:c>``), as a bytes pattern."""
ERROR_CELL_START = re.compile(rb"<" + XML_PREFIX + rb"""c\s[^>]*?\bt\s*=\s*["']e["']""")
"""The start of a cell tag typed as an error (``<c r="D7" t="e"``, with or without a namespace
prefix), up to its type: the guard notes the worksheets that have one, the reader
(:mod:`analysis.ingest.read`) patches them back into calamine's grid; both use this one
pattern so that they cannot disagree about what an error cell is."""
_CHUNK = 1 * _MB
_TAIL_MAX = 64 * 1024
"""Longest unfinished tag carried from one inflated chunk to the next (see :func:`_carry`)."""
_SPACE_RUNS = re.compile(rb"  +")
_CELL_TAG_MAX = 1 * _MB
"""Longest cell or row start tag the positional count (:func:`_positional_area`) carries over."""


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
    inflater = _Inflater(zf, p, lim)
    # the workbook and relationship parts first (each checked before it is parsed), so that the
    # worksheets are known when the other members are inflated
    names, sheet_parts = _sheet_parts(inflater.read)
    for info, key in inflater.members:
        inflater.scan(info, key in sheet_parts or bool(_SHEET.match(info.filename)))
    sheet_names = None if names is None else {
        info.filename: names[key] for info, key in inflater.members if key in names}
    return ArchiveScan(tuple(i.filename for i in infos), frozenset(inflater.error_parts), sheet_names,
                       frozenset(inflater.formula_parts))


class _Inflater:
    """The guard's one inflate pass over an archive: every member once, against the limits.

    Members can be asked for out of archive order (:meth:`read`, for the workbook and
    relationship parts, whose bytes are kept) before the rest are scanned in order
    (:meth:`scan`); a member is inflated again only if it turns out to be a worksheet after it
    was inflated as something else, which no genuine workbook does.
    """

    def __init__(self, zf: zipfile.ZipFile, path: Path, lim: ArchiveLimits) -> None:
        self.zf, self.path, self.lim = zf, path, lim
        self.inflated = 0
        self.error_parts: list[str] = []
        self.formula_parts: list[str] = []
        self.as_sheet: dict[zipfile.ZipInfo, bool] = {}  # inflated members: scanned as a sheet?
        self.kept: dict[zipfile.ZipInfo, bytes] = {}
        self.members = [(info, part_key(info.filename)) for info in zf.infolist() if not info.is_dir()]
        self.by_key: dict[str, list[zipfile.ZipInfo]] = {}
        for info, key in self.members:
            self.by_key.setdefault(key, []).append(info)

    def scan(self, info: zipfile.ZipInfo, is_sheet: bool, keep: bool = False) -> bytes | None:
        """Inflate ``info`` unless done already (as a sheet, when ``is_sheet``); its bytes when
        ``keep``."""
        done = self.as_sheet.get(info)
        if done is not None and (done or not is_sheet):
            return None
        size, has_errors, has_formulas, data = _scan_member(self.zf, info, self.path, self.lim,
                                                            self.inflated, is_sheet, keep)
        if done is None:
            self.inflated += size
        self.as_sheet[info] = is_sheet
        if has_errors:
            self.error_parts.append(info.filename)
        if has_formulas:
            self.formula_parts.append(info.filename)
        return data

    def read(self, part: str) -> list[bytes]:
        """The bytes of every member whose name is ``part`` (:func:`part_key` spelling), each
        inflated under the limits and checked for a DOCTYPE before anyone parses it."""
        out = []
        for info in self.by_key.get(part, ()):
            if info not in self.kept:
                data = self.scan(info, bool(_SHEET.match(info.filename)), keep=True)
                self.kept[info] = data if data is not None else b""
            out.append(self.kept[info])
        return out


@functools.lru_cache(maxsize=4096)  # the same few dozen member names in every workbook
def part_key(name: str) -> str:
    """A part name as the engines compare them: ``/`` for ``\\``, ``.``/``..`` resolved, no
    leading ``/``, lower case (calamine looks members up case-insensitively)."""
    return posixpath.normpath(name.replace("\\", "/")).lstrip("/").lower()


def _local(tag: str) -> str:
    """An XML element or attribute name without its ``{namespace}``."""
    return tag.rsplit("}", 1)[-1]


Reader = Callable[[str], list[bytes]]
"""Bytes of the members with a given :func:`part_key` (several when names differ only in case)."""


def _rels_targets(read: Reader, part: str) -> dict[str, tuple[str, str]]:
    """The relationships of ``part``: id → (type, target part key), targets resolved against
    the part's folder (``worksheets/sheet1.xml`` next to ``xl/workbook.xml``) or the archive
    root (``/xl/worksheets/sheet1.xml``), as openpyxl does; ``{}`` without a ``.rels`` part."""
    folder, name = posixpath.split(part)
    out = {}
    for data in read(part_key(posixpath.join(folder, "_rels", name + ".rels"))):
        for rid, kind, target in _parsed(_relationships, data, folder):
            out[rid] = (kind, target)
    return out


def _relationships(data: bytes, folder: str) -> tuple[tuple[str, str, str], ...]:
    """(Id, Type, target part key) of each internal relationship in a ``.rels`` part whose
    source part is in ``folder``."""
    return tuple((rel.get("Id", ""), rel.get("Type", ""), part_key(posixpath.join(folder, rel.get("Target"))))
                 for rel in ElementTree.fromstring(data)
                 if rel.get("TargetMode") != "External" and rel.get("Target"))


def _sheet_ids(data: bytes) -> tuple[tuple[str | None, str], ...]:
    """(relationship id, name) of each ``<sheet>`` in a workbook part."""
    return tuple((next((v for k, v in element.attrib.items() if _local(k) == "id" and k != "id"), None),
                  element.get("name", ""))
                 for element in ElementTree.fromstring(data).iter() if _local(element.tag) == "sheet")


def _workbook_overrides(data: bytes) -> tuple[str, ...]:
    """Part names ``[Content_Types].xml`` declares as a workbook (content type ``….main+xml``:
    workbook, template, macro-enabled)."""
    return tuple(element.get("PartName", "") for element in ElementTree.fromstring(data).iter()
                 if _local(element.tag) == "Override" and element.get("ContentType", "").endswith("main+xml"))


_PARSE_CACHE_MAX = 64 * 1024


def _parsed(parse: Callable[..., tuple], data: bytes, *args: str) -> tuple:
    """``parse(data, *args)``, remembered per distinct text of a small part: the package, workbook
    and relationship parts that one spreadsheet program writes are mostly byte-identical, so
    most workbooks need no XML parse at all.  Large parts are parsed afresh (not kept)."""
    if len(data) > _PARSE_CACHE_MAX:
        return parse(data, *args)
    return _parsed_small(parse, data, *args)


@functools.lru_cache(maxsize=512)
def _parsed_small(parse: Callable[..., tuple], data: bytes, *args: str) -> tuple:
    return parse(data, *args)


def _workbook_sheets(read: Reader, workbook: str) -> dict[str, str]:
    """Part key → sheet name for every ``<sheet>`` of a workbook part (worksheets, chart and
    dialog sheets alike) that its relationships resolve.

    Raises KeyError when the part is missing, ``ElementTree.ParseError`` when it or its
    relationships do not parse."""
    copies = read(workbook)
    if not copies:
        raise KeyError(workbook)
    targets = _rels_targets(read, workbook)
    out = {}
    for data in copies:
        for rid, name in _parsed(_sheet_ids, data):
            if rid in targets:
                out[targets[rid][1]] = name
    return out


_WORKBOOK = "xl/workbook.xml"


def _sheet_parts(read: Reader) -> tuple[dict[str, str] | None, set[str]]:
    """Which members the engines may read as sheets, from the workbook relationships.

    Returns the sheet names by part key of the workbook that ``_rels/.rels`` names (``None``
    when it is missing or does not parse: the reader then cannot place error cells), and the
    part keys of every sheet of every workbook part an engine might open: that one; the
    ``workbook.xml`` in its folder (calamine takes only the folder from ``_rels/.rels``);
    the workbook ``[Content_Types].xml`` declares (openpyxl, the fallback, finds it there);
    and ``xl/workbook.xml``.  Parts that are missing or do not parse are skipped; the
    ``xl/worksheets/`` folder is scanned in any case.
    """
    office = _WORKBOOK
    with contextlib.suppress(ElementTree.ParseError):
        for kind, target in _rels_targets(read, "").values():
            if kind.endswith("/officeDocument"):
                office = target
    candidates = dict.fromkeys([office, part_key(posixpath.join(posixpath.dirname(office), "workbook.xml")),
                                _WORKBOOK, *_declared_workbooks(read)])
    names = None
    parts: set[str] = set()
    for workbook in candidates:
        try:
            sheets = _workbook_sheets(read, workbook)
        except (KeyError, ElementTree.ParseError):
            continue
        if workbook == office:
            names = sheets
        parts.update(sheets)
    return names, parts


def _declared_workbooks(read: Reader) -> list[str]:
    """Part keys of the workbook parts ``[Content_Types].xml`` declares."""
    out = []
    with contextlib.suppress(ElementTree.ParseError):
        for data in read("[content_types].xml"):
            out.extend(map(part_key, _parsed(_workbook_overrides, data)))
    return out


def _scan_member(zf: zipfile.ZipFile, info: zipfile.ZipInfo, p: Path, lim: ArchiveLimits,
                 before: int, is_sheet: bool, keep: bool = False) -> tuple[int, bool, bytes | None]:
    """Inflate one member as a stream; refuse on the limits or a DOCTYPE.

    Returns the member's real size, for a worksheet whether it holds an error-typed cell and
    whether it holds a formula saved without its result, and its bytes when ``keep``.
    """
    # a sheet part is XML whatever its name: the relationships may call it "data/s.bin"
    is_xml = is_sheet or keep or info.filename.lower().endswith((".xml", ".rels", ".vml"))
    kept: list[bytes] | None = [] if keep else None
    max_row = max_col = 0
    has_errors = unreferenced = has_formulas = False
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
                    raw_tail, overflow = _carry(window)
                    has_errors = has_errors or overflow or _has_error_cell(window)
                    has_formulas = has_formulas or overflow or _has_uncached_formula(window)
                    # a tag cut short by the carry may have lost its reference: count again
                    unreferenced = unreferenced or overflow or _may_lack_references(window)
                if kept is not None:
                    kept.append(chunk)
                if prolog is not None and prolog.feed(chunk):
                    prolog = None
                if len(chunk) < _CHUNK:
                    break  # a short read is the member's end, and zipfile has checked its CRC
        if is_sheet and unreferenced:
            rows, cols = _positional_area(zf, info, p)
            max_row, max_col = max(max_row, rows), max(max_col, cols)
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
    return size, has_errors, has_formulas, None if kept is None else b"".join(kept)


def _carry(window: bytes) -> tuple[bytes, bool]:
    """What of a scanned window the next chunk's window must start with, and whether an
    error cell could have been missed.

    That is the unfinished tag at the window's end (from its last ``<``) and at least the last
    512 bytes, so that a cell reference or an error cell's start tag cut by the chunk boundary
    is seen whole in the next window, however long the tag.  A tag longer than ``_TAIL_MAX``
    is carried with its runs of spaces squeezed (the patterns match one space as they match
    many); if it is still longer, only its last ``_TAIL_MAX`` bytes are carried and the
    worksheet is reported as possibly holding an error cell (``True``): the reader's scan of
    the whole part then decides, so nothing is missed and no window grows without bound.
    """
    last_512 = max(len(window) - 512, 0)
    last_tag = window.rfind(b"<")
    if last_tag < 0 or last_tag >= last_512:
        return window[last_512:], False
    tail = window[last_tag:]
    if len(tail) <= _TAIL_MAX:
        return tail, False
    tail = _SPACE_RUNS.sub(b" ", tail.translate(_SPACES))
    if len(tail) <= _TAIL_MAX:
        return tail, False
    return tail[-_TAIL_MAX:], True


class _Prolog:
    """Watches the prolog of one XML member, chunk by chunk, for a DOCTYPE/ENTITY declaration.

    Only the prolog (before the root element) can declare anything, and it is short, so each
    chunk is decoded a few KiB at a time and the work stops at the root element rather than
    decoding the whole member.  Comments and processing instructions in the prolog are
    skipped while looking for the root, so a ``<x`` inside them does not end the watch early;
    a declaration anywhere before the root, even inside a comment, is refused (no genuine
    part has one).
    """

    STEP = 1024

    def __init__(self, path: Path, member: str) -> None:
        self.path, self.member = path, member
        self.decoder = None
        self.text = ""  # the prolog decoded so far, from where the root search resumes
        self.pos = 0  # where in ``text`` the search for the root resumes
        self.closer: str | None = None  # "-->" or "?>" while inside a comment or instruction

    def feed(self, chunk: bytes) -> bool:
        """Check the next chunk; ``True`` once the root element has started (prolog over).

        Raises UnreadableFileError (``xml_doctype``) on a declaration in the prolog."""
        if self.decoder is None:
            self.decoder = _text_decoder(chunk[:4])
        for start in range(0, len(chunk), self.STEP):
            self.text += self.decoder.decode(chunk[start:start + self.STEP])
            root = self._root_start()
            if _DOCTYPE.search(self.text, 0, len(self.text) if root is None else root):
                raise _refuse(self.path, f"member {self.member} declares a DOCTYPE/ENTITY, "
                                         "which no genuine workbook does (an XML entity attack "
                                         "such as billion laughs) — refused; 请用 Excel 重新保存后报送",
                              "xml_doctype")
            if root is not None:
                return True
            keep = min(self.pos, max(len(self.text) - 16, 0))  # a declaration split in two
            self.text, self.pos = self.text[keep:], self.pos - keep
        return False

    def _root_start(self) -> int | None:
        """Where the root element starts in ``text``, skipping comments and processing
        instructions; ``None`` when the text decoded so far ends before it."""
        text = self.text
        while True:
            if self.closer is not None:
                end = text.find(self.closer, self.pos)
                if end < 0:
                    self.pos = max(self.pos, len(text) - len(self.closer) + 1)
                    return None
                self.pos, self.closer = end + len(self.closer), None
            markup = _PROLOG_MARKUP.search(text, self.pos)
            if markup is None:
                self.pos = max(self.pos, len(text) - 3)  # "<!-" may continue in the next piece
                return None
            if markup.group() not in _CLOSER:
                return markup.start()
            self.pos, self.closer = markup.end(), _CLOSER[markup.group()]


_ROW_OF = operator.itemgetter(1)
_COL_OF = operator.itemgetter(0)


def _may_lack_references(xml: bytes) -> bool:
    """Whether a piece of sheet XML holds a cell or row start tag without an ``r`` reference.

    Counting first: Excel and openpyxl write ``r`` as the first attribute of every ``<c`` and
    ``<row`` (``<c r="D7" s="1">``).  When every plain start tag is of that form, each tag has
    its reference (a first attribute cannot hide inside another attribute's quoted value), and
    the tag-by-tag regex :data:`_UNREFERENCED` — a fifth of the guard's time on the demo
    workbooks — is not needed.  Any other form (a prefix, a tag without attributes, ``r`` later
    or single-quoted) goes to the regex.
    """
    spaced = xml.translate(_SPACES)
    starts = spaced.count(b"<c ") + spaced.count(b"<row ")
    led = spaced.count(b'<c r="') + spaced.count(b'<row r="')
    if (starts == led and b"<c>" not in spaced and b"<c/" not in spaced and b"<row>" not in spaced
            and b"<row/" not in spaced and b":c" not in spaced and b":row" not in spaced):
        return False
    return _UNREFERENCED.search(xml) is not None


def _used_area(xml: bytes) -> tuple[int, int]:
    """Largest row number and column number referenced in a piece of sheet XML (0 when none).

    The references are collected by one regex scan; the maxima are taken over the *distinct*
    row numbers and column letters (a few dozen columns, a few hundred rows), so the work per
    cell stays inside the regex engine and ``map``.
    """
    spaced = xml.translate(_SPACES)
    refs = _REF.findall(spaced)
    if b'"r' in spaced or b"'r" in spaced:
        refs += _REF_AFTER_QUOTE.findall(spaced)
    if not refs:
        return 0, 0
    max_row = max(map(_row_number, set(map(_ROW_OF, refs))))
    max_col = max(map(_column_number, set(map(_COL_OF, refs))))
    return max_row, max_col


def _positional_area(zf: zipfile.ZipFile, info: zipfile.ZipInfo, p: Path) -> tuple[int, int]:
    """Upper bounds of the row and column numbers the engines give a worksheet's cells, counting
    cells and rows without an ``r`` reference by position, as calamine and openpyxl place them:
    a row without one follows the row before it, a cell without one the cell before it.

    Only run for the few sheets that have such cells (:data:`_UNREFERENCED`) or a start tag too
    long for the first pass to see whole: a second inflate of the member, whose size the first
    pass has already checked, and one Python step per cell.  Bounds, not exact places: where a
    tag has two references the larger counts, and a row without one follows the larger of the
    previous row and the previous cell's row.

    Raises
    ------
    UnreadableFileError
        ``sheet_too_large``: a cell or row start tag that does not end within
        ``_CELL_TAG_MAX`` bytes (no genuine one comes near), so the cells after it could not be
        placed.
    """
    max_row = max_col = row = col = 0
    tail = b""
    with zf.open(info) as fh:
        while chunk := fh.read(_CHUNK):
            text = tail + chunk
            end = 0
            for match in _CELL_OR_ROW.finditer(text):
                end = match.end()
                refs = [_REFERENCE.fullmatch(a or b) for name, a, b in _ATTRIBUTE.findall(match.group(2))
                        if name == b"r"]
                refs = [(m.group(1), m.group(2)) for m in refs if m is not None]
                if match.group(1) == b"row":
                    # ``row`` already holds the larger of the previous row and cell rows
                    row = max(_row_number(d) for _, d in refs) if refs else row + 1
                    col = 0
                    max_row = max(max_row, row)
                    continue
                if refs:
                    col = max(_column_number(c) for c, _ in refs)
                    row = max(row, *(_row_number(d) for _, d in refs))
                else:
                    col += 1
                max_row, max_col = max(max_row, row, 1), max(max_col, col)
            tail = _unfinished_tag(text, end)
            if len(tail) > _CELL_TAG_MAX:
                raise _refuse(p, f"member {info.filename} has a cell or row tag that does not end "
                                 f"within {_CELL_TAG_MAX // _MB} MiB, so its used area cannot be "
                                 "measured — refused; 请用 Excel 打开后另存为 .xlsx 重新报送",
                              "sheet_too_large")
    return max_row, max_col


def _unfinished_tag(text: bytes, end: int) -> bytes:
    """What :func:`_positional_area` carries to the next chunk: from the first cell or row start
    tag after ``end`` (the last complete one) that has not ended, or a short ``<…`` at the very
    end that may become one; other long tags (a genuine ``sqref`` list can be long) are left."""
    start = _CELL_OR_ROW_START.search(text, end)
    if start is not None:
        return text[start.start():]
    last = text.rfind(b"<", end)
    if last >= 0 and len(text) - last < 64 and b">" not in text[last:]:
        return text[last:]
    return b""


def _has_error_cell(xml: bytes) -> bool:
    """Whether a piece of sheet XML has an error-typed cell; a substring test first, because
    almost no sheet has one and the regex would otherwise scan every sheet."""
    if b'"e"' not in xml and b"'e'" not in xml:
        return False
    return ERROR_CELL_START.search(xml) is not None


def _column_number(letters: bytes) -> int:
    """``b"A"`` → 1, ``b"XFD"`` and ``b"xfd"`` → 16384; :data:`_HUGE` for more than six
    letters."""
    if len(letters) > 6:
        return _HUGE
    n = 0
    for ch in letters.upper():
        n = n * 26 + ch - 64
    return n


def _row_number(digits: bytes) -> int:
    """``b"7"`` → 7; :data:`_HUGE` for more than nine digits (``int`` of thousands of digits
    would itself be slow, and refuse past 4,300)."""
    return int(digits) if len(digits) <= 9 else _HUGE


def cell_reference(tag: bytes) -> tuple[int, int] | None:
    """The 0-based (row, column) of a cell start tag's ``r`` reference (``r="D7"`` → (6, 3)),
    by the same pattern the guard measures the used area with; ``None`` when the tag has no
    reference, or only a row number (its place then depends on the cells before it)."""
    ref = _ANY_REF.search(tag.translate(_SPACES))
    if ref is None or not ref.group(1):
        return None
    return _row_number(ref.group(2)) - 1, _column_number(ref.group(1)) - 1


# a line break (every one str.splitlines knows) followed by the first character of a formula
_BREAK_THEN_FORMULA = re.compile("(\r\n|[\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029])(?=[=+\\-@\t])")


def is_formula_like(value: object) -> bool:
    """True if ``value`` is text that a spreadsheet would run as a formula: it starts with one
    of :data:`FORMULA_PREFIXES`, or one of its lines after a line break does (a reader that
    splits the cell at the break would start a row or cell with the formula).

    Parameters
    ----------
    value : object
        Any cell value; only ``str`` can be formula-like (numbers such as ``-5`` stored as
        numbers are safe).
    """
    return isinstance(value, str) and (value.startswith(FORMULA_PREFIXES)
                                       or _BREAK_THEN_FORMULA.search(value) is not None)


def _neutralized(text: str) -> str:
    """``text`` with an apostrophe before the formula at its start and after each line break."""
    out = _BREAK_THEN_FORMULA.sub("\\1'", text)
    return "'" + out if text.startswith(FORMULA_PREFIXES) else out


def neutralize_formulas(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``frame`` whose formula-like text cells start with an apostrophe, and have one
    after every line break that a formula follows (``"喜德县\\r=1+1"`` → ``"喜德县\\r'=1+1"``).

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
                out.loc[mask, col] = s[mask].astype(str).map(_neutralized)
    out.columns = [_neutralized(c) if is_formula_like(c) else c for c in out.columns]
    return out
