"""The shortcuts that make layout detection fast give what the plain rules give.

Detection computes each row's texts once per sheet (``_Grid``), caches tests on distinct texts
and header tuples, and skips work whose answer is already known.  These tests pin the helpers
to hand-worked answers, and the layouts to what the unoptimised rules gave on the same sheets.
"""

from __future__ import annotations

import datetime as dt

import pytest

from analysis.ingest.layout import (
    _Grid,
    _header_score,
    _is_footer_row,
    _read_header,
    _text,
    detect_layout,
    extract_records,
)
from analysis.ingest.read import Sheet


@pytest.mark.parametrize(("value", "expected"), [
    ("  团员数 \n（人） ", "团员数 （人）"),  # whitespace runs collapsed, ends trimmed
    ("", ""),
    (None, ""),
    (3.0, "3"),             # whole floats print as integers
    (-0.0, "0"),
    (2.5, "2.5"),
    (1e20, "100000000000000000000"),
    (float("nan"), "nan"),
    (float("inf"), "inf"),
    (7, "7"),
    (-12, "-12"),
    (True, "True"),         # a bool is not the number 1 here
    (dt.date(2013, 6, 30), "2013-06-30"),
])
def test_text_of_each_cell_type(value, expected):
    assert _text(value) == expected


def test_grid_rows_are_computed_once_and_match_the_sheet():
    sheet = Sheet("s", [["县（市、区）", " 团员数 ", 3.0], ["喜德县"], []])
    grid = _Grid(sheet)
    assert (grid.n_rows, grid.n_cols) == (3, 3)  # the widest row, as Sheet.n_cols
    assert grid.texts(0) == ["县（市、区）", "团员数", "3"]
    assert grid.texts(0) is grid.texts(0)  # cached, not recomputed
    assert grid.keys(0) == ["县（市、区）", "团员数", "3.0"]  # keys are str(value), as _key gives
    assert grid.keys(1) == ["喜德县"]
    assert grid.texts(2) == [] and grid.texts(5) == []  # empty row; below the last row
    for r in range(-1, 4):
        for c in range(-1, 4):
            assert grid.cell(r, c) == sheet.cell(r, c)


def test_header_score_counts_text_cells_only():
    grid = _Grid(Sheet("s", [["序号", "县（市、区）", "团员数（人）", 12, "  ", None, "喜德县"]]))
    # one catalog header (团员数), two label words (序号, 县（市、区）); numbers and blanks ignored
    assert _header_score(grid, 0) == (1, 2)


@pytest.mark.parametrize(("parts", "expected"), [
    (("组织活力", "基层团组织数"), ("data", "league_orgs", None)),
    (("县级团委年度工作经费（万元）",), ("data", "league_funds", "万元")),
    (("自评得分",), ("data", None, None)),   # unknown header: kept, no indicator
    (("县（市、区）",), ("county", None, None)),
    (("序号",), ("sequence", None, None)),
    (("行政区划代码",), ("county_code", None, None)),
    (("市州",), ("prefecture", None, None)),
    (("期间",), ("period", None, None)),
    (("备注",), ("remark", None, None)),
    (("指标",), ("label", None, None)),
    (("数值",), ("value", None, None)),
])
def test_read_header(parts, expected):
    assert _read_header(parts) == expected
    assert _read_header(parts) == expected  # the cached answer is the same


def test_footer_row_ignores_empty_texts():
    assert not _is_footer_row(["", "", "喜德县"])
    assert _is_footer_row(["", "填 表 人：张三"])  # spaces inside the label do not hide it
    assert not _is_footer_row([])


def test_labelled_row_with_a_number_after_the_footer_is_still_data():
    # the number test of a row after a footer is only made inside the footer: make sure it is
    sheet = Sheet("汇总", [
        ["县（市、区）", "团员数", "基层团组织数"],
        ["喜德县", 300, 12],
        ["注：1、本表由各县填报", "", ""],
        ["2、乡镇数含街道", "", ""],
        ["甘洛县", 50, 4],
    ])
    layout = detect_layout(sheet)
    assert layout.data_rows == [1, 4]
    assert layout.row_reasons == {0: "header", 2: "footer", 3: "footer"}
    records, _ = extract_records(sheet, layout, "a.xlsx")
    assert records["source_cell"].tolist() == ["B2", "C2", "B5", "C5"]
    assert records["raw_value"].tolist() == [300, 12, 50, 4]


def test_form_header_below_label_rows_is_found():
    # rows above the 指标/数值 header with label words but no 指标 are not taken for the header
    sheet = Sheet("表1", [
        ["喜德县基层团建统计表", "", ""],
        ["序号", "县（市、区）：喜德县", ""],
        ["指标", "数值", "单位"],
        ["团员数", 300, "人"],
        ["基层团组织数", 12, "个"],
    ])
    layout = detect_layout(sheet)
    assert layout.kind == "form"
    assert layout.header_rows == [2]
    assert layout.data_rows == [3, 4]
    assert [(c.col, c.role) for c in layout.columns] == [(0, "label"), (1, "value"), (2, "unit")]


def test_short_rows_read_as_empty_cells_in_extraction():
    # rows narrower than the header: the missing cells are "" records, as Sheet.cell gives
    sheet = Sheet("汇总", [
        ["县（市、区）", "团员数", "基层团组织数"],
        ["喜德县", 300],
        ["西昌市", 500, 21],
    ])
    layout = detect_layout(sheet)
    records, _ = extract_records(sheet, layout, "a.xlsx")
    assert records["source_cell"].tolist() == ["B2", "C2", "B3", "C3"]
    assert records["raw_value"].tolist() == [300, "", 500, 21]
