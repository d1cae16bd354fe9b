"""Chinese fonts, the house style and the smoke figure (analysis.fonts, analysis.style, analysis.smoke).

Expected values are checked with independent tools: fontTools for font tables, pypdf for the
PDF's font resources, Pillow for PNG metadata, and the CIE L* formula written out here.
"""

from __future__ import annotations

import subprocess
import sys
import warnings
from pathlib import Path

import matplotlib as mpl
import numpy as np
import pytest
import seaborn as sns
from fontTools.ttLib import TTFont
from matplotlib.figure import Figure
from matplotlib.ft2font import FT2Font, LoadFlags
from PIL import Image
from pypdf import PdfReader

from analysis import fonts, style
from analysis.fonts import (
    FontChoice,
    MissingGlyphError,
    fail_on_missing_glyphs,
    find_chinese_font,
    missing_glyphs,
    use_chinese_font,
)
from analysis.smoke import SMOKE_STEM, smoke_figure, write_smoke_figure

MINUS = "\u2212"
DEJAVU = Path(mpl.get_data_path()) / "fonts" / "ttf" / "DejaVuSans.ttf"


@pytest.fixture(scope="module")
def smoke_files(tmp_path_factory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("figures")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # any warning while drawing, glyph or other, fails
        files = write_smoke_figure(out)
    return {p.suffix.lstrip("."): p for p in files}


def _family_name(path: Path) -> str:
    font = TTFont(path, fontNumber=0)
    return font["name"].getDebugName(1)


def _chart_ps_name() -> str:
    """PostScript name of the font the charts use (whichever this machine has), as in PDFs."""
    choice = fonts.chinese_font()
    face = 0 if choice.converted_from is not None else choice.face
    with TTFont(choice.path, fontNumber=face, lazy=True) as font:
        return font["name"].getDebugName(6)


# ---------------------------------------------------------------- font discovery

def test_empty_candidate_list_uses_bundled_noto_sans_sc():
    choice = find_chinese_font([])
    assert choice.source == "bundled"
    assert choice.converted_from is not None and choice.converted_from.name == "NotoSansSC-Regular.otf"
    # the bundled font has CFF outlines, so the chart font is its TrueType copy
    assert _family_name(choice.converted_from) == "Noto Sans SC"
    assert choice.name == _family_name(choice.path) == "Noto Sans SC TrueType"
    with TTFont(choice.path) as tt:
        assert "glyf" in tt and "CFF " not in tt
        # 31,036 glyphs: their names still fit a format-2 'post' table, as before
        assert tt["post"].formatType == 2.0 and tt["post"].glyphOrder[1] == "cid00001"
    assert choice.name in {f.name for f in mpl.font_manager.fontManager.ttflist}
    # the CFF original is not registered, so it cannot be picked by mistake
    assert str(choice.converted_from) not in {f.fname for f in mpl.font_manager.fontManager.ttflist}


def test_unknown_candidates_fall_back_to_bundled():
    choice = find_chinese_font(["No Such Font 字体"])
    assert choice.source == "bundled"


def test_system_candidate_without_chinese_glyphs_is_skipped():
    # DejaVu Sans is installed (ships with matplotlib) but has no hanzi: it must not be chosen
    choice = find_chinese_font(["DejaVu Sans"])
    assert choice.source == "bundled"


def test_installed_truetype_chinese_font_is_reported_as_system():
    bundled = find_chinese_font([])  # registers the TrueType copy with matplotlib
    choice = find_chinese_font(["No Such Font", bundled.name])
    assert choice == FontChoice(bundled.name, bundled.path, "system")
    assert choice.to_frame().to_dict("records") == [
        {"name": "Noto Sans SC TrueType", "path": str(bundled.path), "source": "system",
         "converted_from": None, "face": 0, "note": None}
    ]


@pytest.fixture(scope="module")
def tiny_cff(tmp_path_factory) -> Path:
    """A 6-glyph CFF font cut from the bundled Noto Sans SC (fast to convert)."""
    from fontTools import subset

    source = find_chinese_font([]).converted_from
    out = tmp_path_factory.mktemp("fonts") / "Tiny.otf"
    options = subset.Options()
    options.name_IDs = ["*"]
    with subset.load_font(str(source), options) as font:
        sub = subset.Subsetter(options)
        sub.populate(text="团委A−")
        sub.subset(font)
        font.save(out)
    return out


def test_truetype_copy_keeps_outlines_metrics_and_cmap(tiny_cff, tmp_path):
    from fontTools.pens.boundsPen import BoundsPen

    path, family = fonts.truetype_copy(tiny_cff, cache_dir=tmp_path)
    assert family == "Noto Sans SC TrueType"
    cff, tt = TTFont(tiny_cff), TTFont(path)
    assert "CFF " in cff and "glyf" in tt and "CFF " not in tt
    assert tt.sfntVersion == "\x00\x01\x00\x00"
    assert tt["name"].getDebugName(6) == "NotoSansSCTrueType-Regular"
    assert tt.getBestCmap() == cff.getBestCmap()
    cff_set, tt_set = cff.getGlyphSet(), tt.getGlyphSet()
    for ch in "团委A−":
        name = cff.getBestCmap()[ord(ch)]
        assert tt["hmtx"][name][0] == cff["hmtx"][name][0]  # same advance width
        b1, b2 = BoundsPen(cff_set), BoundsPen(tt_set)
        cff_set[name].draw(b1)
        tt_set[name].draw(b2)
        # quadratic approximation within 1 unit per point (em = 1000 units)
        assert b2.bounds == pytest.approx(b1.bounds, abs=1.5), ch
    # second call is a cache hit: same file, not rewritten
    before = path.stat().st_mtime_ns
    assert fonts.truetype_copy(tiny_cff, cache_dir=tmp_path) == (path, family)
    assert path.stat().st_mtime_ns == before
    # no temporary files left (the .lock file stays, as locks must)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([path.name, path.stem + ".lock"])


def _raster(path: Path, text: str) -> np.ndarray:
    font = FT2Font(str(path))
    font.set_size(48, 72)
    font.set_text(text, flags=LoadFlags.NO_HINTING)  # hinting differs between CFF and TrueType
    font.draw_glyphs_to_bitmap(antialiased=True)
    return np.asarray(font.get_image(), dtype=float)


def test_truetype_copy_draws_like_the_original(tiny_cff, tmp_path):
    """Same pixels from the CFF original and the copy: outlines, holes and winding survive."""
    path, _ = fonts.truetype_copy(tiny_cff, cache_dir=tmp_path)
    original, copy = _raster(tiny_cff, "团委A−"), _raster(path, "团委A−")
    assert original.shape == copy.shape and original.sum() > 0
    # 1 font unit of cu2qu error is 0.05 px at 48 px per em: only edge pixels shift a little
    assert np.abs(original - copy).max() < 64
    # measured: max 36, mean 0.4 (of 255); a lost counter or a wrong glyph differs by 255 over areas
    assert np.abs(original - copy).mean() < 1


def test_missing_glyphs_against_font_tables():
    bundled = find_chinese_font([]).path
    cmap = TTFont(bundled).getBestCmap()
    text = "四川省−驻点 ab"
    assert missing_glyphs(text, bundled) == [c for c in "四川省−驻点ab" if ord(c) not in cmap]
    assert missing_glyphs(text, bundled) == []
    # DejaVu has Latin and the minus sign but no hanzi; duplicates are reported once
    assert missing_glyphs("四a四−", DEJAVU) == ["四"]


def test_use_chinese_font_is_idempotent_and_sets_traps_right():
    first = use_chinese_font()
    rc_first = {k: mpl.rcParams[k] for k in ("font.family", "pdf.fonttype", "ps.fonttype")}
    second = use_chinese_font()
    assert first == second
    assert {k: mpl.rcParams[k] for k in rc_first} == rc_first
    assert mpl.rcParams["font.family"] == [first.name, "DejaVu Sans"]
    assert mpl.rcParams["pdf.fonttype"] == 42 and mpl.rcParams["ps.fonttype"] == 42
    assert mpl.rcParams["axes.unicode_minus"] is True


def test_apply_style_survives_a_plain_seaborn_theme():
    sns.set_theme()  # the trap: this resets font.family to "sans-serif"
    assert mpl.rcParams["font.family"] == ["sans-serif"]
    choice = style.apply_style()
    assert mpl.rcParams["font.family"][0] == choice.name
    fig, ax = style.new_figure()
    ax.set_title("第二轮 −3")
    with fail_on_missing_glyphs():
        fig.canvas.draw()


def test_house_style_is_seaborns_paper_whitegrid_theme_under_the_house_rc():
    # apply_style writes seaborn's theme out instead of importing seaborn: the rc it leaves must be
    # what seaborn.set_theme(context="paper", style="whitegrid", rc=house_rc) leaves, key by key
    # (image.cmap aside: seaborn's "rocket" map, which no chart of the package uses)
    with mpl.rc_context():
        choice = style.apply_style()
        ours = dict(mpl.rcParams)
        codes = {c: mpl.colors.colorConverter.colors[c] for c in "bgrmyck"}
    with mpl.rc_context():
        mpl.rcParams.update(mpl.rcParamsDefault)
        sns.set_theme(context="paper", style="whitegrid", rc=style.house_rc(choice))
        theirs = dict(mpl.rcParams)
        seaborn_codes = {c: mpl.colors.colorConverter.colors[c] for c in "bgrmyck"}
    differ = sorted(k for k in theirs if k != "image.cmap" and theirs[k] != ours[k])
    assert differ == []
    assert codes == seaborn_codes
    assert set(style.SEABORN_THEME_RC) <= set(sns.plotting_context("paper")) | set(sns.axes_style("whitegrid"))


def test_drawing_needs_neither_seaborn_nor_scipy():
    # the kernels of notebooks 01–04 (charts, summaries, scope) start ~0.9 s sooner without them
    code = ("import sys; from analysis import charts, summaries, scope; from analysis.style import apply_style; "
            "apply_style(); print(sorted(m for m in ('seaborn', 'scipy.stats') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


# ---------------------------------------------------------------- missing glyphs fail

def test_missing_glyph_warning_becomes_an_error():
    fig, ax = style.new_figure()
    ax.set_title("团委", fontfamily="DejaVu Sans")  # a font without hanzi: boxes
    with pytest.raises(MissingGlyphError, match=r"Glyph \d+ .*missing from font.*Fix:"):
        with fail_on_missing_glyphs():
            fig.canvas.draw()


def test_unrelated_warnings_are_passed_through():
    with pytest.warns(RuntimeWarning, match="unrelated"):
        with fail_on_missing_glyphs():
            warnings.warn("unrelated", RuntimeWarning)


# ---------------------------------------------------------------- smoke figure output

def test_smoke_writes_three_formats(smoke_files):
    assert set(smoke_files) == {"png", "pdf", "svg"}
    for path in smoke_files.values():
        assert path.stem == SMOKE_STEM
        assert path.stat().st_size > 1000
    # atomic write leaves no temporary files behind
    assert sorted(p.name for p in smoke_files["png"].parent.iterdir()) == sorted(
        p.name for p in smoke_files.values()
    )


def _pdf_fonts(path: Path) -> list[dict]:
    fonts_found = []
    for page in PdfReader(path).pages:
        for ref in page["/Resources"]["/Font"].values():
            font = ref.get_object()
            descendants = [d.get_object() for d in font.get("/DescendantFonts", [])]
            descriptor_holder = descendants[0] if descendants else font
            descriptor = descriptor_holder.get("/FontDescriptor")
            descriptor = descriptor.get_object() if descriptor is not None else {}
            fonts_found.append({
                "base": str(font["/BaseFont"]) if "/BaseFont" in font else "",
                "subtype": str(font["/Subtype"]),
                "descendant_subtype": str(descendants[0]["/Subtype"]) if descendants else None,
                "embedded": [k for k in ("/FontFile", "/FontFile2", "/FontFile3") if k in descriptor],
            })
    return fonts_found


def test_pdf_embeds_the_chinese_font_as_type42(smoke_files):
    found = _pdf_fonts(smoke_files["pdf"])
    assert found, "no /Font resources in the PDF"
    assert all(f["subtype"] != "/Type3" for f in found), found
    # subset fonts are named "ABCDEF+<PostScript name>"
    cjk = [f for f in found if f["base"].endswith("+" + _chart_ps_name())]
    assert len(cjk) == 1, found
    # Type 42 in PDF = a CID-keyed Type0 font whose descendant is CIDFontType2 (TrueType outlines)
    assert cjk[0]["subtype"] == "/Type0"
    assert cjk[0]["descendant_subtype"] == "/CIDFontType2"
    assert set(cjk[0]["embedded"]) & {"/FontFile2", "/FontFile3"}


def test_pdf_embedded_font_really_is_truetype(smoke_files):
    """/FontFile2 must hold TrueType outlines; CFF data there ('OTTO') renders as garbage."""
    import io

    reader = PdfReader(smoke_files["pdf"])
    font = reader.pages[0]["/Resources"]["/Font"]
    (cjk,) = [f.get_object() for f in font.values()
              if str(f.get_object()["/BaseFont"]).endswith("+" + _chart_ps_name())]
    descriptor = cjk["/DescendantFonts"][0].get_object()["/FontDescriptor"].get_object()
    data = descriptor["/FontFile2"].get_object().get_data()
    assert data[:4] in (b"\x00\x01\x00\x00", b"true"), data[:4]
    with TTFont(io.BytesIO(data)) as embedded:
        assert "glyf" in embedded
        # the subset holds real outlines for the title's characters
        glyphs = embedded.getGlyphSet()
        assert any(getattr(embedded["glyf"][g], "numberOfContours", 0) > 0 for g in glyphs.keys())


def test_pdf_keeps_its_text(smoke_files):
    text = PdfReader(smoke_files["pdf"]).pages[0].extract_text()
    assert "字体检查" in text and "数据来源" in text


def test_minus_sign_is_a_real_minus_with_a_glyph(smoke_files):
    fig = smoke_figure()
    fig.canvas.draw()
    labels = [t.get_text() for t in fig.axes[0].get_xticklabels()]
    assert any(lab.startswith(MINUS) for lab in labels), labels
    assert not any("-" in lab for lab in labels), labels  # no ASCII hyphen-minus
    # the glyph of U+2212 in the chosen font (looked up with fontTools) is drawn in the SVG
    choice = fonts.chinese_font()
    font = TTFont(choice.path)
    glyph_id = font.getGlyphID(font.getBestCmap()[ord(MINUS)])
    ps_name = font["name"].getDebugName(6)
    assert f'id="{ps_name}-{glyph_id:x}"' in smoke_files["svg"].read_text(encoding="utf-8")


def test_save_is_deterministic(tmp_path):
    fig = smoke_figure()
    # low dpi keeps the test fast; determinism does not depend on resolution
    first = style.save_figure(fig, tmp_path / "a" / "chart", dpi=72)
    second = style.save_figure(smoke_figure(), tmp_path / "b" / "chart", dpi=72)
    for p, q in zip(first, second, strict=True):
        assert p.read_bytes() == q.read_bytes(), p.suffix
    # saving again over the same file gives the same bytes too
    before = {p: p.read_bytes() for p in first}
    style.save_figure(fig, tmp_path / "a" / "chart", dpi=72)
    assert {p: p.read_bytes() for p in first} == before


@pytest.mark.slow
def test_save_is_deterministic_across_processes(tmp_path):
    """A fresh interpreter writes the same bytes as this one (no per-process ids or dates)."""
    import subprocess
    import sys

    code = (
        "import sys; from pathlib import Path; from analysis.smoke import smoke_figure; "
        "from analysis.style import save_figure; "
        "save_figure(smoke_figure(), Path(sys.argv[1]), formats=('pdf', 'svg'), dpi=72)"
    )
    subprocess.run([sys.executable, "-c", code, str(tmp_path / "other")], check=True, timeout=300)
    style.save_figure(smoke_figure(), tmp_path / "here", formats=("pdf", "svg"), dpi=72)
    for ext in ("pdf", "svg"):
        assert (tmp_path / f"other.{ext}").read_bytes() == (tmp_path / f"here.{ext}").read_bytes(), ext


def test_metadata_is_fixed(smoke_files):
    assert Image.open(smoke_files["png"]).info["Software"] == "analysis (matplotlib)"
    meta = PdfReader(smoke_files["pdf"]).metadata
    assert "/CreationDate" not in meta and "/ModDate" not in meta
    assert "<dc:date>" not in smoke_files["svg"].read_text(encoding="utf-8")


def test_png_size_is_single_column_at_300_dpi(smoke_files):
    width_px, _ = Image.open(smoke_files["png"]).size
    assert abs(width_px - 8.5 / 2.54 * 300) < 1  # 1003.9 px, truncated by matplotlib


def test_save_figure_rejects_unknown_format(tmp_path):
    with pytest.raises(ValueError, match="unknown format.*jpg"):
        style.save_figure(Figure(), tmp_path / "x", formats=("png", "jpg"))


def test_save_figure_keeps_dots_in_stem(tmp_path):
    (out,) = style.save_figure(Figure(figsize=(1, 1)), tmp_path / "fig_1.2", formats=("svg",))
    assert out.name == "fig_1.2.svg"


# ---------------------------------------------------------------- style helpers

def _lightness(hex_colour: str) -> float:
    """CIE L* of an sRGB colour (D65), written out independently of the code under test."""
    rgb = [int(hex_colour[i:i + 2], 16) / 255 for i in (1, 3, 5)]
    lin = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in rgb]
    y = 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]
    return 116 * y ** (1 / 3) - 16 if y > 216 / 24389 else 24389 / 27 * y


def test_lightness_known_values_and_outline_rule():
    # reference points of CIE L*: black 0, white 100, sRGB #777777 = 50.0 (mid grey)
    assert style.lightness("#000000") == pytest.approx(0.0)
    assert style.lightness("#FFFFFF") == pytest.approx(100.0)
    assert style.lightness("#777777") == pytest.approx(50.0, abs=0.1)
    for colour in style.OKABE_ITO.values():
        assert style.lightness(colour) == pytest.approx(_lightness(colour))
    assert style.outline(style.GRADE_COLORS["合格"], 1.2) is not None  # yellow, L* 89
    assert all(style.outline(style.GRADE_COLORS[g], 1.2) is None for g in ("优秀", "良好", "不合格"))


def test_round_colours_differ_in_grey():
    l1, l2 = (_lightness(style.ROUND_COLORS[r]) for r in style.ROUNDS)
    assert abs(l1 - l2) >= 20
    assert style.ROUND_MARKERS["第一轮"] != style.ROUND_MARKERS["第二轮"]


def test_grades_distinguishable_in_grey_or_by_marker_and_hatch():
    for i, a in enumerate(style.GRADES):
        for b in style.GRADES[i + 1:]:
            far_in_grey = abs(_lightness(style.GRADE_COLORS[a]) - _lightness(style.GRADE_COLORS[b])) >= 15
            marked = style.GRADE_HATCHES[a] != style.GRADE_HATCHES[b]
            assert far_in_grey or marked, (a, b)
    assert len(set(style.GRADE_MARKERS.values())) == 4
    assert len(set(style.GRADE_COLORS.values())) == 4


def test_figure_size_in_inches():
    assert style.figure_size("single", 0.5) == pytest.approx((8.5 / 2.54, 4.25 / 2.54))
    assert style.figure_size("double")[0] == pytest.approx(17 / 2.54)
    assert style.figure_size(12.0, 1.0) == pytest.approx((12 / 2.54, 12 / 2.54))
    with pytest.raises(ValueError, match="width='triple'"):
        style.figure_size("triple")


@pytest.mark.parametrize(
    ("period", "label"),
    [("2012H1", "2012年上半年"), ("2013h2", "2013年下半年"), ("2008–2014年", "2008–2014年")],
)
def test_period_label(period, label):
    assert style.period_label(period) == label


def test_axis_label():
    assert style.axis_label("变化", "个") == "变化（个）"
    assert style.axis_label("指数") == "指数"


def test_source_note_text_is_replaced_and_fits_inside_the_figure():
    fig, ax = style.new_figure("single")
    ax.plot([0, 1], [-1, 1])
    ax.set_xlabel("批次")
    style.add_source_note(fig, "数据来源：汇总表", "2013H1")
    note = style.add_source_note(fig, "各市州团委汇总表", ("2008H2", "2014H1"))
    notes = [t for t in fig.texts if t.get_gid() == "source-note"]
    assert notes == [note]
    assert note.get_text() == "数据来源：各市州团委汇总表\n时期：2008年下半年至2014年上半年"
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    box = note.get_window_extent(renderer)
    fig_box = fig.bbox
    assert box.x0 >= fig_box.x0 and box.x1 <= fig_box.x1 and box.y0 >= fig_box.y0
    # the note does not overlap the x-axis label
    assert box.y1 <= ax.xaxis.label.get_window_extent(renderer).y0


def test_source_note_requires_a_source():
    fig, _ = style.new_figure()
    with pytest.raises(ValueError, match="source is empty"):
        style.add_source_note(fig, "  ", "2013H1")
