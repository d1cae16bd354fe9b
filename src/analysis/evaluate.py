"""Causal estimates of the residency programme per round, on the base-unit panel.

Each round reached the counties in four half-year batches, so each round is a staggered
roll-out: counties of later batches are the not-yet-treated comparison group for earlier ones
(Callaway & Sant'Anna 2021, :mod:`analysis.did`).  This module chooses the windows and the
indicator family, runs :func:`analysis.did.att_gt` and its four aggregations per round and
indicator, the pre-trend test, the TWFE contrast, heterogeneity by subsets and the round 2 vs
round 1 difference, and returns tidy tables.  ``docs/methods.md`` explains the identification.

Windows (integer periods, 2008H1 = 1): :data:`analysis.design.DID_WINDOWS` (:data:`WINDOWS` is
the same object), cut to the half-years a delivery holds by :func:`analysis.scope.delivery_scope`
(:func:`evaluate_processed` estimates only the rounds the delivery and its roster allow and says
why in ``notes``).  On the whole calendar:

* round 1: 2008H1–2009H2 (t = 1…4), cohorts 2008H2…2009H2 (g = 2…4) treated inside the window
  and batch 4 (g = 5, 2010H1) as the not-yet-treated comparison throughout.  One pre-period only
  (2008H1) for batch 1.
* round 2: 2011H2–2013H1 (t = 8…11), cohorts 2012H1…2013H1 (g = 9…11), batch 4 (g = 12) the
  comparison; one pre-period (2011H2) for batch 1, as in round 1.

Every county is in some batch in both rounds, so there are no never-treated counties: only
not-yet-treated comparisons exist, and once the last batch has started nobody is left to
compare with.  The window therefore stops the half-year before the last batch starts: later
half-years hold no estimable ATT(g, t) cell and would only drop counties that miss them from
the balanced panel.  That leaves event times 0–2 in each round (e = 2 only for batch 1).
Long-run effects (after the round) are not identified by the roll-out; the descriptive
comparison (:mod:`analysis.compare`) covers them, without a counterfactual.

Balanced panels.  :func:`analysis.did.att_gt` has no unbalanced option: a county missing the
outcome in any half-year of the window is left out of *that* estimate.  Each estimate uses only
its round's window and its own indicator, so a county missing 2008H1 stays in round 2 and a
county missing one item stays in the others; ``n_dropped`` in the tables counts the counties
left out of each estimate.

:func:`write_evaluation` writes the tables (``驻点效应_分轮估计.xlsx``, ``两轮比较.xlsx``) from
one :func:`run_evaluation`; the report (:func:`analysis.report.build_report`) calls the same
functions, so tables and charts come from one estimation run.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd
from scipy import stats

from analysis.catalog import DOMAIN_NAMES_ZH, load_catalog
from analysis.compare import bh_adjust
from analysis.design import (
    DID_WINDOWS,
    ROUND_BATCHES,
    ROUND_NAMES_ZH,
    DesignError,
    add_design,
    build_design,
    period_index,
    period_label,
    to_base_panel,
)
from analysis.did import DIDError, aggte, att_gt, round_difference, twfe_event_study
from analysis.reference import to_base
from analysis.scope import Scope, ScopeError, delivery_scope, rounds_in_roster

__all__ = [
    "EvaluationError",
    "WINDOWS",
    "FAMILY",
    "AGG_TYPES",
    "family",
    "round_data",
    "estimate_round",
    "evaluate",
    "INDEX_NAMES_ZH",
    "composite_indices",
    "index_outcomes",
    "evaluate_processed",
    "run_evaluation",
    "dropped_counties",
    "did_windows",
    "dropped_note",
    "evaluation_tables",
    "write_evaluation_tables",
    "write_evaluation",
]

WINDOWS: dict[int, tuple[str, str]] = DID_WINDOWS
"""Estimation window (first, last half-year, inclusive) per round: :data:`analysis.design.DID_WINDOWS`."""

FAMILY: dict[str, tuple[str, ...]] = {
    # derived rates first, then the main counts of the domain; the three no-effect candidates
    # (league_orgs, volunteers, parttime_cadres) stay in as the family's negative controls
    "vitality": ("league_youth_ratio", "nonpublic_org_rate", "township_activity_rate", "dues_rate",
                 "members_recruited", "league_orgs", "volunteers", "weak_orgs"),
    "staffing": ("posts_fill_rate", "secretary_rate", "fulltime_cadres", "parttime_cadres",
                 "cadres_placed", "cadres_trained"),
    "tasks": ("std_attends", "std_liaison", "std_assessment", "std_funds_per_youth", "funds_per_youth",
              "township_budget_rate", "party_documents", "orgs_established", "youth_models"),
}
"""Indicator family per domain; Benjamini–Hochberg runs across the whole family per round."""

AGG_TYPES = ("simple", "dynamic", "group", "calendar")

Cluster = Literal["county", "prefecture"]

_EFFECT_COLUMNS = ["round", "indicator", "domain", "subset", "type", "level", "key", "key_label", "att",
                   "se", "ci_low", "ci_high", "band_low", "band_high", "p", "n_units"]


class EvaluationError(ValueError):
    """The panel, design or options cannot give the evaluation; the message names the fix."""


def family(round_: int | None = None, indicators: Iterable[str] | None = None) -> pd.DataFrame:
    """The indicator family: ``indicator, domain, name_zh, unit, direction`` (one row each).

    Parameters
    ----------
    round_ : {1, 2}, optional
        Keep only indicators collected in that round (catalog column ``rounds``).
    indicators : iterable of str, optional
        Subset of codes (default: all of :data:`FAMILY`).
    """
    cat = load_catalog()
    rows = [(c, d) for d, codes in FAMILY.items() for c in codes]
    if indicators is not None:
        wanted = list(indicators)
        unknown = [c for c in wanted if c not in cat.index]
        if unknown:
            raise EvaluationError(f"family: {unknown} are not catalog codes; see data/reference/indicators.csv")
        known = dict(rows)
        rows = [(c, known.get(c, cat.at[c, "domain"])) for c in wanted]
    out = pd.DataFrame(rows, columns=["indicator", "domain"])
    out["name_zh"] = [cat.at[c, "name_zh"] for c in out["indicator"]]
    out["unit"] = [cat.at[c, "unit"] for c in out["indicator"]]
    out["direction"] = [int(cat.at[c, "direction"]) for c in out["indicator"]]
    # the catalog parses ``rounds`` ("1|2") into a tuple of ints
    out["rounds"] = [tuple(int(r) for r in cat.at[c, "rounds"]) for c in out["indicator"]]
    if round_ is not None:
        out = out[out["rounds"].apply(lambda r: int(round_) in r)]
    return out.drop(columns="rounds").reset_index(drop=True)


def round_data(panel: pd.DataFrame, design: pd.DataFrame, round_: int,
               window: tuple[str, str] | None = None) -> pd.DataFrame:
    """Long-by-period panel of one round's window with the design columns.

    Parameters
    ----------
    panel : DataFrame
        Base-unit wide panel (:func:`analysis.design.to_base_panel`).
    design : DataFrame
        :func:`analysis.design.build_design` output.
    round_ : {1, 2}
    window : (str, str), optional
        First and last half-year; default :data:`WINDOWS`.

    Returns
    -------
    DataFrame: the panel rows inside the window plus ``t, round, batch, gname, event_time,
    sending_level, provincial, prefecture_code, …`` (see :func:`analysis.design.add_design`).
    """
    lo, hi = (window or WINDOWS[round_])
    t = period_index(panel["period"].astype(str))
    inside = (t >= period_index(lo)) & (t <= period_index(hi))
    if not inside.any():
        raise EvaluationError(f"round_data: no period of the panel lies in {lo}–{hi}; check the period labels.")
    return add_design(panel[inside], design, round_, missing="drop")


def _seed(seed: int, *keys: object) -> np.random.Generator:
    # one independent, reproducible stream per (round, indicator, subset, purpose)
    import zlib

    return np.random.default_rng([int(seed), *(zlib.crc32(str(k).encode()) for k in keys)])


def _pvalue(att, se) -> np.ndarray:
    att, se = np.asarray(att, dtype=float), np.asarray(se, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        return 2 * stats.norm.sf(np.abs(att / se))


def estimate_round(
    data: pd.DataFrame,
    indicator: str,
    *,
    round_: int,
    domain: str = "",
    subset: str = "all",
    cluster: Cluster = "county",
    biters: int = 999,
    seed: int = 0,
    twfe: bool = True,
    aggregations: Sequence[str] = AGG_TYPES,
) -> dict[str, pd.DataFrame]:
    """ATT(g, t), the four aggregations, the pre-trend test and TWFE for one indicator.

    Parameters
    ----------
    data : DataFrame
        :func:`round_data` output (columns ``base_code, t, gname, prefecture_code`` and the
        indicator).
    indicator : str
        Outcome column (catalog units; results are in the same unit).
    round_ : int
        Written into the tables.
    domain, subset : str
        Labels written into the tables (``subset`` e.g. ``"all"``, ``"三州"``).
    cluster : {"county", "prefecture"}
        Cluster of standard errors and the multiplier bootstrap.
    biters : int
        Bootstrap draws (Rademacher multipliers).
    seed : int
        Random seed.
    twfe : bool
        Also run the TWFE event study (reference e = −1).
    aggregations : sequence of str
        Which of ``simple, dynamic, group, calendar`` to compute.

    Returns
    -------
    dict with ``attgt``, ``effects``, ``pretrend``, ``twfe`` and ``notes`` (tidy frames).
    """
    if cluster not in ("county", "prefecture"):
        raise EvaluationError(f"estimate_round: cluster={cluster!r}; choose 'county' or 'prefecture'.")
    if indicator not in data.columns:
        raise EvaluationError(f"estimate_round: {indicator!r} is not a column of the round data.")
    clustervars = "prefecture_code" if cluster == "prefecture" else None
    label = dict(round=round_, indicator=indicator, domain=domain, subset=subset)
    notes = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        res = att_gt(data, yname=indicator, tname="t", idname="base_code", gname="gname",
                     control_group="notyettreated", base_period="varying",
                     clustervars=clustervars, biters=biters, seed=_seed(seed, round_, indicator, subset, "attgt"))
        aggs = {k: aggte(res, type=k, seed=_seed(seed, round_, indicator, subset, k)) for k in aggregations}
    notes += [str(w.message) for w in caught]
    cells = res.to_frame()
    cells["p"] = _pvalue(cells["att"], cells["se"])
    attgt = pd.concat([pd.DataFrame(label, index=cells.index), cells], axis=1)
    attgt["n_units"] = res.n_units
    eff = []
    for k, a in aggs.items():
        f = a.to_frame()
        f["p"] = _pvalue(f["att"], f["se"])
        f["n_units"] = res.n_units
        # readable keys for tables and charts: "e=1" for event times, "2012H2" for periods
        f["key_label"] = [
            "" if pd.isna(k) else (f"e={int(k)}" if lv == "event_time" else period_label(int(k)))
            for k, lv in zip(f["key"], f["level"])
        ]
        eff.append(f)
    eff = pd.concat(eff, ignore_index=True)
    eff = pd.concat([pd.DataFrame(label, index=eff.index), eff], axis=1)[_EFFECT_COLUMNS]
    w = res.pretrend
    pre = pd.DataFrame([{**label, "statistic": w.statistic if w else np.nan, "df": w.df if w else 0,
                         "p": w.pvalue if w else np.nan, "note": w.note if w else "no pre-treatment cells",
                         "n_units": res.n_units}])
    tw = pd.DataFrame()
    if twfe:
        with warnings.catch_warnings():
            # on a window where every county is treated a second reference period is dropped
            # (did warns); on DID_WINDOWS the last batch is never treated inside: one reference
            warnings.simplefilter("ignore")
            t = twfe_event_study(data, indicator, "t", "base_code", "gname", ref=-1,
                                 cluster="prefecture_code" if cluster == "prefecture" else None)
        tw = t.to_frame().rename(columns={"estimate": "att", "pvalue": "p"})
        tw = pd.concat([pd.DataFrame(label, index=tw.index), tw], axis=1)
        tw["n_units"] = res.n_units
    nt = pd.DataFrame({**label, "note": notes}) if notes else pd.DataFrame(columns=[*label, "note"])
    return {"attgt": attgt, "effects": eff, "pretrend": pre, "twfe": tw, "notes": nt}


def _notes(round_: int, notes: Sequence[str], indicator: str = "", domain: str = "",
           subset_dim: str = "all", subset: str = "all") -> pd.DataFrame:
    """Rows of the ``notes`` table, one per note, all with the same labels (round 0: the whole run)."""
    return pd.DataFrame({"round": round_, "indicator": indicator, "domain": domain, "subset_dim": subset_dim,
                         "subset": subset, "note": list(notes)})


def _subsets(data: pd.DataFrame, heterogeneity: bool) -> list[tuple[str, str, pd.DataFrame]]:
    out = [("all", "all", data)]
    if heterogeneity:
        for col, dim in (("group_three", "三州"), ("sending_level", "sending_level")):
            for value in sorted(data[col].dropna().unique()):
                out.append((dim, str(value), data[data[col] == value]))
    return out


def evaluate(
    panel: pd.DataFrame,
    design: pd.DataFrame,
    *,
    indicators: Iterable[str] | None = None,
    rounds: Sequence[int] = (1, 2),
    cluster: Cluster = "county",
    biters: int = 999,
    seed: int = 20120215,
    heterogeneity: bool = True,
    twfe: bool = True,
    alp: float = 0.05,
    outcomes: pd.DataFrame | None = None,
    windows: Mapping[int, tuple[str, str]] | None = None,
) -> dict[str, pd.DataFrame]:
    """Per-round DiD estimates for an indicator family on a base-unit panel.

    Parameters
    ----------
    panel : DataFrame
        Base-unit wide panel (:func:`analysis.design.to_base_panel`), catalog units.
    design : DataFrame
        :func:`analysis.design.build_design` output for both rounds.
    indicators : iterable of str, optional
        Default the whole :data:`FAMILY`; indicators a round does not collect are skipped there.
    rounds : sequence of int
        Rounds to estimate.
    cluster : {"county", "prefecture"}
        Clustering of standard errors and bootstrap.
    biters : int
        Bootstrap draws per estimate.
    seed : int
        Master seed; every estimate gets its own stream from it.
    heterogeneity : bool
        Also estimate within 三州 / 其他 and within 省级 / 市级 sending units (sending level of the
        same round), each subset with its own not-yet-treated comparisons.
    twfe : bool
        Also run the TWFE event study for contrast (whole sample only).
    alp : float
        Level for the Benjamini–Hochberg flag ``significant``.
    outcomes : DataFrame, optional
        Further outcomes that are columns of ``panel`` but not catalog indicators (the report's
        composite indices): ``indicator, domain, name_zh, unit`` and optionally ``family``
        (default ``"outcomes"``).  They are estimated in every round like the indicators, with
        Benjamini–Hochberg within their own family.
    windows : dict, optional
        Round → (first, last) half-year of its DiD; default :data:`WINDOWS` (a delivery's own
        windows: :attr:`analysis.scope.Scope.did`).

    Returns
    -------
    dict of tidy DataFrames:

    ``effects``
        round, indicator, domain, subset_dim, subset, type, level, key, key_label, att, se, ci_low,
        ci_high, band_low, band_high, p, n_units — every aggregation (overall rows have level
        ``overall``; dynamic rows key = event time in half-years, label ``e=1``; group rows key =
        cohort period index, calendar rows key = period index, labels like ``2012H2``).
    ``summary``
        one row per round × indicator × subset: the simple ATT with CI and p, ``q`` (BH across
        the family within round and subset; ``family`` is "indicators" for :data:`FAMILY` and
        the outcomes' own family otherwise), ``significant`` (q < alp), the pre-trend p-value,
        ``n_units`` and ``n_dropped``.
    ``attgt``, ``pretrend``, ``twfe``
        ATT(g, t) cells (with ``estimable``), Wald pre-trend tests, TWFE event-study rows.
    ``heterogeneity``
        simple ATT of the two subsets of each dimension and their difference with
        ``se = sqrt(se_a² + se_b²)`` (the subsets share no county).
    ``round_difference``
        round 2 − round 1 of the simple and dynamic overall ATT per indicator, counties
        bootstrapped jointly (:func:`analysis.did.round_difference`), with p and BH q.
    ``notes``
        warnings (units dropped for missing values, …) per estimate.
    ``family``
        the outcomes estimated: ``indicator, domain, name_zh, unit, family``.

    Every estimate carries ``n_units`` (counties in the estimate) and ``n_dropped`` (counties
    of the round's window, subset and indicator left out because they miss a half-year: the
    balanced panel of :func:`analysis.did.att_gt`).
    """
    fam = family(indicators=indicators)[["indicator", "domain", "name_zh", "unit"]].assign(family="indicators")
    if outcomes is not None and len(outcomes):
        need = {"indicator", "domain", "name_zh", "unit"}
        if not need <= set(outcomes.columns):
            raise EvaluationError(f"evaluate: outcomes lacks {sorted(need - set(outcomes.columns))}; give "
                                  "indicator, domain, name_zh, unit (and optionally family) per outcome.")
        absent = sorted(set(outcomes["indicator"]) - set(panel.columns))
        if absent:
            raise EvaluationError(f"evaluate: outcome(s) {absent} are not columns of the panel; merge them "
                                  "into the base-unit panel first.")
        extra = outcomes[[*need, *(["family"] if "family" in outcomes.columns else [])]].copy()
        if "family" not in extra.columns:
            extra["family"] = "outcomes"
        fam = pd.concat([fam, extra[fam.columns]], ignore_index=True)
    in_catalog = set(load_catalog().index)
    pieces: dict[str, list[pd.DataFrame]] = {k: [] for k in ("attgt", "effects", "pretrend", "twfe", "notes")}
    data_of: dict[int, pd.DataFrame] = {}
    for r in rounds:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            data = round_data(panel, design, r, (windows or WINDOWS)[r])
        if caught:
            pieces["notes"].append(_notes(r, [str(w.message) for w in caught]))
        data_of[r] = data
        catalog_codes = [c for c in fam["indicator"] if c in in_catalog]
        in_round = set(family(round_=r, indicators=catalog_codes)["indicator"]) if catalog_codes else set()
        # outcomes outside the catalog (indices) are defined in every round
        in_round |= {c for c in fam["indicator"] if c not in in_catalog}
        for ind, dom in zip(fam["indicator"], fam["domain"]):
            if ind not in in_round or ind not in data.columns or data[ind].notna().sum() == 0:
                continue
            # indicators added with the round-2 form (weak_orgs, youth_models) start in 2012H1:
            # start their window at their first reported period; batch 1 then has no
            # pre-period and att_gt leaves it out (with a note)
            first = data.loc[data[ind].notna(), "t"].min()
            ind_data = data[data["t"] >= first]
            for dim, name, sub in _subsets(ind_data, heterogeneity):
                # subsets feed only the heterogeneity table: the simple ATT is enough there
                aggs = AGG_TYPES if dim == "all" else ("simple",)
                try:
                    got = estimate_round(sub, ind, round_=r, domain=dom, subset=name, cluster=cluster,
                                         biters=biters, seed=seed, twfe=twfe and dim == "all",
                                         aggregations=aggs)
                except DIDError as err:
                    pieces["notes"].append(_notes(r, [f"not estimated: {err}"], ind, dom, dim, name))
                    continue
                available = sub["base_code"].nunique()
                for k, v in got.items():
                    if len(v):
                        v = v.copy()
                        v.insert(3, "subset_dim", dim)
                        if "n_units" in v.columns:
                            v["n_dropped"] = available - v["n_units"]
                        pieces[k].append(v)
    out = {k: (pd.concat(v, ignore_index=True) if v else pd.DataFrame()) for k, v in pieces.items()}
    eff = out["effects"]
    if eff.empty:
        raise EvaluationError("evaluate: no indicator could be estimated; see the notes: "
                              + "; ".join(out["notes"].get("note", pd.Series(dtype=str)).head(3)))
    simple = eff[(eff["type"] == "simple") & (eff["level"] == "overall")].drop(
        columns=["type", "level", "key", "band_low", "band_high"])
    simple["family"] = simple["indicator"].map(fam.set_index("indicator")["family"])
    simple = bh_adjust(simple, ["round", "subset", "family"], {"p": "q"})
    simple["significant"] = simple["q"] < alp
    pre = out["pretrend"][["round", "indicator", "subset", "p"]].rename(columns={"p": "pretrend_p"})
    summary = simple.merge(pre, on=["round", "indicator", "subset"], how="left").reset_index(drop=True)
    summary.insert(2, "name_zh", summary["indicator"].map(fam.set_index("indicator")["name_zh"]))
    out["summary"] = summary
    out["heterogeneity"] = _heterogeneity(simple)
    if set(rounds) >= {1, 2}:
        out["round_difference"] = _round_difference(data_of, fam, cluster, biters, seed)
    out["family"] = fam
    return out


def _heterogeneity(simple: pd.DataFrame) -> pd.DataFrame:
    rows = []
    z = stats.norm.ppf(0.975)  # 1.959963984540054, the 95 % normal quantile
    for (r, ind, dim), grp in simple[simple["subset_dim"] != "all"].groupby(["round", "indicator", "subset_dim"]):
        if len(grp) != 2:
            continue
        ordered = grp.sort_values("subset")
        a, b = ordered.iloc[0], ordered.iloc[1]
        diff = b["att"] - a["att"]
        se = float(np.hypot(a["se"], b["se"]))
        rows.append(dict(round=r, indicator=ind, domain=a["domain"], subset_dim=dim, subset_a=a["subset"],
                         att_a=a["att"], se_a=a["se"], n_a=a["n_units"], subset_b=b["subset"], att_b=b["att"],
                         se_b=b["se"], n_b=b["n_units"], diff_b_minus_a=diff, se=se,
                         ci_low=diff - z * se, ci_high=diff + z * se,
                         p=float(_pvalue(diff, se))))
    return pd.DataFrame(rows)


def _round_difference(data_of: dict[int, pd.DataFrame], fam: pd.DataFrame, cluster: Cluster,
                      biters: int, seed: int) -> pd.DataFrame:
    rows = []
    cv = "prefecture_code" if cluster == "prefecture" else None
    fam_of = dict(zip(fam["indicator"], fam["family"]))
    for ind, dom in zip(fam["indicator"], fam["domain"]):
        d1, d2 = data_of[1], data_of[2]
        if ind not in d1.columns or ind not in d2.columns or d1[ind].notna().sum() == 0 or d2[ind].notna().sum() == 0:
            continue
        for typ in ("simple", "dynamic"):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # dropped units are already in the notes table
                rd = round_difference(d1, d2, ind, "t", "base_code", "gname", type=typ, clustervars=cv,
                                      biters=biters, seed=_seed(seed, "round_difference", ind, typ))
            f = rd.to_frame()
            f.insert(0, "indicator", ind)
            f.insert(1, "domain", dom)
            f["p"] = _pvalue(f["diff"], f["se"])
            f["family"] = fam_of[ind]
            rows.append(f)
    out = pd.concat(rows, ignore_index=True) if rows else pd.DataFrame()
    return bh_adjust(out, ["type", "family"], {"p": "q"}) if len(out) else out


INDEX_NAMES_ZH: dict[str, str] = {"vitality": "组织活力指数", "staffing": "团干部配备指数",
                                  "tasks": "任务完成指数", "overall": "综合指数"}
"""Chinese names of the composite indices as outcomes."""
INDEX_OUTCOME = "index_{}"
"""Outcome name of an index in the evaluation (``index_overall``, ``index_vitality``, …)."""


def composite_indices(panel: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The composite indices per county and half-year, as the report shows them.

    Min–max scores on one scale for all half-years (so indices of different rounds are
    comparable), entropy weights, domain and overall indices (:mod:`analysis.indices`).

    Parameters
    ----------
    panel : DataFrame
        Wide panel (``panel.parquet``: ``county_code, period`` + indicator columns, rates in %)
        or long (``county_code, period, indicator, value``); ``base_code`` and ``prefecture``
        are kept when present.

    Returns
    -------
    (weights, index): entropy weights ``indicator, weight`` and the long index ``county_code,
    period, index, value`` (index points 0–100, ``index`` one of vitality/staffing/tasks/overall).
    """
    from analysis.indices import (INDEX_INDICATORS, IndexInputError, _long_index_inputs, composite_index,
                                  entropy_weights, rescale)

    try:
        # the reading ranking_table uses, so the report's indices and ranking share their inputs
        inputs = _long_index_inputs(panel, INDEX_INDICATORS, where="composite_indices")
    except IndexInputError as err:
        raise EvaluationError(str(err)) from err
    if "base_code" not in inputs.columns:
        inputs["base_code"] = to_base(inputs["county_code"]).to_numpy()
    scores = rescale(inputs, inputs)
    weights = entropy_weights(scores)
    return weights, composite_index(scores, weights)


def index_outcomes(index: pd.DataFrame) -> pd.DataFrame:
    """The composite indices as outcomes of :func:`evaluate_processed`, on 2008 base units.

    Parameters
    ----------
    index : DataFrame
        :func:`composite_indices` index (``county_code, base_code, period, index, value``).

    Returns
    -------
    DataFrame, long: ``base_code, period, indicator`` (``index_overall`` …), ``value`` (index
    points), ``domain`` ("index"), ``name_zh``, ``unit`` (分), ``family`` ("indices").
    """
    if "base_code" not in index.columns:
        raise EvaluationError("index_outcomes: the index lacks base_code; keep it in the panel passed to "
                              "composite_indices.")
    # a later split is folded onto its 2008 base unit by the mean of the parts' indices: an
    # index is a score, not a count [design]
    base = index.groupby(["base_code", "period", "index"], as_index=False)["value"].mean()
    base["base_code"] = base["base_code"].astype(str)
    base["indicator"] = base["index"].map(INDEX_OUTCOME.format)
    base["domain"] = "index"
    base["name_zh"] = base["index"].map(INDEX_NAMES_ZH)
    base["unit"] = "分"
    base["family"] = "indices"
    return base.drop(columns="index")


def evaluate_processed(
    panel: pd.DataFrame,
    roster: pd.DataFrame | None,
    *,
    biters: int = 999,
    seed: int = 20120215,
    cluster: Cluster = "county",
    indicators: Iterable[str] | None = None,
    heterogeneity: bool = True,
    outcomes: pd.DataFrame | None = None,
    indices: bool = False,
    descriptive: bool = True,
    scope: Scope | None = None,
) -> dict[str, pd.DataFrame]:
    """The evaluation of the processed data: design, base panel, DiD per round, descriptive tests.

    Builds the design from the roster (rows with a problem are left out with a warning, listed
    in ``notes``), folds split counties into the 2008 base (:func:`analysis.design.to_base_panel`),
    runs :func:`evaluate` on the DiD windows of the delivery's :class:`analysis.scope.Scope` and,
    with ``descriptive``, the paired and McNemar round comparison of
    :func:`analysis.compare.compare_rounds` over its change windows, on the same base panel and
    design.  What the delivery cannot give (no roster, one round, one half-year) is left out and
    said in ``notes`` (round 0, in Chinese), never raised.

    Parameters
    ----------
    panel : DataFrame
        Wide panel as ``panel.parquet`` (``county_code, period`` + indicator columns).
    roster : DataFrame or None
        Roster as ``roster.parquet`` (see :func:`analysis.design.build_design`); a missing
        ``sending_unit`` column is read as empty (every row then warns and is kept).  ``None`` or
        an empty roster: no design, no DiD.
    biters, seed, cluster, indicators, heterogeneity
        As :func:`evaluate`.
    outcomes : DataFrame, optional
        Long ``base_code, period, indicator, value`` plus ``domain, name_zh, unit`` (and
        optionally ``family``) per outcome: further outcomes on base units (the report's
        composite indices, index points), estimated alongside the indicators.
    indices : bool
        Without ``outcomes``: add the composite indices of :func:`composite_indices` as
        outcomes (:func:`index_outcomes`), as the report does.
    descriptive : bool
        Also run :func:`analysis.compare.compare_rounds` (keys ``paired``, ``standards``) when
        the delivery covers both rounds.
    scope : Scope, optional
        Windows and parts of the delivery; default :func:`analysis.scope.delivery_scope` of the
        panel's half-years and the roster's rounds.

    Returns
    -------
    dict of DataFrames as :func:`evaluate` (empty frames for the parts not computed), plus
    ``design``, ``windows`` (``kind, round, start, end``: the change and DiD windows used),
    ``timing`` (seconds per step) and, with ``descriptive``, ``paired`` and ``standards``.
    """
    from analysis.compare import CompareError, compare_rounds

    t0 = time.perf_counter()
    roster = roster if roster is not None else pd.DataFrame()
    if scope is None:
        scope = delivery_scope(panel["period"].dropna().astype(str), rounds_in_roster(roster))
    design = pd.DataFrame(columns=["round", "base_code", "batch", "start_period", "gname", "sending_unit",
                                   "sending_level", "provincial", "n_units", "county_codes"])
    caught: list = []
    if scope.has_roster:
        roster = roster if "sending_unit" in roster.columns else roster.assign(sending_unit=None)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                design = build_design(roster, errors="warn")
            except DesignError as err:
                # only a roster without the needed columns gets here (row problems only warn)
                raise EvaluationError(f"evaluate_processed: the roster cannot give a design: {err}") from err
    base = to_base_panel(panel)
    meta = None
    index_note = []
    if outcomes is None and indices:
        try:
            outcomes = index_outcomes(composite_indices(panel)[1])
        except EvaluationError as err:
            index_note.append(f"composite indices not estimated: {err}")
    if outcomes is not None and len(outcomes):
        need = {"base_code", "period", "indicator", "value", "domain", "name_zh", "unit"}
        if not need <= set(outcomes.columns):
            raise EvaluationError(f"evaluate_processed: outcomes lacks {sorted(need - set(outcomes.columns))}.")
        wide = outcomes.pivot_table(index=["base_code", "period"], columns="indicator", values="value",
                                    aggfunc="first").reset_index()
        wide.columns.name = None
        clash = sorted(set(wide.columns) & set(base.columns) - {"base_code", "period"})
        if clash:
            raise EvaluationError(f"evaluate_processed: outcome(s) {clash} clash with panel columns; rename them.")
        base = base.merge(wide, on=["base_code", "period"], how="left")
        cols = ["indicator", "domain", "name_zh", "unit", *(["family"] if "family" in outcomes.columns else [])]
        meta = outcomes[cols].drop_duplicates("indicator")
    t1 = time.perf_counter()
    said = list(scope.notes)
    out: dict[str, pd.DataFrame] = {}
    if scope.can("effects") and not design.empty:
        try:
            out = evaluate(base, design, indicators=indicators, rounds=tuple(sorted(scope.did)), cluster=cluster,
                           biters=biters, seed=seed, heterogeneity=heterogeneity, outcomes=meta,
                           windows=scope.did)
        except EvaluationError as err:
            said.append(f"驻点效应未能估计：{err}")
    elif scope.can("effects"):
        said.append("驻点干部名册中没有可用的记录（轮次、批次、县），未估计驻点效应。")
    if not out:
        fam = family(indicators=indicators)[["indicator", "domain", "name_zh", "unit"]].assign(family="indicators")
        out = {k: pd.DataFrame() for k in ("attgt", "effects", "pretrend", "twfe", "notes", "summary",
                                           "heterogeneity", "round_difference")}
        out["family"] = fam
    t2 = time.perf_counter()
    extra = _notes(0, said + [str(w.message) for w in caught] + index_note)
    out["notes"] = pd.concat([extra, out["notes"]], ignore_index=True)
    out["design"] = design
    out["windows"] = pd.DataFrame(
        [("change", r, a, b) for r, (a, b) in sorted(scope.change.items())]
        + [("after", r, a, b) for r, (a, b) in sorted(scope.after.items())]
        + [("did", r, a, b) for r, (a, b) in sorted(scope.did.items())],
        columns=["kind", "round", "start", "end"])
    steps = {"design_base_panel": t1 - t0, "estimate": t2 - t1}
    if descriptive and scope.can("round_comparison"):
        try:
            # every catalog indicator of the panel unless a subset was asked for (the indices
            # and other outcomes are not catalog columns and are left out by compare itself)
            wanted = None if indicators is None else [c for c in indicators if c in base.columns]
            wins = {r: {"round": w, **({"after": scope.after[r]} if r in scope.after else {})}
                    for r, w in scope.change.items()}
            ends = scope.round_ends
            got = compare_rounds(base, design if not design.empty else None, wanted, windows=wins,
                                 between=(ends[1], ends[2]))
            out["paired"], out["standards"] = got["paired"], got["standards"]
        except CompareError as err:
            out["notes"] = pd.concat([out["notes"], _notes(0, [f"descriptive comparison not computed: {err}"])],
                                     ignore_index=True)
        steps["descriptive"] = time.perf_counter() - t2
    out["timing"] = pd.DataFrame({"step": list(steps), "seconds": list(steps.values())})
    return out


def run_evaluation(
    processed_dir: str | Path,
    biters: int = 999,
    seed: int = 20120215,
    *,
    cluster: Cluster = "county",
    indicators: Iterable[str] | None = None,
    heterogeneity: bool = True,
    descriptive: bool = True,
    indices: bool = False,
    windows: Mapping[int, tuple[str, str]] | None = None,
) -> dict[str, pd.DataFrame]:
    """The main evaluation job on the outputs of ``analysis clean``.

    Reads ``panel.parquet`` and, when present, ``roster.parquet`` from ``processed_dir`` and runs
    :func:`evaluate_processed` on the delivery's scope (:func:`analysis.scope.delivery_scope`).

    Parameters
    ----------
    processed_dir : path
        Folder with ``panel.parquet`` (and ``roster.parquet``: without it, or with an empty
        one, only the descriptive comparison is computed).
    biters : int
        Bootstrap draws per estimate.
    seed : int
        Master random seed.
    cluster : {"county", "prefecture"}
    indicators : iterable of str, optional
        Default the whole :data:`FAMILY`.
    heterogeneity : bool
        Subset estimates (三州 vs 其他, 省级 vs 市级).
    descriptive : bool
        Also the paired and McNemar round comparison (:mod:`analysis.compare`).
    indices : bool
        Also the composite indices as outcomes (:func:`composite_indices`).
    windows : dict, optional
        Change windows chosen by the analyst (see :func:`analysis.scope.delivery_scope`).

    Returns
    -------
    dict of DataFrames as :func:`evaluate_processed` (``design``, ``timing``, ``paired``, …).
    """
    folder = Path(processed_dir)
    panel_path, roster_path = folder / "panel.parquet", folder / "roster.parquet"
    if not panel_path.exists():
        raise EvaluationError(f"run_evaluation: {folder} lacks panel.parquet; run `python -m analysis clean --out {folder}` first.")
    t0 = time.perf_counter()
    panel = pd.read_parquet(panel_path)
    roster = pd.read_parquet(roster_path) if roster_path.exists() else None
    read = time.perf_counter() - t0
    try:
        scope = delivery_scope(panel["period"].dropna().astype(str), rounds_in_roster(roster), windows=windows)
    except ScopeError as err:
        raise EvaluationError(f"run_evaluation: {err}") from err
    out = evaluate_processed(panel, roster, biters=biters, seed=seed, cluster=cluster, indicators=indicators,
                             heterogeneity=heterogeneity, descriptive=descriptive, indices=indices, scope=scope)
    out["timing"] = pd.concat([pd.DataFrame({"step": ["read"], "seconds": [read]}), out["timing"]],
                              ignore_index=True)
    return out


# --------------------------------------------------------------------------------------------
# tables
# --------------------------------------------------------------------------------------------

SOURCE = "各市州团委驻点工作统计报表（经清洗）；驻点干部名册"
"""Source line of the evaluation tables."""

EFFECTS_BOOK = "驻点效应_分轮估计"
ROUNDS_BOOK = "两轮比较"

TABLE_LABELS: dict[str, str] = {
    "round": "轮次", "family": "指标族", "domain": "领域", "name_zh": "指标", "unit": "单位",
    "att": "平均处理效应", "se": "标准误", "ci_low": "95%置信区间下限", "ci_high": "95%置信区间上限",
    "band_low": "95%一致置信带下限", "band_high": "95%一致置信带上限", "p": "p值", "q": "q值（BH）",
    "significant": "BH后显著", "pretrend_p": "平行趋势检验p值", "n_units": "纳入县数",
    "n_dropped": "因缺期未纳入县数", "event_time": "相对驻点开始的半年数", "batch": "批次",
    "start_period": "首次驻点时期", "statistic": "Wald统计量", "df": "自由度", "note": "说明",
    "subset_dim": "分组方式", "subset_a": "组A", "att_a": "组A效应", "se_a": "组A标准误", "n_a": "组A县数",
    "subset_b": "组B", "att_b": "组B效应", "se_b": "组B标准误", "n_b": "组B县数",
    "diff_b_minus_a": "组B减组A", "reference": "参照期", "type": "汇总方式", "att_r1": "第一轮效应",
    "att_r2": "第二轮效应", "diff": "第二轮减第一轮", "n_units_r1": "第一轮县数", "n_units_r2": "第二轮县数",
    "n_common": "两轮共有县数",
    # analysis.compare (changes are in each indicator's own unit, so no unit in the header)
    "indicator_name": "指标名称", "window": "比较窗口", "by": "分组方式", "group": "组别",
    "mean_change_r1": "第一轮平均变化", "mean_change_r2": "第二轮平均变化", "mean_diff": "两轮变化之差（均值）",
    "sd_diff": "两轮变化之差（标准差）", "r": "两轮变化相关系数", "t": "t统计量", "p_t": "t检验p值",
    "w": "Wilcoxon统计量", "p_wilcoxon": "Wilcoxon检验p值", "d_z": "效应量d_z", "d_z_low": "d_z置信下限",
    "d_z_high": "d_z置信上限", "g": "Hedges g", "g_se": "g标准误", "g_low": "g置信下限", "g_high": "g置信上限",
    "q_t": "t检验q值（BH）", "q_wilcoxon": "Wilcoxon q值（BH）", "comparison": "比较", "from_period": "起始时期",
    "to_period": "终止时期", "share_from": "起始达标比例", "share_to": "终止达标比例", "b": "由不达标变达标县数",
    "c": "由达标变不达标县数", "n": "县数", "mcnemar_statistic": "McNemar统计量（b与c中较小者）",
}
"""Chinese headers of the evaluation tables (effects are in each row's 单位)."""

TABLE_DECIMALS: dict[str, int] = {c: 4 for c in ("p", "q", "pretrend_p", "p_t", "p_wilcoxon", "q_t", "q_wilcoxon")} | {
    c: 3 for c in ("share_from", "share_to", "r", "d_z", "d_z_low", "d_z_high", "g", "g_se", "g_low", "g_high")}
"""Decimals of the p-values (4) and unitless sizes (3); other numbers keep two."""

_SUBSET_DIM_ZH = {"三州": "三州与其他", "sending_level": "派出单位层级"}
_TYPE_ZH = {"simple": "总体（各期加权平均）", "dynamic": "动态（事件时间平均）"}
_WINDOW_ZH = {"round": "本轮", "after": "本轮结束后半年"}
_BY_ZH = {"all": "全部", "group_three": "三州与其他", "prefecture_name": "市州", "unit_type": "县级单位类型",
          "sending_level_r1": "第一轮派出单位层级", "sending_level_r2": "第二轮派出单位层级"}


def _domain_zh(domain: str) -> str:
    return DOMAIN_NAMES_ZH.get(domain, "指数" if domain == "index" else domain)


def _labelled(frame: pd.DataFrame, fam: pd.DataFrame) -> pd.DataFrame:
    """Chinese round, domain, indicator name and unit in place of the codes."""
    f = frame.drop(columns=[c for c in ("name_zh", "unit") if c in frame.columns])
    meta = fam.drop_duplicates("indicator").set_index("indicator")
    if "round" in f.columns:
        f["round"] = f["round"].map(ROUND_NAMES_ZH)
    if "indicator" in f.columns:
        f.insert(f.columns.get_loc("indicator"), "name_zh", f["indicator"].map(meta["name_zh"]).fillna(f["indicator"]))
        f.insert(f.columns.get_loc("name_zh") + 1, "unit", f["indicator"].map(meta["unit"]).fillna(""))
        f = f.drop(columns="indicator")
    if "domain" in f.columns:
        f["domain"] = f["domain"].map(_domain_zh)
    return f


def dropped_counties(result: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """Counties left out of the whole-sample estimates for a missing half-year, per round.

    Parameters
    ----------
    result : dict
        :func:`evaluate` / :func:`run_evaluation` output.

    Returns
    -------
    DataFrame: ``round, n_estimates, min, median, max`` of ``n_dropped`` (counties) over the
    indicators of the round (subset ``all``).
    """
    s = result["summary"]
    if s.empty:
        return pd.DataFrame(columns=["round", "n_estimates", "min", "median", "max"])
    s = s[s["subset"] == "all"]
    g = s.groupby("round")["n_dropped"]
    return pd.DataFrame({"n_estimates": g.size(), "min": g.min(), "median": g.median(),
                         "max": g.max()}).reset_index()


def did_windows(result: Mapping[str, pd.DataFrame]) -> dict[int, tuple[str, str]]:
    """Round → (first, last) half-year of the DiD windows a result was estimated on
    (:func:`evaluate_processed` records them in ``windows``; :data:`WINDOWS` for a result of
    :func:`evaluate` alone)."""
    w = result.get("windows")
    if w is None:
        return dict(WINDOWS)
    did = w[w["kind"] == "did"]
    return {int(r): (a, b) for r, a, b in zip(did["round"], did["start"], did["end"])}


def dropped_note(result: Mapping[str, pd.DataFrame]) -> str:
    """One sentence (Chinese) for the tables' notes: how many counties each round's estimates lost.

    Parameters
    ----------
    result : dict
        :func:`evaluate` output.

    Returns
    -------
    str, empty when nothing was estimated.
    """
    parts = []
    windows = did_windows(result)
    for row in dropped_counties(result).itertuples():
        lo, hi = windows[int(row.round)]
        spread = (f"各项均为{int(row.min)}个" if row.min == row.max
                  else f"各项{int(row.min)}–{int(row.max)}个，中位数{row.median:g}个")
        parts.append(f"{ROUND_NAMES_ZH[int(row.round)]}（{lo}–{hi}）{spread}")
    return ("双重差分需要平衡面板：某县在本轮估计窗口内缺任一期该指标，即不纳入该项估计（其他轮次、其他指标不受影响）。"
            "因缺期未纳入的县数：" + "；".join(parts) + "。") if parts else ""


def _effects_sheets(result: Mapping[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """The sheets of the effects workbook (DiD results; only when something was estimated)."""
    fam = result["family"]
    summary = result["summary"]
    eff = result["effects"]
    whole = (eff["subset"] == "all")
    overall = _labelled(summary[summary["subset"] == "all"], fam)
    overall["significant"] = overall["significant"].map({True: "是", False: "否"})
    overall = overall[["round", "domain", "name_zh", "unit", "att", "se", "ci_low", "ci_high", "p", "q",
                       "significant", "pretrend_p", "n_units", "n_dropped"]]
    dyn = eff[whole & (eff["type"] == "dynamic") & (eff["level"] == "event_time")]
    dyn = _labelled(dyn.assign(event_time=dyn["key"].astype(int)), fam)[
        ["round", "name_zh", "unit", "event_time", "att", "se", "ci_low", "ci_high", "band_low", "band_high",
         "p", "n_units"]]
    grp = eff[whole & (eff["type"] == "group") & (eff["level"] == "group")]
    grp = grp.assign(start_period=grp["key_label"],
                     batch=[ROUND_BATCHES[int(r)].index(k) + 1 for r, k in zip(grp["round"], grp["key_label"])])
    grp = _labelled(grp, fam)[["round", "name_zh", "unit", "batch", "start_period", "att", "se", "ci_low",
                               "ci_high", "p", "n_units"]]
    pre = result["pretrend"]
    pre = _labelled(pre[pre["subset"] == "all"], fam)[["round", "name_zh", "unit", "statistic", "df", "p",
                                                        "note", "n_units"]]
    sheets = {"总体效应": overall, "动态效应": dyn, "分批效应": grp, "平行趋势检验": pre}
    het = result.get("heterogeneity")
    if het is not None and len(het):
        het = _labelled(het.assign(subset_dim=het["subset_dim"].map(_SUBSET_DIM_ZH).fillna(het["subset_dim"])), fam)
        sheets["异质性"] = het[["round", "name_zh", "unit", "subset_dim", "subset_a", "att_a", "se_a", "n_a",
                              "subset_b", "att_b", "se_b", "n_b", "diff_b_minus_a", "se", "ci_low", "ci_high", "p"]]
    tw = result.get("twfe")
    if tw is not None and len(tw):
        tw = _labelled(tw, fam)
        tw["reference"] = tw["reference"].map({True: "是", False: "否"})
        sheets["TWFE对照"] = tw[["round", "name_zh", "unit", "event_time", "att", "se", "ci_low", "ci_high",
                               "p", "reference", "n_units"]]
    return sheets


def evaluation_tables(result: Mapping[str, pd.DataFrame]) -> dict[str, dict[str, pd.DataFrame]]:
    """The evaluation's tables, ready for :func:`analysis.export.write_table_xlsx`.

    Parameters
    ----------
    result : dict
        :func:`run_evaluation` (or :func:`evaluate_processed`) output.

    Returns
    -------
    ``{workbook: {sheet: DataFrame}}``: ``驻点效应_分轮估计`` with 总体效应 (simple ATT per round
    and indicator, BH q, pre-trend p, counties in and dropped), 动态效应 (event times),
    分批效应 (per batch), 平行趋势检验, 异质性 and TWFE对照; ``两轮比较`` with 配对检验 and 达标检验
    (descriptive, when computed) and 效应差 (round 2 − round 1 DiD).  Effects are in each row's
    单位 (percentage points for rates).
    """
    fam = result["family"]
    summary = result["summary"]
    books: dict[str, dict[str, pd.DataFrame]] = {}
    if not summary.empty:
        books[EFFECTS_BOOK] = _effects_sheets(result)
    rounds: dict[str, pd.DataFrame] = {}
    for key, sheet in (("paired", "配对检验"), ("standards", "达标检验")):
        frame = result.get(key)
        if frame is None or frame.empty:
            continue
        frame = frame.copy()
        frame.insert(frame.columns.get_loc("indicator") + 1, "indicator_name",
                     frame["indicator"].map(load_catalog()["name_zh"]))
        if "window" in frame.columns:
            frame["window"] = frame["window"].map(_WINDOW_ZH).fillna(frame["window"])
        if "comparison" in frame.columns:
            # "r1:round" → 第一轮：本轮; "end_r1_vs_end_r2" → 两轮末对比
            frame["comparison"] = [
                f"{ROUND_NAMES_ZH[int(c[1])]}：{_WINDOW_ZH.get(c.split(':')[1], c)}" if c[:1] == "r" and ":" in c
                else "两轮末对比" for c in frame["comparison"]]
        if "domain" in frame.columns:
            frame["domain"] = frame["domain"].map(_domain_zh)
        frame["by"] = frame["by"].map(_BY_ZH).fillna(frame["by"])
        frame["group"] = frame["group"].replace({"all": "全部"})
        rounds[sheet] = frame.rename(columns={"statistic": "mcnemar_statistic"})
    rd = result.get("round_difference")
    if rd is not None and len(rd):
        rd = _labelled(rd.assign(type=rd["type"].map(_TYPE_ZH)), fam)
        rounds["效应差"] = rd[["domain", "name_zh", "unit", "type", "att_r1", "att_r2", "diff", "se", "ci_low",
                             "ci_high", "p", "q", "n_units_r1", "n_units_r2", "n_common"]]
    if rounds:
        books[ROUNDS_BOOK] = rounds
    # a plain row index, so the writer shows no index column
    return {b: {k: v.reset_index(drop=True) for k, v in sh.items()} for b, sh in books.items()}


def write_evaluation_tables(result: Mapping[str, pd.DataFrame], tables_dir: str | Path, *,
                            source: str = SOURCE) -> list[Path]:
    """Write :func:`evaluation_tables` as formatted workbooks into ``tables_dir``.

    Parameters
    ----------
    result : dict
        :func:`run_evaluation` output.
    tables_dir : path
        Folder of the workbooks (created).
    source : str
        Source line under every table.

    Returns
    -------
    list of Path: ``驻点效应_分轮估计.xlsx`` and ``两轮比较.xlsx``, each when computed (none
    when the delivery gives neither: see the ``notes`` of the result).
    """
    from analysis.export import write_table_xlsx

    drop = dropped_note(result)
    windows = "；".join(f"{ROUND_NAMES_ZH[r]}估计窗口{a}–{b}" for r, (a, b) in sorted(did_windows(result).items()))
    paths = []
    for book, sheets in evaluation_tables(result).items():
        notes = {}
        for sheet in sheets:
            extra = [windows, drop] if sheet != "配对检验" and sheet != "达标检验" else []
            notes[sheet] = "；".join([source, *[e for e in extra if e]])
        paths.append(write_table_xlsx(sheets, Path(tables_dir) / f"{book}.xlsx",
                                      titles={s: f"{book}：{s}" for s in sheets}, notes=notes,
                                      labels=TABLE_LABELS, decimals=TABLE_DECIMALS))
    return paths


def write_evaluation(
    processed_dir: str | Path,
    tables_dir: str | Path,
    *,
    biters: int = 999,
    seed: int = 20120215,
    cluster: Cluster = "county",
    windows: Mapping[int, tuple[str, str]] | None = None,
    heterogeneity: bool = True,
) -> list[Path]:
    """Run the evaluation once and write its tables (``python -m analysis evaluate``).

    The indicators of :data:`FAMILY` and the composite indices (:func:`composite_indices`) are
    estimated, so the workbooks equal those the report writes from its own (single) run.

    Parameters
    ----------
    processed_dir : path
        Folder with ``panel.parquet`` and ``roster.parquet`` (``analysis clean``).
    tables_dir : path
        Output folder of the workbooks.
    biters : int
        Bootstrap draws per estimate.
    seed : int
        Master random seed.
    cluster : {"county", "prefecture"}
        Clustering of standard errors and bootstrap.
    windows : dict, optional
        Change windows chosen by the analyst (see :func:`analysis.scope.delivery_scope`).
    heterogeneity : bool
        Also the subset estimates (三州 vs 其他, 省级 vs 市级), the 异质性 sheet.

    Returns
    -------
    list of Path: the workbooks written (see :func:`write_evaluation_tables`); empty when the
    delivery gives neither effects nor a round comparison.
    """
    result = run_evaluation(processed_dir, biters=biters, seed=seed, cluster=cluster, indices=True,
                            windows=windows, heterogeneity=heterogeneity)
    return write_evaluation_tables(result, tables_dir)
