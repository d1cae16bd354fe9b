"""Row tables whose text columns stay Python objects.

pandas 3 turns every all-text object column it is given into an Arrow-backed ``str`` column.
The failure and audit tables of the cleaning step are built, concatenated, sorted and filtered
again and again, and each of those steps converts between Arrow and Python strings; on the 10×
benchmark set (600 000 quarantined cells) the conversions took a third of the cleaning step.
Tables built with :func:`object_frame` keep text as Python objects until they are written.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

__all__ = ["object_frame"]


def object_frame(columns: Mapping[str, object], n: int,
                 floats: tuple[str, ...] = ()) -> pd.DataFrame:
    """A DataFrame of ``n`` rows with object columns (``floats`` as float64).

    Parameters
    ----------
    columns : mapping
        Column name → a sequence of ``n`` values (list, numpy array, Series: taken by
        position) or one scalar repeated on every row.
    n : int
        Number of rows.
    floats : tuple of str
        Columns stored as float64 instead (missing values as NaN).
    """
    data = {}
    for name, values in columns.items():
        if name in floats:
            data[name] = pd.Series(np.asarray(pd.to_numeric(
                values if _is_sequence(values) else [values] * n, errors="coerce"),
                dtype=float))
            continue
        if isinstance(values, (pd.Series, pd.Index)):
            values = values.to_numpy(dtype=object)
        # fromiter keeps each value whole (a tuple stays one cell, not a row of cells)
        out = np.fromiter(values if _is_sequence(values) else [values] * n, dtype=object,
                          count=n)
        data[name] = pd.Series(out, dtype=object)
    return pd.DataFrame(data, copy=False)


def _is_sequence(values: object) -> bool:
    return isinstance(values, (list, tuple, np.ndarray, pd.Series, pd.Index))
