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

import contextlib
import os
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from analysis.catalog import load_catalog
from analysis.ingest.census import CENSUS_COLUMNS
from analysis.ingest.errors import DiscoveryError, UnreadableFileError
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
    OUTPUT_MARKER,
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
    "MAX_DEPTH",
    "MAX_ENTRIES",
    "Discovery",
    "discover",
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
MAX_DEPTH = 32
"""Folder levels searched below each given folder (``$RESIDENCY_MAX_DEPTH`` overrides).  A
delivery is two to four levels deep (half-year / prefecture / county); a folder deeper than
this is not entered and is listed in ``files.csv`` as refused (rule ``too_deep``)."""

MAX_ENTRIES = 100_000
"""Files and folders looked at under the given paths (``$RESIDENCY_MAX_ENTRIES`` overrides)
before discovery gives up and refuses the whole run (:class:`DiscoveryError`): the demo has
about 400, ten deliveries about 4,000; a count far above that means a wrong folder (a home
folder, a disk root), which would otherwise be walked for hours."""

_OUTPUT_NAMES = ("quarantine.csv", "audit.csv", "files.csv")
"""Outputs of :func:`clean` that, all present in one folder, mark it as an output folder of an
earlier run that wrote no :data:`OUTPUT_MARKER` (written since issue 17)."""


@dataclass
class Discovery:
    """What :func:`discover` found under the given paths.

    Attributes
    ----------
    files : list of (Path, str)
        Every submission to read and its name relative to the folder it was found under, as
        :func:`discover_files` returns them.  Named pipes, devices and dangling symbolic links
        with a submission's suffix are among them: the reader refuses each with a located
        reason (rule ``not_a_file``), so that they are listed in ``files.csv``.
    refused : list of (str, str)
        Folders not searched, each with its relative name and the message for ``files.csv``
        (``"<name>: … (rule: too_deep)"``, or ``unreadable`` for a folder that cannot be listed).
    skipped : list of str
        Output folders of this program found among the inputs (the ``out_dir`` of the run, or a
        folder holding :data:`OUTPUT_MARKER` or all of ``quarantine.csv``, ``audit.csv`` and
        ``files.csv``): not read, so that a run never reads its own outputs back as submissions.
    """

    files: list[tuple[Path, str]] = field(default_factory=list)
    refused: list[tuple[str, str]] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


def _limit(env: str, default: int) -> int:
    text = os.environ.get(env, "").strip()
    if not text:
        return default
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value <= 0:
        raise ValueError(f"environment variable {env}={text!r} must be a positive whole number")
    return value


def discover(raw_paths: Iterable[str | os.PathLike], *, exclude: Iterable[str | os.PathLike] = (),
             max_depth: int | None = None, max_entries: int | None = None) -> Discovery:
    """Every submission under the given files and folders, walked without recursion and within
    limits.

    Folders are walked depth first in name order with an explicit stack (``os.walk`` recursed
    and raised ``RecursionError`` at about 1,000 levels).  Symbolic links to folders are
    followed, but a folder already visited (by device and inode) is not entered again, so link
    loops end.  Hidden files and folders, Office lock files (``~$…``) and files with other
    suffixes than :data:`SUPPORTED_SUFFIXES` are skipped.

    Parameters
    ----------
    raw_paths : iterable of path-like
        Files or folders.
    exclude : iterable of path-like
        Folders never read (the run's own output folder); missing ones are ignored.
    max_depth : int, optional
        Folder levels searched below each given folder; default :data:`MAX_DEPTH`.
    max_entries : int, optional
        Files and folders looked at in all; default :data:`MAX_ENTRIES`.

    Returns
    -------
    Discovery
        The files, the folders refused and the output folders skipped.

    Raises
    ------
    FileNotFoundError
        A given path does not exist (the message names it).
    DiscoveryError
        More than ``max_entries`` files and folders (rule ``too_many_files``).
    """
    depth_limit = max_depth if max_depth is not None else _limit("RESIDENCY_MAX_DEPTH", MAX_DEPTH)
    entry_limit = (max_entries if max_entries is not None
                   else _limit("RESIDENCY_MAX_ENTRIES", MAX_ENTRIES))
    excluded = set()
    for path in exclude:
        with contextlib.suppress(OSError):
            st = os.stat(path)
            excluded.add((st.st_dev, st.st_ino))
    out = Discovery()
    found: dict[tuple, tuple[Path, str]] = {}
    looked_at = 0
    for given in raw_paths:
        root = Path(given)
        if not root.exists() and not root.is_symlink():
            raise FileNotFoundError(f"raw path {root} does not exist; pass a folder or file of "
                                    "submissions")
        if not root.is_dir():
            _add_file(found, root, root.name)  # a file, pipe or dangling link given by name
            continue
        seen_dirs: set[tuple[int, int]] = set()
        stack = [(root, 0)]
        while stack:
            folder, depth = stack.pop()
            rel = folder.relative_to(root).as_posix()
            try:
                st = os.stat(folder)
            except OSError as exc:
                out.refused.append((rel, _folder_refusal(folder, f"cannot be opened: "
                                                         f"{exc.strerror or exc}", "unreadable")))
                continue
            if (st.st_dev, st.st_ino) in seen_dirs:
                continue
            seen_dirs.add((st.st_dev, st.st_ino))
            if (st.st_dev, st.st_ino) in excluded or _holds_outputs(folder):
                out.skipped.append(str(folder))
                continue
            if depth > depth_limit:
                out.refused.append((rel, _folder_refusal(
                    folder, f"is a folder {depth} levels below {root.name or root}, deeper than "
                            f"the limit {depth_limit} ($RESIDENCY_MAX_DEPTH) — not searched; "
                            "请把报送文件移到层级较浅的文件夹后重新运行", "too_deep")))
                continue
            try:
                with os.scandir(folder) as listing:
                    entries = sorted(listing, key=lambda e: e.name)
            except OSError as exc:
                out.refused.append((rel, _folder_refusal(folder, f"cannot be opened: "
                                                         f"{exc.strerror or exc}", "unreadable")))
                continue
            looked_at += len(entries)
            if looked_at > entry_limit:
                raise DiscoveryError(
                    f"holds more than {entry_limit:,} files and folders (limit "
                    "$RESIDENCY_MAX_ENTRIES) — refused before reading anything; is this the "
                    "folder of submissions?", file=root, rule="too_many_files")
            subfolders = []
            for entry in entries:
                if _is_folder(entry):
                    if not entry.name.startswith("."):
                        subfolders.append(Path(entry.path))
                else:
                    path = Path(entry.path)
                    _add_file(found, path, path.relative_to(root).as_posix())
            stack.extend((sub, depth + 1) for sub in reversed(subfolders))
    items = sorted(found.values(), key=lambda item: item[1])
    names = [rel for _, rel in items]
    if len(set(names)) < len(names):
        # the same relative name under two given folders: name files by their full path so
        # that record ids stay unique and every file can still be found
        items = sorted(((p, _full_name(p)) for p, _ in items), key=lambda i: i[1])
    out.files = items
    return out


def discover_files(raw_paths: Iterable[str | os.PathLike]) -> list[tuple[Path, str]]:
    """Every submission under the given files and folders: ``discover(raw_paths).files``.

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
    DiscoveryError
        Too many files and folders (see :func:`discover`).
    """
    return discover(raw_paths).files


def _folder_refusal(folder: Path, message: str, rule: str) -> str:
    return str(UnreadableFileError(message, file=folder, rule=rule))


def _is_folder(entry: os.DirEntry) -> bool:
    try:
        return entry.is_dir()  # follows symbolic links, as os.walk(followlinks=True) did
    except OSError:
        return False  # cannot tell (a link loop): left to the reader, which says why


def _holds_outputs(folder: Path) -> bool:
    """Whether ``folder`` is an output folder of :func:`clean` (see :class:`Discovery`)."""
    try:
        return ((folder / OUTPUT_MARKER).exists()
                or all((folder / name).is_file() for name in _OUTPUT_NAMES))
    except OSError:  # cannot look inside (no permission): listing it will say so
        return False


def _full_name(path: Path) -> str:
    try:
        return path.resolve().as_posix()
    except OSError:  # a link loop
        return path.absolute().as_posix()


def _add_file(found: dict, path: Path, rel: str) -> None:
    name = path.name
    if name.startswith((".", "~$")) or path.suffix.lower() not in SUPPORTED_SUFFIXES:
        return
    try:
        st = path.stat()
        key: tuple = (st.st_dev, st.st_ino)
    except OSError:
        # a dangling link, a link loop, a name too long: listed all the same, and the reader
        # says what is wrong with it (before, such files were skipped without a word)
        try:
            st = path.lstat()
            key = ("link", st.st_dev, st.st_ino)
        except OSError:
            key = ("path", str(path))
    found.setdefault(key, (path, rel))


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
    result = _settle(prepared, structure=structure, to_base=to_base or _default_to_base, cat=cat)
    _audit_derived(result, cat)
    return result


def _audit_derived(result: CleanResult, cat: pd.DataFrame) -> None:
    """Add to ``result.audit`` a row for each derived indicator outside its catalog range.

    ``panel.parquet`` holds those values as missing (``outputs.build_panel`` derives them with
    the same range check); the audit row names the indicator, county and period, the computed
    value and the cells it came from, so the clerk can find the number that is wrong.  Nothing
    else changes: these are not records, so row conservation is untouched.
    """
    # derive lives a floor above the ingest (analysis.indicators), as for outputs.build_panel
    from analysis.indicators import derive
    from analysis.ingest.validate import check_derived

    values = result.indicators
    if values.empty:
        return
    derived = derive(values[["county_code", "period", "indicator", "value"]], catalog=cat)
    failures = check_derived(derived, values, cat)
    if failures.empty:
        return
    rows = pd.DataFrame({
        "record_id": failures["record_id"], "source_file": failures["file"],
        "source_sheet": failures["sheet"], "source_cell": failures["cell"],
        "county_code": failures["county_code"], "period": failures["period"],
        "indicator": failures["indicator"], "stage": "derived", "rule": failures["rule"],
        "action": failures["action"], "before": failures["raw_value"], "after": "",
        "note": failures["message"]}, columns=AUDIT_COLUMNS)
    result.audit = pd.concat([result.audit, rows], ignore_index=True).sort_values(
        ["source_file", "source_sheet", "record_id", "stage", "rule"], kind="stable",
        ignore_index=True)


def clean(raw_paths: Sequence[str | os.PathLike], out_dir: str | os.PathLike | None = None,
          progress: bool = True, *, resolver: Resolver | None = None,
          to_base: Callable[[Sequence[str]], pd.Series] | None = None,
          salt: bytes | None = None, workers: int | None = None) -> CleanResult:
    """Clean every submission under ``raw_paths`` into one tidy, audited panel.

    Parameters
    ----------
    raw_paths : sequence of path-like
        Files and folders (walked, see :func:`discover`; folders it does not search are listed
        in ``files`` as unreadable, output folders of this program are not read).
    out_dir : path-like, optional
        When given, every output is written there (:func:`analysis.ingest.outputs.write_outputs`)
        and the pseudonym salt defaults to ``out_dir/.salt``; never read as input, also when
        it lies inside a raw folder.
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
    DiscoveryError
        More files and folders under the raw paths than :data:`MAX_ENTRIES`.
    ConservationError
        Records were lost between input and outputs (a bug, never a data problem).
    """
    discovery = discover(raw_paths, exclude=[out_dir] if out_dir is not None else [])
    found = discovery.files
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
    _audit_derived(result, cat)
    lap("settle")
    # folders discovery did not search (too deep, cannot be listed): listed as unreadable, so
    # that nothing under them vanishes without a word
    infos += [{"source_file": rel, "status": "unreadable", "error": message, "sheets": 0,
               "hidden_sheets": "", "layouts": "", "roster_rows": 0}
              for rel, message in discovery.refused]
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
