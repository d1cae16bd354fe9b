"""pyproject.toml and environment.yml must list the same runtime dependencies."""

import re
import tomllib

from analysis.config import PROJECT_ROOT

# conda-forge names that differ from PyPI names (none at present; kept explicit on purpose)
CONDA_TO_PYPI: dict[str, str] = {}
NOT_PACKAGES = {"python", "pip"}


def _name(requirement: str) -> str:
    return re.split(r"[<>=!~\[ ;]", requirement.strip(), maxsplit=1)[0].lower().replace("_", "-")


def _environment_names() -> set[str]:
    names: set[str] = set()
    text = (PROJECT_ROOT / "environment.yml").read_text(encoding="utf-8")
    # only the dependencies: block (channels are not packages)
    text = text.split("dependencies:", 1)[1]
    for line in text.splitlines():
        m = re.match(r"^\s*-\s+([^#]+?)\s*(#.*)?$", line)
        if not m or m.group(1).endswith(":") or m.group(1).startswith("-e"):
            continue
        name = _name(m.group(1))
        names.add(CONDA_TO_PYPI.get(name, name))
    return names - NOT_PACKAGES


def test_runtime_dependencies_match():
    pyproject = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    declared = {_name(r) for r in pyproject["project"]["dependencies"]}
    assert declared == _environment_names()


def test_environment_installs_package_editable():
    text = (PROJECT_ROOT / "environment.yml").read_text(encoding="utf-8")
    assert re.search(r"^\s*-\s+-e\s+\.\s*$", text, re.M)


def test_name_parser_handles_specifiers():
    assert _name("pandas>=2.2") == "pandas"
    assert _name("python_calamine ==0.9") == "python-calamine"
    assert _name("nbval") == "nbval"
