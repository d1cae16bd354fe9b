"""Validation rules on tiny hand-built value tables; expected outcomes are written out by hand."""

import numpy as np
import pandas as pd
import pytest

from analysis.catalog import load_catalog
from analysis.ingest.validate import (
    FAILURE_COLUMNS,
    PART_TOTAL,
    RULES,
    check_cells,
    check_cross,
    reconcile_rates,
    rules_frame,
    validate,
)


def values(rows):
    """rows: (record_id, county_code, period, indicator, raw_value, value)."""
    df = pd.DataFrame(rows, columns=["record_id", "county_code", "period", "indicator",
                                     "raw_value", "value"])
    df["source_file"] = "达州市.xlsx"
    df["source_sheet"] = "汇总"
    df["source_cell"] = [f"C{i + 5}" for i in range(len(df))]
    df["county_text"] = "达县"
    return df


def test_rules_are_declared_once_with_a_chinese_message():
    frame = rules_frame()
    assert frame["name"].is_unique
    # "missing": a derived value outside its range (issue 17), not a cell
    assert set(frame["action"]) <= {"quarantine", "fix", "merge", "set_aside", "missing"}
    # every message template contains Chinese text for the clerk
    assert all(any("\u4e00" <= ch <= "\u9fff" for ch in r.message_zh) for r in RULES)
    for _, _, rule, _ in PART_TOTAL:
        assert rule in set(frame["name"])


def test_range_and_integer_rules_from_the_catalog():
    cat = load_catalog()
    assert cat.at["dues_rate", "max"] == 100 and cat.at["townships_total", "min"] == 1
    v = values([
        ("a", "511721", "2013H1", "dues_rate", "120%", 120.0),          # above 100
        ("b", "511721", "2013H1", "townships_total", "0", 0.0),         # below 1
        ("c", "511721", "2013H1", "league_members", "约300.5", 300.5),   # count not whole
        ("d", "511721", "2013H1", "league_members", "300", 300.0),      # fine
        ("e", "511721", "2013H1", "league_funds", "12.5", 12.5),        # money may be fractional
        ("f", "511721", "2013H1", "volunteers", "—", np.nan),           # missing passes
        ("g", "511721", "2013H1", "posts_filled", "-3", -3.0),          # below 0 only once
    ])
    f = check_cells(v)
    assert list(f.columns) == FAILURE_COLUMNS
    got = dict(zip(f["record_id"], f["rule"]))
    assert got == {"a": "above_max", "b": "below_min", "c": "not_integer", "g": "below_min"}
    assert (f["action"] == "quarantine").all()
    msg = f.set_index("record_id").at["a", "message"]
    assert "团费收缴率" in msg and "120%" in msg and "100" in msg
    assert f.set_index("record_id").at["c", "cell"] == "C7"


def test_whole_numbers_have_a_relative_tolerance():
    """Issue 17, item 8: 1e-300 was within the absolute tolerance 1e-9 of 0, so a count of
    1e-300 young people was accepted (and 青少年人均经费 came out ten times its maximum)."""
    v = values([
        ("a", "511721", "2013H1", "youth_population", "1e-300", 1e-300),     # not 0
        ("b", "511721", "2013H1", "youth_population", "1e-10", 1e-10),
        ("c", "511721", "2013H1", "league_members", "12.000000000001", 12.000000000001),  # noise
        ("d", "511721", "2013H1", "league_members", "2999.9999999999995", 2999.9999999999995),
        ("e", "511721", "2013H1", "league_members", "0", 0.0),
        ("f", "511721", "2013H1", "league_members", "3000.001", 3000.001),   # 3.3e-7 relative
    ])
    got = dict(zip(check_cells(v)["record_id"], check_cells(v)["rule"]))
    assert got == {"a": "not_integer", "b": "not_integer", "f": "not_integer"}


def test_part_exceeds_total_quarantines_the_part():
    v = values([
        ("t", "511721", "2013H1", "townships_total", "50", 50.0),
        ("s", "511721", "2013H1", "townships_with_secretary", "51", 51.0),  # 51 > 50
        ("a", "511721", "2013H1", "townships_active", "50", 50.0),          # equal is fine
        ("n", "511721", "2013H1", "nonpublic_firms", "10", 10.0),
        ("w", "511721", "2013H1", "nonpublic_firms_with_org", "12", 12.0),  # 12 > 10
        ("t2", "511722", "2013H1", "townships_total", "40", 40.0),
        ("s2", "511722", "2013H1", "townships_with_secretary", "45", np.nan),  # missing: no check
    ])
    f = check_cross(v)
    assert sorted(zip(f["record_id"], f["rule"])) == [("s", "part_exceeds_total"),
                                                      ("w", "part_exceeds_total")]
    msg = f.set_index("record_id").at["s", "message"]
    assert "配备团委书记的乡镇（街道）数" in msg and "乡镇（街道）数" in msg and "51" in msg


def test_posts_filled_above_authorized_needs_a_remark():
    v = values([
        ("a1", "511721", "2013H1", "posts_authorized", "5", 5.0),
        ("f1", "511721", "2013H1", "posts_filled", "6", 6.0),
        ("a2", "511722", "2013H1", "posts_authorized", "5", 5.0),
        ("f2", "511722", "2013H1", "posts_filled", "7", 7.0),
        ("a3", "511723", "2013H1", "posts_authorized", "5", 5.0),
        ("f3", "511723", "2013H1", "posts_filled", "6", 6.0),
    ])
    notes = pd.DataFrame({"county_code": ["511722", "511721", "511723"],
                          "period": ["2013H1", "2013H1", "2013H1"],
                          "note": ["含借调人员2名", "  ", pd.NaT]}, dtype=object)
    f = check_cross(v, notes).set_index("record_id")
    assert f.at["f1", "rule"] == "filled_exceeds_authorized"
    assert f.at["f1", "action"] == "quarantine"
    assert f.at["f3", "rule"] == "filled_exceeds_authorized"   # a NaT remark is no remark
    assert f.at["f2", "rule"] == "filled_exceeds_authorized_noted"
    assert f.at["f2", "action"] == "fix"
    assert "含借调人员2名" in f.at["f2", "message"]


def test_cross_rules_refuse_unresolved_duplicates():
    v = values([
        ("a", "511721", "2013H1", "posts_authorized", "5", 5.0),
        ("b", "511721", "2013H1", "posts_authorized", "6", 6.0),
    ])
    with pytest.raises(ValueError, match="resolve duplicates"):
        check_cross(v)


def test_validate_collects_every_failure_lazily():
    v = values([
        ("a", "511721", "2013H1", "dues_rate", "120", 120.0),
        ("b", "511721", "2013H1", "townships_total", "20", 20.0),
        ("c", "511721", "2013H1", "townships_funded", "25", 25.0),
        ("d", "511722", "2013H1", "posts_authorized", "3", 3.0),
        ("e", "511722", "2013H1", "posts_filled", "2.5", 2.5),
    ])
    result = validate(v)
    assert sorted(zip(result.failures["record_id"], result.failures["rule"])) == [
        ("a", "above_max"), ("c", "part_exceeds_total"), ("e", "not_integer")]
    assert result.quarantined == {"a", "c", "e"}
    assert result.summary().to_dict() == {"above_max": 1, "not_integer": 1,
                                          "part_exceeds_total": 1}


def test_reported_rates_are_compared_with_their_counts():
    counts = values([
        ("t", "511721", "2013H1", "townships_total", "40", 40.0),
        ("s", "511721", "2013H1", "townships_with_secretary", "30", 30.0),
    ])
    rates = values([
        # 30 / 40 = 75 %: 75.4 is rounding, 80 is a different number
        ("r1", "511721", "2013H1", "secretary_rate", "75.4%", 75.4),
        ("r2", "511721", "2013H1", "secretary_rate", "80%", 80.0),
        ("r3", "511721", "2013H1", "posts_fill_rate", "90%", 90.0),  # no counts
    ])
    f = reconcile_rates(rates, counts).set_index("record_id")
    assert f.at["r1", "rule"] == "rate_consistent"
    assert f.at["r2", "rule"] == "rate_recomputed" and f.at["r2", "action"] == "fix"
    assert f.at["r2", "value"] == pytest.approx(75.0)
    assert "75.0%" in f.at["r2", "message"]
    assert f.at["r3", "rule"] == "rate_without_counts"


def test_missing_columns_are_named():
    with pytest.raises(ValueError, match="lacks column"):
        check_cells(pd.DataFrame({"record_id": ["a"]}))


def test_every_rule_is_documented_in_the_data_contract():
    from analysis.config import PROJECT_ROOT

    doc = (PROJECT_ROOT / "docs" / "data-contract.md").read_text(encoding="utf-8")
    missing = [r.name for r in RULES if f"`{r.name}`" not in doc]
    assert missing == []
