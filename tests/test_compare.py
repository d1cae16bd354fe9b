"""Descriptive round comparison: changes, paired tests, effect sizes, McNemar, BH (hand-worked)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from analysis.compare import (
    CompareError,
    compare_rounds,
    county_groups,
    paired_effect,
    paired_tests,
    round_changes,
    signed_rank,
    round_contrast,
    standard_tests,
)

X1 = [1.0, 2.0, 3.0, 4.0, 5.0]
X2 = [2.0, 4.0, 3.0, 6.0, 7.0]


def test_paired_effect_by_hand():
    r = paired_effect(X1, X2)
    # D = 1, 2, 0, 2, 2: mean 1.4; squared deviations .16 .36 1.96 .36 .36 = 3.2 → sd = √0.8
    assert r["n"] == 5 and r["df"] == 4
    assert r["mean_diff"] == pytest.approx(1.4)
    assert r["sd_diff"] == pytest.approx(math.sqrt(0.8))
    assert r["d_z"] == pytest.approx(1.4 / math.sqrt(0.8))
    assert r["t"] == pytest.approx(1.4 / math.sqrt(0.8) * math.sqrt(5))  # = 3.5
    assert r["t"] == pytest.approx(3.5)
    # s1² = 2.5, s2² = 17.2/4 = 4.3, cov = 12/4 = 3 → r = 3/√(2.5·4.3)
    rr = 3 / math.sqrt(2.5 * 4.3)
    assert r["r"] == pytest.approx(rr)
    d_av = 1.4 / math.sqrt((2.5 + 4.3) / 2)
    j = 1 - 3 / (4 * 4 - 1)  # = 0.8
    assert r["g"] == pytest.approx(j * d_av)
    var = (1 / 5 + d_av**2 / 10) * 2 * (1 - rr)
    assert r["g_se"] == pytest.approx(j * math.sqrt(var))
    assert r["g_low"] == pytest.approx(j * d_av - 1.959963984540054 * j * math.sqrt(var))
    # Wilcoxon: zero dropped, |D| = 1, 2, 2, 2 → ranks 1, 3, 3, 3; W− = 0.  Normal approximation
    # with tie correction: mean 4·5/4 = 5, var 4·5·9/24 − (3³ − 3)/48 = 7.5 − 0.5 = 7
    assert r["w"] == 0
    assert r["p_wilcoxon"] == pytest.approx(2 * stats.norm.cdf(-5 / math.sqrt(7)))


def test_signed_rank_exact_by_hand():
    # D = 1, −2, 3: ranks 1, 2, 3, W+ = 4, W− = 2.  The 8 sign patterns give W+ = 0,1,2,3,3,4,5,6:
    # P(W+ ≥ 4) = 3/8, P(W+ ≤ 4) = 6/8 → p = 2 · 3/8 = 0.75
    assert signed_rank(np.array([1.0, -2.0, 3.0])) == (2.0, pytest.approx(0.75, abs=1e-15))
    # all positive: W+ = 6 is the only pattern of its sum: p = 2/8
    assert signed_rank(np.array([1.0, 2.0, 3.0])) == (0.0, pytest.approx(0.25, abs=1e-15))


# differences as the round comparison meets them: small whole-number changes (ties, zeros) and
# continuous ones, a few to a few hundred counties
_DIFFS = st.one_of(
    st.lists(st.integers(-6, 6), min_size=1, max_size=120).map(lambda v: np.array(v, dtype=float)),
    st.lists(st.floats(-50, 50, allow_nan=False, width=32), min_size=1, max_size=80).map(np.array),
).filter(lambda d: np.any(d != 0))


@settings(max_examples=300, deadline=None)
@given(_DIFFS)
def test_signed_rank_matches_scipy(d):
    nz = d[d != 0]
    exact = nz.size <= 50 and np.unique(np.abs(nz)).size == nz.size
    ref = stats.wilcoxon(d, method="exact" if exact else "approx")
    w, p = signed_rank(d)
    assert w == pytest.approx(float(ref.statistic), rel=1e-12)
    assert p == pytest.approx(float(ref.pvalue), rel=1e-9, abs=1e-15)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.floats(-100, 100, width=32), st.floats(-100, 100, width=32)), min_size=2, max_size=60))
def test_paired_t_matches_scipy(pairs):
    a, b = (np.array(v, dtype=float) for v in zip(*pairs))
    r = paired_effect(a, b)
    if not r["sd_diff"] > 1e-9 * max(1.0, np.abs(b - a).max()):
        return  # no spread (scipy then warns of catastrophic cancellation)
    ref = stats.ttest_rel(b, a)
    # scipy's order of operations: the same bits, so the report's tables do not change
    assert r["t"] == float(ref.statistic)
    assert r["p_t"] == float(ref.pvalue)


def test_dz_interval_inverts_the_noncentral_t():
    r = paired_effect(X1, X2)
    n, t = 5, 3.5
    assert r["d_z_low"] < r["d_z"] < r["d_z_high"]
    # the defining property of the exact interval
    assert stats.nct.cdf(t, n - 1, r["d_z_low"] * math.sqrt(n)) == pytest.approx(0.975, abs=1e-7)
    assert stats.nct.cdf(t, n - 1, r["d_z_high"] * math.sqrt(n)) == pytest.approx(0.025, abs=1e-7)


def test_dz_interval_close_to_normal_approximation_in_large_samples():
    rng = np.random.default_rng(5)
    a = rng.normal(0, 1, 400)
    b = a + rng.normal(0.3, 1, 400)
    r = paired_effect(a, b)
    d, n = r["d_z"], 400
    se = math.sqrt(1 / n + d**2 / (2 * n))
    assert r["d_z_low"] == pytest.approx(d - 1.96 * se, abs=0.01)
    assert r["d_z_high"] == pytest.approx(d + 1.96 * se, abs=0.01)


def test_paired_effect_degenerate_and_errors():
    r = paired_effect([1.0, 2.0, np.nan], [2.0, 3.0, 5.0])  # constant difference after dropping NaN
    assert r["n"] == 2 and r["sd_diff"] == 0 and np.isnan(r["t"]) and np.isnan(r["d_z"])
    assert np.isnan(paired_effect([1.0], [2.0])["t"])
    with pytest.raises(CompareError, match="pass pairs"):
        paired_effect([1.0, 2.0], [1.0])


def _panel() -> pd.DataFrame:
    # two counties; values at the window ends of CHANGE_WINDOWS: round 1 2008H1 → 2010H2 (round)
    # and → 2011H1 (after); round 2 2011H2 → 2014H1 (round) and → 2014H2 (after)
    periods = ["2008H1", "2010H2", "2011H1", "2011H2", "2014H1", "2014H2"]
    a = [10, 15, 16, 16, 26, 30]  # r1 round +5, r1 after +6; r2 round +10, r2 after +14
    b = [20, 22, 25, 25, 26, 24]  # +2, +5; +1, −1
    return pd.DataFrame({"base_code": ["510104"] * 6 + ["513432"] * 6, "period": periods * 2,
                         "league_members": np.array(a + b, dtype=float)})


def test_round_changes_and_contrast_by_hand():
    ch = round_changes(_panel())
    got = ch.set_index(["base_code", "round", "window"])["change"]
    assert got[("510104", 1, "round")] == 5 and got[("510104", 1, "after")] == 6
    assert got[("510104", 2, "round")] == 10 and got[("510104", 2, "after")] == 14
    assert got[("513432", 2, "after")] == -1
    ct = round_contrast(ch).set_index(["base_code", "window"])
    assert ct.loc[("510104", "round"), "diff"] == 5  # 10 − 5
    assert ct.loc[("513432", "round"), "diff"] == -1  # 1 − 2
    assert ct.loc[("513432", "after"), "diff"] == -6  # −1 − 5


def test_round_changes_missing_end_and_bad_input():
    p = _panel()
    p.loc[1, "league_members"] = np.nan
    ch = round_changes(p).set_index(["base_code", "round", "window"])["change"]
    assert np.isnan(ch[("510104", 1, "round")])
    with pytest.raises(CompareError, match="not in the panel"):
        round_changes(p, ["weak_orgs"])
    with pytest.raises(CompareError, match="to_base_panel"):
        round_changes(pd.concat([p, p]))


def _bh_by_hand(p: list[float]) -> list[float]:
    m = len(p)
    order = sorted(range(m), key=lambda i: p[i])
    q = [0.0] * m
    running = 1.0
    for rank in range(m, 0, -1):
        i = order[rank - 1]
        running = min(running, p[i] * m / rank)
        q[i] = running
    return q


def test_paired_tests_bh_and_groups():
    rng = np.random.default_rng(11)
    codes = county_groups()["base_code"].tolist()[:60]
    rows = []
    for k, ind in enumerate(["league_members", "volunteers", "cadres_trained"]):
        c1 = rng.normal(0, 1, 60)
        c2 = c1 + rng.normal(0.5 * k, 1, 60)
        rows.append(pd.DataFrame({"base_code": codes, "indicator": ind, "window": "round",
                                  "change_r1": c1, "change_r2": c2}))
    ct = pd.concat(rows, ignore_index=True)
    ct["diff"] = ct["change_r2"] - ct["change_r1"]
    out = paired_tests(ct)
    assert len(out) == 3 and (out["n"] == 60).all()
    assert out["q_t"].tolist() == pytest.approx(_bh_by_hand(out["p_t"].tolist()))
    assert out["q_wilcoxon"].tolist() == pytest.approx(_bh_by_hand(out["p_wilcoxon"].tolist()))
    one = out.set_index("indicator").loc["volunteers"]
    d = ct[ct["indicator"] == "volunteers"]
    assert one["mean_diff"] == pytest.approx(d["diff"].mean())
    assert one["p_t"] == pytest.approx(stats.ttest_rel(d["change_r2"], d["change_r1"]).pvalue)
    assert one["domain"] == "vitality"
    by = paired_tests(ct, by="unit_type")
    assert set(by["group"]) <= {"市辖区", "县", "县级市", "自治县"}
    assert by.groupby("indicator")["n"].sum().eq(60).all()
    with pytest.raises(CompareError, match="sending_level_r1"):
        paired_tests(ct, by="sending_level_r1")


def test_standard_tests_mcnemar_by_hand():
    # 10 counties: 6 go 否→是 over round 1, none 是→否, 2 stay 是, 2 stay 否
    codes = county_groups()["base_code"].tolist()[:10]
    start = [0] * 6 + [1, 1, 0, 0]
    end = [1] * 6 + [1, 1, 0, 0]
    rows = []
    for c, s0, s1 in zip(codes, start, end):
        for per, v in (("2008H1", s0), ("2010H2", s1), ("2011H1", s1), ("2011H2", s1), ("2014H1", s1),
                       ("2014H2", s1)):
            rows.append((c, per, float(v)))
    panel = pd.DataFrame(rows, columns=["base_code", "period", "std_liaison"])
    out = standard_tests(panel, ["std_liaison"]).set_index("comparison")
    r1 = out.loc["r1:round"]
    assert (r1["b"], r1["c"], r1["n"]) == (6, 0, 10)
    assert r1["share_from"] == pytest.approx(0.2) and r1["share_to"] == pytest.approx(0.8)  # 2/10, 8/10
    # exact McNemar: two-sided binomial, 2 · 0.5⁶
    assert r1["p"] == pytest.approx(2 * 0.5**6)
    # nobody changes in round 2: no test
    assert np.isnan(out.loc["r2:round", "p"])
    assert out.loc["end_r1_vs_end_r2", "b"] == 0
    with pytest.raises(CompareError, match="0/1"):
        standard_tests(panel.assign(std_liaison=panel["std_liaison"] * 2), ["std_liaison"])


def test_county_groups_three_prefectures_and_sending_level():
    g = county_groups(pd.DataFrame({"round": [1, 2], "base_code": ["513432", "513432"],
                                    "sending_level": ["市级", "省级"]})).set_index("base_code")
    assert len(g) == 181
    assert g.loc["513432", "group_three"] == "三州"  # 喜德县, 凉山
    assert g.loc["510104", "group_three"] == "其他"
    assert (g["group_three"] == "三州").sum() == 48  # 甘孜 18 + 阿坝 13 + 凉山 17 in 2008
    assert g.loc["513432", "sending_level_r2"] == "省级"
    assert pd.isna(g.loc["510104", "sending_level_r1"])


def test_compare_rounds_stacks_groupings():
    # 510104: 否 in 2008H1, then 是; 513432: 是 until 2011H2, 否 from 2014H1
    panel = _panel().assign(std_liaison=[0.0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0])
    design = pd.DataFrame({"round": [1, 1, 2, 2], "base_code": ["510104", "513432"] * 2,
                           "sending_level": ["省级", "市级", "市级", "市级"]})
    out = compare_rounds(panel, design)
    assert set(out) == {"changes", "contrast", "paired", "standards"}
    assert set(out["paired"]["by"]) == {"all", "group_three", "prefecture_name", "unit_type",
                                       "sending_level_r1", "sending_level_r2"}
    allrow = out["paired"][(out["paired"]["by"] == "all") & (out["paired"]["window"] == "round")
                           & (out["paired"]["indicator"] == "league_members")].iloc[0]
    # changes r1 (5, 2), r2 (10, 1): mean diff (5 + (−1)) / 2 = 2
    assert allrow["mean_diff"] == pytest.approx(2.0) and allrow["n"] == 2
    st = out["standards"]
    assert set(st["indicator"]) == {"std_liaison"}
    three = st[(st["by"] == "group_three") & (st["comparison"] == "r2:round")].set_index("group")
    assert three.loc["三州", "c"] == 1  # 513432: 是 in 2011H2, 否 in 2014H1
