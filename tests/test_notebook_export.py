import nbformat
import pytest

from analysis.notebook_export import NotebookExportError, export_notebooks


def _write(path, *sources):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(s) for s in sources]
    nbformat.write(nb, path)


def test_executes_with_the_processed_folder_and_writes_html(tmp_path):
    nbs = tmp_path / "nbs"
    nbs.mkdir()
    _write(nbs / "02_b.ipynb", "print(6 * 7)")
    _write(nbs / "01_a.ipynb", "import os\nprint('DATA=' + os.environ['RESIDENCY_PROCESSED'].rsplit('/', 1)[-1])")
    processed = tmp_path / "processed_here"
    processed.mkdir()
    written = export_notebooks(nbs, tmp_path / "html", processed)
    assert [p.name for p in written] == ["01_a.html", "02_b.html"]
    assert "DATA=processed_here" in written[0].read_text(encoding="utf-8")
    assert "42" in written[1].read_text(encoding="utf-8")
    # the committed notebooks are not modified (no outputs were written into them)
    assert nbformat.read(nbs / "02_b.ipynb", 4).cells[0].outputs == []


def test_failing_notebook_is_named(tmp_path):
    nbs = tmp_path / "nbs"
    nbs.mkdir()
    _write(nbs / "bad.ipynb", "1 / 0")
    with pytest.raises(NotebookExportError, match="bad.ipynb"):
        export_notebooks(nbs, tmp_path / "html", tmp_path)


def test_kernel_filter_drops_only_the_unencrypted_tcp_warning():
    import logging

    from analysis.kernel_log import KernelLogFilter
    from analysis.notebook_export import KERNEL_QUIET_CONFIG

    def record(msg):
        return logging.LogRecord("IPKernelApp", logging.WARNING, __file__, 1, msg, None, None)

    f = KernelLogFilter()
    # ipykernel 7's text (ipykernel.kernelapp.IPKernelApp.init_sockets)
    assert not f.filter(record("Kernel is running over TCP without encryption. All communication (including "
                               "code and outputs) is sent in plain text and is susceptible to eavesdropping."))
    assert f.filter(record("WARNING: Kernel died, restarting"))
    # the configuration names the filter by an importable path
    path = KERNEL_QUIET_CONFIG["IPKernelApp"]["logging_config"]["filters"]["no_unencrypted_tcp"]["()"]
    assert path == "analysis.kernel_log.KernelLogFilter"


def test_parameters_are_injected_after_the_parameters_cell(tmp_path):
    nbs = tmp_path / "nbs"
    nbs.mkdir()
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [nbformat.v4.new_code_cell("RANK_PERIOD = None", metadata={"tags": ["parameters"]}),
                nbformat.v4.new_code_cell("print('rank', RANK_PERIOD)")]
    nbformat.write(nb, nbs / "a.ipynb")
    written = export_notebooks(nbs, tmp_path / "html", tmp_path, parameters={"RANK_PERIOD": "2013H1", "WINDOWS": None})
    assert "rank 2013H1" in written[0].read_text(encoding="utf-8")
