"""Per-round DiD evaluation: a hand-worked panel, options, and recovery of the demo's planted effects."""

from __future__ import annotations

import math
import warnings

import numpy as np
import openpyxl
import pandas as pd
import pytest

from analysis.catalog import load_catalog
from analysis.design import build_design, period_index, to_base_panel
from analysis.evaluate import (
    FAMILY,
    EvaluationError,
    composite_indices,
    dropped_counties,
    estimate_round,
    evaluate,
    family,
    index_outcomes,
    round_data,
    run_evaluation,
    write_evaluation,
)


def _tiny() -> pd.DataFrame:
    # units A, B first treated in period 2; C, D in period 3 (everyone treated: no never-treated)
    y = {"A": [1, 4, 6], "B": [3, 5, 9], "C": [2, 3, 7], "D": [0, 2, 2]}
    g = {"A": 2, "B": 2, "C": 3, "D": 3}
    rows = [(u, t + 1, g[u], v, "p1" if u in "AC" else "p2") for u, ys in y.items() for t, v in enumerate(ys)]
    return pd.DataFrame(rows, columns=["base_code", "t", "gname", "y", "prefecture_code"])


def test_estimate_round_by_hand():
    out = estimate_round(_tiny(), "y", round_=1, domain="vitality", biters=99, seed=1, twfe=False)
    cells = out["attgt"].set_index(["group", "time"])
    # ATT(2,2): cohort 2 changes 1→2 are 3 and 2 (mean 2.5); not-yet-treated C, D change 1 and 2
    # (mean 1.5): 2.5 − 1.5 = 1.0
    assert cells.loc[(2, 2), "att"] == pytest.approx(1.0)
    assert bool(cells.loc[(2, 2), "estimable"])
    # once cohort 3 starts nobody is left to compare with: its cells and (2, 3) are not estimable
    assert not cells.loc[(2, 3), "estimable"] and np.isnan(cells.loc[(2, 3), "att"])
    assert not cells.loc[(3, 3), "estimable"]
    eff = out["effects"]
    simple = eff[(eff["type"] == "simple") & (eff["level"] == "overall")].iloc[0]
    assert simple["att"] == pytest.approx(1.0)  # the only estimable post cell
    dyn0 = eff[(eff["type"] == "dynamic") & (eff["level"] == "event_time") & (eff["key"] == 0)].iloc[0]
    assert dyn0["att"] == pytest.approx(1.0) and dyn0["key_label"] == "e=0"
    grp2 = eff[(eff["type"] == "group") & (eff["key"] == 2)].iloc[0]
    assert grp2["key_label"] == "2008H2" and grp2["att"] == pytest.approx(1.0)
    # p from the normal approximation: erfc(|z| / √2)
    assert simple["p"] == pytest.approx(math.erfc(abs(simple["att"] / simple["se"]) / math.sqrt(2)))
    assert set(eff["type"]) == {"simple", "dynamic", "group", "calendar"}
    assert (eff["round"] == 1).all() and (eff["domain"] == "vitality").all() and (eff["n_units"] == 4).all()


def test_estimate_round_options_are_checked():
    with pytest.raises(EvaluationError, match="choose 'county' or 'prefecture'"):
        estimate_round(_tiny(), "y", round_=1, cluster="city")
    with pytest.raises(EvaluationError, match="'z' is not a column"):
        estimate_round(_tiny(), "z", round_=1)


def test_family_respects_rounds():
    r1 = set(family(round_=1)["indicator"])
    r2 = set(family(round_=2)["indicator"])
    assert "weak_orgs" not in r1 and "youth_models" not in r1
    assert {"weak_orgs", "youth_models"} <= r2
    assert len(family()) == sum(len(v) for v in FAMILY.values())
    with pytest.raises(EvaluationError, match="not catalog codes"):
        family(indicators=["nonsense"])


def test_run_evaluation_needs_the_clean_outputs(tmp_path):
    with pytest.raises(EvaluationError, match="python -m analysis clean"):
        run_evaluation(tmp_path)


# --------------------------------------------------------------------------------------------
# recovery of the planted effects of the demo data
# --------------------------------------------------------------------------------------------

# raw indicators in catalog units: the demo's truth.effects is stated for these
RAW_FAMILY = ["members_recruited", "league_members", "dues_rate", "nonpublic_firms_with_org",
              "townships_active", "weak_orgs", "posts_filled", "townships_with_secretary",
              "fulltime_cadres", "cadres_placed", "cadres_trained", "attends_party_meetings",
              "liaison_system", "in_party_assessment", "party_documents", "townships_funded",
              "league_funds", "orgs_established", "youth_models",
              "volunteers", "league_orgs", "parttime_cadres"]
NO_EFFECT = ["volunteers", "league_orgs", "parttime_cadres"]


@pytest.fixture(scope="module")
def demo():
    from analysis.demo import truth
    from analysis.ingest.outputs import build_panel

    tr = truth()
    panel = to_base_panel(build_panel(tr.clean))
    design = build_design(tr.roster)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = evaluate(panel, design, indicators=RAW_FAMILY, biters=199, seed=7, heterogeneity=False,
                       twfe=False)
    # true effect per round, indicator, base county and period: counts of split parts summed,
    # other items from the parent unit (as to_base_panel does)
    cat = load_catalog()
    eff = tr.effects.assign(t=period_index(tr.effects["period"]))
    additive = eff["indicator"].map(lambda c: cat.at[c, "type"] in ("count", "money"))
    keys = ["round", "indicator", "base_code", "t"]
    other = eff[~additive].assign(child=eff["county_code"] != eff["base_code"]).sort_values("child")
    true = pd.concat([eff[additive].groupby(keys)["effect"].sum(),
                      other.groupby(keys)["effect"].first()]).rename("true").reset_index()
    gname = design[["round", "base_code", "gname"]]
    # true ATT(g, t): mean over the cohort's counties (all counties are complete in the truth)
    cell_truth = true.merge(gname, on=["round", "base_code"]).groupby(
        ["round", "indicator", "gname", "t"])["true"].mean().reset_index().rename(
        columns={"gname": "group", "t": "time"})
    return out, cell_truth, design, panel


def _post_cells(out, cell_truth):
    cells = out["attgt"]
    cells = cells[cells["estimable"] & cells["post"]]
    return cells.merge(cell_truth, on=["round", "indicator", "group", "time"], how="left")


def test_demo_every_county_in_one_batch_per_round(demo):
    _, _, design, panel = demo
    assert design.groupby("round")["base_code"].nunique().tolist() == [181, 181]
    assert sorted(design["gname"].unique().tolist()) == [2, 3, 4, 5, 9, 10, 11, 12]


def test_demo_recovers_planted_dynamic_effects(demo):
    out, cell_truth, _, _ = demo
    cells = _post_cells(out, cell_truth)
    assert cells["true"].notna().all()
    # true dynamic effect at e: cells of that event time weighted by cohort size, as aggte does
    dyn_true = cells.groupby(["round", "indicator", "event_time"]).apply(
        lambda d: np.average(d["true"], weights=d["n_treated"]), include_groups=False).rename("true")
    eff = out["effects"]
    dyn = eff[(eff["type"] == "dynamic") & (eff["level"] == "event_time") & (eff["key"] >= 0)]
    dyn = dyn.merge(dyn_true.reset_index(), left_on=["round", "indicator", "key"],
                    right_on=["round", "indicator", "event_time"])
    covered = (dyn["ci_low"] <= dyn["true"]) & (dyn["true"] <= dyn["ci_high"])
    # 22 indicators × 2 rounds × event times 0–2 (two round-2-only items): ~120 cells
    assert len(dyn) >= 110
    assert covered.mean() >= 0.90
    in_band = (dyn["band_low"] <= dyn["true"]) & (dyn["true"] <= dyn["band_high"])
    assert in_band.mean() >= 0.95
    # ATT(g, t) cells: pointwise 95 % intervals
    cell_cov = ((cells["ci_low"] <= cells["true"]) & (cells["true"] <= cells["ci_high"])).mean()
    assert cell_cov >= 0.90


def test_demo_effect_free_indicators_not_significant_after_bh(demo):
    out, _, _, _ = demo
    s = out["summary"]
    free = s[s["indicator"].isin(NO_EFFECT)]
    assert len(free) == 6  # three indicators × two rounds
    assert set(free["name_zh"]) == {"注册青年志愿者数", "基层团组织数", "兼职、挂职团干部数"}
    assert not free["significant"].any()
    assert (free["q"] >= 0.05).all()
    # and most of the planted effects are found
    planted = s[~s["indicator"].isin(NO_EFFECT)]
    assert planted["significant"].mean() >= 0.8


def test_summary_q_values_are_bh_within_each_family(demo):
    # Benjamini–Hochberg step-up written out: q_(i) = min_{j >= i} p_(j) * m / j, capped at 1
    out, _, _, _ = demo
    s = out["summary"]
    checked = 0
    for _, fam in s.groupby(["round", "subset", "family"]):
        fam = fam[fam["p"].notna()]
        p = np.sort(fam["p"].to_numpy())
        m = len(p)
        q_sorted = np.minimum.accumulate((p * m / np.arange(1, m + 1))[::-1])[::-1].clip(max=1)
        got = np.sort(fam["q"].to_numpy())
        np.testing.assert_allclose(got, q_sorted, rtol=1e-12)
        checked += m
    assert checked == s["p"].notna().sum() > 0


def test_demo_round_difference_covers_truth(demo):
    out, cell_truth, _, _ = demo
    cells = _post_cells(out, cell_truth)
    # simple ATT: post cells weighted by cohort size
    simple_true = cells.groupby(["round", "indicator"]).apply(
        lambda d: np.average(d["true"], weights=d["n_treated"]), include_groups=False).unstack("round")
    rd = out["round_difference"]
    rd = rd[rd["type"] == "simple"].set_index("indicator")
    truth_diff = (simple_true[2] - simple_true[1]).reindex(rd.index)
    assert len(rd) == 20  # weak_orgs, youth_models are round-2 only
    covered = (rd["ci_low"] <= truth_diff) & (truth_diff <= rd["ci_high"])
    assert covered.mean() >= 0.85
    assert np.allclose(rd["diff"], rd["att_r2"] - rd["att_r1"])


def test_demo_round_two_only_items_use_their_own_window(demo):
    out, _, _, _ = demo
    cells = out["attgt"]
    weak = cells[(cells["indicator"] == "weak_orgs")]
    # reported from 2012H1 (t = 9): batch 1 (g = 9) has no pre-period and is left out
    assert weak["time"].min() >= 10 and 9 not in set(weak["group"])
    assert out["notes"]["note"].str.contains("already treated in the first period").any()


def test_heterogeneity_and_twfe_on_demo_subset(demo):
    _, _, design, panel = demo
    # one indicator of round 2: subsets by 三州 and by sending level, and the TWFE contrast
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = evaluate(panel, design, indicators=["cadres_trained"], rounds=(2,), biters=99, seed=3)
    s = out["summary"]
    assert set(s["subset"]) == {"all", "三州", "其他", "省级", "市级"}
    n = s.set_index("subset")["n_units"]
    assert n["三州"] + n["其他"] == n["all"] == n["省级"] + n["市级"]
    h = out["heterogeneity"].set_index("subset_dim")
    a = s.set_index("subset")
    row = h.loc["三州"]
    assert row["diff_b_minus_a"] == pytest.approx(a.loc[row["subset_b"], "att"] - a.loc[row["subset_a"], "att"])
    assert row["se"] == pytest.approx(math.sqrt(a.loc["三州", "se"] ** 2 + a.loc["其他", "se"] ** 2))
    assert (row["subset_a"], row["subset_b"]) == ("三州", "其他")  # subsets in text order, b − a
    # normal 95 % interval and two-sided p of the difference, worked out here
    assert row["ci_low"] == pytest.approx(row["diff_b_minus_a"] - 1.959963984540054 * row["se"])
    assert row["ci_high"] == pytest.approx(row["diff_b_minus_a"] + 1.959963984540054 * row["se"])
    assert row["p"] == pytest.approx(math.erfc(abs(row["diff_b_minus_a"] / row["se"]) / math.sqrt(2)))
    tw = out["twfe"]
    # the last batch starts after the DiD window, so inside it that batch is never treated and
    # e = −1 alone is the reference (with every county treated inside, a second one would be needed)
    assert (tw["subset"] == "all").all() and tw["reference"].sum() == 1
    assert "round_difference" not in out


def test_round_data_window(demo):
    _, _, design, panel = demo
    # DID_WINDOWS: from the half-year before batch 1 (2008H1 = 1, 2011H2 = 8) up to the
    # half-year before the last batch starts (2010H1 = 5, 2013H2 = 12)
    d1 = round_data(panel, design, 1)
    assert sorted(d1["t"].unique().tolist()) == [1, 2, 3, 4]
    d2 = round_data(panel, design, 2)
    assert sorted(d2["t"].unique().tolist()) == [8, 9, 10, 11]
    # the last batch stays in as the not-yet-treated comparison throughout
    assert d1["gname"].max() == 5 and d2["gname"].max() == 12
    assert (d2["event_time"] == d2["t"] - d2["gname"]).all()
    with pytest.raises(EvaluationError, match="no period"):
        round_data(panel, design, 1, window=("2015H1", "2015H2"))


def test_run_evaluation_end_to_end_with_prefecture_clusters(demo, tmp_path):
    out0, _, design, panel = demo
    # processed-folder shape: wide panel by county (split units separate) and the roster
    roster = design.rename(columns={"base_code": "county_code"})[["round", "batch", "county_code",
                                                                   "sending_unit"]]
    panel.drop(columns=["n_units"]).to_parquet(tmp_path / "panel.parquet")
    roster.to_parquet(tmp_path / "roster.parquet")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = run_evaluation(tmp_path, biters=49, seed=1, cluster="prefecture",
                             indicators=["cadres_trained", "volunteers"], heterogeneity=False)
        by_county = run_evaluation(tmp_path, biters=49, seed=1, cluster="county",
                                   indicators=["cadres_trained", "volunteers"], heterogeneity=False)
    assert {"summary", "effects", "attgt", "pretrend", "twfe", "round_difference", "design", "timing"} <= set(out)
    s = out["summary"].set_index(["round", "indicator"])
    ref = out0["summary"].set_index(["round", "indicator"])
    # same points as the county-clustered run; only the uncertainty changes with 21 clusters
    assert s.loc[(2, "cadres_trained"), "att"] == pytest.approx(ref.loc[(2, "cadres_trained"), "att"])
    assert np.isfinite(s["se"]).all() and (s["se"] > 0).all()
    # the option is really used: same draws and points, other clusters → other standard errors
    c = by_county["summary"].set_index(["round", "indicator"]).loc[s.index]
    np.testing.assert_allclose(s["att"], c["att"], rtol=1e-12)
    assert (s["se"] - c["se"]).abs().min() > 1e-6
    assert out["timing"]["seconds"].ge(0).all()


# --------------------------------------------------------------------------------------------
# balanced panels per window and indicator; the tables of write_evaluation
# --------------------------------------------------------------------------------------------

CODES = ["510104", "510105", "510106", "510107", "510108", "513401", "513432", "513425"]
MISSING_2008H1 = "510104"  # outside round 2's window: must stay in round 2
MISSING_2012H2 = "510107"  # inside round 2's window: dropped from round 2 only
MISSING_2014H1 = "513425"  # after both DiD windows: dropped nowhere
MISSING_2011H1 = "513401"  # between the windows (round 2's starts in 2011H2): dropped nowhere


def _planted() -> tuple[pd.DataFrame, pd.DataFrame]:
    # two counties per batch in each round (batch of county i: i // 2 + 1 in round 1,
    # 4 − i // 2 in round 2); y = 10 + t + 2·[t ≥ g1] + 3·[t ≥ g2] exactly, so with parallel
    # trends and no noise every estimable post cell is 2 in round 1 and 3 in round 2
    periods = [f"{y}H{h}" for y in range(2008, 2015) for h in (1, 2)]
    rows, design = [], []
    for i, code in enumerate(CODES):
        b1, b2 = i // 2 + 1, 4 - i // 2
        g1, g2 = b1 + 1, b2 + 8  # 2008H2 = 2 …; 2012H1 = 9 …
        for per in periods:
            t = period_index(per)
            y = 10 + t + 2 * (t >= g1) + 3 * (t >= g2)
            missing = (code, per) in {(MISSING_2008H1, "2008H1"), (MISSING_2012H2, "2012H2"),
                                      (MISSING_2014H1, "2014H1"), (MISSING_2011H1, "2011H1")}
            rows.append({"county_code": code, "period": per, "cadres_trained": np.nan if missing else float(y)})
        for r, b in ((1, b1), (2, b2)):
            design.append({"round": r, "batch": b, "county_code": code, "sending_unit": "团省委"})
    return pd.DataFrame(rows), pd.DataFrame(design)


def test_each_estimate_drops_only_counties_missing_its_own_window():
    wide, roster = _planted()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = evaluate(to_base_panel(wide), build_design(roster), indicators=["cadres_trained"], biters=49,
                       seed=1, heterogeneity=False, twfe=False)
    s = out["summary"].set_index("round")
    # round 1 window 2008H1–2009H2: only the county missing 2008H1 is left out
    assert (s.loc[1, "n_units"], s.loc[1, "n_dropped"]) == (7, 1)
    # round 2 window 2011H2–2013H1: the 2012H2 gap drops one; 2008H1, 2011H1, 2014H1 do not matter
    assert (s.loc[2, "n_units"], s.loc[2, "n_dropped"]) == (7, 1)
    assert s.loc[1, "att"] == pytest.approx(2.0) and s.loc[2, "att"] == pytest.approx(3.0)
    rd = out["round_difference"].set_index("type")
    assert rd.loc["simple", "diff"] == pytest.approx(1.0)  # 3 − 2
    # six counties are in both estimates (all but the two dropped ones)
    assert rd.loc["simple", "n_common"] == 6
    d = dropped_counties(out).set_index("round")
    assert d.loc[1, "max"] == 1 and d.loc[2, "max"] == 1


def test_write_evaluation_tables_in_chinese(tmp_path):
    wide, roster = _planted()
    processed = tmp_path / "processed"
    processed.mkdir()
    wide.to_parquet(processed / "panel.parquet")
    roster.to_parquet(processed / "roster.parquet")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        paths = write_evaluation(processed, tmp_path / "tables", biters=49, seed=1)
    assert [p.name for p in paths] == ["驻点效应_分轮估计.xlsx", "两轮比较.xlsx"]
    wb = openpyxl.load_workbook(paths[0])
    assert wb.sheetnames[:4] == ["总体效应", "动态效应", "分批效应", "平行趋势检验"]
    assert "TWFE对照" in wb.sheetnames
    ws = wb["总体效应"]
    header = [c.value for c in ws[2]]
    rows = [dict(zip(header, [c.value for c in r])) for r in ws.iter_rows(min_row=3) if r[1].value]
    by_round = {r["轮次"]: r for r in rows if r["指标"] == "培训基层团干部人次"}
    assert by_round["第一轮"]["平均处理效应"] == pytest.approx(2.0)
    assert by_round["第二轮"]["因缺期未纳入县数"] == 1 and by_round["第二轮"]["纳入县数"] == 7
    note = ws.cell(ws.max_row, 1).value
    assert note.startswith("数据来源：") and "2011H2–2013H1" in note and "第二轮（2011H2–2013H1）各项均为1个" in note
    groups = openpyxl.load_workbook(paths[0])["分批效应"]
    batches = [r[3] for r in groups.iter_rows(min_row=3, values_only=True) if r[0] == "第二轮"]
    assert sorted(batches) == [1, 2, 3]  # batch 4 (2013H2) is the comparison, never treated in the window
    diff = openpyxl.load_workbook(paths[1])["效应差"]
    header = [c.value for c in diff[2]]
    first = dict(zip(header, [c.value for c in diff[3]]))
    assert first["第二轮减第一轮"] == pytest.approx(1.0)


def test_composite_indices_and_their_base_unit_outcomes():
    from analysis.indices import INDEX_INDICATORS

    # split county: 恩阳区 (511903, from 2013) folds into 巴州区 (511902); 喜德县 alone
    best = {c: (1.0 if c.startswith("std_") else 100.0) for c in INDEX_INDICATORS}
    worst = {c: (0.0 if c.startswith("std_") else 10.0) for c in INDEX_INDICATORS}
    wide = pd.DataFrame([{"county_code": "511902", "base_code": "511902", "period": "2013H1", **best},
                         {"county_code": "511903", "base_code": "511902", "period": "2013H1", **worst},
                         {"county_code": "513432", "base_code": "513432", "period": "2013H1", **worst}])
    weights, index = composite_indices(wide)
    assert weights["weight"].sum() == pytest.approx(1.0)
    overall = index[index["index"] == "overall"].set_index("county_code")["value"]
    # every indicator at the panel's maximum → score 100 on each; at the minimum → 0
    assert overall["511902"] == pytest.approx(100.0) and overall["513432"] == pytest.approx(0.0)
    out = index_outcomes(index)
    o = out[out["indicator"] == "index_overall"].set_index("base_code")
    assert o.loc["511902", "value"] == pytest.approx(50.0)  # mean of the parts' 100 and 0
    assert o.loc["511902", "name_zh"] == "综合指数" and (out["unit"] == "分").all()
    assert set(out["indicator"]) == {"index_overall", "index_vitality", "index_staffing", "index_tasks"}


def test_composite_indices_without_index_indicators_says_so():
    wide = pd.DataFrame({"county_code": ["511902"], "period": ["2013H1"], "league_members": [5.0]})
    with pytest.raises(EvaluationError, match="composite_indices: the panel has no values of the index"):
        composite_indices(wide)
    with pytest.raises(EvaluationError, match=r"composite_indices: the panel lacks \['period'\]"):
        composite_indices(wide.drop(columns="period"))


def test_roster_without_batches_names_the_fix(tmp_path):
    wide, roster = _planted()
    wide.to_parquet(tmp_path / "panel.parquet")
    roster.drop(columns="batch").to_parquet(tmp_path / "roster.parquet")
    with pytest.raises(EvaluationError, match="roster cannot give a design.*batch"):
        run_evaluation(tmp_path, biters=9)
