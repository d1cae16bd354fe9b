"""Hostile input: archive bombs, XML entity attacks, formula injection, personal data.

Independent references: ``defusedxml`` must agree that each refused XML member is an entity
attack; pseudonyms are recomputed here with ``hmac`` from the standard library; the zip bomb's
sizes are worked out from how it is built (200 MiB of spaces).
"""

from __future__ import annotations

import hashlib
import hmac
import importlib.util
import stat
import subprocess
import time
import tracemalloc
import zipfile
from pathlib import Path

import pandas as pd
import pytest

from analysis.ingest.errors import UnreadableFileError
from analysis.ingest.guards import (
    ArchiveLimits,
    check_archive,
    is_formula_like,
    neutralize_formulas,
)
from analysis.ingest.pipeline import clean, load_salt, pseudonym
from analysis.ingest.read import read_any

ROOT = Path(__file__).resolve().parents[1]
BAD = ROOT / "tests" / "data" / "bad"
DEMO = ROOT / "data" / "raw" / "demo"
GOOD = BAD / "good_summary.xlsx"


def _corpus():
    spec = importlib.util.spec_from_file_location("make_corpus", BAD / "make_corpus.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


# ---------------------------------------------------------------------------------------------
# archive bombs
def test_zip_bomb_is_refused_from_the_directory_before_inflating(tmp_path):
    bomb = _corpus().zip_bomb(tmp_path / "bomb.xlsx", GOOD, inflated_mb=200)
    assert bomb.stat().st_size < 1024 * 1024  # ~200 KiB on disk for 200 MiB of XML
    tracemalloc.start()
    t0 = time.perf_counter()
    with pytest.raises(UnreadableFileError) as info:
        read_any(bomb)
    elapsed = time.perf_counter() - t0
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert info.value.rule == "zip_bomb"
    assert "xl/worksheets/sheet1.xml" in info.value.message
    assert str(info.value).startswith("bomb.xlsx: ")
    # refused from the declared sizes: nothing near 200 MiB was allocated, and quickly
    assert peak < 20 * 1024 * 1024
    assert elapsed < 5


def test_a_member_that_lies_about_its_size_is_caught_while_inflating(tmp_path):
    """Declared size 1 KiB, real size 3 MiB: the directory checks pass, the stream does not."""
    pad = b" " * (3 * 1024 * 1024)
    path = tmp_path / "liar.xlsx"
    with zipfile.ZipFile(GOOD) as zf:
        members = [(i.filename, zf.read(i.filename)) for i in zf.infolist()]
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as out:
        for name, data in members:
            out.writestr(name, data.replace(b"<sheetData>", b"<sheetData>" + pad)
                         if name == "xl/worksheets/sheet1.xml" else data)
    raw = bytearray(path.read_bytes())
    real = len(next(d for n, d in members if n == "xl/worksheets/sheet1.xml")) + len(pad)
    fake = 1024
    # patch the uncompressed size in the local header (offset 22) and the central directory
    # entry (offset 24) of that member
    with zipfile.ZipFile(path) as zf:
        info = zf.getinfo("xl/worksheets/sheet1.xml")
    local = info.header_offset
    assert int.from_bytes(raw[local + 22:local + 26], "little") == real
    raw[local + 22:local + 26] = fake.to_bytes(4, "little")
    name = b"xl/worksheets/sheet1.xml"
    central = raw.rfind(b"PK\x01\x02", 0, raw.rfind(name))
    assert int.from_bytes(raw[central + 24:central + 28], "little") == real
    raw[central + 24:central + 28] = fake.to_bytes(4, "little")
    path.write_bytes(bytes(raw))
    limits = ArchiveLimits(max_member_bytes=2 * 1024 * 1024)  # the declared 1 KiB passes
    with pytest.raises(UnreadableFileError) as info:
        check_archive(path, limits)
    assert info.value.rule in ("zip_bomb", "corrupt_zip")
    assert "xl/worksheets/sheet1.xml" in info.value.message


def test_limits_are_configurable_per_call_and_by_environment(tmp_path, monkeypatch):
    check_archive(GOOD)  # the defaults let a genuine workbook through
    with zipfile.ZipFile(GOOD) as zf:
        total = sum(i.file_size for i in zf.infolist())
    with pytest.raises(UnreadableFileError, match="in all"):
        check_archive(GOOD, ArchiveLimits(max_total_bytes=total - 1))
    check_archive(GOOD, ArchiveLimits(max_total_bytes=total))
    with pytest.raises(UnreadableFileError, match="archive members"):
        check_archive(GOOD, ArchiveLimits(max_members=3))
    monkeypatch.setenv("RESIDENCY_ZIP_MAX_MB", str(total / 2 / 1024 / 1024))
    assert ArchiveLimits.from_env().max_total_bytes == total // 2
    with pytest.raises(UnreadableFileError) as info:
        read_any(GOOD)
    assert info.value.rule == "zip_bomb"
    monkeypatch.setenv("RESIDENCY_ZIP_MAX_RATIO", "many")
    with pytest.raises(ValueError, match="RESIDENCY_ZIP_MAX_RATIO"):
        ArchiveLimits.from_env()


def test_the_used_area_of_a_sheet_is_limited_before_any_engine_runs():
    # good_summary.xlsx: title row + header + 4 counties = rows 1–6, columns A–E: 30 cells
    check_archive(GOOD, ArchiveLimits(max_cells=30))
    with pytest.raises(UnreadableFileError) as info:
        check_archive(GOOD, ArchiveLimits(max_cells=29))
    assert info.value.rule == "sheet_too_large" and "row 6, column 5" in info.value.message
    # the far-away cell would abort this very process inside calamine if it got that far
    with pytest.raises(UnreadableFileError, match="row 1048576, column 16384"):
        read_any(BAD / "far_away_cell.xlsx")


_MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_PKG_RELS = "http://schemas.openxmlformats.org/package/2006/relationships"
_DOC = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_FAR_CELL = '<row r="1"><c r="A1"><v>1</v></c></row><row r="1048576"><c r="XFD1048576"><v>2</v></c></row>'


def _workbook_with_sheet_at(path, part, target, rows, *, workbook="xl/workbook.xml", package_rels=True,
                            prolog=""):
    """A one-sheet xlsx written by hand whose worksheet part is ``part``, named by the workbook's
    relationship ``target`` (absolute or relative, as written); the workbook part is
    ``workbook``, found through ``_rels/.rels`` and ``[Content_Types].xml`` (only through the
    latter without ``package_rels``).  ``prolog`` goes between the worksheet's XML declaration
    and its root element."""
    folder, name = workbook.rsplit("/", 1)
    content_types = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
        '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
        '<Default Extension="xml" ContentType="application/xml"/>'
        f'<Override PartName="/{workbook}" '
        'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
        f'<Override PartName="/{part}" '
        'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
        '</Types>')
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("[Content_Types].xml", content_types)
        if package_rels:
            zf.writestr("_rels/.rels", f'<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="{_PKG_RELS}">'
                                       f'<Relationship Id="rId1" Type="{_DOC}/officeDocument" Target="{workbook}"/>'
                                       '</Relationships>')
        zf.writestr(workbook, f'<?xml version="1.0" encoding="UTF-8"?><workbook xmlns="{_MAIN}" xmlns:r="{_DOC}">'
                              '<sheets><sheet name="表" sheetId="1" r:id="rId1"/></sheets></workbook>')
        zf.writestr(f"{folder}/_rels/{name}.rels",
                    f'<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="{_PKG_RELS}">'
                    f'<Relationship Id="rId1" Type="{_DOC}/worksheet" Target="{target}"/></Relationships>')
        zf.writestr(part, f'<?xml version="1.0" encoding="UTF-8"?>{prolog}<worksheet xmlns="{_MAIN}">'
                          f'<sheetData>{rows}</sheetData></worksheet>')
    return path


def _engines_must_not_run(monkeypatch):
    """Make reaching calamine (or its openpyxl fallback) fail the test instead of aborting the
    process with a 17-billion-cell allocation."""
    from analysis.ingest import read as read_mod

    def reached(path):
        pytest.fail(f"an engine was asked to read {path}: the guard let a far-away cell through")

    monkeypatch.setattr(read_mod, "_read_calamine", reached)
    monkeypatch.setattr(read_mod, "_read_openpyxl", reached)


@pytest.mark.parametrize("part, target, workbook, package_rels", [
    # absolute target, a folder other than xl/worksheets/
    ("xl/other/s.xml", "/xl/other/s.xml", "xl/workbook.xml", True),
    # relative target climbing out of the workbook's folder and back
    ("xl/sheets/a.xml", "../xl/sheets/a.xml", "xl/workbook.xml", True),
    # plain relative target in another folder; the target spelt in other case (calamine
    # looks members up case-insensitively)
    ("xl/data/Sheet.xml", "DATA/sheet.XML", "xl/workbook.xml", True),
    # no _rels/.rels: calamine fails and openpyxl, the fallback, finds the workbook part
    # through [Content_Types].xml, at a path of its own
    ("xl/wb/s.xml", "s.xml", "xl/wb/book.xml", False),
])
def test_a_far_away_cell_in_a_sheet_outside_xl_worksheets_is_refused_before_any_engine(
        tmp_path, monkeypatch, part, target, workbook, package_rels):
    path = _workbook_with_sheet_at(tmp_path / "far.xlsx", part, target, _FAR_CELL,
                                   workbook=workbook, package_rels=package_rels)
    _engines_must_not_run(monkeypatch)
    with pytest.raises(UnreadableFileError) as info:
        read_any(path)
    assert info.value.rule == "sheet_too_large"
    assert f"member {part} reaches row 1048576, column 16384" in info.value.message


@pytest.mark.parametrize("cell", [
    '<c r="xfd1048576"><v>2</v></c>',  # lower case: calamine reads it as XFD1048576
    '<c r="Xfd1048576"><v>2</v></c>',
    '<c t="n"r="XFD1048576"><v>2</v></c>',  # no space before r: calamine takes it all the same
    '<c r="A99999999"><v>2</v></c>',  # eight digits: calamine builds 100 million rows (a hang)
])
def test_a_far_away_reference_in_any_spelling_is_refused_before_any_engine(tmp_path, monkeypatch, cell):
    """Issue 17, item 3: the guard read only upper-case references of at most 3 letters and 7
    digits, so r="xfd1048576" reached calamine, which aborted the process."""
    rows = '<row r="1"><c r="A1"><v>1</v></c></row><row r="3">' + cell + '</row>'
    path = _workbook_with_sheet_at(tmp_path / "far.xlsx", "xl/worksheets/sheet1.xml",
                                   "worksheets/sheet1.xml", rows)
    _engines_must_not_run(monkeypatch)
    with pytest.raises(UnreadableFileError) as info:
        read_any(path)
    assert info.value.rule == "sheet_too_large"
    assert str(info.value).startswith("far.xlsx: member xl/worksheets/sheet1.xml reaches row ")


_NO_REF_CELLS = "<c><v>1</v></c>" * 16384


@pytest.mark.parametrize("rows, where", [
    # the case: 16,384 cells without r on the last row (calamine panics)
    ('<row r="1048576">' + _NO_REF_CELLS + '</row>', "row 1048576, column 16384"),
    # the same with a cell above them (calamine aborts the process allocating 512 GiB)
    ('<row r="1"><c r="A1"><v>1</v></c></row><row r="1048576">' + _NO_REF_CELLS + '</row>',
     "row 1048576, column 16384"),
    # namespace-prefixed cells, which calamine reads as cells too
    ('<row r="1048576">' + "<x:c xmlns:x='urn:x'><x:v>1</x:v></x:c>" * 16384 + '</row>',
     "row 1048576, column 16384"),
    # an r inside another attribute's value is no reference
    ('<row r="1048576">' + "<c s='1 r=\"A1\"'><v>1</v></c>" * 16384 + '</row>',
     "row 1048576, column 16384"),
    # a row without r follows the row before it: 1,048,577 rows of 16 cells
    ('<row r="1048576"/><row>' + "<c><v>1</v></c>" * 16 + '</row>', "row 1048577, column 16"),
])
def test_cells_without_references_are_placed_by_position_before_any_engine(
        tmp_path, monkeypatch, rows, where):
    """Issue 17, item 2: the used area came from the references alone, so cells without an r
    attribute (placed by the engines one after the other) were not counted."""
    path = _workbook_with_sheet_at(tmp_path / "noref.xlsx", "xl/worksheets/sheet1.xml",
                                   "worksheets/sheet1.xml", rows)
    _engines_must_not_run(monkeypatch)
    with pytest.raises(UnreadableFileError) as info:
        read_any(path)
    assert info.value.rule == "sheet_too_large" and where in info.value.message


def test_a_small_sheet_without_references_is_measured_exactly_and_read(tmp_path, monkeypatch):
    from analysis.ingest import guards

    # row 1: A1, B1; row 2: A2, D2 (referenced), E2 (after D2); row 5: A5 → 5 rows × 5 columns
    rows = ('<row><c><v>1</v></c><c><v>2</v></c></row>'
            '<row><c><v>3</v></c><c r="D2"><v>4</v></c><c><v>5</v></c></row>'
            '<row r="5"><c><v>6</v></c></row>')
    path = _workbook_with_sheet_at(tmp_path / "noref.xlsx", "xl/worksheets/sheet1.xml",
                                   "worksheets/sheet1.xml", rows)
    check_archive(path, ArchiveLimits(max_cells=25))
    with pytest.raises(UnreadableFileError, match="reaches row 5, column 5: 25 cells"):
        check_archive(path, ArchiveLimits(max_cells=24))
    monkeypatch.setattr(guards, "_CHUNK", 7)  # tags cut by every chunk boundary: the same count
    with pytest.raises(UnreadableFileError, match="reaches row 5, column 5: 25 cells"):
        check_archive(path, ArchiveLimits(max_cells=24))
    monkeypatch.undo()
    (sheet,) = read_any(path)
    assert sheet.cells == [[1.0, 2.0, "", "", ""], [3.0, "", "", 4.0, 5.0], [""] * 5, [""] * 5,
                           [6.0, "", "", "", ""]]


def test_a_calamine_panic_is_an_unreadable_file_not_a_crash(tmp_path, monkeypatch):
    """Issue 17, item 2: calamine's panic arrives as pyo3's PanicException, a BaseException that
    ``except Exception`` let through.  With the guard switched off, the issue's sheet makes
    calamine panic for real; the file must be refused, and not given to openpyxl (which would
    build the 17-billion-cell grid)."""
    from analysis.ingest import read as read_mod
    from analysis.ingest.guards import ArchiveScan

    path = _workbook_with_sheet_at(tmp_path / "panic.xlsx", "xl/worksheets/sheet1.xml",
                                   "worksheets/sheet1.xml", '<row r="1048576">' + _NO_REF_CELLS + '</row>')
    monkeypatch.setattr(read_mod, "check_open_archive", lambda *args, **kwargs: ArchiveScan())
    monkeypatch.setattr(read_mod, "_read_openpyxl",
                        lambda p: pytest.fail("openpyxl was asked to read the file calamine panicked on"))
    with pytest.raises(UnreadableFileError) as info:
        read_any(path)
    assert info.value.rule == "unreadable"
    assert str(info.value).startswith("panic.xlsx: cannot be read: the calamine engine crashed")
    assert "chunk size must be non-zero" in info.value.message


def test_a_sheet_outside_xl_worksheets_still_reads_with_its_error_cells(tmp_path):
    rows = ('<row r="1"><c r="A1" t="inlineStr"><is><t>县</t></is></c><c r="B1"><v>5</v></c></row>'
            '<row r="2"><c r="A2" t="inlineStr"><is><t>喜德县</t></is></c><c r="B2" t="e"><v>#DIV/0!</v></c></row>')
    path = _workbook_with_sheet_at(tmp_path / "off_path.xlsx", "xl/other/s.xml", "/xl/other/s.xml", rows)
    scan = check_archive(path)
    assert scan.error_parts == {"xl/other/s.xml"} and scan.sheet_names == {"xl/other/s.xml": "表"}
    # the used area is measured there too: rows 1–2, columns A–B
    check_archive(path, ArchiveLimits(max_cells=4))
    with pytest.raises(UnreadableFileError, match="member xl/other/s.xml reaches row 2, column 2"):
        check_archive(path, ArchiveLimits(max_cells=3))
    (sheet,) = read_any(path)
    assert sheet.name == "表" and sheet.engine == "calamine"
    assert sheet.cells == [["县", 5.0], ["喜德县", "#DIV/0!"]]


def test_text_files_over_the_size_limit_are_refused_before_reading(tmp_path, monkeypatch):
    path = tmp_path / "big.csv"
    path.write_bytes(b"a,b\n" + b"1,2\n" * 300_000)  # 1.2 MB
    assert len(read_any(path)[0].cells) == 300_001
    monkeypatch.setenv("RESIDENCY_MAX_TEXT_MB", "1")
    with pytest.raises(UnreadableFileError) as info:
        read_any(path)
    assert info.value.rule == "too_large" and str(info.value).startswith("big.csv: ")
    html = tmp_path / "big.xls"
    html.write_bytes(b"<html><table>" + b"<tr><td>1</td></tr>" * 60_000 + b"</table></html>")
    with pytest.raises(UnreadableFileError, match="RESIDENCY_MAX_TEXT_MB"):
        read_any(html)


def test_every_demo_workbook_passes_the_guards():
    books = sorted(DEMO.rglob("*.xlsx"))
    assert len(books) > 100
    for book in books:
        check_archive(book)


# ---------------------------------------------------------------------------------------------
# XML attacks
XML_ATTACKS = {
    "billion_laughs_sheet.xlsx": "xl/worksheets/sheet1.xml",
    "billion_laughs_workbook.xlsx": "xl/workbook.xml",
    "xxe_external_entity.xlsx": "xl/worksheets/sheet1.xml",
    "doctype_utf16_styles.xlsx": "xl/styles.xml",
}


@pytest.mark.parametrize("name,member", sorted(XML_ATTACKS.items()))
def test_xml_entity_attacks_are_refused_and_defusedxml_agrees(name, member):
    from defusedxml import DTDForbidden, EntitiesForbidden, ExternalReferenceForbidden
    from defusedxml.ElementTree import fromstring

    with zipfile.ZipFile(BAD / name) as zf:
        data = zf.read(member)
    with pytest.raises((EntitiesForbidden, DTDForbidden, ExternalReferenceForbidden)):
        fromstring(data, forbid_dtd=False)  # the reference says: this member is an attack
    with pytest.raises(UnreadableFileError) as info:
        read_any(BAD / name)
    assert info.value.rule == "xml_doctype"
    assert member in info.value.message


def test_doctype_split_across_read_chunks_is_found(tmp_path, monkeypatch):
    from analysis.ingest import guards

    monkeypatch.setattr(guards, "_CHUNK", 7)  # "<!DOCTYPE" spans chunk boundaries
    with pytest.raises(UnreadableFileError, match="DOCTYPE"):
        check_archive(BAD / "billion_laughs_sheet.xlsx")
    check_archive(GOOD)


_LAUGHS = ('<!DOCTYPE worksheet [<!ENTITY a "aaaaaaaaaa">'
           '<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]>')
_CELL_B = '<row r="1"><c r="A1" t="inlineStr"><is><t>&b;</t></is></c></row>'


@pytest.mark.parametrize("part", ["xl/data/s.bin", "xl/data/sheet"])
def test_a_doctype_in_a_sheet_part_not_named_xml_is_refused(tmp_path, part):
    """The relationships may name a sheet part anything; it is XML to the engines, so its
    prolog is checked whatever its extension."""
    path = _workbook_with_sheet_at(tmp_path / "bin.xlsx", part, "/" + part, _CELL_B, prolog=_LAUGHS)
    with pytest.raises(UnreadableFileError) as info:
        check_archive(path)
    assert info.value.rule == "xml_doctype" and f"member {part} declares" in info.value.message


@pytest.mark.parametrize("before", [
    "<!-- <x -->",  # a comment holding what looks like a start tag
    "<?pi <x?>",  # a processing instruction holding one
    "<!-- a --><?pi b?><!-- <x> -->\n",
])
@pytest.mark.parametrize("chunk", [7, 1024 * 1024])
def test_a_doctype_after_a_comment_or_instruction_is_refused(tmp_path, monkeypatch, before, chunk):
    from analysis.ingest import guards

    monkeypatch.setattr(guards, "_CHUNK", chunk)  # 7: the markup spans chunk boundaries
    path = _workbook_with_sheet_at(tmp_path / "c.xlsx", "xl/worksheets/sheet1.xml", "worksheets/sheet1.xml",
                                   _CELL_B, prolog=before + _LAUGHS)
    with pytest.raises(UnreadableFileError) as info:
        check_archive(path)
    assert info.value.rule == "xml_doctype"


def test_comments_and_instructions_before_the_root_are_harmless(tmp_path, monkeypatch):
    from analysis.ingest import guards

    rows = '<row r="1"><c r="A1"><v>1</v></c></row>'
    path = _workbook_with_sheet_at(tmp_path / "ok.xlsx", "xl/worksheets/sheet1.xml", "worksheets/sheet1.xml",
                                   rows, prolog="<!-- made by <x> --><?mso-application progid?>\n")
    (sheet,) = read_any(path)
    assert sheet.cells == [[1.0]]
    monkeypatch.setattr(guards, "_CHUNK", 5)
    check_archive(path)


def test_a_doctype_word_inside_cell_text_is_not_an_attack(tmp_path):
    import openpyxl

    wb = openpyxl.Workbook()
    wb.active.append(["<!DOCTYPE is just text here", 1])
    path = tmp_path / "text.xlsx"
    wb.save(path)
    check_archive(path)  # after the root element, text is data, not a declaration


# ---------------------------------------------------------------------------------------------
# formula injection
@pytest.mark.parametrize("text,formula", [
    ("=1+1", True), ("+41", True), ("-2", True), ("@SUM(A1)", True), ("\tx", True),
    ("\r=1", True), ("喜德县", False), ("—", False), ("", False), (" =1", False), (3, False),
])
def test_formula_like_text(text, formula):
    assert is_formula_like(text) is formula


def test_neutralize_formulas_prefixes_only_formula_like_text():
    frame = pd.DataFrame({"county": ["=HYPERLINK(\"http://x\",\"a\")", "喜德县", None],
                          "value": [-1.0, 2.0, 3.0],
                          "=bad header": ["@x", "ok", "-y"]})
    out = neutralize_formulas(frame)
    assert out["county"].tolist()[:2] == ["'=HYPERLINK(\"http://x\",\"a\")", "喜德县"]
    assert out["county"].isna().tolist() == [False, False, True]
    assert out["value"].tolist() == [-1.0, 2.0, 3.0]  # numbers are not text: untouched
    assert list(out.columns) == ["county", "value", "'=bad header"]
    assert out["'=bad header"].tolist() == ["'@x", "ok", "'-y"]
    assert frame["county"].iloc[0].startswith("=")  # the input is not modified


def _csv_cells(path: Path) -> list[str]:
    import csv

    with path.open(encoding="utf-8-sig", newline="") as fh:
        return [c for row in csv.reader(fh) for c in row]


def test_csv_outputs_neutralise_formula_injection(tmp_path):
    clean([BAD / "formula_injection.csv"], out_dir=tmp_path, progress=False, salt=b"s")
    for name in ("quarantine.csv", "audit.csv", "files.csv"):
        bad = [c for c in _csv_cells(tmp_path / name) if is_formula_like(c)]
        assert not bad, f"{name}: {bad[:3]}"


@pytest.mark.parametrize("text, neutral", [
    ("喜德县\r=1+1", "喜德县\r'=1+1"),  # a bare carriage return, then a formula
    ("\r=1+1", "'\r'=1+1"),
    ("a\r\n-2", "a\r\n'-2"),
    ("a\n\n@SUM(A1)", "a\n\n'@SUM(A1)"),
    ("备注\u2028=cmd", "备注\u2028'=cmd"),  # any line break str.splitlines knows
    ("第一行\n第二行", "第一行\n第二行"),  # no formula after the break: left alone
])
def test_formulas_after_a_line_break_are_neutralised(text, neutral):
    """Issue 17, item 5: only the first character was checked."""
    assert is_formula_like(text) is (text != neutral)
    assert neutralize_formulas(pd.DataFrame({"c": [text]}))["c"].tolist() == [neutral]


def test_csv_text_quotes_every_field_with_a_line_break():
    from analysis.fileio import csv_text

    frame = pd.DataFrame({"a": ["x\ry", "x\ny", "x\r\ny", 'say "hi"', "plain"], "b": [1.5, 2, 3, 4, 5]})
    expected = ('a,b\n"x\ry",1.5\n"x\ny",2.0\n"x\r\ny",3.0\n"say ""hi""",4.0\nplain,5.0\n')
    assert csv_text(frame, index=False) == expected
    plain = frame.iloc[3:]  # without line breaks: exactly what to_csv with "\n" ends gives
    assert csv_text(plain, index=False) == plain.to_csv(index=False, lineterminator="\n")


def test_a_carriage_return_in_a_value_cannot_split_a_csv_output_row(tmp_path):
    """Issue 17, item 5: "\r=1+1" as a county name was written unquoted, so quarantine.csv
    had a row starting with =1+1."""
    import csv

    raw = tmp_path / "cr.csv"
    # 2013年上半年, one county row whose name holds a bare CR and a formula (quoted in the CSV)
    raw.write_text('县（市、区）,团员数（人）,基层团组织数（个）,统计期\n'
                   '"喜德县\r=1+1",3000,120,2013年上半年\n', encoding="utf-8")
    result = clean([raw], out_dir=tmp_path / "out", progress=False, salt=b"s")
    assert set(result.quarantine["rule"]) == {"county_unknown"} and len(result.quarantine) == 2
    text = (tmp_path / "out" / "quarantine.csv").read_text(encoding="utf-8-sig")
    with (tmp_path / "out" / "quarantine.csv").open(encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.reader(fh))
    assert len(rows) == 3 and {len(r) for r in rows} == {len(rows[0])}  # header + 2 cells
    county = rows[0].index("county")
    assert [r[county] for r in rows[1:]] == ["喜德县\r'=1+1"] * 2
    # a reader that splits at every line break and comma still meets no formula
    pieces = [f.lstrip('"') for line in text.splitlines() for f in line.split(",")]
    assert not [f for f in pieces if f.startswith(("=", "+", "@"))]


def test_excel_tables_write_formula_like_text_as_text(tmp_path):
    import openpyxl

    from analysis import export

    frame = pd.DataFrame({"县": ["=cmd|' /C calc'!A0", "喜德县"], "值": [1, 2]})
    path = tmp_path / "t.xlsx"
    export.write_table_xlsx(frame, path)
    wb = openpyxl.load_workbook(path)
    cells = [c for ws in wb.worksheets for row in ws.iter_rows() for c in row
             if isinstance(c.value, str) and "cmd|" in c.value]
    # stored as a string with Excel's quote prefix, never as a formula
    assert cells and all(c.data_type == "s" and c.quotePrefix for c in cells)


# ---------------------------------------------------------------------------------------------
# personal data
def _demo_subset() -> list[Path]:
    return [DEMO / "驻点干部名册.xlsx", DEMO / "2013年上半年"]


@pytest.fixture(scope="module")
def demo_clean(tmp_path_factory):
    out = tmp_path_factory.mktemp("processed")
    result = clean(_demo_subset(), out_dir=out, progress=False, salt=b"fixed-test-salt")
    return out, result


@pytest.fixture(scope="module")
def demo_names() -> list[str]:
    """Every official's name, from the 姓名 column of the raw roster fed to the clean step.

    ``analysis.demo.truth().roster["official"]`` holds the same names but rebuilds the whole
    demo (10–20 s on the shared CI machine); the raw file is what the pipeline actually read.
    """
    sheets = pd.read_excel(DEMO / "驻点干部名册.xlsx", header=None, sheet_name=None,
                           engine="calamine", dtype=object)
    names: set[str] = set()
    for grid in sheets.values():
        header = grid.index[grid.eq("姓名").any(axis=1)][0]
        col = grid.columns[grid.loc[header].eq("姓名")][0]
        names |= {str(v).strip() for v in grid.loc[header + 1:, col].dropna() if str(v).strip()}
    return sorted(names)


def _output_texts(folder: Path) -> dict[str, str]:
    texts = {}
    for p in sorted(folder.iterdir()):
        if p.suffix == ".parquet":
            texts[p.name] = pd.read_parquet(p).astype(str).to_csv(index=False)
        elif p.suffix == ".csv":
            texts[p.name] = p.read_text(encoding="utf-8-sig")
    return texts


def test_no_officials_name_reaches_the_processed_outputs(demo_clean, demo_names):
    out, result = demo_clean
    names = demo_names
    assert len(names) > 300
    assert len(result.roster) > 0 and result.roster["cadre_id"].notna().all()
    texts = _output_texts(out)
    assert {"roster.parquet", "quarantine.csv", "audit.csv"} <= set(texts)
    leaks = [(n, f) for f, t in texts.items() for n in names if n in t]
    assert not leaks, leaks[:5]


def test_pseudonyms_are_keyed_stable_and_differ_with_the_salt(demo_clean, demo_names):
    _, result = demo_clean
    name = demo_names[0]
    expected = "P" + hmac.new(b"fixed-test-salt", name.encode("utf-8"), hashlib.sha256).hexdigest()[:16]
    assert pseudonym(name, b"fixed-test-salt") == expected
    assert expected in set(result.roster["cadre_id"])
    assert pseudonym(name, b"another-salt") != expected
    # a dictionary attack without the salt finds nothing: plain hashes of every name miss
    plain = {"P" + hashlib.sha256(n.encode("utf-8")).hexdigest()[:16] for n in demo_names}
    assert not plain & set(result.roster["cadre_id"])


def test_salt_file_is_private_and_ignored_by_git(tmp_path, monkeypatch):
    monkeypatch.delenv("RESIDENCY_SALT", raising=False)
    salt_file = tmp_path / ".salt"
    first = load_salt(salt_file)
    assert load_salt(salt_file) == first and len(first) >= 32
    assert stat.S_IMODE(salt_file.stat().st_mode) == 0o600
    for candidate in ("data/processed/.salt", "somewhere/else.salt"):
        ignored = subprocess.run(["git", "check-ignore", "-q", candidate], cwd=ROOT)
        assert ignored.returncode == 0, f"{candidate} is not ignored by git"
    tracked = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True).stdout
    assert not [f for f in tracked.splitlines() if f.endswith(".salt")]
