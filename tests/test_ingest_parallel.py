"""The fast ingest path: worker processes, column-list extraction and the caches of repeated
strings must not change any result.  Expected values are worked out by hand in each test.

County codes (GB/T 2260): 喜德县 513432, 昭觉县 513431 (凉山州); 达县 511721 until 2012,
达川区 511703 from 2013 (达州市), mapped back to the 2008 base 511721.
"""

import hashlib
from pathlib import Path

import pytest

from analysis.ingest import pipeline
from analysis.ingest.scan import MAX_WORKERS, _pool_size
from analysis.ingest.layout import RECORD_COLUMNS, _extract_columns, detect_layout, extract_records
from analysis.ingest.periods import parse_period
from analysis.ingest.read import Sheet
from analysis.ingest.values import parse_value

XIDE, ZHAOJUE, DACHUAN, DAXIAN = "513432", "513431", "511703", "511721"


def _write_files(folder: Path) -> None:
    """Four submissions: a summary, a county form, a CSV export, a damaged file."""
    import openpyxl

    folder.mkdir(parents=True, exist_ok=True)
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "汇总"
    ws.append(["凉山州2013年上半年基层团建工作统计表"])
    ws.merge_cells("A1:C1")
    ws.append(["县（市、区）", "团员数（人）", "专职团干部数"])
    ws.append(["喜德县", "约300人", 4])
    ws.append(["昭觉县", 2000, "五"])
    ws.append(["合计", 2300, 9])
    wb.save(folder / "凉山州_2013年上半年.xlsx")

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "表"
    ws.append(["昭觉县基层团建情况表（2013年下半年）"])
    ws.append(["指标", "数值", "单位"])
    ws.append(["团员数", "2,100", "人"])
    wb.save(folder / "昭觉县_2013年下半年.xlsx")

    (folder / "达州.csv").write_bytes(
        "地区,统计期,团员数\n达县,2013年上半年,456\n达县,2013年下半年,460\n".encode("gb18030"))
    (folder / "坏文件.xlsx").write_bytes(b"this is not a workbook")


# what the four files hold, read by hand: "约300人" → 300, "五" → 5, "2,100" → 2100;
# 合计 is a total row, not a county; 达县 is 达川区 from 2013
EXPECTED = {
    (XIDE, "2013H1", "league_members"): 300.0,
    (XIDE, "2013H1", "fulltime_cadres"): 4.0,
    (ZHAOJUE, "2013H1", "league_members"): 2000.0,
    (ZHAOJUE, "2013H1", "fulltime_cadres"): 5.0,
    (ZHAOJUE, "2013H2", "league_members"): 2100.0,
    (DACHUAN, "2013H1", "league_members"): 456.0,
    (DACHUAN, "2013H2", "league_members"): 460.0,
}


def _digest(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.iterdir()) if not p.name.startswith(".")}


def test_worker_processes_give_the_same_outputs_as_one_process(tmp_path):
    raw = tmp_path / "raw"
    _write_files(raw)
    one = pipeline.clean([raw], out_dir=tmp_path / "one", progress=False, salt=b"s", workers=1)
    two = pipeline.clean([raw], out_dir=tmp_path / "two", progress=False, salt=b"s", workers=2)
    assert _digest(tmp_path / "one") == _digest(tmp_path / "two")
    for result in (one, two):
        got = result.indicators.set_index(["county_code", "period", "indicator"])["value"]
        assert got.to_dict() == EXPECTED
        assert set(result.indicators["base_code"][result.indicators["county_code"] == DACHUAN]) \
            == {DAXIAN}
        files = result.files.set_index("source_file")
        # files come back in discovery order (sorted by name), whichever worker read them
        assert result.files["source_file"].tolist() == sorted(
            ["凉山州_2013年上半年.xlsx", "昭觉县_2013年下半年.xlsx", "达州.csv", "坏文件.xlsx"])
        assert files.loc["坏文件.xlsx", "status"] == "unreadable"
        assert files.loc["凉山州_2013年上半年.xlsx", ["records_in", "clean"]].tolist() == [4, 4]
        assert files.loc["凉山州_2013年上半年.xlsx", "structure_rows"] == 3  # title, header, 合计


def test_workers_must_be_at_least_one(tmp_path):
    raw = tmp_path / "raw"
    _write_files(raw)
    with pytest.raises(ValueError, match="workers"):
        pipeline.clean([raw], progress=False, salt=b"s", workers=0)


def test_pool_size_defaults():
    assert _pool_size(10, None) == 1                  # few files: no pool
    assert _pool_size(3, 8) == 3                      # never more workers than files
    assert _pool_size(400, 1) == 1
    assert 1 <= _pool_size(400, None) <= MAX_WORKERS


def _sheet(rows, name="汇总"):
    width = max(len(r) for r in rows)
    return Sheet(name=name, cells=[list(r) + [""] * (width - len(r)) for r in rows],
                 file="凉山州.xlsx")


def test_column_lists_hold_every_data_cell_and_account_for_every_row():
    sheet = _sheet([
        ["凉山州2013年上半年基层团建工作统计表"],
        ["县（市、区）", "团员数（人）", "专职团干部数"],
        ["喜德县", 300, ""],
        ["昭觉县", "2000", 5],
        ["合计", 2300, 5],
        ["填表人：张三"],
    ])
    layout = detect_layout(sheet)
    cols, structure = _extract_columns(sheet, layout, "凉山州.xlsx")
    # the record columns, and the 0-based column of each record for the cell census
    assert list(cols) == RECORD_COLUMNS + ["source_col"]
    assert cols["source_cell"] == ["B3", "C3", "B4", "C4"]
    assert cols["source_col"] == [1, 2, 1, 2]
    assert cols["raw_value"] == [300, "", "2000", 5]             # as read; blanks kept
    assert cols["county_text"] == ["喜德县", "喜德县", "昭觉县", "昭觉县"]
    assert cols["indicator"] == ["league_members", "fulltime_cadres"] * 2
    assert cols["header_unit"] == ["人", None, "人", None]
    assert cols["record_id"] == ["凉山州.xlsx|汇总|3"] * 2 + ["凉山州.xlsx|汇总|4"] * 2
    assert [(row[2], row[3]) for row in structure] == [
        (1, "title"), (2, "header"), (5, "total"), (6, "footer")]
    # the DataFrame form is the same records
    frame, struct = extract_records(sheet, layout, "凉山州.xlsx")
    assert frame["source_cell"].tolist() == cols["source_cell"]
    assert struct["source_row"].tolist() == [1, 2, 5, 6]


def test_caches_keep_numbers_booleans_and_text_apart():
    # 1, 1.0 and True are equal as dict keys; cached readings must not mix them up
    assert parse_value("1", "count").value == 1
    assert parse_value(True, "count").status == "error"
    assert parse_value(1.0, "count").value == 1
    assert parse_value("是", "bool").value == 1
    assert parse_value("是", "count").status == "error"          # same text, other type
    assert parse_value("3000元", "money", unit="万元").value == pytest.approx(0.3)
    assert parse_value("3000元", "money", unit="元").value == 3000  # same text, other unit
    for _ in range(2):  # second call comes from the cache
        assert parse_period("截至2012年6月30日") == "2012H1"
        assert parse_period(2012.6) == "2012H1"
        assert parse_period("2008—2010年") is None
