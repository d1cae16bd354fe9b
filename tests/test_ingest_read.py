"""Readers: tiny hand-built files of every kind, read back with what we wrote into them."""

from __future__ import annotations

import datetime as dt

import openpyxl
import pytest
import xlsxwriter
import xlwt

from analysis.ingest import read as read_mod
from analysis.ingest.errors import UnreadableFileError
from analysis.ingest.read import MergedRange, a1, col_letter, read_any, read_csv_file, read_workbook, sniff_format


@pytest.mark.parametrize("row,col,ref", [(0, 0, "A1"), (6, 3, "D7"), (0, 25, "Z1"), (9, 26, "AA10"),
                                         (0, 51, "AZ1"), (0, 52, "BA1"), (0, 701, "ZZ1"), (0, 702, "AAA1")])
def test_a1(row, col, ref):
    assert a1(row, col) == ref


def test_a1_rejects_negative():
    with pytest.raises(ValueError):
        col_letter(-1)
    with pytest.raises(ValueError):
        a1(-1, 0)


@pytest.fixture
def xlsx_path(tmp_path):
    """Two visible sheets and a hidden one; merged title; an Excel error cell; a date."""
    path = tmp_path / "凉山州.xlsx"
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "汇总"
    ws.merge_cells("A1:C1")
    ws["A1"] = "凉山州2013年上半年汇总表"
    ws["A2"] = "  喜德县 "          # spaces are kept: the reader interprets nothing
    ws["B2"] = 120
    ws["C2"] = "#DIV/0!"           # openpyxl stores this as an error-typed cell (t="e")
    ws["A3"] = "西昌市"
    ws["B3"] = 3.5
    ws["C3"] = dt.datetime(2013, 6, 30)
    hidden = wb.create_sheet("旧表")
    hidden.sheet_state = "hidden"
    hidden["A1"] = "x"
    wb.create_sheet("空表")
    wb.save(path)
    return path


def test_read_xlsx_keeps_cells_merges_hidden_and_errors(xlsx_path):
    sheets = read_workbook(xlsx_path)
    assert [s.name for s in sheets] == ["汇总", "旧表", "空表"]
    s = sheets[0]
    assert s.cell(0, 0) == "凉山州2013年上半年汇总表"
    assert s.cell(1, 0) == "  喜德县 "
    assert s.cell(1, 1) == 120
    assert s.cell(1, 2) == "#DIV/0!"      # calamine would blank it; the reader must not
    assert s.cell(2, 1) == 3.5
    # calamine (which reads the workbook; only the error cell is patched in) gives a date at
    # midnight as a date, as for every other workbook
    assert s.cell(2, 2) == dt.date(2013, 6, 30)
    assert s.merged == [MergedRange(0, 0, 0, 2)]
    assert s.merged[0].a1 == "A1:C1"
    assert [x.hidden for x in sheets] == [False, True, False]
    assert sheets[2].cells == []
    assert s.engine == "calamine"
    assert s.note == "1 Excel error cell(s) taken from the sheet XML, because calamine blanks them"
    assert s.file_format == "xlsx"


def test_calamine_is_used_when_there_are_no_error_cells(tmp_path):
    path = tmp_path / "form.xlsx"
    wb = xlsxwriter.Workbook(path)
    ws = wb.add_worksheet("表1")
    ws.merge_range("B2:D2", "标题")
    ws.write("B3", 7)
    ws2 = wb.add_worksheet("隐藏")
    ws2.hide()
    ws2.write("A1", 1)
    wb.close()
    sheets = read_any(path)
    assert sheets[0].engine == "calamine"
    # the grid starts at A1 even though the first used cell is B2
    assert sheets[0].cells == [["", "", "", ""], ["", "标题", "", ""], ["", 7, "", ""]]
    assert sheets[0].merged == [MergedRange(1, 1, 1, 3)]
    assert sheets[1].hidden is True
    assert sheets[0].note == ""
    frame = sheets[0].to_frame()
    assert frame.to_dict("list") == {"row": [2, 3], "col": [2, 2], "cell": ["B2", "B3"],
                                     "value": ["标题", 7], "merged": ["B2:D2", ""]}


def test_fallback_to_openpyxl_when_calamine_fails(xlsx_path, monkeypatch):
    def broken(path):
        raise RuntimeError("calamine cannot")

    monkeypatch.setattr(read_mod, "_read_calamine", broken)
    sheets = read_workbook(xlsx_path)
    assert sheets[0].engine == "openpyxl"
    assert "calamine failed" in sheets[0].note
    assert sheets[0].cell(1, 1) == 120


def _write_xls(path):
    book = xlwt.Workbook(encoding="utf-8")
    sh = book.add_sheet("汇总")
    sh.write_merge(0, 0, 0, 2, "标题")
    sh.write(1, 0, "喜德县")
    sh.write(1, 1, 300)
    sh.write(1, 2, "约300")
    hid = book.add_sheet("隐藏")
    hid.visibility = 1
    hid.write(0, 0, 1)
    book.save(str(path))


def test_read_xls_with_calamine_and_xlrd(tmp_path, monkeypatch):
    path = tmp_path / "a.xls"
    _write_xls(path)
    for engine in ("calamine", "xlrd"):
        if engine == "xlrd":
            monkeypatch.setattr(read_mod, "_read_calamine", lambda p: (_ for _ in ()).throw(RuntimeError("no")))
        sheets = read_any(path)
        assert sheets[0].engine == engine
        s = sheets[0]
        assert s.cell(0, 0) == "标题"
        assert s.cell(1, 0) == "喜德县"
        assert s.cell(1, 1) == 300
        assert s.cell(1, 2) == "约300"
        assert s.merged == [MergedRange(0, 0, 0, 2)]
        assert [x.hidden for x in sheets] == [False, True]


def test_xls_error_cells_survive(tmp_path):
    path = tmp_path / "err.xls"
    book = xlwt.Workbook(encoding="utf-8")
    sh = book.add_sheet("汇总")
    sh.write(0, 0, "县")
    sh.write(1, 0, "喜德县")
    sh.row(1).set_cell_error(1, "#DIV/0!")
    sh.row(2).set_cell_error(3, 0x2A)  # #N/A (BIFF code 42), beyond the last value calamine sees
    book.save(str(path))
    (s,) = read_any(path)
    assert s.engine == "calamine"
    assert s.cell(1, 1) == "#DIV/0!" and s.cell(2, 3) == "#N/A"
    assert s.cell(1, 0) == "喜德县"
    assert "2 Excel error cell(s)" in s.note


CSV_TEXT = "县,团员数,备注\n喜德县,300,约\n西昌市,\"1,234\",\n"


@pytest.mark.parametrize("encoding,expected", [
    ("utf-8", "utf-8"), ("utf-8-sig", "utf-8-sig"), ("gbk", "gb18030"), ("gb18030", "gb18030"),
    ("utf-16", "utf-16"),
])
def test_csv_encodings(tmp_path, encoding, expected):
    path = tmp_path / "export.csv"
    path.write_bytes(CSV_TEXT.encode(encoding))
    s = read_csv_file(path)
    assert s.encoding == expected
    assert s.cells == [["县", "团员数", "备注"], ["喜德县", "300", "约"], ["西昌市", "1,234", ""]]
    assert s.name == "csv" and s.engine == "csv" and s.merged == []


def test_gb18030_only_character(tmp_path):
    # 𠮷 (U+20BB7) is not in GBK; GB18030 encodes it in four bytes
    path = tmp_path / "x.csv"
    path.write_bytes("县,名\n喜德县,𠮷\n".encode("gb18030"))
    assert read_csv_file(path).cells[1] == ["喜德县", "𠮷"]


def test_tab_separated(tmp_path):
    path = tmp_path / "x.txt"
    path.write_text("县\t团员数\n喜德县\t300\n", encoding="utf-8")
    assert read_any(path)[0].cells == [["县", "团员数"], ["喜德县", "300"]]


def test_xlsx_that_is_really_csv(tmp_path):
    path = tmp_path / "喜德县.xlsx"
    path.write_bytes("县,团员数\n喜德县,300\n".encode("gbk"))
    assert sniff_format(path) == "csv"
    sheets = read_any(path)
    assert sheets[0].cells == [["县", "团员数"], ["喜德县", "300"]]
    assert 'named ".xlsx" is really CSV' in sheets[0].note
    with pytest.raises(UnreadableFileError, match="not an Excel workbook"):
        read_workbook(path)


def test_xls_that_is_really_html(tmp_path):
    path = tmp_path / "export.xls"
    html = ('<html><head><meta http-equiv="Content-Type" content="text/html; charset=gbk"></head><body>'
            '<table><tr><td colspan="2">凉山州汇总</td></tr>'
            '<tr><td rowspan="2">县</td><td>团员数</td></tr><tr><td>（人）</td></tr>'
            '<tr><td>喜德县</td><td>300</td></tr></table></body></html>')
    path.write_bytes(html.encode("gbk"))
    (s,) = read_any(path)
    assert s.engine == "html" and s.encoding == "gbk" and s.name == "html"
    assert s.cells == [["凉山州汇总", ""], ["县", "团员数"], ["", "（人）"], ["喜德县", "300"]]
    assert s.merged == [MergedRange(0, 0, 0, 1), MergedRange(1, 0, 2, 0)]
    assert "really HTML" in s.note


@pytest.mark.parametrize("content,match", [
    (b"", "empty"),
    (b"   \n", "empty"),
    (b"\x00\x01\x02garbage\x00" * 10, "neither"),
    (b"PK\x03\x04 not really a zip", "neither"),
])
def test_unreadable(tmp_path, content, match):
    path = tmp_path / "bad.xlsx"
    path.write_bytes(content)
    with pytest.raises(UnreadableFileError, match=match) as info:
        read_any(path)
    assert info.value.file == str(path)
    assert str(info.value).startswith("bad.xlsx: ")


def test_corrupt_workbook_names_both_engines(tmp_path):
    path = tmp_path / "broken.xls"
    path.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 600)
    with pytest.raises(UnreadableFileError, match="calamine") as info:
        read_any(path)
    assert info.value.rule == "unreadable"


def test_missing_file(tmp_path):
    with pytest.raises(UnreadableFileError, match="cannot be opened"):
        read_any(tmp_path / "nope.xlsx")


# ---------------------------------------------------------------- encodings seen in real exports

UTF16_TEXT = "县（市、区）\t团员数\t备注\r\n喜德县\t300\t无\r\n昭觉县\t250\t\r\n"


@pytest.mark.parametrize("codec", ["utf-16-le", "utf-16-be"])
def test_utf16_without_byte_order_mark(tmp_path, codec):
    # Excel's "Unicode text" as some tools save it: UTF-16, no BOM, tabs
    path = tmp_path / "export.txt"
    path.write_bytes(UTF16_TEXT.encode(codec))
    assert sniff_format(path) == "csv"
    (s,) = read_any(path)
    assert s.encoding == codec and "without a byte-order mark" in s.note
    assert s.cells == [["县（市、区）", "团员数", "备注"], ["喜德县", "300", "无"], ["昭觉县", "250", ""]]


@pytest.mark.parametrize("codec,named", [
    ("big5", "Big5 (traditional Chinese)"),
    ("shift_jis", "Shift-JIS (Japanese)"),
])
def test_big5_and_shift_jis_are_refused_by_name(tmp_path, codec, named):
    text = {"big5": "縣（市、區）,團員數,備註\n喜德縣,300,無\n昭覺縣,250,\n越西縣,100,\n",
            "shift_jis": "県名,団員数,備考\n喜徳県,300,なし\n昭覚県,250,ありません\n"}[codec]
    path = tmp_path / "export.csv"
    path.write_bytes(text.encode(codec))
    with pytest.raises(UnreadableFileError) as info:
        read_any(path)
    msg = str(info.value)
    assert info.value.rule == "encoding" and named in msg
    assert "tried UTF-8, UTF-16, GB18030, Big5, Shift-JIS" in msg and "UTF-8 或 GBK" in msg
    assert msg.startswith("export.csv: ")


def test_gbk_with_rare_place_names_is_still_gbk(tmp_path):
    # county names with less common characters (郫县, 珙县, 犍为县, 荥经县, 什邡市, 邛崃市) are all GB2312
    path = tmp_path / "x.csv"
    text = "县,团员数\n郫县,1\n珙县,2\n犍为县,3\n荥经县,4\n什邡市,5\n邛崃市,6\n筠连县,7\n"
    path.write_bytes(text.encode("gbk"))
    (s,) = read_any(path)
    assert s.encoding == "gb18030" and s.cells[1] == ["郫县", "1"] and s.cells[7] == ["筠连县", "7"]


def test_html_export_keeps_the_lines_around_the_table(tmp_path):
    # a government system's "export to Excel": title and period as paragraphs, units in a
    # caption, the 填表人 line after the table; Excel shows them as rows above and below
    html = ('<html><head><meta charset="gbk"><title>导出</title><style>td {width: 1}</style></head>'
            '<body><h3>凉山州基层团建统计表</h3><p>统计时段：2013年1月1日至2013年6月30日</p>'
            '<table border="1"><caption>单位：个、人</caption>'
            '<tr><td rowspan="2">县（市、区）</td><td colspan="2">组织活力</td></tr>'
            '<tr><td>团员数</td><td>基层团组织数</td></tr>'
            '<tr><td>喜德县</td><td>300</td><td>12</td></tr></table>'
            '<p>填表人：张三</p></body></html>')
    path = tmp_path / "export.xls"
    path.write_bytes(html.encode("gbk"))
    (s,) = read_any(path)
    assert s.cells == [["凉山州基层团建统计表", "", ""],
                       ["统计时段：2013年1月1日至2013年6月30日", "", ""],
                       ["单位：个、人", "", ""],
                       ["县（市、区）", "组织活力", ""],
                       ["", "团员数", "基层团组织数"],
                       ["喜德县", "300", "12"],
                       ["填表人：张三", "", ""]]
    # the spans moved down with the table: A4:A5 and B4:C4
    assert s.merged == [MergedRange(3, 0, 4, 0), MergedRange(3, 1, 3, 2)]
