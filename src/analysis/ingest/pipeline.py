"""The cleaning pipeline: raw submissions → one tidy, audited long panel.

:func:`clean` is the second half of the ingest step.  For every file found under the given
paths it reads the sheets and extracts one record per data cell (``read``/``layout``), then

1. classifies each record's column: a catalog indicator, a reported rate, a remark (备注) or an
   unknown column (set aside, counted per file);
2. reads the period (period column, else title / 截至 line / file name) and the county
   (``reference.resolve_counties`` with the prefecture hint, as of the period) and maps the county
   to the 2008 comparison base (``reference.to_base``);
3. parses each value into the catalog unit (``values.parse_value``);
4. applies the per-cell rules of :mod:`analysis.ingest.validate`;
5. resolves repeats of one (county, period, indicator): identical copies are merged (one kept,
   the others counted and audited), different copies are all quarantined (``duplicate_conflict``);
6. applies the cross-field rules and compares reported rates with their counts;
7. builds the outputs and checks **row conservation**: for every file, data cells in = clean +
   quarantined + merged + set aside.

The roster workbook (驻点干部名册) becomes a roster table in which each cadre's name is replaced by
a stable pseudonymous id, HMAC-SHA256 of the name keyed with a secret salt (see :func:`load_salt`);
names never leave :mod:`~analysis.ingest.roster`.

This module holds the public entry points (:func:`discover_files`, :func:`clean_records`,
:func:`clean`); the steps live in modules of their own and their names are re-exported here:
:mod:`~analysis.ingest.scan` (files → records, the worker pool), :mod:`~analysis.ingest.prepare`
(steps 1–4 per record), :mod:`~analysis.ingest.settle` (steps 5–7 over all records),
:mod:`~analysis.ingest.roster` (the roster and its pseudonyms) and :mod:`~analysis.ingest.result`
(the output column lists and :class:`CleanResult`).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

import pandas as pd

from analysis.catalog import load_catalog
from analysis.ingest.census import CENSUS_COLUMNS
from analysis.ingest.prepare import (  # noqa: F401 - REMARK_HEADERS re-exported
    REMARK_HEADERS,
    Resolver,
    _default_resolver,
    _default_to_base,
    _prepare,
    _Prepared,
)
from analysis.ingest.result import (  # noqa: F401 - the public column lists live there
    AUDIT_COLUMNS,
    FILE_COLUMNS,
    INDICATOR_COLUMNS,
    QUALITY_COLUMNS,
    QUARANTINE_COLUMNS,
    RECORD_COLUMNS,
    ROSTER_COLUMNS,
    SHEET_COLUMNS,
    CleanResult,
    ConservationError,
)
from analysis.ingest.roster import (  # noqa: F401 - re-exported: part of this module's API
    ROSTER_MARKERS,
    SALT_ENV,
    SALT_FILE_NAME,
    _finish_roster,
    load_salt,
    pseudonym,
    roster_from_table,
)
from analysis.ingest.scan import (  # noqa: F401 - the pool's limits re-exported
    BATCHES_PER_WORKER,
    MAX_WORKERS,
    POOL_MIN_FILES,
    _finish_file,
    _pool_size,
    _records_frame,
    _scan_files,
)
from analysis.ingest.settle import _join_prepared, _settle

__all__ = [
    "SUPPORTED_SUFFIXES",
    "INDICATOR_COLUMNS",
    "QUARANTINE_COLUMNS",
    "AUDIT_COLUMNS",
    "QUALITY_COLUMNS",
    "FILE_COLUMNS",
    "ROSTER_COLUMNS",
    "RECORD_COLUMNS",
    "CleanResult",
    "ConservationError",
    "discover_files",
    "load_salt",
    "pseudonym",
    "clean_records",
    "roster_from_table",
    "clean",
]


SUPPORTED_SUFFIXES = (".xlsx", ".xlsm", ".xls", ".ods", ".csv", ".tsv", ".txt", ".htm", ".html")
"""File types read by :func:`clean`; anything else under the raw folders is ignored (and listed)."""


# --------------------------------------------------------------------------------------------
# files
# --------------------------------------------------------------------------------------------
def discover_files(raw_paths: Iterable[str | os.PathLike]) -> list[tuple[Path, str]]:
    """Every submission under the given files and folders, walked recursively.

    Symbolic links to folders are followed, but a folder already visited (by device and inode) is
    not entered again, so link loops end.  Hidden files, Office lock files (``~$…``) and files
    with other suffixes than :data:`SUPPORTED_SUFFIXES` are skipped.

    Parameters
    ----------
    raw_paths : iterable of path-like
        Files or folders.

    Returns
    -------
    list of (Path, str)
        The file and its name relative to the folder it was found under (POSIX form; the file
        name alone for a file given directly; the full path when two given folders hold the same
        relative name), sorted by that name, without repeats.

    Raises
    ------
    FileNotFoundError
        A given path does not exist (the message names it).
    """
    found: dict[tuple[int, int], tuple[Path, str]] = {}
    for given in raw_paths:
        root = Path(given)
        if not root.exists():
            raise FileNotFoundError(f"raw path {root} does not exist; pass a folder or file of "
                                    "submissions")
        if root.is_file():
            _add_file(found, root, root.name)
            continue
        seen_dirs: set[tuple[int, int]] = set()
        for dirpath, dirnames, filenames in os.walk(root, followlinks=True):
            st = os.stat(dirpath)
            if (st.st_dev, st.st_ino) in seen_dirs:
                dirnames[:] = []
                continue
            seen_dirs.add((st.st_dev, st.st_ino))
            dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
            for name in sorted(filenames):
                path = Path(dirpath) / name
                _add_file(found, path, path.relative_to(root).as_posix())
    items = sorted(found.values(), key=lambda item: item[1])
    names = [rel for _, rel in items]
    if len(set(names)) < len(names):
        # the same relative name under two given folders: name files by their full path so
        # that record ids stay unique and every file can still be found
        items = sorted(((p, p.resolve().as_posix()) for p, _ in items), key=lambda i: i[1])
    return items


def _add_file(found: dict, path: Path, rel: str) -> None:
    name = path.name
    if name.startswith((".", "~$")) or path.suffix.lower() not in SUPPORTED_SUFFIXES:
        return
    try:
        st = path.stat()
    except OSError:  # a dangling link: nothing to read
        return
    found.setdefault((st.st_dev, st.st_ino), (path, rel))


def _check_census(rows: list[dict]) -> pd.DataFrame:
    """The census table (one row per sheet), after checking that for every sheet read
    ``cells_nonempty = cells_structure + cells_data + cells_unplaced`` (the left side counted
    from the grid, the right from the roles; records are data cells by construction).

    Raises
    ------
    ConservationError
        Naming the sheets (a bug, never a data problem).
    """
    sheets = pd.DataFrame(rows, columns=SHEET_COLUMNS)
    for c in SHEET_COLUMNS[4:]:
        sheets[c] = sheets[c].fillna(0).astype(int)
    read = sheets[sheets["status"] == "ok"]
    broken = read[read["cells_nonempty"] != read["cells_structure"] + read["cells_data"]
                  + read["cells_unplaced"]]
    problems = [
        f"{f}, sheet {s}: {n} non-empty cells but {st} structure + {d} data + {u} unplaced"
        for f, s, n, st, d, u in broken[["source_file", "sheet", "cells_nonempty",
                                         "cells_structure", "cells_data",
                                         "cells_unplaced"]].itertuples(index=False)]
    if problems:
        raise ConservationError("cell census broken (a bug): " + "; ".join(problems[:20]))
    return sheets.sort_values(["source_file", "sheet"], kind="stable", ignore_index=True)


def clean_records(records: pd.DataFrame, *, structure: pd.DataFrame | None = None,
                  resolver: Resolver | None = None,
                  to_base: Callable[[Sequence[str]], pd.Series] | None = None,
                  catalog: pd.DataFrame | None = None) -> CleanResult:
    """Clean extracted records (one per data cell) into the tidy panel and its side tables.

    Parameters
    ----------
    records : pandas.DataFrame
        As ``layout.extract_records`` returns them, stacked over files: :data:`RECORD_COLUMNS`,
        optionally ``note`` (a remark attached to the cell's row), ``source_path`` (the file on
        disk, for reading the period from its name), ``layout`` and ``sheet_hidden``.
    structure : pandas.DataFrame, optional
        Rows dropped as structure, with ``source_file`` (counted per file).
    resolver : callable, optional
        ``resolver(texts, prefecture=..., as_of="2013H1") -> DataFrame(code, error)``, one row
        per text; default ``analysis.reference.resolve_counties``.
    to_base : callable, optional
        Codes → Series of 2008 base codes; default ``analysis.reference.to_base``.
    catalog : pandas.DataFrame, optional
        Indicator catalog override.

    Returns
    -------
    CleanResult
        ``files`` holds the per-file counts of these records only (no file-level columns).

    Raises
    ------
    ConservationError
        If, for some file, records in ≠ clean + quarantined + merged + set aside.
    """
    cat = load_catalog() if catalog is None else catalog
    prepared = _prepare(records, cat, resolver or _default_resolver)
    return _settle(prepared, structure=structure, to_base=to_base or _default_to_base, cat=cat)


def clean(raw_paths: Sequence[str | os.PathLike], out_dir: str | os.PathLike | None = None,
          progress: bool = True, *, resolver: Resolver | None = None,
          to_base: Callable[[Sequence[str]], pd.Series] | None = None,
          salt: bytes | None = None, workers: int | None = None) -> CleanResult:
    """Clean every submission under ``raw_paths`` into one tidy, audited panel.

    Parameters
    ----------
    raw_paths : sequence of path-like
        Files and folders (walked recursively, see :func:`discover_files`).
    out_dir : path-like, optional
        When given, every output is written there (:func:`analysis.ingest.outputs.write_outputs`)
        and the pseudonym salt defaults to ``out_dir/.salt``.
    progress : bool
        Show a tqdm progress bar over files (only when there are more than 20 files).
    resolver, to_base : callable, optional
        County resolver and base mapper (default: ``analysis.reference``).
    salt : bytes, optional
        Pseudonym key; default :func:`load_salt` (``$RESIDENCY_SALT`` or a salt file).
    workers : int, optional
        Processes that read files, find their layouts and — with the default resolver —
        prepare their records (steps 1–4); the repeats, cross-field rules and outputs are
        settled in this process.  Default: one per CPU (at most :data:`MAX_WORKERS`) when there
        are at least :data:`POOL_MIN_FILES` files, else 1 (in this process).  Results are the
        same for any number: files are read independently and joined in the order of
        :func:`discover_files`.

    Returns
    -------
    CleanResult
        indicators, quarantine, audit, quality, files, roster, structure.

    Raises
    ------
    FileNotFoundError
        A raw path does not exist.
    ConservationError
        Records were lost between input and outputs (a bug, never a data problem).
    """
    found = discover_files(raw_paths)
    salt_holder: dict[str, bytes] = {}

    def salt_getter() -> bytes:
        if "salt" not in salt_holder:
            salt_holder["salt"] = salt if salt is not None else load_salt(
                Path(out_dir) / SALT_FILE_NAME if out_dir is not None else None)
        return salt_holder["salt"]

    infos, structure, roster, census = [], [], [], []
    cpu = time.process_time()
    timings: dict[str, float] = {}

    def lap(name: str) -> None:
        nonlocal cpu
        now = time.process_time()
        timings[name] = timings.get(name, 0.0) + now - cpu
        cpu = now

    # steps 1–4 run in the workers with the default resolver; a custom one (a test double,
    # another code book) stays in this process, where it was given
    in_workers = resolver is None and _pool_size(len(found), workers) > 1
    scans: list[dict] = []
    parts: list[_Prepared] = []
    for batch, prepared in _scan_files(found, workers, progress, in_workers):
        scans += batch
        if prepared is not None:
            parts.append(prepared)
    if _pool_size(len(found), workers) > 1:
        # CPU of this phase is spent in the workers; this process only waited and unpickled
        lap("pool_wait")
        timings["read_layout_extract"] = sum(scan["cpu"] for scan in scans)
        if parts:
            timings["prepare"] = sum(part.cpu for part in parts)
    for scan in scans:
        info, tables = _finish_file(scan, salt_getter)
        infos.append(info)
        roster += tables
        structure += scan["structure"]
        census += scan["census"]
    lap("read_layout_extract")
    from analysis.ingest.layout import STRUCTURE_COLUMNS

    all_structure = (pd.DataFrame(structure, columns=STRUCTURE_COLUMNS) if structure
                     else pd.DataFrame(columns=["source_file"]))
    cat = load_catalog()
    if not parts:
        all_records = _records_frame(scans)
        del scans
        lap("concat")
        parts = [_prepare(all_records, cat, resolver or _default_resolver)]
        lap("prepare")
    else:
        del scans
    result = _settle(_join_prepared(parts), structure=all_structure,
                     to_base=to_base or _default_to_base, cat=cat)
    lap("settle")
    info = pd.DataFrame(infos, columns=["source_file", "status", "error", "sheets",
                                        "hidden_sheets", "layouts", "roster_rows",
                                        *CENSUS_COLUMNS, "cells_hidden"])
    files = info.merge(result.files, on="source_file", how="left")
    for c in ("records_in", "clean", "quarantined", "merged", "set_aside"):
        files[c] = files[c].fillna(0).astype(int)
    # counted over every file: one whose rows were all structure has no records to count them
    files["structure_rows"] = files["source_file"].map(
        all_structure.groupby("source_file").size()).fillna(0).astype(int)
    files["unknown_columns"] = files["unknown_columns"].astype(object).fillna("")
    result.files = files[FILE_COLUMNS].sort_values("source_file", ignore_index=True)
    result.sheets = _check_census(census)
    result.roster = _finish_roster(roster, resolver or _default_resolver,
                                   to_base or _default_to_base)
    lap("files_and_roster")
    if out_dir is not None:
        from analysis.ingest.outputs import write_outputs

        write_outputs(result, out_dir)
        lap("write_outputs")
    result.timings = timings
    return result
