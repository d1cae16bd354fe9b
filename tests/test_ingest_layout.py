"""Layout detection and record extraction on hand-built sheets of each shape."""

from __future__ import annotations

import openpyxl
import pandas as pd
import pytest
import xlsxwriter
from hypothesis import example, given, settings
from hypothesis import strategies as st

from analysis.ingest.errors import LayoutError
from analysis.ingest.layout import RECORD_COLUMNS, STRUCTURE_COLUMNS, detect_layout, extract_records
from analysis.ingest.read import MergedRange, Sheet, read_any


def _conserved(sheet, records, structure):
    """Every sheet row is a record row or a structure row, never both."""
    data_rows = set(records["source_row"])
    struct_rows = set(structure["source_row"])
    assert not data_rows & struct_rows
    assert data_rows | struct_rows == set(range(1, sheet.n_rows + 1))


@pytest.fixture
def summary_xlsx(tmp_path):
    """A prefecture summary with every structural mess: merged title and two header rows,
    填报单位/单位/截至 line, code row, units row, 合计, blank row, footers."""
    path = tmp_path / "凉山州_汇总.xlsx"
    wb = xlsxwriter.Workbook(path)
    ws = wb.add_worksheet("汇总")
    ws.merge_range("A1:G1", "凉山州2013年上半年基层团建工作统计汇总表")
    ws.write("A2", "填报单位：凉山州团委（盖章）")
    ws.write("D2", "单位：个、人、万元")
    ws.write("F2", "截至2013年6月30日")
    ws.merge_range("A3:A4", "序号")
    ws.merge_range("B3:B4", "县（市、区）")
    ws.merge_range("C3:D3", "组织活力")
    ws.write("C4", "基层团组织数")
    ws.write("D4", "团员数（人）")
    ws.merge_range("E3:F3", "任务完成")
    ws.write("E4", "县级团委年度工作经费（元）")
    ws.write("F4", "建立党建带团建联系会议制度")
    ws.merge_range("G3:G4", "自评得分")     # not in the catalog: kept with indicator None
    ws.write_row("A5", ["甲", "乙", "1", "2", "3", "4", "5"])
    ws.write_row("A6", ["", "", "个", "人", "元", "是/否", ""])
    ws.write_row("A7", [1, "喜德县", 120, "约300", 30000, "√", 88])
    ws.write_row("A8", [2, " 西昌市", 200, "1,234", 50000, "否", 90])
    ws.write_row("A9", [3, "盐源县", "—", 500, "#DIV/0!", "", 75])
    ws.write_row("A10", ["", "合  计", 320, 2034, 80000, "", ""])
    ws.write("A12", "填表人：张三")
    ws.write("C12", "审核人：李四")
    ws.write("E12", "联系电话：0834-1234567")
    ws.write("A13", "注：本表由各县团委填报。")
    wb.close()
    return path


def test_summary_layout(summary_xlsx):
    (sheet,) = read_any(summary_xlsx)
    layout = detect_layout(sheet)
    assert layout.kind == "summary"
    assert layout.header_rows == [2, 3]
    assert layout.data_rows == [6, 7, 8]
    assert layout.title == "凉山州2013年上半年基层团建工作统计汇总表"
    assert layout.cutoff_text == "截至2013年6月30日"
    assert layout.prefecture_text == "凉山州"
    reasons = layout.row_reasons
    assert reasons[0] == "title" and reasons[1] == "meta"
    assert reasons[4] == "code_row" and reasons[5] == "units_row"
    assert reasons[9] == "total" and reasons[10] == "blank"
    assert reasons[11] == "footer" and reasons[12] == "footer"
    cols = layout.to_frame().set_index("letter")
    assert cols.loc["A", "role"] == "sequence" and cols.loc["B", "role"] == "county"
    assert cols.loc["C", "indicator"] == "league_orgs"
    assert cols.loc["D", "indicator"] == "league_members"
    assert cols.loc["E", "indicator"] == "league_funds"
    assert cols.loc["F", "indicator"] == "liaison_system"
    assert pd.isna(cols.loc["G", "indicator"])
    assert cols.loc["C", "header_unit"] == "个"       # from the units row
    assert cols.loc["D", "header_unit"] == "人"       # header bracket
    assert cols.loc["E", "header_unit"] == "元"
    assert cols.loc["D", "header_text"] == "组织活力 / 团员数（人）"


def test_summary_records(summary_xlsx):
    (sheet,) = read_any(summary_xlsx)
    records, structure = extract_records(sheet, detect_layout(sheet), summary_xlsx)
    assert list(records.columns) == RECORD_COLUMNS
    assert list(structure.columns) == STRUCTURE_COLUMNS
    # 3 county rows × 5 data columns (C–G), blank cells included
    assert len(records) == 15
    by_cell = records.set_index("source_cell")
    assert by_cell.loc["D7", "raw_value"] == "约300"
    assert by_cell.loc["D7", "county_text"] == "喜德县"
    assert by_cell.loc["C8", "county_text"] == " 西昌市"        # as written
    assert by_cell.loc["E9", "raw_value"] == "#DIV/0!"
    assert by_cell.loc["F9", "raw_value"] == ""
    assert pd.isna(by_cell.loc["G7", "indicator"]) and by_cell.loc["G7", "raw_value"] == 88
    assert by_cell.loc["D8", "record_id"] == "凉山州_汇总.xlsx|汇总|8"
    assert set(records["prefecture_text"]) == {"凉山州"}
    assert set(records["period_text"]) == {"截至2013年6月30日"}
    assert set(records["title"]) == {"凉山州2013年上半年基层团建工作统计汇总表"}
    assert not records["sheet_hidden"].any()
    assert set(records["layout"]) == {"summary"}
    assert structure.set_index("source_row").loc[10, "reason"] == "total"
    _conserved(sheet, records, structure)


def test_unlabelled_total_row_is_flagged():
    sheet = Sheet("表", [
        ["县名", "团员数", "基层团组织数"],
        ["喜德县", "300", "12"],
        ["西昌市", "500", "20"],
        ["盐源县", "100", "8"],
        ["凉山州", "900", "40"],   # 300+500+100, 12+20+8: the prefecture total without 合计
    ], engine="csv", file="t.csv")
    layout = detect_layout(sheet)
    assert layout.kind == "flat"
    assert layout.data_rows == [1, 2, 3]
    assert layout.row_reasons[4] == "total_unlabelled"
    records, structure = extract_records(sheet, layout)
    assert "凉山州" not in set(records["county_text"])
    _conserved(sheet, records, structure)


def test_near_total_is_not_flagged():
    sheet = Sheet("表", [
        ["县名", "团员数", "基层团组织数"],
        ["喜德县", "300", "12"],
        ["西昌市", "500", "20"],
        ["盐源县", "100", "8"],
        ["会理县", "900", "41"],   # 900 is the sum of the others, 41 is not: a county
    ])
    layout = detect_layout(sheet)
    assert layout.data_rows == [1, 2, 3, 4]


def test_flat_csv_with_period_column(tmp_path):
    path = tmp_path / "export.csv"
    path.write_bytes("县,期间,团员数,团费收缴率\n喜德县,2012年上半年,300,85%\n西昌市,2012年上半年,500,0.9\n"
                     .encode("gbk"))
    (sheet,) = read_any(path)
    layout = detect_layout(sheet)
    assert layout.kind == "flat" and layout.header_rows == [0]
    records, structure = extract_records(sheet, layout, path)
    assert len(records) == 4
    assert list(records["indicator"]) == ["league_members", "dues_rate"] * 2
    assert list(records["raw_value"]) == ["300", "85%", "500", "0.9"]
    assert set(records["period_text"]) == {"2012年上半年"}
    assert list(records["source_cell"]) == ["C2", "D2", "C3", "D3"]
    _conserved(sheet, records, structure)


def test_long_table():
    sheet = Sheet("long", [
        ["市州", "县", "期间", "指标", "数值", "单位"],
        ["凉山州", "喜德县", "2012H1", "团员数", "300", "人"],
        ["凉山州", "喜德县", "2012H1", "县级团委年度工作经费", "3", "万元"],
        ["凉山州", "喜德县", "2012H1", "某新指标", "7", "个"],
    ])
    layout = detect_layout(sheet)
    assert layout.kind == "flat" and layout.long
    records, structure = extract_records(sheet, layout, "long.csv")
    assert list(records["indicator"].fillna("?")) == ["league_members", "league_funds", "?"]
    assert list(records["header_unit"]) == ["人", "万元", "个"]
    assert list(records["source_cell"]) == ["E2", "E3", "E4"]
    assert set(records["prefecture_text"]) == {"凉山州"}
    _conserved(sheet, records, structure)


def test_county_form(tmp_path):
    path = tmp_path / "喜德县.xlsx"
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "基本情况"
    ws["A1"] = "喜德县2012年下半年基层团建工作情况表"
    ws["A2"] = "填报单位：共青团喜德县委员会（盖章）"
    ws["C2"] = "截至2012年12月31日"
    ws.append(["指标", "数值", "单位", "备注"])
    ws.append(["一、组织活力", None, None, None])
    ws.append(["基层团组织数", 120, "个", None])
    ws.append(["团员数（人）", "约3000", None, "估计"])
    ws.append(["县级团委年度工作经费", "50000", "元", None])
    ws.append(["建立党建带团建联系会议制度", "√", "是/否", None])
    ws.append(["自定义指标", 3, "个", None])
    ws.append([None, None, None, None])
    ws.append(["填表人：王五", None, "联系电话：123", None])
    wb.save(path)
    (sheet,) = read_any(path)
    layout = detect_layout(sheet)
    assert layout.kind == "form"
    assert layout.county_text == "喜德县"
    assert layout.data_rows == [4, 5, 6, 7, 8]
    assert layout.row_reasons[3] == "section"
    records, structure = extract_records(sheet, layout, path)
    # the remark 估计 (D6) is a record of its own, right after the value of its row (the
    # cleaning step sets it aside and keeps it in the audit)
    assert list(records["indicator"].fillna("?")) == ["league_orgs", "league_members", "?",
                                                      "league_funds", "liaison_system", "?"]
    assert list(records["header_text"])[2] == "备注"
    # unit column, else header bracket
    assert list(records["header_unit"].fillna("-")) == ["个", "人", "-", "元", "是/否", "个"]
    assert list(records["raw_value"]) == [120, "约3000", "估计", "50000", "√", 3]
    assert list(records["source_cell"]) == ["B5", "B6", "D6", "B7", "B8", "B9"]
    assert set(records["county_text"]) == {"喜德县"}
    assert set(records["record_id"]) == {"喜德县.xlsx|基本情况"}
    assert set(records["period_text"]) == {"截至2012年12月31日"}
    _conserved(sheet, records, structure)


def test_form_with_period_columns():
    sheet = Sheet("表", [
        ["县（市、区）：喜德县", "", ""],
        ["指标", "2012年上半年", "2012年下半年"],
        ["团员数", "300", "310"],
        ["新发展团员数", "20", "25"],
    ])
    layout = detect_layout(sheet)
    assert layout.kind == "form" and layout.county_text == "喜德县"
    records, _ = extract_records(sheet, layout, "x.xlsx")
    assert list(records["period_text"]) == ["2012年上半年", "2012年下半年"] * 2
    assert list(records["raw_value"]) == ["300", "310", "20", "25"]


def test_hidden_sheet_is_flagged():
    sheet = Sheet("旧", [["县", "团员数"], ["喜德县", 1]], hidden=True)
    records, _ = extract_records(sheet, detect_layout(sheet), "a.xlsx")
    assert records["sheet_hidden"].all()


def test_unknown_layout_raises_with_place():
    sheet = Sheet("说明", [["请按要求填写本表。"], ["各县团委于7月10日前报送。"]])
    layout = detect_layout(sheet)
    assert layout.kind == "unknown"
    with pytest.raises(LayoutError) as info:
        extract_records(sheet, layout, "data/凉山州.xlsx")
    assert str(info.value).startswith("凉山州.xlsx, sheet 说明: ")
    assert info.value.rule == "layout_unknown"


def test_empty_sheet_gives_nothing():
    sheet = Sheet("空", [])
    layout = detect_layout(sheet)
    assert layout.kind == "unknown"
    records, structure = extract_records(sheet, layout, "a.xlsx")
    assert records.empty and structure.empty


def test_merged_header_from_sheet_object():
    # three header rows: group / sub-group / name, with vertical merges for 县
    sheet = Sheet("汇总", [
        ["县名", "团干部配备", "", ""],
        ["", "团干部", "", "编制"],
        ["", "专职团干部数", "兼职、挂职团干部数", "团县委核定编制数"],
        ["喜德县", 3, 10, 5],
        ["西昌市", 6, 20, 8],
    ], merged=[MergedRange(0, 0, 2, 0), MergedRange(0, 1, 0, 3), MergedRange(1, 1, 1, 2)])
    layout = detect_layout(sheet)
    assert layout.header_rows == [0, 1, 2]
    assert layout.kind == "summary"
    frame = layout.to_frame()
    assert list(frame["indicator"].fillna("?")) == ["?", "fulltime_cadres", "parttime_cadres", "posts_authorized"]
    assert frame.loc[1, "header_text"] == "团干部配备 / 团干部 / 专职团干部数"
    records, structure = extract_records(sheet, layout, "a.xlsx")
    assert len(records) == 6
    _conserved(sheet, records, structure)


def test_xls_summary_round1(tmp_path):
    """The same kind of summary written as Excel 97–2003 (xlwt) with round-1 header synonyms."""
    import xlwt

    path = tmp_path / "广元市团委_统计_2009年1-6月.xls"
    book = xlwt.Workbook(encoding="utf-8")
    sh = book.add_sheet("Sheet1")
    sh.write_merge(0, 0, 0, 4, "广元市共青团基层组织建设情况统计表（2009年上半年）")
    sh.write(1, 0, "填报单位：广元市团委（盖章）")
    sh.write_merge(2, 3, 0, 0, "县（市、区）")
    sh.write_merge(2, 3, 1, 1, "行次")
    sh.write_merge(2, 2, 2, 4, "团的组织建设")
    sh.write(3, 2, "共青团员数（人）")
    sh.write(3, 3, "团费收缴情况")
    sh.write(3, 4, "团县委工作经费")
    for c, v in enumerate(["甲", "乙", 1, 2, 3]):
        sh.write(4, c, v)
    for r, row in enumerate([["利州区", 1, 27875, 0.811, 3.5], ["元坝区", 2, "６５１４９", "80%", 2]], start=5):
        for c, v in enumerate(row):
            sh.write(r, c, v)
    sh.write(7, 0, "广元市小计")
    sh.write(7, 2, 93024)
    book.save(str(path))
    (sheet,) = read_any(path)
    layout = detect_layout(sheet)
    assert layout.kind == "summary" and layout.header_rows == [2, 3]
    assert layout.row_reasons[4] == "code_row" and layout.row_reasons[7] == "total"
    cols = layout.to_frame().set_index("letter")
    assert cols.loc["B", "role"] == "sequence"
    assert list(cols.loc[["C", "D", "E"], "indicator"]) == ["league_members", "dues_rate", "league_funds"]
    records, structure = extract_records(sheet, layout, path)
    assert list(records["raw_value"]) == [27875, 0.811, 3.5, "６５１４９", "80%", 2]
    assert list(records["source_cell"]) == ["C6", "D6", "E6", "C7", "D7", "E7"]
    _conserved(sheet, records, structure)


def test_prefecture_from_path_when_the_sheet_names_none():
    sheet = Sheet("名山县", [
        ["名山县共青团基层组织建设情况统计表"],
        ["填报单位：共青团名山县委员会"],
        ["统计时期：2008年上半年"],
        ["指标", "数值", "单位", "备注"],
        ["团员数", 300, "人", ""],
    ])
    layout = detect_layout(sheet)
    assert layout.county_text == "名山县" and layout.cutoff_text == "统计时期：2008年上半年"
    records, _ = extract_records(sheet, layout, "raw/2008年上半年/雅安市团委/名山县_基层团建情况表.xlsx")
    assert list(records["prefecture_text"]) == ["雅安市"]
    records, _ = extract_records(sheet, layout, "raw/名山县_基层团建情况表.xlsx")
    assert records["prefecture_text"].isna().all()


def test_county_column_without_a_header_is_guessed():
    sheet = Sheet("表", [
        ["", "团员数", "基层团组织数"],
        ["喜德县", "300", "12"],
        ["西昌市", "500", "21"],
    ])
    layout = detect_layout(sheet)
    assert layout.column("county").col == 0
    assert any("county column" in n for n in layout.notes)
    records, _ = extract_records(sheet, layout, "a.csv")
    assert list(records["county_text"]) == ["喜德县", "喜德县", "西昌市", "西昌市"]


def test_title_beside_a_table_number_is_not_a_header_row():
    sheet = Sheet("汇总", [
        ["内江市基层团建工作统计表", "", "表一"],
        ["县（市、区）", "团员数", "基层团组织数"],
        ["市中区", "300", "12"],
        ["东兴区", "500", "21"],
    ])
    layout = detect_layout(sheet)
    assert layout.header_rows == [1]
    assert layout.title == "内江市基层团建工作统计表"
    assert layout.to_frame()["header_text"].tolist() == ["县（市、区）", "团员数", "基层团组织数"]


def test_remark_saying_zhu_does_not_end_the_table():
    sheet = Sheet("汇总", [
        ["县（市、区）", "团员数", "基层团组织数", "备注"],
        ["喜德县", "300", "12", "注：团员数为估计"],
        ["西昌市", "500", "21", ""],
        ["注：1、本表由各县填报", "", "", ""],
        ["2、乡镇数含街道", "", "", ""],
    ])
    layout = detect_layout(sheet)
    assert layout.data_rows == [1, 2]
    assert layout.row_reasons[3] == "footer" and layout.row_reasons[4] == "footer"
    records, structure = extract_records(sheet, layout, "a.xlsx")
    assert list(records["county_text"].unique()) == ["喜德县", "西昌市"]
    assert layout.column("remark").col == 3
    _conserved(sheet, records, structure)


_CELLS = st.one_of(
    st.sampled_from(["", "县", "团员数", "基层团组织数", "合计", "填表人：张三", "指标", "数值", "喜德县",
                     "甲", "1", "个", "300", "约300", "—", "截至2013年6月30日", "单位：万元"]),
    st.integers(0, 500),
    st.text(max_size=4),
)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.lists(_CELLS, min_size=1, max_size=5), min_size=0, max_size=8))
@example([["县"], ["县"]])  # a table of names only, no merged cells (CI found it: no grid was built)
def test_any_grid_is_conserved_or_refused(grid):
    sheet = Sheet("s", [list(r) for r in grid])
    width = max((len(r) for r in grid), default=0)
    sheet.cells = [r + [""] * (width - len(r)) for r in sheet.cells]
    layout = detect_layout(sheet)
    try:
        records, structure = extract_records(sheet, layout, "g.xlsx")
    except LayoutError:
        assert layout.kind == "unknown"
        return
    data_rows = set(records["source_row"])
    assert not data_rows & set(structure["source_row"])
    if layout.kind != "unknown":
        assert data_rows | set(structure["source_row"]) == set(range(1, sheet.n_rows + 1))
