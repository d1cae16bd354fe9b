"""The cleaning pipeline: raw submissions → one tidy, audited long panel.

:func:`clean` is the second half of the ingest step.  For every file found under the given
paths it reads the sheets and extracts one record per data cell (``read``/``layout``), then

1. classifies each record's column: a catalog indicator, a reported rate, a remark (备注) or an
   unknown column (set aside, counted per file);
2. reads the period (period column, else title / 截至 line / file name) and the county
   (``reference.resolve_counties`` with the prefecture hint, as of the period) and maps the county
   to the 2008 comparison base (``reference.to_base``);
3. parses each value into the catalog unit (``values.parse_value``);
4. applies the per-cell rules of :mod:`analysis.ingest.validate`;
5. resolves repeats of one (county, period, indicator): identical copies are merged (one kept,
   the others counted and audited), different copies are all quarantined (``duplicate_conflict``);
6. applies the cross-field rules and compares reported rates with their counts;
7. builds the outputs and checks **row conservation**: for every file, data cells in = clean +
   quarantined + merged + set aside.

The roster workbook (驻点干部名册) becomes a roster table in which each cadre's name is replaced by
a stable pseudonymous id, HMAC-SHA256 of the name keyed with a secret salt (see :func:`load_salt`);
names never leave this module.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import os
import re
import secrets
import sys
import time
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

from analysis.catalog import load_catalog, normalize_label
from analysis.ingest.errors import IngestError, PeriodError
from analysis.ingest.frames import object_frame
from analysis.ingest.periods import parse_period, periods_from_file
from analysis.ingest.validate import (
    FAILURE_COLUMNS,
    check_cells,
    check_cross,
    failure_rows,
    reconcile_rates,
)
from analysis.ingest.values import PLACEHOLDERS, parse_value

__all__ = [
    "SUPPORTED_SUFFIXES",
    "INDICATOR_COLUMNS",
    "QUARANTINE_COLUMNS",
    "AUDIT_COLUMNS",
    "QUALITY_COLUMNS",
    "FILE_COLUMNS",
    "ROSTER_COLUMNS",
    "RECORD_COLUMNS",
    "CleanResult",
    "ConservationError",
    "discover_files",
    "load_salt",
    "pseudonym",
    "clean_records",
    "roster_from_table",
    "clean",
]

SUPPORTED_SUFFIXES = (".xlsx", ".xlsm", ".xls", ".ods", ".csv", ".tsv", ".txt", ".htm", ".html")
"""File types read by :func:`clean`; anything else under the raw folders is ignored (and listed)."""

INDICATOR_COLUMNS = ["county_code", "base_code", "period", "indicator", "value", "unit",
                     "source_file", "source_sheet", "source_cell"]
QUARANTINE_COLUMNS = FAILURE_COLUMNS
AUDIT_COLUMNS = ["record_id", "source_file", "source_sheet", "source_cell", "county_code",
                 "period", "indicator", "stage", "rule", "action", "before", "after", "note"]
QUALITY_COLUMNS = ["county_code", "base_code", "period", "expected", "reported", "missing",
                   "completeness", "fixes", "quarantined"]
FILE_COLUMNS = ["source_file", "status", "error", "sheets", "hidden_sheets", "layouts",
                "records_in", "clean", "quarantined", "merged", "set_aside", "structure_rows",
                "roster_rows", "unknown_columns"]
ROSTER_COLUMNS = ["round", "batch", "county_text", "county_code", "base_code", "cadre_id",
                  "sending_unit", "start", "end", "assessment", "task_1", "task_2", "task_3",
                  "task_4", "task_5", "source_file", "source_sheet", "source_row"]

REMARK_HEADERS = frozenset({"备注", "说明", "备注说明", "情况说明", "备注（说明）"})
"""Headers of remark columns; their text may explain a cross-field exception."""

ROSTER_MARKERS = ("名册", "驻点干部")
"""A sheet or file whose name or title holds one of these is the residency roster."""

SALT_ENV = "RESIDENCY_SALT"
SALT_FILE_NAME = ".salt"

Resolver = Callable[..., pd.DataFrame]


class ConservationError(AssertionError):
    """Records were lost or double-counted between the input files and the outputs."""


# --------------------------------------------------------------------------------------------
# files
# --------------------------------------------------------------------------------------------
def discover_files(raw_paths: Iterable[str | os.PathLike]) -> list[tuple[Path, str]]:
    """Every submission under the given files and folders, walked recursively.

    Symbolic links to folders are followed, but a folder already visited (by device and inode) is
    not entered again, so link loops end.  Hidden files, Office lock files (``~$…``) and files
    with other suffixes than :data:`SUPPORTED_SUFFIXES` are skipped.

    Parameters
    ----------
    raw_paths : iterable of path-like
        Files or folders.

    Returns
    -------
    list of (Path, str)
        The file and its name relative to the folder it was found under (POSIX form; the file
        name alone for a file given directly; the full path when two given folders hold the same
        relative name), sorted by that name, without repeats.

    Raises
    ------
    FileNotFoundError
        A given path does not exist (the message names it).
    """
    found: dict[tuple[int, int], tuple[Path, str]] = {}
    for given in raw_paths:
        root = Path(given)
        if not root.exists():
            raise FileNotFoundError(f"raw path {root} does not exist; pass a folder or file of "
                                    "submissions")
        if root.is_file():
            _add_file(found, root, root.name)
            continue
        seen_dirs: set[tuple[int, int]] = set()
        for dirpath, dirnames, filenames in os.walk(root, followlinks=True):
            st = os.stat(dirpath)
            if (st.st_dev, st.st_ino) in seen_dirs:
                dirnames[:] = []
                continue
            seen_dirs.add((st.st_dev, st.st_ino))
            dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
            for name in sorted(filenames):
                path = Path(dirpath) / name
                _add_file(found, path, path.relative_to(root).as_posix())
    items = sorted(found.values(), key=lambda item: item[1])
    names = [rel for _, rel in items]
    if len(set(names)) < len(names):
        # the same relative name under two given folders: name files by their full path so
        # that record ids stay unique and every file can still be found
        items = sorted(((p, p.resolve().as_posix()) for p, _ in items), key=lambda i: i[1])
    return items


def _add_file(found: dict, path: Path, rel: str) -> None:
    name = path.name
    if name.startswith((".", "~$")) or path.suffix.lower() not in SUPPORTED_SUFFIXES:
        return
    try:
        st = path.stat()
    except OSError:  # a dangling link: nothing to read
        return
    found.setdefault((st.st_dev, st.st_ino), (path, rel))


# --------------------------------------------------------------------------------------------
# pseudonyms
# --------------------------------------------------------------------------------------------
def load_salt(salt_file: str | os.PathLike | None = None) -> bytes:
    """The secret key for cadre pseudonyms.

    Order: the environment variable ``RESIDENCY_SALT`` (any text); else the file ``salt_file``
    (default ``data/processed/.salt``), created with 32 random bytes (hex) and mode 0600 on first
    use.  ``.salt`` files are ignored by git.  Keep the salt as long as ids must stay comparable
    between runs; with a new salt every id changes, and without it ids cannot be linked to names.

    Parameters
    ----------
    salt_file : path-like, optional
        Where the salt lives when the environment variable is not set.

    Returns
    -------
    bytes
    """
    env = os.environ.get(SALT_ENV)
    if env:
        return env.encode("utf-8")
    if salt_file is None:
        from analysis.config import paths

        salt_file = paths().processed / SALT_FILE_NAME
    path = Path(salt_file)
    if path.is_file():
        text = path.read_text(encoding="utf-8").strip()
        if text:
            return text.encode("utf-8")
    path.parent.mkdir(parents=True, exist_ok=True)
    text = secrets.token_hex(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text + "\n")
    return text.encode("utf-8")


def pseudonym(name: object, salt: bytes) -> str | None:
    """Stable pseudonymous id of a person: ``"P"`` + 16 hex digits of HMAC-SHA256(salt, name).

    The name is NFKC-folded and stripped of spaces first, so ``"张 三"`` and ``"张三"`` get the same
    id.  An empty name gives ``None``.
    """
    if name is None or (isinstance(name, float) and np.isnan(name)):
        return None
    text = re.sub(r"\s+", "", unicodedata.normalize("NFKC", str(name)))
    if not text:
        return None
    return "P" + hmac.new(salt, text.encode("utf-8"), hashlib.sha256).hexdigest()[:16]


# --------------------------------------------------------------------------------------------
# result
# --------------------------------------------------------------------------------------------
@dataclass
class CleanResult:
    """Everything :func:`clean` produces (all tidy DataFrames).

    Attributes
    ----------
    indicators : long clean values, :data:`INDICATOR_COLUMNS`; ``value`` in the catalog ``unit``
        (NaN = reported as missing, e.g. "—").
    quarantine : cells kept out of ``indicators``, one row per cell and rule (failure table).
    audit : every transformation raw → clean (value readings, merged repeats, recomputed rates,
        explained exceptions, set-aside cells), one row per cell and rule.
    quality : per county and period: expected and reported indicators, completeness, fixes,
        quarantined cells.
    files : per input file: records in, clean, quarantined, merged, set aside, structure rows,
        layouts, hidden sheets, unknown columns, error.
    roster : residency roster, cadre names replaced by ``cadre_id``.
    structure : rows the layout step dropped as structure (titles, totals, footers) with reason.
    """

    indicators: pd.DataFrame
    quarantine: pd.DataFrame
    audit: pd.DataFrame
    quality: pd.DataFrame
    files: pd.DataFrame
    roster: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=ROSTER_COLUMNS))
    structure: pd.DataFrame = field(default_factory=pd.DataFrame)
    timings: dict[str, float] = field(default_factory=dict)
    """CPU seconds per phase of :func:`clean` (for benchmarks; never written to the outputs)."""

    def to_frame(self) -> pd.DataFrame:
        """The clean long indicator table."""
        return self.indicators

    def summary(self) -> dict[str, object]:
        """Counts for the command line: files, records, clean, quarantined (by rule)."""
        q = self.quarantine
        return {
            "files": int(len(self.files)),
            "unreadable_files": int((self.files["status"] != "ok").sum()) if len(self.files) else 0,
            "records": int(self.files["records_in"].sum()) if len(self.files) else 0,
            "clean": int(len(self.indicators)),
            "quarantined": int(q["record_id"].nunique()) if len(q) else 0,
            "quarantined_by_rule": q["rule"].value_counts().sort_index().to_dict() if len(q) else {},
            "roster_rows": int(len(self.roster)),
        }


# --------------------------------------------------------------------------------------------
# records → clean values
# --------------------------------------------------------------------------------------------
RECORD_COLUMNS = ["record_id", "source_file", "source_sheet", "source_cell", "county_text",
                  "prefecture_text", "header_text", "indicator", "header_unit", "raw_value",
                  "period_text", "title"]


def _default_resolver(values, prefecture=None, as_of=None) -> pd.DataFrame:
    """``reference.resolve_counties`` semantics (code, error per value), cached per call key.

    ``resolve_counties`` also looks up each unit's name, which the pipeline does not need and
    which dominated the run time on the demo data (measured: 10 of 32 s); calling
    ``resolve_county`` through a cache keyed by (text, prefecture, code-book year) gives the
    same codes and errors.
    """
    year = str(as_of)[:4] if as_of is not None else None
    got = [_resolve_one(str(v), None if prefecture is None else str(prefecture), year)
           for v in values]
    return pd.DataFrame(got, columns=["code", "error"])


@lru_cache(maxsize=65536)
def _resolve_one(text: str, prefecture: str | None, year: str | None) -> tuple:
    from analysis.reference import CountyResolutionError, resolve_county

    try:
        return resolve_county(text, prefecture=prefecture, as_of=year), None
    except (CountyResolutionError, ValueError) as exc:
        return None, str(exc)


def _default_to_base(codes) -> pd.Series:
    from analysis.reference import to_base

    return to_base(codes)


def _normalized_headers(headers: pd.Series) -> pd.Series:
    """normalize_label over the distinct headers only (a few dozen per run, not one per cell)."""
    text = _text_or(headers, "")
    table = {h: normalize_label(h) if h else "" for h in text.unique()}
    return _lookup(text, table)


def _lookup(series: pd.Series, mapping: dict, default: object = None) -> pd.Series:
    """``series.map(mapping)`` as one dict lookup per cell (object dtype, ``default`` when
    absent).  Series.map with a dict or Series first builds an index over the mapping and
    converts the result; for 10⁵ cells of a few dozen distinct values that cost more than
    the lookups."""
    get = mapping.get
    return pd.Series([get(x, default) for x in series.tolist()], index=series.index,
                     dtype=object)


def _classify(records: pd.DataFrame, cat: pd.DataFrame) -> tuple[pd.Series, pd.Series]:
    """value / rate / remark / unknown for each record, from its indicator and header; and the
    rate's catalog code for the records whose header names a derived rate (else NaN)."""
    raw_codes = set(cat.index[cat["kind"] == "raw"])
    rate_by_label = {normalize_label(n): c for c, n in cat.loc[cat["kind"] == "derived",
                                                                 "name_zh"].items()}
    header = _normalized_headers(records["header_text"])
    rate_code = _lookup(header, rate_by_label)
    kind = pd.Series("unknown", index=records.index)
    kind[header.isin(REMARK_HEADERS)] = "remark"
    is_rate = rate_code.notna() & records["indicator"].isna()
    kind[is_rate] = "rate"
    kind[records["indicator"].isin(raw_codes)] = "value"
    return kind, rate_code


def _resolve_periods(records: pd.DataFrame) -> tuple[pd.Series, pd.Series, pd.Series]:
    """Period per record, sheet by sheet, from every place that names one.

    ``periods.periods_from_file`` weighs the file name, the title, the 截至 line and the period
    cells of the sheet and raises ``PeriodError`` when they contradict each other; a sheet whose
    period column holds several periods (a multi-period export) is read row by row.

    Returns period (str or None), failing rule (None when found) and note per record.
    """
    n = len(records)
    period = np.full(n, None, dtype=object)
    rule = np.full(n, None, dtype=object)
    note = np.full(n, "", dtype=object)
    none = np.full(n, None, dtype=object)
    titles = records["title"].to_numpy(dtype=object) if "title" in records else none
    cutoffs = records["cutoff_text"].to_numpy(dtype=object) if "cutoff_text" in records else none
    texts = records["period_text"].to_numpy(dtype=object)
    paths = (records["source_path"] if "source_path" in records
             else records["source_file"]).to_numpy(dtype=object)
    # positional indices per sheet: plain numpy indexing is far cheaper than Series lookups
    groups = records.groupby(["source_file", "source_sheet"], sort=False, dropna=False).indices
    for pos in groups.values():
        title = next((t for t in titles[pos] if _present(t)), None)
        cutoff = next((t for t in cutoffs[pos] if _present(t)), None)
        # period cells proper: the text the layout step found in a period column or header,
        # i.e. anything other than the sheet-wide title / 截至 fallbacks
        own = [t for t in dict.fromkeys(texts[pos]) if _present(t) and t not in (title, cutoff)]
        try:
            found = periods_from_file(Path(str(paths[pos[0]])), title, cutoff, own or None)
        except PeriodError as exc:
            rule[pos] = exc.rule or "period_missing"
            note[pos] = exc.message
            continue
        if found is not None:
            period[pos] = found
            continue
        distinct = {t: parse_period(t) for t in dict.fromkeys(texts[pos]) if _present(t)}
        each = np.array([distinct.get(t) if _present(t) else None for t in texts[pos]],
                        dtype=object)
        period[pos] = each
        unread = pos[np.array([e is None for e in each], dtype=bool)]
        rule[unread] = "period_missing"
        note[unread] = "本行期间无法识别"
    index = records.index
    return (pd.Series(period, index=index, dtype=object), pd.Series(rule, index=index, dtype=object),
            pd.Series(note, index=index, dtype=object))


def _text_or(series: pd.Series, empty: object) -> pd.Series:
    """Cells as text, with ``empty`` where the cell is blank or missing.

    The vectorised form of :func:`_present` for columns of 10⁵ cells: each *distinct* value is
    converted once (columns repeat a few hundred distinct texts).
    """
    codes, uniques = pd.factorize(series.astype(object), use_na_sentinel=True)
    converted = [_as_text(u) if not isinstance(u, str) else u for u in uniques]
    table = np.array([t if t.strip() else empty for t in converted] + [empty], dtype=object)
    return pd.Series(table[codes], index=series.index, dtype=object)


def _present(x: object) -> bool:
    if x is None or (isinstance(x, float) and np.isnan(x)):
        return False
    return str(x).strip() != ""


def _resolve_county_codes(records: pd.DataFrame, period: pd.Series,
                          resolver: Resolver) -> tuple[pd.Series, pd.Series]:
    """County code and resolver error per record; one resolver call per prefecture and period."""
    texts = _text_or(records["county_text"], None)
    if "county_code_text" in records:  # a county code column stands in for a missing name
        texts = texts.where(texts.notna(), _text_or(records["county_code_text"], None))
    frame = pd.DataFrame({"county_text": texts,
                          # "" rather than None: groupby keys must compare equal to lookups
                          "prefecture_text": _text_or(records["prefecture_text"], ""),
                          "period": _text_or(period, "")},
                         index=records.index)
    found = _county_lookup(frame, resolver)
    got = [found.get(k, (None, "县（市、区）名称为空"))
           for k in zip(frame["county_text"], frame["prefecture_text"], frame["period"])]
    code = pd.Series([g[0] for g in got], index=records.index, dtype=object)
    error = pd.Series([g[1] for g in got], index=records.index, dtype=object)
    return code, error


def _county_lookup(frame: pd.DataFrame, resolver: Resolver) -> dict[tuple, tuple]:
    """(code or None, error text) per distinct (county text, prefecture text, period).

    The default resolver is called per distinct name through its cache; any other resolver
    once per prefecture and period, over the distinct names only (its documented contract).
    """
    # (prefecture, period) first: a custom resolver is called once per such group
    keys = sorted({k for k in zip(frame["county_text"], frame["prefecture_text"], frame["period"])
                   if k[0] is not None}, key=lambda k: (k[1], k[2], k[0]))
    if resolver is _default_resolver:
        got = {k: _resolve_one(str(k[0]), k[1] or None, k[2][:4] or None) for k in keys}
    else:
        got = {}
        for (pref, per), group in itertools.groupby(keys, key=lambda k: (k[1], k[2])):
            names = [k[0] for k in group]
            res = pd.DataFrame(resolver(pd.Series(names, dtype=object), prefecture=pref or None,
                                        as_of=per or None)).reset_index(drop=True)
            if len(res) != len(names):
                raise RuntimeError(f"resolver returned {len(res)} rows for {len(names)} names")
            got.update({(name, pref, per): (c, e)
                        for name, c, e in zip(names, res["code"], res["error"])})
    found: dict[tuple, tuple] = {}
    for k, (c, e) in got.items():
        ok = _present(c) and not _present(e)
        found[k] = (str(c) if ok else None,
                    "" if ok else (str(e) if _present(e) else "未找到对应的行政区划代码"))
    return found


def _half_zh(period: str) -> str:
    return f"{period[:4]}年{'上' if period.endswith('1') else '下'}半年"


def _note_zh(note: object) -> str:
    """The Chinese part of a reader's note (``"<English> — <中文>"``), with the periods it names.

    Readers write notes for both audiences; the clerk's message keeps the Chinese advice and,
    for period problems, the periods in Chinese.
    """
    text = _as_text(note)
    if " — " not in text:
        return text
    english, chinese = text.rsplit(" — ", 1)
    periods = list(dict.fromkeys(re.findall(r"\d{4}H[12]", english)))
    if periods:
        return "涉及的期间：" + "、".join(_half_zh(p) for p in periods) + "；" + chinese
    return chinese


@lru_cache(maxsize=16)
def _official_names(year: str) -> dict[str, str]:
    """code → official name in the code book of ``year`` ({} when there is none)."""
    from analysis.reference import load_units

    try:
        units = load_units(int(year))
    except (ValueError, KeyError):
        return {}
    return dict(zip(units["code"].astype(str), units["name"].astype(str)))


def _county_note_zh(error: str) -> str:
    """The resolver's (English) reason, retold in Chinese for the clerk's message."""
    if not error:
        return ""
    m = re.search(r"names (\d+) units: (.*?);", error)
    if m:
        return f"该名称对应{m.group(1)}个县级单位：{m.group(2)}，请写明所属市（州）"
    m = re.search(r"close matches: (.*)$", error)
    if m and m.group(1).strip() not in ("", "none"):
        return f"不是四川省县级行政单位名称，相近名称：{m.group(1).strip()}"
    if "no county-level unit" in error:
        return "不是四川省县级行政单位名称（开发区、园区等不单独填报）"
    return error


def _parse_all(records: pd.DataFrame, types: pd.Series, units: pd.Series) -> pd.DataFrame:
    """parse_value on every record, once per distinct (raw, type, unit, header unit).

    The raw value's Python type is part of the key so that 1, 1.0 and True (equal as dict
    keys) stay apart.  Keys are built and looked up with zip/dict in C loops: a per-record
    Python loop with four appends cost more than the parsing itself on the demo data.
    """
    raws = records["raw_value"].tolist()
    header_units = _text_or(records["header_unit"], None).tolist()
    keys = list(zip(map(type, raws), raws, types.tolist(), units.tolist(), header_units))
    try:
        parsed = dict.fromkeys(keys)
    except TypeError:  # an unhashable cell value: key every record by its repr instead
        keys = [(k[0], repr(k[1])) + k[2:] for k in keys]
        parsed = dict.fromkeys(keys)
        by_key = dict(zip(keys, raws))
    else:
        by_key = None
    for key in parsed:
        raw = key[1] if by_key is None else by_key[key]
        p = parse_value(raw, key[2], unit=key[3], header_unit=key[4])
        parsed[key] = (np.nan if p.value is None else float(p.value), p.status, p.rule, p.note)
    got = [parsed[k] for k in keys]
    return pd.DataFrame({"value": [g[0] for g in got], "status": [g[1] for g in got],
                         "parse_rule": [g[2] for g in got], "parse_note": [g[3] for g in got]},
                        index=records.index)


# parser rules that read a value without changing what the clerk wrote: not worth an audit row
_SILENT_PARSE_RULES = frozenset({"number", "yes_no"})


def _audit_rows(rows: pd.DataFrame, stage: str, rule, action: str, before, after,
                note) -> pd.DataFrame:
    """Audit rows for ``rows``; ``rule``, ``before``, ``after`` and ``note`` are one value or
    one per row (by position)."""
    return object_frame({
        "record_id": rows["record_id"], "source_file": rows["source_file"],
        "source_sheet": rows["source_sheet"], "source_cell": rows["source_cell"],
        "county_code": rows["county_code"], "period": rows["period"],
        "indicator": rows["indicator"],
        "stage": stage, "rule": rule, "action": action,
        "before": before, "after": after, "note": note,
    }, len(rows))[AUDIT_COLUMNS]


def _as_texts(series: pd.Series) -> pd.Series:
    """:func:`_as_text` of every cell, computed once per distinct (type, value); the type is
    part of the key because 1, 1.0 and True are equal keys but read differently."""
    cells = series.tolist()
    keys = list(zip(map(type, cells), cells))
    try:
        table = {k: _as_text(k[1]) for k in dict.fromkeys(keys)}
    except TypeError:  # an unhashable cell value
        return pd.Series([_as_text(x) for x in cells], index=series.index, dtype=object)
    return pd.Series([table[k] for k in keys], index=series.index, dtype=object)


def _as_text(x: object) -> str:
    if not _present(x):
        return ""
    if isinstance(x, float) and x.is_integer():
        return str(int(x))
    return str(x)


def clean_records(records: pd.DataFrame, *, structure: pd.DataFrame | None = None,
                  resolver: Resolver | None = None,
                  to_base: Callable[[Sequence[str]], pd.Series] | None = None,
                  catalog: pd.DataFrame | None = None) -> CleanResult:
    """Clean extracted records (one per data cell) into the tidy panel and its side tables.

    Parameters
    ----------
    records : pandas.DataFrame
        As ``layout.extract_records`` returns them, stacked over files: :data:`RECORD_COLUMNS`,
        optionally ``note`` (a remark attached to the cell's row), ``source_path`` (the file on
        disk, for reading the period from its name), ``layout`` and ``sheet_hidden``.
    structure : pandas.DataFrame, optional
        Rows dropped as structure, with ``source_file`` (counted per file).
    resolver : callable, optional
        ``resolver(texts, prefecture=..., as_of="2013H1") -> DataFrame(code, error)``, one row
        per text; default ``analysis.reference.resolve_counties``.
    to_base : callable, optional
        Codes → Series of 2008 base codes; default ``analysis.reference.to_base``.
    catalog : pandas.DataFrame, optional
        Indicator catalog override.

    Returns
    -------
    CleanResult
        ``files`` holds the per-file counts of these records only (no file-level columns).

    Raises
    ------
    ConservationError
        If, for some file, records in ≠ clean + quarantined + merged + set aside.
    """
    cat = load_catalog() if catalog is None else catalog
    prepared = _prepare(records, cat, resolver or _default_resolver)
    return _settle(prepared, structure=structure, to_base=to_base or _default_to_base, cat=cat)


_SETTLE_COLUMNS = ["record_id", "source_file", "source_sheet", "source_cell", "county_text",
                   "county_code", "period", "indicator", "header_text", "raw_value", "value",
                   "kind", "outcome"]
"""Record columns steps 5–7 read (failure rows, audit rows, file counts, quality)."""


@dataclass
class _Prepared:
    """Records after the per-record steps 1–4 of :func:`clean_records`.

    ``rec`` holds the records with ``kind``, ``period``, ``county_code``, the parsed ``value``
    (``status``, ``parse_rule``, ``parse_note``) and ``outcome`` ("" while still undecided);
    ``audits`` and ``failures`` are the rows written so far; ``notes`` the remarks per county
    and period.  Nothing here looks across records of different files, so prepared parts of
    disjoint file sets can be joined (:func:`_join_prepared`) and settled once.
    """

    rec: pd.DataFrame
    audits: list[pd.DataFrame]
    failures: list[pd.DataFrame]
    notes: pd.DataFrame


def _prepare(records: pd.DataFrame, cat: pd.DataFrame, resolver: Resolver) -> _Prepared:
    """Steps 1–4: classify, period and county, parse, per-cell rules (see the module doc)."""
    missing_cols = [c for c in RECORD_COLUMNS if c not in records.columns]
    if missing_cols:
        raise ValueError(f"clean_records: records lack column(s) {missing_cols}")
    rec = records.reset_index(drop=True).copy()
    rec["indicator"] = _text_or(rec["indicator"], None)
    kind, rate_code = _classify(rec, cat)
    rec.loc[kind == "rate", "indicator"] = rate_code[kind == "rate"]

    period, period_rule, period_note = _resolve_periods(rec)
    rec["period"] = period
    code, county_error = _resolve_county_codes(rec, period, resolver)
    rec["county_code"] = code

    audits: list[pd.DataFrame] = []
    failures: list[pd.DataFrame] = []
    outcome = pd.Series("", index=rec.index, dtype=object)

    # 1. cells that hold no catalog indicator are set aside (counted, audited)
    aside = kind.isin(["unknown", "remark"])
    for k, rule in (("unknown", "unknown_column"), ("remark", "remark")):
        rows = rec[kind == k]
        audits.append(_audit_rows(rows, "column", rule, "set_aside", _as_texts(rows["raw_value"]),
                                  "", rows["header_text"].astype(object).fillna("").astype(str)))
    outcome[aside] = "set_aside"
    notes = rec.loc[kind == "remark", ["county_code", "period", "raw_value"]].rename(
        columns={"raw_value": "note"})
    if "note" in rec.columns:
        notes = pd.concat([notes, rec.loc[rec["note"].map(_present),
                                          ["county_code", "period", "note"]]])
    notes = notes[notes["county_code"].notna() & notes["period"].notna()]
    notes["note"] = _as_texts(notes["note"])
    # a remark of "无" / "—" explains nothing
    notes = notes[~notes["note"].map(lambda t: re.sub(r"\s+", "", unicodedata.normalize(
        "NFKC", t)).lower() in PLACEHOLDERS)]

    # 2. period and county must be known for every value or rate cell
    live = ~aside
    bad_period = live & period_rule.notna()
    for rule in sorted(set(period_rule[bad_period])):
        this = bad_period & (period_rule == rule)
        declared = rule if rule in ("period_missing", "period_contradiction") else "period_missing"
        failures.append(failure_rows(rec[this], declared, parser_rule=period_rule[this],
                                     extra={"note": period_note[this].map(_note_zh)}))
    bad_county = live & rec["county_code"].isna() & ~bad_period
    failures.append(failure_rows(rec[bad_county], "county_unknown",
                                 extra={"note": county_error[bad_county].map(_county_note_zh)}))
    outcome[bad_period | bad_county] = "quarantined"
    live &= ~(bad_period | bad_county)

    # county texts that are not the official name of the code they resolved to (喜德, 凉山州喜德县,
    # 达县 in 2013 …) are audited once per cell, so every transformation raw → clean is traceable
    resolved = rec[live]
    # looked up once per distinct (code, period) and per distinct text, not once per cell
    pairs = list(zip(resolved["county_code"].tolist(), resolved["period"].tolist()))
    names = {(c, p): (_official_names(str(p)[:4]).get(c) if _present(p) else None)
             for c, p in dict.fromkeys(pairs)}
    official = pd.Series([names[k] for k in pairs], index=resolved.index, dtype=object)
    written = _text_or(resolved["county_text"], "")
    compact = {t: re.sub(r"\s+", "", t) for t in dict.fromkeys(written.tolist())}
    renamed = official.notna() & pd.Series(
        [compact[t] != o for t, o in zip(written.tolist(), official.tolist())],
        index=resolved.index, dtype=bool)
    rows = resolved[renamed]
    audits.append(_audit_rows(rows, "county", "county_resolved", "fix", written[renamed],
                              rows["county_code"].astype(str) + " " + official[renamed],
                              "县名按行政区划代码规范化"))

    # 3. parse values into the catalog unit
    types = _lookup(rec["indicator"], cat["type"].to_dict(), "number")
    units = _lookup(rec["indicator"], cat["unit"].to_dict())
    units = _text_or(units, None)
    parsed = _parse_all(rec[live], types[live], units[live])
    rec = rec.join(parsed)
    unreadable = live & (rec["status"] == "error")
    failures.append(failure_rows(rec[unreadable], "value_unreadable",
                                 parser_rule=rec.loc[unreadable, "parse_rule"],
                                 extra={"note": rec.loc[unreadable, "parse_note"].map(_note_zh)}))
    outcome[unreadable] = "quarantined"
    live &= ~unreadable
    changed = live & (~rec["parse_rule"].isin(_SILENT_PARSE_RULES)
                      | (rec["parse_note"].astype(object).fillna("") != ""))
    rows = rec[changed]
    audits.append(_audit_rows(rows, "value", rows["parse_rule"],
                              np.where(rows["status"] == "missing", "missing", "fix"),
                              _as_texts(rows["raw_value"]), _as_texts(rows["value"]),
                              rows["parse_note"]))

    # 4. per-cell catalog rules
    values_mask = live & (kind == "value")
    cells = check_cells(rec[values_mask], cat)
    failures.append(cells)
    outcome[rec["record_id"].isin(set(cells["record_id"])) & values_mask] = "quarantined"
    rec["kind"] = kind
    rec["outcome"] = outcome
    # only what the later steps read: prepared records travel back from the worker processes
    return _Prepared(rec=rec[_SETTLE_COLUMNS], audits=audits, failures=failures, notes=notes)


def _join_prepared(parts: list[_Prepared]) -> _Prepared:
    """Prepared parts of disjoint file sets, in order, as one."""
    if len(parts) == 1:
        return parts[0]
    return _Prepared(rec=pd.concat([p.rec for p in parts], ignore_index=True),
                     audits=[a for p in parts for a in p.audits],
                     failures=[f for p in parts for f in p.failures],
                     notes=pd.concat([p.notes for p in parts]))


def _repeats(vals: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame, list[str],
                                           pd.DataFrame, pd.Series]:
    """Step 5: copies of one (county, period, indicator) among the value records.

    Returns ``(kept, merged, keeper id per merged row, conflicting, listing)``: different
    copies are all conflicting (``listing`` names their values in row order); of identical
    copies the first that holds a value is kept, in the order (file, sheet, record id), and the
    others are merged.  Only records with copies are sorted (a few dozen of 10⁵ on the demo).
    """
    key = ["county_code", "period", "indicator"]
    gid = vals.groupby(key, sort=False, dropna=False).ngroup().to_numpy()
    multi = (np.bincount(gid)[gid] > 1) if len(gid) else np.zeros(0, dtype=bool)
    many = vals[multi].sort_values(["source_file", "source_sheet", "record_id"], kind="stable")
    gid = many.groupby(key, sort=True, dropna=False).ngroup().to_numpy()
    rounded = many["value"].round(9).to_numpy(dtype=float)
    # nunique ignores NaN: a "—" copy never conflicts with a number
    has_value = ~np.isnan(rounded)
    pairs = pd.DataFrame({"g": gid[has_value], "v": rounded[has_value]}).drop_duplicates()
    distinct = (np.bincount(pairs["g"].to_numpy(), minlength=gid.max() + 1)[gid] if len(gid)
                else np.zeros(0, dtype=int))
    conflict = distinct > 1
    conflicting = many[conflict]
    # the distinct values of each group, in row order
    seen: dict[int, dict[str, None]] = {}
    for g, x in zip(gid[conflict].tolist(), _as_texts(conflicting["raw_value"]).tolist()):
        seen.setdefault(g, {})[x] = None
    joined = np.full(gid.max() + 1 if len(gid) else 0, None, dtype=object)
    for g, texts in seen.items():
        joined[g] = "、".join(texts)
    listing = pd.Series(joined[gid[conflict]], index=conflicting.index, dtype=object)
    # keep the first copy that holds a value (a "—" copy adds nothing to a reported number):
    # within each group, copies with a value first, then the sorted order above
    agree = many[~conflict]
    order = np.lexsort((~has_value[~conflict], gid[~conflict]))  # stable: last key primary
    agree = agree.iloc[order]
    agree_gid = gid[~conflict][order]
    first = np.ones(len(agree_gid), dtype=bool)
    first[1:] = agree_gid[1:] != agree_gid[:-1]
    # index of each merged row's group leader among the kept rows
    leader = np.searchsorted(agree_gid[first], agree_gid[~first])
    kept_id = agree["record_id"].to_numpy()[first][leader].tolist()
    kept = pd.concat([vals[~multi], agree[first]])
    return kept, agree[~first], kept_id, conflicting, listing


def _settle(prepared: _Prepared, *, structure: pd.DataFrame | None,
            to_base: Callable[[Sequence[str]], pd.Series], cat: pd.DataFrame) -> CleanResult:
    """Steps 5–7 over all records at once: repeats, cross-field rules, outputs, conservation."""
    rec, audits, failures, notes = (prepared.rec, list(prepared.audits),
                                    list(prepared.failures), prepared.notes)
    if rec["record_id"].duplicated().any():
        dup = rec.loc[rec["record_id"].duplicated(), "record_id"].iloc[0]
        raise ValueError(f"clean_records: record_id {dup!r} is not unique; ids must be unique "
                         "over all files (extract_records prefixes them with the file)")
    kind = rec["kind"]
    outcome = rec["outcome"].copy()
    # 5. repeats of (county, period, indicator)
    values_mask = (outcome == "") & (kind == "value")
    kept, merged, kept_id, conflicting, listing = _repeats(rec[values_mask])
    if len(conflicting):
        failures.append(failure_rows(conflicting, "duplicate_conflict",
                                     extra={"values": listing}))
        outcome[conflicting.index] = "quarantined"
    if len(merged):
        audits.append(_audit_rows(merged, "duplicate", "duplicate_merged", "merge",
                                  _as_texts(merged["raw_value"]), _as_texts(merged["value"]),
                                  pd.Series([f"same value as {k}" for k in kept_id],
                                            index=merged.index)))
        outcome[merged.index] = "merged"

    # 6. cross-field rules on the kept values, reported rates against their counts
    cross = check_cross(kept, notes)
    failures.append(cross)
    quarantined_cross = set(cross.loc[cross["action"] == "quarantine", "record_id"])
    fixed_cross = cross[cross["action"] == "fix"]
    audits.append(_audit_rows(rec.set_index("record_id").loc[fixed_cross["record_id"]]
                              .reset_index(), "cross", fixed_cross["rule"], "fix",
                              _as_texts(fixed_cross["raw_value"]),
                              _as_texts(fixed_cross["value"]), fixed_cross["message"]))
    in_cross = kept["record_id"].isin(quarantined_cross)
    outcome[kept.index[in_cross]] = "quarantined"
    kept = kept[~in_cross]
    outcome[kept.index] = "clean"

    rates = rec[(outcome == "") & (kind == "rate")]
    rate_rows = reconcile_rates(rates, kept)
    failures.append(rate_rows[rate_rows["action"] == "fix"])
    rr = rate_rows.set_index("record_id").reindex(rates["record_id"])
    audits.append(_audit_rows(rates, "rate", rr["rule"], rr["action"],
                              _as_texts(rates["raw_value"]),
                              _as_texts(rr["value"]), rr["message"]))
    outcome[rates.index] = "set_aside"

    # 7. outputs
    unit = kept["indicator"].map(cat["unit"])
    base = to_base(kept["county_code"].tolist()) if len(kept) else pd.Series([], dtype=object)
    indicators = pd.DataFrame({
        "county_code": kept["county_code"].astype(str).to_numpy(),
        "base_code": pd.Series(base).astype(object).to_numpy(),
        "period": kept["period"].to_numpy(),
        "indicator": kept["indicator"].to_numpy(),
        "value": kept["value"].astype(float).to_numpy(),
        "unit": unit.to_numpy(),
        "source_file": kept["source_file"].to_numpy(),
        "source_sheet": kept["source_sheet"].to_numpy(),
        "source_cell": kept["source_cell"].to_numpy(),
    }, columns=INDICATOR_COLUMNS).sort_values(["county_code", "period", "indicator"],
                                              ignore_index=True)

    failure_table = pd.concat([f for f in failures if len(f)] or
                              [pd.DataFrame(columns=FAILURE_COLUMNS)], ignore_index=True)
    quarantine = failure_table[failure_table["action"] == "quarantine"]
    quarantine = quarantine.sort_values(["file", "sheet", "record_id", "rule"],
                                        ignore_index=True)[QUARANTINE_COLUMNS]
    # raw cells mix numbers, text and dates; one text column reads the same in CSV and Parquet
    quarantine["raw_value"] = _as_texts(quarantine["raw_value"]).astype(object)
    audit = pd.concat([a for a in audits if len(a)] or [pd.DataFrame(columns=AUDIT_COLUMNS)],
                      ignore_index=True)
    audit = audit.sort_values(["source_file", "source_sheet", "record_id", "stage", "rule"],
                              ignore_index=True)[AUDIT_COLUMNS]

    if (outcome == "").any():  # every record must have exactly one fate
        lost = rec.loc[outcome == "", "record_id"].tolist()[:5]
        raise ConservationError(f"clean_records: records without an outcome, e.g. {lost}")
    rec = rec.assign(outcome=outcome)  # the prepared records stay as they were given
    files = _file_counts(rec, structure)
    _check_conservation(files, indicators, quarantine, audit)
    quality = _quality(rec, indicators, audit, quarantine, to_base)
    return CleanResult(indicators=indicators, quarantine=quarantine, audit=audit,
                       quality=quality, files=files,
                       structure=structure if structure is not None else pd.DataFrame())


def _file_counts(rec: pd.DataFrame, structure: pd.DataFrame | None) -> pd.DataFrame:
    counts = (rec.groupby(["source_file", "outcome"]).size().unstack(fill_value=0)
              .reindex(columns=["clean", "quarantined", "merged", "set_aside"], fill_value=0))
    counts.insert(0, "records_in", rec.groupby("source_file").size())
    unknown = rec[rec["kind"] == "unknown"].groupby("source_file")[
        "header_text"].agg(lambda s: "|".join(sorted(set(s.fillna("").astype(str)))))
    counts["unknown_columns"] = unknown.reindex(counts.index).astype(object).fillna("")
    if structure is not None and len(structure) and "source_file" in structure:
        counts["structure_rows"] = structure.groupby("source_file").size().reindex(
            counts.index).fillna(0).astype(int)
    else:
        counts["structure_rows"] = 0
    return counts.reset_index()


def _check_conservation(files: pd.DataFrame, indicators: pd.DataFrame,
                        quarantine: pd.DataFrame, audit: pd.DataFrame) -> None:
    """Recount every file's records from the *output tables* and compare with records in."""
    by_file = files.set_index("source_file")
    clean = indicators.groupby("source_file").size()
    quar = quarantine.groupby("file")["record_id"].nunique()
    merged = audit[audit["action"] == "merge"].groupby("source_file")["record_id"].nunique()
    # reported rates are always set aside, also when audited as a "fix" (rate_recomputed)
    aside_rows = audit[(audit["action"] == "set_aside") | (audit["stage"] == "rate")]
    aside = aside_rows.groupby("source_file")["record_id"].nunique()
    recount = pd.DataFrame({"clean": clean, "quarantined": quar, "merged": merged,
                            "set_aside": aside}).reindex(by_file.index).fillna(0).astype(int)
    total = recount.sum(axis=1)
    bad = total != by_file["records_in"]
    if bad.any():
        f = bad[bad].index[0]
        raise ConservationError(
            f"{f}: {int(by_file.at[f, 'records_in'])} data cells in, but clean "
            f"{recount.at[f, 'clean']} + quarantined {recount.at[f, 'quarantined']} + merged "
            f"{recount.at[f, 'merged']} + set aside {recount.at[f, 'set_aside']} = {int(total[f])}"
            "; a cleaning step lost or double-counted records (bug: report it with this file)")


def _round_of(period: str) -> int:
    # 2011 lies between the rounds; it is reported on the round-1 form
    return 1 if int(period[:4]) <= 2011 else 2


def _quality(rec: pd.DataFrame, indicators: pd.DataFrame, audit: pd.DataFrame,
             quarantine: pd.DataFrame, to_base) -> pd.DataFrame:
    cat = load_catalog()
    raw = cat[cat["kind"] == "raw"]
    expected_by_round = {r: int(raw["rounds"].map(lambda t, r=r: r in t).sum()) for r in (1, 2)}
    units = rec.loc[rec["county_code"].notna() & rec["period"].notna(),
                    ["county_code", "period"]].drop_duplicates()
    key = ["county_code", "period"]
    reported = indicators.groupby(key)["value"].count()
    present = indicators.groupby(key)["indicator"].nunique()
    fixes = audit[audit["action"] == "fix"].groupby(key)["record_id"].nunique()
    q = quarantine.dropna(subset=["county_code", "period"]).groupby(
        ["county_code", "period"])["record_id"].nunique()
    out = units.set_index(key).sort_index()
    out["expected"] = [expected_by_round[_round_of(p)] for _, p in out.index]
    out["reported"] = reported.reindex(out.index).fillna(0).astype(int)
    out["missing"] = present.reindex(out.index).fillna(0).astype(int) - out["reported"]
    out["completeness"] = (out["reported"] / out["expected"]).round(4)
    out["fixes"] = fixes.reindex(out.index).fillna(0).astype(int)
    out["quarantined"] = q.reindex(out.index).fillna(0).astype(int)
    out = out.reset_index()
    out["base_code"] = (pd.Series(to_base(out["county_code"].tolist())).astype(object).to_numpy()
                        if len(out) else [])
    return out[QUALITY_COLUMNS]


# --------------------------------------------------------------------------------------------
# roster
# --------------------------------------------------------------------------------------------
_ROSTER_FIELDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    # (field, header keywords tried in order); the first header containing a keyword wins
    ("round", ("轮次", "轮")),
    ("batch", ("批次", "批")),
    ("name", ("姓名",)),
    ("prefecture_text", ("市（州）", "市州", "地市")),
    ("sending_unit", ("派出单位", "选派单位", "原单位", "单位")),
    ("county_text", ("驻点县", "驻点单位", "县（市、区）", "县市区", "驻点地", "县")),
    ("start", ("开始", "起始", "到岗")),
    ("end", ("结束", "离岗", "截止")),
    ("assessment", ("考核", "鉴定", "等次", "评价")),
    ("task_1", ("党建带团建",)),
    ("task_2", ("团干部配备",)),
    ("task_3", ("建立团组织", "团组织建设")),
    ("task_4", ("乡镇", "街道")),
    ("task_5", ("青年典型", "青年能人")),
)


def _roster_columns(headers: Sequence[str]) -> dict[str, int]:
    taken: dict[str, int] = {}
    used: set[int] = set()
    norm = [normalize_label(h) if _present(h) else "" for h in headers]
    for name, keywords in _ROSTER_FIELDS:
        for kw in keywords:
            hit = next((i for i, h in enumerate(norm) if kw in h and i not in used), None)
            if hit is not None:
                taken[name] = hit
                used.add(hit)
                break
    return taken


def _int_or_none(x: object) -> int | None:
    if not _present(x):
        return None
    m = re.search(r"\d+", unicodedata.normalize("NFKC", str(x)))
    if m:
        return int(m.group(0))
    cn = {"一": 1, "二": 2, "三": 3, "四": 4}
    return next((v for k, v in cn.items() if k in str(x)), None)


def _date_text(x: object) -> str | None:
    if not _present(x):
        return None
    if hasattr(x, "isoformat"):
        return x.isoformat()[:10]
    s = unicodedata.normalize("NFKC", str(x)).strip()
    m = re.match(r"(\d{4})\D+(\d{1,2})(?:\D+(\d{1,2}))?", s)
    if m:
        y, mo, d = int(m.group(1)), int(m.group(2)), int(m.group(3) or 1)
        return f"{y:04d}-{mo:02d}-{d:02d}"
    return s


def roster_from_table(table: pd.DataFrame, *, salt: bytes, source_file: str = "",
                      source_sheet: str = "") -> pd.DataFrame:
    """Turn a roster sheet (驻点干部名册) into roster rows with pseudonymous cadre ids.

    Parameters
    ----------
    table : pandas.DataFrame
        The sheet as a grid of cells (no header applied); the header row is the first row
        holding ``姓名``.  Rows below it without a name are skipped (totals, footers).
    salt : bytes
        Key of the pseudonyms (:func:`load_salt`).
    source_file, source_sheet : str
        Provenance written into every row.

    Returns
    -------
    pandas.DataFrame
        :data:`ROSTER_COLUMNS` minus ``county_code``/``base_code`` (added by :func:`clean`);
        ``round``/``batch`` as integers, dates as ``YYYY-MM-DD`` text.  The name column is
        dropped here and never returned.

    Raises
    ------
    analysis.ingest.errors.LayoutError
        No header row with ``姓名`` in the first 20 rows.
    """
    from analysis.ingest.errors import LayoutError

    grid = table.reset_index(drop=True)
    header_row = None
    for i in range(min(20, len(grid))):
        if any(_present(v) and "姓名" in normalize_label(v) for v in grid.iloc[i]):
            header_row = i
            break
    if header_row is None:
        raise LayoutError("has no header row with 姓名 in its first 20 rows; the roster needs "
                          "columns 轮次, 批次, 驻点县, 姓名, 派出单位, 开始/结束日期, 考核等次",
                          file=source_file, sheet=source_sheet, rule="roster_header")
    # the header may span two rows (驻点时间 over 开始 | 结束; 五项任务完成情况 over the tasks):
    # rows below the 姓名 row with an empty name cell still belong to the header
    name_col = next(i for i, v in enumerate(grid.iloc[header_row])
                    if _present(v) and "姓名" in normalize_label(v))
    last = header_row
    while last + 1 < len(grid) and not _present(grid.iat[last + 1, name_col]) and any(
            _present(v) for v in grid.iloc[last + 1]):
        last += 1
    headers = [" ".join(_as_text(grid.iat[r, c]) for r in range(header_row, last + 1)
                        if _present(grid.iat[r, c])) for c in range(grid.shape[1])]
    cols = _roster_columns(headers)
    sheet_round = _round_from_text(f"{source_sheet} {_as_text(grid.iat[0, 0])}")
    rows = []
    for i in range(last + 1, len(grid)):
        line = grid.iloc[i]
        name = line.iloc[cols["name"]] if "name" in cols else None
        cadre = pseudonym(name, salt)
        if cadre is None:
            continue

        def get(f):
            return line.iloc[cols[f]] if f in cols and _present(line.iloc[cols[f]]) else None

        round_ = _int_or_none(get("round")) if get("round") is not None else sheet_round
        rows.append({
            "round": round_, "batch": _int_or_none(get("batch")),
            "prefecture_text": _as_text(get("prefecture_text")) or None,
            "county_text": _as_text(get("county_text")) or None, "cadre_id": cadre,
            "sending_unit": _as_text(get("sending_unit")) or None,
            "start": _date_text(get("start")), "end": _date_text(get("end")),
            "assessment": _as_text(get("assessment")) or None,
            **{f"task_{k}": (_as_text(get(f"task_{k}")) or None) for k in range(1, 6)},
            "source_file": source_file, "source_sheet": source_sheet,
            "source_row": i + 1,
        })
    cols_out = [c for c in ROSTER_COLUMNS if c not in ("county_code", "base_code")]
    cols_out.insert(cols_out.index("county_text"), "prefecture_text")
    return pd.DataFrame(rows, columns=cols_out)


def _round_from_text(text: str) -> int | None:
    """``第一轮`` / ``第2轮`` / ``round 1`` in a sheet name or title → 1 or 2."""
    m = re.search(r"第\s*([一二12])\s*轮|round\s*([12])", unicodedata.normalize("NFKC", text),
                  re.IGNORECASE)
    if not m:
        return None
    token = m.group(1) or m.group(2)
    return {"一": 1, "二": 2}.get(token) or int(token)


def _is_roster(path: Path, sheet_name: str, title: object) -> bool:
    text = f"{path.name} {sheet_name} {title or ''}"
    return any(m in text for m in ROSTER_MARKERS)


# --------------------------------------------------------------------------------------------
# files → records (F1's readers) → clean
# --------------------------------------------------------------------------------------------
def _sheet_grid(cells) -> pd.DataFrame:
    """The cells of a ``read.Sheet`` as a DataFrame grid (row/column 0 = cell A1)."""
    return pd.DataFrame(list(cells), dtype=object)


def _first_rows_text(sheet, n: int = 3) -> str:
    return " ".join(str(v) for row in sheet.cells[:n] for v in row if _present(v))


def _scan_file(path: Path, rel: str) -> dict:
    """Read one file into plain lists: records (one list per column), structure rows, roster
    sheets and what went wrong, sheet by sheet.

    Hidden sheets are listed but not read: in practice they hold earlier drafts whose numbers
    were superseded by the visible sheet, and reading them would create false duplicates.

    Everything returned is plain Python (lists, tuples, str), so a worker process can send it
    back cheaply; rosters are pseudonymised by the caller (:func:`_finish_file`), which holds
    the salt.
    """
    from analysis.ingest.layout import RECORD_COLUMNS as LAYOUT_COLUMNS
    from analysis.ingest.layout import _extract_columns, detect_layout
    from analysis.ingest.read import read_any

    cpu = time.process_time()
    scan = {"source_file": rel, "path": str(path), "unreadable": "", "sheets": 0, "hidden": [],
            "layouts": [], "problems": [], "extracted": 0, "roster": [], "structure": [],
            "records": {c: [] for c in LAYOUT_COLUMNS + ["source_path", "note"]}}
    try:
        sheets = read_any(path)
    except IngestError as exc:
        scan["unreadable"] = str(exc).replace(str(path), rel)
        scan["cpu"] = time.process_time() - cpu
        return scan
    scan["sheets"] = len(sheets)
    cols = scan["records"]
    for i, sheet in enumerate(sheets):
        name = str(sheet.name)
        if sheet.hidden:
            scan["hidden"].append(name)
            continue
        try:
            if _is_roster(path, name, _first_rows_text(sheet)):
                # (sheet order, name, cells): pseudonyms need the salt, read in the caller
                scan["roster"].append((i, name, sheet.cells))
                continue
            layout = detect_layout(sheet)
            got, struct = _extract_columns(sheet, layout, str(path))
        except IngestError as exc:
            scan["problems"].append((i, f"sheet {name}: {exc.message} (rule: {exc.rule})"))
            continue
        scan["extracted"] += 1
        scan["layouts"].append(str(layout.kind))
        n = len(got["source_row"])
        for c, values in got.items():
            if c not in ("source_file", "record_id"):
                cols[c] += values
        cols["source_file"] += [rel] * n
        # the layout's record_id names the county row; the pipeline needs one id per cell
        cols["record_id"] += [f"{rel}!{name}!{cell}" for cell in got["source_cell"]]
        cols["source_path"] += [str(path)] * n
        remark = layout.column("remark")
        cols["note"] += ([sheet.cell(r - 1, remark.col) for r in got["source_row"]]
                         if remark is not None else [None] * n)
        scan["structure"] += [(rel,) + row[1:] for row in struct]
    scan["cpu"] = time.process_time() - cpu
    return scan


MAX_WORKERS = 8
POOL_MIN_FILES = 40  # below this, starting processes costs more than it saves


def _pool_size(n_files: int, workers: int | None) -> int:
    if workers is not None:
        if int(workers) < 1:
            raise ValueError(f"clean: workers={workers!r}; use 1 (no pool) or more processes")
        return min(int(workers), max(n_files, 1))
    if n_files < POOL_MIN_FILES:
        return 1
    return max(1, min(os.cpu_count() or 1, MAX_WORKERS, n_files // 10))


def _scan_batch(batch: list[tuple[Path, str]]) -> tuple[list[dict], _Prepared | None]:
    """Worker task: scan consecutive files and prepare their records (steps 1–4) in one go.

    The records travel back as one prepared frame instead of per-file lists; the scans keep
    everything else (sheets, layouts, problems, roster cells, structure rows).
    """
    scans = [_scan_file(path, rel) for path, rel in batch]
    cpu = time.process_time()
    prepared = _prepare(_records_frame(scans), load_catalog(), _default_resolver)
    for scan in scans:
        scan["records"] = None
    scans[0]["prepare_cpu"] = time.process_time() - cpu
    return scans, prepared


def _batches(found: list[tuple[Path, str]], n: int) -> list[list[tuple[Path, str]]]:
    """``n`` runs of consecutive files with about equal bytes (file order is kept, so the
    joined result is the same as one pass over all files)."""
    sizes = []
    for path, _rel in found:
        try:
            sizes.append(max(path.stat().st_size, 1))
        except OSError:
            sizes.append(1)
    total = float(sum(sizes))
    out: list[list[tuple[Path, str]]] = [[] for _ in range(n)]
    done = 0
    for item, size in zip(found, sizes):
        # the run whose byte range holds this file's midpoint
        k = min(n - 1, int((done + size / 2) / total * n))
        out[k].append(item)
        done += size
    return [b for b in out if b]


BATCHES_PER_WORKER = 2  # a few runs per worker balance the load; each run costs one prepare


def _warm_shared_caches() -> None:
    """Load, before the workers fork, what every worker would otherwise load for itself: the
    catalog and its header index, the reference tables and the official county names of each
    code book, and the readers' modules (measured: ~50 ms per worker)."""
    from analysis.catalog import header_index
    from analysis.reference import STUDY_VINTAGES, _ref

    header_index()
    load_catalog()
    _ref()
    for year in STUDY_VINTAGES:
        _official_names(str(year))
    import python_calamine  # noqa: F401 - imported by the readers on first use
    import xlrd  # noqa: F401


def _scan_files(found: list[tuple[Path, str]], workers: int | None, progress: bool,
                prepare_in_workers: bool):
    """Scan every file, in order, in batches; yields ``(scans, prepared or None)``.

    In one process each file is its own batch and nothing is prepared (the caller prepares all
    records at once).  With a pool, worker processes scan runs of consecutive files and, when
    ``prepare_in_workers``, also prepare their records (:func:`_scan_batch`).  Workers are
    forked where the platform allows it, so they share the parent's loaded catalog and caches
    instead of importing pandas again (measured: spawn start-up cost more CPU than the demo's
    whole layout detection).
    """
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    bar = None
    if progress and len(found) > 20:
        from tqdm import tqdm

        bar = tqdm(total=len(found), desc="clean", unit="file", file=sys.stderr)
    n = _pool_size(len(found), workers)
    try:
        if n == 1:
            for path, rel in found:
                yield [_scan_file(path, rel)], None
                if bar is not None:
                    bar.update()
            return
        _warm_shared_caches()
        methods = multiprocessing.get_all_start_methods()
        ctx = multiprocessing.get_context("fork" if "fork" in methods else None)
        batches = _batches(found, n * BATCHES_PER_WORKER)
        task = _scan_batch if prepare_in_workers else _scan_only
        with ProcessPoolExecutor(max_workers=n, mp_context=ctx) as pool:
            for scans, prepared in pool.map(task, batches):
                yield scans, prepared
                if bar is not None:
                    bar.update(len(scans))
    finally:
        if bar is not None:
            bar.close()


def _scan_only(batch: list[tuple[Path, str]]) -> tuple[list[dict], None]:
    """Worker task without preparation (a custom resolver stays in the calling process)."""
    return [_scan_file(path, rel) for path, rel in batch], None


def _finish_file(scan: dict, salt_getter) -> tuple[dict, list[pd.DataFrame]]:
    """The file's summary row and its roster tables (pseudonymised with the salt)."""
    rel = scan["source_file"]
    info = {"source_file": rel, "status": "ok", "error": "", "sheets": scan["sheets"],
            "hidden_sheets": "|".join(scan["hidden"]), "layouts": "", "roster_rows": 0}
    if scan["unreadable"]:
        info.update(status="unreadable", error=scan["unreadable"], sheets=0)
        return info, []
    roster: list[pd.DataFrame] = []
    layouts = list(scan["layouts"])
    problems = list(scan["problems"])
    for i, name, cells in scan["roster"]:
        try:
            roster.append(roster_from_table(_sheet_grid(cells),
                                            salt=salt_getter(), source_file=rel,
                                            source_sheet=name))
            layouts.append("roster")
        except IngestError as exc:
            problems.append((i, f"sheet {name}: {exc.message} (rule: {exc.rule})"))
    info["roster_rows"] = int(sum(len(r) for r in roster))
    info["layouts"] = "|".join(sorted(set(layouts)))
    if problems:
        errors = [text for _, text in sorted(problems, key=lambda p: p[0])]
        info.update(status="partly_unreadable" if scan["extracted"] or roster else "unreadable",
                    error=" ; ".join(errors))
    return info, roster


def _records_frame(scans: list[dict]) -> pd.DataFrame:
    """One DataFrame of every file's records, built once from the stacked lists."""
    from analysis.ingest.layout import RECORD_COLUMNS as LAYOUT_COLUMNS

    names = LAYOUT_COLUMNS + ["source_path", "note"]
    stacked = {c: [v for scan in scans for v in scan["records"][c]] for c in names}
    if not stacked["record_id"]:
        return pd.DataFrame(columns=RECORD_COLUMNS)
    if all(v is None for v in stacked["note"]):
        del stacked["note"]  # as before: a note column only when some sheet has a 备注 column
    # object columns: cells mix text, numbers and dates, and names keep None (not NaN) when
    # empty, exactly as the per-sheet frames did
    frame = pd.DataFrame({c: pd.Series(v, dtype=object) for c, v in stacked.items()})
    frame["source_row"] = frame["source_row"].astype("int64")
    frame["sheet_hidden"] = frame["sheet_hidden"].astype(bool)
    return frame


def clean(raw_paths: Sequence[str | os.PathLike], out_dir: str | os.PathLike | None = None,
          progress: bool = True, *, resolver: Resolver | None = None,
          to_base: Callable[[Sequence[str]], pd.Series] | None = None,
          salt: bytes | None = None, workers: int | None = None) -> CleanResult:
    """Clean every submission under ``raw_paths`` into one tidy, audited panel.

    Parameters
    ----------
    raw_paths : sequence of path-like
        Files and folders (walked recursively, see :func:`discover_files`).
    out_dir : path-like, optional
        When given, every output is written there (:func:`analysis.ingest.outputs.write_outputs`)
        and the pseudonym salt defaults to ``out_dir/.salt``.
    progress : bool
        Show a tqdm progress bar over files (only when there are more than 20 files).
    resolver, to_base : callable, optional
        County resolver and base mapper (default: ``analysis.reference``).
    salt : bytes, optional
        Pseudonym key; default :func:`load_salt` (``$RESIDENCY_SALT`` or a salt file).
    workers : int, optional
        Processes that read files and find their layouts.  Default: one per CPU (at most
        :data:`MAX_WORKERS`) when there are at least :data:`POOL_MIN_FILES` files, else 1 (in
        this process).  Results are the same for any number: files are read independently and
        collected in the order of :func:`discover_files`.

    Returns
    -------
    CleanResult
        indicators, quarantine, audit, quality, files, roster, structure.

    Raises
    ------
    FileNotFoundError
        A raw path does not exist.
    ConservationError
        Records were lost between input and outputs (a bug, never a data problem).
    """
    found = discover_files(raw_paths)
    salt_holder: dict[str, bytes] = {}

    def salt_getter() -> bytes:
        if "salt" not in salt_holder:
            salt_holder["salt"] = salt if salt is not None else load_salt(
                Path(out_dir) / SALT_FILE_NAME if out_dir is not None else None)
        return salt_holder["salt"]

    infos, structure, roster = [], [], []
    cpu = time.process_time()
    timings: dict[str, float] = {}

    def lap(name: str) -> None:
        nonlocal cpu
        now = time.process_time()
        timings[name] = timings.get(name, 0.0) + now - cpu
        cpu = now

    # steps 1–4 run in the workers with the default resolver; a custom one (a test double,
    # another code book) stays in this process, where it was given
    in_workers = resolver is None and _pool_size(len(found), workers) > 1
    scans: list[dict] = []
    parts: list[_Prepared] = []
    for batch, prepared in _scan_files(found, workers, progress, in_workers):
        scans += batch
        if prepared is not None:
            parts.append(prepared)
    if _pool_size(len(found), workers) > 1:
        # CPU of this phase is spent in the workers; this process only waited and unpickled
        lap("pool_wait")
        timings["read_layout_extract"] = sum(scan["cpu"] for scan in scans)
        if parts:
            timings["prepare"] = sum(scan.get("prepare_cpu", 0.0) for scan in scans)
    for scan in scans:
        info, tables = _finish_file(scan, salt_getter)
        infos.append(info)
        roster += tables
        structure += scan["structure"]
    lap("read_layout_extract")
    from analysis.ingest.layout import STRUCTURE_COLUMNS

    all_structure = (pd.DataFrame(structure, columns=STRUCTURE_COLUMNS) if structure
                     else pd.DataFrame(columns=["source_file"]))
    cat = load_catalog()
    if not parts:
        all_records = _records_frame(scans)
        del scans
        lap("concat")
        parts = [_prepare(all_records, cat, resolver or _default_resolver)]
        lap("prepare")
    else:
        del scans
    result = _settle(_join_prepared(parts), structure=all_structure,
                     to_base=to_base or _default_to_base, cat=cat)
    lap("settle")
    info = pd.DataFrame(infos, columns=["source_file", "status", "error", "sheets",
                                        "hidden_sheets", "layouts", "roster_rows"])
    files = info.merge(result.files, on="source_file", how="left")
    for c in ("records_in", "clean", "quarantined", "merged", "set_aside", "structure_rows"):
        files[c] = files[c].fillna(0).astype(int)
    if all_structure is not None and len(all_structure):
        s = all_structure.groupby("source_file").size()
        files["structure_rows"] = files["source_file"].map(s).fillna(0).astype(int)
    files["unknown_columns"] = files["unknown_columns"].astype(object).fillna("")
    result.files = files[FILE_COLUMNS].sort_values("source_file", ignore_index=True)
    result.roster = _finish_roster(roster, resolver or _default_resolver,
                                   to_base or _default_to_base)
    lap("files_and_roster")
    if out_dir is not None:
        from analysis.ingest.outputs import write_outputs

        write_outputs(result, out_dir)
        lap("write_outputs")
    result.timings = timings
    return result


def _finish_roster(parts: list[pd.DataFrame], resolver, to_base) -> pd.DataFrame:
    if not parts:
        return pd.DataFrame(columns=ROSTER_COLUMNS)
    roster = pd.concat(parts, ignore_index=True)
    roster["county_code"] = None
    # resolve with the prefecture hint, in the code book of the stint's start year
    year = roster["start"].map(lambda d: d[:4] if isinstance(d, str) and d[:4].isdigit()
                               else None)
    keys = pd.DataFrame({"t": _text_or(roster["county_text"], None),
                         "p": _text_or(roster["prefecture_text"], ""),
                         "y": year.where(year.notna(), "")})
    found: dict[tuple, str | None] = {}
    for (pref, y), g in keys.dropna(subset=["t"]).groupby(["p", "y"], sort=True):
        names = sorted(set(g["t"]))
        try:
            res = pd.DataFrame(resolver(pd.Series(names, dtype=object), prefecture=pref or None,
                                        as_of=y or None)).reset_index(drop=True)
        except ValueError:  # a start year outside the code books: resolve without a vintage
            res = pd.DataFrame(resolver(pd.Series(names, dtype=object), prefecture=pref or None,
                                        as_of=None)).reset_index(drop=True)
        for name, c, e in zip(names, res["code"], res["error"]):
            found[(name, pref, y)] = str(c) if _present(c) and not _present(e) else None
    roster["county_code"] = [found.get(k) for k in zip(keys["t"], keys["p"], keys["y"])]
    has = roster["county_code"].notna()
    roster["base_code"] = None
    if has.any():
        roster.loc[has, "base_code"] = pd.Series(
            to_base(roster.loc[has, "county_code"].tolist())).astype(object).to_numpy()
    return roster[ROSTER_COLUMNS].sort_values(["round", "batch", "county_code", "cadre_id"],
                                              ignore_index=True, na_position="last")
