"""Loose and bad values, as county and prefecture clerks really write them.

Each helper returns the text or number to write plus, when it differs from a plain number in
the catalog unit, the mess kind and the value a correct reader should recover (``clean``).  The
layout code attaches these to cells; :func:`analysis.demo.writers.records` then knows the A1
address of every mess it made.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from analysis.demo import params
from analysis.ingest.periods import half_year_label

MESS_KINDS = (
    "placeholder", "number_with_text", "fullwidth_digits", "yuan_not_wanyuan", "yes_no_word",
    "percent_string", "percent_fraction", "county_name", "sheet_per_county", "hidden_sheet",
    "excel_error", "note_column", "rows_out_of_order", "period_text", "csv_encoding",
    "legacy_xls",
)
BAD_KINDS = {
    "posts_over_authorised": "posts_filled ≤ posts_authorized unless a note explains it",
    "rate_out_of_range": "dues_rate between 0 and 100 %",
    "duplicate_county": "one row per county and period (conflicting duplicate)",
    "unknown_county": "every row names a county-level unit of Sichuan",
    "period_contradicts_file": "period in the title equals the period in the file name",
}
# Development zones often send a row of their own although they are not county-level units.
UNKNOWN_UNITS = ("高新区", "经济技术开发区")

_FULLWIDTH = str.maketrans("0123456789.", "０１２３４５６７８９．")


@dataclass
class Written:
    """A value as written into a cell, with its mess (if any)."""

    raw: object
    kind: str | None = None
    clean: object = None


def fullwidth(text: str) -> str:
    return text.translate(_FULLWIDTH)


def _fmt_number(v: float) -> str:
    return str(int(v)) if float(v).is_integer() else f"{v:g}"


def write_count(v: float, unit: str, rng: np.random.Generator, allow_mess: bool = True) -> Written:
    """A count: mostly a plain integer; sometimes a placeholder, text around it, full width."""
    r = rng.random()
    rates = params.MESS_RATES
    if allow_mess and r < rates["placeholder"]:
        return Written(str(rng.choice(params.PLACEHOLDERS)), "placeholder", None)
    r -= rates["placeholder"]
    if allow_mess and r < rates["number_with_text"]:
        text = f"约{_fmt_number(v)}" if rng.random() < 0.5 else f"{_fmt_number(v)}{unit}"
        return Written(text, "number_with_text", v)
    r -= rates["number_with_text"]
    if allow_mess and r < rates["fullwidth_digits"]:
        return Written(fullwidth(_fmt_number(v)), "fullwidth_digits", v)
    return Written(int(v))


def write_money(v: float, in_yuan: bool, rng: np.random.Generator) -> Written:
    """Funds in 万元, or in 元 under a header that says 元."""
    if in_yuan:
        return Written(int(round(v * 10_000)), "yuan_not_wanyuan", v)
    w = write_count(v, "万元", rng)
    if w.kind is None:
        return Written(round(float(v), 2))
    return w


def write_bool(v: float, rng: np.random.Generator) -> Written:
    words = params.YES_NO_WORDS[int(v)]
    word = str(rng.choice(words, p=params.YES_NO_WORD_WEIGHTS))
    if word in ("是", "否"):
        return Written(word)
    return Written(word, "yes_no_word", int(v))


def write_rate(v: float, style: str) -> Written:
    """A percentage as 85 / "85%" / 0.85 (the file's habit)."""
    if style == "percent_string":
        return Written(f"{v:g}%", "percent_string", v)
    if style == "fraction":
        return Written(round(v / 100, 4), "percent_fraction", v)
    return Written(v)


def loose_county(name: str, short: str, prefecture_committee: str, rng: np.random.Generator) -> Written:
    """A county name as typed: mostly the official name, sometimes a loose form."""
    if rng.random() >= params.MESS_RATES["county_name"]:
        return Written(name)
    form = int(rng.integers(4))
    if form == 0:
        text = prefecture_committee.removesuffix("团委") + name       # 凉山州喜德县
    elif form == 1 and len(short) >= 2:
        text = short                                                 # 喜德
    elif form == 2:
        text = name[0] + " " + name[1:]                              # 喜 德县
    else:
        text = name[:-1] + "\u3000" + name[-1] if len(name) > 2 else "\u3000" + name  # 喜德　县
    return Written(text, "county_name", None)


def period_text(period: str, style: str) -> str:
    """Chinese period text in one of the styles seen on forms."""
    if style == "half":
        return half_year_label(period)
    year, half = int(period[:4]), int(period[-1])
    return {
        "months": f"{year}年{'1-6' if half == 1 else '7-12'}月",
        "asof": f"截至{year}年{'6月30日' if half == 1 else '12月31日'}",
        "dot": f"{year}.{6 if half == 1 else 12}",
    }[style]
