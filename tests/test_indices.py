"""Indices, weights, grades and rank intervals: expectations worked out independently in the test.

Indicator names a, b, c, d are made up; their directions and domains are passed explicitly so the
tests do not depend on the catalog.
"""

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from analysis import indices as ix
from analysis.indices import IndexInputError, InconsistentJudgementError


def long(matrix: dict[str, list[float]], period="2013H1", value="value", counties=None):
    """Build a long frame from {indicator: values per county}."""
    n = len(next(iter(matrix.values())))
    counties = counties or [f"51010{i + 1}" for i in range(n)]
    rows = [
        (c, period, ind, float(v)) for ind, vals in matrix.items() for c, v in zip(counties, vals)
    ]
    return pd.DataFrame(rows, columns=["county_code", "period", "indicator", value])


def pick(frame, county, column, indicator=None, index=None):
    sel = frame["county_code"] == county
    if indicator is not None:
        sel &= frame["indicator"] == indicator
    if index is not None:
        sel &= frame["index"] == index
    (v,) = frame.loc[sel, column].to_numpy()
    return v


# --------------------------------------------------------------------------- rescaling


def test_rescale_methods_against_a_separate_reference():
    reference = long({"a": [10, 20, 30], "b": [10, 20, 30]}, period="2009H1")
    panel = long({"a": [25, 40], "b": [25, 40]})
    dirs = {"a": 1, "b": -1}
    mm = ix.rescale(panel, reference, method="minmax", directions=dirs)
    # min 10, max 30: (25-10)/20 = 0.75; lower-is-better (30-25)/20 = 0.25
    assert pick(mm, "510101", "score", "a") == pytest.approx(75.0)
    assert pick(mm, "510101", "score", "b") == pytest.approx(25.0)
    # outside the reference range the scale is kept, not squeezed (comparable across rounds)
    assert pick(mm, "510102", "score", "a") == pytest.approx(150.0)
    clipped = ix.rescale(panel, reference, method="minmax", directions=dirs, clip=True)
    assert pick(clipped, "510102", "score", "a") == 100.0
    assert pick(clipped, "510102", "score", "b") == 0.0
    ef = ix.rescale(panel, reference, method="efficacy", directions=dirs)
    assert pick(ef, "510101", "score", "a") == pytest.approx(60 + 40 * 0.75)
    assert pick(ef, "510101", "score", "b") == pytest.approx(60 + 40 * 0.25)
    z = ix.rescale(panel, reference, method="zscore", directions=dirs)
    # mean 20, sd (ddof 1) = sqrt((100 + 0 + 100) / 2) = 10
    assert pick(z, "510101", "score", "a") == pytest.approx(0.5)
    assert pick(z, "510101", "score", "b") == pytest.approx(-0.5)


def test_rescale_without_spread_is_missing_and_context_is_refused():
    panel = long({"a": [5, 5, 5]})
    assert ix.rescale(panel, panel, directions={"a": 1})["score"].isna().all()
    with pytest.raises(IndexInputError, match="no direction"):
        ix.rescale(long({"youth_population": [1, 2]}), long({"youth_population": [1, 2]}))
    with pytest.raises(IndexInputError, match="method"):
        ix.rescale(panel, panel, method="rank", directions={"a": 1})


def test_rescale_uses_catalog_direction():
    panel = long({"weak_orgs": [0, 10, 5]})  # catalog: lower is better
    s = ix.rescale(panel, panel)["score"].tolist()
    assert s == pytest.approx([100.0, 0.0, 50.0])


@settings(max_examples=50, deadline=None)
@given(
    st.lists(st.floats(-1e6, 1e6, allow_nan=False), min_size=2, max_size=15, unique=True),
    st.sampled_from(["minmax", "efficacy", "zscore"]),
    st.sampled_from([1, -1]),
)
def test_rescaling_keeps_order(values, method, direction):
    # values 1e-181 apart have a sample sd that underflows to 0: no spread, NaN scores (documented)
    assume(np.std(values, ddof=1) > 0)
    panel = long({"a": values})
    s = ix.rescale(panel, panel, method=method, directions={"a": direction})["score"].to_numpy()
    # along increasing x, direction·score never decreases (weakly: neighbours may round together)
    along = (s * direction)[np.argsort(values)]
    assert (np.diff(along) >= 0).all()
    if method != "zscore":
        lo = 0.0 if method == "minmax" else 60.0
        assert s.min() == pytest.approx(lo) and s.max() == pytest.approx(100.0)


# --------------------------------------------------------------------------- weights


def test_entropy_weights_step_by_step():
    X = [[1, 2, 0], [2, 2, 1], [3, 2, 1], [4, 2, 2]]  # 4 counties × 3 indicators
    scores = long({"a": [r[0] for r in X], "b": [r[1] for r in X], "c": [r[2] for r in X]}, value="score")
    n = 4
    k = 1 / math.log(n)
    d = []
    for j in range(3):
        col = [r[j] for r in X]
        total = sum(col)
        e = -k * sum((x / total) * math.log(x / total) for x in col if x > 0)  # 0·ln0 = 0
        d.append(1 - e)
    expected = [dj / sum(d) for dj in d]
    got = ix.entropy_weights(scores).set_index("indicator")
    assert got["weight"].tolist() == pytest.approx(expected, rel=1e-12)
    # b is constant: p = 1/4 each, e = 1, weight 0
    assert got.at["b", "entropy"] == pytest.approx(1.0) and got.at["b", "weight"] == pytest.approx(0.0)
    assert got["weight"].sum() == pytest.approx(1.0)


def test_entropy_weights_missing_value_uses_own_n():
    scores = long({"a": [1, 3, np.nan], "b": [1, 1, 2]}, value="score")
    ea = -(0.25 * math.log(0.25) + 0.75 * math.log(0.75)) / math.log(2)
    eb = -(2 * 0.25 * math.log(0.25) + 0.5 * math.log(0.5)) / math.log(3)
    da, db = 1 - ea, 1 - eb
    got = ix.entropy_weights(scores).set_index("indicator")["weight"]
    assert got["a"] == pytest.approx(da / (da + db))
    assert got["b"] == pytest.approx(db / (da + db))


def test_entropy_weights_refuse_negative_and_flat_scores():
    with pytest.raises(IndexInputError, match="zscore"):
        ix.entropy_weights(long({"a": [-1, 0, 1], "b": [1, 2, 3]}, value="score"))
    with pytest.raises(IndexInputError, match="no indicator varies"):
        ix.entropy_weights(long({"a": [2, 2, 2], "b": [0, 0, 0]}, value="score"))


def test_ahp_consistent_matrix_recovers_weights_and_cr_zero():
    w = np.array([0.5, 0.25, 0.15, 0.1])
    A = w[:, None] / w[None, :]  # a_ij = w_i / w_j is perfectly consistent
    res = ix.ahp_weights(A, ["a", "b", "c", "d"])
    assert res.weights.to_numpy() == pytest.approx(w)
    assert res.lambda_max == pytest.approx(4.0)
    assert res.cr == pytest.approx(0.0, abs=1e-10)
    assert list(res.to_frame().columns) == ["indicator", "weight", "lambda_max", "ci", "ri", "cr"]


def test_ahp_saaty_textbook_matrix():
    # Classic 3×3 example (Saaty 1980; reproduced in most AHP textbooks): weights ≈ 0.637, 0.258,
    # 0.105, λmax ≈ 3.0385, CR ≈ 0.033.  λmax is also checked by independent power iteration.
    A = np.array([[1, 3, 5], [1 / 3, 1, 3], [1 / 5, 1 / 3, 1]])
    res = ix.ahp_weights(A, ["a", "b", "c"])
    v = np.ones(3)
    for _ in range(200):
        v = A @ v
        v /= v.sum()
    lam = float((A @ v)[0] / v[0])
    assert res.weights.to_numpy() == pytest.approx(v, abs=1e-9)
    assert res.weights.to_numpy() == pytest.approx([0.637, 0.258, 0.105], abs=1e-3)
    assert res.lambda_max == pytest.approx(lam, abs=1e-9)
    assert res.cr == pytest.approx(((lam - 3) / 2) / 0.58) and res.cr == pytest.approx(0.033, abs=1e-3)


def test_ahp_inconsistent_matrix_raises_with_cr():
    # cyclic judgements a > b (9), b > c (9), c > a (9): circulant, λmax = 1 + 9 + 1/9
    A = np.array([[1, 9, 1 / 9], [1 / 9, 1, 9], [9, 1 / 9, 1]])
    cr = ((1 + 9 + 1 / 9 - 3) / 2) / 0.58
    with pytest.raises(InconsistentJudgementError, match=r"CR = 6\.13") as err:
        ix.ahp_weights(A)
    assert err.value.cr == pytest.approx(cr)


def test_ahp_rejects_malformed_matrices():
    with pytest.raises(IndexInputError, match="reciprocal"):
        ix.ahp_weights([[1, 3], [3, 1]])
    with pytest.raises(IndexInputError, match="square"):
        ix.ahp_weights([[1, 2, 3]])
    with pytest.raises(IndexInputError, match="diagonal"):
        ix.ahp_weights([[2, 1], [1, 2]])


def test_blend_weights_linear_and_multiplicative():
    s = {"a": 0.6, "b": 0.3, "c": 0.1}
    o = {"a": 0.2, "b": 0.2, "c": 0.6}
    lin = ix.blend_weights(s, o, alpha=0.25).set_index("indicator")["weight"]
    assert lin.to_dict() == pytest.approx({"a": 0.3, "b": 0.225, "c": 0.475})
    mul = ix.blend_weights(s, o, method="multiplicative").set_index("indicator")["weight"]
    prod = {"a": 0.12, "b": 0.06, "c": 0.06}
    assert mul.to_dict() == pytest.approx({k: v / 0.24 for k, v in prod.items()})
    with pytest.raises(IndexInputError, match="differ"):
        ix.blend_weights(s, {"a": 1.0})


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.lists(st.floats(0, 100, allow_nan=False), min_size=3, max_size=3), min_size=3, max_size=12),
    st.floats(0, 1),
)
def test_weights_are_a_distribution(rows, alpha):
    X = np.array(rows)
    if not (X.max(axis=0) > X.min(axis=0)).any():
        return  # entropy weights undefined; tested separately
    scores = long({"a": X[:, 0], "b": X[:, 1], "c": X[:, 2]}, value="score")
    w = ix.entropy_weights(scores)
    assert (w["weight"] >= 0).all() and w["weight"].sum() == pytest.approx(1.0)
    b = ix.blend_weights(ix.equal_weights(["a", "b", "c"]), w, alpha=alpha)
    assert (b["weight"] >= 0).all() and b["weight"].sum() == pytest.approx(1.0)


# --------------------------------------------------------------------------- TOPSIS


def test_topsis_by_hand():
    # 3 counties × 3 indicators; c is lower-is-better.  Every step done with plain floats.
    X = {"a": [7.0, 8.0, 9.0], "b": [9.0, 7.0, 6.0], "c": [9.0, 8.0, 8.0]}
    W = {"a": 0.5, "b": 0.3, "c": 0.2}
    dirs = {"a": 1, "b": 1, "c": -1}
    V = {j: [W[j] * x / math.sqrt(sum(y * y for y in X[j])) for x in X[j]] for j in X}
    best = {j: (max if dirs[j] > 0 else min)(V[j]) for j in X}
    worst = {j: (min if dirs[j] > 0 else max)(V[j]) for j in X}
    expected = []
    for i in range(3):
        dp = math.sqrt(sum((V[j][i] - best[j]) ** 2 for j in X))
        dm = math.sqrt(sum((V[j][i] - worst[j]) ** 2 for j in X))
        expected.append(dm / (dp + dm))
    out = ix.topsis(long(X), W, directions=dirs).sort_values("county_code")
    assert out["closeness"].tolist() == pytest.approx(expected, rel=1e-12)
    assert ((out["closeness"] >= 0) & (out["closeness"] <= 1)).all()


def test_topsis_dominant_alternative_is_ideal():
    X = {"a": [1.0, 2.0, 3.0], "b": [3.0, 2.0, 1.0]}  # county 3 best on both (b lower-is-better)
    out = ix.topsis(long(X), {"a": 1, "b": 1}, directions={"a": 1, "b": -1}).sort_values("county_code")
    assert out["closeness"].tolist() == pytest.approx([0.0, 0.5, 1.0])


def test_topsis_missing_data_rule():
    # county 3 lacks b (weight 0.3 of 1): 0.7 ≥ 2/3 present, so it is scored on a and c alone;
    # norms, ideal and anti-ideal of b come from the counties that report b
    X = {"a": [7.0, 8.0, 9.0], "b": [9.0, 7.0, math.nan], "c": [9.0, 8.0, 8.0]}
    W = {"a": 0.5, "b": 0.3, "c": 0.2}
    dirs = {"a": 1, "b": 1, "c": -1}
    norm_a, norm_c = math.sqrt(49 + 64 + 81), math.sqrt(81 + 64 + 64)
    va = [0.5 * x / norm_a for x in X["a"]]
    vc = [0.2 * x / norm_c for x in X["c"]]
    dp = math.sqrt((va[2] - max(va)) ** 2 + (vc[2] - min(vc)) ** 2)  # c lower-is-better
    dm = math.sqrt((va[2] - min(va)) ** 2 + (vc[2] - max(vc)) ** 2)
    out = ix.topsis(long(X), W, directions=dirs).sort_values("county_code")
    assert out["closeness"].iloc[2] == pytest.approx(dm / (dp + dm), rel=1e-12)
    assert out["weight_share"].tolist() == pytest.approx([1.0, 1.0, 0.7])
    # the complete counties are scored as before on all three indicators
    assert out["closeness"].iloc[:2].notna().all()
    # classic TOPSIS (min_share = 1): any missing indicator → no score
    strict = ix.topsis(long(X), W, directions=dirs, min_share=1.0).sort_values("county_code")
    assert np.isnan(strict["closeness"].iloc[2]) and strict["closeness"].iloc[:2].notna().all()
    # b heavier (0.4 + 0.1 for c): 0.6 present < 2/3 → no score
    heavy = ix.topsis(long(X), {"a": 0.5, "b": 0.4, "c": 0.1}, directions=dirs)
    assert np.isnan(heavy.sort_values("county_code")["closeness"].iloc[2])
    with pytest.raises(IndexInputError, match="min_share"):
        ix.topsis(long(X), W, directions=dirs, min_share=0)


# --------------------------------------------------------------------------- composite index


DOMS = {"a": "vitality", "b": "vitality", "c": "vitality", "d": "staffing"}
W4 = {"a": 0.25, "b": 0.15, "c": 0.10, "d": 0.50}


def _scores():
    nan = np.nan
    return long(
        {"a": [80, 80, nan, 80], "b": [60, 60, 60, 60], "c": [40, nan, 40, 40], "d": [70, 70, 70, nan]},
        value="score",
    )


def test_composite_index_reweighting_rule():
    out = ix.composite_index(_scores(), W4, domains=DOMS)
    # county 1 complete: vitality (.25·80 + .15·60 + .10·40)/.5 = 66; overall .5·66 + .5·70 = 68
    assert pick(out, "510101", "value", index="vitality") == pytest.approx(66.0)
    assert pick(out, "510101", "value", index="overall") == pytest.approx(68.0)
    # county 2 lacks c (0.2 of vitality's weight, 0.8 present ≥ 2/3): (20 + 9)/.4 = 72.5
    assert pick(out, "510102", "weight_share", index="vitality") == pytest.approx(0.8)
    assert pick(out, "510102", "value", index="vitality") == pytest.approx(72.5)
    assert pick(out, "510102", "value", index="overall") == pytest.approx(71.25)
    # county 3 lacks a (half of vitality's weight < 2/3): missing, and so is overall (1/2 < 2/3)
    assert math.isnan(pick(out, "510103", "value", index="vitality"))
    assert math.isnan(pick(out, "510103", "value", index="overall"))
    # county 4 lacks d, the whole staffing domain
    assert math.isnan(pick(out, "510104", "value", index="staffing"))
    assert math.isnan(pick(out, "510104", "value", index="overall"))
    assert pick(out, "510101", "n_indicators", index="overall") == 4


def test_composite_index_threshold_and_domain_weights_are_parameters():
    out = ix.composite_index(_scores(), W4, domains=DOMS, min_share=0.5)
    assert pick(out, "510103", "value", index="vitality") == pytest.approx((9 + 4) / 0.25)
    assert pick(out, "510103", "value", index="overall") == pytest.approx(0.5 * 52 + 0.5 * 70)
    out = ix.composite_index(_scores(), W4, domains=DOMS, domain_weights={"vitality": 3, "staffing": 1})
    assert pick(out, "510101", "value", index="overall") == pytest.approx((3 * 66 + 70) / 4)
    with pytest.raises(IndexInputError, match="choose 'indicator'"):
        ix.composite_index(_scores(), W4, domains=DOMS, domain_weights="eqaul")
    with pytest.raises(IndexInputError, match="staffing"):
        ix.composite_index(_scores(), W4, domains=DOMS, domain_weights={"vitality": 1})


@settings(max_examples=20, deadline=None)
@given(st.lists(st.lists(st.floats(0, 1000, allow_nan=False), min_size=4, max_size=4), min_size=2, max_size=10))
def test_indices_stay_in_range(rows):
    X = np.array(rows)
    panel = long({k: X[:, i] for i, k in enumerate("abcd")})
    dirs = {"a": 1, "b": -1, "c": 1, "d": -1}
    for method, lo in (("minmax", 0.0), ("efficacy", 60.0)):
        scores = ix.rescale(panel, panel, method=method, directions=dirs)
        out = ix.composite_index(scores, ix.equal_weights("abcd"), domains=DOMS, min_share=0.01)
        v = out["value"].dropna()
        assert ((v >= lo - 1e-9) & (v <= 100 + 1e-9)).all()


# --------------------------------------------------------------------------- reliability


def test_cronbach_alpha_and_item_rest_by_hand():
    X = [[1, 2, 3], [2, 3, 3], [3, 3, 4], [4, 5, 4], [5, 4, 5]]
    n, k = len(X), 3

    def var(v):
        m = sum(v) / len(v)
        return sum((x - m) ** 2 for x in v) / (len(v) - 1)

    def pearson(u, v):
        mu, mv = sum(u) / len(u), sum(v) / len(v)
        cov = sum((a - mu) * (b - mv) for a, b in zip(u, v))
        return cov / math.sqrt(sum((a - mu) ** 2 for a in u) * sum((b - mv) ** 2 for b in v))

    cols = [[r[j] for r in X] for j in range(k)]
    totals = [sum(r) for r in X]
    alpha = k / (k - 1) * (1 - sum(var(c) for c in cols) / var(totals))
    assert ix.cronbach_alpha(np.array(X)) == pytest.approx(alpha, rel=1e-12)

    scores = long({"a": cols[0], "b": cols[1], "c": cols[2]}, value="score")
    rel = ix.reliability(scores, domains={"a": "vitality", "b": "vitality", "c": "vitality"})
    assert rel.alpha.loc[0, "alpha"] == pytest.approx(alpha)
    assert rel.alpha.loc[0, "n_obs"] == n
    items = rel.items.set_index("indicator")
    for j, name in enumerate("abc"):
        rest = [sum(r) - r[j] for r in X]
        assert items.at[name, "item_rest_r"] == pytest.approx(pearson(cols[j], rest))
    # alpha if a is deleted: two items b, c
    bc = [[r[1], r[2]] for r in X]
    a_bc = 2 * (1 - (var(cols[1]) + var(cols[2])) / var([sum(r) for r in bc]))
    assert items.at["a", "alpha_if_deleted"] == pytest.approx(a_bc)
    assert "alpha" in rel.to_frame().columns


# --------------------------------------------------------------------------- grades and flags


def test_grade_boundaries_and_custom_cutoffs():
    frame = pd.DataFrame({"value": [95, 90, 89.99, 80, 79.5, 60, 59.9, np.nan]})
    g = ix.grade(frame)["grade"]
    assert g.tolist()[:7] == ["优秀", "优秀", "良好", "良好", "合格", "合格", "不合格"]
    assert pd.isna(g.iloc[7])
    assert g.cat.ordered and g.cat.codes.iloc[0] > g.cat.codes.iloc[2]  # 优秀 above 良好
    g2 = ix.grade(frame, cutoffs=(85, 70, 50))["grade"]
    assert g2.tolist()[:7] == ["优秀", "优秀", "优秀", "良好", "良好", "合格", "合格"]
    with pytest.raises(IndexInputError, match="descending"):
        ix.grade(frame, cutoffs=(60, 80, 90))


def test_traffic_lights():
    frame = pd.DataFrame({"index": ["overall"] * 7, "value": [85, 80, 75, 70, 50, 49, np.nan]})
    out = ix.traffic_light(frame, 80)
    # behind by: -5, 0, 5, 10, 30, 31, —
    assert out["flag"].tolist()[:6] == ["green", "green", "green", "yellow", "yellow", "red"]
    assert pd.isna(out["flag"].iloc[6])
    assert out["gap"].tolist()[:6] == [-5, 0, 5, 10, 30, 31]
    strict = ix.traffic_light(frame, {"overall": 80}, yellow_from=0, red_beyond=20)
    assert strict["flag"].tolist()[:6] == ["green", "yellow", "yellow", "yellow", "red", "red"]


# --------------------------------------------------------------------------- rankings

RANK_PANEL = long({"a": [10, 20, 30, 0], "b": [5, 1, 3, 9]}).assign(
    prefecture=lambda f: f["county_code"].map({"510101": "P1", "510102": "P1", "510103": "P2", "510104": "P2"})
)
RANK_ARGS = dict(weights="equal", directions={"a": 1, "b": -1}, domains={"a": "vitality", "b": "vitality"})


def test_point_ranks_by_hand_and_zero_noise_intervals():
    # a: min 0 max 30 → 33.3, 66.7, 100, 0;  b lower-better, min 1 max 9 → 50, 100, 75, 0
    # overall = mean → 41.7, 83.3, 87.5, 0 → ranks 3, 2, 1, 4
    out = ix.rank_intervals(RANK_PANEL, RANK_PANEL, noise_sd=0.0, n_draws=50, **RANK_ARGS)
    assert out["value"].tolist() == pytest.approx([125 / 3, 250 / 3, 87.5, 0.0])
    assert out["rank"].tolist() == [3, 2, 1, 4]
    assert out["rank_range"].tolist() == ["3", "2", "1", "4"]
    assert (out["rank_low"] == out["rank"]).all() and (out["rank_high"] == out["rank"]).all()
    pref = ix.rank_intervals(RANK_PANEL, RANK_PANEL, noise_sd=0.0, n_draws=50, unit="prefecture", **RANK_ARGS)
    assert pref["prefecture"].tolist() == ["P1", "P2"]
    assert pref["value"].tolist() == pytest.approx([62.5, 43.75])
    assert pref["rank"].tolist() == [1, 2]


def test_noise_widens_intervals_and_is_seeded():
    a = ix.rank_intervals(RANK_PANEL, RANK_PANEL, noise_sd=0.5, n_draws=400, seed=7, **RANK_ARGS)
    b = ix.rank_intervals(RANK_PANEL, RANK_PANEL, noise_sd=0.5, n_draws=400, seed=7, **RANK_ARGS)
    pd.testing.assert_frame_equal(a, b)
    # counties 2 and 3 are 4 points apart: 50 % noise must let them swap
    assert (a["rank_high"] - a["rank_low"]).max() >= 1
    wide = a[a["rank_high"] > a["rank_low"]].iloc[0]
    assert wide["rank_range"] == f"{wide['rank_low']:.0f}–{wide['rank_high']:.0f}"
    assert ((a["rank_low"] >= 1) & (a["rank_high"] <= 4) & (a["rank_low"] <= a["rank_high"])).all()
    # noise on b only, b is not what separates county 4 (last on both): it stays last
    c = ix.rank_intervals(RANK_PANEL, RANK_PANEL, noise_sd={"b": 0.01}, n_draws=200, **RANK_ARGS)
    assert c.loc[c["county_code"] == "510104", ["rank_low", "rank_high"]].to_numpy().tolist() == [[4, 4]]


def test_scalar_noise_leaves_0_1_standards_exact():
    # std_liaison / std_attends are 0/1 (catalog type bool): a scalar noise level must not turn a 1
    # into 1.3, so the ranks, decided by the standards alone, cannot move
    panel = long({"std_liaison": [1, 1, 0, 1, 0], "std_attends": [1, 0, 0, 1, 1]})
    out = ix.rank_intervals(panel, panel, weights="equal", noise_sd=0.5, n_draws=200)
    assert (out["rank_low"] == out["rank"]).all() and (out["rank_high"] == out["rank"]).all()
    # the same noise given explicitly does move them (ties among the 1s are broken by noise)
    moved = ix.rank_intervals(panel, panel, weights="equal", noise_sd={"std_liaison": 0.5}, n_draws=200)
    assert (moved["rank_high"] > moved["rank_low"]).any()


def test_flip_probability_for_0_1_standards():
    panel = long({"std_liaison": [1, 1, 0, 1, 0], "std_attends": [1, 0, 0, 1, 1]})
    # overall (equal weights, min–max 0/100): 100, 50, 0, 100, 50 → ranks 1, 3, 5, 2, 4
    exact = ix.rank_intervals(panel, panel, weights="equal", noise_sd=0.0, flip_prob=0.0, n_draws=50)
    assert exact["rank"].tolist() == [1, 3, 5, 2, 4]
    # flip_prob = 1 misreports every value in every draw: flipped overall 0, 50, 100, 0, 50 → the
    # draws all rank 4, 2, 1, 5, 3 (ties by county code), so the interval is that single rank
    flipped = ix.rank_intervals(panel, panel, weights="equal", flip_prob=1.0, n_draws=20)
    assert flipped["rank"].tolist() == [1, 3, 5, 2, 4]  # the point ranks do not move
    assert flipped["rank_low"].tolist() == [4, 2, 1, 5, 3]
    assert flipped["rank_high"].tolist() == [4, 2, 1, 5, 3]
    # a small flip probability widens some intervals and stays seeded
    a = ix.rank_intervals(panel, panel, weights="equal", flip_prob=0.2, n_draws=300, seed=5)
    b = ix.rank_intervals(panel, panel, weights="equal", flip_prob=0.2, n_draws=300, seed=5)
    pd.testing.assert_frame_equal(a, b)
    assert (a["rank_high"] > a["rank_low"]).any()
    # a mapping flips only the indicators it names
    only = ix.rank_intervals(panel, panel, weights="equal", flip_prob={"std_attends": 1.0}, n_draws=20)
    # std_liaison kept, std_attends flipped: 50, 100, 50, 50, 0 → ranks 2, 1, 3, 4, 5
    assert only["rank_low"].tolist() == [2, 1, 3, 4, 5]
    with pytest.raises(IndexInputError, match="flip_prob"):
        ix.rank_intervals(panel, panel, weights="equal", flip_prob=1.5)
    with pytest.raises(IndexInputError, match="not in the panel"):
        ix.rank_intervals(panel, panel, weights="equal", flip_prob={"zz": 0.1})
    with pytest.raises(IndexInputError, match="other than 0/1"):
        ix.rank_intervals(RANK_PANEL, RANK_PANEL, flip_prob={"a": 0.1}, **RANK_ARGS)


def test_county_resampling_scheme():
    rng = np.random.default_rng(3)
    n = 40
    base = rng.uniform(0, 100, n)
    panel = long({"a": base, "b": 100 - base + rng.normal(0, 5, n), "c": rng.uniform(0, 1, n)})
    args = dict(directions={"a": 1, "b": -1, "c": 1}, domains={"a": "vitality", "b": "vitality", "c": "tasks"})
    out = ix.rank_intervals(panel, panel, scheme="counties", n_draws=300, seed=1, **args)
    assert sorted(out["rank"]) == list(range(1, n + 1))
    assert ((out["rank_low"] <= out["rank"]) & (out["rank"] <= out["rank_high"])).mean() > 0.9
    again = ix.rank_intervals(panel, panel, scheme="counties", n_draws=300, seed=1, **args)
    pd.testing.assert_frame_equal(out, again)
    # the point estimate is the published index: same as rescale + entropy weights + composite_index
    scores = ix.rescale(panel, panel, directions=args["directions"])
    comp = ix.composite_index(scores, ix.entropy_weights(scores), domains=args["domains"])
    overall = comp[comp["index"] == "overall"].sort_values("county_code")["value"].to_numpy()
    assert out["value"].to_numpy() == pytest.approx(overall)


def test_rank_intervals_at_full_scale():
    # 181 counties × 11 indicators × 999 draws must run vectorised (≈0.2 s measured)
    rng = np.random.default_rng(0)
    counties = [f"5100{i:02d}" if i < 100 else f"511{i:03d}" for i in range(181)]
    panel = long({k: rng.uniform(0, 100, 181) for k in "abcdefghijk"}, counties=counties)
    out = ix.rank_intervals(
        panel, panel, n_draws=999, directions=dict.fromkeys("abcdefghijk", 1),
        domains=dict.fromkeys("abcdefghijk", "vitality"),
    )
    assert len(out) == 181 and sorted(out["rank"]) == list(range(1, 182))


@settings(max_examples=30, deadline=None)
@given(st.integers(2, 12).flatmap(lambda n: st.tuples(st.permutations(range(n)), st.permutations(range(n)))))
def test_ranks_are_a_permutation(perms):
    pa, pb = perms
    panel = long({"a": list(pa), "b": list(pb)})
    out = ix.rank_intervals(panel, panel, noise_sd=0.0, n_draws=3, **RANK_ARGS)
    assert sorted(out["rank"].astype(int)) == list(range(1, len(pa) + 1))
    assert (out["rank_low"] == out["rank"]).all() and (out["rank_high"] == out["rank"]).all()


def test_rank_interval_argument_errors():
    with pytest.raises(IndexInputError, match="scheme"):
        ix.rank_intervals(RANK_PANEL, RANK_PANEL, scheme="jackknife", **RANK_ARGS)
    with pytest.raises(IndexInputError, match="prefecture"):
        ix.rank_intervals(RANK_PANEL.drop(columns="prefecture"), RANK_PANEL, unit="prefecture", **RANK_ARGS)
    with pytest.raises(IndexInputError, match="unit"):
        ix.rank_intervals(RANK_PANEL, RANK_PANEL, unit="province", **RANK_ARGS)
    with pytest.raises(IndexInputError, match="noise_sd"):
        ix.rank_intervals(RANK_PANEL, RANK_PANEL, noise_sd={"zz": 0.1}, **RANK_ARGS)


RANK_CODES = {"dues_rate": "vitality", "secretary_rate": "staffing", "township_budget_rate": "tasks"}


def _ranking_panel() -> pd.DataFrame:
    """Wide panel of 4 counties in 2011H2 and 2014H1, one catalog indicator per domain."""
    rows = {
        "2011H2": {"dues_rate": [50, 60, 70, 80], "secretary_rate": [40, 40, 60, 80],
                   "township_budget_rate": [0, 20, 40, 60]},
        "2014H1": {"dues_rate": [100, 60, 70, 50], "secretary_rate": [100, 60, 40, 80],
                   "township_budget_rate": [100, 20, 40, 0]},
    }
    frames = [pd.DataFrame({"county_code": ["510101", "510102", "510103", "510104"], "period": p, **v})
              for p, v in rows.items()]
    wide = pd.concat(frames, ignore_index=True)
    wide["prefecture"] = wide["county_code"].map({"510101": "甲", "510102": "甲", "510103": "乙", "510104": "乙"})
    return wide


def test_ranking_table_by_hand():
    # reference = both half-years: dues 50–100, secretary 40–100, budget 0–100.  2014H1 scores:
    # dues 100, 20, 40, 0; secretary 100, 33.3, 0, 66.7; budget 100, 20, 40, 0.  Equal weights,
    # one indicator per domain → overall 100, 24.4, 26.7, 22.2 → ranks A, C, B, D.
    # 2011H2 overall: 0, 13.3, 37.8, 62.2 → change +100, +11.1, −11.1, −40.
    names = {"510101": "甲县", "510102": "乙县", "510103": "丙县", "510104": "丁县"}
    t = ix.ranking_table(_ranking_panel(), weights="equal", target=50.0, noise_sd=0.0, n_draws=20, names=names)
    assert t["county_code"].tolist() == ["510101", "510103", "510102", "510104"]
    assert t["county"].tolist() == ["甲县", "丙县", "乙县", "丁县"]
    assert t["prefecture"].tolist() == ["甲", "乙", "甲", "乙"]
    assert (t["period"] == "2014H1").all()
    assert t["overall"].tolist() == pytest.approx([100, 80 / 3, 220 / 9, 200 / 9])
    assert t["staffing"].tolist() == pytest.approx([100, 0, 100 / 3, 200 / 3])
    assert t["overall_change"].tolist() == pytest.approx([100, 80 / 3 - 340 / 9, 220 / 9 - 40 / 3, 200 / 9 - 560 / 9])
    assert t["vitality_change"].tolist() == pytest.approx([100, 0, 0, -60])
    assert t["grade"].astype(str).tolist() == ["优秀", "不合格", "不合格", "不合格"]
    # target 50: gaps −50, 23.3, 25.6, 27.8 → green, then yellow (10–30 behind)
    assert t["flag"].tolist() == ["green", "yellow", "yellow", "yellow"]
    assert t["rank"].tolist() == [1, 2, 3, 4]
    assert t["rank_label"].tolist() == ["第1名", "第2名", "第3名", "第4名"]
    assert set(t.attrs["labels_zh"]) == set(t.columns)
    assert t.attrs["labels_zh"]["rank_label"] == ix.RANKING_LABELS_ZH["rank_label"]


def test_ranking_table_long_input_noise_and_errors():
    wide = _ranking_panel()
    long_panel = wide.melt(id_vars=["county_code", "period", "prefecture"], var_name="indicator", value_name="value")
    names = dict.fromkeys(wide["county_code"], "x")
    a = ix.ranking_table(wide, weights="equal", noise_sd=0.0, n_draws=10, names=names)
    b = ix.ranking_table(long_panel, weights="equal", noise_sd=0.0, n_draws=10, names=names)
    pd.testing.assert_frame_equal(a, b)
    # 20 % noise: C, B and D are 4.4 points apart, so their intervals widen; A stays first
    noisy = ix.ranking_table(wide, weights="equal", noise_sd=0.2, n_draws=400, names=names)
    assert ((noisy["rank_low"] <= noisy["rank"]) & (noisy["rank"] <= noisy["rank_high"])).all()
    assert (noisy["rank_high"] > noisy["rank_low"]).any()
    assert noisy["rank_label"].iloc[0] == "第1名"
    wide_label = noisy[noisy["rank_high"] > noisy["rank_low"]].iloc[0]
    assert wide_label["rank_label"] == f"第{wide_label['rank_low']:.0f}–{wide_label['rank_high']:.0f}名"
    # the county-resampling scheme re-estimates the weights per draw; the point ranks do not move
    resampled = ix.ranking_table(wide, weights="equal", scheme="counties", n_draws=200, names=names)
    assert resampled["rank"].tolist() == a["rank"].tolist()
    assert ((resampled["rank_low"] <= resampled["rank"]) & (resampled["rank"] <= resampled["rank_high"])).all()
    # the ranking half-year without a baseline: changes need both ends of the window
    early = ix.ranking_table(wide, period="2011H2", change_window=("2010H2", "2011H2"), weights="equal",
                             noise_sd=0.0, n_draws=10, names=names)
    assert early["overall_change"].isna().all() and (early["period"] == "2011H2").all()
    with pytest.raises(IndexInputError, match="2009H1"):
        ix.ranking_table(wide, period="2009H1", weights="equal", names=names)
    with pytest.raises(IndexInputError, match="no values of the index indicators"):
        ix.ranking_table(wide.drop(columns=list(RANK_CODES)), names=names)


# --------------------------------------------------------------------------- roster


ROSTER = pd.DataFrame(
    [
        (2, 1, "510101", "优秀", "完成", "完成", "基本完成", "未完成", ""),
        (2, 1, "510102", "优秀", "完成", "完成", "完成", "完成", "完成"),
        (2, 1, "510103", "良好", None, None, None, None, None),
        (2, 1, "510104", "", "完成", "完成", "完成", "完成", "完成"),
        (2, 2, "510101", "合格", "基本完成", "基本完成", "基本完成", "基本完成", "基本完成"),
    ],
    columns=["round", "batch", "county_code", "grade", "task_1", "task_2", "task_3", "task_4", "task_5"],
)


def test_task_completion_rates():
    out = ix.task_completion(ROSTER).set_index(["batch", "county_code"])
    # 1 + 1 + 0.5 + 0 over 4 rated tasks (the blank is not rated) = 62.5 %
    assert out.at[(1, "510101"), "completion"] == pytest.approx(62.5)
    assert out.at[(1, "510101"), "n_rated"] == 4
    assert out.at[(1, "510102"), "completion"] == pytest.approx(100.0)
    assert math.isnan(out.at[(1, "510103"), "completion"])
    assert out.at[(2, "510101"), "completion"] == pytest.approx(50.0)
    custom = ix.task_completion(ROSTER, scoring={"完成": 1, "基本完成": 0.6, "未完成": 0})
    assert custom.iloc[0]["completion"] == pytest.approx(100 * 2.6 / 4)


def test_task_completion_unknown_rating_names_the_cell():
    bad = ROSTER.copy()
    bad.loc[3, "task_2"] = "已完成"
    with pytest.raises(IndexInputError, match=r"row 3, column 'task_2'.*已完成"):
        ix.task_completion(bad)


def test_grade_distribution():
    out = ix.grade_distribution(ROSTER).set_index(["batch", "grade"])
    assert out.loc[1, "n"].to_dict() == {"优秀": 2, "良好": 1, "合格": 0, "不合格": 0}
    assert out.loc[1, "share"].to_dict() == pytest.approx({"优秀": 200 / 3, "良好": 100 / 3, "合格": 0, "不合格": 0})
    assert out.loc[2, "share"].to_dict() == pytest.approx({"优秀": 0, "良好": 0, "合格": 100, "不合格": 0})
    with pytest.raises(IndexInputError, match="grade"):
        ix.grade_distribution(ROSTER.assign(grade="称职"))


# --------------------------------------------------------------------------- end to end


def test_from_raw_counts_to_grades_with_catalog_codes():
    """Raw form values → derived rates → scores → index → grade, every number by hand."""
    from analysis.indicators import derive

    raw = pd.DataFrame(
        [
            # county 1: 4 of 4 posts filled, 10 of 10 townships with a secretary
            ("510101", "2013H1", "posts_filled", 4), ("510101", "2013H1", "posts_authorized", 4),
            ("510101", "2013H1", "townships_with_secretary", 10), ("510101", "2013H1", "townships_total", 10),
            # county 2: 2 of 4 posts, 5 of 10 townships
            ("510102", "2013H1", "posts_filled", 2), ("510102", "2013H1", "posts_authorized", 4),
            ("510102", "2013H1", "townships_with_secretary", 5), ("510102", "2013H1", "townships_total", 10),
            # county 3: 3 of 4 posts, 0 of 10 townships
            ("510103", "2013H1", "posts_filled", 3), ("510103", "2013H1", "posts_authorized", 4),
            ("510103", "2013H1", "townships_with_secretary", 0), ("510103", "2013H1", "townships_total", 10),
        ],
        columns=["county_code", "period", "indicator", "value"],
    )
    derived = derive(raw, codes=["posts_fill_rate", "secretary_rate"])
    inputs = ix.index_inputs(derived)
    scores = ix.rescale(inputs, inputs)
    # fill rates 100, 50, 75 → 100, 0, 50; secretary rates 100, 50, 0 → 100, 50, 0
    out = ix.composite_index(scores, {"posts_fill_rate": 0.5, "secretary_rate": 0.5})
    staffing = out[out["index"] == "staffing"].sort_values("county_code")
    assert staffing["value"].tolist() == pytest.approx([100.0, 25.0, 25.0])
    graded = ix.grade(staffing)
    assert graded["grade"].tolist() == ["优秀", "不合格", "不合格"]
