"""Raw cells as text: the small readers every cleaning step shares.

Cells arrive as whatever the workbook held (text, numbers, dates, None, NaN).  Preparing the
records, settling repeats, building the roster and scanning sheets all need the same answers to
"is this cell blank?" and "what text does it show?", so those answers live here once, with the
per-distinct-value shortcuts that keep them cheap over 10⁵ cells.
"""

from __future__ import annotations

import pandas as pd


def _lookup(series: pd.Series, mapping: dict, default: object = None) -> pd.Series:
    """``series.map(mapping)`` as one dict lookup per cell (object dtype), with ``default``
    where the cell is not in the mapping or maps to a missing value (None/NaN), as
    ``series.map(mapping).fillna(default)`` would give.  Series.map with a dict or Series first
    builds an index over the mapping and converts the result; for 10⁵ cells of a few dozen
    distinct values that cost more than the lookups."""
    table = {k: (default if _missing(v) else v) for k, v in mapping.items()}
    get = table.get
    return pd.Series([get(x, default) for x in series.tolist()], index=series.index,
                     dtype=object)


def _missing(x: object) -> bool:
    """None, NaN or pandas' NA/NaT markers."""
    return x is None or x is pd.NA or x is pd.NaT or (isinstance(x, float) and x != x)


PLAIN_TYPES = frozenset({str, int, float, bool, type(None), object})
"""Cell types whose equal values always print the same (unlike Decimal("12.0") and
Decimal("12.00"), or one instant in two time zones); ``object`` is the type of marker objects
that only ever equal themselves."""


def per_distinct(cells: list, fn) -> list:
    """``[fn(x) for x in cells]`` with ``fn`` called once per distinct cell.

    Cells are the same when they have the same type and are equal, for the plain types only —
    1, 1.0 and True are equal but print differently — and when they are the same object, for
    anything else (Decimal("12.0") equals Decimal("12.00") but prints differently).
    """
    plain = PLAIN_TYPES
    keys = [(x.__class__, x) if x.__class__ in plain else (x.__class__, id(x)) for x in cells]
    table = {k: fn(x) for k, x in dict(zip(keys, cells)).items()}
    return [table[k] for k in keys]


def _text_or(series: pd.Series, empty: object) -> pd.Series:
    """Cells as text, with ``empty`` where the cell is blank or missing.

    The vectorised form of :func:`_present` for columns of 10⁵ cells: each *distinct* value is
    converted once (columns repeat a few hundred distinct texts).
    """
    def text(x: object) -> object:
        if _missing(x):
            return empty
        t = x if isinstance(x, str) else _as_text(x)
        return t if t.strip() else empty

    return pd.Series(per_distinct(series.tolist(), text), index=series.index, dtype=object)


def _present(x: object) -> bool:
    """Not missing (:func:`_missing`) and not blank text."""
    return not _missing(x) and str(x).strip() != ""


def _as_texts(series: pd.Series) -> pd.Series:
    """:func:`_as_text` of every cell, computed once per distinct cell (:func:`per_distinct`)."""
    return pd.Series(per_distinct(series.tolist(), _as_text), index=series.index, dtype=object)


def _as_text(x: object) -> str:
    if not _present(x):
        return ""
    if isinstance(x, float) and x.is_integer():
        return str(int(x))
    return str(x)
