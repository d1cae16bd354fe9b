"""Staggered difference-in-differences: Callaway & Sant'Anna (2021) and a TWFE event study.

The residency programme was rolled out in four half-year batches per round, so each round is a
staggered adoption design: a county's *cohort* (``gname``) is the first period in which it hosted a
resident official, and counties of later batches are the not-yet-treated comparison group for
earlier ones.  This module estimates

* group-time average treatment effects ATT(g, t) with :func:`att_gt` (unconditional parallel
  trends; the 2x2 comparisons are differences of means, so everything is vectorised);
* their aggregations (simple, dynamic/event-study, by cohort, by calendar period) with
  :func:`aggte`, with analytic standard errors from influence functions, a Rademacher
  multiplier bootstrap with simultaneous (uniform) bands and optional clustering;
* a Wald pre-trend test on the pre-treatment ATT(g, t);
* a conventional two-way fixed-effects event study (:func:`twfe_event_study`) for contrast;
* the difference between the aggregated effects of two rounds (:func:`round_difference`),
  bootstrapping counties jointly because the same counties appear in both rounds.

Argument names follow R's ``did`` package and the Python port ``csdid`` so that readers who know
those recognise them.  Conventions are those of ``did`` 2.x (checked against ``csdid`` in
``tests/test_did.py``); where this module deliberately differs, the docstring says so
(see also ``docs/did.md``).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Literal, get_args

import numpy as np
import pandas as pd
from scipy import stats

__all__ = [
    "DIDError",
    "ATTGTResult",
    "AggteResult",
    "WaldTest",
    "TWFEResult",
    "RoundDifferenceResult",
    "att_gt",
    "aggte",
    "twfe_event_study",
    "round_difference",
    "simulate_did_panel",
]

ControlGroup = Literal["notyettreated", "nevertreated"]
BasePeriod = Literal["varying", "universal"]
AggType = Literal["simple", "dynamic", "group", "calendar"]

# Interquartile range of the standard normal: the bootstrap standard error is the IQR of the
# bootstrap draws divided by this, as in R ``did`` (robust to a few wild draws).
_NORMAL_IQR = stats.norm.ppf(0.75) - stats.norm.ppf(0.25)


class DIDError(ValueError):
    """Raised when the data or options cannot give a difference-in-differences estimate."""


def _check_choice(value: str, allowed_type, name: str) -> str:
    allowed = get_args(allowed_type)
    if value not in allowed:
        raise DIDError(f"{name}={value!r} is not a valid option; use one of {', '.join(map(repr, allowed))}.")
    return value


def _check_alp(alp: float) -> float:
    if isinstance(alp, bool) or not (isinstance(alp, (int, float, np.floating)) and 0 < float(alp) < 1):
        raise DIDError(f"alp={alp!r}: the significance level must be a number strictly between 0 and 1, e.g. 0.05.")
    return float(alp)


# --------------------------------------------------------------------------------------------
# Panel preparation
# --------------------------------------------------------------------------------------------


@dataclass
class _Panel:
    unit_ids: np.ndarray  # (n,) unit identifiers, sorted
    periods: np.ndarray  # (T,) sorted periods
    y: np.ndarray  # (n, T) outcomes
    g: np.ndarray  # (n,) cohort, 0 = never treated (after recoding)
    clusters: np.ndarray | None  # (n,) integer cluster codes, or None
    n_clusters: int
    dropped: dict[str, list]
    x: np.ndarray | None = None  # (n, T, p) covariates, or None


def _parse_xformla(xformla: str | None, data: pd.DataFrame, where: str) -> list[str]:
    """Covariate names from ``"~ x1 + x2"`` (plain numeric columns only; ``None``/``"~1"`` = none)."""
    if xformla is None:
        return []
    rhs = str(xformla).split("~")[-1]
    terms = [term.strip() for term in rhs.split("+")]
    terms = [term for term in terms if term not in ("", "1")]
    bad = [term for term in terms if not term.isidentifier() and term not in data.columns]
    if bad:
        raise DIDError(
            f"{where}: xformla={xformla!r}: only plain column names joined by '+' are supported, not {bad}; "
            "create transformed or interacted columns in the data first."
        )
    missing = [term for term in terms if term not in data.columns]
    if missing:
        raise DIDError(f"{where}: xformla={xformla!r}: column(s) {missing} not in data.")
    nonnum = [term for term in terms if not pd.api.types.is_numeric_dtype(data[term])]
    if nonnum:
        raise DIDError(f"{where}: xformla covariate(s) {nonnum} are not numeric; encode them as 0/1 columns first.")
    return terms


def _prepare_panel(
    data: pd.DataFrame,
    yname: str,
    tname: str,
    idname: str,
    gname: str,
    anticipation: int,
    clustervars: str | None,
    where: str,
    covariates: list[str] | None = None,
) -> _Panel:
    """Validate a long panel and reshape it to a units x periods outcome matrix."""
    covariates = covariates or []
    needed = [yname, tname, idname, gname] + ([clustervars] if clustervars else [])
    needed += [c for c in covariates if c not in needed]
    missing = [c for c in needed if c not in data.columns]
    if missing:
        raise DIDError(f"{where}: column(s) {missing} not in data; columns are {list(data.columns)}.")
    if not isinstance(anticipation, (int, np.integer)) or anticipation < 0:
        raise DIDError(f"{where}: anticipation={anticipation!r} must be a non-negative whole number of periods.")
    for col in (tname, gname):
        if not pd.api.types.is_numeric_dtype(data[col]) or data[col].isna().any():
            raise DIDError(
                f"{where}: column {col!r} must hold integer periods without gaps (use 0 in {gname!r} for never treated)."
            )
        if not np.all(np.mod(data[col].to_numpy(dtype=float), 1) == 0):
            raise DIDError(f"{where}: column {col!r} has non-integer values; code periods as integers (e.g. 1..8).")
    # integer codes instead of pivots (this runs a few hundred times per evaluation): units in
    # sorted order as DataFrame.pivot gives them, periods sorted
    unit_code, unit_ids = pd.factorize(data[idname], sort=True)
    if (unit_code < 0).any():
        raise DIDError(f"{where}: {int((unit_code < 0).sum())} row(s) without a unit in {idname!r}; give every row its unit.")
    t = data[tname].to_numpy()
    periods = np.unique(t)
    t_code = np.searchsorted(periods, t)
    n_units, n_periods = len(unit_ids), len(periods)
    key = unit_code.astype(np.int64) * n_periods + t_code
    order = np.argsort(key, kind="stable")
    repeated = np.zeros(len(key), dtype=bool)
    repeated[order[1:]] = key[order[1:]] == key[order[:-1]]  # later rows of the same unit and period
    if repeated.any():
        first = data[[idname, tname]].iloc[int(np.flatnonzero(repeated)[0])].tolist()
        raise DIDError(f"{where}: {int(repeated.sum())} duplicated ({idname}, {tname}) rows, first {first}; keep one row per unit and period.")
    # each unit's first row: its cohort and cluster (checked constant within the unit)
    first_row = np.full(n_units, len(key))
    np.minimum.at(first_row, unit_code, np.arange(len(key)))
    g_all = data[gname].to_numpy(dtype=float)
    varies = g_all != g_all[first_row][unit_code]
    if varies.any():
        bad = unit_ids[np.unique(unit_code[varies])][:5].tolist()
        raise DIDError(f"{where}: {gname!r} varies within unit(s) {bad}; the first-treatment period must be constant per unit.")
    if clustervars:
        c_code, _ = pd.factorize(data[clustervars], use_na_sentinel=False)
        varies = c_code != c_code[first_row][unit_code]
        if varies.any():
            bad = unit_ids[np.unique(unit_code[varies])][:5].tolist()
            raise DIDError(f"{where}: cluster variable {clustervars!r} varies within unit(s) {bad}; clusters must be unit-level.")

    def matrix(col: str) -> np.ndarray:
        out = np.full((n_units, n_periods), np.nan)
        # as strict as the pivot it replaces: a column that is not numeric raises, it is not coerced
        out[unit_code, t_code] = data[col].to_numpy(dtype=float, na_value=np.nan)
        return out

    # Balance: units with a missing period or a missing outcome are dropped (as R ``did`` does
    # with allow_unbalanced_panel=FALSE), and we say which.
    y = matrix(yname)
    x_wide = [matrix(c) for c in covariates]
    incomplete = ~np.isfinite(y).all(axis=1)
    for xw in x_wide:
        incomplete |= ~np.isfinite(xw).all(axis=1)
    dropped: dict[str, list] = {}
    kept = np.arange(n_units)  # rows of unit_ids still in the panel

    def drop(mask, reason: str, what: str, why: str):
        """Record and announce the units of ``mask`` as dropped; the mask of the units kept."""
        ids = unit_ids[kept[mask]].tolist()
        dropped[reason] = ids
        warnings.warn(f"{where}: dropped {len(ids)} unit(s) {what} (first: {ids[:5]}); {why}", stacklevel=4)
        return ~mask

    if incomplete.any():
        kept = kept[drop(incomplete, "unbalanced_or_missing_outcome",
                         "with a missing period or outcome so the panel is balanced",
                         "fill or remove them upstream to keep them.")]
    unit_g = g_all[first_row][kept]
    if np.any(unit_g < 0):
        raise DIDError(f"{where}: negative values in {gname!r}; use the first treated period, or 0 for never treated.")
    # Cohorts first treated after the last period (net of anticipation) are never treated within
    # the window, exactly as R ``did`` recodes them.
    unit_g = np.where(unit_g > periods.max() + anticipation, 0.0, unit_g)
    # Units treated already in the first period have no pre-period: they cannot be compared.
    early = (unit_g > 0) & (unit_g <= periods[0] + anticipation)
    if early.any():
        keep = drop(early, "treated_in_first_period", f"already treated in the first period {periods[0]}",
                    "they have no untreated period to compare.")
        kept, unit_g = kept[keep], unit_g[keep]
    if len(kept) == 0:
        raise DIDError(f"{where}: no units left after balancing; check {idname!r}, {tname!r} and {yname!r}.")
    clusters, n_clusters = None, len(kept)
    if clustervars and clustervars != idname:
        labels = data[clustervars].iloc[first_row[kept]]
        codes, uniques = pd.factorize(labels, use_na_sentinel=False)
        clusters, n_clusters = codes.astype(np.int64), len(uniques)
    return _Panel(
        unit_ids=np.asarray(unit_ids)[kept],
        periods=periods,
        y=y[kept],
        g=unit_g,
        clusters=clusters,
        n_clusters=n_clusters,
        dropped=dropped,
        x=np.stack([xw[kept] for xw in x_wide], axis=-1) if covariates else None,
    )


# --------------------------------------------------------------------------------------------
# Inference helpers shared by att_gt, aggte and round_difference
# --------------------------------------------------------------------------------------------


def _cluster_sums(inf: np.ndarray, clusters: np.ndarray | None, n_clusters: int) -> np.ndarray:
    """Sum influence functions (n x K) within clusters; identity when clusters is None."""
    if clusters is None:
        return inf
    out = np.zeros((n_clusters, inf.shape[1]))
    np.add.at(out, clusters, inf)
    return out


def _analytic_se(inf: np.ndarray, clusters: np.ndarray | None, n_clusters: int) -> np.ndarray:
    """Influence-function standard errors, ``sqrt(sum_c S_c^2) / n`` (R ``did`` convention).

    Without clusters S_c is one unit's influence function, so this is ``sqrt(mean(IF^2) / n)``:
    the 1/n (not 1/(n-1)) variance of the influence function, as in ``did`` and ``csdid``.
    """
    n = inf.shape[0]
    s = _cluster_sums(inf, clusters, n_clusters)
    se = np.sqrt(np.sum(s**2, axis=0)) / n
    return np.where(np.isfinite(se) & (se > 0), se, np.nan)


@dataclass
class _Boot:
    se: np.ndarray  # (K,) bootstrap standard errors (NaN for degenerate columns)
    crit: float  # simultaneous critical value (NaN if not computable)
    draws: np.ndarray  # (biters, K) draws of theta* - theta


def _rademacher(rng: np.random.Generator, biters: int, m: int) -> np.ndarray:
    """Rademacher (+1/-1 with probability 1/2) multipliers, as R ``did`` and ``csdid`` use."""
    # Eight fair coin flips per random byte: unpacking bits is several times faster than
    # rng.integers(0, 2), which dominated the run time of a national-size bootstrap.
    bits = np.unpackbits(np.frombuffer(rng.bytes((biters * m + 7) // 8), dtype=np.uint8))[: biters * m]
    return bits.reshape(biters, m).astype(np.float64) * 2.0 - 1.0


def _multiplier_bootstrap(
    inf: np.ndarray,
    clusters: np.ndarray | None,
    n_clusters: int,
    biters: int,
    alp: float,
    rng: np.random.Generator,
    weights: np.ndarray | None = None,
) -> _Boot:
    """Multiplier bootstrap of estimators with influence functions ``inf`` (n x K).

    One draw of ``theta* - theta`` is ``sum_c U_c S_c / n`` with Rademacher ``U_c`` per cluster (per
    unit without clustering), so all draws are one matrix product.  The standard error is the
    bootstrap IQR / 1.349 and the simultaneous critical value is the (1 - alp) quantile (type 1) of
    ``max_k |draw_k / se_k|``, as in R ``did``'s ``mboot``.
    """
    n = inf.shape[0]
    s = _cluster_sums(inf, clusters, n_clusters)
    u = _rademacher(rng, biters, s.shape[0]) if weights is None else weights
    draws = u @ s / n
    ok = np.all(np.isfinite(draws), axis=0) & np.any(draws != 0, axis=0)
    se = np.full(inf.shape[1], np.nan)
    crit = np.nan
    if ok.any() and biters > 1:
        q75, q25 = np.quantile(draws[:, ok], [0.75, 0.25], axis=0, method="inverted_cdf")
        b_sigma = (q75 - q25) / _NORMAL_IQR
        b_sigma = np.where(b_sigma > 0, b_sigma, np.nan)
        se[ok] = b_sigma
        with np.errstate(divide="ignore", invalid="ignore"):
            t = np.abs(draws[:, ok] / b_sigma)
        t = np.where(np.isfinite(t), t, -np.inf).max(axis=1)
        t = t[np.isfinite(t)]
        if t.size:
            crit = float(np.quantile(t, 1 - alp, method="inverted_cdf"))
    return _Boot(se=se, crit=crit, draws=draws)


# --------------------------------------------------------------------------------------------
# ATT(g, t)
# --------------------------------------------------------------------------------------------


@dataclass
class WaldTest:
    """Wald test that all pre-treatment ATT(g, t) are zero (parallel pre-trends).

    Attributes
    ----------
    statistic : float
        ``W = n * att_pre' V^-1 att_pre`` with V the influence-function covariance (clustered when
        clusters were given).
    df : int
        Number of pre-treatment cells in the test (cells with zero variance are left out).
    pvalue : float
        Upper tail of the chi-squared distribution with ``df`` degrees of freedom.
    note : str
        Why the test could not be computed, if it could not.
    """

    statistic: float
    df: int
    pvalue: float
    note: str = ""

    def to_frame(self) -> pd.DataFrame:
        return pd.DataFrame([{"statistic": self.statistic, "df": self.df, "pvalue": self.pvalue, "note": self.note}])


@dataclass
class ATTGTResult:
    """Group-time average treatment effects and everything needed to aggregate them.

    Arrays are indexed by estimable cell (``group[k]``, ``time[k]``); cells that cannot be
    estimated (no comparison units) are listed in :attr:`not_estimable`.  ``inffunc`` is the
    n_units x n_cells influence-function matrix, scaled so that ``att - true ~ mean(inffunc)``.
    """

    group: np.ndarray
    time: np.ndarray
    att: np.ndarray
    se: np.ndarray
    se_analytic: np.ndarray
    crit_val: float
    inffunc: np.ndarray
    n_treated: np.ndarray
    n_control: np.ndarray
    unit_ids: np.ndarray
    unit_group: np.ndarray
    periods: np.ndarray
    clusters: np.ndarray | None
    n_clusters: int
    control_group: str
    base_period: str
    anticipation: int
    alp: float
    bstrap: bool
    cband: bool
    biters: int
    clustervars: str | None
    not_estimable: pd.DataFrame
    dropped_units: dict = field(default_factory=dict)
    pretrend: WaldTest | None = None

    @property
    def n_units(self) -> int:
        return len(self.unit_ids)

    @property
    def event_time(self) -> np.ndarray:
        return self.time - self.group

    @property
    def post(self) -> np.ndarray:
        return self.time >= self.group

    def to_frame(self) -> pd.DataFrame:
        """Tidy table, one row per (group, time) cell, non-estimable cells last with NaN.

        Columns: group, time, event_time, att, se, ci_low, ci_high (pointwise, normal),
        band_low, band_high (simultaneous over all cells when ``cband``), post, n_treated,
        n_control, estimable.  Units of att/se: those of the outcome.
        """
        z = stats.norm.ppf(1 - self.alp / 2)
        crit = self.crit_val if (self.cband and np.isfinite(self.crit_val)) else np.nan
        out = pd.DataFrame(
            {
                "group": self.group.astype(int),
                "time": self.time.astype(int),
                "event_time": self.event_time.astype(int),
                "att": self.att,
                "se": self.se,
                "ci_low": self.att - z * self.se,
                "ci_high": self.att + z * self.se,
                "band_low": self.att - crit * self.se,
                "band_high": self.att + crit * self.se,
                "post": self.post,
                "n_treated": self.n_treated,
                "n_control": self.n_control,
                "estimable": True,
            }
        )
        if len(self.not_estimable):
            ne = self.not_estimable.copy()
            ne["event_time"] = ne["time"] - ne["group"]
            ne["post"] = ne["time"] >= ne["group"]
            ne["estimable"] = False
            out = pd.concat([out, ne.drop(columns=["reason"])], ignore_index=True)
        return out

    def select_cells(self, keep: np.ndarray) -> "ATTGTResult":
        """A copy keeping only the cells where the boolean array ``keep`` (length n_cells) is True.

        Use it to aggregate over a subset, e.g. to leave out the last cohort's pre-treatment cells
        and reproduce R ``did`` exactly when there are no never-treated units (see docs/did.md).
        Standard errors and the pre-trend test are recomputed from the kept influence functions;
        the bootstrap band of the full result is kept unchanged.
        """
        keep = np.asarray(keep, dtype=bool)
        if keep.shape != self.att.shape:
            raise DIDError(f"select_cells: keep has shape {keep.shape}, expected {self.att.shape} (one flag per cell).")
        import dataclasses

        out = dataclasses.replace(
            self,
            group=self.group[keep], time=self.time[keep], att=self.att[keep], se=self.se[keep],
            se_analytic=self.se_analytic[keep], inffunc=self.inffunc[:, keep],
            n_treated=self.n_treated[keep], n_control=self.n_control[keep],
        )
        out.pretrend = _wald_pretest(out)
        return out

    def pretrend_test(self) -> WaldTest:
        """Wald test of zero pre-treatment ATT(g, t); see :class:`WaldTest`."""
        return _wald_pretest(self)

    def summary(self) -> str:
        """Readable text summary: options, the ATT(g, t) table and the pre-trend test."""
        frame = self.to_frame()
        lines = [
            "Group-time average treatment effects (Callaway & Sant'Anna 2021)",
            f"units: {self.n_units}, periods: {len(self.periods)}, cohorts: {sorted(int(x) for x in set(self.group))}",
            f"control group: {self.control_group}, base period: {self.base_period}, anticipation: {self.anticipation}",
            f"standard errors: {'multiplier bootstrap, ' + str(self.biters) + ' draws' if self.bstrap else 'analytic (influence function)'}"
            + (f", clustered by {self.clustervars} ({self.n_clusters} clusters)" if self.clusters is not None else ""),
            frame.round(4).to_string(index=False),
        ]
        if len(self.not_estimable):
            lines.append(f"{len(self.not_estimable)} cell(s) not estimable: {self.not_estimable['reason'].iloc[0]}")
        if self.pretrend is not None:
            w = self.pretrend
            lines.append(f"pre-trend Wald test: W = {w.statistic:.3f}, df = {w.df}, p = {w.pvalue:.4f} {w.note}".rstrip())
        return "\n".join(lines)


def _last_pre_index(g: float, periods: np.ndarray, anticipation: int) -> int | None:
    idx = np.flatnonzero(periods + anticipation < g)
    return int(idx[-1]) if idx.size else None


def att_gt(
    data: pd.DataFrame,
    yname: str,
    tname: str,
    idname: str,
    gname: str,
    control_group: ControlGroup = "notyettreated",
    base_period: BasePeriod = "varying",
    anticipation: int = 0,
    xformla: str | None = None,
    clustervars: str | None = None,
    bstrap: bool = True,
    biters: int = 999,
    alp: float = 0.05,
    cband: bool = True,
    seed: int | np.random.Generator | None = None,
) -> ATTGTResult:
    """Group-time average treatment effects ATT(g, t) of Callaway & Sant'Anna (2021).

    Unconditional parallel trends (no covariates): each ATT(g, t) is the mean change in the
    outcome of cohort g between a base period and t minus the same mean change in the comparison
    units, and its influence function is the difference of the two demeaned changes.

    Parameters
    ----------
    data : DataFrame
        Long panel, one row per unit and period.
    yname : str
        Outcome column (any unit; results are in the same unit).
    tname : str
        Period column, integers (e.g. half-years numbered 1..8).
    idname : str
        Unit column (county code).
    gname : str
        First treated period on the ``tname`` scale, 0 for never treated.  Cohorts after the last
        period are treated as never treated (as in R ``did``).
    control_group : {"notyettreated", "nevertreated"}
        Comparison units: never-treated units plus (for ``"notyettreated"``) units first treated
        after ``max(t, base) + anticipation``.  ``"nevertreated"`` without never-treated units is
        an error (R ``did`` instead recodes the last cohort; we prefer the user to choose).
    base_period : {"varying", "universal"}
        ``"varying"``: pre-treatment cells compare t with t - 1; ``"universal"``: every cell of
        cohort g compares t with g - anticipation - 1 (that cell is reported as 0 with no SE).
    anticipation : int
        Number of periods before g in which units may already react.
    xformla : str, optional
        Covariates for conditional parallel trends, ``"~ x1 + x2"`` with plain numeric columns
        (outcome-regression estimator, ``est_method="reg"`` in ``did``; values are taken from the
        earlier of t and the base period).  ``None`` or ``"~1"``: unconditional.
    clustervars : str, optional
        Unit-level column (e.g. prefecture) to cluster standard errors and the bootstrap on.
    bstrap : bool
        If True, standard errors and bands come from the multiplier bootstrap (as in R ``did``);
        analytic standard errors are kept in ``se_analytic``.
    biters : int
        Bootstrap draws.
    alp : float
        Significance level for intervals and bands.
    cband : bool
        If True, compute a simultaneous band over all cells (needs the bootstrap draws, which are
        made even when ``bstrap`` is False).
    seed : int or numpy Generator, optional
        Random seed for the bootstrap.

    Returns
    -------
    ATTGTResult

    Notes
    -----
    Without never-treated units and with ``"notyettreated"``, the last cohort has no comparison
    units at or after its own treatment, nor do earlier cohorts once everyone is treated; those
    cells are reported in ``result.not_estimable`` (R ``did`` silently drops the periods).
    """
    where = "att_gt"
    _check_choice(control_group, ControlGroup, "control_group")
    _check_choice(base_period, BasePeriod, "base_period")
    alp = _check_alp(alp)
    covariates = _parse_xformla(xformla, data, where)
    if not isinstance(biters, (int, np.integer)) or biters < 2:
        raise DIDError(f"{where}: biters={biters!r} must be a whole number of at least 2 (999 is usual).")
    panel = _prepare_panel(data, yname, tname, idname, gname, anticipation, clustervars, where, covariates)
    periods, y, ug = panel.periods, panel.y, panel.g
    n = len(ug)
    has_never = bool(np.any(ug == 0))
    if control_group == "nevertreated" and not has_never:
        raise DIDError(
            f"{where}: control_group='nevertreated' but no unit has {gname} == 0 (never treated). "
            "Use control_group='notyettreated' (later cohorts serve as comparisons), or add never-treated units."
        )
    glist = np.sort(np.unique(ug[ug > 0]))
    glist = glist[glist > periods[0] + anticipation]
    if glist.size == 0:
        raise DIDError(f"{where}: no treated cohort with a pre-treatment period; check {gname!r} is on the {tname!r} scale.")

    # Enumerate cells exactly as R ``did``: per cohort, periods 2..T (varying) or 1..T (universal).
    cg, ct, tix, bix, base_zero = [], [], [], [], []
    start = 1 if base_period == "varying" else 0
    for g in glist:
        last_pre = _last_pre_index(g, periods, anticipation)
        for i in range(start, len(periods)):
            t = periods[i]
            if base_period == "universal" or g - anticipation <= t:
                b = last_pre
            else:
                b = i - 1
            cg.append(g)
            ct.append(t)
            tix.append(i)
            bix.append(b)
            base_zero.append(base_period == "universal" and b == i)
    cg, ct = np.asarray(cg, float), np.asarray(ct, float)
    tix, bix, base_zero = np.asarray(tix), np.asarray(bix), np.asarray(base_zero)
    # Comparison threshold: not yet treated by max(t, base) + anticipation.
    thresh = np.maximum(ct, periods[bix]) + anticipation

    treated = ug[:, None] == cg[None, :]  # n x K
    if control_group == "nevertreated":
        control = np.repeat((ug == 0)[:, None], len(cg), axis=1)
    else:
        control = (ug[:, None] == 0) | ((ug[:, None] > thresh[None, :]) & ~treated)
    n1 = treated.sum(axis=0)
    n0 = control.sum(axis=0)
    estimable = (n1 > 0) & (n0 > 0)
    # A universal-base reference cell (0 by construction) is reported only for cohorts that have
    # at least one estimable comparison; otherwise it would be a zero with nothing to refer to.
    cohort_has_cell = {gg: bool(np.any(estimable[(cg == gg) & ~base_zero])) for gg in glist}
    estimable = estimable | (base_zero & np.array([cohort_has_cell[gg] for gg in cg], dtype=bool))

    dy = y[:, tix] - y[:, bix]  # n x K changes between t and the base period
    with np.errstate(invalid="ignore", divide="ignore"):
        mu1 = np.where(treated, dy, 0.0).sum(axis=0) / n1
        mu0 = np.where(control, dy, 0.0).sum(axis=0) / n0
        att = mu1 - mu0
        # Influence function of a difference of two means, scaled to the full sample of n units
        # (units outside the 2x2 comparison contribute 0): n * (D (dy - mu1)/n1 - C (dy - mu0)/n0).
        inf = n * (np.where(treated, dy - mu1, 0.0) / n1 - np.where(control, dy - mu0, 0.0) / n0)
    singular = np.zeros(len(cg), dtype=bool)
    if covariates:
        singular = _outcome_regression_cells(panel.x, dy, treated, control, tix, bix, estimable & ~base_zero, att, inf)
        if singular.any():
            warnings.warn(
                f"{where}: {int(singular.sum())} cell(s) not estimable: the covariate regression on the comparison "
                "units is singular (too few comparison units or collinear covariates).",
                stacklevel=2,
            )
            estimable &= ~singular
    att[base_zero] = 0.0
    inf[:, base_zero] = 0.0

    ne_mask = ~estimable
    reason = np.where(
        singular,
        "covariate regression on the comparison units is singular",
        "no comparison units: every unit is already treated by then"
        + ("" if has_never else " (no never-treated units in the data)"),
    )[ne_mask]
    not_est = pd.DataFrame(
        {
            "group": cg[ne_mask].astype(int),
            "time": ct[ne_mask].astype(int),
            "att": np.nan,
            "se": np.nan,
            "n_treated": n1[ne_mask],
            "n_control": n0[ne_mask],
            "reason": reason,
        }
    )
    keep = estimable
    att, inf = att[keep], inf[:, keep]
    se_an = _analytic_se(inf, panel.clusters, panel.n_clusters)
    se_an[base_zero[keep]] = np.nan
    crit = stats.norm.ppf(1 - alp / 2)
    se = se_an.copy()
    if bstrap or cband:
        rng = np.random.default_rng(seed)
        boot = _multiplier_bootstrap(inf, panel.clusters, panel.n_clusters, biters, alp, rng)
        if bstrap:
            se = boot.se
            se[base_zero[keep]] = np.nan
        if cband:
            crit = boot.crit
    result = ATTGTResult(
        group=cg[keep],
        time=ct[keep],
        att=att,
        se=se,
        se_analytic=se_an,
        crit_val=float(crit),
        inffunc=inf,
        n_treated=n1[keep],
        n_control=n0[keep],
        unit_ids=panel.unit_ids,
        unit_group=ug,
        periods=periods,
        clusters=panel.clusters,
        n_clusters=panel.n_clusters,
        control_group=control_group,
        base_period=base_period,
        anticipation=int(anticipation),
        alp=alp,
        bstrap=bool(bstrap),
        cband=bool(cband),
        biters=int(biters),
        clustervars=clustervars if panel.clusters is not None else None,
        not_estimable=not_est,
        dropped_units=panel.dropped,
    )
    result.pretrend = _wald_pretest(result)
    return result


def _outcome_regression_cells(
    x: np.ndarray,
    dy: np.ndarray,
    treated: np.ndarray,
    control: np.ndarray,
    tix: np.ndarray,
    bix: np.ndarray,
    cells: np.ndarray,
    att: np.ndarray,
    inf: np.ndarray,
) -> np.ndarray:
    """Outcome-regression ATT(g, t) (Sant'Anna & Zhao 2020, ``reg_did_panel``) in place.

    For each cell: regress the change ``dy`` on an intercept and the covariates among comparison
    units, predict the treated units' counterfactual change, and take
    ``ATT = mean_treated(dy - x b)``.  Covariates are those of the earlier of t and the base
    period, as in R ``did``.  Fills ``att[k]`` and ``inf[:, k]``; returns a mask of cells whose
    regression is singular.
    """
    n = dy.shape[0]
    singular = np.zeros(len(att), dtype=bool)
    for k in np.flatnonzero(cells):
        sub = treated[:, k] | control[:, k]
        d = treated[sub, k].astype(float)
        ns = sub.sum()
        xk = np.column_stack([np.ones(ns), x[sub, min(tix[k], bix[k]), :]])
        yk = dy[sub, k]
        c = 1.0 - d
        xtx = (xk * c[:, None]).T @ xk / ns
        try:
            ill = 1.0 / np.linalg.cond(xtx, 1) < np.finfo(float).eps
        except np.linalg.LinAlgError:
            ill = True
        if ill:
            singular[k] = True
            continue
        beta = np.linalg.solve(xtx, (xk * c[:, None]).T @ yk / ns)
        fitted = xk @ beta
        p1 = d.mean()
        eta_treat = np.sum(d * yk) / d.sum()
        eta_cont = np.sum(d * fitted) / d.sum()
        # Influence function on the 2x2 sample: treated mean, counterfactual mean and the
        # estimation error of the regression coefficients (via its linear representation).
        lin_ols = (c * (yk - fitted))[:, None] * xk @ np.linalg.inv(xtx)
        moment = (d[:, None] * xk).mean(axis=0)
        inf_treat = d * (yk - eta_treat) / p1
        inf_control = (d * (fitted - eta_cont) + lin_ols @ moment) / p1
        att[k] = eta_treat - eta_cont
        col = np.zeros(n)
        col[sub] = (n / ns) * (inf_treat - inf_control)
        inf[:, k] = col
    return singular


def _wald_pretest(res: ATTGTResult) -> WaldTest:
    """Wald test of H0: all pre-treatment ATT(g, t) = 0, with the influence-function covariance."""
    pre = np.flatnonzero(res.group - res.anticipation > res.time)
    if pre.size == 0:
        return WaldTest(np.nan, 0, np.nan, "no pre-treatment cells")
    s = _cluster_sums(res.inffunc[:, pre], res.clusters, res.n_clusters)
    n = res.n_units
    v = s.T @ s / n
    usable = np.diag(v) > 0  # universal-base reference cells have zero variance
    pre, v = pre[usable], v[np.ix_(usable, usable)]
    if pre.size == 0:
        return WaldTest(np.nan, 0, np.nan, "no pre-treatment cell with positive variance")
    a = res.att[pre]
    if 1.0 / np.linalg.cond(v, 1) > np.finfo(float).eps:
        w = float(n * a @ np.linalg.solve(v, a))
        return WaldTest(w, int(pre.size), float(stats.chi2.sf(w, pre.size)))
    # Without never-treated units some placebo cells are exact linear combinations of others
    # (e.g. with two cohorts left, ATT(4,3) = -ATT(5,3)); R did gives up here.  The estimates obey
    # the same linear restrictions as their influence functions, so a Wald test with a
    # generalised inverse and df = rank tests the same hypothesis on the independent cells.
    evals, evecs = np.linalg.eigh(v)
    tol = evals.max() * len(evals) * np.finfo(float).eps * 1e3
    good = evals > tol
    rank = int(good.sum())
    proj = evecs[:, good].T @ a
    w = float(n * np.sum(proj**2 / evals[good]))
    note = f"generalised inverse: {pre.size - rank} of {pre.size} pre-treatment cells are linearly dependent"
    return WaldTest(w, rank, float(stats.chi2.sf(w, rank)), note)


# --------------------------------------------------------------------------------------------
# Aggregation
# --------------------------------------------------------------------------------------------


@dataclass
class AggteResult:
    """Aggregated treatment effect: an overall ATT and, except for ``simple``, a table by
    event time (``dynamic``), cohort (``group``) or calendar period (``calendar``).

    ``inffunc`` (n_units x n_rows) and ``overall_inffunc`` (n_units,) are kept so that further
    contrasts (e.g. :func:`round_difference`) can be built on them.
    """

    type: str
    overall_att: float
    overall_se: float
    overall_se_analytic: float
    overall_inffunc: np.ndarray
    keys: np.ndarray
    att: np.ndarray
    se: np.ndarray
    se_analytic: np.ndarray
    inffunc: np.ndarray
    crit_val: float
    alp: float
    bstrap: bool
    cband: bool
    unit_ids: np.ndarray
    clusters: np.ndarray | None
    n_clusters: int

    _key_name = {"dynamic": "event_time", "group": "group", "calendar": "time", "simple": ""}

    def to_frame(self) -> pd.DataFrame:
        """Tidy table: first the overall row (level ``overall``), then one row per event time /
        cohort / period (level ``event_time`` / ``group`` / ``time``, value in ``key``).

        Columns: type, level, key, att, se, ci_low, ci_high, band_low, band_high (band only for the
        per-key rows, simultaneous over them).  Units: those of the outcome.
        """
        z = stats.norm.ppf(1 - self.alp / 2)
        crit = self.crit_val if (self.cband and np.isfinite(self.crit_val)) else np.nan
        rows = pd.DataFrame(
            {
                "type": self.type,
                "level": self._key_name[self.type],
                "key": pd.array(self.keys.astype(int), dtype="Int64"),
                "att": self.att,
                "se": self.se,
                "ci_low": self.att - z * self.se,
                "ci_high": self.att + z * self.se,
                "band_low": self.att - crit * self.se,
                "band_high": self.att + crit * self.se,
            }
        )
        overall = pd.DataFrame(
            {
                "type": [self.type],
                "level": ["overall"],
                "key": pd.array([pd.NA], dtype="Int64"),
                "att": [self.overall_att],
                "se": [self.overall_se],
                "ci_low": [self.overall_att - z * self.overall_se],
                "ci_high": [self.overall_att + z * self.overall_se],
                "band_low": [np.nan],
                "band_high": [np.nan],
            }
        )
        return pd.concat([overall, rows], ignore_index=True) if len(rows) else overall

    def summary(self) -> str:
        """Readable text summary of the aggregation."""
        z = stats.norm.ppf(1 - self.alp / 2)
        head = (
            f"Aggregated ATT ({self.type}): {self.overall_att:.4f} (se {self.overall_se:.4f}, "
            f"{100 * (1 - self.alp):.0f}% CI {self.overall_att - z * self.overall_se:.4f} to "
            f"{self.overall_att + z * self.overall_se:.4f})"
        )
        return head + "\n" + self.to_frame().round(4).to_string(index=False)


def _weight_influence(
    att: np.ndarray, member: np.ndarray, pg: np.ndarray, unit_group: np.ndarray, cell_group: np.ndarray
) -> np.ndarray:
    """Influence of estimating the cohort-share weights (R ``did``'s ``wif``), times att.

    For output e with member cells S_e and weights pg_c / s_e (s_e = sum over S_e of pg_c), the
    weights are functions of sample shares, so their estimation error adds
    ``sum_c [A_ic / s_e - R_ie pg_c / s_e^2] att_c`` with ``A_ic = 1{G_i = g_c} - pg_c`` and
    ``R_ie = sum_{c in S_e} A_ic``.  Returns an n x E matrix.
    """
    # A = H P' - 1 pg' with H the n x cohorts membership and P the cells x cohorts incidence, so
    # products with A need only the few cohort columns, never an n x K matrix.
    cohorts = np.unique(cell_group)
    h = (unit_group[:, None] == cohorts[None, :]).astype(float)
    p = (cell_group[:, None] == cohorts[None, :]).astype(float)

    def a_times(x: np.ndarray) -> np.ndarray:
        return h @ (p.T @ x) - (pg @ x)[None, :]

    s = pg @ member  # E
    term1 = a_times(member * att[:, None]) / s
    r = a_times(member)
    term2 = r * ((pg * att) @ member) / s**2
    return term1 - term2


def aggte(
    result: ATTGTResult,
    type: AggType = "group",
    min_e: float = -np.inf,
    max_e: float = np.inf,
    balance_e: int | None = None,
    bstrap: bool | None = None,
    biters: int | None = None,
    cband: bool | None = None,
    alp: float | None = None,
    clustervars: str | None = None,
    seed: int | np.random.Generator | None = None,
) -> AggteResult:
    """Aggregate ATT(g, t) into summary effects, as R ``did::aggte``.

    Parameters
    ----------
    result : ATTGTResult
        Output of :func:`att_gt`.
    type : {"simple", "dynamic", "group", "calendar"}
        ``simple``: average of post-treatment ATT(g, t) weighted by cohort size;
        ``dynamic``: by event time e = t - g (overall = mean over e >= 0);
        ``group``: by cohort (overall = cohort-size weighted mean);
        ``calendar``: by period (overall = mean over periods).
    min_e, max_e : float
        Event-time window (``simple``, ``group``, ``dynamic``; ignored with a warning for
        ``calendar``), in periods.
    balance_e : int, optional
        ``dynamic`` only: keep cohorts observed for at least ``balance_e`` periods after treatment
        so the composition does not change across event times.
    bstrap, biters, cband, alp : optional
        Default to the values used in :func:`att_gt`.
    clustervars : str, optional
        Must be the clustering used in :func:`att_gt` (the cluster labels are stored there); pass
        it to ``att_gt`` to cluster.  Given here only as a check.
    seed : int or numpy Generator, optional
        Random seed for the bootstrap.

    Returns
    -------
    AggteResult
        Standard errors include the estimated-weights correction of R ``did``.
    """
    _check_choice(type, AggType, "type")
    bstrap = result.bstrap if bstrap is None else bool(bstrap)
    biters = result.biters if biters is None else int(biters)
    cband = result.cband if cband is None else bool(cband)
    alp = result.alp if alp is None else _check_alp(alp)
    if clustervars is not None and clustervars != result.clustervars:
        raise DIDError(
            f"aggte: clustervars={clustervars!r} differs from the clustering in att_gt ({result.clustervars!r}); "
            f"re-run att_gt(..., clustervars={clustervars!r}) to cluster by it."
        )
    g, t, att, inf = result.group, result.time, result.att, result.inffunc
    e = t - g
    n = result.n_units
    # Cohort shares P(G = g) over all units in the analysis (including never-treated and the
    # last cohort when it only serves as a comparison), as in R ``did``.
    glist = np.unique(g)
    share = {gg: np.mean(result.unit_group == gg) for gg in glist}
    pg = np.array([share[gg] for gg in g])
    in_window = (g <= t) & (e >= min_e) & (e <= max_e)
    if not np.any(g <= t):
        raise DIDError("aggte: no post-treatment ATT(g,t) cell is estimable, so there is nothing to aggregate.")

    keys = np.array([])
    member = np.zeros((len(att), 0))
    use_wif = True
    if type in ("simple", "group") and balance_e is not None:
        warnings.warn(f"aggte: balance_e is ignored for type={type!r}; it applies to type='dynamic'.", stacklevel=2)
    if type == "calendar" and (np.isfinite(min_e) or np.isfinite(max_e) or balance_e is not None):
        warnings.warn("aggte: min_e, max_e and balance_e are ignored for type='calendar'.", stacklevel=2)

    if type == "simple":
        if not in_window.any():
            raise DIDError("aggte: no post-treatment cell in the event-time window; widen min_e/max_e.")
        m = in_window[:, None].astype(float)
        w = pg[:, None] * m / (pg @ m)
        ov_att = float(att @ w[:, 0])
        ov_inf = (inf @ w + _weight_influence(att, m, pg, result.unit_group, g))[:, 0]
    else:
        if type == "dynamic":
            include = np.ones(len(att), bool)
            if balance_e is not None:
                max_t = t.max()
                eligible = max_t - g >= balance_e
                need = np.unique(e[eligible & (e >= 0) & (e <= balance_e)])
                complete = [
                    gg for gg in np.unique(g[eligible]) if set(need) <= set(e[(g == gg)])
                ]
                if not complete:
                    raise DIDError(f"aggte: no cohort is observed through event time balance_e={balance_e}; lower it.")
                include = np.isin(g, complete)
            keys = np.unique(e[include])
            if balance_e is not None:
                keys = keys[(keys <= balance_e) & (keys >= balance_e - t.max() + result.periods[0])]
            keys = keys[(keys >= min_e) & (keys <= max_e)]
            if keys.size == 0:
                raise DIDError("aggte: no event time in the requested window; widen min_e/max_e/balance_e.")
            member = ((e[:, None] == keys[None, :]) & include[:, None]).astype(float)
        elif type == "group":
            # Cohorts with no estimable post-treatment cell (the last cohort when nobody is
            # never treated) only lend their pre-periods to the pre-trend test.
            keys = np.unique(g[g <= t])
            member = ((g[:, None] == keys[None, :]) & in_window[:, None]).astype(float)
            empty = keys[member.sum(axis=0) == 0]
            if empty.size:
                raise DIDError(f"aggte: cohort(s) {empty.astype(int).tolist()} have no cell in the event-time window; widen min_e/max_e.")
            # Within a cohort all cells share one weight, so no weight-estimation term (as in did).
            use_wif = False
        else:  # calendar
            post = g <= t
            keys = np.array([tt for tt in np.unique(t) if tt >= g.min() and np.any(post & (t == tt))])
            member = ((t[:, None] == keys[None, :]) & post[:, None]).astype(float)
        w = pg[:, None] * member / (pg @ member)
        k_att = att @ w
        k_inf = inf @ w
        if use_wif:
            k_inf = k_inf + _weight_influence(att, member, pg, result.unit_group, g)
        if type == "dynamic":
            sel = keys >= 0
            ov_att = float(np.mean(k_att[sel]))
            ov_inf = k_inf[:, sel].mean(axis=1)
        elif type == "group":
            pgg = np.array([share[gg] for gg in keys])
            ov_att = float(k_att @ pgg / pgg.sum())
            wif_g = _weight_influence(k_att, np.ones((len(keys), 1)), pgg, result.unit_group, keys)[:, 0]
            ov_inf = k_inf @ (pgg / pgg.sum()) + wif_g
        else:
            ov_att = float(np.mean(k_att))
            ov_inf = k_inf.mean(axis=1)

    cl, ncl = result.clusters, result.n_clusters
    ov_se_an = float(_analytic_se(ov_inf[:, None], cl, ncl)[0])
    k_se_an = _analytic_se(k_inf, cl, ncl) if type != "simple" else np.array([])
    ov_se, k_se = ov_se_an, k_se_an.copy()
    crit = stats.norm.ppf(1 - alp / 2)
    if type == "simple":
        k_att, k_inf = np.array([]), np.zeros((n, 0))
    if bstrap or (cband and type != "simple"):
        rng = np.random.default_rng(seed)
        both = np.column_stack([k_inf, ov_inf]) if type != "simple" else ov_inf[:, None]
        boot = _multiplier_bootstrap(both, cl, ncl, biters, alp, rng)
        if type != "simple":
            # The band covers the per-key rows only (the overall row is a single number).
            kb = boot.draws[:, :-1]
            ok = np.all(np.isfinite(kb), axis=0) & np.any(kb != 0, axis=0) & np.isfinite(boot.se[:-1])
            if cband and ok.any():
                tmax = np.abs(kb[:, ok] / boot.se[:-1][ok]).max(axis=1)
                crit_b = float(np.quantile(tmax, 1 - alp, method="inverted_cdf"))
                # did falls back to pointwise intervals when the band would be narrower.
                crit = max(crit_b, stats.norm.ppf(1 - alp / 2))
        if bstrap:
            ov_se = float(boot.se[-1])
            if type != "simple":
                k_se = boot.se[:-1]
    return AggteResult(
        type=type,
        overall_att=ov_att,
        overall_se=ov_se,
        overall_se_analytic=ov_se_an,
        overall_inffunc=ov_inf,
        keys=keys,
        att=np.asarray(k_att, float),
        se=np.asarray(k_se, float),
        se_analytic=np.asarray(k_se_an, float),
        inffunc=k_inf,
        crit_val=float(crit),
        alp=alp,
        bstrap=bstrap,
        cband=cband,
        unit_ids=result.unit_ids,
        clusters=cl,
        n_clusters=ncl,
    )


# --------------------------------------------------------------------------------------------
# Two-way fixed-effects event study
# --------------------------------------------------------------------------------------------


@dataclass
class TWFEResult:
    """Two-way fixed-effects event-study coefficients (relative to ``ref``)."""

    table: pd.DataFrame
    n_obs: int
    n_clusters: int
    ref: list[int]

    def to_frame(self) -> pd.DataFrame:
        """Tidy table: event_time, estimate, se, ci_low, ci_high, pvalue, reference (bool).

        Reference event times are rows with estimate 0 and no standard error.
        """
        return self.table.copy()

    def summary(self) -> str:
        return (
            f"TWFE event study: {self.n_obs} observations, {self.n_clusters} clusters, reference e = {self.ref}\n"
            + self.table.round(4).to_string(index=False)
        )


def twfe_event_study(
    data: pd.DataFrame,
    yname: str,
    tname: str,
    idname: str,
    gname: str,
    ref: int = -1,
    cluster: str | None = None,
    alp: float = 0.05,
) -> TWFEResult:
    """Conventional event-study regression with unit and period fixed effects.

    ``y_it = a_i + l_t + sum_{e != ref} b_e 1{t - g_i = e} + u_it``, never-treated units having all
    indicators 0, OLS with cluster-robust standard errors (statsmodels, by ``cluster``; default
    the unit).  Shown for contrast with :func:`att_gt`: under staggered timing with effects that
    change over time the b_e mix effects of other event times and use already-treated units as
    controls (see ``docs/did.md``).

    Parameters
    ----------
    data : DataFrame
        Long panel, one row per unit and period; unbalanced units are dropped with a warning.
    yname, tname, idname, gname : str
        Outcome, integer period, unit and first-treated-period (0 = never) columns.
    ref : int
        Omitted (reference) event time, in periods.
    cluster : str, optional
        Unit-level cluster column; defaults to ``idname``.
    alp : float
        Significance level of the intervals.

    Returns
    -------
    TWFEResult

    Notes
    -----
    The fixed effects are removed by two-way demeaning, which on a balanced panel gives exactly
    the coefficients and residuals of the regression with unit and period dummies (Frisch-Waugh-
    Lovell); the cluster-robust covariance is rescaled to statsmodels' small-sample factor
    ``G/(G-1) * (N-1)/(N-K)`` with K counting the dummies, so results equal the dummy regression
    (``tests/test_did.py`` checks this) without building an N x (units + periods) design.
    Without never-treated units the full set of event-time indicators is collinear with the
    fixed effects; the most negative event time is then also omitted, with a warning.
    """
    import statsmodels.api as sm

    where = "twfe_event_study"
    alp = _check_alp(alp)
    cluster = cluster or idname
    panel = _prepare_panel(
        data, yname, tname, idname, gname, 0, cluster if cluster != idname else None, where
    )
    y, periods, ug = panel.y, panel.periods, panel.g
    n_units, n_t = y.shape
    ev = np.where(ug[:, None] > 0, periods[None, :] - ug[:, None], np.nan)  # n x T event time
    all_e = np.unique(ev[np.isfinite(ev)]).astype(int)
    refs = [int(ref)]
    if ref not in all_e:
        raise DIDError(f"{where}: ref={ref} is not an observed event time; choose one of {all_e.tolist()}.")
    if not np.any(ug == 0):
        extra = int(all_e.min()) if all_e.min() != ref else int(np.sort(all_e)[1])
        refs.append(extra)
        warnings.warn(
            f"{where}: no never-treated units, so event time {extra} is also omitted to identify the model.",
            stacklevel=2,
        )
    es = np.array([e for e in all_e if e not in refs])
    x = np.stack([(ev == e).astype(float) for e in es], axis=-1)  # n x T x k

    def demean(a: np.ndarray) -> np.ndarray:
        # Two-way within transformation; exact for a balanced panel.
        return a - a.mean(axis=0, keepdims=True) - a.mean(axis=1, keepdims=True) + a.mean(axis=(0, 1), keepdims=True)

    yd = demean(y).reshape(-1)
    xd = demean(x).reshape(-1, len(es))
    groups = (np.arange(n_units) if panel.clusters is None else panel.clusters)
    groups = np.repeat(groups, n_t)
    fit = sm.OLS(yd, xd).fit(cov_type="cluster", cov_kwds={"groups": groups})
    n_obs = n_units * n_t
    k_full = len(es) + n_units + n_t - 1  # event dummies + unit dummies + period dummies (one dropped)
    scale = (n_obs - len(es)) / (n_obs - k_full)
    se = np.sqrt(np.diag(fit.cov_params()) * scale)
    n_cl = int(len(np.unique(groups)))
    # Normal critical values, as statsmodels' cluster-robust OLS (use_t=False) and att_gt use.
    q = stats.norm.ppf(1 - alp / 2)
    est = fit.params
    table = pd.DataFrame(
        {
            "event_time": es,
            "estimate": est,
            "se": se,
            "ci_low": est - q * se,
            "ci_high": est + q * se,
            "pvalue": 2 * stats.norm.sf(np.abs(est / se)),
            "reference": False,
        }
    )
    ref_rows = pd.DataFrame(
        {"event_time": refs, "estimate": 0.0, "se": np.nan, "ci_low": np.nan, "ci_high": np.nan, "pvalue": np.nan, "reference": True}
    )
    table = pd.concat([table, ref_rows], ignore_index=True).sort_values("event_time", ignore_index=True)
    return TWFEResult(table=table, n_obs=n_obs, n_clusters=n_cl, ref=refs)


# --------------------------------------------------------------------------------------------
# Round comparison
# --------------------------------------------------------------------------------------------


@dataclass
class RoundDifferenceResult:
    """Aggregated effects of two rounds and their difference (round 2 minus round 1)."""

    type: str
    att_r1: float
    att_r2: float
    diff: float
    se: float
    se_analytic: float
    ci_low: float
    ci_high: float
    alp: float
    n_units_r1: int
    n_units_r2: int
    n_common: int
    biters: int

    def to_frame(self) -> pd.DataFrame:
        """One row: type, att_r1, att_r2, diff (= r2 - r1), se, se_analytic, ci_low, ci_high,
        n_units_r1, n_units_r2, n_common.  Units: those of the outcome."""
        return pd.DataFrame(
            [
                {
                    "type": self.type,
                    "att_r1": self.att_r1,
                    "att_r2": self.att_r2,
                    "diff": self.diff,
                    "se": self.se,
                    "se_analytic": self.se_analytic,
                    "ci_low": self.ci_low,
                    "ci_high": self.ci_high,
                    "n_units_r1": self.n_units_r1,
                    "n_units_r2": self.n_units_r2,
                    "n_common": self.n_common,
                }
            ]
        )

    def summary(self) -> str:
        return (
            f"Round 2 - round 1 ({self.type} ATT): {self.att_r2:.4f} - {self.att_r1:.4f} = {self.diff:.4f} "
            f"(se {self.se:.4f}; {100 * (1 - self.alp):.0f}% CI {self.ci_low:.4f} to {self.ci_high:.4f}); "
            f"{self.n_common} units in both rounds"
        )


def round_difference(
    data_r1: pd.DataFrame,
    data_r2: pd.DataFrame,
    yname: str,
    tname: str,
    idname: str,
    gname: str,
    type: AggType = "simple",
    control_group: ControlGroup = "notyettreated",
    base_period: BasePeriod = "varying",
    anticipation: int = 0,
    xformla: str | None = None,
    clustervars: str | None = None,
    min_e: float = -np.inf,
    max_e: float = np.inf,
    balance_e: int | None = None,
    bstrap: bool = True,
    biters: int = 999,
    alp: float = 0.05,
    seed: int | np.random.Generator | None = None,
) -> RoundDifferenceResult:
    """Difference between the two rounds' aggregated effects (round 2 minus round 1).

    The same counties appear in both rounds, so the two estimates are correlated; the bootstrap
    therefore draws one multiplier per county (or per cluster, e.g. prefecture, with
    ``clustervars``) and applies it to that county's influence function in *both* rounds: a
    joint resampling of counties.  The analytic standard error uses the same pairing:
    ``sqrt(sum_i (IF1_i / n1 - IF2_i / n2)^2)``, a unit present in only one round (e.g. a county
    created by a split) contributing only its own term.  Merge split counties back first if the
    comparison should be on a common set.

    Parameters
    ----------
    data_r1, data_r2 : DataFrame
        Long panels of round 1 and round 2, each with its own period numbering and cohorts.
    yname, tname, idname, gname : str
        As in :func:`att_gt`; ``idname`` must identify the same county in both rounds.
    type : {"simple", "dynamic", "group", "calendar"}
        Aggregation whose overall effect is compared.
    control_group, base_period, anticipation, xformla, min_e, max_e, balance_e
        As in :func:`att_gt` and :func:`aggte`, the same for both rounds.
    clustervars : str, optional
        Unit-level cluster column present in both panels with the same labels.
    bstrap : bool
        If True the reported ``se`` and interval come from the joint multiplier bootstrap.
    biters : int
        Bootstrap draws.
    alp : float
        Significance level.
    seed : int or numpy Generator, optional
        Random seed.

    Returns
    -------
    RoundDifferenceResult
    """
    common = dict(
        yname=yname, tname=tname, idname=idname, gname=gname, control_group=control_group,
        base_period=base_period, anticipation=anticipation, xformla=xformla, clustervars=clustervars,
        bstrap=False, cband=False, alp=alp,
    )
    r1, r2 = att_gt(data_r1, **common), att_gt(data_r2, **common)
    a1, a2 = (aggte(r, type=type, min_e=min_e, max_e=max_e, balance_e=balance_e, bstrap=False, cband=False)
              for r in (r1, r2))
    ids = pd.Index(np.union1d(r1.unit_ids, r2.unit_ids))
    psi = np.zeros(len(ids))  # contribution of each unit to (theta2 - theta1) - truth
    psi[ids.get_indexer(r2.unit_ids)] += a2.overall_inffunc / r2.n_units
    psi[ids.get_indexer(r1.unit_ids)] -= a1.overall_inffunc / r1.n_units
    if clustervars:
        lab = pd.concat(
            [d.drop_duplicates(idname).set_index(idname)[clustervars] for d in (data_r1, data_r2)]
        )
        lab = lab[~lab.index.duplicated()].reindex(ids)
        codes, uniq = pd.factorize(lab, use_na_sentinel=False)
        s = _cluster_sums(psi[:, None], codes, len(uniq))[:, 0]
    else:
        s = psi
    se_an = float(np.sqrt(np.sum(s**2)))
    diff = a2.overall_att - a1.overall_att
    se = se_an
    if bstrap:
        rng = np.random.default_rng(seed)
        draws = _rademacher(rng, biters, len(s)) @ s
        q75, q25 = np.quantile(draws, [0.75, 0.25], method="inverted_cdf")
        se = float((q75 - q25) / _NORMAL_IQR)
    z = stats.norm.ppf(1 - alp / 2)
    return RoundDifferenceResult(
        type=type, att_r1=a1.overall_att, att_r2=a2.overall_att, diff=diff, se=se,
        se_analytic=se_an, ci_low=diff - z * se, ci_high=diff + z * se, alp=alp,
        n_units_r1=r1.n_units, n_units_r2=r2.n_units,
        n_common=int(np.intersect1d(r1.unit_ids, r2.unit_ids).size), biters=int(biters),
    )


# --------------------------------------------------------------------------------------------
# Synthetic data with a planted effect (tests, docs, benchmarks, Monte Carlo)
# --------------------------------------------------------------------------------------------


def simulate_did_panel(
    n_units: int = 181,
    n_periods: int = 8,
    cohorts: tuple[int, ...] = (3, 4, 5, 6),
    never_share: float = 0.2,
    effect: tuple[float, float] = (1.0, 0.5),
    cohort_effect: float = 0.0,
    noise_sd: float = 1.0,
    n_clusters: int = 21,
    seed: int | None = 0,
) -> pd.DataFrame:
    """Seeded staggered-adoption panel with a known dynamic effect.

    ``y_it = a_i + l_t + tau_it + e_it`` with unit effects correlated with the cohort (levels
    differ, trends do not), period effects, ``e_it ~ N(0, noise_sd^2)`` and, for treated
    ``t >= g``, ``tau_it = effect[0] + effect[1] * (t - g) + cohort_effect * (index of g)``.

    Parameters
    ----------
    n_units : int
        Number of units (counties).
    n_periods : int
        Periods 1..n_periods.
    cohorts : tuple of int
        First-treated periods; units not never-treated are spread evenly over them.
    never_share : float
        Share of never-treated units (``first_treat`` 0); 0 gives a round-2-like design.
    effect : (float, float)
        Effect at event time 0 and its change per period of exposure (outcome units).
    cohort_effect : float
        Extra effect per later cohort (heterogeneity across cohorts).
    noise_sd : float
        Idiosyncratic noise standard deviation.
    n_clusters : int
        Number of unit-level clusters (``prefecture``, 1..n_clusters).
    seed : int, optional
        Random seed.

    Returns
    -------
    DataFrame
        Columns ``county`` (int id), ``period``, ``first_treat``, ``prefecture``, ``y`` and
        ``true_effect`` (the planted tau_it).
    """
    rng = np.random.default_rng(seed)
    n_never = int(round(never_share * n_units))
    g = np.concatenate([np.zeros(n_never), np.resize(np.asarray(cohorts, float), n_units - n_never)])
    g = rng.permutation(g)
    periods = np.arange(1, n_periods + 1)
    cohort_rank = {c: i for i, c in enumerate(sorted(cohorts))}
    alpha = rng.normal(size=n_units) + 0.3 * g
    lam = 0.4 * periods + 0.3 * np.sin(periods)
    e = periods[None, :] - g[:, None]
    rank = np.array([cohort_rank.get(x, 0) for x in g])
    tau = np.where((g[:, None] > 0) & (e >= 0), effect[0] + effect[1] * e + cohort_effect * rank[:, None], 0.0)
    y = alpha[:, None] + lam[None, :] + tau + rng.normal(scale=noise_sd, size=(n_units, n_periods))
    prefecture = rng.integers(1, n_clusters + 1, size=n_units)
    return pd.DataFrame(
        {
            "county": np.repeat(np.arange(1, n_units + 1), n_periods),
            "period": np.tile(periods, n_units),
            "first_treat": np.repeat(g.astype(int), n_periods),
            "prefecture": np.repeat(prefecture, n_periods),
            "y": y.reshape(-1),
            "true_effect": tau.reshape(-1),
        }
    )
