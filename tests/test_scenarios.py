"""The main job on the deliveries analysts really receive (issue 16): clean, evaluate, report.

Seven deliveries, built from the demo data in :mod:`scenarios` (no roster; up to 2013H1; round 1
only; round 2 only; one prefecture; one half-year; a prefecture missing one period).  On each,
``clean``, ``evaluate`` and ``report`` must exit 0 without a traceback, state the windows they
used and skip what the delivery cannot give with the expected Chinese sentence, one line per
part.  This file holds four of them; the three that cut the rounds short are in
``test_scenarios_rounds.py`` (two files, so that the two test workers share the matrix).  The
notebooks on these deliveries: ``test_scenarios_notebooks.py`` and ``test_scenarios_main_job.py``.

Speed: each delivery is cleaned once per session (``conftest.delivery``) and evaluated and
reported once per module (``conftest.ran``) with few bootstrap draws and low-resolution PNGs.
``pytest -s`` prints the seconds of each step per scenario.
"""

from __future__ import annotations

import pandas as pd
import pytest

from analysis import summaries
from scenarios import BY_NAME, ROUNDS_CUT, check_evaluate_and_report, sheet_frame

HERE = [name for name in BY_NAME if name not in ROUNDS_CUT]


@pytest.mark.parametrize("name", HERE)
def test_evaluate_and_report_say_what_the_delivery_cannot_give(name, ran):
    check_evaluate_and_report(BY_NAME[name], ran(name))


def test_without_roster_the_round_comparison_is_descriptive(ran):
    tables = ran("no_roster").reports / "tables"
    assert not (tables / "驻点效应_分轮估计.xlsx").exists()
    paired = sheet_frame(tables / "两轮比较.xlsx", "配对检验")
    assert set(paired["比较窗口"]) == {"本轮", "本轮结束后半年"}


def test_one_half_year_is_a_ranking_snapshot(ran):
    reports = ran("one_half_year").reports
    ranks = sheet_frame(reports / "tables" / "县域排名.xlsx", "排名")
    assert set(ranks["时期"]) == {"2013H1"} and len(ranks) > 30
    # no change column: one half-year has no window
    assert not [c for c in ranks.columns if "变化" in str(c)]
    assert [p.name for p in (reports / "figures").iterdir()] == ["01_ranking.png"]
    assert sorted(p.name for p in (reports / "tables").iterdir()) == ["县域排名.xlsx", "指数变化.xlsx"]


def test_one_prefecture_ranks_its_eight_counties(ran):
    ranks = sheet_frame(ran("one_prefecture").reports / "tables" / "县域排名.xlsx", "排名")
    # 雅安: 雨城区 名山区 荥经县 汉源县 石棉县 天全县 芦山县 宝兴县
    assert len(ranks) == 8 and set(ranks["市州"]) == {"雅安"}


def test_a_prefecture_missing_a_period_shows_as_a_gap(delivery):
    _, processed = delivery("prefecture_missing_period")
    gaps = summaries.coverage_gaps(pd.read_csv(processed / "quality.csv"))
    missing = gaps[(gaps["status"] == "未报送") & (gaps["period"] == "2012H2") & (gaps["prefecture"] == "巴中市")]
    # 巴中 in 2012: 巴州区, 通江县, 南江县, 平昌县 (恩阳区 only from 2013)
    assert sorted(missing["county_code"]) == ["511902", "511921", "511922", "511923"]


def test_the_matrix_is_the_one_the_issue_asks_for():
    # split over two files so that the two test workers share the matrix (test_scenarios_rounds.py)
    assert len(HERE) == 4 and set(ROUNDS_CUT) <= set(BY_NAME)
    assert set(BY_NAME) == {"no_roster", "upto_2013H1", "round1_only", "round2_only", "one_prefecture",
                            "one_half_year", "prefecture_missing_period"}
