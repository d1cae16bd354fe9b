"""Report charts (analysis.charts) on tiny hand-built frames.

Each test builds its data by hand and checks what was drawn against values worked out here:
positions, order, colours, counts of artists and labels, Chinese title, source note.  Every
chart is drawn inside ``fail_on_missing_glyphs`` so a box in place of a character fails.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from matplotlib.collections import LineCollection, PolyCollection, QuadMesh
from matplotlib.colors import to_hex
from matplotlib.patches import Rectangle

from analysis import charts
from analysis.charts import ChartDataError
from analysis.fonts import fail_on_missing_glyphs
from analysis.style import GRADE_COLORS, ROUND_COLORS

NOTE = dict(source="测试数据", period=("2012H1", "2013H2"))
NOTE_TEXT = "数据来源：测试数据\n时期：2012年上半年至2013年下半年"
MINUS = "\u2212"


def draw(make, *args, **kwargs):
    """Build and render a chart; missing glyphs raise."""
    with fail_on_missing_glyphs():
        fig = make(*args, **NOTE, **kwargs)
        fig.canvas.draw()
    return fig


def note_of(fig) -> str:
    notes = [t.get_text() for t in fig.texts if t.get_gid() == "source-note"]
    assert len(notes) == 1
    return notes[0]


def ytick_texts(ax) -> list[str]:
    """Tick labels from top to bottom."""
    ticks = sorted(zip(ax.get_yticks(), [t.get_text() for t in ax.get_yticklabels()]),
                   key=lambda t: t[0], reverse=not ax.yaxis_inverted())
    return [label for _, label in ticks]


def plotted_lines(ax, marker=None):
    return [ln for ln in ax.get_lines() if len(ln.get_xdata()) and (marker is None or ln.get_marker() == marker)]


# --------------------------------------------------------------------------- event study

def event_frame() -> pd.DataFrame:
    rows = []
    for rnd, effect in ((1, 1.0), (2, 2.0)):
        for e in (-2, -1, 0, 1):
            att = 0.0 if e < 0 else effect
            rows.append(dict(round=rnd, event_time=e, att=att, ci_low=att - 0.5, ci_high=att + 0.5,
                             band_low=att - 0.8, band_high=att + 0.8))
    return pd.DataFrame(rows)


def test_event_study_two_rounds():
    fig = draw(charts.event_study_plot, event_frame(), outcome="团青比", unit="百分点")
    assert fig.get_suptitle() == "驻点工作效应的事件研究估计"
    assert note_of(fig) == NOTE_TEXT
    axes = [ax for ax in fig.axes if ax.get_visible()]
    assert [ax.get_title() for ax in axes] == ["第一轮", "第二轮"]
    assert axes[0].get_ylabel() == "团青比（百分点）"
    for ax, rnd, effect in zip(axes, ("第一轮", "第二轮"), (1.0, 2.0), strict=True):
        (container,) = ax.containers  # one errorbar per round
        x, y = (np.asarray(v, float) for v in container.lines[0].get_data())
        np.testing.assert_allclose(x, [-2, -1, 0, 1])
        np.testing.assert_allclose(y, [0, 0, effect, effect])
        assert to_hex(container.lines[0].get_color()) == ROUND_COLORS[rnd].lower()
        # pointwise intervals: vertical segments from att-0.5 to att+0.5
        (bars,) = container.lines[2]
        segs = np.array(bars.get_segments())
        np.testing.assert_allclose(segs[:, 0, 1], np.array([0, 0, effect, effect]) - 0.5)
        np.testing.assert_allclose(segs[:, 1, 1], np.array([0, 0, effect, effect]) + 0.5)
        # uniform band: one filled polygon spanning att±0.8
        bands = [c for c in ax.collections if isinstance(c, PolyCollection)]
        assert len(bands) == 1
        verts = bands[0].get_paths()[0].vertices
        assert verts[:, 1].min() == pytest.approx(-0.8) and verts[:, 1].max() == pytest.approx(effect + 0.8)
        # pre-periods shaded from the first event time minus half a period to -0.5
        (shade,) = ax.patches
        assert isinstance(shade, Rectangle)
        assert (shade.get_x(), shade.get_x() + shade.get_width()) == pytest.approx((-2.5, -0.5))
    # legend: three keys
    (legend,) = fig.legends
    assert len(legend.get_texts()) == 3
    assert legend.get_texts()[1].get_text() == "95%一致置信带"


def test_event_study_accepts_did_aggregation_table():
    # the shape of analysis.did AggteResult.to_frame(): overall row first, then level/key rows
    table = pd.DataFrame({
        "type": "dynamic",
        "level": ["overall", "event_time", "event_time", "event_time"],
        "key": pd.array([pd.NA, -1, 0, 1], dtype="Int64"),
        "att": [0.9, 0.1, 0.8, 1.0],
        "se": [0.1, 0.1, 0.1, 0.1],
        "ci_low": [0.7, -0.1, 0.6, 0.8],
        "ci_high": [1.1, 0.3, 1.0, 1.2],
        "band_low": [np.nan, -0.2, 0.5, 0.7],
        "band_high": [np.nan, 0.4, 1.1, 1.3],
    })
    fig = draw(charts.event_study_plot, table)
    (container,) = fig.axes[0].containers
    x, y = (np.asarray(v, float) for v in container.lines[0].get_data())
    np.testing.assert_allclose(x, [-1, 0, 1])  # overall row dropped
    np.testing.assert_allclose(y, [0.1, 0.8, 1.0])


def test_event_study_single_panel_without_band_or_pre_periods():
    df = pd.DataFrame(dict(event_time=[0, 1, 2], att=[1.0, 2.0, 3.0], ci_low=[0.5, 1.5, 2.5],
                           ci_high=[1.5, 2.5, 3.5], band_low=np.nan, band_high=np.nan))
    fig = draw(charts.event_study_plot, df, level=0.9)
    (ax,) = fig.axes
    assert not [c for c in ax.collections if isinstance(c, PolyCollection)]
    assert not ax.patches  # no pre-period, nothing shaded
    assert fig.legends[0].get_texts()[0].get_text() == "点估计与90%逐点置信区间"


def test_event_study_rejects_reversed_interval_and_missing_columns():
    df = event_frame()
    df.loc[3, ["ci_low", "ci_high"]] = [2.0, 1.0]
    with pytest.raises(ChartDataError, match=r"event_study_plot: row 3: ci_low=2.0 > ci_high=1.0"):
        charts.event_study_plot(df, **NOTE)
    with pytest.raises(ChartDataError, match=r"missing column\(s\) \['band_low', 'band_high'\]"):
        charts.event_study_plot(event_frame().drop(columns=["band_low", "band_high"]), **NOTE)
    with pytest.raises(ChartDataError, match="round.*3"):
        charts.event_study_plot(event_frame().assign(round=3), **NOTE)


# --------------------------------------------------------------------------- forest

FOREST = pd.DataFrame({
    "indicator": ["团青比", "非公企业建团率", "乡镇团委书记配备率", "青少年人均经费"],
    "estimate": [0.3, -0.2, 0.5, -0.05],
    "ci_low": [0.1, -0.5, 0.2, -0.1],
    "ci_high": [0.5, 0.1, 0.8, 0.2],
})


def test_forest_plot_rows_and_markers():
    fig = draw(charts.forest_plot, FOREST)
    (ax,) = fig.axes
    assert fig.get_suptitle() == "第二轮与第一轮驻点效应之差（按指标）"
    assert note_of(fig) == NOTE_TEXT
    assert ytick_texts(ax) == FOREST["indicator"].tolist()  # first row on top
    # by hand: rows 1 and 3 exclude 0 (filled), rows 2 and 4 include 0 (hollow)
    filled, hollow = plotted_lines(ax, marker="D")
    assert filled.get_label() == "区间不含0" and hollow.get_label() == "区间含0"
    np.testing.assert_allclose(filled.get_xdata(), [0.3, 0.5])
    np.testing.assert_allclose(hollow.get_xdata(), [-0.2, -0.05])
    assert hollow.get_markerfacecolor() in ("white", (1.0, 1.0, 1.0, 1.0))
    (intervals,) = [c for c in ax.collections if isinstance(c, LineCollection)]
    segs = np.array(intervals.get_segments())
    np.testing.assert_allclose(segs[:, :, 0], FOREST[["ci_low", "ci_high"]].to_numpy())
    assert ax.get_xlabel() == f"效应差（第二轮 {MINUS} 第一轮）（标准差）"


def test_forest_plot_non_numeric_estimate_names_row():
    bad = FOREST.assign(estimate=["0.3", "约0.2", "0.5", "0"])
    with pytest.raises(ChartDataError, match=r"forest_plot: column 'estimate', row 1: '约0.2' is not a number"):
        charts.forest_plot(bad, **NOTE)


# --------------------------------------------------------------------------- ranking

RANKS = pd.DataFrame({
    "county": ["喜德县", "武侯区", "利州区", "康定县", "南溪县"],
    "rank": [4, 1, 2, 5, 3],
    "rank_low": [3, 1, 1, 4, 2],
    "rank_high": [5, 2, 4, 5, 4],
    "grade": ["合格", "优秀", "良好", "不合格", "良好"],
})


def test_ranking_caterpillar_order_colours_and_legend():
    fig = draw(charts.ranking_caterpillar, RANKS)
    (ax,) = fig.axes
    assert fig.get_suptitle() == "各县（市、区）综合指数排名及其不确定性"
    assert ytick_texts(ax) == ["武侯区", "利州区", "南溪县", "喜德县", "康定县"]  # by rank
    points = {ln.get_label(): ln for ln in plotted_lines(ax) if ln.get_linestyle() == "None"}
    assert set(points) == {"优秀", "良好", "合格", "不合格"}
    for grade, line in points.items():
        assert to_hex(line.get_color()) == GRADE_COLORS[grade].lower()
    np.testing.assert_allclose(sorted(points["良好"].get_xdata()), [2, 3])
    (legend,) = fig.legends
    assert [t.get_text() for t in legend.get_texts()] == ["优秀", "良好", "合格", "不合格"]
    assert legend.get_title().get_text() == "等级"
    intervals = [c for c in ax.collections if isinstance(c, LineCollection)]
    assert sum(len(c.get_segments()) for c in intervals) == 5
    # only the light 合格 yellow intervals get a dark outline (visible in grey print)
    outlined = [to_hex(c.get_color()[0]) for c in intervals if c.get_path_effects()]
    assert outlined == [GRADE_COLORS["合格"].lower()]


def test_ranking_caterpillar_rejects_unknown_grade():
    with pytest.raises(ChartDataError, match=r"grade.*\['很好'\].*优秀"):
        charts.ranking_caterpillar(RANKS.assign(grade=["很好", "优秀", "良好", "合格", "良好"]), **NOTE)


def test_ranking_caterpillar_all_183_counties_fits_a_page():
    n = 183
    ranks = pd.DataFrame({"county": [f"县{i:03d}" for i in range(n)], "rank": np.arange(1, n + 1)})
    ranks["rank_low"] = np.maximum(1, ranks["rank"] - 10)
    ranks["rank_high"] = np.minimum(n, ranks["rank"] + 10)
    ranks["grade"] = np.where(ranks["rank"] <= 20, "优秀", "合格")
    fig = draw(charts.ranking_caterpillar, ranks)
    width_cm, height_cm = fig.get_size_inches() * 2.54
    assert width_cm == pytest.approx(17.0) and height_cm <= 24.0 + 1e-9
    assert len(fig.axes[0].get_yticklabels()) == n
    # 24 cm over 183 rows is 24 / 2.54 * 72 / 183 = 3.72 pt per row; 80 % of it (2.97 pt) is
    # below the 3 pt floor, so labels are 3 pt and markers shrink to 0.9 × 3.72 = 3.35 pt
    markers = [ln for ln in fig.axes[0].get_lines() if ln.get_linestyle() == "None"]
    assert len(markers) == 2  # 优秀 and 合格
    assert [ln.get_markersize() for ln in markers] == pytest.approx([0.9 * 24 / 2.54 * 72 / 183] * 2)
    assert fig.axes[0].get_yticklabels()[0].get_fontsize() == pytest.approx(3.0)


# --------------------------------------------------------------------------- heatmap

HEAT = pd.DataFrame({
    "prefecture": ["成都市", "成都市", "绵阳市", "绵阳市", "凉山彝族自治州"],
    "indicator": ["团青比", "非公企业建团率", "团青比", "非公企业建团率", "团青比"],
    "change": [1.2, -0.5, 0.3, -2.0, 0.04],
})


def test_change_heatmap_grid_scale_and_labels():
    fig = draw(charts.change_heatmap, HEAT)
    ax = fig.axes[0]
    (mesh,) = [c for c in ax.collections if isinstance(c, QuadMesh)]
    grid = np.ma.filled(mesh.get_array().reshape(3, 2).astype(float), np.nan)
    expected = np.array([[1.2, -0.5], [0.3, -2.0], [0.04, np.nan]])
    np.testing.assert_allclose(grid, expected)
    # diverging scale centred at 0: symmetric limits at the largest absolute change
    assert (mesh.norm.vmin, mesh.norm.vmax) == (-2.0, 2.0)
    assert [t.get_text() for t in ax.get_xticklabels()] == ["团青比", "非公企业建团率"]
    # two short names fit side by side: not slanted
    assert {t.get_rotation() for t in ax.get_xticklabels()} == {0.0}
    assert [t.get_text() for t in ax.get_yticklabels()] == ["成都市", "绵阳市", "凉山彝族自治州"]
    cell_texts = sorted(t.get_text() for t in ax.texts)
    assert cell_texts == sorted(["1.2", f"{MINUS}0.5", "0.3", f"{MINUS}2.0", "0.0"])
    assert fig.axes[1].get_ylabel() == "变化（标准差）"  # colour bar
    assert fig.get_suptitle().startswith("各市州各指标的变化")


def test_change_heatmap_slants_crowded_names():
    names = ["乡镇团委书记配备率", "非公企业建团率", "青少年人均经费", "团费收缴率", "编制内在岗率"]
    df = pd.DataFrame({"prefecture": "成都市", "indicator": names, "change": [1.0, 2.0, 3.0, 4.0, 5.0]})
    fig = draw(charts.change_heatmap, df)
    # 9 hanzi × 0.35 cm = 3.15 cm > 15 cm of plot width / 5 columns = 3 cm: slanted
    assert {t.get_rotation() for t in fig.axes[0].get_xticklabels()} == {40.0}


def test_change_heatmap_rejects_duplicates():
    with pytest.raises(ChartDataError, match=r"more than one row for \(成都市, 团青比\)"):
        charts.change_heatmap(pd.concat([HEAT, HEAT.head(1)]), **NOTE)


# --------------------------------------------------------------------------- dumbbell

DUMBBELL = pd.DataFrame({
    "prefecture": ["成都市", "成都市", "绵阳市", "绵阳市", "甘孜藏族自治州"],
    "round": [1, 2, "第一轮", "第二轮", 2],
    "change": [1.0, 3.0, 2.0, -1.0, 0.5],
})


def test_dumbbell_order_and_points():
    fig = draw(charts.dumbbell_chart, DUMBBELL, unit="百分点")
    (ax,) = fig.axes
    # sorted by round-2 change, largest on top: 成都 3.0, 甘孜 0.5, 绵阳 -1.0
    assert ytick_texts(ax) == ["成都市", "甘孜藏族自治州", "绵阳市"]
    r1, r2 = (ln for ln in plotted_lines(ax) if ln.get_label() in ("第一轮", "第二轮"))
    assert (r1.get_label(), r2.get_label()) == ("第一轮", "第二轮")
    assert to_hex(r1.get_color()) == ROUND_COLORS["第一轮"].lower()
    # y positions count from the bottom: 绵阳 0, 甘孜 1, 成都 2
    np.testing.assert_allclose(np.asarray(r1.get_xdata(), float), [2.0, np.nan, 1.0])
    np.testing.assert_allclose(np.asarray(r2.get_xdata(), float), [-1.0, 0.5, 3.0])
    (connectors,) = [c for c in ax.collections if isinstance(c, LineCollection)]
    segs = np.array(connectors.get_segments())
    np.testing.assert_allclose(segs[[0, 2], :, 0], [[-1.0, 2.0], [1.0, 3.0]])
    assert ax.get_xlabel() == "变化（百分点）"
    assert [t.get_text() for t in fig.legends[0].get_texts()] == ["第一轮", "第二轮"]


# --------------------------------------------------------------------------- compliance

COMPLIANCE = pd.DataFrame({
    "prefecture": ["成都市", "成都市", "阿坝藏族羌族自治州", "阿坝藏族羌族自治州"],
    "round": [1, 2, 1, 2],
    "share": [0.5, 0.75, 0.0, 0.25],
    "n_counties": [4, 4, 13, 13],
})


def test_compliance_bars_and_labels():
    fig = draw(charts.compliance_chart, COMPLIANCE)
    (ax,) = fig.axes
    bars = [p for p in ax.patches if isinstance(p, Rectangle)]
    assert len(bars) == 4
    widths = {(round(b.get_y() + b.get_height() / 2, 2), to_hex(b.get_facecolor())): b.get_width() for b in bars}
    # prefectures at y=1 (成都, top) and y=0 (阿坝); round 1 above round 2 by 0.19
    r1, r2 = ROUND_COLORS["第一轮"].lower(), ROUND_COLORS["第二轮"].lower()
    assert widths == {(1.19, r1): 50.0, (0.81, r2): 75.0, (0.19, r1): 0.0, (-0.19, r2): 25.0}
    assert ytick_texts(ax) == ["成都市（4县）", "阿坝藏族羌族自治州（13县）"]
    assert fig.get_suptitle() == "达标县占比\n标准：青少年人均经费 ≥ 0.5 元"
    assert [t.get_text() for t in ax.get_xticklabels()][-1] == "100%"


def test_compliance_missing_round_is_blank_not_zero():
    df = pd.concat([COMPLIANCE, pd.DataFrame([{"prefecture": "甘孜藏族自治州", "round": 2, "share": 0.4}])])
    fig = draw(charts.compliance_chart, df)
    bars = [p for p in fig.axes[0].patches if isinstance(p, Rectangle)]
    assert len(bars) == 5  # 2 + 2 + only round 2 for 甘孜
    # 甘孜 is the third prefecture: y = 0, its round-2 bar centred at -0.19
    gz = [b for b in bars if abs(b.get_y() + b.get_height() / 2) < 0.3]
    assert [(round(b.get_y() + b.get_height() / 2, 2), b.get_width()) for b in gz] == [(-0.19, 40.0)]


def test_compliance_rejects_percent_instead_of_fraction():
    with pytest.raises(ChartDataError, match=r"compliance_chart: row 0: share=50.0 is outside 0–1.*0.85"):
        charts.compliance_chart(COMPLIANCE.assign(share=[50, 75, 0, 25]), **NOTE)


# --------------------------------------------------------------------------- trajectories

def trajectory_frame() -> pd.DataFrame:
    periods = ["2012H2", "2012H1", "2013H1", "2013H2"]  # unsorted on purpose
    rows = []
    for b, start in (("第1批", "2012H1"), ("第2批", "2012H2"), ("第3批", "2013H1")):
        for p in periods:
            rows.append(dict(batch=b, period=p, value=float(int(p[:4]) - 2012 + (p[-1] == "2")), start=start))
    return pd.DataFrame(rows)


def test_trajectories_panels_lines_and_start_marks():
    fig = draw(charts.trajectories_by_batch, trajectory_frame(), ncols=2, unit="%")
    axes = fig.axes
    visible = [ax for ax in axes if ax.get_visible()]
    assert len(axes) == 4 and len(visible) == 3  # 2×2 grid, last panel hidden
    assert [ax.get_title() for ax in visible] == ["第1批", "第2批", "第3批"]
    for ax, start_x in zip(visible, (-0.5, 0.5, 1.5), strict=True):
        lines = plotted_lines(ax)
        own = [ln for ln in lines if ln.get_marker() == "o"]
        assert len(own) == 1 and len(lines) == 1 + 2 + 1  # own, 2 others, start mark
        # periods sorted 2012H1..2013H2 → x 0..3; value by hand 0, 1, 1, 2
        np.testing.assert_allclose(own[0].get_xdata(), [0, 1, 2, 3])
        np.testing.assert_allclose(own[0].get_ydata(), [0, 1, 1, 2])
        (mark,) = [ln for ln in lines if ln.get_linestyle() == "--"]
        assert mark.get_xdata()[0] == pytest.approx(start_x)
    assert fig.get_supylabel() == "指标值（%）"
    assert [t.get_text() for t in fig.legends[0].get_texts()] == ["本批次", "其他批次", "驻点开始"]
    assert note_of(fig) == NOTE_TEXT


def test_trajectories_reject_bad_period():
    df = trajectory_frame()
    df.loc[0, "period"] = "2012年上半年"
    with pytest.raises(ChartDataError, match="period '2012年上半年' is not like '2012H1'"):
        charts.trajectories_by_batch(df, **NOTE)



# --------------------------------------------------------------------------- event-time trajectories

def event_time_frame() -> pd.DataFrame:
    # batch 1 starts at 2012H1, batch 2 at 2012H2: values by hand on event time −1 … 1
    return pd.DataFrame({
        "batch": ["第1批"] * 3 + ["第2批"] * 3,
        "event_time": [-1, 0, 1, -1, 0, 1],
        "value": [10.0, 12.0, 15.0, 20.0, 20.0, 26.0],
    })


def test_event_time_overlays_batches_on_relative_half_years():
    fig = draw(charts.event_time_trajectories, event_time_frame(), unit="分")
    (ax,) = fig.axes
    data_lines = [ln for ln in plotted_lines(ax) if ln.get_label() in ("第1批", "第2批")]
    assert [ln.get_label() for ln in data_lines] == ["第1批", "第2批"]
    np.testing.assert_allclose(data_lines[0].get_xdata(), [-1, 0, 1])
    np.testing.assert_allclose(data_lines[1].get_ydata(), [20, 20, 26])
    # each batch its own marker, so the lines stay apart in grey print
    assert data_lines[0].get_marker() != data_lines[1].get_marker()
    (start,) = [ln for ln in plotted_lines(ax) if ln.get_label() not in ("第1批", "第2批")]
    assert start.get_xdata()[0] == pytest.approx(-0.5)  # between the last half-year before and the first
    assert list(ax.get_xticks()) == [-1, 0, 1]
    assert ax.get_ylabel() == "指标值（分）"
    assert [t.get_text() for t in fig.legends[0].get_texts()] == ["第1批", "第2批", "驻点开始"]
    assert note_of(fig) == NOTE_TEXT


def test_event_time_rejects_fractional_and_duplicate_times():
    df = event_time_frame()
    df["event_time"] = df["event_time"].astype(float)
    df.loc[1, "event_time"] = 0.5
    with pytest.raises(ChartDataError, match="row 1: event_time=0.5 is not a whole number"):
        charts.event_time_trajectories(df, **NOTE)
    dup = pd.concat([event_time_frame(), event_time_frame().iloc[:1]], ignore_index=True)
    with pytest.raises(ChartDataError, match="more than one row per"):
        charts.event_time_trajectories(dup, **NOTE)


# --------------------------------------------------------------------------- shared checks

@pytest.mark.parametrize(
    ("make", "frame"),
    [
        (charts.event_study_plot, event_frame()),
        (charts.forest_plot, FOREST),
        (charts.ranking_caterpillar, RANKS),
        (charts.change_heatmap, HEAT),
        (charts.dumbbell_chart, DUMBBELL),
        (charts.compliance_chart, COMPLIANCE),
        (charts.trajectories_by_batch, trajectory_frame()),
        (charts.event_time_trajectories, event_time_frame()),
    ],
)
def test_every_chart_has_note_below_everything_and_rejects_empty(make, frame):
    fig = draw(make, frame)
    renderer = fig.canvas.get_renderer()
    note = [t for t in fig.texts if t.get_gid() == "source-note"][0]
    note_top = note.get_window_extent(renderer).y1
    # nothing else (axes with their labels, legends) overlaps the note
    others = [ax for ax in fig.axes if ax.get_visible()] + list(fig.legends)
    for artist in others:
        assert artist.get_tightbbox(renderer).y0 >= note_top - 0.5, artist
    assert any("\u4e00" <= ch <= "\u9fff" for ch in fig.get_suptitle())
    with pytest.raises(ChartDataError, match="no rows"):
        make(frame.iloc[0:0], **NOTE)
