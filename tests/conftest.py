"""Shared fixtures: the deliveries of the scenario matrix (tests/scenarios.py), cleaned once per session."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--scenario-notebooks", action="store_true", default=False,
                     help="also execute the six notebooks on every delivery of the scenario matrix "
                          "(the default suite executes them on three)")


# The slowest files (seconds on 2 cores, measured with --durations), first: `make test` hands whole
# files to its two workers in collection order (--dist loadfile --no-loadscope-reorder), and a
# slow file started last leaves one worker idle for its whole length.
SLOWEST_FIRST = ("test_report.py", "test_scenarios_notebooks.py", "test_scenarios.py", "test_scenarios_main_job.py",
                 "test_scenarios_rounds.py", "06_plenary_charts.ipynb", "test_fonts_system.py", "test_bad_inputs.py",
                 "test_demo.py", "test_indices_demo.py", "test_evaluate.py", "test_ingest_pipeline.py")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    rank = {name: i for i, name in enumerate(SLOWEST_FIRST)}
    # a stable sort: within a file and among the other files the collection order stays
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))
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


@pytest.fixture(scope="module")
def ran(delivery, tmp_path_factory):
    """``ran(name)``: ``evaluate`` and ``report`` on a scenario, once per module (timed in
    ``scenarios.TIMES``).

    Bootstrap draws are few and the subset estimates are left out (the numbers are not under test
    here); the charts are saved as one low-resolution PNG (rendering at 300 dpi in three formats
    is tested in ``test_report.py``)."""
    import functools
    import time

    import analysis.report as report
    from analysis.style import save_figure
    from scenarios import TIMES, Ran, run_command

    done: dict[str, Ran] = {}
    mp = pytest.MonkeyPatch()
    mp.setattr(report, "save_figure", functools.partial(save_figure, formats=("png",), dpi=40))

    def get(name: str) -> Ran:
        if name not in done:
            t0 = time.perf_counter()
            _, processed = delivery(name)
            t1 = time.perf_counter()
            reports = tmp_path_factory.mktemp(f"reports_{name}")
            # the subset estimates (异质性) are left out: they add a fifth of the estimates four times
            # over and are tested on the whole calendar in test_evaluate.py / test_report.py
            het = ["--no-heterogeneity"]
            ev = run_command("evaluate", "--processed", str(processed), "--reports", str(reports), "--biters", "9", *het)
            t2 = time.perf_counter()
            rep = run_command("report", "--processed", str(processed), "--reports", str(reports), "--draws", "9", *het)
            TIMES[name] = (t1 - t0, t2 - t1, time.perf_counter() - t2)
            done[name] = Ran(ev, rep, reports)
        return done[name]

    yield get
    mp.undo()
