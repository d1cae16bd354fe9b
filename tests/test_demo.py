"""The demo data generator: committed copy, design, ranges, planted truth, mess.

The full demo is built once per session (module fixture); the machinery is also exercised on a
tiny hand-made units frame (12 counties of 3 prefectures, with the 2013 split of 巴州区) so the
split and the formats are checked on something small enough to reason about.
"""

from __future__ import annotations

import hashlib
import io
import re
import unicodedata
from pathlib import Path

import numpy as np
import openpyxl
import pandas as pd
import pytest
import xlrd
from python_calamine import CalamineWorkbook
from scipy import stats

from analysis.catalog import load_catalog, match_header
from analysis.config import paths
from analysis.demo import DEFAULT_SEED, DemoError, UnitSource, build, generate, write_books
from analysis.demo.mess import BAD_KINDS, MESS_KINDS
from analysis.demo.roster import GRADES

COMMITTED = paths().raw


# ------------------------------------------------------------------ fixtures


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """(truth, folder) of the full demo, built once: generate() = build() + write_books()."""
    out = tmp_path_factory.mktemp("demo")
    truth, books = build(DEFAULT_SEED)
    write_books(books, out)
    return truth, out


def _tiny_units(vintage: int) -> pd.DataFrame:
    """Hand-made: 巴中 (恩阳区 split off 巴州区 in 2013), 凉山 (三州), 甘孜 (sheet per county)."""
    rows = [
        ("511902", "巴州区", "巴州", "511900", "巴中市", "巴中", "市辖区", False),
        ("511921", "通江县", "通江", "511900", "巴中市", "巴中", "县", False),
        ("511922", "南江县", "南江", "511900", "巴中市", "巴中", "县", False),
        ("511923", "平昌县", "平昌", "511900", "巴中市", "巴中", "县", False),
        ("513401", "西昌市", "西昌", "513400", "凉山彝族自治州", "凉山", "县级市", True),
        ("513431", "昭觉县", "昭觉", "513400", "凉山彝族自治州", "凉山", "县", True),
        ("513432", "喜德县", "喜德", "513400", "凉山彝族自治州", "凉山", "县", True),
        ("513434", "越西县", "越西", "513400", "凉山彝族自治州", "凉山", "县", True),
        ("513321", "康定县", "康定", "513300", "甘孜藏族自治州", "甘孜", "县", True),
        ("513322", "泸定县", "泸定", "513300", "甘孜藏族自治州", "甘孜", "县", True),
        ("513323", "丹巴县", "丹巴", "513300", "甘孜藏族自治州", "甘孜", "县", True),
        ("513324", "九龙县", "九龙", "513300", "甘孜藏族自治州", "甘孜", "县", True),
    ]
    if vintage >= 2013:
        rows.append(("511903", "恩阳区", "恩阳", "511900", "巴中市", "巴中", "市辖区", False))
    cols = ["code", "name", "short_name", "prefecture_code", "prefecture_name",
            "prefecture_short", "unit_type", "three_prefectures"]
    df = pd.DataFrame(rows, columns=cols)
    df.insert(0, "vintage", vintage)
    return df


TINY = UnitSource(load_units=_tiny_units,
                  to_base=lambda codes: pd.Series([{"511903": "511902"}.get(c, c) for c in codes]))


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    out = tmp_path_factory.mktemp("tiny")
    files = generate(out, seed=7, units=TINY)
    truth, _ = build(7, TINY)
    return truth, out, files


def _digest(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


# ------------------------------------------------------------------ reproducibility


def test_committed_copy_is_exactly_the_default_seed(demo):
    _, out = demo
    fresh, committed = _digest(out), _digest(COMMITTED)
    assert sorted(fresh) == sorted(committed), "file lists differ: regenerate data/raw/demo"
    changed = [f for f in fresh if fresh[f] != committed[f]]
    assert not changed, f"bytes differ in {changed[:5]}: regenerate with generate(data/raw/demo)"
    assert sum(p.stat().st_size for p in COMMITTED.rglob("*") if p.is_file()) < 15e6


def test_same_seed_same_bytes_other_seed_other_bytes(tiny, tmp_path):
    _, out, files = tiny
    again = generate(tmp_path / "a", seed=7, units=TINY)
    assert _digest(out) == _digest(tmp_path / "a")
    assert len(again) == len(files)
    generate(tmp_path / "b", seed=8, units=TINY)
    assert _digest(out) != _digest(tmp_path / "b")


def test_truth_is_not_in_the_raw_folder(demo):
    _, out = demo
    suffixes = {p.suffix for p in out.rglob("*") if p.is_file()}
    assert suffixes <= {".xlsx", ".xls", ".csv"}
    names = " ".join(p.name for p in out.rglob("*")).lower()
    for word in ("truth", "effect", "clean", "parquet", "真值"):
        assert word not in names
    # the roster carries grades and ratings, never the latent effectiveness behind them
    cells = {str(c) for row in CalamineWorkbook.from_path(str(out / "驻点干部名册.xlsx"))
             .get_sheet_by_index(1).to_python() for c in row}
    assert not {"log_quality", "score", "effect"} & cells


# ------------------------------------------------------------------ units, design, ranges


def test_units_per_period(demo):
    truth, _ = demo
    n = truth.clean.groupby("period")["county_code"].nunique()
    assert len(n) == 14 and n.index[0] == "2008H1" and n.index[-1] == "2014H2"
    assert (n[n.index < "2013H1"] == 181).all() and (n[n.index >= "2013H1"] == 183).all()
    # names as in each year's code book: 达县 until 2012, 达川区 from 2013
    roster = truth.roster
    assert "达县" in set(roster.loc[roster["round"] == 1, "county_name"])
    assert truth.clean.groupby(["period", "county_code", "indicator"]).size().max() == 1


def test_ranges_integers_and_parts(demo):
    truth, _ = demo
    cat = load_catalog()
    c = truth.clean.merge(cat.reset_index(drop=True)[["code", "min", "max", "integer", "type"]], left_on="indicator",
                          right_on="code")
    assert c["value"].notna().all()
    assert (c["value"] >= c["min"]).all() and (c["value"] <= c["max"]).all()
    ints = c[c["integer"] == 1]["value"]
    assert (ints == np.floor(ints)).all()
    assert set(c.loc[c["type"] == "bool", "value"]) <= {0.0, 1.0}
    wide = truth.clean.pivot_table(index=["period", "county_code"], columns="indicator", values="value")
    for part, total in [("posts_filled", "posts_authorized"), ("townships_active", "townships_total"),
                        ("townships_with_secretary", "townships_total"),
                        ("townships_funded", "townships_total"),
                        ("nonpublic_firms_with_org", "nonpublic_firms")]:
        assert (wide[part] <= wide[total]).all(), part
    youth = wide["youth_population"]
    assert youth.between(10_000, 800_000).all() and 60_000 < youth.median() < 200_000
    # weak_orgs and youth_models only on the round-2 form
    late = truth.clean.loc[truth.clean["indicator"].isin(["weak_orgs", "youth_models"]), "period"]
    assert late.min() == "2012H1"


def test_batch_design(demo):
    truth, _ = demo
    d = truth.design
    assert set(d["batch"]) == {1, 2, 3, 4}
    for r, starts in ((1, ["2008H2", "2009H1", "2009H2", "2010H1"]),
                      (2, ["2012H1", "2012H2", "2013H1", "2013H2"])):
        one = d[d["round"] == r]
        by_base = one.groupby("base_code")["batch"].nunique()
        assert len(by_base) == 181 and (by_base == 1).all()
        assert sorted(one["start_period"].unique()) == starts
        sizes = one.drop_duplicates("base_code")["batch"].value_counts()
        assert sizes.max() - sizes.min() <= 8, sizes
    # stratified: inside each prefecture batch sizes differ by at most one
    one = d[d["round"] == 2].drop_duplicates("base_code")
    spread = one.groupby(["prefecture_name", "batch"]).size().unstack(fill_value=0)
    assert (spread.max(axis=1) - spread.min(axis=1) <= 1).all()


def test_parallel_pre_trends_round2(demo):
    """Mean county slopes over 2010H2–2011H2 (before any round-2 batch) equal across batches."""
    truth, _ = demo
    design = truth.design[truth.design["round"] == 2].drop_duplicates("base_code")
    batch = design.set_index("base_code")["batch"]
    pre = ["2010H2", "2011H1", "2011H2"]
    pvalues = {}
    for ind in ("members_recruited", "townships_with_secretary", "dues_rate", "cadres_trained",
                "orgs_established", "league_funds"):
        w = (truth.clean[(truth.clean["indicator"] == ind) & truth.clean["period"].isin(pre)]
             .pivot(index="base_code", columns="period", values="value")[pre])
        slope = (w[pre[2]] - w[pre[0]]) / 2  # least-squares slope through 3 equally spaced points
        groups = [slope[batch.loc[slope.index] == b] for b in (1, 2, 3, 4)]
        pvalues[ind] = stats.f_oneway(*groups).pvalue
    assert min(pvalues.values()) > 0.01 / len(pvalues), pvalues


def test_effects_planted_where_documented(demo):
    truth, _ = demo
    e = truth.effects
    assert (e.loc[e["event_time"] < 0, "effect"] == 0).all(), "no anticipation"
    for ind in ("volunteers", "league_orgs", "parttime_cadres", "youth_population"):
        assert (e.loc[e["indicator"] == ind, "effect"] == 0).all(), ind
    peak = e[e["event_time"] == 1].groupby(["round", "indicator"])["effect"].mean()
    for ind in ("cadres_placed", "orgs_established", "townships_with_secretary", "liaison_system"):
        assert peak[(1, ind)] > 0 and peak[(2, ind)] > 0, ind
    assert peak[(2, "weak_orgs")] < 0
    # dynamics: larger one half-year after the start than long after the official left
    late = e[e["event_time"] >= 4].groupby(["round", "indicator"])["effect"].mean()
    assert late[(1, "cadres_trained")] < peak[(1, "cadres_trained")]


def test_heterogeneity_as_documented(demo):
    """Relative effect one half-year after the start: 三州 × 1.4 for staffing, × 0.5 for
    vitality; officials from 团省委 × 1.3 (log-scale counts, so effect / counterfactual)."""
    truth, _ = demo
    e = truth.effects[(truth.effects["round"] == 2) & (truth.effects["event_time"] == 1)]
    e = e.merge(truth.clean, on=["period", "county_code", "base_code", "indicator"])
    e = e[e["value"] - e["effect"] > 0]
    e["relative"] = e["effect"] / (e["value"] - e["effect"])
    design = truth.design[truth.design["round"] == 2].drop_duplicates("base_code").set_index("base_code")
    e["three"] = e["base_code"].map(design["three_prefectures"])
    e["provincial"] = e["base_code"].map(design["provincial"])
    rel = e.groupby(["indicator", "three"])["relative"].mean()
    assert rel[("cadres_placed", True)] > rel[("cadres_placed", False)]
    assert rel[("members_recruited", True)] < rel[("members_recruited", False)]
    by_sender = e[e["indicator"] == "cadres_trained"].groupby("provincial")["relative"].mean()
    assert by_sender[True] > by_sender[False]


def test_workbooks_carry_no_time_of_writing(demo):
    import zipfile

    _, out = demo
    for f in sorted(out.rglob("*.xlsx"))[:20]:
        with zipfile.ZipFile(f) as z:
            assert {i.date_time for i in z.infolist()} == {(1980, 1, 1, 0, 0, 0)}
            core = z.read("docProps/core.xml").decode()
            assert "2014-07-15T09:00:00Z" in core


def test_roster(demo):
    truth, _ = demo
    r = truth.roster
    assert len(r) == len(truth.design)
    assert set(r["grade"]) <= set(GRADES) and r["official"].str.len().between(2, 3).all()
    assert set(r["sending_unit"]) >= {"团省委", "凉山州团委"}
    r2 = r[r["round"] == 2]
    starts = r2.groupby("batch")["start_date"].first().astype(str).to_dict()
    assert starts == {1: "2012-02-01", 2: "2012-08-01", 3: "2013-02-01", 4: "2013-08-01"}
    assert str(r2.loc[r2["batch"] == 4, "end_date"].iloc[0]) == "2014-01-31"
    task = "挖掘联系青年典型和青年能人"
    assert set(r2[task]) <= {"完成", "基本完成", "未完成"}
    # ratings follow the planted effects: youth_models grew more where the task was 完成
    e = truth.effects[(truth.effects["round"] == 2) & (truth.effects["indicator"] == "youth_models")
                      & (truth.effects["event_time"] == 1)]
    rating = r2.drop_duplicates("base_code").set_index("base_code")[task]
    by = e.groupby(e["base_code"].map(rating))["effect"].mean()
    assert by["完成"] > by["未完成"]


# ------------------------------------------------------------------ mess and bad records


def test_every_mess_kind_occurs_at_least_three_times(demo):
    truth, _ = demo
    counts = truth.mess["kind"].value_counts()
    assert set(MESS_KINDS) <= set(counts.index), set(MESS_KINDS) - set(counts.index)
    assert (counts[list(MESS_KINDS)] >= 3).all(), counts
    assert set(truth.bad_records["kind"]) == set(BAD_KINDS)


def test_mess_clean_values_agree_with_the_truth(demo):
    """What a correct reader should recover from each loose cell is the clean truth."""
    truth, _ = demo
    m = truth.mess
    values = m[m["indicator"] != ""].merge(truth.clean, on=["period", "county_code", "indicator"],
                                           how="left")
    assert values["value"].notna().all()
    missing = values["kind"].isin(["placeholder", "excel_error"])
    assert (values.loc[missing, "clean_value"] == "").all()
    got = values.loc[~missing, "clean_value"].astype(float)
    assert np.allclose(got, values.loc[~missing, "value"])
    # spot-check the loose forms by hand
    yn = values[values["kind"] == "yes_no_word"]
    yes = yn["raw"].isin(["有", "√", "已建立"])
    assert (yn.loc[yes, "value"] == 1).all() and (yn.loc[~yes, "value"] == 0).all()
    pct = values[values["kind"] == "percent_string"]
    assert np.allclose(pct["raw"].str.rstrip("%").astype(float), pct["value"])
    wide = values[values["kind"] == "fullwidth_digits"]
    assert np.allclose(wide["raw"].map(lambda s: float(unicodedata.normalize("NFKC", s))), wide["value"])
    names = m[m["kind"] == "county_name"]
    assert (names["clean_value"] == names["county_code"]).all()


def _cell(out: Path, rec) -> object:
    wb = openpyxl.load_workbook(out / rec.file, data_only=True)
    return wb[rec.sheet][rec.cell].value


def test_mess_records_point_at_the_cells(demo):
    truth, out = demo
    m = truth.mess[(truth.mess["cell"] != "") & truth.mess["file"].str.endswith(".xlsx")]
    sample = m.groupby("kind").head(2)
    for rec in sample.itertuples(index=False):
        got = _cell(out, rec)
        assert str(got if got is not None else "") == rec.raw or float(got) == float(rec.raw), rec
    err = m[m["kind"] == "excel_error"].iloc[0]
    assert _cell(out, err) == "#DIV/0!"
    yuan = m[m["kind"] == "yuan_not_wanyuan"].iloc[0]
    assert float(yuan.raw) == pytest.approx(float(yuan.clean_value) * 10_000, abs=0.5)


def test_bad_records_point_at_the_cells(demo):
    truth, out = demo
    bad = truth.bad_records
    assert len(bad) >= 2 * len(BAD_KINDS)
    for rec in bad.itertuples(index=False):
        ws = openpyxl.load_workbook(out / rec.file, data_only=True)[rec.sheet]
        value = ws[rec.cell].value
        assert str(value) == rec.raw
        if rec.kind == "rate_out_of_range":
            assert float(str(value).rstrip("%")) in (130.0, 1.3)
        if rec.kind == "posts_over_authorised":
            row = ws[rec.cell].row
            header = [match_header(c.value) for r in ws.iter_rows(min_row=5, max_row=7) for c in r]
            width = ws.max_column
            col_auth = [i % width for i, h in enumerate(header) if h == "posts_authorized"][0] + 1
            assert value > ws.cell(row, col_auth).value
        if rec.kind == "period_contradicts_file":
            in_name = re.search(r"(\d{4})年(1-6|7-12)月", rec.file)
            file_period = f"{in_name[1]}H{1 if in_name[2] == '1-6' else 2}"
            year = re.search(r"(\d{4})", value)[1]
            first_half = any(k in value for k in ("上半年", "1-6月", "6月30日", ".6）"))
            shown = f"{year}H{1 if first_half else 2}"
            assert rec.period == file_period and shown != file_period, (value, rec.file)


def test_csv_encodings(demo):
    truth, out = demo
    files = sorted(out.rglob("*.csv"))
    kinds = truth.mess[truth.mess["kind"] == "csv_encoding"].set_index("file")["raw"]
    assert set(kinds) == {"gbk", "gb18030", "utf-8-bom"}
    for f in files:
        enc = kinds[str(f.relative_to(out))]
        data = f.read_bytes()
        assert data.startswith(b"\xef\xbb\xbf") == (enc == "utf-8-bom")
        text = data.decode({"utf-8-bom": "utf-8-sig"}[enc] if enc == "utf-8-bom" else enc)
        table = pd.read_csv(io.StringIO(text), dtype=str)
        assert list(table.columns[:2]) == ["地区", "统计期"] and len(table) >= 4
        if enc == "gbk":
            with pytest.raises(UnicodeDecodeError):
                data.decode("utf-8")


# ------------------------------------------------------------------ what the workbooks look like


def test_summary_workbook_layout(demo):
    _, out = demo
    f = out / "2013年上半年" / "凉山州团委_基层团建统计表_2013年1-6月.xlsx"
    ws = openpyxl.load_workbook(f)["汇总表"]
    merged = {str(r) for r in ws.merged_cells.ranges}
    assert any(r.startswith("A1:") for r in merged)
    assert "凉山州共青团基层组织建设情况统计表" in ws["A1"].value
    assert ws["A2"].value == "填报单位：凉山州团委（盖章）"
    assert ws["A3"].value.startswith("单位：个、人、")
    groups = {c.value for c in ws[4] if c.value}
    assert {"组织建设", "团干部配备", "党建带团建", "基本情况"} <= groups
    codes = [c.value for c in ws[7]]
    assert codes[:3] == ["甲", "乙", 1]
    # every indicator header (row 6 or, when merged from the subgroup row, row 5) is in the catalog
    headers = [ws.cell(6, c).value or ws.cell(5, c).value for c in range(3, 3 + 26 - 1)]
    matched = [match_header(h) for h in headers if h]
    assert "weak_orgs" in matched and None not in matched
    # 合计: a SUM formula; cached total = sum of the numbers written above (calamine reads cache)
    grid = CalamineWorkbook.from_path(str(f)).get_sheet_by_name("汇总表").to_python()
    total_row = next(i for i, row in enumerate(grid) if row[0] == "合计")
    formula = ws.cell(total_row + 1, 3).value
    assert formula.startswith("=SUM(C8:")
    col = [row[2] for row in grid[7:total_row]]
    assert grid[total_row][2] == pytest.approx(sum(v for v in col if isinstance(v, float)))
    assert any(str(row[0]).startswith("填表人") for row in grid[total_row:])
    assert any(str(row[0]).startswith("注") for row in grid[total_row:])


def test_round1_template_differs(demo):
    _, out = demo
    f = out / "2009年上半年" / "凉山州团委_共青团基层组织建设统计_2009年1-6月.xlsx"
    ws = openpyxl.load_workbook(f).worksheets[0]
    headers = [match_header(c.value) for c in ws[5] if c.value]
    assert "weak_orgs" not in headers and "youth_models" not in headers
    assert len([h for h in headers if h]) == 24
    assert {c.value for c in ws[4] if c.value} >= {"团的组织建设", "团干部队伍建设"}


def test_xls_and_hidden_sheets_readable(demo):
    truth, out = demo
    xls = sorted(out.rglob("*.xls"))
    assert xls
    book = xlrd.open_workbook(str(xls[0]))
    assert "共青团基层组织建设情况统计表" in book.sheet_by_index(0).cell_value(0, 0)
    hidden = truth.mess[truth.mess["kind"] == "hidden_sheet"].iloc[0]
    wb = openpyxl.load_workbook(out / hidden.file)
    assert wb[hidden.sheet].sheet_state == "hidden"


def test_county_forms(demo):
    _, out = demo
    f = out / "2013年上半年" / "甘孜州团委_各县（市）团建情况_2013年1-6月.xlsx"
    wb = openpyxl.load_workbook(f)
    visible = [ws for ws in wb.worksheets if ws.sheet_state == "visible"]
    assert len(visible) == 18   # 甘孜州 has 18 county-level units
    ws = visible[0]
    assert [c.value for c in ws[4]] == ["指标", "数值", "单位", "备注"]
    assert all(match_header(ws.cell(r, 1).value) for r in range(5, ws.max_row + 1))


# ------------------------------------------------------------------ tiny hand-made units


def test_split_conserves_population(tiny):
    truth, _, _ = tiny
    c = truth.clean[truth.clean["indicator"] == "youth_population"].set_index(["period", "county_code"])["value"]
    before = c[("2012H2", "511902")]
    after = c[("2013H1", "511902")] + c[("2013H1", "511903")]
    assert after == pytest.approx(before, rel=0.05)
    assert ("2012H2", "511903") not in c.index
    base = truth.clean.loc[truth.clean["county_code"] == "511903", "base_code"]
    assert set(base) == {"511902"}


def test_tiny_formats(tiny):
    truth, out, files = tiny
    names = {p.name for p in files}
    assert "驻点干部名册.xlsx" in names
    assert any(n.startswith("甘孜州团委_各县") for n in names)
    assert any(n.endswith(".xls") for n in names)  # 巴中 on the round-1 form
    assert len(truth.design[truth.design["round"] == 1]) == 12


def test_generate_refuses_a_folder_with_other_files(tmp_path):
    (tmp_path / "其他.xlsx").write_bytes(b"not ours")
    with pytest.raises(DemoError, match="其他.xlsx"):
        generate(tmp_path, seed=7, units=TINY)


def test_missing_unit_columns_named():
    broken = UnitSource(load_units=lambda v: _tiny_units(v).drop(columns="prefecture_short"),
                        to_base=TINY.to_base)
    with pytest.raises(DemoError, match="prefecture_short"):
        build(1, broken)
