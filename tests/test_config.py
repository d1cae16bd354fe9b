from pathlib import Path

import pytest

from analysis import config


def test_root_is_the_checkout():
    assert (config.PROJECT_ROOT / "pyproject.toml").is_file()
    assert (config.PROJECT_ROOT / "src" / "analysis" / "config.py").is_file()


def test_defaults_built_from_root():
    p = config.paths()
    assert p.raw == config.PROJECT_ROOT / "data" / "raw" / "demo"
    assert p.processed == config.PROJECT_ROOT / "data" / "processed"
    assert p.figures == config.PROJECT_ROOT / "reports" / "figures"
    assert p.tables == config.PROJECT_ROOT / "reports" / "tables"


def test_argument_beats_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("RESIDENCY_RAW", str(tmp_path / "env"))
    assert config.paths().raw == tmp_path / "env"
    assert config.paths(raw=tmp_path / "arg").raw == tmp_path / "arg"
    # None means "not given", so the environment still applies
    assert config.paths(raw=None).raw == tmp_path / "env"


def test_root_override_moves_every_default(monkeypatch, tmp_path):
    monkeypatch.setenv("RESIDENCY_ROOT", str(tmp_path))
    p = config.paths()
    assert p.reports == tmp_path / "reports"
    assert p.raw == tmp_path / "data" / "raw" / "demo"


def test_unknown_name_is_an_error():
    with pytest.raises(TypeError, match="unknown path"):
        config.paths(rawdata="/x")


def test_paths_are_paths():
    assert all(isinstance(v, Path) for v in vars(config.paths()).values())
