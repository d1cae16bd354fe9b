"""parse_value: every mess kind with its expected clean value worked out by hand."""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from analysis.ingest.errors import ValueParseError
from analysis.ingest.values import Parsed, parse_value

# (raw, type, unit, header_unit, expected value, status, rule)
CASES = [
    # blanks and placeholders keep their reason
    (None, "count", None, None, None, "missing", "blank"),
    ("", "count", None, None, None, "missing", "blank"),
    ("   ", "count", None, None, None, "missing", "blank"),
    (float("nan"), "count", None, None, None, "missing", "blank"),
    (pd.NA, "count", None, None, None, "missing", "blank"),
    (np.int64(7), "count", None, None, 7, "ok", "number"),
    (np.float64(0.5), "rate", "%", None, 50.0, "ok", "share_to_percent"),
    ("—", "count", None, None, None, "missing", "placeholder"),
    ("-", "count", None, None, None, "missing", "placeholder"),
    ("/", "count", None, None, None, "missing", "placeholder"),
    ("无", "count", None, None, None, "missing", "placeholder"),
    ("暂无", "count", None, None, None, "missing", "placeholder"),
    ("空", "count", None, None, None, "missing", "placeholder"),
    ("N/A", "count", None, None, None, "missing", "placeholder"),
    ("未填", "count", None, None, None, "missing", "placeholder"),
    ("——", "money", "万元", None, None, "missing", "placeholder"),
    # numbers with text
    ("约300", "count", "人", None, 300, "ok", "number_with_text"),
    ("300人", "count", "人", None, 300, "ok", "number_with_text"),
    ("300个", "count", "个", None, 300, "ok", "number_with_text"),
    ("300余人", "count", "人", None, 300, "ok", "number_with_text"),
    ("1,234", "count", None, None, 1234, "ok", "thousands_separator"),
    ("1 234", "count", None, None, 1234, "ok", "thousands_separator"),
    ("12,345,678", "count", None, None, 12345678, "ok", "thousands_separator"),
    ("3.0E+02", "count", None, None, 300, "ok", "number"),
    ("300", "count", None, None, 300, "ok", "number"),
    (300.0, "count", None, None, 300, "ok", "number"),
    # full width (NFKC)
    ("３００", "count", None, None, 300, "ok", "number"),
    ("１，２３４", "count", None, None, 1234, "ok", "thousands_separator"),
    ("８５％", "rate", "%", None, 85, "ok", "percent_sign"),
    # negatives and real minus signs
    ("-5", "number", None, None, -5, "ok", "number"),
    ("\u22125", "number", None, None, -5, "ok", "number"),
    ("－5", "number", None, None, -5, "ok", "number"),
    (-2.5, "number", None, None, -2.5, "ok", "number"),
    # percentages in all three forms
    ("85%", "rate", "%", None, 85, "ok", "percent_sign"),
    ("85.5%", "rate", "%", None, 85.5, "ok", "percent_sign"),
    (0.85, "rate", "%", None, 85.0, "ok", "share_to_percent"),
    ("0.85", "rate", "%", None, 85.0, "ok", "share_to_percent"),
    (85, "rate", "%", None, 85, "ok", "number"),
    ("85", "rate", "%", None, 85, "ok", "number"),
    (1, "rate", "%", None, 100.0, "ok", "share_to_percent"),
    # money: cell unit, header unit, per person
    ("3000元", "money", "万元", None, 0.3, "ok", "unit_conversion"),
    (3000, "money", "万元", "元", 0.3, "ok", "unit_conversion"),
    ("3", "money", "万元", "万元", 3, "ok", "number"),
    ("5万元", "money", "万元", "元", 5, "ok", "number"),  # the cell's own unit wins
    ("0.5元/人", "money", "元/人", None, 0.5, "ok", "number"),
    ("1.2万", "money", "万元", None, 1.2, "ok", "number_with_text"),
    ("￥3000", "money", "万元", None, 0.3, "ok", "unit_conversion"),
    ("三千元", "money", "万元", None, 0.3, "ok", "unit_conversion"),
    ("百分之八十五", "rate", "%", None, 85, "ok", "chinese_numeral"),
    ("暂未建立", "bool", None, None, 0, "ok", "yes_no"),
    ("有（3次）", "bool", None, None, 1, "ok", "yes_no"),
    # yes / no vocabulary
    ("是", "bool", None, None, 1, "ok", "yes_no"),
    ("否", "bool", None, None, 0, "ok", "yes_no"),
    ("有", "bool", None, None, 1, "ok", "yes_no"),
    ("无", "bool", None, None, 0, "ok", "yes_no"),
    ("√", "bool", None, None, 1, "ok", "yes_no"),
    ("×", "bool", None, None, 0, "ok", "yes_no"),
    ("✓", "bool", None, None, 1, "ok", "yes_no"),
    ("✗", "bool", None, None, 0, "ok", "yes_no"),
    ("已建立", "bool", None, None, 1, "ok", "yes_no"),
    ("未建立", "bool", None, None, 0, "ok", "yes_no"),
    ("已", "bool", None, None, 1, "ok", "yes_no"),
    ("未", "bool", None, None, 0, "ok", "yes_no"),
    ("Y", "bool", None, None, 1, "ok", "yes_no"),
    ("N", "bool", None, None, 0, "ok", "yes_no"),
    ("yes", "bool", None, None, 1, "ok", "yes_no"),
    ("No", "bool", None, None, 0, "ok", "yes_no"),
    ("TRUE", "bool", None, None, 1, "ok", "yes_no"),
    ("false", "bool", None, None, 0, "ok", "yes_no"),
    ("1", "bool", None, None, 1, "ok", "yes_no"),
    (0, "bool", None, None, 0, "ok", "yes_no"),
    (True, "bool", None, None, 1, "ok", "yes_no"),
    (1.0, "bool", None, None, 1, "ok", "yes_no"),
    ("—", "bool", None, None, None, "missing", "placeholder"),
    ("2", "bool", None, None, None, "error", "not_yes_no"),
    ("也许", "bool", None, None, None, "error", "not_yes_no"),
    # Chinese numerals
    ("三百", "count", None, None, 300, "ok", "chinese_numeral"),
    ("一千二百", "count", None, None, 1200, "ok", "chinese_numeral"),
    ("一千二", "count", None, None, 1200, "ok", "chinese_numeral"),
    ("两", "count", None, None, 2, "ok", "chinese_numeral"),
    ("十二", "count", None, None, 12, "ok", "chinese_numeral"),
    ("二十", "count", None, None, 20, "ok", "chinese_numeral"),
    ("三百零五", "count", None, None, 305, "ok", "chinese_numeral"),
    ("一万二千", "count", None, None, 12000, "ok", "chinese_numeral"),
    ("1.2万人", "count", None, None, 12000, "ok", "chinese_numeral"),
    ("约三百人", "count", None, None, 300, "ok", "chinese_numeral"),
    # Excel error cells
    ("#DIV/0!", "rate", "%", None, None, "error", "excel_error"),
    ("#N/A", "count", None, None, None, "error", "excel_error"),
    ("#VALUE!", "count", None, None, None, "error", "excel_error"),
    ("#REF!", "money", "万元", None, None, "error", "excel_error"),
    # what cannot be read
    ("约三百多个左右吧", "count", None, None, None, "error", "not_a_number"),
    ("abc", "count", None, None, None, "error", "not_a_number"),
    ("300-400", "count", None, None, None, "error", "range_not_number"),
    ("1,23", "count", None, None, None, "error", "not_a_number"),
    ("是", "count", None, None, None, "error", "yes_no_for_number"),
    ("85%", "count", None, None, None, "error", "wrong_unit"),
    ("3000元", "count", None, None, None, "error", "wrong_unit"),
    ("0.5元/人", "money", "万元", None, None, "error", "wrong_unit"),
    (dt.date(2013, 6, 30), "count", None, None, None, "error", "date_not_number"),
    (float("inf"), "count", None, None, None, "error", "not_finite"),
    (True, "count", None, None, None, "error", "not_a_number"),
]


@pytest.mark.parametrize("raw,type_,unit,header_unit,value,status,rule", CASES)
def test_parse_value_cases(raw, type_, unit, header_unit, value, status, rule):
    p = parse_value(raw, type_, unit=unit, header_unit=header_unit)
    assert (p.status, p.rule) == (status, rule), p
    if value is None:
        assert p.value is None
    else:
        assert p.value == pytest.approx(value, rel=1e-12, abs=1e-12)


def test_reasons_are_kept():
    assert parse_value("暂无", "count").note == 'placeholder "暂无"'
    assert "约" in parse_value("约300", "count").note
    share = parse_value(0.85, "rate", unit="%")
    assert "share" in share.note  # the ×100 is told, not silent
    conv = parse_value(3000, "money", unit="万元", header_unit="元")
    assert "元" in conv.note and "万元" in conv.note


def test_ints_stay_exact():
    big = 2**63 + 12345
    assert parse_value(big, "count").value == big
    assert parse_value(str(big), "count").value == big
    assert isinstance(parse_value(300.0, "count").value, int)
    assert isinstance(parse_value("1,234", "count").value, int)


def test_error_message_reads_for_a_clerk():
    p = parse_value("约三百多个左右吧", "count")
    err = ValueParseError(p.note, file="data/喜德县.xlsx", sheet="汇总", cell="D7", value="约三百多个左右吧", rule=p.rule)
    text = str(err)
    assert text.startswith('喜德县.xlsx, sheet 汇总, cell D7: "约三百多个左右吧" is not a number')
    assert text.endswith("(rule: not_a_number)")
    assert "请" in text  # a hint in the clerk's language


def test_bad_type_is_a_programming_error():
    with pytest.raises(ValueError, match="type="):
        parse_value("1", "integer")  # type: ignore[arg-type]


def test_parsed_is_frozen():
    p = Parsed(1, "ok", "number")
    with pytest.raises(AttributeError):
        p.value = 2  # type: ignore[misc]


# --- properties ---------------------------------------------------------------------------

anything = st.one_of(
    st.none(), st.text(max_size=20), st.floats(allow_nan=True, allow_infinity=True),
    st.integers(), st.booleans(),
    st.text(alphabet="0123456789,.%-−约人个元万千百十一二三四五六七八九零两 /#!ENA是否√×", max_size=12),
)


@settings(max_examples=300, deadline=None)
@given(raw=anything, type_=st.sampled_from(["count", "rate", "money", "bool", "number"]),
       unit=st.sampled_from([None, "万元", "元/人", "%", "人"]), header_unit=st.sampled_from([None, "元", "万元"]))
def test_never_raises(raw, type_, unit, header_unit):
    p = parse_value(raw, type_, unit=unit, header_unit=header_unit)
    assert p.status in ("ok", "missing", "error")
    assert (p.value is None) == (p.status != "ok")
    assert p.rule
    if p.status == "error":
        assert p.note  # a message for the clerk
    if p.value is not None:
        assert math.isfinite(p.value)


@settings(max_examples=200, deadline=None)
@given(v=st.integers(min_value=-10**20, max_value=10**20))
def test_idempotent_on_clean_ints(v):
    first = parse_value(v, "count")
    assert first.value == v
    assert parse_value(str(first.value), "count").value == v


@settings(max_examples=200, deadline=None)
@given(v=st.floats(allow_nan=False, allow_infinity=False, min_value=-1e12, max_value=1e12),
       type_=st.sampled_from(["number", "money"]))
def test_idempotent_on_clean_floats(v, type_):
    first = parse_value(v, type_, unit="万元" if type_ == "money" else None)
    assert first.value == v
    assert parse_value(str(first.value), type_, unit="万元" if type_ == "money" else None).value == v


@settings(max_examples=200, deadline=None)
@given(v=st.floats(min_value=1.0001, max_value=100.0))
def test_idempotent_on_clean_rates(v):
    # rates ≤ 1 are read as shares (documented), so idempotence holds above 1
    first = parse_value(v, "rate", unit="%")
    assert first.value == v
    assert parse_value(str(first.value), "rate", unit="%").value == v
