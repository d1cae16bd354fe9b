"""Ingest speed and correctness on the demo data (run on demand, not part of the test suite).

    .venv/bin/python benchmarks/bench_ingest.py [--raw data/raw/demo] [--repeat 1] [--no-truth]

Measures, in one run over the same files:

* ``clean()`` — the whole cleaning step (read every sheet, find its layout, extract the cells,
  parse, resolve counties, validate, resolve duplicates, build the outputs, check conservation),
  with a split into reading / layout+extraction / cleaning of records;
* a plain loop of ``pandas.read_excel(sheet_name=None, engine="openpyxl")`` (``xlrd`` for .xls,
  ``pandas.read_csv`` for CSV) over the same files — what a notebook would do just to *open*
  them; the target is ``clean()`` ≥ 5× faster than that loop in files per second;
* with the truth check (default): every clean value against ``analysis.demo.truth(seed).clean``,
  every planted bad record against the quarantine (right rule), and nothing else quarantined
  except unreadable Excel error cells (which the generator lists as mess, not as bad records).

Timings are wall-clock medians and are noisy when other jobs share the machine; the load
average is printed next to them.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from analysis.config import paths
from analysis.ingest import pipeline
from analysis.ingest.pipeline import clean, discover_files

# planted bad-record kinds of the demo generator → the rule the pipeline must quarantine them under
EXPECTED_RULE = {
    "posts_over_authorised": "filled_exceeds_authorized",
    "rate_out_of_range": "above_max",
    "duplicate_county": "duplicate_conflict",
    "unknown_county": "county_unknown",
    "period_contradicts_file": "period_contradiction",
}


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
    """Reading, and layout + extraction, timed separately over every file."""
    from analysis.ingest.layout import detect_layout, extract_records
    from analysis.ingest.read import read_any

    t_read = t_layout = 0.0
    for path, _rel in files:
        t0 = time.perf_counter()
        sheets = read_any(path)
        t1 = time.perf_counter()
        for sheet in sheets:
            if sheet.hidden or pipeline._is_roster(path, sheet.name,
                                                    pipeline._first_rows_text(sheet)):
                continue
            try:
                extract_records(sheet, detect_layout(sheet), path)
            except Exception:  # noqa: BLE001
                pass
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


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--raw", default=str(paths().raw), help="folder of submissions")
    ap.add_argument("--repeat", type=int, default=1, help="timed runs of clean() (median)")
    ap.add_argument("--seed", type=int, default=None, help="demo seed for the truth check")
    ap.add_argument("--no-truth", action="store_true", help="skip the comparison with the truth")
    args = ap.parse_args(argv)

    found = discover_files([args.raw])
    files = [p for p, _ in found]
    n = len(files)
    print(f"{n} files under {args.raw}; cpus={os.cpu_count()} load={os.getloadavg()[0]:.1f}")

    times, cpu, phases = [], [], []
    for _ in range(max(1, args.repeat)):
        w0, c0 = time.perf_counter(), time.process_time()
        result = clean([args.raw], progress=False, salt=b"benchmark")
        times.append(time.perf_counter() - w0)
        cpu.append(time.process_time() - c0)
        phases.append(result.timings)
    t_clean, c_clean = statistics.median(times), statistics.median(cpu)
    phase = {k: statistics.median(p[k] for p in phases) for k in phases[0]}
    c0 = time.process_time()
    stages = stage_times(found)
    c_stages = time.process_time() - c0
    w0, c0 = time.perf_counter(), time.process_time()
    t_pandas = pandas_loop(files)
    c_pandas = time.process_time() - c0
    s = result.summary()
    print(f"clean():            {t_clean:7.2f} s wall, {c_clean:6.2f} s CPU  "
          f"{n / t_clean:6.1f} files/s wall, {n / c_clean:6.1f} files/s CPU  "
          f"({s['records']} cells: {s['clean']} clean, {s['quarantined']} quarantined)")
    print("  CPU by phase: " + ", ".join(f"{k} {v:.2f} s" for k, v in phase.items()))
    print(f"  separately: reading {stages['read']:.2f} s wall, layout+extract "
          f"{stages['layout_extract']:.2f} s wall ({c_stages:.2f} s CPU together)")
    print(f"pandas.read_excel:  {t_pandas:7.2f} s wall, {c_pandas:6.2f} s CPU  "
          f"{n / t_pandas:6.1f} files/s wall  (opening only)")
    print(f"speed-up:           {t_pandas / t_clean:7.2f}× wall, {c_pandas / c_clean:.2f}× CPU "
          "(target ≥ 5×; full demo target < 15 s)")
    print(f"reading alone vs pandas: {t_pandas / stages['read']:.1f}× wall")
    print(f"load average now:   {os.getloadavg()[0]:.1f}")
    if not args.no_truth:
        from analysis.demo import DEFAULT_SEED

        t0 = time.perf_counter()
        check = check_truth(result, args.seed if args.seed is not None else DEFAULT_SEED)
        print(f"truth check ({time.perf_counter() - t0:.1f} s): "
              + ", ".join(f"{k}={v}" for k, v in check.items()))
        ok = (check["wrong_values"] == 0 and check["values_not_in_truth"] == 0
              and check["bad_records_missed"] == 0 and check["quarantined_unexplained"] == 0)
        print("truth check:", "PASS" if ok else "FAIL")
        return 0 if ok else 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
