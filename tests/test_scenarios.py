"""The main job on the deliveries analysts really receive (issue 16): clean, evaluate, report.

Seven deliveries, built from the demo data in :mod:`scenarios` (no roster; up to 2013H1; round 1
only; round 2 only; one prefecture; one half-year; a prefecture missing one period).  On each,
``clean``, ``evaluate`` and ``report`` must exit 0 without a traceback, state the windows they
used and skip what the delivery cannot give with the expected Chinese sentence, one line per
part.  The notebooks on these deliveries: ``test_scenarios_notebooks.py``.

Speed: each delivery is cleaned once per session (``conftest.delivery``) and evaluated and
reported once per module (``ran``); bootstrap draws are few and the subset estimates are left out
(the numbers are not under test here); the charts are saved as one
low-resolution PNG (rendering at 300 dpi in three formats is tested in ``test_report.py``).
``pytest -s`` prints the seconds of each step per scenario.
"""

from __future__ import annotations

import contextlib
import functools
import io
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import openpyxl
import pandas as pd
import pytest

import analysis.report as report
from analysis import cli, summaries
from analysis.style import save_figure
from scenarios import BY_NAME, SCENARIOS, Delivery


def _main(*argv: str) -> str:
    """``python -m analysis …`` in this process: exit 0, no traceback; returns what it printed."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = cli.main(list(argv))
    assert code == 0, f"{argv[0]} exited {code}: {err.getvalue()[-2000:]}"
    assert "Traceback" not in out.getvalue() + err.getvalue()
    return out.getvalue()


@dataclass
class Ran:
    evaluate: str   # console of `evaluate`
    report: str     # console of `report`
    reports: Path   # their output folder


@pytest.fixture(scope="module")
def ran(delivery, tmp_path_factory) -> Callable[[str], Ran]:
    """``ran(name)``: evaluate and report on a scenario, once per module (timed in ``TIMES``)."""
    done: dict[str, Ran] = {}
    mp = pytest.MonkeyPatch()
    # one low-resolution PNG per chart: rendering at 300 dpi in three formats is test_report's
    mp.setattr(report, "save_figure", functools.partial(save_figure, formats=("png",), dpi=40))

    def get(name: str) -> Ran:
        if name not in done:
            t0 = time.perf_counter()
            _, processed = delivery(name)
            t1 = time.perf_counter()
            reports = tmp_path_factory.mktemp(f"reports_{name}")
            # the subset estimates (异质性) are left out: they add a fifth of the estimates four times
            # over and are tested on the whole calendar in test_evaluate.py / test_report.py
            het = ["--no-heterogeneity"]
            ev = _main("evaluate", "--processed", str(processed), "--reports", str(reports), "--biters", "9", *het)
            t2 = time.perf_counter()
            rep = _main("report", "--processed", str(processed), "--reports", str(reports), "--draws", "9", *het)
            TIMES[name] = (t1 - t0, t2 - t1, time.perf_counter() - t2)
            done[name] = Ran(ev, rep, reports)
        return done[name]

    yield get
    mp.undo()


TIMES: dict[str, tuple[float, float, float]] = {}
"""Seconds of clean, evaluate and report per scenario (printed with ``pytest -s``)."""


def _sheet(path, sheet) -> pd.DataFrame:
    ws = openpyxl.load_workbook(path, read_only=True)[sheet]
    rows = [r for r in ws.iter_rows(min_row=2, values_only=True)]
    body = [r for r in rows[1:] if r[0] is not None and not str(r[0]).startswith("数据来源")]
    return pd.DataFrame(body, columns=rows[0])


@pytest.mark.parametrize("d", SCENARIOS, ids=lambda d: d.name)
def test_evaluate_and_report_say_what_the_delivery_cannot_give(d: Delivery, ran):
    r = ran(d.name)
    # the evaluation states its windows in the first line after the files it wrote
    assert d.notes[0] in r.evaluate.splitlines()
    notes = [line.removeprefix("  note: ") for line in r.report.splitlines() if line.startswith("  note: ")]
    assert notes[:len(d.notes)] == list(d.notes)
    skipped = [line.removeprefix("  skipped ") for line in r.report.splitlines() if line.startswith("  skipped ")]
    assert skipped == list(d.skipped)
    # what the report says it skipped is what the evaluation did not write
    books = {p.stem for p in (r.reports / "tables").glob("*.xlsx")}
    assert ("驻点效应_分轮估计" in books) == ("驻点效应估计（双重差分）（图2）" not in "".join(d.skipped))
    assert {"县域排名", "指数变化"} <= books
    print(f"\n{d.name}: clean {TIMES[d.name][0]:.1f} s, evaluate {TIMES[d.name][1]:.1f} s, "
          f"report {TIMES[d.name][2]:.1f} s")


def test_without_roster_the_round_comparison_is_descriptive(ran):
    tables = ran("no_roster").reports / "tables"
    assert not (tables / "驻点效应_分轮估计.xlsx").exists()
    paired = _sheet(tables / "两轮比较.xlsx", "配对检验")
    assert set(paired["比较窗口"]) == {"本轮", "本轮结束后半年"}


def test_one_half_year_is_a_ranking_snapshot(ran):
    reports = ran("one_half_year").reports
    ranks = _sheet(reports / "tables" / "县域排名.xlsx", "排名")
    assert set(ranks["时期"]) == {"2013H1"} and len(ranks) > 30
    # no change column: one half-year has no window
    assert not [c for c in ranks.columns if "变化" in str(c)]
    assert [p.name for p in (reports / "figures").iterdir()] == ["01_ranking.png"]
    assert sorted(p.name for p in (reports / "tables").iterdir()) == ["县域排名.xlsx", "指数变化.xlsx"]


def test_one_prefecture_ranks_its_eight_counties(ran):
    ranks = _sheet(ran("one_prefecture").reports / "tables" / "县域排名.xlsx", "排名")
    # 雅安: 雨城区 名山区 荥经县 汉源县 石棉县 天全县 芦山县 宝兴县
    assert len(ranks) == 8 and set(ranks["市州"]) == {"雅安"}


def test_a_prefecture_missing_a_period_shows_as_a_gap(delivery):
    _, processed = delivery("prefecture_missing_period")
    gaps = summaries.coverage_gaps(pd.read_csv(processed / "quality.csv"))
    missing = gaps[(gaps["status"] == "未报送") & (gaps["period"] == "2012H2") & (gaps["prefecture"] == "巴中市")]
    # 巴中 in 2012: 巴州区, 通江县, 南江县, 平昌县 (恩阳区 only from 2013)
    assert sorted(missing["county_code"]) == ["511902", "511921", "511922", "511923"]


def test_round_1_only_estimates_round_1(ran):
    tables = ran("round1_only").reports / "tables"
    overall = _sheet(tables / "驻点效应_分轮估计.xlsx", "总体效应")
    assert set(overall["轮次"]) == {"第一轮"}
    assert not (tables / "两轮比较.xlsx").exists()


def test_part_of_round_2_estimates_both_rounds_on_their_windows(ran):
    tables = ran("upto_2013H1").reports / "tables"
    overall = _sheet(tables / "驻点效应_分轮估计.xlsx", "总体效应")
    assert set(overall["轮次"]) == {"第一轮", "第二轮"}
    assert "异质性" not in openpyxl.load_workbook(tables / "驻点效应_分轮估计.xlsx", read_only=True).sheetnames
    # the round comparison over the equalised windows (2008H1 → 2009H2, 2011H2 → 2013H1); the
    # standards at the rounds' ends: round 1's end 2010H2, round 2 as far as the data go
    standards = _sheet(tables / "两轮比较.xlsx", "达标检验")
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


def test_the_matrix_is_the_one_the_issue_asks_for():
    assert set(BY_NAME) == {"no_roster", "upto_2013H1", "round1_only", "round2_only", "one_prefecture",
                            "one_half_year", "prefecture_missing_period"}
