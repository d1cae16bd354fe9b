"""Recognise a sheet's shape and turn it into one row per data cell, with provenance.

Shapes (``Layout.kind``)
------------------------
``summary``
    A prefecture summary (汇总表): a title, meta lines (``填报单位：…``, ``单位：…``, ``截至…``),
    one to three header rows (possibly merged), an optional column-code row (甲/乙/1/2…), an
    optional units row, one row per county, 合计 rows and footer rows (填表人/审核人/联系电话/
    填报日期/注).
``form``
    A county form: indicator rows under a header ``指标 | 数值 | 单位 | 备注`` (or one value
    column per period: ``指标 | 2012年上半年 | 2012年下半年 | 备注``).
``transposed``
    A 横表: indicator rows, one column per county (named in the header row), optionally a
    单位, 合计 and 备注 column.
``flat``
    A plain table whose header is the first row (CSV exports).  When it has ``指标`` and
    ``数值`` columns it is read as a long table (one data cell per row).
``unknown``
    Anything else (empty sheets, instructions); :func:`extract_records` returns nothing for an
    empty sheet and raises :class:`~analysis.ingest.errors.LayoutError` for a non-empty one.

Row conservation
----------------
:func:`extract_records` returns two frames.  Every row of the sheet is either a *record row*
(its data cells are in ``records``) or a *structure row* (in ``structure`` with the reason it is
not data: title, meta, header, code_row, units_row, blank, total, total_unlabelled, footer,
section, no_data_cells).  ``set(records.source_row) | set(structure.source_row)`` is every row
1…n, and the two never overlap — the cleaning step relies on that to prove nothing was lost.
"""

from __future__ import annotations

import math
import re
import unicodedata
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

import pandas as pd

from analysis.catalog import match_header
from analysis.ingest.errors import LayoutError
from analysis.ingest.periods import parse_period
from analysis.ingest.read import MergedRange, Sheet, col_letter
from analysis.ingest.values import parse_value
from analysis.reference import is_place_name, prefecture_code

__all__ = [
    "Layout",
    "Column",
    "detect_layout",
    "detect_layouts",
    "cell_roles",
    "extract_records",
    "RECORD_COLUMNS",
    "STRUCTURE_COLUMNS",
]

LayoutKind = Literal["summary", "form", "transposed", "flat", "unknown"]
ColumnRole = Literal["data", "county", "prefecture", "period", "sequence", "county_code", "remark",
                     "label", "value", "unit", "personal", "total"]

RECORD_COLUMNS = [
    "source_file", "source_sheet", "source_cell", "sheet_hidden", "layout", "county_text",
    "prefecture_text", "header_text", "indicator", "header_unit", "raw_value", "period_text",
    "title", "record_id", "source_row", "cutoff_text", "county_code_text",
]
STRUCTURE_COLUMNS = ["source_file", "source_sheet", "source_row", "reason", "text"]
SOURCE_COL = "source_col"
"""Key of the 0-based record columns in :func:`_extract_columns`' lists (not a record column:
the pipeline's cell census places records by it; ``extract_records`` leaves it out)."""

_HEADER_SCAN_ROWS = 30  # headers sit near the top; scanning further only finds data

# Label vocabularies, compared after _key() (NFKC, no spaces, ASCII brackets → full-width).
_COUNTY_WORDS = ("县（市、区）", "县（市区）", "县市区", "县（区、市）", "区县", "县区", "县名", "县别",
                 "单位名称", "填报单位", "单位", "地区", "县", "区（县）", "县（市）", "名称", "所属县")
_PREF_WORDS = ("市州", "市（州）", "所属市州", "地市", "市（州）名称", "所属市（州）", "市州名称")
_PERIOD_WORDS = ("期间", "时期", "报告期", "统计期", "统计期间", "填报期间", "年度", "时间", "半年",
                 "报送期间", "统计时间", "期次", "年份")
_SEQ_WORDS = ("序号", "编号", "no", "no.", "序", "行次", "栏次", "行号")
_CODE_WORDS = ("代码", "行政区划代码", "区划代码", "县代码", "单位代码")
_REMARK_WORDS = ("备注", "说明", "备考", "备注说明", "情况说明", "备注（说明）")
# columns that hold people's names (a 驻点干部 column in a county data table, 联系人): their cells
# are counted but never copied anywhere — names stay out of every output
_PERSONAL_WORDS = ("驻点干部", "驻点干部姓名", "姓名", "联系人", "负责人", "填表人", "驻点领导")
_INDICATOR_WORDS = ("指标", "指标名称", "项目", "统计指标", "指标项", "项目名称", "指标内容")
_VALUE_WORDS = ("数值", "数据", "填报数", "本期数", "数量", "值", "填报值", "数值（本期）", "指标值",
                "本期值", "本期", "实际值", "本期实际", "统计值")
_UNIT_WORDS = ("单位", "计量单位")
_FOOTER = re.compile(r"^(填表人|填报人|审核人|联系电话|电话|填报日期|填表日期|报出日期|负责人|单位负责人|"
                     r"制表人|统计负责人|注[:：0-9一]|注$|说明[:：]|填表说明|备注[:：])")
_TOTAL = re.compile(r"^(合计|总计|小计|总数|全市合计|全州合计|全市总计|全州总计|全市|全州|累计|"
                    r".{0,8}(合计|总计|小计))$")
# the committee's place is Chinese characters only: "-宜宾市团委…", "=凉山州团委…" and "  达州市团委…"
# (a leading sign or space, as files saved from a list or a formula-minded tool are named)
# name the prefecture as the plain name does
_COMMITTEE_IN_PATH = re.compile(r"(?:共青团)?([\u4e00-\u9fff]{1,6}?(?:自治州|州|市))(?:团委|团市委|团州委|委员会)")
_META_UNITS = re.compile(r"^(计量)?单位[:：]")
_META_FILLER = re.compile(r"^(填报单位|报送单位|单位名称|填表单位)[:：]")
_META_CUTOFF = re.compile(r"^(截至|截止|统计时间|统计时期|统计时段|统计期间|统计期|报告期|报告时段|报送期间|"
                          r"填报期间|时期|期间|时间)[:：]?")
_CODE_CELL = re.compile(r"^(甲|乙|丙|丁|戊|己|庚|栏次|[0-9]{1,2})$")
_UNIT_VOCAB = {"个", "人", "人次", "件", "万元", "元", "%", "是/否", "元/人", "名", "次", "千元", "家",
               "所", "户", "项", "百分比", "是否", "（是/否）", "％"}
_UNIT_IN_HEADER = re.compile(r"[（(]\s*(?:单位[:：]\s*)?([^（）()]{1,6})\s*[）)]\s*$")


# Sheets repeat the same few hundred texts (headers, county names, 合计, footers) across files,
# and detection looks at each cell several times: the text helpers below are cached on the
# string (measured on the demo data: 4× fewer regex calls in layout detection).
_CACHE_SIZE = 1 << 16
_SPACES = re.compile(r"\s+")


@lru_cache(maxsize=_CACHE_SIZE)
def _key_of_text(s: str) -> str:
    s = _SPACES.sub("", unicodedata.normalize("NFKC", s)).lower()
    return s.replace("(", "（").replace(")", "）")


def _key(v: Any) -> str:
    # only str is cached: 1, 1.0 and True are equal dict keys but give different texts
    if type(v) is str:
        return _key_of_text(v)
    return _key_of_text(str(v)) if v is not None else ""


@lru_cache(maxsize=_CACHE_SIZE)
def _text_of_str(s: str) -> str:
    return _SPACES.sub(" ", s).strip()


def _text(v: Any) -> str:
    """Display text of a cell: NFKC folded, whitespace runs collapsed, ends trimmed."""
    if type(v) is str:
        return _text_of_str(v)
    if v is None:
        return ""
    # plain numbers (a third of all cells) print without whitespace: nothing to collapse
    if type(v) is float:
        return str(int(v)) if v.is_integer() else str(v)
    if type(v) is int:
        return str(v)
    if isinstance(v, float) and v.is_integer():
        v = int(v)
    # as written (no NFKC): header_text and labels go to the user; matching uses _key()
    return _text_of_str(str(v))


@lru_cache(maxsize=_CACHE_SIZE)
def _match_text(s: str) -> str | None:
    return match_header(s)


def _match(v: Any) -> str | None:
    """:func:`analysis.catalog.match_header`, cached for text cells (the catalog is fixed for a
    run: ``header_index`` is itself cached once)."""
    return _match_text(v) if type(v) is str else match_header(v)


def _empty(v: Any) -> bool:
    return v is None or (isinstance(v, str) and not v.strip()) or (isinstance(v, float) and v != v)


@lru_cache(maxsize=_CACHE_SIZE)
def _unit_of(header: str) -> str | None:
    """Unit named in a header's trailing brackets (``团员数（人）`` → ``人``)."""
    m = _UNIT_IN_HEADER.search(unicodedata.normalize("NFKC", header))
    if m:
        u = m.group(1).strip().replace("％", "%")
        if u in _UNIT_VOCAB or u.endswith("元") or u in ("%",):
            return u
    return None


def _word_set(words: tuple[str, ...]) -> frozenset[str]:
    return frozenset(_key(w) for w in words)


# The vocabularies as sets of keys, built once: membership is asked ~500k times on the demo data.
_COUNTY_KEYS = _word_set(_COUNTY_WORDS)
_PREF_KEYS = _word_set(_PREF_WORDS)
_PERIOD_KEYS = _word_set(_PERIOD_WORDS)
_SEQ_KEYS = _word_set(_SEQ_WORDS)
_CODE_KEYS = _word_set(_CODE_WORDS)
_REMARK_KEYS = _word_set(_REMARK_WORDS)
_INDICATOR_KEYS = _word_set(_INDICATOR_WORDS)
_VALUE_KEYS = _word_set(_VALUE_WORDS)
_UNIT_KEYS = _word_set(_UNIT_WORDS)
_PERSONAL_KEYS = _word_set(_PERSONAL_WORDS)
# label words that make a row look like a table header (see _header_score)
_LABEL_KEYS = _COUNTY_KEYS | _SEQ_KEYS | _PERIOD_KEYS | _PREF_KEYS | _INDICATOR_KEYS


@dataclass
class Column:
    """What one sheet column holds.

    Attributes
    ----------
    col : int
        0-based column index.
    header_text : str
        Every header row's text for this column, top to bottom, joined with ``" / "``.
    role : str
        ``data`` (indicator values), ``county``, ``prefecture``, ``period``, ``sequence``,
        ``county_code``, ``remark``, ``label`` (form/long/transposed: indicator names),
        ``value`` (form/long: the values; transposed: one county's values, the county in
        ``header_text``), ``unit``, ``personal`` (people's names: counted, never copied),
        ``total`` (transposed: a 合计 column).  A ``data`` column without any header text holds
        no indicator anyone named: its cells are *unplaced* (see :func:`cell_roles`).
    indicator : str or None
        Catalog code for data columns whose header names one; ``None`` for unknown columns
        (their cells are still returned, never dropped).
    header_unit : str or None
        Unit from the header brackets or the units row.
    prefecture : str or None
        Transposed tables: the prefecture named above this county's column.
    """

    col: int
    header_text: str
    role: ColumnRole = "data"
    indicator: str | None = None
    header_unit: str | None = None
    prefecture: str | None = None
    """Transposed tables: the prefecture named above this county's column (a merged
    ``成都市`` over its counties), if any."""


@dataclass
class Layout:
    """Where things are in a sheet (rows and columns 0-based).

    ``to_frame()`` gives one row per column; ``row_reasons`` maps every structure row to why it
    is not data.
    """

    kind: LayoutKind
    header_rows: list[int] = field(default_factory=list)
    data_rows: list[int] = field(default_factory=list)
    columns: list[Column] = field(default_factory=list)
    row_reasons: dict[int, str] = field(default_factory=dict)
    title: str | None = None
    cutoff_text: str | None = None
    prefecture_text: str | None = None
    county_text: str | None = None
    units_text: str | None = None
    long: bool = False
    notes: list[str] = field(default_factory=list)
    block: tuple[int, int] | None = None
    """Rows ``[first, end)`` of the sheet this layout covers (``None``: the whole sheet)."""

    def column(self, role: str) -> Column | None:
        return next((c for c in self.columns if c.role == role), None)

    def to_frame(self) -> pd.DataFrame:
        """One row per column: col, letter, role, header_text, indicator, header_unit."""
        return pd.DataFrame(
            [dict(col=c.col, letter=col_letter(c.col), role=c.role, header_text=c.header_text,
                  indicator=c.indicator, header_unit=c.header_unit) for c in self.columns],
            columns=["col", "letter", "role", "header_text", "indicator", "header_unit"],
        )


# --------------------------------------------------------------------------------------------
# helpers on the grid


def _merge_lookup(sheet: Sheet) -> dict[tuple[int, int], MergedRange]:
    out: dict[tuple[int, int], MergedRange] = {}
    for m in sheet.merged:
        # a title merged across 5000 columns would be silly; cap the expansion
        if (m.last_row - m.first_row + 1) * (m.last_col - m.first_col + 1) > 20000:
            continue
        for r in range(m.first_row, m.last_row + 1):
            for c in range(m.first_col, m.last_col + 1):
                out[(r, c)] = m
    return out


class _Grid:
    """A sheet's cells with each row's display texts and match keys computed at most once.

    Detection looks at the same rows many times (header scores, the form search, title, footer
    and code-row tests, the structure texts), and ``Sheet.n_cols`` scans every row on each call;
    one ``_Grid`` per sheet does that work once (measured on the demo data: layout detection
    and extraction ~3× faster).  The row lists it returns are shared: callers must not change them.
    """

    def __init__(self, sheet: Sheet):
        self.sheet = sheet
        self.cells = sheet.cells
        self.n_rows = len(self.cells)
        self.n_cols = max((len(r) for r in self.cells), default=0)
        self._texts: dict[int, list[str]] = {}
        self._keys: dict[int, list[str]] = {}
        self._scores: dict[int, tuple[int, int]] = {}

    def cell(self, r: int, c: int) -> Any:
        """The raw value, ``""`` outside the grid (as :meth:`Sheet.cell`)."""
        if 0 <= r < self.n_rows:
            row = self.cells[r]
            if 0 <= c < len(row):
                return row[c]
        return ""

    def texts(self, r: int) -> list[str]:
        """:func:`_text` of every cell of row r (``[]`` below the last row)."""
        out = self._texts.get(r)
        if out is None:
            # _text for every cell; text cells (most of them) go straight to its cached part
            out = self._texts[r] = [
                _text_of_str(v) if type(v) is str else _text(v) for v in self.cells[r]
            ] if r < self.n_rows else []
        return out

    def keys(self, r: int) -> list[str]:
        """:func:`_key` of every cell of row r (``[]`` below the last row)."""
        out = self._keys.get(r)
        if out is None:
            out = self._keys[r] = [_key(v) for v in self.cells[r]] if r < self.n_rows else []
        return out


def _filled(grid: _Grid, merges: dict[tuple[int, int], MergedRange], r: int, c: int) -> Any:
    """Cell value, taking a merged block's value for every cell of the block."""
    m = merges.get((r, c))
    if m is not None:
        return grid.cell(m.first_row, m.first_col)
    return grid.cell(r, c)


def _nonempty(sheet: Sheet, r: int) -> list[int]:
    return [c for c, v in enumerate(sheet.cells[r]) if not _empty(v)] if r < len(sheet.cells) else []


@lru_cache(maxsize=_CACHE_SIZE)
def _squeezed(t: str) -> str:
    """The text with all whitespace removed (``合 计`` → ``合计``), cached on the text."""
    return _SPACES.sub("", t)


@lru_cache(maxsize=_CACHE_SIZE)
def _is_footer_text(t: str) -> bool:
    return bool(_FOOTER.match(_squeezed(t)))


def _is_footer_row(texts: list[str]) -> bool:
    return any(map(_is_footer_text, texts))  # an empty text is no footer


@lru_cache(maxsize=_CACHE_SIZE)
def _is_meta_cell(t: str) -> bool:
    k = _squeezed(t)
    return bool(_META_UNITS.match(k) or _META_FILLER.match(k) or (_META_CUTOFF.match(k) and parse_period(k)))


@lru_cache(maxsize=_CACHE_SIZE)
def _is_total_label(t: str) -> bool:
    return bool(_TOTAL.match(_squeezed(t)))


def _is_code_row(texts: list[str]) -> bool:
    vals = [_squeezed(t) for t in texts if t]
    if len(vals) < 2 or not all(_CODE_CELL.match(v) for v in vals):
        return False
    nums = [int(v) for v in vals if v.isdigit()]
    # 1, 2, 3 … in order: a column-code row, not a data row of small counts
    return bool(nums) and nums == list(range(nums[0], nums[0] + len(nums))) or len(nums) == 0


def _is_units_row(texts: list[str]) -> bool:
    vals = [_squeezed(t).strip("（）()") for t in texts if t]
    vals = [v for v in vals if _key(v) not in _UNIT_KEYS]
    return len(vals) >= 2 and sum(v.replace("％", "%") in _UNIT_VOCAB for v in vals) >= 0.8 * len(vals)


def _clean_org(text: str) -> str:
    """``凉山州团委（盖章）`` → ``凉山州``; ``共青团喜德县委员会`` → ``喜德县``."""
    s = re.sub(r"[（(][^）)]*[）)]", "", text).strip()
    s = re.sub(r"^共青团", "", s)
    s = re.sub(r"(委员会|团委|团县委|团市委|团州委|团区委|委)$", "", s)
    return s.strip(" :：")


def _place_from_title(title: str) -> str | None:
    """Leading place name of a title (``凉山州2013年上半年…`` → ``凉山州``)."""
    t = re.sub(r"\s+", "", unicodedata.normalize("NFKC", title))
    t = re.sub(r"^共青团", "", t)
    # the longest leading name the code books know: "达州市驻点工作县（市、区）…" is 达州市, not
    # "达州市驻点工作县"; "成都市青羊区2013年…" is 成都市青羊区
    known = [t[:m.end()] for m in re.finditer(r"(?:自治州|州|市|县|区)", t[:14])
             if m.end() >= 2 and (prefecture_code(t[:m.end()]) is not None
                                  or is_place_name(t[:m.end()]))]
    if known:
        return known[-1]
    m = re.match(r"^(.{2,12}?(?:自治州|州|市|县|区))(?=\d|二〇|〇|[（(]|基层|团|共青团|关于|$)", t)
    return m.group(1) if m else None


def _number(v: Any) -> float | None:
    # numeric cells (most of a sheet) without the parser: what parse_value(v, "number") gives
    t = type(v)
    if t is float:
        return v if math.isfinite(v) else None
    if t is int:
        return float(v)
    if t is str:
        return _number_of_text(v)
    p = parse_value(v, "number")
    return float(p.value) if p.ok and p.value is not None else None


@lru_cache(maxsize=_CACHE_SIZE)
def _number_of_text(s: str) -> float | None:
    # CSV sheets are all text and repeat their numbers: each distinct text is read once
    p = parse_value(s, "number")
    return float(p.value) if p.ok and p.value is not None else None


# --------------------------------------------------------------------------------------------
# detection


def _is_title_row(grid: _Grid, merges: dict[tuple[int, int], MergedRange], r: int) -> bool:
    """A title, even when a date or a table number sits beside it: at most two cells, one of
    them long or naming a table/period, or merged across most of the sheet.  Group labels of a
    header (``组织活力``) are short and do not say 表."""
    cells = [(c, t) for c, t in enumerate(grid.texts(r)) if t]
    if not cells or len(cells) > 2:
        return False
    c, text = max(cells, key=lambda x: len(x[1]))
    wordy = len(text) >= 10 or "表" in text or parse_period(text) is not None
    m = merges.get((r, c))
    wide = m is not None and (m.last_col - m.first_col + 1) >= 0.6 * max(grid.n_cols, 1)
    return wordy and (wide or len(text) >= 8)


@lru_cache(maxsize=_CACHE_SIZE)
def _header_hits(v: str) -> tuple[int, int]:
    """One non-empty text cell's share of :func:`_header_score`, cached on the text: (1 if it
    names a catalog indicator, 1 if it is a label word such as 县 or 序号)."""
    return int(_match(v) is not None), int(_key(v) in _LABEL_KEYS)


def _header_score(grid: _Grid, r: int) -> tuple[int, int]:
    """(catalog header matches, label words) in row r, computed once per row of a grid."""
    got = grid._scores.get(r)
    if got is None:
        matches = labels = 0
        for v in grid.cells[r]:
            if type(v) is str and v.strip():  # not _empty(v), text cells only
                m, w = _header_hits(v)
                matches += m
                labels += w
        got = grid._scores[r] = (matches, labels)
    return got


def _scan_top(grid: _Grid, upto: int, layout: Layout) -> None:
    """Read title and meta lines from rows above the header; mark them as structure."""
    for r in range(upto):
        texts = grid.texts(r)
        cells = [t for t in texts if t]
        if not cells:
            layout.row_reasons[r] = "blank"
            continue
        reason = None
        for t in cells:
            k = _squeezed(t)
            if _META_FILLER.match(k):
                layout.prefecture_text = layout.prefecture_text or _clean_org(re.split(r"[:：]", k, 1)[1])
                reason = "meta"
            if _META_UNITS.match(k):
                layout.units_text = t
                reason = "meta"
            # "截至2013年6月30日" may sit in the same cell as 填报单位 or on its own
            m = re.search(r"(截至|截止|统计时间|统计时期|统计时段|统计期间|统计期|报告期|报告时段|报送期间|填报期间|"
                          r"时期|期间)[:：]?.*", t)
            if m and parse_period(m.group(0)):
                layout.cutoff_text = m.group(0).strip()
                reason = "meta"
        if reason is None:
            if layout.title is None and len(cells) <= 2:
                layout.title = max(cells, key=len)
                reason = "title"
            else:
                reason = "title" if len(cells) <= 2 else "meta"
        layout.row_reasons[r] = reason


def detect_layout(sheet: Sheet, grid: _Grid | None = None) -> Layout:
    """Classify a sheet and locate its header, data rows and columns.

    Parameters
    ----------
    sheet : Sheet
        As returned by :func:`analysis.ingest.read.read_any`.

    Returns
    -------
    Layout
        ``kind`` is ``"summary"``, ``"form"``, ``"flat"`` or ``"unknown"``; for the first three,
        ``header_rows``, ``data_rows``, ``columns`` and ``row_reasons`` cover every row.
    """
    grid = grid if grid is not None and grid.sheet is sheet else _Grid(sheet)
    n = grid.n_rows
    if n == 0 or all(not _nonempty(sheet, r) for r in range(n)):
        return Layout("unknown", row_reasons={r: "blank" for r in range(n)}, notes=["empty sheet"])
    merges = _merge_lookup(sheet)
    scores = [_header_score(grid, r) for r in range(min(n, _HEADER_SCAN_ROWS))]

    # a row naming two or more indicators is a summary's header: no 横表 has one
    transposed = None if any(m >= 2 for m, _ in scores) else _detect_transposed(grid, merges)
    if transposed is not None:
        return transposed
    form = _detect_form(grid, scores)
    if form is not None:
        return form

    # the anchor header row: most catalog names plus label words (县, 序号, 期间…), earliest on ties
    best = max(range(len(scores)), key=lambda r: (scores[r][0] + scores[r][1], -r))
    if scores[best][0] == 0 and scores[best][1] == 0:
        return Layout("unknown", notes=["no header row: no cell names a catalog indicator or a county column"])
    if scores[best][0] == 0:
        best = next(r for r in range(len(scores)) if scores[r][1] > 0)
    top = best
    # extend upwards through merged group rows (≥2 non-empty cells, not meta, not a title)
    while top > 0:
        texts = grid.texts(top - 1)
        cells = [t for t in texts if t]
        vertical = any((top - 1, c) in merges and merges[(top - 1, c)].last_row >= top for c in range(grid.n_cols))
        if _is_title_row(grid, merges, top - 1):
            break
        if (len(cells) >= 2 and not any(_is_meta_cell(t) for t in cells) and not _is_footer_row(texts)) or (
            vertical and cells and not any(_is_meta_cell(t) for t in cells)
        ):
            top -= 1
        else:
            break
    bottom = best
    # extend downwards while merged blocks from the header continue, or rows still name indicators
    while bottom + 1 < n:
        r = bottom + 1
        texts = grid.texts(r)
        continued = any((r, c) in merges and merges[(r, c)].first_row < r and merges[(r, c)].first_row >= top
                        for c in range(grid.n_cols))
        matches = sum(1 for v in grid.cells[r] if isinstance(v, str) and not _empty(v) and _match(v))
        # CSV cells are all text, so "a number" is whatever parses as one
        numbers = sum(1 for v in grid.cells[r] if not _empty(v) and _number(v) is not None)
        if (continued or matches >= 1) and numbers == 0 and not _is_code_row(texts) and not _is_units_row(texts):
            bottom = r
        else:
            break
    header_rows = list(range(top, bottom + 1))
    layout = Layout("summary", header_rows=header_rows)
    _scan_top(grid, top, layout)
    for r in header_rows:
        layout.row_reasons[r] = "header"

    columns = _table_columns(grid, merges, header_rows)
    layout.columns = columns

    # code row and units row right under the header
    r = bottom + 1
    while r < n:
        texts = grid.texts(r)
        if _is_code_row(texts):
            layout.row_reasons[r] = "code_row"
        elif _is_units_row(texts):
            layout.row_reasons[r] = "units_row"
            for col in columns:
                u = _squeezed(_text(grid.cell(r, col.col))).strip("（）()").replace("％", "%")
                if u and col.header_unit is None and u in _UNIT_VOCAB:
                    col.header_unit = u
        else:
            break
        r += 1
    _classify_body(grid, layout, r)
    _apply_sheet_unit(layout)

    simple = (top == 0 and len(header_rows) == 1 and not sheet.merged and layout.title is None
              and not any(v in ("code_row", "units_row", "total", "footer") for v in layout.row_reasons.values()))
    if simple:
        layout.kind = "flat"
    label_col, value_col = layout.column("label"), next((c for c in columns if c.role == "value"), None)
    if label_col is not None and value_col is not None:
        layout.long = True
    if layout.column("county") is None and not layout.long:
        layout.notes.append("no county column found; the first text column is used")
        _guess_county_column(grid, layout)
    _flag_unlabelled_totals(grid, layout)
    if layout.prefecture_text is None and layout.title:
        layout.prefecture_text = _place_from_title(layout.title)
    return layout


def detect_layouts(sheet: Sheet) -> list[Layout]:
    """The tables of a sheet, top to bottom, each with its layout (rows 0-based in the sheet).

    Most sheets hold one table (:func:`detect_layout`).  Some hold several stacked ones — a
    组织活力 table and a 团干部配备 table, or one table per prefecture — each with its own title
    and header, separated by blank rows.  A new table starts at a header row naming at least two
    catalog indicators that follows data rows of the table above; its block reaches up through
    the blank, title and meta lines above that header (never into a row with numbers, a
    footer or a total) and down to the next table's block.  Each block is recognised on its own.
    """
    grid = _Grid(sheet)
    starts = _block_starts(grid)
    if len(starts) <= 1:
        return [detect_layout(sheet, grid)]  # its block is the whole sheet
    bounds = list(zip(starts, starts[1:] + [grid.n_rows]))
    layouts = [_shifted(detect_layout(_rows_of(sheet, a, b)), a, b) for a, b in bounds]
    # a table continued under a repeated header, or a second table that names no period or
    # prefecture, reports for those of the table above it
    for above, below in zip(layouts, layouts[1:]):
        if below.kind == "unknown":
            continue
        period_above = above.cutoff_text or (above.title if parse_period(above.title or "") else None)
        if below.cutoff_text is None and not parse_period(below.title or "") and period_above:
            below.cutoff_text = period_above
        if below.prefecture_text is None:
            below.prefecture_text = above.prefecture_text
        if below.title is None:
            below.title = above.title
    return layouts


def _has_number(grid: _Grid, r: int) -> bool:
    return any(not _empty(v) and _number(v) is not None for v in grid.cells[r])


def _block_starts(grid: _Grid) -> list[int]:
    """First row of each stacked table's block (``[0]`` for a sheet with one table)."""
    strong = [r for r in range(grid.n_rows) if _header_score(grid, r)[0] >= 2]
    if len(strong) < 2:
        return [0]
    starts = [0]
    seen_data = False
    previous = strong[0]
    for r in range(strong[0] + 1, grid.n_rows):
        if r in strong:
            if seen_data and r > previous + 1:
                top = r
                while top - 1 > starts[-1] and _above_header(grid, top - 1):
                    top -= 1
                starts.append(top)
                seen_data = False
            previous = r
        elif _has_number(grid, r):
            seen_data = True
    return starts


def _above_header(grid: _Grid, r: int) -> bool:
    """Whether row r may stand above a table's header: blank, or a title, meta or group-header
    line — no number, no footer, no total, at most two cells (a group header spans merged
    cells, which count once)."""
    texts = grid.texts(r)
    cells = [t for t in texts if t]
    if not cells:
        return True
    if _has_number(grid, r) or _is_footer_row(texts) or any(_is_total_label(t) for t in cells):
        return False
    return len(cells) <= 2 or len(set(cells)) <= 2


def _rows_of(sheet: Sheet, a: int, b: int) -> Sheet:
    """Rows a…b−1 of a sheet as a sheet of their own (merged blocks inside them moved up)."""
    merged = [MergedRange(m.first_row - a, m.first_col, m.last_row - a, m.last_col)
              for m in sheet.merged if m.first_row >= a and m.last_row < b]
    return Sheet(name=sheet.name, cells=sheet.cells[a:b], hidden=sheet.hidden, merged=merged,
                 engine=sheet.engine, file=sheet.file, file_format=sheet.file_format,
                 encoding=sheet.encoding, note=sheet.note)


def _shifted(layout: Layout, a: int, b: int) -> Layout:
    """A block's layout with its rows counted from the top of the whole sheet."""
    if a:
        layout.header_rows = [r + a for r in layout.header_rows]
        layout.data_rows = [r + a for r in layout.data_rows]
        layout.row_reasons = {r + a: why for r, why in layout.row_reasons.items()}
    layout.block = (a, b)
    return layout


@lru_cache(maxsize=_CACHE_SIZE)
def _read_header(parts: tuple[str, ...]) -> tuple[ColumnRole, str | None, str | None]:
    """A column's (role, indicator, header unit) from its header texts, top to bottom.

    Depends on the texts only, and a template's headers repeat in every file made from it, so
    this is cached on them."""
    keys = [_key(p) for p in parts]
    role = "data"
    last = keys[-1]
    if any(k in _PERSONAL_KEYS or "姓名" in k for k in keys):
        role = "personal"
    elif any(k in _SEQ_KEYS for k in keys):
        role = "sequence"
    elif any(k in _CODE_KEYS for k in keys):
        role = "county_code"
    elif any(k in _PREF_KEYS for k in keys):
        role = "prefecture"
    elif any(k in _COUNTY_KEYS for k in keys):
        role = "county"
    elif last in _PERIOD_KEYS:
        role = "period"
    elif last in _REMARK_KEYS:
        role = "remark"
    elif last in _INDICATOR_KEYS:
        role = "label"
    elif last in _VALUE_KEYS:
        role = "value"
    elif last in _UNIT_KEYS:
        role = "unit"
    indicator = None
    if role == "data":
        # most specific first: the lowest header cell, then joined levels, then any level
        candidates = [parts[-1]]
        for i in range(len(parts) - 1):
            candidates.append("".join(parts[i:]))
        candidates += list(reversed(parts[:-1]))
        for cand in candidates:
            indicator = _match(cand)
            if indicator:
                break
    unit = None
    for p in reversed(parts):
        unit = _unit_of(p)
        if unit:
            break
    return role, indicator, unit


def _table_columns(grid: _Grid, merges, header_rows: list[int]) -> list[Column]:
    columns: list[Column] = []
    for c in range(grid.n_cols):
        parts: list[str] = []
        for r in header_rows:
            t = _text(_filled(grid, merges, r, c))
            if t and (not parts or parts[-1] != t):
                parts.append(t)
        if not parts:
            columns.append(Column(c, "", role="data"))
            continue
        role, indicator, unit = _read_header(tuple(parts))
        columns.append(Column(c, " / ".join(parts), role=role, indicator=indicator, header_unit=unit))
    # a second "county" column headed 单位 is a unit column (a long table); a second proper
    # county column starts a table beside the first (two tables side by side): its data columns
    # take their county from it (see _county_of_columns)
    seen = False
    for col in columns:
        if col.role == "county":
            if seen and _key(col.header_text) in _UNIT_KEYS:
                col.role = "unit"
            seen = True
    if any(c.role == "label" for c in columns):
        # in a long table "单位" next to 指标/数值 is the unit column, not the county column
        for col in columns:
            if col.role == "county" and _key(col.header_text) in _UNIT_KEYS:
                col.role = "unit"
    return columns


def _apply_sheet_unit(layout: Layout) -> None:
    """``单位：元`` naming a single money unit applies to money columns whose header names none.

    A units line listing several units (``单位：个、人、万元``) says nothing about any one column,
    so it is left alone."""
    if not layout.units_text:
        return
    from analysis.catalog import load_catalog

    body = re.split(r"[:：]", unicodedata.normalize("NFKC", layout.units_text), maxsplit=1)[-1]
    units = [u for u in re.split(r"[、,，/\s]+", body.strip()) if u]
    if len(units) != 1 or not units[0].endswith("元"):
        return
    types = load_catalog()["type"]
    for col in layout.columns:
        if col.indicator and col.header_unit is None and types.get(col.indicator) == "money":
            col.header_unit = units[0]


_LABEL_ROLES = frozenset({"county", "prefecture", "sequence", "county_code", "label"})
"""Column roles whose cells name the row (where a 合计/小计 label may stand)."""


def _footer_state(label: str, texts: list[str], has_value: bool, in_footer: bool) -> tuple[bool, bool]:
    """Whether a body row is footer, and whether the footer has begun after it: a footer row
    (填表人、审核人、填报说明 …) starts the footer, and below it only a row with a value under a
    catalog label is a data row again."""
    if (not label or _is_footer_text(label)) and _is_footer_row(texts):
        return True, True
    return in_footer and not (has_value and _match(label)), in_footer


def _classify_body(grid: _Grid, layout: Layout, start: int) -> None:
    """Mark data, total, footer and blank rows from ``start`` on.

    A row is a total when its county cell — or, in a table grouped by prefecture, any cell that
    names the row (``成都市小计`` in the 市（州） column, ``全省合计`` across merged label cells) —
    is a 合计/小计 label.  Columns without a header are not data columns here: a row whose
    numbers stand only under no header is not a county's record (its cells are unplaced)."""
    county = layout.column("county")
    label_col = county.col if county is not None else None
    data_cols = [c.col for c in layout.columns if c.role in ("data", "value") and c.header_text]
    label_cols = [c.col for c in layout.columns if c.role in _LABEL_ROLES]
    in_footer = False
    for r in range(start, grid.n_rows):
        texts = grid.texts(r)
        if not any(texts):
            layout.row_reasons[r] = "blank"
            continue
        label = texts[label_col] if label_col is not None and label_col < len(texts) else next(
            (t for t in texts if t), "")
        # "注：估计" in a 备注 cell of a county row does not make the row a footer: only a row
        # whose label cell is empty or itself a footer line is one (the label is tested first:
        # it rules out almost every data row without looking at the other cells)
        if (not label or _is_footer_text(label)) and _is_footer_row(texts):
            layout.row_reasons[r] = "footer"
            in_footer = True
            continue
        if in_footer and not (label and any(_number(grid.cell(r, c)) is not None for c in data_cols)):
            layout.row_reasons[r] = "footer"  # continuation lines of 注 ("2、乡镇数含街道")
            continue
        if _is_total_label(label) or any(c < len(texts) and texts[c] and _is_total_label(texts[c])
                                         for c in label_cols):
            layout.row_reasons[r] = "total"
            continue
        if _header_score(grid, r)[0] >= 2 and not any(_number(v) is not None
                                                       for v in grid.cells[r] if not _empty(v)):
            layout.row_reasons[r] = "header"  # the header repeated down the table (a printout)
            continue
        if label_col is not None and not texts[label_col] and not any(
            c < len(texts) and texts[c] for c in data_cols
        ):
            layout.row_reasons[r] = "blank"  # only a sequence number or a stray remark
            continue
        layout.data_rows.append(r)


def _guess_county_column(grid: _Grid, layout: Layout) -> None:
    for col in layout.columns:
        if col.role != "data" or col.indicator is not None:
            continue
        vals = [grid.cell(r, col.col) for r in layout.data_rows]
        texts = [v for v in vals if isinstance(v, str) and v.strip() and _number(v) is None]
        if vals and len(texts) >= 0.6 * len(vals):
            col.role = "county"
            return


def _flag_unlabelled_totals(grid: _Grid, layout: Layout) -> None:
    """Move rows whose values are the sums of the other rows (a 合计 without the label) out of
    the data.  A row r is a total when, in every numeric column with at least one other value,
    2·v[r] equals the column sum including r (i.e. v[r] = sum of the others), over ≥ 2 columns."""
    rows = layout.data_rows
    cols = [c.col for c in layout.columns if c.role == "data"]
    values = {}
    for r in rows:
        row = grid.cells[r]
        for c in cols:
            values[(r, c)] = _number(row[c] if c < len(row) else "")
    if len(rows) < 3:
        return
    sums = {c: sum(v for r in rows if (v := values[(r, c)]) is not None) for c in cols}
    counts = {c: sum(values[(r, c)] is not None for r in rows) for c in cols}
    flagged = []
    for r in rows:
        compared = 0
        ok = True
        for c in cols:
            v = values[(r, c)]
            if v is None or counts[c] < 3:
                continue
            compared += 1
            if abs(2 * v - sums[c]) > 1e-6 * max(1.0, abs(sums[c])):
                ok = False
                break
        if ok and compared >= 2 and any(values[(r, c)] for c in cols):
            flagged.append(r)
    if len(flagged) == 1:  # two rows both "equal to the rest" would be a coincidence we can't resolve
        r = flagged[0]
        layout.data_rows.remove(r)
        layout.row_reasons[r] = "total_unlabelled"
        layout.notes.append(f"row {r + 1} has no 合计 label but its values equal the column sums: treated as a total row")
    _flag_group_subtotals(grid, layout, cols, values)


def _flag_group_subtotals(grid: _Grid, layout: Layout, cols: list[int],
                          values: dict[tuple[int, int], float | None]) -> None:
    """Rows without a county (no county name, no code; a 市（州） name alone may stand there)
    whose numbers are the sums of the county rows right above them, back to the previous such
    row or total: the 小计 of a prefecture's group written without a 小计 label.  At least two
    rows in the group and two columns compared, every compared column equal."""
    labels = [c.col for c in layout.columns if c.role in ("county", "county_code")]
    if not labels:
        return
    if all(any(c < len(grid.cells[r]) and not _empty(grid.cells[r][c]) for c in labels)
           for r in layout.data_rows):
        return  # every data row names its county: no unlabelled subtotal
    group: list[int] = []
    for r in sorted(layout.data_rows):
        texts = grid.texts(r)
        unlabelled = not any(c < len(texts) and texts[c] for c in labels)
        if not unlabelled:
            group.append(r)
            continue
        compared = 0
        ok = len(group) >= 2
        for c in cols if ok else ():
            v = values.get((r, c))
            if v is None:
                continue
            parts = [values.get((g, c)) for g in group]
            total = sum(p for p in parts if p is not None)
            compared += 1
            if abs(v - total) > 1e-6 * max(1.0, abs(total)):
                ok = False
                break
        if ok and compared >= 2:
            layout.data_rows.remove(r)
            layout.row_reasons[r] = "total_unlabelled"
            layout.notes.append(f"row {r + 1} has no label but its values are the sums of the "
                                f"{len(group)} rows above it: treated as a subtotal row")
        group = []


_TRANSPOSED_LABEL_COLS = 6  # the indicator names stand in one of the first columns


def _indicator_rows(grid: _Grid, c: int) -> list[int]:
    """Rows whose cell in column ``c`` names a catalog indicator."""
    return [r for r, row in enumerate(grid.cells)
            if c < len(row) and isinstance(row[c], str) and _match(row[c])]


def _detect_transposed(grid: _Grid, merges: dict[tuple[int, int], MergedRange]) -> Layout | None:
    """A 横表: indicators as rows, counties as columns.

    Recognised by its content: a column (among the first few) in which at least three rows name
    catalog indicators, and right above the first of them (after any units or code row) a
    header row in which at least one cell right of that column names a county-level unit.  A
    county form (``指标 | 数值``) or a form with period columns (``指标 | 2012年上半年``) has no
    county in that row, so it is not taken for one.

    Every header cell right of the indicator column is a county column unless it is a 合计
    (``total``), 单位 (``unit``), 备注 (``remark``) or 序号 (``sequence``) column — a county name
    the code books do not know still makes a county column, so its cells reach the cleaning
    step and are quarantined there with the name, instead of vanishing.
    """
    n = grid.n_rows
    label_c = hits = None
    for c in range(min(grid.n_cols, _TRANSPOSED_LABEL_COLS)):
        found = _indicator_rows(grid, c)
        if len(found) >= 3:
            label_c, hits = c, found
            break
    if label_c is None:
        return None
    header = hits[0] - 1
    while header >= 0 and (not any(grid.texts(header)) or _is_code_row(grid.texts(header))
                           or _is_units_row(grid.texts(header))):
        header -= 1
    if header < 0:
        return None
    texts = [_text(_filled(grid, merges, header, c)) for c in range(grid.n_cols)]
    if not any(t and is_place_name(t) for t in texts[label_c + 1:]):
        return None
    # a second header level above (序号 | 指标 | 内江市 (merged) | 乐山市 (merged) | 备注): it names
    # the columns the county row leaves empty
    top = header
    if header > 0 and not _is_title_row(grid, merges, header - 1):
        upper = [_text(_filled(grid, merges, header - 1, c)) for c in range(grid.n_cols)]
        upper_cells = [t for t in upper if t]
        if (len(upper_cells) >= 2 and not any(_is_meta_cell(t) for t in upper_cells)
                and not _has_number(grid, header - 1)):
            top = header - 1
            texts = [t or u for t, u in zip(texts, upper)]
    layout = Layout("transposed", header_rows=list(range(top, header + 1)))
    _scan_top(grid, top, layout)
    for r in range(top, header + 1):
        layout.row_reasons[r] = "header"
    columns = [Column(label_c, texts[label_c], role="label")]
    for c in range(grid.n_cols):
        if c == label_c:
            continue
        t = texts[c]
        k = _key(t)
        if not t:
            columns.append(Column(c, "", role="data"))  # no header: its cells stay unplaced
        elif c < label_c or k in _SEQ_KEYS:
            columns.append(Column(c, t, role="sequence"))
        elif k in _UNIT_KEYS:
            columns.append(Column(c, t, role="unit"))
        elif k in _REMARK_KEYS:
            columns.append(Column(c, t, role="remark"))
        elif _is_total_label(t):
            columns.append(Column(c, t, role="total"))
        else:
            columns.append(Column(c, t, role="value"))
    layout.columns = columns
    value_cols = [c.col for c in columns if c.role == "value"]
    # a header of two levels: the prefecture merged over its counties, one row up
    for col in columns:
        if col.role == "value" and top < header:
            above = _text(_filled(grid, merges, header - 1, col.col))
            if above and prefecture_code(above) is not None:
                col.prefecture = above
    in_footer = False
    for r in range(header + 1, n):
        row_texts = grid.texts(r)
        if not any(row_texts):
            layout.row_reasons[r] = "blank"
            continue
        label = row_texts[label_c] if label_c < len(row_texts) else ""
        has_value = any(c < len(row_texts) and row_texts[c] for c in value_cols)
        footer, in_footer = _footer_state(label, row_texts, has_value, in_footer)
        if footer:
            layout.row_reasons[r] = "footer"
            continue
        if _is_code_row(row_texts):
            layout.row_reasons[r] = "code_row"
            continue
        if _is_units_row(row_texts):
            layout.row_reasons[r] = "units_row"
            continue
        if _is_total_label(label):
            layout.row_reasons[r] = "total"
            continue
        if label and not has_value and _match(label) is None:
            layout.row_reasons[r] = "section"  # "一、组织活力" group headings
            continue
        if not label and not has_value:
            layout.row_reasons[r] = "blank"  # only a sequence number or a stray remark
            continue
        layout.data_rows.append(r)
    if layout.prefecture_text is None and layout.title:
        layout.prefecture_text = _place_from_title(layout.title)
    return layout


def _detect_form(grid: _Grid, scores: list[tuple[int, int]]) -> Layout | None:
    """A county form: a header row with 指标 and 数值 (and no county column), or a first text
    column naming ≥ 3 catalog indicators one per row."""
    n = grid.n_rows
    header_row = label_c = value_c = None
    for r in range(min(n, _HEADER_SCAN_ROWS)):
        if scores[r][1] == 0:
            continue  # no label word, so no 指标 text cell: not the form's header
        keys = grid.keys(r)
        li = next((c for c, k in enumerate(keys) if k in _INDICATOR_KEYS), None)
        vi = next((c for c, k in enumerate(keys) if k in _VALUE_KEYS or parse_period(k)), None)
        has_county = any(k in _COUNTY_KEYS and k not in _UNIT_KEYS for k in keys)
        if li is not None and vi is not None and not has_county:
            header_row, label_c, value_c = r, li, vi
            break
    if header_row is None:
        # no header: a column where ≥ 3 rows name catalog indicators and the row scores say
        # no row is a table header (at most one match per row)
        if any(m >= 2 for m, _ in scores):
            return None
        for c in range(min(grid.n_cols, 4)):
            hits = [r for r, row in enumerate(grid.cells)
                    if c < len(row) and isinstance(row[c], str) and _match(row[c])]
            if len(hits) >= 3 and 0 < hits[0] <= len(scores) and scores[hits[0] - 1][1] >= 2:
                return None  # a header of label words above (单位名称 | 指标名称 | 指标值): a long table
            if len(hits) >= 3:
                label_c, value_c = c, c + 1
                header_row = hits[0] - 1
                break
        if label_c is None:
            return None
    has_header = header_row is not None and label_c is not None and (
        _key(grid.cell(header_row, label_c)) in _INDICATOR_KEYS) if header_row >= 0 else False
    if not has_header:
        header_row = -1 if header_row is None else header_row
    layout = Layout("form", header_rows=[header_row] if has_header else [])
    _scan_top(grid, header_row + (0 if has_header else 1), layout)
    if has_header:
        layout.row_reasons[header_row] = "header"
    cols = [Column(label_c, _text(grid.cell(header_row, label_c)) if has_header else "", role="label")]
    value_cols = [value_c]
    if has_header:
        # more value columns: further 数值 columns or columns headed by a period (2012H1, 2012H2 …)
        for c in range(grid.n_cols):
            k = _key(grid.cell(header_row, c))
            if c != value_c and c != label_c and k and (parse_period(k) or k in _VALUE_KEYS):
                value_cols.append(c)
        for c in range(grid.n_cols):
            k = _key(grid.cell(header_row, c))
            if c in value_cols or c == label_c or not k:
                continue
            # any other headed column (上年同期, 去年数 …) is no value of this period: its cells
            # are set aside under their header, like an unknown column of a summary
            role = ("unit" if k in _UNIT_KEYS else "remark" if k in _REMARK_KEYS
                    else "sequence" if k in _SEQ_KEYS
                    else "personal" if k in _PERSONAL_KEYS or "姓名" in k else "data")
            cols.append(Column(c, _text(grid.cell(header_row, c)), role=role))
    for c in sorted(value_cols):
        cols.append(Column(c, _text(grid.cell(header_row, c)) if has_header else "", role="value"))
    layout.columns = sorted(cols, key=lambda x: x.col)
    in_footer = False
    for r in range(header_row + 1, n):
        texts = grid.texts(r)
        if not any(texts):
            layout.row_reasons[r] = "blank"
            continue
        label = texts[label_c] if label_c < len(texts) else ""
        has_value = any(c < len(texts) and texts[c] for c in value_cols)
        footer, in_footer = _footer_state(label, texts, has_value, in_footer)
        if footer:
            layout.row_reasons[r] = "footer"
            continue
        if _is_meta_cell(label):
            layout.row_reasons[r] = "meta"
            continue
        if label and not has_value and _match(label) is None:
            layout.row_reasons[r] = "section"  # "一、组织活力" group headings
            continue
        if _is_code_row(texts):
            layout.row_reasons[r] = "code_row"
            continue
        layout.data_rows.append(r)
    # the county of a form: 填报单位 line, else a "县（市、区）：喜德县" line, else the title
    for r in range(max(header_row + 1, 0)):
        for t in grid.texts(r):
            m = re.match(r"^(县（市、区）|县\(市、区\)|县市区|县名|单位名称|填报单位)[:：]\s*(.+)$", t)
            if m:
                layout.county_text = _clean_org(m.group(2))
    if layout.county_text is None and layout.prefecture_text:
        layout.county_text = layout.prefecture_text
        layout.prefecture_text = None
    if layout.county_text is None and layout.title:
        layout.county_text = _place_from_title(layout.title)
    if layout.county_text is None and is_place_name(grid.sheet.name):
        layout.county_text = str(grid.sheet.name).strip()  # one sheet per county
    if layout.county_text is not None and layout.prefecture_text == layout.county_text:
        layout.prefecture_text = None
    return layout


# --------------------------------------------------------------------------------------------
# extraction


def extract_records(sheet: Sheet, layout: Layout, file: str | Path | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """One row per data cell, with where it came from; and one row per structure row.

    Parameters
    ----------
    sheet : Sheet
    layout : Layout
        From :func:`detect_layout` (for this very sheet).
    file : str or path-like, optional
        The submission's path as the pipeline names it (default ``sheet.file``).

    Returns
    -------
    records : DataFrame
        Columns :data:`RECORD_COLUMNS`: ``source_file``, ``source_sheet``, ``source_cell`` (A1),
        ``sheet_hidden``, ``layout``, ``county_text`` (row label as written), ``prefecture_text``
        (from a 市州 column, 填报单位, the title, else an ``XX市团委`` in the file or folder name),
        ``header_text`` (all header rows of the
        column; for forms the indicator label), ``indicator`` (catalog code; missing for unknown columns),
        ``header_unit``, ``raw_value`` (as read, untouched), ``period_text`` (period column or
        header, else the 截至 line, else the title), ``title``, ``record_id``
        (``file|sheet|row`` — the county record; ``file|sheet`` for a form), ``source_row``
        (1-based), ``cutoff_text``, ``county_code_text``.  Data cells that are empty are kept
        (``raw_value`` ``""``) so the cleaning step can count them as missing.
    structure : DataFrame
        Columns :data:`STRUCTURE_COLUMNS`: one row per sheet row that holds no data, with
        ``reason``.

    Raises
    ------
    LayoutError
        For a non-empty sheet of layout ``unknown``.
    """
    src = str(file if file is not None else sheet.file)
    columns, structure_rows = _extract_columns(sheet, layout, src)
    structure = pd.DataFrame(structure_rows, columns=STRUCTURE_COLUMNS)
    out = pd.DataFrame(columns, columns=RECORD_COLUMNS)
    out["raw_value"] = out["raw_value"].astype(object)
    return out, structure


def _extract_columns(sheet: Sheet, layout: Layout, src: str) -> tuple[dict[str, list], list[tuple]]:
    """:func:`extract_records` as plain lists: one list per record column, one tuple per
    structure row (in :data:`STRUCTURE_COLUMNS` order, sorted by row).

    The pipeline stacks these lists over every sheet and builds one DataFrame at the end:
    building two DataFrames per sheet cost more than detecting the layout (measured on the
    demo data: 1.3 s of 3.8 s).
    """
    grid = _Grid(sheet)
    structure = [(src, sheet.name, r + 1, reason, " | ".join(t for t in grid.texts(r) if t))
                 for r, reason in sorted(layout.row_reasons.items())]
    cols: dict[str, list] = {c: [] for c in RECORD_COLUMNS}
    if layout.kind == "unknown":
        if any(_nonempty(sheet, r) for r in range(grid.n_rows)):
            raise LayoutError(
                "layout not recognised: no header row naming catalog indicators, no 指标/数值 form "
                f"({'; '.join(layout.notes)}) — 请使用统一模板，或在 indicators.csv 中补充表头同义词",
                file=src, sheet=sheet.name, rule="layout_unknown",
            )
        return cols, structure
    fname = Path(src).name
    default_period = layout.cutoff_text or layout.title
    prefecture = _sheet_prefecture(layout, sheet, src)
    role = {c.role: c for c in layout.columns}
    cells = sheet.cells

    def raw(r: int, c: int) -> Any:
        # Sheet.cell without the method call: rows may be shorter than the widest row
        row = cells[r] if 0 <= r < len(cells) else ()
        return row[c] if 0 <= c < len(row) else ""

    def cell_text(r: int, c: Column | None) -> str | None:
        """The cell as written (only an empty cell becomes None); names are matched later."""
        if c is None:
            return None
        v = raw(r, c.col)
        if _empty(v):
            return None
        return _text(v) if not isinstance(v, str) else v

    # one entry per record, in record order; the constant columns are filled at the end
    rows_out: list[int] = []
    cell_out: list[str] = []
    col_out: list[int] = []  # 0-based column of each record (the census places records by it)
    county_out: list = []
    pref_out: list = []
    header_out: list = []
    indicator_out: list = []
    unit_out: list = []
    raw_out: list = []
    period_out: list = []
    id_out: list = []
    code_out: list = []
    remark_cols = [c for c in layout.columns if c.role == "remark"]
    # a form's other headed columns (上年同期 …): set aside under their own header
    aside_cols = ([c for c in layout.columns if c.role == "data" and c.header_text]
                  if layout.kind == "form" else [])

    def add_remark(r: int, county: object, pref: object, period: object, code: object,
                   record: str, columns: list[Column] = remark_cols) -> None:
        """The remark (备注) cells of a record row — and a form's other headed columns: records
        of their own, set aside by the cleaning step and kept in the audit beside the row."""
        for col in columns:
            text = cell_text(r, col)
            if text is None:
                continue
            rows_out.append(r + 1)
            cell_out.append(f"{col_letter(col.col)}{r + 1}")
            col_out.append(col.col)
            county_out.append(county)
            pref_out.append(pref)
            header_out.append(col.header_text)
            indicator_out.append(None)
            unit_out.append(None)
            raw_out.append(raw(r, col.col))
            period_out.append(period)
            id_out.append(record)
            code_out.append(code)

    if layout.kind in ("form", "transposed"):
        label = role["label"]
        unit_c = role.get("unit")
        value_cols = [c for c in layout.columns if c.role == "value"]
        form_id = f"{fname}|{sheet.name}"
        if layout.kind == "form":
            periods = [vc.header_text if parse_period(vc.header_text) else default_period
                       for vc in value_cols]
            counties = [layout.county_text] * len(value_cols)
        else:  # one county per column, named in the header
            periods = [default_period] * len(value_cols)
            counties = [vc.header_text for vc in value_cols]
        letters = [col_letter(vc.col) for vc in value_cols]
        for r in layout.data_rows:
            text = _text(raw(r, label.col))
            row_unit = cell_text(r, unit_c) or _unit_of(text)
            indicator = _match(text)
            for vc, per, county, col_name in zip(value_cols, periods, counties, letters):
                rows_out.append(r + 1)
                cell_out.append(f"{col_name}{r + 1}")
                col_out.append(vc.col)
                county_out.append(county)
                pref_out.append(vc.prefecture or prefecture)
                header_out.append(text)
                indicator_out.append(indicator)
                unit_out.append(row_unit)
                raw_out.append(raw(r, vc.col))
                period_out.append(per)
                id_out.append(form_id)
                code_out.append(None)
            if remark_cols or aside_cols:
                add_remark(r, layout.county_text if layout.kind == "form" else None, prefecture,
                           default_period, None, form_id, remark_cols + aside_cols)
    else:
        # the first column of each role (the last one would win in ``role``)
        first = {}
        for c in layout.columns:
            first.setdefault(c.role, c)
        county_c, pref_c, period_c = first.get("county"), first.get("prefecture"), first.get("period")
        code_c = first.get("county_code")
        merges = _merge_lookup(sheet) if sheet.merged else {}
        grid = _Grid(sheet) if merges else None

        def label_text(r: int, c: Column | None) -> str | None:
            """A row label as written, taking a merged block's value (a county cell merged over
            its 上半年/下半年 rows, a 市（州） cell merged over its counties)."""
            if c is None:
                return None
            if merges and (r, c.col) in merges:
                v = _filled(grid, merges, r, c.col)
                return None if _empty(v) else (_text(v) if not isinstance(v, str) else v)
            return cell_text(r, c)
        if layout.long:
            label, value_c, unit_c = role["label"], role["value"], role.get("unit")
            data_cols: list[Column] = [value_c]
        else:
            # a column nobody headed names no indicator: its cells are unplaced, not records
            data_cols = [c for c in layout.columns if c.role == "data" and c.header_text]
        k = len(data_cols)
        # what is the same in every row, computed once: the cells' columns and column letters,
        # and (wide tables) each column's header, indicator and unit
        col_index = [c.col for c in data_cols]
        letters = [col_letter(c) for c in col_index]
        headers = [c.header_text for c in data_cols]
        indicators = [c.indicator for c in data_cols]
        units = [c.header_unit for c in data_cols]
        group = _prefecture_groups(sheet, layout, pref_c) if pref_c is not None else {}
        beside = _county_of_columns(layout, data_cols)  # side by side: each block's own county
        last_county = last_period = None
        for r in layout.data_rows:
            if not k and not remark_cols:
                break
            pref = group.get(r) or prefecture
            own_period = label_text(r, period_c)
            period = own_period or default_period
            code = label_text(r, code_c)
            county = label_text(r, county_c)
            if (county is None and code is None and own_period is not None
                    and last_county is not None and own_period != last_period):
                # a county written once above its rows of several periods (下半年 under 上半年)
                county = last_county
            last_county, last_period = (county, own_period) if county is not None else (None, None)
            if k and beside:
                counties = [label_text(r, beside.get(c.col, county_c)) for c in data_cols]
                keep = [i for i, (ct, c) in enumerate(zip(counties, col_index))
                        if ct is not None or not _empty(raw(r, c))]
                county_out += [counties[i] for i in keep]
                n_keep = len(keep)
                pref_out += [pref] * n_keep
                period_out += [period] * n_keep
                id_out += [f"{fname}|{sheet.name}|{r + 1}"] * n_keep
                rows_out += [r + 1] * n_keep
                code_out += [code if beside.get(col_index[i]) in (None, county_c) else None
                             for i in keep]
                header_out += [headers[i] for i in keep]
                indicator_out += [indicators[i] for i in keep]
                unit_out += [units[i] for i in keep]
                cell_out += [f"{letters[i]}{r + 1}" for i in keep]
                col_out += [col_index[i] for i in keep]
                raw_out += [raw(r, col_index[i]) for i in keep]
            elif k:
                county_out += [county] * k
                pref_out += [pref] * k
                period_out += [period] * k
                id_out += [f"{fname}|{sheet.name}|{r + 1}"] * k
                rows_out += [r + 1] * k
                code_out += [code] * k
                if layout.long:  # one data column: the value; the row's label names the indicator
                    text = _text(raw(r, label.col))
                    header_out += [text] * k
                    indicator_out += [_match(text)] * k
                    unit_out += [cell_text(r, unit_c) or _unit_of(text)] * k
                else:
                    header_out += headers
                    indicator_out += indicators
                    unit_out += units
                row_no = str(r + 1)
                cell_out += [col_name + row_no for col_name in letters]
                col_out += col_index
                row = cells[r]  # a data row is inside the grid, but may be shorter than the widest
                width = len(row)
                raw_out += [row[c] if c < width else "" for c in col_index]
            if remark_cols:
                add_remark(r, county, pref, period, code, f"{fname}|{sheet.name}|{r + 1}")
    n = len(rows_out)
    cols.update(
        source_file=[src] * n, source_sheet=[sheet.name] * n, source_cell=cell_out,
        sheet_hidden=[sheet.hidden] * n, layout=[layout.kind] * n, county_text=county_out,
        prefecture_text=pref_out, header_text=header_out, indicator=indicator_out,
        header_unit=unit_out, raw_value=raw_out, period_text=period_out,
        title=[layout.title] * n, record_id=id_out, source_row=rows_out,
        cutoff_text=[layout.cutoff_text] * n, county_code_text=code_out,
    )
    cols[SOURCE_COL] = col_out
    # a data row with no data column (a table of names only) still has to be accounted for
    empty = sorted(set(r + 1 for r in layout.data_rows) - set(rows_out))
    if empty:
        texts = (grid or _Grid(sheet)).texts
        extra = [(src, sheet.name, r, "no_data_cells", " | ".join(t for t in texts(r - 1) if t))
                 for r in empty]
        structure = sorted(structure + extra, key=lambda row: row[2])  # stable, as before
    return cols, structure


def _county_of_columns(layout: Layout, data_cols: list[Column]) -> dict[int, Column]:
    """For tables side by side (a second county column to the right of the first), the county
    column each data column takes its county from: the nearest one to its left (unpivotr's
    "label to the left").  Empty when the table has one county column."""
    counties = sorted((c for c in layout.columns if c.role == "county"), key=lambda c: c.col)
    if len(counties) < 2:
        return {}
    out = {}
    for c in data_cols:
        left = [k for k in counties if k.col < c.col]
        out[c.col] = left[-1] if left else counties[0]
    return out


def _sheet_prefecture(layout: Layout, sheet: Sheet, src: str) -> str | None:
    """The prefecture a sheet reports for, when no cell of its rows names one: the layout's
    (填报单位, title), else a sheet named after a prefecture (one sheet per prefecture: 成都市,
    绵阳市 …), else the sending committee in the file or folder name."""
    if layout.prefecture_text is not None:
        return layout.prefecture_text
    if prefecture_code(sheet.name) is not None:
        return str(sheet.name).strip()
    # "雅安市团委/名山县_….xlsx", "甘孜州团委_各县（市）团建情况….xlsx": the sending committee
    # in the path names the prefecture when the sheet does not
    m = _COMMITTEE_IN_PATH.search(str(Path(src).parent.name) + "/" + Path(src).stem)
    if m and m.group(1) != layout.county_text:
        return m.group(1)
    # "乐山市2013年上半年驻点县指标.xlsx": a file (or folder) named after the prefecture first
    for name in (Path(src).stem, Path(src).parent.name):
        head = _place_from_title(name.strip(" -=_+"))
        if head is not None and prefecture_code(head) is not None:
            return head
    return None


def _prefecture_groups(sheet: Sheet, layout: Layout, pref_c: Column) -> dict[int, str]:
    """The prefecture of each data row of a table grouped by prefecture: the 市（州） cell of the
    row, of the merged block it lies in, or — written once per group — of the group's first
    row; a 小计/合计 row closes a group."""
    merges = _merge_lookup(sheet)
    grid = _Grid(sheet)
    out: dict[int, str] = {}
    current: str | None = None
    data = set(layout.data_rows)
    first = min(data, default=0)
    for r in range(first, max(data, default=-1) + 1):
        if r in data:
            t = _text(_filled(grid, merges, r, pref_c.col))
            current = t or current
            if current:
                out[r] = current
        elif layout.row_reasons.get(r) in ("total", "total_unlabelled"):
            current = None
    return out
