"""Deliveries for the scenario matrix (tests/test_scenarios*.py): what analysts really receive.

A delivery is a folder of raw files, built in a temporary folder from symbolic links (copies where
links are not allowed) to the files of

* the bundled demo data ``data/raw/demo/`` — a subset by half-year, prefecture and roster, or
* any other folder of submissions (``folder=``), used whole: the independent field corpus
  ``tests/data/field/`` is meant to come in this way, e.g.
  ``Delivery("field_nine_prefectures", folder=FIELD / "nine_prefectures", notes=(…))``.

The demo subsets keep five prefectures (:data:`CORE`): every layout of the demo (prefecture
summary workbooks, one county form per file, CSV exports, ``.xls``), both 2013 splits (恩阳区 from
巴州区, 前锋区 from 广安区), a 三州 prefecture and 38 base counties — enough for the DiD to run and
for every section of the notebooks, at a fifth of the cost of the whole demo.

The expected Chinese sentences (``notes``) are written by hand from the programme calendar
(``docs/methods.md`` §0), not copied from the program's output.
"""

from __future__ import annotations

import contextlib
import html
import io
import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

import openpyxl
import pandas as pd

from analysis import cli
from analysis.config import PROJECT_ROOT
from analysis.ingest.periods import parse_period

DEMO = PROJECT_ROOT / "data" / "raw" / "demo"
FIELD = PROJECT_ROOT / "tests" / "data" / "field"
ROSTER = "驻点干部名册.xlsx"
CORE = ("雅安市团委", "眉山市团委", "巴中市团委", "广安市团委", "阿坝州团委")
PERIODS = tuple(f"{y}H{h}" for y in range(2008, 2015) for h in (1, 2))

NO_ROSTER = "本次数据没有驻点干部名册，只做描述性比较；驻点效应的估计需要驻点干部名册。"
FULL_WINDOWS = ("变化窗口：第一轮2008H1→2010H2，第二轮2011H2→2014H1；"
                "双重差分窗口：第一轮2008H1–2009H2，第二轮2011H2–2013H1；轮末：第一轮2010H2，第二轮2014H1；"
                "排名时期：2014H1。")


@dataclass(frozen=True)
class Delivery:
    """One delivery of the matrix.

    Attributes
    ----------
    name : test id.
    periods : half-years kept from the demo (None: all).
    prefectures : demo files kept by sender (the ``XX市团委`` start of a file or folder name).
    roster : keep the residency roster workbook.
    drop : ``(half-year, sender)`` files left out (a prefecture missing one period).
    folder : a folder of other submissions, used whole instead of the demo.
    notes : sentences the console of ``report`` must show (the windows and what is left out).
    skipped : the parts the report must skip, as its console names them (``…（图2）``).
    """

    name: str
    periods: tuple[str, ...] | None = None
    prefectures: tuple[str, ...] = CORE
    roster: bool = True
    drop: tuple[tuple[str, str], ...] = ()
    folder: Path | None = None
    notes: tuple[str, ...] = ()
    skipped: tuple[str, ...] = ()


def _link(src: Path, dst: Path) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.symlink(src, dst)
    except OSError:  # no symlinks (Windows without the privilege): copy
        shutil.copy2(src, dst)


def build_delivery(d: Delivery, target: Path) -> Path:
    """Lay out delivery ``d`` in ``target`` (created) and return it."""
    target.mkdir(parents=True, exist_ok=True)
    if d.folder is not None:
        for f in sorted(p for p in Path(d.folder).rglob("*") if p.is_file()):
            _link(f, target / f.relative_to(d.folder))
        return target
    for folder in sorted(p for p in DEMO.iterdir() if p.is_dir()):
        period = parse_period(folder.name)
        if d.periods is not None and period not in d.periods:
            continue
        for entry in sorted(folder.iterdir()):
            sender = entry.name.split("_")[0]
            if sender not in d.prefectures or (period, sender) in d.drop:
                continue
            files = [entry] if entry.is_file() else sorted(f for f in entry.rglob("*") if f.is_file())
            for f in files:
                _link(f, target / f.relative_to(DEMO))
    if d.roster:
        _link(DEMO / ROSTER, target / ROSTER)
    return target


SCENARIOS: tuple[Delivery, ...] = (
    Delivery(
        "no_roster", roster=False,
        notes=("数据时期：2008H1–2014H2（14个半年）；变化窗口：第一轮2008H1→2010H2，第二轮2011H2→2014H1；"
               "轮末：第一轮2010H2，第二轮2014H1；排名时期：2014H1。", NO_ROSTER),
        skipped=(f"驻点效应估计（双重差分）（图2）: {NO_ROSTER}", f"两轮驻点效应之差（图3）: {NO_ROSTER}",
                 f"第二轮分批次走势（图17、图18）: {NO_ROSTER}"),
    ),
    Delivery(
        "upto_2013H1", periods=PERIODS[:PERIODS.index("2013H1") + 1],
        notes=("数据时期：2008H1–2013H1（11个半年）；变化窗口：第一轮2008H1→2009H2，第二轮2011H2→2013H1；"
               "双重差分窗口：第一轮2008H1–2009H2，第二轮2011H2–2013H1；"
               "轮末：第一轮2010H2，第二轮尚未结束（数据截至2013H1）；排名时期：2013H1。",
               "第二轮的数据截至2013H1（该轮到2014H1结束），第二轮的窗口取2011H2→2013H1。",
               "为使两轮的变化窗口等长，第一轮取2008H1→2009H2。"),
    ),
    Delivery(
        "round1_only", periods=PERIODS[:PERIODS.index("2010H2") + 1],
        notes=("数据时期：2008H1–2010H2（6个半年）；变化窗口：第一轮2008H1→2010H2；双重差分窗口：第一轮2008H1–2009H2；"
               "轮末：第一轮2010H2；排名时期：2010H2。",
               "本次数据只覆盖第一轮（2008H1→2010H2），不做两轮比较。"),
        skipped=("两轮驻点效应之差（图3）: 本次数据只覆盖第一轮（2008H1→2010H2），不做两轮比较。",
                 "第二轮的图表（图4、图5、图6、图7、图8）: 本次数据没有覆盖第二轮（需要2012H1以前的一个半年和"
                 "2012H1–2014H1中至少一个半年），本节从略。",
                 "两轮比较（图9、图10、图11、图12）: 本次数据只覆盖第一轮（2008H1→2010H2），不做两轮比较。",
                 "第二轮分批次走势（图17、图18）: 本次数据没有覆盖第二轮（需要2012H1以前的一个半年和"
                 "2012H1–2014H1中至少一个半年），本节从略。"),
    ),
    Delivery(
        "round2_only", periods=PERIODS[PERIODS.index("2011H2"):],
        notes=("数据时期：2011H2–2014H2（7个半年）；变化窗口：第二轮2011H2→2014H1；双重差分窗口：第二轮2011H2–2013H1；"
               "轮末：第二轮2014H1；排名时期：2014H1。",
               "本次数据只覆盖第二轮（2011H2→2014H1），不做两轮比较。"),
        skipped=("两轮驻点效应之差（图3）: 本次数据只覆盖第二轮（2011H2→2014H1），不做两轮比较。",
                 "两轮比较（图9、图10、图11、图12）: 本次数据只覆盖第二轮（2011H2→2014H1），不做两轮比较。"),
    ),
    Delivery("one_prefecture", prefectures=("雅安市团委",),
             notes=("数据时期：2008H1–2014H2（14个半年）；" + FULL_WINDOWS,)),
    Delivery(
        "one_half_year", periods=("2013H1",),
        notes=("数据时期：2013H1（1个半年）；排名时期：2013H1。",
               "本次数据只有一个半年（2013H1）：只做数据质量检查和该期的排名快照，"
               "走势、变化、两轮比较和驻点效应都需要更多半年的数据。"),
        skipped=tuple(f"{part}: 本次数据只有一个半年（2013H1）：只做数据质量检查和该期的排名快照，"
                      "走势、变化、两轮比较和驻点效应都需要更多半年的数据。"
                      for part in ("驻点效应估计（双重差分）（图2）", "两轮驻点效应之差（图3）"))
        + ("第二轮的图表（图4、图5、图6、图7、图8）: 本次数据没有覆盖第二轮（需要2012H1以前的一个半年和"
           "2012H1–2014H1中至少一个半年），本节从略。",)
        + tuple(f"{part}: 本次数据只有一个半年（2013H1）：只做数据质量检查和该期的排名快照，"
                "走势、变化、两轮比较和驻点效应都需要更多半年的数据。"
                for part in ("两轮比较（图9、图10、图11、图12）", "轮末达标情况（图13、图14、图15、图16）",
                             "各半年走势（图17、图18）")),
    ),
    Delivery("prefecture_missing_period", drop=(("2012H2", "巴中市团委"),),
             notes=("数据时期：2008H1–2014H2（14个半年）；" + FULL_WINDOWS,)),
)
"""The matrix: no roster; up to 2013H1; round 1 only; round 2 only; one prefecture; one
half-year; a prefecture missing one period."""

BY_NAME = {d.name: d for d in SCENARIOS}

ROUNDS_CUT = ("upto_2013H1", "round1_only", "round2_only")
"""The deliveries that cut the rounds short (test_scenarios_rounds.py; the rest: test_scenarios.py,
two files so that the two test workers share the matrix)."""


# --------------------------------------------------------------------------- running the job on a delivery


def run_command(*argv: str) -> str:
    """``python -m analysis …`` in this process: exit 0, no traceback; returns what it printed."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = cli.main(list(argv))
    assert code == 0, f"{argv[0]} exited {code}: {err.getvalue()[-2000:]}"
    assert "Traceback" not in out.getvalue() + err.getvalue()
    return out.getvalue()


@dataclass
class Ran:
    """``evaluate`` and ``report`` on one delivery (the ``ran`` fixture of conftest.py)."""

    evaluate: str   # console of `evaluate`
    report: str     # console of `report`
    reports: Path   # their output folder


TIMES: dict[str, tuple[float, float, float]] = {}
"""Seconds of clean, evaluate and report per scenario (printed with ``pytest -s``)."""


def sheet_frame(path, sheet) -> pd.DataFrame:
    """A table the report wrote: row 2 the header, data until the 数据来源 line."""
    ws = openpyxl.load_workbook(path, read_only=True)[sheet]
    rows = [r for r in ws.iter_rows(min_row=2, values_only=True)]
    body = [r for r in rows[1:] if r[0] is not None and not str(r[0]).startswith("数据来源")]
    return pd.DataFrame(body, columns=rows[0])


def check_evaluate_and_report(d: Delivery, r: Ran) -> None:
    """What every delivery must show: its windows, its notes, one line per skipped part, and the
    tables of what it could give."""
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


# --------------------------------------------------------------------------- the notebooks on a delivery

NOTEBOOKS = PROJECT_ROOT / "notebooks"
ONE_HALF_YEAR = ("本次数据只有一个半年（2013H1）：只做数据质量检查和该期的排名快照，"
                 "走势、变化、两轮比较和驻点效应都需要更多半年的数据。")

# sentences each notebook must show in place of what the delivery cannot give (hand-written)
EXPECTED: dict[str, dict[str, tuple[str, ...]]] = {
    "no_roster": {
        "02_vitality": (NO_ROSTER, "变化窗口：第一轮2008H1→2010H2，第二轮2011H2→2014H1。"),
        "04_tasks": (NO_ROSTER,),
        "05_round_comparison": (NO_ROSTER,),
        "06_plenary_charts": (NO_ROSTER,),
    },
    "upto_2013H1": {
        "02_vitality": ("第二轮的数据截至2013H1（该轮到2014H1结束），第二轮的窗口取2011H2→2013H1。",
                        "变化窗口：第一轮2008H1→2009H2，第二轮2011H2→2013H1。"),
        "04_tasks": ("轮末：第一轮2010H2，第二轮尚未结束（数据截至2013H1）。",),
        "06_plenary_charts": ("排名时期：2013H1",),
    },
    "one_half_year": {
        "01_data_quality": (ONE_HALF_YEAR,),
        "03_staffing": (ONE_HALF_YEAR,),
        "05_round_comparison": (ONE_HALF_YEAR,),
        "06_plenary_charts": (ONE_HALF_YEAR, "排名时期：2013H1"),
    },
}


def page_text(path) -> str:
    """The visible text of an exported notebook: style and script blocks and tags dropped, entities decoded."""
    page = re.sub(r"<(style|script)\b.*?</\1>", "", path.read_text(encoding="utf-8"), flags=re.S)
    return html.unescape(re.sub(r"<[^>]+>", "", page))


def check_notebooks(name: str, out_dir) -> None:
    """Every notebook was exported, none shows a traceback, each shows the delivery's sentences."""
    pages = {p.stem: page_text(p) for p in Path(out_dir).glob("*.html")}
    assert sorted(pages) == sorted(p.stem for p in NOTEBOOKS.glob("*.ipynb"))
    for stem, text in pages.items():
        assert "Traceback" not in text, f"{name}/{stem}"
    for stem, sentences in EXPECTED.get(name, {}).items():
        for s in sentences:
            assert s in pages[stem], f"{name}/{stem}: {s!r} not shown"
