"""Command-line interface: ``python -m analysis <command>`` (console script ``residency``).

Each subcommand is a thin wrapper: it turns options into :mod:`analysis.config` paths and calls
library functions.  ``run`` is the main job used by ``make report``.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path

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


FONT_HELP = ("Chinese font of the charts: a family name ('WenQuanYi Zen Hei') or a font file "
             "(.ttf/.otf/.ttc); default $RESIDENCY_FONT, else the first installed of Microsoft YaHei, "
             "SimHei, PingFang SC, Noto Sans CJK SC, Source Han Sans, WenQuanYi, else the bundled "
             "Noto Sans SC")


def _use_font(args: argparse.Namespace) -> None:
    """Choose the chart font before anything is drawn, and say which one in one line.

    ``--font`` is passed on as ``RESIDENCY_FONT``, so the notebook kernels that ``run`` starts
    use the same font.  A fallback (a font that cannot be made PDF-safe) is one ``note:`` line
    instead of a Python warning.
    """
    if getattr(args, "font", None):
        os.environ["RESIDENCY_FONT"] = args.font
    from analysis.fonts import FontFallbackWarning, FontNotFoundError, use_chinese_font

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", FontFallbackWarning)
        try:
            choice = use_chinese_font()
        except FontNotFoundError as exc:
            raise UsageError(str(exc)) from exc
    for w in caught:
        if issubclass(w.category, FontFallbackWarning):
            print(f"note: {w.message}", file=sys.stderr)
        else:
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    print(f"font: {choice.summary()}")


def _window_option(text: str) -> tuple[int, tuple[str, str]]:
    """``2=2011H2:2013H1`` → ``(2, ("2011H2", "2013H1"))``."""
    try:
        rnd, span = text.split("=", 1)
        start, end = span.split(":", 1)
        return int(rnd), (start.strip(), end.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not ROUND=START:END, e.g. 2=2011H2:2013H1") from None


def _add_choice_options(p: argparse.ArgumentParser, rank_period: bool = True) -> None:
    p.add_argument("--window", action="append", type=_window_option, default=None, metavar="R=START:END",
                   help="change window of round R, e.g. 2=2011H2:2013H1 (repeatable; default: derived "
                        "from the half-years in the data)")
    if rank_period:
        p.add_argument("--rank-period", default=None, metavar="PERIOD",
                       help="half-year of the county ranking, e.g. 2013H2 (default: the end of the latest "
                            "round the data cover)")


def _add_heterogeneity_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--no-heterogeneity", action="store_true",
                   help="leave out the subset estimates (三州/其他, 省级/市级 sending units; the 异质性 sheet): "
                        "a quicker first look at a new delivery")


def _windows(args: argparse.Namespace) -> dict[int, tuple[str, str]] | None:
    return dict(args.window) if getattr(args, "window", None) else None


def _print_skipped_parts(processed: Path, parts: tuple[str, ...], windows) -> None:
    """One line per part of the analysis the delivery cannot give, with the scope's sentence."""
    from analysis.scope import PARTS_ZH, read_scope

    scope = read_scope(processed, windows=windows)
    print(scope.windows_text())
    for part in parts:
        if not scope.can(part):
            print(f"  skipped {PARTS_ZH[part]}: {scope.why(part)}")


def _cmd_smoke(args: argparse.Namespace) -> int:
    from analysis.smoke import write_smoke_figure

    p = paths(reports=args.reports)
    _use_font(args)
    for f in write_smoke_figure(p.figures):
        print(f"wrote {f}")
    return 0


def _cmd_reference(args: argparse.Namespace) -> int:
    try:
        from analysis.reference_build import ReferenceBuildError, build_reference
    except ImportError as exc:  # the code books are build-time extras
        raise UsageError(f"{exc}; install them with: pip install -e '.[reference]'") from exc
    try:
        written = build_reference(paths(reference=args.reference).reference)
    except ReferenceBuildError as exc:
        raise UsageError(str(exc)) from exc
    for f in written:
        print(f"wrote {f}")
    return 0


def _cmd_demo(args: argparse.Namespace) -> int:
    from analysis.demo import DemoError, generate

    out = Path(args.out) if args.out else paths().raw
    try:
        written = generate(out, seed=args.seed)
    except DemoError as exc:
        raise UsageError(str(exc)) from exc
    print(f"wrote {len(written)} files to {out} (seed {args.seed})")
    return 0


def _cmd_clean(args: argparse.Namespace) -> int:
    from analysis.ingest.outputs import run_clean_cli

    raw = [Path(r) for r in args.raw_paths] or [paths().raw]
    out = Path(args.out) if args.out else paths().processed
    return run_clean_cli(raw, out, progress=not args.quiet)


def _cmd_report(args: argparse.Namespace) -> int:
    from analysis.report import ReportDataError, build_report

    p = paths(processed=args.processed, reports=args.reports)
    _use_font(args)
    try:
        manifest = build_report(p.processed, p.reports, n_draws=args.draws, rank_period=args.rank_period,
                                windows=_windows(args), heterogeneity=not args.no_heterogeneity)
    except ReportDataError as exc:
        raise UsageError(str(exc)) from exc
    _print_manifest(manifest)
    return 0


def _print_manifest(manifest) -> None:
    print(f"{len(manifest.figures)} figures, {len(manifest.tables)} tables, {manifest.docx.name}, "
          f"{manifest.html.name}")
    for stem, why in manifest.skipped:
        print(f"  skipped {stem}: {why}")
    for note in manifest.notes:
        print(f"  note: {note}")


def _cmd_evaluate(args: argparse.Namespace) -> int:
    from analysis.evaluate import EvaluationError, write_evaluation

    p = paths(processed=args.processed, reports=args.reports)
    try:
        written = write_evaluation(p.processed, p.tables, biters=args.biters, seed=args.seed,
                                   cluster=args.cluster, windows=_windows(args),
                                   heterogeneity=not args.no_heterogeneity)
    except EvaluationError as exc:
        raise UsageError(str(exc)) from exc
    for f in written:
        print(f"wrote {f}")
    _print_skipped_parts(p.processed, ("effects", "round_difference", "round_comparison"), _windows(args))
    return 0


def _cmd_run(args: argparse.Namespace) -> int:
    """The main job: every step from raw data to reports, in order; stops at the first failure."""
    p = paths(raw=args.raw, processed=args.processed, reports=args.reports)
    if not p.raw.exists():
        raise UsageError(f"raw data folder {p.raw} does not exist (give --raw or set RESIDENCY_RAW)")
    total = time.perf_counter()
    # before cleaning: a wrong --font stops the job at once; on a new machine this step also
    # converts a CFF font once (Noto Sans CJK: tens of seconds), so it is timed like the others
    _use_font(args)
    print(f"[{time.perf_counter() - total:6.1f} s] chart font")

    from analysis.ingest.outputs import run_clean_cli
    from analysis.notebook_export import NotebookExportError, export_notebooks
    from analysis.report import ReportDataError, build_report
    from analysis.smoke import write_smoke_figure

    windows = _windows(args)

    def clean() -> int:
        return run_clean_cli([p.raw], p.processed, progress=sys.stderr.isatty())

    def pack() -> None:
        try:
            manifest = build_report(p.processed, p.reports, n_draws=args.draws, rank_period=args.rank_period,
                                    windows=windows, heterogeneity=not args.no_heterogeneity)
        except ReportDataError as exc:
            raise UsageError(str(exc)) from exc
        _print_manifest(manifest)

    def notebooks() -> None:
        try:
            export_notebooks(p.root / "notebooks", p.reports / "notebooks", p.processed,
                             parameters={"WINDOWS": windows, "RANK_PERIOD": args.rank_period,
                                         "DRAWS": None if args.draws == 999 else args.draws})
        except NotebookExportError as exc:
            raise UsageError(f"{exc} (run the notebook in JupyterLab on {p.processed} to see the cell)") from exc

    steps: list[tuple[str, Callable[[], object]]] = [
        ("clean: raw → data/processed", clean),
        ("font check figure", lambda: write_smoke_figure(p.figures)),
        ("evaluation and chart pack: figures, tables, docx, index.html → reports/", pack),
        ("notebooks executed → reports/notebooks/*.html", notebooks),
    ]
    for name, step in steps:
        t0 = time.perf_counter()
        status = step()
        print(f"[{time.perf_counter() - t0:6.1f} s] {name}")
        if isinstance(status, int) and status != 0:
            print(f"error: step '{name}' failed (exit {status})", file=sys.stderr)
            return status
    print(f"done in {time.perf_counter() - total:.1f} s; reports in {p.reports}")
    return 0


COMMANDS: dict[str, tuple[str, Callable[[argparse.Namespace], int], tuple[str, ...]]] = {
    "run": ("main job: raw data → processed data → analyses → reports", _cmd_run,
            ("raw", "processed", "reports")),
    "evaluate": ("round comparison and staggered DiD tables → reports/tables", _cmd_evaluate,
                 ("processed", "reports")),
    "report": ("chart pack: figures, tables, 图表汇编.docx, index.html → reports/", _cmd_report,
               ("processed", "reports")),
    "clean": ("raw submissions → tidy, audited data in data/processed", _cmd_clean, ()),
    "reference": ("rebuild data/reference from the GB/T 2260 code books (needs '.[reference]')",
                  _cmd_reference, ("reference",)),
    "demo": ("write the synthetic demo submissions", _cmd_demo, ()),
    "smoke": ("write a small chart with Chinese text to check fonts", _cmd_smoke, ("reports",)),
}


def _extra_options(name: str, p: argparse.ArgumentParser) -> None:
    if name in ("run", "report", "smoke"):
        p.add_argument("--font", default=None, metavar="NAME_OR_FILE", help=FONT_HELP)
    if name == "demo":
        from analysis.demo.params import DEFAULT_SEED

        p.add_argument("--out", default=None, metavar="DIR", help="output folder (default: data/raw/demo)")
        p.add_argument("--seed", type=int, default=DEFAULT_SEED, help=f"random seed (default {DEFAULT_SEED})")
    elif name in ("report", "run"):
        p.add_argument("--draws", type=int, default=999,
                       help="bootstrap draws of rank intervals and of the effects' bootstrap (default 999)")
        _add_choice_options(p)
        _add_heterogeneity_option(p)
    elif name == "evaluate":
        _add_choice_options(p, rank_period=False)
        _add_heterogeneity_option(p)
        p.add_argument("--biters", type=int, default=999, help="multiplier-bootstrap draws (default 999)")
        p.add_argument("--seed", type=int, default=20120215, help="random seed (default 20120215)")
        p.add_argument("--cluster", choices=("county", "prefecture"), default="county",
                       help="cluster standard errors by county (default) or prefecture")
    elif name == "clean":
        p.add_argument("raw_paths", nargs="*", metavar="RAW",
                       help="files or folders of submissions (default: data/raw/demo or $RESIDENCY_RAW)")
        p.add_argument("--out", default=None, metavar="DIR",
                       help="output folder (default: data/processed or $RESIDENCY_PROCESSED)")
        p.add_argument("--quiet", action="store_true", help="no progress bar")


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
        _extra_options(name, p)
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
