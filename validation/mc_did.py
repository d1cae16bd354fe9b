"""Monte-Carlo check of analysis.did: bias, RMSE and coverage on programme-like panels (not in CI).

    .venv/bin/python validation/mc_did.py [--reps 1000] [--biters 499] [--seed 2026] [--out results.csv]

Two designs, both 181 counties over 8 half-years with four batches starting in periods 3-6
(the shape of one round of the residency programme):

* ``with_never``: 20 % of counties never treated, comparisons not yet treated;
* ``round2_like``: every county treated in some batch (no never-treated units), as in round 2.

Effects grow with exposure (1 + 0.5 e) and differ by batch (+0.5 per later batch), so a TWFE
event study is biased while Callaway-Sant'Anna is not.  The truth of every estimand is computed
by running the same estimator on the noise-free planted effect (``true_effect`` column), which
gives the exact ATT(g, t) and hence the exact aggregate for the realised cohort sizes.

Reported per estimand: mean estimate, truth, bias, RMSE, coverage of the 95 % pointwise interval
(analytic and bootstrap SE) and, for the event study, of the simultaneous band (all e jointly).
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
import pandas as pd

from analysis.did import aggte, att_gt, simulate_did_panel, twfe_event_study

DESIGNS = {
    "with_never": dict(never_share=0.2),
    "round2_like": dict(never_share=0.0),
}
MAX_E = 2  # event times 0..2 are estimable in both designs


def one_rep(design: str, seed: int, biters: int) -> list[dict]:
    data = simulate_did_panel(
        n_units=181, n_periods=8, cohorts=(3, 4, 5, 6), effect=(1.0, 0.5), cohort_effect=0.5,
        noise_sd=1.0, n_clusters=21, seed=seed, **DESIGNS[design],
    )
    rows = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est = att_gt(data, "y", "period", "county", "first_treat", biters=biters, seed=seed)
        truth = att_gt(data, "true_effect", "period", "county", "first_treat", bstrap=False, cband=False)
        for typ in ("simple", "dynamic"):
            a = aggte(est, typ, max_e=MAX_E, seed=seed + 1)
            b = aggte(truth, typ, max_e=MAX_E, bstrap=False, cband=False)
            rows.append(dict(estimator="cs", estimand=f"{typ}_overall", est=a.overall_att, truth=b.overall_att,
                             se=a.overall_se, se_an=a.overall_se_analytic))
            if typ == "dynamic":
                post = a.keys >= 0
                crit = a.crit_val
                inside = np.abs(a.att[post] - b.att[post]) <= crit * a.se[post]
                rows.append(dict(estimator="cs", estimand="dynamic_band_all_e>=0", est=np.nan, truth=np.nan,
                                 se=np.nan, se_an=np.nan, band_cover=bool(inside.all())))
                for k, e in enumerate(a.keys):
                    if 0 <= e <= MAX_E:
                        rows.append(dict(estimator="cs", estimand=f"dynamic_e{int(e)}", est=a.att[k], truth=b.att[k],
                                         se=a.se[k], se_an=a.se_analytic[k]))
        tw = twfe_event_study(data, "y", "period", "county", "first_treat").to_frame().set_index("event_time")
        # The TWFE estimand is judged against the same (Callaway-Sant'Anna) event-time truth.
        b = aggte(truth, "dynamic", max_e=MAX_E, bstrap=False, cband=False)
        for k, e in enumerate(b.keys):
            if 0 <= e <= MAX_E and e in tw.index:
                rows.append(dict(estimator="twfe", estimand=f"dynamic_e{int(e)}", est=tw.loc[e, "estimate"],
                                 truth=b.att[k], se=tw.loc[e, "se"], se_an=tw.loc[e, "se"]))
    for r in rows:
        r.update(design=design, rep=seed)
    return rows


def summarise(df: pd.DataFrame) -> pd.DataFrame:
    z = 1.959963984540054

    def agg(g: pd.DataFrame) -> pd.Series:
        if g["estimand"].iloc[0].startswith("dynamic_band"):
            return pd.Series({"reps": len(g), "band_coverage": g["band_cover"].mean()})
        err = g["est"] - g["truth"]
        return pd.Series(
            {
                "reps": len(g),
                "mean_est": g["est"].mean(),
                "mean_truth": g["truth"].mean(),
                "bias": err.mean(),
                "rmse": np.sqrt(np.mean(err**2)),
                "sd_est": g["est"].std(ddof=1),
                "mean_se_boot": g["se"].mean(),
                "mean_se_analytic": g["se_an"].mean(),
                "cover95_boot": np.mean(np.abs(err) <= z * g["se"]),
                "cover95_analytic": np.mean(np.abs(err) <= z * g["se_an"]),
            }
        )

    out = []
    for key, g in df.groupby(["design", "estimator", "estimand"], sort=True):
        out.append({"design": key[0], "estimator": key[1], "estimand": key[2], **agg(g).to_dict()})
    return pd.DataFrame(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=1000)
    ap.add_argument("--biters", type=int, default=499)
    ap.add_argument("--seed", type=int, default=2026)
    ap.add_argument("--out", default=None, help="optional CSV path for the summary table")
    args = ap.parse_args()
    t0 = time.perf_counter()
    rows = []
    for design in DESIGNS:
        for r in range(args.reps):
            rows.extend(one_rep(design, args.seed + r, args.biters))
    df = pd.DataFrame(rows)
    table = summarise(df)
    pd.set_option("display.width", 200)
    print(f"{args.reps} replications per design, {args.biters} bootstrap draws, {time.perf_counter() - t0:.0f} s")
    print(table.round(4).to_string(index=False))
    if args.out:
        table.to_csv(args.out, index=False)


if __name__ == "__main__":
    main()
