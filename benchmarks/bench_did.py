"""Timing of analysis.did against csdid and differences on a national-size panel (run on demand).

    .venv/bin/python benchmarks/bench_did.py [--units 2850] [--periods 14] [--repeat 3] [--skip-differences]

Workload (the same for every implementation): unconditional ATT(g, t) with not-yet-treated
comparisons and varying base period, then the four aggregations (simple, dynamic, group,
calendar), each with a 999-draw multiplier bootstrap.  csdid runs its outcome-regression
estimator (``est_method="reg"``), which for an intercept-only model is the same estimator.
Prints the median wall time of each and the ratios, and checks that the point estimates agree.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import platform
import time
import warnings

import numpy as np

from analysis.did import aggte, att_gt, simulate_did_panel

TYPES = ["simple", "dynamic", "group", "calendar"]


def run_ours(data, biters):
    res = att_gt(data, "y", "period", "county", "first_treat", biters=biters, seed=1)
    aggs = {k: aggte(res, k, seed=2) for k in TYPES}
    return res, aggs


def run_csdid(data, biters):
    from csdid.att_gt import ATTgt

    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        fit = ATTgt("y", "period", "county", "first_treat", data, control_group="notyettreated",
                    biters=biters, cband=True).fit(est_method="reg", base_period="varying", bstrap=True)
        out = {}
        for k in TYPES:
            fit.aggte(typec=k, bstrap=True, biters=biters, cband=True)
            out[k] = fit.atte["overall_att"]
    return fit, out


def run_differences(data, biters):
    from differences import ATTgt

    df = data.assign(cohort=data["first_treat"].replace(0, np.nan)).set_index(["county", "period"])
    # differences draws tqdm progress bars on stderr; keep the report readable.
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        warnings.simplefilter("ignore")
        m = ATTgt(df, cohort_column="cohort", base_period="varying")
        m.fit("y", control_group="not_yet_treated", progress_bar=False, boot_iterations=biters, random_state=1)
        out = {}
        for k, name in zip(TYPES, ["simple", "event", "cohort", "time"]):
            agg = m.aggregate(name, overall=name != "simple", boot_iterations=biters, random_state=2)
            out[k] = float(agg.iloc[0, 0])
    return m, out


def timed(fn, repeat):
    times, out = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return float(np.median(times)), out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--units", type=int, default=2850)
    ap.add_argument("--periods", type=int, default=14)
    ap.add_argument("--biters", type=int, default=999)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--skip-differences", action="store_true")
    args = ap.parse_args()

    data = simulate_did_panel(n_units=args.units, n_periods=args.periods, cohorts=(5, 7, 9, 11),
                              never_share=0.1, seed=0)
    print(f"panel: {args.units} units x {args.periods} periods, cohorts 5/7/9/11, {args.biters} bootstrap draws; "
          f"python {platform.python_version()}, {os.cpu_count()} cpus")
    run_ours(data, args.biters)  # warm-up (imports, caches)
    t_ours, (res, aggs) = timed(lambda: run_ours(data, args.biters), args.repeat)
    print(f"analysis.did : {t_ours:8.3f} s  ({len(res.att)} ATT(g,t) cells + 4 aggregations)")
    t_cs, (_, cs_out) = timed(lambda: run_csdid(data, args.biters), max(1, min(args.repeat, 2)))
    gap = max(abs(aggs[k].overall_att - cs_out[k]) for k in TYPES)
    print(f"csdid        : {t_cs:8.3f} s  ratio csdid/ours = {t_cs / t_ours:6.1f}x; max |overall ATT diff| = {gap:.2e}")
    if not args.skip_differences:
        t_df, (_, df_out) = timed(lambda: run_differences(data, args.biters), 1)
        gap = max(abs(aggs[k].overall_att - df_out[k]) for k in TYPES)
        print(f"differences  : {t_df:8.3f} s  ratio differences/ours = {t_df / t_ours:6.1f}x; "
              f"max |overall ATT diff| = {gap:.2e}")


if __name__ == "__main__":
    main()
