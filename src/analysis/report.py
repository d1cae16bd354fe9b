"""Assemble the plenary chart pack: indices → rankings and changes → charts, tables, docx, index.html.

:func:`build_report` is the one entry point: it reads the processed data written by
``python -m analysis clean`` (``panel.parquet``, ``roster.parquet``) and computes what the pack
shows (:func:`read_report_data`, which the plenary notebook calls too), and writes into
``reports_dir``::

    figures/NN_name.{png,pdf,svg}   every chart (analysis.style.save_figure)
    tables/*.xlsx                   formatted tables (analysis.export.write_table_xlsx)
    驻点工作评估图表汇编.docx         the chart pack (analysis.export.write_docx)
    index.html                      a static page listing both

Effects of the residency come from one run of :func:`analysis.evaluate.evaluate_processed`
(Callaway–Sant'Anna on each round's staggered batches, counties of later batches as the
not-yet-treated comparison; the round difference bootstraps counties jointly), with the
composite indices added as outcomes: the event-study and forest charts and the evaluation
tables (:func:`analysis.evaluate.write_evaluation_tables`) are drawn from that one result.  Every chart is declared once in :data:`CHARTS`
(number, file stem, caption, builder, reading); adding a chart means adding one entry.  A chart
whose data are absent (no roster, a round without data) is skipped and named in
:attr:`ReportManifest.skipped`, never silently dropped.

Windows come from the delivery: :func:`analysis.scope.delivery_scope` derives them from the
half-years present and the programme calendar of :mod:`analysis.design` (on the whole demo: the
change of a round over ``CHANGE_WINDOWS[round]["round"]``, round 1 2008H1 → 2010H2, round 2
2011H2 → 2014H1; the DiD over ``DID_WINDOWS``; the ranking at 2014H1), and the pack states them
in its notes.  A part the delivery cannot give (no roster, one round, one half-year) is skipped
with the scope's Chinese sentence (:attr:`ReportManifest.skipped`, one line per part).  Round comparisons are made on the 181 units of the 2008
code book; a unit split off later (恩阳区, 前锋区) is folded into its parent by averaging the
parts' indices (an index is a score, not a count, so it is not summed).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from analysis import charts
from analysis.catalog import DOMAINS, DOMAIN_NAMES_ZH, load_catalog
from analysis.compare import round_changes
from analysis.design import CHANGE_WINDOWS, ROUND_BATCHES, ROUND_NAMES_ZH, build_design, period_index
from analysis.evaluate import (
    INDEX_OUTCOME,
    EvaluationError,
    composite_indices,
    dropped_note,
    evaluate_processed,
    index_outcomes,
    write_evaluation_tables,
)
from analysis.export import (
    REPORT_TITLE,
    FigureItem,
    TableItem,
    write_docx,
    write_index_html,
    write_table_xlsx,
)
from analysis.indices import INDEX_INDICATORS, RANKING_LABELS_ZH, ranking_table
from analysis.maps import MAP_NOTICE, choropleth
from analysis.reference import load_units
from analysis.scope import PARTS_ZH, Scope, ScopeError, delivery_scope, rounds_in_roster
from analysis.style import save_figure
from analysis.summaries import (
    SummaryInputError,
    batch_trajectories,
    before_after_start,
    drawable_starts,
    standard_shares,
)

__all__ = [
    "CHARTS",
    "DOMAINS",
    "FUNDS_STANDARD",
    "ROUND_WINDOWS",
    "STANDARDS",
    "ChartSpec",
    "ReportData",
    "ReportDataError",
    "ReportManifest",
    "build_report",
    "draw",
    "part_name",
    "prepare_report_data",
    "read_report_data",
]

ROUND_WINDOWS: dict[int, tuple[str, str]] = {r: w["round"] for r, w in CHANGE_WINDOWS.items()}
"""Baseline and end half-year of each round: ``analysis.design.CHANGE_WINDOWS[round]["round"]``
(reasons there)."""

FUNDS_STANDARD = "std_funds_per_youth"
"""The funds standard, 青少年人均经费 ≥ 0.5 元 [seed], evaluated by the clean step from the catalog
formula (1 = met); the first of :data:`STANDARDS`."""
STANDARDS: dict[str, str] = {
    FUNDS_STANDARD: "青少年人均经费≥0.5元",
    "std_liaison": "建立党建带团建联系会议制度",
    "std_attends": "团组织负责人列席同级党委会议",
    "std_assessment": "团建工作纳入党委党建目标考评",
}
"""The four policy standards of the compliance charts (catalog code → the standard in words, for
the chart title); each is 1 (met) / 0 in the processed panel, evaluated by the clean step."""
"""Domain indices drawn, besides the overall index, in the change maps and round dumbbells."""
ROUND2_BATCH_STARTS: dict[int, str] = dict(enumerate(ROUND_BATCHES[2], start=1))
"""First half-year of each round-2 batch (``analysis.design.ROUND_BATCHES[2]``)."""
INDEX_ZH = {**{k: v for k, v in DOMAIN_NAMES_ZH.items() if k != "context"}, "overall": "综合指数"}
DID_SEED = 20120215
"""Seed of the evaluation run: the default of :func:`analysis.evaluate.run_evaluation`, so the
indicator rows of the report's tables equal those of ``python -m analysis evaluate``."""
SOURCE = "各市州团委驻点工作统计报表（经清洗）"
DOCX_NAME = f"{REPORT_TITLE}.docx"


class ReportDataError(ValueError):
    """The processed data cannot feed the report."""


# --------------------------------------------------------------------------- data


@dataclass
class ReportData:
    """Everything the charts and tables of the pack are drawn from (all long frames).

    Attributes
    ----------
    panel : long indicator panel ``county_code, base_code, prefecture, period, indicator, value``
        (the index inputs and :data:`FUNDS_STANDARD`).
    index : ``county_code, base_code, prefecture, period, index, value`` (index points, 0–100).
    weights : entropy weights ``indicator, weight`` of the overall index.
    ranks : county ranking at ``rank_period``, :func:`analysis.indices.ranking_table`:
        ``county_code, county, prefecture, period, overall, vitality, staffing, tasks``, their
        round-2 changes ``*_change``, ``grade, flag, rank, rank_low, rank_high, rank_label``.
    changes : per base unit, round and index: ``base_code, county, prefecture, round, index,
        baseline, end, change`` (index points).
    roster : programme design (:func:`analysis.design.build_design`: ``round, base_code, batch,
        …``) from the residency roster, or ``None`` without a roster.
    rank_period : half-year of the ranking.
    event_study : ``round, event_time, att, se, ci_low, ci_high, band_low, band_high`` of the
        overall index (Callaway–Sant'Anna, not-yet-treated comparison; index points), or ``None``.
    round_effects : ``index, indicator, att_r1, att_r2, estimate, ci_low, ci_high, n_common``:
        round-2 minus round-1 average effect per index (index points), or ``None``.
    notes : the windows used, what the delivery cannot give, and warnings met on the way (e.g.
        counties dropped for a balanced DiD panel), in Chinese.
    evaluation : the one :func:`analysis.evaluate.evaluate_processed` result (indicators and
        indices) that ``event_study``, ``round_effects`` and the evaluation tables come from,
        or ``None`` when the delivery gives neither effects nor a round comparison (without a
        roster it holds the descriptive comparison only).
    scope : the delivery's windows and parts (:func:`analysis.scope.delivery_scope`).
    """

    panel: pd.DataFrame
    index: pd.DataFrame
    weights: pd.DataFrame
    ranks: pd.DataFrame
    changes: pd.DataFrame
    roster: pd.DataFrame | None
    rank_period: str
    event_study: pd.DataFrame | None = None
    round_effects: pd.DataFrame | None = None
    notes: list[str] = field(default_factory=list)
    evaluation: dict[str, pd.DataFrame] | None = None
    scope: Scope | None = None


def _names() -> tuple[dict[str, str], dict[str, str]]:
    """County name and prefecture short name of every code of any vintage (newest name wins)."""
    names: dict[str, str] = {}
    prefs: dict[str, str] = {}
    for vintage in [*range(2007, 2015), "current"]:
        u = load_units(vintage)
        names.update(zip(u["code"], u["name"]))
        prefs.update(zip(u["code"], u["prefecture_short"]))
    # the 2008 base names win for base codes: comparisons are labelled as the base code book
    base = load_units(2008)
    names.update(zip(base["code"], base["name"]))
    return names, prefs


def _long_panel(wide: pd.DataFrame, prefs: Mapping[str, str]) -> pd.DataFrame:
    need = {"county_code", "period", "base_code"}
    missing = need - set(wide.columns)
    if missing:
        raise ReportDataError(f"panel.parquet: missing column(s) {sorted(missing)}; rerun `python -m analysis clean`")
    inds = [c for c in INDEX_INDICATORS if c in wide.columns]
    extra = [c for c in STANDARDS if c in wide.columns and c not in inds]
    if not inds:
        raise ReportDataError(f"panel.parquet has none of the index indicators {list(INDEX_INDICATORS)}")
    long = wide.melt(id_vars=["county_code", "base_code", "period"], value_vars=inds + extra,
                     var_name="indicator", value_name="value").dropna(subset=["value"])
    long["county_code"] = long["county_code"].astype(str)
    long["base_code"] = long["base_code"].astype(str)
    long["prefecture"] = long["base_code"].map(prefs).fillna(long["county_code"].map(prefs))
    return long.sort_values(["county_code", "period", "indicator"]).reset_index(drop=True)


def _round_changes(index: pd.DataFrame, names: Mapping[str, str], prefs: Mapping[str, str],
                   windows: Mapping[int, tuple[str, str]] = ROUND_WINDOWS) -> pd.DataFrame:
    # fold later splits onto the 2008 base unit by the mean of the parts' indices [design]
    base = index.groupby(["base_code", "period", "index"], as_index=False)["value"].mean()
    cols = ["base_code", "county", "prefecture", "round", "index", "baseline", "end", "change"]
    if not windows:
        return pd.DataFrame(columns=cols)
    # the change over each round's window, as analysis.compare measures it; units without
    # either end have no change and are left out
    out = round_changes(base.rename(columns={"index": "indicator"}),
                        windows={rnd: {"round": w} for rnd, w in windows.items()})
    out = out.dropna(subset=["change"]).rename(
        columns={"indicator": "index", "value_from": "baseline", "value_to": "end"})
    out["county"] = out["base_code"].map(names)
    out["prefecture"] = out["base_code"].map(prefs)
    return out[cols].sort_values(["round", "index", "base_code"]).reset_index(drop=True)


def _evaluation(panel: pd.DataFrame, roster: pd.DataFrame | None, index: pd.DataFrame, biters: int,
                seed: int, notes: list[str], scope: Scope, heterogeneity: bool = True) -> dict[str, pd.DataFrame] | None:
    """The one evaluation run of the report: indicators and indices, tables and charts alike.

    Without a roster (or another reason the scope names) the run holds only the descriptive
    round comparison; ``None`` when the delivery gives neither (the scope's notes say why)."""
    if not (scope.can("effects") or scope.can("round_comparison")):
        return None
    try:
        result = evaluate_processed(panel, roster, biters=max(biters, 2), seed=seed,
                                    outcomes=index_outcomes(index), scope=scope, heterogeneity=heterogeneity)
    except EvaluationError as err:
        notes.append(f"驻点效应未能估计：{err}")
        return None
    if result["summary"].empty:
        # said by evaluate_processed in its notes (round 0, Chinese) after the scope's own notes
        notes += [n for n in result["notes"]["note"] if n.startswith("驻点") and n not in scope.notes]
        return result
    text = dropped_note(result)
    if text:
        notes.append(text)
    fam = result["family"].set_index("indicator")
    for row in result["notes"].itertuples():
        # estimates that failed are named; routine warnings (dropped counties) are summed up above
        if str(row.note).startswith("not estimated"):
            name = fam["name_zh"].get(row.indicator, row.indicator)
            notes.append(f"{ROUND_NAMES_ZH.get(int(row.round), '')}{name}（{row.subset}）未能估计："
                         f"{row.note.removeprefix('not estimated: ')}")
    return result


def _event_study_frame(result: dict[str, pd.DataFrame] | None) -> pd.DataFrame | None:
    if result is None or result["effects"].empty:
        return None
    e = result["effects"]
    e = e[(e["indicator"] == INDEX_OUTCOME.format("overall")) & (e["subset"] == "all")
          & (e["type"] == "dynamic") & (e["level"] == "event_time")]
    if e.empty:
        return None
    e = e.assign(event_time=e["key"].astype(int))
    return e[["round", "event_time", "att", "se", "ci_low", "ci_high", "band_low", "band_high"]].reset_index(drop=True)


def _round_effects_frame(result: dict[str, pd.DataFrame] | None) -> pd.DataFrame | None:
    rd = None if result is None else result.get("round_difference")
    if rd is None or rd.empty:
        return None
    # "dynamic": the mean effect over event times ≥ 0, the average the event study shows
    rd = rd[(rd["type"] == "dynamic") & rd["indicator"].str.startswith(INDEX_OUTCOME.format(""))]
    if rd.empty:
        return None
    out = rd.assign(index=rd["indicator"].str.removeprefix(INDEX_OUTCOME.format("")))
    out = out.assign(indicator=out["index"].map(INDEX_ZH)).rename(columns={"diff": "estimate"})
    order = {k: i for i, k in enumerate(INDEX_ZH)}
    out = out.sort_values("index", key=lambda s: s.map(order))
    return out[["index", "indicator", "att_r1", "att_r2", "estimate", "ci_low", "ci_high", "n_common"]].reset_index(drop=True)


def prepare_report_data(
    panel: pd.DataFrame,
    roster: pd.DataFrame | None = None,
    *,
    n_draws: int = 999,
    seed: int = 20140131,
    rank_period: str | None = None,
    windows: Mapping[int, tuple[str, str]] | None = None,
    heterogeneity: bool = True,
) -> ReportData:
    """Compute indices, the county ranking with rank intervals, and round changes.

    Parameters
    ----------
    panel : the wide processed panel (``panel.parquet``: ``county_code, base_code, period`` and
        one column per indicator, rates in %).
    roster : the residency roster (``roster.parquet``), or ``None``.
    n_draws : bootstrap draws of the rank intervals (90 % intervals, measurement-noise scheme)
        and of the DiD multiplier bootstrap of the one evaluation run.
    seed : seed of the bootstraps (fixed, so two builds give the same report).
    rank_period : half-year of the ranking; default the end of the latest round the data cover,
        else the latest half-year (:func:`analysis.scope.delivery_scope`).
    windows : round → ``(start, end)`` change windows chosen by the analyst; default derived
        from the data (:func:`analysis.scope.delivery_scope`).
    heterogeneity : also the subset estimates of the evaluation (三州/其他, 省级/市级); they feed
        only its 异质性 table.

    Returns
    -------
    ReportData

    Raises
    ------
    ReportDataError
        The panel lacks the index indicators, or a chosen window or ranking period is not in it.
    """
    names, prefs = _names()
    long = _long_panel(panel, prefs)
    # one scale for all periods, so indices of different rounds are comparable; the same
    # function gives `analysis evaluate` its index outcomes
    weights, index = composite_indices(long)
    if "prefecture" not in index.columns:
        index = index.merge(long.groupby(["county_code", "period"])["prefecture"].first().reset_index(),
                            on=["county_code", "period"], how="left")
    try:
        scope = delivery_scope(long["period"], rounds_in_roster(roster), windows=windows, rank_period=rank_period)
    except ScopeError as err:
        raise ReportDataError(str(err)) from err
    latest = scope.latest_round
    # the county ranking table of analysis.indices: same scale (all periods), entropy weights and
    # composite index as above, plus domain indices, the latest round's change, grade, flag, rank interval
    ranks = ranking_table(long, period=scope.rank_period, change_window=scope.spans.get(latest),
                          n_draws=n_draws, level=0.90, seed=seed, names=names, prefectures=prefs)
    ranks = ranks.dropna(subset=["overall"])
    ranks["county"] = ranks["county"].fillna(ranks["county_code"])
    # plain text (not the ordered categorical) so the table shows 优秀… and blanks stay blank
    ranks["grade"] = ranks["grade"].astype(object).where(ranks["grade"].notna(), None)
    ranks = ranks.reset_index(drop=True)
    notes: list[str] = [scope.windows_text(), *scope.notes]
    evaluation = _evaluation(panel, roster, index, n_draws, DID_SEED, notes, scope, heterogeneity)
    design = evaluation["design"] if evaluation is not None and len(evaluation["design"]) else _design(roster, scope)
    return ReportData(
        panel=long, index=index, weights=weights[["indicator", "weight"]], ranks=ranks,
        changes=_round_changes(index, names, prefs, scope.change),
        roster=design, rank_period=scope.rank_period,
        event_study=_event_study_frame(evaluation), round_effects=_round_effects_frame(evaluation),
        notes=notes, evaluation=evaluation, scope=scope,
    )


def _design(roster: pd.DataFrame | None, scope: Scope) -> pd.DataFrame | None:
    """The programme design when no evaluation ran (its problems are the evaluation's to report)."""
    if not scope.has_roster:
        return None
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            design = build_design(roster if "sending_unit" in roster.columns else roster.assign(sending_unit=None),
                                  errors="warn")
        except ValueError:
            return None
    return design if len(design) else None


def read_report_data(processed_dir: str | Path, *, n_draws: int = 999, rank_period: str | None = None,
                     windows: Mapping[int, tuple[str, str]] | None = None,
                     heterogeneity: bool = True) -> ReportData:
    """:func:`prepare_report_data` on the processed data of ``python -m analysis clean``.

    Parameters
    ----------
    processed_dir : folder of ``panel.parquet`` (required) and ``roster.parquet`` (optional).
    n_draws : bootstrap draws (see :func:`prepare_report_data`).
    rank_period, windows, heterogeneity : see :func:`prepare_report_data`.

    Returns
    -------
    ReportData
    """
    processed_dir = Path(processed_dir)
    panel_path = processed_dir / "panel.parquet"
    if not panel_path.is_file():
        raise ReportDataError(f"{panel_path} not found; run `python -m analysis clean --out {processed_dir}` first")
    panel = pd.read_parquet(panel_path)
    roster_path = processed_dir / "roster.parquet"
    roster = pd.read_parquet(roster_path) if roster_path.is_file() else None
    return prepare_report_data(panel, roster, n_draws=n_draws, rank_period=rank_period, windows=windows,
                               heterogeneity=heterogeneity)


# --------------------------------------------------------------------------- charts


@dataclass(frozen=True)
class ChartSpec:
    """One chart of the pack.

    Attributes
    ----------
    number : figure number (图N) and file prefix NN.
    stem : file name after ``NN_``.
    caption : Chinese caption (without 图N).
    build : ``ReportData → Figure``; raises :class:`ReportDataError` if its data are absent.
    reading : ``ReportData → str``, the one-line 解读 computed from the same data.
    needs : parts of the delivery the chart needs: codes of :data:`analysis.scope.PARTS_ZH`,
        ``"round:N"`` (the data cover round N) or ``"batches:N"`` (and the roster names it).
    """

    number: int
    stem: str
    caption: str
    build: Callable[[ReportData], Figure]
    reading: Callable[[ReportData], str]
    needs: tuple[str, ...] = ()

    @property
    def file_stem(self) -> str:
        return f"{self.number:02d}_{self.stem}"

    def unmet(self, data: ReportData) -> tuple[str, str] | None:
        """``(part, Chinese reason)`` of the first need the delivery does not meet, else None."""
        scope = data.scope
        if scope is None:
            return None
        for need in self.needs:
            kind, _, value = need.partition(":")
            if kind == "round" and int(value) not in scope.spans:
                return need, scope.missing_round(int(value))
            if kind == "batches" and int(value) not in scope.batch_rounds:
                return need, scope.missing_round(int(value))
            if kind in PARTS_ZH and not scope.can(kind):
                return need, scope.why(kind)
        return None


def part_name(need: str) -> str:
    """Chinese name of a chart need (``effects`` → 驻点效应估计（双重差分）, ``round:2`` → 第二轮)."""
    kind, _, value = need.partition(":")
    if kind == "round":
        return f"{ROUND_NAMES_ZH[int(value)]}的图表"
    if kind == "batches":
        return f"{ROUND_NAMES_ZH[int(value)]}分批次走势"
    return PARTS_ZH.get(kind, need)


def draw(data: ReportData, stem: str) -> tuple[Figure | None, str]:
    """One chart of :data:`CHARTS` and its reading, or ``None`` and the Chinese reason it is left out.

    Parameters
    ----------
    data : :func:`read_report_data` output.
    stem : the chart's ``stem`` (``"ranking"``, ``"event_study"`` …).

    Returns
    -------
    (Figure or None, str): the figure and its one-line reading; without the data it needs, no
    figure and the sentence the pack's notes give.
    """
    spec = {c.stem: c for c in CHARTS}.get(stem)
    if spec is None:
        raise ReportDataError(f"draw: no chart {stem!r}; charts: {[c.stem for c in CHARTS]}")
    unmet = spec.unmet(data)
    if unmet is not None:
        return None, unmet[1]
    try:
        return spec.build(data), spec.reading(data)
    except ReportDataError as err:
        return None, f"本图从略：{err}"


def _round_period(d: ReportData, rnd: int) -> tuple[str, str]:
    return d.scope.change[rnd] if d.scope is not None else ROUND_WINDOWS[rnd]


def _span_of(frame: pd.DataFrame, column: str = "period") -> tuple[str, str]:
    periods = sorted(frame[column].astype(str).unique(), key=period_index)
    return periods[0], periods[-1]


def _need(frame: pd.DataFrame | None, what: str) -> pd.DataFrame:
    if frame is None or frame.empty:
        raise ReportDataError(f"没有{what}的数据")
    return frame


def _ranking(d: ReportData) -> Figure:
    r = _need(d.ranks.dropna(subset=["grade"]), "县域排名")
    return charts.ranking_caterpillar(
        r, source=SOURCE, period=d.rank_period,
        title=f"县域综合指数排名（{d.rank_period}）及90%排名区间",
    )


def _ranking_reading(d: ReportData) -> str:
    r = d.ranks.dropna(subset=["grade"])
    top = "、".join(r["county"].head(3))
    width = (r["rank_high"] - r["rank_low"]).median()
    return (f"综合指数前三位为{top}；排名区间宽度中位数为{width:.0f}位，"
            f"相邻名次之间的差异多不显著，宜按等级而非名次使用。")


def _event_study(d: ReportData) -> Figure:
    e = _need(d.event_study, "综合指数事件研究")
    return charts.event_study_plot(e, source=SOURCE + "；驻点干部名册", period=_did_period(d),
                                   outcome="综合指数", unit="分", title="驻点工作对综合指数的效应（事件研究）")


def _did_period(d: ReportData) -> tuple[str, str]:
    did = d.scope.did if d.scope is not None else {}
    if not did:
        raise ReportDataError("没有可用的双重差分估计窗口")
    return did[min(did)][0], did[max(did)][1]


def _event_study_reading(d: ReportData) -> str:
    e = _need(d.event_study, "综合指数事件研究")
    parts = []
    for rnd, g in e.groupby("round"):
        post = g[g["event_time"] >= 0]
        pre = g[g["event_time"] < 0]
        flat = bool(((pre["ci_low"] <= 0) & (pre["ci_high"] >= 0)).all())
        parts.append(f"{ROUND_NAMES_ZH[int(rnd)]}驻点后平均提升{post['att'].mean():+.1f}分"
                     f"（驻点前{'无' if flat else '有'}显著差异）")
    return "；".join(parts) + "。"


def _forest(d: ReportData) -> Figure:
    f = _need(d.round_effects, "两轮驻点效应之差")
    return charts.forest_plot(f, source=SOURCE + "；驻点干部名册", period=_did_period(d),
                              unit="分", title="第二轮与第一轮驻点效应之差（分指数）")


def _forest_reading(d: ReportData) -> str:
    f = _need(d.round_effects, "两轮驻点效应之差")
    sig = f[(f["ci_low"] > 0) | (f["ci_high"] < 0)]
    overall = f[f["index"] == "overall"]
    head = (f"综合指数效应第二轮比第一轮{overall['estimate'].iloc[0]:+.1f}分"
            f"（95%置信区间{overall['ci_low'].iloc[0]:.1f}至{overall['ci_high'].iloc[0]:.1f}）") if len(overall) else ""
    tail = ("；区间不含0的有：" + "、".join(sig["indicator"])) if len(sig) else "；各项差异的区间均含0"
    return head + tail + "。"


def _index_name(index: str) -> str:
    """综合指数 / 组织活力指数 …: the name of an index as titles and readings print it."""
    name = INDEX_ZH[index]
    return name if name.endswith("指数") else name + "指数"


def _index_change(d: ReportData, rnd: int, index: str = "overall") -> pd.DataFrame:
    c = d.changes[(d.changes["round"] == rnd) & (d.changes["index"] == index)]
    return _need(c, f"{ROUND_NAMES_ZH[rnd]}{_index_name(index)}的变化")


def _domain_map_limit(d: ReportData) -> float | None:
    # one colour scale for the three domain maps, so equal colours mean equal points across them;
    # the overall map keeps its own scale (a composite moves less than its parts)
    c = d.changes[(d.changes["round"] == 2) & d.changes["index"].isin(DOMAINS)]["change"].abs()
    return float(c.max()) if c.notna().any() else None


def _change_map(index: str) -> Callable[[ReportData], Figure]:
    def build(d: ReportData) -> Figure:
        c = _index_change(d, 2, index).rename(columns={"base_code": "county_code", "change": "value"})
        limit = None if index == "overall" else _domain_map_limit(d)
        return choropleth(c[["county_code", "value"]], f"第二轮驻点期间各县{_index_name(index)}变化",
                          unit="分", source=SOURCE, period=_round_period(d, 2), limit=limit)

    return build


def _change_map_reading(index: str) -> Callable[[ReportData], str]:
    def reading(d: ReportData) -> str:
        c = _index_change(d, 2, index)
        up = int((c["change"] > 0).sum())
        scale = "" if index == "overall" else "三个分领域图色阶相同；"
        return (f"{len(c)}个县级单位中{up}个{_index_name(index)}上升，变化中位数{c['change'].median():+.1f}分。"
                f"（{scale}{MAP_NOTICE}）")

    return reading


def _heatmap_frame(d: ReportData) -> pd.DataFrame:
    c = d.changes[(d.changes["round"] == 2) & (d.changes["index"] != "overall")]
    c = _need(c, "第二轮分领域指数的变化")
    m = c.groupby(["prefecture", "index"], as_index=False, sort=False)["change"].mean()
    m["indicator"] = m["index"].map(INDEX_ZH)
    return m


def _heatmap(d: ReportData) -> Figure:
    return charts.change_heatmap(_heatmap_frame(d), source=SOURCE, period=_round_period(d, 2), unit="分",
                                 title="第二轮驻点期间各市州分领域指数变化（县均）")


def _heatmap_reading(d: ReportData) -> str:
    m = _heatmap_frame(d)
    by_domain = m.groupby("indicator")["change"].mean().sort_values()
    best = m.loc[m["change"].idxmax()]
    return (f"三个领域中{by_domain.index[-1]}平均提升最多（{by_domain.iloc[-1]:+.1f}分）；"
            f"单项提升最大的是{best['prefecture']}的{best['indicator']}（{best['change']:+.1f}分）。")


def _dumbbell_frame(d: ReportData, index: str = "overall") -> pd.DataFrame:
    c = d.changes[d.changes["index"] == index]
    c = _need(c, f"两轮{_index_name(index)}的变化")
    return c.groupby(["prefecture", "round"], as_index=False)["change"].mean()


def _dumbbell(index: str) -> Callable[[ReportData], Figure]:
    def build(d: ReportData) -> Figure:
        name = _index_name(index)
        return charts.dumbbell_chart(_dumbbell_frame(d, index), source=SOURCE,
                                     period=(_round_period(d, 1)[0], _round_period(d, 2)[1]),
                                     outcome=f"{name}变化", unit="分", title=f"两轮驻点期间各市州{name}变化（县均）")

    return build


def _dumbbell_reading(index: str) -> Callable[[ReportData], str]:
    def reading(d: ReportData) -> str:
        w = _dumbbell_frame(d, index).pivot(index="prefecture", columns="round", values="change")
        if not {1, 2} <= set(w.columns) or w.dropna().empty:
            return "仅一轮有数据，无法比较两轮。"
        w = w.dropna()
        more = int((w[2] > w[1]).sum())
        return (f"{len(w)}个市州中{more}个第二轮的{_index_name(index)}县均提升大于第一轮"
                f"（均值：第一轮{w[1].mean():+.1f}分，第二轮{w[2].mean():+.1f}分）。")

    return reading




def _compliance_frame(d: ReportData, standard: str = FUNDS_STANDARD) -> pd.DataFrame:
    # county units reporting the standard at a round's end half-year (a blank is not "not met");
    # a round without such rows is left out
    p = d.panel[d.panel["indicator"] == standard].rename(columns={"value": standard})
    ends = _round_ends(d)
    ends = {rnd: end for rnd, end in ends.items() if (p["period"] == end).any()}
    if not ends:
        raise ReportDataError(f"轮末没有{STANDARDS.get(standard, standard)}（{standard}）的数据")
    try:
        out = standard_shares(p, [standard], periods=ends)
    except SummaryInputError as err:
        raise ReportDataError(str(err)) from err
    return out[["prefecture", "round", "share", "n_counties"]]


def _round_ends(d: ReportData) -> dict[int, str]:
    # the half-year observed as each round's end: the scope's (a round the data do not cover to
    # its end is observed at its latest half-year)
    scope = getattr(d, "scope", None)
    if scope is None:
        return {rnd: end for rnd, (_, end) in ROUND_WINDOWS.items()}
    return {r: scope.round_end(r) for r in sorted(scope.spans)}


def _compliance(standard: str) -> Callable[[ReportData], Figure]:
    def build(d: ReportData) -> Figure:
        f = _compliance_frame(d, standard)
        ends = _round_ends(d)
        used = [ends[r] for r in sorted(f["round"].unique())]
        return charts.compliance_chart(f, source=SOURCE, period=(used[0], used[-1]),
                                       standard=STANDARDS[standard])

    return build


def _compliance_reading(standard: str) -> Callable[[ReportData], str]:
    def reading(d: ReportData) -> str:
        f = _compliance_frame(d, standard)
        # county-weighted: the provincial share, not the mean of prefecture shares
        share = f.groupby("round").apply(lambda g: np.average(g["share"], weights=g["n_counties"]),
                                         include_groups=False)
        scope = getattr(d, "scope", None)
        # "第二轮截至2013H1" ends in a digit: a 为 keeps the share apart from it
        labels = {r: ROUND_NAMES_ZH[r] + "末" if scope is None else scope.round_end_label(r) for r in share.index}
        parts = [f"{labels[r]}{'为' if labels[r][-1].isdigit() else ''}{share[r]:.0%}" for r in share.index]
        return f"全省“{STANDARDS[standard]}”达标县占比：" + "，".join(parts) + "。"

    return reading


def _trajectory_frame(d: ReportData) -> pd.DataFrame:
    r = _need(d.roster, "驻点干部名册")
    # from the end of round 1 to the end of round 2 (as far as the data go): the run-up and round 2
    window = d.index["period"].between(ROUND_WINDOWS[1][1], _round_ends(d).get(2, ROUND_WINDOWS[2][1]))
    idx = d.index[(d.index["index"] == "overall") & window]
    try:
        out = batch_trajectories(idx.rename(columns={"value": "overall"}), r, "overall", 2)
    except SummaryInputError as err:
        raise ReportDataError(str(err)) from err
    # a start half-year without data cannot be marked on the time axis: leave it unmarked
    return _need(drawable_starts(out), "第二轮各批次的综合指数")


def _trajectories(d: ReportData) -> Figure:
    frame = _trajectory_frame(d)
    return charts.trajectories_by_batch(frame, source=SOURCE, period=_span_of(frame),
                                        outcome="综合指数", unit="分", title="第二轮各批次县均综合指数走势")


def _trajectories_reading(d: ReportData) -> str:
    gains = before_after_start(_trajectory_frame(d), start="batch_start")["change"].dropna()
    if gains.empty:
        return "各批次驻点前后均缺少数据，无法比较。"
    text = "；".join(f"{b}{v:+.1f}分" for b, v in gains.items())
    return f"驻点开始后与开始前的县均综合指数差：{text}（描述性比较，因果估计见事件研究）。"


def _event_time_frame(d: ReportData) -> pd.DataFrame:
    r = _need(d.roster, "驻点干部名册")
    r2 = r[r["round"] == 2][["base_code", "batch"]].drop_duplicates("base_code")
    r2 = _need(r2, "名册中第二轮的批次")
    idx = d.index[d.index["index"] == "overall"].merge(r2, on="base_code")
    # the same calendar window as the calendar-time view, re-counted from each batch's start
    idx = idx[(idx["period"] >= ROUND_WINDOWS[1][1]) & (idx["period"] <= _round_ends(d).get(2, ROUND_WINDOWS[2][1]))]
    idx = idx.dropna(subset=["value"])
    starts = idx["batch"].astype(int).map(ROUND2_BATCH_STARTS)
    idx = idx.assign(event_time=period_index(idx["period"]) - period_index(starts))
    out = idx.groupby(["batch", "event_time"], as_index=False)["value"].mean()
    out["batch_no"] = out["batch"].astype(int)
    out["batch"] = "第二轮第" + out["batch_no"].astype(str) + "批"
    out["event_time"] = out["event_time"].astype(int)
    return _need(out, "第二轮各批次的综合指数")


def _event_time(d: ReportData) -> Figure:
    frame = _event_time_frame(d)
    idx = d.index[d.index["index"] == "overall"]
    inside = idx[(idx["period"] >= ROUND_WINDOWS[1][1]) & (idx["period"] <= _round_ends(d).get(2, ROUND_WINDOWS[2][1]))]
    return charts.event_time_trajectories(frame, source=SOURCE, period=_span_of(inside),
                                          outcome="综合指数", unit="分",
                                          title="第二轮各批次县均综合指数走势（以驻点开始为0期）")


def _event_time_reading(d: ReportData) -> str:
    t = _event_time_frame(d)
    # the year after the start (0, +1) against the year before (−2, −1), where a batch has both
    gains = []
    for batch, g in t.groupby("batch", sort=True):
        before = g[g["event_time"].isin([-2, -1])]["value"]
        after = g[g["event_time"].isin([0, 1])]["value"]
        if len(before) and len(after):
            gains.append((batch, after.mean() - before.mean()))
    if not gains:
        return "各批次驻点前后一年均缺少数据，无法比较。"
    text = "；".join(f"{b}{v:+.1f}分" for b, v in gains)
    return f"驻点开始后一年（0、+1期）与开始前一年（−2、−1期）的县均综合指数差：{text}（描述性比较）。"


CHARTS: tuple[ChartSpec, ...] = (
    ChartSpec(1, "ranking", "县域综合指数排名及排名区间", _ranking, _ranking_reading),
    ChartSpec(2, "event_study", "驻点工作对综合指数的效应（事件研究）", _event_study, _event_study_reading,
              ("effects",)),
    ChartSpec(3, "round_forest", "第二轮与第一轮驻点效应之差", _forest, _forest_reading,
              ("round_difference",)),
    ChartSpec(4, "change_map", "第二轮驻点期间各县综合指数变化（示意图）",
              _change_map("overall"), _change_map_reading("overall"), ("round:2",)),
    ChartSpec(5, "change_map_vitality", "第二轮驻点期间各县组织活力指数变化（示意图）",
              _change_map("vitality"), _change_map_reading("vitality"), ("round:2",)),
    ChartSpec(6, "change_map_staffing", "第二轮驻点期间各县团干部配备指数变化（示意图）",
              _change_map("staffing"), _change_map_reading("staffing"), ("round:2",)),
    ChartSpec(7, "change_map_tasks", "第二轮驻点期间各县任务完成指数变化（示意图）",
              _change_map("tasks"), _change_map_reading("tasks"), ("round:2",)),
    ChartSpec(8, "change_heatmap", "第二轮各市州分领域指数变化", _heatmap, _heatmap_reading,
              ("round:2",)),
    ChartSpec(9, "round_dumbbell", "两轮驻点期间各市州综合指数变化",
              _dumbbell("overall"), _dumbbell_reading("overall"), ("round_comparison",)),
    ChartSpec(10, "round_dumbbell_vitality", "两轮驻点期间各市州组织活力指数变化",
              _dumbbell("vitality"), _dumbbell_reading("vitality"), ("round_comparison",)),
    ChartSpec(11, "round_dumbbell_staffing", "两轮驻点期间各市州团干部配备指数变化",
              _dumbbell("staffing"), _dumbbell_reading("staffing"), ("round_comparison",)),
    ChartSpec(12, "round_dumbbell_tasks", "两轮驻点期间各市州任务完成指数变化",
              _dumbbell("tasks"), _dumbbell_reading("tasks"), ("round_comparison",)),
    ChartSpec(13, "funds_compliance", "青少年人均经费达标县占比",
              _compliance(FUNDS_STANDARD), _compliance_reading(FUNDS_STANDARD), ("compliance",)),
    ChartSpec(14, "liaison_compliance", "党建带团建联系会议制度达标县占比",
              _compliance("std_liaison"), _compliance_reading("std_liaison"), ("compliance",)),
    ChartSpec(15, "attends_compliance", "团组织负责人列席同级党委会议达标县占比",
              _compliance("std_attends"), _compliance_reading("std_attends"), ("compliance",)),
    ChartSpec(16, "assessment_compliance", "团建工作纳入党委考评达标县占比",
              _compliance("std_assessment"), _compliance_reading("std_assessment"), ("compliance",)),
    ChartSpec(17, "batch_trajectories", "第二轮各批次县均综合指数走势（日历时间）",
              _trajectories, _trajectories_reading, ("trends", "batches:2")),
    ChartSpec(18, "batch_event_time", "第二轮各批次县均综合指数走势（事件时间）",
              _event_time, _event_time_reading, ("trends", "batches:2")),
)
"""The charts of the pack, in order."""


# --------------------------------------------------------------------------- tables


def _tables(d: ReportData) -> dict[str, dict[str, pd.DataFrame]]:
    cat = load_catalog()
    names = dict(zip(cat["code"], cat["name_zh"]))
    weights = d.weights.assign(name=d.weights["indicator"].map(names))[["indicator", "name", "weight"]]
    ranks = d.ranks.copy()
    changes = d.changes.assign(
        round=d.changes["round"].map(ROUND_NAMES_ZH), index=d.changes["index"].map(INDEX_ZH))
    # the effects (event study, round differences, indicators and indices) are written by
    # analysis.evaluate.write_evaluation_tables from the same evaluation run as the charts
    return {
        "县域排名": {"排名": ranks, "权重": weights},  # headers: RANKING_LABELS_ZH
        "指数变化": {"两轮变化": changes},
    }


_TABLE_LABELS = {
    "value": "综合指数（分）", "county": "县级单位", "name": "指标名称", "weight": "熵权",
    "baseline": "基期指数（分）", "end": "期末指数（分）", "change": "变化（分）", "base_code": "县级单位代码（2008）",
    **RANKING_LABELS_ZH,
}


def _table_labels(d: ReportData) -> dict[str, str]:
    # the ranking's change columns are over the latest round the data cover, not always round 2
    scope = d.scope
    if scope is None or scope.latest_round is None:
        return _TABLE_LABELS
    name = scope.round_label(scope.latest_round)
    return {k: v.replace("第二轮", name) if k.endswith("_change") else v for k, v in _TABLE_LABELS.items()}


# --------------------------------------------------------------------------- build


@dataclass
class ReportManifest:
    """What :func:`build_report` wrote.

    Attributes
    ----------
    figures : the charts (with their files).
    tables : the workbooks.
    docx, html : the chart pack and the index page.
    skipped : ``(what, reason)`` of what was left out: one row per part of the analysis the
        delivery cannot give (``驻点效应估计（双重差分）（图2）``, with the scope's Chinese
        sentence), then one per chart whose data were absent (its file stem).
    notes : warnings met while computing (e.g. counties dropped from a DiD panel).
    """

    figures: list[FigureItem]
    tables: list[TableItem]
    docx: Path
    html: Path
    skipped: list[tuple[str, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def files(self) -> list[Path]:
        out = [f for it in self.figures for f in it.files]
        return [*out, *(t.path for t in self.tables), self.docx, self.html]

    def to_frame(self) -> pd.DataFrame:
        """One row per file: ``kind, path, bytes, sha256``; skipped charts as rows of kind ``skipped``."""
        rows = []
        for path in self.files():
            data = Path(path).read_bytes()
            rows.append({"kind": Path(path).suffix.lstrip("."), "path": str(path), "bytes": len(data),
                         "sha256": hashlib.sha256(data).hexdigest()})
        rows += [{"kind": "skipped", "path": stem, "bytes": 0, "sha256": reason} for stem, reason in self.skipped]
        return pd.DataFrame(rows, columns=["kind", "path", "bytes", "sha256"])


def build_report(
    processed_dir: str | Path,
    reports_dir: str | Path,
    *,
    n_draws: int = 999,
    charts_list: tuple[ChartSpec, ...] = CHARTS,
    rank_period: str | None = None,
    windows: Mapping[int, tuple[str, str]] | None = None,
    heterogeneity: bool = True,
) -> ReportManifest:
    """Build the whole chart pack from the processed data.

    Parameters
    ----------
    processed_dir : folder of ``panel.parquet`` (required) and ``roster.parquet`` (optional).
    reports_dir : output folder (``figures/``, ``tables/``, the docx and ``index.html``).
    n_draws : bootstrap draws of the rank intervals.
    charts_list : the charts to draw (default :data:`CHARTS`).
    rank_period, windows : the analyst's choices of ranking half-year and change windows
        (default derived from the data, :func:`analysis.scope.delivery_scope`).
    heterogeneity : also the evaluation's subset estimates (its 异质性 table).

    Returns
    -------
    ReportManifest
    """
    reports_dir = Path(reports_dir)
    data = read_report_data(processed_dir, n_draws=n_draws, rank_period=rank_period, windows=windows,
                            heterogeneity=heterogeneity)

    figures_dir, tables_dir = reports_dir / "figures", reports_dir / "tables"
    items: list[FigureItem] = []
    skipped: list[tuple[str, str]] = []
    # charts the delivery cannot give are named once per missing part, with the scope's sentence
    by_part: dict[tuple[str, str], list[str]] = {}
    for spec in charts_list:
        unmet = spec.unmet(data)
        if unmet is not None:
            by_part.setdefault(unmet, []).append(f"图{spec.number}")
            continue
        try:
            fig = spec.build(data)
            reading = spec.reading(data)
        except ReportDataError as err:
            skipped.append((spec.file_stem, str(err)))
            continue
        files = save_figure(fig, figures_dir / spec.file_stem)
        png = next(f for f in files if f.suffix == ".png")
        items.append(FigureItem(spec.number, spec.caption, png, SOURCE, reading, files=tuple(files)))
    skipped = [(f"{part_name(need)}（{'、'.join(numbers)}）", why) for (need, why), numbers in by_part.items()] + skipped

    tables: list[TableItem] = []
    for book, sheets in _tables(data).items():
        path = write_table_xlsx(sheets, tables_dir / f"{book}.xlsx", titles={s: f"{book}：{s}" for s in sheets},
                                notes=SOURCE, labels=_table_labels(data))
        tables.append(TableItem(book, path))
    if data.evaluation is not None:
        # the same writer as `python -m analysis evaluate`, on the evaluation the charts use
        tables += [TableItem(p.stem, p) for p in write_evaluation_tables(data.evaluation, tables_dir)]

    subtitle = f"排名时期：{data.rank_period}；指数为0–100分（全样本极差标准化、熵权法）"
    notes = list(data.notes)
    if skipped:
        # the reader of the pack sees which figure numbers are missing and why (parts: see the notes above)
        notes.append("本次未绘制：" + "；".join(what if what.endswith("）") else f"{what}（{why}）"
                                         for what, why in skipped) + "。")
    docx = write_docx(items, reports_dir / DOCX_NAME, subtitle=subtitle, notes=notes)
    html = write_index_html(items, tables, reports_dir / "index.html", notes=notes,
                            documents={REPORT_TITLE + "（Word）": docx})
    return ReportManifest(figures=items, tables=tables, docx=docx, html=html, skipped=skipped, notes=data.notes)
