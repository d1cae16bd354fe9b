"""Structure checks of the analysis notebooks (their outputs are re-checked by nbval).

Each notebook must: carry a parameters cell first (papermill convention), define nothing
(no def / lambda / class: logic lives in the package), be committed executed top to bottom,
and never show an absolute path or an official's name in its outputs.
"""

from __future__ import annotations

import ast
import re
from functools import lru_cache
from pathlib import Path

import nbformat
import pytest

from analysis.config import PROJECT_ROOT

NOTEBOOKS_DIR = PROJECT_ROOT / "notebooks"
EXPECTED = [
    "01_data_quality.ipynb",
    "02_vitality.ipynb",
    "03_staffing.ipynb",
    "04_tasks.ipynb",
    "05_round_comparison.ipynb",
    "06_plenary_charts.ipynb",
]
NOTEBOOKS = sorted(NOTEBOOKS_DIR.glob("*.ipynb"))

# an absolute POSIX path of two or more components, a home folder, or a Windows drive path
# (ASCII look-behind: a path straight after Chinese text, 写入/home/…, must still count)
ABSOLUTE_PATH = re.compile(
    r"(?<![A-Za-z0-9_.])/(?:home|Users|root|tmp|work|var|opt|usr|mnt|srv|data|secure|Volumes)/"
    r"|[A-Za-z]:\\"
)
TEXT_MIMES = ("text/plain", "text/html", "text/markdown", "text/latex", "application/json")


def _read(path: Path) -> nbformat.NotebookNode:
    return nbformat.read(path, as_version=4)


def _code_cells(nb) -> list:
    return [c for c in nb.cells if c.cell_type == "code"]


def _output_texts(nb) -> list[tuple[int, str]]:
    """(cell index, text) of every textual output: streams, results, displays, errors."""
    out = []
    for i, cell in enumerate(nb.cells):
        for o in cell.get("outputs", []):
            if o.output_type == "stream":
                out.append((i, o.text))
            elif o.output_type in ("execute_result", "display_data"):
                out += [(i, str(o.data[m])) for m in TEXT_MIMES if m in o.data]
            elif o.output_type == "error":
                out.append((i, "\n".join([o.ename, o.evalue, *o.traceback])))
    return out


@lru_cache(maxsize=1)
def _official_names() -> frozenset[str]:
    """Names of the demo officials, as ``analysis.demo.truth().roster["official"]`` has them.

    Built with the generator's own first steps (units → batches → officials) rather than
    ``truth()``, which also simulates every indicator: measured 4 s instead of 20 s.
    """
    from analysis.demo import params
    from analysis.demo.roster import assign_batches, draw_officials
    from analysis.demo.units import reference_source, unit_panel

    _atoms, panel = unit_panel(reference_source())
    officials = draw_officials(assign_batches(panel, params.DEFAULT_SEED), params.DEFAULT_SEED)
    return frozenset(str(n) for n in officials["official"].dropna())


def test_every_expected_notebook_is_there_with_an_ascii_name():
    names = [p.name for p in NOTEBOOKS]
    assert [n for n in EXPECTED if n not in names] == []
    assert all(n.isascii() for n in names)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_title_is_chinese_markdown(path):
    first = _read(path).cells[0]
    assert first.cell_type == "markdown" and first.source.startswith("# ")
    assert re.search(r"[\u4e00-\u9fff]", first.source.splitlines()[0])


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_first_code_cell_is_the_parameters_cell(path):
    code = _code_cells(_read(path))
    assert "parameters" in code[0].metadata.get("tags", []), f"{path.name}: first code cell lacks the parameters tag"
    assert re.search(r"^PROCESSED\s*=\s*None\s*$", code[0].source, re.M)
    assert sum("parameters" in c.metadata.get("tags", []) for c in code) == 1


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_no_definitions_in_code_cells(path):
    for i, cell in enumerate(_read(path).cells):
        if cell.cell_type != "code":
            continue
        # IPython magics are not Python; drop them before parsing
        source = "\n".join(line for line in cell.source.splitlines() if not line.lstrip().startswith(("%", "!")))
        tree = ast.parse(source)
        found = [type(n).__name__ for n in ast.walk(tree)
                 if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef))]
        assert found == [], f"{path.name}, cell {i}: {found} — move the logic into analysis.summaries"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_committed_executed_top_to_bottom(path):
    code = _code_cells(_read(path))
    counts = [c.execution_count for c in code]
    assert counts == list(range(1, len(code) + 1)), f"{path.name}: execution counts {counts}; re-run the whole notebook"
    assert sum(len(c.outputs) for c in code) >= len(code) // 2
    errors = [c.execution_count for c in code for o in c.outputs if o.output_type == "error"]
    assert errors == []


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_no_timestamps_in_cell_metadata(path):
    # nbconvert records execution times unless --ExecutePreprocessor.record_timing=False; they
    # would make every re-run a diff
    stamped = [i for i, c in enumerate(_read(path).cells) if "execution" in c.metadata]
    assert stamped == [], f"{path.name}: cells {stamped} carry execution timestamps; re-run with record_timing=False"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_no_absolute_paths_in_outputs(path):
    hits = [(i, m.group(0)) for i, text in _output_texts(_read(path)) for m in ABSOLUTE_PATH.finditer(text)]
    assert hits == [], f"{path.name}: absolute paths in outputs of cells {hits}"


def test_absolute_path_pattern_catches_paths_and_spares_dates():
    assert ABSOLUTE_PATH.search("写入 /home/analyst/data/processed")
    assert ABSOLUTE_PATH.search(r"C:\\Users\\x")
    assert ABSOLUTE_PATH.search(r"C:\Users\x")  # as print() shows it
    assert ABSOLUTE_PATH.search("写入/home/a/b")
    assert ABSOLUTE_PATH.search("RESIDENCY_RAW=/secure/raw/x")
    assert not ABSOLUTE_PATH.search("数据目录： data/processed；2008/2009 年；元/人")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_no_official_names_in_notebooks(path):
    names = _official_names()
    assert len(names) > 100  # the demo roster: one official per county and round
    nb = _read(path)
    texts = [t for _, t in _output_texts(nb)] + [c.source for c in nb.cells]
    leaked = sorted({n for n in names for t in texts if n in t})
    assert leaked == [], f"{path.name}: officials' names appear: {leaked[:5]}"


def test_no_pseudonymous_ids_in_outputs():
    # cadre ids are keyed by a local salt: showing them would make outputs machine-dependent
    for path in NOTEBOOKS:
        assert not [t for _, t in _output_texts(_read(path)) if re.search(r"\bP[0-9a-f]{16}\b", t)], path.name


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebooks_open_on_the_projects_kernel(path):
    # the kernel `make install` registers (Makefile KERNEL) and README tells analysts to use
    makefile = (PROJECT_ROOT / "Makefile").read_text(encoding="utf-8")
    kernel = re.search(r"^KERNEL\s*:=\s*(\S+)", makefile, re.M).group(1)
    spec = _read(path).metadata["kernelspec"]
    assert (spec["name"], spec["display_name"]) == (kernel, "Python (residency)")
