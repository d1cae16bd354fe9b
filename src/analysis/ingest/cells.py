"""Raw cells as text: the small readers every cleaning step shares.

Cells arrive as whatever the workbook held (text, numbers, dates, None, NaN).  Preparing the
records, settling repeats, building the roster and scanning sheets all need the same answers to
"is this cell blank?" and "what text does it show?", so those answers live here once, with the
per-distinct-value shortcuts that keep them cheap over 10⁵ cells.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def _lookup(series: pd.Series, mapping: dict, default: object = None) -> pd.Series:
    """``series.map(mapping)`` as one dict lookup per cell (object dtype, ``default`` when
    absent).  Series.map with a dict or Series first builds an index over the mapping and
    converts the result; for 10⁵ cells of a few dozen distinct values that cost more than
    the lookups."""
    get = mapping.get
    return pd.Series([get(x, default) for x in series.tolist()], index=series.index,
                     dtype=object)


def _text_or(series: pd.Series, empty: object) -> pd.Series:
    """Cells as text, with ``empty`` where the cell is blank or missing.

    The vectorised form of :func:`_present` for columns of 10⁵ cells: each *distinct* value is
    converted once (columns repeat a few hundred distinct texts).
    """
    codes, uniques = pd.factorize(series.astype(object), use_na_sentinel=True)
    converted = [_as_text(u) if not isinstance(u, str) else u for u in uniques]
    table = np.array([t if t.strip() else empty for t in converted] + [empty], dtype=object)
    return pd.Series(table[codes], index=series.index, dtype=object)


def _present(x: object) -> bool:
    if x is None or (isinstance(x, float) and np.isnan(x)):
        return False
    return str(x).strip() != ""


def _as_texts(series: pd.Series) -> pd.Series:
    """:func:`_as_text` of every cell, computed once per distinct (type, value); the type is
    part of the key because 1, 1.0 and True are equal keys but read differently."""
    cells = series.tolist()
    keys = list(zip(map(type, cells), cells))
    try:
        table = {k: _as_text(k[1]) for k in dict.fromkeys(keys)}
    except TypeError:  # an unhashable cell value
        return pd.Series([_as_text(x) for x in cells], index=series.index, dtype=object)
    return pd.Series([table[k] for k in keys], index=series.index, dtype=object)


def _as_text(x: object) -> str:
    if not _present(x):
        return ""
    if isinstance(x, float) and x.is_integer():
        return str(int(x))
    return str(x)
