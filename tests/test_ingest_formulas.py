"""Formulas saved without their result: found in the sheet XML, evaluated, audited or quarantined.

Expected values are worked out by hand; the evaluator is also compared with the independent
``formulas`` package (test-only dependency) on random arithmetic.
"""

from __future__ import annotations

import math

import openpyxl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from analysis.ingest import pipeline
from analysis.ingest.formulas import evaluate_formulas, uncached_formulas
from analysis.ingest.read import read_any


def _sheet_xml(cells: str) -> bytes:
    return ('<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="http://schemas.openxmlformats'
            f'.org/spreadsheetml/2006/main"><sheetData>{cells}</sheetData></worksheet>').encode()


def test_only_formulas_without_a_saved_result_are_found():
    xml = _sheet_xml(
        '<row r="1"><c r="A1"><v>1</v></c><c r="B1"><f>A1*3</f><v></v></c></row>'   # empty <v>
        '<row r="2"><c r="A2"><f>SUM(A1:A1)</f></c>'                                # no <v>
        '<c r="B2"><f>A1+1</f><v>2</v></c>'                                        # saved: skip
        '<c r="C2" t="str"><f>"x"&amp;"y"</f><v/></c><c r="D2"/></row>')            # entity, <v/>
    assert uncached_formulas(xml) == [(0, 1, "=A1*3"), (1, 0, "=SUM(A1:A1)"), (1, 2, '="x"&"y"')]
    # a prefixed namespace (x:c, x:f) as some writers use
    xml = (b'<x:worksheet xmlns:x="ns"><x:sheetData><x:row r="3"><x:c r="AA3"><x:f>1+1</x:f>'
           b'</x:c></x:row></x:sheetData></x:worksheet>')
    assert uncached_formulas(xml) == [(2, 26, "=1+1")]
    assert uncached_formulas(_sheet_xml('<row r="1"><c r="A1"><v>1</v></c></row>')) == []


GRID = [
    ["县", "团员数", "团组织数"],     # row 1
    ["喜德县", 300.0, 12.0],          # row 2
    ["昭觉县", 200.0, ""],            # row 3 (C3 empty)
    ["越西县", "约100", 8.0],         # row 4 (B4 text)
]


@pytest.mark.parametrize("text,value", [
    ("=B2+B3", 500.0),
    ("=B2-B3*2", -100.0),             # precedence: 300 - 400
    ("=(B2-B3)*2", 200.0),
    ("=B2/B3", 1.5),
    ("=-B2+B3", -100.0),
    ("=$B$2*2", 600.0),
    ("=SUM(B2:B3)", 500.0),
    ("=SUM(B2:C4)", 520.0),           # text B4 and empty C3 are skipped, as Excel does
    ("=SUM(B2,C2,7)", 319.0),
    ("=AVERAGE(C2:C4)", 10.0),        # (12 + 8) / 2: the empty cell is not counted
    ("=MAX(B2:B3)-MIN(B2:B3)", 100.0),
    ("=C3+1", 1.0),                   # an empty cell is 0 outside a function
    ("=120*2", 240.0),
    ("=86+64+70", 220.0),
])
def test_same_sheet_formulas_are_evaluated(text, value):
    (f,) = evaluate_formulas(GRID, [(5, 1, text)])
    assert f.value == pytest.approx(value) and f.reason == ""


@pytest.mark.parametrize("text,why", [
    ("=基础数据!D7", "another sheet"),
    ("=VLOOKUP(A2,基础数据!A:D,3,FALSE)", "another sheet"),
    ("=ROUND(B2,0)", "function ROUND"),
    ("=B4*2", "holds text"),          # arithmetic on text is #VALUE! in Excel
    ("=B2/C3", "division by zero"),
    ("=B2+", "ends too early"),
    ("=SUM(B2:B3", "ends too early"),
    ("=B2:B3", "range outside a function"),
    ('="x"&"y"', "uses"),
])
def test_other_formulas_are_not_guessed(text, why):
    (f,) = evaluate_formulas(GRID, [(5, 1, text)])
    assert f.value is None and why in f.reason, f.reason


def test_formulas_that_refer_to_formulas_and_cycles():
    # D2 = B2 + C2 (another unsaved formula's result), D3 = D2 * 2, E2 ↔ E3 refer to each other
    grid = [row + ["", ""] for row in GRID] + [[""] * 5]
    found = [(2, 3, "=D2*2"), (1, 3, "=B2+C2"), (1, 4, "=E3"), (2, 4, "=E2+1")]
    got = {(f.row, f.col): f for f in evaluate_formulas(grid, found)}
    assert got[(1, 3)].value == 312.0 and got[(2, 3)].value == 624.0
    assert got[(1, 4)].value is None and "circular" in got[(1, 4)].reason
    assert got[(2, 4)].value is None


def test_a_workbook_written_by_openpyxl_is_cleaned_with_its_formulas(tmp_path):
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "汇总"
    ws.append(["凉山州2013年上半年基层团建工作统计表"])
    ws.append(["县（市、区）", "团员数", "基层团组织数"])
    ws.append(["喜德县", "=1000+2000", 120])
    ws.append(["昭觉县", 2000, "=C3-20"])          # 100, from the evaluated … plain C3
    ws.append(["越西县", "=底稿!B2", 90])           # another sheet: not evaluated
    ws.append(["合计", "=SUM(B3:B5)", "=SUM(C3:C5)"])
    draft = wb.create_sheet("底稿")
    draft.append(["县", "团员数"])
    draft.append(["越西县", 2500])
    path = tmp_path / "凉山州_2013年上半年.xlsx"
    wb.save(path)
    sheet = read_any(path)[0]
    assert sheet.cells[2][1] == 3000.0 and sheet.cells[3][2] == 100.0
    assert sheet.cells[4][1] == "=底稿!B2"          # left as its text, for the message
    assert sheet.cells[5][2] == 310.0               # 120 + 100 + 90
    assert "formula(s) saved without their result" in sheet.note

    res = pipeline.clean([path], progress=False, salt=b"k")
    ind = res.indicators.set_index(["county_code", "indicator"])["value"]
    assert ind[("513432", "league_members")] == 3000.0
    assert ind[("513431", "league_orgs")] == 100.0
    q = res.quarantine
    assert q[["cell", "rule"]].values.tolist() == [["B5", "formula_not_cached"]]
    assert "在 Excel 中打开" in q["message"].iloc[0] and "其他工作表" in q["message"].iloc[0]
    audited = res.audit[res.audit["rule"] == "formula_evaluated"]
    assert sorted(zip(audited["source_cell"], audited["before"], audited["after"])) == [
        ("B3", "=1000+2000", "3000"), ("C4", "=C3-20", "100")]


# ------------------------------------------------------------------ against the formulas package

formulas = pytest.importorskip("formulas")

_CELLS = {"A1": 3.0, "B1": -2.5, "C1": 7.0, "A2": 0.5}


@st.composite
def expressions(draw, depth=0):
    """(formula text, value by plain Python arithmetic or None on division by zero)."""
    if depth >= 3 or draw(st.booleans()):
        if draw(st.booleans()):
            ref = draw(st.sampled_from(sorted(_CELLS)))
            return ref, _CELLS[ref]
        n = draw(st.integers(0, 99))
        return str(n), float(n)
    kind = draw(st.sampled_from(["+", "-", "*", "/", "neg", "paren", "sum"]))
    a_text, a = draw(expressions(depth=depth + 1))
    if kind == "neg":
        # a bare number or cell may follow the sign directly; anything longer needs brackets
        bare = a_text.replace(".", "").isalnum()
        return (f"-{a_text}" if bare else f"-({a_text})"), None if a is None else -a
    if kind == "paren":
        return f"({a_text})", a
    b_text, b = draw(expressions(depth=depth + 1))
    if kind == "sum":
        return f"SUM({a_text},{b_text})", None if None in (a, b) else a + b
    if a is None or b is None:
        return f"({a_text}){kind}({b_text})", None
    value = {"+": lambda: a + b, "-": lambda: a - b, "*": lambda: a * b,
             "/": lambda: a / b if b != 0 else None}[kind]()
    return f"({a_text}){kind}({b_text})", value


@settings(max_examples=60, deadline=None)
@given(expressions())
def test_evaluator_agrees_with_python_and_the_formulas_package(expr):
    text, expected = expr
    grid = [[_CELLS["A1"], _CELLS["B1"], _CELLS["C1"]], [_CELLS["A2"], "", ""], ["", "", ""]]
    (f,) = evaluate_formulas(grid, [(2, 2, "=" + text)])
    compiled = formulas.Parser().ast("=" + text)[1].compile()
    got = compiled(*[_CELLS[name] for name in compiled.inputs])
    got = got.item() if hasattr(got, "item") else got
    reference = None if str(got).startswith("#") else float(got)  # #DIV/0! and the like
    if expected is None:
        assert f.value is None and reference is None
    else:
        assert f.value == pytest.approx(expected, rel=1e-12, abs=1e-12)
        assert reference is not None and math.isclose(f.value, reference, rel_tol=1e-12,
                                                      abs_tol=1e-12)


def test_an_xls_written_by_xlwt_is_cleaned_with_its_formulas(tmp_path):
    # xlwt stores every formula with an empty-text result: calamine and xlrd read a blank
    import xlwt

    wb = xlwt.Workbook()
    ws = wb.add_sheet("汇总")
    draft = wb.add_sheet("底稿")  # xlwt needs a sheet before a formula names it
    draft.write(1, 1, 90)
    draft.visibility = 1  # hidden: a draft, not read
    rows = [["凉山州2013年上半年基层团建工作统计表"], ["县（市、区）", "团员数", "基层团组织数"],
            ["喜德县", 3000, 120], ["昭觉县", 2000, 95]]
    for r, row in enumerate(rows):
        for c, v in enumerate(row):
            ws.write(r, c, v)
    ws.write(4, 0, "越西县")
    ws.write(4, 1, xlwt.Formula("B3-500"))                 # 2500
    ws.write(4, 2, xlwt.Formula("底稿!B2"))                 # another sheet: not evaluated
    ws.write(5, 0, "合计")
    ws.write(5, 1, xlwt.Formula("SUM(B3:B5)"))              # 7500, through the unsaved B5
    ws.write(5, 2, xlwt.Formula("-(C3+C4)/2*-2"))           # 215
    path = tmp_path / "凉山州_2013年上半年.xls"
    wb.save(str(path))
    sheet = read_any(path)[0]
    assert sheet.cells[4][1] == 2500.0 and sheet.cells[5][1] == 7500.0 and sheet.cells[5][2] == 215.0
    assert sheet.formulas[(4, 1)].text == "=B3-500"
    assert sheet.formulas[(5, 1)].text == "=SUM(B3:B5)"
    assert sheet.formulas[(4, 2)].value is None

    res = pipeline.clean([path], progress=False, salt=b"k")
    ind = res.indicators.set_index(["county_code", "indicator"])["value"]
    assert ind[("513434", "league_members")] == 2500.0
    assert res.quarantine[["cell", "rule"]].values.tolist() == [["C5", "formula_not_cached"]]
    audited = res.audit[res.audit["rule"] == "formula_evaluated"]
    assert list(zip(audited["source_cell"], audited["before"])) == [("B5", "=B3-500")]
