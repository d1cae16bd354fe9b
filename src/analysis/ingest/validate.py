"""Validation of parsed indicator values: every rule declared in one table, every failure collected.

Validation is *lazy* in the pandera sense: nothing stops at the first bad cell.  Each check returns
the rows that fail it, and :func:`validate` stacks them into one failure table with the place
(file, sheet, cell), the county and period, the indicator, the raw value, the English rule name
and a Chinese message a county clerk can act on.

Rules come from two declared sources only:

* :data:`RULES` — one row per rule: name, what happens to the cell (``action``), the Chinese
  message template and an English description.  ``docs/data-contract.md`` mirrors this table.
* the indicator catalog (``load_catalog()``: ``type``, ``min``, ``max``, ``integer``) for the
  per-cell rules, and :data:`PART_TOTAL` for the cross-field rules.

Actions
-------
``quarantine``
    the cell is removed from the clean data and listed in ``quarantine.csv``.
``fix``
    the cell is kept (or replaced by a recomputed value) and the change is written to the audit.
``merge``
    an identical repeat of a value already kept; counted, listed in the audit, not duplicated.
``set_aside``
    a cell that carries no catalog indicator (unknown column, remark, reported rate); counted
    per file, listed in the audit.
``missing``
    not a cell but a derived indicator (a rate, funds per young person) computed from clean
    cells that falls outside its catalog range: it is recorded as missing in ``panel.parquet``
    and listed in the audit with the cells it was computed from (:func:`check_derived`).
"""

from __future__ import annotations

import re
import string
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Literal

import numpy as np
import pandas as pd

from analysis.catalog import load_catalog
from analysis.ingest.cells import PLAIN_TYPES, _missing
from analysis.ingest.frames import object_frame

__all__ = [
    "Rule",
    "RULES",
    "PART_TOTAL",
    "RATE_TOLERANCE_PP",
    "INTEGER_TOLERANCE",
    "FAILURE_COLUMNS",
    "Validation",
    "rules_frame",
    "check_cells",
    "check_cross",
    "check_derived",
    "reconcile_rates",
    "validate",
    "failure_rows",
]

Action = Literal["quarantine", "fix", "merge", "set_aside", "missing"]


@dataclass(frozen=True)
class Rule:
    """One validation or cleaning rule.

    Attributes
    ----------
    name : English machine name (the ``rule`` column of every output).
    stage : where it is applied: ``parse``, ``county``, ``period``, ``cell``, ``duplicate``,
        ``cross`` or ``column``.
    action : what happens to the cell (see module docstring).
    message_zh : Chinese message template; ``{fields}`` are filled from the failing row
        (``indicator_zh``, ``raw_value``, ``value``, ``min``, ``max``, ``other_zh``, ``other``,
        ``county_text``, ``note``, ``values``).
    description : English one-line description (for the data contract and the audit).
    """

    name: str
    stage: str
    action: Action
    message_zh: str
    description: str


RULES: tuple[Rule, ...] = (
    # ---- values that cannot be read (status "error" from values.parse_value) ----
    Rule("value_unreadable", "parse", "quarantine",
         "{indicator_zh}的填报值“{raw_value}”无法识别为有效数值（{note}），请按表格要求填写数字。",
         "the cell cannot be read as the indicator's type (the parser's own rule name is kept "
         "when it gives one, e.g. number, excel_error, bool)"),
    # ---- cells the layout step could not place ----
    Rule("cell_unplaced", "layout", "quarantine",
         "{header_text}区域的数字未能对应到县（市、区）和指标（{note}），请按统一表式填报："
         "在表头写明指标名称，在行首写明县（市、区）名称。",
         "a number outside every recognised table, or under no header, or on a sheet whose "
         "layout is not recognised; never dropped (the message names the rectangle of numbers)"),
    Rule("text_unplaced", "layout", "set_aside",
         "文字“{raw_value}”不在任何表格的标题、表头、行标签或表注位置，未导入。",
         "a text cell outside every recognised table (counted by the cell census, kept in the "
         "audit)"),
    Rule("formula_not_cached", "parse", "quarantine",
         "{indicator_zh}是公式“{raw_value}”，文件没有保存计算结果，且无法在本表内计算（{note}）；"
         "请在 Excel 中打开文件、保存后重新报送。",
         "a formula saved without its result (files written by scripts, WPS with recalculation "
         "off) that cannot be evaluated from the same sheet (another sheet, another function)"),
    Rule("formula_evaluated", "value", "fix",
         "{indicator_zh}的公式没有保存计算结果，已按本表数据计算。",
         "a formula saved without its result, evaluated from cells of the same sheet (+ − × ÷, "
         "SUM/AVERAGE/MIN/MAX); audited with the formula"),
    # ---- county and period ----
    Rule("county_unknown", "county", "quarantine",
         "无法识别县（市、区）名称“{county_text}”（{note}），请填写规范全称，如“凉山州喜德县”。",
         "the county text resolves to no GB/T 2260 code (or to more than one) for the period"),
    Rule("county_resolved", "county", "fix",
         "县名“{county_text}”已按行政区划代码规范化。",
         "the county text is not the official name of the code it resolved to (short name, "
         "prefecture in front, old name); the code and official name are audited"),
    Rule("period_missing", "period", "quarantine",
         "无法确定本表的填报时期（{note}），请在标题或“截至”日期中注明，如“2013年上半年”。",
         "no reporting period found in the period column, title, 截至 date or file name"),
    Rule("period_contradiction", "period", "quarantine",
         "本表不同位置写明的填报时期互相矛盾（{note}），请统一后重新报送。",
         "the period column, sheet name, title, 截至 date and file name name different periods"),
    Rule("period_not_half_year", "period", "quarantine",
         "本表按全年填报（“{note}”），{indicator_zh}是半年内发生的数量，无法拆分到上、下半年，"
         "请按半年分别报送。",
         "the sheet reports a whole year (2013年度, 全年, 1-12月) and the indicator is a flow "
         "(catalog timing=flow), which cannot be split into half-years"),
    Rule("period_whole_year", "period", "fix",
         "本表按全年填报（“{note}”），{indicator_zh}是年末存量，按下半年计入。",
         "the sheet reports a whole year and the indicator is a stock (catalog timing=stock): "
         "kept as the year-end half-year H2 and audited"),
    # ---- per-cell rules declared in the catalog ----
    Rule("below_min", "cell", "quarantine",
         "{indicator_zh}为{raw_value}，低于允许的最小值{min:g}，请核对后更正。",
         "value below the catalog minimum"),
    Rule("above_max", "cell", "quarantine",
         "{indicator_zh}为{raw_value}，超过允许的最大值{max:g}，请核对单位和数值后更正。",
         "value above the catalog maximum"),
    Rule("not_integer", "cell", "quarantine",
         "{indicator_zh}应为整数，填报值为{raw_value}，请核对后更正。",
         "a count (catalog integer=1) with a fractional value"),
    # ---- repeats of the same county, period and indicator ----
    Rule("duplicate_merged", "duplicate", "merge",
         "{indicator_zh}在多处重复填报，数值一致（{values}），已合并为一条。",
         "identical repeat of a value already kept; merged"),
    Rule("duplicate_conflict", "duplicate", "quarantine",
         "同一县、同一时期的{indicator_zh}在多处填报了不同数值（{values}），请确认哪一个正确。",
         "the same county, period and indicator reported with different values; every copy "
         "is quarantined"),
    # ---- cross-field rules ----
    Rule("filled_exceeds_authorized", "cross", "quarantine",
         "团县委实有在编人数（{value:g}）超过核定编制数（{other:g}），且备注未说明原因，"
         "请更正或在备注中说明。",
         "posts_filled > posts_authorized without a remark explaining it"),
    Rule("filled_exceeds_authorized_noted", "cross", "fix",
         "团县委实有在编人数（{value:g}）超过核定编制数（{other:g}），备注已说明：{note}。数值保留。",
         "posts_filled > posts_authorized, explained by a remark; kept and audited"),
    Rule("part_exceeds_total", "cross", "quarantine",
         "{indicator_zh}（{value:g}）超过{other_zh}（{other:g}），部分数不能大于总数，请核对。",
         "a part exceeds its total (townships_* > townships_total, "
         "nonpublic_firms_with_org > nonpublic_firms)"),
    # ---- rates reported next to their counts ----
    Rule("rate_recomputed", "cross", "fix",
         "填报的{indicator_zh}（{raw_value}）与按数量计算的结果（{value:.1f}%）不一致，"
         "已按数量重新计算。",
         "a reported rate disagrees with the rate recomputed from its counts; the counts win "
         "(rates are always derived from counts)"),
    Rule("rate_consistent", "cross", "set_aside",
         "填报的{indicator_zh}（{raw_value}）与按数量计算的结果一致，由数量重新计算。",
         "a reported rate agrees with its counts; not stored (derived again from the counts)"),
    Rule("rate_without_counts", "cross", "set_aside",
         "填报了{indicator_zh}（{raw_value}）但缺少计算所需的数量，未采用。",
         "a reported rate whose counts are missing; not stored (rates come only from counts)"),
    # ---- derived indicators computed from clean values ----
    Rule("derived_out_of_range", "derived", "missing",
         "{indicator_zh}按{note}计算为{raw_value}，超出允许范围（{min:g}–{max:g}），已记为缺失，"
         "请核对这些填报值。",
         "a derived indicator (rate, funds per young person) computed from clean values falls "
         "outside its catalog range; it is missing in panel.parquet and audited with its inputs"),
    # ---- cells that carry no catalog indicator ----
    Rule("unknown_column", "column", "set_aside",
         "列“{header_text}”不是指标目录中的指标，未导入。",
         "the column header matches no indicator of the catalog"),
    Rule("remark", "column", "set_aside",
         "备注：{raw_value}",
         "a remark (备注/说明) cell; used to explain cross-field exceptions, not stored as a value"),
)
"""Every rule of the cleaning step (mirrored in ``docs/data-contract.md``)."""

_RULES_BY_NAME: dict[str, Rule] = {r.name: r for r in RULES}

PART_TOTAL: tuple[tuple[str, str, str, bool], ...] = (
    # (part, total, rule, a remark may explain it)
    ("posts_filled", "posts_authorized", "filled_exceeds_authorized", True),
    ("townships_active", "townships_total", "part_exceeds_total", False),
    ("townships_with_secretary", "townships_total", "part_exceeds_total", False),
    ("townships_funded", "townships_total", "part_exceeds_total", False),
    ("nonpublic_firms_with_org", "nonpublic_firms", "part_exceeds_total", False),
)
"""Cross-field rules ``part <= total``.  The part is quarantined (the total stays usable)."""

RATE_TOLERANCE_PP = 0.5
"""Largest gap (percentage points) between a reported and a recomputed rate still called equal:
forms round rates to whole percent, so half a point is rounding, more is a different number."""

INTEGER_TOLERANCE = 1e-9
"""Counts read from Excel may carry float noise (``12.000000000001``); that is still an integer.
Relative to the value: a count is whole when ``|value - round(value)| <= INTEGER_TOLERANCE *
|value|``, so ``1e-300`` (0 plus far less than any noise, but not 0) is not, and a count of
1e-300 young people no longer makes 青少年人均经费 ten times its maximum."""

FAILURE_COLUMNS = [
    "file", "sheet", "cell", "county", "county_code", "period", "indicator", "raw_value",
    "value", "rule", "action", "message", "record_id",
]
"""Columns of the failure table, in order."""

# what every check needs from the values frame
_VALUE_COLUMNS = ["record_id", "source_file", "source_sheet", "source_cell", "county_code",
                  "period", "indicator", "raw_value", "value"]


def rules_frame() -> pd.DataFrame:
    """All rules as a table (name, stage, action, message_zh, description).

    Returns
    -------
    pandas.DataFrame
        One row per rule, in declaration order.
    """
    return pd.DataFrame([r.__dict__ for r in RULES])


def _rule(name: str) -> Rule:
    try:
        return _RULES_BY_NAME[name]
    except KeyError:
        raise KeyError(f"validate.py: rule {name!r} is not declared in RULES; add it there") from None


class _Fields(dict):
    """Format fields for message templates; a missing field shows as '?' instead of failing."""

    def __missing__(self, key: str) -> str:
        return "?"


_ABSENT = object()
"""A message field the row does not have (the template shows "?" for it)."""


@lru_cache(maxsize=None)
def _template_fields(rule: str) -> frozenset[str]:
    """Names of the fields the rule's message template uses (``{min:g}`` → ``min``)."""
    template = _RULES_BY_NAME[rule].message_zh if rule in _RULES_BY_NAME else \
        _RULES_BY_NAME["value_unreadable"].message_zh
    return frozenset(re.split(r"[.\[]", name, maxsplit=1)[0]
                     for _, name, _, _ in string.Formatter().parse(template) if name)


def _message(rule: str, fields: dict) -> str:
    template = _RULES_BY_NAME[rule].message_zh if rule in _RULES_BY_NAME else \
        _RULES_BY_NAME["value_unreadable"].message_zh
    clean = _Fields({k: ("" if v is None or (isinstance(v, float) and np.isnan(v)) else v)
                     for k, v in fields.items()})
    try:
        return template.format_map(clean)
    except (ValueError, TypeError):
        # a numeric format code met a non-number (e.g. an empty value): show raw text instead
        return re.sub(r"\{(\w+):[^}]*\}", r"{\1}", template).format_map(clean)


def failure_rows(rows: pd.DataFrame, rule: str, *, parser_rule: pd.Series | None = None,
                 extra: dict[str, pd.Series | object] | None = None) -> pd.DataFrame:
    """Turn failing value rows into failure-table rows for one declared rule.

    Parameters
    ----------
    rows : pandas.DataFrame
        Value rows (at least ``record_id``, ``source_file``, ``source_sheet``, ``source_cell``,
        ``indicator``, ``raw_value``; optionally ``county_text``, ``county_code``, ``period``,
        ``value``, ``header_text``).
    rule : str
        A name from :data:`RULES` (its action and message are used).
    parser_rule : pandas.Series, optional
        Per-row rule names that replace ``rule`` in the ``rule`` column (the parser's own names,
        e.g. ``excel_error``); the message and action still come from ``rule``.
    extra : dict, optional
        More message fields (``other``, ``other_zh``, ``note``, ``values``), scalars or Series
        aligned with ``rows``.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`FAILURE_COLUMNS`.
    """
    declared = _rule(rule)
    if rows.empty:
        return pd.DataFrame(columns=FAILURE_COLUMNS)
    cat = load_catalog()
    names_zh = cat["name_zh"].to_dict()
    extra = extra or {}
    none = [None] * len(rows)
    out = object_frame({
        "file": rows["source_file"],
        "sheet": rows["source_sheet"],
        "cell": rows["source_cell"],
        "county": rows["county_text"] if "county_text" in rows else none,
        "county_code": rows["county_code"] if "county_code" in rows else none,
        "period": rows["period"] if "period" in rows else none,
        "indicator": rows["indicator"],
        "raw_value": rows["raw_value"],
        "value": rows["value"] if "value" in rows else np.nan,
        "rule": parser_rule if parser_rule is not None else rule,
        "action": declared.action,
        "record_id": rows["record_id"],
    }, len(rows), floats=("value",))
    header = rows.get("header_text", pd.Series("", index=rows.index)).tolist()
    indicators = out["indicator"].tolist()
    n = len(indicators)
    used = _template_fields(rule)
    # one list per field the message uses, filled as the per-row field dict used to be
    # (``_ABSENT`` where that dict had no such key: the message shows "?")
    fields: dict[str, list] = {}
    if "indicator_zh" in used:
        fields["indicator_zh"] = [names_zh.get(ind, ind or h or "")
                                  for ind, h in zip(indicators, header)]
    if "raw_value" in used:
        # 130.0 read from Excel was written 130
        fields["raw_value"] = [int(r) if isinstance(r, float) and r.is_integer() else r
                               for r in out["raw_value"].tolist()]
    if "value" in used:
        fields["value"] = out["value"].tolist()
    if "county_text" in used:
        fields["county_text"] = out["county"].tolist()
    if "header_text" in used:
        fields["header_text"] = header
    # catalog bounds once per indicator: cat.at per row dominated the run time when a large
    # batch of duplicates was quarantined (measured: 12 of 18 s for 110k rows)
    bounds = {code: (cat.at[code, "min"], cat.at[code, "max"])
              for code in dict.fromkeys(indicators) if code in names_zh}
    for i, name in enumerate(("min", "max")):
        if name in used:
            fields[name] = [bounds[ind][i] if ind in bounds else _ABSENT for ind in indicators]
    for k, v in extra.items():
        if k in used:
            fields[k] = v.tolist() if isinstance(v, pd.Series) else [v] * n
    if "note" in used and "note" not in fields:
        fields["note"] = [""] * n
    names = list(fields)
    # each distinct combination of those fields is formatted once (a batch of 600 000
    # conflicting repeats has one message per group); see cells.per_distinct for what counts
    # as the same value
    cache: dict[tuple, str] = {}
    messages = []
    for values in zip(*fields.values()) if names else ((),) * n:
        types = tuple(map(type, values))
        # shared only between rows of plain values (_ABSENT, a bare object, is one of them)
        key = values + types if PLAIN_TYPES.issuperset(types) else None
        text = cache.get(key) if key is not None else None
        if text is None:
            text = _message(rule, {k: v for k, v in zip(names, values) if v is not _ABSENT})
            if key is not None:
                cache[key] = text
        messages.append(text)
    out.insert(FAILURE_COLUMNS.index("message"), "message", pd.Series(messages, dtype=object))
    return out[FAILURE_COLUMNS]


def _empty_failures() -> pd.DataFrame:
    return pd.DataFrame(columns=FAILURE_COLUMNS)


def _concat(frames: list[pd.DataFrame]) -> pd.DataFrame:
    frames = [f for f in frames if not f.empty]
    if not frames:
        return _empty_failures()
    return pd.concat(frames, ignore_index=True)[FAILURE_COLUMNS]


def check_cells(values: pd.DataFrame, catalog: pd.DataFrame | None = None) -> pd.DataFrame:
    """Per-cell rules from the catalog: ``below_min``, ``above_max``, ``not_integer``.

    Parameters
    ----------
    values : pandas.DataFrame
        Long parsed values: ``record_id``, ``source_file``, ``source_sheet``, ``source_cell``,
        ``county_code``, ``period``, ``indicator`` (catalog code), ``raw_value`` and ``value``
        (float in the catalog unit: 人, 个, 件, % 0–100, 万元, bool as 0/1; NaN = missing).
    catalog : pandas.DataFrame, optional
        The indicator catalog (default :func:`analysis.catalog.load_catalog`).

    Returns
    -------
    pandas.DataFrame
        Failure table (:data:`FAILURE_COLUMNS`); a cell fails each rule at most once.  Missing
        values (NaN) pass every per-cell rule: missingness is measured as completeness, not
        quarantined.
    """
    _require(values, _VALUE_COLUMNS, "check_cells")
    cat = load_catalog() if catalog is None else catalog
    known = values[values["indicator"].isin(cat.index)]
    value = pd.to_numeric(known["value"], errors="coerce")
    lo = known["indicator"].map(cat["min"]).astype(float)
    hi = known["indicator"].map(cat["max"]).astype(float)
    integer = known["indicator"].map(cat["integer"]).astype(bool)
    present = value.notna()
    below = present & (value < lo)
    above = present & (value > hi)
    frac = present & integer & ((value - value.round()).abs() > INTEGER_TOLERANCE * value.abs())
    # a value out of range is reported as out of range only: one message per cell is clearer
    frac &= ~(below | above)
    return _concat([
        failure_rows(known[below], "below_min"),
        failure_rows(known[above], "above_max"),
        failure_rows(known[frac], "not_integer"),
    ])


def check_cross(values: pd.DataFrame, notes: pd.DataFrame | None = None) -> pd.DataFrame:
    """Cross-field rules ``part <= total`` of :data:`PART_TOTAL`, within one county and period.

    Parameters
    ----------
    values : pandas.DataFrame
        Long values with *at most one* row per (county_code, period, indicator) — run it after
        duplicates are resolved.  Columns as for :func:`check_cells`.
    notes : pandas.DataFrame, optional
        Remarks: ``county_code``, ``period``, ``note`` (text).  A non-empty remark for the county
        and period turns ``filled_exceeds_authorized`` into ``filled_exceeds_authorized_noted``
        (a ``fix``: the value is kept and the remark is copied into the audit).

    Returns
    -------
    pandas.DataFrame
        Failure table; the row names the *part* cell (``record_id``), the message names both.
    """
    _require(values, _VALUE_COLUMNS, "check_cross")
    key = ["county_code", "period"]
    dup = values.duplicated(key + ["indicator"])
    if dup.any():
        first = values[dup].iloc[0]
        raise ValueError(
            f"check_cross: {int(dup.sum())} repeated (county_code, period, indicator) rows, e.g. "
            f"{first['county_code']} {first['period']} {first['indicator']}; resolve duplicates "
            "first (pipeline does this before cross-field rules)")
    names_zh = load_catalog()["name_zh"].to_dict()
    note_by_key: dict[tuple, str] = {}
    if notes is not None and not notes.empty:
        # distinct remarks per (county, period) in their row order, one pass over plain lists
        # (a groupby with a pandas join per group took 0.16 s for the demo's 472 keys)
        texts: dict[tuple, dict[str, None]] = {}
        for c, per, n in zip(notes["county_code"].tolist(), notes["period"].tolist(),
                             notes["note"].tolist()):
            text = "" if _missing(n) else str(n).strip()
            if text and not (_missing(c) or _missing(per)):
                texts.setdefault((c, per), {})[text] = None
        note_by_key = {k: "；".join(v) for k, v in texts.items()}
    frames = []
    # the rows of each indicator the rules name, split once (not two masks per rule)
    named = {code for rule in PART_TOTAL for code in rule[:2]}
    by_indicator = dict(tuple(values[values["indicator"].isin(named)].groupby("indicator",
                                                                             sort=False)))
    empty = values.iloc[:0]
    for part, total, rule, note_allowed in PART_TOTAL:
        p = by_indicator.get(part, empty)
        t = by_indicator.get(total, empty)[key + ["value"]].rename(columns={"value": "other"})
        m = p.merge(t, on=key, how="inner")
        v = pd.to_numeric(m["value"], errors="coerce")
        o = pd.to_numeric(m["other"], errors="coerce")
        bad = m[(v > o) & v.notna() & o.notna()]
        if bad.empty:
            continue
        note = pd.Series([note_by_key.get((c, per), "") for c, per in
                          zip(bad["county_code"], bad["period"])], index=bad.index)
        extra = {"other": bad["other"], "other_zh": names_zh[total], "note": note}
        if note_allowed:
            noted = note != ""
            frames.append(failure_rows(bad[noted], rule + "_noted",
                                       extra={k: (s[noted] if isinstance(s, pd.Series) else s)
                                              for k, s in extra.items()}))
            bad, extra = bad[~noted], {k: (s[~noted] if isinstance(s, pd.Series) else s)
                                       for k, s in extra.items()}
        frames.append(failure_rows(bad, rule, extra=extra))
    return _concat(frames)


def check_derived(derived: pd.DataFrame, values: pd.DataFrame,
                  catalog: pd.DataFrame | None = None) -> pd.DataFrame:
    """Derived indicators outside their catalog range, one failure row each, naming its inputs.

    ``analysis.indicators.derive`` sets such a value to missing with the reason ``out of
    range: …``; this turns those rows into rule ``derived_out_of_range`` (action ``missing``)
    for the audit, located by the cells of the raw inputs of the formula (a derived input is
    followed to its own raw inputs).

    Parameters
    ----------
    derived : pandas.DataFrame
        As ``derive`` returns it: ``county_code``, ``period``, ``indicator``, ``value``,
        ``missing_reason``.
    values : pandas.DataFrame
        The clean values it was derived from, with ``source_file``, ``source_sheet`` and
        ``source_cell`` (the ``indicators`` table of the clean step).
    catalog : pandas.DataFrame, optional
        The indicator catalog (default :func:`analysis.catalog.load_catalog`).

    Returns
    -------
    pandas.DataFrame
        Failure table (:data:`FAILURE_COLUMNS`): ``file``, ``sheet``, ``cell`` and
        ``record_id`` join the inputs' places with ``"; "``; ``raw_value`` is the computed
        value (6 significant digits), ``value`` is NaN.
    """
    cat = load_catalog() if catalog is None else catalog
    out = derived[derived["missing_reason"].astype(str).str.startswith("out of range")]
    if out.empty:
        return _empty_failures()
    names_zh = cat["name_zh"].to_dict()
    source = values.set_index(["county_code", "period", "indicator"])
    rows, notes = [], []
    for county, period, code, reason in zip(out["county_code"], out["period"], out["indicator"],
                                            out["missing_reason"]):
        inputs = _raw_inputs(code, cat)
        found = [(name, source.loc[(county, period, name)]) for name in inputs
                 if (county, period, name) in source.index]
        places = [f"{r['source_file']}!{r['source_sheet']}!{r['source_cell']}" for _, r in found]
        rows.append({
            "record_id": "; ".join(places),
            "source_file": "; ".join(dict.fromkeys(str(r["source_file"]) for _, r in found)),
            "source_sheet": "; ".join(dict.fromkeys(str(r["source_sheet"]) for _, r in found)),
            "source_cell": "; ".join(str(r["source_cell"]) for _, r in found),
            "county_code": county, "period": period, "indicator": code,
            "raw_value": _DERIVED_VALUE.search(reason).group(1), "value": np.nan})
        notes.append("、".join(f"{names_zh.get(name, name)} {r['value']:g}" for name, r in found))
    frame = pd.DataFrame(rows, index=out.index)
    return failure_rows(frame, "derived_out_of_range", extra={"note": pd.Series(notes, index=out.index)})


_DERIVED_VALUE = re.compile(r"out of range: (\S+)")
_NAME = re.compile(r"[A-Za-z_]\w*")


def _raw_inputs(code: str, cat: pd.DataFrame) -> list[str]:
    """The raw indicators a derived indicator's formula reads, derived inputs followed."""
    out: list[str] = []
    for name in _NAME.findall(str(cat.at[code, "formula"])):
        if name not in cat.index:
            continue
        if cat.at[name, "kind"] == "raw":
            out.append(name)
        else:
            out += _raw_inputs(name, cat)
    return list(dict.fromkeys(out))


_FORMULA = re.compile(r"^\s*100\s*\*\s*(\w+)\s*/\s*(\w+)\s*$")


def rate_formulas(catalog: pd.DataFrame | None = None) -> dict[str, tuple[str, str]]:
    """Derived rates of the catalog written as ``100 * numerator / denominator``.

    Returns
    -------
    dict
        ``{rate_code: (numerator_code, denominator_code)}``; the rate is in % (0–100).
    """
    cat = load_catalog() if catalog is None else catalog
    out = {}
    for code, formula in cat.loc[cat["kind"] == "derived", "formula"].items():
        m = _FORMULA.match(formula)
        if m:
            out[code] = (m.group(1), m.group(2))
    return out


def reconcile_rates(rates: pd.DataFrame, values: pd.DataFrame) -> pd.DataFrame:
    """Compare rates reported on a form with the same rate recomputed from its counts.

    Rates are never trusted from the form when the counts are there (DOMAIN.md §2): the counts
    are kept and the rate is derived again downstream.  This check only tells the clerk, and
    the audit, when the two disagree.

    Parameters
    ----------
    rates : pandas.DataFrame
        Reported rate cells: ``record_id``, ``source_*``, ``county_code``, ``period``,
        ``indicator`` (a derived rate code, e.g. ``secretary_rate``), ``raw_value`` and
        ``value`` (in %, 0–100).
    values : pandas.DataFrame
        Clean count values, at most one row per (county_code, period, indicator).

    Returns
    -------
    pandas.DataFrame
        One failure-table row per rate cell, rule ``rate_recomputed`` (gap above
        :data:`RATE_TOLERANCE_PP` points; ``value`` holds the recomputed rate),
        ``rate_consistent`` or ``rate_without_counts``.
    """
    if rates.empty:
        return _empty_failures()
    formulas = rate_formulas()
    key = ["county_code", "period"]
    counts = values.pivot_table(index=key, columns="indicator", values="value",
                                aggfunc="first") if not values.empty else pd.DataFrame()
    recomputed = []
    for code, county, period in zip(rates["indicator"], rates["county_code"], rates["period"]):
        num, den = formulas.get(code, (None, None))
        try:
            n = counts.at[(county, period), num]
            d = counts.at[(county, period), den]
        except (KeyError, TypeError):
            n = d = np.nan
        recomputed.append(100.0 * n / d if pd.notna(n) and pd.notna(d) and d > 0 else np.nan)
    recomputed = pd.Series(recomputed, index=rates.index, dtype=float)
    reported = pd.to_numeric(rates["value"], errors="coerce")
    no_counts = recomputed.isna()
    gap = (reported - recomputed).abs()
    differs = ~no_counts & (reported.isna() | (gap > RATE_TOLERANCE_PP))
    same = ~no_counts & ~differs
    with_recomputed = rates.assign(value=recomputed)
    return _concat([
        failure_rows(with_recomputed[differs], "rate_recomputed"),
        failure_rows(with_recomputed[same], "rate_consistent"),
        failure_rows(rates[no_counts], "rate_without_counts"),
    ])


@dataclass
class Validation:
    """Result of :func:`validate`.

    Attributes
    ----------
    failures : the failure table (:data:`FAILURE_COLUMNS`), every rule that fired.
    """

    failures: pd.DataFrame = field(default_factory=_empty_failures)

    @property
    def quarantined(self) -> set:
        """``record_id`` of cells whose failures include a ``quarantine`` rule."""
        f = self.failures
        return set(f.loc[f["action"] == "quarantine", "record_id"])

    def to_frame(self) -> pd.DataFrame:
        """The failure table, sorted by file, sheet, cell and rule."""
        return self.failures.sort_values(["file", "sheet", "cell", "rule"],
                                         kind="stable").reset_index(drop=True)

    def summary(self) -> pd.Series:
        """Number of failures per rule."""
        return self.failures["rule"].value_counts().sort_index()


def validate(values: pd.DataFrame, notes: pd.DataFrame | None = None,
             catalog: pd.DataFrame | None = None) -> Validation:
    """Run every declared value rule and collect all failures (lazy validation).

    Per-cell rules run on every row; cross-field rules run on the rows that passed them and have
    one value per (county_code, period, indicator) — rows that repeat a key are left to the
    duplicate step of :mod:`analysis.ingest.pipeline` and skipped here.

    Parameters
    ----------
    values : pandas.DataFrame
        Long parsed values (see :func:`check_cells`).
    notes : pandas.DataFrame, optional
        Remarks per county and period (see :func:`check_cross`).
    catalog : pandas.DataFrame, optional
        Indicator catalog override.

    Returns
    -------
    Validation
        ``.failures`` / ``.to_frame()``: the failure table; ``.quarantined``: record ids.

    Examples
    --------
    >>> import pandas as pd
    >>> v = pd.DataFrame({"record_id": ["r1"], "source_file": ["a.xlsx"],
    ...     "source_sheet": ["汇总"], "source_cell": ["D7"], "county_code": ["513432"],
    ...     "period": ["2013H1"], "indicator": ["dues_rate"], "raw_value": ["120%"],
    ...     "value": [120.0]})
    >>> validate(v).failures["rule"].tolist()
    ['above_max']
    """
    cells = check_cells(values, catalog)
    passed = values[~values["record_id"].isin(set(cells["record_id"]))]
    single = passed[~passed.duplicated(["county_code", "period", "indicator"], keep=False)]
    cross = check_cross(single, notes)
    return Validation(_concat([cells, cross]))


def _require(frame: pd.DataFrame, columns: list[str], where: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(f"{where}: values frame lacks column(s) {missing}; "
                         f"expected at least {columns}")
