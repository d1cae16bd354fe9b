"""Ingest speed and correctness on the demo data (run on demand, not part of the test suite).

    .venv/bin/python benchmarks/bench_ingest.py [--raw data/raw/demo] [--sets demo,10x]
        [--repeat 1] [--workers N] [--big-dir DIR] [--no-truth]

Measures, side by side in one run over the same files, for each set:

* ``clean()`` with the default process pool and with ``workers=1`` — the whole cleaning step
  (read every sheet, find its layout, extract the cells, parse, resolve counties, validate,
  resolve duplicates, build the outputs, check conservation);
* a plain loop of ``pandas.read_excel(sheet_name=None, engine="openpyxl")`` (``xlrd`` for .xls,
  ``pandas.read_csv`` for CSV) over the same files — what a notebook would do just to *open*
  them; the target is ``clean()`` ≥ 5× faster than that loop in files per second, and the full
  demo in under 15 s on 2 cores.

Sets: ``demo`` is ``--raw`` (the committed demo); ``10x`` is the demo generator run with ten
other seeds into a temporary folder (``--big-dir`` keeps it between runs), i.e. ten times the
files and cells.  In a 10× set every county reports ten times per period, so nearly every value
ends as a duplicate conflict: reading, layout and the per-cell steps cost what they cost on any
delivery, but the final, serial step writes 600 000 quarantine rows — the heaviest case for it,
not a typical delivery.

CPU time is ``time.process_time()`` of this process plus the CPU of finished worker processes
(``RUSAGE_CHILDREN``), i.e. summed over workers.  Wall times are noisy when other jobs share
the machine: compare the ratios of one run; the load average is printed next to them.

With the truth check (default, demo set only): every clean value against
``analysis.demo.truth(seed).clean``, every planted bad record against the quarantine (right
rule), and nothing else quarantined except unreadable Excel error cells (which the generator
lists as mess, not as bad records).
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import tempfile
import re
import statistics
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from analysis.config import paths
from analysis.ingest.pipeline import clean, discover_files

BIG_SEEDS = tuple(range(101, 111))  # the 10× set: the demo generator with ten other seeds

# planted bad-record kinds of the demo generator → the rule the pipeline must quarantine them under
EXPECTED_RULE = {
    "posts_over_authorised": "filled_exceeds_authorized",
    "rate_out_of_range": "above_max",
    "duplicate_county": "duplicate_conflict",
    "unknown_county": "county_unknown",
    "period_contradicts_file": "period_contradiction",
}


def cpu_now() -> float:
    """CPU seconds of this process plus its finished children (the pool's workers)."""
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + kids.ru_utime + kids.ru_stime


def _generate_one(args: tuple[int, str]) -> int:
    from analysis.demo import generate

    seed, folder = args
    return len(generate(Path(folder), seed=seed))


def make_big_set(folder: Path, seeds=BIG_SEEDS) -> Path:
    """The demo written with each seed into ``folder/seed_<n>`` (kept when already complete)."""
    from concurrent.futures import ProcessPoolExecutor

    todo = [(seed, str(folder / f"seed_{seed}")) for seed in seeds
            if not (folder / f"seed_{seed}" / ".complete").exists()]
    if todo:
        t0 = time.perf_counter()
        with ProcessPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
            for (seed, sub), n in zip(todo, pool.map(_generate_one, todo)):
                (Path(sub) / ".complete").write_text(f"{n} files\n", encoding="utf-8")
        print(f"  generated {len(todo)} seed(s) in {time.perf_counter() - t0:.0f} s under {folder}")
    return folder


def pandas_loop(files: list[Path]) -> float:
    """Seconds for the plain pandas loop that only opens every file."""
    t0 = time.perf_counter()
    for f in files:
        suffix = f.suffix.lower()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                if suffix == ".csv":
                    try:
                        pd.read_csv(f, header=None, dtype=str, encoding="utf-8-sig")
                    except UnicodeDecodeError:
                        pd.read_csv(f, header=None, dtype=str, encoding="gb18030")
                elif suffix == ".xls":
                    pd.read_excel(f, sheet_name=None, header=None, engine="xlrd")
                else:
                    pd.read_excel(f, sheet_name=None, header=None, engine="openpyxl")
            except Exception as exc:  # noqa: BLE001 - a benchmark reports, it does not stop
                print(f"  pandas could not open {f.name}: {type(exc).__name__}", file=sys.stderr)
    return time.perf_counter() - t0


def stage_times(files: list[tuple[Path, str]]) -> dict[str, float]:
    """Reading, and layout + extraction + the cell census, timed separately over every file."""
    from analysis.ingest.census import cell_roles, count_nonempty, record_places
    from analysis.ingest.layout import _extract_columns, detect_layouts
    from analysis.ingest.read import read_any
    from analysis.ingest.roster import is_roster_sheet

    t_read = t_layout = 0.0
    for path, _rel in files:
        t0 = time.perf_counter()
        sheets = read_any(path)
        t1 = time.perf_counter()
        for sheet in sheets:
            if sheet.hidden or is_roster_sheet(path, sheet.name, sheet.cells):
                continue
            layouts = detect_layouts(sheet)
            taken = []
            for layout in layouts:
                try:
                    got, _ = _extract_columns(sheet, layout, str(path))
                except Exception:  # noqa: BLE001
                    continue
                taken += got["source_cell"]
            cell_roles(sheet, layouts, record_places(taken))
            count_nonempty(sheet)
        t_read += t1 - t0
        t_layout += time.perf_counter() - t1
    return {"read": t_read, "layout_extract": t_layout}


def check_truth(result, seed: int) -> dict[str, int]:
    """Compare the clean data and the quarantine with the generator's truth."""
    from analysis.demo import truth

    t = truth(seed)
    key = ["period", "county_code", "indicator"]
    got = result.indicators.dropna(subset=["value"])
    m = t.clean.merge(got, on=key, how="outer", suffixes=("_truth", "_clean"), indicator=True)
    both = m[m["_merge"] == "both"]
    wrong = both[~np.isclose(both["value_truth"], both["value_clean"], rtol=1e-9, atol=1e-9)]
    extra = m[m["_merge"] == "right_only"]

    def row(cell: str) -> str:
        return re.sub(r"^[A-Z]+", "", str(cell))

    q = result.quarantine.assign(row=result.quarantine["cell"].map(row))
    bad = t.bad_records.assign(row=t.bad_records["cell"].map(row))
    missed = 0
    for b in bad.itertuples(index=False):
        want = EXPECTED_RULE.get(b.kind)
        same_file = q[(q["file"] == b.file) & (q["sheet"] == b.sheet) & (q["rule"] == want)]
        # a period contradiction is a property of the whole sheet; the others of one row
        hit = same_file if b.kind == "period_contradicts_file" else same_file[
            same_file["row"] == b.row]
        missed += hit.empty
    planted = set()
    for b in bad.itertuples(index=False):
        rows = q[(q["file"] == b.file) & (q["sheet"] == b.sheet)]
        if b.kind != "period_contradicts_file":
            # a duplicate conflict quarantines every copy, wherever the copies are
            rows = rows[(rows["row"] == b.row) | (rows["rule"] == "duplicate_conflict")]
        planted |= set(rows["record_id"])
    errors = t.mess[t.mess["kind"] == "excel_error"]
    error_cells = set(zip(errors["file"], errors["sheet"], errors["cell"]))
    unexplained = q[~q["record_id"].isin(planted)
                    & ~pd.Series(list(zip(q["file"], q["sheet"], q["cell"])),
                                 index=q.index).isin(error_cells)]
    return {"truth_values": len(t.clean), "matched_values": len(both),
            "wrong_values": len(wrong), "values_not_in_truth": len(extra),
            "bad_records": len(bad), "bad_records_missed": int(missed),
            "quarantined_unexplained": int(unexplained["record_id"].nunique())}


def _child(raw: str, workers: int | None) -> None:
    """Run clean() once in this (fresh) process and print its times as JSON."""
    import json

    w0, c0 = time.perf_counter(), cpu_now()
    result = clean([raw], progress=False, salt=b"benchmark", workers=workers)
    print(json.dumps({"wall": time.perf_counter() - w0, "cpu": cpu_now() - c0,
                      "phase": result.timings, "summary": result.summary()}, default=str))


def time_clean(raw: str, repeat: int, workers: int | None):
    """Median wall and CPU seconds (CPU summed over workers) of ``clean()``, phases, summary.

    Each run is a fresh Python process (timed from after the imports), so every variant starts
    as cold as the command line does: no run profits from caches an earlier one filled.
    """
    import json
    import subprocess

    walls, cpus, phases = [], [], []
    for _ in range(max(1, repeat)):
        cmd = [sys.executable, __file__, "--child", raw]
        if workers is not None:
            cmd += ["--workers", str(workers)]
        out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
        got = json.loads(out.strip().splitlines()[-1])
        walls.append(got["wall"])
        cpus.append(got["cpu"])
        phases.append(got["phase"])
    phase = {k: statistics.median(p.get(k, 0.0) for p in phases) for k in phases[0]}
    return statistics.median(walls), statistics.median(cpus), phase, got["summary"]


def bench_set(label: str, raw: str, args) -> tuple[dict, object]:
    """clean() with the pool, clean() in one process, and the pandas loop, over one set."""
    found = discover_files([raw])
    files = [p for p, _ in found]
    n = len(files)
    print(f"\n== {label}: {n} files under {raw}; cpus={os.cpu_count()} "
          f"load={os.getloadavg()[0]:.1f}")
    t_pool, c_pool, phase, s = time_clean(raw, args.repeat, args.workers)
    t_one, c_one, _, _ = time_clean(raw, args.repeat, 1)
    t_pandas, c_pandas = [], []
    for _ in range(max(1, args.repeat)):  # as many runs as clean(), median
        c0 = cpu_now()
        t_pandas.append(pandas_loop(files))
        c_pandas.append(cpu_now() - c0)
    t_pandas, c_pandas = statistics.median(t_pandas), statistics.median(c_pandas)
    row = {"set": label, "files": n, "cells": s["records"], "clean_wall_s": t_pool,
           "clean_cpu_s": c_pool, "one_process_wall_s": t_one, "one_process_cpu_s": c_one,
           "pandas_wall_s": t_pandas, "pandas_cpu_s": c_pandas}
    print(f"clean() pool:       {t_pool:7.2f} s wall, {c_pool:6.2f} s CPU  "
          f"{n / t_pool:6.1f} files/s wall, {n / c_pool:6.1f} files/s CPU  "
          f"({s['records']} cells: {s['clean']} clean, {s['quarantined']} quarantined)")
    print("  CPU by phase: " + ", ".join(f"{k} {v:.2f} s" for k, v in phase.items()))
    print(f"clean() 1 process:  {t_one:7.2f} s wall, {c_one:6.2f} s CPU  "
          f"{n / t_one:6.1f} files/s wall")
    print(f"pandas.read_excel:  {t_pandas:7.2f} s wall, {c_pandas:6.2f} s CPU  "
          f"{n / t_pandas:6.1f} files/s wall  (opening only)")
    print(f"speed-up vs pandas: pool {t_pandas / t_pool:.2f}× wall, {c_pandas / c_pool:.2f}× CPU; "
          f"one process {t_pandas / t_one:.2f}× wall, {c_pandas / c_one:.2f}× CPU "
          "(target ≥ 5×; full demo < 15 s)")
    if label == "demo":
        c0 = time.process_time()
        stages = stage_times(found)
        print(f"  separately (one process): reading {stages['read']:.2f} s wall, layout+extract+census "
              f"{stages['layout_extract']:.2f} s wall ({time.process_time() - c0:.2f} s CPU "
              f"together); reading alone vs pandas {t_pandas / stages['read']:.1f}× wall")
    print(f"load average now:   {os.getloadavg()[0]:.1f}")
    return row


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--raw", default=str(paths().raw), help="folder of submissions (demo set)")
    ap.add_argument("--sets", default="demo,10x", help="comma-separated: demo, 10x")
    ap.add_argument("--repeat", type=int, default=1, help="timed runs of clean() and of the pandas loop (median)")
    ap.add_argument("--workers", type=int, default=None, help="clean(workers=…); default auto")
    ap.add_argument("--big-dir", default=None, help="keep the generated 10× set here")
    ap.add_argument("--seed", type=int, default=None, help="demo seed for the truth check")
    ap.add_argument("--no-truth", action="store_true", help="skip the comparison with the truth")
    ap.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child is not None:
        _child(args.child, args.workers)
        return 0
    sets = [x.strip() for x in args.sets.split(",") if x.strip()]
    unknown = set(sets) - {"demo", "10x"}
    if unknown:
        ap.error(f"--sets: unknown set(s) {sorted(unknown)}; use demo and/or 10x")

    rows, status = [], 0
    if "demo" in sets:
        rows.append(bench_set("demo", args.raw, args))
        if not args.no_truth:
            from analysis.demo import DEFAULT_SEED

            result = clean([args.raw], progress=False, salt=b"benchmark", workers=args.workers)
            t0 = time.perf_counter()
            check = check_truth(result, args.seed if args.seed is not None else DEFAULT_SEED)
            print(f"truth check ({time.perf_counter() - t0:.1f} s): "
                  + ", ".join(f"{k}={v}" for k, v in check.items()))
            ok = (check["wrong_values"] == 0 and check["values_not_in_truth"] == 0
                  and check["bad_records_missed"] == 0 and check["quarantined_unexplained"] == 0)
            print("truth check:", "PASS" if ok else "FAIL")
            status = 0 if ok else 1
    if "10x" in sets:
        keep = args.big_dir is not None
        folder = Path(args.big_dir) if keep else Path(tempfile.mkdtemp(prefix="bench_ingest_10x_"))
        try:
            make_big_set(folder)
            rows.append(bench_set("10x", str(folder), args))
        finally:
            if not keep:
                shutil.rmtree(folder, ignore_errors=True)
    table = pd.DataFrame(rows)
    if len(table):
        table["files_per_s_wall"] = table["files"] / table["clean_wall_s"]
        table["vs_pandas_wall"] = table["pandas_wall_s"] / table["clean_wall_s"]
        table["vs_pandas_cpu"] = table["pandas_cpu_s"] / table["clean_cpu_s"]
        print("\n" + table.round(2).to_string(index=False))
    return status


if __name__ == "__main__":
    raise SystemExit(main())
