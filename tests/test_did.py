"""Tests for analysis.did: hand-worked cases, the reference implementations csdid (port of R
``did``) and differences, a direct statsmodels dummy regression, and recovery of a planted effect.

Expected values are worked out by hand in the test or come from the independent packages, never
from this module's own output.
"""

from __future__ import annotations

import contextlib
import io
import warnings

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from analysis.did import (
    DIDError,
    aggte,
    att_gt,
    round_difference,
    simulate_did_panel,
    twfe_event_study,
)

Y, T, ID, G = "y", "period", "county", "first_treat"
AGG_TYPES = ["simple", "dynamic", "group", "calendar"]


def _ours(data, **kw):
    kw.setdefault("bstrap", False)
    kw.setdefault("cband", False)
    return att_gt(data, Y, T, ID, G, **kw)


# ---------------------------------------------------------------------------------------------
# Hand-worked example
# ---------------------------------------------------------------------------------------------


@pytest.fixture
def tiny():
    # 5 counties, 3 half-years.  A is treated from period 2, B from 3, C, D, E never.
    y = {
        "A": [1.0, 4.0, 6.0],
        "B": [2.0, 3.0, 7.0],
        "C": [0.0, 1.0, 2.0],
        "D": [1.0, 1.0, 3.0],
        "E": [3.0, 5.0, 6.0],
    }
    g = {"A": 2, "B": 3, "C": 0, "D": 0, "E": 0}
    rows = [
        {ID: i + 1, "name": k, T: t + 1, Y: v[t], G: g[k]}
        for i, (k, v) in enumerate(y.items())
        for t in range(3)
    ]
    return pd.DataFrame(rows)


def test_hand_worked_att_and_se(tiny):
    res = _ours(tiny, control_group="notyettreated")
    f = res.to_frame().set_index(["group", "time"])
    # ATT(2,2): A's change 1->2 is 3; comparisons not yet treated at 2: B(+1), C(+1), D(0), E(+2).
    assert f.loc[(2, 2), "att"] == pytest.approx(3 - (1 + 1 + 0 + 2) / 4, abs=1e-12)
    # ATT(2,3): base period 1, A changes by 5; comparisons C(+2), D(+2), E(+3) (B treated at 3).
    assert f.loc[(2, 3), "att"] == pytest.approx(5 - 7 / 3, abs=1e-12)
    # ATT(3,2) (pre-period, varying base 1->2): B +1 vs C, D, E not yet treated: +1, 0, +2.
    assert f.loc[(3, 2), "att"] == pytest.approx(1 - 1, abs=1e-12)
    # ATT(3,3): base 2, B changes by 4; comparisons C(+1), D(+2), E(+1) (A already treated).
    assert f.loc[(3, 3), "att"] == pytest.approx(4 - 4 / 3, abs=1e-12)
    # With one treated unit its own term of the influence function is 0, so the variance is the
    # comparison units' population variance over their count: se^2 = var0 / n0.
    controls = np.array([2.0, 2.0, 3.0])
    assert f.loc[(2, 3), "se"] == pytest.approx(np.sqrt(controls.var() / 3), rel=1e-12)
    controls = np.array([1.0, 1.0, 0.0, 2.0])
    assert f.loc[(2, 2), "se"] == pytest.approx(np.sqrt(controls.var() / 4), rel=1e-12)


def test_hand_worked_simple_aggregation(tiny):
    res = _ours(tiny, control_group="nevertreated")
    f = res.to_frame().set_index(["group", "time"])
    att22 = 3 - 1.0  # never treated C, D, E: changes 1, 0, 2
    att23 = 5 - 7 / 3
    att33 = 4 - 4 / 3
    assert f.loc[(2, 2), "att"] == pytest.approx(att22)
    # Simple: post cells weighted by cohort size (one county each): (att22 + att23 + att33) / 3.
    simple = aggte(res, "simple", bstrap=False)
    assert simple.overall_att == pytest.approx((att22 + att23 + att33) / 3, abs=1e-12)
    # Group: cohort 2 = mean(att22, att23); cohort 3 = att33; overall weights 1:1.
    grp = aggte(res, "group", bstrap=False, cband=False)
    assert grp.att == pytest.approx([(att22 + att23) / 2, att33])
    assert grp.overall_att == pytest.approx(((att22 + att23) / 2 + att33) / 2)


# ---------------------------------------------------------------------------------------------
# Against csdid (Python port of R did) and differences
# ---------------------------------------------------------------------------------------------


def _csdid(data, control_group, base_period, anticipation=0, clustervar=None, xformla=None):
    from csdid.att_gt import ATTgt

    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        return ATTgt(
            Y, T, ID, G, data, control_group=control_group, anticipation=anticipation, clustervar=clustervar,
            xformla=None if xformla is None else f"{Y} {xformla}",
        ).fit(est_method="reg", base_period=base_period, bstrap=False)


def _csdid_agg(fit, typec, **kw):
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        fit.aggte(typec=typec, bstrap=False, cband=False, **kw)
    a = fit.atte
    keys = None if typec == "simple" else pd.DataFrame(
        {"key": np.asarray(a["egt"], float), "att": np.asarray(a["att_egt"], float), "se": np.ravel(a["se_egt"])}
    )
    return a["overall_att"], a["overall_se"], keys


def _compare_cells(ours, ref):
    theirs = pd.DataFrame(
        {"group": ref.results["group"], "time": ref.results["year"], "att_ref": ref.results["att"], "se_ref": ref.results["se"]}
    ).astype(float)
    mine = ours.to_frame().query("estimable")
    m = mine.merge(theirs, on=["group", "time"], how="inner")
    assert len(m) == len(theirs), "every csdid cell must exist here"
    np.testing.assert_allclose(m["att"], m["att_ref"], atol=1e-8, rtol=0)
    both = m["se_ref"].notna()
    assert m.loc[~both, "se"].isna().all()  # universal-base reference cells: no SE in either
    np.testing.assert_allclose(m.loc[both, "se"], m.loc[both, "se_ref"], rtol=1e-6)
    return mine


def _compare_aggregations(ours, ref, types=AGG_TYPES, **dyn):
    for typ in types:
        kw = dyn if typ == "dynamic" else {}
        a = aggte(ours, typ, bstrap=False, cband=False, **kw)
        ov, ov_se, keys = _csdid_agg(ref, typ, **kw)
        assert a.overall_att == pytest.approx(ov, abs=1e-8), typ
        assert a.overall_se == pytest.approx(ov_se, rel=1e-6), typ
        if keys is not None:
            np.testing.assert_array_equal(a.keys.astype(float), keys["key"].to_numpy())
            np.testing.assert_allclose(a.att, keys["att"], atol=1e-8, rtol=0, err_msg=typ)
            ok = np.isfinite(keys["se"].to_numpy())
            np.testing.assert_allclose(a.se[ok], keys["se"].to_numpy()[ok], rtol=1e-6, err_msg=typ)


@pytest.fixture(scope="module")
def panel():
    return simulate_did_panel(n_units=150, n_periods=7, cohorts=(3, 4, 5), never_share=0.2, cohort_effect=0.3, seed=11)


@pytest.mark.parametrize("control_group", ["notyettreated", "nevertreated"])
@pytest.mark.parametrize("base_period", ["varying", "universal"])
def test_matches_csdid(panel, control_group, base_period):
    ours = _ours(panel, control_group=control_group, base_period=base_period)
    ref = _csdid(panel, control_group, base_period)
    _compare_cells(ours, ref)
    _compare_aggregations(ours, ref)
    assert ours.pretrend.statistic == pytest.approx(ref.MP["W"], rel=1e-8)
    assert ours.pretrend.pvalue == pytest.approx(ref.MP["Wpval"], abs=1e-5)  # did rounds to 5 digits


def test_matches_csdid_with_anticipation_and_clusters():
    data = simulate_did_panel(n_units=160, n_periods=8, cohorts=(3, 4, 5, 6), never_share=0.2, n_clusters=12, seed=4)
    ours = _ours(data, anticipation=1)
    _compare_aggregations(ours, _csdid(data, "notyettreated", "varying", anticipation=1))
    _compare_cells(ours, _csdid(data, "notyettreated", "varying", anticipation=1))
    clustered = _ours(data, clustervars="prefecture")
    ref = _csdid(data, "notyettreated", "varying", clustervar="prefecture")
    _compare_cells(clustered, ref)
    _compare_aggregations(clustered, ref)


def test_matches_csdid_event_windows(panel):
    ours = _ours(panel, control_group="notyettreated")
    ref = _csdid(panel, "notyettreated", "varying")
    _compare_aggregations(ours, ref, types=["dynamic"], balance_e=2)
    _compare_aggregations(ours, ref, types=["dynamic"], min_e=-2, max_e=2)


def test_matches_differences_package(panel):
    from differences import ATTgt

    ours = _ours(panel, control_group="notyettreated")
    df = panel.assign(cohort=panel[G].replace(0, np.nan)).set_index([ID, T])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        m = ATTgt(df, cohort_column="cohort", base_period="varying")
        m.fit(Y, control_group="not_yet_treated", progress_bar=False)
        for typ, theirs in [("dynamic", "event"), ("group", "cohort"), ("calendar", "time")]:
            a = aggte(ours, typ, bstrap=False, cband=False)
            x = m.aggregate(theirs)
            np.testing.assert_allclose(a.att, x.iloc[:, 0], atol=1e-8, rtol=0)
            np.testing.assert_allclose(a.se, x.iloc[:, 1], rtol=1e-6)
            ov = m.aggregate(theirs, overall=True)
            assert a.overall_att == pytest.approx(ov.iloc[0, 0], abs=1e-8)
            assert a.overall_se == pytest.approx(ov.iloc[0, 1], rel=1e-6)
        cells = m.results()
    att_ref = cells.iloc[:, 0].to_numpy()
    mine = ours.to_frame().sort_values(["group", "time"])
    np.testing.assert_allclose(mine["att"], att_ref, atol=1e-8, rtol=0)


# ---------------------------------------------------------------------------------------------
# No never-treated units (round 2)
# ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def all_treated():
    return simulate_did_panel(n_units=120, n_periods=8, cohorts=(3, 4, 5, 6), never_share=0.0, seed=2)


def test_no_never_treated_reports_non_estimable_cells(all_treated):
    ours = _ours(all_treated, control_group="notyettreated")
    ne = ours.not_estimable
    # From period 6 everyone is treated, so no cell at t >= 6 has comparisons; the last cohort's
    # placebo cell at t = 5 has none either (cohort 6 is the only one untreated by 5).
    expected = {(g, t) for g in (3, 4, 5, 6) for t in (6, 7, 8)} | {(6, 5)}
    assert set(zip(ne["group"], ne["time"])) == expected
    assert (ne["n_control"] == 0).all()
    assert "no comparison units" in ne["reason"].iloc[0]
    frame = ours.to_frame()
    assert frame.loc[~frame["estimable"], "att"].isna().all()
    assert "not estimable" in ours.summary()


def test_no_never_treated_matches_did_convention(all_treated):
    ours = _ours(all_treated, control_group="notyettreated")
    ref = _csdid(all_treated, "notyettreated", "varying")
    _compare_cells(ours, ref)
    # Post-treatment aggregations use the same cells as did.
    _compare_aggregations(ours, ref, types=["simple", "group", "calendar"])
    # did leaves the last cohort out entirely; we keep its pre-period (placebo) cells.  Dropping
    # them reproduces did's event study exactly, pre-periods included.
    did_like = ours.select_cells(ours.group < 6)
    _compare_aggregations(did_like, ref, types=["dynamic"])
    assert did_like.pretrend.statistic == pytest.approx(ref.MP["W"], rel=1e-8)


def test_nevertreated_without_never_treated_is_an_error(all_treated):
    with pytest.raises(DIDError, match="notyettreated"):
        _ours(all_treated, control_group="nevertreated")


# ---------------------------------------------------------------------------------------------
# Bootstrap, bands, pre-trend test
# ---------------------------------------------------------------------------------------------


def test_bootstrap_se_close_to_analytic_and_reproducible(panel):
    a = att_gt(panel, Y, T, ID, G, biters=2999, seed=3)
    b = att_gt(panel, Y, T, ID, G, biters=2999, seed=3)
    np.testing.assert_array_equal(a.se, b.se)
    # IQR-based bootstrap SEs estimate the same quantity as the analytic ones.
    np.testing.assert_allclose(a.se, a.se_analytic, rtol=0.12)
    z = stats.norm.ppf(0.975)
    # A simultaneous band over 18 cells is wider than pointwise, narrower than Bonferroni.
    assert z < a.crit_val < stats.norm.ppf(1 - 0.025 / len(a.att))
    f = a.to_frame()
    assert (f["band_high"] - f["band_low"] > f["ci_high"] - f["ci_low"]).all()


def test_clustered_bootstrap_uses_cluster_level_variation():
    data = simulate_did_panel(n_units=200, n_periods=6, cohorts=(3, 4), never_share=0.3, n_clusters=15, seed=8)
    res = att_gt(data, Y, T, ID, G, clustervars="prefecture", biters=2999, seed=1)
    agg = aggte(res, "simple", biters=2999, seed=2)
    assert agg.overall_se == pytest.approx(agg.overall_se_analytic, rel=0.15)
    with pytest.raises(DIDError, match="re-run att_gt"):
        aggte(att_gt(data, Y, T, ID, G, bstrap=False), "simple", clustervars="prefecture")


def test_pretrend_wald_matches_direct_formula(panel):
    res = _ours(panel, control_group="nevertreated")
    pre = res.group > res.time
    a = res.att[pre]
    psi = res.inffunc[:, pre]
    n = psi.shape[0]
    cov = psi.T @ psi / n**2  # covariance of the pre-period estimates
    w = a @ np.linalg.inv(cov) @ a
    assert res.pretrend.statistic == pytest.approx(w, rel=1e-10)
    assert res.pretrend.df == pre.sum()
    assert res.pretrend.pvalue == pytest.approx(stats.chi2.sf(w, pre.sum()), rel=1e-10)


def test_recovers_planted_dynamic_effects():
    # Effect 1 + 0.5 e after treatment, 0 before; homogeneous across cohorts, so the event-study
    # truth does not depend on the cohort weights.
    data = simulate_did_panel(n_units=600, n_periods=8, cohorts=(3, 4, 5, 6), never_share=0.2, seed=21)
    res = att_gt(data, Y, T, ID, G, biters=999, seed=5)
    dyn = aggte(res, "dynamic", seed=6)
    f = dyn.to_frame().query("level == 'event_time'")
    truth = np.where(f["key"] >= 0, 1 + 0.5 * f["key"], 0.0)
    assert ((f["band_low"] <= truth) & (truth <= f["band_high"])).all()
    assert (np.abs(f["att"] - truth) < 4 * f["se"]).all()
    assert dyn.overall_att == pytest.approx(np.mean(1 + 0.5 * np.arange(6)), abs=4 * dyn.overall_se)
    assert res.pretrend.pvalue > 0.001


# ---------------------------------------------------------------------------------------------
# TWFE event study
# ---------------------------------------------------------------------------------------------


def _event_dummies(data: pd.DataFrame, event_times) -> tuple[pd.DataFrame, list[str]]:
    """``data`` plus one 0/1 column per event time (``e_m2``, ``e_0``, …; never treated: all 0)."""
    dd = data.copy()
    e = np.where(dd[G] > 0, dd[T] - dd[G], -999)
    names = []
    for k in event_times:
        name = f"e_{'m' if k < 0 else ''}{abs(k)}"
        dd[name] = (e == k).astype(float)
        names.append(name)
    return dd, names


@pytest.mark.parametrize("cluster", [None, "prefecture"])
def test_twfe_equals_dummy_regression(cluster):
    import statsmodels.formula.api as smf

    data = simulate_did_panel(n_units=50, n_periods=6, cohorts=(3, 4, 5), never_share=0.2, n_clusters=8, seed=5)
    tw = twfe_event_study(data, Y, T, ID, G, ref=-1, cluster=cluster).to_frame()
    est = tw.query("not reference")
    dd, names = _event_dummies(data, est["event_time"])
    fit = smf.ols(f"{Y} ~ {' + '.join(names)} + C({ID}) + C({T})", dd).fit(
        cov_type="cluster", cov_kwds={"groups": dd[cluster or ID]}
    )
    np.testing.assert_allclose(est["estimate"], fit.params[names], atol=1e-8, rtol=0)
    np.testing.assert_allclose(est["se"], fit.bse[names], rtol=1e-6)
    np.testing.assert_allclose(est["ci_low"], fit.conf_int().loc[names, 0], atol=1e-8, rtol=0)
    assert tw.loc[tw["reference"], "event_time"].tolist() == [-1]


@pytest.mark.slow  # importing pyfixest (numba) takes a few seconds
def test_twfe_points_match_pyfixest():
    import pyfixest as pf

    data = simulate_did_panel(n_units=40, n_periods=6, cohorts=(3, 4), never_share=0.25, seed=9)
    tw = twfe_event_study(data, Y, T, ID, G).to_frame().query("not reference")
    dd, names = _event_dummies(data, tw["event_time"])
    fit = pf.feols(f"{Y} ~ {' + '.join(names)} | {ID} + {T}", dd, vcov={"CRV1": ID})
    np.testing.assert_allclose(tw["estimate"], fit.coef()[names], atol=1e-8, rtol=0)


def test_twfe_without_never_treated_drops_a_second_reference(all_treated):
    with pytest.warns(UserWarning, match="also omitted"):
        tw = twfe_event_study(all_treated, Y, T, ID, G)
    assert tw.to_frame().query("reference")["event_time"].tolist() == [-5, -1]
    assert np.isfinite(tw.to_frame().query("not reference")["se"]).all()


# ---------------------------------------------------------------------------------------------
# Round comparison
# ---------------------------------------------------------------------------------------------


def test_round_difference_same_counties_shifted_effect(panel):
    # Round 2 = round 1 plus 0.7 for treated county-periods: every post ATT(g,t) shifts by exactly
    # 0.7 and the counties' influence functions are identical in both rounds, so the jointly
    # resampled difference has no sampling variation at all.
    r2 = panel.assign(y=panel[Y] + 0.7 * ((panel[G] > 0) & (panel[T] >= panel[G])))
    out = round_difference(panel, r2, Y, T, ID, G, type="simple", biters=199, seed=1)
    assert out.diff == pytest.approx(0.7, abs=1e-10)
    assert out.se_analytic == pytest.approx(0.0, abs=1e-10)
    assert out.n_common == 150


def test_round_difference_disjoint_units_adds_variances(panel, all_treated):
    # With no county in common the two estimates are independent: se^2 = se1^2 + se2^2.
    r2 = all_treated.assign(county=all_treated[ID] + 10_000)
    out = round_difference(panel, r2, Y, T, ID, G, type="dynamic", biters=3999, seed=2)
    a1 = aggte(_ours(panel), "dynamic", bstrap=False, cband=False)
    a2 = aggte(_ours(r2), "dynamic", bstrap=False, cband=False)
    assert out.diff == pytest.approx(a2.overall_att - a1.overall_att, abs=1e-12)
    assert out.se_analytic == pytest.approx(np.hypot(a1.overall_se, a2.overall_se), rel=1e-10)
    assert out.se == pytest.approx(out.se_analytic, rel=0.1)
    assert out.to_frame().loc[0, "n_common"] == 0


# ---------------------------------------------------------------------------------------------
# Input checks
# ---------------------------------------------------------------------------------------------


def test_bad_options_are_named(panel):
    with pytest.raises(DIDError, match="control_group='never'"):
        _ours(panel, control_group="never")
    with pytest.raises(DIDError, match="base_period"):
        _ours(panel, base_period="fixed")
    with pytest.raises(DIDError, match="not in data"):
        _ours(panel, xformla="~ x")
    with pytest.raises(DIDError, match="plain column names"):
        _ours(panel, xformla="~ prefecture * period")
    with pytest.raises(DIDError, match="type"):
        aggte(_ours(panel), "event")


def test_unbalanced_units_are_dropped_with_warning(panel):
    holey = panel.drop(panel.index[(panel[ID] == 7) & (panel[T] == 4)])
    with pytest.warns(UserWarning, match=r"dropped 1 unit.*\[7\]"):
        res = _ours(holey)
    assert 7 not in res.unit_ids and res.n_units == 149
    assert res.dropped_units["unbalanced_or_missing_outcome"] == [7]


def test_units_treated_in_the_first_period_are_dropped_with_warning(panel):
    early = panel.assign(**{G: np.where(panel[ID] == 7, 1, panel[G])})  # periods are 1..7
    with pytest.warns(UserWarning) as caught:
        res = att_gt(early, Y, T, ID, G, bstrap=False, cband=False)
    assert [str(w.message) for w in caught] == [
        "att_gt: dropped 1 unit(s) already treated in the first period 1 (first: [7]); "
        "they have no untreated period to compare."
    ]
    assert caught[0].filename == __file__  # the warning names the caller of att_gt
    assert 7 not in res.unit_ids and res.n_units == 149
    assert res.dropped_units == {"treated_in_first_period": [7]}


def test_structural_errors(panel):
    with pytest.raises(DIDError, match="duplicated"):
        _ours(pd.concat([panel, panel.head(1)]))
    bad = panel.copy()
    bad.loc[bad.index[0], G] = 5
    with pytest.raises(DIDError, match="varies within unit"):
        _ours(bad)
    with pytest.raises(DIDError, match="not in data"):
        att_gt(panel, "outcome", T, ID, G)


def test_pretrend_with_dependent_placebo_cells_uses_generalised_inverse():
    # Three cohorts, nobody never treated: ATT(4,3) compares cohort 4 with cohort 5 and ATT(5,3)
    # cohort 5 with cohort 4, so ATT(5,3) = -ATT(4,3) exactly and the covariance is singular.
    data = simulate_did_panel(n_units=120, n_periods=6, cohorts=(3, 4, 5), never_share=0.0, seed=2)
    res = _ours(data)
    f = res.to_frame().set_index(["group", "time"])
    assert f.loc[(5, 3), "att"] == pytest.approx(-f.loc[(4, 3), "att"], abs=1e-12)
    pre = res.group > res.time
    v = res.inffunc[:, pre].T @ res.inffunc[:, pre] / res.n_units
    rank = np.linalg.matrix_rank(v)
    w = res.n_units * res.att[pre] @ np.linalg.pinv(v) @ res.att[pre]
    assert rank == pre.sum() - 1
    assert res.pretrend.df == rank
    assert res.pretrend.statistic == pytest.approx(w, rel=1e-6)
    assert "linearly dependent" in res.pretrend.note


def test_recovers_planted_effects_without_never_treated():
    # Round-2-like: every county treated in one of four batches.  Event times 0..2 are estimable.
    data = simulate_did_panel(n_units=600, n_periods=8, cohorts=(3, 4, 5, 6), never_share=0.0, seed=22)
    res = att_gt(data, Y, T, ID, G, biters=999, seed=7)
    dyn = aggte(res, "dynamic", min_e=0, seed=8)
    f = dyn.to_frame().query("level == 'event_time'")
    assert f["key"].tolist() == [0, 1, 2]
    truth = 1 + 0.5 * f["key"].to_numpy(dtype=float)
    assert ((f["band_low"] <= truth) & (truth <= f["band_high"])).all()


# ---------------------------------------------------------------------------------------------
# Covariates (outcome regression)
# ---------------------------------------------------------------------------------------------


def _with_covariate_trends(n_units, seed):
    """Panel whose untreated trend depends on covariates that differ by cohort."""
    data = simulate_did_panel(n_units=n_units, n_periods=7, cohorts=(3, 4, 5), never_share=0.2, seed=seed)
    rng = np.random.default_rng(seed)
    g = data.groupby(ID)[G].first().to_numpy()
    x1 = rng.normal(size=n_units) + 1.0 * (g == 3)  # the first batch has higher x1 ...
    x2 = (rng.random(n_units) < np.where(g == 0, 0.7, 0.3)).astype(float)
    data["x1"] = np.repeat(x1, 7)
    data["x2"] = np.repeat(x2, 7)
    # ... and x1, x2 shift the trend, so unconditional parallel trends fail, conditional hold.
    data[Y] = data[Y] + (0.5 * data["x1"] + 0.3 * data["x2"]) * data[T]
    # A time-varying covariate, as did allows (values of the earlier period are used).
    data["x3"] = data["x1"] + 0.1 * data[T] * rng.normal(size=len(data))
    return data


@pytest.mark.parametrize("control_group,base_period,xformla", [
    ("notyettreated", "varying", "~ x1 + x2"),
    ("nevertreated", "universal", "~ x1 + x2"),
    ("notyettreated", "universal", "~ x3 + x2"),
])
def test_covariates_match_csdid_outcome_regression(control_group, base_period, xformla):
    data = _with_covariate_trends(200, seed=4)
    ours = _ours(data, control_group=control_group, base_period=base_period, xformla=xformla)
    ref = _csdid(data, control_group, base_period, xformla=xformla)
    _compare_cells(ours, ref)
    _compare_aggregations(ours, ref)


def test_covariates_remove_confounded_trends():
    data = _with_covariate_trends(1500, seed=31)
    truth = att_gt(data.assign(**{Y: data["true_effect"]}), Y, T, ID, G, bstrap=False, cband=False)
    true_simple = aggte(truth, "simple", bstrap=False).overall_att
    cond = aggte(_ours(data, xformla="~ x1 + x2"), "simple", bstrap=False)
    uncond = aggte(_ours(data), "simple", bstrap=False)
    assert abs(cond.overall_att - true_simple) < 3 * cond.overall_se
    assert abs(uncond.overall_att - true_simple) > 3 * uncond.overall_se


def test_singular_covariate_regression_is_reported():
    data = _with_covariate_trends(200, seed=4)
    # A covariate equal to 1 only for one cohort-3 county: the comparison regression has a
    # column of zeros for every cell, so no cell is estimable with it.
    data["only_one"] = (data[ID] == data.loc[data[G] == 3, ID].iloc[0]).astype(float)
    with pytest.warns(UserWarning, match="singular"):
        res = att_gt(data, Y, T, ID, G, xformla="~ x1 + only_one", bstrap=False, cband=False)
    ne = res.not_estimable
    assert len(ne) > 0 and ne["reason"].str.contains("singular").all()


# ---------------------------------------------------------------------------------------------
# Exactness and invariance
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("never_share", [0.2, 0.0])
def test_noise_free_panel_gives_planted_effects_exactly(never_share):
    # Without noise, parallel trends hold exactly, so every ATT(g,t) equals the planted effect
    # 1 + 0.5 e + 0.5 * (batch index) after treatment and 0 before, to rounding error.
    data = simulate_did_panel(n_units=80, n_periods=8, cohorts=(3, 4, 5, 6), never_share=never_share,
                              cohort_effect=0.5, noise_sd=0.0, seed=3)
    f = _ours(data).to_frame().query("estimable")
    batch = f["group"] - 3
    planted = np.where(f["event_time"] >= 0, 1 + 0.5 * f["event_time"] + 0.5 * batch, 0.0)
    np.testing.assert_allclose(f["att"], planted, atol=1e-10, rtol=0)
    # The TWFE event study on the same data is not exact: with effects that grow and differ by
    # batch, already-treated batches act as controls and bias the later event times.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the second reference period when nobody is never treated
        tw = twfe_event_study(data, Y, T, ID, G).to_frame().set_index("event_time")
    dyn = aggte(_ours(data), "dynamic", bstrap=False, cband=False)
    e2 = dyn.att[list(dyn.keys).index(2)]
    assert abs(tw.loc[2, "estimate"] - e2) > 0.05
    # ... and shows spurious pre-trends although trends are exactly parallel.
    assert abs(tw.loc[-2, "estimate"]) > 0.05


def test_invariant_to_unit_and_period_shifts_and_scales_linearly(panel):
    from hypothesis import given, settings
    from hypothesis import strategies as st

    base = _ours(panel)
    units = panel[ID].to_numpy()
    periods = panel[T].to_numpy()

    @settings(max_examples=15, deadline=None)
    @given(
        unit_shift=st.floats(-50, 50),
        period_slope=st.floats(-5, 5),
        scale=st.floats(0.1, 10) | st.floats(-10, -0.1),
    )
    def check(unit_shift, period_slope, scale):
        # Unit-specific levels and common period shocks are differenced away; rescaling the
        # outcome rescales effects by the factor and standard errors by its absolute value.
        y = scale * panel[Y].to_numpy() + unit_shift * np.sin(units) + period_slope * periods**2
        res = _ours(panel.assign(**{Y: y}))
        np.testing.assert_allclose(res.att, scale * base.att, atol=1e-8 * (1 + abs(scale)), rtol=1e-9)
        np.testing.assert_allclose(res.se, abs(scale) * base.se, rtol=1e-7)

    check()


def test_an_outcome_that_is_not_numeric_is_refused_not_coerced(tiny):
    # a text outcome ("约3") must stop the estimate, not silently become a missing value that
    # drops its county from the balanced panel
    bad = tiny.astype({Y: object})
    bad.loc[0, Y] = "约3"
    with pytest.raises(ValueError):
        att_gt(bad, yname=Y, tname=T, idname=ID, gname=G, bstrap=False)
