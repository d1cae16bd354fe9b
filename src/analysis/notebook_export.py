"""Execute the analysis notebooks on the current data and export them as HTML.

The committed notebooks in ``notebooks/`` hold outputs for the demo data (nbval checks them).
For a report on real data, the main job re-executes each notebook with the processed folder
passed through ``RESIDENCY_PROCESSED`` (the notebooks' parameters cell reads
:func:`analysis.config.paths`) and the analyst's other choices (``WINDOWS``, ``RANK_PERIOD``)
injected after the parameters cell the way papermill does, and writes
``reports/notebooks/<name>.html``.  The committed ``.ipynb`` files are never modified.

Each kernel started here gets the logging filter :class:`analysis.kernel_log.KernelLogFilter`
(through :data:`KERNEL_QUIET_CONFIG`), which drops the one warning ipykernel logs at every start
when it listens on local TCP ports ("Kernel is running over TCP without encryption"): the main
job starts six kernels on the analyst's own machine, so the warning said nothing useful six
times.  Every other kernel message still reaches the console.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import nbformat
from nbconvert import HTMLExporter
from nbconvert.preprocessors import ExecutePreprocessor

from analysis.config import paths
from analysis.fileio import atomic_write
from analysis.kernel_log import KernelLogFilter

__all__ = ["NotebookExportError", "KERNEL_QUIET_CONFIG", "export_notebooks"]

KERNEL = "python3"
"""Kernel of the running interpreter (ipykernel's built-in spec), so the notebooks see the same
installed ``analysis`` package as the main job (the notebooks' own metadata names the project's
kernel ``residency``, which ``make install`` registers in the same environment)."""

KERNEL_QUIET_CONFIG: dict[str, object] = {
    "IPKernelApp": {"logging_config": {
        "filters": {"no_unencrypted_tcp": {"()": f"{KernelLogFilter.__module__}.{KernelLogFilter.__qualname__}"}},
        # traitlets' default console handler of the kernel application, with the filter added
        "handlers": {"console": {"filters": ["no_unencrypted_tcp"]}},
    }},
}
"""Kernel configuration (a traitlets JSON config, passed with ``--config``) that installs
:class:`analysis.kernel_log.KernelLogFilter` on the kernel application's console log handler."""


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
    parameters: Mapping[str, object] | None = None,
) -> list[Path]:
    """Execute every ``*.ipynb`` in ``notebook_dir`` (sorted by name) and write HTML copies.

    Parameters
    ----------
    notebook_dir : folder of notebooks (default ``<root>/notebooks``).
    out_dir : output folder (default ``reports/notebooks``).
    processed_dir : processed data the notebooks read (default :func:`paths` ``.processed``).
    timeout : seconds allowed per cell.
    parameters : values for the notebooks' parameters cell other than ``PROCESSED`` (e.g.
        ``{"WINDOWS": {2: ("2011H2", "2013H1")}, "RANK_PERIOD": "2013H1"}``), injected after it
        with :func:`papermill.parameterize.parameterize_notebook`; ``None`` values are left out.

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
    given = {k: v for k, v in (parameters or {}).items() if v is not None}
    with tempfile.TemporaryDirectory(prefix="residency-kernel-") as tmp, \
            _environment(RESIDENCY_PROCESSED=str(processed.resolve())):
        quiet = Path(tmp) / "kernel_config.json"
        quiet.write_text(json.dumps(KERNEL_QUIET_CONFIG), encoding="utf-8")
        for nb_path in sorted(notebook_dir.glob("*.ipynb")):
            if given:
                from papermill.iorw import load_notebook_node
                from papermill.parameterize import parameterize_notebook

                # papermill's reader gives every cell the tags list its parameteriser expects
                nb = parameterize_notebook(load_notebook_node(str(nb_path)), given, kernel_name=KERNEL,
                                           language="python")
            else:
                nb = nbformat.read(nb_path, as_version=4)
            runner = ExecutePreprocessor(timeout=timeout, kernel_name=KERNEL, record_timing=False,
                                         extra_arguments=[f"--config={quiet}"])
            try:
                runner.preprocess(nb, {"metadata": {"path": str(notebook_dir)}})
            except Exception as exc:  # nbconvert raises CellExecutionError and kernel errors
                raise NotebookExportError(f"{nb_path.name}: {exc}".splitlines()[0]) from exc
            body, _ = exporter.from_notebook_node(nb)
            target = out_dir / f"{nb_path.stem}.html"
            written.append(atomic_write(target, lambda tmp, body=body: Path(tmp).write_text(body, encoding="utf-8")))
    return written
