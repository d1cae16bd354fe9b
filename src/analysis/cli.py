"""Command-line interface: ``python -m analysis <command>`` (console script ``residency``).

Each subcommand is a thin wrapper: it turns options into :mod:`analysis.config` paths and calls
library functions.  ``run`` is the main job used by ``make report``.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Sequence

from analysis import __version__
from analysis.config import paths


class UsageError(RuntimeError):
    """The command could not run (bad option, missing input); shown as one line, exit 2."""


def _add_path_options(p: argparse.ArgumentParser, *names: str) -> None:
    helps = {
        "raw": "folder of raw submissions (default: data/raw/demo, or $RESIDENCY_RAW)",
        "processed": "folder for processed data (default: data/processed, or $RESIDENCY_PROCESSED)",
        "reports": "folder for charts and tables (default: reports, or $RESIDENCY_REPORTS)",
        "reference": "folder of reference tables (default: data/reference, or $RESIDENCY_REFERENCE)",
    }
    for name in names:
        p.add_argument(f"--{name}", default=None, metavar="DIR", help=helps[name])


def _cmd_smoke(args: argparse.Namespace) -> int:
    from analysis.smoke import write_smoke_figure

    p = paths(reports=args.reports)
    for f in write_smoke_figure(p.figures):
        print(f"wrote {f}")
    return 0


def _cmd_run(args: argparse.Namespace) -> int:
    """The main job: every step from raw data to reports, in order."""
    p = paths(raw=args.raw, processed=args.processed, reports=args.reports)
    steps: list[tuple[str, Callable[[], object]]] = []

    from analysis.smoke import write_smoke_figure

    steps.append(("smoke figure", lambda: write_smoke_figure(p.figures)))
    for name, step in steps:
        t0 = time.perf_counter()
        step()
        print(f"[{time.perf_counter() - t0:6.1f} s] {name}")
    print(f"reports in {p.reports}")
    return 0


COMMANDS: dict[str, tuple[str, Callable[[argparse.Namespace], int], tuple[str, ...]]] = {
    "run": ("main job: raw data → processed data → analyses → reports", _cmd_run,
            ("raw", "processed", "reports")),
    "smoke": ("write a small chart with Chinese text to check fonts", _cmd_smoke, ("reports",)),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m analysis",
        description="驻点工作评估 — evaluation of Sichuan's county residency programme.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (help_, func, path_opts) in COMMANDS.items():
        p = sub.add_parser(name, help=help_, description=help_)
        _add_path_options(p, *path_opts)
        p.set_defaults(func=func)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except UsageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
