"""Read one messy cell value as a number in the catalog unit.

:func:`parse_value` is the only place that decides what a clerk's cell means.  It never raises on
a cell (any text, number, date, ``None``): it returns a :class:`Parsed` whose ``status`` says
whether a value was read (``"ok"``), the cell was deliberately empty (``"missing"``, with the
placeholder kept in ``note``) or could not be read (``"error"``, with a rule name and a message a
county clerk understands).  The cleaning step turns errors into an error table; nothing is
silently dropped.

Rules, in the order they are tried
----------------------------------
1. ``None``, NaN, empty or blank text → missing (rule ``blank``).
2. Excel error cells (``#DIV/0!``, ``#N/A``, ``#VALUE!``, ``#REF!``, ...) → error (``excel_error``).
3. Text is folded with NFKC (full-width digits, letters, ``％`` and ``，`` become ASCII) and the
   true minus sign ``−`` becomes ``-``.
4. Placeholders (``—``, ``-``, ``/``, ``无``, ``暂无``, ``空``, ``N/A``, ``未填``, ...) → missing
   (``placeholder``), except that for yes/no indicators ``无`` means "no" (0).
5. Yes/no indicators: ``是/有/√/✓/已…/Y/yes/true/1`` → 1 and ``否/无/×/✗/未…/没有/不…/N/no/false/0`` → 0.
6. Numbers: approximate words (``约``, ``近``, ``余``, ``多``, ``左右``) and unit words (``人``, ``个``,
   ``人次``, ``件``, ``元``, ``万元``, ``%``, ...) are stripped and noted; thousands separators
   (``1,234`` and ``1 234``), scientific notation and Chinese numerals (``三百``, ``一千二百``,
   ``两``, ``1.2万``) are read.
7. Rates (catalog unit ``%``): ``"85%"`` → 85; a bare number ≤ 1 (``0.85``, as Excel stores a
   percent-formatted cell) is read as a share and multiplied by 100 (rule ``share_to_percent``, noted);
   a bare number > 1 is already a percentage.  Consequence: a rate of exactly 1 % must be written
   ``"1%"``.
8. Money: the unit written in the cell, else the unit in the header, is converted to the catalog
   unit (``元`` → ``万元`` divides by 10 000; ``0.5元/人`` with catalog unit ``元/人`` stays 0.5).

Integers stay exact: integer text is read with :class:`int` (arbitrary precision) and whole
numbers of count and yes/no indicators are returned as ``int``.  Parsing is idempotent on clean
values: ``parse_value(str(p.value), type).value == p.value`` (for rates, when the value is > 1).
"""

from __future__ import annotations

import datetime as _dt
import math
import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from decimal import Decimal, InvalidOperation
from numbers import Number
from typing import Any, Literal

__all__ = ["Parsed", "ValueType", "parse_value", "normalize_text", "EXCEL_ERRORS", "PLACEHOLDERS"]

ValueType = Literal["count", "rate", "money", "bool", "number"]
Status = Literal["ok", "missing", "error"]
_TYPES = ("count", "rate", "money", "bool", "number")


@dataclass(frozen=True)
class Parsed:
    """The reading of one cell.

    Attributes
    ----------
    value : int, float or None
        The number in the catalog unit (``None`` unless status is ``"ok"``).  ``int`` for whole
        counts and yes/no values, so large integers stay exact.
    status : {"ok", "missing", "error"}
    rule : str
        Name of the rule that produced the value, e.g. ``number``, ``number_with_text``,
        ``thousands_separator``, ``chinese_numeral``, ``percent_sign``, ``share_to_percent``,
        ``unit_conversion``, ``yes_no``, ``placeholder``, ``blank``, ``excel_error``,
        ``not_a_number``, ``not_yes_no``, ``range_not_number``, ``wrong_unit``, ``date_not_number``,
        ``not_finite``.
    note : str
        What was done or why the cell could not be read.  For errors it completes the sentence
        ``"<cell text>" …`` (e.g. ``is not a number — 请填写数字，如 300``) so it can be used as the
        message of an :class:`analysis.ingest.errors.ValueParseError`.
    """

    value: int | float | None
    status: Status
    rule: str
    note: str = ""

    @property
    def ok(self) -> bool:
        return self.status == "ok"


EXCEL_ERRORS: frozenset[str] = frozenset(
    {"#DIV/0!", "#N/A", "#VALUE!", "#REF!", "#NAME?", "#NUM!", "#NULL!", "#GETTING_DATA", "#SPILL!",
     "#CALC!", "#FIELD!", "#N/A!"}
)

# Compared after NFKC, whitespace removal and lower-casing.
PLACEHOLDERS: frozenset[str] = frozenset(
    {"-", "--", "---", "—", "——", "–", "――", "―", "─", "/", "//", "\\", "无", "暂无", "空", "n/a",
     "na", "n.a.", "none", "null", "nan", "未填", "未填报", "不详", "缺", "缺报", "待填", "待报",
     "…", "...", "......", "x", "*", "?", "？", "不适用", "未统计"}
)

_YES = frozenset({"是", "有", "√", "✓", "✔", "☑", "y", "yes", "true", "t", "对", "已", "1", "是的",
                  "已建立", "已列席", "已纳入", "已出台", "已落实", "列席", "建立", "纳入"})
_NO = frozenset({"否", "无", "×", "✗", "✘", "☒", "x", "n", "no", "false", "f", "未", "0", "没有",
                 "未建立", "未列席", "未纳入", "未出台", "未落实", "不是", "不列席", "否的"})

_MINUS = str.maketrans({"\u2212": "-", "\u2010": "-", "\u2011": "-", "\ufe63": "-"})
_SPACE = re.compile(r"\s+")
_APPROX_PREFIX = re.compile(r"^(约计|大约|约为|约有|约|近|将近|接近|共计|共有|共|计)")
_APPROX_SUFFIX = re.compile(r"(余|多|左右|以上|上下|许)$")
# Longest first so that 万元 wins over 元 and 人次 over 人.
_MONEY_UNITS: dict[str, float] = {"亿元": 1e8, "万元": 1e4, "千元": 1e3, "百元": 1e2, "元": 1.0}
_COUNT_UNITS = ("人次", "人", "个", "件", "名", "次", "家", "所", "户", "项", "支", "场", "期", "份",
                "位", "篇", "张")
_PER = re.compile(r"/(人|人次|个|名)$")
_PLAIN_NUMBER = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")
_THOUSANDS = re.compile(r"^[+-]?\d{1,3}(,\d{3})+(\.\d+)?$")
_SPACED_THOUSANDS = re.compile(r"^[+-]?\d{1,3}( \d{3})+(\.\d+)?$")
_RANGE = re.compile(r"\d\s*(-|~|～|至|到)\s*\d")

_CN_DIGITS = {"零": 0, "〇": 0, "○": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5,
              "六": 6, "七": 7, "八": 8, "九": 9, "壹": 1, "贰": 2, "叁": 3, "肆": 4, "伍": 5,
              "陆": 6, "柒": 7, "捌": 8, "玖": 9}
_CN_SMALL = {"十": 10, "拾": 10, "百": 100, "佰": 100, "千": 1000, "仟": 1000}
_CN_BIG = {"万": 10_000, "萬": 10_000, "亿": 100_000_000}
_CN_TOKEN = re.compile(r"\d+(?:\.\d+)?|[零〇○一二两三四五六七八九壹贰叁肆伍陆柒捌玖十拾百佰千仟万萬亿]")
_CN_ONLY = re.compile(r"^(?:\d+(?:\.\d+)?|[零〇○一二两三四五六七八九壹贰叁肆伍陆柒捌玖十拾百佰千仟万萬亿])+$")


def normalize_text(raw: object) -> str:
    """NFKC-fold a cell's text, turn real minus signs into ``-`` and trim the ends."""
    return unicodedata.normalize("NFKC", str(raw)).translate(_MINUS).strip()


def _err(rule: str, note: str) -> Parsed:
    return Parsed(None, "error", rule, note)


def _missing(rule: str, note: str) -> Parsed:
    return Parsed(None, "missing", rule, note)


def _parse_plain(s: str) -> int | float | None:
    """Read an ASCII number; integers with :class:`int` so they stay exact."""
    if not _PLAIN_NUMBER.match(s):
        return None
    if re.fullmatch(r"[+-]?\d+", s):
        return int(s)
    try:
        v = float(s)
    except ValueError:  # pragma: no cover - the regex admits only float syntax
        return None
    return v


def _parse_chinese(s: str) -> int | float | None:
    """Read Chinese numerals, alone or mixed with Arabic digits (``三百``, ``一千二``, ``1.2万``).

    Written by hand because no maintained PyPI package reads mixed forms like ``1.2万``; the
    grammar is small (digits, 十/百/千 inside a section, 万/亿 between sections).
    """
    if not _CN_ONLY.match(s) or not re.search(r"[^\d.]", s):
        return None
    total: float = 0
    section: float = 0
    num: float | None = None
    last_mult = 1
    prev_digit = False
    for tok in _CN_TOKEN.findall(s):
        if tok in _CN_SMALL:
            mult = _CN_SMALL[tok]
            section += (num if num is not None else 1) * mult
            num, last_mult, prev_digit = None, mult, False
        elif tok in _CN_BIG:
            mult = _CN_BIG[tok]
            section += num or 0
            if mult == 100_000_000:
                total = (total + section) * mult
            else:
                total += section * mult
            section, num, last_mult, prev_digit = 0, None, mult, False
        else:
            if tok in ("零", "〇", "○"):
                num, prev_digit, last_mult = None, False, 10 ** 9  # 零 cancels the 一千二 shorthand
                continue
            if prev_digit:  # two digits in a row ("三五") is not a number we read
                return None
            num = _CN_DIGITS[tok] if tok in _CN_DIGITS else float(tok) if "." in tok else int(tok)
            prev_digit = True
    if num is not None:
        # "一千二" means 1200: a trailing digit right after 千/百 counts in the next lower unit.
        if 10 < last_mult < 10_000 and prev_digit:
            num = num * last_mult // 10
        section += num
    total += section
    if isinstance(total, float) and total.is_integer() and abs(total) < 2**53:
        return int(total)
    return total


def _read_number(s: str, notes: list[str]) -> tuple[int | float | None, str]:
    """Read a number from text already stripped of units; return (value, rule)."""
    s = s.replace("，", ",")
    v = _parse_plain(s)
    if v is not None:
        return v, "number"
    if _THOUSANDS.match(s):
        notes.append("thousands separator removed")
        return _parse_plain(s.replace(",", "")), "thousands_separator"
    if _SPACED_THOUSANDS.match(s):
        notes.append("thousands separator removed")
        return _parse_plain(s.replace(" ", "")), "thousands_separator"
    compact = _SPACE.sub("", s)
    sign = 1
    if compact.startswith("-"):
        sign, compact = -1, compact[1:]
    cn = _parse_chinese(compact)
    if cn is not None:
        notes.append("Chinese numerals read")
        return sign * cn, "chinese_numeral"
    return None, "not_a_number"


def _as_number_type(v: int | float, type_: str) -> int | float:
    """Whole counts and yes/no values as ``int`` (exact); everything else as given."""
    if type_ in ("count", "bool") and isinstance(v, float) and v.is_integer() and abs(v) < 2**63:
        return int(v)
    return v


def _scale(v: int | float, factor: float) -> int | float:
    """Multiply by a unit factor without spurious binary noise (0.3 stays 0.3, not 0.30000000000000004)."""
    if factor == 1:
        return v
    try:
        out = float(Decimal(repr(v)) * Decimal(repr(factor)))
    except (InvalidOperation, ValueError):  # pragma: no cover - repr of a finite float is decimal
        out = v * factor
    return out


def _unit_factor(found: str, target: str | None) -> float | None:
    """Factor turning an amount in money unit ``found`` into ``target`` (``None`` if not money)."""
    if bool(_PER.search(found)) != bool(target and _PER.search(target)):
        return None  # a per-person amount is not a total amount
    f = _PER.sub("", found)
    t = _PER.sub("", target) if target else f
    if f in _MONEY_UNITS and t in _MONEY_UNITS:
        return _MONEY_UNITS[f] / _MONEY_UNITS[t]
    return None


def _bool_from_text(s: str) -> int | None:
    key = _SPACE.sub("", s).lower()
    key = key.rstrip("。.!！")
    if key in _YES:
        return 1
    if key in _NO:
        return 0
    # Free phrases: "已建立联系会议制度" / "未纳入" / "不列席" / "没有".
    if key.startswith(("未", "没", "不", "无", "否", "暂未", "尚未", "暂无")):
        return 0
    if key.startswith(("已", "是", "有")):
        return 1
    return None


def parse_value(
    raw: Any,
    type: ValueType,  # noqa: A002 - the contract with the pipeline names it "type"
    unit: str | None = None,
    header_unit: str | None = None,
) -> Parsed:
    """Read one raw cell as a number in the catalog unit.

    Parameters
    ----------
    raw : object
        The cell as the reader gave it: ``str``, ``int``, ``float``, ``bool``, date, ``None``.
    type : {"count", "rate", "money", "bool", "number"}
        The indicator's catalog type (``number`` = any number, no unit logic).
    unit : str, optional
        The catalog unit the value must end in (``"万元"``, ``"元/人"``, ``"%"``, ``"人"``...).
    header_unit : str, optional
        A unit written in the column header or the units row (``"元"`` in ``经费（元）``); used
        when the cell itself names no unit.

    Returns
    -------
    Parsed
        Never raises for any ``raw``; see the module docstring for the rules.

    Raises
    ------
    ValueError
        Only when ``type`` is not one of the allowed names (a programming error, not a data error).

    Examples
    --------
    >>> parse_value("约300人", "count")
    Parsed(value=300, status='ok', rule='number_with_text', note='approximate ("约") read as 300; unit "人" dropped')
    >>> parse_value("3000元", "money", unit="万元").value
    0.3
    """
    if type not in _TYPES:
        raise ValueError(f"parse_value: type={type!r} is not one of {_TYPES}; use the catalog 'type' column")
    # (``type`` is the parameter here, hence __class__)
    if raw.__class__ is str and (unit is None or unit.__class__ is str) and (
            header_unit is None or header_unit.__class__ is str):
        return _parse_text(raw, type, unit, header_unit)
    return _parse_safely(raw, type, unit, header_unit)


def _parse_safely(raw: Any, type_: str, unit: str | None, header_unit: str | None) -> Parsed:
    try:
        return _parse(raw, type_, unit, header_unit)
    except Exception as exc:  # noqa: BLE001 - the contract is "never raises on a cell"
        return _err("internal", f"could not be read ({exc.__class__.__name__}) — 请检查该单元格")


# Text cells repeat ("—", "是", "约300人", CSV numbers): each distinct (text, type, unit, header
# unit) is read once.  Only str keys are cached — 1, 1.0 and True are equal as dict keys but
# read differently — and Parsed is frozen, so sharing one instance is safe.
@lru_cache(maxsize=1 << 16)
def _parse_text(raw: str, type_: str, unit: str | None, header_unit: str | None) -> Parsed:
    return _parse_safely(raw, type_, unit, header_unit)


def _parse(raw: Any, type_: str, unit: str | None, header_unit: str | None) -> Parsed:
    # --- non-text cells -------------------------------------------------------------------
    if raw is None or type(raw).__name__ in ("NAType", "NaTType"):  # pandas' missing markers
        return _missing("blank", "empty cell")
    if isinstance(raw, bool):
        if type_ == "bool":
            return Parsed(int(raw), "ok", "yes_no", "")
        return _err("not_a_number", "is a TRUE/FALSE cell, not a number — 请填写数字")
    if isinstance(raw, (_dt.date, _dt.datetime, _dt.time, _dt.timedelta)):
        return _err("date_not_number", "is a date, not a number — 请填写数字（单元格可能被设为日期格式）")
    if isinstance(raw, Number) and not isinstance(raw, str):
        try:
            fv = float(raw)  # type: ignore[arg-type]
        except (TypeError, ValueError, OverflowError):
            return _err("not_a_number", "is not a number — 请填写数字")
        if math.isnan(fv):
            return _missing("blank", "empty cell")
        if math.isinf(fv):
            return _err("not_finite", "is not a finite number — 请填写数字")
        v: int | float = raw if isinstance(raw, int) else fv
        return _finish(v, type_, unit, header_unit, unit_in_cell=None, notes=[], rule="number",
                       percent_sign=False)
    # --- text -----------------------------------------------------------------------------
    s = normalize_text(raw)
    if not s:
        return _missing("blank", "empty cell")
    if s.upper() in EXCEL_ERRORS:
        return _err("excel_error", "is an Excel error — 请修正公式或直接填写数字")
    key = _SPACE.sub("", s).lower()
    if type_ == "bool":
        b = _bool_from_text(s)
        if b is not None:
            return Parsed(b, "ok", "yes_no", "" if key in ("1", "0", "是", "否") else f'"{s}" read as {b}')
    if key in PLACEHOLDERS:
        return _missing("placeholder", f'placeholder "{s}"')
    if type_ != "bool" and key in (_YES | _NO) - {"1", "0"}:
        return _err("yes_no_for_number", "is a yes/no answer, but a number is expected — 请填写数字")

    notes: list[str] = []
    rule = "number"
    body = s
    m = _APPROX_PREFIX.search(body)
    if m:
        notes.append(f'approximate ("{m.group(0)}")')
        body = body[m.end():].strip()
    m = _APPROX_SUFFIX.search(body)
    if m:
        notes.append(f'approximate ("{m.group(0)}")')
        body = body[: m.start()].strip()
    # Unit words at the end of the cell (and the two that come first: ¥300, 百分之八十五).
    percent_sign = False
    unit_in_cell: str | None = None
    if body.startswith("¥"):  # NFKC has folded ￥ to ¥
        body = body[1:].strip() + "元"
    if body.startswith("百分之"):
        body = body[3:].strip() + "%"
    if body.endswith("%"):
        percent_sign, body = True, body[:-1].strip()
    elif body.endswith("‰"):
        notes.append("per mille read as percent / 10")
        body = body[:-1].strip()
        inner, irule = _read_number(body, notes)
        if inner is None:
            return _err("not_a_number", "is not a number — 请填写数字，如 85%")
        return _finish(_scale(inner, 0.1), type_, unit, header_unit, None, notes, "percent_sign", True)
    else:
        per = _PER.search(body)
        core = body[: per.start()] if per else body
        for u in _MONEY_UNITS:
            if core.endswith(u):
                unit_in_cell = u + (per.group(0) if per else "")
                body = core[: -len(u)].strip()
                break
        else:
            if per:
                body = core
                unit_in_cell = per.group(0)
            for u in _COUNT_UNITS:
                if body.endswith(u):
                    notes.append(f'unit "{u}" dropped')
                    body = body[: -len(u)].strip()
                    break
        # "5万" in a money column means 5 万元 (the clerk left out 元).
        if unit_in_cell is None and type_ == "money" and body.endswith(("万", "萬")) and _parse_plain(body[:-1].strip()) is not None:
            unit_in_cell, body = "万元", body[:-1].strip()
            notes.append('"万" read as 万元')
    m = _APPROX_SUFFIX.search(body)  # "300余人": the approximate word sits before the unit
    if m:
        notes.insert(0, f'approximate ("{m.group(0)}")')
        body = body[: m.start()].strip()
    if not body:
        return _err("not_a_number", "has a unit but no number — 请填写数字")
    if _RANGE.search(body):
        return _err("range_not_number", "is a range, not one number — 请填写一个数字")
    v, how = _read_number(body, notes)
    if v is None and type_ == "bool":
        return _err("not_yes_no", "is not a yes/no answer — 请填写“是”或“否”")
    if v is None:
        return _err("not_a_number", "is not a number — 请填写数字，如 300")
    if how != "number":
        rule = how
    if notes and rule == "number":
        rule = "number_with_text"
    if notes and notes[0].startswith("approximate"):
        notes[0] = f"{notes[0]} read as {v}"
    return _finish(v, type_, unit, header_unit, unit_in_cell, notes, rule, percent_sign)


def _finish(
    v: int | float,
    type_: str,
    unit: str | None,
    header_unit: str | None,
    unit_in_cell: str | None,
    notes: list[str],
    rule: str,
    percent_sign: bool,
) -> Parsed:
    """Apply the type's unit logic to a number read from a cell."""
    if isinstance(v, float) and not math.isfinite(v):
        return _err("not_finite", "is not a finite number — 请填写数字")
    if type_ == "bool":
        if v in (0, 1):
            return Parsed(int(v), "ok", "yes_no", "")
        return _err("not_yes_no", "is not a yes/no answer — 请填写“是”或“否”")
    if type_ == "rate":
        if unit_in_cell is not None:
            return _err("wrong_unit", f'names a money unit "{unit_in_cell}" for a rate — 请填写百分比，如 85%')
        if percent_sign:
            return Parsed(v, "ok", "percent_sign" if rule == "number" else rule, "; ".join(notes))
        if -1 <= v <= 1:
            scaled = _scale(v, 100)
            notes.append(f"{v} ≤ 1 without % read as a share: {scaled}%")
            return Parsed(scaled, "ok", "share_to_percent", "; ".join(notes))
        return Parsed(v, "ok", rule, "; ".join(notes))
    if percent_sign:
        if type_ == "number":
            return Parsed(v, "ok", "percent_sign", "; ".join(notes))
        return _err("wrong_unit", "is a percentage, but a count or amount is expected — 请填写数字")
    if type_ == "money":
        source = unit_in_cell or (normalize_text(header_unit) if header_unit else None)
        if source and unit:
            factor = _unit_factor(source, normalize_text(unit))
            if factor is None:
                return _err("wrong_unit", f'is in "{source}", which cannot be converted to {unit} — 请按{unit}填写')
            if factor != 1:
                v = _scale(v, factor)
                where = "cell" if unit_in_cell else "header"
                notes.append(f"{where} unit {source} converted to {unit} (×{factor:g})")
                rule = "unit_conversion"
        return Parsed(v, "ok", rule, "; ".join(notes))
    if type_ == "count":
        if unit_in_cell is not None:
            return _err("wrong_unit", f'names a money unit "{unit_in_cell}" for a count — 请填写数量')
        return Parsed(_as_number_type(v, type_), "ok", rule, "; ".join(notes))
    return Parsed(v, "ok", rule, "; ".join(notes))
