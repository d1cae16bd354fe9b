"""The residency roster (驻点干部名册): roster sheets → roster rows with pseudonymous cadre ids.

The roster is not a statistics form: it is recognised by its name, read by its own header
rules, and its cadres' names are replaced by a keyed hash (:func:`pseudonym`, salt from
:func:`load_salt`) before anything leaves this module.  Kept apart so that the one place that
handles personal names is small and easy to review.  :func:`round_from_text` (the round a sheet
name or title names) is also what :mod:`analysis.design` and :mod:`analysis.summaries` use.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import secrets
import unicodedata
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from analysis.catalog import normalize_label
from analysis.ingest.cells import _as_text, _present, _text_or
from analysis.ingest.prepare import _county_lookup
from analysis.ingest.result import ROSTER_COLUMNS

__all__ = ["load_salt", "pseudonym", "roster_from_table", "round_from_text", "is_roster_sheet"]


ROSTER_MARKERS = ("名册", "驻点干部")
"""Words that, beside a 姓名 header, mark a thin roster (see :func:`is_roster_sheet`)."""


SALT_ENV = "RESIDENCY_SALT"
SALT_FILE_NAME = ".salt"


# --------------------------------------------------------------------------------------------
# pseudonyms
# --------------------------------------------------------------------------------------------
def load_salt(salt_file: str | os.PathLike | None = None) -> bytes:
    """The secret key for cadre pseudonyms.

    Order: the environment variable ``RESIDENCY_SALT`` (any text); else the file ``salt_file``
    (default ``data/processed/.salt``), created with 32 random bytes (hex) and mode 0600 on first
    use.  ``.salt`` files are ignored by git.  Keep the salt as long as ids must stay comparable
    between runs; with a new salt every id changes, and without it ids cannot be linked to names.

    Parameters
    ----------
    salt_file : path-like, optional
        Where the salt lives when the environment variable is not set.

    Returns
    -------
    bytes
    """
    env = os.environ.get(SALT_ENV)
    if env:
        return env.encode("utf-8")
    if salt_file is None:
        from analysis.config import paths

        salt_file = paths().processed / SALT_FILE_NAME
    path = Path(salt_file)
    if path.is_file():
        text = path.read_text(encoding="utf-8").strip()
        if text:
            return text.encode("utf-8")
    path.parent.mkdir(parents=True, exist_ok=True)
    text = secrets.token_hex(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text + "\n")
    return text.encode("utf-8")


def pseudonym(name: object, salt: bytes) -> str | None:
    """Stable pseudonymous id of a person: ``"P"`` + 16 hex digits of HMAC-SHA256(salt, name).

    The name is NFKC-folded and stripped of spaces first, so ``"张 三"`` and ``"张三"`` get the same
    id.  An empty name gives ``None``.
    """
    if name is None or (isinstance(name, float) and np.isnan(name)):
        return None
    text = re.sub(r"\s+", "", unicodedata.normalize("NFKC", str(name)))
    if not text:
        return None
    return "P" + hmac.new(salt, text.encode("utf-8"), hashlib.sha256).hexdigest()[:16]


# --------------------------------------------------------------------------------------------
# roster sheets
# --------------------------------------------------------------------------------------------
_ROSTER_FIELDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    # (field, header keywords tried in order); the first header containing a keyword wins
    ("round", ("轮次", "轮")),
    ("batch", ("批次", "批")),
    ("name", ("姓名",)),
    ("prefecture_text", ("市（州）", "市州", "地市")),
    ("sending_unit", ("派出单位", "选派单位", "原单位", "单位")),
    ("county_text", ("驻点县", "驻点单位", "县（市、区）", "县市区", "驻点地", "县")),
    ("start", ("开始", "起始", "到岗")),
    ("end", ("结束", "离岗", "截止")),
    ("assessment", ("考核", "鉴定", "等次", "评价")),
    ("task_1", ("党建带团建",)),
    ("task_2", ("团干部配备",)),
    ("task_3", ("建立团组织", "团组织建设")),
    ("task_4", ("乡镇", "街道")),
    ("task_5", ("青年典型", "青年能人")),
)


def _roster_columns(headers: Sequence[str]) -> dict[str, int]:
    taken: dict[str, int] = {}
    used: set[int] = set()
    norm = [normalize_label(h) if _present(h) else "" for h in headers]
    for name, keywords in _ROSTER_FIELDS:
        for kw in keywords:
            hit = next((i for i, h in enumerate(norm) if kw in h and i not in used), None)
            if hit is not None:
                taken[name] = hit
                used.add(hit)
                break
    return taken


def _int_or_none(x: object) -> int | None:
    if not _present(x):
        return None
    m = re.search(r"\d+", unicodedata.normalize("NFKC", str(x)))
    if m:
        return int(m.group(0))
    cn = {"一": 1, "二": 2, "三": 3, "四": 4}
    return next((v for k, v in cn.items() if k in str(x)), None)


def _date_text(x: object) -> str | None:
    if not _present(x):
        return None
    if hasattr(x, "isoformat"):
        return x.isoformat()[:10]
    s = unicodedata.normalize("NFKC", str(x)).strip()
    m = re.match(r"(\d{4})\D+(\d{1,2})(?:\D+(\d{1,2}))?", s)
    if m:
        y, mo, d = int(m.group(1)), int(m.group(2)), int(m.group(3) or 1)
        return f"{y:04d}-{mo:02d}-{d:02d}"
    return s


def roster_from_table(table: pd.DataFrame, *, salt: bytes, source_file: str = "",
                      source_sheet: str = "") -> pd.DataFrame:
    """Turn a roster sheet (驻点干部名册) into roster rows with pseudonymous cadre ids.

    Parameters
    ----------
    table : pandas.DataFrame
        The sheet as a grid of cells (no header applied); the header row is the first row
        holding ``姓名``.  Rows below it without a name are skipped (totals, footers).
    salt : bytes
        Key of the pseudonyms (:func:`load_salt`).
    source_file, source_sheet : str
        Provenance written into every row.

    Returns
    -------
    pandas.DataFrame
        :data:`ROSTER_COLUMNS` minus ``county_code``/``base_code`` (added by :func:`clean`);
        ``round``/``batch`` as integers, dates as ``YYYY-MM-DD`` text.  The name column is
        dropped here and never returned.

    Raises
    ------
    analysis.ingest.errors.LayoutError
        No header row with ``姓名`` in the first 20 rows.
    """
    from analysis.ingest.errors import LayoutError

    grid = table.reset_index(drop=True)
    header_row = None
    for i in range(min(20, len(grid))):
        if any(_present(v) and "姓名" in normalize_label(v) for v in grid.iloc[i]):
            header_row = i
            break
    if header_row is None:
        raise LayoutError("has no header row with 姓名 in its first 20 rows; the roster needs "
                          "columns 轮次, 批次, 驻点县, 姓名, 派出单位, 开始/结束日期, 考核等次",
                          file=source_file, sheet=source_sheet, rule="roster_header")
    # the header may span two rows (驻点时间 over 开始 | 结束; 五项任务完成情况 over the tasks):
    # rows below the 姓名 row with an empty name cell still belong to the header
    name_col = next(i for i, v in enumerate(grid.iloc[header_row])
                    if _present(v) and "姓名" in normalize_label(v))
    last = header_row
    while last + 1 < len(grid) and not _present(grid.iat[last + 1, name_col]) and any(
            _present(v) for v in grid.iloc[last + 1]):
        last += 1
    headers = [" ".join(_as_text(grid.iat[r, c]) for r in range(header_row, last + 1)
                        if _present(grid.iat[r, c])) for c in range(grid.shape[1])]
    cols = _roster_columns(headers)
    sheet_round = round_from_text(f"{source_sheet} {_as_text(grid.iat[0, 0])}")
    rows = []
    for i in range(last + 1, len(grid)):
        line = grid.iloc[i]
        name = line.iloc[cols["name"]] if "name" in cols else None
        cadre = pseudonym(name, salt)
        if cadre is None:
            continue

        def get(f):
            return line.iloc[cols[f]] if f in cols and _present(line.iloc[cols[f]]) else None

        round_ = _int_or_none(get("round")) if get("round") is not None else sheet_round
        rows.append({
            "round": round_, "batch": _int_or_none(get("batch")),
            "prefecture_text": _as_text(get("prefecture_text")) or None,
            "county_text": _as_text(get("county_text")) or None, "cadre_id": cadre,
            "sending_unit": _as_text(get("sending_unit")) or None,
            "start": _date_text(get("start")), "end": _date_text(get("end")),
            "assessment": _as_text(get("assessment")) or None,
            **{f"task_{k}": (_as_text(get(f"task_{k}")) or None) for k in range(1, 6)},
            "source_file": source_file, "source_sheet": source_sheet,
            "source_row": i + 1,
        })
    cols_out = [c for c in ROSTER_COLUMNS if c not in ("county_code", "base_code")]
    cols_out.insert(cols_out.index("county_text"), "prefecture_text")
    return pd.DataFrame(rows, columns=cols_out)


def round_from_text(text: str) -> int | None:
    """``第一轮`` / ``第2轮`` / ``round 1`` in a sheet name or title → 1 or 2 (else ``None``).

    The one reading of a round from a sheet name: the roster reader uses it, and so does
    :func:`analysis.design.roster_round` (which :mod:`analysis.summaries` calls), so a sheet names
    the same round everywhere.
    """
    # "round" as a word and one digit: not "around 1", not "round 12"
    m = re.search(r"第\s*([一二12])\s*轮|(?<![a-z])round\s*([12])(?!\d)",
                  unicodedata.normalize("NFKC", text), re.IGNORECASE)
    if not m:
        return None
    token = m.group(1) or m.group(2)
    return {"一": 1, "二": 2}.get(token) or int(token)


def is_roster_sheet(path: Path, sheet_name: str, cells: Sequence[Sequence[object]]) -> bool:
    """Whether a sheet is the residency roster, judged by its content.

    A roster has a header row (among its first 20 rows) with a 姓名 column that names at most
    one catalog indicator, and beside 姓名 either two more roster columns (批次, 驻点县, 派出单位,
    开始/结束日期, 考核等次 …) or a roster word (名册, 驻点干部) in the file name, sheet name or
    first rows.  A county data table that merely mentions the residency — a 驻点干部 or 驻点时间
    column beside its indicators — is no roster: it has indicator columns (and usually no 姓名).
    """
    from analysis.catalog import match_header

    marked = None
    for row in cells[:20]:
        # 姓名 survives normalisation except spaced out (姓 名): test the characters first,
        # which rules out almost every row without normalising anything
        heads = [v for v in row if type(v) is str and "姓" in v and "名" in v]
        if not heads or not any("姓名" in normalize_label(h) for h in heads):
            continue
        heads = [_as_text(v) for v in row if _present(v) and isinstance(v, str)]
        if sum(match_header(h) is not None for h in heads) >= 2:
            return False  # a data table with a column of names
        if len(_roster_columns(heads)) >= 3:  # 姓名 and two more roster fields
            return True
        if marked is None:
            text = f"{path.name} {sheet_name} " + " ".join(
                _as_text(v) for line in cells[:3] for v in line if _present(v))
            marked = any(m in text for m in ROSTER_MARKERS)
        return marked
    return False


def _finish_roster(parts: list[pd.DataFrame], resolver, to_base) -> pd.DataFrame:
    if not parts:
        return pd.DataFrame(columns=ROSTER_COLUMNS)
    roster = pd.concat(parts, ignore_index=True)
    # resolve with the prefecture hint, in the code book of the stint's start year; a start
    # year outside the code books is resolved without one
    from analysis.reference import STUDY_VINTAGES

    year = [d[:4] if isinstance(d, str) and d[:4] in STUDY_VINTAGES else ""
            for d in roster["start"].tolist()]
    keys = pd.DataFrame({"county_text": _text_or(roster["county_text"], None),
                         "prefecture_text": _text_or(roster["prefecture_text"], ""),
                         "period": year}, index=roster.index)
    found = _county_lookup(keys, resolver)
    roster["county_code"] = [found[k][0] if k[0] is not None else None
                             for k in zip(keys["county_text"], keys["prefecture_text"], year)]
    has = roster["county_code"].notna()
    roster["base_code"] = None
    if has.any():
        roster.loc[has, "base_code"] = pd.Series(
            to_base(roster.loc[has, "county_code"].tolist())).astype(object).to_numpy()
    return roster[ROSTER_COLUMNS].sort_values(["round", "batch", "county_code", "cadre_id"],
                                              ignore_index=True, na_position="last")
