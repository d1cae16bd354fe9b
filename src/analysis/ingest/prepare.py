"""Cleaning steps 1–4, record by record: classify, period and county, parse, per-cell rules.

Nothing in these steps looks across records of different files, so they run wherever the
records are (in a worker process next to the reader, or in the calling process) and their
results, :class:`_Prepared` parts, are joined and settled once by :mod:`~analysis.ingest.settle`.
Kept apart from settling because of that boundary: what may run per batch of files is here,
what needs all records at once is there.
"""

from __future__ import annotations

import itertools
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

from analysis.catalog import normalize_label
from analysis.ingest.census import UNPLACED_LAYOUT
from analysis.ingest.cells import _as_text, _as_texts, _lookup, _present, _text_or
from analysis.ingest.errors import PeriodError
from analysis.ingest.frames import object_frame
from analysis.ingest.periods import half_year_label, is_whole_year, parse_period, sheet_period
from analysis.ingest.result import AUDIT_COLUMNS, RECORD_COLUMNS
from analysis.ingest.validate import check_cells, failure_rows
from analysis.ingest.values import PLACEHOLDERS, parse_value


REMARK_HEADERS = frozenset({"备注", "说明", "备注说明", "情况说明", "备注（说明）"})
"""Headers of remark columns; their text may explain a cross-field exception."""


Resolver = Callable[..., pd.DataFrame]


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
    if "layout" in records:
        kind[records["layout"] == UNPLACED_LAYOUT] = "unplaced"
    return kind, rate_code


def _resolve_periods(records: pd.DataFrame) -> tuple[pd.Series, pd.Series, pd.Series, pd.Series]:
    """Period per record, sheet by sheet, from every place that names one.

    ``periods.sheet_period`` weighs the file name, the sheet name, the title, the 截至 line and
    the period cells of the sheet and raises ``PeriodError`` when they contradict each other; a
    sheet whose period column holds several periods (a multi-period export) is read row by row.

    Returns period (str or None), failing rule (None when found), note, and whether the period
    was given as a whole year (``2013年度``), per record.
    """
    n = len(records)
    period = np.full(n, None, dtype=object)
    rule = np.full(n, None, dtype=object)
    note = np.full(n, "", dtype=object)
    whole = np.zeros(n, dtype=bool)
    none = np.full(n, None, dtype=object)
    titles = records["title"].to_numpy(dtype=object) if "title" in records else none
    cutoffs = records["cutoff_text"].to_numpy(dtype=object) if "cutoff_text" in records else none
    texts = records["period_text"].to_numpy(dtype=object)
    paths = (records["source_path"] if "source_path" in records
             else records["source_file"]).to_numpy(dtype=object)
    sheets = records["source_sheet"].to_numpy(dtype=object)
    # positional indices per sheet: plain numpy indexing is far cheaper than Series lookups
    # one group per table: the tables stacked on one sheet each have their own title
    keys = [c for c in ("source_file", "source_sheet", "title", "cutoff_text") if c in records]
    groups = records.groupby(keys, sort=False, dropna=False).indices
    for pos in groups.values():
        title = next((t for t in titles[pos] if _present(t)), None)
        cutoff = next((t for t in cutoffs[pos] if _present(t)), None)
        # period cells proper: the text the layout step found in a period column or header,
        # i.e. anything other than the sheet-wide title / 截至 fallbacks
        own = [t for t in dict.fromkeys(texts[pos]) if _present(t) and t not in (title, cutoff)]
        try:
            found, year = sheet_period(Path(str(paths[pos[0]])), title, cutoff, own or None,
                                       sheet_name=str(sheets[pos[0]]))
        except PeriodError as exc:
            rule[pos] = exc.rule or "period_missing"
            note[pos] = exc.message
            continue
        if found is not None:
            period[pos] = found
            whole[pos] = year
            continue
        distinct = {t: parse_period(t) for t in dict.fromkeys(texts[pos]) if _present(t)}
        each = np.array([distinct.get(t) if _present(t) else None for t in texts[pos]],
                        dtype=object)
        period[pos] = each
        whole[pos] = [_present(t) and is_whole_year(t) for t in texts[pos]]
        unread = pos[np.array([e is None for e in each], dtype=bool)]
        rule[unread] = "period_missing"
        note[unread] = "本行期间无法识别"
    index = records.index
    return (pd.Series(period, index=index, dtype=object), pd.Series(rule, index=index, dtype=object),
            pd.Series(note, index=index, dtype=object), pd.Series(whole, index=index, dtype=bool))


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


def _period_text(rows: pd.DataFrame) -> pd.Series:
    """The text that named a record's period as the clerk wrote it: the period cell, else the
    截至 line, else the title (the order the layout step fills ``period_text`` in)."""
    out = _text_or(rows["period_text"], "")
    for col in ("cutoff_text", "title"):
        if col in rows:
            out = out.where(out != "", _text_or(rows[col], ""))
    return out


_FORMULA_REASONS_ZH = (
    ("another sheet or workbook", "引用了其他工作表或工作簿"),
    ("uses the function", "使用了无法计算的函数"),
    ("circular reference", "循环引用"),
    ("division by zero", "除数为零"),
    ("holds text", "引用的单元格是文字"),
    ("cannot be evaluated", "引用的公式无法计算"),
)


def _formula_note_zh(reason: str) -> str:
    """Why a formula could not be evaluated, in Chinese for the clerk (the English reason of
    :mod:`analysis.ingest.formulas` follows in brackets)."""
    zh = next((z for en, z in _FORMULA_REASONS_ZH if en in reason), "无法在本表内计算")
    return f"{zh}：{reason}" if reason else zh


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
        return "涉及的期间：" + "、".join(half_year_label(p) for p in periods) + "；" + chinese
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
    cpu: float = 0.0
    """CPU seconds the preparation took (for the benchmark's phase times)."""


def _prepare(records: pd.DataFrame, cat: pd.DataFrame, resolver: Resolver) -> _Prepared:
    """Steps 1–4: classify, period and county, parse, per-cell rules (see the module doc)."""
    missing_cols = [c for c in RECORD_COLUMNS if c not in records.columns]
    if missing_cols:
        raise ValueError(f"clean_records: records lack column(s) {missing_cols}")
    rec = records.reset_index(drop=True).copy()
    rec["indicator"] = _text_or(rec["indicator"], None)
    kind, rate_code = _classify(rec, cat)
    rec.loc[kind == "rate", "indicator"] = rate_code[kind == "rate"]

    period, period_rule, period_note, whole_year = _resolve_periods(rec)
    rec["period"] = period
    code, county_error = _resolve_county_codes(rec, period, resolver)
    rec["county_code"] = code

    audits: list[pd.DataFrame] = []
    failures: list[pd.DataFrame] = []
    outcome = pd.Series("", index=rec.index, dtype=object)

    # 0. cells the layout step could not place: numbers quarantined, texts set aside
    unplaced = kind == "unplaced"
    if unplaced.any():
        numbers = unplaced & (_text_or(rec["header_text"], "") != "")
        failures.append(failure_rows(rec[numbers], "cell_unplaced",
                                     extra={"note": _text_or(rec.loc[numbers, "period_text"], "")}))
        outcome[numbers] = "quarantined"
        rows = rec[unplaced & ~numbers]
        audits.append(_audit_rows(rows, "layout", "text_unplaced", "set_aside",
                                  _as_texts(rows["raw_value"]), "",
                                  _text_or(rows["period_text"], "")))
        outcome[unplaced & ~numbers] = "set_aside"

    # 1. cells that hold no catalog indicator are set aside (counted, audited)
    aside = kind.isin(["unknown", "remark"])
    for k, rule in (("unknown", "unknown_column"), ("remark", "remark")):
        rows = rec[kind == k]
        audits.append(_audit_rows(rows, "column", rule, "set_aside", _as_texts(rows["raw_value"]),
                                  "", rows["header_text"].astype(object).fillna("").astype(str)))
    outcome[aside] = "set_aside"
    aside |= unplaced
    notes = rec.loc[kind == "remark", ["county_code", "period", "raw_value"]].rename(
        columns={"raw_value": "note"})
    if "note" in rec.columns:
        notes = pd.concat([notes, rec.loc[rec["note"].map(_present),
                                          ["county_code", "period", "note"]]])
    notes = notes[notes["county_code"].notna() & notes["period"].notna()]
    notes["note"] = _as_texts(notes["note"])
    # a 备注 cell is both a record of its own and the note of its row's records: once is enough
    notes = notes.drop_duplicates()
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

    # a whole-year report (2013年度) stands for the year-end half-year only for stocks; a flow
    # (newly recruited, trained …) counted over a year cannot be split into half-years
    year = live & whole_year
    if year.any():
        timing = _lookup(rec["indicator"], cat["timing"].to_dict(), "stock")
        flow = year & (timing == "flow")
        failures.append(failure_rows(rec[flow], "period_not_half_year",
                                     extra={"note": _period_text(rec[flow])}))
        outcome[flow] = "quarantined"
        live &= ~flow
        kept = rec[year & ~flow]
        audits.append(_audit_rows(kept, "period", "period_whole_year", "fix",
                                  _period_text(kept), kept["period"],
                                  "全年数据按年末所在的下半年计（年末存量指标）"))

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

    # formulas saved without their result: evaluated ones are audited below, the others
    # cannot be read at all
    has_formula = "formula" in rec and rec["formula"].map(_present).any()
    if has_formula:
        formula_note = _text_or(rec["formula_note"], "") if "formula_note" in rec else ""
        uncached = live & rec["formula"].map(_present) & (formula_note != "")
        failures.append(failure_rows(rec[uncached], "formula_not_cached",
                                     extra={"note": formula_note[uncached].map(_formula_note_zh)}))
        outcome[uncached] = "quarantined"
        live &= ~uncached

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

    if has_formula:
        evaluated = live & rec["formula"].map(_present)
        rows = rec[evaluated]
        audits.append(_audit_rows(rows, "value", "formula_evaluated", "fix",
                                  _as_texts(rows["formula"]), _as_texts(rows["value"]),
                                  "公式没有保存计算结果，已按本表数据计算"))

    # 4. per-cell catalog rules
    values_mask = live & (kind == "value")
    cells = check_cells(rec[values_mask], cat)
    failures.append(cells)
    outcome[rec["record_id"].isin(set(cells["record_id"])) & values_mask] = "quarantined"
    rec["kind"] = kind
    rec["outcome"] = outcome
    # only what the later steps read: prepared records travel back from the worker processes
    return _Prepared(rec=rec[_SETTLE_COLUMNS], audits=audits, failures=failures, notes=notes)
