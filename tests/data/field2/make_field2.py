"""Build the second independent test corpus (tests/data/field2/).

Every raw cell is written here literally; nothing is computed from the expected
values (expected.csv / expected_quarantine.csv are typed by hand beside the files).
The files are written deterministically (fixed zip timestamps and document
properties), then read back with openpyxl / xlrd / plain XML / plain decoding --
never with the package under test -- to check that the hand-typed expectations
point at real cells, name codes of the right code book and stay in catalog range.

    python tests/data/field2/make_field2.py          # build + self-check
    python tests/data/field2/make_field2.py --check  # self-check only
"""
from __future__ import annotations

import csv
import datetime as dt
import io
import re
import sys
import unicodedata
import zipfile
from pathlib import Path
from xml.etree import ElementTree as ET

HERE = Path(__file__).resolve().parent
REF = HERE.parents[2] / "data" / "reference"
FIXED_ZIP_TIME = (2013, 7, 10, 9, 0, 0)
FIXED_ISO = "2013-07-10T09:00:00Z"


# ----------------------------------------------------------------------------
# writing helpers
# ----------------------------------------------------------------------------
def _normalize_zip(path: Path, macro_enabled: bool = False) -> None:
    """Rewrite an OOXML zip with fixed timestamps and fixed document dates."""
    with zipfile.ZipFile(path) as z:
        items = [(i.filename, z.read(i.filename)) for i in z.infolist()]
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in items:
            if name == "docProps/core.xml":
                data = re.sub(rb"(<dcterms:created[^>]*>)[^<]*(</dcterms:created>)",
                              rb"\g<1>" + FIXED_ISO.encode() + rb"\g<2>", data)
                data = re.sub(rb"(<dcterms:modified[^>]*>)[^<]*(</dcterms:modified>)",
                              rb"\g<1>" + FIXED_ISO.encode() + rb"\g<2>", data)
            if macro_enabled and name == "[Content_Types].xml":
                data = data.replace(
                    b"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml",
                    b"application/vnd.ms-excel.sheet.macroEnabled.main+xml")
            info = zipfile.ZipInfo(name, date_time=FIXED_ZIP_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            z.writestr(info, data)
    path.write_bytes(out.getvalue())


def _new_wb():
    import openpyxl
    wb = openpyxl.Workbook()
    wb.properties.creator = "Administrator"
    wb.properties.lastModifiedBy = "Administrator"
    fixed = dt.datetime(2013, 7, 10, 9, 0, 0)
    wb.properties.created = fixed
    wb.properties.modified = fixed
    return wb


def _rows(ws, rows, top=1, left=1):
    """Write a literal block; None leaves the cell untouched."""
    for i, row in enumerate(rows):
        for j, v in enumerate(row):
            if v is not None:
                ws.cell(row=top + i, column=left + j, value=v)


def _box(ws, ref):
    """Thin borders over a rectangle (creates styled empty cells, as real forms have)."""
    from openpyxl.styles import Border, Side
    s = Side(style="thin")
    b = Border(left=s, right=s, top=s, bottom=s)
    for row in ws[ref]:
        for c in row:
            c.border = b


def _title(ws, ref, text):
    from openpyxl.styles import Alignment, Font
    first = ref.split(":")[0]
    ws[first] = text
    ws[first].font = Font(bold=True, size=14)
    ws[first].alignment = Alignment(horizontal="center")
    if ":" in ref:
        ws.merge_cells(ref)


def _save(wb, name, macro_enabled=False):
    path = HERE / name
    wb.save(path)
    _normalize_zip(path, macro_enabled=macro_enabled)
    return path


# ----------------------------------------------------------------------------
# F01  long export of a statistics system, legacy BIFF .xls (xlwt)
# ----------------------------------------------------------------------------
F01 = "团建统计系统导出_德阳市.xls"
F01_ROWS = [
    ["行政区划代码", "单位名称", "指标名称", "计量单位", "指标值", "统计期"],
    ["510603000000", "德阳市旌阳区", "基层团组织数", "个", 586, "2012年1-6月"],
    ["510603000000", "德阳市旌阳区", "团员数", "人", 18650, "2012年1-6月"],
    ["510603000000", "德阳市旌阳区", "新发展团员数", "人", 412, "2012年1-6月"],
    ["510603000000", "德阳市旌阳区", "团费收缴率", "%", 96.5, "2012年1-6月"],
    ["510603000000", "德阳市旌阳区", "县级团委年度工作经费", "万元", 42.0, "2012年1-6月"],
    ["510623000000", "德阳市中江县", "基层团组织数", "个", 1023, "2012年1-6月"],
    ["510623000000", "德阳市中江县", "团员数", "人", 36210, "2012年1-6月"],
    ["510623000000", "德阳市中江县", "新发展团员数", "人", 865, "2012年1-6月"],
    ["510623000000", "德阳市中江县", "团费收缴率", "%", 91.2, "2012年1-6月"],
    ["510623000000", "德阳市中江县", "县级团委年度工作经费", "万元", 38.5, "2012年1-6月"],
    ["510626000000", "德阳市罗江县", "基层团组织数", "个", 298, "2012年1-6月"],
    ["510626000000", "德阳市罗江县", "团员数", "人", 8734, "2012年1-6月"],
    ["510626000000", "德阳市罗江县", "新发展团员数", "人", 203, "2012年1-6月"],
    ["510626000000", "德阳市罗江县", "团费收缴率", "%", 94.0, "2012年1-6月"],
    ["510626000000", "德阳市罗江县", "县级团委年度工作经费", "万元", 16.8, "2012年1-6月"],
    ["510681000000", "德阳市广汉市", "基层团组织数", "个", 642, "2012年1-6月"],
    ["510681000000", "德阳市广汉市", "团员数", "人", 21387, "2012年1-6月"],
    ["510681000000", "德阳市广汉市", "新发展团员数", "人", 498, "2012年1-6月"],
    ["510681000000", "德阳市广汉市", "团费收缴率", "%", 97.3, "2012年1-6月"],
    ["510681000000", "德阳市广汉市", "县级团委年度工作经费", "万元", 40.2, "2012年1-6月"],
    ["510682000000", "德阳市什邡市", "基层团组织数", "个", 455, "2012年1-6月"],
    ["510682000000", "德阳市什邡市", "团员数", "人", 15022, "2012年1-6月"],
    ["510682000000", "德阳市什邡市", "新发展团员数", "人", 356, "2012年1-6月"],
    ["510682000000", "德阳市什邡市", "团费收缴率", "%", 95.8, "2012年1-6月"],
    ["510682000000", "德阳市什邡市", "县级团委年度工作经费", "万元", 35.0, "2012年1-6月"],
    ["510683000000", "德阳市绵竹市", "基层团组织数", "个", 517, "2012年1-6月"],
    ["510683000000", "德阳市绵竹市", "团员数", "人", 17416, "2012年1-6月"],
    ["510683000000", "德阳市绵竹市", "新发展团员数", "人", 389, "2012年1-6月"],
    ["510683000000", "德阳市绵竹市", "团费收缴率", "%", 93.6, "2012年1-6月"],
    ["510683000000", "德阳市绵竹市", "县级团委年度工作经费", "万元", 37.5, "2012年1-6月"],
    ["510603000000", "德阳市旌阳区", "基层团组织数", "个", 592, "2012年7-12月"],
    ["510603000000", "德阳市旌阳区", "团员数", "人", 18903, "2012年7-12月"],
    ["510603000000", "德阳市旌阳区", "新发展团员数", "人", 380, "2012年7-12月"],
    ["510603000000", "德阳市旌阳区", "团费收缴率", "%", 98.1, "2012年7-12月"],
    ["510603000000", "德阳市旌阳区", "县级团委年度工作经费", "万元", 42.0, "2012年7-12月"],
    ["510623000000", "德阳市中江县", "基层团组织数", "个", 1031, "2012年7-12月"],
    ["510623000000", "德阳市中江县", "团员数", "人", 36455, "2012年7-12月"],
    ["510623000000", "德阳市中江县", "新发展团员数", "人", 790, "2012年7-12月"],
    ["510623000000", "德阳市中江县", "团费收缴率", "%", 93.4, "2012年7-12月"],
    ["510623000000", "德阳市中江县", "县级团委年度工作经费", "万元", 38.5, "2012年7-12月"],
    ["510626000000", "德阳市罗江县", "基层团组织数", "个", 301, "2012年7-12月"],
    ["510626000000", "德阳市罗江县", "团员数", "人", 8820, "2012年7-12月"],
    ["510626000000", "德阳市罗江县", "新发展团员数", "人", 176, "2012年7-12月"],
    ["510626000000", "德阳市罗江县", "团费收缴率", "%", 95.5, "2012年7-12月"],
    ["510626000000", "德阳市罗江县", "县级团委年度工作经费", "万元", 16.8, "2012年7-12月"],
    ["510681000000", "德阳市广汉市", "基层团组织数", "个", 649, "2012年7-12月"],
    ["510681000000", "德阳市广汉市", "团员数", "人", 21566, "2012年7-12月"],
    ["510681000000", "德阳市广汉市", "新发展团员数", "人", 455, "2012年7-12月"],
    ["510681000000", "德阳市广汉市", "团费收缴率", "%", 98.0, "2012年7-12月"],
    ["510681000000", "德阳市广汉市", "县级团委年度工作经费", "万元", 40.2, "2012年7-12月"],
    ["510682000000", "德阳市什邡市", "基层团组织数", "个", 459, "2012年7-12月"],
    ["510682000000", "德阳市什邡市", "团员数", "人", 15140, "2012年7-12月"],
    ["510682000000", "德阳市什邡市", "新发展团员数", "人", 301, "2012年7-12月"],
    ["510682000000", "德阳市什邡市", "团费收缴率", "%", 96.7, "2012年7-12月"],
    ["510682000000", "德阳市什邡市", "县级团委年度工作经费", "万元", 35.0, "2012年7-12月"],
    ["510683000000", "德阳市绵竹市", "基层团组织数", "个", 522, "2012年7-12月"],
    ["510683000000", "德阳市绵竹市", "团员数", "人", 17583, "2012年7-12月"],
    ["510683000000", "德阳市绵竹市", "新发展团员数", "人", 362, "2012年7-12月"],
    ["510683000000", "德阳市绵竹市", "团费收缴率", "%", 94.9, "2012年7-12月"],
    ["510683000000", "德阳市绵竹市", "县级团委年度工作经费", "万元", 37.5, "2012年7-12月"],
]


def build_f01():
    import xlwt
    wb = xlwt.Workbook(encoding="utf-8")
    ws = wb.add_sheet("导出数据")
    for r, row in enumerate(F01_ROWS):
        for c, v in enumerate(row):
            ws.write(r, c, v)
    ws.col(0).width = 256 * 16
    ws.col(1).width = 256 * 16
    ws.col(2).width = 256 * 24
    wb.save(str(HERE / F01))


# ----------------------------------------------------------------------------
# F02  county form worded 项目 | 本期数 | 上年同期 | 备注
# ----------------------------------------------------------------------------
F02 = "旌阳区2012年上半年团建工作报表.xlsx"


def build_f02():
    wb = _new_wb()
    ws = wb.active
    ws.title = "Sheet1"
    _title(ws, "A1:D1", "共青团德阳市旌阳区委2012年上半年基层团建工作报表")
    _rows(ws, [
        ["填报单位：共青团德阳市旌阳区委（盖章）"],
        ["项目", "本期数", "上年同期", "备注"],
        ["一、基本情况"],
        ["青少年人数", 98650, 97120],
        ["乡镇（街道）数", 13, 13],
        ["规模以上非公企业数", 156, 142],
        ["二、组织建设"],
        ["团员数", 18560, 18022],
        ["已建团组织的规模以上非公企业数", 61, 48],
        ["经常性开展活动的乡镇（街道）团委数", 11, 9],
        ["三、团干部队伍"],
        ["团县委核定编制数", 6, 6],
        ["团县委实有在编人数", 7, 6, "含1名选调生到团区委挂职锻炼，经区编委同意"],
        ["配备团委书记的乡镇（街道）数", 13, 12],
        ["专职团干部数", 24, 22],
        ["兼职、挂职团干部数", 186, 171],
        ["培训基层团干部人次", 420, 365],
        ["四、党建带团建"],
        ["团组织负责人列席同级党委会议", "是", "是"],
        ["建立党建带团建联系会议制度", "是", "否", "2012年3月建立"],
        ["出台党建带团建相关文件数", 2, 1],
        ["团建工作纳入党委党建目标考评", "是", "是"],
        [],
        ["填表人：", None, "审核人："],
    ], top=2)
    _box(ws, "A3:D23")
    ws.column_dimensions["A"].width = 36
    ws.column_dimensions["D"].width = 40
    _save(wb, F02)


# ----------------------------------------------------------------------------
# F03  county form without any header row; county only in the title
# ----------------------------------------------------------------------------
F03 = "江安县团建统计表.xlsx"


def build_f03():
    wb = _new_wb()
    ws = wb.active
    ws.title = "Sheet1"
    _title(ws, "A1:B1", "共青团江安县委2013年上半年团建工作统计")
    _rows(ws, [
        ["青少年人数", 52360],
        ["乡镇（街道）数", 18],
        ["基层团组织数", 412],
        ["团员数", "9870人"],
        ["新发展团员数", 326],
        ["团费收缴率", "95%"],
        ["注册青年志愿者数", "约4200"],
        ["团县委核定编制数", 5],
        ["团县委实有在编人数", 5],
        ["配备团委书记的乡镇（街道）数", 18],
        ["专职团干部数", 21],
        ["新选配团干部数", 12],
        ["软弱涣散团组织数", 3],
        ["挖掘联系青年典型和青年能人数", 15],
        ["县级团委年度工作经费", "12.5万元"],
        [],
        ["填报日期：2013年7月5日"],
    ], top=2)
    _box(ws, "A2:B16")
    ws.column_dimensions["A"].width = 34
    _save(wb, F03)


# ----------------------------------------------------------------------------
# F04  one sheet per county (sheet name = county), period in the file name only
# ----------------------------------------------------------------------------
F04 = "雅安市2010年上半年团建工作统计.xlsx"
F04_SHEETS = [
    # sheet name, (基层团组织数, 团员数, 新发展团员数, 团县委核定编制数, 团县委实有在编人数)
    ("雨城区", (268, 9845, 231, 6, 6)),
    ("名山县", (205, 6120, 158, 5, 4)),
    ("荥经县", (142, 3980, 96, 4, 4)),
    ("汉源县", (310, 8210, 187, 5, 5)),
    ("石棉县", (156, 3655, 88, 4, 3)),
    ("天全县", (167, 3890, 102, 4, 4)),
    ("芦山县", (118, 2670, 71, 4, 4)),
    ("宝兴县", (79, 1520, 40, 3, 3)),
]


def build_f04():
    wb = _new_wb()
    first = True
    for name, v in F04_SHEETS:
        ws = wb.active if first else wb.create_sheet()
        first = False
        ws.title = name
        _title(ws, "A1:C1", "基层团建工作情况统计表")
        _rows(ws, [
            ["指标名称", "数值", "单位"],
            ["基层团组织数", v[0], "个"],
            ["团员数", v[1], "人"],
            ["新发展团员数", v[2], "人"],
            ["团县委核定编制数", v[3], "人"],
            ["团县委实有在编人数", v[4], "人"],
        ], top=2)
        _box(ws, "A2:C7")
        ws.column_dimensions["A"].width = 24
    _save(wb, F04)


# ----------------------------------------------------------------------------
# F05  provincial table: 市（州） on the first county of each group only,
#      行政区划代码 + name, unlabelled subtotal rows, 合计 at the bottom
# ----------------------------------------------------------------------------
F05 = "川东北片区县级团委基本情况统计表（2013年下半年）.xlsx"
F05_SUBTOTALS = {13: (4, 12), 20: (14, 19), 26: (21, 25)}


def build_f05():
    wb = _new_wb()
    ws = wb.active
    ws.title = "汇总"
    _title(ws, "A1:F1", "川东北片区县级团委基本情况统计表（2013年下半年）")
    _rows(ws, [
        ["单位：人、个"],
        ["市（州）", "行政区划代码", "县（市、区）", "青少年人数", "团员数", "新建团组织数"],
        ["南充市", 511302, "顺庆区", 152300, 21560, 38],
        [None, 511303, "高坪区", 128750, 17320, 29],
        [None, 511304, "嘉陵区", 131200, 16450, 31],
        [None, 511321, "南部县", 248600, 30120, 52],
        [None, 511322, "营山县", 187400, 22870, 44],
        [None, 511323, "蓬安县", 149800, 18630, 35],
        [None, 511324, "仪陇县", 221500, 26410, 47],
        [None, 511325, "西充县", 117600, 14980, 27],
        [None, 511381, "阆中市", 173900, 21770, 40],
        [None, None, None, 1511050, 190110, 343],
        ["广安市", 511602, "广安区", 186500, 23140, 41],
        [None, 511603, "前锋区", 62300, 7810, 15],
        [None, 511621, "岳池县", 203700, 24960, 46],
        [None, 511622, "武胜县", 142800, 17650, 33],
        [None, 511623, "邻水县", 181200, 21980, 39],
        [None, 511681, "华蓥市", 71600, 9230, 18],
        [None, None, None, 848100, 104770, 192],
        ["巴中市", 511902, "巴州区", 165400, 19870, 37],
        [None, 511903, "恩阳区", 104600, 11920, 24],
        [None, 511921, "通江县", 152900, 17340, 34],
        [None, 511922, "南江县", 138700, 16210, 30],
        [None, 511923, "平昌县", 176300, 20460, 39],
        [None, None, None, 737900, 85800, 164],
        ["合计", None, None, 3097050, 380680, 699],
        [],
        ["填表人：", None, "审核人：", None, "填报日期：2014年1月10日"],
    ], top=2)
    _box(ws, "A3:F27")
    _save(wb, F05)


# ----------------------------------------------------------------------------
# F06  two tables side by side (A:E and G:K), separated by an empty column F
# ----------------------------------------------------------------------------
F06 = "自贡市2012年下半年团建统计.xlsx"


def build_f06():
    wb = _new_wb()
    ws = wb.active
    ws.title = "Sheet1"
    _title(ws, "A1:K1", "自贡市2012年下半年基层团建工作统计表")
    _rows(ws, [["填报单位：共青团自贡市委"]], top=2)
    _title(ws, "A3:E3", "一、组织活力")
    _title(ws, "G3:K3", "二、团干部配备")
    _rows(ws, [
        ["县（区）", "基层团组织数", "团员数", "新发展团员数", "团费收缴率（%）"],
        ["自流井区", 236, 9120, 188, 97.5],
        ["贡井区", 198, 7340, 154, 95.2],
        ["大安区", 221, 8015, 167, 96.0],
        ["沿滩区", 185, 6890, 142, 94.3],
        ["荣县", 402, 15870, 331, 103.5],
        ["富顺县", 467, 19230, 395, 92.8],
    ], top=4, left=1)
    _rows(ws, [
        ["县（区）", "团县委核定编制数", "团县委实有在编人数", "专职团干部数", "新选配团干部数"],
        ["自流井区", 6, 6, 19, 8],
        ["贡井区", 5, 5, 15, 6],
        ["大安区", 5, 4, 17, 7],
        ["沿滩区", 5, 5, 14, 5],
        ["荣县", 6, 6, 26, 11],
        ["富顺县", 7, 7, 31, 13],
    ], top=4, left=7)
    _box(ws, "A4:E10")
    _box(ws, "G4:K10")
    _save(wb, F06)


# ----------------------------------------------------------------------------
# F07  table pasted from a printout: 合计 right under the header, header repeated
# ----------------------------------------------------------------------------
F07 = "凉山州2012年上半年各县市团建工作统计表.xlsx"
F07_HEADER = ["序号", "县（市）", "乡镇（街道）数", "基层团组织数", "配备团委书记的乡镇（街道）数"]


def build_f07():
    wb = _new_wb()
    ws = wb.active
    ws.title = "Sheet1"
    _title(ws, "A1:E1", "凉山州2012年上半年各县（市）团建工作统计表")
    _rows(ws, [
        ["填报单位：共青团凉山州委"],
        F07_HEADER,
        [None, "合计", 612, 4069, 535],
        [1, "西昌市", 37, 612, 37],
        [2, "木里县", 29, 168, 26],
        [3, "盐源县", 34, 245, 31],
        [4, "德昌县", 23, 196, 23],
        [5, "会理县", 51, 402, 49],
        [6, "会东县", 53, 356, 50],
        [7, "宁南县", 25, 187, 25],
        [8, "普格县", 34, 174, 30],
        [9, "布拖县", 30, 151, 27],
        F07_HEADER,
        [10, "金阳县", 34, 162, "—"],
        [11, "昭觉县", 47, 218, 41],
        [12, "喜德县", 24, 149, 22],
        [13, "冕宁县", 38, 263, 36],
        [14, "越西县", 41, 230, 38],
        [15, "甘洛县", 28, 171, 26],
        [16, "美姑县", 36, 160, 30],
        [17, "雷波县", 48, 225, 44],
    ], top=2)
    _box(ws, "A3:E22")
    _save(wb, F07)


# ----------------------------------------------------------------------------
# F08  round-1 wording (synonyms_round1), 2009年下半年, names valid then
# ----------------------------------------------------------------------------
F08 = "第一轮驻点工作第三批县级团委基本情况统计表.xlsx"


def build_f08():
    wb = _new_wb()
    ws = wb.active
    ws.title = "Sheet1"
    _title(ws, "A1:G1", "全省第一轮驻点工作第三批县级团委基本情况统计表")
    _rows(ws, [
        ["统计时段：2009年下半年"],
        ["序号", "市（州）", "县（市、区）", "青少年总数", "共青团员数", "发展团员数", "团委书记列席党委会议"],
        [1, "宜宾市", "翠屏区", 168400, 24310, 612, "是"],
        [2, "宜宾市", "宜宾县", 213900, 27650, 705, "是"],
        [3, "宜宾市", "南溪县", 82100, 10240, 268, "否"],
        [4, "宜宾市", "江安县", 98300, 11870, 301, "是"],
        [5, "宜宾市", "长宁县", 87600, 10960, 277, "是"],
        [6, "宜宾市", "高县", 96200, 11520, 289, "否"],
        [7, "宜宾市", "珙县", 88900, 10610, 254, "是"],
        [8, "宜宾市", "筠连县", 76500, 8930, 221, "无"],
        [9, "宜宾市", "兴文县", 84300, 9870, 243, "是"],
        [10, "宜宾市", "屏山县", 58700, 6420, 176, "否"],
        [11, "广元市", "市中区", 104600, 15230, 402, "是"],
        [12, "广元市", "元坝区", 41800, 4960, 133, "否"],
        [13, "广元市", "朝天区", 38700, 4510, 121, "否"],
        [14, "广元市", "旺苍县", 86900, 10230, 287, "是"],
        [15, "广元市", "青川县", 47300, 5320, 148, "是"],
        [16, "广元市", "剑阁县", 127400, 14890, 395, "是"],
        [17, "广元市", "苍溪县", 150200, 17360, 448, "是"],
    ], top=2)
    _box(ws, "A3:G20")
    _save(wb, F08)


# ----------------------------------------------------------------------------
# F09a 横表 with a two-level header (prefecture merged over its counties)
# ----------------------------------------------------------------------------
F09A = "成都眉山片区2012年下半年团建工作统计（横表）.xlsx"


def build_f09a():
    wb = _new_wb()
    ws = wb.active
    ws.title = "Sheet1"
    _title(ws, "A1:J1", "成都、眉山片区2012年下半年团建工作统计表")
    _rows(ws, [["单位：个、人、万元"]], top=2)
    ws["A3"] = "指标"
    ws.merge_cells("A3:A4")
    ws["B3"] = "单位"
    ws.merge_cells("B3:B4")
    ws["C3"] = "成都市"
    ws.merge_cells("C3:F3")
    ws["G3"] = "眉山市"
    ws.merge_cells("G3:J3")
    _rows(ws, [
        ["金堂县", "大邑县", "蒲江县", "新津县", "仁寿县", "彭山县", "洪雅县", "丹棱县"],
    ], top=4, left=3)
    _rows(ws, [
        ["乡镇（街道）数", "个", 21, 20, 12, 12, 60, 14, 15, 12],
        ["配备团委书记的乡镇（街道）数", "个", 21, 19, 12, 12, 58, 14, 17, 11],
        ["工作经费纳入县级财政预算的乡镇（街道）数", "个", 18, 15, 10, 12, 41, 12, 13, 9],
        ["专职团干部数", "人", 34, 28, 16, 18, 72, 19, 21, 14],
        ["县级团委年度工作经费", "万元", 45.0, 32.5, 18.0, 26.0, 55.0, 20.0, 22.5, 15.0],
    ], top=5)
    _box(ws, "A3:J9")
    ws.column_dimensions["A"].width = 40
    _save(wb, F09A)


# ----------------------------------------------------------------------------
# F09b 横表: 序号 in A, indicator in B, counties C:K, 合计 L, 备注 M
# ----------------------------------------------------------------------------
F09B = "绵阳市2013年上半年团建工作统计（横表）.xlsx"


def build_f09b():
    wb = _new_wb()
    ws = wb.active
    ws.title = "Sheet1"
    _title(ws, "A1:M1", "绵阳市2013年上半年团建工作统计表")
    ws["A2"] = "填报单位：共青团绵阳市委"
    ws["K2"] = "截至2013年6月30日"
    _rows(ws, [
        ["序号", "指标", "涪城区", "游仙区", "三台县", "盐亭县", "安县", "梓潼县", "北川县", "平武县", "江油市", "合计", "备注"],
        [1, "基层团组织数", 386, 294, 702, 318, 289, 267, 184, 162, 654, 3256, None],
        [2, "规模以上非公企业数", 214, 96, 58, 21, 47, 19, 12, 8, 133, 608, None],
        [3, "已建团组织的规模以上非公企业数", 88, 37, 19, 6, 15, 5, 3, 2, 52, 227, "北川县、平武县规模以上非公企业较少"],
        [4, "注册青年志愿者数", 18450, 9320, 12870, 4210, 5630, 3980, 6740, 2150, 14320, 77670, "北川县含灾后重建期间注册的外地志愿者"],
    ], top=3)
    _box(ws, "A3:M7")
    ws.column_dimensions["B"].width = 32
    _save(wb, F09B)


# ----------------------------------------------------------------------------
# F10  two rows per county (上半年/下半年), county cell merged over both, 时期 column
# ----------------------------------------------------------------------------
F10 = "内江市团建工作半年统计表.xlsx"


def build_f10():
    wb = _new_wb()
    ws = wb.active
    ws.title = "Sheet1"
    _title(ws, "A1:F1", "内江市各县（市、区）团建工作半年统计表")
    _rows(ws, [
        ["填报单位：共青团内江市委"],
        ["县（市、区）", "时期", "团员数", "新发展团员数", "新建团组织数", "团费收缴率（%）"],
        ["市中区", "2012年上半年", 11230, 265, 14, 95.6],
        [None, "2012年下半年", 11410, 238, 11, 97.2],
        ["东兴区", "2012年上半年", 17650, 402, 21, 93.8],
        [None, "2012年下半年", 17890, 377, 18, 96.1],
        ["威远县", "2012年上半年", 16980, 389, 19, 94.5],
        [None, "2012年下半年", 17205, 351, 16, 95.9],
        ["资中县", "2012年上半年", 25340, 587, 27, 92.1],
        [None, "2012年下半年", 25690, 540, 24, 94.7],
        ["隆昌县", "2012年上半年", 14520, 331, 17, 96.3],
        [None, "2012年下半年", 14710, 298, 15, 97.8],
    ], top=2)
    for r in (4, 6, 8, 10, 12):
        ws.merge_cells(f"A{r}:A{r + 1}")
    _box(ws, "A3:F13")
    _save(wb, F10)


# ----------------------------------------------------------------------------
# F11a macro-enabled workbook name (.xlsm, no macros), ordinary summary table
# ----------------------------------------------------------------------------
F11A = "遂宁市2013年下半年基层团建工作汇总表.xlsm"


def build_f11a():
    wb = _new_wb()
    ws = wb.active
    ws.title = "汇总表"
    _title(ws, "A1:G1", "遂宁市2013年下半年基层团建工作汇总表")
    ws["A2"] = "填报单位：共青团遂宁市委（盖章）"
    ws["E2"] = "截至2013年12月31日"
    _rows(ws, [
        ["县（区）", "基层团组织数", "团员数", "软弱涣散团组织数", "挖掘联系青年典型和青年能人数",
         "建立党建带团建联系会议制度", "团建工作纳入党委党建目标考评"],
        ["船山区", 412, 16870, 4, 23, "是", "是"],
        ["安居区", 356, 13420, 6, 18, "是", "否"],
        ["蓬溪县", 389, 14650, 5, 20, "否", "是"],
        ["射洪县", 521, 21380, 3, 27, "是", "是"],
        ["大英县", 247, 9120, 2, 14, "是", "是"],
        ["合计", 1925, 75440, 20, 102, None, None],
        [],
        ["填表人：", None, "审核人：", None, "联系电话："],
    ], top=3)
    _box(ws, "A3:G9")
    _save(wb, F11A, macro_enabled=True)


# ----------------------------------------------------------------------------
# F11b OpenDocument spreadsheet written by hand (zip + content.xml)
# ----------------------------------------------------------------------------
F11B = "攀枝花市2013年上半年团建工作汇总表.ods"
F11B_ROWS = [
    ["攀枝花市2013年上半年团建工作汇总表"],
    ["单位：人、元"],
    ["县（区）", "青少年人数", "团员数", "新发展团员数", "专职团干部数", "兼职、挂职团干部数",
     "县级团委年度工作经费（元）"],
    ["东区", 68200, 9870, 203, 14, 86, 185000],
    ["西区", 31500, 4120, 97, 9, 45, 120000],
    ["仁和区", 52300, 6340, 151, 12, 73, 160000],
    ["米易县", 44800, 5260, 128, 11, 64, 135000],
    ["盐边县", 39600, 4690, 112, 10, 58, 150000],
    ["合计", 236400, 30280, 691, 56, 326, 750000],
]

_ODS_NS = ('xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
           'xmlns:style="urn:oasis:names:tc:opendocument:xmlns:style:1.0" '
           'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" '
           'xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" '
           'xmlns:fo="urn:oasis:names:tc:opendocument:xmlns:xsl-fo-compatible:1.0" '
           'xmlns:meta="urn:oasis:names:tc:opendocument:xmlns:meta:1.0" '
           'xmlns:dc="http://purl.org/dc/elements/1.1/"')


def _xml_escape(s: str) -> str:
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")


def build_f11b():
    ncol = 7
    rows_xml = []
    for i, row in enumerate(F11B_ROWS):
        cells = []
        if i == 0:  # title spanning all columns
            cells.append(f'<table:table-cell office:value-type="string" table:number-columns-spanned="{ncol}">'
                         f'<text:p>{_xml_escape(row[0])}</text:p></table:table-cell>'
                         f'<table:covered-table-cell table:number-columns-repeated="{ncol - 1}"/>')
        else:
            for v in row:
                if isinstance(v, str):
                    cells.append(f'<table:table-cell office:value-type="string"><text:p>{_xml_escape(v)}</text:p></table:table-cell>')
                else:
                    cells.append(f'<table:table-cell office:value-type="float" office:value="{v}"><text:p>{v}</text:p></table:table-cell>')
            if len(row) < ncol:
                cells.append(f'<table:table-cell table:number-columns-repeated="{ncol - len(row)}"/>')
        rows_xml.append("<table:table-row>" + "".join(cells) + "</table:table-row>")
    content = ('<?xml version="1.0" encoding="UTF-8"?>\n'
               f'<office:document-content {_ODS_NS} office:version="1.2">'
               '<office:automatic-styles/>'
               '<office:body><office:spreadsheet>'
               '<table:table table:name="汇总表">'
               f'<table:table-column table:number-columns-repeated="{ncol}"/>'
               + "".join(rows_xml) +
               '</table:table></office:spreadsheet></office:body></office:document-content>')
    styles = ('<?xml version="1.0" encoding="UTF-8"?>\n'
              f'<office:document-styles {_ODS_NS} office:version="1.2"><office:styles/></office:document-styles>')
    meta = ('<?xml version="1.0" encoding="UTF-8"?>\n'
            f'<office:document-meta {_ODS_NS} office:version="1.2"><office:meta>'
            '<meta:generator>WPS Office</meta:generator>'
            f'<meta:creation-date>{FIXED_ISO[:-1]}</meta:creation-date>'
            f'<dc:date>{FIXED_ISO[:-1]}</dc:date>'
            '</office:meta></office:document-meta>')
    manifest = ('<?xml version="1.0" encoding="UTF-8"?>\n'
                '<manifest:manifest xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0" manifest:version="1.2">'
                '<manifest:file-entry manifest:full-path="/" manifest:version="1.2" '
                'manifest:media-type="application/vnd.oasis.opendocument.spreadsheet"/>'
                '<manifest:file-entry manifest:full-path="content.xml" manifest:media-type="text/xml"/>'
                '<manifest:file-entry manifest:full-path="styles.xml" manifest:media-type="text/xml"/>'
                '<manifest:file-entry manifest:full-path="meta.xml" manifest:media-type="text/xml"/>'
                '</manifest:manifest>')
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        info = zipfile.ZipInfo("mimetype", date_time=FIXED_ZIP_TIME)
        info.compress_type = zipfile.ZIP_STORED
        z.writestr(info, "application/vnd.oasis.opendocument.spreadsheet")
        for name, data in (("content.xml", content), ("styles.xml", styles), ("meta.xml", meta),
                           ("META-INF/manifest.xml", manifest)):
            info = zipfile.ZipInfo(name, date_time=FIXED_ZIP_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            z.writestr(info, data.encode("utf-8"))
    (HERE / F11B).write_bytes(out.getvalue())


# ----------------------------------------------------------------------------
# F12  CSV: semicolons, UTF-8 BOM, CRLF, quoted remarks with commas, trailing
#      empty column, two note lines after the table
# ----------------------------------------------------------------------------
F12 = "乐山市2012年上半年团建数据.csv"
F12_LINES = [
    '所属市州;县（市、区）;基层团组织数;团员数;新发展团员数;团费收缴率;备注;',
    '乐山市;市中区;486;19870;455;96.2;;',
    '乐山市;沙湾区;152;5230;121;94.8;;',
    '乐山市;五通桥区;214;7640;176;95.5;;',
    '乐山市;金口河区;58;1320;34;91.0;"含永和镇、和平乡等,已核实";',
    '乐山市;犍为县;398;14260;331;93.7;;',
    '乐山市;井研县;221;7980;189;95.1;;',
    '乐山市;夹江县;236;8420;198;96.6;;',
    '乐山市;沐川县;167;5310;130;92.4;;',
    '乐山市;峨边县;121;3480;92;/;"团费收缴率未统计;下期补报";',
    '乐山市;马边县;134;3960;101;90.5;;',
    '乐山市;峨眉山市;312;11240;264;97.9;"含峨眉山景区管委会团工委,数据已并入";',
    '乐山市;乐山高新区;36;1840;47;98.0;"高新区单独报送,请市团委核定";',
    '注：1.团费收缴率单位为%，峨边县团费收缴率未统计。',
    '2.数据截至2012年6月30日。',
]


def build_f12():
    text = "\r\n".join(F12_LINES) + "\r\n"
    (HERE / F12).write_bytes(b"\xef\xbb\xbf" + text.encode("utf-8"))


# ----------------------------------------------------------------------------
# F13  messy values: spaces, full-width digits, 1.2万, -0, shares in a % column,
#      an error cell, real date cells in the period column
# ----------------------------------------------------------------------------
F13 = "资阳市团建统计（系统录入）.xlsx"


def build_f13():
    wb = _new_wb()
    ws = wb.active
    ws.title = "Sheet1"
    h1 = dt.datetime(2013, 6, 30)
    h2 = dt.datetime(2013, 12, 31)
    _rows(ws, [
        ["统计时间", "县（市、区）", "团员数", "新发展团员数", "注册青年志愿者数", "团费收缴率（%）", "专职团干部数"],
        [h1, "雁江区", " 15632 ", 356, 8420, 0.962, 23],
        [h1, "安岳县", "３２１０５", 734, 11250, 0.935, 31],
        [h1, "乐至县", 16870, 402, "1.2万", 0.948, 19],
        [h1, "简阳市", 38420, "　８６５　", 15630, 0.917, 35],
        [h2, "雁江区", 15810, "-0", 8695, 0.971, 23],
        [h2, "安岳县", 32340, 688, 11620, 0.952, 31],
        [h2, "乐至县", 17045, 371, 12360, "#DIV/0!", 19],
        [h2, "简阳市", 38690, 812, 16120, 0.933, 36],
    ])
    for r in range(2, 10):
        ws.cell(row=r, column=1).number_format = "yyyy-mm-dd"
    ws.column_dimensions["A"].width = 12
    _save(wb, F13)


# ----------------------------------------------------------------------------
# F14  empty template: headers and county names, no values at all
# ----------------------------------------------------------------------------
F14 = "阿坝州2013年下半年团建工作统计表（空表）.xlsx"


def build_f14():
    wb = _new_wb()
    ws = wb.active
    ws.title = "Sheet1"
    _title(ws, "A1:C1", "阿坝州2013年下半年团建工作统计表")
    _rows(ws, [
        ["填报单位："],
        ["县（市）", "团员数", "基层团组织数"],
        ["汶川县"], ["理县"], ["茂县"], ["松潘县"], ["九寨沟县"], ["金川县"], ["小金县"],
        ["黑水县"], ["马尔康县"], ["壤塘县"], ["阿坝县"], ["若尔盖县"], ["红原县"],
        ["合计"],
        [],
        ["填表人：", "联系电话：", "填报日期："],
    ], top=2)
    _box(ws, "A3:C17")
    _save(wb, F14)


# ----------------------------------------------------------------------------
# F15  ordinary table plus stray numbers: a 2x2 scratch block and a lone number
# ----------------------------------------------------------------------------
F15 = "达州市2012年上半年团建工作统计.xlsx"


def build_f15():
    wb = _new_wb()
    ws = wb.active
    ws.title = "Sheet1"
    _title(ws, "A1:E1", "达州市2012年上半年团建工作统计表")
    _rows(ws, [
        ["填报单位：共青团达州市委"],
        ["县（市、区）", "基层团组织数", "团员数", "新发展团员数", "新建团组织数"],
        ["通川区", 284, 12360, 298, 12],
        ["达县", 512, 25470, 603, 26],
        ["宣汉县", 598, 28910, 671, 31],
        ["开江县", 231, 9870, 229, 10],
        ["大竹县", 487, 22650, 534, 23],
        ["渠县", 562, 27140, 640, 28],
        ["万源市", 305, 11230, 262, 13],
        ["合计", 2979, 137630, 3237, 143],
    ], top=2)
    _box(ws, "A3:E11")
    # a clerk's scratch copy of four numbers, far to the right, no labels
    _rows(ws, [[512, 598], [487, 562]], top=13, left=10)
    # a lone number with nothing around it
    ws["H18"] = 7
    _save(wb, F15)


# ----------------------------------------------------------------------------
# F16  whole year: the period is only in the sheet name 2012年全年
# ----------------------------------------------------------------------------
F16 = "泸州市团建统计.xlsx"


def build_f16():
    wb = _new_wb()
    ws = wb.active
    ws.title = "2012年全年"
    _title(ws, "A1:H1", "泸州市各县（区）团建工作统计表")
    _rows(ws, [
        ["填报单位：共青团泸州市委"],
        ["县（区）", "团员数", "基层团组织数", "团县委核定编制数", "县级团委年度工作经费（万元）",
         "新发展团员数", "新建团组织数", "培训基层团干部人次"],
        ["江阳区", 14560, 342, 6, 38.0, 612, 25, 540],
        ["纳溪区", 9870, 256, 5, 24.0, 421, 18, 380],
        ["龙马潭区", 11230, 271, 5, 30.0, 498, 20, 410],
        ["泸县", 27650, 598, 7, 42.0, 1105, 41, 860],
        ["合江县", 23410, 532, 6, 36.5, 948, 37, 720],
        ["叙永县", 19870, 487, 6, 31.0, 812, 33, 655],
        ["古蔺县", 21340, 512, 6, 33.5, 876, 35, 690],
    ], top=2)
    _box(ws, "A3:H10")
    _save(wb, F16)


# ----------------------------------------------------------------------------
# F17  period contradiction: file name says 下半年, title says 上半年
# ----------------------------------------------------------------------------
F17 = "宣汉县2013年下半年团建工作报表.xlsx"


def build_f17():
    wb = _new_wb()
    ws = wb.active
    ws.title = "Sheet1"
    _title(ws, "A1:D1", "共青团宣汉县委2013年上半年团建工作报表")
    _rows(ws, [
        ["填报单位：共青团宣汉县委"],
        ["指标", "数值", "单位", "备注"],
        ["基层团组织数", 603, "个"],
        ["团员数", 29340, "人"],
        ["新发展团员数", 655, "人"],
        ["专职团干部数", 28, "人"],
        ["团县委核定编制数", 6, "人"],
        ["团县委实有在编人数", 6, "人"],
    ], top=2)
    _box(ws, "A3:D9")
    _save(wb, F17)


BUILDERS = [build_f01, build_f02, build_f03, build_f04, build_f05, build_f06, build_f07,
            build_f08, build_f09a, build_f09b, build_f10, build_f11a, build_f11b, build_f12,
            build_f13, build_f14, build_f15, build_f16, build_f17]


# ----------------------------------------------------------------------------
# self-check: read back with openpyxl / xlrd / XML / plain decoding only
# ----------------------------------------------------------------------------
PLACEHOLDERS = {"", "—", "-", "/", "无", "暂无", "未填"}
QUARANTINE_RULES = {
    "duplicate_conflict", "above_max", "below_min", "part_exceeds_total", "county_unknown",
    "not_a_number", "excel_error", "cell_unplaced", "period_not_half_year",
    "period_contradiction", "filled_exceeds_authorized", "not_integer",
}


def _col_letters(n: int) -> str:
    s = ""
    while n:
        n, r = divmod(n - 1, 26)
        s = chr(65 + r) + s
    return s


def read_grid(path: Path):
    """{sheet: ({ref: value}, set_of_existing_refs)}; CSV sheet is ''."""
    suffix = path.suffix.lower()
    out = {}
    if suffix in (".xlsx", ".xlsm"):
        import openpyxl
        wb = openpyxl.load_workbook(path)
        for ws in wb.worksheets:
            vals, exist = {}, set()
            for (r, c), cell in ws._cells.items():
                ref = f"{_col_letters(c)}{r}"
                exist.add(ref)
                if cell.value is not None:
                    vals[ref] = cell.value
            out[ws.title] = (vals, exist)
    elif suffix == ".xls":
        import xlrd
        book = xlrd.open_workbook(str(path))
        for sh in book.sheets():
            vals, exist = {}, set()
            for r in range(sh.nrows):
                for c in range(sh.ncols):
                    ref = f"{_col_letters(c + 1)}{r + 1}"
                    exist.add(ref)
                    cell = sh.cell(r, c)
                    if cell.ctype != xlrd.XL_CELL_EMPTY:
                        vals[ref] = cell.value
            out[sh.name] = (vals, exist)
    elif suffix == ".ods":
        ns = {"table": "urn:oasis:names:tc:opendocument:xmlns:table:1.0",
              "office": "urn:oasis:names:tc:opendocument:xmlns:office:1.0",
              "text": "urn:oasis:names:tc:opendocument:xmlns:text:1.0"}
        with zipfile.ZipFile(path) as z:
            assert z.infolist()[0].filename == "mimetype"
            root = ET.fromstring(z.read("content.xml"))
        for t in root.iter(f"{{{ns['table']}}}table"):
            vals, exist = {}, set()
            for r, row in enumerate(t.findall("table:table-row", ns), start=1):
                c = 1
                for cell in row:
                    rep = int(cell.get(f"{{{ns['table']}}}number-columns-repeated", "1"))
                    for _ in range(rep):
                        ref = f"{_col_letters(c)}{r}"
                        exist.add(ref)
                        if cell.tag.endswith("}table-cell"):
                            vt = cell.get(f"{{{ns['office']}}}value-type")
                            if vt == "float":
                                vals[ref] = float(cell.get(f"{{{ns['office']}}}value"))
                            elif vt == "string":
                                vals[ref] = "".join(p.text or "" for p in cell.findall("text:p", ns))
                        c += 1
            out[t.get(f"{{{ns['table']}}}name")] = (vals, exist)
    elif suffix == ".csv":
        raw = path.read_bytes()
        text = raw.decode("utf-8-sig")
        vals, exist = {}, set()
        for r, line in enumerate(text.split("\r\n"), start=1):
            if not line:
                continue
            fields = next(csv.reader([line], delimiter=";"))
            for c, f in enumerate(fields, start=1):
                ref = f"{_col_letters(c)}{r}"
                exist.add(ref)
                if f != "":
                    vals[ref] = f
        out[""] = (vals, exist)
    else:
        raise ValueError(path)
    return out


def _load_csv(path: Path, header):
    with open(path, encoding="utf-8", newline="") as f:
        rows = list(csv.reader(f))
    assert rows and rows[0] == header, (path.name, rows[:1])
    return [dict(zip(header, r)) for r in rows[1:]]


def _candidates(raw):
    """Independent, deliberately simple readings of a raw cell (for the check only)."""
    if isinstance(raw, bool):
        return set()
    if isinstance(raw, (int, float)):
        x = float(raw)
        return {round(x, 6), round(x * 100, 6), round(x / 10000, 6)}
    s = unicodedata.normalize("NFKC", str(raw)).strip()
    if s in ("是", "有", "√", "已建立"):
        return {1.0}
    if s in ("否", "无", "×", "未建立"):
        return {0.0}
    s = re.sub(r"^约", "", s)
    s = re.sub(r"(万元|人次|人|个|件|%)$", "", s)
    try:
        return {round(float(s), 6) + 0.0}
    except ValueError:
        return set()


def self_check() -> int:
    errors = []
    units = {}
    with open(REF / "units.csv", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            units.setdefault(row["vintage"], {})[row["code"]] = row["name"]
    catalog = {}
    with open(REF / "indicators.csv", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            catalog[row["code"]] = row
    grids = {}

    def cell(file, sheet, ref):
        if file not in grids:
            p = HERE / file
            if not p.exists():
                errors.append(f"missing file {file}")
                grids[file] = {}
            else:
                grids[file] = read_grid(p)
        g = grids[file]
        if sheet not in g:
            errors.append(f"{file}: no sheet {sheet!r}")
            return None, False
        vals, exist = g[sheet]
        return vals.get(ref), (ref in exist or ref in vals)

    expected = _load_csv(HERE / "expected.csv",
                         ["file", "sheet", "cell", "county_code", "period", "indicator", "value"])
    seen = {}
    n_empty = 0
    for i, e in enumerate(expected, start=2):
        raw, exists = cell(e["file"], e["sheet"], e["cell"])
        where = f"expected.csv:{i} {e['file']}!{e['sheet']}!{e['cell']}"
        m = re.fullmatch(r"(\d{4})H([12])", e["period"])
        if not m:
            errors.append(f"{where}: bad period {e['period']}")
            continue
        vintage = m.group(1)
        if e["county_code"] not in units.get(vintage, {}):
            errors.append(f"{where}: code {e['county_code']} not in the {vintage} code book")
        key = (e["county_code"], e["period"], e["indicator"])
        if key in seen:
            errors.append(f"{where}: duplicate of expected.csv:{seen[key]} {key}")
        seen[key] = i
        cat = catalog.get(e["indicator"])
        if cat is None or cat["kind"] != "raw":
            errors.append(f"{where}: unknown indicator {e['indicator']}")
            continue
        if e["value"] == "":
            n_empty += 1
            if not exists:
                errors.append(f"{where}: blank-missing expectation on a cell that does not exist")
            elif raw is not None and str(raw).strip() not in PLACEHOLDERS:
                errors.append(f"{where}: empty expectation but raw {raw!r}")
            continue
        if raw is None or (isinstance(raw, str) and raw.strip() == ""):
            errors.append(f"{where}: expected value on an empty cell")
            continue
        v = float(e["value"])
        if not (float(cat["min"]) <= v <= float(cat["max"])):
            errors.append(f"{where}: {v} outside [{cat['min']}, {cat['max']}]")
        if cat["integer"] == "1" and v != int(v):
            errors.append(f"{where}: {v} not an integer")
        if round(v, 6) not in _candidates(raw):
            errors.append(f"{where}: raw {raw!r} does not read as {v}")

    quarantine = _load_csv(HERE / "expected_quarantine.csv", ["file", "sheet", "cell", "rule"])
    qseen = set()
    for i, q in enumerate(quarantine, start=2):
        raw, exists = cell(q["file"], q["sheet"], q["cell"])
        where = f"expected_quarantine.csv:{i} {q['file']}!{q['sheet']}!{q['cell']}"
        if raw is None or str(raw).strip() == "":
            errors.append(f"{where}: quarantine expectation on an empty cell")
        if q["rule"] not in QUARANTINE_RULES:
            errors.append(f"{where}: unknown rule {q['rule']}")
        k = (q["file"], q["sheet"], q["cell"])
        if k in qseen:
            errors.append(f"{where}: listed twice")
        qseen.add(k)
    for e in expected:
        if (e["file"], e["sheet"], e["cell"]) in qseen:
            errors.append(f"{e['file']}!{e['cell']} is both clean and quarantined")

    # totals written literally must add up (they are structure, never expected values)
    def num(file, sheet, ref):
        v, _ = cell(file, sheet, ref)
        return v

    def check_sum(file, sheet, total_ref, refs):
        s = sum(num(file, sheet, r) for r in refs)
        t = num(file, sheet, total_ref)
        if abs(s - t) > 1e-6:
            errors.append(f"{file}!{total_ref}: total {t} != sum {s}")

    for col in "DEF":
        for tot, (a, b) in F05_SUBTOTALS.items():
            check_sum(F05, "汇总", f"{col}{tot}", [f"{col}{r}" for r in range(a, b + 1)])
        check_sum(F05, "汇总", f"{col}27", [f"{col}{r}" for r in F05_SUBTOTALS])
    for col in "CD":
        check_sum(F07, "Sheet1", f"{col}4", [f"{col}{r}" for r in list(range(5, 14)) + list(range(15, 23))])
    check_sum(F07, "Sheet1", "E4", [f"E{r}" for r in list(range(5, 14)) + list(range(16, 23))])
    for r in range(4, 8):
        check_sum(F09B, "Sheet1", f"L{r}", [f"{c}{r}" for c in "CDEFGHIJK"])
    for col in "BCDE":
        check_sum(F11A, "汇总表", f"{col}9", [f"{col}{r}" for r in range(4, 9)])
    for col in "BCDEFG":
        check_sum(F11B, "汇总表", f"{col}9", [f"{col}{r}" for r in range(4, 9)])
    for col in "BCDE":
        check_sum(F15, "Sheet1", f"{col}11", [f"{col}{r}" for r in range(4, 11)])

    # every numeric-looking cell that neither file accounts for is listed for review
    accounted = {(e["file"], e["sheet"], e["cell"]) for e in expected} | qseen
    unaccounted = []
    for file, g in sorted(grids.items()):
        for sheet, (vals, _) in g.items():
            for ref, v in vals.items():
                if (file, sheet, ref) in accounted or isinstance(v, dt.datetime):
                    continue
                if _candidates(v) and not (isinstance(v, str) and re.fullmatch(r"\d{12}", v)):
                    unaccounted.append(f"{file}!{sheet}!{ref}={v!r}")

    files = sorted({e["file"] for e in expected} | {q["file"] for q in quarantine})
    print(f"expected.csv: {len(expected)} rows ({n_empty} blank/placeholder missing) in {len(files)} files")
    print(f"expected_quarantine.csv: {len(quarantine)} rows")
    for f in files:
        ne = sum(1 for e in expected if e["file"] == f)
        nq = sum(1 for q in quarantine if q["file"] == f)
        print(f"  {f}: clean {ne}, quarantined {nq}")
    print(f"numeric cells in neither file (structure: codes, 序号, totals, 上年同期 ...): {len(unaccounted)}")
    if "-v" in sys.argv:
        for u in unaccounted:
            print("   ", u)
    for e in errors:
        print("ERROR", e)
    return 1 if errors else 0


def main() -> int:
    if "--check" not in sys.argv:
        for b in BUILDERS:
            b()
    return self_check()


if __name__ == "__main__":
    sys.exit(main())
