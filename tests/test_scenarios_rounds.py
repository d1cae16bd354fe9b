"""The scenario matrix, the deliveries that cut the rounds short: up to 2013H1, round 1 only,
round 2 only (the other four: ``test_scenarios.py``, which says what every delivery must show)."""

from __future__ import annotations

import openpyxl
import pytest

from analysis import cli
from scenarios import BY_NAME, ROUNDS_CUT, check_evaluate_and_report, sheet_frame


@pytest.mark.parametrize("name", ROUNDS_CUT)
def test_evaluate_and_report_say_what_the_delivery_cannot_give(name, ran):
    check_evaluate_and_report(BY_NAME[name], ran(name))


def test_round_1_only_estimates_round_1(ran):
    tables = ran("round1_only").reports / "tables"
    overall = sheet_frame(tables / "驻点效应_分轮估计.xlsx", "总体效应")
    assert set(overall["轮次"]) == {"第一轮"}
    assert not (tables / "两轮比较.xlsx").exists()


def test_part_of_round_2_estimates_both_rounds_on_their_windows(ran):
    tables = ran("upto_2013H1").reports / "tables"
    overall = sheet_frame(tables / "驻点效应_分轮估计.xlsx", "总体效应")
    assert set(overall["轮次"]) == {"第一轮", "第二轮"}
    assert "异质性" not in openpyxl.load_workbook(tables / "驻点效应_分轮估计.xlsx", read_only=True).sheetnames
    # the round comparison over the equalised windows (2008H1 → 2009H2, 2011H2 → 2013H1); the
    # standards at the rounds' ends: round 1's end 2010H2, round 2 as far as the data go
    standards = sheet_frame(tables / "两轮比较.xlsx", "达标检验")
    pairs = set(zip(standards["比较"], standards["起始时期"], standards["终止时期"]))
    assert pairs == {("第一轮：本轮", "2008H1", "2009H2"), ("第二轮：本轮", "2011H2", "2013H1"),
                     ("两轮末对比", "2010H2", "2013H1")}


def test_an_analysts_window_outside_the_data_is_one_line(delivery, tmp_path, capsys):
    _, processed = delivery("upto_2013H1")
    code = cli.main(["report", "--processed", str(processed), "--reports", str(tmp_path),
                     "--window", "2=2011H2:2014H1"])
    out, err = capsys.readouterr()
    assert code == 2 and "Traceback" not in err
    assert err.strip() == ("error: windows[2] = ('2011H2', '2014H1'): ['2014H1'] not in the data; "
                           "half-years present: 2008H1–2013H1")
