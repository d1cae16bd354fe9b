"""Execute the analysis notebooks on the current data and export them as HTML.

The committed notebooks in ``notebooks/`` hold outputs for the demo data (nbval checks them).
For a report on real data, the main job re-executes each notebook with the processed folder
passed through ``RESIDENCY_PROCESSED`` (the notebooks' parameters cell reads
:func:`analysis.config.paths`), and writes ``reports/notebooks/<name>.html``.  The committed
``.ipynb`` files are never modified.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import nbformat
from nbconvert import HTMLExporter
from nbconvert.preprocessors import ExecutePreprocessor

from analysis.config import paths
from analysis.fileio import atomic_write

__all__ = ["NotebookExportError", "export_notebooks"]

KERNEL = "python3"
"""Kernel of the running interpreter (ipykernel's built-in spec), so the notebooks see the same
installed ``analysis`` package as the main job."""


class NotebookExportError(RuntimeError):
    """A notebook failed while executing; the message names the notebook and the cell."""


@contextmanager
def _environment(**values: str) -> Iterator[None]:
    old = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def export_notebooks(
    notebook_dir: str | os.PathLike | None = None,
    out_dir: str | os.PathLike | None = None,
    processed_dir: str | os.PathLike | None = None,
    *,
    timeout: int = 600,
) -> list[Path]:
    """Execute every ``*.ipynb`` in ``notebook_dir`` (sorted by name) and write HTML copies.

    Parameters
    ----------
    notebook_dir : folder of notebooks (default ``<root>/notebooks``).
    out_dir : output folder (default ``reports/notebooks``).
    processed_dir : processed data the notebooks read (default :func:`paths` ``.processed``).
    timeout : seconds allowed per cell.

    Returns
    -------
    list of Path
        The HTML files written, in notebook order.
    """
    p = paths()
    notebook_dir = Path(notebook_dir) if notebook_dir else p.root / "notebooks"
    out_dir = Path(out_dir) if out_dir else p.reports / "notebooks"
    processed = Path(processed_dir) if processed_dir else p.processed
    out_dir.mkdir(parents=True, exist_ok=True)
    exporter = HTMLExporter()
    written: list[Path] = []
    with _environment(RESIDENCY_PROCESSED=str(processed.resolve())):
        for nb_path in sorted(notebook_dir.glob("*.ipynb")):
            nb = nbformat.read(nb_path, as_version=4)
            runner = ExecutePreprocessor(timeout=timeout, kernel_name=KERNEL, record_timing=False)
            try:
                runner.preprocess(nb, {"metadata": {"path": str(notebook_dir)}})
            except Exception as exc:  # nbconvert raises CellExecutionError and kernel errors
                raise NotebookExportError(f"{nb_path.name}: {exc}".splitlines()[0]) from exc
            body, _ = exporter.from_notebook_node(nb)
            target = out_dir / f"{nb_path.stem}.html"
            written.append(atomic_write(target, lambda tmp, body=body: Path(tmp).write_text(body, encoding="utf-8")))
    return written
