"""Composite indices, weights, grades and rankings with honest uncertainty (DOMAIN.md §5).

The chain is: derived indicators (long panel) → direction-aware rescaling against an explicit
**reference frame** → weights (equal, entropy 熵权法, AHP, blended) → domain indices
(组织活力 vitality, 团干部配备 staffing, 任务完成 tasks) and an overall index per county × period →
grades and traffic lights → rankings with bootstrap rank intervals → the county ranking table
of the report (:func:`ranking_table`).  TOPSIS closeness and Cronbach's alpha are side views.  Every formula is written out in ``docs/methods-indices.md``.

Frames are long: ``county_code, period, indicator, value`` in, and ``score`` (rescaled) or
``index, value`` out.  Directions (+1 higher is better, -1 lower is better) and domains come from
the indicator catalog unless a mapping overrides them.

The array core (``_score``, ``_entropy``, ``_aggregate``) works on arrays shaped
``(..., units, indicators)`` so that the point estimate and every bootstrap draw go through the
same code: a rank interval is then the interval of exactly the published index.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from analysis.catalog import DOMAIN_NAMES_ZH, DOMAINS, load_catalog
from analysis.indicators import KEY
from analysis.design import CHANGE_WINDOWS  # one programme calendar

__all__ = [
    "INDEX_INDICATORS",
    "GRADES",
    "FLAGS_ZH",
    "RI_SAATY",
    "IndexInputError",
    "InconsistentJudgementError",
    "AHPResult",
    "Reliability",
    "index_inputs",
    "rescale",
    "equal_weights",
    "entropy_weights",
    "ahp_weights",
    "blend_weights",
    "topsis",
    "composite_index",
    "cronbach_alpha",
    "reliability",
    "grade",
    "traffic_light",
    "rank_intervals",
    "RANKING_LABELS_ZH",
    "ranking_table",
    "task_completion",
    "grade_distribution",
]

Method = Literal["minmax", "zscore", "efficacy"]
Scheme = Literal["noise", "counties"]

INDEX_INDICATORS: tuple[str, ...] = (
    # vitality
    "league_youth_ratio", "dues_rate", "nonpublic_org_rate", "township_activity_rate",
    # staffing
    "posts_fill_rate", "secretary_rate",
    # tasks
    "township_budget_rate", "funds_per_youth", "std_liaison", "std_attends", "std_assessment",
)
"""Default inputs of the indices [design]: rates and standards, not raw counts, because counts
grow with county size and would rank large counties first whatever their work."""

GRADES: tuple[str, ...] = ("优秀", "良好", "合格", "不合格")
FLAGS_ZH: dict[str, str] = {"green": "绿", "yellow": "黄", "red": "红"}

RI_SAATY: dict[int, float] = {
    1: 0.0, 2: 0.0, 3: 0.58, 4: 0.90, 5: 1.12, 6: 1.24, 7: 1.32, 8: 1.41, 9: 1.45, 10: 1.49,
    11: 1.51, 12: 1.48, 13: 1.56, 14: 1.57, 15: 1.59,
}
"""Saaty's random consistency index RI by matrix order n (Saaty 1980, table 1.7)."""


class IndexInputError(ValueError):
    """Inputs to an index computation are unusable (wrong columns, values, weights or options)."""


class InconsistentJudgementError(ValueError):
    """An AHP pairwise comparison matrix has a consistency ratio CR ≥ the limit."""

    def __init__(self, message: str, cr: float):
        super().__init__(message)
        self.cr = cr


# --------------------------------------------------------------------------- catalog lookups


def _lookup(indicators: Sequence[str], column: str, overrides: Mapping[str, object] | None) -> dict:
    overrides = dict(overrides or {})
    need = [c for c in indicators if c not in overrides]
    if need:
        cat = load_catalog()
        unknown = [c for c in need if c not in cat.index]
        if unknown:
            raise IndexInputError(
                f"indicator(s) {unknown} are not in the catalog; pass their {column} explicitly "
                f"(argument {column}s={{code: ...}})"
            )
        overrides.update({c: cat.at[c, column] for c in need})
    return {c: overrides[c] for c in indicators}


def _directions(indicators: Sequence[str], directions: Mapping[str, int] | None) -> np.ndarray:
    d = _lookup(indicators, "direction", directions)
    flat = [c for c, v in d.items() if int(v) not in (1, -1)]
    if flat:
        raise IndexInputError(
            f"indicator(s) {flat} have no direction (context indicators); drop them from the index "
            "or pass directions={code: +1 or -1}"
        )
    return np.array([int(d[c]) for c in indicators], dtype=float)


def index_inputs(panel: pd.DataFrame, indicators: Sequence[str] = INDEX_INDICATORS) -> pd.DataFrame:
    """Keep the rows of a long panel whose indicator feeds the indices.

    Parameters
    ----------
    panel : long panel (``county_code, period, indicator, value``).
    indicators : codes to keep; default :data:`INDEX_INDICATORS`.

    Returns
    -------
    The matching rows, same columns.
    """
    return panel[panel["indicator"].isin(list(indicators))].reset_index(drop=True)


def _matrix(panel: pd.DataFrame, value: str, indicators: Sequence[str] | None = None):
    """Long → (units frame, indicator list, float matrix units × indicators)."""
    for col in (*KEY, "indicator", value):
        if col not in panel.columns:
            raise IndexInputError(f"the long frame lacks column {col!r}; columns are {list(panel.columns)}")
    dup = panel.duplicated([*KEY, "indicator"])
    if dup.any():
        raise IndexInputError(
            f"{int(dup.sum())} rows repeat a (county_code, period, indicator), first "
            f"{panel.loc[dup, [*KEY, 'indicator']].iloc[0].to_dict()}; deduplicate before indexing"
        )
    wide = panel.pivot(index=KEY, columns="indicator", values=value)
    if indicators is None:
        indicators = sorted(wide.columns)
    wide = wide.reindex(columns=list(indicators)).astype(float)
    return wide.index.to_frame(index=False), list(indicators), wide.to_numpy()


# --------------------------------------------------------------------------- rescaling core


def _bounds(X: np.ndarray) -> tuple[np.ndarray, ...]:
    """Min, max, mean, sd (ddof=1) per indicator over the unit axis (-2), ignoring NaN."""
    with np.errstate(invalid="ignore"), _quiet():
        lo = np.nanmin(X, axis=-2)
        hi = np.nanmax(X, axis=-2)
        mean = np.nanmean(X, axis=-2)
        sd = np.nanstd(X, axis=-2, ddof=1)
    return lo, hi, mean, sd


@contextmanager
def _quiet():
    """Silence numpy's all-NaN-slice warnings: an all-missing indicator is handled downstream."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        yield


def _score(X, bounds, direction, method: str, clip: bool = False) -> np.ndarray:
    """Rescale X (..., n, m) with reference bounds (each (..., m)) and direction (m,)."""
    lo, hi, mean, sd = (np.expand_dims(b, -2) for b in bounds)
    with np.errstate(divide="ignore", invalid="ignore"):
        if method == "zscore":
            s = direction * (X - mean) / np.where(sd > 0, sd, np.nan)
        elif method in ("minmax", "efficacy"):
            span = np.where(hi > lo, hi - lo, np.nan)  # no spread → no information → missing
            frac = np.where(direction > 0, (X - lo) / span, (hi - X) / span)
            if clip:
                frac = np.clip(frac, 0.0, 1.0)
            s = 100.0 * frac if method == "minmax" else 60.0 + 40.0 * frac
        else:
            raise IndexInputError(f"method={method!r}; choose 'minmax', 'zscore' or 'efficacy'")
    return s


def rescale(
    panel: pd.DataFrame,
    reference: pd.DataFrame,
    *,
    method: Method = "minmax",
    directions: Mapping[str, int] | None = None,
    clip: bool = False,
) -> pd.DataFrame:
    """Direction-aware rescaling of each indicator against a reference frame.

    Parameters
    ----------
    panel : long panel, ``county_code, period, indicator, value``.
    reference : long panel whose rows set the scale (min, max, mean, sd per indicator), e.g. all
        counties in the round-1 baseline periods.  Pass the same frame to both rounds so that their
        scores are on one scale; pass ``panel`` itself for a within-sample scale.
    method : ``"minmax"`` → 0–100, ``100·(x−min)/(max−min)``; ``"efficacy"`` (功效系数) → 60–100,
        ``60 + 40·(x−min)/(max−min)``; ``"zscore"`` → ``(x−mean)/sd`` (sd with ddof=1).  For a
        lower-is-better indicator (direction −1) the fraction is ``(max−x)/(max−min)`` and the
        z-score changes sign.
    directions : overrides of the catalog's direction per indicator code.
    clip : clip the min–max fraction to [0, 1] for values outside the reference range.

    Returns
    -------
    ``panel`` with an added float column ``score`` (points for minmax/efficacy, standard deviations
    for zscore).  An indicator without spread in the reference (max = min or sd = 0) scores NaN:
    it cannot separate counties.
    """
    units, inds, X = _matrix(panel, "value")
    _, _, R = _matrix(reference, "value", inds)
    d = _directions(inds, directions)
    S = _score(X, _bounds(R), d, method, clip)
    scores = pd.DataFrame(S, columns=inds)
    scores[KEY] = units[KEY]
    long = scores.melt(id_vars=KEY, var_name="indicator", value_name="score")
    out = panel.merge(long, on=[*KEY, "indicator"], how="left")
    return out


# --------------------------------------------------------------------------- weights


def equal_weights(indicators: Sequence[str]) -> pd.DataFrame:
    """Equal weights ``1/m``.

    Returns
    -------
    DataFrame ``indicator, weight`` (weights sum to 1).
    """
    inds = list(dict.fromkeys(indicators))
    if not inds:
        raise IndexInputError("equal_weights: no indicators given")
    return pd.DataFrame({"indicator": inds, "weight": 1.0 / len(inds)})


def _entropy(S: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Entropy weights from non-negative S (..., n, m) with NaN = missing.

    Returns weights, entropies e_j and divergences d_j = 1 − e_j, each (..., m).  Conventions:
    0·ln 0 = 0; an indicator that is all zero or has fewer than 2 observations carries no
    information (e = 1, d = 0); k = 1/ln n_j uses the indicator's own number of observations.
    """
    with np.errstate(divide="ignore", invalid="ignore"), _quiet():
        n = np.sum(~np.isnan(S), axis=-2).astype(float)
        total = np.nansum(S, axis=-2, keepdims=True)
        p = S / np.where(total > 0, total, np.nan)
        plogp = np.where(p > 0, p * np.log(np.where(p > 0, p, 1.0)), 0.0)
        k = 1.0 / np.log(np.where(n >= 2, n, np.nan))
        e = -k * np.nansum(np.where(np.isnan(p), 0.0, plogp), axis=-2)
        e = np.where(np.isnan(e) | (np.squeeze(total, -2) <= 0), 1.0, e)
        # a constant indicator gives e = 1 up to round-off; make its d exactly 0
        d = np.where(np.abs(1.0 - e) < 1e-12, 0.0, 1.0 - e)
        dsum = d.sum(axis=-1, keepdims=True)
        w = d / np.where(dsum > 0, dsum, np.nan)
    return w, e, d


def entropy_weights(scores: pd.DataFrame, *, value: str = "score") -> pd.DataFrame:
    """Entropy weights (熵权法) from rescaled, non-negative scores.

    With ``x_ij`` the score of observation i (county × period) on indicator j, over the ``n_j``
    non-missing observations of j:

    ``p_ij = x_ij / Σ_i x_ij``, ``e_j = −k Σ_i p_ij ln p_ij`` with ``k = 1/ln n_j`` and
    ``0·ln 0 = 0``, ``d_j = 1 − e_j``, ``w_j = d_j / Σ_j d_j``.

    Parameters
    ----------
    scores : long frame with ``county_code, period, indicator`` and the column ``value``; use
        min–max or efficacy scores (non-negative, higher is better), not z-scores.
    value : column holding the scores.

    Returns
    -------
    DataFrame ``indicator, weight, entropy, divergence, n_obs``; weights sum to 1.

    Raises
    ------
    IndexInputError
        Negative scores (e.g. z-scores), or no indicator with any spread.
    """
    _, inds, S = _matrix(scores, value)
    if (S[~np.isnan(S)] < 0).any():
        raise IndexInputError(
            "entropy_weights: scores must be ≥ 0 (p_ij are shares); rescale with method='minmax' "
            "or 'efficacy' first, not 'zscore'"
        )
    w, e, d = _entropy(S)
    if np.isnan(w).any():
        raise IndexInputError(
            "entropy_weights: no indicator varies across observations (every d_j = 0), so entropy "
            "weights are undefined; use equal_weights or AHP"
        )
    return pd.DataFrame({
        "indicator": inds, "weight": w, "entropy": e, "divergence": d,
        "n_obs": np.sum(~np.isnan(S), axis=0),
    })


@dataclass(frozen=True)
class AHPResult:
    """AHP weights and consistency diagnostics.

    Attributes
    ----------
    weights : principal right eigenvector, normalised to sum 1, indexed by label.
    lambda_max : principal eigenvalue λmax.
    ci : consistency index ``(λmax − n)/(n − 1)``.
    ri : Saaty's random index for order n.
    cr : consistency ratio ``CI/RI`` (0 for n ≤ 2).
    """

    weights: pd.Series
    lambda_max: float
    ci: float
    ri: float
    cr: float

    def to_frame(self) -> pd.DataFrame:
        """``indicator, weight, lambda_max, ci, ri, cr`` (diagnostics repeated on each row)."""
        return pd.DataFrame({
            "indicator": self.weights.index, "weight": self.weights.to_numpy(),
            "lambda_max": self.lambda_max, "ci": self.ci, "ri": self.ri, "cr": self.cr,
        })


def ahp_weights(
    matrix: np.ndarray | pd.DataFrame | Sequence[Sequence[float]],
    labels: Sequence[str] | None = None,
    *,
    cr_max: float = 0.1,
) -> AHPResult:
    """Weights from an AHP pairwise comparison matrix (Saaty's 1–9 scale).

    Parameters
    ----------
    matrix : n × n, ``a_ij`` = how much more important i is than j; positive, ``a_ii = 1`` and
        reciprocal ``a_ji = 1/a_ij``.  A DataFrame supplies its own labels.
    labels : names of the n items (indicator codes or domains); default ``0..n-1``.
    cr_max : largest acceptable consistency ratio (Saaty: 0.1).

    Returns
    -------
    :class:`AHPResult` — weights = principal eigenvector normalised to sum 1; ``λmax``;
    ``CI = (λmax − n)/(n − 1)``; ``CR = CI/RI`` with :data:`RI_SAATY`.

    Raises
    ------
    InconsistentJudgementError
        ``CR ≥ cr_max``; the message gives CR so the judgements can be revised.
    IndexInputError
        A matrix that is not square, positive, unit-diagonal and reciprocal, or n > 15.
    """
    if isinstance(matrix, pd.DataFrame):
        labels = list(matrix.index) if labels is None else labels
        matrix = matrix.to_numpy()
    A = np.asarray(matrix, dtype=float)
    if A.ndim != 2 or A.shape[0] != A.shape[1] or A.shape[0] == 0:
        raise IndexInputError(f"ahp_weights: the matrix must be square, got shape {A.shape}")
    n = A.shape[0]
    labels = list(range(n)) if labels is None else list(labels)
    if len(labels) != n:
        raise IndexInputError(f"ahp_weights: {len(labels)} labels for a {n}×{n} matrix")
    if n not in RI_SAATY:
        raise IndexInputError(f"ahp_weights: Saaty's RI table covers n ≤ 15, got n = {n}; split into levels")
    if not (A > 0).all():
        raise IndexInputError("ahp_weights: every judgement must be positive (Saaty scale 1/9 … 9)")
    if not np.allclose(np.diag(A), 1.0):
        raise IndexInputError("ahp_weights: the diagonal must be 1 (an item is as important as itself)")
    bad = ~np.isclose(A * A.T, 1.0, rtol=1e-3)
    if bad.any():
        i, j = map(int, np.argwhere(bad)[0])
        raise IndexInputError(
            f"ahp_weights: not reciprocal at ({labels[i]}, {labels[j]}): {A[i, j]:g} × {A[j, i]:g} ≠ 1; "
            "enter the upper triangle and set a_ji = 1/a_ij"
        )
    vals, vecs = np.linalg.eig(A)
    k = int(np.argmax(vals.real))
    lam = float(vals[k].real)
    v = np.abs(vecs[:, k].real)  # Perron vector: one sign, take it positive
    w = v / v.sum()
    ci = (lam - n) / (n - 1) if n > 2 else 0.0
    ri = RI_SAATY[n]
    cr = ci / ri if ri > 0 else 0.0
    cr = max(cr, 0.0) if abs(cr) < 1e-12 else cr  # round-off on a perfectly consistent matrix
    if cr >= cr_max:
        raise InconsistentJudgementError(
            f"ahp_weights: consistency ratio CR = {cr:.3f} ≥ {cr_max} (λmax = {lam:.3f}, "
            f"CI = {ci:.3f}, RI = {ri}); the pairwise judgements contradict each other, revise them",
            cr,
        )
    return AHPResult(pd.Series(w, index=labels, name="weight"), lam, ci, ri, cr)


def _weights_series(weights) -> pd.Series:
    if isinstance(weights, AHPResult):
        s = weights.weights
    elif isinstance(weights, pd.DataFrame):
        s = weights.set_index("indicator")["weight"]
    elif isinstance(weights, pd.Series):
        s = weights
    else:
        s = pd.Series(dict(weights))
    s = s.astype(float)
    if (s < 0).any() or not np.isfinite(s).all():
        raise IndexInputError(f"weights must be finite and ≥ 0; got {s[(s < 0) | ~np.isfinite(s)].to_dict()}")
    if s.sum() <= 0:
        raise IndexInputError("weights sum to 0")
    return s / s.sum()


def blend_weights(
    subjective,
    objective,
    *,
    alpha: float = 0.5,
    method: Literal["linear", "multiplicative"] = "linear",
) -> pd.DataFrame:
    """Combine subjective (AHP) and objective (entropy) weights.

    ``linear``: ``w_j = α·s_j + (1 − α)·o_j``.  ``multiplicative``: ``w_j = s_j·o_j / Σ_k s_k·o_k``
    (α unused); it favours indicators that both sources rate highly.

    Parameters
    ----------
    subjective, objective : weights as a DataFrame ``indicator, weight``, a Series, a mapping or an
        :class:`AHPResult`, over the same indicators (each normalised to sum 1 first).
    alpha : weight of the subjective source, in [0, 1].
    method : ``"linear"`` or ``"multiplicative"``.

    Returns
    -------
    DataFrame ``indicator, weight`` summing to 1.
    """
    s, o = _weights_series(subjective), _weights_series(objective)
    if set(s.index) != set(o.index):
        raise IndexInputError(
            f"blend_weights: indicators differ; only subjective {sorted(set(s.index) - set(o.index))}, "
            f"only objective {sorted(set(o.index) - set(s.index))}"
        )
    o = o.reindex(s.index)
    if method == "linear":
        if not 0.0 <= alpha <= 1.0:
            raise IndexInputError(f"blend_weights: alpha = {alpha} must lie in [0, 1]")
        w = alpha * s + (1 - alpha) * o
    elif method == "multiplicative":
        w = s * o
        if w.sum() <= 0:
            raise IndexInputError("blend_weights: s_j·o_j is 0 for every indicator; use method='linear'")
    else:
        raise IndexInputError(f"blend_weights: method={method!r}; choose 'linear' or 'multiplicative'")
    w = w / w.sum()
    return pd.DataFrame({"indicator": w.index, "weight": w.to_numpy()})


# --------------------------------------------------------------------------- TOPSIS


def topsis(
    panel: pd.DataFrame,
    weights,
    *,
    reference: pd.DataFrame | None = None,
    directions: Mapping[str, int] | None = None,
    min_share: float = 2 / 3,
) -> pd.DataFrame:
    """TOPSIS closeness to the ideal solution.

    ``r_ij = x_ij / sqrt(Σ_i x_ij²)`` (vector normalisation over the reference rows),
    ``v_ij = w_j r_ij``; ideal ``v_j⁺`` = max over the reference for higher-is-better, min for
    lower-is-better, anti-ideal the opposite; ``D⁺_i = ‖v_i − v⁺‖``, ``D⁻_i = ‖v_i − v⁻‖``;
    closeness ``C_i = D⁻_i / (D⁺_i + D⁻_i)`` in [0, 1] (1 = at the ideal).

    Parameters
    ----------
    panel : long panel of raw indicator values (``value``).
    weights : DataFrame ``indicator, weight``, Series, mapping or :class:`AHPResult`.
    reference : rows that define the norms and the ideal points; default ``panel`` (classic TOPSIS,
        closeness relative to the alternatives compared).  Fix it to compare across rounds.
    directions : overrides of catalog directions.
    min_share : missing-data rule, the same as :func:`composite_index`'s: a row whose present
        indicators carry at least this share of the total weight gets a closeness computed over
        its present indicators only (a missing indicator adds to neither ``D⁺`` nor ``D⁻``, so the
        ratio stays on [0, 1]); below it the row gets NaN.  ``min_share=1`` is classic TOPSIS
        (any missing indicator → no score).

    Returns
    -------
    DataFrame ``county_code, period, closeness, d_best, d_worst, weight_share`` (``weight_share``
    = share of the total weight that is present in the row).
    """
    if not 0 < min_share <= 1:
        raise IndexInputError(f"topsis: min_share = {min_share} must lie in (0, 1]")
    w = _weights_series(weights)
    units, inds, X = _matrix(panel, "value", list(w.index))
    _, _, R = _matrix(panel if reference is None else reference, "value", inds)
    d = _directions(inds, directions)
    norm = np.sqrt(np.nansum(R**2, axis=0))
    norm = np.where(norm > 0, norm, np.nan)
    V, VR = w.to_numpy() * X / norm, w.to_numpy() * R / norm
    with _quiet():
        best = np.where(d > 0, np.nanmax(VR, axis=0), np.nanmin(VR, axis=0))
        worst = np.where(d > 0, np.nanmin(VR, axis=0), np.nanmax(VR, axis=0))
    # an all-zero indicator (norm 0) adds nothing to either distance
    dead = np.isnan(norm)
    V[:, dead], best[dead], worst[dead] = 0.0, 0.0, 0.0
    # missing-data rule: a missing cell drops out of both distances (nansum), as composite_index
    # re-weights around it; too little weight present → no score
    share = np.where(np.isnan(X), 0.0, w.to_numpy()).sum(axis=1) / w.sum()
    dp = np.sqrt(np.nansum((V - best) ** 2, axis=1))
    dm = np.sqrt(np.nansum((V - worst) ** 2, axis=1))
    enough = share >= min_share - 1e-12
    dp, dm = np.where(enough, dp, np.nan), np.where(enough, dm, np.nan)
    with np.errstate(invalid="ignore"):
        c = dm / (dp + dm)
    out = units.copy()
    out["closeness"], out["d_best"], out["d_worst"], out["weight_share"] = c, dp, dm, share
    return out


# --------------------------------------------------------------------------- composite indices


def _aggregate(S, w, groups, group_weights, min_share):
    """Weighted means with the re-weighting rule, on arrays.

    S (..., n, m) scores with NaN; w (m,) or (..., m) indicator weights; groups (m,) integer domain
    ids 0..G-1; group_weights (G,) or None (= sum of the indicator weights of each group).
    Returns domain indices (..., n, G) and their available weight share, and the overall index
    (..., n) and its available share.
    """
    G = int(groups.max()) + 1 if len(groups) else 0
    member = (groups[:, None] == np.arange(G)[None, :]).astype(float)  # (m, G)
    w = np.expand_dims(np.asarray(w, dtype=float), -2)  # (..., 1, m)
    avail = ~np.isnan(S)
    wa = np.where(avail, w, 0.0)
    num = (np.where(avail, S, 0.0) * wa) @ member  # (..., n, G)
    wsum = wa @ member
    wtot = w @ member  # (..., 1, G)
    with np.errstate(invalid="ignore", divide="ignore"):
        share = wsum / wtot
        dom = np.where(share >= min_share - 1e-12, num / wsum, np.nan)
    gw = wtot if group_weights is None else np.asarray(group_weights, dtype=float)
    davail = ~np.isnan(dom)
    gwa = np.where(davail, gw, 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        oshare = gwa.sum(-1) / np.sum(gw, axis=-1)
        overall = np.sum(np.where(davail, dom, 0.0) * gwa, axis=-1) / gwa.sum(-1)
        overall = np.where(oshare >= min_share - 1e-12, overall, np.nan)
        # a weighted mean lies between its smallest and largest term; rounding in the sums can
        # step outside by one ulp (100.00000000000001 from scores all 100), so clamp to them
        for g in range(G):
            sub = np.where(avail[..., groups == g], S[..., groups == g], np.nan)
            dom[..., g] = np.clip(dom[..., g], _nan_extreme(sub, np.fmin), _nan_extreme(sub, np.fmax))
        ddom = np.where(davail, dom, np.nan)
        overall = np.clip(overall, _nan_extreme(ddom, np.fmin), _nan_extreme(ddom, np.fmax))
    return dom, share, overall, oshare


def _nan_extreme(a: np.ndarray, ufunc) -> np.ndarray:
    """Row-wise minimum (``np.fmin``) or maximum (``np.fmax``) over the last axis, ignoring NaN;
    NaN where a row has no value (np.nanmin would warn)."""
    if a.shape[-1] == 0:
        return np.full(a.shape[:-1], np.nan)
    return ufunc.reduce(a, axis=-1)


def _domain_ids(inds: Sequence[str], domains: Mapping[str, str] | None) -> tuple[list[str], np.ndarray]:
    dom = _lookup(inds, "domain", domains)
    names = [g for g in DOMAINS if g in dom.values()] + sorted(
        {g for g in dom.values() if g not in DOMAINS}
    )
    if "context" in names:
        ctx = [c for c, g in dom.items() if g == "context"]
        raise IndexInputError(f"context indicators {ctx} do not belong in an index; drop them")
    return names, np.array([names.index(dom[c]) for c in inds], dtype=int)


def composite_index(
    scores: pd.DataFrame,
    weights,
    *,
    domains: Mapping[str, str] | None = None,
    domain_weights: Literal["indicator", "equal"] | Mapping[str, float] = "indicator",
    min_share: float = 2 / 3,
    value: str = "score",
) -> pd.DataFrame:
    """Domain indices and an overall index per county × period.

    Domain index = ``Σ_j w_j s_j / Σ_j w_j`` over the domain's *available* indicators, if their
    weight is at least ``min_share`` of the domain's total weight; else missing.  The overall index
    combines the available domain indices the same way with the domain weights, under the same
    ``min_share`` rule.  With all indicators present and ``domain_weights="indicator"`` the overall
    index equals ``Σ_j w_j s_j`` over all indicators.

    Parameters
    ----------
    scores : long frame with ``county_code, period, indicator`` and rescaled ``score``.
    weights : indicator weights (DataFrame ``indicator, weight``, Series, mapping, AHPResult);
        rows of ``scores`` whose indicator has no weight are ignored.
    domains : overrides of the catalog's domain per indicator.
    domain_weights : ``"indicator"`` (sum of the domain's indicator weights), ``"equal"``, or a
        mapping domain → weight.
    min_share : share of weight that must be present (default 2/3).
    value : column holding the scores.

    Returns
    -------
    Long DataFrame ``county_code, period, index, value, weight_share, n_indicators`` with
    ``index`` one of the domain codes (``vitality``, ``staffing``, ``tasks``) or ``overall``; in the
    unit of the scores (points for minmax/efficacy).  ``prefecture``/``base_code`` are carried.
    """
    if not 0 < min_share <= 1:
        raise IndexInputError(f"min_share = {min_share} must lie in (0, 1]")
    w = _weights_series(weights)
    units, inds, S = _matrix(scores[scores["indicator"].isin(w.index)], value, list(w.index))
    names, groups = _domain_ids(inds, domains)
    if isinstance(domain_weights, str) and domain_weights not in ("indicator", "equal"):
        raise IndexInputError(
            f"domain_weights={domain_weights!r}; choose 'indicator', 'equal' or a mapping domain → weight"
        )
    if domain_weights == "indicator":
        gw = None
    elif domain_weights == "equal":
        gw = np.ones(len(names))
    else:
        missing = [g for g in names if g not in domain_weights]
        if missing:
            raise IndexInputError(f"domain_weights lacks {missing}; give a weight for every domain")
        gw = np.array([float(domain_weights[g]) for g in names])
    dom, share, overall, oshare = _aggregate(S, w.to_numpy(), groups, gw, min_share)
    counts = np.stack([(~np.isnan(S[:, groups == g])).sum(1) for g in range(len(names))], axis=1)
    pieces = []
    for g, name in enumerate(names):
        p = units.copy()
        p["index"], p["value"], p["weight_share"], p["n_indicators"] = name, dom[:, g], share[:, g], counts[:, g]
        pieces.append(p)
    p = units.copy()
    p["index"], p["value"], p["weight_share"], p["n_indicators"] = "overall", overall, oshare, counts.sum(1)
    pieces.append(p)
    out = pd.concat(pieces, ignore_index=True)
    attrs = [c for c in ("prefecture", "base_code") if c in scores.columns]
    if attrs:
        out = out.merge(scores.groupby(KEY)[attrs].first().reset_index(), on=KEY, how="left")
    return out


# --------------------------------------------------------------------------- reliability


def cronbach_alpha(items: pd.DataFrame | np.ndarray) -> float:
    """Cronbach's alpha of a units × items table (complete rows only).

    ``α = k/(k − 1) · (1 − Σ_i σ²_i / σ²_total)``, variances with ddof = 1, ``σ²_total`` the
    variance of the row sums.  NaN if fewer than 2 items or 2 complete rows, or no total variance.
    """
    X = np.asarray(items, dtype=float)
    X = X[~np.isnan(X).any(axis=1)]
    n, k = X.shape
    if k < 2 or n < 2:
        return float("nan")
    total = X.sum(axis=1).var(ddof=1)
    if total <= 0:
        return float("nan")
    return float(k / (k - 1) * (1 - X.var(axis=0, ddof=1).sum() / total))


@dataclass(frozen=True)
class Reliability:
    """Internal consistency of each domain.

    Attributes
    ----------
    alpha : ``domain, n_items, n_obs, alpha`` (complete county × period rows only).
    items : ``domain, indicator, item_rest_r, alpha_if_deleted``.
    """

    alpha: pd.DataFrame
    items: pd.DataFrame

    def to_frame(self) -> pd.DataFrame:
        """Items with their domain's alpha alongside."""
        return self.items.merge(self.alpha, on="domain", how="left")


def reliability(
    scores: pd.DataFrame,
    *,
    domains: Mapping[str, str] | None = None,
    value: str = "score",
) -> Reliability:
    """Cronbach's alpha and item-rest correlations per domain.

    Item-rest correlation = Pearson correlation of an item with the sum of the *other* items of its
    domain (so the item does not correlate with itself).  Computed on county × period rows where
    every item of the domain is present.

    Parameters
    ----------
    scores : long frame with rescaled ``score`` (use the same direction-aware scores as the index,
        so that every item points the same way).
    domains : overrides of catalog domains.
    value : the score column.

    Returns
    -------
    :class:`Reliability`.
    """
    _, inds, S = _matrix(scores, value)
    names, groups = _domain_ids(inds, domains)
    arows, irows = [], []
    for g, name in enumerate(names):
        cols = [i for i, gg in enumerate(groups) if gg == g]
        X = S[:, cols]
        X = X[~np.isnan(X).any(axis=1)]
        arows.append({"domain": name, "n_items": len(cols), "n_obs": len(X), "alpha": cronbach_alpha(X)})
        for pos, c in enumerate(cols):
            rest = np.delete(X, pos, axis=1)
            r = np.nan
            if rest.shape[1] >= 1 and len(X) >= 2:
                rs = rest.sum(axis=1)
                if X[:, pos].std() > 0 and rs.std() > 0:
                    r = float(np.corrcoef(X[:, pos], rs)[0, 1])
            irows.append({
                "domain": name, "indicator": inds[c], "item_rest_r": r,
                "alpha_if_deleted": cronbach_alpha(rest) if rest.shape[1] >= 2 else np.nan,
            })
    return Reliability(pd.DataFrame(arows), pd.DataFrame(irows))


# --------------------------------------------------------------------------- grades and flags


def grade(
    frame: pd.DataFrame,
    *,
    cutoffs: Sequence[float] = (90.0, 80.0, 60.0),
    labels: Sequence[str] = GRADES,
    value: str = "value",
) -> pd.DataFrame:
    """Grade index values: 优秀 ≥ 90, 良好 80–<90, 合格 60–<80, 不合格 < 60 (defaults).

    Parameters
    ----------
    frame : any frame with a numeric column ``value`` (index points, 0–100 scale).
    cutoffs : descending lower bounds of every grade but the last.
    labels : one more label than cut-offs, best first.
    value : column to grade.

    Returns
    -------
    ``frame`` with a categorical column ``grade`` (ordered worst → best); NaN values get no grade.
    """
    cut = [float(c) for c in cutoffs]
    if len(labels) != len(cut) + 1:
        raise IndexInputError(f"grade: {len(labels)} labels need {len(labels) - 1} cut-offs, got {len(cut)}")
    if any(a <= b for a, b in zip(cut, cut[1:])):
        raise IndexInputError(f"grade: cut-offs {cut} must be strictly descending (best grade first)")
    v = frame[value].to_numpy(dtype=float)
    # number of cut-offs the value fails to reach = position of its label
    pos = np.sum(v[:, None] < np.array(cut)[None, :], axis=1)
    out = frame.copy()
    cats = pd.CategoricalDtype(list(labels)[::-1], ordered=True)
    g = pd.Series(np.array(labels, dtype=object)[pos], index=frame.index)
    out["grade"] = g.where(~np.isnan(v)).astype(cats)
    return out


def traffic_light(
    frame: pd.DataFrame,
    target: float | Mapping[str, float] | pd.Series,
    *,
    value: str = "value",
    key: str = "index",
    yellow_from: float = 10.0,
    red_beyond: float = 30.0,
) -> pd.DataFrame:
    """Red / yellow / green flags against targets.

    ``gap = target − value`` (points behind).  green: ``gap < yellow_from`` (on target, or within
    the tolerance); yellow: ``yellow_from ≤ gap ≤ red_beyond``; red: ``gap > red_beyond``.  With
    the defaults: green on target or < 10 behind, yellow 10–30 behind, red > 30 behind.

    Parameters
    ----------
    frame : frame with a numeric ``value`` column.
    target : one target for every row, or a mapping/Series from the ``key`` column's values
        (e.g. index or indicator code) to targets.
    value, key : column names.
    yellow_from, red_beyond : thresholds in points behind (``0 ≤ yellow_from ≤ red_beyond``).

    Returns
    -------
    ``frame`` with ``target``, ``gap`` and ``flag`` (``green``/``yellow``/``red``, NaN if no value
    or no target); :data:`FLAGS_ZH` maps flags to 绿/黄/红.
    """
    if not 0 <= yellow_from <= red_beyond:
        raise IndexInputError(f"traffic_light: need 0 ≤ yellow_from ({yellow_from}) ≤ red_beyond ({red_beyond})")
    out = frame.copy()
    if isinstance(target, (int, float)):
        out["target"] = float(target)
    else:
        if key not in frame.columns:
            raise IndexInputError(f"traffic_light: per-{key} targets need a column {key!r}")
        out["target"] = frame[key].map(dict(target)).astype(float)
    out["gap"] = out["target"] - out[value].astype(float)
    gap = out["gap"].to_numpy()
    flag = np.select([gap < yellow_from, gap <= red_beyond, gap > red_beyond], ["green", "yellow", "red"], "")
    out["flag"] = pd.Series(flag, index=out.index).replace("", np.nan)
    return out


# --------------------------------------------------------------------------- rankings


def _rank_desc(V: np.ndarray) -> np.ndarray:
    """Ranks along the last axis, 1 = highest; ties by position; NaN → NaN (ranked after all)."""
    order = np.argsort(np.where(np.isnan(V), np.inf, -V), axis=-1, kind="stable")
    ranks = np.empty(V.shape, dtype=float)
    np.put_along_axis(ranks, order, np.broadcast_to(np.arange(1, V.shape[-1] + 1, dtype=float), V.shape), -1)
    ranks[np.isnan(V)] = np.nan
    return ranks


def _is_bool(inds: Sequence[str]) -> np.ndarray:
    """Which indicators are 0/1 (catalog type ``bool``); codes outside the catalog are not."""
    cat = load_catalog()
    return np.array([c in cat.index and cat.at[c, "type"] == "bool" for c in inds], dtype=bool)


def _flip_vector(inds: Sequence[str], flip_prob, X: np.ndarray) -> np.ndarray:
    """Per-indicator probability that a 0/1 value is misreported (flipped) in a noise draw."""
    is_bool = _is_bool(inds)
    if isinstance(flip_prob, (int, float)):
        if not 0 <= flip_prob <= 1:
            raise IndexInputError(f"flip_prob = {flip_prob} must lie in [0, 1] (a probability per 0/1 value)")
        p = np.where(is_bool, float(flip_prob), 0.0)
    else:
        given = dict(flip_prob)
        unknown = sorted(set(given) - set(inds))
        if unknown:
            raise IndexInputError(f"flip_prob names indicators not in the panel: {unknown}")
        p = np.array([float(given.get(c, 0.0)) for c in inds])
        if ((p < 0) | (p > 1)).any():
            raise IndexInputError("flip_prob values must lie in [0, 1] (a probability per 0/1 value)")
    # flipping means 1 − x, which is only meaningful where every value is 0 or 1
    for j in np.flatnonzero(p > 0):
        col = X[:, j]
        col = col[~np.isnan(col)]
        odd = col[~np.isin(col, (0.0, 1.0))]
        if len(odd):
            raise IndexInputError(
                f"flip_prob: indicator {inds[j]!r} has values other than 0/1 (e.g. {odd[0]:g}); "
                "give it relative noise through noise_sd instead"
            )
    return p


def _noise_vector(inds: Sequence[str], noise_sd) -> np.ndarray:
    if isinstance(noise_sd, (int, float)):
        if noise_sd < 0:
            raise IndexInputError("noise_sd must be ≥ 0 (a relative standard deviation, e.g. 0.05 = 5 %)")
        # multiplicative noise on a 0/1 standard would invent values like 1.04; a scalar noise level
        # therefore applies to counts, rates and money only (catalog type); 0/1 get flip_prob
        return np.where(_is_bool(inds), 0.0, float(noise_sd))
    sd = dict(noise_sd)
    unknown = sorted(set(sd) - set(inds))
    if unknown:
        raise IndexInputError(f"noise_sd names indicators not in the panel: {unknown}")
    v = np.array([float(sd.get(c, 0.0)) for c in inds])
    if (v < 0).any():
        raise IndexInputError("noise_sd must be ≥ 0 (a relative standard deviation, e.g. 0.05 = 5 %)")
    return v


def rank_intervals(
    panel: pd.DataFrame,
    reference: pd.DataFrame,
    *,
    scheme: Scheme = "noise",
    weights: Literal["entropy", "equal"] | pd.DataFrame | pd.Series | Mapping[str, float] = "entropy",
    method: Literal["minmax", "efficacy"] = "minmax",
    noise_sd: float | Mapping[str, float] = 0.05,
    flip_prob: float | Mapping[str, float] = 0.0,
    unit: Literal["county", "prefecture"] = "county",
    index: str = "overall",
    n_draws: int = 999,
    level: float = 0.90,
    seed: int = 0,
    min_share: float = 2 / 3,
    directions: Mapping[str, int] | None = None,
    domains: Mapping[str, str] | None = None,
    chunk: int = 128,
) -> pd.DataFrame:
    """Rank counties (or prefectures) on an index, with bootstrap intervals on the ranks.

    The point index is the one :func:`rescale` + :func:`composite_index` give (same reference,
    weights, ``min_share`` and ``domain_weights="indicator"``).  Ranks are within each period, 1 =
    best, ties broken by county code so ranks are a permutation.  A prefecture's index is the mean
    of its counties' indices.

    Schemes
    -------
    ``"noise"`` (measurement noise): each draw multiplies every value by ``1 + sd_j·ε``,
    ``ε ~ N(0, 1)``, with ``sd_j`` the relative noise of indicator j; the reference bounds and the
    weights stay those of the point estimate, so only the data's noise moves the ranks.  A scalar
    ``noise_sd`` applies to every indicator except 0/1 ones (catalog type ``bool``), which stay
    exact; a mapping sets each indicator's noise explicitly.  A 0/1 value (是/否 standards) is
    instead misreported with probability ``flip_prob``: it becomes ``1 − x`` in a draw.  A scalar
    ``flip_prob`` applies to every catalog ``bool`` indicator; a mapping names indicators (whose
    values must all be 0 or 1).  The default 0 keeps 0/1 values exact.
    ``"counties"`` (sampling of counties): each draw resamples the reference frame's counties with
    replacement (all periods of a drawn county), recomputes the min–max bounds and, if
    ``weights="entropy"``, the entropy weights on that sample, then scores and ranks the *original*
    counties.  It shows how much a ranking owes to which counties happen to set the scale.

    Parameters
    ----------
    panel : long panel of indicator values (``county_code, period, indicator, value``; plus
        ``prefecture`` for ``unit="prefecture"``).  Indicators are those of ``weights`` or, for
        ``"entropy"``/``"equal"``, all in the panel.
    reference : long panel that sets the scale (see :func:`rescale`); entropy weights of the
        point estimate are computed on the reference's scores.
    scheme, weights, method, noise_sd : see above; ``noise_sd`` scalar or per-indicator mapping
        (missing indicators: 0).
    flip_prob : probability in [0, 1] that a 0/1 value is flipped in a noise draw; scalar (all
        catalog ``bool`` indicators) or per-indicator mapping (missing indicators: 0).
    unit : ``"county"`` or ``"prefecture"``.
    index : ``"overall"`` or a domain code.
    n_draws : bootstrap draws (999 by default).
    level : central coverage of the rank interval (0.90 → 5 %–95 % quantiles).
    seed : seed of ``numpy.random.default_rng``.
    chunk : draws processed at once (memory: chunk × rows × indicators floats).

    Returns
    -------
    DataFrame ``period, <county_code|prefecture>, value, rank, rank_low, rank_high, n_units,
    rank_range``: ``value`` the point index, ``rank_low``/``rank_high`` the lower/upper quantiles
    of the bootstrap ranks (rounded outward to whole ranks), ``rank_range`` the text ``"3–9"`` (or
    ``"3"``) so a report can say "ranked 3rd–9th" / "第3–9名".
    """
    if scheme not in ("noise", "counties"):
        raise IndexInputError(f"scheme={scheme!r}; choose 'noise' or 'counties'")
    if method not in ("minmax", "efficacy"):
        raise IndexInputError(f"method={method!r}; rank intervals use 'minmax' or 'efficacy' scores")
    if not 0 < level < 1:
        raise IndexInputError(f"level = {level} must lie in (0, 1)")
    if n_draws < 1:
        raise IndexInputError(f"n_draws = {n_draws} must be ≥ 1")
    if unit not in ("county", "prefecture"):
        raise IndexInputError(f"unit={unit!r}; choose 'county' or 'prefecture'")
    if unit == "prefecture" and "prefecture" not in panel.columns:
        raise IndexInputError("unit='prefecture' needs a 'prefecture' column in the panel")
    if isinstance(weights, str):
        if weights not in ("entropy", "equal"):
            raise IndexInputError(f"weights={weights!r}; give 'entropy', 'equal' or explicit weights")
        fixed_w = None
        inds = sorted(panel["indicator"].unique())
    else:
        fixed_w = _weights_series(weights)
        inds = list(fixed_w.index)
    units, inds, X = _matrix(panel[panel["indicator"].isin(inds)], "value", inds)
    d = _directions(inds, directions)
    names, groups = _domain_ids(inds, domains)
    if index != "overall" and index not in names:
        raise IndexInputError(f"index={index!r}; choose 'overall' or one of {names}")

    ref = reference[reference["indicator"].isin(inds)]
    ref_units, _, R = _matrix(ref, "value", inds)
    bounds = _bounds(R)

    def weights_for(S_ref: np.ndarray) -> np.ndarray:
        if fixed_w is not None:
            return np.broadcast_to(fixed_w.to_numpy(), S_ref.shape[:-2] + (len(inds),))
        if weights == "equal":
            return np.full(S_ref.shape[:-2] + (len(inds),), 1.0 / len(inds))
        return _entropy(S_ref)[0]

    def pick(dom, overall):
        return overall if index == "overall" else dom[..., names.index(index)]

    w0 = weights_for(_score(R, bounds, d, method))
    if np.isnan(w0).any():
        raise IndexInputError("rank_intervals: entropy weights undefined on the reference (no indicator varies)")
    dom0, _, ov0, _ = _aggregate(_score(X, bounds, d, method), w0, groups, None, min_share)
    point = pick(dom0, ov0)

    rng = np.random.default_rng(seed)
    sd = _noise_vector(inds, noise_sd) if scheme == "noise" else None
    flip = _flip_vector(inds, flip_prob, X) if scheme == "noise" else None
    if scheme == "counties":
        # reference as (counties, periods, indicators) so whole counties are drawn
        ref_units = ref_units.assign(_row=np.arange(len(ref_units)))
        c_codes = ref_units["county_code"].unique()
        p_codes = ref_units["period"].unique()
        cube = np.full((len(c_codes), len(p_codes), len(inds)), np.nan)
        ci = pd.Index(c_codes).get_indexer(ref_units["county_code"])
        pi = pd.Index(p_codes).get_indexer(ref_units["period"])
        cube[ci, pi] = R
    draws = np.empty((n_draws, len(units)))
    for start in range(0, n_draws, chunk):
        b = min(chunk, n_draws - start)
        if scheme == "noise":
            Xb = X[None] * (1.0 + sd * rng.standard_normal((b, *X.shape)))
            if flip.any():
                Xb = np.where(rng.random((b, *X.shape)) < flip, 1.0 - X[None], Xb)
            Sb = _score(Xb, bounds, d, method)
            wb = w0
        else:
            idx = rng.integers(0, len(c_codes), size=(b, len(c_codes)))
            Rb = cube[idx].reshape(b, -1, len(inds))
            bb = _bounds(Rb)
            Sb = _score(X[None], bb, d, method)
            wb = weights_for(_score(Rb, bb, d, method))
        dom, _, ov, _ = _aggregate(Sb, wb, groups, None, min_share)
        draws[start:start + b] = pick(dom, ov)

    # rank within each period (and per prefecture mean when asked)
    lo_q, hi_q = (1 - level) / 2, 1 - (1 - level) / 2
    label = "county_code" if unit == "county" else "prefecture"
    if unit == "prefecture":
        pref = panel.groupby(KEY)["prefecture"].first()
        units = units.assign(prefecture=pref.reindex(pd.MultiIndex.from_frame(units[KEY])).to_numpy())
    out = []
    for period, rows in units.groupby("period", sort=True):
        pos = rows.index.to_numpy()
        if unit == "county":
            order = np.argsort(rows["county_code"].to_numpy(), kind="stable")
            pos, names_u = pos[order], rows["county_code"].to_numpy()[order]
            P, Bv = point[pos], draws[:, pos]
        else:
            groups_u = rows["prefecture"].to_numpy()
            names_u = np.array(sorted(pd.unique(groups_u)))
            M = (groups_u[None, :] == names_u[:, None]).astype(float)  # (P, n)

            def mean_by(v):
                ok = ~np.isnan(v)
                with np.errstate(invalid="ignore"):
                    return (np.where(ok, v, 0.0) @ M.T) / (ok.astype(float) @ M.T)

            P, Bv = mean_by(point[pos][None])[0], mean_by(draws[:, pos])
        r0 = _rank_desc(P)
        rb = _rank_desc(Bv)
        with _quiet():
            low = np.floor(np.nanquantile(rb, lo_q, axis=0, method="lower"))
            high = np.ceil(np.nanquantile(rb, hi_q, axis=0, method="higher"))
        out.append(pd.DataFrame({
            "period": period, label: names_u, "value": P, "rank": r0,
            "rank_low": low, "rank_high": high, "n_units": int(np.sum(~np.isnan(P))),
        }))
    res = pd.concat(out, ignore_index=True)
    res["rank_range"] = [
        "" if np.isnan(lo) else (f"{lo:.0f}" if lo == hi else f"{lo:.0f}–{hi:.0f}")
        for lo, hi in zip(res["rank_low"], res["rank_high"])
    ]
    return res


# --------------------------------------------------------------------------- the county ranking table

RANKING_LABELS_ZH: dict[str, str] = {
    "county_code": "县级单位代码",
    "county": "县级单位",
    "prefecture": "市州",
    "period": "时期",
    "overall": "综合指数（分）",
    **{d: f"{DOMAIN_NAMES_ZH[d]}指数（分）" for d in DOMAINS},
    "overall_change": "综合指数第二轮变化（分）",
    **{f"{d}_change": f"{DOMAIN_NAMES_ZH[d]}指数第二轮变化（分）" for d in DOMAINS},
    "grade": "等级",
    "flag": "预警",
    "rank": "排名",
    "rank_low": "排名区间下限",
    "rank_high": "排名区间上限",
    "rank_label": "排名（90%区间）",
}
"""Chinese column headers of :func:`ranking_table` for export (English codes → 中文表头)."""

ROUND2_WINDOW: tuple[str, str] = tuple(CHANGE_WINDOWS[2]["round"])
"""Change over round 2: the programme calendar's window (:data:`analysis.design.CHANGE_WINDOWS`),
from the half-year before batch 1 to the last half-year of the round."""


def _long_index_inputs(panel: pd.DataFrame, indicators: Sequence[str],
                       where: str = "ranking_table") -> pd.DataFrame:
    """A wide (``panel.parquet``) or long panel → long rows of the index indicators (``where``
    names the caller in the errors)."""
    attrs = [c for c in ("prefecture", "base_code") if c in panel.columns]
    if "indicator" in panel.columns:
        long = panel
    else:
        missing = [c for c in KEY if c not in panel.columns]
        if missing:
            raise IndexInputError(
                f"{where}: the panel lacks {missing}; pass the wide panel.parquet of "
                "`python -m analysis clean` or a long panel (county_code, period, indicator, value)"
            )
        cols = [c for c in indicators if c in panel.columns]
        long = panel.melt(id_vars=[*KEY, *attrs], value_vars=cols, var_name="indicator", value_name="value")
    long = long[long["indicator"].isin(list(indicators))].dropna(subset=["value"])
    if long.empty:
        raise IndexInputError(f"{where}: the panel has no values of the index indicators {list(indicators)}")
    long = long.assign(county_code=long["county_code"].astype(str), period=long["period"].astype(str))
    return long[[*KEY, *attrs, "indicator", "value"]].reset_index(drop=True)


def _unit_names() -> tuple[dict[str, str], dict[str, str]]:
    """County name and prefecture short name of every code in the 2007–2014 code books (newest wins)."""
    from analysis.reference import load_units  # reference data, read only when no names are given

    names: dict[str, str] = {}
    prefs: dict[str, str] = {}
    for vintage in range(2007, 2015):
        u = load_units(vintage)
        names.update(zip(u["code"], u["name"]))
        prefs.update(zip(u["code"], u["prefecture_short"]))
    return names, prefs


def ranking_table(
    panel: pd.DataFrame,
    reference: pd.DataFrame | None = None,
    *,
    period: str | None = None,
    change_window: tuple[str, str] | None = ROUND2_WINDOW,
    indicators: Sequence[str] = INDEX_INDICATORS,
    weights: Literal["entropy", "equal"] | pd.DataFrame | pd.Series | Mapping[str, float] = "entropy",
    method: Literal["minmax", "efficacy"] = "minmax",
    min_share: float = 2 / 3,
    target: float = 80.0,
    scheme: Scheme = "noise",
    noise_sd: float | Mapping[str, float] = 0.05,
    flip_prob: float | Mapping[str, float] = 0.0,
    n_draws: int = 999,
    level: float = 0.90,
    seed: int = 0,
    names: Mapping[str, str] | None = None,
    prefectures: Mapping[str, str] | None = None,
) -> pd.DataFrame:
    """The county ranking table of the report: indices, change, grade, flag, rank and rank interval.

    One row per county present in ``period``: its overall and domain indices (points), their
    change over round 2 (``change_window``), the grade of the overall index, a traffic light
    against ``target`` and the rank with its bootstrap interval (:func:`rank_intervals`, whose
    point index is the same overall index), sorted by rank (counties without an overall index
    last).

    Parameters
    ----------
    panel : the wide processed panel (``panel.parquet``: ``county_code, period`` and one column
        per indicator; ``base_code``/``prefecture`` kept) or a long panel
        (``county_code, period, indicator, value``).  Values in catalog units (rates in %).
    reference : rows that set the scale (see :func:`rescale`); default every row of ``panel``
        (all periods), so that the indices of different half-years, and hence the changes, are on
        one scale.
    period : half-year of the ranking; default ``change_window[1]`` if the panel has it, else the
        latest half-year.
    change_window : ``(start, end)`` half-years of the change columns (``end − start``, points);
        ``None`` leaves them out.  A county missing either half-year (e.g. a unit created in 2013)
        gets NaN.
    indicators : indicator codes of the index (default :data:`INDEX_INDICATORS`).
    weights : ``"entropy"`` (on the reference's scores), ``"equal"`` or explicit indicator weights.
    method : ``"minmax"`` (0–100) or ``"efficacy"`` (60–100) scores.
    min_share : missing-data rule of :func:`composite_index`.
    target : traffic-light target of the overall index, points (default 80, the 良好 line)
        [design]; flags as :func:`traffic_light` (green < 10 behind, yellow 10–30, red > 30).
    scheme, noise_sd, flip_prob, n_draws, level, seed : rank intervals, see :func:`rank_intervals`.
    names, prefectures : county code → name / prefecture; default the 2007–2014 code books (a
        ``prefecture`` column of the panel wins over the code book).

    Returns
    -------
    DataFrame with English column codes ``county_code, county, prefecture, period, overall,
    vitality, staffing, tasks, overall_change, vitality_change, staffing_change, tasks_change,
    grade, flag, rank, rank_low, rank_high, rank_label`` (``rank_label`` e.g. ``"第3–9名"``);
    :data:`RANKING_LABELS_ZH` (also in ``.attrs["labels_zh"]``) gives their Chinese headers.
    """
    long = _long_index_inputs(panel, indicators)
    ref = long if reference is None else _long_index_inputs(reference, indicators)
    periods = sorted(long["period"].unique())
    if period is None:
        period = change_window[1] if change_window and change_window[1] in periods else periods[-1]
    if period not in periods:
        raise IndexInputError(f"ranking_table: period {period!r} is not in the panel; periods: {periods}")
    inds = sorted(long["indicator"].unique())
    ref = ref[ref["indicator"].isin(inds)]
    if isinstance(weights, str):
        if weights == "entropy":
            w = entropy_weights(rescale(ref, ref, method=method))
        elif weights == "equal":
            w = equal_weights(inds)
        else:
            raise IndexInputError(f"ranking_table: weights={weights!r}; give 'entropy', 'equal' or explicit weights")
        w = w.set_index("indicator")["weight"]
    else:
        w = _weights_series(weights)
    w = w[w.index.isin(inds)]
    index = composite_index(rescale(long, ref, method=method), w, min_share=min_share)
    wide = index.pivot(index=KEY, columns="index", values="value")
    doms = [d for d in (*DOMAINS, "overall") if d in wide.columns]
    at = wide.xs(period, level="period")[doms]
    table = at.reset_index().assign(period=period)
    for d in DOMAINS:
        if d not in table.columns:
            table[d] = np.nan
    if change_window is not None:
        start, end = change_window
        for d in (*DOMAINS, "overall"):
            col = wide[d] if d in wide.columns else pd.Series(np.nan, index=wide.index)
            a = col.xs(start, level="period") if start in periods else pd.Series(dtype=float)
            b = col.xs(end, level="period") if end in periods else pd.Series(dtype=float)
            table[f"{d}_change"] = table["county_code"].map(b.sub(a, fill_value=np.nan)).astype(float)
    # the counties scheme re-estimates entropy weights on each resample, so it gets the rule, not
    # the numbers; the noise scheme keeps the point weights either way
    rank_w = weights if scheme == "counties" and isinstance(weights, str) else w
    ranks = rank_intervals(
        long[long["period"] == period], ref, scheme=scheme, weights=rank_w, method=method,
        noise_sd=noise_sd, flip_prob=flip_prob, n_draws=n_draws, level=level, seed=seed,
        min_share=min_share,
    )
    table = table.merge(ranks[["county_code", "rank", "rank_low", "rank_high", "rank_range"]],
                        on="county_code", how="left")
    table["grade"] = grade(table, value="overall")["grade"]
    table["flag"] = traffic_light(table, float(target), value="overall")["flag"]
    table["rank_label"] = [f"第{r}名" if r else "" for r in table["rank_range"].fillna("")]
    if names is None or (prefectures is None and "prefecture" not in long.columns):
        book_names, book_prefs = _unit_names()
    names = book_names if names is None else dict(names)
    table["county"] = table["county_code"].map(names)
    if prefectures is not None:
        table["prefecture"] = table["county_code"].map(dict(prefectures))
    elif "prefecture" in long.columns:
        table["prefecture"] = table["county_code"].map(long.groupby("county_code")["prefecture"].first())
    else:
        table["prefecture"] = table["county_code"].map(book_prefs)
    cols = ["county_code", "county", "prefecture", "period", "overall", *DOMAINS]
    if change_window is not None:
        cols += ["overall_change", *(f"{d}_change" for d in DOMAINS)]
    cols += ["grade", "flag", "rank", "rank_low", "rank_high", "rank_label"]
    out = table[cols].sort_values(["rank", "county_code"], na_position="last").reset_index(drop=True)
    out.attrs["labels_zh"] = {c: RANKING_LABELS_ZH[c] for c in cols}
    return out


# --------------------------------------------------------------------------- roster: tasks and grades

TASK_SCORING: dict[str, float] = {"完成": 1.0, "基本完成": 0.5, "未完成": 0.0}
"""Default scoring of a task rating [design]: 基本完成 counts half."""


def task_completion(
    roster: pd.DataFrame,
    *,
    scoring: Mapping[str, float] = TASK_SCORING,
    tasks: Sequence[str] = ("task_1", "task_2", "task_3", "task_4", "task_5"),
) -> pd.DataFrame:
    """Task completion rate per county and batch from the residency roster.

    Each rated task scores ``scoring[rating]`` (default 完成 = 1, 基本完成 = 0.5, 未完成 = 0); the
    rate is ``100 · mean score`` over the rated tasks of all cadres of the county in that batch.
    Blank ratings are not rated (they do not count as 未完成).

    Parameters
    ----------
    roster : columns ``round, batch, county_code`` and the task columns (round-2 rosters).
    scoring : rating → score in [0, 1].
    tasks : the task columns.

    Returns
    -------
    DataFrame ``round, batch, county_code, n_cadres, n_rated, completion`` (completion in %,
    NaN if no task was rated).

    Raises
    ------
    IndexInputError
        Missing columns or a rating outside ``scoring`` (with its row and column).
    """
    need = ["round", "batch", "county_code", *tasks]
    missing = [c for c in need if c not in roster.columns]
    if missing:
        raise IndexInputError(f"task_completion: roster lacks column(s) {missing}")
    ratings = roster[list(tasks)].apply(lambda s: s.astype("string").str.strip())
    ratings = ratings.mask(ratings.isna() | (ratings == ""))
    known = ratings.isin(list(scoring)) | ratings.isna()
    if not known.to_numpy().all():
        r, c = np.argwhere(~known.to_numpy())[0]
        raise IndexInputError(
            f"task_completion: roster row {roster.index[r]!r}, column {tasks[c]!r}: rating "
            f"{ratings.iat[r, c]!r} is not one of {list(scoring)}; fix the roster or extend scoring"
        )
    scored = ratings.apply(lambda s: s.map(dict(scoring))).astype(float)
    frame = roster[["round", "batch", "county_code"]].copy()
    frame["_sum"] = scored.sum(axis=1, min_count=1).fillna(0.0)
    frame["_n"] = scored.notna().sum(axis=1)
    g = frame.groupby(["round", "batch", "county_code"], sort=True)
    out = g.agg(n_cadres=("_n", "size"), n_rated=("_n", "sum"), _sum=("_sum", "sum")).reset_index()
    with np.errstate(invalid="ignore", divide="ignore"):
        out["completion"] = np.where(out["n_rated"] > 0, 100.0 * out["_sum"] / out["n_rated"], np.nan)
    return out.drop(columns="_sum")


def grade_distribution(roster: pd.DataFrame, *, labels: Sequence[str] = GRADES) -> pd.DataFrame:
    """End-of-stint grade distribution by round and batch.

    Parameters
    ----------
    roster : columns ``round, batch, grade`` (优秀/良好/合格/不合格; blank = not yet assessed).
    labels : the grades, best first.

    Returns
    -------
    DataFrame ``round, batch, grade, n, share``: every grade appears for every round × batch (n = 0
    if none); ``share`` is the percentage of assessed cadres (sums to 100 per round × batch).
    """
    missing = [c for c in ("round", "batch", "grade") if c not in roster.columns]
    if missing:
        raise IndexInputError(f"grade_distribution: roster lacks column(s) {missing}")
    g = roster["grade"].astype("string").str.strip()
    g = g.mask(g == "")
    bad = g.notna() & ~g.isin(list(labels))
    if bad.any():
        i = bad.to_numpy().nonzero()[0][0]
        raise IndexInputError(
            f"grade_distribution: roster row {roster.index[i]!r}: grade {g.iat[i]!r} is not one of {list(labels)}"
        )
    frame = roster[["round", "batch"]].assign(grade=g).dropna(subset=["grade"])
    counts = frame.groupby(["round", "batch", "grade"]).size()
    rb = roster[["round", "batch"]].drop_duplicates().sort_values(["round", "batch"])
    full = pd.MultiIndex.from_tuples(
        [(r, b, lab) for r, b in rb.itertuples(index=False) for lab in labels], names=["round", "batch", "grade"]
    )
    out = counts.reindex(full, fill_value=0).rename("n").reset_index()
    total = out.groupby(["round", "batch"])["n"].transform("sum")
    out["share"] = np.where(total > 0, 100.0 * out["n"] / total.where(total > 0, 1), np.nan)
    return out
