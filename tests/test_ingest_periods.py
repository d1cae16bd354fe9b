"""parse_period and periods_from_file: every written form, with the half-year worked out by hand."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from analysis.ingest.errors import PeriodError
from analysis.ingest.periods import (is_whole_year, parse_period, period_sort_key,
                                     periods_from_file, sheet_period)

CASES = [
    ("2012H1", "2012H1"),
    ("2012h2", "2012H2"),
    ("2012年上半年", "2012H1"),
    ("2012年下半年", "2012H2"),
    ("2012上半年", "2012H1"),
    ("2012年1-6月", "2012H1"),
    ("2012年7-12月", "2012H2"),
    ("2012年1—6月", "2012H1"),
    ("2012年1～6月", "2012H1"),
    ("2012年7至12月", "2012H2"),
    ("2012年1-12月", "2012H2"),   # a whole year is as of 31 December
    ("截至2012年6月30日", "2012H1"),
    ("截止2013年12月31日", "2013H2"),
    ("2012.6", "2012H1"),
    ("2012.12", "2012H2"),
    ("2012-06", "2012H1"),
    ("2012-06-30", "2012H1"),
    ("2012/12/31", "2012H2"),
    ("2012年6月", "2012H1"),
    ("2012年7月", "2012H2"),
    ("2012年度", "2012H2"),
    ("2012年全年", "2012H2"),
    ("2012年第一季度", "2012H1"),
    ("2012年三季度", "2012H2"),
    ("２０１３年上半年", "2013H1"),       # full width
    ("二〇一三年上半年", "2013H1"),       # Chinese-digit year
    ("凉山州2013年1—6月基层团建工作统计汇总表", "2013H1"),
    ("2013年上半年（截至2013年6月30日）", "2013H1"),  # two agreeing readings
    ("喜德县_2013H2.xlsx", "2013H2"),
    (dt.date(2013, 7, 1), "2013H2"),
    (dt.datetime(2009, 3, 31, 12, 0), "2009H1"),
    (2012.6, "2012H1"),
    # nothing, or nothing we can decide
    ("2012年3-9月", None),                   # spans both halves
    ("2012年下半年至2013年上半年", None),      # two different periods
    ("驻点工作干部名册（第一轮，2008—2010年）", None),  # a span of years
    ("2012-2014", None),
    ("基层团建工作统计表", None),
    ("510000", None),                        # a county code is not a year
    ("", None),
    (None, None),
    (True, None),
    ("2012年13月", None),
]


@pytest.mark.parametrize("text,expected", CASES)
def test_parse_period(text, expected):
    assert parse_period(text) == expected


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.text(max_size=30), st.none(), st.integers(), st.floats(), st.dates(),
                 st.text(alphabet="0123456789年月日上下半度H.-/至—截止全季第一二三四〇", max_size=20)))
def test_never_raises_and_returns_a_period_or_none(text):
    p = parse_period(text)
    assert p is None or (len(p) == 6 and p[4] == "H" and p[5] in "12")


@settings(max_examples=200, deadline=None)
@given(year=st.integers(1990, 2099), month=st.integers(1, 12), day=st.integers(1, 28),
       form=st.sampled_from(["{y}年{m}月", "{y}.{m}", "{y}-{m:02d}", "截至{y}年{m}月{d}日", "{y}/{m}/{d}"]))
def test_month_forms(year, month, day, form):
    expected = f"{year}H1" if month <= 6 else f"{year}H2"  # Jan–Jun is H1
    text = form.format(y=year, m=month, d=day)
    assert parse_period(text) == expected
    assert parse_period(parse_period(text)) == expected  # idempotent on its own output


@settings(max_examples=100, deadline=None)
@given(year=st.integers(1990, 2099), half=st.sampled_from([1, 2]))
def test_half_forms_roundtrip(year, half):
    p = f"{year}H{half}"
    assert parse_period(p) == p
    assert parse_period(f"{year}年{'上' if half == 1 else '下'}半年") == p
    assert parse_period(f"{year}年{1 if half == 1 else 7}-{6 if half == 1 else 12}月") == p


def test_sort_key():
    assert sorted(["2013H1", "2012H2", "2012H1"], key=period_sort_key) == ["2012H1", "2012H2", "2013H1"]
    with pytest.raises(ValueError, match="not a period"):
        period_sort_key("2012")


def test_sources_that_agree():
    assert periods_from_file("raw/凉山州_2013年上半年.xlsx", title="凉山州2013年1-6月统计表",
                             cutoff_text="截至2013年6月30日", column_values=["2013H1", "", None]) == "2013H1"
    assert periods_from_file("raw/a.csv", column_values=["2012年下半年", "2012年下半年"]) == "2012H2"


def test_contradiction_names_every_source():
    with pytest.raises(PeriodError) as info:
        periods_from_file("raw/凉山州_2013H1.xlsx", title="2012年下半年统计表", cutoff_text="截至2013年6月30日")
    err = info.value
    assert err.rule == "period_contradiction"
    text = str(err)
    assert text.startswith("凉山州_2013H1.xlsx: ")
    assert "file name says 2013H1" in text and "title says 2012H2" in text and "截至 line says 2013H1" in text


def test_missing_period():
    with pytest.raises(PeriodError) as info:
        periods_from_file("raw/汇总表.xlsx", title="基层团建工作统计表")
    assert info.value.rule == "period_missing"


def test_multi_period_column_is_per_row():
    assert periods_from_file("raw/export.csv", column_values=["2012H1", "2012H2", "2012H1"]) is None
    with pytest.raises(PeriodError, match="2013H1"):
        periods_from_file("raw/export_2013H1.csv", column_values=["2012H1", "2012H2"])


# ---------------------------------------------------------------- whole years and sheet names

@pytest.mark.parametrize("text,whole", [
    ("2013年度", True),
    ("凉山州2013年度基层团建统计表", True),
    ("2013年全年", True),
    ("2013年1-12月", True),
    ("2013年", True),               # a bare year reads as the year
    ("2013年下半年", False),
    ("2013H2", False),
    ("2013年7-12月", False),
    ("截至2013年12月31日", False),   # a date is a status at that day, not a span
    ("2013.12", False),
    ("2013年第四季度", False),
    ("2013年度下半年", False),       # names the half beside the year
    ("基层团建统计表", False),        # no period at all
    (dt.date(2013, 12, 31), False),
])
def test_whole_year_is_flagged(text, whole):
    assert is_whole_year(text) is whole
    if whole:
        assert parse_period(text) == "2013H2"  # the reading itself is unchanged


def test_sheet_period_reports_a_whole_year_only_when_no_source_says_half():
    assert sheet_period("raw/a.xlsx", title="2013年度统计表") == ("2013H2", True)
    assert sheet_period("raw/a.xlsx", title="2013年度统计表", cutoff_text="截至2013年12月31日") == ("2013H2", True)
    assert sheet_period("raw/a_2013年下半年.xlsx", title="2013年度统计表") == ("2013H2", False)
    assert sheet_period("raw/a.xlsx", title="2013年下半年统计表") == ("2013H2", False)


def test_the_sheet_name_is_a_source():
    # one sheet per half-year, the period nowhere else
    assert sheet_period("raw/汇总.xlsx", title="基层团建统计表", sheet_name="2012年下半年") == ("2012H2", False)
    assert periods_from_file("raw/汇总.xlsx", sheet_name="2013年上半年") == "2013H1"
    assert periods_from_file("raw/汇总.xlsx", sheet_name="Sheet1", title="2013年上半年") == "2013H1"
    with pytest.raises(PeriodError) as info:
        periods_from_file("raw/汇总.xlsx", title="2013年上半年统计表", sheet_name="2012年下半年")
    assert "sheet name says 2012H2" in str(info.value) and "title says 2013H1" in str(info.value)
    with pytest.raises(PeriodError, match="sheet name"):
        periods_from_file("raw/汇总.xlsx", sheet_name="Sheet1")
