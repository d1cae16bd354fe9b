"""The reader's single-pass paths: one zip open and one inflate per xlsx, Excel error cells
patched into calamine's grid from the sheet XML, one xlrd pass per xls.

The workbooks are built by hand (zipfile), so that sheet part names, relationship targets and
the spelling of the XML are exactly what each test needs; openpyxl, which parses the XML fully,
is the independent reference for the error cells' values.
"""

from __future__ import annotations

import zipfile

import openpyxl
import pytest
import xlwt

from analysis.ingest import guards
from analysis.ingest import read as read_mod
from analysis.ingest.errors import UnreadableFileError
from analysis.ingest.guards import ArchiveLimits, check_archive
from analysis.ingest.read import read_any, sniff_format

MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
RELS = "http://schemas.openxmlformats.org/package/2006/relationships"
DOC = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
SHEET_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"


def _sheet_xml(rows: str, prefix: str = "") -> str:
    """A worksheet part; ``prefix`` ("x:") writes every element with a namespace prefix."""
    ns = f'xmlns:{prefix[:-1]}="{MAIN}"' if prefix else f'xmlns="{MAIN}"'
    return (f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
            f'<{prefix}worksheet {ns}><{prefix}sheetData>{rows}</{prefix}sheetData></{prefix}worksheet>')


def _build_xlsx(path, sheets, styles=None):
    """Write an xlsx whose sheets are ``(sheet name, part name, relationship target, xml)``,
    with ``styles`` as ``xl/styles.xml`` when given."""
    overrides = "".join(f'<Override PartName="/{part}" ContentType="{SHEET_TYPE}"/>' for _, part, _, _ in sheets)
    content_types = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
        '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
        '<Default Extension="xml" ContentType="application/xml"/>'
        '<Override PartName="/xl/workbook.xml" '
        'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
        f'{overrides}</Types>')
    root_rels = (f'<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="{RELS}">'
                 f'<Relationship Id="rId1" Type="{DOC}/officeDocument" Target="xl/workbook.xml"/>'
                 '</Relationships>')
    entries = "".join(f'<sheet name="{name}" sheetId="{i + 1}" r:id="rId{i + 1}"/>'
                      for i, (name, _, _, _) in enumerate(sheets))
    workbook = (f'<?xml version="1.0" encoding="UTF-8"?><workbook xmlns="{MAIN}" xmlns:r="{DOC}">'
                f'<sheets>{entries}</sheets></workbook>')
    targets = "".join(f'<Relationship Id="rId{i + 1}" Type="{DOC}/worksheet" Target="{target}"/>'
                      for i, (_, _, target, _) in enumerate(sheets))
    if styles is not None:
        targets += f'<Relationship Id="rIdStyles" Type="{DOC}/styles" Target="styles.xml"/>'
    workbook_rels = f'<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="{RELS}">{targets}</Relationships>'
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        if styles is not None:
            zf.writestr("xl/styles.xml", styles)
        zf.writestr("[Content_Types].xml", content_types)
        zf.writestr("_rels/.rels", root_rels)
        zf.writestr("xl/workbook.xml", workbook)
        zf.writestr("xl/_rels/workbook.xml.rels", workbook_rels)
        for _, part, _, xml in sheets:
            zf.writestr(part, xml)
    return path


def _text(ref: str, text: str) -> str:
    return f'<c r="{ref}" t="inlineStr"><is><t>{text}</t></is></c>'


@pytest.fixture
def error_book(tmp_path):
    """Sheet 甲 lives in part second.xml (absolute target), sheet 乙 in data_b.xml (relative
    target): the part names do not follow the sheet order, so only the relationships tell
    which error cell belongs to which sheet."""
    first = _sheet_xml(
        f'<row r="1">{_text("A1", "县")}<c r="B1" s="0" t="e"><v>#DIV/0!</v></c></row>'
        f'<row r="2">{_text("A2", "喜德县")}<c r="B2" t="e"><f>1/0</f><v>#DIV/0!</v></c>'
        '<c r="C2"><v>7</v></c></row>')
    second = _sheet_xml(  # single quotes and spaces in the type attribute, an empty error cell
        f'<row r="1">{_text("A1", "县")}</row>'
        f'<row r="2"><c r="A2"><v>3</v></c><c r="B2"/><c t = \'e\' r="C2"><v>#N/A</v></c>'
        '<c r="D2" t="e"/></row>')
    return _build_xlsx(tmp_path / "errors.xlsx", [
        ("甲", "xl/worksheets/second.xml", "/xl/worksheets/second.xml", first),
        ("乙", "xl/worksheets/data_b.xml", "worksheets/data_b.xml", second),
    ])


def test_error_cells_are_patched_from_the_sheet_xml_of_the_right_sheet(error_book):
    sheets = read_any(error_book)
    assert [s.name for s in sheets] == ["甲", "乙"]
    assert sheets[0].cells == [["县", "#DIV/0!", ""], ["喜德县", "#DIV/0!", 7.0]]
    # D2 is an error cell without a value: nothing to patch, and calamine's grid ends at C
    assert sheets[1].cells == [["县", "", ""], [3.0, "", "#N/A"]]
    for s in sheets:
        assert s.engine == "calamine"
        assert s.note == "3 Excel error cell(s) taken from the sheet XML, because calamine blanks them"


def test_error_cells_agree_with_openpyxl(error_book):
    """openpyxl parses the whole sheet XML: every error cell it sees has the same text here."""
    ours = {s.name: s for s in read_any(error_book)}
    book = openpyxl.load_workbook(error_book, data_only=True)
    seen = 0
    for ws in book.worksheets:
        for row in ws.iter_rows():
            for cell in row:
                if cell.data_type == "e" and cell.value is not None:
                    assert ours[ws.title].cell(cell.row - 1, cell.column - 1) == cell.value
                    seen += 1
    assert seen == 3


def test_the_guard_names_the_sheets_with_error_cells(error_book, monkeypatch):
    assert check_archive(error_book).error_parts == {"xl/worksheets/second.xml", "xl/worksheets/data_b.xml"}
    monkeypatch.setattr(guards, "_CHUNK", 16)  # the streamed path finds them too
    scan = check_archive(error_book)
    assert scan.error_parts == {"xl/worksheets/second.xml", "xl/worksheets/data_b.xml"}
    assert "xl/workbook.xml" in scan.names
    # the same pass maps the worksheet parts to sheet names through the relationships
    assert scan.sheet_names == {"xl/worksheets/second.xml": "甲", "xl/worksheets/data_b.xml": "乙"}


def test_a_workbook_without_error_cells_has_no_error_parts(tmp_path):
    path = _build_xlsx(tmp_path / "clean.xlsx", [
        ("表", "xl/worksheets/sheet1.xml", "worksheets/sheet1.xml",
         _sheet_xml(f'<row r="1">{_text("A1", "e")}<c r="B1"><v>1</v></c></row>'))])
    assert check_archive(path).error_parts == frozenset()
    (sheet,) = read_any(path)
    assert sheet.cells == [["e", 1.0]] and sheet.note == ""


def test_prefixed_xml_error_cells_are_found(tmp_path):
    xml = _sheet_xml('<x:row r="1"><x:c r="A1"><x:v>2</x:v></x:c><x:c r="B1" t="e"><x:v>#REF!</x:v></x:c></x:row>',
                     prefix="x:")
    path = _build_xlsx(tmp_path / "prefixed.xlsx", [("P", "xl/worksheets/sheet1.xml", "worksheets/sheet1.xml", xml)])
    assert check_archive(path).error_parts == {"xl/worksheets/sheet1.xml"}
    assert read_any(path)[0].cell(0, 1) == "#REF!"


def test_an_error_cell_without_reference_falls_back_to_openpyxl(tmp_path):
    # a cell without r is placed after the one before it: only a full parse knows where
    xml = _sheet_xml('<row r="1"><c r="A1"><v>1</v></c><c t="e"><v>#NAME?</v></c></row>')
    path = _build_xlsx(tmp_path / "noref.xlsx", [("S", "xl/worksheets/sheet1.xml", "worksheets/sheet1.xml", xml)])
    (sheet,) = read_any(path)
    assert sheet.engine == "openpyxl"
    assert sheet.cells == [[1, "#NAME?"]]
    assert "read with openpyxl because the workbook has Excel error cells" in sheet.note


def test_used_area_sees_every_spelling_of_the_reference():
    assert guards._used_area(b'<row r="3"><c r="AB3"/><c\tr = \'C12\'/></row>') == (12, 28)
    assert guards._used_area(b'<row\nr="1048576"><c\r\nr="XFD1"/></row>') == (1048576, 16384)
    assert guards._used_area(b'<row spans="1:5"><c ref="A9"/></row>') == (0, 0)


def test_a_far_away_cell_spelt_with_tabs_is_refused(tmp_path):
    xml = _sheet_xml('<row r="1"><c r="A1"><v>1</v></c></row><row\tr="1048576"><c\tr\t=\t\'XFD1048576\'><v>1</v></c></row>')
    path = _build_xlsx(tmp_path / "far.xlsx", [("S", "xl/worksheets/sheet1.xml", "worksheets/sheet1.xml", xml)])
    with pytest.raises(UnreadableFileError, match="row 1048576, column 16384") as info:
        read_any(path)
    assert info.value.rule == "sheet_too_large"


def _count_calls(monkeypatch, module, name):
    calls = []
    real = getattr(module, name)

    def counting(*args, **kwargs):
        calls.append(args)
        return real(*args, **kwargs)

    monkeypatch.setattr(module, name, counting)
    return calls


def test_an_xlsx_is_opened_once(error_book, tmp_path, monkeypatch):
    opened = _count_calls(monkeypatch, zipfile, "ZipFile")
    read_any(error_book)  # sniff, guard and error-cell patch share one open archive
    assert len(opened) == 1
    assert sniff_format(error_book) == "xlsx"  # the public function still works on its own
    assert len(opened) == 2


def test_an_xls_is_parsed_once_by_xlrd(tmp_path, monkeypatch):
    import xlrd

    path = tmp_path / "err.xls"
    book = xlwt.Workbook(encoding="utf-8")
    sh = book.add_sheet("汇总")
    sh.write(0, 0, "县")
    sh.row(1).set_cell_error(1, "#DIV/0!")
    book.save(str(path))
    opened = _count_calls(monkeypatch, xlrd, "open_workbook")
    (s,) = read_any(path)
    assert len(opened) == 1
    assert s.cells == [["县", ""], ["", "#DIV/0!"]]
    with pytest.raises(UnreadableFileError) as info:  # the same pass measures the used area
        read_mod.read_workbook(path, ArchiveLimits(max_cells=3))
    assert info.value.rule == "sheet_too_large" and "row 2, column 2" in info.value.message


def test_an_xls_xlrd_cannot_open_goes_to_the_fallback_as_before(tmp_path, monkeypatch):
    """calamine reads it, xlrd cannot list its error cells: as before the single pass, the
    fallback reader is tried and the message gives both engines' reasons."""
    import xlrd

    path = tmp_path / "a.xls"
    book = xlwt.Workbook(encoding="utf-8")
    book.add_sheet("S").write(0, 0, 1)
    book.save(str(path))

    def broken(*args, **kwargs):
        raise xlrd.XLRDError("xlrd cannot")

    monkeypatch.setattr(xlrd, "open_workbook", broken)
    with pytest.raises(UnreadableFileError, match=r"calamine \(xlrd cannot\) nor xlrd \(xlrd cannot\)"):
        read_any(path)


def _openpyxl_errors(path) -> dict[tuple[str, int, int], str]:
    """The error cells openpyxl reads (the reference parser): (sheet, row, col) 0-based → text."""
    book = openpyxl.load_workbook(path, data_only=True)
    return {(ws.title, cell.row - 1, cell.column - 1): cell.value
            for ws in book.worksheets for row in ws.iter_rows() for cell in row
            if cell.data_type == "e" and cell.value is not None}


def test_an_error_value_in_a_cdata_section_reads_as_openpyxl_reads_it(tmp_path):
    """``<v><![CDATA[#N/A]]></v>`` is the text ``#N/A`` to an XML parser; references outside a
    CDATA section are resolved, inside it they are literal."""
    xml = _sheet_xml('<row r="1"><c r="A1"><v>1</v></c><c r="B1" t="e"><v><![CDATA[#N/A]]></v></c>'
                     '<c r="C1" t="e"><v>&#35;<![CDATA[REF!]]></v></c>'
                     '<c r="D1" t="e"><v><![CDATA[&amp;]]>&amp;</v></c></row>')
    path = _build_xlsx(tmp_path / "cdata.xlsx", [("S", "xl/worksheets/sheet1.xml", "worksheets/sheet1.xml", xml)])
    (sheet,) = read_any(path)
    assert sheet.engine == "calamine"
    assert sheet.cells == [[1.0, "#N/A", "#REF!", "&amp;&"]]
    assert _openpyxl_errors(path) == {("S", 0, 1): "#N/A", ("S", 0, 2): "#REF!", ("S", 0, 3): "&amp;&"}


def _sheet_with_long_error_tag_at(offset: int, attribute_bytes: int) -> tuple[str, int]:
    """A worksheet part over 1 MiB whose error cell's start tag ``<c r="B…" pad="…" t="e">``
    begins ``offset`` bytes into the part, with ``attribute_bytes`` of padding attribute before
    its type; and the row of that cell (1-based).  Rows of numbers fill the part up to there,
    so it compresses like a real sheet (not like a bomb)."""
    head = _sheet_xml("{rows}").split("{rows}")[0]
    rows, size, r = [], len(head), 0
    while True:
        r += 1
        row = f'<row r="{r}"><c r="A{r}"><v>{r * 7919 % 100003}</v></c></row>'
        if size + len(row) + 64 > offset:
            break
        rows.append(row)
        size += len(row)
    start = f'<row r="{r}"><c r="A{r}"><v>1</v></c>'
    gap = " " * (offset - size - len(start))
    pad = "".join(chr(97 + i % 26) for i in range(attribute_bytes))
    rows.append(f'{start}{gap}<c r="B{r}" pad="{pad}" t="e"><v>#DIV/0!</v></c></row>')
    xml = _sheet_xml("".join(rows))
    assert xml.index('<c r="B') == offset
    return xml, r


@pytest.mark.parametrize("attribute_bytes", [2_000, 200_000])
def test_a_long_error_cell_tag_across_the_chunk_boundary_is_found(tmp_path, attribute_bytes):
    """The guard inflates in 1 MiB chunks; an error cell's start tag that begins before the
    boundary and reaches its type after it must still be seen (it once carried only the last
    512 bytes to the next chunk, and the cell came back blank).  A tag longer than the guard
    carries (200 kB here) flags the sheet for the reader's scan of the whole part."""
    offset = guards._CHUNK - 1_000
    xml, r = _sheet_with_long_error_tag_at(offset, attribute_bytes)
    assert len(xml) > guards._CHUNK and xml.index('t="e"', offset) > guards._CHUNK
    path = _build_xlsx(tmp_path / "long_tag.xlsx", [("S", "xl/worksheets/sheet1.xml", "worksheets/sheet1.xml", xml)])
    assert check_archive(path).error_parts == {"xl/worksheets/sheet1.xml"}
    (sheet,) = read_any(path)
    assert sheet.engine == "calamine"
    assert sheet.cell(r - 1, 1) == "#DIV/0!" == _openpyxl_errors(path)[("S", r - 1, 1)]


def test_the_guard_carries_an_unfinished_tag_to_the_next_chunk():
    # from the last "<", and never less than the last 512 bytes
    short = b"x" * 600 + b"<c r='A1'"
    assert guards._carry(short) == (short[-512:], False)
    window = b"<row>" + b"<c r='B1' pad='" + b"p" * 1_000
    assert guards._carry(window) == (window[5:], False)
    # a long run of spaces is squeezed (the patterns match one space as many) ...
    spaced = b"<c" + b" " * 100_000 + b"t='e'"
    assert guards._carry(spaced) == (b"<c t='e'", False)
    # ... a long tag of anything else is cut, and the sheet flagged for the reader's full scan
    long = b"<c pad='" + b"p" * 100_000 + b"'"
    tail, flagged = guards._carry(long)
    assert flagged and tail == long[-guards._TAIL_MAX:]


def test_a_workbook_without_error_cells_is_flagged_only_for_an_overlong_tag(tmp_path, monkeypatch):
    monkeypatch.setattr(guards, "_CHUNK", 64)
    monkeypatch.setattr(guards, "_TAIL_MAX", 128)
    plain = _sheet_xml('<row r="1"><c r="A1"><v>1</v></c><c r="B1" pad="' + "p" * 100 + '"><v>2</v></c></row>')
    path = _build_xlsx(tmp_path / "plain.xlsx", [("S", "xl/worksheets/sheet1.xml", "worksheets/sheet1.xml", plain)])
    assert check_archive(path).error_parts == frozenset()
    long = plain.replace("p" * 100, "p" * 1_000)
    path = _build_xlsx(tmp_path / "long.xlsx", [("S", "xl/worksheets/sheet1.xml", "worksheets/sheet1.xml", long)])
    assert check_archive(path).error_parts == {"xl/worksheets/sheet1.xml"}
    (sheet,) = read_any(path)  # the reader's scan finds no error cell: nothing patched, no note
    assert sheet.cells == [[1.0, 2.0]] and sheet.note == ""


def test_the_reader_and_the_guard_agree_on_cell_references():
    assert guards.cell_reference(b'<c r="D7" t="e">') == (6, 3)
    assert guards.cell_reference(b'<c\tr = \'XFD1048576\' t="e">') == (1048575, 16383)
    assert guards.cell_reference(b'<c r="7" t="e">') is None  # a row number places no cell
    assert guards.cell_reference(b'<c t="e">') is None
    assert guards.cell_reference(b'<c xr="D7" t="e">') is None


_DATE_STYLES = (
    f'<?xml version="1.0" encoding="UTF-8"?><styleSheet xmlns="{MAIN}">'
    '<fonts count="1"><font/></fonts><fills count="1"><fill><patternFill patternType="none"/></fill></fills>'
    '<borders count="1"><border/></borders>'
    '<cellStyleXfs count="1"><xf/></cellStyleXfs>'
    '<cellXfs count="2"><xf numFmtId="0"/><xf numFmtId="14" applyNumberFormat="1"/></cellXfs>'
    '<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles>'
    '</styleSheet>')


def test_a_workbook_with_error_cells_is_read_by_calamine_like_any_other(tmp_path):
    """The convention (module docstring of read.py): a workbook with Excel error cells is read
    by calamine, as the other workbooks are, and only its error cells are taken from the sheet
    XML.  So integers come back as floats, a date at midnight as ``date``, and the covered
    cells of a merged range keep the value stored in the file — all as calamine gives them —
    where openpyxl (which read such workbooks whole before) would give ``int``, ``datetime``
    and an empty covered cell."""
    import python_calamine

    xml = (f'<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="{MAIN}"><sheetData>'
           f'<row r="1">{_text("A1", "县")}<c r="B1"><v>42</v></c><c r="C1" s="1"><v>45292</v></c>'
           '<c r="D1" t="e"><v>#DIV/0!</v></c></row>'
           f'<row r="2">{_text("A2", "合计")}{_text("B2", "stored under the merge")}<c r="C2"><v>2.5</v></c>'
           '<c r="D2"><v>3</v></c></row>'
           '</sheetData><mergeCells count="1"><mergeCell ref="A2:B2"/></mergeCells></worksheet>')
    path = _build_xlsx(tmp_path / "convention.xlsx", [("S", "xl/worksheets/sheet1.xml", "worksheets/sheet1.xml", xml)],
                       styles=_DATE_STYLES)
    (sheet,) = read_any(path)
    book = python_calamine.CalamineWorkbook.from_path(str(path))
    calamine_grid = book.get_sheet_by_name("S").to_python(skip_empty_area=False)
    errors = _openpyxl_errors(path)
    assert errors == {("S", 0, 3): "#DIV/0!"}
    expected = [[errors.get(("S", r, c), v) for c, v in enumerate(row)] for r, row in enumerate(calamine_grid)]
    assert sheet.cells == expected
    assert sheet.engine == "calamine" and list(sheet.merged) == [read_mod.MergedRange(1, 0, 1, 1)]
    # what that means, spelt out (hand-worked: serial 45292 is 2024-01-01)
    import datetime as dt
    assert sheet.cells == [["县", 42.0, dt.date(2024, 1, 1), "#DIV/0!"],
                           ["合计", "stored under the merge", 2.5, 3.0]]
    assert type(sheet.cells[0][2]) is dt.date
