"""Chinese fonts that always render, on any machine, without downloading anything.

The report's charts carry Chinese titles, labels and county names.  matplotlib ships no CJK font,
so this module picks one:

1. a Simplified-Chinese font the machine already has (Microsoft YaHei / SimHei on Windows,
   PingFang SC on macOS, Noto Sans CJK SC / WenQuanYi on Linux), then
2. the OFL-licensed Noto Sans SC shipped inside the PyPI package ``pylopdf-fonts-zh-cn``
   (a declared runtime dependency), registered with matplotlib by file path.

Traps measured on matplotlib 3.11 that the settings here avoid:

* ``font.family`` must be a *list* of real family names ending in a Latin font (DejaVu Sans);
  with a single generic family the per-glyph fallback is lost and symbols become boxes.
* ``seaborn.set_theme()`` resets ``font.family`` unless the rc is passed to it
  (see :func:`analysis.style.apply_style`).
* A font cache built before a font was installed does not list it: fonts are registered with
  ``fontManager.addfont`` by path instead of relying on the cache.
* Saving a Chinese PDF crashes when ``pdf.fonttype`` is 3 and ``ps.fonttype`` is 42; both are
  set to 42 so fonts embed as TrueType (Type 42) outlines, which stay selectable and small.
* The real minus sign U+2212 (``axes.unicode_minus``) is kept: Noto Sans SC has the glyph,
  and the DejaVu Sans fallback in ``font.family`` covers fonts that do not.
"""

from __future__ import annotations

import contextlib
import functools
import importlib.resources
import re
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import matplotlib as mpl
import pandas as pd
from matplotlib import font_manager
from matplotlib.ft2font import FT2Font

__all__ = [
    "BUNDLED_FONT_FILE",
    "BUNDLED_FONT_PACKAGE",
    "DEFAULT_CANDIDATES",
    "LATIN_FALLBACK",
    "FontChoice",
    "FontNotFoundError",
    "MissingGlyphError",
    "chinese_font",
    "fail_on_missing_glyphs",
    "find_chinese_font",
    "font_rc",
    "missing_glyphs",
    "use_chinese_font",
]

DEFAULT_CANDIDATES: tuple[str, ...] = (
    # Windows
    "Microsoft YaHei",
    "SimHei",
    # macOS
    "PingFang SC",
    "Hiragino Sans GB",
    # Linux (fonts-noto-cjk, fonts-wqy-*), and Adobe's name for the same design
    "Noto Sans CJK SC",
    "Noto Sans SC",
    "Source Han Sans SC",
    "WenQuanYi Micro Hei",
    "WenQuanYi Zen Hei",
)
"""Family names tried in order; the first one installed that covers :data:`PROBE_TEXT` wins."""

LATIN_FALLBACK = "DejaVu Sans"
"""Ships with matplotlib; second in ``font.family`` so any glyph the CJK font lacks still renders."""

BUNDLED_FONT_PACKAGE = "pylopdf_fonts_zh_cn"
BUNDLED_FONT_FILE = "NotoSansSC-Regular.otf"

# Characters every report chart needs: common hanzi of titles and units, full-width punctuation
# of the source note, and the real minus sign.  A font missing any of them is skipped.
PROBE_TEXT = "四川省团委驻点工作第一二轮县级优秀良好合格不合格数据来源：（人）\u2212"

_GLYPH_WARNING = re.compile(r"Glyph \d+ .* missing from font")


class FontNotFoundError(RuntimeError):
    """No usable Simplified-Chinese font: neither installed nor bundled."""


class MissingGlyphError(RuntimeError):
    """A chart used a character that the configured fonts cannot draw (it would show as a box)."""


@dataclass(frozen=True)
class FontChoice:
    """The Chinese font the charts use.

    Attributes
    ----------
    name : family name as matplotlib knows it (e.g. ``"Noto Sans SC"``).
    path : font file.
    source : ``"system"`` (installed on this machine) or ``"bundled"`` (from the PyPI package).
    """

    name: str
    path: Path
    source: Literal["system", "bundled"]

    def to_frame(self) -> pd.DataFrame:
        """One row: ``name``, ``path``, ``source``."""
        return pd.DataFrame([{"name": self.name, "path": str(self.path), "source": self.source}])


def missing_glyphs(text: str, path: str | Path) -> list[str]:
    """Characters of ``text`` that the font file at ``path`` has no glyph for.

    Parameters
    ----------
    text : characters to check (whitespace is ignored).
    path : font file (.ttf, .otf, .ttc; for a collection the first face is checked).

    Returns
    -------
    list of str
        The missing characters, in order of first appearance, without duplicates.
    """
    charmap = _charmap(str(path))
    seen: dict[str, None] = {}
    for ch in text:
        if not ch.isspace() and ord(ch) not in charmap:
            seen.setdefault(ch, None)
    return list(seen)


@functools.cache
def _charmap(path: str) -> frozenset[int]:
    return frozenset(FT2Font(path).get_charmap())


def _installed(family: str) -> Path | None:
    for entry in font_manager.fontManager.ttflist:
        if entry.name == family:
            return Path(entry.fname)
    return None


def _register_uncached_system_fonts() -> None:
    """Add font files present on disk but absent from matplotlib's (possibly stale) cache."""
    known = {entry.fname for entry in font_manager.fontManager.ttflist}
    for fname in font_manager.findSystemFonts():
        if fname not in known:
            # a broken or unsupported file must not stop the search for a usable one
            with contextlib.suppress(Exception):
                font_manager.fontManager.addfont(fname)


def _bundled_font() -> Path:
    try:
        resource = importlib.resources.files(BUNDLED_FONT_PACKAGE) / BUNDLED_FONT_FILE
    except ModuleNotFoundError as exc:
        raise FontNotFoundError(
            "analysis.fonts: no Simplified-Chinese font is installed and the fallback package "
            f"'{BUNDLED_FONT_PACKAGE}' is missing. Fix: `pip install pylopdf-fonts-zh-cn`, or "
            "install a system font (Linux: `apt install fonts-noto-cjk`)."
        ) from exc
    path = Path(str(resource))
    if not path.is_file():
        raise FontNotFoundError(
            f"analysis.fonts: {path} is missing from the installed '{BUNDLED_FONT_PACKAGE}'. "
            "Fix: `pip install --force-reinstall pylopdf-fonts-zh-cn`."
        )
    return path


def find_chinese_font(candidates: Sequence[str] = DEFAULT_CANDIDATES) -> FontChoice:
    """Find a Simplified-Chinese font, registering it with matplotlib.

    Parameters
    ----------
    candidates : family names to try, in order of preference.  An empty sequence skips the
        system search and goes straight to the bundled Noto Sans SC (used by the tests to
        simulate a machine without CJK fonts).

    Returns
    -------
    FontChoice
        The first installed candidate that covers the report's characters, else the bundled font.

    Raises
    ------
    FontNotFoundError
        If no candidate is usable and the bundled font package is missing.
    """
    for attempt in range(2):
        for family in candidates:
            path = _installed(family)
            if path is not None and not missing_glyphs(PROBE_TEXT, path):
                return FontChoice(family, path, "system")
        if not candidates or attempt == 1:
            break
        # a font installed after matplotlib built its cache is invisible until added by path
        _register_uncached_system_fonts()

    path = _bundled_font()
    font_manager.fontManager.addfont(str(path))
    name = font_manager.FontProperties(fname=path).get_name()
    return FontChoice(name, path, "bundled")


@functools.cache
def chinese_font() -> FontChoice:
    """The font chosen for this process (searched once, then cached).

    Returns
    -------
    FontChoice
        See :func:`find_chinese_font`.
    """
    return find_chinese_font()


def font_rc(choice: FontChoice) -> dict[str, object]:
    """matplotlib rc settings that make ``choice`` the font of every text element.

    Parameters
    ----------
    choice : the Chinese font.

    Returns
    -------
    dict
        rc keys for fonts, minus sign and PDF/PS embedding; pass to ``rcParams.update`` or to
        ``seaborn.set_theme(rc=...)``.
    """
    families = [choice.name, LATIN_FALLBACK]
    return {
        # real family names, not the generic "sans-serif": keeps per-glyph fallback to DejaVu
        "font.family": families,
        "font.sans-serif": families + [
            f for f in mpl.rcParamsDefault["font.sans-serif"] if f not in families
        ],
        # U+2212 renders: from the CJK font when it has it, else from DejaVu Sans
        "axes.unicode_minus": True,
        # Type 42 embedding for both: Type 3 in PDF with 42 in PS crashes on CJK text
        "pdf.fonttype": 42,
        "ps.fonttype": 42,
    }


def use_chinese_font() -> FontChoice:
    """Make the Chinese font the default for all text (idempotent).

    Returns
    -------
    FontChoice
        The font applied.
    """
    choice = chinese_font()
    # addfont again is cheap and protects against a fontManager rebuilt since the first search
    if _installed(choice.name) is None:
        font_manager.fontManager.addfont(str(choice.path))
    mpl.rcParams.update(font_rc(choice))
    return choice


@contextlib.contextmanager
def fail_on_missing_glyphs() -> Iterator[None]:
    """Turn matplotlib's "Glyph ... missing from font(s)" warning into :class:`MissingGlyphError`.

    Use around drawing or saving a figure so that a box in place of a character is an error
    rather than a warning lost in a log.

    Raises
    ------
    MissingGlyphError
        On the first missing glyph, naming it and the fix.
    """
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield
    problems = [str(w.message) for w in caught if _GLYPH_WARNING.search(str(w.message))]
    for w in caught:
        if not _GLYPH_WARNING.search(str(w.message)):
            # re-emit unrelated warnings so they are not swallowed
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    if problems:
        raise MissingGlyphError(
            "; ".join(dict.fromkeys(problems))
            + ". Fix: call analysis.style.apply_style() (or analysis.fonts.use_chinese_font()) "
            "before drawing, and pass its rc to seaborn.set_theme(rc=...)."
        )
