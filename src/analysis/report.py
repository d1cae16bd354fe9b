"""Assemble the plenary chart pack: indices → rankings and changes → charts, tables, docx, index.html.

:func:`build_report` is the one entry point: it reads the processed data written by
``python -m analysis clean`` (``panel.parquet``, ``roster.parquet``), computes what the pack
shows, and writes into ``reports_dir``::

    figures/NN_name.{png,pdf,svg}   every chart (analysis.style.save_figure)
    tables/*.xlsx                   formatted tables (analysis.export.write_table_xlsx)
    驻点工作评估图表汇编.docx         the chart pack (analysis.export.write_docx)
    index.html                      a static page listing both

Effects of the residency come from :mod:`analysis.did` (Callaway–Sant'Anna on each round's
staggered batches, counties of later batches as the not-yet-treated comparison; the round
difference bootstraps counties jointly).  Every chart is declared once in :data:`CHARTS`
(number, file stem, caption, builder, reading); adding a chart means adding one entry.  A chart
whose data are absent (no roster, a round without data) is skipped and named in
:attr:`ReportManifest.skipped`, never silently dropped.

Round windows [design]: the change of a round is the index at the round's last half-year minus
the index at the half-year before its first batch (round 1: 2008H1 → 2010H2; round 2: 2011H2 →
2014H1).  Round comparisons are made on the 181 units of the 2008 code book; a unit split off
later (恩阳区, 前锋区) is folded into its parent by averaging the parts' indices.
"""

from __future__ import annotations

import hashlib
import importlib
import re
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from analysis import charts
from analysis.catalog import DOMAIN_NAMES_ZH, load_catalog
from analysis.did import DIDError, aggte, att_gt, round_difference
from analysis.export import (
    REPORT_TITLE,
    FigureItem,
    TableItem,
    write_docx,
    write_index_html,
    write_table_xlsx,
)
from analysis.indices import (
    INDEX_INDICATORS,
    composite_index,
    entropy_weights,
    grade,
    index_inputs,
    rank_intervals,
    rescale,
)
from analysis.maps import MAP_NOTICE, choropleth
from analysis.reference import load_units
from analysis.style import save_figure

__all__ = [
    "CHARTS",
    "FUNDS_STANDARD",
    "ROUND_WINDOWS",
    "ChartSpec",
    "ReportData",
    "ReportDataError",
    "ReportManifest",
    "build_report",
    "prepare_report_data",
]

ROUND_WINDOWS: dict[int, tuple[str, str]] = {1: ("2008H1", "2010H2"), 2: ("2011H2", "2014H1")}
"""Baseline and end half-year of each round [design]: the baseline is the half-year before the
first batch began (round 1 began 2008H2, round 2 in Feb 2012), the end the last half-year of the
round (round 2's last batch ended Jan 2014)."""

FUNDS_STANDARD = "std_funds_per_youth"
"""Policy standard shown in the compliance chart: 青少年人均经费 ≥ 0.5 元 [seed], evaluated by the
clean step from the catalog formula (1 = met)."""
ROUND2_BATCH_STARTS: dict[int, str] = {1: "2012H1", 2: "2012H2", 3: "2013H1", 4: "2013H2"}
"""First half-year of each round-2 batch (Feb–Jul 2012, Aug 2012–Jan 2013, …) [seed]."""
ROUND_ZH = {1: "第一轮", 2: "第二轮"}
DID_WINDOWS: dict[int, tuple[str, ...]] = {
    1: ("2008H1", "2008H2", "2009H1", "2009H2", "2010H1", "2010H2"),
    2: ("2011H1", "2011H2", "2012H1", "2012H2", "2013H1", "2013H2", "2014H1"),
}
"""Half-years of each round's staggered difference-in-differences [design]: batch b of round 1
starts in the (b+1)-th half-year (2008H2 …), batch b of round 2 in the (b+2)-th (2012H1 …)."""
DID_FIRST_BATCH_PERIOD = {1: 2, 2: 3}
INDEX_ZH = {**{k: v for k, v in DOMAIN_NAMES_ZH.items() if k != "context"}, "overall": "综合指数"}
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
    ranks : county ranking at ``rank_period``: ``county_code, county, prefecture, value, rank,
        rank_low, rank_high, rank_range, grade``.
    changes : per base unit, round and index: ``base_code, county, prefecture, round, index,
        baseline, end, change`` (index points).
    roster : residency roster with ``round`` (1/2) and ``batch``, or ``None``.
    rank_period : half-year of the ranking.
    event_study : ``round, event_time, att, se, ci_low, ci_high, band_low, band_high`` of the
        overall index (Callaway–Sant'Anna, not-yet-treated comparison; index points), or ``None``.
    round_effects : ``index, indicator, att_r1, att_r2, estimate, ci_low, ci_high, n_common``:
        round-2 minus round-1 average effect per index (index points), or ``None``.
    notes : warnings met on the way (e.g. counties dropped for a balanced DiD panel).
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
    extra = [c for c in (FUNDS_STANDARD,) if c in wide.columns]
    if not inds:
        raise ReportDataError(f"panel.parquet has none of the index indicators {list(INDEX_INDICATORS)}")
    long = wide.melt(id_vars=["county_code", "base_code", "period"], value_vars=inds + extra,
                     var_name="indicator", value_name="value").dropna(subset=["value"])
    long["county_code"] = long["county_code"].astype(str)
    long["base_code"] = long["base_code"].astype(str)
    long["prefecture"] = long["base_code"].map(prefs).fillna(long["county_code"].map(prefs))
    return long.sort_values(["county_code", "period", "indicator"]).reset_index(drop=True)


def _round_changes(index: pd.DataFrame, names: Mapping[str, str], prefs: Mapping[str, str]) -> pd.DataFrame:
    # fold later splits onto the 2008 base unit by the mean of the parts' indices [design]
    base = index.groupby(["base_code", "period", "index"], as_index=False)["value"].mean()
    pieces = []
    for rnd, (start, end) in ROUND_WINDOWS.items():
        b = base[base["period"] == start].set_index(["base_code", "index"])["value"]
        e = base[base["period"] == end].set_index(["base_code", "index"])["value"]
        both = pd.concat({"baseline": b, "end": e}, axis=1).dropna().reset_index()
        both["round"] = rnd
        pieces.append(both)
    out = pd.concat(pieces, ignore_index=True)
    out["change"] = out["end"] - out["baseline"]
    out["county"] = out["base_code"].map(names)
    out["prefecture"] = out["base_code"].map(prefs)
    cols = ["base_code", "county", "prefecture", "round", "index", "baseline", "end", "change"]
    return out[cols].sort_values(["round", "index", "base_code"]).reset_index(drop=True)


def _roster(roster: pd.DataFrame | None) -> pd.DataFrame | None:
    if roster is None or roster.empty or "batch" not in roster.columns:
        return None
    r = roster.copy()
    rnd = pd.to_numeric(r.get("round"), errors="coerce") if "round" in r else pd.Series(np.nan, index=r.index)
    if "source_sheet" in r.columns:
        # the roster workbook keeps each round on a sheet named 第一轮/第二轮; use it where the
        # round column is empty (ingest leaves it empty when the sheet has no round column)
        from_sheet = r["source_sheet"].map({"第一轮": 1, "第二轮": 2})
        rnd = rnd.fillna(from_sheet)
    r["round"] = rnd
    r = r.dropna(subset=["round", "batch", "base_code"])
    if r.empty:
        return None
    r["round"] = r["round"].astype(int)
    r["batch"] = pd.to_numeric(r["batch"], errors="coerce").astype("Int64")
    return r


def _did_data(index: pd.DataFrame, roster: pd.DataFrame, rnd: int, which: str) -> pd.DataFrame:
    """Balanced-panel input of :func:`analysis.did.att_gt` for one round and index, on base units."""
    window = DID_WINDOWS[rnd]
    base = (index[(index["index"] == which) & index["period"].isin(window)]
            .groupby(["base_code", "period"], as_index=False)["value"].mean())
    base["t"] = base["period"].map({p: i + 1 for i, p in enumerate(window)})
    cohorts = roster[roster["round"] == rnd][["base_code", "batch"]].drop_duplicates("base_code")
    out = base.merge(cohorts, on="base_code", how="inner").dropna(subset=["value"])
    out["g"] = out["batch"].astype(int) + DID_FIRST_BATCH_PERIOD[rnd] - 1
    out["unit"] = out["base_code"].astype(int)
    return out[["unit", "base_code", "period", "t", "g", "value"]]


_DROPPED = re.compile(r"dropped (\d+) unit\(s\) with a missing period or outcome")


def _estimate(label: str, notes: list[str], fn: Callable[[], pd.DataFrame]) -> pd.DataFrame | None:
    """Run one DiD estimate; its warnings and a failure become notes (in Chinese) for the reader."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            result = fn()
        except DIDError as err:
            notes.append(f"{label}未能估计：{err}")
            result = None
    for message in dict.fromkeys(str(w.message) for w in caught):
        m = _DROPPED.search(message)
        # the one warning every reader needs in words: counties left out for a balanced panel
        notes.append(f"{label}：{m.group(1)}个县因缺少某期数据未纳入（需平衡面板）。" if m else f"{label}：{message}")
    return result


def _did(index: pd.DataFrame, roster: pd.DataFrame | None, biters: int, seed: int,
         notes: list[str]) -> tuple[pd.DataFrame | None, pd.DataFrame | None]:
    if roster is None:
        notes.append("没有驻点干部名册（roster.parquet），未估计驻点效应。")
        return None, None
    common = dict(yname="value", tname="t", idname="unit", gname="g", biters=max(biters, 2), seed=seed)
    events, diffs = [], []
    for rnd in (1, 2):
        def event_study(rnd: int = rnd) -> pd.DataFrame:
            res = att_gt(_did_data(index, roster, rnd, "overall"), **common)
            return aggte(res, "dynamic", seed=seed).to_frame()

        tab = _estimate(f"{ROUND_ZH[rnd]}事件研究", notes, event_study)
        if tab is None:
            continue
        tab = tab[tab["level"] == "event_time"].rename(columns={"key": "event_time"})
        events.append(tab.assign(round=rnd)[["round", "event_time", "att", "se", "ci_low", "ci_high",
                                              "band_low", "band_high"]])
    for which, name in INDEX_ZH.items():
        def difference(which: str = which) -> pd.DataFrame:
            # "dynamic": the mean effect over event times ≥ 0, the average the event study shows
            return round_difference(_did_data(index, roster, 1, which), _did_data(index, roster, 2, which),
                                    type="dynamic", **common).to_frame()

        rd = _estimate(f"{name}两轮效应差", notes, difference)
        if rd is not None:
            diffs.append(rd.assign(index=which, indicator=name))
    event_study = pd.concat(events, ignore_index=True) if events else None
    if event_study is not None:
        event_study["event_time"] = event_study["event_time"].astype(int)
    round_effects = None
    if diffs:
        round_effects = pd.concat(diffs, ignore_index=True).rename(columns={"diff": "estimate"})[
            ["index", "indicator", "att_r1", "att_r2", "estimate", "ci_low", "ci_high", "n_common"]]
    return event_study, round_effects


def prepare_report_data(
    panel: pd.DataFrame,
    roster: pd.DataFrame | None = None,
    *,
    n_draws: int = 999,
    seed: int = 20140131,
    rank_period: str | None = None,
) -> ReportData:
    """Compute indices, the county ranking with rank intervals, and round changes.

    Parameters
    ----------
    panel : the wide processed panel (``panel.parquet``: ``county_code, base_code, period`` and
        one column per indicator, rates in %).
    roster : the residency roster (``roster.parquet``), or ``None``.
    n_draws : bootstrap draws of the rank intervals (90 % intervals, measurement-noise scheme)
        and of the DiD multiplier bootstrap.
    seed : seed of the bootstraps (fixed, so two builds give the same report).
    rank_period : half-year of the ranking; default the latest half-year of round 2's window
        present in the data, else the latest half-year.

    Returns
    -------
    ReportData
    """
    names, prefs = _names()
    long = _long_panel(panel, prefs)
    # one scale for all periods, so indices of different rounds are comparable
    inputs = index_inputs(long)
    scores = rescale(inputs, inputs)
    weights = entropy_weights(scores)
    index = composite_index(scores, weights)
    if "prefecture" not in index.columns:
        index = index.merge(long.groupby(["county_code", "period"])["prefecture"].first().reset_index(),
                            on=["county_code", "period"], how="left")
    periods = sorted(long["period"].unique())
    if rank_period is None:
        in_r2 = [p for p in periods if ROUND_WINDOWS[2][0] <= p <= ROUND_WINDOWS[2][1]]
        rank_period = (in_r2 or periods)[-1]
    if rank_period not in periods:
        raise ReportDataError(f"rank_period {rank_period!r} is not in the panel; periods: {periods}")
    at = inputs[inputs["period"] == rank_period]
    ri = rank_intervals(at, inputs, weights=weights.set_index("indicator")["weight"],
                        n_draws=n_draws, seed=seed, level=0.90)
    ri = ri.dropna(subset=["value"])
    ranks = grade(ri)
    ranks["county"] = ranks["county_code"].map(names).fillna(ranks["county_code"])
    ranks["prefecture"] = ranks["county_code"].map(prefs)
    # plain text (not the ordered categorical) so the table shows 优秀… and blanks stay blank
    ranks["grade"] = ranks["grade"].astype(object).where(ranks["grade"].notna(), None)
    ranks = ranks[["county_code", "county", "prefecture", "value", "rank", "rank_low", "rank_high",
                   "rank_range", "grade"]].sort_values("rank").reset_index(drop=True)
    roster_frame = _roster(roster)
    notes: list[str] = []
    event_study, round_effects = _did(index, roster_frame, n_draws, seed, notes)
    return ReportData(
        panel=long, index=index, weights=weights[["indicator", "weight"]], ranks=ranks,
        changes=_round_changes(index, names, prefs), roster=roster_frame, rank_period=rank_period,
        event_study=event_study, round_effects=round_effects, notes=notes,
    )


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
    """

    number: int
    stem: str
    caption: str
    build: Callable[[ReportData], Figure]
    reading: Callable[[ReportData], str]

    @property
    def file_stem(self) -> str:
        return f"{self.number:02d}_{self.stem}"


def _round_period(rnd: int) -> tuple[str, str]:
    return ROUND_WINDOWS[rnd]


def _need(frame: pd.DataFrame | None, what: str) -> pd.DataFrame:
    if frame is None or frame.empty:
        raise ReportDataError(f"no data for {what}")
    return frame


def _ranking(d: ReportData) -> Figure:
    r = _need(d.ranks.dropna(subset=["grade"]), "the ranking")
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
    e = _need(d.event_study, "the event study (roster and balanced round windows needed)")
    return charts.event_study_plot(e, source=SOURCE + "；驻点干部名册", period=(DID_WINDOWS[1][0], DID_WINDOWS[2][-1]),
                                   outcome="综合指数", unit="分", title="驻点工作对综合指数的效应（事件研究）")


def _event_study_reading(d: ReportData) -> str:
    e = _need(d.event_study, "the event study")
    parts = []
    for rnd, g in e.groupby("round"):
        post = g[g["event_time"] >= 0]
        pre = g[g["event_time"] < 0]
        flat = bool(((pre["ci_low"] <= 0) & (pre["ci_high"] >= 0)).all())
        parts.append(f"{ROUND_ZH[int(rnd)]}驻点后平均提升{post['att'].mean():+.1f}分"
                     f"（驻点前{'无' if flat else '有'}显著差异）")
    return "；".join(parts) + "。"


def _forest(d: ReportData) -> Figure:
    f = _need(d.round_effects, "round differences of the effects")
    return charts.forest_plot(f, source=SOURCE + "；驻点干部名册", period=(DID_WINDOWS[1][0], DID_WINDOWS[2][-1]),
                              unit="分", title="第二轮与第一轮驻点效应之差（分指数）")


def _forest_reading(d: ReportData) -> str:
    f = _need(d.round_effects, "round differences of the effects")
    sig = f[(f["ci_low"] > 0) | (f["ci_high"] < 0)]
    overall = f[f["index"] == "overall"]
    head = (f"综合指数效应第二轮比第一轮{overall['estimate'].iloc[0]:+.1f}分"
            f"（95%置信区间{overall['ci_low'].iloc[0]:.1f}至{overall['ci_high'].iloc[0]:.1f}）") if len(overall) else ""
    tail = ("；区间不含0的有：" + "、".join(sig["indicator"])) if len(sig) else "；各项差异的区间均含0"
    return head + tail + "。"


def _overall_change(d: ReportData, rnd: int) -> pd.DataFrame:
    c = d.changes[(d.changes["round"] == rnd) & (d.changes["index"] == "overall")]
    return _need(c, f"the change of the overall index in round {rnd}")


def _change_map(d: ReportData) -> Figure:
    c = _overall_change(d, 2).rename(columns={"base_code": "county_code", "change": "value"})
    return choropleth(c[["county_code", "value"]], "第二轮驻点期间各县综合指数变化",
                      unit="分", source=SOURCE, period=_round_period(2))


def _change_map_reading(d: ReportData) -> str:
    c = _overall_change(d, 2)
    up = int((c["change"] > 0).sum())
    return (f"{len(c)}个县级单位中{up}个综合指数上升，变化中位数{c['change'].median():+.1f}分。"
            f"（{MAP_NOTICE}）")


def _heatmap_frame(d: ReportData) -> pd.DataFrame:
    c = d.changes[(d.changes["round"] == 2) & (d.changes["index"] != "overall")]
    c = _need(c, "domain changes in round 2")
    m = c.groupby(["prefecture", "index"], as_index=False, sort=False)["change"].mean()
    m["indicator"] = m["index"].map(INDEX_ZH)
    return m


def _heatmap(d: ReportData) -> Figure:
    return charts.change_heatmap(_heatmap_frame(d), source=SOURCE, period=_round_period(2), unit="分",
                                 title="第二轮驻点期间各市州分领域指数变化（县均）")


def _heatmap_reading(d: ReportData) -> str:
    m = _heatmap_frame(d)
    by_domain = m.groupby("indicator")["change"].mean().sort_values()
    best = m.loc[m["change"].idxmax()]
    return (f"三个领域中{by_domain.index[-1]}平均提升最多（{by_domain.iloc[-1]:+.1f}分）；"
            f"单项提升最大的是{best['prefecture']}的{best['indicator']}（{best['change']:+.1f}分）。")


def _dumbbell_frame(d: ReportData) -> pd.DataFrame:
    c = d.changes[d.changes["index"] == "overall"]
    c = _need(c, "round changes of the overall index")
    return c.groupby(["prefecture", "round"], as_index=False)["change"].mean()


def _dumbbell(d: ReportData) -> Figure:
    return charts.dumbbell_chart(_dumbbell_frame(d), source=SOURCE,
                                 period=(ROUND_WINDOWS[1][0], ROUND_WINDOWS[2][1]),
                                 outcome="综合指数变化", unit="分", title="两轮驻点期间各市州综合指数变化（县均）")


def _dumbbell_reading(d: ReportData) -> str:
    w = _dumbbell_frame(d).pivot(index="prefecture", columns="round", values="change").dropna()
    if w.shape[1] < 2 or w.empty:
        return "仅一轮有数据，无法比较两轮。"
    more = int((w[2] > w[1]).sum())
    return (f"{len(w)}个市州中{more}个第二轮的县均提升大于第一轮"
            f"（均值：第一轮{w[1].mean():+.1f}分，第二轮{w[2].mean():+.1f}分）。")




def _compliance_frame(d: ReportData) -> pd.DataFrame:
    p = d.panel
    rows = []
    for rnd, (_, end) in ROUND_WINDOWS.items():
        at = p[(p["period"] == end) & (p["indicator"] == FUNDS_STANDARD)]
        g = at.assign(ok=at["value"] == 1).groupby("prefecture", sort=False)["ok"].agg(["mean", "size"])
        rows.append(pd.DataFrame({"prefecture": g.index, "round": rnd, "share": g["mean"].to_numpy(),
                                  "n_counties": g["size"].to_numpy()}))
    out = pd.concat(rows, ignore_index=True)
    return _need(out, f"{FUNDS_STANDARD} at the end of a round")


def _compliance(d: ReportData) -> Figure:
    return charts.compliance_chart(_compliance_frame(d), source=SOURCE,
                                   period=(ROUND_WINDOWS[1][1], ROUND_WINDOWS[2][1]),
                                   standard="青少年人均经费≥0.5元")


def _compliance_reading(d: ReportData) -> str:
    f = _compliance_frame(d)
    share = f.groupby("round").apply(lambda g: np.average(g["share"], weights=g["n_counties"]),
                                     include_groups=False)
    parts = [f"{ROUND_ZH[r]}末{share[r]:.0%}" for r in share.index]
    return "全省达标县占比：" + "，".join(parts) + "。"


def _trajectory_frame(d: ReportData) -> pd.DataFrame:
    r = _need(d.roster, "the residency roster")
    r2 = r[r["round"] == 2][["base_code", "batch"]].drop_duplicates("base_code")
    r2 = _need(r2, "round-2 batches in the roster")
    idx = d.index[d.index["index"] == "overall"].merge(r2, on="base_code")
    hi = ROUND_WINDOWS[2][1]
    idx = idx[(idx["period"] >= "2010H2") & (idx["period"] <= hi)]
    out = idx.groupby(["batch", "period"], as_index=False)["value"].mean()
    # a start half-year without data cannot be marked on the time axis: leave it unmarked
    out["start"] = out["batch"].map(ROUND2_BATCH_STARTS).where(lambda s: s.isin(set(out["period"])))
    out["batch_no"] = out["batch"].astype(int)
    out["batch"] = "第二轮第" + out["batch_no"].astype(str) + "批"
    return _need(out.dropna(subset=["value"]), "the overall index of round-2 batches")


def _trajectories(d: ReportData) -> Figure:
    return charts.trajectories_by_batch(_trajectory_frame(d), source=SOURCE,
                                        period=("2010H2", ROUND_WINDOWS[2][1]),
                                        outcome="综合指数", unit="分", title="第二轮各批次县均综合指数走势")


def _trajectories_reading(d: ReportData) -> str:
    t = _trajectory_frame(d)
    gains = []
    for batch, g in t.groupby("batch", sort=True):
        start = ROUND2_BATCH_STARTS[int(g["batch_no"].iloc[0])]
        before = g[g["period"] < start]["value"]
        after = g[g["period"] >= start]["value"]
        if len(before) and len(after):
            gains.append((batch, after.mean() - before.mean()))
    if not gains:
        return "各批次驻点前后均缺少数据，无法比较。"
    text = "；".join(f"{b}{v:+.1f}分" for b, v in gains)
    return f"驻点开始后与开始前的县均综合指数差：{text}（描述性比较，因果估计见事件研究）。"


CHARTS: tuple[ChartSpec, ...] = (
    ChartSpec(1, "ranking", "县域综合指数排名及排名区间", _ranking, _ranking_reading),
    ChartSpec(2, "event_study", "驻点工作对综合指数的效应（事件研究）", _event_study, _event_study_reading),
    ChartSpec(3, "round_forest", "第二轮与第一轮驻点效应之差", _forest, _forest_reading),
    ChartSpec(4, "change_map", "第二轮驻点期间各县综合指数变化（示意图）", _change_map, _change_map_reading),
    ChartSpec(5, "change_heatmap", "第二轮各市州分领域指数变化", _heatmap, _heatmap_reading),
    ChartSpec(6, "round_dumbbell", "两轮驻点期间各市州综合指数变化", _dumbbell, _dumbbell_reading),
    ChartSpec(7, "funds_compliance", "青少年人均经费达标县占比", _compliance, _compliance_reading),
    ChartSpec(8, "batch_trajectories", "第二轮各批次县均综合指数走势", _trajectories, _trajectories_reading),
)
"""The charts of the pack, in order."""


# --------------------------------------------------------------------------- tables


def _tables(d: ReportData) -> dict[str, dict[str, pd.DataFrame]]:
    cat = load_catalog()
    names = dict(zip(cat["code"], cat["name_zh"]))
    weights = d.weights.assign(name=d.weights["indicator"].map(names))[["indicator", "name", "weight"]]
    ranks = d.ranks.copy()
    changes = d.changes.assign(
        round=d.changes["round"].map(ROUND_ZH), index=d.changes["index"].map(INDEX_ZH))
    books = {
        "县域排名": {"排名": ranks, "权重": weights},
        "指数变化": {"两轮变化": changes},
    }
    effects = {}
    if d.event_study is not None:
        effects["事件研究"] = d.event_study.assign(round=d.event_study["round"].map(ROUND_ZH))
    if d.round_effects is not None:
        effects["两轮效应差"] = d.round_effects.drop(columns="index").rename(columns={"indicator": "index_name"})
    if effects:
        books["驻点效应"] = effects
    return books


_TABLE_LABELS = {
    "value": "综合指数（分）", "county": "县级单位", "name": "指标名称", "weight": "熵权",
    "baseline": "基期指数（分）", "end": "期末指数（分）", "change": "变化（分）", "base_code": "县级单位代码（2008）",
    "event_time": "相对驻点开始的半年数", "att": "平均处理效应（分）", "se": "标准误（分）",
    "ci_low": "95%置信区间下限（分）", "ci_high": "95%置信区间上限（分）",
    "band_low": "95%一致置信带下限（分）", "band_high": "95%一致置信带上限（分）",
    "att_r1": "第一轮效应（分）", "att_r2": "第二轮效应（分）", "estimate": "两轮之差（分）",
    "n_common": "两轮共有县数", "index_name": "指数",
    # analysis.compare tables (changes are in each indicator's own unit, so no unit in the header)
    "indicator_name": "指标名称", "window": "比较窗口", "by": "分组方式", "group": "组别", "domain": "领域",
    "mean_change_r1": "第一轮平均变化", "mean_change_r2": "第二轮平均变化", "mean_diff": "两轮变化之差（均值）",
    "sd_diff": "两轮变化之差（标准差）", "r": "两轮变化相关系数", "t": "t统计量", "df": "自由度",
    "p_t": "t检验p值", "w": "Wilcoxon统计量", "p_wilcoxon": "Wilcoxon检验p值", "d_z": "效应量d_z",
    "d_z_low": "d_z置信下限", "d_z_high": "d_z置信上限", "g": "Hedges g", "g_se": "g标准误",
    "g_low": "g置信下限", "g_high": "g置信上限", "q_t": "t检验q值（BH）", "q_wilcoxon": "Wilcoxon q值（BH）",
    "comparison": "比较", "from_period": "起始时期", "to_period": "终止时期", "share_from": "起始达标比例",
    "share_to": "终止达标比例", "b": "由不达标变达标县数", "c": "由达标变不达标县数", "statistic": "McNemar统计量",
    "p": "p值", "q": "q值（BH）",
}
_TABLE_DECIMALS = {c: 4 for c in ("p_t", "p_wilcoxon", "q_t", "q_wilcoxon", "p", "q")} | {
    c: 3 for c in ("share_from", "share_to", "r", "d_z", "d_z_low", "d_z_high", "g", "g_se", "g_low", "g_high")}


def _external_tables(panel: pd.DataFrame, notes: list[str]) -> dict[str, dict[str, pd.DataFrame]]:
    """Round comparison tables of :func:`analysis.compare.compare_rounds`, when that module exists.

    Paired tests of the round-1 vs round-2 change per indicator (all counties, 三州, prefectures,
    unit types) and McNemar tests of the 是/否 standards, on the 2008 base units
    (:func:`analysis.design.to_base_panel` folds split counties and recomputes rates).
    Without the modules the pack is built without them; a comparison the data cannot give is
    named in ``notes``.
    """
    try:
        compare = importlib.import_module("analysis.compare")
        design = importlib.import_module("analysis.design")
    except ImportError:
        notes.append("analysis.compare 不可用，未输出两轮比较表。")
        return {}
    try:
        result = compare.compare_rounds(design.to_base_panel(panel))
    except compare.CompareError as err:
        notes.append(f"两轮比较未能计算：{err}")
        return {}
    cat = load_catalog()
    names = dict(zip(cat["code"], cat["name_zh"]))
    sheets = {}
    for key, sheet in (("paired", "配对检验"), ("standards", "达标检验")):
        frame = result.get(key)
        if frame is None or frame.empty:
            continue
        frame = frame.copy()
        frame.insert(frame.columns.get_loc("indicator") + 1, "indicator_name", frame["indicator"].map(names))
        sheets[sheet] = frame
    return {"两轮比较": sheets} if sheets else {}


# --------------------------------------------------------------------------- build


@dataclass
class ReportManifest:
    """What :func:`build_report` wrote.

    Attributes
    ----------
    figures : the charts (with their files).
    tables : the workbooks.
    docx, html : the chart pack and the index page.
    skipped : ``(file stem, reason)`` of charts whose data were absent.
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
) -> ReportManifest:
    """Build the whole chart pack from the processed data.

    Parameters
    ----------
    processed_dir : folder of ``panel.parquet`` (required) and ``roster.parquet`` (optional).
    reports_dir : output folder (``figures/``, ``tables/``, the docx and ``index.html``).
    n_draws : bootstrap draws of the rank intervals.
    charts_list : the charts to draw (default :data:`CHARTS`).

    Returns
    -------
    ReportManifest
    """
    processed_dir, reports_dir = Path(processed_dir), Path(reports_dir)
    panel_path = processed_dir / "panel.parquet"
    if not panel_path.is_file():
        raise ReportDataError(f"{panel_path} not found; run `python -m analysis clean --out {processed_dir}` first")
    panel = pd.read_parquet(panel_path)
    roster_path = processed_dir / "roster.parquet"
    roster = pd.read_parquet(roster_path) if roster_path.is_file() else None
    data = prepare_report_data(panel, roster, n_draws=n_draws)

    figures_dir, tables_dir = reports_dir / "figures", reports_dir / "tables"
    items: list[FigureItem] = []
    skipped: list[tuple[str, str]] = []
    for spec in charts_list:
        try:
            fig = spec.build(data)
            reading = spec.reading(data)
        except ReportDataError as err:
            skipped.append((spec.file_stem, str(err)))
            continue
        files = save_figure(fig, figures_dir / spec.file_stem)
        png = next(f for f in files if f.suffix == ".png")
        items.append(FigureItem(spec.number, spec.caption, png, SOURCE, reading, files=tuple(files)))

    tables: list[TableItem] = []
    for book, sheets in {**_tables(data), **_external_tables(panel, data.notes)}.items():
        path = write_table_xlsx(sheets, tables_dir / f"{book}.xlsx", titles={s: f"{book}：{s}" for s in sheets},
                                notes=SOURCE, labels=_TABLE_LABELS, decimals=_TABLE_DECIMALS)
        tables.append(TableItem(book, path))

    subtitle = f"排名时期：{data.rank_period}；指数为0–100分（全样本极差标准化、熵权法）"
    docx = write_docx(items, reports_dir / DOCX_NAME, subtitle=subtitle, notes=data.notes)
    html = write_index_html(items, tables, reports_dir / "index.html", notes=data.notes,
                            documents={REPORT_TITLE + "（Word）": docx})
    return ReportManifest(figures=items, tables=tables, docx=docx, html=html, skipped=skipped, notes=data.notes)
