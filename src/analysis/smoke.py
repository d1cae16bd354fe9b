"""Smoke figure: proves that Chinese text, real minus signs and the export work on this machine.

``python -m analysis smoke`` and the main job write it first, so a font problem shows up in the
first second of a run, not in the last chart of the report.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from matplotlib.figure import Figure

from analysis.fonts import fail_on_missing_glyphs
from analysis.style import OKABE_ITO, add_source_note, axis_label, new_figure, save_figure

__all__ = ["SMOKE_STEM", "smoke_data", "smoke_figure", "write_smoke_figure"]

SMOKE_STEM = "00_font_check"


def smoke_data() -> pd.DataFrame:
    """Illustrative values (not results): change per prefecture, with negatives on purpose.

    Returns
    -------
    DataFrame
        Columns ``prefecture`` (市州 name) and ``change`` (percentage points).
    """
    return pd.DataFrame(
        {
            "prefecture": ["成都市", "绵阳市", "南充市", "甘孜藏族自治州", "凉山彝族自治州"],
            "change": [4.5, 2.0, -1.5, -3.0, 1.0],
        }
    )


def smoke_figure(data: pd.DataFrame | None = None) -> Figure:
    """Bar chart with a Chinese title, axis labels with units, negative values and a source note.

    Parameters
    ----------
    data : columns ``prefecture`` and ``change`` (percentage points); default :func:`smoke_data`.

    Returns
    -------
    matplotlib.figure.Figure
    """
    data = smoke_data() if data is None else data
    fig, ax = new_figure("single", aspect=0.75)
    # sign colours from the palette itself: grade colours are reserved for grades
    colors = [OKABE_ITO["blue"] if v >= 0 else OKABE_ITO["vermillion"] for v in data["change"]]
    ax.barh(data["prefecture"], data["change"], color=colors)
    ax.axvline(0, color="black", linewidth=0.8)
    ax.invert_yaxis()
    ax.set_title("字体检查：各市州团青比变化（示例）")
    ax.set_xlabel(axis_label("第二轮相对第一轮的变化", "百分点"))
    ax.set_ylabel("市州")
    add_source_note(fig, "示例数据，仅用于检查中文字体与负号", ("2008H2", "2014H1"))
    return fig


def write_smoke_figure(figures_dir: Path) -> list[Path]:
    """Write the smoke figure as ``00_font_check.png/.pdf/.svg``.

    Parameters
    ----------
    figures_dir : folder for figures (created if missing).

    Returns
    -------
    list of Path
        The three files written.

    Raises
    ------
    analysis.fonts.MissingGlyphError
        If any character would render as a box.
    """
    with fail_on_missing_glyphs():
        fig = smoke_figure()
        return save_figure(fig, Path(figures_dir) / SMOKE_STEM)
