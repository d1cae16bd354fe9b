"""Build the bad-input corpus in this folder (reproducible: same bytes on every run).

    .venv/bin/python tests/data/bad/make_corpus.py            # rewrite the committed files
    .venv/bin/python tests/data/bad/make_corpus.py OUT_DIR    # write them elsewhere

Each case is one file (or one folder) named after the case; README.md lists what each one is
and what the ingest must do with it.  Cases that are large or hostile to a checkout (the
100,000-row sheet, the zip bomb, the symbolic-link loop) are built by the functions
:func:`large_sheet`, :func:`zip_bomb` and :func:`symlink_loop` at test time into a temporary
folder and are not committed.

Every submission here reports for 凉山州, 2013年上半年, about four of its counties:
喜德县 513432, 昭觉县 513431, 越西县 513434, 甘洛县 513435.
"""

from __future__ import annotations

import io
import os
import re
import struct
import sys
import zipfile
from datetime import datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent

PREF = "凉山州"
TITLE = "凉山州2013年上半年基层团建工作统计表"
HEADER = ["县（市、区）", "团员数（人）", "基层团组织数（个）", "团县委核定编制数", "团县委实有在编人数"]
ROWS = [
    ["喜德县", 3000, 120, 5, 5],
    ["昭觉县", 2000, 95, 6, 4],
    ["越西县", 2500, 110, 5, 5],
    ["甘洛县", 1800, 80, 4, 4],
]
"""The good table: 4 counties × 4 indicators = 16 data cells."""

_FIXED = datetime(2013, 7, 1, 9, 0, 0)


# --------------------------------------------------------------------------------------------
# writers (deterministic bytes)
def _fix_zip(path: Path) -> None:
    """Rewrite a zip with fixed member times and order, so the corpus is byte-reproducible."""
    with zipfile.ZipFile(path) as zf:
        members = [(i, zf.read(i.filename)) for i in zf.infolist()]
    # openpyxl stamps the save time into docProps/core.xml whatever the properties say
    members = [(i, re.sub(rb"(<dcterms:modified[^>]*>)[^<]*", rb"\g<1>2013-07-01T09:00:00Z", d)
                if i.filename == "docProps/core.xml" else d) for i, d in members]
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as out:
        for info, data in members:
            fixed = zipfile.ZipInfo(info.filename, date_time=_FIXED.timetuple()[:6])
            fixed.compress_type = zipfile.ZIP_DEFLATED
            fixed.external_attr = 0o600 << 16
            out.writestr(fixed, data)
    path.write_bytes(buf.getvalue())


def xlsx(path: Path, rows, *, title: str | None = TITLE, merges=(), sheet="汇总",
         extra_sheets=()) -> Path:
    """Write rows (after an optional merged title row) to a one-sheet workbook."""
    import openpyxl

    wb = openpyxl.Workbook()
    wb.properties.created = wb.properties.modified = _FIXED
    ws = wb.active
    ws.title = sheet
    if title is not None:
        ws.append([title])
        ws.merge_cells(start_row=1, start_column=1, end_row=1, end_column=max(len(HEADER), 2))
    for r in rows:
        ws.append(list(r))
    for m in merges:
        ws.merge_cells(m)
    for name, extra_rows in extra_sheets:
        other = wb.create_sheet(name)
        for r in extra_rows:
            other.append(list(r))
    wb.save(path)
    _fix_zip(path)
    return path


def csv_text(rows, sep=",") -> str:
    return "".join(sep.join("" if v is None else str(v) for v in r) + "\n" for r in rows)


def good_rows(period_col: bool = False):
    head = HEADER + (["统计期"] if period_col else [])
    body = [r + (["2013年上半年"] if period_col else []) for r in ROWS]
    return [head] + body


def _cfb_encrypted(path: Path) -> Path:
    """A minimal Compound File (OLE2) whose directory holds the streams an Office-encrypted
    package has (``EncryptionInfo``, ``EncryptedPackage``), as Excel writes for a workbook with
    an opening password (MS-OFFCRYPTO).  Built by hand: no encryption library is needed to test
    that the reader refuses it with the right message."""
    sector = 512
    header = bytearray(sector)
    header[0:8] = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
    struct.pack_into("<HHHHH", header, 0x18, 0x3E, 3, 0xFFFE, 9, 6)
    struct.pack_into("<I", header, 0x2C, 1)          # one FAT sector
    struct.pack_into("<I", header, 0x30, 1)          # directory starts at sector 1
    struct.pack_into("<I", header, 0x38, 4096)       # mini stream cutoff
    struct.pack_into("<I", header, 0x3C, 0xFFFFFFFE)  # no mini FAT
    struct.pack_into("<I", header, 0x44, 0xFFFFFFFE)  # no DIFAT sectors
    struct.pack_into("<I", header, 0x4C, 0)          # FAT in sector 0
    for i in range(1, 109):
        struct.pack_into("<I", header, 0x4C + 4 * i, 0xFFFFFFFF)
    fat = bytearray(b"\xff" * sector)
    struct.pack_into("<III", fat, 0, 0xFFFFFFFD, 0xFFFFFFFE, 0xFFFFFFFE)
    directory = bytearray(sector)
    for i, (name, kind) in enumerate([("Root Entry", 5), ("EncryptionInfo", 2),
                                      ("EncryptedPackage", 2)]):
        entry = bytearray(128)
        encoded = name.encode("utf-16-le") + b"\x00\x00"
        entry[0:len(encoded)] = encoded
        struct.pack_into("<HBB", entry, 0x40, len(encoded), kind, 1)
        struct.pack_into("<III", entry, 0x44, 0xFFFFFFFF, 0xFFFFFFFF, 0xFFFFFFFF)
        if i == 0:
            struct.pack_into("<I", entry, 0x4C, 1)  # child: EncryptionInfo
        if i == 1:
            struct.pack_into("<I", entry, 0x48, 2)  # right sibling: EncryptedPackage
        struct.pack_into("<I", entry, 0x74, 0xFFFFFFFE)
        directory[128 * i:128 * (i + 1)] = entry
    path.write_bytes(bytes(header) + bytes(fat) + bytes(directory))
    return path


def _xlsx_with_member(path: Path, good: Path, member: str, transform) -> Path:
    """Copy a good workbook, passing one member's bytes through ``transform``."""
    with zipfile.ZipFile(good) as zf:
        members = [(i, zf.read(i.filename)) for i in zf.infolist()]
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as out:
        for info, data in members:
            fixed = zipfile.ZipInfo(info.filename, date_time=_FIXED.timetuple()[:6])
            fixed.compress_type = zipfile.ZIP_DEFLATED
            out.writestr(fixed, transform(data) if info.filename == member else data)
    return path


_LAUGHS = (b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<!DOCTYPE lolz [\n'
           b' <!ENTITY lol "lol">\n'
           + b"".join(b' <!ENTITY lol%d "%s">\n' % (i, (b"&lol%d;" % (i - 1) if i > 1 else b"&lol;") * 10)
                      for i in range(1, 10))
           + b"]>\n")


def _without_declaration(data: bytes) -> bytes:
    return (data.split(b"?>", 1)[1] if data.startswith(b"<?xml") else data).lstrip()


def _with_doctype(doctype: bytes):
    def transform(data: bytes) -> bytes:
        # drop the original XML declaration, put the attack's prolog in front of the root
        return doctype + _without_declaration(data)
    return transform


def _xlsxwriter_book(path: Path, write) -> Path:
    import xlsxwriter

    wb = xlsxwriter.Workbook(str(path))
    wb.set_properties({"created": _FIXED})
    ws = wb.add_worksheet("汇总")
    write(wb, ws)
    wb.close()
    _fix_zip(path)
    return path


# --------------------------------------------------------------------------------------------
# the cases
def build(out: Path) -> list[str]:
    """Write every committed case into ``out``; return the case names written."""
    out.mkdir(parents=True, exist_ok=True)
    made: list[str] = []

    def case(name: str) -> Path:
        made.append(name)
        return out / name

    good = xlsx(case("good_summary.xlsx"), good_rows())
    case("empty.csv").write_bytes(b"")
    case("zero_byte.xlsx").write_bytes(b"")
    case("whitespace_only.csv").write_bytes(b" \r\n\t\r\n")
    case("csv_named_xlsx.xlsx").write_bytes(
        (TITLE + "\n" + csv_text(good_rows())).encode("gb18030"))
    html_rows = "".join("<tr>" + "".join(f"<td>{v}</td>" for v in r) + "</tr>" for r in good_rows())
    case("html_named_xls.xls").write_bytes(
        (f'<html><head><meta charset="gbk"></head><body><table><tr><td colspan="5">{TITLE}</td></tr>'
         f"{html_rows}</table></body></html>").encode("gbk"))
    case("html_without_table.xls").write_bytes(b"<html><body><p>export failed</p></body></html>")
    data = good.read_bytes()
    case("truncated_zip.xlsx").write_bytes(data[: len(data) // 2])
    _cfb_encrypted(case("password_protected.xlsx"))
    # openpyxl refuses to hide the only sheet, Excel files in the wild still do it
    _xlsx_with_member(case("only_hidden_sheets.xlsx"), good, "xl/workbook.xml",
                      lambda d: d.replace(b'state="visible"', b'state="hidden"'))
    # 喜德县 and 昭觉县 share one merged 团县委核定编制数 cell (D4:D5): the value is written once
    xlsx(case("merged_cells_in_data.xlsx"),
         [HEADER, ["喜德县", 3000, 120, 5, 5], ["昭觉县", 2000, 95, None, 4],
          ["越西县", 2500, 110, 5, 5]], merges=["D3:D4"])

    def formulas(wb, ws):
        bold = None
        ws.merge_range("A1:E1", TITLE, bold)
        ws.write_row(1, 0, HEADER)
        for i, r in enumerate(ROWS):
            ws.write_row(2 + i, 0, r)
        # cached error results, as Excel saves them after a division by an empty cell
        ws.write_formula("C3", "=B3/F3", None, "#DIV/0!")
        ws.write_formula("D4", "=VLOOKUP(A4,Z:Z,2,0)", None, "#N/A")
        ws.write_formula("E5", "=B5*1", None, 5)  # a good cached number
    _xlsxwriter_book(case("formula_cached_errors.xlsx"), formulas)

    def dates_as_numbers(wb, ws):
        ws.merge_range("A1:F1", TITLE.replace("2013年上半年", ""), None)
        ws.write_row(1, 0, HEADER + ["统计时间"])
        for i, r in enumerate(ROWS):
            ws.write_row(2 + i, 0, r)
            ws.write_number(2 + i, 5, 41455)  # 2013-06-30 as an Excel serial without date format
    _xlsxwriter_book(case("dates_as_numbers.xlsx"), dates_as_numbers)

    xlsx(case("text_in_every_numeric_column.xlsx"),
         [HEADER] + [[r[0], "约三百", "不详", "若干", "待定"] for r in ROWS])
    gbk = csv_text(good_rows(period_col=True)).encode("gbk")
    case("gbk_with_utf8_bom.csv").write_bytes(b"\xef\xbb\xbf" + gbk)
    case("gbk_html_declared_utf8.xls").write_bytes(
        (f'<html><head><meta charset="utf-8"></head><body><table><tr><td>{TITLE}</td></tr>'
         f"{html_rows}</table></body></html>").encode("gbk"))
    mixed = out / "mixed_encodings"
    made.append("mixed_encodings/")
    mixed.mkdir(exist_ok=True)
    rows_by_file = [ROWS[:2], ROWS[2:]]
    (mixed / "a_utf8.csv").write_bytes(
        csv_text([HEADER + ["统计期"]] + [r + ["2013年上半年"] for r in rows_by_file[0]]).encode("utf-8"))
    (mixed / "b_gb18030.csv").write_bytes(
        csv_text([HEADER + ["统计期"]] + [r + ["2013年上半年"] for r in rows_by_file[1]]).encode("gb18030"))
    (mixed / "c_utf16_tab.csv").write_bytes(
        csv_text([HEADER + ["统计期"]] + [["喜德县", 3000, 120, 5, 5, "2013年下半年"]], sep="\t")
        .encode("utf-16"))
    xlsx(case("header_row_missing.xlsx"), ROWS)
    # the column-code row (甲/1/2/…) above the header instead of below it
    xlsx(case("header_rows_swapped.xlsx"), [["甲", "1", "2", "3", "4"], HEADER] + ROWS)
    xlsx(case("duplicated_column_names.xlsx"),
         [HEADER + ["团员数（人）"]] + [r + [r[1] if i else 9999] for i, r in enumerate(ROWS)])
    xlsx(case("county_listed_twice.xlsx"), good_rows() + [["喜德县", 3100, 120, 5, 5]])
    xlsx(case("unknown_county.xlsx"), good_rows() + [["火星县", 10, 1, 1, 1]])
    # a prefecture total without 合计: sums of the county rows under an empty name cell
    totals = [""] + [sum(r[j] for r in ROWS) for j in range(1, 5)]
    xlsx(case("total_row_unlabelled.xlsx"), good_rows() + [totals])
    xlsx(case("scientific_notation.xlsx"),
         [HEADER, ["喜德县", "3.0E+03", 1.2e2, "5e0", 5], ["昭觉县", 2e3, "9.5E1", 6, "4E+00"]])
    xlsx(case("negative_counts.xlsx"), [HEADER, ["喜德县", -3000, 120, 5, 5], ["昭觉县", 2000, -95, 6, 4]])
    xlsx(case("凉山州 团委 2013年 上半年 统计表（终稿）.xlsx"), good_rows())
    case("full_width_digits.csv").write_bytes(
        csv_text([HEADER + ["统计期"], ["喜德县", "３０００", "１２０", "５", "５", "2013年上半年"]]).encode("utf-8"))
    case("utf16_excel_unicode_text.txt").write_bytes(csv_text(good_rows(True), sep="\t").encode("utf-16"))
    case("utf8_bom.csv").write_bytes(b"\xef\xbb\xbf" + csv_text(good_rows(True)).encode("utf-8"))
    case("semicolon_separated.csv").write_bytes(csv_text(good_rows(True), sep=";").encode("utf-8"))
    xlsx(case("placeholders.xlsx"),
         [HEADER, ["喜德县", "—", "/", "无", None], ["昭觉县", "暂无", "-", 6, 4]])
    xlsx(case("messy_numbers.xlsx"),
         [HEADER, ["喜德县", "约3,000人", "120个", " 5 ", "5人"], ["昭觉县", "2,000", "95", "６", "4"]])
    case("binary_garbage.xlsx").write_bytes(bytes(range(256)) * 4)
    case("spreadsheetml_2003.xls").write_bytes(
        b'<?xml version="1.0"?>\n<Workbook xmlns="urn:schemas-microsoft-com:office:spreadsheet">'
        b"<Worksheet><Table><Row><Cell><Data>1</Data></Cell></Row></Table></Worksheet></Workbook>")
    case("ole_header_only.xls").write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 1016)

    import xlwt

    book = xlwt.Workbook(encoding="utf-8")
    sh = book.add_sheet("汇总")
    sh.write_merge(0, 0, 0, 4, TITLE)
    for i, r in enumerate(good_rows()):
        for j, v in enumerate(r):
            sh.write(1 + i, j, v)
    buf = io.BytesIO()
    book.save(buf)
    case("legacy_biff8.xls").write_bytes(buf.getvalue())
    book = xlwt.Workbook(encoding="utf-8")
    sh = book.add_sheet("汇总")
    for i, r in enumerate(good_rows()):
        for j, v in enumerate(r):
            sh.write(i, j, v)
    sh.write(65535, 255, "x")  # the last cell BIFF8 allows: a 16.7-million-cell grid
    buf = io.BytesIO()
    book.save(buf)
    case("far_away_cell.xls").write_bytes(buf.getvalue())

    _xlsx_with_member(case("billion_laughs_sheet.xlsx"), good, "xl/worksheets/sheet1.xml",
                      _with_doctype(_LAUGHS))
    _xlsx_with_member(case("billion_laughs_workbook.xlsx"), good, "xl/workbook.xml",
                      _with_doctype(_LAUGHS))
    _xlsx_with_member(
        case("xxe_external_entity.xlsx"), good, "xl/worksheets/sheet1.xml",
        _with_doctype(b'<?xml version="1.0"?>\n<!DOCTYPE r [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>\n'))
    _xlsx_with_member(
        case("doctype_utf16_styles.xlsx"), good, "xl/styles.xml",
        lambda d: ('<?xml version="1.0" encoding="UTF-16"?>\n<!DOCTYPE x [<!ENTITY a "b">]>\n'
                   + _without_declaration(d).decode("utf-8")).encode("utf-16"))
    # one stray cell at the last row and column Excel allows: calamine would allocate the
    # whole 17-billion-cell grid and abort the process; the guard refuses it first
    _xlsx_with_member(case("far_away_cell.xlsx"), good, "xl/worksheets/sheet1.xml",
                      lambda d: d.replace(b"</sheetData>",
                                          b"<row r='1048576'><c r = 'XFD1048576' t='inlineStr'>"
                                          b"<is><t>x</t></is></c></row></sheetData>"))
    case("formula_injection.csv").write_bytes(csv_text(
        [HEADER + ["统计期", "备注"],
         ["=HYPERLINK(\"http://x\",\"点击\")", 10, 1, 1, 1, "2013年上半年", "=cmd|' /C calc'!A0"],
         ["喜德县", 3000, 120, 5, 5, "2013年上半年", "@SUM(1+1)"]]).encode("utf-8"))
    case("period_nowhere.csv").write_bytes(csv_text([HEADER] + ROWS).encode("utf-8"))
    xlsx(case("period_out_of_window.xlsx"), good_rows(), title="凉山州2030年上半年基层团建工作统计表")
    xlsx(case("title_only.xlsx"), [], title=TITLE)
    case("unbalanced_quotes.csv").write_bytes(
        ('县（市、区）,团员数（人）,统计期\n喜德县,"3000,2013年上半年\n昭觉县,2000,2013年上半年\n').encode("utf-8"))
    case("field_over_csv_limit.csv").write_bytes(
        ("县（市、区）,团员数（人）,统计期\n喜德县,3000,2013年上半年\n昭觉县,\"" + "x" * 200_000
         + "\",2013年上半年\n").encode("utf-8"))
    case("nul_bytes.csv").write_bytes(b"\x00\x00\x00\x00" + csv_text(good_rows(True)).encode("utf-8"))
    xlsx(case("county_form.xlsx"),
         [["指标", "数值", "单位", "备注"], ["团员数", "3000", "人", None],
          ["基层团组织数", "约120", "个", None], ["团县委核定编制数", 5, "人", None],
          ["县级团委年度工作经费", "150000", "元", "元 not 万元"]],
         title="喜德县基层团建情况表（2013年上半年）", sheet="喜德县")
    xlsx(case("unknown_columns.xlsx"),
         [HEADER + ["联系人电话"]] + [r + ["13800000000"] for r in ROWS])
    xlsx(case("bad_rates.xlsx"),
         [HEADER + ["团费收缴率"]] + [r + [v] for r, v in zip(ROWS, ["85%", "120%", "abc", "-5%"])])
    xlsx(case("two_visible_sheets_same_data.xlsx"), good_rows(),
         extra_sheets=[("汇总(2)", [[TITLE]] + good_rows())])
    xlsx(case("wide_empty_columns.xlsx"),
         [h + [None] * 40 + ["  "] for h in good_rows()])
    return made


# --------------------------------------------------------------------------------------------
# cases built at test time (large or hostile to a checkout)
def large_sheet(path: Path, n_rows: int = 100_000) -> Path:
    """A workbook with ``n_rows`` county rows of 团员数 (the four counties over and over, so
    every row after the first four repeats a key), written with xlsxwriter's constant-memory
    mode.  One value column keeps the test's run time to the reading, not the cleaning."""
    import xlsxwriter

    wb = xlsxwriter.Workbook(str(path), {"constant_memory": True})
    ws = wb.add_worksheet("汇总")
    ws.write_row(0, 0, [TITLE])
    ws.write_row(1, 0, HEADER[:2])
    for i in range(n_rows):
        ws.write_row(2 + i, 0, ROWS[i % len(ROWS)][:2])
    wb.close()
    return path


def zip_bomb(path: Path, good: Path, inflated_mb: int = 200) -> Path:
    """A valid workbook whose first sheet XML is padded with ``inflated_mb`` MiB of spaces
    inside the root element (about 200 KiB compressed: ratio about 1000:1)."""
    pad = b" " * (inflated_mb * 1024 * 1024)

    def transform(data: bytes) -> bytes:
        return data.replace(b"<sheetData>", b"<sheetData>" + pad, 1) if b"<sheetData>" in data else (
            data.replace(b"<sheetData", pad + b"<sheetData", 1))

    return _xlsx_with_member(path, good, "xl/worksheets/sheet1.xml", transform)


def symlink_loop(folder: Path, good: Path) -> Path:
    """A folder with one good workbook and a link back to itself (``loop -> .``)."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / good.name).write_bytes(good.read_bytes())
    os.symlink(".", folder / "loop", target_is_directory=True)
    os.symlink("../" + folder.name, folder / "parent_loop", target_is_directory=True)
    return folder


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else HERE
    names = build(target)
    print(f"{len(names)} cases written to {target}")
