"""The bad-input corpus (tests/data/bad/): every case ends as clean data or as a located message
with quarantine — never a traceback, never a silent drop.

Expected outcomes are written by hand from how each case was built (see README.md there), not
taken from a run.  Every submission reports for 凉山州, 2013年上半年; the good table is

    county   code    团员数 基层团组织数 核定编制 实有在编
    喜德县   513432  3000   120          5        5
    昭觉县   513431  2000   95           6        4
    越西县   513434  2500   110          5        5
    甘洛县   513435  1800   80           4        4

so a fully clean copy gives 16 values.
"""

from __future__ import annotations

import importlib.util
import math
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from analysis.ingest.errors import UnreadableFileError
from analysis.ingest.pipeline import clean, discover_files
from analysis.ingest.read import read_any

BAD = Path(__file__).parent / "data" / "bad"
SALT = b"test-salt"

XIDE, ZHAOJUE, YUEXI, GANLUO = "513432", "513431", "513434", "513435"
GOOD = {
    (XIDE, "league_members"): 3000, (XIDE, "league_orgs"): 120,
    (XIDE, "posts_authorized"): 5, (XIDE, "posts_filled"): 5,
    (ZHAOJUE, "league_members"): 2000, (ZHAOJUE, "league_orgs"): 95,
    (ZHAOJUE, "posts_authorized"): 6, (ZHAOJUE, "posts_filled"): 4,
    (YUEXI, "league_members"): 2500, (YUEXI, "league_orgs"): 110,
    (YUEXI, "posts_authorized"): 5, (YUEXI, "posts_filled"): 5,
    (GANLUO, "league_members"): 1800, (GANLUO, "league_orgs"): 80,
    (GANLUO, "posts_authorized"): 4, (GANLUO, "posts_filled"): 4,
}
NAN = float("nan")


@dataclass
class Expect:
    """What one case must give: a refusal (``rule``) or counts and, optionally, values."""

    rule: str | None = None          # UnreadableFileError rule when the file is refused
    records: int = 0                 # data cells in
    clean: int = 0
    quarantined: dict[str, int] = field(default_factory=dict)  # rule → cells
    merged: int = 0
    set_aside: int = 0
    values: dict | None = None       # (county_code, indicator) → value (NaN = reported missing)
    files: int = 1


def refused(rule: str) -> Expect:
    return Expect(rule=rule)


def clean16() -> Expect:
    return Expect(records=16, clean=16, values=GOOD)


CASES: dict[str, Expect] = {
    "good_summary.xlsx": clean16(),
    "empty.csv": refused("empty_file"),
    "zero_byte.xlsx": refused("empty_file"),
    "whitespace_only.csv": refused("empty_file"),
    "csv_named_xlsx.xlsx": clean16(),
    "html_named_xls.xls": clean16(),
    "html_without_table.xls": refused("html"),
    "truncated_zip.xlsx": refused("corrupt_zip"),
    "password_protected.xlsx": refused("password_protected"),
    "only_hidden_sheets.xlsx": refused("only_hidden_sheets"),
    # D3:D4 merged: the value 5 belongs to 喜德县's row; 昭觉县's covered cell is empty (missing)
    "merged_cells_in_data.xlsx": Expect(
        records=12, clean=12,
        values={(XIDE, "posts_authorized"): 5, (ZHAOJUE, "posts_authorized"): NAN,
                (ZHAOJUE, "posts_filled"): 4, (YUEXI, "league_members"): 2500}),
    # C3 #DIV/0! and D4 #N/A are cached errors; E5 is a formula whose cached 5 is kept
    "formula_cached_errors.xlsx": Expect(records=16, clean=14, quarantined={"excel_error": 2},
                                         values={(YUEXI, "posts_filled"): 5}),
    # the period column holds 41455 (an Excel serial) and the title has no period
    "dates_as_numbers.xlsx": Expect(records=16, quarantined={"period_missing": 16}),
    # 约三百 → 300, 不详 → missing, 若干 and 待定 are not numbers
    "text_in_every_numeric_column.xlsx": Expect(
        records=16, clean=8, quarantined={"not_a_number": 8},
        values={(XIDE, "league_members"): 300, (GANLUO, "league_orgs"): NAN}),
    "gbk_with_utf8_bom.csv": clean16(),
    "gbk_html_declared_utf8.xls": clean16(),
    # two halves of the table in UTF-8 and GB18030, plus 喜德县 2013年下半年 in UTF-16 (tabs)
    "mixed_encodings": Expect(records=20, clean=20, files=3, values=GOOD),
    # no header: the sheet's layout is not recognised (listed with its rule), and still nothing
    # is lost — the 16 numbers are quarantined as unplaced (one message names B2:E5), the title
    # and the 4 county names are set aside as unplaced text
    "header_row_missing.xlsx": Expect(rule="layout_unknown", records=21, set_aside=5,
                                      quarantined={"cell_unplaced": 16}),
    "header_rows_swapped.xlsx": clean16(),
    # 团员数 twice: 喜德县 3000 vs 9999 conflict (both copies out), three identical copies merge
    "duplicated_column_names.xlsx": Expect(records=20, clean=15, merged=3,
                                           quarantined={"duplicate_conflict": 2}),
    # 喜德县 again with 3100 members: same arithmetic
    "county_listed_twice.xlsx": Expect(records=20, clean=15, merged=3,
                                       quarantined={"duplicate_conflict": 2}),
    "unknown_county.xlsx": Expect(records=20, clean=16, quarantined={"county_unknown": 4},
                                  values=GOOD),
    "total_row_unlabelled.xlsx": clean16(),
    "scientific_notation.xlsx": Expect(
        records=8, clean=8,
        values={k: v for k, v in GOOD.items() if k[0] in (XIDE, ZHAOJUE)}),
    "negative_counts.xlsx": Expect(records=8, clean=6, quarantined={"below_min": 2}),
    "凉山州 团委 2013年 上半年 统计表（终稿）.xlsx": clean16(),
    "full_width_digits.csv": Expect(records=4, clean=4,
                                    values={k: v for k, v in GOOD.items() if k[0] == XIDE}),
    "utf8_bom.csv": clean16(),
    "semicolon_separated.csv": clean16(),
    "placeholders.xlsx": Expect(
        records=8, clean=8,
        values={(XIDE, "league_members"): NAN, (XIDE, "league_orgs"): NAN,
                (XIDE, "posts_authorized"): NAN, (XIDE, "posts_filled"): NAN,
                (ZHAOJUE, "league_members"): NAN, (ZHAOJUE, "league_orgs"): NAN,
                (ZHAOJUE, "posts_authorized"): 6, (ZHAOJUE, "posts_filled"): 4}),
    "messy_numbers.xlsx": Expect(
        records=8, clean=8,
        values={k: v for k, v in GOOD.items() if k[0] in (XIDE, ZHAOJUE)}),
    "binary_garbage.xlsx": refused("unknown_format"),
    "spreadsheetml_2003.xls": refused("unknown_format"),
    "ole_header_only.xls": refused("unreadable"),
    "legacy_biff8.xls": clean16(),
    "billion_laughs_sheet.xlsx": refused("xml_doctype"),
    "billion_laughs_workbook.xlsx": refused("xml_doctype"),
    "xxe_external_entity.xlsx": refused("xml_doctype"),
    "doctype_utf16_styles.xlsx": refused("xml_doctype"),
    "far_away_cell.xlsx": refused("sheet_too_large"),
    "far_away_cell.xls": refused("sheet_too_large"),
    # the =HYPERLINK county is unknown (4 cells out).  Its comma splits the row, so on line 2
    # the period lands under 备注 (a remark) and =cmd… one column further, under no header (an
    # unplaced text); line 3's @SUM(1+1) is a remark: three cells set aside
    "formula_injection.csv": Expect(records=11, clean=4, set_aside=3,
                                    quarantined={"county_unknown": 4},
                                    values={(XIDE, "league_members"): 3000}),
    "period_nowhere.csv": Expect(records=16, quarantined={"period_missing": 16}),
    # no code book for 2030: every county is unknown as of that period
    "period_out_of_window.xlsx": Expect(records=16, quarantined={"county_unknown": 16}),
    # only a title: not a table; the title itself is set aside as unplaced text
    "title_only.xlsx": Expect(rule="layout_unknown", records=1, set_aside=1),
    "unbalanced_quotes.csv": refused("csv"),
    "field_over_csv_limit.csv": refused("csv"),
    "nul_bytes.csv": refused("unknown_format"),
    # 县级团委年度工作经费 150000 元 → 15 万元; the remark "元 not 万元" is set aside
    "county_form.xlsx": Expect(records=5, clean=4, set_aside=1,
                               values={(XIDE, "league_members"): 3000, (XIDE, "league_orgs"): 120,
                                       (XIDE, "posts_authorized"): 5, (XIDE, "league_funds"): 15}),
    "unknown_columns.xlsx": Expect(records=20, clean=16, set_aside=4, values=GOOD),
    # 团费收缴率 85% kept; 120% above 100, "abc" not a number, -5% below 0
    "bad_rates.xlsx": Expect(records=20, clean=17,
                             quarantined={"above_max": 1, "not_a_number": 1, "below_min": 1},
                             values={(XIDE, "dues_rate"): 85}),
    "two_visible_sheets_same_data.xlsx": Expect(records=32, clean=16, merged=16, values=GOOD),
    "wide_empty_columns.xlsx": clean16(),
}


def _corpus_entries() -> list[str]:
    skip = {"README.md", "make_corpus.py", "__pycache__"}
    return sorted(p.name for p in BAD.iterdir() if p.name not in skip)


def test_every_corpus_file_has_an_expectation_and_a_readme_line():
    entries = _corpus_entries()
    text_cases = {"utf16_excel_unicode_text.txt"}  # read-level case, see its own test
    assert set(entries) == set(CASES) | text_cases
    readme = (BAD / "README.md").read_text(encoding="utf-8")
    missing = [e for e in entries if f"`{e}" not in readme]
    assert not missing, f"README.md does not list {missing}"
    assert len(entries) >= 40


def test_committed_corpus_is_what_the_generator_writes(tmp_path):
    spec = importlib.util.spec_from_file_location("make_corpus", BAD / "make_corpus.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    mod.build(tmp_path)
    for p in sorted(tmp_path.rglob("*")):
        if p.is_file():
            rel = p.relative_to(tmp_path)
            assert (BAD / rel).read_bytes() == p.read_bytes(), f"{rel} differs: re-run make_corpus.py"
    size = sum(p.stat().st_size for p in BAD.rglob("*") if p.is_file())
    assert size < 2 * 1024 * 1024


def _same(a: float, b: float) -> bool:
    return (math.isnan(a) and math.isnan(b)) or a == pytest.approx(b)


def check_outcome(result, expect: Expect, name: str) -> None:
    """The shared contract of every case, then the case's own numbers."""
    files = result.files
    assert len(files) == expect.files, f"{name}: a file vanished from files.csv"
    # row conservation, recounted here from the output tables
    n_clean = len(result.indicators)
    n_quar = result.quarantine["record_id"].nunique() if len(result.quarantine) else 0
    assert int(files["records_in"].sum()) == n_clean + n_quar + int(files["merged"].sum()) + int(
        files["set_aside"].sum())
    if expect.rule is not None:
        assert (files["status"] == "unreadable").all()
        error = files["error"].iloc[0]
        assert f"(rule: {expect.rule})" in error
        assert error.startswith(name) or error.startswith("sheet "), error  # located
        assert n_clean == 0
        # a refused sheet still accounts for its cells: numbers quarantined as unplaced
        got = result.quarantine.groupby("rule")["record_id"].nunique().to_dict() if n_quar else {}
        assert got == expect.quarantined
        assert int(files["records_in"].sum()) == expect.records
        assert int(files["set_aside"].sum()) == expect.set_aside or expect.records == 0
        return
    assert (files["status"] == "ok").all(), files["error"].tolist()
    assert int(files["records_in"].sum()) == expect.records
    assert n_clean == expect.clean
    assert int(files["merged"].sum()) == expect.merged
    assert int(files["set_aside"].sum()) == expect.set_aside
    got_rules = result.quarantine.groupby("rule")["record_id"].nunique().to_dict() if n_quar else {}
    assert got_rules == expect.quarantined
    if n_quar:
        q = result.quarantine
        # every quarantined cell is located and explained
        assert q["file"].notna().all() and (q["cell"].astype(str).str.match(r"^[A-Z]+\d+$")).all()
        assert (q["message"].astype(str).str.len() > 0).all()
    if expect.values:
        ind = result.indicators.set_index(["county_code", "indicator"])["value"]
        for key, value in expect.values.items():
            assert key in ind.index, f"{name}: {key} missing from the clean values"
            assert _same(float(ind.loc[key].iloc[0] if hasattr(ind.loc[key], "iloc") else ind.loc[key]),
                         float(value)), f"{name}: {key} = {ind.loc[key]}, expected {value}"


@pytest.mark.parametrize("name", sorted(CASES))
def test_corpus_case(name):
    result = clean([BAD / name], progress=False, salt=SALT)
    check_outcome(result, CASES[name], name)


def test_excel_unicode_text_is_read_as_utf16_tabs():
    sheets = read_any(BAD / "utf16_excel_unicode_text.txt")
    assert sheets[0].encoding == "utf-16"
    assert sheets[0].cells[1][:2] == ["喜德县", "3000"]
    assert len(sheets[0].cells) == 5


def test_excel_unicode_text_export_is_a_submission():
    # Excel's "Unicode text" (.txt, UTF-16, tab-separated) is cleaned like a CSV export
    result = clean([BAD / "utf16_excel_unicode_text.txt"], progress=False, salt=SALT)
    got = result.indicators.set_index(["county_code", "indicator"])["value"]
    assert len(got) == 16 and result.quarantine.empty
    assert got[("513432", "league_members")] == 3000  # 喜德县, first data row of the file
    assert got[("513432", "posts_filled")] == 5


def test_a_workbook_that_is_really_csv_says_so():
    note = read_any(BAD / "csv_named_xlsx.xlsx")[0].note
    assert 'named ".xlsx" is really CSV' in note


def test_whole_corpus_in_one_run_conserves_every_record(tmp_path):
    result = clean([BAD], progress=False, salt=SALT, out_dir=tmp_path)
    # + the Excel "Unicode text" export: 4 counties × 4 indicator columns = 16 records
    n_files = sum(c.files for c in CASES.values()) + 1
    assert len(result.files) == n_files
    assert set(result.files["status"]) <= {"ok", "unreadable"}
    expected_in = sum(c.records for c in CASES.values()) + 16
    assert int(result.files["records_in"].sum()) == expected_in
    written = sorted(p.name for p in tmp_path.iterdir() if not p.name.startswith("."))
    assert "quarantine.csv" in written and "files.csv" in written


# ---------------------------------------------------------------------------------------------
# cases built at test time
def _corpus_module():
    spec = importlib.util.spec_from_file_location("make_corpus", BAD / "make_corpus.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.mark.skipif(not hasattr(os, "symlink"), reason="no symbolic links on this system")
def test_symlink_loop_in_the_input_folder_ends(tmp_path):
    folder = _corpus_module().symlink_loop(tmp_path / "in", BAD / "good_summary.xlsx")
    assert len(discover_files([folder])) == 1
    check_outcome(clean([folder], progress=False, salt=SALT), clean16(), "good_summary.xlsx")


@pytest.mark.slow
def test_sheet_with_100000_rows(tmp_path):
    """100,000 county rows of 团员数 (the four counties over and over): read whole, every row
    counted.  Each of the 4 keys occurs 25,000 times with the same value: one copy clean, the
    others merged."""
    path = _corpus_module().large_sheet(tmp_path / "large.xlsx", 100_000)
    t0 = time.perf_counter()
    sheets = read_any(path)
    read_s = time.perf_counter() - t0
    assert len(sheets[0].cells) == 100_002
    assert read_s < 30
    result = clean([path], progress=False, salt=SALT)
    members = {k: v for k, v in GOOD.items() if k[1] == "league_members"}
    check_outcome(result, Expect(records=100_000, clean=4, merged=99_996, values=members),
                  "large.xlsx")


def test_read_any_raises_only_package_errors_on_every_refused_case():
    for name, expect in CASES.items():
        if expect.rule is None or expect.rule == "layout_unknown":
            continue
        with pytest.raises(UnreadableFileError) as info:
            read_any(BAD / name)
        assert info.value.rule == expect.rule, name
        assert str(info.value).startswith(name), str(info.value)


# ---------------------------------------------------------------------------------------------
# issue 17: discovery and file types, built at test time
GOOD_CSV = BAD / "utf8_bom.csv"  # the good table as a UTF-8 CSV: 16 clean values


def _files(result) -> dict[str, tuple[str, str]]:
    """files.csv as {source_file: (status, error)}."""
    f = result.files
    return dict(zip(f["source_file"], zip(f["status"], f["error"])))


def test_a_folder_1100_levels_deep_is_refused_with_its_place_not_a_recursion_error(tmp_path):
    """os.walk recursed: 1,100 nested folders raised RecursionError and stopped the run.  Now
    the folder 33 levels down (one more than MAX_DEPTH = 32) is listed as refused and the rest
    is read."""
    root = tmp_path / "in"
    # made and removed one level at a time: Path.mkdir(parents=True) and shutil.rmtree recurse
    levels = [root.joinpath(*["d"] * n) for n in range(1101)]
    for level in levels:
        level.mkdir()
    (levels[-1] / "lost.csv").write_bytes(GOOD_CSV.read_bytes())
    (root / "good.csv").write_bytes(GOOD_CSV.read_bytes())
    try:
        t0 = time.perf_counter()
        result = clean([root], progress=False, salt=SALT)
        elapsed = time.perf_counter() - t0
    finally:
        (levels[-1] / "lost.csv").unlink()
        for level in reversed(levels[1:]):
            level.rmdir()
    files = _files(result)
    too_deep = "/".join(["d"] * 33)
    assert set(files) == {"good.csv", too_deep}
    assert files["good.csv"][0] == "ok" and len(result.indicators) == 16
    status, error = files[too_deep]
    assert status == "unreadable"
    assert error.startswith("d: is a folder 33 levels below in, deeper than the limit 32")
    assert error.endswith("(rule: too_deep)")
    assert elapsed < 30, elapsed
    from analysis.ingest.pipeline import MAX_DEPTH

    assert MAX_DEPTH == 32


def test_the_depth_limit_is_counted_from_each_given_folder(tmp_path, monkeypatch):
    # in/a/b/c: c is 3 levels below in; with a limit of 2 it is refused, b is read
    root = tmp_path / "in"
    (root / "a" / "b" / "c").mkdir(parents=True)
    (root / "a" / "b" / "b.csv").write_bytes(GOOD_CSV.read_bytes())
    (root / "a" / "b" / "c" / "c.csv").write_bytes(GOOD_CSV.read_bytes())
    monkeypatch.setenv("RESIDENCY_MAX_DEPTH", "2")
    files = _files(clean([root], progress=False, salt=SALT))
    assert files["a/b/b.csv"][0] == "ok"
    assert files["a/b/c"][0] == "unreadable" and "(rule: too_deep)" in files["a/b/c"][1]
    assert "a/b/c/c.csv" not in files


def test_too_many_files_refuse_the_run_with_one_line(tmp_path, monkeypatch, capsys):
    from analysis.ingest.outputs import run_clean_cli

    root = tmp_path / "in"
    root.mkdir()
    for i in range(60):
        (root / f"f{i:02d}.csv").write_bytes(b"x")
    monkeypatch.setenv("RESIDENCY_MAX_ENTRIES", "59")
    assert run_clean_cli([root], tmp_path / "out", progress=False) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: in: holds more than 59 files and folders") and err.count("\n") == 1
    assert not (tmp_path / "out").exists()  # refused before anything was read or written
    monkeypatch.delenv("RESIDENCY_MAX_ENTRIES")
    from analysis.ingest.errors import DiscoveryError
    from analysis.ingest.pipeline import discover

    assert len(discover([root], max_entries=60).files) == 60
    with pytest.raises(DiscoveryError) as info:
        discover([root], max_entries=59)
    assert info.value.rule == "too_many_files"
    assert str(info.value).startswith("in: holds more than 59 files and folders")


class _Unblock:
    """If the code under test hangs opening a FIFO, keep opening its other end after ``seconds``
    so that every open returns (an empty pipe) and the test fails on its assertions instead of
    hanging the suite (the old cleaner waited forever)."""

    def __init__(self, fifo: Path, seconds: float = 20) -> None:
        import threading

        self.fifo = fifo
        self.done = threading.Event()
        self.fired = False

        def watch() -> None:
            if self.done.wait(seconds):
                return
            self.fired = True
            while not self.done.is_set():
                with open(fifo, "wb"):  # blocks until a reader opens the pipe, then ends it
                    pass

        self.thread = threading.Thread(target=watch, daemon=True)

    def __enter__(self) -> "_Unblock":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.done.set()
        if self.fired:  # release the writer waiting for one more reader
            os.close(os.open(self.fifo, os.O_RDONLY | os.O_NONBLOCK))
        self.thread.join(5)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no named pipes on this system")
def test_a_named_pipe_is_refused_without_being_opened(tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    fifo = folder / "pipe.csv"
    os.mkfifo(fifo)
    (folder / "good.csv").write_bytes(GOOD_CSV.read_bytes())
    with _Unblock(fifo) as watchdog:
        t0 = time.perf_counter()
        with pytest.raises(UnreadableFileError) as info:
            read_any(fifo)
        read_s = time.perf_counter() - t0
        result = clean([folder], progress=False, salt=SALT)
    assert not watchdog.fired, "the reader blocked on the pipe"
    assert info.value.rule == "not_a_file"
    assert str(info.value).startswith("pipe.csv: is a named pipe (FIFO), not a regular file")
    assert read_s < 1
    files = _files(result)
    assert files["pipe.csv"][0] == "unreadable" and "(rule: not_a_file)" in files["pipe.csv"][1]
    assert files["good.csv"][0] == "ok" and len(result.indicators) == 16


@pytest.mark.skipif(not hasattr(os, "symlink"), reason="no symbolic links on this system")
def test_sockets_devices_and_dangling_links_are_listed_not_skipped(tmp_path, monkeypatch):
    import socket

    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "good.csv").write_bytes(GOOD_CSV.read_bytes())
    os.symlink("missing.xlsx", folder / "gone.xlsx")  # the target was never there
    os.symlink(os.devnull, folder / "null.csv")  # a character device behind a link
    monkeypatch.chdir(folder)  # a relative name: socket paths are limited to ~100 bytes
    sock = socket.socket(socket.AF_UNIX)
    sock.bind("sock.csv")
    try:
        files = _files(clean([folder], progress=False, salt=SALT))
    finally:
        sock.close()
    assert set(files) == {"good.csv", "gone.xlsx", "null.csv", "sock.csv"}
    assert files["gone.xlsx"] == ("unreadable", "gone.xlsx: is a symbolic link to missing.xlsx, which does "
                                  "not exist — 请报送文件本身，而不是快捷方式或链接 (rule: not_a_file)")
    assert files["null.csv"][1].startswith("null.csv: is a character device, not a regular file")
    assert files["sock.csv"][1].startswith("sock.csv: is a socket, not a regular file")
    assert files["good.csv"][0] == "ok"


@pytest.mark.parametrize("content", [
    b"\xef\xbb\xbf",  # a UTF-8 byte-order mark and nothing else
    b"\xef\xbb\xbf \r\n\t\r\n",  # the mark, then white space
    b"\xff\xfe",  # a UTF-16 mark
    b"\xff\xfe \x00\r\x00\n\x00",  # the mark, then white space in UTF-16
])
def test_a_csv_of_only_a_byte_order_mark_is_empty(tmp_path, content):
    path = tmp_path / "bom_only.csv"
    path.write_bytes(content)
    with pytest.raises(UnreadableFileError) as info:
        read_any(path)
    assert info.value.rule == "empty_file"
    check_outcome(clean([path], progress=False, salt=SALT), refused("empty_file"), "bom_only.csv")


def test_an_output_folder_inside_the_input_folder_is_not_read_back(tmp_path, capsys):
    """The second run used to read the first run's quarantine.csv, audit.csv, quality.csv and
    files.csv as four more submissions."""
    from analysis.ingest.outputs import run_clean_cli

    raw = tmp_path / "raw"
    raw.mkdir()
    (raw / "good.csv").write_bytes(GOOD_CSV.read_bytes())
    out = raw / "processed"
    for _ in range(2):
        result = clean([raw], out_dir=out, progress=False, salt=SALT)
        assert list(result.files["source_file"]) == ["good.csv"]
    from analysis.ingest.result import OUTPUT_MARKER

    assert (out / OUTPUT_MARKER).is_file()
    # moved or copied elsewhere under the raw folder, a folder of outputs is still recognised:
    # by its marker, or (outputs of an older run, without one) by its three CSV files
    copy = raw / "old_copy"
    copy.mkdir()
    for name in (OUTPUT_MARKER, "quarantine.csv", "audit.csv", "files.csv"):
        (copy / name).write_bytes((out / name).read_bytes())
    older = raw / "older"
    older.mkdir()
    for name in ("quarantine.csv", "audit.csv", "files.csv"):
        (older / name).write_bytes((out / name).read_bytes())
    assert list(clean([raw], progress=False, salt=SALT).files["source_file"]) == ["good.csv"]
    assert run_clean_cli([raw], out, progress=False) == 0
    said = capsys.readouterr().out
    for folder in (copy, older, out):
        assert f"note: {folder} not read: it holds outputs of this program" in said


def test_a_count_of_1e_minus_300_is_not_whole_and_derived_values_keep_to_the_catalog_range(tmp_path):
    """Issue 17, item 8.  Columns A 县, B 团员数, C 青少年人数, D 经费 (万元), E 统计期:

    - 喜德县: 3000 members, 3 young people, 50 万元: 青少年人均经费 10000 · 50 / 3 = 166,667 元
      (catalog maximum 1000) and 团青比 100 · 3000 / 3 = 100,000 % (maximum 100): both missing
      in panel.parquet, each with an audit row naming its cells; the standard on it missing too;
    - 昭觉县: 1e-300 young people is not a whole number (quarantined, not_integer); 1e-300 万元
      is a valid amount;
    - 越西县: 10 万元 for 100,000 young people = 1 元 each, 团青比 2.5 %: kept.
    """
    import pandas as pd

    path = tmp_path / "derived.csv"
    path.write_text("县（市、区）,团员数（人）,青少年人数,县级团委年度工作经费（万元）,统计期\n"
                    "喜德县,3000,3,50,2013年上半年\n"
                    "昭觉县,2000,1e-300,1e-300,2013年上半年\n"
                    "越西县,2500,100000,10,2013年上半年\n", encoding="utf-8")
    result = clean([path], out_dir=tmp_path / "out", progress=False, salt=SALT)
    check_outcome(result, Expect(records=9, clean=8, quarantined={"not_integer": 1},
                                 values={(ZHAOJUE, "league_funds"): 1e-300}), "derived.csv")
    assert result.quarantine["cell"].tolist() == ["C3"]
    panel = pd.read_parquet(tmp_path / "out" / "panel.parquet").set_index("county_code")
    for code in ("funds_per_youth", "league_youth_ratio", "std_funds_per_youth"):
        assert math.isnan(panel.at[XIDE, code]), code
    assert math.isnan(panel.at[ZHAOJUE, "funds_per_youth"])  # its youth count was quarantined
    assert panel.at[YUEXI, "funds_per_youth"] == pytest.approx(1.0)
    assert panel.at[YUEXI, "league_youth_ratio"] == pytest.approx(2.5)
    audit = result.audit[result.audit["stage"] == "derived"].set_index("indicator")
    assert sorted(audit.index) == ["funds_per_youth", "league_youth_ratio"]
    assert (audit["rule"] == "derived_out_of_range").all() and (audit["action"] == "missing").all()
    funds = audit.loc["funds_per_youth"]
    assert (funds["county_code"], funds["period"]) == (XIDE, "2013H1")
    assert funds["record_id"] == "derived.csv!csv!D2; derived.csv!csv!C2"
    assert funds["before"] == "166667"
    assert funds["note"] == ("青少年人均经费按县级团委年度工作经费 50、青少年人数 3计算为166667，"
                             "超出允许范围（0–1000），已记为缺失，请核对这些填报值。")
    assert audit.loc["league_youth_ratio", "record_id"] == "derived.csv!csv!B2; derived.csv!csv!C2"
    written = pd.read_csv(tmp_path / "out" / "audit.csv", encoding="utf-8-sig", dtype=str)
    assert (written["rule"] == "derived_out_of_range").sum() == 2
