"""Reporting periods: read ``2012H1``-style half-years from the ways clerks write them.

Counties report half-yearly; a period is written ``YYYYH1`` (January–June) or ``YYYYH2``
(July–December).  A submission names its period in up to four places — a period column, the
title, a ``截至…`` (as-of) line and the file name — and :func:`periods_from_file` checks that they
agree.

Reading rules (:func:`parse_period`)
------------------------------------
- ``2012H1`` / ``2012 h2`` / ``2012年上半年`` / ``2012年下半年`` / ``2012上半年``.
- Month ranges ``2012年1-6月`` / ``2012年1—6月`` / ``2012年7至12月``: the half-year holding the
  range; ``1-12月`` is a whole year and, like ``2012年度`` and ``2012年全年``, maps to **H2**
  because annual figures are as of 31 December — and is flagged as a whole year
  (:func:`is_whole_year`, :func:`sheet_period`), so that the cleaning step can refuse flow
  indicators that cannot be split into half-years instead of storing a year's total as H2.
  A range that spans both halves (``3-9月``) is not read.
- Dates and months ``截至2012年6月30日`` / ``2012.6`` / ``2012-06`` / ``2012/6/30`` /
  ``2012年6月``: month 1–6 → H1, 7–12 → H2 (a status as of that date).  ``2012.1`` is read as
  January (a float cannot tell ``2012.1`` from ``2012.10``; such files should be checked).
- Quarters ``2012年第一季度``: Q1–Q2 → H1, Q3–Q4 → H2.
- A bare year ``2012年`` → H2 (annual); Chinese-digit years ``二〇一二年`` are read too.
- ``datetime``/``date`` objects → their half-year.
Two different periods in one text (``2012年下半年至2013年上半年``) and spans of years
(``2008—2010年``) give ``None``.
"""

from __future__ import annotations

import datetime as _dt
import re
import unicodedata
from functools import lru_cache
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from analysis.ingest.errors import PeriodError

__all__ = ["parse_period", "is_whole_year", "sheet_period", "periods_from_file",
           "period_sort_key", "half_year_label", "PERIOD_PATTERN", "WHOLE_YEAR_SOURCE_NOTE"]

PERIOD_PATTERN = re.compile(r"^(\d{4})H([12])$")

_YEAR = r"(?<!\d)((?:19|20)\d{2})(?!\d)"
_SEP = r"\s*[-—–~～至到]\s*"
_CN_YEAR_DIGITS = str.maketrans("〇○零一二三四五六七八九", "00012345678" + "9")

# (regex, how) in priority order: more specific readings first; spans they use are not reused.
_RULES: list[tuple[re.Pattern[str], str]] = [
    # "2008—2010年" is a span of years, not the year 2010: consume it without a reading
    (re.compile(_YEAR + r"\s*年?" + _SEP + r"((?:19|20)\d{2})(?!\d)\s*年?(?!\s*\d|\s*[上下]半)"), "year_range"),
    (re.compile(_YEAR + r"\s*[Hh]\s*([12])(?!\d)"), "half"),
    (re.compile(_YEAR + r"\s*年?\s*度?\s*(上|下)\s*半\s*年"), "half_zh"),
    (re.compile(_YEAR + r"\s*年\s*(\d{1,2})\s*月?" + _SEP + r"(\d{1,2})\s*月"), "month_range"),
    (re.compile(_YEAR + r"\s*年?\s*第?\s*([一二三四1234])\s*季\s*度?"), "quarter"),
    (re.compile(_YEAR + r"\s*年\s*(\d{1,2})\s*月(?:\s*(\d{1,2})\s*[日号])?"), "month"),
    (re.compile(_YEAR + r"\s*[./\-]\s*(\d{1,2})(?:\s*[./\-]\s*(\d{1,2}))?(?!\d)"), "month"),
    (re.compile(_YEAR + r"\s*年\s*(?:度|全\s*年)"), "year"),
    (re.compile(_YEAR + r"\s*年(?!\s*\d)"), "year"),
]


def _half(year: int, month: int) -> str | None:
    if not 1 <= month <= 12 or not 1900 <= year <= 2099:  # same years the text pattern admits
        return None
    return f"{year}H{1 if month <= 6 else 2}"


# What a reading says about the span of the report: a half-year (上半年, H1, 1-6月), a whole
# year (2012年度, 全年, 1-12月, a bare 2012年) or a point in time (截至6月30日, 2012.6, a quarter),
# which is neutral: a status as of a date fits a half-year report and a year report alike.
_HALF, _YEAR_SPAN, _POINT = "half", "year", "point"


def _reading(m: re.Match[str], how: str) -> tuple[str | None, str]:
    year = int(m.group(1))
    if how == "half":
        return f"{year}H{m.group(2)}", _HALF
    if how == "half_zh":
        return f"{year}H{1 if m.group(2) == '上' else 2}", _HALF
    if how == "month_range":
        a, b = int(m.group(2)), int(m.group(3))
        if not (1 <= a <= b <= 12):
            return None, _POINT
        if a == 1 and b == 12:
            return f"{year}H2", _YEAR_SPAN
        if b <= 6:
            return f"{year}H1", _HALF
        if a >= 7:
            return f"{year}H2", _HALF
        return None, _POINT  # spans both halves
    if how == "quarter":
        q = "一二三四".find(m.group(2)) + 1 or int(m.group(2))
        return f"{year}H{1 if q <= 2 else 2}", _POINT
    if how == "month":
        return _half(year, int(m.group(2))), _POINT
    if how == "year":
        return f"{year}H2", _YEAR_SPAN
    return None, _POINT  # year_range


def _normalize(text: str) -> str:
    s = unicodedata.normalize("NFKC", text)
    # 二〇一二年 → 2012年 (only runs of four Chinese digits followed by 年, so 一季度 is untouched)
    s = re.sub(r"[〇○零一二三四五六七八九]{4}(?=\s*年)", lambda m: m.group(0).translate(_CN_YEAR_DIGITS), s)
    return s


def parse_period(text: Any) -> str | None:
    """Read a half-year period from free text.

    Parameters
    ----------
    text : object
        A title, a ``截至`` line, a file name, a period-column cell, a ``date``/``datetime``
        (as the Excel reader gives date cells) or a float such as ``2012.6``.

    Returns
    -------
    str or None
        ``"YYYYH1"`` or ``"YYYYH2"``; ``None`` when the text names no period, or names two
        different ones.  Never raises.

    Examples
    --------
    >>> parse_period("截至2012年6月30日")
    '2012H1'
    >>> parse_period("XX市2013年1—6月基层团建工作统计表")
    '2013H1'
    >>> parse_period("2012年度") is None
    False
    """
    return _detail(text)[0]


def is_whole_year(text: Any) -> bool:
    """Whether ``text`` names a whole year rather than a half-year or a date.

    ``2013年度``, ``2013年全年``, ``2013年1-12月`` and a bare ``2013年`` are whole years (their
    :func:`parse_period` is ``2013H2``); ``2013年下半年``, ``2013H2``, ``截至2013年12月31日`` and
    ``2013.12`` are not.  A text that names no period, or names a half-year beside the year
    (``2013年度下半年``), is not a whole year.

    Examples
    --------
    >>> is_whole_year("XX市2013年度基层团建统计表"), is_whole_year("截至2013年12月31日")
    (True, False)
    """
    period, kinds = _detail(text)
    return period is not None and _YEAR_SPAN in kinds and _HALF not in kinds


def _detail(text: Any) -> tuple[str | None, frozenset[str]]:
    """(period, the kinds of reading that gave it) — see :func:`parse_period`; never raises."""
    if type(text) is str:
        return _parse_period_text(text)
    try:
        if text is None or isinstance(text, bool):
            return None, frozenset()
        if isinstance(text, (_dt.datetime, _dt.date)):
            return _half(text.year, text.month), frozenset({_POINT})
        return _parse_period_text(str(text))
    except Exception:  # noqa: BLE001 - contract: never raises on any text
        return None, frozenset()


# Layout detection asks for the period of every header cell, title and period cell, and
# sheets repeat the same texts; caching on the text made detection ~2× faster on the demo data.
@lru_cache(maxsize=1 << 16)
def _parse_period_text(text: str) -> tuple[str | None, frozenset[str]]:
    try:
        s = _normalize(text)
        found: set[str] = set()
        kinds: set[str] = set()
        used: list[tuple[int, int]] = []
        for rx, how in _RULES:
            for m in rx.finditer(s):
                if any(m.start() < e and b < m.end() for b, e in used):
                    continue
                used.append((m.start(), m.end()))
                p, kind = _reading(m, how)
                if p is not None:
                    found.add(p)
                    kinds.add(kind)
        return (found.pop(), frozenset(kinds)) if len(found) == 1 else (None, frozenset())
    except Exception:  # noqa: BLE001 - contract: never raises on any text
        return None, frozenset()


def period_sort_key(period: str) -> tuple[int, int]:
    """``"2012H2"`` → ``(2012, 2)`` for sorting; raises ``ValueError`` on other strings."""
    m = PERIOD_PATTERN.match(period)
    if not m:
        raise ValueError(f"{period!r} is not a period like '2012H1'")
    return int(m.group(1)), int(m.group(2))


def half_year_label(period: str) -> str:
    """Chinese label of a half-year period: ``"2012H1"`` → ``"2012年上半年"``.

    The one spelling used by chart notes (``style.period_label``), clerks' messages and the demo
    generator's folder names.  It lives here, with the other period rules, because the ingest
    workers need it and must not import the plotting modules.

    Parameters
    ----------
    period : ``YYYYH1`` or ``YYYYH2``; anything else (``"2013年"``) is returned unchanged
        (stripped of surrounding spaces).
    """
    p = period.strip()
    if len(p) == 6 and p[:4].isdigit() and p[4] in "Hh" and p[5] in "12":
        return f"{p[:4]}年{'上' if p[5] == '1' else '下'}半年"
    return p


WHOLE_YEAR_SOURCE_NOTE = "全年"
"""Chinese word for a whole-year report, used in the clerk's messages."""


def periods_from_file(
    path: str | Path,
    title: str | None = None,
    cutoff_text: str | None = None,
    column_values: Iterable[Any] | None = None,
    sheet_name: str | None = None,
) -> str | None:
    """Decide a submission's reporting period from every place that names one.

    :func:`sheet_period` without the whole-year flag (see there for the parameters and the
    exceptions)."""
    return sheet_period(path, title, cutoff_text, column_values, sheet_name)[0]


def sheet_period(
    path: str | Path,
    title: str | None = None,
    cutoff_text: str | None = None,
    column_values: Iterable[Any] | None = None,
    sheet_name: str | None = None,
) -> tuple[str | None, bool]:
    """Decide a sheet's reporting period from every place that names one, and whether the
    sheet reports a whole year.

    Parameters
    ----------
    path : str or path-like
        The submission; its file name (without folders) is one source.
    title : str, optional
        The sheet title (merged first row).
    cutoff_text : str, optional
        The ``截至…`` / ``统计时间`` line.
    column_values : iterable, optional
        Cells of a period column (blanks and cells that name no period are ignored).
    sheet_name : str, optional
        The worksheet's name: a workbook with one sheet per half-year (``2012年上半年``,
        ``2012年下半年`` …) often names the period nowhere else.

    Returns
    -------
    (str or None, bool)
        The one period all sources agree on — ``None`` only when the period column holds
        several periods (a multi-period export): the period is then per row, read each row
        with :func:`parse_period` and :func:`is_whole_year` — and ``True`` when a source names
        the period as a whole year (``2013年度``) and none names it as a half-year.

    Raises
    ------
    PeriodError
        ``rule="period_contradiction"`` when two sources name different periods (the message
        names each source and what it says); ``rule="period_missing"`` when no source names a
        period.
    """
    sources: dict[str, str] = {}
    kinds: set[str] = set()
    name = Path(path).name
    for source, text in (("file name", Path(path).stem), ("sheet name", sheet_name),
                         ("title", title), ("截至 line", cutoff_text)):
        if text:
            p, how = _detail(text)
            if p:
                sources[source] = p
                kinds |= how
    column_periods: set[str] = set()
    if column_values is not None:
        for v in column_values:
            p, how = _detail(v)
            if p:
                column_periods.add(p)
                kinds |= how
    if len(column_periods) > 1:
        outside = {src: q for src, q in sources.items() if q not in column_periods}
        if outside:
            said = "; ".join(f"{src} says {q}" for src, q in outside.items())
            raise PeriodError(
                f"period column holds {sorted(column_periods, key=period_sort_key)} but {said} — "
                "请核对报送期间",
                file=path, rule="period_contradiction",
            )
        return None, False
    if column_periods:
        sources["period column"] = next(iter(column_periods))
    distinct = set(sources.values())
    if len(distinct) > 1:
        said = "; ".join(f"{src} says {q}" for src, q in sources.items())
        raise PeriodError(
            f"the sources of the reporting period contradict each other: {said} — "
            "请核对标题、截至日期和文件名中的报送期间",
            file=path, rule="period_contradiction",
        )
    if not distinct:
        raise PeriodError(
            f"no reporting period found in {name!r}, its sheet name, title or a 截至 line — "
            "请在标题或文件名中注明期间，如“2013年上半年”",
            file=path, rule="period_missing",
        )
    return distinct.pop(), _YEAR_SPAN in kinds and _HALF not in kinds
