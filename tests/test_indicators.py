"""Derived indicators from the catalog formulas: hand-worked values on tiny frames."""

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from analysis.catalog import load_catalog
from analysis.indicators import FormulaError, PanelError, derive, parse_formula, to_wide


def _long(rows, **extra):
    frame = pd.DataFrame(rows, columns=["county_code", "period", "indicator", "value"])
    for k, v in extra.items():
        frame[k] = v
    return frame


def _value(out, county, code):
    row = out[(out["county_code"] == county) & (out["indicator"] == code)]
    assert len(row) == 1
    return row.iloc[0]


RAW = _long([
    ("510101", "2012H1", "posts_filled", 3),
    ("510101", "2012H1", "posts_authorized", 4),
    ("510101", "2012H1", "league_funds", 6.0),  # 万元
    ("510101", "2012H1", "youth_population", 80_000),
    ("510101", "2012H1", "liaison_system", 1),
    ("510102", "2012H1", "posts_filled", 5),
    ("510102", "2012H1", "posts_authorized", 0),
    ("510102", "2012H1", "league_funds", 2.0),
    ("510102", "2012H1", "youth_population", 50_000),
    ("510102", "2012H1", "liaison_system", 0),
])


def test_rates_worked_by_hand():
    out = derive(RAW)
    assert _value(out, "510101", "posts_fill_rate")["value"] == pytest.approx(75.0)  # 100·3/4
    # 6 万元 = 60 000 元 over 80 000 youth = 0.75 元/人 → meets the 0.5 元 standard
    assert _value(out, "510101", "funds_per_youth")["value"] == pytest.approx(0.75)
    assert _value(out, "510101", "std_funds_per_youth")["value"] == 1.0
    # 2 万元 / 50 000 = 0.4 元/人 → below the standard
    assert _value(out, "510102", "funds_per_youth")["value"] == pytest.approx(0.4)
    assert _value(out, "510102", "std_funds_per_youth")["value"] == 0.0
    assert _value(out, "510101", "std_liaison")["value"] == 1.0
    assert _value(out, "510102", "std_liaison")["value"] == 0.0


def test_division_by_zero_is_missing_with_reason():
    row = _value(derive(RAW), "510102", "posts_fill_rate")
    assert math.isnan(row["value"])
    assert row["missing_reason"] == "division by zero: posts_authorized = 0"


def test_missing_input_is_missing_with_reason():
    row = _value(derive(RAW), "510101", "secretary_rate")
    assert math.isnan(row["value"])
    assert "townships_with_secretary" in row["missing_reason"]
    # a NaN value is as missing as an absent row
    raw = RAW.copy()
    raw.loc[(raw["county_code"] == "510101") & (raw["indicator"] == "youth_population"), "value"] = np.nan
    row = _value(derive(raw, codes=["std_funds_per_youth"]), "510101", "std_funds_per_youth")
    assert math.isnan(row["value"]) and row["missing_reason"].startswith("missing input")


def test_codes_pull_in_derived_inputs_and_reject_unknown():
    out = derive(RAW, codes=["std_funds_per_youth"])
    assert set(out["indicator"]) == {"std_funds_per_youth", "funds_per_youth"}
    with pytest.raises(FormulaError, match="league_members"):
        derive(RAW, codes=["league_members"])  # raw, not derived


def test_every_catalog_formula_parses():
    cat = load_catalog()
    for code, text in cat.loc[cat["kind"] != "raw", "formula"].items():
        f = parse_formula(text)
        assert set(f.names) <= set(cat.index), code


def test_provenance_is_joined_and_attributes_kept():
    raw = RAW.assign(
        source_file=["a.xlsx", "b.xlsx", "c.csv", "c.csv", "", "d", "d", "d", "d", "d"],
        prefecture="成都市",
    )
    out = derive(raw)
    row = _value(out, "510101", "posts_fill_rate")
    assert row["source_file"] == "a.xlsx; b.xlsx"
    assert row["prefecture"] == "成都市"
    # the standard inherits the provenance of funds_per_youth's raw inputs
    assert _value(out, "510101", "std_funds_per_youth")["source_file"] == "c.csv"


def test_derived_values_outside_the_catalog_range_are_missing_with_reason():
    """Issue 17, item 8: derived values were not held to the catalog range.  50 万元 for 3 young
    people is 10000 · 50 / 3 = 166,667 元 each (maximum 1000); 3000 members per 3 youth is a
    团青比 of 100,000 % (maximum 100)."""
    raw = _long([
        ("510101", "2013H1", "league_funds", 50.0),
        ("510101", "2013H1", "youth_population", 3),
        ("510101", "2013H1", "league_members", 3000),
        ("510101", "2013H1", "posts_filled", 3),
        ("510101", "2013H1", "posts_authorized", 3),  # 100 · 3 / 3 = 100 %: inside
    ])
    out = derive(raw)
    row = _value(out, "510101", "funds_per_youth")
    assert math.isnan(row["value"])
    assert row["missing_reason"] == ("out of range: 166667 above the catalog maximum 1000 "
                                     "(league_funds = 50, youth_population = 3)")
    assert _value(out, "510101", "league_youth_ratio")["missing_reason"] == (
        "out of range: 100000 above the catalog maximum 100 (league_members = 3000, youth_population = 3)")
    # a standard on a value set missing has a missing input, not a made-up 1
    std = _value(out, "510101", "std_funds_per_youth")
    assert math.isnan(std["value"]) and std["missing_reason"] == "missing input: funds_per_youth"
    assert _value(out, "510101", "posts_fill_rate")["value"] == 100.0
    kept = derive(raw, check_range=False)
    assert _value(kept, "510101", "funds_per_youth")["value"] == pytest.approx(10000 * 50 / 3)


@pytest.mark.parametrize(
    "text, expected",
    [
        ("1 + 2 * 3", 7.0),
        ("(1 + 2) * 3", 9.0),
        ("-2 * -3", 6.0),
        ("10 / 4 - 1", 1.5),
        ("2 * 3 >= 6", 1.0),
        ("1 + 1 == 3", 0.0),
        ("a / b", 0.5),
        ("a != b", 1.0),
    ],
)
def test_evaluator_precedence(text, expected):
    cols = {"a": np.array([1.0]), "b": np.array([2.0])}
    values, reasons = parse_formula(text).evaluate(cols)
    assert values[0] == pytest.approx(expected) and reasons[0] == ""


@pytest.mark.parametrize("text", ["__import__('os')", "a ** 2", "a +", "(a", "a b", "a; b", "a.b"])
def test_evaluator_rejects_anything_else(text):
    with pytest.raises(FormulaError, match="formula"):
        parse_formula(text)


def test_text_values_are_refused_with_their_place():
    raw = RAW.astype({"value": object})
    raw.loc[2, "value"] = "约6"
    with pytest.raises(PanelError, match=r"'约6' for 510101 2012H1 league_funds"):
        derive(raw)


def test_duplicate_rows_and_missing_columns_are_errors():
    with pytest.raises(PanelError, match="repeat"):
        derive(pd.concat([RAW, RAW.iloc[:1]]))
    with pytest.raises(PanelError, match="value"):
        derive(RAW.drop(columns="value"))


def test_to_wide_shape():
    wide = to_wide(RAW.assign(prefecture="成都市"))
    assert list(wide["county_code"]) == ["510101", "510102"]
    assert wide.loc[0, "posts_filled"] == 3.0 and wide.loc[1, "posts_authorized"] == 0.0
    assert (wide["prefecture"] == "成都市").all()
    assert set(wide.columns) == {"county_code", "period", "prefecture", *RAW["indicator"].unique()}


@settings(max_examples=40, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 60), st.integers(0, 60)), min_size=1, max_size=8
    )
)
def test_fill_rate_matches_plain_arithmetic(pairs):
    rows = []
    for i, (filled, authorized) in enumerate(pairs):
        rows += [(f"5101{i:02d}", "2013H1", "posts_filled", filled),
                 (f"5101{i:02d}", "2013H1", "posts_authorized", authorized)]
    out = derive(_long(rows), codes=["posts_fill_rate"]).sort_values("county_code")
    for (filled, authorized), (_, row) in zip(pairs, out.iterrows()):
        if authorized == 0:
            assert math.isnan(row["value"]) and "division by zero" in row["missing_reason"]
        elif 100 * filled > 150 * authorized:  # above the catalog maximum of 150 %
            assert math.isnan(row["value"])
            assert row["missing_reason"].startswith("out of range: ")
        else:
            assert row["value"] == pytest.approx(100 * filled / authorized)
