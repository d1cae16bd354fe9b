"""The house chart style: fonts, colours, sizes, source notes and a deterministic export.

Colours come from the Okabe-Ito palette (safe for the common colour-vision deficiencies).  Pairs
that must be told apart — the two rounds, the four grades — are also given different lightness
(CIE L*) and a marker and hatch each, so they survive grey-scale printing.  Sizes follow an A4
report: a single column is 8.5 cm wide, a double column 17 cm.

Chart functions return figures; :func:`save_figure` is the one place that writes them.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Literal

import matplotlib as mpl
from matplotlib import patheffects
from cycler import cycler
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties
from matplotlib.text import Text

from analysis.fonts import FontChoice, font_rc, use_chinese_font
from analysis.ingest.periods import half_year_label
from analysis.fileio import atomic_write

__all__ = [
    "CM",
    "DIVERGING_CMAP",
    "DOUBLE_COLUMN_CM",
    "GRADES",
    "GRADE_COLORS",
    "GRADE_HATCHES",
    "GRADE_MARKERS",
    "OKABE_ITO",
    "ROUNDS",
    "ROUND_COLORS",
    "ROUND_HATCHES",
    "ROUND_LINESTYLES",
    "ROUND_MARKERS",
    "SINGLE_COLUMN_CM",
    "add_source_note",
    "apply_style",
    "axis_label",
    "figure_size",
    "house_rc",
    "lightness",
    "new_figure",
    "outline",
    "period_label",
    "save_figure",
]

OKABE_ITO: dict[str, str] = {
    "black": "#000000",
    "orange": "#E69F00",
    "sky_blue": "#56B4E9",
    "bluish_green": "#009E73",
    "yellow": "#F0E442",
    "blue": "#0072B2",
    "vermillion": "#D55E00",
    "reddish_purple": "#CC79A7",
}
"""Okabe & Ito (2008) colour-blind-safe palette."""

ROUNDS: tuple[str, str] = ("第一轮", "第二轮")
# orange (L* 71) vs blue (L* 46): distinct in grey as well as in hue
ROUND_COLORS: dict[str, str] = {"第一轮": OKABE_ITO["orange"], "第二轮": OKABE_ITO["blue"]}
ROUND_MARKERS: dict[str, str] = {"第一轮": "o", "第二轮": "s"}
ROUND_LINESTYLES: dict[str, str] = {"第一轮": "--", "第二轮": "-"}
ROUND_HATCHES: dict[str, str] = {"第一轮": "", "第二轮": "///"}

GRADES: tuple[str, ...] = ("优秀", "良好", "合格", "不合格")
# L* 46 / 70 / 89 / 54: the first three rise in lightness; 不合格 (vermillion, the warning
# colour) sits near 优秀 in grey, so it alone carries a cross-hatch and an X marker.
GRADE_COLORS: dict[str, str] = {
    "优秀": OKABE_ITO["blue"],
    "良好": OKABE_ITO["sky_blue"],
    "合格": OKABE_ITO["yellow"],
    "不合格": OKABE_ITO["vermillion"],
}
GRADE_MARKERS: dict[str, str] = {"优秀": "o", "良好": "s", "合格": "^", "不合格": "X"}
GRADE_HATCHES: dict[str, str] = {"优秀": "", "良好": "", "合格": "..", "不合格": "xxx"}

DIVERGING_CMAP = "PuOr_r"
"""Diverging colour map for changes centred at 0 (purple–orange stays readable for
red–green colour blindness and in grey, unlike red–green maps)."""

CM = 1 / 2.54
"""Inches per centimetre (matplotlib sizes are in inches)."""
SINGLE_COLUMN_CM = 8.5
DOUBLE_COLUMN_CM = 17.0

Width = Literal["single", "double"]
_WIDTHS_CM: dict[str, float] = {"single": SINGLE_COLUMN_CM, "double": DOUBLE_COLUMN_CM}

_SVG_HASHSALT = "analysis-residency"
_SOFTWARE = "analysis (matplotlib)"
_FORMATS = frozenset({"png", "pdf", "svg"})


def lightness(colour: str) -> float:
    """CIE L* (0 = black, 100 = white) of a colour: how it prints in grey.

    Parameters
    ----------
    colour : any matplotlib colour (``"#F0E442"``, ``"tab:blue"``).
    """
    r, g, b = (c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4
               for c in mpl.colors.to_rgb(colour))
    y = 0.2126 * r + 0.7152 * g + 0.0722 * b  # relative luminance, sRGB / D65
    return 116 * y ** (1 / 3) - 16 if y > 216 / 24389 else 24389 / 27 * y


def outline(colour: str, width: float) -> list | None:
    """Path effects giving a light line a dark outline, so it stays visible on white and in grey.

    Parameters
    ----------
    colour : the line's colour.
    width : the line's width (points).

    Returns
    -------
    list of path effects for ``path_effects=...``, or ``None`` when the colour is dark enough
    (L* ≤ 80, e.g. everything but 合格 yellow).
    """
    if lightness(colour) <= 80:
        return None
    return [patheffects.Stroke(linewidth=width + 1.0, foreground="#555555"), patheffects.Normal()]


def figure_size(width: Width | float = "single", aspect: float = 0.62) -> tuple[float, float]:
    """Figure size in inches for a report column.

    Parameters
    ----------
    width : ``"single"`` (8.5 cm), ``"double"`` (17 cm), or a width in cm.
    aspect : height / width (dimensionless).

    Returns
    -------
    (width, height) in inches.
    """
    if isinstance(width, str):
        if width not in _WIDTHS_CM:
            raise ValueError(
                f"figure_size: width={width!r} is not one of {sorted(_WIDTHS_CM)} or a number of cm"
            )
        width_cm = _WIDTHS_CM[width]
    else:
        width_cm = float(width)
    if width_cm <= 0 or aspect <= 0:
        raise ValueError(f"figure_size: width ({width_cm} cm) and aspect ({aspect}) must be > 0")
    return width_cm * CM, width_cm * aspect * CM


# seaborn.set_theme(context="paper", style="whitegrid") written out (seaborn 0.13): the base the
# house rc overrides.  Written out so that drawing a chart does not import seaborn and, through it,
# scipy.stats (about 0.9 s for every notebook kernel and command); tests/test_style.py checks these
# values against seaborn itself.
SEABORN_THEME_RC: dict[str, object] = {
    # seaborn.plotting_context("paper")
    "axes.linewidth": 1.0, "grid.linewidth": 0.8, "lines.linewidth": 1.2000000000000002,
    "lines.markersize": 4.800000000000001, "patch.linewidth": 0.8,
    "xtick.major.width": 1.0, "ytick.major.width": 1.0, "xtick.minor.width": 0.8, "ytick.minor.width": 0.8,
    "xtick.major.size": 4.800000000000001, "ytick.major.size": 4.800000000000001,
    "xtick.minor.size": 3.2, "ytick.minor.size": 3.2,
    "font.size": 9.600000000000001, "axes.labelsize": 9.600000000000001, "axes.titlesize": 9.600000000000001,
    "xtick.labelsize": 8.8, "ytick.labelsize": 8.8, "legend.fontsize": 8.8, "legend.title_fontsize": 9.600000000000001,
    # seaborn.axes_style("whitegrid", rc={"font.family": "sans-serif"}); image.cmap is left at
    # matplotlib's default (seaborn's "rocket" exists only once seaborn is imported; every
    # colour-mapped chart names its colour map)
    "figure.facecolor": "white", "axes.labelcolor": ".15", "xtick.direction": "out", "ytick.direction": "out",
    "xtick.color": ".15", "ytick.color": ".15", "axes.axisbelow": True, "grid.linestyle": "-",
    "text.color": ".15", "font.family": "sans-serif",
    "font.sans-serif": ["Arial", "DejaVu Sans", "Liberation Sans", "Bitstream Vera Sans", "sans-serif"],
    "lines.solid_capstyle": "round", "patch.edgecolor": "w", "patch.force_edgecolor": True,
    "xtick.top": False, "ytick.right": False, "axes.grid": True, "axes.facecolor": "white",
    "axes.edgecolor": ".8", "grid.color": ".8", "axes.spines.left": True, "axes.spines.bottom": True,
    "axes.spines.right": True, "axes.spines.top": True, "xtick.bottom": False, "ytick.left": False,
}
"""The rc of ``seaborn.set_theme(context="paper", style="whitegrid")`` (without its palette: the
house colour cycle replaces it)."""

SEABORN_COLOR_CODES: dict[str, str | tuple[float, float, float]] = {
    # seaborn.set_color_codes("deep"): the one-letter colours as the "deep6" palette, k near black
    "b": "#4c72b0", "g": "#55a868", "r": "#c44e52", "m": "#8172b3", "y": "#ccb974", "c": "#64b5cd",
    "k": (0.1, 0.1, 0.1),
}


def house_rc(choice: FontChoice) -> dict[str, object]:
    """All rc settings of the house style (fonts included).

    Parameters
    ----------
    choice : the Chinese font (from :func:`analysis.fonts.use_chinese_font`).

    Returns
    -------
    dict
        rc mapping, suitable for ``seaborn.set_theme(rc=...)``.
    """
    return {
        **font_rc(choice),
        # point sizes for print at 100 %: body text of an A4 report is ~10 pt
        "font.size": 8,
        "axes.titlesize": 9,
        "axes.labelsize": 8,
        "xtick.labelsize": 7,
        "ytick.labelsize": 7,
        "legend.fontsize": 7,
        "legend.title_fontsize": 7,
        "figure.titlesize": 10,
        "figure.figsize": figure_size("single"),
        "figure.dpi": 100,
        "savefig.dpi": 300,
        "figure.constrained_layout.use": True,
        "axes.prop_cycle": cycler(
            color=[OKABE_ITO[k] for k in ("blue", "orange", "bluish_green", "vermillion",
                                          "sky_blue", "reddish_purple", "yellow", "black")]
        ),
        # the bundled Noto Sans SC has one weight; "bold" would only log a findfont fallback
        "axes.titleweight": "normal",
        "axes.titlelocation": "left",
        "hatch.linewidth": 0.6,
        "svg.hashsalt": _SVG_HASHSALT,
    }


def apply_style() -> FontChoice:
    """Apply the house style globally (idempotent): Chinese font, seaborn theme, rc.

    Returns
    -------
    FontChoice
        The Chinese font in use.
    """
    choice = use_chinese_font()
    # as seaborn.set_theme(context="paper", style="whitegrid", rc=house_rc(choice)) did
    mpl.rcParams.update(SEABORN_THEME_RC)
    for code, color in SEABORN_COLOR_CODES.items():
        mpl.colors.colorConverter.colors[code] = mpl.colors.to_rgb(color)
    mpl.rcParams.update(house_rc(choice))
    return choice


def new_figure(
    width: Width | float = "single",
    aspect: float = 0.62,
    nrows: int = 1,
    ncols: int = 1,
    **subplot_kw: object,
):
    """A figure of report size with constrained layout, in the house style.

    Parameters
    ----------
    width, aspect : see :func:`figure_size`.
    nrows, ncols : grid of axes.
    **subplot_kw : passed to :meth:`matplotlib.figure.Figure.subplots` (e.g. ``sharey=True``).

    Returns
    -------
    (Figure, Axes or array of Axes)
        Not registered with pyplot's figure manager, so callers need not close it; attached
        to an Agg canvas, so ``fig.canvas.draw()`` renders.
    """
    apply_style()
    fig = Figure(figsize=figure_size(width, aspect), layout="constrained")
    # a bare Figure has FigureCanvasBase, whose draw() does nothing; Agg makes
    # fig.canvas.draw() really lay out and render (and so surface missing glyphs)
    FigureCanvasAgg(fig)
    axes = fig.subplots(nrows, ncols, squeeze=True, **subplot_kw)
    return fig, axes


def axis_label(name: str, unit: str | None = None) -> str:
    """Axis label with the unit in full-width brackets: ``axis_label("变化", "个")`` → ``"变化（个）"``.

    Parameters
    ----------
    name : what is measured (Chinese).
    unit : unit (``"个"``, ``"%"``, ``"百分点"``, ``"元/人"``); ``None`` for dimensionless.
    """
    return f"{name}（{unit}）" if unit else name


def period_label(period: str) -> str:
    """Chinese label of a half-year period: ``"2012H1"`` → ``"2012年上半年"``.

    Parameters
    ----------
    period : ``YYYYH1`` or ``YYYYH2``; anything else (``"2013年"``) is returned unchanged.
    """
    return half_year_label(period)


def add_source_note(fig: Figure, source: str, period: str | Sequence[str]) -> Text:
    """Add ``数据来源：…`` and ``时期：…`` at the bottom left of a figure, and make room for them.

    Parameters
    ----------
    fig : the figure (constrained layout is shrunk to leave space; other layouts get
        ``subplots_adjust``).
    source : where the data come from, e.g. ``"各市州团委驻点工作汇总表"``.  A leading
        ``数据来源：`` is not repeated.
    period : period covered, either one label (``"2008–2014年"``) or ``(start, end)`` half-years
        such as ``("2008H2", "2014H1")``.

    Returns
    -------
    matplotlib.text.Text
        The note (one per figure: calling again replaces it).
    """
    if not source or not str(source).strip():
        raise ValueError("add_source_note: source is empty; name the data source (e.g. 汇总表)")
    source = str(source).strip().removeprefix("数据来源：").removeprefix("数据来源:")
    if isinstance(period, str):
        covered = period_label(period)
    else:
        start, end = period
        covered = f"{period_label(start)}至{period_label(end)}"
    # two short lines rather than one long one: a single-column chart is only 8.5 cm wide
    text = f"数据来源：{source}\n时期：{covered}"

    for old in [t for t in fig.texts if t.get_gid() == "source-note"]:
        old.remove()
    size = mpl.rcParams["legend.fontsize"]
    note = fig.text(0.01, 0.01, text, ha="left", va="bottom", fontsize=size, color="#444444",
                    gid="source-note", linespacing=1.3)
    # room for the two lines plus padding, as a fraction of the figure height
    height_in = fig.get_size_inches()[1]
    points = FontProperties(size=size).get_size_in_points()
    frac = min(0.35, (2 * 1.3 + 0.8) * points / 72 / height_in)
    engine = fig.get_layout_engine()
    if engine is not None and "rect" in engine.get():
        _reserve_below_layout(fig, frac)
    else:
        fig.subplots_adjust(bottom=max(fig.subplotpars.bottom, frac + 0.08))
    return note


def _reserve_below_layout(fig: Figure, note_frac: float) -> None:
    """Shrink the constrained-layout area to leave ``note_frac`` of the height for the note.

    Constrained layout places ``loc="outside lower …"`` figure legends at the very bottom of the
    figure, where the note goes, and reserves no room for a legend given an explicit anchor.  So
    such legends are anchored just above the note and their height is taken out of the layout
    rect as well.
    """
    renderer = fig.canvas.get_renderer() if hasattr(fig.canvas, "get_renderer") else None
    bottom = note_frac
    pad = 4 / 72 / fig.get_size_inches()[1]  # 4 pt between legend and plot
    for legend in fig.legends:
        # _outside_loc is how matplotlib records loc="outside …" (no public accessor, 3.7–3.11)
        side = getattr(legend, "_outside_loc", None)
        if side != "lower" or renderer is None:
            continue
        height = fig.transFigure.inverted().transform_bbox(legend.get_window_extent(renderer)).height
        legend.set_bbox_to_anchor((0, bottom, 1, 1 - bottom), transform=fig.transFigure)
        bottom += height + pad
    fig.get_layout_engine().set(rect=(0, bottom, 1, 1 - bottom))


def save_figure(
    fig: Figure,
    stem: Path | str,
    formats: Iterable[str] = ("png", "pdf", "svg"),
    dpi: int = 300,
) -> list[Path]:
    """Write a figure deterministically and atomically, one file per format.

    The same figure saved twice gives identical bytes: dates are removed from PDF and SVG
    metadata, the SVG id salt and the PNG ``Software`` field are fixed.  Each file is written
    to a temporary file in the target folder and then moved into place with ``os.replace``,
    so a reader never sees a half-written chart.

    Parameters
    ----------
    fig : the figure.
    stem : path without extension, e.g. ``reports/figures/03_event_study``.
    formats : any of ``"png"``, ``"pdf"``, ``"svg"``.
    dpi : resolution of raster output (dots per inch).

    Returns
    -------
    list of Path
        The files written, in the order of ``formats``.
    """
    stem = Path(stem)
    formats = [f.lower().lstrip(".") for f in formats]
    unknown = sorted(set(formats) - _FORMATS)
    if unknown:
        raise ValueError(f"save_figure({stem.name}): unknown format(s) {unknown}; use {sorted(_FORMATS)}")
    stem.parent.mkdir(parents=True, exist_ok=True)
    metadata = {
        "pdf": {"Creator": _SOFTWARE, "CreationDate": None, "ModDate": None},
        "svg": {"Creator": _SOFTWARE, "Date": None},
        "png": {"Software": _SOFTWARE},
    }
    written: list[Path] = []
    with mpl.rc_context({"svg.hashsalt": _SVG_HASHSALT, "pdf.fonttype": 42, "ps.fonttype": 42}):
        for fmt in formats:
            # f"{name}.{fmt}" rather than with_suffix: stems may contain dots
            target = stem.parent / f"{stem.name}.{fmt}"
            atomic_write(target, lambda tmp, fmt=fmt: fig.savefig(
                tmp, format=fmt, dpi=dpi, metadata=metadata[fmt]))
            written.append(target)
    return written
