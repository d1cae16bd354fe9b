"""Faults: interrupted writes, raw data never modified, byte-identical re-runs.

The main job is run as the command line runs it (``python -m analysis clean``) on a subset of
the demo (the roster and 2013年上半年, the first half-year under the 2013 code book), twice, into
temporary folders; data/raw/ is hashed before and after.  Two interpreter starts and two runs
take 10–30 s on the shared 2-core machine, hence ``slow``.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest

from analysis.ingest import outputs
from analysis.ingest.outputs import OUTPUT_FILES
from analysis.ingest.pipeline import clean

ROOT = Path(__file__).resolve().parents[1]
RAW = ROOT / "data" / "raw"
DEMO = RAW / "demo"
BAD = ROOT / "tests" / "data" / "bad"
SUBSET = [DEMO / "驻点干部名册.xlsx", DEMO / "2013年上半年"]


def tree_state(folder: Path) -> dict[str, tuple[str, int, int]]:
    """Relative path → (sha256, size, mode) of every file, links not followed."""
    state = {}
    for dirpath, _, filenames in os.walk(folder):
        for name in filenames:
            p = Path(dirpath) / name
            st = p.lstat()
            digest = hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else "link"
            state[p.relative_to(folder).as_posix()] = (digest, st.st_size, st.st_mode)
    return state


def digests(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.iterdir()) if p.is_file() and not p.name.startswith(".")}


def run_clean_cli(out: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "RESIDENCY_SALT": "fault-test-salt", "PYTHONHASHSEED": "random"}
    return subprocess.run([sys.executable, "-m", "analysis", "clean", "--quiet", "--out", str(out),
                           *map(str, SUBSET)], cwd=ROOT, env=env, capture_output=True, text=True)


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory):
    """Hash data/raw/, run the main job twice into fresh folders, hash data/raw/ again."""
    assert all(p.exists() for p in SUBSET)
    before = tree_state(RAW)
    outs = [tmp_path_factory.mktemp(f"run{i}") for i in (1, 2)]
    procs = [run_clean_cli(out) for out in outs]
    after = tree_state(RAW)
    return before, after, outs, procs


@pytest.mark.slow
def test_main_job_completes(two_runs):
    _, _, outs, procs = two_runs
    for proc, out in zip(procs, outs):
        assert proc.returncode == 0, proc.stderr[-2000:]
        assert set(OUTPUT_FILES) <= set(digests(out))


@pytest.mark.slow
def test_raw_data_is_never_modified(two_runs):
    before, after, _, _ = two_runs
    assert len(before) > 300
    assert after == before  # same files, same bytes, same modes: nothing added or removed


@pytest.mark.slow
def test_two_runs_give_byte_identical_outputs(two_runs):
    _, _, (a, b), _ = two_runs
    da, db = digests(a), digests(b)
    assert da.keys() == db.keys()
    different = [name for name in da if da[name] != db[name]]
    assert not different, f"differ between runs: {different}"


# ---------------------------------------------------------------------------------------------
# interrupted writes
def _write_good_outputs(out: Path) -> dict[str, str]:
    clean([BAD / "good_summary.xlsx"], out_dir=out, progress=False, salt=b"s")
    return digests(out)


def _whole(out: Path) -> None:
    """Every output parses completely."""
    for name in OUTPUT_FILES:
        p = out / name
        if name.endswith(".parquet"):
            pq.read_table(p)
        else:
            pd.read_csv(p, encoding="utf-8-sig")


def test_a_crash_inside_a_writer_leaves_the_previous_file_whole(tmp_path, monkeypatch):
    """The Parquet writer dies after writing half the bytes: the old indicators.parquet stays."""
    old = _write_good_outputs(tmp_path)
    real = outputs.pq.write_table

    def half_then_crash(table, where, **kw):
        real(table, where, **kw)
        data = Path(where).read_bytes()
        Path(where).write_bytes(data[: len(data) // 2])
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(outputs.pq, "write_table", half_then_crash)
    with pytest.raises(OSError, match="No space"):
        clean([BAD / "unknown_county.xlsx"], out_dir=tmp_path, progress=False, salt=b"s")
    assert digests(tmp_path) == old  # every file byte-identical to the previous run
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
    _whole(tmp_path)


def test_an_interrupt_half_way_keeps_every_file_whole_and_a_rerun_completes(tmp_path, monkeypatch):
    """Ctrl-C while writing the fifth output: the first four are the new run's, the rest the old
    run's, each whole; a re-run then gives exactly what an uninterrupted run gives."""
    old = _write_good_outputs(tmp_path)
    real = outputs.write_csv
    calls = {"n": 0}

    def interrupted(frame, path, sort_by=None):
        calls["n"] += 1
        if Path(path).name == "audit.csv":
            raise KeyboardInterrupt
        return real(frame, path, sort_by)

    monkeypatch.setattr(outputs, "write_csv", interrupted)
    with pytest.raises(KeyboardInterrupt):
        clean([BAD / "unknown_county.xlsx"], out_dir=tmp_path, progress=False, salt=b"s")
    monkeypatch.setattr(outputs, "write_csv", real)
    half = digests(tmp_path)
    _whole(tmp_path)
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
    for name in ("audit.csv", "quality.csv", "files.csv"):
        assert half[name] == old[name]  # not reached: the previous output, untouched

    reference = tmp_path / "reference"
    clean([BAD / "unknown_county.xlsx"], out_dir=reference, progress=False, salt=b"s")
    clean([BAD / "unknown_county.xlsx"], out_dir=tmp_path, progress=False, salt=b"s")
    again = digests(tmp_path)
    again.pop("reference", None)
    assert again == digests(reference)
    assert again["quarantine.csv"] != old["quarantine.csv"]  # the new run really replaced it


def test_an_unwritable_output_folder_is_a_one_line_error_and_writes_nothing(tmp_path, capsys):
    if os.geteuid() == 0:
        pytest.skip("root ignores folder permissions")
    out = tmp_path / "ro"
    out.mkdir()
    out.chmod(0o500)
    try:
        code = outputs.run_clean_cli([BAD / "good_summary.xlsx"], out, progress=False)
    finally:
        out.chmod(0o700)
    assert code == 2
    assert "cannot write" in capsys.readouterr().err
    assert list(out.iterdir()) == []
