"""Descriptive summaries for the analysis notebooks: what was received, coverage, quarantine,
fixes, roster tallies and batch trajectories.

Every function takes the frames written by ``analysis clean`` (``files.csv``, ``quality.csv``,
``quarantine.csv``, ``audit.csv``, ``panel.parquet``, ``roster.parquet``) and returns a tidy
DataFrame, so the notebooks only call, pivot for display and read.  Nothing here reads a path.

Counts are plain counts; shares are percentages (0–100) unless the docstring says otherwise
(``standard_shares`` returns fractions 0–1 because that is what
:func:`analysis.charts.compliance_chart` draws).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from analysis.catalog import load_catalog
from analysis.design import CHANGE_WINDOWS, ROUND_BATCHES, ROUND_NAMES_ZH, period_index, roster_round
from analysis.ingest.periods import parse_period
from analysis.reference import base_units, load_prefectures, load_units

__all__ = [
    "SummaryInputError",
    "ROUND_LABELS",
    "RULE_LABELS",
    "TASK_LABELS",
    "ROUND_END_PERIODS",
    "file_sender",
    "file_period",
    "add_prefecture",
    "files_received",
    "coverage",
    "coverage_gaps",
    "quarantine_summary",
    "audit_summary",
    "sheet_list",
    "CENSUS_ROLES_ZH",
    "cell_census",
    "census_sentence",
    "unplaced_cells",
    "prepare_roster",
    "task_ratings",
    "period_means",
    "batch_trajectories",
    "before_after_start",
    "drawable_starts",
    "BEFORE_AFTER_LABELS_ZH",
    "standard_shares",
    "ROUND_WINDOWS",
    "window_change",
]

ROUND_LABELS: dict[int, str] = dict(ROUND_NAMES_ZH)

RULE_LABELS: dict[str, str] = {
    # quarantine rules (docs/data-contract.md)
    "period_contradiction": "填报时期无法确定或相互矛盾",
    "period_missing": "填报时期缺失",
    "county_unknown": "县（市、区）名称无法识别",
    "duplicate_conflict": "重复填报且数值不一致",
    "excel_error": "Excel 错误值（如 #DIV/0!）",
    "not_a_number": "无法识别为数值",
    "not_yes_no": "无法识别为是/否",
    "range_not_number": "填的是区间（如 300-400）",
    "wrong_unit": "单位不符",
    "date_not_number": "填的是日期而非数值",
    "not_finite": "数值无效（无穷大等）",
    "value_unreadable": "无法识别的填报值",
    "filled_exceeds_authorized": "实有在编人数超过核定编制且无说明",
    "part_exceeds_total": "部分数超过总数",
    "above_max": "超出合理上限",
    "below_min": "低于合理下限",
    "not_integer": "人数、个数不是整数",
    "cell_unplaced": "数字未能对应到县和指标",
    "period_not_half_year": "按全年填报，无法拆分到半年",
    "formula_not_cached": "公式未保存计算结果",
    # audit rules: fixes, values read as missing, merges
    "county_resolved": "县名规范为行政区划代码的标准名称",
    "filled_exceeds_authorized_noted": "在编超编但备注已说明，保留",
    "rate_recomputed": "填报比率与数量不符，按数量重算",
    # set aside (not values): columns and reported rates the library derives itself
    "unknown_column": "未识别的列",
    "remark": "备注",
    "rate_consistent": "填报比率与数量一致（比率由数量推导）",
    "rate_without_counts": "填报了比率但缺少数量",
    "duplicate_merged": "重复填报、数值一致，合并",
    "blank": "空白，记为缺失",
    "number_with_text": "数字带文字（如“约300”），取数字",
    "percent_sign": "带百分号，去掉百分号",
    "placeholder": "占位符（—、/、无），记为缺失",
    "share_to_percent": "小数比例换算为百分数",
    "unit_conversion": "单位换算（元→万元等）",
    "yes_no": "是/否类文字转为 1/0",
    "text_unplaced": "表格以外的文字，未导入",
    "period_whole_year": "全年数据按年末下半年计入（存量指标）",
    "formula_evaluated": "公式未保存结果，按本表数据计算",
    "derived_out_of_range": "由填报值计算的指标超出允许范围，记为缺失",
    "chinese_numeral": "中文数字（如“三百”“1.2万”）换算为数字",
    "thousands_separator": "去掉千分位逗号",
}
"""Chinese reading of the cleaning rules (unknown rules are shown by their code)."""

TASK_LABELS: dict[str, str] = {
    "task_1": "推动党建带团建制度的落实",
    "task_2": "抓好团干部配备",
    "task_3": "推动建立团组织",
    "task_4": "指导乡镇、街道团的工作",
    "task_5": "挖掘联系青年典型和青年能人",
}
"""The five round-2 tasks [seed], in the roster's column order."""

TASK_RATINGS: tuple[str, ...] = ("完成", "基本完成", "未完成")

ROUND_END_PERIODS: dict[int, str] = {r: w["round"][1] for r, w in CHANGE_WINDOWS.items()}
"""Half-year holding each round's last month (2010H2, 2014H1), the end of the ``round`` window
of :data:`analysis.design.CHANGE_WINDOWS`: the calendar's "at the end of the round"
observation, the default of :func:`standard_shares`.  A delivery's own ends (the latest half-year
of a round not yet over): :attr:`analysis.scope.Scope.round_ends`, which the notebooks pass."""

ROUND_WINDOWS: dict[int, tuple[str, str]] = {r: w["round"] for r, w in CHANGE_WINDOWS.items()}
"""Baseline and end half-year of each round: the ``round`` window of
:data:`analysis.design.CHANGE_WINDOWS` (the programme calendar is kept in one place there), the
default of :func:`window_change`.  A delivery's own windows: :attr:`analysis.scope.Scope.change`,
which the notebooks pass."""

_SENDER = re.compile(r"(?:^|/)([^/_]+?(?:市|州))团委")


class SummaryInputError(ValueError):
    """A frame handed to a summary lacks a column or holds a value the summary cannot read."""


def _require(frame: pd.DataFrame, columns: Sequence[str], where: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise SummaryInputError(
            f"{where}: the frame lacks column(s) {missing}; pass the table written by "
            f"`python -m analysis clean` (it has {list(frame.columns)[:12]})"
        )


def file_sender(source_file: pd.Series) -> pd.Series:
    """Prefecture that sent each file, read from its relative path.

    Parameters
    ----------
    source_file : relative paths as in ``files.csv`` (``2013年上半年/成都市团委_….xlsx`` or
        ``2013年上半年/雅安市团委/名山区_….xlsx``).

    Returns
    -------
    Series of prefecture names in their common form (``成都市``, ``凉山州``, as
    :func:`prefecture_name`), ``<NA>`` where the path names none.
    """
    sender = source_file.astype("string").str.extract(_SENDER, expand=False)
    # a file may carry the full name (凉山彝族自治州团委); fold it to the common one
    full = load_prefectures(2013)
    common = _prefecture_names()
    to_common = {name: common[code] for code, name in zip(full["code"], full["name"])}
    return sender.map(lambda x: to_common.get(x, x) if isinstance(x, str) else x).astype("string")


def _prefecture_names() -> dict[str, str]:
    """Prefecture code → common name: 市 keep their name, 自治州 are called by short name + 州
    (凉山彝族自治州 → 凉山州), as the League's own documents and file names do."""
    p = load_prefectures(2013)
    return {c: (f"{short}州" if name.endswith("自治州") else name)
            for c, name, short in zip(p["code"], p["name"], p["short_name"])}


def file_period(source_file: pd.Series) -> pd.Series:
    """Half-year of each file's top folder (``2013年上半年`` → ``2013H1``); ``<NA>`` if none."""
    top = source_file.astype("string").str.split("/").str[0]
    # a handful of distinct folders: parse each once
    table = {t: parse_period(t) for t in top.dropna().unique()}
    return top.map(table).astype("string")


def add_prefecture(frame: pd.DataFrame, code: str = "base_code") -> pd.DataFrame:
    """Add ``prefecture`` (2008 base prefecture name) and ``county`` (unit name) by county code.

    Parameters
    ----------
    frame : any frame with a 6-digit county code column (text or integer).
    code : name of that column; codes of the 2008 base (``base_code``) or of any code book
        2008–2014 (units created later take their newest name).

    Returns
    -------
    Copy of ``frame`` with ``prefecture`` (common name: 成都市, 凉山州) and ``county``
    (``<NA>`` for unknown codes).
    """
    _require(frame, [code], "add_prefecture")
    # every code book of the study years, so a code used only in some years (南溪区 511503 from
    # 2011) is found; later books win, and the 2008 base names win for base codes
    units = pd.concat([*(load_units(y) for y in range(2008, 2015)), base_units()], ignore_index=True)
    units = units.drop_duplicates("code", keep="last")
    key = frame[code].astype("string").str.replace(r"\.0$", "", regex=True)
    out = frame.copy()
    pref = dict(zip(units["code"], units["prefecture_code"].map(_prefecture_names())))
    out["prefecture"] = key.map(pref).astype("string")
    out["county"] = key.map(dict(zip(units["code"], units["name"]))).astype("string")
    return out


def files_received(files: pd.DataFrame, by: Sequence[str] = ("period",)) -> pd.DataFrame:
    """Files received and their records, counted by period, prefecture, file type or layout.

    Parameters
    ----------
    files : ``files.csv`` (one row per input file).
    by : any of ``period`` (top folder), ``prefecture`` (sender), ``file_type`` (extension:
        xlsx/xls/csv/html) and ``layout`` (summary/form/flat/roster as detected).

    Returns
    -------
    DataFrame ``*by, n_files, records_in, clean, quarantined`` sorted by ``by`` (periods in
    calendar order); counts of files and of data cells.
    """
    _require(files, ["source_file", "layouts", "records_in", "clean", "quarantined"], "files_received")
    allowed = {"period", "prefecture", "file_type", "layout"}
    bad = [b for b in by if b not in allowed]
    if bad:
        raise SummaryInputError(f"files_received: cannot group by {bad}; choose from {sorted(allowed)}")
    f = files.assign(
        period=file_period(files["source_file"]),
        prefecture=file_sender(files["source_file"]),
        file_type=files["source_file"].astype("string").str.extract(r"\.([A-Za-z]+)$", expand=False).str.lower(),
        layout=files["layouts"].astype("string"),
    )
    keys = list(by)
    if not keys:
        f = f.assign(_all="全部")
        keys = ["_all"]
    out = (f.groupby(keys, dropna=False, sort=False)
             .agg(n_files=("source_file", "size"), records_in=("records_in", "sum"),
                  clean=("clean", "sum"), quarantined=("quarantined", "sum"))
             .reset_index())
    return _sort(out, keys).drop(columns="_all", errors="ignore")


def _sort(frame: pd.DataFrame, keys: Sequence[str]) -> pd.DataFrame:
    # periods sort by calendar, everything else as text; stable so ties keep their order
    sort_cols = {k: (_period_number(frame[k]) if k == "period" else frame[k].astype("string"))
                 for k in keys}
    order = pd.DataFrame(sort_cols).sort_values(list(keys), kind="stable", na_position="last").index
    return frame.loc[order].reset_index(drop=True)


def _period_number(periods: pd.Series) -> pd.Series:
    """Sortable number of each half-year, :func:`analysis.design.period_index` (``2013H1`` →
    11.0); NaN for a blank, :class:`analysis.design.DesignError` for any other text."""
    return periods.map(lambda p: float(period_index(p)) if isinstance(p, str) and p else np.nan)


def _expected_units(periods: Sequence[str]) -> pd.DataFrame:
    """Units that existed in each half-year, with the codes of that year's code book (the codes
    ``analysis clean`` writes: 南溪区 is 511503 from 2011, not 2008's 511522)."""
    rows = []
    for p in periods:
        u = load_units(int(p[:4]))
        rows.append(pd.DataFrame({"period": p, "county_code": u["code"].astype(str)}))
    return pd.concat(rows, ignore_index=True)


def coverage(quality: pd.DataFrame, by: Sequence[str] = ("period",)) -> pd.DataFrame:
    """Reporting coverage: counties expected, counties that reported, cells reported.

    A county is *expected* in a half-year if it exists in that year's code book (181 units to
    2012, 183 from 2013), under that year's code.  It has *reported* if ``quality.csv`` has a row for it; its cells are
    complete when ``missing == 0``.

    Parameters
    ----------
    quality : ``quality.csv`` (``county_code, period, expected, reported, missing``).
    by : ``period`` and/or ``prefecture`` (2013 prefecture of the unit).

    Returns
    -------
    DataFrame ``*by, expected, reported, complete, cells_expected, cells_reported, unexpected,
    cell_completeness``: ``expected``/``reported``/``complete`` count county × half-year pairs
    (per period they are counties); ``unexpected`` counts rows whose code is not in that year's
    code book (0 when the cleaning resolved every county); ``cell_completeness`` is in % of the
    cells expected from the reporting counties.
    """
    _require(quality, ["county_code", "period", "expected", "reported", "missing"], "coverage")
    bad = [b for b in by if b not in ("period", "prefecture")]
    if bad:
        raise SummaryInputError(f"coverage: cannot group by {bad}; choose period and/or prefecture")
    q = quality.assign(county_code=quality["county_code"].astype(str))
    periods = sorted(q["period"].dropna().unique(), key=period_index)
    grid = _expected_units(periods)
    grid = grid.merge(q[["county_code", "period", "expected", "reported", "missing"]]
                        .rename(columns={"expected": "cells_exp", "reported": "cells_rep"}),
                      on=["county_code", "period"], how="outer", indicator=True)
    grid["is_expected"] = grid["_merge"] != "right_only"
    # a code the year's code book does not hold is counted apart, never as a reporting county
    grid["has_reported"] = grid["_merge"] == "both"
    grid["is_unexpected"] = grid["_merge"] == "right_only"
    grid["is_complete"] = grid["has_reported"] & (grid["missing"] == 0)
    grid = add_prefecture(grid, "county_code")
    keys = list(by) or ["_all"]
    if not by:
        grid["_all"] = "全部"
    out = (grid.groupby(keys, sort=False, dropna=False)
               .agg(expected=("is_expected", "sum"), reported=("has_reported", "sum"),
                    complete=("is_complete", "sum"), cells_expected=("cells_exp", "sum"),
                    cells_reported=("cells_rep", "sum"), unexpected=("is_unexpected", "sum"))
               .reset_index())
    # counties with no row expect no cells; a group of only those has no completeness
    denominator = out["cells_expected"].where(out["cells_expected"] > 0)
    out["cell_completeness"] = 100.0 * out["cells_reported"] / denominator
    for c in ("expected", "reported", "complete", "cells_expected", "cells_reported", "unexpected"):
        out[c] = out[c].astype("int64")
    return _sort(out, keys).drop(columns="_all", errors="ignore")


def coverage_gaps(quality: pd.DataFrame) -> pd.DataFrame:
    """Every county × half-year that is not complete: not reported at all, or with missing cells.

    Parameters
    ----------
    quality : ``quality.csv``.

    Returns
    -------
    DataFrame ``prefecture, county, county_code, period, status, missing`` where ``status`` is
    ``未报送`` (no row: the county is in the code book but sent nothing) or ``缺项`` (reported with
    ``missing`` cells blank or kept out), sorted by county code and period.
    """
    _require(quality, ["county_code", "period", "missing"], "coverage_gaps")
    q = quality.assign(county_code=quality["county_code"].astype(str))
    periods = sorted(q["period"].dropna().unique(), key=period_index)
    grid = _expected_units(periods).merge(q[["county_code", "period", "missing"]],
                                          on=["county_code", "period"], how="left")
    gaps = grid[grid["missing"].isna() | (grid["missing"] > 0)].copy()
    gaps["status"] = np.where(gaps["missing"].isna(), "未报送", "缺项")
    gaps = add_prefecture(gaps, "county_code")
    gaps["missing"] = gaps["missing"].astype("Int64")
    gaps = gaps.assign(_k=_period_number(gaps["period"])).sort_values(["county_code", "_k"])
    return gaps[["prefecture", "county", "county_code", "period", "status", "missing"]].reset_index(drop=True)


def quarantine_summary(quarantine: pd.DataFrame, by: Sequence[str] = ("rule",)) -> pd.DataFrame:
    """Cells kept out of the clean data, counted by rule and optionally prefecture, period, indicator.

    Parameters
    ----------
    quarantine : ``quarantine.csv``.
    by : any of ``rule``, ``prefecture`` (sender of the file), ``period`` (folder of the file)
        and ``indicator``.

    Returns
    -------
    DataFrame ``*by, [rule_zh], n_cells, n_files``, largest ``n_cells`` first; ``rule_zh`` (the
    rule in Chinese) follows ``rule`` when grouping by rule.
    """
    _require(quarantine, ["file", "rule", "indicator"], "quarantine_summary")
    allowed = {"rule", "prefecture", "period", "indicator"}
    bad = [b for b in by if b not in allowed]
    if bad:
        raise SummaryInputError(f"quarantine_summary: cannot group by {bad}; choose from {sorted(allowed)}")
    q = quarantine.assign(prefecture=file_sender(quarantine["file"]),
                          period=file_period(quarantine["file"]))
    keys = list(by) or ["_all"]
    if not by:
        q["_all"] = "全部"
    out = (q.groupby(keys, dropna=False, sort=True)
             .agg(n_cells=("rule", "size"), n_files=("file", "nunique")).reset_index())
    if "rule" in keys:
        out.insert(keys.index("rule") + 1, "rule_zh", out["rule"].map(lambda r: RULE_LABELS.get(r, r)))
    out = out.sort_values("n_cells", ascending=False, kind="stable").reset_index(drop=True)
    return out.drop(columns="_all", errors="ignore")


def audit_summary(audit: pd.DataFrame, by: Sequence[str] = ("stage", "rule", "action")) -> pd.DataFrame:
    """Transformations from raw to clean (fixes, values read as missing, merged duplicates).

    Parameters
    ----------
    audit : ``audit.csv``.
    by : columns of ``audit`` to group by (default stage, rule, action).

    Returns
    -------
    DataFrame ``*by, [rule_zh], n, example`` — ``example`` is the most frequent raw text
    (``before``) of the group, so a reader sees what was fixed; largest ``n`` first.
    """
    _require(audit, ["stage", "rule", "action", "before", *by], "audit_summary")
    keys = list(by)
    g = audit.assign(before=audit["before"].astype("string").fillna("（空）"))
    out = g.groupby(keys, dropna=False).agg(n=("rule", "size")).reset_index()
    # most frequent raw text per group; ties broken by text so the example is deterministic
    top = (g.groupby([*keys, "before"], dropna=False).size().rename("k").reset_index()
             .sort_values([*keys, "k", "before"], ascending=[True] * len(keys) + [False, True])
             .drop_duplicates(keys))
    out = out.merge(top[[*keys, "before"]].rename(columns={"before": "example"}), on=keys, how="left")
    if "rule" in keys:
        out.insert(keys.index("rule") + 1, "rule_zh", out["rule"].map(lambda r: RULE_LABELS.get(r, r)))
    return out.sort_values(["n", *keys], ascending=[False] + [True] * len(keys), kind="stable").reset_index(drop=True)


def sheet_list(files: pd.DataFrame, column: str = "hidden_sheets") -> pd.DataFrame:
    """One row per file and listed sheet or column (``files.csv`` joins them with ``|``).

    Parameters
    ----------
    files : ``files.csv``.
    column : ``hidden_sheets`` (sheets the reader skipped because Excel hides them) or
        ``unknown_columns`` (headers that matched no indicator).

    Returns
    -------
    DataFrame ``period, prefecture, source_file, item`` (empty when no file lists any), sorted
    by period and file.
    """
    _require(files, ["source_file", column], "sheet_list")
    text = files[column].astype("string").fillna("")
    f = files.assign(item=text.str.split("|")).explode("item", ignore_index=True)
    f = f[f["item"].astype("string").str.strip().fillna("") != ""]
    out = pd.DataFrame({"period": file_period(f["source_file"]), "prefecture": file_sender(f["source_file"]),
                        "source_file": f["source_file"].astype("string"),
                        "item": f["item"].astype("string").str.strip()})
    return _sort(out, ["period", "source_file", "item"])


CENSUS_ROLES_ZH: dict[str, str] = {
    "title": "标题", "meta": "填报单位、单位、截至行", "header": "表头", "code_row": "栏次行",
    "units_row": "计量单位行", "label": "行标签（县名、序号、指标名、单位）", "note": "备注",
    "personal": "人员姓名列（计数，不导出）", "total": "合计、小计", "footer": "表注、填表人",
    "roster": "驻点干部名册", "data": "数据单元格", "unplaced": "未能定位的单元格",
}
"""Chinese names of the cell census roles (``analysis.ingest.census.ROLES``)."""


def cell_census(sheets: pd.DataFrame) -> pd.DataFrame:
    """The non-empty cells of every sheet read, by census role (``sheets.csv``).

    Parameters
    ----------
    sheets : ``sheets.csv`` (one row per sheet; hidden sheets, not read, are left out).

    Returns
    -------
    DataFrame ``角色, 单元格数, 占比`` — one row per role in the census' order (the role codes of
    ``sheets.csv`` as the index), share in percent of the non-empty cells read.
    """
    _require(sheets, ["status", "cells_nonempty"], "cell_census")
    read = sheets[sheets["status"] == "ok"]
    rows = []
    total = int(read["cells_nonempty"].sum())
    for role, zh in CENSUS_ROLES_ZH.items():
        n = int(read[f"role_{role}"].sum()) if f"role_{role}" in read else 0
        rows.append({"角色": zh, "单元格数": n, "占比": round(100 * n / total, 1) if total else 0.0})
    return pd.DataFrame(rows, index=pd.Index(list(CENSUS_ROLES_ZH), name="role"))


def census_sentence(sheets: pd.DataFrame) -> str:
    """One Chinese sentence: cells read = structure + data + unplaced, and hidden cells."""
    _require(sheets, ["status", "cells_nonempty", "cells_structure", "cells_data",
                      "cells_unplaced", "cells_hidden"], "census_sentence")
    read = sheets[sheets["status"] == "ok"]
    n, st, d, u = (int(read[c].sum()) for c in ("cells_nonempty", "cells_structure",
                                                 "cells_data", "cells_unplaced"))
    hidden = int(sheets["cells_hidden"].sum())
    text = (f"读入 {len(read)} 张工作表的 {n} 个非空单元格 = 结构 {st} + 数据 {d} + 未能定位 {u}"
            + ("，全部定位" if u == 0 else "，未能定位的单元格见下表（数字已隔离，文字列入修正记录）"))
    if hidden:
        text += f"；另有隐藏工作表 {hidden} 个非空单元格未读入"
    return text + "。"


def unplaced_cells(quarantine: pd.DataFrame, audit: pd.DataFrame) -> pd.DataFrame:
    """Every cell the layout step could not place, with its place: the numbers (quarantined,
    rule ``cell_unplaced``) and the texts (set aside, ``text_unplaced``).

    Returns
    -------
    DataFrame ``文件, 工作表, 单元格, 内容, 类别`` (类别 数字 or 文字), sorted by place; empty when
    every cell was placed.
    """
    _require(quarantine, ["file", "sheet", "cell", "raw_value", "rule"], "unplaced_cells")
    _require(audit, ["source_file", "source_sheet", "source_cell", "before", "rule"],
             "unplaced_cells")
    q = quarantine[quarantine["rule"] == "cell_unplaced"]
    a = audit[audit["rule"] == "text_unplaced"]
    out = pd.concat([
        pd.DataFrame({"文件": q["file"], "工作表": q["sheet"], "单元格": q["cell"],
                      "内容": q["raw_value"], "类别": "数字"}),
        pd.DataFrame({"文件": a["source_file"], "工作表": a["source_sheet"],
                      "单元格": a["source_cell"], "内容": a["before"], "类别": "文字"}),
    ], ignore_index=True)
    return out.sort_values(["文件", "工作表", "单元格"], kind="stable", ignore_index=True)


def prepare_roster(roster: pd.DataFrame) -> pd.DataFrame:
    """The cleaned roster with ``round`` filled and ``grade`` named as the indices expect.

    ``analysis clean`` leaves ``round`` empty when the roster has one sheet per round
    (第一轮/第二轮) instead of a 轮次 column; the sheet name then gives the round.

    Parameters
    ----------
    roster : ``roster.parquet`` (pseudonymous; no names).

    Returns
    -------
    Copy with ``round`` (int 1/2), ``round_zh`` (第一轮/第二轮), ``batch`` (int) and ``grade``
    (the end-of-stint assessment 优秀/良好/合格/不合格, ``<NA>`` if blank).

    Raises
    ------
    SummaryInputError
        A row whose round is neither given nor named by its sheet (with its sheet and row).
    """
    _require(roster, ["batch", "assessment"], "prepare_roster")
    out = roster.copy()
    given = out["round"] if "round" in out else pd.Series(None, index=out.index, dtype=object)
    sheet = out["source_sheet"] if "source_sheet" in out else pd.Series(None, index=out.index, dtype=object)
    rnd = pd.Series([roster_round(r, s) for r, s in zip(given, sheet)], index=out.index, dtype=float)
    if rnd.isna().any():
        i = rnd.index[rnd.isna()][0]
        where = (f"sheet {out.at[i, 'source_sheet']!r}, row {out.at[i, 'source_row']}"
                 if "source_row" in out else f"row {i!r}")
        raise SummaryInputError(
            f"prepare_roster: roster {where} names no round; fill its 轮次 column or name the "
            "sheet 第一轮/第二轮"
        )
    out["round"] = rnd.astype("int64")
    out["round_zh"] = out["round"].map(ROUND_LABELS)
    out["batch"] = pd.to_numeric(out["batch"]).astype("int64")
    g = out["assessment"].astype("string").str.strip()
    out["grade"] = g.mask(g == "")
    return out


def task_ratings(roster: pd.DataFrame, tasks: Mapping[str, str] = TASK_LABELS) -> pd.DataFrame:
    """How the five tasks were rated at the end of the stints, by round and task.

    Parameters
    ----------
    roster : roster with ``round`` (see :func:`prepare_roster`) and the task columns.
    tasks : task column → Chinese task name.

    Returns
    -------
    DataFrame ``round, task, task_zh, rating, n, share``: every rating of
    完成/基本完成/未完成 for every round × task (``n = 0`` if none); ``share`` in % of the rated
    stints of that round and task (blank ratings are not rated), NaN when none was rated.
    """
    _require(roster, ["round", *tasks], "task_ratings")
    long = roster.melt(id_vars=["round"], value_vars=list(tasks), var_name="task", value_name="rating")
    long["rating"] = long["rating"].astype("string").str.strip()
    long = long[long["rating"].notna() & (long["rating"] != "")]
    unknown = sorted(set(long["rating"]) - set(TASK_RATINGS))
    if unknown:
        raise SummaryInputError(f"task_ratings: ratings {unknown} are not one of {list(TASK_RATINGS)}; fix the roster")
    rounds = sorted(pd.to_numeric(roster["round"]).dropna().astype(int).unique())
    full = pd.MultiIndex.from_product([rounds, list(tasks), list(TASK_RATINGS)], names=["round", "task", "rating"])
    n = long.groupby(["round", "task", "rating"]).size().reindex(full, fill_value=0).rename("n").reset_index()
    total = n.groupby(["round", "task"])["n"].transform("sum")
    n["share"] = np.where(total > 0, 100.0 * n["n"] / total.where(total > 0, 1), np.nan)
    n.insert(2, "task_zh", n["task"].map(dict(tasks)))
    return n


def period_means(panel: pd.DataFrame, indicators: Sequence[str], by: Sequence[str] = ()) -> pd.DataFrame:
    """Mean of each indicator over counties, per half-year (and optional groups).

    Parameters
    ----------
    panel : wide panel (``period`` and one column per indicator).
    indicators : indicator codes (columns of ``panel``).
    by : extra grouping columns of ``panel`` (e.g. ``prefecture``).

    Returns
    -------
    DataFrame ``*by, indicator, name_zh, unit, period, mean, n_counties`` — the unweighted mean
    over the counties with a value, in the indicator's unit (catalog).
    """
    _require(panel, ["period", *indicators, *by], "period_means")
    cat = load_catalog()
    long = (panel.melt(id_vars=[*by, "period"], value_vars=list(indicators), var_name="indicator")
                 .dropna(subset=["value"]))
    out = (long.groupby([*by, "indicator", "period"], sort=False)["value"]
               .agg(mean="mean", n_counties="size").reset_index())
    out.insert(len(by) + 1, "name_zh", out["indicator"].map(cat["name_zh"]))
    out.insert(len(by) + 2, "unit", out["indicator"].map(cat["unit"]))
    order = {c: i for i, c in enumerate(indicators)}
    out = out.assign(_i=out["indicator"].map(order), _p=_period_number(out["period"]))
    return out.sort_values([*by, "_i", "_p"]).drop(columns=["_i", "_p"]).reset_index(drop=True)


def batch_trajectories(panel: pd.DataFrame, design: pd.DataFrame, indicator: str, round_: int) -> pd.DataFrame:
    """Mean trajectory of one indicator for the counties of each batch of one round.

    Parameters
    ----------
    panel : wide panel with ``base_code`` and ``period`` (fold split counties first with
        :func:`analysis.design.to_base_panel` so every county belongs to one batch).
    design : :func:`analysis.design.build_design` output (``round, base_code, batch, gname``).
    indicator : indicator code (a column of ``panel``).
    round_ : 1 or 2; counties are grouped by their batch in that round.

    Returns
    -------
    DataFrame ``batch, period, value, n_counties, start`` in the shape of
    :func:`analysis.charts.trajectories_by_batch`: ``batch`` is the label ``第二轮第1批``,
    ``value`` the mean over the batch's counties in the indicator's unit, ``start`` the half-year
    the batch's residency began.
    """
    _require(panel, ["base_code", "period", indicator], "batch_trajectories")
    _require(design, ["round", "base_code", "batch"], "batch_trajectories (design)")
    if round_ not in ROUND_LABELS:
        raise SummaryInputError(f"batch_trajectories: round_={round_!r}; choose 1 or 2")
    d = design[design["round"] == round_][["base_code", "batch"]]
    if d.empty:
        raise SummaryInputError(f"batch_trajectories: the design has no county in round {round_}")
    m = panel[["base_code", "period", indicator]].merge(d, on="base_code", how="inner").dropna(subset=[indicator])
    out = (m.groupby(["batch", "period"])[indicator].agg(value="mean", n_counties="size").reset_index())
    out["start"] = out["batch"].map(lambda b: ROUND_BATCHES[round_][int(b) - 1])
    out["batch"] = out["batch"].map(lambda b: f"{ROUND_LABELS[round_]}第{int(b)}批")
    out = out.assign(_p=_period_number(out["period"])).sort_values(["batch", "_p"])
    return out.drop(columns="_p").reset_index(drop=True)


def drawable_starts(trajectories: pd.DataFrame) -> pd.DataFrame:
    """:func:`batch_trajectories` output ready to draw: a start half-year without data is blanked.

    A batch whose residency starts after the delivery's last half-year (batch 4 of round 2,
    2013H2, in data up to 2013H1), or in a half-year nobody reported, has no point on the time
    axis to mark; :func:`analysis.charts.trajectories_by_batch` draws such a batch without a start
    mark when ``start`` is blank.

    Returns
    -------
    Copy with ``start`` blank (NA) where that half-year is not among the frame's periods and
    ``batch_start`` holding every batch's start (for :func:`before_after_start`).
    """
    _require(trajectories, ["period", "start"], "drawable_starts")
    out = trajectories.copy()
    out["batch_start"] = out["start"]
    out["start"] = out["start"].where(out["start"].isin(set(out["period"])))
    return out


BEFORE_AFTER_LABELS_ZH: dict[str, str] = {"before": "驻点前", "after": "驻点后", "change": "差"}
"""Chinese column labels of :func:`before_after_start`."""


def before_after_start(trajectories: pd.DataFrame, start: str = "start") -> pd.DataFrame:
    """Mean of each batch's trajectory before and from the half-year its residency began.

    Parameters
    ----------
    trajectories : :func:`batch_trajectories` output (``batch, period, value`` and ``start``).
    start : the column holding each batch's start half-year.

    Returns
    -------
    DataFrame indexed by ``batch`` (sorted) with ``before`` (mean ``value`` of the half-years
    before ``start``), ``after`` (from ``start`` on) and ``change`` = after − before; a side
    without a half-year is NaN, and so is its ``change``.  The means are of the batch's
    half-year means, each half-year counting once.
    """
    _require(trajectories, ["batch", "period", "value", start], "before_after_start")
    if trajectories[start].isna().any():
        raise SummaryInputError(f"before_after_start: a batch has no start half-year in {start!r}")
    after = _period_number(trajectories["period"]) >= _period_number(trajectories[start])
    means = (trajectories["value"].groupby([trajectories["batch"], after.rename("after")]).mean()
             .unstack().reindex(columns=[False, True]))
    out = pd.DataFrame({"before": means[False], "after": means[True]})
    return out.assign(change=out["after"] - out["before"])


def standard_shares(panel: pd.DataFrame, standards: Sequence[str], *,
                    periods: Mapping[int, str] = ROUND_END_PERIODS,
                    by: Sequence[str] = ("prefecture",)) -> pd.DataFrame:
    """Share of counties meeting each policy standard at the end of each round.

    Parameters
    ----------
    panel : wide panel with ``period``, the standard columns (1 = met, 0 = not met) and the
        ``by`` columns (add ``prefecture`` with :func:`add_prefecture`).
    standards : standard codes (catalog kind ``standard``, e.g. ``std_funds_per_youth``).
    periods : round → the half-year observed for that round (default :data:`ROUND_END_PERIODS`).
    by : grouping columns; ``()`` gives the province.

    Returns
    -------
    DataFrame ``*by, standard, name_zh, round, n_counties, n_meeting, share`` — ``share`` is a
    **fraction 0–1** of the counties with a value (as :func:`analysis.charts.compliance_chart`
    expects); groups keep their order of first appearance in ``panel``.
    """
    _require(panel, ["period", *standards, *by], "standard_shares")
    cat = load_catalog()
    parts = []
    for rnd, per in periods.items():
        rows = panel[panel["period"] == per]
        if rows.empty:
            raise SummaryInputError(f"standard_shares: the panel has no row for {per} (round {rnd}); "
                                    "pass periods= with half-years the panel covers")
        long = rows.melt(id_vars=list(by), value_vars=list(standards), var_name="standard").dropna(subset=["value"])
        bad = ~long["value"].isin([0, 1])
        if bad.any():
            raise SummaryInputError(f"standard_shares: {long.loc[bad, 'standard'].iloc[0]} holds "
                                    f"{long.loc[bad, 'value'].iloc[0]!r}; standards must be 0/1")
        g = long.groupby([*by, "standard"], sort=False)["value"].agg(n_counties="size", n_meeting="sum").reset_index()
        g["round"] = rnd
        parts.append(g)
    out = pd.concat(parts, ignore_index=True)
    out["n_meeting"] = out["n_meeting"].astype("int64")
    out["share"] = out["n_meeting"] / out["n_counties"]
    out.insert(len(by) + 1, "name_zh", out["standard"].map(cat["name_zh"]))
    order = {c: i for i, c in enumerate(standards)}
    first = {k: i for i, k in enumerate(pd.unique(panel[list(by)].astype(str).agg("|".join, axis=1)))} if by else {}
    out = out.assign(_s=out["standard"].map(order),
                     _g=out[list(by)].astype(str).agg("|".join, axis=1).map(first) if by else 0)
    out = out.sort_values(["_s", "_g", "round"], kind="stable").drop(columns=["_s", "_g"])
    return out.reset_index(drop=True)


def window_change(panel: pd.DataFrame, indicators: Sequence[str], *,
                  windows: Mapping[int, tuple[str, str]] = ROUND_WINDOWS,
                  by: Sequence[str] = ()) -> pd.DataFrame:
    """Descriptive change of each indicator over each round's window, county by county.

    For every county with a value at both the baseline and the end half-year the change is
    ``end − baseline``; the result averages over those counties (a balanced comparison: counties
    missing either half-year are left out, so baseline and end means describe the same counties).

    Parameters
    ----------
    panel : wide panel with ``base_code``, ``period``, the indicator columns and the ``by``
        columns (fold split counties first with :func:`analysis.design.to_base_panel`).
    indicators : indicator codes.
    windows : round → (baseline, end) half-years; default :data:`ROUND_WINDOWS`.
    by : grouping columns, e.g. ``("prefecture",)``; ``()`` gives the province.

    Returns
    -------
    DataFrame ``*by, indicator, name_zh, unit, round, n_counties, baseline, end, change`` — means
    over the counties, in the indicator's unit (percentage points for rates).
    """
    _require(panel, ["base_code", "period", *indicators, *by], "window_change")
    cat = load_catalog()
    parts = []
    for rnd, (start, end) in windows.items():
        keep = [*by, "base_code"]
        b = panel[panel["period"] == start].set_index(keep)[list(indicators)]
        e = panel[panel["period"] == end].set_index(keep)[list(indicators)]
        if b.empty or e.empty:
            raise SummaryInputError(f"window_change: the panel lacks {start if b.empty else end} "
                                    f"(round {rnd}); pass windows= with half-years it covers")
        both = (pd.concat({"baseline": b.stack(), "end": e.stack()}, axis=1).dropna()
                  .rename_axis([*keep, "indicator"]).reset_index())
        both["change"] = both["end"] - both["baseline"]
        g = (both.groupby([*by, "indicator"], sort=False)
                 .agg(n_counties=("change", "size"), baseline=("baseline", "mean"),
                      end=("end", "mean"), change=("change", "mean")).reset_index())
        g["round"] = rnd
        parts.append(g)
    out = pd.concat(parts, ignore_index=True)
    out.insert(len(by) + 1, "name_zh", out["indicator"].map(cat["name_zh"]))
    out.insert(len(by) + 2, "unit", out["indicator"].map(cat["unit"]))
    order = {c: i for i, c in enumerate(indicators)}
    out = out.assign(_i=out["indicator"].map(order)).sort_values([*by, "_i", "round"], kind="stable")
    cols = [*by, "indicator", "name_zh", "unit", "round", "n_counties", "baseline", "end", "change"]
    return out[cols].reset_index(drop=True)
