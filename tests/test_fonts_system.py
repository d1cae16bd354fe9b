"""The chart font with the CJK fonts people have installed (issue 16), and when a font fails.

Real font files only.  Debian's ``fonts-noto-cjk`` (Noto Sans CJK as .ttc collections with CFF
outlines, Regular and Bold files sharing one family name) and ``fonts-wqy-zenhei`` (WenQuanYi
Zen Hei, a TrueType .ttc) are used when installed; ``.ci/run`` installs them, elsewhere those
tests skip.  The failure paths use fonts cut from the bundled Noto Sans SC in ``tmp_path`` and
then broken, truncated or paired into a collection on purpose.  Expected faces and glyphs are
read with fontTools and the PDFs with pypdf, independently of :mod:`analysis.fonts`.
"""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys
from pathlib import Path

import matplotlib as mpl
import pytest
from fontTools import subset
from fontTools.pens.boundsPen import BoundsPen
from fontTools.ttLib import TTCollection, TTFont
from matplotlib import font_manager
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from pypdf import PdfReader

from analysis import fonts
from analysis.fonts import (
    FONT_ENV,
    FontConversionError,
    FontFallbackWarning,
    FontNotFoundError,
    find_chinese_font,
    font_rc,
    truetype_copy,
)

NOTO_REGULAR = Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc")
NOTO_BOLD = Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc")
WQY_ZENHEI = Path("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc")
INSTALL = "apt-get install fonts-noto-cjk fonts-wqy-zenhei (.ci/run does)"
needs_noto = pytest.mark.skipif(not (NOTO_REGULAR.is_file() and NOTO_BOLD.is_file()),
                                reason=f"Debian's fonts-noto-cjk is not installed: {INSTALL}")
needs_wqy = pytest.mark.skipif(not WQY_ZENHEI.is_file(),
                               reason=f"Debian's fonts-wqy-zenhei is not installed: {INSTALL}")
SYSTEM_FONTS = [
    pytest.param("Noto Sans CJK SC", NOTO_REGULAR, marks=needs_noto, id="noto-sans-cjk-sc"),
    pytest.param("WenQuanYi Zen Hei", WQY_ZENHEI, marks=needs_wqy, id="wenquanyi-zen-hei"),
]
# 直 and 四 are drawn differently in the Simplified-Chinese and Japanese faces of Noto Sans CJK
CHART_TEXT = "四川省团委驻点工作：直属团组织"


def _face_of(collection: Path, family: str) -> int:
    with TTCollection(collection, lazy=True) as faces:
        (index,) = [i for i, face in enumerate(faces.fonts) if face["name"].getDebugName(1) == family]
    return index


def _bounds(font: TTFont, ch: str) -> tuple[float, float, float, float]:
    glyphs = font.getGlyphSet()
    pen = BoundsPen(glyphs)
    glyphs[font.getBestCmap()[ord(ch)]].draw(pen)
    return pen.bounds


def _run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "analysis", *args], capture_output=True, text=True,
                          env=env, timeout=600)


def _env(**values: str | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != FONT_ENV}
    env.update({k: v for k, v in values.items() if v is not None})
    return env


def _embedded(pdf: Path) -> dict[str, TTFont]:
    """The fonts embedded in a one-page PDF, by PostScript name without the subset tag."""
    found = {}
    for ref in PdfReader(pdf).pages[0]["/Resources"]["/Font"].values():
        font = ref.get_object()
        # Type 42 = Type0 font with one CIDFontType2 descendant holding TrueType data
        assert font["/Subtype"] == "/Type0", font
        (cid,) = [d.get_object() for d in font["/DescendantFonts"]]
        assert cid["/Subtype"] == "/CIDFontType2", cid
        data = cid["/FontDescriptor"].get_object()["/FontFile2"].get_object().get_data()
        assert data[:4] in (b"\x00\x01\x00\x00", b"true"), data[:4]  # not CFF ('OTTO')
        found[str(font["/BaseFont"]).split("+", 1)[1]] = TTFont(io.BytesIO(data))
    return found


def _chart_pdf(choice: fonts.FontChoice, out: Path) -> Path:
    """A small chart with Chinese text and negative ticks in ``choice``, saved as PDF."""
    with mpl.rc_context(font_rc(choice)):
        fig = Figure(figsize=(3, 2))
        FigureCanvasAgg(fig)
        ax = fig.subplots()
        ax.plot([-2, 0, 2], [1, -1, 0])
        ax.set_title(CHART_TEXT)
        ax.set_xlabel("变化（百分点）")
        with fonts.fail_on_missing_glyphs():
            fig.savefig(out, format="pdf")
    return out


@pytest.fixture
def monkeypatched_fonts(monkeypatch):
    """matplotlib's font list, restored after the test (fonts added in tmp_path go away)."""
    monkeypatch.setattr(font_manager.fontManager, "ttflist", list(font_manager.fontManager.ttflist))
    return font_manager.fontManager


# ---------------------------------------------------------------- Debian's CJK fonts

@needs_noto
def test_noto_sans_cjk_sc_is_the_regular_face_whatever_the_font_list_order(monkeypatched_fonts):
    face = _face_of(NOTO_REGULAR, "Noto Sans CJK SC")
    assert face == _face_of(NOTO_BOLD, "Noto Sans CJK SC")  # the trap: same family, same face
    first = find_chinese_font(["Noto Sans CJK SC"])
    assert (first.converted_from, first.face, first.source) == (NOTO_REGULAR, face, "system")
    assert first.name == "Noto Sans CJK SC TrueType"
    monkeypatched_fonts.ttflist.reverse()  # Bold.ttc entries first now
    assert find_chinese_font(["noto sans cjk sc"]) == first


@needs_noto
def test_noto_sans_cjk_copy_has_every_glyph_of_the_sc_face(monkeypatched_fonts):
    choice = find_chinese_font(font="Noto Sans CJK SC")
    original = TTFont(NOTO_REGULAR, fontNumber=choice.face, lazy=True)
    copy = TTFont(choice.path, lazy=True)
    assert "glyf" in copy and "CFF " not in copy and "CFF " in original
    assert copy["maxp"].numGlyphs == original["maxp"].numGlyphs == 65535
    # 65,535 glyph names do not fit a format-2 'post' table (the OverflowError of issue 16)
    assert copy["post"].formatType == 3.0
    assert copy.getBestCmap().keys() == original.getBestCmap().keys()
    japanese = TTFont(NOTO_REGULAR, fontNumber=_face_of(NOTO_REGULAR, "Noto Sans CJK JP"), lazy=True)
    for ch in "直四":
        assert _bounds(copy, ch) == pytest.approx(_bounds(original, ch), abs=2), ch
        assert _bounds(original, ch) != _bounds(japanese, ch), ch  # so the face is really SC


@pytest.mark.parametrize(("family", "path"), SYSTEM_FONTS)
def test_chart_pdf_embeds_each_system_font_with_its_glyphs(family, path, tmp_path):
    choice = find_chinese_font(font=family)
    assert (choice.converted_from or choice.path) == path
    pdf = _chart_pdf(choice, tmp_path / "chart.pdf")
    embedded = _embedded(pdf)
    with TTFont(choice.path, fontNumber=0 if choice.converted_from else choice.face, lazy=True) as used:
        ps_name = used["name"].getDebugName(6)
    assert ps_name in embedded, sorted(embedded)
    subset_font = embedded[ps_name]
    original = TTFont(path, fontNumber=choice.face, lazy=True)
    cmap = subset_font.getBestCmap()
    for ch in "四川团委直属":
        assert ord(ch) in cmap, ch
        assert subset_font["glyf"][cmap[ord(ch)]].numberOfContours > 0, ch
        assert _bounds(subset_font, ch) == pytest.approx(_bounds(original, ch), abs=2), ch
    if ord("\u2212") not in original.getBestCmap():  # WenQuanYi: the minus sign from DejaVu Sans
        assert "DejaVuSans" in embedded
    assert CHART_TEXT in PdfReader(pdf).pages[0].extract_text()


@needs_noto
def test_smoke_command_works_with_noto_sans_cjk(tmp_path):
    """Issue 16: `python -m analysis smoke` crashed with an OverflowError on such machines."""
    res = _run("smoke", "--reports", str(tmp_path), env=_env())
    assert res.returncode == 0, res.stderr
    assert "Traceback" not in res.stderr and "note:" not in res.stderr, res.stderr
    face = _face_of(NOTO_REGULAR, "Noto Sans CJK SC")
    assert f"font: Noto Sans CJK SC TrueType (installed font {NOTO_REGULAR}, face {face};" in res.stdout
    assert "NotoSansCJKscTrueType-Regular" in _embedded(tmp_path / "figures" / "00_font_check.pdf")


@needs_wqy
def test_residency_font_and_option_choose_the_font_in_a_new_process(tmp_path):
    res = _run("smoke", "--reports", str(tmp_path / "env"), env=_env(RESIDENCY_FONT="WenQuanYi Zen Hei"))
    assert res.returncode == 0, res.stderr
    assert f"font: WenQuanYi Zen Hei (installed font {WQY_ZENHEI})" in res.stdout
    # weight 500 is its Regular: no "findfont: Failed to find font weight" lines
    assert "findfont" not in res.stderr and "Traceback" not in res.stderr, res.stderr
    assert "WenQuanYiZenHei" in _embedded(tmp_path / "env" / "figures" / "00_font_check.pdf")
    # the option wins over the environment variable
    res = _run("smoke", "--reports", str(tmp_path / "opt"), "--font", str(WQY_ZENHEI),
               env=_env(RESIDENCY_FONT="No Such Font"))
    assert res.returncode == 0, res.stderr
    assert f"font: WenQuanYi Zen Hei (font file {WQY_ZENHEI})" in res.stdout


# ---------------------------------------------------------------- asking for a font

def test_requested_font_reads_the_environment(monkeypatch):
    monkeypatch.setenv(FONT_ENV, "  WenQuanYi Zen Hei ")
    assert fonts.requested_font() == "WenQuanYi Zen Hei"
    monkeypatch.setenv(FONT_ENV, " ")
    assert fonts.requested_font() is None
    monkeypatch.delenv(FONT_ENV)
    assert fonts.requested_font() is None


def test_a_font_that_is_not_there_or_not_chinese_is_a_clear_error(tmp_path):
    with pytest.raises(FontNotFoundError, match=r"no installed font is called 'No Such Font'.*Fix:"):
        find_chinese_font(font="No Such Font")
    with pytest.raises(FontNotFoundError, match=r"DejaVu Sans .* not a Simplified-Chinese font"):
        find_chinese_font(font="DejaVu Sans")
    with pytest.raises(FontNotFoundError, match=r"no font file .*nothing\.ttf"):
        find_chinese_font(font=tmp_path / "nothing.ttf")


def test_unknown_font_on_the_command_line_is_one_line_and_exit_2(tmp_path):
    res = _run("smoke", "--reports", str(tmp_path), "--font", "No Such Font 字体", env=_env())
    assert res.returncode == 2
    assert res.stderr.startswith("error: ") and res.stderr.count("\n") == 1, res.stderr
    assert "No Such Font 字体" in res.stderr and "Traceback" not in res.stderr
    assert not (tmp_path / "figures").exists()


def _cut(text: str, out: Path, family: str | None = None, style: str = "Regular",
         weight: int = 400) -> TTFont:
    """A small CFF font with the glyphs of ``text``, cut from the bundled Noto Sans SC."""
    options = subset.Options()
    options.name_IDs = ["*"]
    font = subset.load_font(str(fonts.find_chinese_font([]).converted_from), options)
    cutter = subset.Subsetter(options)
    cutter.populate(text=text)
    cutter.subset(font)
    if family is not None:
        ps = family.replace(" ", "") + "-" + style
        for record in font["name"].names:
            record.string = {1: family, 2: style, 4: f"{family} {style}", 6: ps,
                             16: family, 17: style}.get(record.nameID, record.toUnicode())
        font["OS/2"].usWeightClass = weight
    font.save(out)
    return font


@pytest.fixture(scope="module")
def pair_collection(tmp_path_factory) -> Path:
    """A .ttc of one family in two faces, Bold first then Regular (CFF outlines)."""
    folder = tmp_path_factory.mktemp("pair")
    collection = TTCollection()
    collection.fonts = [
        _cut(fonts.PROBE_TEXT + "AB", folder / f"{style}.otf", "Pair Test Sans", style, weight)
        for style, weight in (("Bold", 700), ("Regular", 400))
    ]
    collection.save(folder / "PairTest.ttc")
    return folder / "PairTest.ttc"


def test_regular_face_of_a_collection_is_chosen_by_path_and_by_name(pair_collection, tmp_path,
                                                                    monkeypatched_fonts):
    by_path = find_chinese_font(font=pair_collection, cache_dir=tmp_path)
    assert (by_path.source, by_path.face, by_path.converted_from) == ("file", 1, pair_collection)
    with TTFont(by_path.path) as copy:
        assert copy["name"].getDebugName(2) == "Regular" and copy["OS/2"].usWeightClass == 400
    # the file is now registered: by family name, in either order of the font list
    by_name = find_chinese_font(font="Pair Test Sans", cache_dir=tmp_path)
    assert (by_name.source, by_name.face, by_name.path) == ("system", 1, by_path.path)
    monkeypatched_fonts.ttflist.reverse()
    assert find_chinese_font(font="pair test sans", cache_dir=tmp_path) == by_name


# ---------------------------------------------------------------- fonts that cannot be used

@pytest.fixture(scope="module")
def broken_cff(tmp_path_factory) -> Path:
    """A CFF font that covers the probe characters but whose glyph "A" is a broken program.

    FreeType opens it and finds every Chinese character, so it is chosen; converting it fails
    at "A" (a rlineto with one argument).
    """
    folder = tmp_path_factory.mktemp("broken")
    out = folder / "BrokenTest.otf"
    font = _cut(fonts.PROBE_TEXT + "AB", folder / "whole.otf", "Broken Test Sans")
    charstring = font["CFF "].cff.topDictIndex[0].CharStrings[font.getBestCmap()[ord("A")]]
    charstring.decompile()
    charstring.program = [100, "rlineto", "endchar"]
    font.save(out)
    return out


@pytest.fixture
def cache_with_bundled_copy(tmp_path) -> Path:
    """An empty font cache but for the bundled font's TrueType copy (saves its conversion)."""
    cache = tmp_path / "cache"
    cache.mkdir()
    bundled = find_chinese_font([])
    shutil.copy2(bundled.path, cache / bundled.path.name)  # the name depends on the font only
    return cache


def test_failed_conversion_is_remembered_per_file_version(broken_cff, tmp_path):
    font = shutil.copy2(broken_cff, tmp_path / "BrokenTest.otf")
    cache = tmp_path / "cache"
    with pytest.raises(FontConversionError, match=r"BrokenTest\.otf \(face 0\) cannot be converted"):
        truetype_copy(font, cache)
    (record,) = cache.glob("*.failed")
    assert not list(cache.glob("*.ttf"))
    # a later call reads the record instead of converting again
    record.write_text("RuntimeError: recorded by this test\n", encoding="utf-8")
    with pytest.raises(FontConversionError, match=r"recorded by this test \(remembered in .*delete"):
        truetype_copy(font, cache)
    # a changed file (new modification time) is tried again, under a new record
    stat = Path(font).stat()
    os.utime(font, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    with pytest.raises(FontConversionError, match="FT_Load_Glyph"):
        truetype_copy(font, cache)
    assert len(list(cache.glob("*.failed"))) == 2


def test_unconvertible_font_falls_back_to_bundled_with_one_note(broken_cff, cache_with_bundled_copy):
    with pytest.warns(FontFallbackWarning) as caught:
        choice = find_chinese_font(font=broken_cff, cache_dir=cache_with_bundled_copy)
    assert (choice.source, choice.name) == ("bundled", "Noto Sans SC TrueType")
    assert len(caught) == 1 and str(caught[0].message) == choice.note
    assert "\n" not in choice.note and str(broken_cff) in choice.note
    assert choice.note.startswith("字体提示：") and FONT_ENV in choice.note
    # the second time the record answers: same note but for the "remembered" hint
    with pytest.warns(FontFallbackWarning, match="remembered in"):
        assert find_chinese_font(font=broken_cff, cache_dir=cache_with_bundled_copy).source == "bundled"


def test_truncated_font_file_falls_back_to_bundled(tmp_path, cache_with_bundled_copy):
    truncated = tmp_path / "Truncated.otf"
    truncated.write_bytes(fonts.find_chinese_font([]).converted_from.read_bytes()[:4096])
    with pytest.warns(FontFallbackWarning, match=r"Truncated\.otf cannot be read as a font"):
        choice = find_chinese_font(font=truncated, cache_dir=cache_with_bundled_copy)
    assert choice.source == "bundled"


def test_unconvertible_candidate_gives_way_to_the_next(broken_cff, cache_with_bundled_copy,
                                                      monkeypatched_fonts):
    monkeypatched_fonts.addfont(str(broken_cff))
    bundled = find_chinese_font([])  # registers "Noto Sans SC TrueType" as an installed family
    with pytest.warns(FontFallbackWarning, match="BrokenTest.otf"):
        choice = find_chinese_font(["Broken Test Sans", bundled.name], cache_dir=cache_with_bundled_copy)
    assert (choice.name, choice.path, choice.source) == (bundled.name, bundled.path, "system")
    assert choice.note is not None and "系统字体" in choice.note


def test_command_line_fallback_is_one_note_line_not_a_traceback(broken_cff, tmp_path):
    config = tmp_path / "mplconfig"  # a fresh matplotlib cache, but for the bundled font's copy
    (config / "analysis-fonts").mkdir(parents=True)
    bundled = find_chinese_font([])
    shutil.copy2(bundled.path, config / "analysis-fonts" / bundled.path.name)
    res = _run("smoke", "--reports", str(tmp_path / "reports"), "--font", str(broken_cff),
               env=_env(MPLCONFIGDIR=str(config)))
    assert res.returncode == 0, res.stderr
    lines = res.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("note: 字体提示："), res.stderr
    assert "font: Noto Sans SC TrueType (bundled font" in res.stdout
    assert (tmp_path / "reports" / "figures" / "00_font_check.pdf").is_file()
