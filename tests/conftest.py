"""Shared fixtures: the deliveries of the scenario matrix (tests/scenarios.py), cleaned once per session."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--scenario-notebooks", action="store_true", default=False,
                     help="also execute the six notebooks on every delivery of the scenario matrix "
                          "(the default suite executes them on three)")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("--scenario-notebooks"):
        return
    skip = pytest.mark.skip(reason="on demand: pytest --scenario-notebooks")
    for item in items:
        if "scenario_notebooks" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def delivery(tmp_path_factory) -> Callable[[str], tuple[Path, Path]]:
    """``delivery(name)`` → ``(raw, processed)`` of a scenario, laid out and cleaned once per session."""
    from analysis import cli
    from scenarios import BY_NAME, build_delivery

    done: dict[str, tuple[Path, Path]] = {}

    def get(name: str) -> tuple[Path, Path]:
        if name not in done:
            root = tmp_path_factory.mktemp(f"delivery_{name}")
            raw = build_delivery(BY_NAME[name], root / "raw")
            processed = root / "processed"
            assert cli.main(["clean", str(raw), "--out", str(processed), "--quiet"]) == 0
            done[name] = (raw, processed)
        return done[name]

    return get
