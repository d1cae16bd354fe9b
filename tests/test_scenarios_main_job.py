"""The main job itself on a partial delivery, and the notebooks' parameters workflow (issue 16).

``python -m analysis run`` on the one-half-year delivery of the matrix (:mod:`scenarios`): exit 0,
one line per skipped part, no traceback, no kernel warning about unencrypted TCP, and the six
notebooks exported with the delivery's sentences.  Then papermill, as ``notebooks/README.md``
tells analysts to use it.
"""

from __future__ import annotations

import re
import subprocess
import sys

from scenarios import BY_NAME, NOTEBOOKS, ONE_HALF_YEAR, check_notebooks


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
    check_notebooks("one_half_year", tmp_path / "reports" / "notebooks")


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
