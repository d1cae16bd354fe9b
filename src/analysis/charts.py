"""Report charts: tidy DataFrames in, :class:`matplotlib.figure.Figure` out (never saved here).

Every chart uses the house style (:mod:`analysis.style`): Chinese title, axis labels with units,
round and grade colours that are the same everywhere, and the ``数据来源：…`` / ``时期：…`` note at
the bottom.  ``source`` and ``period`` are required keyword arguments on purpose: a chart without
its source is not finished.  Write the figure with :func:`analysis.style.save_figure`.

Each function checks its input columns and raises :class:`ChartDataError` naming the chart, the
problem and the fix.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib as mpl
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from analysis.ingest.periods import period_sort_key
from analysis.style import (
    DIVERGING_CMAP,
    GRADE_COLORS,
    GRADE_MARKERS,
    GRADES,
    OKABE_ITO,
    ROUND_COLORS,
    ROUND_HATCHES,
    ROUND_LINESTYLES,
    ROUND_MARKERS,
    ROUNDS,
    add_source_note,
    axis_label,
    new_figure,
    outline,
)

__all__ = [
    "ChartDataError",
    "change_heatmap",
    "compliance_chart",
    "dumbbell_chart",
    "event_study_plot",
    "event_time_trajectories",
    "forest_plot",
    "ranking_caterpillar",
    "trajectories_by_batch",
]

Period = str | tuple[str, str]
CM = 1 / 2.54
PRE_SHADE = "#E6E6E6"
NEUTRAL = "#7F7F7F"
OTHERS = "#A6A6A6"  # other batches: darker than the #CCCCCC grid, lighter than any data colour


class ChartDataError(ValueError):
    """The data handed to a chart function do not have the expected shape or values."""


# --------------------------------------------------------------------------- input checks

def _require(data: pd.DataFrame, columns: Sequence[str], chart: str,
             numeric: Sequence[str] = ()) -> pd.DataFrame:
    if not isinstance(data, pd.DataFrame):
        raise ChartDataError(f"{chart}: expected a pandas DataFrame, got {type(data).__name__}")
    missing = [c for c in columns if c not in data.columns]
    if missing:
        raise ChartDataError(
            f"{chart}: missing column(s) {missing}; got {list(data.columns)}. "
            f"Fix: rename or add them (expected {list(columns)})."
        )
    if data.empty:
        raise ChartDataError(f"{chart}: the DataFrame has no rows; nothing to plot.")
    out = data.copy()
    for c in numeric:
        converted = pd.to_numeric(out[c], errors="coerce")
        bad = out.index[converted.isna() & out[c].notna()]
        if len(bad):
            raise ChartDataError(
                f"{chart}: column {c!r}, row {bad[0]}: {out.at[bad[0], c]!r} is not a number. "
                "Fix: clean the value upstream (analysis.clean) or drop the row."
            )
        out[c] = converted.astype(float)
    return out


def _check_interval(data: pd.DataFrame, low: str, high: str, chart: str) -> None:
    both = data[low].notna() & data[high].notna()
    bad = data.index[both & (data[low] > data[high])]
    if len(bad):
        raise ChartDataError(
            f"{chart}: row {bad[0]}: {low}={data.at[bad[0], low]} > {high}={data.at[bad[0], high]}. "
            f"Fix: swap the bounds or recompute the interval."
        )


_ROUND_ALIASES: dict[object, str] = {
    1: "第一轮", 2: "第二轮", "1": "第一轮", "2": "第二轮",
    "第一轮": "第一轮", "第二轮": "第二轮", "round1": "第一轮", "round2": "第二轮",
}


def _round_labels(values: pd.Series, chart: str) -> pd.Series:
    def one(v: object) -> str:
        key = v.strip().lower() if isinstance(v, str) else (int(v) if pd.notna(v) and float(v).is_integer() else v)
        if key not in _ROUND_ALIASES:
            raise ChartDataError(
                f"{chart}: column 'round' has {v!r}; use 1/2 or 第一轮/第二轮."
            )
        return _ROUND_ALIASES[key]

    return values.map(one)


def _title(fig: Figure, title: str) -> None:
    # at the figure's left edge, not the axes': long y labels would push it off the page
    fig.suptitle(title, x=0.01, ha="left")


def _finish(fig: Figure, source: str, period: Period) -> Figure:
    add_source_note(fig, source, period)
    return fig


# --------------------------------------------------------------------------- 1 event study

def event_study_plot(
    estimates: pd.DataFrame,
    *,
    source: str,
    period: Period,
    outcome: str = "效应",
    unit: str | None = None,
    title: str = "驻点工作效应的事件研究估计",
    level: float = 0.95,
) -> Figure:
    """Event-study plot: ATT by event time, one panel per round.

    Parameters
    ----------
    estimates : tidy frame, one row per (round, event time), columns

        - ``event_time`` : half-years relative to the start of residency (0 = first treated
          half-year; negative = before, the placebo periods, shaded);
        - ``att`` : average treatment effect on the treated, in the outcome's unit;
        - ``ci_low``, ``ci_high`` : pointwise confidence interval (drawn as error bars);
        - ``band_low``, ``band_high`` : simultaneous (uniform) band over all event times
          (drawn as a shaded band; NaN where not computed);
        - ``round`` (optional) : 1/2 or 第一轮/第二轮; one panel per round, sharing the y axis.

        The table of ``analysis.did`` dynamic aggregation (``AggteResult.to_frame()``, with
        ``level``/``key`` instead of ``event_time``) is accepted as is: its ``event_time`` rows
        are plotted and the ``overall`` row is dropped.  Concatenate one per round with a
        ``round`` column for two panels.
    source, period : data source and period covered, for the note under the chart.
    outcome, unit : y-axis label, e.g. ``outcome="团青比", unit="百分点"``.
    title : Chinese title.
    level : confidence level of both intervals, for the legend only (e.g. 0.95 → "95%").

    Returns
    -------
    matplotlib.figure.Figure
    """
    chart = "event_study_plot"
    cols = ["event_time", "att", "ci_low", "ci_high", "band_low", "band_high"]
    if (isinstance(estimates, pd.DataFrame) and "event_time" not in estimates.columns
            and {"level", "key"} <= set(estimates.columns)):
        # the dynamic aggregation table of analysis.did (AggteResult.to_frame): keep the
        # per-event-time rows, drop the overall row
        estimates = estimates[estimates["level"] == "event_time"].rename(columns={"key": "event_time"})
    data = _require(estimates, cols, chart, numeric=cols)
    _check_interval(data, "ci_low", "ci_high", chart)
    _check_interval(data, "band_low", "band_high", chart)
    if "round" in data.columns:
        data["round"] = _round_labels(data["round"], chart)
        rounds = [r for r in ROUNDS if r in set(data["round"])]
    else:
        data["round"] = ""
        rounds = [""]

    width = "single" if len(rounds) == 1 else "double"
    fig, axes = new_figure(width, aspect=0.8 if len(rounds) == 1 else 0.42,
                           ncols=len(rounds), sharey=True)
    axes = np.atleast_1d(axes)
    pct = f"{level * 100:g}%"
    for ax, rnd in zip(axes, rounds, strict=True):
        d = data[data["round"] == rnd].sort_values("event_time")
        colour = ROUND_COLORS.get(rnd, OKABE_ITO["blue"])
        e = d["event_time"].to_numpy()
        if (e < 0).any():
            ax.axvspan(e.min() - 0.5, -0.5, color=PRE_SHADE, zorder=0, linewidth=0)
        ax.axhline(0, color="black", linewidth=0.8, zorder=1)
        band = d["band_low"].notna() & d["band_high"].notna()
        if band.any():
            ax.fill_between(e, d["band_low"].where(band), d["band_high"].where(band),
                            color=colour, alpha=0.2, linewidth=0, zorder=2, step=None)
        ax.errorbar(e, d["att"], yerr=[d["att"] - d["ci_low"], d["ci_high"] - d["att"]],
                    fmt=ROUND_MARKERS.get(rnd, "o"), color=colour, markersize=3.5,
                    elinewidth=1, capsize=0, zorder=3)
        ax.set_title(rnd or None, loc="center", fontsize=mpl.rcParams["axes.labelsize"])
        ax.set_xlabel("相对驻点开始的期数（半年）")
        ax.xaxis.set_major_locator(mpl.ticker.MaxNLocator(integer=True))
    axes[0].set_ylabel(axis_label(outcome, unit))
    handles = [
        Line2D([], [], color=NEUTRAL, marker="o", markersize=3.5, linewidth=1,
               label=f"点估计与{pct}逐点置信区间"),
        Patch(color=NEUTRAL, alpha=0.3, label=f"{pct}一致置信带"),
        Patch(color=PRE_SHADE, label="驻点前（平行趋势检验期）"),
    ]
    # below the axes: at the top it would collide with the left-aligned title
    fig.legend(handles=handles, loc="outside lower center", ncols=3 if len(rounds) > 1 else 2,
               frameon=False)
    _title(fig, title)
    return _finish(fig, source, period)


# --------------------------------------------------------------------------- 2 forest plot

def forest_plot(
    effects: pd.DataFrame,
    *,
    source: str,
    period: Period,
    unit: str | None = "标准差",
    title: str = "第二轮与第一轮驻点效应之差（按指标）",
    label: str = "indicator",
) -> Figure:
    """Forest plot of round-2-minus-round-1 effects, one row per indicator.

    Parameters
    ----------
    effects : one row per indicator, in the order to show (top to bottom), columns

        - ``indicator`` (or the column named by ``label``) : Chinese indicator label;
        - ``estimate`` : round-2 effect minus round-1 effect, in ``unit``;
        - ``ci_low``, ``ci_high`` : confidence interval of the difference.

        Intervals that exclude 0 are drawn with filled markers, the others hollow.
    source, period : for the note under the chart.
    unit : unit of the difference (indicators on different scales should be standardised).
    title : Chinese title.
    label : name of the label column.

    Returns
    -------
    matplotlib.figure.Figure
    """
    chart = "forest_plot"
    data = _require(effects, [label, "estimate", "ci_low", "ci_high"], chart,
                    numeric=["estimate", "ci_low", "ci_high"])
    _check_interval(data, "ci_low", "ci_high", chart)
    n = len(data)
    # ~0.55 cm per indicator plus ~4.2 cm for title, axis, legend and note
    fig, ax = new_figure("single", aspect=(4.2 + 0.55 * n) / 8.5)
    y = np.arange(n)[::-1]  # first row at the top
    excludes_zero = ((data["ci_low"] > 0) | (data["ci_high"] < 0)).to_numpy()
    colour = ROUND_COLORS["第二轮"]
    ax.hlines(y, data["ci_low"], data["ci_high"], color=colour, linewidth=1.2)
    ax.plot(data["estimate"].to_numpy()[excludes_zero], y[excludes_zero], "D", color=colour,
            markersize=4, linestyle="none", label="区间不含0")
    ax.plot(data["estimate"].to_numpy()[~excludes_zero], y[~excludes_zero], "D",
            markerfacecolor="white", markeredgecolor=colour, markersize=4, linestyle="none",
            label="区间含0")
    ax.axvline(0, color="black", linewidth=0.8)
    ax.set_yticks(y, data[label].astype(str).tolist())
    ax.set_ylim(-0.7, n - 0.3)
    ax.grid(axis="y", visible=False)
    ax.set_xlabel(axis_label("效应差（第二轮 − 第一轮）", unit))
    _title(fig, title)
    fig.legend(loc="outside lower center", ncols=2, frameon=False)
    return _finish(fig, source, period)


# --------------------------------------------------------------------------- 3 ranking

def ranking_caterpillar(
    ranks: pd.DataFrame,
    *,
    source: str,
    period: Period,
    title: str = "各县（市、区）综合指数排名及其不确定性",
    name: str = "county",
) -> Figure:
    """Caterpillar plot of county ranks with rank intervals, coloured by grade.

    Parameters
    ----------
    ranks : one row per county, columns

        - ``county`` (or the column named by ``name``) : county name (Chinese);
        - ``rank`` : point rank, 1 = best;
        - ``rank_low``, ``rank_high`` : rank interval (e.g. bootstrap 90 %), ``rank_low <= rank_high``;
        - ``grade`` : 优秀 / 良好 / 合格 / 不合格.

        Counties are drawn best first (top).  The figure grows with the number of counties up to
        an A4 page height; for all 183 counties the labels become small but stay legible in PDF.
    source, period : for the note under the chart.
    title : Chinese title.
    name : name of the county-label column.

    Returns
    -------
    matplotlib.figure.Figure
    """
    chart = "ranking_caterpillar"
    data = _require(ranks, [name, "rank", "rank_low", "rank_high", "grade"], chart,
                    numeric=["rank", "rank_low", "rank_high"])
    _check_interval(data, "rank_low", "rank_high", chart)
    unknown = sorted(set(data["grade"].dropna()) - set(GRADES))
    if unknown or data["grade"].isna().any():
        raise ChartDataError(
            f"{chart}: column 'grade' has {unknown or ['<missing>']}; allowed {list(GRADES)}. "
            "Fix: grade with analysis.indices.grade()."
        )
    data = data.sort_values(["rank", name], kind="stable").reset_index(drop=True)
    n = len(data)
    height_cm = float(np.clip(2.5 + 0.32 * n, 6.0, 24.0))
    fig, ax = new_figure("double" if n > 40 else "single", aspect=height_cm / (17.0 if n > 40 else 8.5))
    y = np.arange(n)[::-1]
    # one row is (height / n) inches; labels take ~80 % of it (never above 7 pt), markers 90 %
    row_pt = height_cm * CM * 72 / n
    marker_pt = min(3.5, 0.9 * row_pt)
    for g in GRADES:
        m = (data["grade"] == g).to_numpy()
        if not m.any():
            continue
        d = data[m]
        ax.hlines(y[m], d["rank_low"], d["rank_high"], color=GRADE_COLORS[g], linewidth=1.2,
                  path_effects=outline(GRADE_COLORS[g], 1.2))
        ax.plot(d["rank"], y[m], GRADE_MARKERS[g], color=GRADE_COLORS[g], markersize=marker_pt,
                markeredgecolor="black", markeredgewidth=0.3, linestyle="none", label=g)
    ax.set_yticks(y, data[name].astype(str).tolist(), fontsize=min(7.0, max(3.0, 0.8 * row_pt)))
    ax.set_ylim(-0.7, n - 0.3)
    ax.grid(axis="y", visible=False)
    ax.set_xlabel(axis_label("排名", "位，1 = 最好"))
    ax.set_xlim(0.5, max(data["rank_high"].max(), data["rank"].max()) + 0.5)
    _title(fig, title)
    # below the plot: wide intervals can reach any corner of the axes
    present = [g for g in GRADES if (data["grade"] == g).any()]
    fig.legend(title="等级", loc="outside lower center", ncols=len(present), frameon=False)
    return _finish(fig, source, period)


# --------------------------------------------------------------------------- 4 heatmap

def change_heatmap(
    changes: pd.DataFrame,
    *,
    source: str,
    period: Period,
    unit: str | None = "标准差",
    title: str = "各市州各指标的变化（第二轮 − 第一轮）",
    annotate: bool | None = None,
    value: str = "change",
) -> Figure:
    """Heatmap prefecture × indicator of change, on a diverging scale centred at 0.

    Parameters
    ----------
    changes : long frame, one row per (prefecture, indicator), columns ``prefecture``,
        ``indicator`` (Chinese label) and ``change`` (or the column named by ``value``), in a
        unit comparable across indicators (standardised, or percentage points).  Rows and
        columns keep their order of first appearance; missing cells are left blank.
    source, period : for the note under the chart.
    unit : unit of the change, for the colour-bar label.
    title : Chinese title.
    annotate : write the value in each cell; default when there are at most 150 cells.
    value : name of the value column.

    Returns
    -------
    matplotlib.figure.Figure
    """
    chart = "change_heatmap"
    data = _require(changes, ["prefecture", "indicator", value], chart, numeric=[value])
    dup = data.duplicated(["prefecture", "indicator"], keep=False)
    if dup.any():
        first = data[dup].iloc[0]
        raise ChartDataError(
            f"{chart}: more than one row for ({first['prefecture']}, {first['indicator']}). "
            "Fix: aggregate to one value per prefecture and indicator first."
        )
    rows = list(dict.fromkeys(data["prefecture"]))
    cols = list(dict.fromkeys(data["indicator"]))
    grid = data.pivot(index="prefecture", columns="indicator", values=value).reindex(index=rows, columns=cols)
    limit = float(np.nanmax(np.abs(grid.to_numpy()))) or 1.0
    annotate = grid.size <= 150 if annotate is None else annotate
    fig, ax = new_figure("double", aspect=min(1.3, (3.0 + 0.55 * len(rows)) / 17.0 + 0.1))
    # symmetric limits: 0 in the middle of the scale, equal changes equally dark either side
    mesh = ax.pcolormesh(grid.to_numpy(), cmap=DIVERGING_CMAP, vmin=-limit, vmax=limit,
                         edgecolors="white", linewidth=0.5)
    # slant the indicator names only when they would not fit side by side (~0.35 cm per hanzi)
    crowded = max(len(str(c)) for c in cols) * 0.35 > 15.0 / len(cols)
    ax.set_xticks(np.arange(len(cols)) + 0.5, cols, rotation=40 if crowded else 0,
                  ha="right" if crowded else "center", rotation_mode="anchor")
    ax.set_yticks(np.arange(len(rows)) + 0.5, rows)
    ax.set_xlim(0, len(cols))
    ax.set_ylim(len(rows), 0)
    ax.grid(False)
    if annotate:
        norm = mesh.norm
        for i, j in zip(*np.nonzero(np.isfinite(grid.to_numpy())), strict=True):
            v = grid.iat[i, j]
            # white text on the darkest cells only
            dark = abs(norm(v) - 0.5) > 0.35
            # round first and add 0.0 so that -0.04 prints as 0.0, not as a negative zero
            shown = f"{round(float(v), 1) + 0.0:.1f}".replace("-", "\u2212")
            ax.text(j + 0.5, i + 0.5, shown, ha="center", va="center",
                    fontsize=6, color="white" if dark else "black")
    cbar = fig.colorbar(mesh, ax=ax, shrink=0.8)
    cbar.set_label(axis_label("变化", unit))
    _title(fig, title)
    return _finish(fig, source, period)


# --------------------------------------------------------------------------- 5 dumbbell

def dumbbell_chart(
    changes: pd.DataFrame,
    *,
    source: str,
    period: Period,
    outcome: str = "变化",
    unit: str | None = None,
    title: str = "各市州两轮驻点期间的变化",
    value: str = "change",
) -> Figure:
    """Dumbbell chart: round-1 vs round-2 change, one row per prefecture.

    Parameters
    ----------
    changes : long frame, columns ``prefecture``, ``round`` (1/2 or 第一轮/第二轮) and
        ``change`` (or the column named by ``value``), the change over the round's residency
        in ``unit``.  Prefectures are sorted by their round-2 change, largest at the top; a
        prefecture with only one round shows a single dot.
    source, period : for the note under the chart.
    outcome, unit : x-axis label.
    title : Chinese title.
    value : name of the value column.

    Returns
    -------
    matplotlib.figure.Figure
    """
    chart = "dumbbell_chart"
    data = _require(changes, ["prefecture", "round", value], chart, numeric=[value])
    data["round"] = _round_labels(data["round"], chart)
    if data.duplicated(["prefecture", "round"]).any():
        raise ChartDataError(f"{chart}: more than one row per (prefecture, round). "
                             "Fix: aggregate to one change per prefecture and round.")
    wide = data.pivot(index="prefecture", columns="round", values=value).reindex(columns=list(ROUNDS))
    order_key = wide["第二轮"].fillna(wide["第一轮"])
    wide = wide.loc[order_key.sort_values(ascending=True, kind="stable").index]
    n = len(wide)
    fig, ax = new_figure("single", aspect=max(0.55, (2.5 + 0.42 * n) / 8.5))
    y = np.arange(n)
    ax.hlines(y, wide.min(axis=1), wide.max(axis=1), color="#BBBBBB", linewidth=2, zorder=1)
    for rnd in ROUNDS:
        ax.plot(wide[rnd], y, ROUND_MARKERS[rnd], color=ROUND_COLORS[rnd], markersize=5,
                markeredgecolor="black", markeredgewidth=0.3, linestyle="none", label=rnd, zorder=2)
    ax.axvline(0, color="black", linewidth=0.8, zorder=0)
    ax.set_yticks(y, wide.index.astype(str).tolist())
    ax.set_ylim(-0.7, n - 0.3)
    ax.grid(axis="y", visible=False)
    ax.set_xlabel(axis_label(outcome, unit))
    _title(fig, title)
    fig.legend(loc="outside lower center", ncols=2, frameon=False)
    return _finish(fig, source, period)


# --------------------------------------------------------------------------- 6 compliance

def compliance_chart(
    shares: pd.DataFrame,
    *,
    source: str,
    period: Period,
    standard: str = "青少年人均经费 ≥ 0.5 元",
    title: str | None = None,
) -> Figure:
    """Share of counties meeting a policy standard, by prefecture and round (grouped bars).

    Parameters
    ----------
    shares : long frame, columns ``prefecture``, ``round`` (1/2 or 第一轮/第二轮) and ``share``,
        the fraction of the prefecture's counties meeting the standard (0–1; drawn as %).
        Optional ``n_counties`` is written after the prefecture name.  Prefectures keep their
        order of first appearance; a missing (prefecture, round) is left blank, not drawn as 0.
    source, period : for the note under the chart.
    standard : the standard, in words (goes into the title).
    title : Chinese title; default ``"达标县占比"`` with the standard on a second line.

    Returns
    -------
    matplotlib.figure.Figure
    """
    chart = "compliance_chart"
    data = _require(shares, ["prefecture", "round", "share"], chart, numeric=["share"])
    data["round"] = _round_labels(data["round"], chart)
    out_of_range = data.index[(data["share"] < 0) | (data["share"] > 1)]
    if len(out_of_range):
        i = out_of_range[0]
        raise ChartDataError(
            f"{chart}: row {i}: share={data.at[i, 'share']} is outside 0–1. "
            "Fix: pass a fraction (85 % → 0.85)."
        )
    if data.duplicated(["prefecture", "round"]).any():
        raise ChartDataError(f"{chart}: more than one row per (prefecture, round). "
                             "Fix: one share per prefecture and round.")
    prefectures = list(dict.fromkeys(data["prefecture"]))
    labels = prefectures
    if "n_counties" in data.columns:
        n_by = data.groupby("prefecture", sort=False)["n_counties"].max()
        labels = [f"{p}（{int(n_by[p])}县）" if pd.notna(n_by[p]) else p for p in prefectures]
    wide = data.pivot(index="prefecture", columns="round", values="share").reindex(
        index=prefectures, columns=list(ROUNDS))
    n = len(prefectures)
    fig, ax = new_figure("single", aspect=max(0.6, (2.8 + 0.55 * n) / 8.5))
    y = np.arange(n)[::-1].astype(float)
    h = 0.38
    for k, rnd in enumerate(ROUNDS):
        offset = h / 2 if k == 0 else -h / 2  # round 1 above round 2 in each pair
        # a missing share is left blank, not drawn as 0 %
        has = wide[rnd].notna().to_numpy()
        ax.barh(y[has] + offset, wide[rnd].to_numpy()[has] * 100, height=h, color=ROUND_COLORS[rnd],
                hatch=ROUND_HATCHES[rnd], edgecolor="white", linewidth=0.3, label=rnd)
    ax.set_yticks(y, labels)
    ax.set_xlim(0, 100)
    ax.xaxis.set_major_formatter(mpl.ticker.PercentFormatter(decimals=0))
    ax.grid(axis="y", visible=False)
    ax.set_xlabel(axis_label("达标县占比", "%"))
    _title(fig, title or f"达标县占比\n标准：{standard}")
    fig.legend(loc="outside lower center", ncols=2, frameon=False)
    return _finish(fig, source, period)


# --------------------------------------------------------------------------- 7 trajectories

def _period_key(p: str) -> tuple[int, int]:
    try:
        return period_sort_key(p)
    except ValueError:
        raise ChartDataError(f"trajectories_by_batch: period {p!r} is not like '2012H1'. "
                             "Fix: normalise periods with the cleaning step.") from None


def trajectories_by_batch(
    data: pd.DataFrame,
    *,
    source: str,
    period: Period,
    outcome: str = "指标值",
    unit: str | None = None,
    title: str = "各批次县的指标轨迹",
    value: str = "value",
    ncols: int = 4,
    starts: Mapping[str, str] | None = None,
) -> Figure:
    """Small multiples: the mean trajectory of each batch, over half-years.

    Parameters
    ----------
    data : long frame, columns ``batch`` (panel label, e.g. ``"第二轮第1批"``), ``period``
        (half-year ``YYYYH1``/``YYYYH2``) and ``value`` (or the column named by ``value``) —
        the batch mean, in ``unit``.  Each panel highlights its batch and shows the other
        batches in grey for comparison.  Optional column ``start`` (or the ``starts`` mapping
        batch → period) marks the half-year the batch's residency began with a dashed line.
    source, period : for the note under the chart.
    outcome, unit : y-axis label.
    title : Chinese title.
    value : name of the value column.
    ncols : panels per row.
    starts : batch → start period, overriding a ``start`` column.

    Returns
    -------
    matplotlib.figure.Figure
    """
    chart = "trajectories_by_batch"
    d = _require(data, ["batch", "period", value], chart, numeric=[value])
    d["period"] = d["period"].astype(str).str.strip().str.upper()
    periods = sorted(set(d["period"]), key=_period_key)
    pos = {p: i for i, p in enumerate(periods)}
    d["x"] = d["period"].map(pos)
    if d.duplicated(["batch", "period"]).any():
        raise ChartDataError(f"{chart}: more than one row per (batch, period). "
                             "Fix: average counties within batch and period first.")
    batches = list(dict.fromkeys(d["batch"]))
    start_of: dict[str, str] = {}
    if "start" in d.columns:
        start_of.update(d.dropna(subset=["start"]).groupby("batch")["start"].first().astype(str).to_dict())
    start_of.update(starts or {})

    ncols = max(1, min(ncols, len(batches)))
    nrows = -(-len(batches) // ncols)
    fig, axes = new_figure("double", aspect=0.3 * nrows + 0.12, nrows=nrows, ncols=ncols,
                           sharex=True, sharey=True)
    axes = np.atleast_1d(axes).ravel()
    lines = {b: g.sort_values("x") for b, g in d.groupby("batch", sort=False)}
    for ax, b in zip(axes, batches, strict=False):
        for other, g in lines.items():
            if other != b:
                ax.plot(g["x"], g[value], color=OTHERS, linewidth=0.7, zorder=1)
        own = lines[b]
        ax.plot(own["x"], own[value], color=OKABE_ITO["blue"], linewidth=1.6, marker="o",
                markersize=2.5, zorder=3)
        if b in start_of:
            s = str(start_of[b]).strip().upper()
            if s not in pos:
                raise ChartDataError(f"{chart}: start {s!r} of batch {b!r} is not among the "
                                     f"periods {periods[0]}–{periods[-1]}. Fix: check the roster.")
            ax.axvline(pos[s] - 0.5, color="black", linestyle=ROUND_LINESTYLES["第一轮"],
                       linewidth=0.8, zorder=2)
        ax.set_title(str(b), loc="center", fontsize=mpl.rcParams["axes.labelsize"])
        ax.grid(axis="x", visible=False)  # vertical grid lines would read as more trajectories
    for ax in axes[len(batches):]:
        ax.set_visible(False)
    # years at their first half-year, at most four labels so they fit under a 4 cm panel
    ticks = [i for i, p in enumerate(periods) if p.endswith("H1")] or list(range(len(periods)))
    ticks = ticks[::-(-len(ticks) // 4)]
    for ax in axes[:len(batches)]:
        ax.set_xticks(ticks, [periods[i][:4] for i in ticks])
    handles = [
        Line2D([], [], color=OKABE_ITO["blue"], linewidth=1.6, marker="o", markersize=2.5,
               label="本批次"),
        Line2D([], [], color=OTHERS, linewidth=0.7, label="其他批次"),
    ]
    if start_of:
        handles.append(Line2D([], [], color="black", linestyle=ROUND_LINESTYLES["第一轮"],
                              linewidth=0.8, label="驻点开始"))
    fig.legend(handles=handles, loc="outside lower center", ncols=len(handles), frameon=False)
    fig.supylabel(axis_label(outcome, unit), fontsize=mpl.rcParams["axes.labelsize"])
    # x labels on the bottom panel of each column (a supxlabel would sit on the source note)
    for k, ax in enumerate(axes[:len(batches)]):
        if k + ncols >= len(batches):
            ax.set_xlabel("年份（每年两期）")
    _title(fig, title)
    return _finish(fig, source, period)


# --------------------------------------------------------------------------- 8 event-time trajectories

# one colour and marker per batch, so the overlaid lines stay apart in grey print as well
_BATCH_STYLES: tuple[tuple[str, str, str], ...] = (
    (OKABE_ITO["orange"], "o", "--"),
    (OKABE_ITO["blue"], "s", "-"),
    (OKABE_ITO["bluish_green"], "^", "-."),
    (OKABE_ITO["vermillion"], "D", ":"),
    (OKABE_ITO["reddish_purple"], "v", "--"),
    (OKABE_ITO["sky_blue"], "P", "-"),
)


def event_time_trajectories(
    data: pd.DataFrame,
    *,
    source: str,
    period: Period,
    outcome: str = "指标值",
    unit: str | None = None,
    title: str = "各批次县的指标轨迹（以驻点开始为0期）",
    value: str = "value",
) -> Figure:
    """All batches overlaid on event time: half-years relative to each batch's start.

    Parameters
    ----------
    data : long frame, columns ``batch`` (label, e.g. ``"第二轮第1批"``), ``event_time``
        (integer half-years since the batch's first residency half-year: 0 = the start
        half-year, −1 = the half-year before) and ``value`` (or the column named by
        ``value``) — the batch mean, in ``unit``.  Batches keep their order of first
        appearance (at most six, each with its own colour, marker and line style).
    source, period : for the note under the chart.
    outcome, unit : y-axis label.
    title : Chinese title.
    value : name of the value column.

    Returns
    -------
    matplotlib.figure.Figure
        A dashed vertical line between event times −1 and 0 marks the start of residency.
    """
    chart = "event_time_trajectories"
    d = _require(data, ["batch", "event_time", value], chart, numeric=["event_time", value])
    frac = d.index[d["event_time"].notna() & (d["event_time"] % 1 != 0)]
    if len(frac):
        raise ChartDataError(f"{chart}: row {frac[0]}: event_time={d.at[frac[0], 'event_time']} is not a "
                             "whole number of half-years. Fix: subtract the start's period index.")
    if d.duplicated(["batch", "event_time"]).any():
        raise ChartDataError(f"{chart}: more than one row per (batch, event_time). "
                             "Fix: average counties within batch and event time first.")
    batches = list(dict.fromkeys(d["batch"]))
    if len(batches) > len(_BATCH_STYLES):
        raise ChartDataError(f"{chart}: {len(batches)} batches; at most {len(_BATCH_STYLES)} can be "
                             "told apart. Fix: draw one round at a time.")
    fig, ax = new_figure("double", aspect=0.45)
    ax.axvline(-0.5, color="black", linestyle=ROUND_LINESTYLES["第一轮"], linewidth=0.8, zorder=1)
    for b, (colour, marker, style) in zip(batches, _BATCH_STYLES, strict=False):
        g = d[d["batch"] == b].sort_values("event_time")
        ax.plot(g["event_time"], g[value], color=colour, marker=marker, linestyle=style, linewidth=1.3,
                markersize=3.5, markeredgecolor="black", markeredgewidth=0.3, label=str(b), zorder=3)
    t = d["event_time"].dropna().astype(int)
    ax.set_xticks(range(int(t.min()), int(t.max()) + 1))
    ax.grid(axis="x", visible=False)  # vertical grid lines would compete with the start line
    ax.set_xlabel("距驻点开始的半年数（0 = 驻点开始的半年）")
    ax.set_ylabel(axis_label(outcome, unit))
    handles = [*ax.get_legend_handles_labels()[0],
               Line2D([], [], color="black", linestyle=ROUND_LINESTYLES["第一轮"], linewidth=0.8, label="驻点开始")]
    fig.legend(handles=handles, loc="outside lower center", ncols=len(handles), frameon=False)
    _title(fig, title)
    return _finish(fig, source, period)
