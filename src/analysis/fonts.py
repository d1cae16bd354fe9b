"""Chinese fonts that always render, on any machine, without downloading anything.

The report's charts carry Chinese titles, labels and county names.  matplotlib ships no CJK font,
so this module picks one:

0. the font named by the environment variable ``RESIDENCY_FONT`` (or the CLI's ``--font``), as a
   family name (``"WenQuanYi Zen Hei"``) or as the path of a font file, when given; otherwise
1. a Simplified-Chinese font the machine already has (Microsoft YaHei / SimHei on Windows,
   PingFang SC on macOS, Noto Sans CJK SC / Source Han Sans / WenQuanYi on Linux), then
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
  and the DejaVu Sans fallback in ``font.family`` covers fonts that do not (WenQuanYi Zen Hei),
  so the minus sign is not required of a candidate.
* One family name can stand for several faces: Debian's ``fonts-noto-cjk`` has "Noto Sans CJK SC"
  as face 2 of ``NotoSansCJK-Regular.ttc`` *and* of ``NotoSansCJK-Bold.ttc``, and matplotlib
  (3.11 lists every face of a collection) orders them as the file system does.  The Regular face
  is chosen by style and weight, with path and face number as tie-breakers, never by list order.
* matplotlib's PDF backend embeds a CFF-flavoured OpenType font (``.otf``, and the
  ``.ttc`` of Noto Sans CJK) as if it were TrueType (``/FontFile2`` holding ``OTTO`` data,
  matplotlib issue #20870, still so in 3.11).  Text extraction still works, but MuPDF draws
  wrong glyphs (seen on this stack).  Such fonts are therefore converted once to TrueType
  outlines (:func:`truetype_copy`) and the copy is cached in matplotlib's cache folder under a
  family name ending in " TrueType".  The outlines are read with FreeType, the engine that also
  draws the PNGs, and written as TrueType contours by a direct loop.  Measured on the shared
  2-core machine: the copy of Noto Sans CJK SC (65 535 glyphs) takes 45 s CPU once; the bundled
  Noto Sans SC 27 s CPU, where the earlier conversion through fontTools' CFF interpreter and pens
  took 52 s CPU under the same load.
* A font with more glyphs than a format-2 ``post`` table can name (each name index is an
  unsigned short; Noto Sans CJK has 65 535 glyphs) keeps format 3, without glyph names, as the
  original has: forcing format 2 raised ``OverflowError: unsigned short is greater than maximum``.
* A conversion that fails is remembered (a ``.failed`` file next to the copies, keyed by the
  font's path, size, modification time and face), so later processes and notebook kernels do
  not pay the attempt again; the charts then use the next installed candidate or the bundled
  font, and a :class:`FontFallbackWarning` says so in one line.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import importlib.resources
import os
import re
import warnings
from array import array
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal

import matplotlib as mpl
import numpy as np
import pandas as pd
from matplotlib import font_manager
from matplotlib.ft2font import FT2Font
from matplotlib.path import Path as MplPath

from analysis.fileio import atomic_write

__all__ = [
    "BUNDLED_FONT_FILE",
    "BUNDLED_FONT_PACKAGE",
    "DEFAULT_CANDIDATES",
    "FONT_ENV",
    "LATIN_FALLBACK",
    "FontChoice",
    "FontConversionError",
    "FontFallbackWarning",
    "FontNotFoundError",
    "MissingGlyphError",
    "chinese_font",
    "fail_on_missing_glyphs",
    "find_chinese_font",
    "font_rc",
    "missing_glyphs",
    "requested_font",
    "truetype_copy",
    "use_chinese_font",
]

FONT_ENV = "RESIDENCY_FONT"
"""Environment variable naming the chart font: a family name or the path of a font file."""

DEFAULT_CANDIDATES: tuple[str, ...] = (
    # Windows
    "Microsoft YaHei",
    "SimHei",
    # macOS
    "PingFang SC",
    "Hiragino Sans GB",
    # Linux (fonts-noto-cjk, fonts-wqy-*), and Adobe's names for the same design (the
    # region-specific .otf files are called "CN")
    "Noto Sans CJK SC",
    "Noto Sans SC",
    "Source Han Sans SC",
    "Source Han Sans CN",
    "WenQuanYi Micro Hei",
    "WenQuanYi Zen Hei",
)
"""Family names tried in order; the first one installed that covers :data:`PROBE_TEXT` wins.
Serif faces (SimSun, Noto Serif CJK) are not tried: the house style is sans-serif, and the
bundled Noto Sans SC is closer to it.  ``RESIDENCY_FONT`` can still choose them."""

LATIN_FALLBACK = "DejaVu Sans"
"""Ships with matplotlib; second in ``font.family`` so any glyph the CJK font lacks still renders."""

BUNDLED_FONT_PACKAGE = "pylopdf_fonts_zh_cn"
BUNDLED_FONT_FILE = "NotoSansSC-Regular.otf"

# Characters the Chinese font itself must have: common hanzi of titles and units and the
# full-width punctuation of the source note.  A font missing any of them is skipped.  Latin
# letters and the real minus sign U+2212 may come from DejaVu Sans, second in font.family
# (WenQuanYi Zen Hei has no U+2212).
PROBE_TEXT = "四川省团委驻点工作第一二轮县级优秀良好合格不合格数据来源：（人）"

_GLYPH_WARNING = re.compile(r"Glyph \d+ .* missing from font")
_FONT_SUFFIXES = (".ttf", ".otf", ".ttc", ".otc")
# words that mark the Simplified-Chinese face of a pan-CJK family
_SIMPLIFIED_TAGS = frozenset({"SC", "CN", "GB", "Hans"})


class FontNotFoundError(RuntimeError):
    """No usable Simplified-Chinese font: the one asked for is not installed or has no Chinese
    glyphs, or nothing is installed and the bundled font is missing too."""


class FontConversionError(RuntimeError):
    """A font could not be read, or its CFF outlines could not be converted to TrueType."""


class MissingGlyphError(RuntimeError):
    """A chart used a character that the configured fonts cannot draw (it would show as a box)."""


class FontFallbackWarning(UserWarning):
    """The charts use another font than the one asked for or found first; one line says why."""


@dataclass(frozen=True)
class FontChoice:
    """The Chinese font the charts use.

    Attributes
    ----------
    name : family name as matplotlib knows it (e.g. ``"Microsoft YaHei"``, or
        ``"Noto Sans SC TrueType"`` for the converted bundled font).
    path : font file used for drawing and embedding.
    source : ``"system"`` (installed on this machine, found by family name), ``"file"`` (a font
        file named in ``RESIDENCY_FONT`` or ``--font``) or ``"bundled"`` (from the PyPI package).
    converted_from : for a CFF-based font, the original file that ``path`` is a TrueType copy
        of (see :func:`truetype_copy`); ``None`` when the font is used as installed.
    face : number of the face inside the original collection (``.ttc``), 0 for a single font.
    note : why this is not the font asked for or found first (one line), else ``None``.
    """

    name: str
    path: Path
    source: Literal["system", "file", "bundled"]
    converted_from: Path | None = None
    face: int = 0
    note: str | None = None

    def to_frame(self) -> pd.DataFrame:
        """One row: ``name``, ``path``, ``source``, ``converted_from``, ``face``, ``note``."""
        return pd.DataFrame([{
            "name": self.name,
            "path": str(self.path),
            "source": self.source,
            "converted_from": None if self.converted_from is None else str(self.converted_from),
            "face": self.face,
            "note": self.note,
        }])

    def summary(self) -> str:
        """One line for people: the family, where it comes from, and the file drawn from."""
        kind = {"system": "installed font", "file": "font file", "bundled": "bundled font"}[self.source]
        original = self.converted_from or self.path
        face = f", face {self.face}" if self.face else ""
        line = f"{self.name} ({kind} {original}{face}"
        if self.converted_from is not None:
            line += f"; drawn and embedded from its TrueType copy {self.path}"
        return line + ")"


def missing_glyphs(text: str, path: str | Path, face: int = 0) -> list[str]:
    """Characters of ``text`` that the font file at ``path`` has no glyph for.

    Parameters
    ----------
    text : characters to check (whitespace is ignored).
    path : font file (.ttf, .otf, .ttc).
    face : face number inside a collection (.ttc); 0 for a single font.

    Returns
    -------
    list of str
        The missing characters, in order of first appearance, without duplicates.
    """
    charmap = _charmap(str(path), face)
    seen: dict[str, None] = {}
    for ch in text:
        if not ch.isspace() and ord(ch) not in charmap:
            seen.setdefault(ch, None)
    return list(seen)


def _ft2font(path: str | Path, face: int = 0) -> FT2Font:
    # face_index (faces of a collection) is new in matplotlib 3.11
    return FT2Font(str(path)) if face == 0 else FT2Font(str(path), face_index=face)


@functools.cache
def _charmap(path: str, face: int = 0) -> frozenset[int]:
    return frozenset(_ft2font(path, face).get_charmap())


def _weight(weight: str | int) -> int:
    return weight if isinstance(weight, int) else font_manager.weight_dict.get(weight, 400)


def _regular_entry(family: str) -> Any | None:
    """The upright, normal-weight face of an installed ``family`` (case-insensitive), or None.

    A family often has several entries: the Regular and Bold files of Noto Sans CJK share the
    family name, and a stale font cache may list files since removed.  The choice is by style,
    closeness to weight 400 and stretch, then by path and face number, so it never depends on
    the order of ``fontManager.ttflist``.
    """
    wanted = family.casefold()
    entries = [e for e in font_manager.fontManager.ttflist
               if e.name.casefold() == wanted and os.path.isfile(e.fname)]
    if not entries:
        return None
    return min(entries, key=lambda e: (e.style != "normal", abs(_weight(e.weight) - 400),
                                       e.stretch != "normal", e.fname, getattr(e, "index", 0)))


def _installed(family: str) -> Path | None:
    entry = _regular_entry(family)
    return None if entry is None else Path(entry.fname)


def _register_uncached_system_fonts() -> None:
    """Add font files present on disk but absent from matplotlib's (possibly stale) cache."""
    known = {entry.fname for entry in font_manager.fontManager.ttflist}
    for fname in sorted(font_manager.findSystemFonts()):
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
_RECIPE = "2"  # bump when the conversion changes, so cached copies (and failures) are redone
# a format-2 'post' table stores each glyph's name index as an unsigned short, after the 258
# standard Macintosh names
_POST2_MAX_GLYPHS = 0x10000 - 258


def _is_collection(path: Path) -> bool:
    with open(path, "rb") as fh:
        return fh.read(4) == b"ttcf"


def _faces(path: Path) -> list[tuple[int, str, str]]:
    """``(face, family, subfamily)`` of each face in a font file (one for .ttf/.otf)."""
    from fontTools.ttLib import TTCollection, TTFont

    def names(font: TTFont) -> tuple[str, str]:
        table = font["name"]
        family = table.getDebugName(16) or table.getDebugName(1) or ""
        return family, table.getDebugName(17) or table.getDebugName(2) or ""

    if _is_collection(path):
        with TTCollection(path, lazy=True) as collection:
            return [(i, *names(face)) for i, face in enumerate(collection.fonts)]
    with TTFont(path, lazy=True) as font:
        return [(0, *names(font))]


def _face_index(path: Path, family: str | None) -> int:
    """Face of ``family`` inside a collection (.ttc/.otc), its Regular face first; 0 otherwise."""
    if family is None or not _is_collection(path):
        return 0
    matches = [(sub.casefold() != "regular", i) for i, fam, sub in _faces(path)
               if fam.casefold() == family.casefold()]
    return min(matches)[1] if matches else 0


def _is_cff(path: Path, face: int = 0) -> bool:
    from fontTools.ttLib import TTFont

    with TTFont(path, fontNumber=face, lazy=True) as font:
        return "CFF " in font or "CFF2" in font


def _cache_files(path: Path, face: int, cache: Path) -> tuple[Path, Path]:
    """The TrueType copy and the failure record for one face of one font file.

    Keyed by path, size and modification time rather than by content: the key must be cheap
    to compute at every kernel start, and a reinstalled font (new mtime) is simply redone.
    """
    stat = path.stat()
    key = f"{path.resolve()}\n{stat.st_size}\n{stat.st_mtime_ns}\n{face}\nrecipe {_RECIPE}"
    stem = f"{path.stem}-{face}-{hashlib.sha256(key.encode()).hexdigest()[:16]}"
    return cache / f"{stem}.ttf", cache / f"{stem}.failed"


def truetype_copy(path: str | Path, cache_dir: str | Path | None = None,
                  family: str | None = None, face: int | None = None) -> tuple[Path, str]:
    """A TrueType-outline copy of a CFF-based font, converted once and cached.

    Cubic CFF outlines become quadratic TrueType contours (fontTools ``cu2qu``, at most 1 font
    unit of error on a 1000-unit em, invisible at print sizes).  The copy keeps the font's
    tables, licence and metrics; its family is renamed to ``"<family> TrueType"`` so that it
    never competes with the original in matplotlib's font list.  (The SIL Open Font License of
    Noto fonts allows modified versions under the same licence; Noto Sans SC has no reserved
    font name.)

    Parameters
    ----------
    path : the CFF-based font (.otf, or a face of a .ttc/.otc collection).
    cache_dir : folder for the copy; default ``<matplotlib cache>/analysis-fonts``.
    family : family of the face to convert in a collection (its Regular face); default the first
        face.
    face : face number in a collection; overrides ``family``.

    Returns
    -------
    (Path, str)
        The TrueType file and its family name.  Written atomically, so parallel test workers
        may race harmlessly.

    Raises
    ------
    FontConversionError
        If the font cannot be converted.  The failure is recorded in ``cache_dir`` (the file
        ``<font>-<face>-<key>.failed``, keyed by path, size and modification time) and raised
        again at once on later calls, so a failing font costs its conversion time only once.
    """
    path = Path(path)
    if face is None:
        face = _face_index(path, family)
    cache = Path(cache_dir) if cache_dir is not None else Path(mpl.get_cachedir()) / "analysis-fonts"
    target, failed = _cache_files(path, face, cache)
    if not target.is_file():
        _raise_if_failed_before(path, face, failed)
        # one process converts, others wait: parallel test workers would otherwise each spend
        # the conversion time
        with _file_lock(target.with_suffix(".lock")):
            _raise_if_failed_before(path, face, failed)
            if not target.is_file():
                try:
                    _convert_cff(path, face, target)
                except Exception as exc:
                    reason = " ".join(f"{type(exc).__name__}: {exc}".split())[:300]
                    with contextlib.suppress(OSError):
                        atomic_write(failed, lambda tmp: Path(tmp).write_text(
                            reason + "\n", encoding="utf-8"))
                    raise FontConversionError(
                        f"{path} (face {face}) cannot be converted to TrueType outlines: {reason}"
                    ) from exc
    from fontTools.ttLib import TTFont

    with TTFont(target, lazy=True) as done:
        return target, done["name"].getDebugName(1)


def _raise_if_failed_before(path: Path, face: int, failed: Path) -> None:
    if failed.is_file():
        reason = failed.read_text(encoding="utf-8").strip()
        raise FontConversionError(
            f"{path} (face {face}) cannot be converted to TrueType outlines: {reason} "
            f"(remembered in {failed}; delete that file to try again)"
        )


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


def _quadratic_glyph(vertices: np.ndarray, codes: np.ndarray) -> Any:
    """A TrueType glyph from a FreeType outline in font units, given as matplotlib path codes.

    Cubic segments become quadratic splines (cu2qu, at most 1 unit from the cubic) and every
    contour is reversed: CFF winds outer contours counter-clockwise, TrueType clockwise.  This
    is what fontTools' ``Cu2QuPen`` + ``TTGlyphPen`` do; written out because with those pens the
    65 535 outlines of Noto Sans CJK took 47 s, with this loop 19 s (same machine and load).
    """
    from fontTools.cu2qu import curve_to_quadratic
    from fontTools.misc.roundTools import otRound
    from fontTools.ttLib.tables import ttProgram
    from fontTools.ttLib.tables._g_l_y_f import Glyph, GlyphCoordinates

    # FT2Font.get_path gives 26.6 fixed-point values divided by 64; with NO_SCALE they are
    # whole font units, so this is exact
    points = [tuple(p) for p in np.rint(np.asarray(vertices) * 64).astype(int).tolist()]
    kinds = np.asarray(codes).tolist()
    coords: list[tuple[int, int]] = []
    flags = bytearray()
    ends: list[int] = []
    contour: list[tuple[int, int]] = []
    on_curve = bytearray()

    def close() -> None:
        if len(contour) > 1 and on_curve[-1] and contour[-1] == contour[0]:
            contour.pop()  # the closing point repeats the start
            on_curve.pop()
        if len(contour) > 1:  # a lone point is an anchor, not a contour
            coords.append(contour[0])
            coords.extend(reversed(contour[1:]))
            flags.append(on_curve[0])
            flags.extend(reversed(on_curve[1:]))
            ends.append(len(coords) - 1)
        contour.clear()
        on_curve.clear()

    i = 0
    while i < len(kinds):
        kind = kinds[i]
        if kind == MplPath.MOVETO:
            close()
            contour.append(points[i])
            on_curve.append(1)
            i += 1
        elif kind == MplPath.LINETO:
            contour.append(points[i])
            on_curve.append(1)
            i += 1
        elif kind == MplPath.CURVE3:
            contour.extend(points[i:i + 2])
            on_curve.extend(b"\x00\x01")
            i += 2
        elif kind == MplPath.CURVE4:
            spline = curve_to_quadratic((contour[-1], *points[i:i + 3]), 1.0)
            contour.extend((otRound(x), otRound(y)) for x, y in spline[1:-1])
            on_curve.extend(bytes(len(spline) - 2))
            contour.append(points[i + 2])
            on_curve.append(1)
            i += 3
        elif kind == MplPath.CLOSEPOLY:
            close()
            i += 1
        else:
            raise ValueError(f"unexpected outline code {kind}")
    close()

    glyph = Glyph()
    glyph.coordinates = GlyphCoordinates(coords)
    glyph.endPtsOfContours = ends
    glyph.flags = array("B", flags)
    glyph.numberOfContours = len(ends)
    glyph.program = ttProgram.Program()
    glyph.program.fromBytecode(b"")
    return glyph


def _check_outlines(font: Any, glyphs: dict[str, Any]) -> None:
    """Compare a few converted glyphs with fontTools' own reading of the CFF outlines.

    Guards the FreeType shortcut of :func:`_convert_cff` (which relies on how ``FT2Font``
    reports coordinates): a copy with wrongly scaled or shifted glyphs must never be cached.
    """
    from fontTools.pens.boundsPen import BoundsPen

    cmap = font.getBestCmap()
    cff_glyphs = font.getGlyphSet()
    for ch in "四川团A\u2212":
        name = cmap.get(ord(ch))
        if name is None:
            continue
        want, got = BoundsPen(cff_glyphs), BoundsPen(None)
        cff_glyphs[name].draw(want)
        glyphs[name].draw(got, None)
        if (want.bounds is None) != (got.bounds is None) or (
            want.bounds is not None
            and max(abs(a - b) for a, b in zip(want.bounds, got.bounds, strict=True)) > 2
        ):
            raise ValueError(f"glyph of {ch!r}: FreeType outline bounds {got.bounds} differ from "
                             f"the CFF outline bounds {want.bounds}")


def _convert_cff(path: Path, face: int, target: Path) -> None:
    from fontTools.ttLib import TTFont, newTable
    from matplotlib.ft2font import LoadFlags

    font = TTFont(path, fontNumber=face)
    if "fvar" in font:
        raise ValueError("variable fonts are not converted; name a static font file instead")
    old_family = font["name"].getDebugName(16) or font["name"].getDebugName(1)
    new_family = old_family + TRUETYPE_SUFFIX
    order = font.getGlyphOrder()
    outlines = _ft2font(path, face)
    if outlines.num_glyphs != len(order):
        raise ValueError(f"FreeType reads {outlines.num_glyphs} glyphs, fontTools {len(order)}")
    glyf = newTable("glyf")
    glyf.glyphOrder = order
    glyf.glyphs = {}
    for index, name in enumerate(order):
        outlines.load_glyph(index, flags=LoadFlags.NO_SCALE | LoadFlags.NO_HINTING)
        glyf.glyphs[name] = _quadratic_glyph(*outlines.get_path())
    _check_outlines(font, glyf.glyphs)
    font["loca"] = newTable("loca")
    font["glyf"] = glyf
    for tag in ("CFF ", "CFF2", "VORG", "DSIG"):  # DSIG: the old signature no longer matches
        if tag in font:
            del font[tag]
    hmtx = font["hmtx"]
    for name, glyph in glyf.glyphs.items():
        if glyph.numberOfContours:  # TrueType wants left side bearing == xMin
            glyph.recalcBounds(glyf)
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
    post.extraNames = []
    post.mapping = {}
    if len(order) <= _POST2_MAX_GLYPHS:
        post.formatType = 2.0
        post.glyphOrder = order
    else:
        post.formatType = 3.0  # too many glyphs to name; the CFF original has none either
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
    if not _is_cff(choice.path, choice.face):
        if _installed(choice.name) is None:
            font_manager.fontManager.addfont(str(choice.path))
        _list_as_normal_weight(choice.name)
        return choice
    path, name = truetype_copy(choice.path, cache_dir, face=choice.face)
    if _installed(name) is None:
        font_manager.fontManager.addfont(str(path))
    return replace(choice, name=name, path=path, converted_from=choice.path)


def _list_as_normal_weight(family: str) -> None:
    """List the Regular face of ``family`` also under weight 400 if it declares another weight.

    WenQuanYi Zen Hei's only face declares weight 500; matplotlib then logs "findfont: Failed to
    find font weight normal for WenQuanYi Zen Hei, now using 500." for every text size.
    """
    entry = _regular_entry(family)
    if entry is None or _weight(entry.weight) == 400 or entry.style != "normal":
        return
    font_manager.fontManager.ttflist.append(replace(entry, weight=400))


def requested_font() -> str | None:
    """The font asked for in the environment variable ``RESIDENCY_FONT``.

    Returns
    -------
    str or None
        A family name or a font file path; ``None`` when the variable is unset or blank.
    """
    return os.environ.get(FONT_ENV, "").strip() or None


def _chinese_families() -> list[str]:
    """Installed families that cover :data:`PROBE_TEXT` (for error messages only: slow)."""
    found = set()
    bundled_with_matplotlib = str(Path(mpl.get_data_path()).resolve())
    for entry in font_manager.fontManager.ttflist:
        if str(Path(entry.fname).resolve()).startswith(bundled_with_matplotlib):
            continue  # DejaVu has no hanzi; Last Resort "covers" everything with placeholder boxes
        with contextlib.suppress(Exception):
            if not missing_glyphs(PROBE_TEXT, entry.fname, getattr(entry, "index", 0)):
                found.add(entry.name)
    return sorted(found)


def _requested_choice(font: str) -> FontChoice:
    """The face for ``font``: a font file (its Simplified-Chinese, Regular face) or a family."""
    given = Path(font).expanduser()
    if given.suffix.lower() in _FONT_SUFFIXES or os.sep in font or "/" in font:
        if not given.is_file():
            raise FontNotFoundError(
                f"{FONT_ENV} / --font: no font file {given}. Fix: give an existing .ttf, .otf or "
                ".ttc file, or a family name such as 'Noto Sans CJK SC'.")
        try:
            faces = _faces(given)
            # a collection holds several regional faces (Noto Sans CJK: JP, KR, SC, TC, HK):
            # prefer the families of DEFAULT_CANDIDATES, then a Simplified-Chinese name
            # ("Noto Serif CJK SC", "Source Han Sans CN"), then Regular, then the first face
            ranks = {name.casefold(): i for i, name in enumerate(DEFAULT_CANDIDATES)}
            faces.sort(key=lambda f: (ranks.get(f[1].casefold(), len(ranks)),
                                      not _SIMPLIFIED_TAGS.intersection(f[1].split()),
                                      f[2].casefold() != "regular", f[0]))
            usable = [f for f in faces if not missing_glyphs(PROBE_TEXT, given, f[0])]
        except Exception as exc:
            raise FontConversionError(
                f"{given} cannot be read as a font: {type(exc).__name__}: {exc}") from exc
        if not usable:
            raise FontNotFoundError(
                f"{FONT_ENV} / --font: {given} has no glyphs for Chinese text such as "
                f"{''.join(missing_glyphs(PROBE_TEXT, given, faces[0][0]))}. Fix: give a "
                "Simplified-Chinese font.")
        face = usable[0][0]
        if _is_collection(given) or not _installed_file(given):
            font_manager.fontManager.addfont(str(given))
        # the family name as matplotlib reads it, which is what font.family must say
        name = font_manager.ttfFontProperty(_ft2font(given, face)).name
        return FontChoice(name, given, "file", face=face)

    entry = _regular_entry(font)
    if entry is None:
        _register_uncached_system_fonts()
        entry = _regular_entry(font)
    if entry is None:
        families = ", ".join(_chinese_families()) or "none"
        raise FontNotFoundError(
            f"{FONT_ENV} / --font: no installed font is called {font!r}. Installed fonts that "
            f"can draw Chinese: {families}. Fix: give one of these names, or the path of a font "
            "file.")
    path, face = Path(entry.fname), getattr(entry, "index", 0)
    missing = missing_glyphs(PROBE_TEXT, path, face)
    if missing:
        raise FontNotFoundError(
            f"{FONT_ENV} / --font: {entry.name} ({path}) has no glyphs for {''.join(missing)}: "
            "it is not a Simplified-Chinese font. Fix: give a Chinese font such as "
            "'Noto Sans CJK SC' or 'WenQuanYi Zen Hei'.")
    return FontChoice(entry.name, path, "system", face=face)


def _installed_file(path: Path) -> bool:
    target = str(path)
    return any(entry.fname == target for entry in font_manager.fontManager.ttflist)


def _fallen_back(choice: FontChoice, reasons: list[str]) -> FontChoice:
    """Attach the one-line note to a fallback choice and warn once (a FontFallbackWarning)."""
    if not reasons:
        return choice
    note = (f"字体提示：{'; '.join(reasons)}。图表改用 {choice.name}"
            f"（{'内置字体' if choice.source == 'bundled' else '系统字体'}）。"
            f"可用环境变量 {FONT_ENV} 或 --font 指定其他字体。")
    warnings.warn(FontFallbackWarning(note), stacklevel=3)
    return replace(choice, note=note)


def find_chinese_font(
    candidates: Sequence[str] = DEFAULT_CANDIDATES,
    cache_dir: str | Path | None = None,
    font: str | os.PathLike | None = None,
) -> FontChoice:
    """Find a Simplified-Chinese font, registering it with matplotlib.

    Parameters
    ----------
    candidates : family names to try, in order of preference (case-insensitive).  An empty
        sequence skips the system search and goes straight to the bundled Noto Sans SC (used by
        the tests to simulate a machine without CJK fonts).
    cache_dir : where TrueType copies of CFF-based fonts are kept (see :func:`truetype_copy`).
    font : a font asked for explicitly (what ``RESIDENCY_FONT`` or ``--font`` give): a family
        name or the path of a font file (.ttf, .otf, .ttc; in a collection the face of a
        ``candidates`` family, else the first Regular face, that covers Chinese text).  When
        given, ``candidates`` are not tried.

    Returns
    -------
    FontChoice
        The font asked for, else the first installed candidate that covers the report's
        characters, else the bundled font; a CFF-based font is replaced by its cached TrueType
        copy.  When a font could not be read or converted, the next candidate (for ``font``:
        the bundled font) is used, the choice's ``note`` says why, and a
        :class:`FontFallbackWarning` with that note is issued.

    Raises
    ------
    FontNotFoundError
        If the font asked for is not installed or not Chinese, or if no candidate is usable and
        the bundled font is missing or cannot be converted.
    """
    reasons: list[str] = []
    if font is not None:
        try:
            return _pdf_safe(_requested_choice(os.fspath(font)), cache_dir)
        except FontConversionError as exc:
            reasons.append(str(exc))
    else:
        tried: set[tuple[str, int]] = set()
        for attempt in range(2):
            for family in candidates:
                entry = _regular_entry(family)
                if entry is None or (entry.fname, getattr(entry, "index", 0)) in tried:
                    continue
                path, face = Path(entry.fname), getattr(entry, "index", 0)
                tried.add((entry.fname, face))
                try:
                    if missing_glyphs(PROBE_TEXT, path, face):
                        continue
                    choice = _pdf_safe(FontChoice(entry.name, path, "system", face=face), cache_dir)
                except FontConversionError as exc:
                    reasons.append(str(exc))
                    continue
                except Exception as exc:  # a broken installed file: try the next candidate
                    reasons.append(f"{path} cannot be read as a font: {type(exc).__name__}: {exc}")
                    continue
                return _fallen_back(choice, reasons)
            if not candidates or attempt == 1:
                break
            # a font installed after matplotlib built its cache is invisible until added by path
            _register_uncached_system_fonts()

    path = _bundled_font()
    # the original is not registered: only its TrueType copy is used, under its own family name
    name = font_manager.FontProperties(fname=path).get_name()
    try:
        choice = _pdf_safe(FontChoice(name, path, "bundled"), cache_dir)
    except FontConversionError as exc:
        raise FontNotFoundError(
            f"analysis.fonts: {'; '.join([*reasons, str(exc)])}. Fix: install a TrueType "
            "Chinese font (Linux: `apt install fonts-wqy-zenhei`) and name it in "
            f"{FONT_ENV}.") from exc
    return _fallen_back(choice, reasons)


@functools.cache
def chinese_font() -> FontChoice:
    """The font chosen for this process (searched once, then cached).

    ``RESIDENCY_FONT``, read at the first call, names the font explicitly.

    Returns
    -------
    FontChoice
        See :func:`find_chinese_font`.
    """
    return find_chinese_font(font=requested_font())


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
