"""Descriptive comparison of the two rounds: change per county over each round's window.

For every base county and indicator this module measures the change over each round's windows
(:data:`analysis.design.CHANGE_WINDOWS`: last half-year before the round to the half-year of
the round's end, and to half a year after the end), takes
round-2 change minus round-1 change, and tests across counties whether the rounds differed:
paired t-test and Wilcoxon signed-rank test (:mod:`scipy.stats`), McNemar's test for the 是/否
standards (:func:`statsmodels.stats.contingency_tables.mcnemar`), effect sizes with confidence
intervals, and Benjamini–Hochberg across the indicator family.  These are *descriptive*: the
change of a round includes everything else that happened in those years (a province-wide trend,
the after-effects of round 1 in round 2's baseline).  The causal estimates are in
:mod:`analysis.evaluate`.

Formulas (n counties with both changes, D_i = change_r2,i − change_r1,i):

* paired t: ``t = mean(D) / (sd(D) / √n)``, df = n − 1 (``scipy.stats.ttest_rel``);
* Cohen's d_z = mean(D) / sd(D) (sd with n − 1); its CI inverts the noncentral t: the limits
  λ with ``P(T(df, λ) ≤ t) = 1 − α/2`` and ``α/2``, divided by √n (exact under normality);
* Hedges' g (average-variance standardiser, Cumming 2012): ``d_av = mean(D) / √((s1² + s2²)/2)``,
  ``g = J · d_av`` with ``J = 1 − 3 / (4(n − 1) − 1)``; ``Var(d_av) = (1/n + d_av²/(2n)) · 2(1 − r)``
  with r the correlation of the two rounds' changes (Borenstein et al. 2009, eq. 4.28),
  ``SE(g) = J · √Var``, CI ``g ± z · SE(g)``;
* Wilcoxon signed-rank on D (zeros dropped, as ``scipy.stats.wilcoxon`` by default), exact
  p-value up to 50 non-zero differences without ties, else the normal approximation;
* McNemar on the 2×2 table of a standard's status at the start and end of a window, exact
  binomial p-value on the discordant pairs b (否→是) and c (是→否).
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd
from scipy import optimize, special, stats
from statsmodels.stats.contingency_tables import mcnemar
from statsmodels.stats.multitest import multipletests

from analysis.catalog import load_catalog
from analysis.design import CHANGE_WINDOWS, period_index
from analysis.reference import base_units

__all__ = [
    "CompareError",
    "CHANGE_WINDOWS",
    "STANDARDS",
    "round_changes",
    "round_contrast",
    "paired_effect",
    "paired_tests",
    "standard_tests",
    "county_groups",
    "compare_rounds",
]

GROUPINGS: tuple[str | None, ...] = (None, "group_three", "prefecture_name", "unit_type",
                                     "sending_level_r1", "sending_level_r2")
"""Groupings of :func:`compare_rounds` (None = all counties together)."""

STANDARDS: tuple[str, ...] = ("std_funds_per_youth", "std_liaison", "std_attends", "std_assessment")
"""是/否 policy standards tested with McNemar (人均经费 ≥ 0.5 元 and the three 党建带团建 items)."""


class CompareError(ValueError):
    """The panel or options cannot give the comparison; the message names the fix."""


def _long(panel: pd.DataFrame, indicators: Iterable[str] | None) -> pd.DataFrame:
    key = "base_code" if "base_code" in panel.columns else "county_code"
    if key not in panel.columns or "period" not in panel.columns:
        raise CompareError("compare: the panel needs base_code (or county_code) and period; pass "
                           "analysis.design.to_base_panel(panel).")
    if "indicator" in panel.columns and "value" in panel.columns:
        long = panel[[key, "period", "indicator", "value"]]
    else:
        cat = load_catalog()
        cols = [c for c in panel.columns if c in cat.index]
        if indicators is not None:  # melt only what is asked for
            wanted = set(indicators)
            cols = [c for c in cols if c in wanted]
        long = panel.melt(id_vars=[key, "period"], value_vars=cols, var_name="indicator", value_name="value")
    long = long.rename(columns={key: "base_code"})
    if indicators is not None:
        wanted = list(indicators)
        absent = sorted(set(wanted) - set(long["indicator"].unique()))
        if absent:
            raise CompareError(f"compare: indicator(s) {absent} are not in the panel.")
        long = long[long["indicator"].isin(wanted)]
    dup = long.duplicated(["base_code", "period", "indicator"])
    if dup.any():
        raise CompareError("compare: several rows per base county, period and indicator; fold split "
                           "counties first with analysis.design.to_base_panel.")
    return long


def round_changes(
    panel: pd.DataFrame,
    indicators: Iterable[str] | None = None,
    windows: dict[int, dict[str, tuple[str, str]]] | None = None,
) -> pd.DataFrame:
    """Change of each indicator per base county over each round's windows.

    Parameters
    ----------
    panel : DataFrame
        Base-unit panel, wide (``base_code, period`` + one column per indicator, as
        :func:`analysis.design.to_base_panel` returns) or long (``indicator, value``).
    indicators : iterable of str, optional
        Default every catalog indicator in the panel.
    windows : dict, optional
        ``{round: {window: (from_period, to_period)}}``; default :data:`CHANGE_WINDOWS`.

    Returns
    -------
    DataFrame, long: ``base_code, indicator, round, window, from_period, to_period, value_from,
    value_to, change`` (change = value_to − value_from, in the indicator's unit; percentage
    points for rates).  Missing when either end is missing (e.g. round-2-only items in round 1).
    """
    long = _long(panel, indicators)
    wide = long.pivot(index=["base_code", "indicator"], columns="period", values="value")
    out = []
    for rnd, wins in (windows or CHANGE_WINDOWS).items():
        for win, (p0, p1) in wins.items():
            period_index(p0), period_index(p1)  # checks the labels
            v0 = wide[p0] if p0 in wide.columns else pd.Series(np.nan, index=wide.index)
            v1 = wide[p1] if p1 in wide.columns else pd.Series(np.nan, index=wide.index)
            f = pd.DataFrame({"value_from": v0, "value_to": v1}).reset_index()
            f.insert(2, "round", int(rnd))
            f.insert(3, "window", win)
            f.insert(4, "from_period", p0)
            f.insert(5, "to_period", p1)
            f["change"] = f["value_to"] - f["value_from"]
            out.append(f)
    return pd.concat(out, ignore_index=True)


def round_contrast(changes: pd.DataFrame) -> pd.DataFrame:
    """Round-2 change minus round-1 change, per base county, indicator and window.

    Parameters
    ----------
    changes : DataFrame
        :func:`round_changes` output.

    Returns
    -------
    DataFrame: ``base_code, indicator, window, change_r1, change_r2, diff`` (diff = change_r2 −
    change_r1, indicator units).
    """
    w = changes.pivot_table(index=["base_code", "indicator", "window"], columns="round", values="change",
                            aggfunc="first", dropna=False)
    for r in (1, 2):
        if r not in w.columns:
            w[r] = np.nan
    out = pd.DataFrame({"change_r1": w[1], "change_r2": w[2]}).reset_index()
    out["diff"] = out["change_r2"] - out["change_r1"]
    return out


def _dz_interval(t: float, n: int, alpha: float) -> tuple[float, float]:
    """CI of d_z by inverting the noncentral t distribution of t = d_z·√n (df = n − 1)."""
    df = n - 1
    if not np.isfinite(t) or n < 3:
        return np.nan, np.nan

    # the sd of t around λ is about √(1 + t²/(2 df)); search within 8 of them (nct.cdf loses
    # precision far out in the tail)
    span = 8.0 * np.sqrt(1 + t**2 / (2 * df))

    def root(p: float) -> float:
        # scipy.special.nctdtr is the CDF behind stats.nct.cdf without its argument checks, which
        # took ~90 % of the time of ~15 calls per root × 2 roots × ~2,400 comparisons
        f = lambda lam: special.nctdtr(df, lam, t) - p  # noqa: E731
        return optimize.brentq(f, t - span, t + span, xtol=1e-10)

    try:
        lo, hi = root(1 - alpha / 2), root(alpha / 2)
    except ValueError:
        # large samples with huge t: the normal approximation SE = √(1/n + d²/(2n)) is then exact
        # to many digits
        d = t / np.sqrt(n)
        se = np.sqrt(1 / n + d**2 / (2 * n))
        z = stats.norm.ppf(1 - alpha / 2)
        return d - z * se, d + z * se
    return lo / np.sqrt(n), hi / np.sqrt(n)


@functools.cache
def _signed_rank_null(n: int) -> np.ndarray:
    """Exact null distribution of the Wilcoxon signed-rank sum W+ for n differences without ties:
    ``pmf[k] = P(W+ = k)``, k = 0 … n(n+1)/2 (each rank enters with probability ½)."""
    counts = np.zeros(n * (n + 1) // 2 + 1)
    counts[0] = 1.0
    for rank in range(1, n + 1):  # subsets of {1..n} by their sum, one rank at a time
        counts[rank:] = counts[rank:] + counts[:-rank].copy()
    return counts / 2.0**n


def signed_rank(d: np.ndarray) -> tuple[float, float]:
    """Two-sided Wilcoxon signed-rank test of the differences ``d`` (finite, not all zero).

    As ``scipy.stats.wilcoxon(d, method=…)`` with zeros dropped (``zero_method="wilcox"``): the
    statistic is min(W+, W−) of the average ranks of |d|; the p-value is exact (scipy's
    ``method="exact"``: ``2·min(P(W+ ≤ w), P(W+ ≥ w))``, at most 1) up to 50 non-zero differences
    without ties, else the normal approximation without continuity correction
    (``method="approx"``: mean n(n+1)/4, variance (n(n+1)(2n+1) − Σ(t³ − t)/2)/24 over tie
    groups of size t).  tests/test_compare.py checks both against scipy on random samples.
    """
    nz = d[d != 0]
    n = nz.size
    mag = np.abs(nz)
    order = np.argsort(mag, kind="stable")
    sorted_mag = mag[order]
    # average ranks: the tie groups are runs of equal magnitudes in sorted order
    starts = np.flatnonzero(np.r_[True, sorted_mag[1:] != sorted_mag[:-1]])
    sizes = np.diff(np.r_[starts, n])
    mean_rank = starts + (sizes + 1) / 2.0
    ranks = np.empty(n)
    ranks[order] = np.repeat(mean_rank, sizes)
    w_plus = float(ranks[nz > 0].sum())
    w_minus = float(ranks[nz < 0].sum())
    if n <= 50 and sizes.size == n:
        pmf = _signed_rank_null(n)
        k = int(round(w_plus))
        p = min(1.0, 2 * min(pmf[: k + 1].sum(), pmf[k:].sum()))
    else:
        var = (n * (n + 1) * (2 * n + 1) - np.sum(sizes.astype(float) ** 3 - sizes) / 2) / 24
        z = (w_plus - n * (n + 1) / 4) / np.sqrt(var)
        p = float(2 * special.ndtr(-abs(z)))
    return min(w_plus, w_minus), p


def paired_effect(x1: Sequence[float], x2: Sequence[float], alpha: float = 0.05) -> dict[str, float]:
    """Paired comparison of x2 with x1 (e.g. round-2 and round-1 changes of the same counties).

    Parameters
    ----------
    x1, x2 : sequences of float
        Paired values (same length, same order); pairs with a missing value are dropped.
    alpha : float
        1 − confidence level of the intervals.

    Returns
    -------
    dict: ``n, mean_1, mean_2, mean_diff, sd_diff, r, t, df, p_t, w, p_wilcoxon, d_z, d_z_low,
    d_z_high, g, g_se, g_low, g_high`` (formulas in the module docstring; effect sizes are
    unitless, means in the unit of x).  NaN where undefined (n < 2, zero spread).
    """
    a, b = np.asarray(x1, dtype=float), np.asarray(x2, dtype=float)
    if a.shape != b.shape:
        raise CompareError(f"paired_effect: x1 has {a.size} values and x2 {b.size}; pass pairs.")
    ok = np.isfinite(a) & np.isfinite(b)
    a, b = a[ok], b[ok]
    n = int(a.size)
    d = b - a
    nan = float("nan")
    out = dict(n=n, mean_1=a.mean() if n else nan, mean_2=b.mean() if n else nan,
               mean_diff=d.mean() if n else nan, sd_diff=nan, r=nan, t=nan, df=n - 1, p_t=nan, w=nan,
               p_wilcoxon=nan, d_z=nan, d_z_low=nan, d_z_high=nan, g=nan, g_se=nan, g_low=nan, g_high=nan)
    if n < 2:
        return out
    sd = d.std(ddof=1)
    out["sd_diff"] = sd
    if sd == 0:
        return out  # every county changed by the same amount: no test or standardised size
    # the paired t-test in scipy.stats.ttest_rel's own order of operations (the same bits),
    # without its argument handling, which took most of the time of ~2,400 comparisons
    m = np.mean(d)
    t = m / np.sqrt(np.mean((d - m) ** 2) * (n / (n - 1.0)) / n)
    out["t"], out["p_t"] = float(t), float(2 * special.stdtr(n - 1, -abs(t)))
    if np.any(d != 0):
        out["w"], out["p_wilcoxon"] = signed_rank(d)
    dz = d.mean() / sd
    out["d_z"] = dz
    out["d_z_low"], out["d_z_high"] = _dz_interval(dz * np.sqrt(n), n, alpha)
    s1, s2 = a.var(ddof=1), b.var(ddof=1)
    if s1 > 0 and s2 > 0:
        r = float(np.corrcoef(a, b)[0, 1])
        d_av = d.mean() / np.sqrt((s1 + s2) / 2)
        j = 1 - 3 / (4 * (n - 1) - 1) if n > 2 else nan
        var = (1 / n + d_av**2 / (2 * n)) * 2 * (1 - r)
        z = stats.norm.ppf(1 - alpha / 2)
        out.update(r=r, g=j * d_av, g_se=j * np.sqrt(var))
        out["g_low"], out["g_high"] = out["g"] - z * out["g_se"], out["g"] + z * out["g_se"]
    return out


def bh_adjust(frame: pd.DataFrame, by: Sequence[str], cols: dict[str, str]) -> pd.DataFrame:
    """Benjamini–Hochberg q-values within each group of ``by`` (one family per group).

    Parameters
    ----------
    frame : DataFrame with p-value columns.
    by : grouping columns defining the families (empty: the whole frame is one family).
    cols : ``{p_column: q_column}``; missing p-values stay missing and do not count in the family.
    """
    frame = frame.copy()
    by = list(by)
    for p, q in cols.items():
        frame[q] = np.nan
        for _, idx in (frame.groupby(by, sort=False, dropna=False).groups.items() if by else [(None, frame.index)]):
            pv = frame.loc[idx, p]
            pv = pv[pv.notna()]
            if len(pv):
                frame.loc[pv.index, q] = multipletests(pv.to_numpy(), method="fdr_bh")[1]
    return frame


def county_groups(design: pd.DataFrame | None = None) -> pd.DataFrame:
    """Grouping variables per 2008 base county for the comparisons.

    Parameters
    ----------
    design : DataFrame, optional
        :func:`analysis.design.build_design` output, to add each round's sending level.

    Returns
    -------
    DataFrame: ``base_code, prefecture_name, group_three`` (三州/其他), ``unit_type`` (市辖区/县/
    县级市/自治县…) and, with a design, ``sending_level_r1, sending_level_r2`` (省级/市级).
    """
    u = base_units().rename(columns={"code": "base_code"})
    out = pd.DataFrame({"base_code": u["base_code"].astype(str), "prefecture_name": u["prefecture_name"],
                        "group_three": np.where(u["three_prefectures"], "三州", "其他"),
                        "unit_type": u["unit_type"]})
    if design is not None:
        for r in (1, 2):
            lv = design[design["round"] == r].set_index("base_code")["sending_level"]
            out[f"sending_level_r{r}"] = out["base_code"].map(lv)
    return out


def _with_groups(frame: pd.DataFrame, by: str | None, groups: pd.DataFrame | None) -> pd.DataFrame:
    if by is None:
        return frame.assign(group="all")
    if groups is None:
        groups = county_groups()
    if by not in groups.columns:
        raise CompareError(f"compare: by={by!r} is not a column of the groups table; choose one of "
                           f"{[c for c in groups.columns if c != 'base_code']} (county_groups(design) adds "
                           "sending_level_r1/_r2).")
    g = groups.set_index("base_code")[by]
    return frame.assign(group=frame["base_code"].map(g)).dropna(subset=["group"])


def paired_tests(
    contrast: pd.DataFrame,
    *,
    by: str | None = None,
    groups: pd.DataFrame | None = None,
    alpha: float = 0.05,
) -> pd.DataFrame:
    """Round 2 vs round 1 across counties, per window and indicator (and group).

    Parameters
    ----------
    contrast : DataFrame
        :func:`round_contrast` output.
    by : str, optional
        Grouping column of ``groups`` (``prefecture_name``, ``group_three``, ``unit_type``,
        ``sending_level_r1``/``_r2``); default one group ``all``.
    groups : DataFrame, optional
        ``base_code`` + grouping columns; default :func:`county_groups` without a design.
    alpha : float
        1 − confidence level.

    Returns
    -------
    DataFrame, one row per window × group × indicator: ``window, by, group, indicator, domain``
    and the :func:`paired_effect` columns (``mean_1``/``mean_2`` are the mean changes in rounds
    1/2), plus ``q_t`` and ``q_wilcoxon``: Benjamini–Hochberg across the indicator family
    within each window and group.
    """
    cat = load_catalog()
    frame = _with_groups(contrast, by, groups)
    rows = []
    for (win, grp, ind), d in frame.groupby(["window", "group", "indicator"], sort=True):
        res = paired_effect(d["change_r1"], d["change_r2"], alpha)
        rows.append({"window": win, "by": by or "all", "group": grp, "indicator": ind,
                     "domain": cat.at[ind, "domain"] if ind in cat.index else "", **res})
    out = pd.DataFrame(rows)
    if out.empty:
        return out
    out = out.rename(columns={"mean_1": "mean_change_r1", "mean_2": "mean_change_r2"})
    return bh_adjust(out, ["window", "group"], {"p_t": "q_t", "p_wilcoxon": "q_wilcoxon"})


def standard_tests(
    panel: pd.DataFrame,
    standards: Iterable[str] = STANDARDS,
    *,
    windows: dict[int, dict[str, tuple[str, str]]] | None = None,
    between: tuple[str, str] | None = (CHANGE_WINDOWS[1]["round"][1], CHANGE_WINDOWS[2]["round"][1]),
    by: str | None = None,
    groups: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """McNemar tests for the 是/否 standards: did the share of counties meeting them change?

    For each round and window the 2×2 table pairs every county's status at the window's start
    with its status at the end; ``between`` adds the table of the status at the end of round 1
    against the end of round 2.

    Parameters
    ----------
    panel : DataFrame
        Base-unit panel with the 0/1 standard columns (wide or long).
    standards : iterable of str
        0/1 indicators; default :data:`STANDARDS`.
    windows : dict, optional
        As in :func:`round_changes`; default :data:`CHANGE_WINDOWS`.
    between : (str, str) or None
        Periods compared across rounds (default end of round 1 vs end of round 2).
    by, groups
        As in :func:`paired_tests`.

    Returns
    -------
    DataFrame: ``comparison`` (``r1:round``, ``r1:after``, ``r2:…``, ``end_r1_vs_end_r2``),
    ``from_period, to_period, by, group, indicator, n, share_from, share_to`` (shares 0–1),
    ``b`` (否→是), ``c`` (是→否), ``statistic`` (min(b, c)), ``p`` (exact binomial), ``q``
    (Benjamini–Hochberg across the standards within comparison and group).
    """
    stds = list(standards)
    long = _long(panel, stds)
    bad = long["value"].dropna()
    bad = bad[~bad.isin([0, 1])]
    if len(bad):
        raise CompareError(f"standard_tests: values other than 0/1 in {sorted(long.loc[bad.index, 'indicator'].unique())}; "
                           "pass 是/否 standards (e.g. std_funds_per_youth).")
    comps = [(f"r{r}:{w}", p0, p1) for r, ws in (windows or CHANGE_WINDOWS).items() for w, (p0, p1) in ws.items()]
    if between:
        comps.append(("end_r1_vs_end_r2", *between))
    wide = long.pivot(index=["base_code", "indicator"], columns="period", values="value").reset_index()
    rows = []
    for name, p0, p1 in comps:
        if p0 not in wide.columns or p1 not in wide.columns:
            raise CompareError(f"standard_tests: period {p0 if p0 not in wide.columns else p1} is not in the panel.")
        f = wide[["base_code", "indicator", p0, p1]].rename(columns={p0: "x0", p1: "x1"}).dropna()
        f = _with_groups(f, by, groups)
        x0, x1 = f["x0"].to_numpy(), f["x1"].to_numpy()
        # the four cells of each county's 2×2 table, summed per group and standard at once
        f = f.assign(a=(x0 == 1) & (x1 == 1), b=(x0 == 0) & (x1 == 1), c=(x0 == 1) & (x1 == 0),
                     dd=(x0 == 0) & (x1 == 0))
        tab = f.groupby(["group", "indicator"], sort=True).agg(
            n=("x0", "size"), share_from=("x0", "mean"), share_to=("x1", "mean"),
            a=("a", "sum"), b=("b", "sum"), c=("c", "sum"), dd=("dd", "sum"))
        for (grp, ind), t in zip(tab.index, tab.itertuples(index=False)):
            a, b, c, dd = int(t.a), int(t.b), int(t.c), int(t.dd)
            if b + c:
                res = mcnemar([[a, c], [b, dd]], exact=True)
                stat, p = float(res.statistic), float(res.pvalue)
            else:
                stat, p = np.nan, np.nan  # no county changed status: nothing to test
            rows.append(dict(comparison=name, from_period=p0, to_period=p1, by=by or "all", group=grp,
                             indicator=ind, n=int(t.n), share_from=t.share_from, share_to=t.share_to,
                             b=b, c=c, statistic=stat, p=p))
    out = pd.DataFrame(rows)
    return bh_adjust(out, ["comparison", "group"], {"p": "q"}) if len(out) else out


def compare_rounds(
    panel: pd.DataFrame,
    design: pd.DataFrame | None = None,
    indicators: Iterable[str] | None = None,
    *,
    groupings: Sequence[str | None] = GROUPINGS,
    alpha: float = 0.05,
    windows: dict[int, dict[str, tuple[str, str]]] | None = None,
    between: tuple[str, str] | None = None,
) -> dict[str, pd.DataFrame]:
    """The whole descriptive comparison in one call.

    Parameters
    ----------
    panel : DataFrame
        Base-unit panel (:func:`analysis.design.to_base_panel`).
    design : DataFrame, optional
        :func:`analysis.design.build_design` output; needed for the sending-level groupings
        (they are skipped without it).
    indicators : iterable of str, optional
        Default every catalog indicator in the panel.
    groupings : sequence
        Grouping columns of :func:`county_groups` (None = all counties).
    alpha : float
        1 − confidence level.
    windows : dict, optional
        ``{round: {window: (from, to)}}`` as :func:`round_changes`; default
        :data:`CHANGE_WINDOWS` (a delivery's own windows: :attr:`analysis.scope.Scope.change`).
    between : (str, str), optional
        Half-years of the McNemar ``end_r1_vs_end_r2`` table; default the ends of the two rounds'
        ``round`` windows (a delivery's round ends: :attr:`analysis.scope.Scope.round_ends`).

    Returns
    -------
    dict: ``changes`` (:func:`round_changes`), ``contrast`` (:func:`round_contrast`), ``paired``
    (:func:`paired_tests` for every grouping, stacked; column ``by``) and ``standards``
    (:func:`standard_tests` for every grouping, for the standards present in the panel).
    """
    groups = county_groups(design)
    usable = [b for b in groupings if b is None or b in groups.columns]
    wins = windows or CHANGE_WINDOWS
    changes = round_changes(panel, indicators, wins)
    contrast = round_contrast(changes)
    paired = pd.concat([paired_tests(contrast, by=b, groups=groups, alpha=alpha) for b in usable],
                       ignore_index=True)
    present = set(_long(panel, None)["indicator"].unique())
    stds = [s for s in STANDARDS if s in present and (indicators is None or s in set(indicators))]
    ends = [wins[r]["round"][1] for r in sorted(wins) if "round" in wins[r]]
    if between is None and len(ends) == 2:
        between = (ends[0], ends[-1])
    standards = (pd.concat([standard_tests(panel, stds, windows=wins, between=between, by=b, groups=groups)
                            for b in usable], ignore_index=True)
                 if stds else pd.DataFrame())
    return {"changes": changes, "contrast": contrast, "paired": paired, "standards": standards}
