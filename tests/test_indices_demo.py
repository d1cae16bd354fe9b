"""Indices on the demo data: planted effects move the domain indices; every method runs end to end.

Two sources, each built once per module:

* ``analysis.demo.truth()`` — the clean values behind the demo files and the planted effect of each
  round on each raw indicator (catalog units).
* the processed demo — ``python -m analysis clean <data/raw/demo> --out <tmp>`` → ``panel.parquet``,
  i.e. the whole pipeline (reading, cleaning, county resolution, derived rates).

**Planted effect in index points.**  The demo's effects are on raw counts, rates and 0/1 standards;
an index sees them through derived rates, rescaling and weights.  So the planted effect of round 2
on a county's domain index is computed by the index itself, *with the scale and weights held fixed*:
``index(clean) − index(clean − round-2 effect)``, both scored against the clean panel (the fixed
reference frame) with its entropy weights.  ``clean − effect`` is exactly the demo's world without
round 2 (the generator defines the effect as that difference).

**Climb.**  A county's climb in round 2 is its mean index over its own post-period (from its
batch's first half-year to 2014H1, the round's last half-year) minus its mean over 2011H1–2011H2
(the year before the first batch).  The planted effect is averaged over the same post-period.
Both are compared *within batch* (each demeaned by its batch mean): batches differ in how long the
post-period is and when it falls, and the secular trend would otherwise be mistaken for an effect.
"""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from analysis import indices as ix
from analysis.catalog import DOMAINS
from analysis.config import PROJECT_ROOT
from analysis.demo import generate
from analysis.demo import truth as demo_truth
from analysis.indicators import derive

pytestmark = pytest.mark.slow

PRE = ("2011H1", "2011H2")
END = "2014H1"
# Domains whose planted between-county spread is large against the noise of a climb (see
# test_staffing_climbs_in_the_planted_direction for the one that is not).
CLEAR = ("overall", "vitality", "tasks")
# Thresholds [design]: a within-batch Spearman ρ of 0.3 is a moderate association that 181
# independent pairs reach by chance with p ≈ 4·10⁻⁵; a top-minus-bottom quartile difference of
# more than 2 standard errors (Welch) is the usual 5 % two-sided line; and the index must pass on
# at least half of the planted difference (an index that squashed effects would fail that).
MIN_RHO = 0.3
MIN_T = 2.0
MIN_PASS_THROUGH = 0.5


# ------------------------------------------------------------------ fixtures


def _index_inputs(raw_long: pd.DataFrame) -> pd.DataFrame:
    """Raw long panel → long rows of INDEX_INDICATORS (raw ones such as dues_rate plus derived)."""
    derived = derive(raw_long).drop(columns="missing_reason")
    both = pd.concat([raw_long, derived], ignore_index=True)
    return ix.index_inputs(both.dropna(subset=["value"]))


def _indices(inputs: pd.DataFrame, reference: pd.DataFrame, weights: pd.DataFrame) -> pd.DataFrame:
    return ix.composite_index(ix.rescale(inputs, reference), weights)


@pytest.fixture(scope="module")
def truth():
    return demo_truth()


@pytest.fixture(scope="module")
def planted(truth) -> pd.DataFrame:
    """Round-2 planted effect in index points per base_code × period × index (fixed scale)."""
    clean = truth.clean
    eff = truth.effects[truth.effects["round"] == 2][["period", "county_code", "indicator", "effect"]]
    without = clean.merge(eff, on=["period", "county_code", "indicator"], how="left")
    without["value"] = without["value"] - without["effect"].fillna(0.0)
    obs = _index_inputs(clean)
    cf = _index_inputs(without.drop(columns="effect"))
    weights = ix.entropy_weights(ix.rescale(obs, obs))
    a = _indices(obs, obs, weights)
    b = _indices(cf, obs, weights)
    key = ["county_code", "period", "index"]
    m = a.merge(b[[*key, "value"]], on=key, suffixes=("", "_without"))
    m["planted"] = m["value"] - m["value_without"]
    # a unit split off in 2013 (恩阳区, 前锋区) is folded into its 2008 parent by the mean of the parts
    return m.groupby(["base_code", "period", "index"], as_index=False)[["value", "planted"]].mean()


@pytest.fixture(scope="module")
def start(truth) -> pd.Series:
    """First half-year of each base unit's round-2 batch."""
    d = truth.design[truth.design["round"] == 2].drop_duplicates("base_code")
    return d.set_index("base_code")["start_period"]


@pytest.fixture(scope="module")
def processed_dir(tmp_path_factory):
    raw = PROJECT_ROOT / "data" / "raw" / "demo"
    if not raw.is_dir() or not any(raw.iterdir()):
        # the committed demo is the default-seed generate(); rebuild it when it is not checked out
        raw = tmp_path_factory.mktemp("raw")
        generate(raw)
    out = tmp_path_factory.mktemp("processed")
    done = subprocess.run(
        [sys.executable, "-m", "analysis", "clean", str(raw), "--out", str(out), "--quiet"],
        capture_output=True, text=True, timeout=600,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return out


@pytest.fixture(scope="module")
def panel(processed_dir) -> pd.DataFrame:
    """The processed wide panel, as the report reads it."""
    return pd.read_parquet(processed_dir / "panel.parquet")


@pytest.fixture(scope="module")
def processed_inputs(panel) -> pd.DataFrame:
    inds = [c for c in ix.INDEX_INDICATORS if c in panel.columns]
    long = panel.melt(id_vars=["county_code", "base_code", "period"], value_vars=inds,
                      var_name="indicator", value_name="value").dropna(subset=["value"])
    return long.astype({"county_code": str, "base_code": str}).reset_index(drop=True)


# ------------------------------------------------------------------ planted effects vs climbs


def _climbs(index_by_base: pd.DataFrame, planted: pd.DataFrame, start: pd.Series) -> pd.DataFrame:
    """Per base_code × index: within-batch demeaned planted effect and climb (points)."""
    f = index_by_base.merge(planted[["base_code", "period", "index", "planted"]],
                            on=["base_code", "period", "index"], how="inner")
    f["start"] = f["base_code"].map(start)
    post = f[(f["period"] >= f["start"]) & (f["period"] <= END)]
    pre = f[f["period"].isin(PRE)]
    by = ["base_code", "index"]
    out = pd.concat({
        "planted": post.groupby(by)["planted"].mean(),
        "climb": post.groupby(by)["value"].mean() - pre.groupby(by)["value"].mean(),
    }, axis=1).dropna().reset_index()
    out["start"] = out["base_code"].map(start)
    for c in ("planted", "climb"):
        out[c] = out[c] - out.groupby(["index", "start"])[c].transform("mean")
    return out


def _contrast(c: pd.DataFrame) -> dict[str, float]:
    """Top vs bottom quartile of planted effect: climb difference, its Welch t, planted difference, ρ."""
    lo, hi = c["planted"].quantile([0.25, 0.75])
    top, bot = c[c["planted"] >= hi], c[c["planted"] <= lo]
    diff = top["climb"].mean() - bot["climb"].mean()
    se = np.sqrt(top["climb"].var() / len(top) + bot["climb"].var() / len(bot))
    return {"n": len(c), "rho": stats.spearmanr(c["planted"], c["climb"]).statistic, "climb_diff": diff,
            "t": diff / se, "planted_diff": top["planted"].mean() - bot["planted"].mean()}


def _check_clear_domains(climbs: pd.DataFrame, min_units: int) -> None:
    for name in CLEAR:
        r = _contrast(climbs[climbs["index"] == name])
        assert r["n"] >= min_units, (name, r)
        assert r["rho"] > MIN_RHO, (name, r)
        assert r["t"] > MIN_T, (name, r)
        assert r["climb_diff"] > MIN_PASS_THROUGH * r["planted_diff"], (name, r)


def test_planted_effects_are_large_enough_to_test(planted):
    # guard against a vacuous test: round 2 must move the indices, and differently across counties
    post = planted[planted["period"].between("2012H1", END)]
    spread = post.groupby(["index", "base_code"])["planted"].mean().groupby("index").std()
    assert (spread[list(CLEAR)] > 1.5).all(), spread
    # the demo plants improvements only, so a direction error in the index cannot hide here
    assert (post.groupby("index")["planted"].mean()[list(CLEAR)] > 0).all()
    # and nothing is planted before round 2 starts
    assert planted.loc[planted["period"] < "2012H1", "planted"].abs().max() < 1e-9


def test_counties_with_largest_planted_effects_climb_most_on_clean_values(truth, planted, start):
    obs = _index_inputs(truth.clean)
    index = _indices(obs, obs, ix.entropy_weights(ix.rescale(obs, obs)))
    by_base = index.groupby(["base_code", "period", "index"], as_index=False)["value"].mean()
    _check_clear_domains(_climbs(by_base, planted, start), min_units=181)


def test_counties_with_largest_planted_effects_climb_most_on_processed_demo(processed_inputs, planted, start):
    # indices from the cleaned files (own scale and weights); planted effects from the truth
    ref = processed_inputs
    index = _indices(processed_inputs, ref, ix.entropy_weights(ix.rescale(ref, ref)))
    by_base = index.groupby(["base_code", "period", "index"], as_index=False)["value"].mean()
    # counties whose files were quarantined in a needed half-year drop out; most must remain
    _check_clear_domains(_climbs(by_base, planted, start), min_units=150)


def test_staffing_climbs_in_the_planted_direction(truth, planted, start):
    # Staffing holds two rates (posts_fill_rate, secretary_rate) on small denominators (3–5 posts,
    # a dozen townships).  Its planted between-county spread (sd ≈ 3 points) is well under the
    # noise of a climb (sd ≈ 8 points), and the effect is largest where the rate would otherwise be
    # low — the same counties whose counterfactual climb is lowest (logit ceiling).  Only the sign
    # of the quartile contrast is a fair claim here.
    obs = _index_inputs(truth.clean)
    index = _indices(obs, obs, ix.entropy_weights(ix.rescale(obs, obs)))
    by_base = index.groupby(["base_code", "period", "index"], as_index=False)["value"].mean()
    c = _climbs(by_base, planted, start)
    r = _contrast(c[c["index"] == "staffing"])
    assert r["climb_diff"] > 0 and r["planted_diff"] > 0, r


def test_round2_effects_do_not_predict_round1_climbs(truth, planted, start):
    # placebo: the same contrast on round 1's window (2008H1 → 2010H2) must show nothing, so the
    # tests above measure round 2's effects and not a county trait that always climbs
    obs = _index_inputs(truth.clean)
    index = _indices(obs, obs, ix.entropy_weights(ix.rescale(obs, obs)))
    by_base = index.groupby(["base_code", "period", "index"], as_index=False)["value"].mean()
    post_mean = (planted[planted["period"].between(start.min(), END)]
                 .assign(s=lambda f: f["base_code"].map(start))
                 .query("period >= s").groupby(["base_code", "index"])["planted"].mean())
    early = by_base[by_base["period"].isin(["2008H1", "2010H2"])].pivot_table(
        index=["base_code", "index"], columns="period", values="value")
    climb1 = (early["2010H2"] - early["2008H1"]).rename("climb")
    both = pd.concat([post_mean, climb1], axis=1).dropna().reset_index()
    for name in CLEAR:
        rho = stats.spearmanr(*both[both["index"] == name][["planted", "climb"]].to_numpy().T).statistic
        assert abs(rho) < MIN_RHO, (name, rho)


# ------------------------------------------------------------------ every method on the processed demo


def test_every_method_runs_on_the_processed_demo(processed_inputs):
    x = processed_inputs
    inds = sorted(x["indicator"].unique())
    assert set(inds) == set(ix.INDEX_INDICATORS)
    # rescaling, all three methods, against the whole panel as the reference
    scores = {m: ix.rescale(x, x, method=m) for m in ("minmax", "efficacy", "zscore")}
    mm, ef, z = (scores[m]["score"] for m in ("minmax", "efficacy", "zscore"))
    assert mm.between(0, 100).all() and ef.between(60, 100).all()
    zs = scores["zscore"].groupby("indicator")["score"]
    assert zs.mean().abs().max() < 1e-9 and (zs.std() - 1).abs().max() < 1e-9
    assert mm.notna().all()  # every index indicator varies across the demo

    # weights: entropy, AHP (consistent judgements from stated priorities), blended two ways
    ent = ix.entropy_weights(scores["minmax"])
    priority = pd.Series(np.arange(1, len(inds) + 1, dtype=float), index=inds)
    ahp = ix.ahp_weights(np.outer(priority, 1 / priority), labels=inds)
    assert ahp.cr == pytest.approx(0.0, abs=1e-9)
    assert ahp.weights.to_numpy() == pytest.approx((priority / priority.sum()).to_numpy())
    lin = ix.blend_weights(ahp, ent, alpha=0.5)
    mult = ix.blend_weights(ahp, ent, method="multiplicative")
    for w in (ent, ahp.to_frame(), lin, mult):
        assert w["weight"].sum() == pytest.approx(1.0) and (w["weight"] >= 0).all()
        assert sorted(w["indicator"]) == inds

    # composite indices (minmax and efficacy), TOPSIS
    for m, lo in (("minmax", 0.0), ("efficacy", 60.0)):
        idx = ix.composite_index(scores[m], lin)
        v = idx["value"].dropna()
        assert v.between(lo, 100).all() and len(v) > 0.95 * len(idx)
        assert (idx.loc[idx["value"].notna(), "weight_share"] >= 2 / 3 - 1e-12).all()
    top = ix.topsis(x, ent)
    assert top["closeness"].dropna().between(0, 1).all() and top["closeness"].notna().mean() > 0.95

    # reliability per domain
    rel = ix.reliability(scores["minmax"])
    assert sorted(rel.alpha["domain"]) == sorted(DOMAINS)
    assert (rel.alpha["alpha"].dropna() <= 1).all() and rel.alpha["alpha"].notna().all()
    assert rel.items["item_rest_r"].dropna().between(-1, 1).all()
    assert sorted(rel.items["indicator"]) == inds

    # grades and traffic lights on the overall index
    overall = ix.composite_index(scores["minmax"], ent)
    overall = overall[overall["index"] == "overall"].dropna(subset=["value"])
    g = ix.grade(overall)
    expect = np.select([g["value"] >= 90, g["value"] >= 80, g["value"] >= 60], ["优秀", "良好", "合格"], "不合格")
    assert (g["grade"].astype(str).to_numpy() == expect).all()
    tl = ix.traffic_light(overall, 80.0)
    assert set(tl["flag"]) <= {"green", "yellow", "red"} and tl["flag"].notna().all()


@pytest.mark.parametrize("scheme", ["noise", "counties"])
def test_rank_intervals_on_the_processed_demo(processed_inputs, scheme):
    x = processed_inputs
    latest = x[x["period"] == END]
    out = ix.rank_intervals(latest, x, scheme=scheme, n_draws=199, seed=1, flip_prob=0.05)
    ranked = out.dropna(subset=["rank"])
    n = len(ranked)
    assert n >= 150 and (ranked["n_units"] == n).all()
    assert sorted(ranked["rank"].astype(int)) == list(range(1, n + 1))
    assert ((ranked["rank_low"] <= ranked["rank"]) & (ranked["rank"] <= ranked["rank_high"])).all()
    assert ranked["rank_range"].str.fullmatch(r"\d+(–\d+)?").all()


def test_ranking_table_on_the_processed_demo(panel, processed_inputs):
    t = ix.ranking_table(panel, n_draws=199, seed=1)
    ranked = t.dropna(subset=["rank"])
    assert (t["period"] == END).all()
    assert ranked["rank"].tolist() == list(range(1, len(ranked) + 1))  # sorted by rank
    assert ranked["county"].notna().all() and ranked["prefecture"].notna().all()
    assert ranked["prefecture"].nunique() == 21
    assert ranked["overall"].is_monotonic_decreasing
    assert ranked["rank_label"].str.fullmatch(r"第\d+(–\d+)?名").all()
    v = ranked[["overall", *DOMAINS]].to_numpy(dtype=float)
    assert ((v[~np.isnan(v)] >= 0) & (v[~np.isnan(v)] <= 100)).all()
    assert np.isnan(v[:, 0]).sum() == 0  # ranked ⇒ has an overall index
    # units that exist in both 2011H2 and 2014H1 have a round-2 change
    both = set(processed_inputs.loc[processed_inputs["period"] == "2011H2", "county_code"])
    assert ranked.loc[ranked["county_code"].isin(both), "overall_change"].notna().mean() > 0.95
    assert set(t.attrs["labels_zh"]) == set(t.columns)
