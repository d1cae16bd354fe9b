"""Tests for analysis.summaries on tiny hand-built frames; expected values worked out by hand."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analysis import summaries as s
from analysis.reference import load_units

UNITS_2008 = load_units(2008)["code"].astype(str).tolist()
UNITS_2013 = load_units(2013)["code"].astype(str).tolist()


def test_file_sender_and_period_read_the_path():
    paths = pd.Series([
        "2013年上半年/成都市团委_基层团建统计表_2013年1-6月.xlsx",
        "2013年上半年/雅安市团委/名山区_基层团建情况表_2013年1-6月.xlsx",
        "2008年下半年/凉山州团委_共青团基层组织建设统计_2008年7-12月.xls",
        "驻点干部名册.xlsx",
    ])
    assert s.file_sender(paths).tolist()[:3] == ["成都市", "雅安市", "凉山州"]
    assert pd.isna(s.file_sender(paths).iloc[3])
    assert s.file_period(paths).tolist()[:3] == ["2013H1", "2013H1", "2008H2"]
    assert pd.isna(s.file_period(paths).iloc[3])


def _files() -> pd.DataFrame:
    return pd.DataFrame({
        "source_file": ["2012年下半年/成都市团委_a.xlsx", "2012年上半年/自贡市团委_b.csv",
                        "2012年上半年/成都市团委_c.xlsx", "驻点干部名册.xlsx"],
        "layouts": ["summary", "flat", "summary", "roster"],
        "records_in": [10, 5, 7, 0], "clean": [9, 5, 7, 0], "quarantined": [1, 0, 0, 0],
        "hidden_sheets": ["底稿|Sheet2", "", None, ""],
        "unknown_columns": ["", "", "", ""],
    })


def test_files_received_counts_by_period_in_calendar_order():
    out = s.files_received(_files(), by=["period"])
    # 2012H1 holds b and c (5 + 7 records), 2012H2 holds a; the roster has no period folder
    assert out["period"].tolist()[:2] == ["2012H1", "2012H2"]
    assert pd.isna(out["period"].iloc[2])
    assert out["n_files"].tolist() == [2, 1, 1]
    assert out["records_in"].tolist() == [12, 10, 0]
    assert out["quarantined"].tolist() == [0, 1, 0]


def test_files_received_by_type_and_layout():
    out = s.files_received(_files(), by=["file_type", "layout"]).set_index(["file_type", "layout"])
    assert out.loc[("xlsx", "summary"), "n_files"] == 2
    assert out.loc[("csv", "flat"), "n_files"] == 1
    assert out["n_files"].sum() == 4


def test_files_received_rejects_unknown_grouping():
    with pytest.raises(s.SummaryInputError, match="cannot group by"):
        s.files_received(_files(), by=["colour"])


def test_sheet_list_explodes_the_joined_names():
    out = s.sheet_list(_files())
    assert out["item"].tolist() == ["Sheet2", "底稿"]  # sorted within the one file
    assert set(out["prefecture"]) == {"成都市"}
    assert s.sheet_list(_files(), "unknown_columns").empty


def _quality() -> pd.DataFrame:
    # 2012H1: three counties reported, one of them with 2 of 24 cells missing
    return pd.DataFrame({
        "county_code": [510104, 510105, 510106],
        "period": ["2012H1"] * 3,
        "expected": [24, 24, 24], "reported": [24, 22, 24], "missing": [0, 2, 0],
    })


def test_coverage_counts_against_the_code_book():
    out = s.coverage(_quality()).iloc[0]
    assert len(UNITS_2008) == 181
    assert out["expected"] == 181          # every 2012 unit is expected
    assert out["reported"] == 3
    assert out["complete"] == 2
    assert out["cells_expected"] == 72 and out["cells_reported"] == 70
    assert out["cell_completeness"] == pytest.approx(100 * 70 / 72)


def test_coverage_uses_183_units_from_2013_and_groups_by_prefecture():
    q = pd.DataFrame({"county_code": [int(c) for c in UNITS_2013], "period": "2013H2",
                      "expected": 10, "reported": 10, "missing": 0})
    out = s.coverage(q)
    assert out[["expected", "reported", "complete"]].iloc[0].tolist() == [183, 183, 183]
    by_pref = s.coverage(q, by=["prefecture"]).set_index("prefecture")
    assert by_pref.loc["成都市", "expected"] == (load_units(2013)["prefecture_name"] == "成都市").sum()
    assert by_pref["expected"].sum() == 183


def test_coverage_gaps_lists_missing_and_incomplete_counties():
    gaps = s.coverage_gaps(_quality())
    assert len(gaps) == 181 - 3 + 1
    row = gaps[gaps["county_code"] == "510105"].iloc[0]
    assert (row["status"], row["missing"], row["county"], row["prefecture"]) == ("缺项", 2, "青羊区", "成都市")
    assert (gaps["status"] == "未报送").sum() == 178


def _quarantine() -> pd.DataFrame:
    return pd.DataFrame({
        "file": ["2009年上半年/成都市团委_x.xlsx", "2009年上半年/成都市团委_x.xlsx",
                 "2009年下半年/宜宾市团委_y.xlsx", "2009年下半年/宜宾市团委_y.xlsx",
                 "2009年下半年/宜宾市团委_z.xlsx"],
        "rule": ["excel_error", "county_unknown", "county_unknown", "county_unknown", "excel_error"],
        "indicator": ["dues_rate", "league_orgs", "league_orgs", "volunteers", "dues_rate"],
    })


def test_quarantine_summary_by_rule():
    out = s.quarantine_summary(_quarantine())
    assert out["rule"].tolist() == ["county_unknown", "excel_error"]
    assert out["n_cells"].tolist() == [3, 2]
    assert out["n_files"].tolist() == [2, 2]
    assert out["rule_zh"].iloc[0] == "县（市、区）名称无法识别"


def test_quarantine_summary_by_rule_and_prefecture():
    out = s.quarantine_summary(_quarantine(), by=["rule", "prefecture"])
    got = {(r, p): n for r, p, n in out[["rule", "prefecture", "n_cells"]].itertuples(index=False)}
    assert got == {("county_unknown", "宜宾市"): 2, ("county_unknown", "成都市"): 1,
                   ("excel_error", "成都市"): 1, ("excel_error", "宜宾市"): 1}


def test_audit_summary_counts_and_most_frequent_example():
    audit = pd.DataFrame({
        "stage": ["value"] * 5, "rule": ["yes_no", "yes_no", "yes_no", "placeholder", "placeholder"],
        "action": ["fix", "fix", "fix", "missing", "missing"],
        "before": ["√", "有", "有", "—", "/"],
    })
    out = s.audit_summary(audit)
    assert out["rule"].tolist() == ["yes_no", "placeholder"]
    assert out["n"].tolist() == [3, 2]
    assert out["example"].tolist() == ["有", "/"]  # tie between — and /: the smaller text


def _roster() -> pd.DataFrame:
    return pd.DataFrame({
        "round": [None, None, None, 2],
        "batch": [1, 1, 2, 1],
        "assessment": ["优秀", " 良好", "", "合格"],
        "source_sheet": ["第一轮", "第二轮", "第二轮", "名册"],
        "source_row": [4, 4, 5, 9],
        "task_1": [None, "完成", "基本完成", "未完成"],
        "task_2": [None, "完成", None, "完成"],
    })


def test_prepare_roster_takes_round_from_sheet_and_names_grade():
    out = s.prepare_roster(_roster())
    assert out["round"].tolist() == [1, 2, 2, 2]
    assert out["round_zh"].tolist() == ["第一轮", "第二轮", "第二轮", "第二轮"]
    assert out["grade"].tolist()[:2] == ["优秀", "良好"]
    assert pd.isna(out["grade"].iloc[2])


def test_prepare_roster_names_the_row_without_a_round():
    bad = _roster().assign(source_sheet="Sheet1", round=None)
    with pytest.raises(s.SummaryInputError, match="sheet 'Sheet1', row 4"):
        s.prepare_roster(bad)


def test_prepare_roster_reads_rounds_as_build_design_does():
    # a 轮次 value that is not a number is an error (as in build_design), not a cue to ask the sheet
    bad = _roster().astype({"round": object})
    bad.loc[0, "round"] = "第一"
    with pytest.raises(s.SummaryInputError, match="names no round"):
        s.prepare_roster(bad)


def test_task_ratings_shares_over_rated_stints():
    r = s.prepare_roster(_roster())
    out = s.task_ratings(r, tasks={"task_1": "甲", "task_2": "乙"}).set_index(["round", "task", "rating"])
    # round 2, task_1: 完成, 基本完成, 未完成 once each → 1/3 each
    assert out.loc[(2, "task_1", "完成"), "share"] == pytest.approx(100 / 3)
    # round 2, task_2: two 完成, one blank (not rated) → 100 % 完成, 0 % others
    assert out.loc[(2, "task_2", "完成"), ["n", "share"]].tolist() == [2, 100.0]
    assert out.loc[(2, "task_2", "未完成"), "n"] == 0
    # round 1 has no rating at all → shares undefined
    assert np.isnan(out.loc[(1, "task_1", "完成"), "share"])
    assert out.loc[(2, "task_1", "完成"), "task_zh"] == "甲"


def test_task_ratings_rejects_unknown_rating():
    r = s.prepare_roster(_roster()).assign(task_1="做了")
    with pytest.raises(s.SummaryInputError, match="做了"):
        s.task_ratings(r, tasks={"task_1": "甲"})


def _panel() -> pd.DataFrame:
    return pd.DataFrame({
        "base_code": ["A", "B", "C", "A", "B", "C"],
        "period": ["2010H2"] * 3 + ["2014H1"] * 3,
        "prefecture": ["甲市", "甲市", "乙市"] * 2,
        "league_youth_ratio": [10.0, 20.0, np.nan, 12.0, 24.0, 30.0],
        "std_liaison": [1.0, 0.0, 1.0, 1.0, 1.0, np.nan],
    })


def test_period_means_skip_missing_counties():
    out = s.period_means(_panel(), ["league_youth_ratio"])
    assert out["period"].tolist() == ["2010H2", "2014H1"]
    assert out["mean"].tolist() == [15.0, 22.0]
    assert out["n_counties"].tolist() == [2, 3]
    assert out["name_zh"].iloc[0] == "团青比" and out["unit"].iloc[0] == "%"


def test_batch_trajectories_average_each_batch():
    design = pd.DataFrame({"round": [2, 2, 2, 1], "base_code": ["A", "B", "C", "A"], "batch": [1, 1, 3, 4]})
    out = s.batch_trajectories(_panel(), design, "league_youth_ratio", 2)
    b1 = out[out["batch"] == "第二轮第1批"]
    assert b1["value"].tolist() == [15.0, 18.0]
    assert b1["start"].unique().tolist() == ["2012H1"]
    b3 = out[out["batch"] == "第二轮第3批"]
    assert b3["period"].tolist() == ["2014H1"] and b3["start"].iloc[0] == "2013H1"
    with pytest.raises(s.SummaryInputError, match="choose 1 or 2"):
        s.batch_trajectories(_panel(), design, "league_youth_ratio", 3)


def test_standard_shares_by_prefecture_and_round():
    out = s.standard_shares(_panel(), ["std_liaison"])
    got = {(p, r): (n, m) for p, r, n, m in out[["prefecture", "round", "n_counties", "n_meeting"]].itertuples(index=False)}
    assert got == {("甲市", 1): (2, 1), ("甲市", 2): (2, 2), ("乙市", 1): (1, 1)}
    assert out["share"].tolist() == [0.5, 1.0, 1.0]
    assert out["prefecture"].tolist() == ["甲市", "甲市", "乙市"]  # order of first appearance
    province = s.standard_shares(_panel(), ["std_liaison"], by=())
    assert province["share"].tolist() == [pytest.approx(2 / 3), 1.0]


def test_standard_shares_check_values_and_periods():
    with pytest.raises(s.SummaryInputError, match="0/1"):
        s.standard_shares(_panel().assign(std_liaison=0.5), ["std_liaison"])
    with pytest.raises(s.SummaryInputError, match="no row for 2099H1"):
        s.standard_shares(_panel(), ["std_liaison"], periods={1: "2099H1"})


def test_add_prefecture_maps_base_and_2013_codes():
    out = s.add_prefecture(pd.DataFrame({"base_code": ["510104", "511903", "999999"]}))
    assert out["prefecture"].tolist()[:2] == ["成都市", "巴中市"]
    assert out["county"].iloc[1] == "恩阳区"
    assert pd.isna(out["prefecture"].iloc[2])


def test_missing_column_error_names_the_function():
    with pytest.raises(s.SummaryInputError, match="coverage: the frame lacks"):
        s.coverage(pd.DataFrame({"period": ["2012H1"]}))


def test_window_change_is_balanced_over_counties():
    panel = pd.DataFrame({
        "base_code": ["A", "B", "C", "A", "B", "C"],
        "prefecture": ["甲市", "甲市", "乙市"] * 2,
        "period": ["2011H2"] * 3 + ["2014H1"] * 3,
        "league_youth_ratio": [10.0, 20.0, 5.0, 13.0, 21.0, np.nan],
    })
    out = s.window_change(panel, ["league_youth_ratio"], windows={2: ("2011H2", "2014H1")})
    row = out.iloc[0]
    # C has no end value, so it leaves the baseline too: baseline (10+20)/2, end (13+21)/2
    assert (row["n_counties"], row["baseline"], row["end"], row["change"]) == (2, 15.0, 17.0, 2.0)
    by = s.window_change(panel, ["league_youth_ratio"], windows={2: ("2011H2", "2014H1")}, by=["prefecture"])
    assert by["prefecture"].tolist() == ["甲市"]
    with pytest.raises(s.SummaryInputError, match="lacks 2010H2"):
        s.window_change(panel, ["league_youth_ratio"], windows={1: ("2011H2", "2010H2")})


def test_round_windows_are_the_programme_calendar():
    # round 1 ran Sept 2008 – end 2010, round 2 Feb 2012 – Jan 2014 (DOMAIN.md): the window runs
    # from the half-year before the first batch to the half-year holding the last month
    assert s.ROUND_WINDOWS == {1: ("2008H1", "2010H2"), 2: ("2011H2", "2014H1")}
    assert s.ROUND_END_PERIODS == {1: "2010H2", 2: "2014H1"}
    assert s.ROUND_LABELS == {1: "第一轮", 2: "第二轮"}


def test_prefecture_names_are_common_names_on_both_paths():
    codes = pd.DataFrame({"base_code": ["513431", "513221"]})  # 昭觉县 (凉山), 汶川县 (阿坝)
    assert s.add_prefecture(codes)["prefecture"].tolist() == ["凉山州", "阿坝州"]
    files = pd.Series(["2013年上半年/凉山彝族自治州团委_x.xlsx", "2013年上半年/凉山州团委_y.xlsx"])
    assert s.file_sender(files).tolist() == ["凉山州", "凉山州"]


def test_each_half_year_expects_the_codes_of_its_code_book():
    # every unit of the 2012 code book reports in 2012H2 and again, under the same codes, in
    # 2013H1.  In 2013 恩阳区 and 前锋区 are new and 达县 became 达川区 with a new code, so
    # 2013H1 misses exactly those three codes and holds one code the 2013 book lacks (511721).
    units_2012 = load_units(2012)["code"].astype(str).tolist()
    q = pd.DataFrame({"county_code": [int(c) for c in units_2012] * 2,
                      "period": ["2012H2"] * 181 + ["2013H1"] * 181,
                      "expected": 10, "reported": 10, "missing": 0})
    gaps = s.coverage_gaps(q)
    assert sorted(gaps["county_code"]) == ["511603", "511703", "511903"]
    assert set(gaps["period"]) == {"2013H1"} and set(gaps["status"]) == {"未报送"}
    assert set(gaps["county"]) == {"恩阳区", "前锋区", "达川区"}
    cov = s.coverage(q).set_index("period")
    assert cov.loc["2012H2", ["expected", "reported", "unexpected"]].tolist() == [181, 181, 0]
    assert cov.loc["2013H1", ["expected", "reported", "unexpected"]].tolist() == [183, 180, 1]


def test_files_received_without_grouping_is_the_total():
    out = s.files_received(_files(), by=())
    assert out[["n_files", "records_in", "clean", "quarantined"]].iloc[0].tolist() == [4, 22, 21, 1]


def test_add_prefecture_knows_codes_of_intermediate_years():
    # 南溪县 became 南溪区 in 2011 with code 511503; both codes map to 宜宾市
    out = s.add_prefecture(pd.DataFrame({"code": ["511503", "511522"]}), "code")
    assert out["prefecture"].tolist() == ["宜宾市", "宜宾市"]
    assert out["county"].tolist() == ["南溪区", "南溪县"]


def test_coverage_by_prefecture_adds_up_to_the_province():
    q = pd.DataFrame({"county_code": [int(c) for c in load_units(2011)["code"]], "period": "2011H2",
                      "expected": 10, "reported": 10, "missing": 0})
    by_pref = s.coverage(q, by=["prefecture"])
    assert by_pref["expected"].sum() == 181 and by_pref["reported"].sum() == 181
    assert by_pref["prefecture"].notna().all() and len(by_pref) == 21


def test_every_rule_of_the_data_contract_has_a_chinese_reading():
    import re

    from analysis.config import PROJECT_ROOT

    contract = (PROJECT_ROOT / "docs" / "data-contract.md").read_text(encoding="utf-8")
    table_rules = re.findall(r"^\| `([a-z_]+)` \|", contract, flags=re.M)
    # the value_unreadable row lists the parser's own rule names: `excel_error` (`#DIV/0!` …), …
    unreadable = next(line for line in contract.splitlines() if line.startswith("| `value_unreadable`"))
    parser_rules = re.findall(r"`([a-z_]+)`", unreadable.split("|")[4].split(":", 1)[-1])
    rules = set(table_rules) | set(parser_rules)
    assert {"county_resolved", "period_contradiction", "duplicate_merged"} <= rules
    assert sorted(rules - set(s.RULE_LABELS)) == []


def test_before_after_start_means_each_side_of_the_start():
    traj = pd.DataFrame({
        "batch": ["第二轮第1批"] * 4 + ["第二轮第2批"] * 2,
        "period": ["2011H2", "2012H1", "2012H2", "2013H1", "2012H2", "2013H1"],
        "value": [10.0, 14.0, 20.0, 30.0, 5.0, 7.0],
        "start": ["2012H1"] * 4 + ["2012H2"] * 2,
    })
    out = s.before_after_start(traj)
    # batch 1: before = 2011H2 only (10); from 2012H1 on: (14 + 20 + 30) / 3 = 21.33…
    # batch 2: starts at its first half-year, so nothing before: NaN and no change
    assert out.index.tolist() == ["第二轮第1批", "第二轮第2批"]
    assert out.loc["第二轮第1批"].tolist() == [10.0, pytest.approx(64 / 3), pytest.approx(34 / 3)]
    b2 = out.loc["第二轮第2批"]
    assert pd.isna(b2["before"]) and b2["after"] == 6.0 and pd.isna(b2["change"])
    # the start is compared as a half-year: another column can hold it
    moved = s.before_after_start(traj.assign(later="2013H1"), start="later")
    assert moved.loc["第二轮第1批"].tolist() == [pytest.approx(44 / 3), 30.0, pytest.approx(46 / 3)]
    assert list(out.rename(columns=s.BEFORE_AFTER_LABELS_ZH).columns) == ["驻点前", "驻点后", "差"]
    with pytest.raises(s.SummaryInputError, match="no start half-year"):
        s.before_after_start(traj.assign(start=None))


def test_drawable_starts_blanks_a_start_without_data():
    # data up to 2013H1: batch 3 starts 2013H1 (marked), batch 4 starts 2013H2 (after the data: blank)
    traj = pd.DataFrame({"batch": ["第二轮第3批", "第二轮第3批", "第二轮第4批", "第二轮第4批"],
                         "period": ["2012H2", "2013H1", "2012H2", "2013H1"], "value": [1.0, 2.0, 3.0, 4.0],
                         "start": ["2013H1", "2013H1", "2013H2", "2013H2"]})
    out = s.drawable_starts(traj)
    assert out["start"].tolist()[:2] == ["2013H1", "2013H1"] and out["start"].iloc[2:].isna().all()
    assert out["batch_start"].tolist() == traj["start"].tolist()
    # batch 4 is drawn without a start mark instead of refused
    from analysis.charts import trajectories_by_batch

    trajectories_by_batch(out, source="测试", period=("2012H2", "2013H1"), outcome="团青比", unit="%")
    assert s.before_after_start(out, start="batch_start")["after"].isna().tolist() == [False, True]


# ----------------------------------------------------------------------------- cell census

def _sheets_table():
    from analysis.ingest.result import SHEET_COLUMNS

    rows = [
        # a summary sheet: 10 cells = title 1 + header 3 + label 2 + data 4; nothing unplaced
        {"source_file": "a.xlsx", "sheet": "汇总", "status": "ok", "layouts": "summary",
         "cells_nonempty": 10, "cells_structure": 6, "cells_data": 4, "cells_unplaced": 0,
         "cells_hidden": 0, "role_title": 1, "role_header": 3, "role_label": 2, "role_data": 4},
        # a sheet whose layout was not recognised: 3 unplaced cells
        {"source_file": "a.xlsx", "sheet": "附表", "status": "ok", "layouts": "unknown",
         "cells_nonempty": 3, "cells_structure": 0, "cells_data": 0, "cells_unplaced": 3,
         "cells_hidden": 0, "role_unplaced": 3},
        # a hidden draft: counted apart, not read
        {"source_file": "a.xlsx", "sheet": "底稿", "status": "hidden", "layouts": "",
         "cells_nonempty": 0, "cells_hidden": 7},
    ]
    return pd.DataFrame(rows, columns=SHEET_COLUMNS).fillna(0)


def test_cell_census_by_role_and_its_sentence():
    sheets = _sheets_table()
    t = s.cell_census(sheets)
    assert list(t.index[:3]) == ["title", "meta", "header"]
    assert t.loc["data", "单元格数"] == 4 and t.loc["unplaced", "单元格数"] == 3
    assert t.loc["header", "占比"] == pytest.approx(100 * 3 / 13, abs=0.05)
    assert t["单元格数"].sum() == 13
    assert s.census_sentence(sheets) == (
        "读入 2 张工作表的 13 个非空单元格 = 结构 6 + 数据 4 + 未能定位 3，未能定位的单元格见下表"
        "（数字已隔离，文字列入修正记录）；另有隐藏工作表 7 个非空单元格未读入。")


def test_unplaced_cells_lists_numbers_and_texts_with_their_place():
    quarantine = pd.DataFrame({"file": ["a.xlsx", "a.xlsx"], "sheet": ["附表", "汇总"],
                               "cell": ["B2", "C9"], "raw_value": ["12", "3"],
                               "rule": ["cell_unplaced", "above_max"]})
    audit = pd.DataFrame({"source_file": ["a.xlsx"], "source_sheet": ["附表"],
                          "source_cell": ["A1"], "before": ["甲"], "rule": ["text_unplaced"]})
    got = s.unplaced_cells(quarantine, audit)
    assert got.values.tolist() == [["a.xlsx", "附表", "A1", "甲", "文字"],
                                   ["a.xlsx", "附表", "B2", "12", "数字"]]
