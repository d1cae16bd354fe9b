"""Layouts of the raw files: prefecture summary workbooks, county forms, CSV exports, roster.

Everything here builds in-memory :class:`~analysis.demo.writers.Book` objects; nothing touches
the disk, so :func:`analysis.demo.truth` can know every mess without writing a file.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
from xlsxwriter.utility import xl_col_to_name

from analysis.demo import mess, params
from analysis.demo.dgp import catalog_meta, template_round
from analysis.demo.roster import committee, person_name, rng_for
from analysis.demo.writers import Book, Sheet
from analysis.ingest.periods import half_year_label

# Group headers above the indicator headers, per form (round-1 and round-2 templates differ).
GROUPS = {
    1: {"context": "基本情况", "vitality": "团的组织建设", "staffing": "团干部队伍建设",
        "tasks": "党建带团建工作"},
    2: {"context": "基本情况", "vitality": "组织建设", "staffing": "团干部配备",
        "tasks": "党建带团建"},
}
# Round-2 form has a third header level for some columns.
SUBGROUPS = {
    "posts_authorized": "团县委机关", "posts_filled": "团县委机关",
    "townships_with_secretary": "乡镇（街道）", "townships_active": "乡镇（街道）",
    "townships_funded": "乡镇（街道）",
    "attends_party_meetings": "制度建设", "liaison_system": "制度建设",
    "in_party_assessment": "制度建设",
    "fulltime_cadres": "基层团干部", "parttime_cadres": "基层团干部",
}
FORM_TITLES = {1: "共青团基层组织建设情况统计表", 2: "共青团基层组织建设情况统计表（驻点工作）"}
_UNIT_SUFFIX = {"人": "（人）", "个": "（个）", "%": "（%）", "万元": "（万元）", "件": "（件）",
                "人次": "（人次）"}
_NOTES = ("含驻点期间新建", "数据来自团务系统", "乡镇撤并后口径", "较上期有调整", "以县委组织部核定为准")


def _half_dir(period: str) -> str:
    """The folder of a half-year's submissions: ``"2012H1"`` → ``"2012年上半年"``."""
    return half_year_label(period)


def _prev(period: str) -> str:
    i = params.PERIODS.index(period)
    return params.PERIODS[i - 1] if i > 0 else params.PERIODS[i + 1]


def indicator_labels(seed: int, pref: str, round_: int, indicators: list[str]) -> dict[str, str]:
    """Header text of each indicator on one prefecture's form of one round (stable over periods)."""
    cat = catalog_meta()
    rng = rng_for(seed, "labels", pref, round_)
    labels = {}
    for ind in indicators:
        options = [cat[ind]["name_zh"], *cat[ind][f"synonyms_round{round_}"]]
        label = str(options[int(rng.integers(len(options)))])
        unit = cat[ind]["unit"]
        if unit in _UNIT_SUFFIX and rng.random() < 0.4:
            label += _UNIT_SUFFIX[unit]
        labels[ind] = label
    return labels


class _Writer:
    """Turns clean values into written cells for one file (the file's habits live here)."""

    def __init__(self, rng: np.random.Generator, period: str, in_yuan: bool, rate_style: str,
                 allow_errors: bool):
        self.rng, self.period, self.in_yuan = rng, period, in_yuan
        self.rate_style, self.allow_errors = rate_style, allow_errors
        self.cat = catalog_meta()

    def put(self, sheet: Sheet, r: int, c: int, county: str, ind: str, v: float) -> None:
        typ = self.cat[ind]["type"]
        ctx = (county, self.period, ind)
        if typ == "bool":
            w = mess.write_bool(v, self.rng)
        elif typ == "money":
            w = mess.write_money(v, self.in_yuan, self.rng)
        elif typ == "rate":
            if self.allow_errors and self.rng.random() < params.MESS_RATES["excel_error"]:
                sheet.put(r, c, "#DIV/0!", formula=f"=X{r + 1}/Y{r + 1}",
                          mess=("excel_error", None), context=ctx)
                return
            w = mess.write_rate(v, self.rate_style)
        else:
            w = mess.write_count(v, self.cat[ind]["unit"], self.rng)
        sheet.put(r, c, w.raw, mess=(w.kind, w.clean) if w.kind else None, context=ctx)


def _file_habits(seed: int, pref: str, period: str):
    rng = rng_for(seed, "file", pref, period)
    return dict(
        rng=rng,
        in_yuan=bool(rng.random() < params.YUAN_FILES_SHARE),
        rate_style=str(rng.choice(params.PERCENT_STYLES, p=params.PERCENT_STYLE_WEIGHTS)),
        note_column=bool(rng.random() < params.NOTE_COLUMN_SHARE),
        shuffled=bool(rng.random() < params.SHUFFLED_ROWS_SHARE),
        hidden=bool(rng.random() < params.HIDDEN_SHEET_SHARE),
        period_style=str(rng.choice(["half", "months", "asof", "dot"], p=[0.5, 0.2, 0.2, 0.1])),
    )


def _file_start(seed: int, units: pd.DataFrame, wide: pd.DataFrame,
                period: str) -> tuple[str, int, dict, dict[str, str]]:
    """What every file of one prefecture and period starts from: its committee, form round,
    habits (see :func:`_file_habits`) and indicator header labels."""
    first = units.iloc[0]
    pref = first["prefecture_short"]
    rnd = template_round(period)
    return (committee(pref, bool(first["three_prefectures"])), rnd, _file_habits(seed, pref, period),
            indicator_labels(seed, pref, rnd, list(wide.columns)))


def summary_book(seed: int, units: pd.DataFrame, wide: pd.DataFrame, period: str, fmt: str,
                 bad: list[str]) -> Book:
    """Prefecture summary workbook (汇总表): one row per county.

    ``units``: the prefecture's units this period (county_code, name, short_name, prefecture_*,
    three_prefectures); ``wide``: clean values indexed by county_code, one column per indicator;
    ``bad``: kinds of bad record to plant in this file.
    """
    comm, rnd, habits, labels = _file_start(seed, units, wide, period)
    rng = habits["rng"]
    if fmt == "xls":
        habits.update(hidden=False)
    inds = list(wide.columns)
    cat = catalog_meta()
    ext = "xls" if fmt == "xls" else "xlsx"
    form_name = "基层团建统计表" if rnd == 2 else "共青团基层组织建设统计"
    months = mess.period_text(period, "months")
    book = Book(path=f"{_half_dir(period)}/{comm}_{form_name}_{months}.{ext}", fmt=fmt)
    if fmt == "xls":
        book.notes.append(("legacy_xls", "", ".xls", ""))
    sheet = Sheet(name="汇总表" if rnd == 2 else "Sheet1")
    book.sheets.append(sheet)
    writer = _Writer(rng, period, habits["in_yuan"], habits["rate_style"], allow_errors=fmt == "xlsx")

    n_cols = 2 + len(inds) + (1 if habits["note_column"] else 0)
    last = n_cols - 1
    shown_period = _prev(period) if "period_contradicts_file" in bad else period
    style = habits["period_style"]
    title_period = "" if style == "asof" else f"（{mess.period_text(shown_period, style)}）"
    title = sheet.put(0, 0, f"{comm.removesuffix('团委')}{FORM_TITLES[rnd]}{title_period}", "title")
    sheet.merges.append((0, 0, 0, last))
    sheet.merge(1, 0, 1, max(1, last // 2), f"填报单位：{comm}（盖章）", "note")
    asof = sheet.put(1, last, mess.period_text(shown_period, "asof"), "note")
    # the period a reader sees first: the title, or the 截至 line when the title has none
    shown = asof if style == "asof" else title
    if "period_contradicts_file" in bad:
        shown.bad = ("period_contradicts_file", "", period, "")
    elif style != "half":
        shown.mess = ("period_text", period)
    money_unit = "元" if habits["in_yuan"] else "万元"
    sheet.merge(2, 0, 2, max(1, last // 2), f"单位：个、人、{money_unit}", "note")

    # header block: group row, (subgroup row,) indicator row, then the column-code row
    h0 = 3
    n_h = 3 if rnd == 2 else 2
    for c, text in ((0, "县（市、区）"), (1, "行次")):
        sheet.merge(h0, c, h0 + n_h - 1, c, text, "header")
    col_of = {ind: 2 + k for k, ind in enumerate(inds)}
    groups = GROUPS[rnd]
    domains = [cat[i]["domain"] for i in inds]
    k = 0
    while k < len(inds):
        j = k
        while j + 1 < len(inds) and domains[j + 1] == domains[k]:
            j += 1
        sheet.merge(h0, 2 + k, h0, 2 + j, groups[domains[k]], "header")
        k = j + 1
    for ind in inds:
        c = col_of[ind]
        label = labels[ind]
        if cat[ind]["type"] == "money":
            label = cat[ind]["name_zh"] + f"（{money_unit}）"
        if rnd == 2 and ind in SUBGROUPS:
            sheet.put(h0 + 1, c, SUBGROUPS[ind], "header")
            sheet.put(h0 + 2, c, label, "header")
        elif rnd == 2:
            sheet.merge(h0 + 1, c, h0 + 2, c, label, "header")
        else:
            sheet.put(h0 + 1, c, label, "header")
    # merge runs of equal subgroup labels (a label spanning its columns, as on the paper form)
    if rnd == 2:
        sub = [SUBGROUPS.get(ind) for ind in inds]
        k = 0
        while k < len(inds):
            j = k
            while sub[k] and j + 1 < len(inds) and sub[j + 1] == sub[k]:
                j += 1
            if j > k:
                sheet.merges.append((h0 + 1, 2 + k, h0 + 1, 2 + j))
            k = j + 1
    if habits["note_column"]:
        sheet.merge(h0, last, h0 + n_h - 1, last, "备注", "header")
        book.notes.append(("note_column", sheet.name, "备注", ""))
    code_row = h0 + n_h
    sheet.put(code_row, 0, "甲", "code")
    sheet.put(code_row, 1, "乙", "code")
    for ind in inds:
        sheet.put(code_row, col_of[ind], col_of[ind] - 1, "code")

    order = list(units.index)
    if habits["shuffled"]:
        order = list(rng.permutation(order))
        book.notes.append(("rows_out_of_order", sheet.name, "", ""))
    rows = [(units.loc[i], None) for i in order]
    # planted bad rows
    if "duplicate_county" in bad:
        rows.append((units.loc[order[int(rng.integers(len(order)))]], "duplicate_county"))
    if "unknown_county" in bad:
        rows.append((units.loc[order[int(rng.integers(len(order)))]], "unknown_county"))
    target_posts = units.index[int(rng.integers(len(units)))] if "posts_over_authorised" in bad else None
    target_rate = units.index[int(rng.integers(len(units)))] if "rate_out_of_range" in bad else None

    table = wide.to_dict("index")
    r = code_row + 1
    first_data = r
    for line, (u, special) in enumerate(rows, start=1):
        values = dict(table[u["county_code"]])
        if special == "unknown_county":
            name = mess.UNKNOWN_UNITS[int(rng.integers(len(mess.UNKNOWN_UNITS)))]
            cell = sheet.put(r, 0, name)
            cell.bad = ("unknown_county", name, period, "")
            for ind in inds:
                if cat[ind]["type"] == "count":
                    values[ind] = float(np.floor(values[ind] * 0.3))
            values["posts_filled"] = min(values["posts_filled"], values["posts_authorized"])
        else:
            w = mess.loose_county(u["name"], u["short_name"], comm, rng)
            cell = sheet.put(r, 0, w.raw, mess=(w.kind, u["county_code"]) if w.kind else None,
                             context=(u["county_code"], period, ""))
            if special == "duplicate_county":
                cell.bad = ("duplicate_county", u["county_code"], period, "")
                for ind in ("league_members", "members_recruited", "volunteers"):
                    if ind in values:
                        values[ind] = float(np.rint(values[ind] * 1.15 + 3))
        sheet.put(r, 1, line)
        for ind in inds:
            v = values[ind]
            c = col_of[ind]
            if special is None and u.name == target_posts and ind == "posts_filled":
                sheet.put(r, c, int(values["posts_authorized"] + 2),
                          bad=("posts_over_authorised", u["county_code"], period, ind))
            elif special is None and u.name == target_rate and ind == "dues_rate":
                raw = "130%" if writer.rate_style == "percent_string" else (
                    1.3 if writer.rate_style == "fraction" else 130)
                sheet.put(r, c, raw, bad=("rate_out_of_range", u["county_code"], period, ind))
            else:
                writer.put(sheet, r, c, u["county_code"], ind, v)
        if habits["note_column"] and rng.random() < 0.3:
            sheet.put(r, last, str(rng.choice(_NOTES)))
        elif habits["note_column"]:
            sheet.put(r, last, "")
        r += 1
    last_data = r - 1
    # 合计: Excel SUM ignores text, so the cached total is the sum of numbers actually written
    sheet.put(r, 0, "合计", "total")
    sheet.put(r, 1, "", "total")
    for ind in inds:
        c = col_of[ind]
        if cat[ind]["type"] in ("count", "money"):
            nums = [sheet.cells[(rr, c)].value for rr in range(first_data, last_data + 1)
                    if isinstance(sheet.cells[(rr, c)].value, (int, float))
                    and sheet.cells[(rr, c)].formula is None]
            total = round(float(sum(nums)), 2)
            col = xl_col_to_name(c)
            sheet.put(r, c, int(total) if total.is_integer() else total, "total",
                      formula=f"=SUM({col}{first_data + 1}:{col}{last_data + 1})")
        else:
            sheet.put(r, c, "", "total")
    if habits["note_column"]:
        sheet.put(r, last, "", "total")
    r += 2
    report_day = dt.date(int(period[:4]), 7, int(rng.integers(3, 20))) if period.endswith("1") \
        else dt.date(int(period[:4]) + 1, 1, int(rng.integers(5, 25)))
    phone = f"08{int(rng.integers(10, 40))}-{int(rng.integers(2_000_000, 8_999_999))}"
    footer = (f"填表人：{person_name(rng)}　　审核人：{person_name(rng)}　　联系电话：{phone}　　"
              f"填报日期：{report_day.year}年{report_day.month}月{report_day.day}日")
    sheet.merge(r, 0, r, last, footer, "note")
    sheet.merge(r + 1, 0, r + 1, last, "注：1. 本表由各县（市、区）团委填报，市（州）团委汇总；"
                "2. 团费收缴率按百分比填列；3. 是否类指标填“是”或“否”。", "note")
    if habits["in_yuan"]:
        sheet.merge(r + 2, 0, r + 2, last, "   经费单位为元。", "note")
    sheet.widths = {0: 14, 1: 5, **{col_of[i]: 11 for i in inds}}
    if habits["hidden"]:
        book.sheets.append(_draft_sheet(units, wide, inds, labels, rng))
        book.notes.append(("hidden_sheet", book.sheets[-1].name, "", ""))
    return book


def _draft_sheet(units, wide, inds, labels, rng) -> Sheet:
    """A hidden earlier draft: same counties, older numbers; a reader must skip it."""
    sheet = Sheet(name=str(rng.choice(["底稿", "Sheet2", "原始数据"])), hidden=True)
    sheet.put(0, 0, "县（市、区）")
    for k, ind in enumerate(inds[:6], start=1):
        sheet.put(0, k, labels[ind])
    table = wide.to_dict("index")
    for r, (_, u) in enumerate(units.iterrows(), start=1):
        sheet.put(r, 0, u["name"])
        for k, ind in enumerate(inds[:6], start=1):
            v = table[u["county_code"]][ind]
            sheet.put(r, k, float(np.floor(v * rng.uniform(0.8, 1.0))))
    return sheet


def county_sheet(sheet: Sheet, u: pd.Series, values: dict[str, float], period: str,
                 rnd: int, labels: dict[str, str], writer: _Writer, period_style: str) -> None:
    """County form (指标 | 数值 | 单位 | 备注) on ``sheet``."""
    cat = catalog_meta()
    sheet.merge(0, 0, 0, 3, f"{u['name']}{FORM_TITLES[rnd]}", "title")
    sheet.merge(1, 0, 1, 3, f"填报单位：共青团{u['name']}委员会", "note")
    cell = sheet.put(2, 0, f"统计时期：{mess.period_text(period, period_style)}", "note")
    if period_style != "half":
        cell.mess = ("period_text", period)
    sheet.merges.append((2, 0, 2, 3))
    for c, h in enumerate(("指标", "数值", "单位", "备注")):
        sheet.put(3, c, h, "header")
    for r, ind in enumerate(values, start=4):
        sheet.put(r, 0, labels[ind])
        writer.put(sheet, r, 1, u["county_code"], ind, values[ind])
        unit = cat[ind]["unit"]
        if cat[ind]["type"] == "money" and writer.in_yuan:
            unit = "元"
        sheet.put(r, 2, unit)
        note = str(writer.rng.choice(_NOTES)) if writer.rng.random() < 0.08 else ""
        sheet.put(r, 3, note)
    sheet.widths = {0: 36, 1: 12, 2: 8, 3: 20}


def county_books(seed: int, units: pd.DataFrame, wide: pd.DataFrame, period: str,
                 one_file: bool) -> list[Book]:
    """County form workbooks: one workbook with a sheet per county, or one file per county."""
    comm, rnd, habits, labels = _file_start(seed, units, wide, period)
    writer = _Writer(habits["rng"], period, habits["in_yuan"], habits["rate_style"], allow_errors=True)
    books = []
    table = wide.to_dict("index")
    months = mess.period_text(period, "months")
    if one_file:
        book = Book(path=f"{_half_dir(period)}/{comm}_各县（市）团建情况_{months}.xlsx", fmt="xlsx")
        book.notes.append(("sheet_per_county", "", f"{len(units)} sheets", ""))
        books.append(book)
    for _, u in units.iterrows():
        if not one_file:
            book = Book(path=f"{_half_dir(period)}/{comm}/{u['name']}_基层团建情况表_{months}.xlsx",
                        fmt="xlsx")
            books.append(book)
        sheet = Sheet(name=u["name"][:31])
        book.sheets.append(sheet)
        county_sheet(sheet, u, table[u["county_code"]], period, rnd, labels, writer,
                     habits["period_style"])
    if habits["hidden"] and one_file:
        books[0].sheets.append(_draft_sheet(units, wide, list(wide.columns), labels, habits["rng"]))
        books[0].sheets[-1].hidden = True
        books[0].notes.append(("hidden_sheet", books[0].sheets[-1].name, "", ""))
    return books


def csv_book(seed: int, units: pd.DataFrame, wide: pd.DataFrame, period: str, encoding: str) -> Book:
    """CSV export of another system: 地区, 统计期, one column per indicator."""
    comm, rnd, habits, labels = _file_start(seed, units, wide, period)
    rng = habits["rng"]
    writer = _Writer(rng, period, habits["in_yuan"], habits["rate_style"], allow_errors=False)
    stamp = f"{period[:4]}{'06' if period.endswith('1') else '12'}"
    book = Book(path=f"{_half_dir(period)}/{comm}_团务系统导出_{stamp}.csv", fmt="csv", encoding=encoding)
    book.notes.append(("csv_encoding", "", encoding, ""))
    sheet = Sheet(name="csv")
    book.sheets.append(sheet)
    sheet.put(0, 0, "地区")
    sheet.put(0, 1, "统计期")
    inds = list(wide.columns)
    for k, ind in enumerate(inds, start=2):
        label = labels[ind]
        if catalog_meta()[ind]["type"] == "money":
            label = f"{catalog_meta()[ind]['name_zh']}（{'元' if habits['in_yuan'] else '万元'}）"
        sheet.put(0, k, label)
    style = "dot" if habits["period_style"] in ("dot", "asof") else "months"
    table = wide.to_dict("index")
    for r, (_, u) in enumerate(units.iterrows(), start=1):
        w = mess.loose_county(u["name"], u["short_name"], comm, rng)
        sheet.put(r, 0, w.raw, mess=(w.kind, u["county_code"]) if w.kind else None,
                  context=(u["county_code"], period, ""))
        sheet.put(r, 1, mess.period_text(period, style), mess=("period_text", period),
                  context=(u["county_code"], period, ""))
        for k, ind in enumerate(inds, start=2):
            writer.put(sheet, r, k, u["county_code"], ind, table[u["county_code"]][ind])
    return book


def roster_book(roster: pd.DataFrame) -> Book:
    """The residency roster workbook (驻点干部名册), one sheet per round."""
    book = Book(path="驻点干部名册.xlsx", fmt="xlsx")
    batch_zh = {1: "第一批", 2: "第二批", 3: "第三批", 4: "第四批"}
    for rnd, sheet_name, years in ((1, "第一轮", "2008—2010年"), (2, "第二轮", "2012—2014年")):
        sub = roster[roster["round"] == rnd]
        sheet = Sheet(name=sheet_name)
        book.sheets.append(sheet)
        heads = ["序号", "批次", "市（州）", "县（市、区）", "姓名", "派出单位", "驻点开始", "驻点结束", "考核等次"]
        tasks = list(params.TASKS) if rnd == 2 else []
        last = len(heads) + len(tasks) - 1
        sheet.merge(0, 0, 0, last, f"四川省县级团委驻点工作干部名册（{sheet_name}，{years}）", "title")
        for c, h in enumerate(heads):
            if c in (6, 7):
                continue
            sheet.merge(1, c, 2, c, h, "header")
        sheet.merge(1, 6, 1, 7, "驻点时间", "header")
        sheet.put(2, 6, "开始", "header")
        sheet.put(2, 7, "结束", "header")
        if tasks:
            sheet.merge(1, len(heads), 1, last, "五项任务完成情况", "header")
            for k, t in enumerate(tasks):
                sheet.put(2, len(heads) + k, t, "header")
        for r, row in enumerate(sub.itertuples(index=False), start=3):
            vals = [r - 2, batch_zh[row.batch], row.prefecture_name, row.county_name, row.official,
                    row.sending_unit, row.start_date, row.end_date, row.grade]
            for c, v in enumerate(vals):
                sheet.put(r, c, v, "date" if c in (6, 7) else "cell")
            for k, t in enumerate(tasks):
                sheet.put(r, len(heads) + k, row[11 + k])
        sheet.widths = {2: 12, 3: 12, 5: 12, 6: 11, 7: 11, **{len(heads) + k: 14 for k in range(len(tasks))}}
    return book
