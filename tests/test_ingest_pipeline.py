"""Cleaning pipeline on tiny hand-built records and workbooks; expected outcomes written by hand.

County codes used (GB/T 2260): 喜德县 513432 (凉山州); 达县 511721 until 2012, 达川区 511703 from
2013 (达州市), which maps back to the 2008 base 511721.
"""

import hashlib
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from analysis.ingest import pipeline, settle
from analysis.ingest.outputs import OUTPUT_FILES, run_clean_cli, write_outputs
from analysis.ingest.pipeline import (
    ConservationError,
    clean_records,
    discover_files,
    load_salt,
    pseudonym,
    roster_from_table,
)
from analysis.ingest.result import OUTPUT_MARKER

XIDE, DAXIAN, DACHUAN = "513432", "511721", "511703"


class Records:
    """Builds an extract_records-like frame, one call per data cell."""

    def __init__(self):
        self.rows = []

    def add(self, county, header, indicator, raw, *, file="凉山州.xlsx", sheet="汇总",
            cell=None, pref="凉山州", period="2013年上半年", unit=None):
        i = len(self.rows) + 1
        self.rows.append(dict(
            record_id=f"{file}!{sheet}!{i}", source_file=file, source_sheet=sheet,
            source_cell=cell or f"C{i}", county_text=county, prefecture_text=pref,
            header_text=header, indicator=indicator, header_unit=unit, raw_value=raw,
            period_text=period, title="基层团建统计表"))
        return f"{file}!{sheet}!{i}"

    def frame(self):
        return pd.DataFrame(self.rows)


def outcome(result, record_id):
    """The rule(s) a record ended under, or 'clean'."""
    q = result.quarantine
    rules = sorted(q.loc[q["record_id"] == record_id, "rule"])
    return rules or "clean"


def test_values_are_parsed_resolved_and_mapped_to_the_base():
    r = Records()
    a = r.add("凉山州喜德县", "团员数（人）", "league_members", "约3,000人")
    b = r.add("喜德", "县级团委年度工作经费", "league_funds", "150000", unit="元")
    c = r.add("达县", "团员数", "league_members", "４５６", pref="达州市")  # full-width digits
    d = r.add("喜德县", "注册青年志愿者数", "volunteers", "—")
    res = clean_records(r.frame())
    ind = res.indicators.set_index(["county_code", "indicator"])
    assert ind.at[(XIDE, "league_members"), "value"] == 3000
    assert ind.at[(XIDE, "league_funds"), "value"] == pytest.approx(15.0)  # 元 → 万元
    assert ind.at[(XIDE, "league_funds"), "unit"] == "万元"
    # 2013: 达县 is already 达川区 in the code book of the period, base is 达县
    assert ind.at[(DACHUAN, "league_members"), "value"] == 456
    assert ind.at[(DACHUAN, "league_members"), "base_code"] == DAXIAN
    assert np.isnan(ind.at[(XIDE, "volunteers"), "value"])  # reported as missing, kept as NaN
    assert (res.indicators["period"] == "2013H1").all()
    # audit explains each reading that changed the text, and each county name it normalised
    county = res.audit[res.audit["stage"] == "county"].set_index("record_id")
    assert county.at[a, "before"] == "凉山州喜德县" and county.at[a, "after"] == f"{XIDE} 喜德县"
    assert county.at[c, "before"] == "达县" and county.at[c, "after"] == f"{DACHUAN} 达川区"
    assert d not in county.index  # 喜德县 is the official name already
    audit = res.audit[res.audit["stage"] != "county"].set_index("record_id")
    assert audit.at[a, "after"] == "3000" and audit.at[a, "before"] == "约3,000人"
    assert audit.at[b, "after"] == "15"
    assert audit.at[d, "action"] == "missing"
    assert c not in audit.index  # full-width digits are folded without an audit row (data contract)
    q = res.quality.set_index(["county_code", "period"])
    assert q.at[(XIDE, "2013H1"), "expected"] == 26  # round-2 form
    assert q.at[(XIDE, "2013H1"), "reported"] == 2
    assert q.at[(XIDE, "2013H1"), "missing"] == 1
    assert q.at[(XIDE, "2013H1"), "completeness"] == pytest.approx(2 / 26, abs=1e-4)


def test_each_rule_sends_the_cell_to_quarantine_with_its_name():
    r = Records()
    unknown = r.add("火星县", "团员数", "league_members", "5")
    ambiguous = r.add("市中区", "团员数", "league_members", "5", pref=None)
    excel = r.add("喜德县", "团员数", "league_members", "#DIV/0!")
    text = r.add("喜德县", "新发展团员数", "members_recruited", "约三百多或四百")
    high = r.add("喜德县", "团费收缴率", "dues_rate", "120%")
    frac = r.add("喜德县", "专职团干部数", "fulltime_cadres", "3.5")
    total = r.add("喜德县", "乡镇（街道）数", "townships_total", "20")
    part = r.add("喜德县", "经常性开展活动的乡镇（街道）团委数", "townships_active", "25")
    auth = r.add("喜德县", "团县委核定编制数", "posts_authorized", "5")
    filled = r.add("喜德县", "团县委实有在编人数", "posts_filled", "6")
    nop = r.add("喜德县", "团员数", "league_members", "10", period="", file="无期间.xlsx")
    res = clean_records(r.frame())
    assert outcome(res, unknown) == ["county_unknown"]
    assert outcome(res, ambiguous) == ["county_unknown"]
    assert outcome(res, excel) == ["excel_error"]
    assert outcome(res, text) == ["not_a_number"]
    assert outcome(res, high) == ["above_max"]
    assert outcome(res, frac) == ["not_integer"]
    assert outcome(res, total) == "clean"
    assert outcome(res, part) == ["part_exceeds_total"]
    assert outcome(res, auth) == "clean"
    assert outcome(res, filled) == ["filled_exceeds_authorized"]
    assert outcome(res, nop) == ["period_missing"]
    q = res.quarantine.set_index("record_id")
    assert q.at[high, "cell"] == "C5" and q.at[high, "file"] == "凉山州.xlsx"
    assert "团费收缴率" in q.at[high, "message"]
    assert set(res.indicators["indicator"]) == {"townships_total", "posts_authorized"}


def test_a_remark_explains_posts_filled_above_authorized():
    r = Records()
    r.add("喜德县", "团县委核定编制数", "posts_authorized", "5")
    filled = r.add("喜德县", "团县委实有在编人数", "posts_filled", "6")
    r.add("喜德县", "备注", None, "含借调人员1名")
    res = clean_records(r.frame())
    assert outcome(res, filled) == "clean"
    audit = res.audit.set_index("record_id")
    assert audit.at[filled, "rule"] == "filled_exceeds_authorized_noted"
    assert "含借调人员1名" in audit.at[filled, "note"]
    assert len(res.indicators) == 2


def test_a_placeholder_remark_explains_nothing():
    r = Records()
    r.add("喜德县", "团县委核定编制数", "posts_authorized", "5")
    filled = r.add("喜德县", "团县委实有在编人数", "posts_filled", "6")
    r.add("喜德县", "备注", None, "无")
    assert outcome(clean_records(r.frame()), filled) == ["filled_exceeds_authorized"]


def test_duplicates_identical_merge_conflicting_all_quarantined():
    r = Records()
    first = r.add("喜德县", "团员数", "league_members", "300", file="a.xlsx")
    same = r.add("凉山州喜德县", "团员数", "league_members", "300人", file="b.xlsx")
    dash = r.add("喜德县", "团员数", "league_members", "—", file="c.xlsx")
    c1 = r.add("喜德县", "专职团干部数", "fulltime_cadres", "12", file="a.xlsx")
    c2 = r.add("喜德县", "专职团干部数", "fulltime_cadres", "13", file="b.xlsx")
    res = clean_records(r.frame())
    ind = res.indicators
    assert len(ind) == 1 and ind.iloc[0]["value"] == 300
    assert ind.iloc[0]["source_file"] == "a.xlsx"
    merged = res.audit[res.audit["rule"] == "duplicate_merged"]
    assert set(merged["record_id"]) == {same, dash}
    assert outcome(res, c1) == ["duplicate_conflict"] and outcome(res, c2) == ["duplicate_conflict"]
    assert "12" in res.quarantine.iloc[0]["message"] and "13" in res.quarantine.iloc[0]["message"]
    files = res.files.set_index("source_file")
    assert files.loc["a.xlsx", ["records_in", "clean", "quarantined", "merged"]].tolist() == [2, 1, 1, 0]
    assert files.loc["b.xlsx", ["records_in", "clean", "quarantined", "merged"]].tolist() == [2, 0, 1, 1]
    assert files.loc["c.xlsx", ["records_in", "merged"]].tolist() == [1, 1]
    assert outcome(res, first) == "clean"


def test_reported_rates_unknown_columns_and_remarks_are_set_aside_and_counted():
    r = Records()
    r.add("喜德县", "乡镇（街道）数", "townships_total", "40")
    r.add("喜德县", "配备团委书记的乡镇（街道）数", "townships_with_secretary", "30")
    rate = r.add("喜德县", "乡镇团委书记配备率（%）", None, "80%")   # recomputed: 75 %
    r.add("喜德县", "联系电话", None, "0834-1234567")
    res = clean_records(r.frame())
    f = res.files.iloc[0]
    assert (f["records_in"], f["clean"], f["set_aside"]) == (4, 2, 2)
    assert f["unknown_columns"] == "联系电话"
    a = res.audit[res.audit["record_id"] == rate]
    assert "rate_recomputed" in set(a["rule"])
    assert float(a.loc[a["rule"] == "rate_recomputed", "after"].iloc[0]) == pytest.approx(75)
    assert "rate" not in set(res.indicators["indicator"])


def test_row_conservation_is_checked_from_the_output_tables(monkeypatch):
    r = Records()
    r.add("喜德县", "团员数", "league_members", "300")
    r.add("喜德县", "专职团干部数", "fulltime_cadres", "3")
    res = clean_records(r.frame())
    assert res.files.iloc[0]["records_in"] == 2
    # a step that silently drops a clean value must be caught
    real = settle._check_conservation

    def drop_one(files, indicators, quarantine, audit):
        return real(files, indicators.iloc[1:], quarantine, audit)

    monkeypatch.setattr(settle, "_check_conservation", drop_one)
    with pytest.raises(ConservationError, match="2 data cells in"):
        clean_records(r.frame())


def test_record_ids_must_be_unique():
    r = Records()
    r.add("喜德县", "团员数", "league_members", "300")
    frame = pd.concat([r.frame(), r.frame()])
    with pytest.raises(ValueError, match="not unique"):
        clean_records(frame)


def test_pseudonyms_are_stable_keyed_and_never_names(tmp_path, monkeypatch):
    monkeypatch.delenv("RESIDENCY_SALT", raising=False)
    salt_file = tmp_path / "sub" / ".salt"
    salt = load_salt(salt_file)
    assert salt_file.is_file() and oct(salt_file.stat().st_mode & 0o777) == "0o600"
    assert load_salt(salt_file) == salt  # reused, not regenerated
    import hmac, hashlib as h
    expected = "P" + hmac.new(salt, "张三".encode(), h.sha256).hexdigest()[:16]
    assert pseudonym("张 三", salt) == expected == pseudonym("张三", salt)
    assert pseudonym("张三", b"other") != expected
    assert pseudonym("", salt) is None
    monkeypatch.setenv("RESIDENCY_SALT", "from-env")
    assert load_salt(salt_file) == b"from-env"


def test_roster_sheet_keeps_no_names():
    grid = pd.DataFrame([
        ["四川省驻点干部名册", None, None, None, None, None, None, None],
        ["轮次", "批次", "驻点县", "姓名", "派出单位", "开始日期", "结束日期", "考核等次"],
        ["第二轮", "第1批", "凉山州喜德县", "王小明", "团省委", "2012.2.1", "2012年7月31日", "优秀"],
        ["2", "2", "达县", "李 华", "达州市团委", "2012-08-01", "2013-01-31", "良好"],
        ["合计", None, None, None, None, None, None, None],
    ])
    roster = roster_from_table(grid, salt=b"k", source_file="名册.xlsx", source_sheet="名册")
    assert len(roster) == 2
    assert roster["round"].tolist() == [2, 2] and roster["batch"].tolist() == [1, 2]
    assert roster["start"].tolist() == ["2012-02-01", "2012-08-01"]
    assert roster["end"].tolist() == ["2012-07-31", "2013-01-31"]
    assert roster["assessment"].tolist() == ["优秀", "良好"]
    assert roster["cadre_id"].tolist() == [pseudonym("王小明", b"k"), pseudonym("李华", b"k")]
    text = roster.to_csv()
    assert "王小明" not in text and "李" not in text


def test_roster_counties_resolve_also_for_stints_outside_the_code_books():
    from analysis.ingest.prepare import _default_resolver, _default_to_base
    from analysis.ingest.roster import _finish_roster

    grid = pd.DataFrame([
        ["轮次", "批次", "驻点县", "姓名", "派出单位", "开始日期", "结束日期", "考核等次"],
        [2, 1, "凉山州喜德县", "甲", "团省委", "2012-02-01", "2012-07-31", "优秀"],
        [2, 2, "凉山州喜德县", "乙", "团省委", "2016-02-01", "2016-07-31", "优秀"],  # after 2014
        [2, 3, "达县", "丙", "达州市团委", "2005-02-01", "2005-07-31", "良好"],       # before 2007
    ])
    part = roster_from_table(grid, salt=b"k", source_file="名册.xlsx", source_sheet="名册")
    roster = _finish_roster([part], _default_resolver, _default_to_base)
    # no code book for 2016 or 2005: the county is resolved without one, not left blank
    assert roster["county_code"].tolist() == [XIDE, XIDE, DAXIAN]
    assert roster["base_code"].tolist() == [XIDE, XIDE, DAXIAN]

def test_discover_files_walks_folders_and_survives_link_loops(tmp_path):
    (tmp_path / "a" / "b").mkdir(parents=True)
    for rel in ("a/x.xlsx", "a/b/y.csv", "a/b/~$x.xlsx", "a/.hidden.xlsx", "a/notes.docx"):
        (tmp_path / rel).write_bytes(b"")
    os.symlink(tmp_path / "a", tmp_path / "a" / "b" / "loop")
    found = [rel for _, rel in discover_files([tmp_path])]
    assert found == ["a/b/y.csv", "a/x.xlsx"]
    with pytest.raises(FileNotFoundError, match="does not exist"):
        discover_files([tmp_path / "nope"])


def test_cli_exit_codes(tmp_path, capsys):
    assert run_clean_cli([tmp_path / "missing"], tmp_path / "out") == 2
    assert "does not exist" in capsys.readouterr().err
    (tmp_path / "empty").mkdir()
    assert run_clean_cli([tmp_path / "empty"], tmp_path / "out") == 2
    assert "no submissions" in capsys.readouterr().err


def _digest(folder: Path) -> dict[str, str]:
    return {f: hashlib.sha256((folder / f).read_bytes()).hexdigest() for f in OUTPUT_FILES}


def test_outputs_are_atomic_byte_identical_and_excel_friendly(tmp_path):
    r = Records()
    r.add("喜德县", "团员数", "league_members", "300")
    r.add("喜德县", "团费收缴率", "dues_rate", "120%")
    r.add("达县", "乡镇（街道）数", "townships_total", "20", pref="达州市")
    r.add("达县", "乡镇团委书记配备率", None, "50%", pref="达州市")
    res = clean_records(r.frame())
    write_outputs(res, tmp_path / "one")
    write_outputs(res, tmp_path / "two")
    assert _digest(tmp_path / "one") == _digest(tmp_path / "two")
    # and the marker that keeps a later run from reading the folder as submissions
    assert sorted(p.name for p in (tmp_path / "one").iterdir()) == sorted([*OUTPUT_FILES, OUTPUT_MARKER])
    raw = (tmp_path / "one" / "quarantine.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf") and "团费收缴率".encode() in raw
    back = pd.read_parquet(tmp_path / "one" / "indicators.parquet")
    assert back["value"].tolist() == [20.0, 300.0]  # sorted by county code: 511703 < 513432
    panel = pd.read_parquet(tmp_path / "one" / "panel.parquet")
    assert "league_members" in panel.columns and len(panel) == 2


# --------------------------------------------------------------------------------------------
# end to end: hand-made workbooks through F1's readers and the whole pipeline


def _write_fixtures(folder: Path) -> None:
    import openpyxl

    folder.mkdir(parents=True, exist_ok=True)
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "汇总"
    ws.append(["凉山州2013年上半年基层团建工作统计表"])
    ws.merge_cells("A1:F1")
    ws.append(["填报单位：凉山州团委（盖章）", None, None, "单位：个、人"])
    ws.append(["截至2013年6月30日"])
    ws.append(["县（市、区）", "团员数（人）", "团费收缴率", "团县委核定编制数", "团县委实有在编人数", "备注"])
    ws.append(["喜德县", "约3,000人", "85%", 5, 6, "含借调1人"])   # explained excess
    ws.append(["昭觉县", 2000, "120%", 5, 6, None])                 # rate too high; excess
    ws.append(["高新区", 100, "90%", 3, 3, None])                   # not a county
    ws.append(["合计", 5100, None, 13, 15, None])
    ws.append(["填表人：张三", None, "联系电话：123"])
    draft = wb.create_sheet("底稿")
    draft.append(["县（市、区）", "团员数"])
    draft.append(["喜德县", 1])
    draft.sheet_state = "hidden"
    wb.save(folder / "凉山州_2013年上半年.xlsx")

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "喜德县"
    ws.append(["喜德县基层团建情况表（2013年上半年）"])
    ws.append(["指标", "数值", "单位", "备注"])
    ws.append(["团员数", 3000, "人", None])             # same as the summary: merged
    ws.append(["专职团干部数", "#DIV/0!", "人", None])
    (folder / "sub").mkdir()
    wb.save(folder / "sub" / "喜德县_2013年1-6月.xlsx")

    (folder / "达州.csv").write_bytes(
        "地区,统计期,团员数,专职团干部数\n达县,2013年上半年,456,7\n达县,2013年下半年,460,8\n"
        .encode("gb18030"))

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "名册"
    ws.append(["驻点干部名册"])
    ws.append(["轮次", "批次", "驻点县", "姓名", "派出单位", "开始日期", "结束日期", "考核等次"])
    ws.append([2, 1, "凉山州喜德县", "王小明", "团省委", "2012-02-01", "2012-07-31", "优秀"])
    wb.save(folder / "驻点干部名册.xlsx")


def test_clean_end_to_end_on_hand_made_workbooks(tmp_path, monkeypatch):
    monkeypatch.setenv("RESIDENCY_SALT", "test-salt")
    raw = tmp_path / "raw"
    _write_fixtures(raw)
    res = pipeline.clean([raw], out_dir=tmp_path / "out", progress=False)
    ind = res.indicators.set_index(["county_code", "period", "indicator"])["value"]
    ZHAOJUE = "513431"
    expected = {
        (DACHUAN, "2013H1", "fulltime_cadres"): 7, (DACHUAN, "2013H1", "league_members"): 456,
        (DACHUAN, "2013H2", "fulltime_cadres"): 8, (DACHUAN, "2013H2", "league_members"): 460,
        (ZHAOJUE, "2013H1", "league_members"): 2000, (ZHAOJUE, "2013H1", "posts_authorized"): 5,
        (XIDE, "2013H1", "dues_rate"): 85, (XIDE, "2013H1", "league_members"): 3000,
        (XIDE, "2013H1", "posts_authorized"): 5, (XIDE, "2013H1", "posts_filled"): 6,
    }
    assert ind.to_dict() == expected
    q = res.quarantine
    got = sorted(zip(q["file"], q["cell"], q["rule"]))
    summary = "凉山州_2013年上半年.xlsx"
    assert got == sorted([
        (summary, "B7", "county_unknown"), (summary, "C7", "county_unknown"),
        (summary, "D7", "county_unknown"), (summary, "E7", "county_unknown"),
        (summary, "C6", "above_max"), (summary, "E6", "filled_exceeds_authorized"),
        ("sub/喜德县_2013年1-6月.xlsx", "B4", "excel_error"),
    ])
    files = res.files.set_index("source_file")
    # conservation per file, written out: in = clean + quarantined + merged + set aside
    # the repeat of 喜德县 团员数 is kept from the first file by name ("sub/…" sorts first)
    # 12 data cells and the remark 含借调1人 (F5), which is set aside
    assert files.loc[summary, ["records_in", "clean", "quarantined", "merged", "set_aside"]
                     ].tolist() == [13, 5, 6, 1, 1]
    # the census of the sheet read (the hidden draft's 4 cells are counted apart): structure =
    # title 1 + 填报单位 and 单位 2 + 截至 1 + header 6 + county names 3 + remark 1 + 合计 row 4
    # (C8 is empty) + footer 2 = 20; data 12; nothing unplaced; 32 non-empty cells in all
    assert files.loc[summary, ["cells_nonempty", "cells_structure", "cells_data", "cells_unplaced",
                               "cells_hidden"]].tolist() == [32, 20, 12, 0, 4]
    assert files.loc[summary, "hidden_sheets"] == "底稿"      # the draft is not read
    assert files.loc[summary, "structure_rows"] == 6          # title, 2 meta, header, 合计, footer
    assert files.loc["sub/喜德县_2013年1-6月.xlsx", ["records_in", "clean", "quarantined"]].tolist() == [2, 1, 1]
    assert files.loc["达州.csv", ["records_in", "clean"]].tolist() == [4, 4]
    assert files.loc["驻点干部名册.xlsx", "roster_rows"] == 1
    assert res.roster.iloc[0]["county_code"] == XIDE
    assert res.roster.iloc[0]["cadre_id"] == pseudonym("王小明", b"test-salt")
    for name in OUTPUT_FILES:
        data = (tmp_path / "out" / name).read_bytes()
        assert "王小明".encode() not in data
    # byte-identical rerun
    first = _digest(tmp_path / "out")
    pipeline.clean([raw], out_dir=tmp_path / "out", progress=False)
    assert _digest(tmp_path / "out") == first


def test_structure_rows_of_a_file_without_data_cells_are_counted(tmp_path):
    import openpyxl

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "汇总"
    ws.append(["凉山州2013年上半年基层团建工作统计表"])
    ws.append(["县（市、区）", "团员数（人）"])
    ws.append(["合计", None])
    (tmp_path / "raw").mkdir()
    wb.save(tmp_path / "raw" / "凉山州_2013年上半年.xlsx")
    res = pipeline.clean([tmp_path / "raw"], progress=False, salt=b"s")
    row = res.files.iloc[0]
    assert (row["records_in"], row["structure_rows"]) == (0, 3)   # title, header, 合计

def test_cli_summary_on_hand_made_workbooks(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("RESIDENCY_SALT", "test-salt")
    _write_fixtures(tmp_path / "raw")
    assert run_clean_cli([tmp_path / "raw"], tmp_path / "out", progress=False) == 0
    out = capsys.readouterr().out
    assert "files: 4" in out and "quarantined: 7" in out and "county_unknown" in out


# --------------------------------------------------------------------------------------------
# the committed demo data against the generator's truth (a subset of files keeps this ~10 s;
# benchmarks/bench_ingest.py runs the same check on every file)

EXPECTED_RULE = {
    "posts_over_authorised": "filled_exceeds_authorized",
    "rate_out_of_range": "above_max",
    "duplicate_county": "duplicate_conflict",
    "unknown_county": "county_unknown",
    "period_contradicts_file": "period_contradiction",
}


@pytest.mark.slow
def test_demo_subset_matches_the_generators_truth(monkeypatch):
    from analysis.config import paths
    from analysis.demo import DEFAULT_SEED, truth

    raw = paths().raw
    if not (raw / "驻点干部名册.xlsx").is_file():
        pytest.skip(f"demo data not found in {raw} (python -m analysis demo writes it)")
    t = truth(DEFAULT_SEED)
    bad_files = sorted(set(t.bad_records["file"]))
    subset = sorted({*bad_files, *(p.relative_to(raw).as_posix()
                                   for p in (raw / "2013年上半年").rglob("*") if p.is_file())})
    res = pipeline.clean([raw / f for f in subset] + [raw / "驻点干部名册.xlsx"], progress=False,
                         salt=b"demo")
    # files given one by one are named by their file name only: map back to the truth's names
    by_name = {Path(f).name: f for f in subset}
    q = res.quarantine.assign(file=res.quarantine["file"].map(lambda n: by_name.get(n, n)))

    # 1. every clean value equals the truth
    got = res.indicators.dropna(subset=["value"])
    m = got.merge(t.clean, on=["period", "county_code", "indicator"], how="left",
                  suffixes=("", "_truth"))
    assert m["value_truth"].notna().all(), "clean values with no counterpart in the truth"
    np.testing.assert_allclose(m["value"], m["value_truth"], rtol=1e-9, atol=1e-9)
    assert len(got) > 5000  # the subset is not trivially small

    # 2. every planted bad record is quarantined under the right rule
    def row(cell):
        return "".join(ch for ch in str(cell) if ch.isdigit())

    q = q.assign(row=q["cell"].map(row))
    explained = set()
    for b in t.bad_records.itertuples(index=False):
        hits = q[(q["file"] == b.file) & (q["sheet"] == b.sheet)
                 & (q["rule"] == EXPECTED_RULE[b.kind])]
        if b.kind != "period_contradicts_file":  # the others concern one row
            hits = hits[(hits["row"] == row(b.cell)) | (hits["rule"] == "duplicate_conflict")]
        assert len(hits), f"planted {b.kind} at {b.file} {b.sheet} {b.cell} not quarantined"
        explained |= set(hits["record_id"])

    # 3. nothing else is quarantined except Excel error cells, which the truth lists as mess
    errors = t.mess[t.mess["kind"] == "excel_error"]
    error_cells = set(zip(errors["file"], errors["sheet"], errors["cell"]))
    rest = q[~q["record_id"].isin(explained)]
    unexplained = [c for c in zip(rest["file"], rest["sheet"], rest["cell"]) if c not in error_cells]
    assert unexplained == []

    # 4. the roster: every cadre, no names
    assert len(res.roster) == len(t.roster)
    assert set(res.roster["cadre_id"]) == {pseudonym(n, b"demo") for n in t.roster["official"]}


def test_county_messages_are_retold_in_chinese():
    r = Records()
    typo = r.add("喜得县", "团员数", "league_members", "5")
    zone = r.add("高新区", "团员数", "league_members", "5")
    both = r.add("市中区", "团员数", "league_members", "5", pref=None)
    q = clean_records(r.frame()).quarantine.set_index("record_id")["message"]
    assert "相近名称：喜德县" in q[typo]
    assert "不是四川省县级行政单位名称" in q[zone]
    assert "请写明所属市（州）" in q[both] and "内江市" in q[both]


def test_whole_file_problems_do_not_stop_the_run(tmp_path):
    import openpyxl

    raw = tmp_path / "raw"
    raw.mkdir()
    (raw / "空文件.xlsx").write_bytes(b"")
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "汇总"
    # the title says 2012H2, the file name 2013H1: the whole sheet is quarantined
    ws.append(["凉山州2012年下半年基层团建工作统计表"])
    ws.append(["县（市、区）", "团员数（人）"])
    ws.append(["喜德县", 300])
    wb.save(raw / "凉山州_2013年1-6月.xlsx")
    res = pipeline.clean([raw], progress=False, salt=b"k")
    files = res.files.set_index("source_file")
    assert files.at["空文件.xlsx", "status"] == "unreadable"
    assert "empty" in files.at["空文件.xlsx", "error"] or "空" in files.at["空文件.xlsx", "error"]
    assert files.at["空文件.xlsx", "records_in"] == 0
    assert res.quarantine["rule"].tolist() == ["period_contradiction"]
    assert res.indicators.empty
    assert res.summary()["unreadable_files"] == 1


# --------------------------------------------------------------------------------------------
# property: whatever the cells say, every cell ends in exactly one place

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

_COUNTIES = {"甲县": "510104", "乙县": "510105"}  # a toy resolver: independent of the code books
_HEADERS = [("团员数", "league_members"), ("乡镇（街道）数", "townships_total"),
            ("配备团委书记的乡镇（街道）数", "townships_with_secretary"),
            ("团费收缴率", "dues_rate"), ("乡镇团委书记配备率", None), ("备注", None),
            ("联系电话", None)]
_RAWS = ["10", "12", "约10人", "—", "", "#DIV/0!", "120%", "3.5", "abc", 5, 0]


def _toy_resolver(values, prefecture=None, as_of=None):
    return pd.DataFrame({"code": [_COUNTIES.get(v) for v in values],
                         "error": [None if v in _COUNTIES else "unknown" for v in values]})


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.sampled_from(["a.xlsx", "b.xlsx"]),
                          st.sampled_from([*_COUNTIES, "丙县"]),
                          st.sampled_from(_HEADERS), st.sampled_from(_RAWS),
                          st.sampled_from(["2013年上半年", "2013年下半年"])),
                min_size=1, max_size=30))
def test_every_cell_ends_in_exactly_one_place(cells):
    r = Records()
    for file, county, (header, indicator), raw, period in cells:
        r.add(county, header, indicator, raw, file=file, period=period)
    res = clean_records(r.frame(), resolver=_toy_resolver, to_base=lambda c: pd.Series(c))
    f = res.files
    # clean_records itself raises ConservationError; recount here from the frames independently
    ids_clean = set(zip(res.indicators["source_file"], res.indicators["source_cell"]))
    ids_quar = set(res.quarantine["record_id"])
    ids_merged = set(res.audit.loc[res.audit["action"] == "merge", "record_id"])
    ids_aside = set(res.audit.loc[(res.audit["action"] == "set_aside")
                                  | (res.audit["stage"] == "rate"), "record_id"])
    assert len(ids_clean) == len(res.indicators)
    assert not (ids_quar & ids_merged) and not (ids_quar & ids_aside) and not (ids_merged & ids_aside)
    assert len(ids_clean) + len(ids_quar) + len(ids_merged) + len(ids_aside) == len(cells)
    assert f["records_in"].sum() == len(cells)
    # one clean row per county, period and indicator
    assert not res.indicators.duplicated(["county_code", "period", "indicator"]).any()
    # cells of an unknown county never reach the clean data
    assert set(res.indicators["county_code"]) <= set(_COUNTIES.values())


def test_outputs_are_readable_by_the_group_and_leave_no_temp_files(tmp_path):
    r = Records()
    r.add("喜德县", "团员数", "league_members", "300")
    old = os.umask(0o022)
    try:
        write_outputs(clean_records(r.frame()), tmp_path)
    finally:
        os.umask(old)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([*OUTPUT_FILES, OUTPUT_MARKER])
    assert all(oct(p.stat().st_mode & 0o777) == "0o644" for p in tmp_path.iterdir())


# --------------------------------------------------------------------------------------------
# one hand-made workbook per rule: (header row, data row(s), expected (cell, rule) quarantined,
# expected audit rule or None).  Rows start at row 3 (title in row 1, header in row 2).

RULE_CASES = {
    "below_min": (["县（市、区）", "乡镇（街道）数"], [["喜德县", 0]], [("B3", "below_min")], None),
    "above_max": (["县（市、区）", "团费收缴率"], [["喜德县", "130%"]], [("B3", "above_max")], None),
    "not_integer": (["县（市、区）", "专职团干部数"], [["喜德县", 3.5]], [("B3", "not_integer")], None),
    "not_a_number": (["县（市、区）", "团员数"], [["喜德县", "很多"]], [("B3", "not_a_number")], None),
    "excel_error": (["县（市、区）", "团员数"], [["喜德县", "#DIV/0!"]], [("B3", "excel_error")], None),
    "county_unknown": (["县（市、区）", "团员数"], [["高新区", 5]], [("B3", "county_unknown")], None),
    "part_exceeds_total": (["县（市、区）", "乡镇（街道）数", "经常性开展活动的乡镇（街道）团委数"],
                           [["喜德县", 20, 21]], [("C3", "part_exceeds_total")], None),
    "nonpublic_part": (["县（市、区）", "规模以上非公企业数", "已建团组织的规模以上非公企业数"],
                       [["喜德县", 10, 11]], [("C3", "part_exceeds_total")], None),
    "filled_exceeds_authorized": (["县（市、区）", "团县委核定编制数", "团县委实有在编人数", "备注"],
                                  [["喜德县", 5, 6, None]],
                                  [("C3", "filled_exceeds_authorized")], None),
    "filled_exceeds_authorized_noted": (["县（市、区）", "团县委核定编制数", "团县委实有在编人数", "备注"],
                                        [["喜德县", 5, 6, "含借调1人"]], [],
                                        "filled_exceeds_authorized_noted"),
    "duplicate_conflict": (["县（市、区）", "团员数"], [["喜德县", 300], ["喜德", 310]],
                           [("B3", "duplicate_conflict"), ("B4", "duplicate_conflict")], None),
    "duplicate_merged": (["县（市、区）", "团员数"], [["喜德县", 300], ["凉山州喜德县", "300人"]], [],
                         "duplicate_merged"),
    "rate_recomputed": (["县（市、区）", "乡镇（街道）数", "配备团委书记的乡镇（街道）数", "乡镇团委书记配备率"],
                        [["喜德县", 40, 30, "90%"]], [], "rate_recomputed"),
    "unknown_column": (["县（市、区）", "团员数", "联系电话"], [["喜德县", 300, "0834-1234567"]], [],
                       "unknown_column"),
    "personal_column": (["县（市、区）", "团员数", "联系人"], [["喜德县", 300, "王五"]], [], None),
}


@pytest.mark.parametrize("case", sorted(RULE_CASES))
def test_each_rule_on_a_hand_made_workbook(case, tmp_path):
    import openpyxl

    header, rows, quarantined, audited = RULE_CASES[case]
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "汇总"
    ws.append(["凉山州2013年上半年基层团建工作统计表"])
    ws.append(header)
    for row in rows:
        ws.append(row)
    wb.save(tmp_path / "凉山州_2013年1-6月.xlsx")
    res = pipeline.clean([tmp_path], progress=False, salt=b"k")
    assert sorted(zip(res.quarantine["cell"], res.quarantine["rule"])) == sorted(quarantined)
    if audited:
        assert audited in set(res.audit["rule"])
    f = res.files.iloc[0]
    assert f["records_in"] == f["clean"] + f["quarantined"] + f["merged"] + f["set_aside"]
    # records: every cell but the county name and a column of people's names (联系人: counted
    # by the census, never copied); a written remark is a record too (set aside, audited)
    data_columns = len([h for h in header if h not in ("县（市、区）", "备注", "联系人")])
    remarks = sum(1 for row in rows for h, v in zip(header, row) if h == "备注" and v)
    assert f["records_in"] == data_columns * len(rows) + remarks
    assert f["set_aside"] >= remarks
    assert f["cells_nonempty"] == f["cells_structure"] + f["cells_data"] + f["cells_unplaced"]
    # the names of a 联系人 column appear in no output table
    for table in (res.indicators, res.quarantine, res.audit, res.files):
        assert not table.astype(str).apply(lambda col: col.str.contains("王五")).any().any()


def test_same_file_name_in_two_folders_stays_apart(tmp_path):
    for d in ("one", "two"):
        (tmp_path / d).mkdir()
        (tmp_path / d / "a.csv").write_text("地区,统计期,团员数\n喜德县,2013年上半年,300\n",
                                            encoding="utf-8")
    found = discover_files([tmp_path / "one", tmp_path / "two"])
    assert len({rel for _, rel in found}) == 2
    res = pipeline.clean([tmp_path / "one", tmp_path / "two"], progress=False, salt=b"k")
    assert len(res.indicators) == 1 and res.files["merged"].sum() == 1
