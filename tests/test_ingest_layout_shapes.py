"""More shapes real deliveries take, each built by hand with its expected clean values beside it.

Each test writes a small workbook as a clerk would, cleans it, and compares the clean values
(county code, period, indicator → value) and the quarantine with what is written in the test.
"""

from __future__ import annotations

import openpyxl
import pytest

from analysis.ingest import pipeline

XIDE, ZHAOJUE, YUEXI, GANLUO = "513432", "513431", "513434", "513435"


def _clean(path):
    res = pipeline.clean([path], progress=False, salt=b"k")
    values = {(c, p, i): v for c, p, i, v in res.indicators[["county_code", "period", "indicator",
                                                             "value"]].itertuples(index=False)}
    f = res.files.iloc[0]
    assert f["cells_nonempty"] == f["cells_structure"] + f["cells_data"] + f["cells_unplaced"]
    return res, values


def _save(path, sheets: dict[str, list[list]], merges: dict[str, list[str]] | None = None):
    wb = openpyxl.Workbook()
    wb.remove(wb.active)
    for name, rows in sheets.items():
        ws = wb.create_sheet(name)
        for row in rows:
            ws.append(row)
        for rng in (merges or {}).get(name, []):
            ws.merge_cells(rng)
    wb.save(path)
    return path


def test_two_tables_side_by_side_take_their_own_counties(tmp_path):
    # left block: 组织活力 for 喜德/昭觉; right block (after an empty column): 团干部配备 for
    # 越西/喜德 — a different order, so a county taken from the left would be wrong
    path = _save(tmp_path / "凉山州团委_2013年上半年.xlsx", {"汇总": [
        ["凉山州2013年上半年驻点县指标"],
        ["县（市、区）", "团员数", "基层团组织数", None, "县（市、区）", "专职团干部数"],
        ["喜德县", 3000, 120, None, "越西县", 9],
        ["昭觉县", 2000, 95, None, "喜德县", 7],
        [None, None, None, None, "甘洛县", 6],
    ]})
    res, values = _clean(path)
    assert values == {
        (XIDE, "2013H1", "league_members"): 3000, (XIDE, "2013H1", "league_orgs"): 120,
        (ZHAOJUE, "2013H1", "league_members"): 2000, (ZHAOJUE, "2013H1", "league_orgs"): 95,
        (YUEXI, "2013H1", "fulltime_cadres"): 9, (XIDE, "2013H1", "fulltime_cadres"): 7,
        (GANLUO, "2013H1", "fulltime_cadres"): 6,
    }
    assert res.quarantine.empty


def test_a_header_repeated_down_the_table_and_totals_on_top(tmp_path):
    path = _save(tmp_path / "凉山州团委汇总.xlsx", {"汇总": [
        ["凉山州2013年上半年驻点县指标"],
        ["县（市、区）", "团员数", "基层团组织数"],
        ["合计", 7500, 300],                       # totals right under the header
        ["喜德县", 3000, 120],
        ["昭觉县", 2000, 95],
        ["县（市、区）", "团员数", "基层团组织数"],   # the header again (a pasted printout)
        ["越西县", 2500, 85],
    ]})
    res, values = _clean(path)
    assert values == {
        (XIDE, "2013H1", "league_members"): 3000, (XIDE, "2013H1", "league_orgs"): 120,
        (ZHAOJUE, "2013H1", "league_members"): 2000, (ZHAOJUE, "2013H1", "league_orgs"): 95,
        (YUEXI, "2013H1", "league_members"): 2500, (YUEXI, "2013H1", "league_orgs"): 85,
    }
    assert res.quarantine.empty


def test_a_county_merged_over_its_two_half_years(tmp_path):
    path = _save(tmp_path / "凉山州团委_2013年.xlsx", {"汇总": [
        ["凉山州驻点县团建指标"],
        ["县（市、区）", "时期", "团员数"],
        ["喜德县", "2013年上半年", 3000],
        [None, "2013年下半年", 3100],
        ["昭觉县", "2013年上半年", 2000],
        [None, "2013年下半年", 2050],
    ]}, merges={"汇总": ["A3:A4", "A5:A6"]})
    res, values = _clean(path)
    assert values == {(XIDE, "2013H1", "league_members"): 3000,
                      (XIDE, "2013H2", "league_members"): 3100,
                      (ZHAOJUE, "2013H1", "league_members"): 2000,
                      (ZHAOJUE, "2013H2", "league_members"): 2050}
    assert res.quarantine.empty


def test_a_county_written_once_above_its_period_rows(tmp_path):
    # the same without merging: the name only on the first of its rows
    path = _save(tmp_path / "凉山州团委_2013年.xlsx", {"汇总": [
        ["县（市、区）", "时期", "团员数"],
        ["喜德县", "2013年上半年", 3000],
        [None, "2013年下半年", 3100],
    ]})
    res, values = _clean(path)
    assert values == {(XIDE, "2013H1", "league_members"): 3000,
                      (XIDE, "2013H2", "league_members"): 3100}


def test_subtotals_without_a_label_are_not_counties(tmp_path):
    # 市（州） written on the first county of each group; each group closed by a row with no
    # county whose numbers are the group's sums
    path = _save(tmp_path / "全省汇总_2013年上半年.xlsx", {"汇总": [
        ["市（州）", "县（市、区）", "团员数", "基层团组织数"],
        ["凉山州", "喜德县", 3000, 120],
        [None, "昭觉县", 2000, 95],
        [None, None, 5000, 215],                  # 凉山州's subtotal, unlabelled
        ["乐山市", "市中区", 4000, 150],          # 市中区 of 乐山, not of 内江
        [None, "峨边县", 1000, 60],
        [None, None, 5000, 210],
    ]})
    res, values = _clean(path)
    assert values == {
        (XIDE, "2013H1", "league_members"): 3000, (XIDE, "2013H1", "league_orgs"): 120,
        (ZHAOJUE, "2013H1", "league_members"): 2000, (ZHAOJUE, "2013H1", "league_orgs"): 95,
        ("511102", "2013H1", "league_members"): 4000, ("511102", "2013H1", "league_orgs"): 150,
        ("511132", "2013H1", "league_members"): 1000, ("511132", "2013H1", "league_orgs"): 60,
    }
    assert res.quarantine.empty
    assert (res.structure["reason"] == "total_unlabelled").sum() == 2


def test_a_form_keeps_only_this_periods_column(tmp_path):
    # 项目 | 本期数 | 上年同期 | 备注: last year's figures are set aside under their header
    path = _save(tmp_path / "喜德县_2013年上半年.xlsx", {"喜德县": [
        ["共青团喜德县委2013年上半年团建工作统计"],
        ["项目", "本期数", "上年同期", "备注"],
        ["1.团员数", 3000, 2900, None],
        ["2.基层团组织数", 120, 118, "含新建2个"],
        ["其中：新建团组织数", 2, None, None],
    ]})
    res, values = _clean(path)
    assert values == {(XIDE, "2013H1", "league_members"): 3000,
                      (XIDE, "2013H1", "league_orgs"): 120,
                      (XIDE, "2013H1", "orgs_established"): 2}
    aside = res.audit[res.audit["action"] == "set_aside"]
    assert sorted(zip(aside["source_cell"], aside["rule"])) == [
        ("C3", "unknown_column"), ("C4", "unknown_column"), ("D4", "remark")]
    assert res.quarantine.empty


def test_one_sheet_per_county_named_only_by_the_sheet(tmp_path):
    form = [["指标", "数值"], ["团员数", 3000], ["基层团组织数", 120], ["专职团干部数", 7]]
    other = [["指标", "数值"], ["团员数", 2000], ["基层团组织数", 95], ["专职团干部数", 6]]
    path = _save(tmp_path / "凉山州团委_2013年上半年.xlsx", {"喜德县": form, "昭觉县": other})
    res, values = _clean(path)
    assert values == {
        (XIDE, "2013H1", "league_members"): 3000, (XIDE, "2013H1", "league_orgs"): 120,
        (XIDE, "2013H1", "fulltime_cadres"): 7, (ZHAOJUE, "2013H1", "league_members"): 2000,
        (ZHAOJUE, "2013H1", "league_orgs"): 95, (ZHAOJUE, "2013H1", "fulltime_cadres"): 6,
    }


def test_a_transposed_table_under_a_prefecture_row(tmp_path):
    # two header levels: 内江市 and 乐山市 merged over their counties; each has a 市中区
    path = _save(tmp_path / "驻点县指标_2013年下半年.xlsx", {"横表": [
        ["驻点县指标横表（2013年下半年）"],
        ["序号", "指标", "内江市", None, "乐山市", None, "备注"],
        [None, None, "市中区", "威远县", "市中区", "峨边县", None],
        [1, "团员数", 5200, 4100, 4000, 1000, None],
        [2, "基层团组织数", 210, 180, 150, 60, "含流动团组织"],
        [3, "专职团干部数", 9, 8, 8, 5, None],
    ]}, merges={"横表": ["C2:D2", "E2:F2"]})
    res, values = _clean(path)
    assert values == {
        ("511002", "2013H2", "league_members"): 5200, ("511024", "2013H2", "league_members"): 4100,
        ("511102", "2013H2", "league_members"): 4000, ("511132", "2013H2", "league_members"): 1000,
        ("511002", "2013H2", "league_orgs"): 210, ("511024", "2013H2", "league_orgs"): 180,
        ("511102", "2013H2", "league_orgs"): 150, ("511132", "2013H2", "league_orgs"): 60,
        ("511002", "2013H2", "fulltime_cadres"): 9, ("511024", "2013H2", "fulltime_cadres"): 8,
        ("511102", "2013H2", "fulltime_cadres"): 8, ("511132", "2013H2", "fulltime_cadres"): 5,
    }
    assert res.quarantine.empty
    assert list(res.audit.loc[res.audit["rule"] == "remark", "source_cell"]) == ["G5"]


@pytest.mark.parametrize("header,code", [
    ("1.团员数", "league_members"), ("（2）基层团组织数", "league_orgs"),
    ("一、专职团干部数", "fulltime_cadres"), ("其中：已建团组织的规模以上非公企业数",
                                          "nonpublic_firms_with_org"),
])
def test_numbered_and_breakdown_headers_name_their_indicator(tmp_path, header, code):
    path = _save(tmp_path / "凉山州团委_2013年上半年.xlsx", {"汇总": [
        ["县（市、区）", header, "规模以上非公企业数"], ["喜德县", 7, 30]]})
    _, values = _clean(path)
    assert values[(XIDE, "2013H1", code)] == 7


def test_a_long_export_with_codes_and_indicator_values(tmp_path):
    # a database export: 12-digit codes, one row per county × indicator × period
    path = tmp_path / "系统导出.csv"
    path.write_text(
        "行政区划代码,单位名称,指标名称,计量单位,指标值,统计期\n"
        "513432000000,喜德县,团员数,人,3000,2013年上半年\n"
        "513432000000,喜德县,团员数,人,3100,2013年下半年\n"
        "513431000000,昭觉县,基层团组织数,个,95,2013年上半年\n", encoding="utf-8-sig")
    res, values = _clean(path)
    assert values == {(XIDE, "2013H1", "league_members"): 3000,
                      (XIDE, "2013H2", "league_members"): 3100,
                      (ZHAOJUE, "2013H1", "league_orgs"): 95}
    assert res.quarantine.empty
