"""The six notebooks on partial deliveries (issue 16): they execute and say what they leave out.

Three deliveries of the matrix (:mod:`scenarios`) run in the default suite: ``one_half_year``
through the main job itself (``python -m analysis run``: exit 0, one line per skipped part, no
traceback, no kernel warning about unencrypted TCP), ``no_roster`` and ``upto_2013H1`` through
:func:`analysis.notebook_export.export_notebooks`.  The other four run on demand
(``pytest --scenario-notebooks``).  The notebooks get ``DRAWS = 19`` (papermill-style injection):
the numbers are not under test here.
"""

from __future__ import annotations

import html
import re
import subprocess
import sys

import pytest

from analysis.config import PROJECT_ROOT
from analysis.notebook_export import export_notebooks
from scenarios import BY_NAME, NO_ROSTER, SCENARIOS

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


def _text(path) -> str:
    # the visible text of an exported notebook: style and script blocks and tags dropped, entities decoded
    page = re.sub(r"<(style|script)\b.*?</\1>", "", path.read_text(encoding="utf-8"), flags=re.S)
    return html.unescape(re.sub(r"<[^>]+>", "", page))


def _check(name: str, out_dir) -> None:
    pages = {p.stem: _text(p) for p in out_dir.glob("*.html")}
    assert sorted(pages) == sorted(p.stem for p in NOTEBOOKS.glob("*.ipynb"))
    for stem, text in pages.items():
        assert "Traceback" not in text, f"{name}/{stem}"
    for stem, sentences in EXPECTED.get(name, {}).items():
        for s in sentences:
            assert s in pages[stem], f"{name}/{stem}: {s!r} not shown"


@pytest.mark.parametrize("name", ["no_roster", "upto_2013H1"])
def test_notebooks_execute_and_state_what_is_missing(name, delivery, tmp_path):
    _, processed = delivery(name)
    export_notebooks(NOTEBOOKS, tmp_path, processed, parameters={"DRAWS": 19})
    _check(name, tmp_path)


def test_main_job_on_one_half_year(delivery, tmp_path):
    raw, _ = delivery("one_half_year")
    res = subprocess.run([sys.executable, "-m", "analysis", "run", "--raw", str(raw), "--processed",
                          str(tmp_path / "processed"), "--reports", str(tmp_path / "reports"), "--draws", "9"],
                         capture_output=True, text=True, timeout=900)
    assert res.returncode == 0, res.stderr[-2000:]
    assert "Traceback" not in res.stdout
    # no traceback through the package; a kernel may log one of its own while it shuts down on a
    # loaded machine (ipykernel 7: "Uncaught exception in ZMQStream callback"), which is not ours
    assert not re.search(r'File "[^"]*[/\\]analysis[/\\]', res.stderr), res.stderr[-2000:]
    assert "running over TCP without encryption" not in res.stderr
    skipped = [line.removeprefix("  skipped ") for line in res.stdout.splitlines() if line.startswith("  skipped ")]
    assert skipped == list(BY_NAME["one_half_year"].skipped)
    assert f"  note: {ONE_HALF_YEAR}" in res.stdout.splitlines()
    _check("one_half_year", tmp_path / "reports" / "notebooks")


@pytest.mark.scenario_notebooks
@pytest.mark.parametrize("name", [d.name for d in SCENARIOS
                                  if d.name not in ("no_roster", "upto_2013H1", "one_half_year")])
def test_notebooks_on_the_rest_of_the_matrix(name, delivery, tmp_path):
    _, processed = delivery(name)
    export_notebooks(NOTEBOOKS, tmp_path, processed, parameters={"DRAWS": 19})
    _check(name, tmp_path)


def test_papermill_runs_a_notebook_on_a_delivery(delivery, tmp_path):
    # the parameters workflow of notebooks/README.md: papermill sets PROCESSED; the notebook runs on
    # the kernel its metadata names (the project's, registered by `make install`)
    import nbformat
    import papermill

    _, processed = delivery("one_half_year")
    out = tmp_path / "01_data_quality.ipynb"
    papermill.execute_notebook(NOTEBOOKS / "01_data_quality.ipynb", out, parameters={"PROCESSED": str(processed)},
                               progress_bar=False)
    nb = nbformat.read(out, as_version=4)
    assert nb.metadata["kernelspec"]["name"] == "residency"
    text = "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.outputs)
    # the folder's name only (never an absolute path), and the delivery's own note
    assert "数据目录： processed" in text and ONE_HALF_YEAR in text
