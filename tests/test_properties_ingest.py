"""Property tests of the ingest: generated submissions, arbitrary bytes, arbitrary cells.

1. *Messy but valid* prefecture tables, generated from the catalog (canonical headers with or
   without unit brackets, county names with or without the prefecture, numbers written as
   numbers, with thousands separators, full-width digits, a unit suffix or 约; 是/否/√/×;
   元 for 万元; xlsx or CSV in UTF-8/GB18030) must come back exactly: every value, no cell
   quarantined.  The expected value is the integer the strategy drew, not anything the
   pipeline computed.
2. *Arbitrary bytes* (raw, behind real file signatures, or a real workbook with bytes damaged)
   make the readers fail only with the package's own :class:`IngestError`.
3. *Arbitrary cell grids* run through the whole clean step: no exception escapes, and every
   data cell is accounted for (records in = clean + quarantined + merged + set aside).

Example counts are kept small for the suite's time limit; ``HYPOTHESIS_PROFILE=long`` (see
docs/reliability.md) runs more.
"""

from __future__ import annotations

import csv
import io
import os
import tempfile
from datetime import date, datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from analysis.catalog import load_catalog
from analysis.ingest.errors import IngestError
from analysis.ingest.layout import detect_layout, extract_records
from analysis.ingest.pipeline import clean
from analysis.ingest.read import Sheet, decode_text, read_any

BAD = Path(__file__).parent / "data" / "bad"
SALT = b"property-salt"
LONG = os.environ.get("HYPOTHESIS_PROFILE") == "long"


def n(short: int, long: int) -> int:
    return long if LONG else short


COUNTIES = {  # 凉山州, GB/T 2260 codes valid in 2013
    "喜德县": "513432", "昭觉县": "513431", "越西县": "513434", "甘洛县": "513435",
    "美姑县": "513436", "雷波县": "513437", "西昌市": "513401", "会理县": "513425",
}
# raw indicators that no cross-field rule ties to another (so any values are valid together)
FREE = ["league_orgs", "members_recruited", "volunteers", "fulltime_cadres", "parttime_cadres",
        "cadres_placed", "cadres_trained", "party_documents", "orgs_established",
        "attends_party_meetings", "liaison_system", "in_party_assessment", "league_funds"]
FULL_WIDTH = str.maketrans("0123456789", "０１２３４５６７８９")


def _catalog():
    cat = load_catalog().set_index("code")
    return {c: cat.loc[c] for c in FREE}


CAT = _catalog()


@st.composite
def submission(draw):
    """(rows of the table, expected {(code, indicator): value}, file kind)."""
    names = draw(st.lists(st.sampled_from(sorted(COUNTIES)), min_size=1, max_size=5, unique=True))
    codes = draw(st.lists(st.sampled_from(FREE), min_size=1, max_size=5, unique=True))
    kind = draw(st.sampled_from(["xlsx", "csv-utf8", "csv-gb18030"]))
    header = ["县（市、区）"]
    for c in codes:
        row = CAT[c]
        label = row["name_zh"]
        if row["type"] != "bool" and draw(st.booleans()):
            label = f"{label}（{row['unit']}）"
        header.append(label)
    rows, expected = [header], {}
    for name in names:
        shown = draw(st.sampled_from([name, f"凉山州{name}", f" {name} ", f"凉山彝族自治州{name}"]))
        line = [shown]
        for c in codes:
            row = CAT[c]
            if row["type"] == "bool":
                v = draw(st.integers(0, 1))
                line.append(draw(st.sampled_from(["是", "√"] if v else ["否", "×"])))
            elif row["type"] == "money":
                # whole 元 amounts up to the catalog maximum (万元), written in 元 or 万元
                yuan = draw(st.integers(0, int(float(row["max"]) * 10_000) // 100)) * 100
                v = yuan / 10_000
                line.append(draw(st.sampled_from([f"{yuan}元", f"{v:g}", f"{v:g}万元"])))
            else:
                v = draw(st.integers(int(float(row["min"])), min(int(float(row["max"])), 99_999)))
                forms = [v, str(v), f"{v:,}", str(v).translate(FULL_WIDTH), f"{v}{row['unit']}",
                         f"约{v}"]
                cell = draw(st.sampled_from(forms))
                if kind != "xlsx" and not isinstance(cell, str):
                    cell = str(cell)
                line.append(cell)
            expected[(COUNTIES[name], c)] = v
        rows.append(line)
    return rows, expected, kind


def _write(rows, kind: str, folder: Path) -> Path:
    title = "凉山州2013年上半年基层团建工作统计表"
    if kind == "xlsx":
        import openpyxl

        wb = openpyxl.Workbook()
        ws = wb.active
        ws.title = "汇总"
        ws.append([title])
        for r in rows:
            ws.append(r)
        path = folder / "凉山州_2013年上半年.xlsx"
        wb.save(path)
        return path
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow([title])
    w.writerows(rows)
    path = folder / "凉山州_2013年上半年.csv"
    path.write_bytes(buf.getvalue().encode("utf-8" if kind == "csv-utf8" else "gb18030"))
    return path


def _conserved(result) -> None:
    files = result.files
    n_quar = result.quarantine["record_id"].nunique() if len(result.quarantine) else 0
    assert int(files["records_in"].sum()) == (len(result.indicators) + n_quar
                                              + int(files["merged"].sum())
                                              + int(files["set_aside"].sum()))


@settings(max_examples=n(12, 200), deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(submission())
def test_messy_valid_submissions_round_trip(sub):
    rows, expected, kind = sub
    with tempfile.TemporaryDirectory() as tmp:
        path = _write(rows, kind, Path(tmp))
        result = clean([path], progress=False, salt=SALT)
    _conserved(result)
    assert result.quarantine.empty, result.quarantine[["cell", "rule", "message"]].to_string()
    got = {(r.county_code, r.indicator): r.value for r in result.indicators.itertuples()}
    assert got.keys() == expected.keys()
    for key, value in expected.items():
        assert got[key] == pytest.approx(value, abs=1e-9), key
    assert set(result.indicators["period"]) == {"2013H1"}


# ---------------------------------------------------------------------------------------------
# arbitrary bytes
SIGNATURES = [b"", b"PK\x03\x04", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", b"<html><table><tr><td>",
              b"\xef\xbb\xbf", b"\xff\xfe", b"<?xml version='1.0'?>", b"\x00"]


@settings(max_examples=n(60, 2000), deadline=None)
@given(st.sampled_from(SIGNATURES), st.binary(max_size=600),
       st.sampled_from([".xlsx", ".xls", ".csv", ".html", ".ods"]))
def test_arbitrary_bytes_fail_only_with_package_errors(prefix, body, suffix):
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"x{suffix}"
        path.write_bytes(prefix + body)
        try:
            sheets = read_any(path)
        except IngestError as exc:
            assert str(exc).startswith(f"x{suffix}: ")
            return
    assert all(isinstance(s, Sheet) for s in sheets)


@settings(max_examples=n(40, 1000), deadline=None)
@given(st.binary(max_size=2000))
def test_decode_text_returns_text_or_raises_an_ingest_error(data):
    try:
        text, encoding, _ = decode_text(data)
    except IngestError:
        return
    assert isinstance(text, str) and encoding


GOOD_BYTES = (BAD / "good_summary.xlsx").read_bytes()


@settings(max_examples=n(40, 1000), deadline=None)
@given(st.lists(st.tuples(st.integers(0, len(GOOD_BYTES) - 1), st.integers(0, 255)),
                min_size=1, max_size=8),
       st.one_of(st.none(), st.integers(30, len(GOOD_BYTES))))
def test_damaged_workbooks_fail_only_with_package_errors(flips, cut):
    data = bytearray(GOOD_BYTES)
    for pos, byte in flips:
        data[pos] = byte
    if cut is not None:
        data = data[:cut]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "damaged.xlsx"
        path.write_bytes(bytes(data))
        try:
            read_any(path)
        except IngestError as exc:
            assert exc.file == str(path)


# ---------------------------------------------------------------------------------------------
# arbitrary cells
LABELS = ["县（市、区）", "团员数", "基层团组织数（个）", "统计期", "备注", "合计", "指标", "数值",
          "团县委核定编制数", "团县委实有在编人数", "团费收缴率"]
CELL = st.one_of(
    st.none(), st.text(max_size=12), st.sampled_from(LABELS + sorted(COUNTIES)),
    st.integers(-10**9, 10**9), st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(), st.dates(min_value=date(1900, 1, 1), max_value=date(2100, 1, 1)),
    st.sampled_from(["#DIV/0!", "—", "约三百", "85%", "2013年上半年", "2013.6", "1e400"]),
)


@settings(max_examples=n(40, 1000), deadline=None)
@given(st.lists(st.lists(CELL, min_size=1, max_size=6), min_size=1, max_size=8))
def test_layout_on_arbitrary_grids_raises_only_package_errors(grid):
    width = max(len(r) for r in grid)
    cells = [[("" if v is None else v) for v in r] + [""] * (width - len(r)) for r in grid]
    sheet = Sheet(name="汇总", cells=cells, file="x.xlsx", file_format="xlsx")
    try:
        layout = detect_layout(sheet)
        records, _ = extract_records(sheet, layout, "x.xlsx")
    except IngestError:
        return
    # every record points at a cell inside the grid (blank value cells are records too: they
    # are reported as missing, not dropped)
    from analysis.ingest.read import a1

    inside = {a1(r, c) for r in range(len(cells)) for c in range(width)}
    assert set(records["source_cell"]) <= inside


def _csv_cell(v) -> str:
    if v is None:
        return ""
    if isinstance(v, (date, datetime)):
        return v.isoformat()
    return str(v)


@settings(max_examples=n(25, 500), deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(st.lists(st.lists(CELL, min_size=2, max_size=6), min_size=2, max_size=8),
       st.sampled_from(["csv", "xlsx"]))
def test_clean_on_arbitrary_grids_conserves_every_record(grid, kind):
    """The first row is a plausible header so that many grids reach the cleaning rules."""
    grid = [["县（市、区）", "团员数（人）", "基层团组织数", "统计期"]] + grid
    with tempfile.TemporaryDirectory() as tmp:
        if kind == "csv":
            path = Path(tmp) / "凉山州_2013年上半年.csv"
            buf = io.StringIO()
            csv.writer(buf, lineterminator="\n").writerows([[_csv_cell(v) for v in r] for r in grid])
            text = buf.getvalue()
            assume(text.strip())
            path.write_bytes(text.encode("utf-8", errors="surrogatepass"))
        else:
            import openpyxl
            from openpyxl.utils.exceptions import IllegalCharacterError

            wb = openpyxl.Workbook()
            ws = wb.active
            try:
                for r in grid:
                    ws.append([None if isinstance(v, float) and v != v else v for v in r])
            except (IllegalCharacterError, ValueError):
                assume(False)
            path = Path(tmp) / "凉山州_2013年上半年.xlsx"
            wb.save(path)
        result = clean([path], progress=False, salt=SALT)  # raises on any lost record
    _conserved(result)
    assert len(result.files) == 1
    assert set(result.files["status"]) <= {"ok", "unreadable", "partly_unreadable"}
    if (result.files["status"] != "ok").any():
        assert result.files["error"].iloc[0]  # a refusal always says why
