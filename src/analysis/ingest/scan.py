"""Files → records: read each file, find its sheets' layouts, extract one record per data cell.

Per-file scanning and the pool of worker processes that runs it.  Kept apart from the cleaning
rules because it is about where the work runs, not what it decides: worker processes are forked
and call the module-level functions here (:func:`_scan_batch`, :func:`_scan_only`), which send
back plain Python values and prepared parts (:mod:`~analysis.ingest.prepare`).
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import pandas as pd

from analysis.catalog import load_catalog
from analysis.ingest.cells import _present
from analysis.ingest.errors import IngestError
from analysis.ingest.prepare import _default_resolver, _official_names, _prepare, _Prepared
from analysis.ingest.result import RECORD_COLUMNS
from analysis.ingest.roster import is_roster_sheet, roster_from_table


def _sheet_grid(cells) -> pd.DataFrame:
    """The cells of a ``read.Sheet`` as a DataFrame grid (row/column 0 = cell A1)."""
    return pd.DataFrame(list(cells), dtype=object)


def _scan_file(path: Path, rel: str) -> dict:
    """Read one file into plain lists: records (one list per column), structure rows, roster
    sheets, the cell census of every sheet and what went wrong, sheet by sheet.

    Hidden sheets are listed (with their count of non-empty cells) but not read: in practice they
    hold earlier drafts whose numbers were superseded by the visible sheet, and reading them
    would create false duplicates.

    Everything returned is plain Python (lists, tuples, str), so a worker process can send it
    back cheaply; rosters are pseudonymised by the caller (:func:`_finish_file`), which holds
    the salt.
    """
    from analysis.ingest.census import (cell_place, census_counts, count_nonempty,
                                        nonempty_places, sheet_census, unplaced_records)
    from analysis.ingest.layout import _empty as _blank
    from analysis.ingest.layout import RECORD_COLUMNS as LAYOUT_COLUMNS
    from analysis.ingest.layout import SOURCE_COL, _extract_columns, detect_layouts
    from analysis.ingest.read import read_any

    cpu = time.process_time()
    scan = {"source_file": rel, "path": str(path), "unreadable": "", "sheets": 0, "hidden": [],
            "layouts": [], "problems": [], "extracted": 0, "roster": [], "structure": [],
            "census": [],
            "records": {c: [] for c in LAYOUT_COLUMNS + _EXTRA_RECORD_COLUMNS}}
    try:
        sheets = read_any(path)
    except IngestError as exc:
        scan["unreadable"] = str(exc).replace(str(path), rel)
        scan["cpu"] = time.process_time() - cpu
        return scan
    scan["sheets"] = len(sheets)
    cols = scan["records"]

    def add(got: dict[str, list], sheet, remark_col: int | None) -> None:
        n = len(got["source_row"])
        for c, values in got.items():
            if c not in ("source_file", "record_id", SOURCE_COL):
                cols[c] += values
        cols["source_file"] += [rel] * n
        # the layout's record_id names the county row; the pipeline needs one id per cell
        cols["record_id"] += [f"{rel}!{sheet.name}!{cell}" for cell in got["source_cell"]]
        cols["source_path"] += [str(path)] * n
        cols["note"] += ([sheet.cell(r - 1, remark_col) for r in got["source_row"]]
                         if remark_col is not None else [None] * n)
        formulas = sheet.formulas
        if formulas:
            found = [formulas.get(cell_place(cell)) for cell in got["source_cell"]]
            cols["formula"] += [f.text if f is not None else None for f in found]
            cols["formula_note"] += [f.reason if f is not None else None for f in found]
        else:
            cols["formula"] += [None] * n
            cols["formula_note"] += [None] * n

    for i, sheet in enumerate(sheets):
        name = str(sheet.name)
        if sheet.hidden:
            scan["hidden"].append(name)
            scan["census"].append(_census_row(rel, name, "hidden", "", None,
                                              count_nonempty(sheet)))
            continue
        try:
            if is_roster_sheet(path, name, sheet.cells):
                # (sheet order, name, cells): pseudonyms need the salt, read in the caller
                scan["roster"].append((i, name, sheet.cells))
                places = nonempty_places(sheet)
                counts = census_counts({k: "roster" for k in places}, len(places))
                scan["census"].append(_census_row(rel, name, "ok", "roster", counts, len(places)))
                continue
            layouts = detect_layouts(sheet)
            kinds = [str(layout.kind) for layout in layouts]
            sheet_note = ""
            placed = 0
            taken: set[tuple[int, int]] = set()
            for layout in layouts:
                if layout.kind == "unknown":
                    continue
                got, struct = _extract_columns(sheet, layout, str(path))
                remark = layout.column("remark")
                add(got, sheet, remark.col if remark is not None else None)
                scan["structure"] += [(rel,) + row[1:] for row in struct]
                taken |= {(r - 1, c) for r, c, v in zip(got["source_row"], got[SOURCE_COL],
                                                        got["raw_value"]) if not _blank(v)}
                placed += 1
            roles, nonempty = sheet_census(sheet, layouts, taken)
            if not placed:
                numbers = sum(1 for (r, c), role in roles.items() if role == "unplaced"
                              and _is_number(sheet.cells[r][c]))
                notes = "; ".join(n for layout in layouts for n in layout.notes)
                if any(roles.values()):
                    scan["problems"].append((i, (
                        f"sheet {name}: layout not recognised: no header row naming catalog "
                        f"indicators, no 指标/数值 form ({notes}); {numbers} numeric cell(s) "
                        "quarantined as cell_unplaced — 请使用统一模板，或在 indicators.csv 中补充表头"
                        "同义词 (rule: layout_unknown)")))
                sheet_note = "本工作表的版式无法识别"
            unplaced = unplaced_records(sheet, roles, rel, sheet_note)
            if unplaced["source_row"]:
                add(unplaced, sheet, None)
            if placed:
                scan["extracted"] += 1
                scan["layouts"] += [k for k in kinds if k != "unknown"]
            counts = census_counts(roles, nonempty)
            scan["census"].append(_census_row(rel, name, "ok", "|".join(kinds), counts, nonempty))
        except IngestError as exc:
            scan["problems"].append((i, f"sheet {name}: {exc.message} (rule: {exc.rule})"))
            continue
    scan["cpu"] = time.process_time() - cpu
    return scan


_EXTRA_RECORD_COLUMNS = ["source_path", "note", "formula", "formula_note"]
"""Record columns the scan adds to the layout step's: the file on disk, the row's remark, and
for a formula saved without its result, its text and (when it could not be evaluated) why."""

def _is_number(v) -> bool:
    from analysis.ingest.layout import _number

    return _number(v) is not None


def _census_row(rel: str, sheet: str, status: str, layouts: str, counts: dict | None,
                nonempty: int) -> dict:
    from analysis.ingest.census import CENSUS_COLUMNS, ROLES

    row = {"source_file": rel, "sheet": sheet, "status": status, "layouts": layouts}
    if counts is None:  # a hidden sheet: counted, not read
        counts = {c: 0 for c in CENSUS_COLUMNS} | {f"role_{r}": 0 for r in ROLES}
        counts["cells_nonempty"] = 0
        row["cells_hidden"] = nonempty
    else:
        row["cells_hidden"] = 0
    row.update(counts)
    return row


MAX_WORKERS = 8
POOL_MIN_FILES = 40  # below this, starting processes costs more than it saves


def _pool_size(n_files: int, workers: int | None) -> int:
    if workers is not None:
        if int(workers) < 1:
            raise ValueError(f"clean: workers={workers!r}; use 1 (no pool) or more processes")
        return min(int(workers), max(n_files, 1))
    if n_files < POOL_MIN_FILES:
        return 1
    return max(1, min(os.cpu_count() or 1, MAX_WORKERS, n_files // 10))


def _scan_batch(batch: list[tuple[Path, str]]) -> tuple[list[dict], _Prepared | None]:
    """Worker task: scan consecutive files and prepare their records (steps 1–4) in one go.

    The records travel back as one prepared frame instead of per-file lists; the scans keep
    everything else (sheets, layouts, problems, roster cells, structure rows).
    """
    scans = [_scan_file(path, rel) for path, rel in batch]
    cpu = time.process_time()
    prepared = _prepare(_records_frame(scans), load_catalog(), _default_resolver)
    prepared.cpu = time.process_time() - cpu
    for scan in scans:
        scan["records"] = None
    return scans, prepared


def _batches(found: list[tuple[Path, str]], n: int) -> list[list[tuple[Path, str]]]:
    """``n`` runs of consecutive files with about equal bytes (file order is kept, so the
    joined result is the same as one pass over all files)."""
    sizes = []
    for path, _rel in found:
        try:
            sizes.append(max(path.stat().st_size, 1))
        except OSError:
            sizes.append(1)
    total = float(sum(sizes))
    out: list[list[tuple[Path, str]]] = [[] for _ in range(n)]
    done = 0
    for item, size in zip(found, sizes):
        # the run whose byte range holds this file's midpoint
        k = min(n - 1, int((done + size / 2) / total * n))
        out[k].append(item)
        done += size
    return [b for b in out if b]


BATCHES_PER_WORKER = 2  # a few runs per worker balance the load; each run costs one prepare


def _warm_shared_caches() -> None:
    """Load, before the workers fork, what every worker would otherwise load for itself: the
    catalog and its header index, the reference tables and the official county names of each
    code book, and the readers' modules (measured: ~50 ms per worker)."""
    from analysis.catalog import header_index
    from analysis.reference import STUDY_VINTAGES, _ref

    header_index()
    load_catalog()
    _ref()
    for year in STUDY_VINTAGES:
        _official_names(str(year))
    import python_calamine  # noqa: F401 - imported by the readers on first use
    import xlrd  # noqa: F401


def _scan_files(found: list[tuple[Path, str]], workers: int | None, progress: bool,
                prepare_in_workers: bool):
    """Scan every file, in order, in batches; yields ``(scans, prepared or None)``.

    In one process each file is its own batch and nothing is prepared (the caller prepares all
    records at once).  With a pool, worker processes scan runs of consecutive files and, when
    ``prepare_in_workers``, also prepare their records (:func:`_scan_batch`).  Workers are
    forked where the platform allows it, so they share the parent's loaded catalog and caches
    instead of importing pandas again (measured: spawn start-up cost more CPU than the demo's
    whole layout detection).
    """
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    bar = None
    if progress and len(found) > 20:
        from tqdm import tqdm

        bar = tqdm(total=len(found), desc="clean", unit="file", file=sys.stderr)
    n = _pool_size(len(found), workers)
    try:
        if n == 1:
            for path, rel in found:
                yield [_scan_file(path, rel)], None
                if bar is not None:
                    bar.update()
            return
        _warm_shared_caches()
        methods = multiprocessing.get_all_start_methods()
        ctx = multiprocessing.get_context("fork" if "fork" in methods else None)
        batches = _batches(found, n * BATCHES_PER_WORKER)
        task = _scan_batch if prepare_in_workers else _scan_only
        with ProcessPoolExecutor(max_workers=n, mp_context=ctx) as pool:
            for scans, prepared in pool.map(task, batches):
                yield scans, prepared
                if bar is not None:
                    bar.update(len(scans))
    finally:
        if bar is not None:
            bar.close()


def _scan_only(batch: list[tuple[Path, str]]) -> tuple[list[dict], None]:
    """Worker task without preparation (a custom resolver stays in the calling process)."""
    return [_scan_file(path, rel) for path, rel in batch], None


def _finish_file(scan: dict, salt_getter) -> tuple[dict, list[pd.DataFrame]]:
    """The file's summary row and its roster tables (pseudonymised with the salt)."""
    rel = scan["source_file"]
    from analysis.ingest.census import CENSUS_COLUMNS

    info = {"source_file": rel, "status": "ok", "error": "", "sheets": scan["sheets"],
            "hidden_sheets": "|".join(scan["hidden"]), "layouts": "", "roster_rows": 0}
    for c in CENSUS_COLUMNS + ["cells_hidden"]:
        info[c] = int(sum(row[c] for row in scan["census"]))
    if scan["unreadable"]:
        info.update(status="unreadable", error=scan["unreadable"], sheets=0)
        return info, []
    roster: list[pd.DataFrame] = []
    layouts = list(scan["layouts"])
    problems = list(scan["problems"])
    for i, name, cells in scan["roster"]:
        try:
            roster.append(roster_from_table(_sheet_grid(cells),
                                            salt=salt_getter(), source_file=rel,
                                            source_sheet=name))
            layouts.append("roster")
        except IngestError as exc:
            problems.append((i, f"sheet {name}: {exc.message} (rule: {exc.rule})"))
    info["roster_rows"] = int(sum(len(r) for r in roster))
    info["layouts"] = "|".join(sorted(set(layouts)))
    if problems:
        errors = [text for _, text in sorted(problems, key=lambda p: p[0])]
        info.update(status="partly_unreadable" if scan["extracted"] or roster else "unreadable",
                    error=" ; ".join(errors))
    return info, roster


def _records_frame(scans: list[dict]) -> pd.DataFrame:
    """One DataFrame of every file's records, built once from the stacked lists."""
    from analysis.ingest.layout import RECORD_COLUMNS as LAYOUT_COLUMNS

    names = LAYOUT_COLUMNS + _EXTRA_RECORD_COLUMNS
    stacked = {c: [v for scan in scans for v in scan["records"][c]] for c in names}
    if not stacked["record_id"]:
        return pd.DataFrame(columns=RECORD_COLUMNS)
    for c in ("note", "formula", "formula_note"):
        if all(v is None for v in stacked[c]):
            del stacked[c]  # as before: a note column only when some sheet has a 备注 column
    # object columns: cells mix text, numbers and dates, and names keep None (not NaN) when
    # empty, exactly as the per-sheet frames did
    frame = pd.DataFrame({c: pd.Series(v, dtype=object) for c, v in stacked.items()})
    frame["source_row"] = frame["source_row"].astype("int64")
    frame["sheet_hidden"] = frame["sheet_hidden"].astype(bool)
    return frame
