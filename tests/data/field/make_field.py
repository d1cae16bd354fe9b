"""Build the field corpus: submissions laid out the way League committees and
government web systems really send them (see README.md beside this file).

Every raw cell is written literally below; nothing is computed from the
package ``analysis`` (which this script never imports).  The only computed
cells are the 合计/小计 totals, which are structure, not data.

Run from anywhere:

    /work/main/.venv/bin/python tests/data/field/make_field.py

The build is deterministic: zip members of every .xlsx get a fixed time stamp
and docProps/core.xml fixed created/modified times, so a rebuild is
byte-identical.  After writing, ``self_check()`` reads every file back (with
openpyxl, xlrd or plain decoding, never with the package) and checks that each
row of expected.csv / expected_quarantine.csv points at an existing, non-empty
cell, and a few sanity checks on the hand-written expectations.
"""
from __future__ import annotations

import csv
import datetime as _dt
import io
import re
import sys
import zipfile
from html.parser import HTMLParser
from pathlib import Path

import openpyxl
import xlrd
import xlwt
from openpyxl.styles import Alignment
from openpyxl.utils.cell import column_index_from_string, coordinate_from_string, get_column_letter

HERE = Path(__file__).resolve().parent
REF = HERE.parents[2] / "data" / "reference"

FIXED = _dt.datetime(2013, 7, 8, 9, 30, 0)
ZIP_TIME = (2013, 7, 8, 9, 30, 0)


# --------------------------------------------------------------------------- helpers
def put(ws, anchor, rows):
    """Write a 2-D list of cells with its top-left corner at ``anchor``; None = leave empty."""
    col_letter, row0 = coordinate_from_string(anchor)
    col0 = column_index_from_string(col_letter)
    for i, row in enumerate(rows):
        for j, value in enumerate(row):
            if value is None:
                continue
            ws.cell(row=row0 + i, column=col0 + j, value=value)


def wrap(ws, ref_range):
    for row in ws[ref_range]:
        for cell in row:
            cell.alignment = Alignment(wrap_text=True, horizontal="center", vertical="center")


def col_sum(rows, j):
    return sum(r[j] for r in rows if isinstance(r[j], (int, float)))


def new_book():
    wb = openpyxl.Workbook()
    wb.properties.creator = "Administrator"
    wb.properties.lastModifiedBy = "Administrator"
    wb.properties.created = FIXED
    wb.properties.modified = FIXED
    return wb


def save_xlsx(wb, name):
    """Save with fixed zip time stamps and fixed core.xml times (openpyxl stamps 'now')."""
    buf = io.BytesIO()
    wb.save(buf)
    src = zipfile.ZipFile(io.BytesIO(buf.getvalue()))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            data = src.read(info.filename)
            if info.filename == "docProps/core.xml":
                text = data.decode("utf-8")
                text = re.sub(r"(<dcterms:modified[^>]*>)[^<]*(</dcterms:modified>)",
                              r"\g<1>2013-07-08T09:30:00Z\g<2>", text)
                text = re.sub(r"(<dcterms:created[^>]*>)[^<]*(</dcterms:created>)",
                              r"\g<1>2013-07-08T09:30:00Z\g<2>", text)
                data = text.encode("utf-8")
            zi = zipfile.ZipInfo(info.filename, date_time=ZIP_TIME)
            zi.compress_type = zipfile.ZIP_DEFLATED
            zi.external_attr = 0o600 << 16
            dst.writestr(zi, data)
    (HERE / name).write_bytes(out.getvalue())


def write_text(name, lines, encoding, bom=b"", sep=","):
    text = "\r\n".join(sep.join(f for f in line) for line in lines) + "\r\n"
    (HERE / name).write_bytes(bom + text.encode(encoding))


# =========================================================================== F01
# 横表 with a 单位 column: indicators as rows, the ten counties of 宜宾 as columns.
def f01():
    wb = new_book()
    ws = wb.active
    ws.title = "Sheet1"
    counties = ["翠屏区", "南溪区", "宜宾县", "江安县", "长宁县", "高县", "珙县", "筠连县", "兴文县", "屏山县"]
    body = [
        ["基层团组织数", "个", 1126, 612, 1384, 705, 668, 731, 642, 553, 587, 402],
        ["团员数", "人", 48215, 21034, 52870, 24310, 22986, 25104, 23377, 18650, 20418, 12730],
        ["新发展团员数", "人", 2310, 986, 2745, 1120, 1043, 1198, 1066, 874, 932, 561],
        ["团费收缴率", "%", 98.5, 96, 92.3, 95, 97.2, 93, 90.5, 88, 91.6, 86],
        ["专职团干部数", "人", 64, 31, 58, 29, 27, 30, 26, 22, 24, 17],
        ["培训基层团干部人次", "人次", 520, 236, 610, 284, 251, 268, 240, 198, 215, 132],
        ["县级团委年度工作经费", "万元", 48.5, 22, 36.8, 18.5, 16, 17.2, 15.5, 12, 13.6, 9.8],
    ]
    for row in body:
        if row[1] == "%":
            row.append("—")
        else:
            row.append(round(sum(row[2:]), 1))
    put(ws, "A1", [["宜宾市各县（区）驻点工作主要指标统计表（2012年下半年）"]])
    ws.merge_cells("A1:M1")
    put(ws, "A2", [["填报单位：共青团宜宾市委"] + [None] * 8 + ["填报日期：2013年1月15日"]])
    put(ws, "A3", [["指标名称", "单位"] + counties + ["全市合计"]])
    put(ws, "A4", body)
    put(ws, "A12", [["注：团费收缴率全市合计栏不填。"]])
    save_xlsx(wb, "宜宾市团委2012年下半年驻点工作指标统计（横表）.xlsx")


# =========================================================================== F02
# 横表 without a 单位 column (unit in brackets in the indicator name), with a 序号 column.
def f02():
    wb = new_book()
    ws = wb.active
    ws.title = "达州"
    put(ws, "A1", [["达州市驻点工作县（市、区）团建指标情况（2012年下半年）"]])
    ws.merge_cells("A1:I1")
    put(ws, "A2", [["序号", "项目", "通川区", "达县", "宣汉县", "开江县", "大竹县", "渠县", "万源市"]])
    put(ws, "A3", [
        [1, "乡镇（街道）数（个）", 16, 51, 54, 20, 50, 60, 52],
        [2, "配备团委书记的乡镇（街道）数（个）", 16, 49, 54, 20, 47, 58, 50],
        [3, "团员数（人）", 31250, 58640, 61020, 25310, 57480, 66215, 30870],
        [4, "注册青年志愿者数（人）", 12500, 9860, 10240, 4350, 8920, 11030, 5120],
        [5, "团组织负责人列席同级党委会议", "是", "是", "否", "是", "是", "否", "是"],
        [6, "兼职、挂职团干部数（人）", 420, 860, 910, 310, 780, 950, 640],
    ])
    put(ws, "A10", [["填报人：（略）", None, None, "审核人：（略）"]])
    save_xlsx(wb, "达州市2012年下半年团建指标横表.xlsx")


# =========================================================================== F03
# County form with two period columns side by side; county named only in 填报单位.
def f03():
    wb = new_book()
    ws = wb.active
    ws.title = "Sheet1"
    put(ws, "A1", [["驻点工作县级团委指标填报表"]])
    ws.merge_cells("A1:D1")
    put(ws, "A2", [["填报单位：共青团青川县委员会"]])
    put(ws, "A3", [
        ["指标", "2012年上半年", "2012年下半年", "备注"],
        ["青少年人数", 68420, 68150, None],
        ["乡镇（街道）数", 36, 36, None],
        ["基层团组织数", 498, 511, None],
        ["团员数", 17230, 17642, None],
        ["新发展团员数", 612, 705, None],
        ["团县委核定编制数", 6, 6, None],
        ["团县委实有在编人数", 5, 6, "下半年新招录1人"],
        ["配备团委书记的乡镇（街道）数", 30, 36, "灾后重建乡镇已全部配齐"],
        ["专职团干部数", 21, 24, None],
        ["建立党建带团建联系会议制度", "否", "是", "2012年9月县委办发文建立"],
        ["团建工作纳入党委党建目标考评", "是", "是", None],
        ["出台党建带团建相关文件数", 1, 3, None],
        ["县级团委年度工作经费（万元）", 8.5, 8.5, "全年预算数，上下半年同"],
        ["挖掘联系青年典型和青年能人数", 12, 19, None],
    ])
    put(ws, "A19", [["填表人：（略）    联系电话：（略）    填报日期：2013年1月10日"]])
    ws.column_dimensions["A"].width = 34
    save_xlsx(wb, "青川县团委驻点工作指标填报表.xlsx")


# =========================================================================== F04
# Provincial table grouped by prefecture: merged 市（州） cells, 小计 rows, 全省合计.
def f04():
    wb = new_book()
    ws = wb.active
    ws.title = "汇总"
    put(ws, "A1", [["全省驻点县（市、区）工作指标汇总表"]])
    ws.merge_cells("A1:H1")
    put(ws, "A2", [["截至2013年12月31日"]])
    put(ws, "A3", [["序号", "市（州）", "县（市、区）", "基层团组织数", "团员数",
                    "团县委核定编制数", "团县委实有在编人数", "新建团组织数"]])
    groups = [
        ("广元市", [(1, "利州区", 845, 38620, 9, 9, 46),
                  (2, "昭化区", 402, 14350, 6, 5, 18),
                  (3, "朝天区", 365, 12480, 6, 6, 15)]),
        ("巴中市", [(4, "巴州区", 1010, 46210, 9, 8, 52),
                  (5, "恩阳区", 486, 21340, 5, 3, 27),
                  (6, "通江县", 1185, 52670, 8, 7, 61)]),
        ("广安市", [(7, "广安区", 760, 33450, 8, 8, 35),
                  (8, "前锋区", 214, 9870, 4, 2, 12),
                  (9, "岳池县", 1230, 56830, 9, 9, 58)]),
    ]
    r = 4
    grand = [0] * 5
    for pref, rows in groups:
        first = r
        for k, (no, county, *vals) in enumerate(rows):
            put(ws, f"A{r}", [[no, pref if k == 0 else None, county] + vals])
            r += 1
        ws.merge_cells(f"B{first}:B{r - 1}")
        sub = [sum(x[2 + j] for x in rows) for j in range(5)]
        grand = [g + s for g, s in zip(grand, sub)]
        put(ws, f"B{r}", [[f"{pref}小计", None] + sub])
        ws.merge_cells(f"B{r}:C{r}")
        r += 1
    put(ws, f"A{r}", [["全省合计", None, None] + grand])
    ws.merge_cells(f"A{r}:C{r}")
    save_xlsx(wb, "全省驻点县（市、区）工作指标汇总表.xlsx")


# =========================================================================== F05
# One sheet per half-year; the period is only in the sheet names.
def f05():
    wb = new_book()
    header = ["县（市、区）", "基层团组织数", "团员人数", "新发展团员数", "注册青年志愿者数"]
    sheets = {
        "2012年上半年": [["北川", 312, 9850, 402, 3120],
                      ["平武县", 286, 8420, 315, 2460],
                      ["江油市", 1350, 61280, 2560, 15300],
                      ["安县", 590, 22140, 905, 5830]],
        "2012年下半年": [["北川县", 318, 10120, 455, 3480],
                      ["平武县", 290, 8610, 352, 2590],
                      ["江油市", 1362, 62010, 2415, 16120],
                      ["安县", 596, 22480, 870, 6040]],
        "2013年上半年": [["北川羌族自治县", 325, 10390, 430, 3760],
                      ["平武县", 293, 8760, 330, 2710],
                      ["江油市", 1371, 62850, 2630, 16800],
                      ["安县", 601, 22910, 940, 6210]],
    }
    first = True
    for name, rows in sheets.items():
        ws = wb.active if first else wb.create_sheet()
        first = False
        ws.title = name
        put(ws, "A1", [["绵阳市部分县（市、区）团建工作指标统计表"]])
        ws.merge_cells("A1:E1")
        put(ws, "A2", [["填报单位：共青团绵阳市委"]])
        put(ws, "A3", [header] + rows)
    # a later draft sheet without any period: its cells cannot be placed in time
    ws = wb.create_sheet("修改稿")
    put(ws, "A1", [header,
                   ["江油市", 1371, 62580, 2630, 16800],
                   ["安县", 601, 22910, 940, 6210]])
    save_xlsx(wb, "绵阳市团委报表.xlsx")


# =========================================================================== F06
# One sheet per prefecture; the period is in each sheet's title.
def f06():
    wb = new_book()
    header = ["县（市、区）", "团县委核定编制数", "团县委实有在编人数", "专职团干部数", "新选配团干部数"]
    sheets = {
        "成都市": [["金堂县", 9, 8, 46, 21], ["大邑县", 8, 8, 35, 14], ["蒲江县", 7, 6, 22, 9]],
        "绵阳市": [["涪城区", 9, 9, 52, 18], ["三台县", 9, 7, 61, 26], ["盐亭县", 7, 7, 33, 12]],
        "自贡市": [["荣县", 8, 7, 41, 17], ["富顺县", 9, 8, 49, 20], ["沿滩区", 6, 5, 19, 8]],
    }
    first = True
    for name, rows in sheets.items():
        ws = wb.active if first else wb.create_sheet()
        first = False
        ws.title = name
        put(ws, "A1", [[f"{name}驻点县（市、区）团干部配备情况统计表（2012年上半年）"]])
        ws.merge_cells("A1:E1")
        put(ws, "A2", [header] + rows)
        put(ws, "A6", [["合计"] + [col_sum(rows, j) for j in range(1, 5)]])
    save_xlsx(wb, "分市州驻点县指标统计.xlsx")


# =========================================================================== F07
# Two tables on one sheet, each with its own title and header, blank rows between.
def f07():
    wb = new_book()
    ws = wb.active
    ws.title = "Sheet1"
    b1 = [["市中区", 812, 36450, 97, 3],
          ["沙湾区", 296, 9870, 95, 2],
          ["峨边县", 208, 6230, 88, 4],
          ["马边县", 245, 7410, 85, 6],
          ["峨眉山", 486, 19820, 96, 1],
          ["乐山高新区", 64, 2150, 100, 0]]
    b2 = [["市中区", 9, 9, 20],
          ["沙湾区", 6, 6, 13],
          ["峨边县", 7, 6, 19],
          ["马边县", 7, 5, 20],
          ["峨眉山", 8, 7, 18]]
    put(ws, "A1", [["表一  2013年上半年组织活力情况"]])
    ws.merge_cells("A1:E1")
    put(ws, "A2", [["县（市、区）", "基层团组织数", "团员数", "团费收缴率（%）", "软弱涣散团组织数"]] + b1)
    put(ws, "A9", [["合计", col_sum(b1, 1), col_sum(b1, 2), None, col_sum(b1, 4)]])
    put(ws, "A12", [["表二  2013年上半年团干部配备情况"]])
    ws.merge_cells("A12:D12")
    put(ws, "A13", [["县（市、区）", "团县委核定编制数", "团县委实有在编人数", "配备团委书记的乡镇（街道）数"]] + b2)
    put(ws, "A19", [["合计", col_sum(b2, 1), col_sum(b2, 2), col_sum(b2, 3)]])
    save_xlsx(wb, "乐山市2013年上半年驻点县指标.xlsx")


# =========================================================================== F08
# Prefecture summary, the full works: table from column C, meta lines, header on
# rows 5-6 with merged group headers, a units row, a 甲/乙/1/2… code row, 序号,
# 合计, footer and 注.
def f08():
    wb = new_book()
    ws = wb.active
    ws.title = "汇总表"
    put(ws, "C1", [["凉山州驻点县（市）工作指标汇总表"]])
    ws.merge_cells("C1:M1")
    put(ws, "C2", [["填报单位：共青团凉山州委（盖章）"]])
    ws.merge_cells("C2:H2")
    put(ws, "C3", [["单位：个、人、万元", None, None, None, None, None, None, None, "截至2012年12月31日"]])
    put(ws, "C5", [
        ["序号", "县（市）", "基本情况", "组织活力", None, None, "团干部配备", None, "任务完成", None, "备注"],
        [None, None, "乡镇（街道）数", "基层团组织数", "团员数", "新发展\n团员数",
         "配备团委书记的\n乡镇（街道）数", "培训基层\n团干部人次", "新建团组织数", "县级团委年度\n工作经费", None],
        [None, None, "个", "个", "人", "人", "个", "人次", "个", "万元", None],
        ["甲", "乙", 1, 2, 3, 4, 5, 6, 7, 8, None],
    ])
    ws.merge_cells("C5:C6")
    ws.merge_cells("D5:D6")
    ws.merge_cells("F5:H5")
    ws.merge_cells("I5:J5")
    ws.merge_cells("K5:L5")
    ws.merge_cells("M5:M6")
    wrap(ws, "C5:M8")
    rows = [
        [1, "西昌", 42, 1086, 45870, 1980, 40, 560, 48, 32.5, None],
        [2, "木里县", 29, 268, 6920, 310, 27, 140, 12, 6.8, "经费含省级专项补助2万元"],
        [3, "盐源县", 34, 512, 18340, 860, 33, 230, 21, 9.5, None],
        [4, "德昌县", 23, 386, 14260, 615, 23, 185, 17, 8.2, None],
        [5, "会东县", 21, 402, 16780, 702, 20, 196, 15, 9, None],
        [6, "普格县", 34, 298, 9150, 420, 36, 150, 14, 6.5, None],
        [7, "喜德县", 24, 276, 8930, 395, 22, 138, 11, 6, None],
    ]
    put(ws, "C9", rows)
    put(ws, "C16", [["合计", None] + [round(col_sum(rows, j), 1) for j in range(2, 10)]])
    ws.merge_cells("C16:D16")
    put(ws, "C18", [["填表人：吉某某    审核人：阿某    联系电话：（略）    填报日期：2013年1月8日"]])
    put(ws, "C19", [["注：1.本表数据截至2012年12月31日；2.工作经费以万元为单位，保留一位小数。"]])
    save_xlsx(wb, "凉山州团委2012年下半年驻点县指标汇总表.xlsx")


# =========================================================================== F09
# HTML table saved as .xls by a government web system: GBK bytes, a 统计时段 line
# above the table, rowspan/colspan headers, a thousands separator in one cell.
def f09():
    rows = [
        ("1", "顺庆区", "702", "35210", "186", "97", "38", "26"),
        ("2", "高坪区", "654", "30980", "142", "71", "31", "22"),
        ("3", "嘉陵区", "598", "27450", "96", "48", "27", "18"),
        ("4", "南部县", "1210", "58,760", "118", "52", "55", "35"),
        ("5", "营山县", "986", "44120", "84", "39", "44", "29"),
        ("6", "蓬安县", "742", "32860", "67", "30", "33", "21"),
        ("7", "仪陇县", "1045", "49530", "79", "35", "47", "31"),
        ("8", "阆中市", "868", "38940", "103", "49", "40", "27"),
    ]
    tr = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in r) + "</tr>\n" for r in rows)
    html = (
        '<html xmlns:o="urn:schemas-microsoft-com:office:office" '
        'xmlns:x="urn:schemas-microsoft-com:office:excel">\n'
        '<head>\n<meta http-equiv="Content-Type" content="application/vnd.ms-excel; charset=gbk">\n'
        "<title>数据导出</title>\n</head>\n<body>\n"
        '<div style="font-size:16pt;font-weight:bold;text-align:center">南充市县级团委驻点工作指标查询结果</div>\n'
        "<div>统计时段：2013年1月1日至2013年6月30日</div>\n"
        '<table border="1" cellspacing="0" cellpadding="2">\n'
        '<tr><td rowspan="2">序号</td><td rowspan="2">单位名称</td>'
        '<td colspan="4">组织活力</td><td colspan="2">任务完成</td></tr>\n'
        "<tr><td>基层团组织数</td><td>团员数（人）</td><td>规上非公企业数</td>"
        "<td>已建团组织的规模以上非公企业数</td><td>新建团组织数</td>"
        "<td>挖掘联系青年典型和青年能人数</td></tr>\n"
        + tr
        + '<tr><td colspan="2">合计</td><td>6805</td><td>317850</td><td>875</td><td>421</td>'
        "<td>315</td><td>209</td></tr>\n"
        "</table>\n<div>导出时间：2013-07-05 16:42:11</div>\n</body>\n</html>\n"
    )
    (HERE / "  南充市团委数据导出.xls").write_bytes(html.encode("gbk"))


# =========================================================================== F10
# Excel "Unicode text" from another tool: UTF-16 LE, tabs, NO byte-order mark.
def f10():
    lines = [
        ["德阳市2013年上半年驻点县（市、区）指标"],
        ["县（市、区）", "青少年人数", "团员数", "团费收缴率", "县级团委年度工作经费（万元）", "团县委核定编制数"],
        ["旌阳区", "186500", "42310", "96", "38.6", "9"],
        ["中江县", "298400", "61250", "94.5", "42", "9"],
        ["罗江县", "52300", "12860", "97", "12.5", "7"],
        ["广汉市", "158700", "36420", "95.8", "30.2", "8"],
        ["什邡市", "112600", "25930", "93", "24", "8"],
    ]
    write_text("德阳市2013年上半年驻点指标.txt", lines, "utf-16-le", sep="\t")


# =========================================================================== F11
# UTF-16 LE tab-separated WITH a byte-order mark; the period only in the file
# name, which starts with a space.
def f11():
    lines = [
        ["区县", "新选配团干部数", "培训团干部人次", "出台党建带团建文件数", "团组织负责人列席同级党委会议"],
        ["船山区", "18", "265", "2", "是"],
        ["安居区", "11", "170", "1", "是"],
        ["蓬溪县", "15", "232", "2", "否"],
        ["射洪县", "22", "310", "3", "是"],
        ["大英县", "10", "158", "1", "是"],
        ["合计", "76", "1135", "9", ""],
    ]
    write_text(" 遂宁市_2012年下半年.txt", lines, "utf-16-le", bom=b"\xff\xfe", sep="\t")


# =========================================================================== F12
# GBK CSV; working funds reported in 元 (header unit).
def f12():
    lines = [
        ["县（区）", "团员数", "新发展团员数", "县级团委年度工作经费（元）",
         "工作经费纳入县级财政预算的乡镇（街道）数", "乡镇（街道）数"],
        ["东坡区", "38650", "1520", "350000", "24", "26"],
        ["仁寿县", "72480", "2980", "420000", "52", "60"],
        ["彭山县", "15230", "610", "120000", "11", "14"],
        ["洪雅县", "16840", "655", "135000", "15", "15"],
        ["丹棱县", "8950", "342", "80000", "7", "7"],
        ["青神县", "9420", "368", "85000", "9", "10"],
    ]
    write_text("眉山市2012年上半年指标.csv", lines, "gbk")


# =========================================================================== F13
# UTF-8-with-BOM CSV from another system, one row per county and period, with a
# 统计期 column written three ways; 乐至县 2013年上半年 appears twice with
# different numbers (a record entered again).
def f13():
    lines = [
        ["统计期", "地区", "团员数", "新发展团员数", "注册青年志愿者数", "新建团组织数"],
        ["2012年下半年", "雁江区", "41230", "1680", "9850", "26"],
        ["2012.12", "安岳县", "63850", "2410", "11320", "34"],
        ["2012年7-12月", "乐至县", "28760", "1105", "6240", "17"],
        ["2012年下半年", "简阳市", "71420", "2860", "15630", "41"],
        ["2013年上半年", "雁江区", "41780", "1545", "10420", "22"],
        ["2013.6", "安岳县", "64320", "2280", "11980", "30"],
        ["2013年1-6月", "乐至县", "29150", "1020", "6610", "15"],
        ["2013年上半年", "简阳市", "72050", "2710", "16240", "38"],
        ["2013年上半年", "乐至县", "29310", "1090", "6650", "16"],
    ]
    write_text("系统导出数据_资阳市.csv", lines, "utf-8", bom=b"\xef\xbb\xbf")


# =========================================================================== F14
# File name starting with "-"; sheet names neither prefecture nor period; county
# names short (翠屏, 南溪 …).
def f14():
    wb = new_book()
    ws = wb.active
    ws.title = "Sheet1"
    put(ws, "A1", [["各县（区）团建工作情况汇总表"]])
    ws.merge_cells("A1:E1")
    put(ws, "A2", [["单位：个"]])
    put(ws, "A3", [
        ["县区", "乡镇（街道）数", "经常性开展活动的乡镇（街道）团委数",
         "配备团委书记的乡镇（街道）数", "工作经费纳入县级财政预算的乡镇（街道）数"],
        ["翠屏", 26, 24, 26, 20],
        ["南溪", 15, 13, 15, 12],
        ["宜宾县", 26, 22, 25, 18],
        ["江安", 18, 15, 18, 13],
        ["长宁", 18, 14, 17, 12],
        ["高县", 19, 15, 19, 14],
        ["珙县", 17, 13, 16, 11],
        ["筠连", 14, 11, 13, 9],
        ["兴文", 15, 12, 15, 10],
        ["屏山", 14, 10, 12, 8],
    ])
    save_xlsx(wb, "-宜宾市团委2013年上半年汇总.xlsx")


# =========================================================================== F15
# Data table that names the resident cadre and the residency dates in columns;
# a remark explains posts_filled > posts_authorized; 芦山 after the 4·20 quake.
def f15():
    wb = new_book()
    ws = wb.active
    ws.title = "Sheet1"
    put(ws, "A1", [["雅安市驻点工作推进情况统计表"]])
    ws.merge_cells("A1:I1")
    put(ws, "A2", [["填报单位：共青团雅安市委", None, None, None, None, "截至2013年6月30日"]])
    put(ws, "A3", [
        ["县（区）", "驻点干部", "驻点时间", "基层团组织数", "团员数", "团县委核定编制数",
         "团县委实有在编人数", "新建团组织数", "备注"],
        ["雨城区", "王某某", "2013.2-2013.7", 612, 26480, 8, 8, 21, None],
        ["名山区", "李某", "2013.2-2013.7", 398, 14230, 6, 7, 14,
         "实有人数含组织部选派挂职干部1名，占用本单位编制已报县编办备案"],
        ["荥经县", "陈某某", "2013.2-2013.7", 224, 7850, 6, 6, 9, None],
        ["汉源县", "刘某", "2013.2-2013.7", 486, 18620, 7, 6, 16, None],
        ["芦山县", "杨某某", "2013.2-2013.7", 186, 5940, 5, 5, "暂无",
         "受“4·20”芦山强烈地震影响，新建团组织数据待核实"],
        ["宝兴县", "赵某", "2013.2-2013.7", 142, 3860, 5, 4, "—", None],
    ])
    save_xlsx(wb, "雅安市驻点县工作推进情况（2013年上半年）.xlsx")


# =========================================================================== F16
# Formulas without cached values (openpyxl never stores results): SUM totals,
# constant arithmetic, a same-sheet reference, and references to a hidden sheet.
def f16():
    wb = new_book()
    ws = wb.active
    ws.title = "汇总"
    put(ws, "A1", [["广元市驻点县（区）工作指标汇总表（2012年上半年）"]])
    ws.merge_cells("A1:F1")
    put(ws, "A2", [["填报单位：共青团广元市委"]])
    put(ws, "A3", [
        ["县（区）", "乡镇（街道）数", "配备团委书记的乡镇（街道）数", "专职团干部数",
         "兼职、挂职团干部数", "培训基层团干部人次"],
        ["利州区", 18, 18, 42, 386, 320],
        ["元坝区", 23, 21, 18, "=120*2", 135],
        ["朝天区", 25, "=B6", 17, 198, 122],
        ["旺苍县", 35, 33, 28, 412, "=86+64+70"],
        ["剑阁县", 57, 55, 36, "=VLOOKUP(A8,基础数据!A:D,3,FALSE)", 268],
        ["苍溪县", 39, 37, 31, 530, "=基础数据!D7"],
        ["合计", "=SUM(B4:B9)", "=SUM(C4:C9)", "=SUM(D4:D9)", "=SUM(E4:E9)", "=SUM(F4:F9)"],
    ])
    base = wb.create_sheet("基础数据")
    put(base, "A1", [
        ["县区", "乡镇数", "兼职挂职团干部", "培训人次"],
        ["利州区", 18, 386, 320],
        ["元坝区", 23, 240, 135],
        ["朝天区", 25, 198, 122],
        ["旺苍县", 35, 412, 220],
        ["剑阁县", 57, 604, 268],
        ["苍溪县", 39, 530, 247],
    ])
    base.sheet_state = "hidden"
    save_xlsx(wb, "广元市团委2012年上半年汇总表.xlsx")


# =========================================================================== F17
# A whole year (2013年度) where a half-year was asked; file name starts with "=".
def f17():
    wb = new_book()
    ws = wb.active
    ws.title = "Sheet1"
    rows = [
        ["东区", 18650, 402, 12300, 1320, 24, 310],
        ["西区", 7420, 168, 4860, 510, 9, 126],
        ["仁和区", 12380, 296, 5230, 780, 18, 205],
        ["米易县", 9860, 254, 3980, 640, 15, 172],
        ["盐边县", 8340, 231, 3150, 560, 13, 158],
    ]
    put(ws, "A1", [["攀枝花市2013年度驻点县（区）工作指标统计表"]])
    ws.merge_cells("A1:G1")
    put(ws, "A2", [["填报单位：共青团攀枝花市委", None, None, None, "截至2013年12月31日"]])
    put(ws, "A3", [["县（区）", "团员数", "基层团组织数", "注册青年志愿者数", "新发展团员数",
                    "新建团组织数", "培训基层团干部人次"]] + rows)
    put(ws, "A9", [["合计"] + [col_sum(rows, j) for j in range(1, 7)]])
    save_xlsx(wb, "=攀枝花市2013年度驻点工作指标.xlsx")


# =========================================================================== F18
# Provincial list: prefectures written 凉山州/阿坝州/甘孜州, 西昌 without 市, two
# 市中区 qualified by their prefecture, 天府新区 and 高新区 rows (not counties),
# and a block of bare numbers far right of and below the table (no header, no
# county label).
def f18():
    wb = new_book()
    ws = wb.active
    ws.title = "Sheet1"
    put(ws, "A1", [["部分驻点县（市、区）基层组织建设情况统计（2013年下半年）"]])
    ws.merge_cells("A1:G1")
    rows = [
        [1, "凉山州", "木里县", 274, 7080, 5, 10],
        [2, "凉山州", "西昌", 1102, 46520, 8, 41],
        [3, "阿坝州", "汶川县", 236, 8120, 3, 12],
        [4, "阿坝州", "茂县", 212, 7340, 4, 9],
        [5, "甘孜州", "康定县", 318, 10960, 6, 14],
        [6, "甘孜州", "泸定县", 186, 6210, 2, 8],
        [7, "内江市", "市中区", 532, 22860, 4, 19],
        [8, "乐山市", "市中区", 826, 36980, 2, 23],
        [9, "成都市", "天府新区", 156, 8420, 0, 15],
        [10, "成都市", "高新区", 98, 5630, 0, 11],
    ]
    put(ws, "A2", [["序号", "市（州）", "县（市、区）", "基层团组织数", "团员数",
                    "软弱涣散团组织数", "新建团组织数"]] + rows)
    put(ws, "A13", [["合计", None, None] + [col_sum(rows, j) for j in range(3, 7)]])
    ws.merge_cells("A13:C13")
    put(ws, "A15", [["注：天府新区、高新区数据由所在县（区）团委代报。"]])
    # scratch figures the clerk left on the sheet: no header, no county
    put(ws, "I18", [
        [1204, 36, 0.85, 7],
        [998, 41, 0.92, 5],
        [1530, 28, 0.77, 9],
        [612, 19, 0.88, 3],
    ])
    save_xlsx(wb, "省团委组织部_驻点县数据（2013年下半年）.xlsx")


# =========================================================================== F19
# A real BIFF8 .xls (xlwt) prefecture summary; 古蔺县 has more filled posts than
# authorised and no remark.
def f19():
    book = xlwt.Workbook(encoding="utf-8")
    ws = book.add_sheet("Sheet1")
    title = xlwt.easyxf("font: bold on, height 320; align: horiz center")
    ws.write_merge(0, 0, 0, 6, "泸州市驻点县（区）工作指标汇总表", title)
    ws.write(1, 0, "填报单位：共青团泸州市委")
    ws.write(1, 5, "截至2012年6月30日")
    header = ["县（区）", "团县委核定编制数", "团县委实有在编人数", "兼职、挂职团干部数",
              "团组织负责人列席同级党委会议", "建立党建带团建联系会议制度", "备注"]
    for j, h in enumerate(header):
        ws.write(2, j, h)
    rows = [
        ["江阳区", 9, 8, 410, "是", "是"],
        ["纳溪区", 7, 7, 265, "是", "否"],
        ["龙马潭区", 7, 6, 238, "是", "是"],
        ["泸县", 9, 9, 520, "否", "是"],
        ["合江县", 9, 8, 486, "是", "是"],
        ["叙永县", 8, 8, 402, "是", "否"],
        ["古蔺县", 7, 8, 455, "是", "是"],
    ]
    for i, row in enumerate(rows):
        for j, v in enumerate(row):
            ws.write(3 + i, j, v)
    ws.write(10, 0, "合计")
    for j in (1, 2, 3):
        ws.write(10, j, col_sum(rows, j))
    ws.write(12, 0, "填表人：（略）  审核人：（略）  填报日期：2012年7月6日")
    book.save(str(HERE / "泸州市团委2012年上半年汇总表.xls"))


# =========================================================================== F20
# Messy values as clerks type them.
def f20():
    wb = new_book()
    ws = wb.active
    ws.title = "汇总"
    put(ws, "A1", [["内江市驻点县（区）工作指标统计表（2012年下半年）"]])
    ws.merge_cells("A1:J1")
    put(ws, "A2", [
        ["县（区）", "团员数", "新发展团员数", "团费收缴率", "注册青年志愿者数",
         "县级团委年度工作经费（万元）", "建立党建带团建联系会议制度", "团建工作纳入党委党建目标考评",
         "专职团干部数", "软弱涣散团组织数"],
        ["市中区", "２２８６０", "约300", "96%", "3,650", 18.5, "√", "是", 24, 2],
        ["东兴区", 33120, 1240, 0.93, "暂无", "0.5元/人", "已建立", "否", 8.5, 3],
        ["威远县", 39870, "1350人", "130%", 8420, 21, "×", "√", 31, -2],
        ["资中县", 52340, "—", "#DIV/0!", "/", 26.8, "已建立", "是", "见附表", 4],
        ["隆昌县", 34580, "三百二十", 0.95, "1200-1500", "12万元", "未建立", "是", 27, "无"],
    ])
    ws["D7"].number_format = "0.0%"
    save_xlsx(wb, "内江市2012年下半年统计表（汇总）.xlsx")


BUILDERS = [f01, f02, f03, f04, f05, f06, f07, f08, f09, f10,
            f11, f12, f13, f14, f15, f16, f17, f18, f19, f20]


# =========================================================================== read back
class _Grid(HTMLParser):
    """Lay out the <tr>/<td> cells of the first <table> as a spreadsheet would,
    expanding rowspan/colspan (the spanned cell belongs to its top-left)."""

    def __init__(self):
        super().__init__()
        self.cells = {}
        self.taken = set()
        self.row = 0
        self.col = 0
        self.in_table = False
        self.cur = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "table":
            self.in_table = True
        elif self.in_table and tag == "tr":
            self.row += 1
            self.col = 1
        elif self.in_table and tag in ("td", "th"):
            while (self.row, self.col) in self.taken:
                self.col += 1
            rs, cs = int(a.get("rowspan", 1)), int(a.get("colspan", 1))
            for dr in range(rs):
                for dc in range(cs):
                    self.taken.add((self.row + dr, self.col + dc))
            self.cur = (self.row, self.col)
            self.cells[self.cur] = ""
            self.col += cs

    def handle_endtag(self, tag):
        if tag in ("td", "th"):
            self.cur = None
        elif tag == "table":
            self.in_table = False

    def handle_data(self, data):
        if self.cur is not None:
            self.cells[self.cur] += data


def _a1(row, col):
    return f"{get_column_letter(col)}{row}"


def read_grid(path: Path):
    """{sheet: {A1: raw value}} for any file of the corpus, read without the package."""
    data = path.read_bytes()
    out = {}
    if data[:2] == b"PK":
        wb = openpyxl.load_workbook(path, data_only=False)
        for ws in wb.worksheets:
            out[ws.title] = {c.coordinate: c.value for row in ws.iter_rows() for c in row
                             if c.value is not None and c.value != ""}
    elif data[:4] == b"\xd0\xcf\x11\xe0":
        book = xlrd.open_workbook(file_contents=data)
        for sh in book.sheets():
            out[sh.name] = {_a1(r + 1, c + 1): sh.cell_value(r, c)
                            for r in range(sh.nrows) for c in range(sh.ncols)
                            if sh.cell_value(r, c) not in ("", None)}
    elif b"<table" in data[:4096].lower() or b"<html" in data[:200].lower():
        g = _Grid()
        g.feed(data.decode("gbk"))
        out[""] = {_a1(r, c): v.strip() for (r, c), v in g.cells.items() if v.strip()}
    else:
        if data[:2] == b"\xff\xfe":
            text = data[2:].decode("utf-16-le")
        elif b"\t\x00" in data or b"\r\x00\n\x00" in data:
            text = data.decode("utf-16-le")
        elif data[:3] == b"\xef\xbb\xbf":
            text = data[3:].decode("utf-8")
        else:
            text = data.decode("gbk")
        sep = "\t" if "\t" in text else ","
        grid = {}
        for r, line in enumerate(text.split("\r\n")[:-1], start=1):
            for c, field in enumerate(next(csv.reader([line], delimiter=sep)), start=1):
                if field != "":
                    grid[_a1(r, c)] = field
        out[""] = grid
    return out


def _load_csv(name):
    with open(HERE / name, encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def _norm_header(text):
    t = re.sub(r"\s+", "", str(text))
    t = re.sub(r"[（(][^（）()]*[)）]$", "", t)   # trailing unit in brackets
    return t


def self_check():
    problems = []
    catalog = {r["code"]: r for r in csv.DictReader(open(REF / "indicators.csv", encoding="utf-8"))}
    names = {}
    for code, r in catalog.items():
        for n in [r["name_zh"]] + r["synonyms_round1"].split("|") + r["synonyms_round2"].split("|"):
            if n:
                names.setdefault(_norm_header(n), set()).add(code)
    units = {}
    for r in csv.DictReader(open(REF / "units.csv", encoding="utf-8")):
        units.setdefault(r["vintage"], set()).add(r["code"])

    grids = {}

    def cell(file, sheet, ref):
        if file not in grids:
            p = HERE / file
            if not p.exists():
                problems.append(f"missing file {file!r}")
                grids[file] = {}
            else:
                grids[file] = read_grid(p)
        return grids[file].get(sheet, {}).get(ref)

    expected = _load_csv("expected.csv")
    seen = {}
    for i, r in enumerate(expected, start=2):
        where = f"expected.csv:{i} {r['file']}!{r['sheet']}!{r['cell']}"
        raw = cell(r["file"], r["sheet"], r["cell"])
        if raw is None:
            problems.append(f"{where}: cell missing or empty")
            continue
        ind = catalog.get(r["indicator"])
        if ind is None or ind["kind"] != "raw":
            problems.append(f"{where}: not a raw catalog indicator {r['indicator']}")
            continue
        year = r["period"][:4]
        if not re.fullmatch(r"20(0[89]|1[0-4])H[12]", r["period"]):
            problems.append(f"{where}: bad period {r['period']}")
        if r["county_code"] not in units.get(year, set()):
            problems.append(f"{where}: {r['county_code']} not in the {year} code book")
        key = (r["county_code"], r["period"], r["indicator"])
        if key in seen:
            problems.append(f"{where}: repeats {seen[key]}")
        seen[key] = where
        if r["value"] != "":
            v = float(r["value"])
            if not float(ind["min"]) <= v <= float(ind["max"]):
                problems.append(f"{where}: {v} outside catalog range")
            # a plain number written in the cell must be the expected value
            # (except money headed in 元, converted to 万元, and shares of a rate)
            plain = raw if isinstance(raw, (int, float)) else (
                float(raw) if isinstance(raw, str) and re.fullmatch(r"-?\d+(\.\d+)?", raw) else None)
            if plain is not None and r["indicator"] != "league_funds" and not (
                    r["indicator"] == "dues_rate" and plain <= 1):
                if abs(float(plain) - v) > 1e-9:
                    problems.append(f"{where}: cell holds {raw!r}, expected says {v}")
        # some header in the same column above or the same row to the left must
        # name the indicator (canonical name or synonym)
        g = grids[r["file"]].get(r["sheet"], {})
        col, row = coordinate_from_string(r["cell"])
        ci = column_index_from_string(col)
        heads = [g.get(f"{col}{k}") for k in range(1, row)] + \
                [g.get(f"{get_column_letter(k)}{row}") for k in range(1, ci)]
        if not any(isinstance(h, str) and r["indicator"] in names.get(_norm_header(h), ())
                   for h in heads):
            problems.append(f"{where}: no header naming {r['indicator']} above or left")

    for i, r in enumerate(_load_csv("expected_quarantine.csv"), start=2):
        where = f"expected_quarantine.csv:{i} {r['file']}!{r['sheet']}!{r['cell']}"
        if cell(r["file"], r["sheet"], r["cell"]) is None:
            problems.append(f"{where}: cell missing or empty")
        if any(r["file"] == e["file"] and r["sheet"] == e["sheet"] and r["cell"] == e["cell"]
               for e in expected):
            problems.append(f"{where}: also listed as clean")

    # cross-field sanity of the clean expectations (parts within totals, posts)
    vals = {k: float(expected_row["value"]) for k, w in seen.items()
            for expected_row in [next(e for e in expected
                                      if (e["county_code"], e["period"], e["indicator"]) == k)]
            if expected_row["value"] != ""}
    for (code, period, ind), v in vals.items():
        for part, total in (("townships_active", "townships_total"),
                            ("townships_with_secretary", "townships_total"),
                            ("townships_funded", "townships_total"),
                            ("nonpublic_firms_with_org", "nonpublic_firms")):
            if ind == part and (code, period, total) in vals and v > vals[(code, period, total)]:
                problems.append(f"clean {part} above {total} for {code} {period}")
    return problems


def main():
    for build in BUILDERS:
        build()
    problems = self_check()
    for p in problems:
        print("PROBLEM:", p)
    print(f"{len(BUILDERS)} files written; {len(problems)} problems")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
