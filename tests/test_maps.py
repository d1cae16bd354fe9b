"""Tests of the county choropleth: boundary match, colours of planted values, fonts."""

from __future__ import annotations

import warnings

import matplotlib as mpl
import numpy as np
import pandas as pd
import pytest
from matplotlib.colors import to_rgba

from analysis.maps import (
    MAP_NOTICE,
    MISSING_COLOR,
    MapDataError,
    choropleth,
    load_boundaries,
    match_boundaries,
)
from analysis.reference import load_units
from analysis.style import DIVERGING_CMAP


def face(fig, code: str) -> tuple[float, ...]:
    colls = [c for c in fig.axes[0].collections if c.get_gid() == f"county-{code}"]
    assert len(colls) == 1, f"no single polygon collection for {code}"
    return tuple(np.round(colls[0].get_facecolor()[0], 6))


def rgba(color) -> tuple[float, ...]:
    return tuple(np.round(to_rgba(color), 6))


def test_all_183_current_units_have_a_polygon():
    m = match_boundaries("current")
    assert (m.n_reference, m.n_boundary, m.n_matched) == (183, 183, 183)
    assert m.to_frame().empty, m.to_frame()
    b = load_boundaries()
    names = b.drop_duplicates("county_code").set_index("county_code")["name"]
    assert names["513402"] == "会理市" and names["511903"] == "恩阳区" and names["511603"] == "前锋区"
    # the two 市中区 (内江, 乐山) are distinct units
    assert (names == "市中区").sum() == 2


def test_2008_vintage_mismatches_are_the_known_recodes():
    m = match_boundaries(2008).to_frame().set_index("county_code")
    # 会理县 513425 became 会理市 513402; 恩阳区 did not exist in 2008; 元坝区 renamed 昭化区
    assert m.loc["513425", "issue"] == "missing_polygon"
    assert m.loc["513402", "issue"] == "extra_polygon"
    assert m.loc["511903", "issue"] == "extra_polygon"
    assert m.loc["510811", "issue"] == "name_differs"


def test_planted_values_colour_the_right_polygons():
    units = load_units("current")
    values = pd.DataFrame({"county_code": units["code"], "value": 0.0})
    values.loc[values["county_code"] == "513402", "value"] = 5.0    # 会理市: top of the scale
    values.loc[values["county_code"] == "511703", "value"] = -5.0   # 达川区: bottom
    values = values[values["county_code"] != "510104"]              # 锦江区: no value
    fig = choropleth(values, "测试", limit=5)
    cmap = mpl.colormaps[DIVERGING_CMAP]
    # limit 5 → -5..5 maps to 0..1; 0 is the neutral middle of the diverging map
    assert face(fig, "513402") == rgba(cmap(1.0))
    assert face(fig, "511703") == rgba(cmap(0.0))
    assert face(fig, "513432") == rgba(cmap(0.5))
    assert face(fig, "510104") == rgba(MISSING_COLOR)
    assert len([c for c in fig.axes[0].collections if str(c.get_gid()).startswith("county-")]) == 183
    legend = fig.axes[0].get_legend()
    assert [t.get_text() for t in legend.get_texts()] == ["无数据（1个）"]


def test_base_codes_fold_split_units_onto_their_parent():
    # 2008-base results: 巴州区 511902 covers 恩阳区 511903; 达县 511721 is today's 达川区 511703
    values = pd.DataFrame({"county_code": ["511902", "511721", "513425"], "value": [-2.0, 4.0, 1.0]})
    fig = choropleth(values, "测试")
    cmap = mpl.colormaps[DIVERGING_CMAP]
    # default limit = max |value| = 4 → value v sits at (v + 4) / 8
    assert face(fig, "511902") == face(fig, "511903") == rgba(cmap((-2 + 4) / 8))
    assert face(fig, "511703") == rgba(cmap(1.0))
    assert face(fig, "513402") == rgba(cmap((1 + 4) / 8))
    assert face(fig, "510104") == rgba(MISSING_COLOR)


def test_labels_notice_and_no_missing_glyphs(tmp_path):
    values = pd.DataFrame({"county_code": ["513432"], "value": [3.0]})
    fig = choropleth(values, "组织活力指数变化（第二轮−第一轮）", unit="分")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fig.canvas.draw()
        fig.savefig(tmp_path / "m.svg")
    glyphs = [str(w.message) for w in caught if "missing from" in str(w.message) or "Glyph" in str(w.message)]
    assert glyphs == []
    texts = [t.get_text() for t in fig.findobj(mpl.text.Text)]
    assert "组织活力指数变化（第二轮−第一轮）" in texts
    assert "变化（分）" in texts
    assert any("审图号" in t for t in texts) and "审图号" in MAP_NOTICE
    assert any(t.startswith("数据来源：") for t in texts)


def test_bad_values_are_reported():
    with pytest.raises(MapDataError, match="match no polygon"):
        choropleth(pd.DataFrame({"county_code": ["990101"], "value": [1.0]}), "x")
    with pytest.raises(MapDataError, match="more than once"):
        choropleth(pd.DataFrame({"county_code": ["513432", "513432"], "value": [1.0, 2.0]}), "x")
    with pytest.raises(MapDataError, match="columns"):
        choropleth(pd.DataFrame({"code": ["513432"]}), "x")
