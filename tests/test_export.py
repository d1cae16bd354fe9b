"""Tests of the export step: Excel formatting, injection, determinism, docx and HTML."""

from __future__ import annotations

import hashlib
import time
import zipfile
from pathlib import Path

import numpy as np
import openpyxl
import pandas as pd
import pytest
from docx import Document
from PIL import Image

from analysis.export import (
    ExportError,
    FigureItem,
    TableItem,
    column_header,
    is_formula_like,
    write_docx,
    write_index_html,
    write_table_xlsx,
)


def digest(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


@pytest.fixture
def table() -> pd.DataFrame:
    return pd.DataFrame({
        "county_code": ["513432", "510104", "511902"],
        "county": ["喜德县", "=HYPERLINK(\"http://x\",\"点我\")", "-2+3"],
        "dues_rate": [85.25, np.nan, 100.0],
        "league_orgs": [12, 30000, 7],
        "rank": [2, 1, 3],
        "note": ["@SUM(A1)", "\t=1", "正常"],
        "reported": [True, False, True],
    })


@pytest.fixture
def pngs(tmp_path: Path) -> list[Path]:
    # two tiny PNGs, 8.5 cm and 17 cm wide at 300 dpi (1004 and 2008 px)
    out = []
    for i, w in enumerate((1004, 2008), start=1):
        p = tmp_path / f"0{i}_chart.png"
        Image.new("RGB", (w, w // 2), (200, 100 * i, 50)).save(p, dpi=(300, 300))
        out.append(p)
    return out


def test_formula_like():
    assert is_formula_like("=1+2") and is_formula_like("+1") and is_formula_like("-x")
    assert is_formula_like("@a") and is_formula_like("\tx") and is_formula_like("\rx")
    assert not is_formula_like("喜德县") and not is_formula_like("a=b") and not is_formula_like("")


def test_column_header_labels_catalog_and_units():
    assert column_header("dues_rate") == "团费收缴率（%）"  # catalog name + unit
    assert column_header("league_orgs") == "基层团组织数（个）"
    assert column_header("county_code") == "县级单位代码"
    assert column_header("x", labels={"x": "自定义"}, units={"x": "元/人"}) == "自定义（元/人）"
    assert column_header("liaison_system") == "建立党建带团建联系会议制度"  # 是/否 not shown as unit
    assert column_header("unknown_code") == "unknown_code"


def test_xlsx_layout_numbers_and_formats(tmp_path, table):
    path = write_table_xlsx({"排名": table}, tmp_path / "t.xlsx", titles={"排名": "县域排名"},
                            notes="各市州团委汇总表")
    ws = openpyxl.load_workbook(path)["排名"]
    assert ws["A1"].value == "县域排名"
    assert [c.value for c in ws[2]] == [
        "县级单位代码", "县级单位", "团费收缴率（%）", "基层团组织数（个）", "排名", "note", "reported"]
    assert ws["A2"].font.b and ws["A2"].alignment.wrap_text
    assert ws.freeze_panes == "A3"
    # numbers stay numbers with a number format; NaN is a blank cell
    assert ws["C3"].value == 85.25 and ws["C3"].data_type == "n" and ws["C3"].number_format == "#,##0.0"
    assert ws["C4"].value is None
    assert ws["D4"].value == 30000 and ws["D4"].number_format == "#,##0"
    assert ws["E3"].number_format == "0"  # ranks: no thousands separator
    assert ws["A3"].value == "513432" and ws["A3"].data_type == "s"  # codes keep leading digits as text
    assert ws["G3"].value == "是" and ws["G4"].value == "否"
    # source note two rows under the last data row (3 rows of data in rows 3..5)
    assert ws["A7"].value == "数据来源：各市州团委汇总表"
    # column widths: the Chinese header column is wider than the default 8.43
    assert ws.column_dimensions["B"].width > 20


def test_xlsx_whole_floats_and_decimals(tmp_path):
    # ranks with a gap are float (NaN); they are still shown as whole numbers
    t = pd.DataFrame({"rank": [1.0, np.nan, 3.0], "league_orgs": [1200.0, 5.0, np.nan],
                      "share": [0.25, 0.5, 0.125]})
    ws = openpyxl.load_workbook(write_table_xlsx(t, tmp_path / "w.xlsx", decimals={"share": 3}))["表1"]
    assert ws["A3"].number_format == "0" and ws["A3"].value == 1
    assert ws["B3"].number_format == "#,##0"
    assert ws["C5"].number_format == "#,##0.000" and ws["C5"].value == 0.125


def test_xlsx_injection_neutralised(tmp_path, table):
    path = write_table_xlsx(table, tmp_path / "inj.xlsx")
    ws = openpyxl.load_workbook(path)["表1"]
    for ref, text in [("B4", '=HYPERLINK("http://x","点我")'), ("B5", "-2+3"), ("F3", "@SUM(A1)"), ("F4", "\t=1")]:
        cell = ws[ref]
        assert cell.value == text
        assert cell.data_type == "s", f"{ref} read back as {cell.data_type}, not text"
        assert cell.quotePrefix, f"{ref} lacks Excel's quote prefix"
    assert not ws["B3"].quotePrefix  # ordinary text is left alone
    # and no formula element anywhere in the sheet XML
    with zipfile.ZipFile(path) as z:
        assert b"<f>" not in z.read("xl/worksheets/sheet1.xml")


def test_xlsx_deterministic_and_atomic(tmp_path, table):
    a = write_table_xlsx({"甲": table, "乙": table.head(1)}, tmp_path / "a.xlsx", notes="汇总表")
    first = digest(a)
    time.sleep(1.1)  # a clock-stamped file would now differ
    b = write_table_xlsx({"甲": table, "乙": table.head(1)}, tmp_path / "a.xlsx", notes="汇总表")
    assert digest(b) == first
    assert [p.name for p in tmp_path.iterdir()] == ["a.xlsx"]  # no temporary files left behind
    assert openpyxl.load_workbook(b).sheetnames == ["甲", "乙"]


def test_xlsx_errors_name_the_problem(tmp_path, table):
    with pytest.raises(ExportError, match="sheet name"):
        write_table_xlsx({"a/b": table}, tmp_path / "x.xlsx")
    with pytest.raises(ExportError, match="repeat"):
        write_table_xlsx({"Ab": table, "aB": table}, tmp_path / "x.xlsx")
    with pytest.raises(ExportError, match="DataFrame"):
        write_table_xlsx({"a": [1, 2]}, tmp_path / "x.xlsx")
    assert not (tmp_path / "x.xlsx").exists()


def test_docx_pictures_captions_and_notes(tmp_path, pngs):
    items = [FigureItem(i, f"图题{i}", p, "汇总表", f"第{i}张图的解读。") for i, p in enumerate(pngs, start=1)]
    path = write_docx(items, tmp_path / "pack.docx")
    doc = Document(path)
    assert len(doc.inline_shapes) == 2
    captions = [p.text for p in doc.paragraphs if p.style.name == "Caption"]
    assert captions == ["图1　图题1", "图2　图题2"]
    texts = [p.text for p in doc.paragraphs]
    assert texts[0] == "驻点工作评估图表汇编"
    assert texts.count("数据来源：汇总表") == 2 and "解读：第2张图的解读。" in texts
    # designed print width kept: 1004 px at 300 dpi = 8.50 cm; 2008 px = 17.0 cm = the text width
    widths_cm = [s.width.cm for s in doc.inline_shapes]
    assert widths_cm[0] == pytest.approx(1004 / 300 * 2.54, abs=0.01)
    assert widths_cm[1] == pytest.approx(17.0, abs=0.01)
    assert doc.core_properties.created.year == 2014


def test_docx_and_html_list_notes(tmp_path, pngs):
    items = [FigureItem(1, "图题", pngs[0], "汇总表", "解读。")]
    note = "第二轮事件研究因缺期剔除29个县 <平衡面板>"
    doc = Document(write_docx(items, tmp_path / "n.docx", notes=[note]))
    texts = [(p.style.name, p.text) for p in doc.paragraphs]
    assert texts[-2:] == [("Heading 1", "说明"), ("List Bullet", note)]
    page = write_index_html(items, {}, tmp_path / "n.html", notes=[note]).read_text(encoding="utf-8")
    assert "<h2>说明</h2>" in page and "<li>第二轮事件研究因缺期剔除29个县 &lt;平衡面板&gt;</li>" in page


def test_docx_tall_chart_is_shrunk_to_fit_a_page(tmp_path):
    tall = tmp_path / "tall.png"
    Image.new("RGB", (2008, 3000), (255, 255, 255)).save(tall, dpi=(300, 300))  # 17 × 25.4 cm
    doc = Document(write_docx([FigureItem(1, "排名", tall, "汇总表", "解读。")], tmp_path / "t.docx"))
    shape = doc.inline_shapes[0]
    # A4 29.7 cm − 4 cm margins − 5.5 cm for caption and notes = 20.2 cm of picture height
    assert shape.height.cm == pytest.approx(20.2, abs=0.01)
    assert shape.width.cm == pytest.approx(20.2 * 2008 / 3000, abs=0.01)


def test_docx_byte_identical(tmp_path, pngs):
    items = [FigureItem(1, "图题", pngs[0], "汇总表", "解读。")]
    first = digest(write_docx(items, tmp_path / "a.docx"))
    time.sleep(2.1)  # zip timestamps have 2-second resolution
    assert digest(write_docx(items, tmp_path / "a.docx")) == first
    with zipfile.ZipFile(tmp_path / "a.docx") as z:
        assert {i.date_time for i in z.infolist()} == {(1980, 1, 1, 0, 0, 0)}


def test_docx_rejects_missing_png_and_repeated_numbers(tmp_path, pngs):
    with pytest.raises(ExportError, match="does not exist"):
        write_docx([FigureItem(1, "a", tmp_path / "none.png", "s", "r")], tmp_path / "x.docx")
    with pytest.raises(ExportError, match="repeat"):
        write_docx([FigureItem(1, "a", pngs[0], "s", "r"), FigureItem(1, "b", pngs[1], "s", "r")],
                   tmp_path / "x.docx")
    with pytest.raises(ExportError, match="解读"):
        write_docx([FigureItem(1, "a", pngs[0], "s", " ")], tmp_path / "x.docx")


def test_index_html_self_contained(tmp_path, pngs):
    reports = tmp_path / "reports"
    pdf = pngs[0].with_suffix(".pdf")
    pdf.write_bytes(b"%PDF-1.4")
    items = [FigureItem(1, "排名<及区间>", pngs[0], "汇总表", "解读 & 说明", files=(pngs[0], pdf))]
    path = write_index_html(items, {"县域排名": reports / "tables" / "县域排名.xlsx"}, reports / "index.html")
    page = path.read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>") and '<meta charset="utf-8">' in page
    assert f'src="../{pngs[0].name}"' in page  # relative to the page
    assert 'href="tables/县域排名.xlsx"' in page
    assert f'href="../{pdf.name}"' in page
    assert "排名&lt;及区间&gt;" in page and "解读 &amp; 说明" in page  # escaped
    assert "<script" not in page and "<link" not in page and "http" not in page
    again = write_index_html(items, [TableItem("县域排名", reports / "tables" / "县域排名.xlsx")], path)
    assert again.read_text(encoding="utf-8") == page


def test_index_html_lists_tables_documents_and_notes_in_that_order(tmp_path, pngs):
    reports = tmp_path / "reports"
    items = [FigureItem(1, "排名", pngs[0], "汇总表", "解读")]
    page = write_index_html(items, {"县域排名": reports / "tables" / "县域排名.xlsx"}, reports / "index.html",
                            documents={"汇编（Word）": reports / "汇编.docx"}, notes=["缺期 <3> 县"]).read_text("utf-8")
    tail = page[page.index("<h2>表格</h2>"):]
    assert tail == ("<h2>表格</h2>\n<ul>\n<li><a href=\"tables/县域排名.xlsx\">县域排名</a></li>\n</ul>\n"
                    "<h2>文档</h2>\n<ul>\n<li><a href=\"汇编.docx\">汇编（Word）</a></li>\n</ul>\n"
                    "<h2>说明</h2>\n<ul>\n<li>缺期 &lt;3&gt; 县</li>\n</ul>\n</body>\n</html>\n")
    # an empty list leaves out its heading
    bare = write_index_html(items, {}, reports / "bare.html").read_text("utf-8")
    assert "<h2>表格</h2>" not in bare and "<h2>文档</h2>" not in bare and "<h2>说明</h2>" not in bare
