"""Write the cleaning outputs: atomically, deterministically, Excel-friendly.

Files written to the output folder (see ``docs/data-contract.md``):

========================  =====================================================================
``indicators.parquet``    clean long values (county_code, base_code, period, indicator, value, …)
``panel.parquet``         county × period wide panel with the catalog's derived indicators
``roster.parquet``        residency roster, cadre names replaced by pseudonymous ids
``quarantine.csv``        every cell kept out, with rule and Chinese message
``audit.csv``             every transformation raw → clean
``quality.csv``           completeness, fixes and quarantined cells per county and period
``files.csv``             per input file: records in, clean, quarantined, merged, set aside, …
``sheets.csv``            per sheet: the cell census (non-empty cells by role)
========================  =====================================================================

*Atomic*: each file is written to a temporary file in the same folder and moved into place with
:func:`os.replace`, so a reader never sees half a file and a crash leaves the old output.
*Deterministic*: rows are sorted, Parquet files carry no pandas/creation metadata, so the same
input gives byte-identical files (checked by the tests).  CSV files are UTF-8 with a BOM so that
Excel opens the Chinese text correctly.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from analysis import fileio
from analysis.fileio import atomic_write
from analysis.ingest.guards import neutralize_formulas
from analysis.ingest.result import OUTPUT_MARKER

__all__ = ["OUTPUT_FILES", "write_outputs", "write_parquet", "write_csv", "build_panel",
           "run_clean_cli"]

OUTPUT_FILES = ("indicators.parquet", "panel.parquet", "roster.parquet", "quarantine.csv",
                "audit.csv", "quality.csv", "files.csv", "sheets.csv")

_SORT_KEYS: dict[str, list[str]] = {
    "indicators": ["county_code", "period", "indicator"],
    "panel": ["county_code", "period"],
    "roster": ["round", "batch", "county_code", "cadre_id"],
    "quarantine": ["file", "sheet", "record_id", "rule"],
    "audit": ["source_file", "source_sheet", "record_id", "stage", "rule"],
    "quality": ["county_code", "period"],
    "files": ["source_file"],
    "sheets": ["source_file", "sheet"],
}


_atomic = atomic_write  # kept as the module-local name its writers use


def _sorted(frame: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    keys = [k for k in keys if k in frame.columns]
    if not keys:
        return frame.reset_index(drop=True)
    return frame.sort_values(keys, kind="stable", na_position="last", ignore_index=True)


def write_parquet(frame: pd.DataFrame, path: str | os.PathLike,
                  sort_by: list[str] | None = None) -> Path:
    """Write a DataFrame to Parquet, atomically and byte-reproducibly.

    The pandas schema metadata (which records the pandas version and index layout) is dropped
    and statistics are kept, so the bytes depend only on the data and the pyarrow version.

    Parameters
    ----------
    frame : pandas.DataFrame
    path : path-like
    sort_by : list of str, optional
        Columns to sort rows by first (stable).

    Returns
    -------
    Path
    """
    out = _sorted(frame, sort_by or [])
    # object columns of mixed None/str become plain strings; pyarrow infers the rest
    table = pa.Table.from_pandas(out, preserve_index=False).replace_schema_metadata(None)
    return _atomic(Path(path), lambda tmp: pq.write_table(
        table, tmp, compression="zstd", use_dictionary=True, write_statistics=True))


def write_csv(frame: pd.DataFrame, path: str | os.PathLike,
              sort_by: list[str] | None = None) -> Path:
    """Write a DataFrame to CSV in UTF-8 with BOM (Excel reads Chinese correctly), atomically.

    Floats are written with up to 10 significant digits and ``\\n`` line ends, so reruns are
    byte-identical; a field holding a carriage return or line feed is quoted.
    """
    # text cells that Excel would run as formulas (=, +, -, @ …) get a leading apostrophe,
    # and every field holding a line break is quoted (fileio.csv_text), so that no reader can
    # split a cell into a new row that starts with a formula
    out = neutralize_formulas(_sorted(frame, sort_by or []))
    return fileio.write_csv(out, path, encoding="utf-8-sig", index=False, float_format="%.10g")


def build_panel(indicators: pd.DataFrame) -> pd.DataFrame:
    """County × period wide panel: raw indicators plus the catalog's derived ones.

    Parameters
    ----------
    indicators : pandas.DataFrame
        Clean long values (``county_code, base_code, period, indicator, value``).

    Returns
    -------
    pandas.DataFrame
        One row per county_code × period, columns ``county_code, base_code, period`` then one
        float column per indicator (raw and derived, catalog units), sorted.
    """
    from analysis.indicators import derive, to_wide

    cols = ["county_code", "base_code", "period", "indicator", "value"]
    long = indicators[cols]
    if long.empty:
        return pd.DataFrame(columns=["county_code", "base_code", "period"])
    derived = derive(long)
    both = pd.concat([long, derived[[c for c in cols if c in derived.columns]]],
                     ignore_index=True)
    return to_wide(both)


_MARKER_TEXT = ("This folder holds outputs of `python -m analysis clean`. A clean run never reads\n"
                "a folder holding this file as submissions (see docs/reliability.md).\n")


def write_outputs(result, out_dir: str | os.PathLike) -> dict[str, Path]:
    """Write every output of a :class:`~analysis.ingest.pipeline.CleanResult`, and the hidden
    marker file ``.residency-outputs`` (:data:`~analysis.ingest.result.OUTPUT_MARKER`), first,
    that keeps the folder from being read as submissions.

    Parameters
    ----------
    result : CleanResult
    out_dir : path-like
        Created if missing.

    Returns
    -------
    dict
        Output name → path written.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    # first, so that even a folder an interrupted run left half-written is never read back as
    # submissions by a later run (pipeline.discover skips folders holding it)
    _atomic(out / OUTPUT_MARKER, lambda tmp: Path(tmp).write_text(_MARKER_TEXT, encoding="utf-8"))
    written = {
        "indicators": write_parquet(result.indicators, out / "indicators.parquet",
                                    _SORT_KEYS["indicators"]),
        "panel": write_parquet(build_panel(result.indicators), out / "panel.parquet",
                               _SORT_KEYS["panel"]),
        "roster": write_parquet(result.roster, out / "roster.parquet", _SORT_KEYS["roster"]),
    }
    for name in ("quarantine", "audit", "quality", "files", "sheets"):
        written[name] = write_csv(getattr(result, name), out / f"{name}.csv", _SORT_KEYS[name])
    return written


def run_clean_cli(raw_paths, out_dir, *, progress: bool = True, stream=None) -> int:
    """Run the cleaning step for the command line.

    Parameters
    ----------
    raw_paths : sequence of path-like
        Files and folders of submissions.
    out_dir : path-like
        Output folder.
    progress : bool
        tqdm progress bar when there are many files.
    stream : file-like, optional
        Where the summary goes (default ``sys.stdout``); errors go to ``sys.stderr``.

    Returns
    -------
    int
        0 when the run completed (even if cells were quarantined: that is data, not failure);
        2 when it could not run (a raw path missing, no submission found, output folder not
        writable), with a one-line reason on stderr; 3 on an internal consistency failure
        (row conservation).
    """
    from analysis.ingest.errors import DiscoveryError
    from analysis.ingest.pipeline import ConservationError, clean, discover

    stream = stream or sys.stdout
    raw_paths = [Path(p) for p in (raw_paths if isinstance(raw_paths, (list, tuple))
                                   else [raw_paths])]
    try:
        found = discover(raw_paths, exclude=[out_dir])
        for folder in found.skipped:
            print(f"note: {folder} not read: it holds outputs of this program "
                  f"({OUTPUT_MARKER} or quarantine.csv, audit.csv, files.csv), not submissions",
                  file=stream)
        if not (found.files or found.refused):
            print(f"error: no submissions (.xlsx/.xls/.csv …) under "
                  f"{', '.join(map(str, raw_paths))}", file=sys.stderr)
            return 2
        result = clean(raw_paths, out_dir=out_dir, progress=progress)
    except (FileNotFoundError, DiscoveryError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except PermissionError as exc:
        print(f"error: cannot write to {out_dir}: {exc.strerror}; choose another --out folder",
              file=sys.stderr)
        return 2
    except ConservationError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 3
    s = result.summary()
    print(f"files: {s['files']} ({s['unreadable_files']} unreadable)   records: {s['records']}   "
          f"clean: {s['clean']}   quarantined: {s['quarantined']}   roster: {s['roster_rows']}",
          file=stream)
    print(f"cells: {s['cells_nonempty']} non-empty = {s['cells_structure']} structure + "
          f"{s['cells_data']} data + {s['cells_unplaced']} unplaced (sheets.csv)", file=stream)
    for rule, n in s["quarantined_by_rule"].items():
        print(f"  {rule:<28} {n}", file=stream)
    print(f"outputs in {out_dir}", file=stream)
    return 0
