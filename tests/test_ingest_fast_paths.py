"""The shortcuts of the fast cleaning path give the plain rules' answers.

Each shortcut computes something once per distinct input instead of once per cell (messages,
cell texts, county look-ups) or splits the work (runs of files for the worker processes,
sorting only the records that have copies).  The expected values are written out by hand.
"""

import math

import numpy as np
import pandas as pd
import pytest

from analysis.ingest.cells import _as_text, _as_texts, _present
from analysis.ingest.pipeline import clean_records
from analysis.ingest.prepare import _default_resolver, _default_to_base, _prepare
from analysis.ingest.scan import _batches
from analysis.ingest.settle import _join_prepared, _settle
from analysis.ingest.validate import _template_fields, failure_rows

XIDE = "513432"


def _rows(raws, indicator="dues_rate"):
    n = len(raws)
    return pd.DataFrame({
        "record_id": [f"f.xlsx!S!C{i + 1}" for i in range(n)],
        "source_file": "f.xlsx", "source_sheet": "S",
        "source_cell": [f"C{i + 1}" for i in range(n)],
        "county_text": "喜德县", "indicator": indicator,
        "raw_value": pd.Series(raws, dtype=object), "value": 150.0,
    })


def test_template_fields_are_the_names_the_message_uses():
    assert _template_fields("above_max") == {"indicator_zh", "raw_value", "max"}
    assert _template_fields("duplicate_conflict") == {"indicator_zh", "values"}


def test_messages_keep_equal_numbers_of_different_types_apart():
    # True == 1 == 1.0 as dict keys; the clerk must still read what was written
    got = failure_rows(_rows([True, 1.0, 1, "1", 1.5]), "above_max")["message"].tolist()
    assert got == [
        "团费收缴率为True，超过允许的最大值100，请核对单位和数值后更正。",
        "团费收缴率为1，超过允许的最大值100，请核对单位和数值后更正。",    # 1.0 was written 1
        "团费收缴率为1，超过允许的最大值100，请核对单位和数值后更正。",
        "团费收缴率为1，超过允许的最大值100，请核对单位和数值后更正。",
        "团费收缴率为1.5，超过允许的最大值100，请核对单位和数值后更正。",
    ]


def test_messages_show_a_question_mark_for_a_field_the_row_lacks_and_blank_for_missing():
    # an indicator outside the catalog has no bounds: "{max:g}" shows "?"
    got = failure_rows(_rows([None, 7], indicator="not_in_catalog"), "above_max")
    assert got["message"].tolist() == [
        "not_in_catalog为，超过允许的最大值?，请核对单位和数值后更正。",
        "not_in_catalog为7，超过允许的最大值?，请核对单位和数值后更正。",
    ]


def test_one_message_per_group_of_conflicting_copies():
    rows = _rows([12, 13, 12, 5, 6], indicator="fulltime_cadres")
    values = pd.Series(["12、13", "12、13", "12、13", "5、6", "5、6"], index=rows.index)
    got = failure_rows(rows, "duplicate_conflict", extra={"values": values})["message"]
    assert got.tolist() == ["同一县、同一时期的专职团干部数在多处填报了不同数值（12、13），请确认哪一个正确。"] * 3 \
        + ["同一县、同一时期的专职团干部数在多处填报了不同数值（5、6），请确认哪一个正确。"] * 2


def test_cell_texts_once_per_distinct_type_and_value():
    cells = [1, 1.0, True, 2.5, "x", None, float("nan"), "", 1, True]
    got = _as_texts(pd.Series(cells, dtype=object, index=range(10, 20)))
    assert got.tolist() == ["1", "1", "True", "2.5", "x", "", "", "", "1", "True"]
    assert got.tolist() == [_as_text(c) for c in cells]
    assert got.index.tolist() == list(range(10, 20))


def test_batches_are_runs_of_consecutive_files_of_about_equal_bytes(tmp_path):
    sizes = [100, 100, 100, 100, 400, 100, 100, 100]   # 1,100 bytes in all
    found = []
    for i, size in enumerate(sizes):
        path = tmp_path / f"{i}.csv"
        path.write_bytes(b"x" * size)
        found.append((path, path.name))
    runs = _batches(found, 3)
    # every file once, in order; a file goes to the run that holds its byte midpoint: thirds
    # end at 367 and 733 bytes; midpoints 50 150 250 350 | 600 | 850 950 1050
    assert [item for run in runs for item in run] == found
    assert [[rel for _, rel in run] for run in runs] == [
        ["0.csv", "1.csv", "2.csv", "3.csv"], ["4.csv"], ["5.csv", "6.csv", "7.csv"]]
    assert _batches(found[:2], 5) == [[found[0]], [found[1]]]  # never an empty run


class _Recorder:
    """A county resolver that records its calls and knows 喜德县 only."""

    def __init__(self):
        self.calls = []

    def __call__(self, names, prefecture=None, as_of=None):
        self.calls.append((tuple(names), prefecture, as_of))
        return pd.DataFrame({"code": [XIDE if n == "喜德县" else None for n in names],
                             "error": [None if n == "喜德县" else "unknown" for n in names]})


def _record(i, county, pref, period, raw=1):
    return dict(record_id=f"a.xlsx!S!{i}", source_file="a.xlsx", source_sheet="S",
                source_cell=f"C{i}", county_text=county, prefecture_text=pref,
                header_text="团员数", indicator="league_members", header_unit=None,
                raw_value=raw, period_text=period, title="统计表")


def test_a_custom_resolver_is_called_once_per_prefecture_and_period_with_sorted_names():
    records = pd.DataFrame([
        _record(1, "喜德县", "凉山州", "2013年上半年"),
        _record(2, "甲县", "凉山州", "2013年上半年"),
        _record(3, "喜德县", "凉山州", "2013年上半年", raw=2),   # conflicting copy
        _record(4, "喜德县", "凉山州", "2013年下半年"),
        _record(5, "喜德县", "", "2013年上半年"),
    ])
    recorder = _Recorder()
    res = clean_records(records, resolver=recorder, to_base=lambda codes: pd.Series(codes))
    assert recorder.calls == [
        (("喜德县",), None, "2013H1"),
        (("喜德县", "甲县"), "凉山州", "2013H1"),
        (("喜德县",), "凉山州", "2013H2"),
    ]
    q = res.quarantine.set_index("record_id")["rule"].to_dict()
    # 喜德县 with and without the prefecture is one county: 1, 2, 1 conflict
    assert q == {"a.xlsx!S!1": "duplicate_conflict", "a.xlsx!S!2": "county_unknown",
                 "a.xlsx!S!3": "duplicate_conflict", "a.xlsx!S!5": "duplicate_conflict"}
    assert res.indicators["period"].tolist() == ["2013H2"]


def test_a_dash_copy_first_in_file_order_leaves_the_first_copy_with_a_value():
    def rec(i, file, raw):
        return dict(_record(i, "喜德县", "凉山州", "2013年上半年", raw=raw),
                    record_id=f"{file}!S!{i}", source_file=file)

    records = pd.DataFrame([rec(1, "c.xlsx", 300), rec(2, "a.xlsx", "—"), rec(3, "b.xlsx", "300人"),
                            rec(4, "d.xlsx", 300)])
    res = clean_records(records)
    assert res.indicators["source_file"].tolist() == ["b.xlsx"]
    merged = res.audit[res.audit["rule"] == "duplicate_merged"].set_index("record_id")["note"]
    assert merged.to_dict() == {"a.xlsx!S!2": "same value as b.xlsx!S!3",
                                "c.xlsx!S!1": "same value as b.xlsx!S!3",
                                "d.xlsx!S!4": "same value as b.xlsx!S!3"}


def test_prepared_parts_of_disjoint_files_settle_like_one_pass():
    from analysis.catalog import load_catalog

    rows = [dict(_record(i, "喜德县", "凉山州", "2013年上半年", raw=300), record_id=f"{f}!S!{i}",
                 source_file=f) for i, f in enumerate(["a.xlsx", "b.xlsx", "c.xlsx"])]
    rows.append(dict(_record(9, "喜德县", "凉山州", "2013年上半年", raw=5), record_id="c.xlsx!S!9",
                     source_file="c.xlsx", header_text="专职团干部数", indicator="fulltime_cadres"))
    records = pd.DataFrame(rows)
    cat = load_catalog()
    whole = clean_records(records)
    parts = [_prepare(records.iloc[:1], cat, _default_resolver),
             _prepare(records.iloc[1:], cat, _default_resolver)]
    split = _settle(_join_prepared(parts), structure=None, to_base=_default_to_base, cat=cat)
    for name in ("indicators", "quarantine", "audit", "quality", "files"):
        pd.testing.assert_frame_equal(getattr(split, name), getattr(whole, name),
                                      obj=name)
    assert len(whole.indicators) == 2
    assert whole.files.set_index("source_file")["merged"].to_dict() == {
        "a.xlsx": 0, "b.xlsx": 1, "c.xlsx": 1}


def test_object_frame_keeps_text_as_objects_broadcasts_scalars_and_takes_series_by_position():
    from analysis.ingest.frames import object_frame

    s = pd.Series(["b", "a"], index=[7, 3])          # taken by position, not by label
    got = object_frame({"t": s, "k": "same", "v": ["1.5", None], "x": [("a", 1), None]}, 2,
                       floats=("v",))
    assert got["t"].tolist() == ["b", "a"] and got["k"].tolist() == ["same", "same"]
    assert got["t"].dtype == object and got["k"].dtype == object
    assert got["v"].dtype == float and got["v"].iloc[0] == 1.5 and math.isnan(got["v"].iloc[1])
    assert got["x"].iloc[0] == ("a", 1)               # a tuple stays one cell
    assert got.index.tolist() == [0, 1]
    assert len(object_frame({"t": "x", "v": np.nan}, 0, floats=("v",))) == 0


def test_equal_values_that_print_differently_keep_their_own_text():
    from datetime import datetime, timedelta, timezone
    from decimal import Decimal

    utc = datetime(2013, 6, 30, tzinfo=timezone.utc)
    beijing = utc.astimezone(timezone(timedelta(hours=8)))   # the same instant, equal
    cells = [Decimal("12.0"), Decimal("12.00"), utc, beijing, 1, True]
    assert _as_texts(pd.Series(cells, dtype=object)).tolist() == [
        "12.0", "12.00", "2013-06-30 00:00:00+00:00", "2013-06-30 08:00:00+08:00", "1", "True"]
    got = failure_rows(_rows([Decimal("120.0"), Decimal("120.00")]), "above_max")["message"]
    assert got.tolist() == ["团费收缴率为120.0，超过允许的最大值100，请核对单位和数值后更正。",
                            "团费收缴率为120.00，超过允许的最大值100，请核对单位和数值后更正。"]


def test_text_or_blanks_every_missing_marker_and_keeps_types_apart():
    from analysis.ingest.cells import _text_or

    cells = [None, float("nan"), pd.NA, pd.NaT, "  ", "喜德县", 1, True, 2.0]
    assert _text_or(pd.Series(cells, dtype=object), "-").tolist() == [
        "-", "-", "-", "-", "-", "喜德县", "1", "True", "2"]
    # the cell-by-cell readers agree with it (pd.NA and pd.NaT are blank, not "<NA>"/"NaT")
    assert [_present(c) for c in cells] == [False] * 5 + [True] * 4
    assert [_as_text(c) for c in cells] == ["", "", "", "", "", "喜德县", "1", "True", "2"]


def test_a_catalog_row_without_a_type_is_read_as_a_number():
    from analysis.catalog import load_catalog

    cat = load_catalog()
    cat.loc["league_members", "type"] = np.nan   # a blank cell in an edited catalog
    records = pd.DataFrame([_record(1, "喜德县", "凉山州", "2013年上半年", raw="约300人")])
    res = clean_records(records, catalog=cat)
    assert res.indicators["value"].tolist() == [300.0]


def test_counties_resolve_after_the_working_folder_is_deleted(tmp_path):
    import os

    from analysis.reference import resolve_county

    here = os.getcwd()
    gone = tmp_path / "gone"
    gone.mkdir()
    os.chdir(gone)
    try:
        gone.rmdir()
        assert resolve_county("喜德县", prefecture="凉山州", as_of="2013") == XIDE
    finally:
        os.chdir(here)
