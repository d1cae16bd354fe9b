"""Tests of the assembled chart pack on a tiny hand-built processed folder."""

from __future__ import annotations

import hashlib
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import openpyxl
import pandas as pd
import pytest
from docx import Document
from fontTools.ttLib import TTFont
from pypdf import PdfReader

import matplotlib as mpl

import analysis.report as report
from analysis import fonts
from analysis.indices import INDEX_INDICATORS
from analysis.report import CHARTS, ReportDataError, build_report
from analysis.style import save_figure

SPEC = {c.stem: c for c in CHARTS}

PERIODS = [f"{y}H{h}" for y in range(2008, 2015) for h in (1, 2)][:-1]  # 2008H1 … 2014H1
COUNTIES = ["510104", "510105", "510106", "513401", "513432", "513425"]  # 成都 ×3, 凉山 ×3
BEST = "510104"      # 锦江区: the highest value of every indicator in 2014H1
STEADY = "513432"    # 喜德县: the same values in 2011H2 and 2014H1 → round-2 change exactly 0
N_DRAWS = 19


def tiny_panel() -> pd.DataFrame:
    rng = np.random.default_rng(7)
    rows = []
    for code in COUNTIES:
        for period in PERIODS:
            row = {"county_code": code, "base_code": code, "period": period}
            for ind in INDEX_INDICATORS:
                if ind.startswith("std_"):
                    row[ind] = float(rng.integers(0, 2))
                elif ind == "funds_per_youth":
                    row[ind] = float(rng.uniform(0.1, 1.0))
                else:
                    row[ind] = float(rng.uniform(10, 90))
            rows.append(row)
    panel = pd.DataFrame(rows)
    best = (panel["county_code"] == BEST) & (panel["period"] == "2014H1")
    for ind in INDEX_INDICATORS:
        panel.loc[best, ind] = 1.0 if ind.startswith("std_") else (2.0 if ind == "funds_per_youth" else 100.0)
    # the clean step derives the standard from the catalog formula funds_per_youth >= 0.5
    panel["std_funds_per_youth"] = (panel["funds_per_youth"] >= 0.5).astype(float)
    steady = panel["county_code"] == STEADY
    start = panel[steady & (panel["period"] == "2011H2")][list(INDEX_INDICATORS)].to_numpy()
    panel.loc[steady & (panel["period"] == "2014H1"), list(INDEX_INDICATORS)] = start
    return panel


def tiny_roster() -> pd.DataFrame:
    rows = []
    for sheet in ("第一轮", "第二轮"):
        for i, code in enumerate(COUNTIES):
            rows.append({"round": None, "batch": i % 4 + 1, "county_code": code, "base_code": code,
                         "source_sheet": sheet})
    return pd.DataFrame(rows)


@pytest.fixture(scope="module")
def processed(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("processed")
    tiny_panel().to_parquet(d / "panel.parquet")
    tiny_roster().to_parquet(d / "roster.parquet")
    return d


# the determinism check draws these twice, not the whole pack: one chart of each kind of artist
# that could carry state from run to run (text in many labels, filled bands, map polygons, a
# colour mesh); the other builders draw lines, bars and markers like these.  Four charts, not
# eight: each costs about 3 s per build, mostly subsetting the CJK font into the PDF.
TWIN_CHARTS = tuple(SPEC[s] for s in ("ranking", "event_study", "change_map_vitality", "change_heatmap"))


@pytest.fixture(scope="module")
def built(processed, tmp_path_factory):
    reports = tmp_path_factory.mktemp("reports")
    return reports, build_report(processed, reports, n_draws=N_DRAWS)


@pytest.fixture(scope="module")
def twins(processed, tmp_path_factory):
    out = []
    for name in ("a", "b"):
        reports = tmp_path_factory.mktemp(f"reports_{name}")
        out.append((reports, build_report(processed, reports, n_draws=N_DRAWS, charts_list=TWIN_CHARTS)))
    return out


@pytest.fixture(scope="module")
def data(processed) -> report.ReportData:
    panel = pd.read_parquet(processed / "panel.parquet")
    roster = pd.read_parquet(processed / "roster.parquet")
    # the charts do not use the subset (异质性) estimates; the pack with them: `built`
    return report.prepare_report_data(panel, roster, n_draws=N_DRAWS, heterogeneity=False)


def sha(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def test_every_declared_chart_and_table_is_written(built):
    reports, manifest = built
    assert manifest.skipped == []
    stems = sorted(p.name for p in (reports / "figures").iterdir())
    expected = sorted(f"{c.number:02d}_{c.stem}.{ext}" for c in CHARTS for ext in ("png", "pdf", "svg"))
    assert stems == expected
    books = sorted(p.name for p in (reports / "tables").iterdir())
    # the report's own books, and the evaluation's (the same writer as `analysis evaluate`)
    assert books == ["两轮比较.xlsx", "县域排名.xlsx", "指数变化.xlsx", "驻点效应_分轮估计.xlsx"]
    assert (reports / "驻点工作评估图表汇编.docx").is_file() and (reports / "index.html").is_file()
    frame = manifest.to_frame()
    assert len(frame) == 3 * len(CHARTS) + len(books) + 2 and (frame["bytes"] > 0).all()


def test_chart_numbers_are_contiguous_and_stems_unique():
    assert [c.number for c in CHARTS] == list(range(1, len(CHARTS) + 1))
    assert len({c.stem for c in CHARTS}) == len(CHARTS) == len({c.caption for c in CHARTS})


def test_two_builds_are_byte_identical(twins):
    (a, _), (b, _) = twins
    files_a = sorted(p.relative_to(a) for p in a.rglob("*") if p.is_file())
    files_b = sorted(p.relative_to(b) for p in b.rglob("*") if p.is_file())
    assert files_a == files_b
    kinds = {p.suffix for p in files_a}
    assert {".png", ".pdf", ".svg", ".xlsx", ".docx", ".html"} <= kinds
    differ = [str(p) for p in files_a if sha(a / p) != sha(b / p)]
    assert differ == []


def test_ranking_table_puts_the_planted_best_first(built):
    reports, manifest = built
    ws = openpyxl.load_workbook(reports / "tables" / "县域排名.xlsx")["排名"]
    header = [c.value for c in ws[2]]
    first = dict(zip(header, [c.value for c in ws[3]]))
    # every indicator at the maximum of the whole panel → min–max score 100 on each → index 100
    assert first["县级单位代码"] == BEST and first["县级单位"] == "锦江区"
    assert first["排名"] == 1 and first["等级"] == "优秀"
    assert first["综合指数（分）"] == pytest.approx(100.0)
    assert ws.cell(ws.max_row, 1).value.startswith("数据来源：")
    weights = openpyxl.load_workbook(reports / "tables" / "县域排名.xlsx")["权重"]
    total = sum(r[2] for r in weights.iter_rows(min_row=3, values_only=True) if isinstance(r[2], float))
    assert total == pytest.approx(1.0)


def test_change_of_an_unchanged_county_is_zero(built):
    _, manifest = built
    ws = openpyxl.load_workbook(manifest.tables[1].path)["两轮变化"]
    header = [c.value for c in ws[2]]
    rows = [dict(zip(header, r)) for r in ws.iter_rows(min_row=3, values_only=True) if r[0]]
    steady = [r for r in rows if r["县级单位代码（2008）"] == STEADY and r["轮次"] == "第二轮"]
    assert {r["指数"] for r in steady} == {"组织活力", "团干部配备", "任务完成", "综合指数"}
    assert all(r["变化（分）"] == pytest.approx(0.0, abs=1e-9) for r in steady)


def _ps_name(choice: fonts.FontChoice) -> str:
    with TTFont(choice.path, fontNumber=0 if choice.converted_from else choice.face, lazy=True) as used:
        return used["name"].getDebugName(6)


def test_pdf_fonts_are_embedded(built):
    reports, _ = built
    chart_font = _ps_name(fonts.chinese_font())  # whichever this machine has
    for pdf in sorted((reports / "figures").glob("*.pdf")):
        found = []
        for page in PdfReader(pdf).pages:
            for font in page["/Resources"]["/Font"].values():
                font = font.get_object()
                desc = font.get("/FontDescriptor") or font["/DescendantFonts"][0].get_object()["/FontDescriptor"]
                desc = desc.get_object()
                found.append((font["/BaseFont"], any(k in desc for k in ("/FontFile", "/FontFile2", "/FontFile3"))))
        assert found, f"{pdf.name}: no fonts"
        assert all(embedded for _, embedded in found), f"{pdf.name}: not embedded {found}"
        assert any(str(base).endswith("+" + chart_font) for base, _ in found), (pdf.name, found)


@pytest.fixture
def chart_font(monkeypatch):
    """Switch the chart font of this process to another family for one test, then back."""
    def use(family: str) -> fonts.FontChoice:
        monkeypatch.setenv(fonts.FONT_ENV, family)
        fonts.chinese_font.cache_clear()
        try:
            return fonts.use_chinese_font()
        except fonts.FontNotFoundError:
            pytest.skip(f"{family} is not installed: apt-get install fonts-noto-cjk fonts-wqy-zenhei "
                        "(.ci/run does)")

    with mpl.rc_context():
        yield use
    fonts.chinese_font.cache_clear()  # the next call reads the restored environment


@pytest.mark.parametrize("family", ["Noto Sans CJK SC", "WenQuanYi Zen Hei"])
def test_chart_pack_embeds_each_system_font(family, data, chart_font, tmp_path):
    """Issue 16: the whole pack with Debian's two CJK font packages, PDFs only."""
    if fonts.chinese_font().name in (family, family + fonts.TRUETYPE_SUFFIX):
        pytest.skip(f"{family} is this machine's chart font: test_pdf_fonts_are_embedded checks its pack")
    choice = chart_font(family)
    ps_name = _ps_name(choice)
    for spec in CHARTS:
        with fonts.fail_on_missing_glyphs():
            (pdf,) = save_figure(spec.build(data), tmp_path / spec.file_stem, formats=("pdf",))
        found = {}
        for ref in PdfReader(pdf).pages[0]["/Resources"]["/Font"].values():
            font = ref.get_object()
            (cid,) = [d.get_object() for d in font["/DescendantFonts"]]  # Type 42: Type0 + CIDFontType2
            found[str(font["/BaseFont"]).split("+", 1)[1]] = "/FontFile2" in cid["/FontDescriptor"].get_object()
        assert found.get(ps_name) is True, (pdf.name, found)
        assert all(found.values()), (pdf.name, found)


def test_docx_has_one_picture_and_caption_per_chart(built):
    reports, manifest = built
    doc = Document(reports / "驻点工作评估图表汇编.docx")
    captions = [p.text for p in doc.paragraphs if p.style.name == "Caption"]
    assert len(doc.inline_shapes) == len(CHARTS) == len(captions) == len(manifest.figures)
    assert captions[0] == f"图1　{CHARTS[0].caption}"
    readings = [p.text for p in doc.paragraphs if p.text.startswith("解读：")]
    assert len(readings) == len(CHARTS)
    assert "锦江区" in readings[0]  # the ranking reading names the top county
    assert any("审图号" in r for r in readings)  # the map carries the standard-map notice


def test_evaluation_tables_are_neutralised(processed, tmp_path, monkeypatch):
    import analysis.evaluate as evaluate

    bad = pd.DataFrame({"county": ["=cmd|' /C calc'!A0", "喜德县"], "value": [1.5, 2.0]})
    monkeypatch.setattr(evaluate, "evaluation_tables", lambda *_: {"两轮比较": {"比较": bad}})
    manifest = build_report(processed, tmp_path, n_draws=N_DRAWS, charts_list=(SPEC["funds_compliance"],))
    assert [t.title for t in manifest.tables][-1] == "两轮比较"
    cell = openpyxl.load_workbook(tmp_path / "tables" / "两轮比较.xlsx")["比较"]["A3"]
    assert cell.value == "=cmd|' /C calc'!A0" and cell.data_type == "s" and cell.quotePrefix


def test_chart_without_data_is_skipped_and_named(processed, tmp_path):
    lone = tmp_path / "processed"
    lone.mkdir()
    (lone / "panel.parquet").write_bytes((processed / "panel.parquet").read_bytes())
    wanted = (SPEC["funds_compliance"], SPEC["batch_trajectories"], SPEC["batch_event_time"], SPEC["event_study"])
    manifest = build_report(lone, tmp_path / "r", n_draws=N_DRAWS, charts_list=wanted)
    # without a roster: one line per missing part, with the charts it takes and the scope's sentence
    no_roster = "本次数据没有驻点干部名册，只做描述性比较；驻点效应的估计需要驻点干部名册。"
    assert manifest.skipped == [("第二轮分批次走势（图17、图18）", no_roster),
                                ("驻点效应估计（双重差分）（图2）", no_roster)]
    assert no_roster in manifest.notes
    assert len(Document(manifest.docx).inline_shapes) == 1
    # the pack's reader sees which figures are missing: one closing note in the docx and index.html
    missing = "本次未绘制：第二轮分批次走势（图17、图18）；驻点效应估计（双重差分）（图2）。"
    assert missing in manifest.html.read_text(encoding="utf-8")
    assert missing in [p.text for p in Document(manifest.docx).paragraphs]


def test_pack_on_part_of_round_2_states_its_windows(processed, tmp_path):
    # the tiny panel cut after 2013H1: round 2 is not over, the ranking and round-2 change stop at
    # 2013H1 and round 1's change window is cut to the same length (2008H1 → 2009H2)
    part = tmp_path / "processed"
    part.mkdir()
    panel = pd.read_parquet(processed / "panel.parquet")
    panel[panel["period"] <= "2013H1"].to_parquet(part / "panel.parquet")
    (part / "roster.parquet").write_bytes((processed / "roster.parquet").read_bytes())
    manifest = build_report(part, tmp_path / "r", n_draws=N_DRAWS,
                            charts_list=(SPEC["ranking"], SPEC["round_dumbbell"], SPEC["funds_compliance"]))
    assert manifest.skipped == []
    assert manifest.notes[:3] == [
        "数据时期：2008H1–2013H1（11个半年）；变化窗口：第一轮2008H1→2009H2，第二轮2011H2→2013H1；"
        "双重差分窗口：第一轮2008H1–2009H2，第二轮2011H2–2013H1；轮末：第一轮2010H2，第二轮尚未结束（数据截至2013H1）；"
        "排名时期：2013H1。",
        "第二轮的数据截至2013H1（该轮到2014H1结束），第二轮的窗口取2011H2→2013H1。",
        "为使两轮的变化窗口等长，第一轮取2008H1→2009H2。",
    ]
    # the compliance reading names round 2's observation as what it is (the tiny panel: six counties)
    reading = {f.number: f.reading for f in manifest.figures}[13]
    p13 = panel[panel["period"] <= "2013H1"]
    share = {per: p13.loc[p13["period"] == per, "std_funds_per_youth"].mean() for per in ("2010H2", "2013H1")}
    assert reading == (f"全省“青少年人均经费≥0.5元”达标县占比：第一轮末{share['2010H2']:.0%}，"
                       f"第二轮截至2013H1为{share['2013H1']:.0%}。")
    ranking = openpyxl.load_workbook(tmp_path / "r" / "tables" / "县域排名.xlsx")["排名"]
    header = [c.value for c in ranking[2]]
    assert "时期" in header and "综合指数第二轮（截至2013H1）变化（分）" in header
    assert {ranking.cell(row=r, column=header.index("时期") + 1).value for r in range(3, 3 + len(COUNTIES))} == {"2013H1"}


def test_analyst_choices_of_rank_period_and_window(processed):
    panel = pd.read_parquet(processed / "panel.parquet")
    roster = pd.read_parquet(processed / "roster.parquet")
    d = report.prepare_report_data(panel, roster, n_draws=N_DRAWS, rank_period="2013H2",
                                   windows={2: ("2012H1", "2013H2")})
    assert d.rank_period == "2013H2" and set(d.ranks["period"]) == {"2013H2"}
    assert d.scope.change == {1: ("2008H1", "2010H2"), 2: ("2012H1", "2013H2")}
    # the round-2 index change is end − start over the chosen window
    idx = d.index[d.index["index"] == "overall"].set_index(["county_code", "period"])["value"]
    got = d.changes[(d.changes["round"] == 2) & (d.changes["index"] == "overall")].set_index("base_code")["change"]
    assert got[BEST] == pytest.approx(idx[(BEST, "2013H2")] - idx[(BEST, "2012H1")])
    assert d.notes[0].endswith("排名时期：2013H2。（窗口由分析人员指定）")
    with pytest.raises(ReportDataError, match="2015H1"):
        report.prepare_report_data(panel, roster, n_draws=N_DRAWS, rank_period="2015H1")


def test_missing_panel_names_the_fix(tmp_path):
    with pytest.raises(ReportDataError, match="analysis clean"):
        build_report(tmp_path, tmp_path / "r")


def test_charts_and_tables_come_from_one_evaluation(data):
    ev = data.evaluation
    # the event study of the chart is the dynamic aggregation of the overall index in that run
    eff = ev["effects"]
    dyn = eff[(eff["indicator"] == "index_overall") & (eff["subset"] == "all") & (eff["type"] == "dynamic")
              & (eff["level"] == "event_time")]
    got = data.event_study.set_index(["round", "event_time"])["att"]
    want = dyn.assign(event_time=dyn["key"].astype(int)).set_index(["round", "event_time"])["att"]
    assert len(got) == len(want) > 0
    assert np.allclose(got.sort_index().to_numpy(), want.sort_index().to_numpy())
    # the forest's round differences are that run's dynamic round differences of the indices
    rd = ev["round_difference"]
    rd = rd[(rd["type"] == "dynamic") & (rd["indicator"] == "index_overall")].iloc[0]
    overall = data.round_effects.set_index("index").loc["overall"]
    assert overall["estimate"] == pytest.approx(rd["diff"]) == pytest.approx(rd["att_r2"] - rd["att_r1"])
    assert list(data.round_effects["index"]) == ["vitality", "staffing", "tasks", "overall"]
    # the DiD runs on DID_WINDOWS, the design comes from the roster's sheet names
    assert set(data.roster["round"]) == {1, 2} and len(data.roster) == 2 * len(COUNTIES)
    cells = ev["attgt"]
    assert cells["time"].max() == 11 and cells[cells["round"] == 1]["time"].max() == 4


def test_effect_workbook_holds_the_index_rows(built):
    reports, _ = built
    ws = openpyxl.load_workbook(reports / "tables" / "驻点效应_分轮估计.xlsx")["总体效应"]
    header = [c.value for c in ws[2]]
    rows = [dict(zip(header, r)) for r in ws.iter_rows(min_row=3, values_only=True) if r[1]]
    names = {r["指标"] for r in rows if r["领域"] == "指数"}
    assert names == {"综合指数", "组织活力指数", "团干部配备指数", "任务完成指数"}
    assert all(r["单位"] == "分" for r in rows if r["领域"] == "指数")
    assert "估计窗口2011H2–2013H1" in ws.cell(ws.max_row, 1).value


# --------------------------------------------------------------------------- the issue-7 chart list


def test_every_standard_and_domain_has_its_chart():
    stems = set(SPEC)
    domains = ("vitality", "staffing", "tasks")
    assert {f"change_map_{k}" for k in domains} <= stems
    assert {f"round_dumbbell_{k}" for k in domains} <= stems
    assert {"funds_compliance", "liaison_compliance", "attends_compliance", "assessment_compliance"} <= stems
    assert set(report.STANDARDS) == {"std_funds_per_youth", "std_liaison", "std_attends", "std_assessment"}
    assert {"batch_trajectories", "batch_event_time"} <= stems


@pytest.mark.parametrize("standard", ["std_funds_per_youth", "std_liaison", "std_attends", "std_assessment"])
def test_compliance_shares_are_the_met_share_at_each_round_end(data, standard):
    panel = tiny_panel()
    stem = {"std_funds_per_youth": "funds_compliance"}.get(standard, standard.removeprefix("std_") + "_compliance")
    got = report._compliance_frame(data, standard).set_index(["prefecture", "round"])["share"]
    parts = []
    for rnd, end in ((1, "2010H2"), (2, "2014H1")):
        at = panel[panel["period"] == end]
        # by hand: 成都 = the three 5101 codes, 凉山 = the three 5134 codes
        for pref, prefix in (("成都", "5101"), ("凉山", "5134")):
            want = (at[at["county_code"].str.startswith(prefix)][standard] == 1).mean()
            assert got[(pref, rnd)] == pytest.approx(want)
        parts.append(f"{'第一轮' if rnd == 1 else '第二轮'}末{(at[standard] == 1).mean():.0%}")
    want_reading = f"全省“{report.STANDARDS[standard]}”达标县占比：" + "，".join(parts) + "。"
    assert SPEC[stem].reading(data) == want_reading


@pytest.mark.parametrize("domain", ["vitality", "staffing", "tasks"])
def test_domain_dumbbell_plots_prefecture_mean_changes(data, domain):
    idx = data.index[data.index["index"] == domain].set_index(["county_code", "period"])["value"]
    fig = SPEC[f"round_dumbbell_{domain}"].build(data)
    (ax,) = fig.axes
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert sorted(labels) == ["凉山", "成都"]
    for rnd, (start, end) in ((1, ("2008H1", "2010H2")), (2, ("2011H2", "2014H1"))):
        (line,) = [ln for ln in ax.get_lines() if ln.get_label() == ("第一轮" if rnd == 1 else "第二轮")]
        for pref, prefix in (("成都", "5101"), ("凉山", "5134")):
            codes = [c for c in COUNTIES if c.startswith(prefix)]
            want = np.mean([idx[(c, end)] - idx[(c, start)] for c in codes])
            assert line.get_xdata()[labels.index(pref)] == pytest.approx(want)
    name = {"vitality": "组织活力指数", "staffing": "团干部配备指数", "tasks": "任务完成指数"}[domain]
    assert fig.get_suptitle() == f"两轮驻点期间各市州{name}变化（县均）"


def test_domain_maps_share_one_colour_scale(data):
    limits = []
    for domain in report.DOMAINS:
        fig = SPEC[f"change_map_{domain}"].build(data)
        cbar = [ax for ax in fig.axes if ax.get_label() == "<colorbar>"][0]
        limits.append(tuple(cbar.get_ylim()))
    # by hand: the largest absolute round-2 change of any domain index of any county
    idx = data.index.set_index(["county_code", "period", "index"])["value"]
    widest = max(abs(idx[(c, "2014H1", k)] - idx[(c, "2011H2", k)]) for c in COUNTIES for k in report.DOMAINS)
    for low, high in limits:
        assert (low, high) == (pytest.approx(-widest), pytest.approx(widest))


def test_event_time_counts_half_years_from_each_batch_start(data):
    frame = report._event_time_frame(data)
    span = frame.groupby("batch")["event_time"].agg(["min", "max"])
    # window 2010H2–2014H1; batch 1 starts 2012H1 (−3 … +4), batch 4 starts 2013H2 (−6 … +1)
    assert tuple(span.loc["第二轮第1批"]) == (-3, 4) and tuple(span.loc["第二轮第4批"]) == (-6, 1)
    idx = data.index[data.index["index"] == "overall"].set_index(["county_code", "period"])["value"]
    got = frame.set_index(["batch", "event_time"])["value"]
    # tiny roster: batch = position % 4 + 1 → batch 1 = 510104 and 513432, batch 4 = 513401
    assert got[("第二轮第1批", 0)] == pytest.approx((idx[("510104", "2012H1")] + idx[("513432", "2012H1")]) / 2)
    assert got[("第二轮第4批", -1)] == pytest.approx(idx[("513401", "2013H1")])
    reading = SPEC["batch_event_time"].reading(data)
    before = np.mean([idx[("513401", p)] for p in ("2012H2", "2013H1")])
    after = np.mean([idx[("513401", p)] for p in ("2013H2", "2014H1")])
    assert f"第二轮第4批{after - before:+.1f}分" in reading


def test_round_changes_fold_splits_by_mean_and_leave_out_units_without_both_ends():
    # 巴州区 511902 and its 2013 split 恩阳区 511903 (base 511902); 锦江区 510104 lacks round 2's end
    r1, r2 = report.ROUND_WINDOWS[1], report.ROUND_WINDOWS[2]
    rows = [
        ("511902", "511902", r1[0], 10.0), ("511902", "511902", r1[1], 16.0),
        ("511902", "511902", r2[0], 20.0), ("511902", "511902", r2[1], 30.0),
        ("511903", "511902", r2[1], 40.0),  # round-2 end of the base unit: (30 + 40) / 2 = 35
        ("510104", "510104", r1[0], 50.0), ("510104", "510104", r1[1], 45.0),
        ("510104", "510104", r2[0], 60.0),
    ]
    index = pd.DataFrame(rows, columns=["county_code", "base_code", "period", "value"]).assign(index="overall")
    names = {"511902": "巴州区", "510104": "锦江区"}
    prefs = {"511902": "巴中", "510104": "成都"}
    out = report._round_changes(index, names, prefs)
    expected = pd.DataFrame({
        "base_code": ["510104", "511902", "511902"], "county": ["锦江区", "巴州区", "巴州区"],
        "prefecture": ["成都", "巴中", "巴中"], "round": [1, 1, 2], "index": "overall",
        "baseline": [50.0, 10.0, 20.0], "end": [45.0, 16.0, 35.0], "change": [-5.0, 6.0, 15.0],
    })
    pd.testing.assert_frame_equal(out, expected, check_dtype=False)


def test_trajectory_frame_averages_batches_over_the_window_and_marks_starts_with_data():
    # window 2010H2 … 2014H1; batch 1 starts 2012H1 (data there), batch 2 starts 2012H2 (no data there)
    index = pd.DataFrame([
        ("510104", "2010H1", 99.0),  # before the window: left out
        ("510104", "2012H1", 10.0), ("510105", "2012H1", 20.0), ("510105", "2012H2", np.nan),
        ("513401", "2012H1", 40.0), ("513401", "2013H1", 50.0),
        ("513432", "2014H2", 99.0),  # after the window: left out
    ], columns=["base_code", "period", "value"]).assign(index="overall")
    roster = pd.DataFrame({"round": [1, 2, 2, 2, 2], "base_code": ["510104", "510104", "510105", "513401", "513432"],
                           "batch": [3, 1, 1, 2, 2]})
    d = SimpleNamespace(index=index, roster=roster)
    out = report._trajectory_frame(d)
    assert out[["batch", "period", "value", "batch_start"]].values.tolist() == [
        ["第二轮第1批", "2012H1", 15.0, "2012H1"],
        ["第二轮第2批", "2012H1", 40.0, "2012H2"],
        ["第二轮第2批", "2013H1", 50.0, "2012H2"],
    ]
    assert out["start"].fillna("").tolist() == ["2012H1", "", ""]
    # the reading compares each batch's mean after its start with its mean before
    assert "第二轮第2批+10.0分" in report._trajectories_reading(d)
    assert "第二轮第1批" not in report._trajectories_reading(d)  # no half-year before its start


def test_compliance_frame_counts_reporting_counties_and_leaves_out_a_round_without_data():
    end1 = report.ROUND_WINDOWS[1][1]
    panel = pd.DataFrame([
        ("510104", "成都", end1, 1.0), ("510105", "成都", end1, 0.0), ("510106", "成都", end1, 1.0),
        ("513401", "凉山", end1, 0.0), ("513432", "凉山", "2009H1", 1.0),  # not the round's end: left out
        ("513425", "凉山", end1, np.nan),  # a blank is not "not met"
    ], columns=["county_code", "prefecture", "period", "value"]).dropna().assign(indicator="std_liaison")
    out = report._compliance_frame(SimpleNamespace(panel=panel), "std_liaison")
    assert out.values.tolist() == [["成都", 1, 2 / 3, 3], ["凉山", 1, 0.0, 1]]
    with pytest.raises(ReportDataError, match="std_attends"):
        report._compliance_frame(SimpleNamespace(panel=panel), "std_attends")
