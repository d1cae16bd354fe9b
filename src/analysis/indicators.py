"""Derived indicators, computed from the catalog's formulas.

The catalog (``data/reference/indicators.csv``) is the source of truth for every derived and
policy-standard indicator: its ``formula`` column, e.g. ``100 * posts_filled / posts_authorized``
or ``funds_per_youth >= 0.5``.  This module evaluates those formulas on the long panel
(``county_code, period, indicator, value``) with a tiny expression evaluator: numbers, indicator
names, ``+ - * /``, unary minus, brackets and the comparisons ``>= <= > < == !=``.  Nothing is
passed to :func:`eval`; an unknown token is an error that names the formula.

Rules
-----
* Rates are always recomputed from counts here, even if a form also reported the rate.
* A missing input gives a missing result, with the reason ``missing input: <names>``.
* Division by zero gives a missing result, with the reason ``division by zero: <name> = 0``.
* A comparison gives 1.0 (true) or 0.0 (false), or missing if an input is missing.
* A result outside the catalog ``min``–``max`` of the derived indicator (a rate above 100 %, 3
  young people sharing 50 万元) gives a missing result, with the reason ``out of range: <value>
  above the catalog maximum <max> (<input> = <value>, …)``: reported values are held to the
  catalog range by the cleaning step, derived ones here (``check_range=False`` turns it off).
* Provenance: every extra column of the input (e.g. ``source_file``, ``flag``) is carried to the
  derived row by joining the distinct, non-empty values of the inputs with ``"; "``, so a derived
  rate still says which files and cells it came from.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from analysis.catalog import load_catalog

__all__ = [
    "FormulaError",
    "PanelError",
    "KEY",
    "Formula",
    "parse_formula",
    "derive",
    "to_wide",
]

KEY = ["county_code", "period"]
"""Columns that identify one observation unit (a county in a half-year)."""

# columns that describe the county, not the measurement: kept as they are, not aggregated
_UNIT_ATTRIBUTES = ("base_code", "prefecture", "round", "batch")
_LONG = [*KEY, "indicator", "value"]

RANGE_TOLERANCE = 1e-9
"""Relative slack of the range check of derived values: ``100 * a / a`` may come out as
``100.00000000000001``, which is 100 %, not above it."""


class FormulaError(ValueError):
    """A catalog formula cannot be parsed or evaluated."""


class PanelError(ValueError):
    """The long panel handed to this module does not have the expected shape."""


# --------------------------------------------------------------------------- expression evaluator

_TOKEN = re.compile(
    r"\s*(?:(?P<num>\d+(?:\.\d*)?|\.\d+)|(?P<name>[A-Za-z_][A-Za-z0-9_]*)"
    r"|(?P<op>>=|<=|==|!=|[-+*/()<>]))"
)


def _tokenize(text: str) -> list[tuple[str, str]]:
    tokens: list[tuple[str, str]] = []
    pos = 0
    text = text.strip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m or m.end() == pos:
            raise FormulaError(
                f"formula {text!r}: cannot read {text[pos:]!r} at position {pos}; "
                "only numbers, indicator codes, + - * / ( ) and >= <= > < == != are allowed"
            )
        kind = m.lastgroup
        tokens.append((kind, m.group(kind)))
        pos = m.end()
    return tokens


# A parsed formula is a small tree of tuples: ("num", x) | ("name", code) | ("neg", a) |
# (op, a, b).  Recursive descent keeps precedence explicit: comparison < additive < multiplicative
# < unary.
@dataclass(frozen=True)
class Formula:
    """A parsed catalog formula.

    Attributes
    ----------
    text : the formula as written in the catalog.
    tree : the parsed expression tree.
    names : indicator codes the formula reads, in order of first appearance.
    """

    text: str
    tree: tuple
    names: tuple[str, ...]

    def evaluate(self, columns: Mapping[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        """Evaluate on aligned arrays.

        Parameters
        ----------
        columns : mapping from indicator code to a float array (NaN = missing); all of equal length.

        Returns
        -------
        values : float array, NaN where the result is missing.
        reasons : object array, ``""`` where a value exists, else why it is missing.
        """
        missing = [n for n in self.names if n not in columns]
        if missing:
            raise FormulaError(f"formula {self.text!r}: no input column for {missing}")
        n = len(next(iter(columns.values()))) if columns else 0
        reasons = np.full(n, "", dtype=object)
        absent = {name: np.isnan(np.asarray(columns[name], dtype=float)) for name in self.names}
        for name in self.names:
            mask = absent[name] & (reasons == "")
            reasons[mask] = "missing input: " + name
        with np.errstate(divide="ignore", invalid="ignore"):
            values = self._eval(self.tree, columns, reasons)
        values = np.asarray(values, dtype=float)
        if values.shape != (n,):
            values = np.broadcast_to(values, (n,)).astype(float)
        values = values.copy()
        values[reasons != ""] = np.nan
        return values, reasons

    def _eval(self, node: tuple, cols: Mapping[str, np.ndarray], reasons: np.ndarray):
        kind = node[0]
        if kind == "num":
            return node[1]
        if kind == "name":
            return np.asarray(cols[node[1]], dtype=float)
        if kind == "neg":
            return -self._eval(node[1], cols, reasons)
        a = self._eval(node[1], cols, reasons)
        b = self._eval(node[2], cols, reasons)
        if kind == "+":
            return a + b
        if kind == "-":
            return a - b
        if kind == "*":
            return a * b
        if kind == "/":
            zero = np.broadcast_to(np.asarray(b) == 0, reasons.shape)
            mark = zero & (reasons == "")
            reasons[mark] = f"division by zero: {_describe(node[2])} = 0"
            return a / np.where(np.asarray(b) == 0, np.nan, b)
        # comparisons: NaN inputs are already flagged in reasons and masked by evaluate()
        ops = {">=": np.greater_equal, "<=": np.less_equal, ">": np.greater,
               "<": np.less, "==": np.equal, "!=": np.not_equal}
        return ops[kind](a, b).astype(float)


def _describe(node: tuple) -> str:
    if node[0] == "num":
        return repr(node[1])
    if node[0] == "name":
        return node[1]
    if node[0] == "neg":
        return "-" + _describe(node[1])
    return f"({_describe(node[1])} {node[0]} {_describe(node[2])})"


def parse_formula(text: str) -> Formula:
    """Parse a catalog formula into a :class:`Formula`.

    Parameters
    ----------
    text : e.g. ``"100 * posts_filled / posts_authorized"`` or ``"funds_per_youth >= 0.5"``.

    Raises
    ------
    FormulaError
        On any token or construct outside the small grammar, naming the formula and position.
    """
    tokens = _tokenize(text)
    pos = 0
    names: list[str] = []

    def peek() -> tuple[str, str] | None:
        return tokens[pos] if pos < len(tokens) else None

    def take() -> tuple[str, str]:
        nonlocal pos
        if pos >= len(tokens):
            raise FormulaError(f"formula {text!r}: ends too early")
        tok = tokens[pos]
        pos += 1
        return tok

    def comparison() -> tuple:
        left = additive()
        tok = peek()
        if tok and tok[1] in (">=", "<=", ">", "<", "==", "!="):
            take()
            return (tok[1], left, additive())
        return left

    def additive() -> tuple:
        node = term()
        while (tok := peek()) and tok[1] in ("+", "-"):
            take()
            node = (tok[1], node, term())
        return node

    def term() -> tuple:
        node = unary()
        while (tok := peek()) and tok[1] in ("*", "/"):
            take()
            node = (tok[1], node, unary())
        return node

    def unary() -> tuple:
        tok = peek()
        if tok and tok[1] == "-":
            take()
            return ("neg", unary())
        if tok and tok[1] == "+":
            take()
            return unary()
        return atom()

    def atom() -> tuple:
        kind, value = take()
        if kind == "num":
            return ("num", float(value))
        if kind == "name":
            if value not in names:
                names.append(value)
            return ("name", value)
        if value == "(":
            node = comparison()
            if take()[1] != ")":
                raise FormulaError(f"formula {text!r}: missing ')'")
            return node
        raise FormulaError(f"formula {text!r}: unexpected {value!r}")

    tree = comparison()
    if pos != len(tokens):
        raise FormulaError(f"formula {text!r}: unexpected {tokens[pos][1]!r} after a complete expression")
    return Formula(text=text, tree=tree, names=tuple(names))


# --------------------------------------------------------------------------- panel helpers


def _check_long(panel: pd.DataFrame, where: str) -> None:
    missing = [c for c in _LONG if c not in panel.columns]
    if missing:
        raise PanelError(
            f"{where}: the long panel lacks column(s) {missing}; expected at least {_LONG} "
            "(one row per county, period and indicator)"
        )
    numeric = pd.to_numeric(panel["value"], errors="coerce")
    bad = numeric.isna() & panel["value"].notna()
    if bad.any():
        first = panel.loc[bad].iloc[0]
        raise PanelError(
            f"{where}: {int(bad.sum())} value(s) are not numbers, first {first['value']!r} for "
            f"{first['county_code']} {first['period']} {first['indicator']}; parse values in the "
            "cleaning step (e.g. '约300', '85%') before deriving"
        )
    dup = panel.duplicated([*KEY, "indicator"], keep=False)
    if dup.any():
        rows = panel.loc[dup, [*KEY, "indicator"]].drop_duplicates().head(5)
        raise PanelError(
            f"{where}: {int(dup.sum())} rows repeat a (county_code, period, indicator); first: "
            f"{rows.to_dict('records')}. Resolve duplicates in the cleaning step before deriving."
        )


def to_wide(long: pd.DataFrame, *, value: str = "value") -> pd.DataFrame:
    """Pivot a long panel to one row per county × period and one column per indicator.

    Parameters
    ----------
    long : columns ``county_code, period, indicator`` and ``value`` (in the catalog unit);
        optional unit attributes ``base_code, prefecture, round, batch`` are kept as columns.
    value : name of the column holding the numbers.

    Returns
    -------
    DataFrame with columns ``county_code, period``, any unit attributes, then one float column per
    indicator (sorted), rows sorted by county and period.  A missing combination is NaN.
    """
    _check_long(long, "to_wide")
    wide = (
        long.pivot(index=KEY, columns="indicator", values=value)
        .astype(float)
        .sort_index(axis=1)
    )
    wide.columns.name = None
    attrs = [c for c in _UNIT_ATTRIBUTES if c in long.columns]
    if attrs:
        # one value per unit; 'first' skips NaN, so an attribute present on any row is kept
        unit = long.groupby(KEY, sort=True)[attrs].first()
        wide = unit.join(wide)
    return wide.reset_index().sort_values(KEY, ignore_index=True)


def _formula_order(cat: pd.DataFrame, codes: Iterable[str]) -> list[tuple[str, Formula]]:
    """Derived indicators in an order where every input is computed before it is read."""
    formulas = {c: parse_formula(cat.at[c, "formula"]) for c in codes}
    ordered: list[tuple[str, Formula]] = []
    done: set[str] = set()
    visiting: set[str] = set()

    def visit(code: str) -> None:
        if code in done:
            return
        if code in visiting:
            raise FormulaError(f"catalog formulas refer to each other in a cycle through {code!r}")
        visiting.add(code)
        for name in formulas[code].names:
            if name in formulas:
                visit(name)
        visiting.discard(code)
        done.add(code)
        ordered.append((code, formulas[code]))

    for code in formulas:
        visit(code)
    return ordered


def derive(
    panel_long: pd.DataFrame,
    *,
    codes: Iterable[str] | None = None,
    catalog: pd.DataFrame | None = None,
    check_range: bool = True,
) -> pd.DataFrame:
    """Compute the catalog's derived and standard indicators from the raw long panel.

    Parameters
    ----------
    panel_long : long panel with columns ``county_code, period, indicator, value`` (values in the
        catalog unit: 人, 个, 万元, 0/1 for 是/否) and optionally ``base_code, prefecture, round,
        batch`` (kept) and provenance columns (aggregated, see module docstring).
    codes : derived indicator codes to compute; default all with ``kind`` derived or standard.
        Derived inputs of a requested code are computed too (and returned).
    catalog : the indicator catalog; default :func:`analysis.catalog.load_catalog`.
    check_range : a value outside the catalog ``min``–``max`` of its indicator becomes missing
        with the reason ``out of range: …`` (default); ``False`` keeps it.

    Returns
    -------
    DataFrame, long, columns ``county_code, period, indicator, value, missing_reason`` plus the
    unit attributes and provenance columns of the input.  One row per county × period present in
    the input and per derived indicator; ``value`` is in the unit the catalog gives (``%`` for
    rates, ``元/人`` for ``funds_per_youth``, 0/1 for standards); ``missing_reason`` is ``""`` when a
    value exists.

    Raises
    ------
    PanelError
        Wrong columns or duplicated (county, period, indicator) rows.
    FormulaError
        A formula outside the grammar, an unknown code in ``codes``, or a cycle.

    Examples
    --------
    >>> raw = pd.DataFrame({"county_code": ["510101"] * 2, "period": ["2012H1"] * 2,
    ...                     "indicator": ["posts_filled", "posts_authorized"], "value": [3, 4]})
    >>> derive(raw, codes=["posts_fill_rate"])[["indicator", "value"]].to_dict("records")
    [{'indicator': 'posts_fill_rate', 'value': 75.0}]
    """
    _check_long(panel_long, "derive")
    cat = load_catalog() if catalog is None else catalog
    derived_codes = cat.index[cat["kind"].isin(["derived", "standard"])].tolist()
    if codes is None:
        wanted = derived_codes
    else:
        wanted = list(dict.fromkeys(codes))
        unknown = [c for c in wanted if c not in derived_codes]
        if unknown:
            raise FormulaError(
                f"derive: {unknown} are not derived/standard indicators of the catalog; "
                f"choose from {derived_codes}"
            )
        # pull in derived inputs, e.g. std_funds_per_youth needs funds_per_youth
        stack = list(wanted)
        while stack:
            code = stack.pop()
            for name in parse_formula(cat.at[code, "formula"]).names:
                if name in derived_codes and name not in wanted:
                    wanted.append(name)
                    stack.append(name)
    order = _formula_order(cat, wanted)

    wide = to_wide(panel_long)
    n = len(wide)
    columns: dict[str, np.ndarray] = {
        c: wide[c].to_numpy(dtype=float) for c in wide.columns if c not in (*KEY, *_UNIT_ATTRIBUTES)
    }
    attrs = [c for c in _UNIT_ATTRIBUTES if c in wide.columns]
    provenance = [c for c in panel_long.columns if c not in (*_LONG, *_UNIT_ATTRIBUTES)]
    inputs_of: dict[str, tuple[str, ...]] = {}
    pieces: list[pd.DataFrame] = []
    for code, formula in order:
        for name in formula.names:
            columns.setdefault(name, np.full(n, np.nan))  # absent everywhere = missing input
        values, reasons = formula.evaluate(columns)
        if check_range:
            values = _out_of_range_missing(values, reasons, formula, columns,
                                           float(cat.at[code, "min"]), float(cat.at[code, "max"]))
        columns[code] = values
        # a derived input's provenance is that of its own raw inputs
        inputs_of[code] = tuple(
            dict.fromkeys(r for name in formula.names for r in inputs_of.get(name, (name,)))
        )
        piece = wide[[*KEY, *attrs]].copy()
        piece["indicator"] = code
        piece["value"] = values
        piece["missing_reason"] = reasons.astype(str)
        pieces.append(piece)
    out = pd.concat(pieces, ignore_index=True) if pieces else pd.DataFrame(
        columns=[*KEY, *attrs, "indicator", "value", "missing_reason"]
    )
    if provenance:
        out = out.join(_aggregate_provenance(panel_long, provenance, inputs_of, out))
    return out[[*KEY, *attrs, "indicator", "value", "missing_reason", *provenance]]


def _out_of_range_missing(values: np.ndarray, reasons: np.ndarray, formula: Formula,
                          columns: Mapping[str, np.ndarray], lo: float, hi: float) -> np.ndarray:
    """``values`` with those outside ``[lo, hi]`` (NaN bounds are open) made NaN, their reason
    written into ``reasons`` with the inputs' values; so that formulas reading this one see a
    missing input."""
    slack = RANGE_TOLERANCE * max(1.0, *(abs(b) for b in (lo, hi) if not np.isnan(b)))
    with np.errstate(invalid="ignore"):
        below = values < lo - slack
        above = values > hi + slack
    bad = (below | above) & (reasons == "")
    if not bad.any():
        return values
    values = values.copy()
    for i in np.flatnonzero(bad):
        side = (f"above the catalog maximum {hi:g}" if above[i]
                else f"below the catalog minimum {lo:g}")
        inputs = ", ".join(f"{name} = {columns[name][i]:g}" for name in formula.names)
        reasons[i] = f"out of range: {values[i]:.6g} {side} ({inputs})"
    values[bad] = np.nan
    return values


def _aggregate_provenance(
    panel_long: pd.DataFrame,
    provenance: list[str],
    inputs_of: Mapping[str, tuple[str, ...]],
    out: pd.DataFrame,
) -> pd.DataFrame:
    """Join the distinct non-empty provenance values of each derived row's raw inputs."""
    link = pd.DataFrame(
        [(code, raw) for code, raws in inputs_of.items() for raw in raws],
        columns=["derived", "indicator"],
    )
    src = panel_long[[*KEY, "indicator", *provenance]].merge(link, on="indicator")

    def join(values: pd.Series) -> str:
        seen = [str(v) for v in values if pd.notna(v) and str(v) != ""]
        return "; ".join(dict.fromkeys(seen))

    agg = src.groupby([*KEY, "derived"], sort=False)[provenance].agg(join)
    keyed = out[[*KEY, "indicator"]].rename(columns={"indicator": "derived"})
    merged = keyed.merge(agg, left_on=[*KEY, "derived"], right_index=True, how="left")
    merged.index = out.index
    return merged[provenance].fillna("")
