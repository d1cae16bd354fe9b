"""The indicator catalog: the single source of what is measured.

``data/reference/indicators.csv`` lists every indicator (raw, derived, policy standard) with its
canonical Chinese name, English label, domain, unit, type, valid range, direction and the header
synonyms used by the round-1 and round-2 templates.  Ingest, indices, charts and docs read it
through this module; nothing else hard-codes indicator names.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache
from pathlib import Path
from typing import Literal

import pandas as pd

from analysis.config import paths

Domain = Literal["context", "vitality", "staffing", "tasks"]
DOMAINS: tuple[str, ...] = ("vitality", "staffing", "tasks")
DOMAIN_NAMES_ZH: dict[str, str] = {
    "context": "背景",
    "vitality": "组织活力",
    "staffing": "团干部配备",
    "tasks": "任务完成",
}
TYPES = ("count", "rate", "money", "bool")
KINDS = ("raw", "derived", "standard")

_COLUMNS = [
    "code", "name_zh", "label_en", "domain", "kind", "type", "unit", "min", "max",
    "integer", "direction", "rounds", "synonyms_round1", "synonyms_round2", "formula", "note",
    "timing",
]
TIMINGS = ("stock", "flow")
"""``stock``: a state at the end of the period (counts, rates, yes/no, the year's budget);
``flow``: counted over the half-year (newly recruited, placed, trained, established …).  A
whole-year report (``2013年度``) can stand for the year-end half-year only for stocks."""


class CatalogError(ValueError):
    """The indicator catalog file is malformed."""


def catalog_path() -> Path:
    return paths().reference / "indicators.csv"


@lru_cache(maxsize=4)
def _load(path: str) -> pd.DataFrame:
    cat = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8")
    missing = [c for c in _COLUMNS if c not in cat.columns]
    if missing:
        raise CatalogError(f"{path}: missing column(s) {missing}")
    problems: list[str] = []
    if cat["code"].duplicated().any():
        problems.append(f"duplicated codes {cat.loc[cat['code'].duplicated(), 'code'].tolist()}")
    for col, allowed in (("domain", DOMAIN_NAMES_ZH), ("type", TYPES), ("kind", KINDS),
                         ("timing", TIMINGS)):
        bad = cat.loc[~cat[col].isin(list(allowed)), ["code", col]]
        for code, value in bad.itertuples(index=False):
            problems.append(f"{code}: {col}={value!r} not in {list(allowed)}")
    for col in ("min", "max"):
        cat[col] = pd.to_numeric(cat[col], errors="raise").astype(float)
    for col in ("integer", "direction"):
        cat[col] = pd.to_numeric(cat[col], errors="raise").astype(int)
    cat["rounds"] = cat["rounds"].map(lambda s: tuple(int(x) for x in s.split("|") if x))
    for r in (1, 2):
        col = f"synonyms_round{r}"
        cat[col] = cat[col].map(lambda s: tuple(x for x in s.split("|") if x))
    derived = cat["kind"] != "raw"
    no_formula = cat.loc[derived & (cat["formula"] == ""), "code"].tolist()
    if no_formula:
        problems.append(f"derived indicators without formula: {no_formula}")
    if problems:
        raise CatalogError(f"{path}: " + "; ".join(problems))
    return cat.set_index("code", drop=False)


def load_catalog(path: str | Path | None = None) -> pd.DataFrame:
    """Return the indicator catalog, one row per indicator, indexed by ``code``.

    Columns ``rounds``, ``synonyms_round1`` and ``synonyms_round2`` hold tuples; ``min``/``max``
    are floats in the catalog unit; ``integer`` is 0/1; ``direction`` is +1 (higher is better),
    -1 (lower is better) or 0 (context, no direction).
    """
    return _load(str(path or catalog_path())).copy()


def raw_indicators(round_: int | None = None) -> list[str]:
    """Codes of indicators collected on the forms (optionally only those of one round)."""
    cat = load_catalog()
    cat = cat[cat["kind"] == "raw"]
    if round_ is not None:
        cat = cat[cat["rounds"].map(lambda r: round_ in r)]
    return cat["code"].tolist()


_BRACKETS = re.compile(r"[（(\[【][^）)\]】]*[）)\]】]")
_LEADING_MARK = re.compile(r"^(?:(?:\d{1,2}|[一二三四五六七八九十]{1,3})[、.．:：]|（(?:\d{1,2}|[一二三四五六七八九十]{1,3})）"
                           r")*(?:其中[:：]?)?")
_CIRCLED = re.compile(r"^[\u2460-\u2473]")
_SPACE = re.compile(r"\s+")


def normalize_label(text: object) -> str:
    """Normalise a header or label for matching.

    NFKC folds full-width letters, digits and punctuation to ASCII; line breaks and spaces are
    removed; a leading row number or breakdown mark (``1.``, ``（2）``, ``一、``, ``①``,
    ``其中：``) is dropped, and so is a unit in brackets at the end (``团员数（人）``).  Brackets in the middle
    that are part of the canonical name (``乡镇（街道）数``) are kept, because the canonical names
    are normalised the same way before comparison.
    """
    # circled numbers first: NFKC turns ① into a bare 1
    s = unicodedata.normalize("NFKC", _CIRCLED.sub("", str(text).strip()))
    s = _SPACE.sub("", s)
    s = s.replace("(", "（").replace(")", "）")
    # statistical tables number their rows and mark breakdowns: "1.团员数", "（2）团员数",
    # "一、基层团组织数", "①团员数", "其中：已建团组织的规模以上非公企业数"
    s = _LEADING_MARK.sub("", s)
    # strip trailing unit brackets like （人） / （万元） / (%) repeatedly
    while True:
        m = re.search(r"（[^（）]{0,6}）$", s)
        if not m or len(s) - len(m.group(0)) < 2:
            break
        inner = m.group(0)[1:-1]
        if inner in {"街道"}:
            break
        s = s[: m.start()]
    return s


@lru_cache(maxsize=1)
def header_index() -> dict[str, str]:
    """Map every normalised canonical name and synonym to its indicator code."""
    cat = load_catalog()
    index: dict[str, str] = {}
    for row in cat[cat["kind"] == "raw"].itertuples(index=False):
        for label in (row.name_zh, *row.synonyms_round1, *row.synonyms_round2):
            key = normalize_label(label)
            other = index.get(key)
            if other is not None and other != row.code:
                raise CatalogError(f"header {label!r} is used by both {other} and {row.code}")
            index[key] = row.code
    return index


def match_header(text: object) -> str | None:
    """Return the indicator code a header names, or ``None`` when it names none."""
    return header_index().get(normalize_label(text))
