"""Causal estimates of the residency programme per round, on the base-unit panel.

Each round reached the counties in four half-year batches, so each round is a staggered
roll-out: counties of later batches are the not-yet-treated comparison group for earlier ones
(Callaway & Sant'Anna 2021, :mod:`analysis.did`).  This module chooses the windows and the
indicator family, runs :func:`analysis.did.att_gt` and its four aggregations per round and
indicator, the pre-trend test, the TWFE contrast, heterogeneity by subsets and the round 2 vs
round 1 difference, and returns tidy tables.  ``docs/methods.md`` explains the identification.

Windows (integer periods, 2008H1 = 1; see :data:`WINDOWS`)

* round 1: 2008H1–2010H1 (t = 1…5), cohorts 2008H2…2010H1 (g = 2…5).  One pre-period only
  (2008H1) for batch 1; every cell that has a not-yet-treated comparison lies in the window.
* round 2: 2011H1–2014H2 (t = 7…14), cohorts 2012H1…2013H2 (g = 9…12); two pre-periods before
  batch 1, and post-round periods up to 2014H2.

Every county is in some batch in both rounds, so there are no never-treated counties: only
not-yet-treated comparisons exist, and once the last batch has started nobody is left to
compare with.  The last batch's own post-treatment cells, and every cell at or after the last
batch's start, are **not estimable**; they are kept in the ATT(g, t) table with
``estimable=False``.  In round 1 that leaves event times 0–2 (e = 2 only for batch 1); in round 2
event times 0–2 likewise.  Long-run effects (after the round) are therefore not identified by the
roll-out; the descriptive comparison (:mod:`analysis.compare`) covers them, without a
counterfactual.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd
from scipy import stats
from statsmodels.stats.multitest import multipletests

from analysis.catalog import load_catalog
from analysis.design import add_design, build_design, period_index, period_label, to_base_panel
from analysis.did import DIDError, aggte, att_gt, round_difference, twfe_event_study

__all__ = [
    "EvaluationError",
    "WINDOWS",
    "FAMILY",
    "AGG_TYPES",
    "family",
    "round_data",
    "estimate_round",
    "evaluate",
    "run_evaluation",
]

WINDOWS: dict[int, tuple[str, str]] = {1: ("2008H1", "2010H1"), 2: ("2011H1", "2014H2")}
"""Estimation window (first, last half-year, inclusive) per round."""

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
            # without never-treated counties a second reference period is always dropped: expected
            warnings.simplefilter("ignore")
            t = twfe_event_study(data, indicator, "t", "base_code", "gname", ref=-1,
                                 cluster="prefecture_code" if cluster == "prefecture" else None)
        tw = t.to_frame().rename(columns={"estimate": "att", "pvalue": "p"})
        tw = pd.concat([pd.DataFrame(label, index=tw.index), tw], axis=1)
        tw["n_units"] = res.n_units
    nt = pd.DataFrame({**label, "note": notes}) if notes else pd.DataFrame(columns=[*label, "note"])
    return {"attgt": attgt, "effects": eff, "pretrend": pre, "twfe": tw, "notes": nt}


def _bh(frame: pd.DataFrame, by: Sequence[str], p: str = "p", out: str = "q") -> pd.DataFrame:
    frame = frame.copy()
    frame[out] = np.nan
    for _, idx in frame.groupby(list(by), sort=False).groups.items():
        pv = frame.loc[idx, p]
        ok = pv.notna()
        if ok.any():
            frame.loc[pv[ok].index, out] = multipletests(pv[ok].to_numpy(), method="fdr_bh")[1]
    return frame


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
        the family within round and subset), ``significant`` (q < alp), the pre-trend p-value.
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
    """
    fam = family(indicators=indicators)
    pieces: dict[str, list[pd.DataFrame]] = {k: [] for k in ("attgt", "effects", "pretrend", "twfe", "notes")}
    data_of: dict[int, pd.DataFrame] = {}
    for r in rounds:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            data = round_data(panel, design, r)
        for w in caught:
            pieces["notes"].append(pd.DataFrame([{"round": r, "indicator": "", "domain": "", "subset_dim": "all",
                                                 "subset": "all", "note": str(w.message)}]))
        data_of[r] = data
        in_round = set(family(round_=r, indicators=fam["indicator"])["indicator"])
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
                    pieces["notes"].append(pd.DataFrame([{"round": r, "indicator": ind, "domain": dom,
                                                         "subset_dim": dim, "subset": name,
                                                         "note": f"not estimated: {err}"}]))
                    continue
                for k, v in got.items():
                    if len(v):
                        v = v.copy()
                        v.insert(3, "subset_dim", dim)
                        pieces[k].append(v)
    out = {k: (pd.concat(v, ignore_index=True) if v else pd.DataFrame()) for k, v in pieces.items()}
    eff = out["effects"]
    if eff.empty:
        raise EvaluationError("evaluate: no indicator could be estimated; see the notes: "
                              + "; ".join(out["notes"].get("note", pd.Series(dtype=str)).head(3)))
    simple = eff[(eff["type"] == "simple") & (eff["level"] == "overall")].drop(
        columns=["type", "level", "key", "band_low", "band_high"])
    simple = _bh(simple, ["round", "subset"])
    simple["significant"] = simple["q"] < alp
    pre = out["pretrend"][["round", "indicator", "subset", "p"]].rename(columns={"p": "pretrend_p"})
    summary = simple.merge(pre, on=["round", "indicator", "subset"], how="left").reset_index(drop=True)
    summary.insert(2, "name_zh", summary["indicator"].map(fam.set_index("indicator")["name_zh"]))
    out["summary"] = summary
    out["heterogeneity"] = _heterogeneity(simple)
    if set(rounds) >= {1, 2}:
        out["round_difference"] = _round_difference(data_of, fam, cluster, biters, seed)
    return out


def _heterogeneity(simple: pd.DataFrame) -> pd.DataFrame:
    rows = []
    for (r, ind, dim), grp in simple[simple["subset_dim"] != "all"].groupby(["round", "indicator", "subset_dim"]):
        if len(grp) != 2:
            continue
        a, b = grp.sort_values("subset").iloc[0], grp.sort_values("subset").iloc[1]
        diff = b["att"] - a["att"]
        se = float(np.hypot(a["se"], b["se"]))
        rows.append(dict(round=r, indicator=ind, domain=a["domain"], subset_dim=dim, subset_a=a["subset"],
                         att_a=a["att"], se_a=a["se"], n_a=a["n_units"], subset_b=b["subset"], att_b=b["att"],
                         se_b=b["se"], n_b=b["n_units"], diff_b_minus_a=diff, se=se,
                         ci_low=diff - 1.959963984540054 * se, ci_high=diff + 1.959963984540054 * se,
                         p=float(_pvalue(diff, se))))
    return pd.DataFrame(rows)


def _round_difference(data_of: dict[int, pd.DataFrame], fam: pd.DataFrame, cluster: Cluster,
                      biters: int, seed: int) -> pd.DataFrame:
    rows = []
    cv = "prefecture_code" if cluster == "prefecture" else None
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
            rows.append(f)
    out = pd.concat(rows, ignore_index=True) if rows else pd.DataFrame()
    return _bh(out, ["type"]) if len(out) else out


def run_evaluation(
    processed_dir: str | Path,
    biters: int = 999,
    seed: int = 20120215,
    *,
    cluster: Cluster = "county",
    indicators: Iterable[str] | None = None,
    heterogeneity: bool = True,
) -> dict[str, pd.DataFrame]:
    """The main evaluation job on the outputs of ``analysis clean``.

    Reads ``panel.parquet`` and ``roster.parquet`` from ``processed_dir``, builds the design
    (roster rows with a problem are left out with a warning and listed in ``notes``), folds split
    counties into the 2008 base (:func:`analysis.design.to_base_panel`) and runs
    :func:`evaluate`.

    Parameters
    ----------
    processed_dir : path
        Folder with ``panel.parquet`` and ``roster.parquet``.
    biters : int
        Bootstrap draws per estimate.
    seed : int
        Master random seed.
    cluster : {"county", "prefecture"}
    indicators : iterable of str, optional
        Default the whole :data:`FAMILY`.
    heterogeneity : bool
        Subset estimates (三州 vs 其他, 省级 vs 市级).

    Returns
    -------
    dict of DataFrames as :func:`evaluate`, plus ``design`` (the design used) and ``timing``
    (seconds per step).
    """
    folder = Path(processed_dir)
    need = [folder / "panel.parquet", folder / "roster.parquet"]
    lacking = [p.name for p in need if not p.exists()]
    if lacking:
        raise EvaluationError(f"run_evaluation: {folder} lacks {lacking}; run `python -m analysis clean --out {folder}` first.")
    t0 = time.perf_counter()
    panel = pd.read_parquet(need[0])
    roster = pd.read_parquet(need[1])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        design = build_design(roster, errors="warn")
    base = to_base_panel(panel)
    t1 = time.perf_counter()
    out = evaluate(base, design, indicators=indicators, cluster=cluster, biters=biters, seed=seed,
                   heterogeneity=heterogeneity)
    t2 = time.perf_counter()
    extra = pd.DataFrame({"round": 0, "indicator": "", "domain": "", "subset_dim": "all", "subset": "all",
                          "note": [str(w.message) for w in caught]})
    out["notes"] = pd.concat([extra, out["notes"]], ignore_index=True)
    out["design"] = design
    out["timing"] = pd.DataFrame({"step": ["read_design_base_panel", "estimate"],
                                  "seconds": [t1 - t0, t2 - t1]})
    return out
