"""The cell census: every non-empty cell has one role, and nothing numeric is ever lost.

Counts are worked out by hand from the sheets written in each test.
"""

from __future__ import annotations

import openpyxl
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from analysis.config import paths
from analysis.ingest import pipeline
from analysis.ingest.census import ROLES, STRUCTURE_ROLES, cell_roles, record_places
from analysis.ingest.layout import detect_layouts, extract_records
from analysis.ingest.read import a1, read_any
from analysis.ingest.result import SHEET_COLUMNS


def test_sheet_columns_name_every_role():
    assert [c for c in SHEET_COLUMNS if c.startswith("role_")] == [f"role_{r}" for r in ROLES]
    assert set(STRUCTURE_ROLES) | {"data", "unplaced"} == set(ROLES)


def _roles(sheet) -> dict:
    """The census roles of a sheet, from its layouts and the records extracted from them."""
    layouts = detect_layouts(sheet)
    taken = []
    for layout in layouts:
        if layout.kind != "unknown":
            got, _ = extract_records(sheet, layout)
            taken += [c for c, v in zip(got["source_cell"], got["raw_value"]) if v not in ("", None)]
    return cell_roles(sheet, layouts, record_places(taken))


def _workbook(path, rows, title="汇总"):
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = title
    for row in rows:
        ws.append(row)
    wb.save(path)
    return path


def test_every_cell_of_a_summary_has_its_role(tmp_path):
    path = _workbook(tmp_path / "凉山州团委_2013年上半年.xlsx", [
        ["凉山州2013年上半年基层团建工作统计表"],                      # 1 title
        ["填报单位：凉山州团委", None, "单位：个、人"],                   # 2 meta ×2
        ["序号", "县（市、区）", "团员数", "基层团组织数", "备注", None],  # 3 header ×5
        [1, "喜德县", 3000, 120, "含流动团员", None],                     # 4 label 2, data 2, note
        [2, "昭觉县", 2000, None, None, 77],                             # 5 label 2, data 1, F5 ?
        [None, "合计", 5000, 120],                                        # 6 total ×3
        ["填表人：张三", None, "联系电话：", 13800000000],               # 7 footer ×3
        [None, None, None, None, None, 5],                               # 8 after the footer
    ])
    (sheet,) = read_any(path)
    roles = _roles(sheet)
    got = {r: sum(1 for v in roles.values() if v == r) for r in ROLES}
    assert got == {"title": 1, "meta": 2, "header": 5, "code_row": 0, "units_row": 0, "label": 4,
                   "note": 1, "personal": 0, "total": 3, "footer": 3, "roster": 0, "data": 3,
                   "unplaced": 2}
    # F5 (77, a column nobody headed) and F8 (5, a line that only follows the footer)
    assert {k for k, v in roles.items() if v == "unplaced"} == {(4, 5), (7, 5)}
    assert roles[(6, 3)] == "footer"  # the phone number belongs to its footer line

    res = pipeline.clean([path], progress=False, salt=b"k")
    f = res.files.iloc[0]
    assert f[["cells_nonempty", "cells_structure", "cells_data", "cells_unplaced"]].tolist() == \
        [24, 19, 3, 2]
    # records: 4 data cells (D5 blank: missing), the remark, 2 unplaced numbers
    assert f[["records_in", "clean", "quarantined", "set_aside"]].tolist() == [7, 4, 2, 1]
    q = res.quarantine.sort_values("cell")
    assert q[["cell", "rule"]].values.tolist() == [["F5", "cell_unplaced"], ["F8", "cell_unplaced"]]
    assert [float(v) for v in q["raw_value"]] == [77.0, 5.0]
    assert q["message"].str.startswith("F5区域的数字").any()
    remark = res.audit[res.audit["rule"] == "remark"]
    assert remark[["source_cell", "county_code", "period", "before"]].values.tolist() == [
        ["E4", "513432", "2013H1", "含流动团员"]]
    s = res.sheets.iloc[0]
    assert s["role_note"] == 1 and s["role_unplaced"] == 2 and s["status"] == "ok"


def test_a_block_of_numbers_no_table_explains_is_quarantined_with_its_range(tmp_path):
    # a proper table and, below and to the right, a 3×2 block of bare numbers
    rows = [["凉山州2013年上半年统计表"], ["县（市、区）", "团员数", "基层团组织数"],
            ["喜德县", 3000, 120], ["昭觉县", 2000, 95], [], []]
    rows += [[None] * 5 + [11, 12], [None] * 5 + [13, 14], [None] * 5 + [15, 16]]
    path = _workbook(tmp_path / "凉山州_2013年上半年.xlsx", rows)
    res = pipeline.clean([path], progress=False, salt=b"k")
    assert len(res.indicators) == 4
    q = res.quarantine
    assert sorted(q["cell"]) == ["F7", "F8", "F9", "G7", "G8", "G9"]
    assert set(q["rule"]) == {"cell_unplaced"}
    assert q["message"].str.startswith("F7:G9区域的数字").all()
    assert q["message"].str.contains("该区域共6个数字").all()
    assert res.files["cells_unplaced"].iloc[0] == 6


def test_an_unrecognised_sheet_beside_a_good_one_loses_nothing(tmp_path):
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "汇总"
    ws.append(["凉山州2013年上半年统计表"])
    ws.append(["县（市、区）", "团员数"])
    ws.append(["喜德县", 3000])
    other = wb.create_sheet("附表")
    other.append(["甲", "乙"])
    other.append([1.5, 2.5])
    wb.save(tmp_path / "凉山州_2013年上半年.xlsx")
    res = pipeline.clean([tmp_path], progress=False, salt=b"k")
    f = res.files.iloc[0]
    assert f["status"] == "partly_unreadable" and "sheet 附表" in f["error"]
    assert "2 numeric cell(s) quarantined as cell_unplaced" in f["error"]
    assert sorted(res.quarantine["cell"]) == ["A2", "B2"]
    assert f["cells_nonempty"] == 5 + 4  # 汇总: title, 2 headers, 喜德县, 3000; 附表: 4 cells
    sheets = res.sheets.set_index("sheet")
    assert sheets.loc["附表", ["cells_nonempty", "cells_unplaced", "cells_data"]].tolist() == [4, 4, 0]
    assert sheets.loc["汇总", ["cells_nonempty", "cells_structure", "cells_data"]].tolist() == [5, 4, 1]


# ----------------------------------------------------------------------------- property

_TEXTS = ["喜德县", "昭觉县", "团员数", "基层团组织数", "合计", "备注", "填表人：张三", "说明",
          "县（市、区）", "2013年上半年", "注：", "—", "指标", "数值"]


@st.composite
def grids(draw):
    n_rows = draw(st.integers(1, 8))
    n_cols = draw(st.integers(1, 6))
    cell = st.one_of(st.none(), st.sampled_from(_TEXTS),
                     st.integers(-5, 5000).map(str), st.floats(0, 100).map(lambda x: f"{x:.1f}"))
    return [[draw(cell) for _ in range(n_cols)] for _ in range(n_rows)]


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(grids())
def test_census_holds_and_no_number_is_lost_on_any_grid(tmp_path_factory, grid):
    # whatever the grid, every non-empty cell has a role, the census adds up, and every number
    # ends somewhere a reader can find it: a clean value, a quarantine row, an audit row or a
    # structure cell (header, label, total, footer …)
    folder = tmp_path_factory.mktemp("grid")
    path = folder / "凉山州团委_2013年上半年.csv"
    path.write_text("\n".join(",".join("" if v is None else v for v in row) for row in grid) + "\n",
                    encoding="utf-8")
    try:
        res = pipeline.clean([path], progress=False, salt=b"k")
    except Exception as exc:  # noqa: BLE001 - only located ingest errors are acceptable
        pytest.fail(f"{type(exc).__name__}: {exc}")
    f = res.files.iloc[0]
    if f["status"] == "unreadable" and f["cells_nonempty"] == 0:
        return  # e.g. an empty file
    assert f["cells_nonempty"] == f["cells_structure"] + f["cells_data"] + f["cells_unplaced"]
    found = set(res.indicators["source_cell"]) | set(res.quarantine["cell"]) | set(
        res.audit["source_cell"])
    s = res.sheets.iloc[0]
    structure = int(s[[f"role_{r}" for r in STRUCTURE_ROLES]].sum())
    assert structure + s["role_data"] + s["role_unplaced"] == s["cells_nonempty"]
    # every unplaced cell, and every data cell holding something, is in an output table
    (sheet,) = read_any(path)
    roles = _roles(sheet)
    lost = [a1(r, c) for (r, c), role in roles.items()
            if role in ("data", "unplaced") and a1(r, c) not in found]
    assert lost == []


# ----------------------------------------------------------------------------- the demo

def test_the_processed_demo_census_adds_up_and_places_every_cell():
    files_csv = paths().processed / "files.csv"
    sheets_csv = paths().processed / "sheets.csv"
    if not sheets_csv.is_file():
        pytest.skip("data/processed has no sheets.csv (make processed writes it)")
    files = pd.read_csv(files_csv)
    sheets = pd.read_csv(sheets_csv)
    assert (files["cells_nonempty"] == files["cells_structure"] + files["cells_data"]
            + files["cells_unplaced"]).all()
    assert files["cells_unplaced"].sum() == 0  # the demo's layouts are all recognised
    read = sheets[sheets["status"] == "ok"]
    roles = read[[f"role_{r}" for r in ROLES]].sum(axis=1)
    assert (roles == read["cells_nonempty"]).all()
    assert sheets.groupby("source_file")["cells_nonempty"].sum().sum() == files["cells_nonempty"].sum()
