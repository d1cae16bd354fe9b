"""Programme design from the roster, periods, and the base-unit panel (hand-built data)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analysis.design import (
    DesignError,
    add_design,
    build_design,
    period_index,
    period_label,
    roster_round,
    sending_level,
    to_base_panel,
)


def test_period_index_by_hand():
    assert period_index("2008H1") == 1
    assert period_index("2008H2") == 2
    assert period_index("2012H1") == 9  # 4 years × 2 + 1
    assert period_index("2014H2") == 14
    assert period_index(["2010H1", "2013H2"]).tolist() == [5, 12]
    assert [period_label(i) for i in (1, 2, 9, 14)] == ["2008H1", "2008H2", "2012H1", "2014H2"]


@pytest.mark.parametrize("bad", ["2012", "2012H3", "2012年上半年", "H1"])
def test_period_index_rejects_other_labels(bad):
    with pytest.raises(DesignError, match="half-year label"):
        period_index(bad)


@pytest.mark.parametrize(
    "unit, level",
    [("团省委", "省级"), ("四川省团委", "省级"), ("成都市团委", "市级"), ("凉山州团委", "市级"),
     ("团市委", "市级"), ("", None), (None, None), ("县委组织部", None)],
)
def test_sending_level(unit, level):
    assert sending_level(unit) == level


@pytest.mark.parametrize(
    "value, sheet, rnd",
    [(2, "第一轮", 2), ("1", None, 1), (2.0, None, 2),  # the 轮次 value wins over the sheet
     (None, "第二轮", 2), (np.nan, "第一轮", 1), (pd.NA, "Round 2", 2),  # blank: the sheet names it
     ("第一轮", "第二轮", None),  # a value that is not a number is not read, the sheet is not asked
     (None, "Sheet1", None), (None, None, None), (None, np.nan, None)],
)
def test_roster_round(value, sheet, rnd):
    assert roster_round(value, sheet) == rnd


def _roster() -> pd.DataFrame:
    # 锦江区 510104, 巴州区 511902 (恩阳区 511903 split off in 2013), 喜德县 513432
    rows = [
        # round, batch, county_code, sending_unit, start, end, sheet
        (None, 2, "510104", "成都市团委", "2009-01-05", "2009-06-30", "第一轮"),
        (None, 4, "511902", "团省委", "2010-01-01", "2010-06-20", "第一轮"),
        (None, 1, "513432", "凉山州团委", "2008-07-01", "2008-12-31", "第一轮"),
        (2, 1, "510104", "团省委", "2012-02-01", "2012-07-31", "第二轮"),
        (2, 3, "511902", "巴中市团委", "2013-02-01", "2013-07-31", "第二轮"),
        (2, 3, "511903", "团省委", "2013-02-15", "2013-07-31", "第二轮"),
        (2, 4, "513432", "凉山州团委", "2013-08-01", "2014-01-31", "第二轮"),
    ]
    df = pd.DataFrame(rows, columns=["round", "batch", "county_code", "sending_unit", "start", "end",
                                     "source_sheet"])
    df["source_file"] = "驻点干部名册.xlsx"
    df["source_row"] = np.arange(4, 4 + len(df))
    return df


def test_build_design_by_hand():
    d = build_design(_roster()).set_index(["round", "base_code"])
    assert len(d) == 6  # 3 base counties × 2 rounds; 恩阳区 folds into 巴州区
    # round 1 batch 2 starts 2009H1 = index 3; round 2 batch 3 starts 2013H1 = index 11
    assert d.loc[(1, "510104"), "gname"] == 3
    assert d.loc[(1, "511902"), "gname"] == 5
    assert d.loc[(1, "513432"), "gname"] == 2
    assert d.loc[(2, "510104"), "gname"] == 9
    assert d.loc[(2, "511902"), "gname"] == 11
    assert d.loc[(2, "513432"), "gname"] == 12
    # the parent's official (巴中市团委) speaks for the folded county; both parts counted
    assert d.loc[(2, "511902"), "sending_level"] == "市级"
    assert d.loc[(2, "511902"), "n_units"] == 2
    assert d.loc[(2, "511902"), "county_codes"] == "511902;511903"
    assert d.loc[(2, "510104"), "provincial"]


def test_build_design_lists_every_problem_with_its_place():
    r = _roster()
    r.loc[0, "start"] = "2008-12-01"  # round 1 batch 2 is 2009H1
    r.loc[3, "batch"] = 7
    r.loc[5, "batch"] = 4  # 恩阳区 in another batch than 巴州区
    r = pd.concat([r, r.iloc[[6]]], ignore_index=True)  # 喜德县 twice in round 2
    with pytest.raises(DesignError) as err:
        build_design(r)
    msg = str(err.value)
    # 恩阳区 moved to batch 4 also has its Feb–Jul dates outside batch 4: 2 more problems
    assert "6 problem(s)" in msg
    assert "row 9: start 2013-02-15 is outside round 2 batch 4" in msg
    assert "驻点干部名册.xlsx, sheet 第一轮, row 4: start 2008-12-01 is outside round 1 batch 2" in msg
    assert "row 7: batch 7 is not 1–4" in msg
    assert "county 513432 appears 2 times" in msg
    assert "base county 511902 has parts in batches [3, 4]" in msg


def test_build_design_warn_drops_bad_rows():
    r = _roster()
    r.loc[2, "county_code"] = None
    with pytest.warns(UserWarning, match="has no county code"):
        d = build_design(r, errors="warn")
    assert set(d.loc[d["round"] == 1, "base_code"]) == {"510104", "511902"}


def test_build_design_tolerance_days():
    r = _roster()
    r.loc[0, "end"] = "2009-07-10"
    with pytest.raises(DesignError, match="end 2009-07-10 is outside"):
        build_design(r)
    assert len(build_design(r, tolerance_days=15)) == 6


def test_add_design_event_time_and_attributes():
    design = build_design(_roster())
    panel = pd.DataFrame({"county_code": ["510104"] * 3 + ["513432"] * 3,
                          "period": ["2011H2", "2012H1", "2012H2"] * 2, "y": np.arange(6.0)})
    out = add_design(panel, design, 2)
    # 510104: cohort 2012H1 = 9; 513432: cohort 2013H2 = 12
    assert out["t"].tolist() == [8, 9, 10] * 2
    assert out["event_time"].tolist() == [-1, 0, 1, -4, -3, -2]
    assert out["group_three"].tolist() == ["其他"] * 3 + ["三州"] * 3
    assert out["prefecture_name"].iloc[3] == "凉山彝族自治州"
    # re-labelling for round 1 replaces the round-2 columns instead of adding suffixes
    again = add_design(out, design, 1)
    assert list(again.columns) == list(out.columns)
    assert again["gname"].tolist() == [3] * 3 + [2] * 3  # round 1: batch 2 → 2009H1, batch 1 → 2008H2
    with pytest.raises(DesignError, match="no round-2 batch"):
        add_design(panel.assign(county_code="510105"), design, 2)
    with pytest.warns(UserWarning, match="left out"):
        kept = add_design(pd.concat([panel, panel.head(1).assign(county_code="510105")]), design, 2,
                          missing="drop")
    assert len(kept) == 6


def test_to_base_panel_sums_counts_and_recomputes_rates():
    # 巴州区 511902 and 恩阳区 511903 in 2013H1; 锦江区 alone
    panel = pd.DataFrame({
        "county_code": ["511902", "511903", "510104"],
        "period": ["2013H1"] * 3,
        "league_members": [100.0, 90.0, 50.0],
        "youth_population": [1000.0, 300.0, 500.0],
        "posts_authorized": [5.0, 3.0, 4.0],
        "posts_filled": [4.0, 3.0, 2.0],
        "dues_rate": [80.0, 90.0, 70.0],
        "liaison_system": [1.0, 0.0, 0.0],
        "league_youth_ratio": [10.0, 30.0, 10.0],
        "posts_fill_rate": [80.0, 100.0, 50.0],
    })
    out = to_base_panel(panel).set_index("base_code")
    b = out.loc["511902"]
    assert b["n_units"] == 2
    assert b["league_members"] == 190
    # 100·190/1300, not the mean of 10 % and 30 %
    assert b["league_youth_ratio"] == pytest.approx(100 * 190 / 1300)
    assert b["posts_fill_rate"] == pytest.approx(100 * 7 / 8)
    # dues rate weighted by members: (80·100 + 90·90) / 190
    assert b["dues_rate"] == pytest.approx(16100 / 190)
    assert b["liaison_system"] == 1.0  # the parent unit's answer
    assert out.loc["510104", "posts_fill_rate"] == pytest.approx(50.0)


def test_to_base_panel_missing_part_gives_missing_sum():
    panel = pd.DataFrame({"county_code": ["511602", "511603"], "period": ["2014H1"] * 2,
                          "league_members": [100.0, np.nan], "youth_population": [1000.0, 400.0]})
    out = to_base_panel(panel)
    assert len(out) == 1
    assert np.isnan(out["league_members"].iloc[0])
    assert out["youth_population"].iloc[0] == 1400
