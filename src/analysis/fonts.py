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
* matplotlib's PDF backend embeds a CFF-flavoured OpenType font (``.otf``, and the
  ``.ttc`` of Noto Sans CJK) as if it were TrueType (``/FontFile2`` holding ``OTTO`` data,
  matplotlib issue #20870).  Text extraction still works, but MuPDF draws wrong glyphs (seen
  on this stack).  Such fonts are therefore converted once to TrueType outlines with fontTools
  (:func:`truetype_copy`; ~10–50 s for the 30 000 glyphs of Noto Sans SC) and the copy is cached
  in matplotlib's cache folder under a family name ending in " TrueType".
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
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

from analysis.fileio import atomic_write

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
    "truetype_copy",
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
    name : family name as matplotlib knows it (e.g. ``"Microsoft YaHei"``, or
        ``"Noto Sans SC TrueType"`` for the converted bundled font).
    path : font file used for drawing and embedding.
    source : ``"system"`` (installed on this machine) or ``"bundled"`` (from the PyPI package).
    converted_from : for a CFF-based font, the original file that ``path`` is a TrueType copy
        of (see :func:`truetype_copy`); ``None`` when the font is used as installed.
    """

    name: str
    path: Path
    source: Literal["system", "bundled"]
    converted_from: Path | None = None

    def to_frame(self) -> pd.DataFrame:
        """One row: ``name``, ``path``, ``source``, ``converted_from``."""
        return pd.DataFrame([{
            "name": self.name,
            "path": str(self.path),
            "source": self.source,
            "converted_from": None if self.converted_from is None else str(self.converted_from),
        }])


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

TRUETYPE_SUFFIX = " TrueType"
_RECIPE = "1"  # bump when the conversion changes, so cached copies are rebuilt


def _face_index(path: Path, family: str | None) -> int:
    """Index of ``family`` inside a collection (.ttc/.otc); 0 for single fonts."""
    from fontTools.ttLib import TTCollection

    if path.suffix.lower() not in (".ttc", ".otc") or family is None:
        return 0
    with TTCollection(path, lazy=True) as collection:
        for i, face in enumerate(collection.fonts):
            names = {face["name"].getDebugName(k) for k in (1, 16)}
            if family in names:
                return i
    return 0


def _is_cff(path: Path, face: int = 0) -> bool:
    from fontTools.ttLib import TTFont

    with TTFont(path, fontNumber=face, lazy=True) as font:
        return "CFF " in font or "CFF2" in font


def truetype_copy(path: str | Path, cache_dir: str | Path | None = None,
                  family: str | None = None) -> tuple[Path, str]:
    """A TrueType-outline copy of a CFF-based font, converted once and cached.

    Cubic CFF outlines become quadratic TrueType contours (fontTools ``cu2qu``, at most 1 font
    unit of error on a 1000-unit em, invisible at print sizes).  The copy keeps the font's
    tables, licence and metrics; its family is renamed to ``"<family> TrueType"`` so that it
    never competes with the original in matplotlib's font list.  (The SIL Open Font License of
    Noto fonts allows modified versions under the same licence; Noto Sans SC has no reserved
    font name.)

    Parameters
    ----------
    path : the CFF-based font (.otf, or .ttc/.otc with ``family`` naming the face).
    cache_dir : folder for the copy; default ``<matplotlib cache>/analysis-fonts``.
    family : family of the face to convert in a collection; default the first face.

    Returns
    -------
    (Path, str)
        The TrueType file and its family name.  Written atomically, so parallel test workers
        may race harmlessly.
    """
    from fontTools.ttLib import TTFont

    path = Path(path)
    face = _face_index(path, family)
    cache = Path(cache_dir) if cache_dir is not None else Path(mpl.get_cachedir()) / "analysis-fonts"
    digest = hashlib.sha256(path.read_bytes()).hexdigest()[:16]
    target = cache / f"{path.stem}-{face}-{digest}-r{_RECIPE}.ttf"
    if not target.is_file():
        # one process converts, others wait: parallel test workers would otherwise each spend
        # the conversion time
        with _file_lock(target.with_suffix(".lock")):
            if not target.is_file():
                _convert_cff(path, face, target)
    with TTFont(target, lazy=True) as done:
        return target, done["name"].getDebugName(1)


@contextlib.contextmanager
def _file_lock(lock_path: Path) -> Iterator[None]:
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_path, "a+b") as fh:
        try:
            import fcntl
        except ImportError:  # Windows: no lock; the atomic replace still keeps the cache valid
            yield
            return
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _convert_cff(path: Path, face: int, target: Path) -> None:
    from fontTools.pens.cu2quPen import Cu2QuPen
    from fontTools.pens.ttGlyphPen import TTGlyphPen
    from fontTools.ttLib import TTFont, newTable

    font = TTFont(path, fontNumber=face)
    old_family = font["name"].getDebugName(16) or font["name"].getDebugName(1)
    new_family = old_family + TRUETYPE_SUFFIX
    order = font.getGlyphOrder()
    glyph_set = font.getGlyphSet()
    glyf = newTable("glyf")
    glyf.glyphOrder = order
    glyf.glyphs = {}
    for name in order:
        pen = TTGlyphPen(None)
        # CFF winds outer contours counter-clockwise, TrueType clockwise: reverse
        glyph_set[name].draw(Cu2QuPen(pen, max_err=1.0, reverse_direction=True))
        glyf.glyphs[name] = pen.glyph()
    font["loca"] = newTable("loca")
    font["glyf"] = glyf
    for tag in ("CFF ", "CFF2", "VORG", "DSIG"):  # DSIG: the old signature no longer matches
        if tag in font:
            del font[tag]
    glyf.compile(font)
    hmtx = font["hmtx"]
    for name, glyph in glyf.glyphs.items():
        if hasattr(glyph, "xMin"):  # TrueType wants left side bearing == xMin
            hmtx[name] = (hmtx[name][0], glyph.xMin)
    maxp = newTable("maxp")
    maxp.tableVersion = 0x00010000
    maxp.numGlyphs = len(order)
    for attr in ("maxZones",):
        setattr(maxp, attr, 1)
    for attr in ("maxTwilightPoints", "maxStorage", "maxFunctionDefs", "maxInstructionDefs",
                 "maxStackElements", "maxSizeOfInstructions", "maxComponentElements",
                 "maxPoints", "maxContours", "maxCompositePoints", "maxCompositeContours",
                 "maxComponentDepth"):
        setattr(maxp, attr, 0)
    font["maxp"] = maxp
    font["head"].glyphDataFormat = 0
    post = font["post"]
    post.formatType = 2.0
    post.extraNames = []
    post.mapping = {}
    post.glyphOrder = order
    ps_name = (font["name"].getDebugName(6) or old_family.replace(" ", "")).split("-")
    new_ps = ps_name[0] + "TrueType" + ("-" + "-".join(ps_name[1:]) if len(ps_name) > 1 else "")
    for record in font["name"].names:
        if record.nameID in (1, 16):
            record.string = new_family
        elif record.nameID == 4:
            record.string = record.toUnicode().replace(old_family, new_family)
        elif record.nameID == 6:
            record.string = new_ps
        elif record.nameID == 3:
            record.string = f"{record.toUnicode()};{new_ps}"
    font.sfntVersion = "\x00\x01\x00\x00"

    atomic_write(target, font.save)


def _pdf_safe(choice: FontChoice, cache_dir: str | Path | None) -> FontChoice:
    """Swap a CFF-based font for its TrueType copy (see module notes), registering the copy."""
    face = _face_index(choice.path, choice.name)
    if not _is_cff(choice.path, face):
        return choice
    path, name = truetype_copy(choice.path, cache_dir, family=choice.name)
    if _installed(name) is None:
        font_manager.fontManager.addfont(str(path))
    return FontChoice(name, path, choice.source, converted_from=choice.path)


def find_chinese_font(
    candidates: Sequence[str] = DEFAULT_CANDIDATES,
    cache_dir: str | Path | None = None,
) -> FontChoice:
    """Find a Simplified-Chinese font, registering it with matplotlib.

    Parameters
    ----------
    candidates : family names to try, in order of preference.  An empty sequence skips the
        system search and goes straight to the bundled Noto Sans SC (used by the tests to
        simulate a machine without CJK fonts).
    cache_dir : where TrueType copies of CFF-based fonts are kept (see :func:`truetype_copy`).

    Returns
    -------
    FontChoice
        The first installed candidate that covers the report's characters, else the bundled
        font; a CFF-based font is replaced by its cached TrueType copy.

    Raises
    ------
    FontNotFoundError
        If no candidate is usable and the bundled font package is missing.
    """
    for attempt in range(2):
        for family in candidates:
            path = _installed(family)
            if path is not None and not missing_glyphs(PROBE_TEXT, path):
                return _pdf_safe(FontChoice(family, path, "system"), cache_dir)
        if not candidates or attempt == 1:
            break
        # a font installed after matplotlib built its cache is invisible until added by path
        _register_uncached_system_fonts()

    path = _bundled_font()
    # the original is not registered: only its TrueType copy is used, under its own family name
    name = font_manager.FontProperties(fname=path).get_name()
    return _pdf_safe(FontChoice(name, path, "bundled"), cache_dir)


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
        When the block ends, if any glyph was missing; the message lists each one and the fix.
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
