"""The field corpus: submissions laid out as prefectures and government systems really send them.

``tests/data/field/`` was written by hand without the reader or the demo generator in view, with
every expected clean value (``expected.csv``) and every deliberately bad cell
(``expected_quarantine.csv``) typed beside the files (see its README).  The cleaner must
recover at least 99 % of the expected values, get none wrong, quarantine every bad cell under
its rule, and account for every non-empty cell of every sheet (the cell census).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from analysis.config import PROJECT_ROOT
from analysis.ingest import pipeline

FIELD = PROJECT_ROOT / "tests" / "data" / "field"

# The corpus names cells of text files by line and field, with an empty sheet; the reader calls a
# CSV/TXT file's one sheet "csv" and an HTML export's first table "html".  The README counts an
# HTML export's rows from the table's first <tr>, while the reader shows the page as Excel opens
# it, with the lines above the table as rows: in `  南充市团委数据导出.xls` two <div> lines (the
# title and 统计时段) stand above the table (counted by hand in the file's source).
HTML_LINES_ABOVE = {"  南充市团委数据导出.xls": 2}


def _our_place(file: str, sheet: object, cell: str) -> tuple[str, str, str]:
    if isinstance(sheet, str) and sheet:
        return file, sheet, cell
    if file in HTML_LINES_ABOVE:
        letters = cell.rstrip("0123456789")
        return file, "html", f"{letters}{int(cell[len(letters):]) + HTML_LINES_ABOVE[file]}"
    return file, "csv", cell


SUBMISSIONS = sorted(p for p in FIELD.iterdir()
                     if p.is_file() and p.name not in ("expected.csv", "expected_quarantine.csv",
                                                       "README.md", "make_field.py"))


@pytest.fixture(scope="module")
def field_result():
    return pipeline.clean(SUBMISSIONS, progress=False, salt=b"field", workers=1)


@pytest.fixture(scope="module")
def expected() -> pd.DataFrame:
    exp = pd.read_csv(FIELD / "expected.csv", dtype={"county_code": str, "sheet": str},
                      keep_default_na=False)
    exp["value"] = pd.to_numeric(exp["value"].replace("", np.nan))
    places = [_our_place(f, s, c) for f, s, c in zip(exp["file"], exp["sheet"], exp["cell"])]
    exp["file"], exp["sheet"], exp["cell"] = zip(*places)
    return exp


@pytest.fixture(scope="module")
def expected_quarantine() -> pd.DataFrame:
    exp = pd.read_csv(FIELD / "expected_quarantine.csv", dtype=str, keep_default_na=False)
    places = [_our_place(f, s, c) for f, s, c in zip(exp["file"], exp["sheet"], exp["cell"])]
    exp["file"], exp["sheet"], exp["cell"] = zip(*places)
    return exp


def _compare(field_result, expected) -> pd.DataFrame:
    got = field_result.indicators.rename(columns={"source_file": "file", "source_sheet": "sheet",
                                                  "source_cell": "cell"})
    return expected.merge(got, on=["file", "sheet", "cell"], how="left", suffixes=("", "_got"),
                          indicator=True)


def test_at_least_99_percent_of_the_expected_values_are_recovered(field_result, expected):
    m = _compare(field_result, expected)
    missing = m[m["_merge"] == "left_only"]
    share = 1 - len(missing) / len(expected)
    assert share >= 0.99, (f"recovered {share:.1%}; missing:\n"
                           + missing[["file", "sheet", "cell", "indicator"]].to_string())


def test_no_recovered_value_is_wrong(field_result, expected):
    m = _compare(field_result, expected)
    m = m[m["_merge"] == "both"]
    wrong = m[(m["county_code"] != m["county_code_got"]) | (m["period"] != m["period_got"])
              | (m["indicator"] != m["indicator_got"])
              | ~np.isclose(m["value"].fillna(-1.0), m["value_got"].fillna(-1.0), rtol=1e-9,
                            atol=1e-9)]
    cols = ["file", "sheet", "cell", "county_code", "county_code_got", "period", "period_got",
            "indicator", "indicator_got", "value", "value_got"]
    assert wrong.empty, wrong[cols].to_string()


def test_nothing_clean_that_was_not_expected(field_result, expected):
    got = field_result.indicators
    keys = set(zip(expected["file"], expected["sheet"], expected["cell"]))
    extra = got[[k not in keys for k in zip(got["source_file"], got["source_sheet"],
                                             got["source_cell"])]]
    assert extra.empty, extra[["source_file", "source_sheet", "source_cell", "indicator",
                               "value"]].to_string()


def test_every_bad_cell_is_quarantined_under_its_rule(field_result, expected_quarantine):
    q = field_result.quarantine
    have = set(zip(q["file"], q["sheet"], q["cell"], q["rule"]))
    missing = [row for row in expected_quarantine[["file", "sheet", "cell", "rule"]]
               .itertuples(index=False, name=None) if row not in have]
    assert missing == []


def test_nothing_else_is_quarantined(field_result, expected_quarantine):
    q = field_result.quarantine
    expected = set(zip(expected_quarantine["file"], expected_quarantine["sheet"],
                       expected_quarantine["cell"]))
    extra = q[[k not in expected for k in zip(q["file"], q["sheet"], q["cell"])]]
    assert extra.empty, extra[["file", "sheet", "cell", "rule", "raw_value"]].to_string()


def test_every_file_is_read(field_result):
    files = field_result.files
    assert len(files) == 20
    assert (files["status"] == "ok").all(), files.loc[files["status"] != "ok",
                                                      ["source_file", "error"]].to_string()
