"""Formulas whose results were never saved: find them in the sheet XML and evaluate the simple ones.

Excel saves a formula with its last result (``<c r="D10"><f>SUM(D5:D9)</f><v>120</v></c>``), and
the readers take that result.  Workbooks written by scripts (openpyxl, and many systems that
export through it) or by WPS with recalculation switched off save the formula alone
(``<v></v>`` or no ``<v>``); calamine then drops the cell, so a county's number would vanish
without a word.  This module finds such cells and:

* evaluates the formulas a clerk's table actually holds — numbers, references to cells of the
  same sheet (``D7``, ``$D$7``), ``+ - * /``, parentheses, and ``SUM``/``AVERAGE``/``MIN``/``MAX``
  over cells and ranges of the same sheet, following references to other unsaved formulas —
  and puts the result into the grid; the cleaning step audits each one (``formula_evaluated``);
* leaves every other formula (other sheets, other functions, text, a cycle, a division by
  zero) as its text ``=…`` in the grid; the cleaning step quarantines it
  (``formula_not_cached``) with the advice to open and save the file in Excel.

The same holds for ``.xls`` files written by xlwt (Python scripts of the 2010s), which store each
formula with an empty-text result: :func:`xls_uncached_formulas` finds their FORMULA records in
the BIFF8 stream and turns the simple token sequences back into formula text for the same
evaluator.

Why a small evaluator of our own rather than the ``formulas`` or ``pycel`` packages: they are
built to compile whole workbooks into a graph of every cell, and ``formulas`` 1.3.4 took
1.2–2.1 s here to compile its first ``SUM`` (it loads its function tables; measured 3 Dec 2026),
in every worker process, while the cells that need it here are a handful of sums and the grammar
above is all a statistics form uses.  ``tests/test_ingest_formulas.py`` checks this evaluator
against ``formulas`` (a test-only dependency) and plain Python arithmetic on random expressions.
"""

from __future__ import annotations

import html
import math
import re
import struct
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from xlrd import compdoc

from analysis.ingest.guards import UNCACHED_FORMULA

__all__ = ["Formula", "uncached_formulas", "xls_uncached_formulas", "evaluate_formulas",
           "FORMULA_FUNCTIONS", "UNREAD_XLS_FORMULA"]


@dataclass(frozen=True)
class Formula:
    """A formula cell saved without its result.

    Attributes
    ----------
    row, col : int
        0-based position.
    text : str
        The formula as Excel shows it, with its leading ``=`` (``=SUM(D5:D9)``).
    value : float or None
        The evaluated result; ``None`` when it could not be evaluated (``reason`` says why).
    reason : str
        Why it was not evaluated (empty when it was).
    """

    row: int
    col: int
    text: str
    value: float | None = None
    reason: str = ""


_CELL = re.compile(rb"<(?:\w+:)?c\b([^>]*?)(/?)>", re.DOTALL)
_CELL_END = re.compile(rb"</(?:\w+:)?c\s*>")
_F = re.compile(rb"<(?:\w+:)?f\b([^>]*?)(?:/>|>(.*?)</(?:\w+:)?f\s*>)", re.DOTALL)
_V = re.compile(rb"<(?:\w+:)?v\b[^>]*?(?:/>|>(.*?)</(?:\w+:)?v\s*>)", re.DOTALL)
_R_ATTR = re.compile(rb"""\br\s*=\s*["']\$?([A-Za-z]{1,3})\$?(\d{1,7})["']""")
_F_SHARED = re.compile(rb"""\bt\s*=\s*["'](?:shared|array|dataTable)["']""")


def _column_number(letters: str) -> int:
    n = 0
    for ch in letters.upper():
        n = n * 26 + ord(ch) - 64
    return n


def uncached_formulas(xml: bytes) -> list[tuple[int, int, str]]:
    """``(row, col, formula text)`` of every formula cell of one worksheet part that has no
    saved result (no ``<v>`` or an empty one), 0-based; the text with a leading ``=``.

    A cell without an ``r`` reference cannot be placed from its own tag and is left out (no
    writer that omits results also omits references).  Shared and array formulas without their
    own text (``<f t="shared" si="0"/>``) are returned with the text ``=`` + ``(shared)``, which
    does not evaluate.
    """
    if (b"<f" not in xml and b":f" not in xml) or UNCACHED_FORMULA.search(xml) is None:
        return []  # no formula, or every formula with its result (Excel's own files)
    out = []
    pos = 0
    while (start := _CELL.search(xml, pos)) is not None:
        pos = start.end()
        if start.group(2):  # <c …/>: an empty cell
            continue
        end = _CELL_END.search(xml, pos)
        if end is None:
            break
        body = xml[pos:end.start()]
        pos = end.end()
        f = _F.search(body)
        if f is None:
            continue
        v = _V.search(body)
        if v is not None and (v.group(1) or b"").strip():
            continue  # the result was saved: the readers have it
        ref = _R_ATTR.search(start.group(1))
        if ref is None:
            continue
        text = html.unescape((f.group(2) or b"").decode("utf-8", errors="replace")).strip()
        if not text or _F_SHARED.search(f.group(1)) and not text:
            text = "(shared)"
        row = int(ref.group(2)) - 1
        col = _column_number(ref.group(1).decode("ascii")) - 1
        out.append((row, col, "=" + text))
    return out


# ------------------------------------------------------------------------------------ evaluator

FORMULA_FUNCTIONS: dict[str, Callable[[list[float]], float]] = {
    "SUM": lambda xs: math.fsum(xs),
    "AVERAGE": lambda xs: math.fsum(xs) / len(xs) if xs else _fail("AVERAGE of no numbers"),
    "MIN": lambda xs: min(xs) if xs else 0.0,
    "MAX": lambda xs: max(xs) if xs else 0.0,
}
"""Functions the evaluator knows, as Excel computes them over the numbers of their arguments
(text and empty cells in a range are skipped, as Excel skips them)."""

_TOKEN = re.compile(r"""\s*(?:
    (?P<range>\$?[A-Za-z]{1,3}\$?\d{1,7}\s*:\s*\$?[A-Za-z]{1,3}\$?\d{1,7})
  | (?P<func>[A-Za-z][A-Za-z0-9.]*)\s*\(
  | (?P<cell>\$?[A-Za-z]{1,3}\$?\d{1,7})(?![A-Za-z0-9!(])
  | (?P<number>\d+(?:\.\d*)?(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?)
  | (?P<op>[-+*/(),])
  | (?P<other>\S)
)""", re.VERBOSE)
_A1 = re.compile(r"\$?([A-Za-z]{1,3})\$?(\d{1,7})")


class _Unsupported(Exception):
    """The formula uses something the evaluator does not do."""


def _fail(reason: str):
    raise _Unsupported(reason)


def _place(ref: str) -> tuple[int, int]:
    m = _A1.fullmatch(ref.replace(" ", ""))
    return int(m.group(2)) - 1, _column_number(m.group(1)) - 1


class _Evaluator:
    """Recursive-descent evaluation over one sheet's grid; unsaved formulas of the same sheet are
    evaluated on demand (a cycle is refused)."""

    def __init__(self, cells: list[list[Any]], pending: dict[tuple[int, int], str]):
        self.cells = cells
        self.pending = pending
        self.done: dict[tuple[int, int], float | _Unsupported] = {}
        self.active: set[tuple[int, int]] = set()

    def cell_value(self, r: int, c: int, in_range: bool) -> float | None:
        """A referenced cell as a number; ``None`` for what a range skips (empty, text)."""
        if (r, c) in self.pending:
            got = self.formula(r, c)
            if isinstance(got, _Unsupported):
                raise _Unsupported(f"refers to {_a1(r, c)}, which cannot be evaluated ({got})")
            return got
        v = self.cells[r][c] if 0 <= r < len(self.cells) and 0 <= c < len(self.cells[r]) else ""
        if isinstance(v, bool):
            return float(v) if not in_range else None
        if isinstance(v, (int, float)):
            if not math.isfinite(v):
                raise _Unsupported(f"{_a1(r, c)} is not a finite number")
            return float(v)
        if v is None or (isinstance(v, str) and not v.strip()):
            return None if in_range else 0.0
        if in_range:
            return None
        raise _Unsupported(f"{_a1(r, c)} holds text “{v}”")

    def formula(self, r: int, c: int) -> float | _Unsupported:
        if (r, c) in self.done:
            return self.done[(r, c)]
        if (r, c) in self.active:
            return _Unsupported(f"a circular reference through {_a1(r, c)}")
        self.active.add((r, c))
        try:
            result: float | _Unsupported = self.expression_value(self.pending[(r, c)])
        except _Unsupported as exc:
            result = exc
        except (ZeroDivisionError, OverflowError):
            result = _Unsupported("division by zero or overflow")
        finally:
            self.active.discard((r, c))
        self.done[(r, c)] = result
        return result

    def expression_value(self, text: str) -> float:
        if text == UNREAD_XLS_FORMULA:
            raise _Unsupported("refers to another sheet or uses a function other than "
                               "SUM/AVERAGE/MIN/MAX (an .xls formula read from its tokens)")
        body = text[1:] if text.startswith("=") else text
        if "!" in body or "[" in body:
            raise _Unsupported("refers to another sheet or workbook")
        tokens = [(k, v) for m in _TOKEN.finditer(body) for k, v in m.groupdict().items()
                  if v is not None]
        if any(k == "other" for k, _ in tokens):
            bad = next(v for k, v in tokens if k == "other")
            raise _Unsupported(f"uses “{bad}”")
        # a reference to another unsaved formula evaluates it in the middle of this one: keep
        # this formula's place in its tokens and restore it afterwards
        outer = (self.tokens, self.i) if hasattr(self, "tokens") else None
        self.tokens, self.i = tokens, 0
        try:
            value = self.sum_()
            complete = self.i == len(tokens)
        finally:
            if outer is not None:
                self.tokens, self.i = outer
        if not complete:
            raise _Unsupported("is not a complete expression")
        if not math.isfinite(value):
            raise _Unsupported("does not give a finite number")
        return value

    # grammar: sum := term (('+'|'-') term)* ; term := unary (('*'|'/') unary)* ;
    # unary := ('+'|'-') unary | atom ; atom := number | cell | func '(' args ')' | '(' sum ')'
    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def take(self) -> tuple[str, str]:
        tok = self.peek()
        if tok is None:
            raise _Unsupported("ends too early")
        self.i += 1
        return tok

    def sum_(self) -> float:
        value = self.term()
        while (tok := self.peek()) is not None and tok in (("op", "+"), ("op", "-")):
            self.i += 1
            right = self.term()
            value = value + right if tok[1] == "+" else value - right
        return value

    def term(self) -> float:
        value = self.unary()
        while (tok := self.peek()) is not None and tok in (("op", "*"), ("op", "/")):
            self.i += 1
            right = self.unary()
            value = value * right if tok[1] == "*" else value / right
        return value

    def unary(self) -> float:
        tok = self.peek()
        if tok in (("op", "+"), ("op", "-")):
            self.i += 1
            v = self.unary()
            return v if tok[1] == "+" else -v
        return self.atom()

    def atom(self) -> float:
        kind, text = self.take()
        if kind == "number":
            return float(text)
        if kind == "cell":
            r, c = _place(text)
            return self.cell_value(r, c, in_range=False)  # type: ignore[return-value]
        if kind == "op" and text == "(":
            value = self.sum_()
            if self.take() != ("op", ")"):
                raise _Unsupported("has unbalanced brackets")
            return value
        if kind == "func":
            name = text.upper()
            if name not in FORMULA_FUNCTIONS:
                raise _Unsupported(f"uses the function {name}")
            args: list[float] = []
            if self.peek() == ("op", ")"):
                self.i += 1
                return FORMULA_FUNCTIONS[name](args)
            while True:
                args += self.argument()
                sep = self.take()
                if sep == ("op", ")"):
                    return FORMULA_FUNCTIONS[name](args)
                if sep != ("op", ","):
                    raise _Unsupported("has a malformed argument list")
        if kind == "range":
            raise _Unsupported("uses a range outside a function")
        raise _Unsupported(f"has “{text}” where a value should be")

    def argument(self) -> list[float]:
        tok = self.peek()
        if tok is not None and tok[0] == "range":
            self.i += 1
            a, b = (s.strip() for s in tok[1].split(":"))
            (r1, c1), (r2, c2) = _place(a), _place(b)
            out = []
            for r in range(min(r1, r2), max(r1, r2) + 1):
                for c in range(min(c1, c2), max(c1, c2) + 1):
                    v = self.cell_value(r, c, in_range=True)
                    if v is not None:
                        out.append(v)
            return out
        if tok is not None and tok[0] == "cell":
            # a single cell argument of a function is skipped when empty or text, like a range
            nxt = self.tokens[self.i + 1] if self.i + 1 < len(self.tokens) else None
            if nxt in (("op", ","), ("op", ")")):
                self.i += 1
                v = self.cell_value(*_place(tok[1]), in_range=True)
                return [] if v is None else [v]
        return [self.sum_()]


def _a1(r: int, c: int) -> str:
    letters, n = "", c + 1
    while n:
        n, rem = divmod(n - 1, 26)
        letters = chr(65 + rem) + letters
    return f"{letters}{r + 1}"


def evaluate_formulas(cells: list[list[Any]], found: list[tuple[int, int, str]]) -> list[Formula]:
    """Evaluate the unsaved formulas of one sheet against its grid.

    Parameters
    ----------
    cells : list of list
        The sheet's grid as the reader built it (formula cells absent or empty).
    found : list of (row, col, text)
        From :func:`uncached_formulas`.

    Returns
    -------
    list of Formula
        One per formula, in the order given; ``value`` set where it could be evaluated.
    """
    pending = {(r, c): text for r, c, text in found}
    ev = _Evaluator(cells, pending)
    out = []
    for r, c, text in found:
        got = ev.formula(r, c)
        if isinstance(got, _Unsupported):
            out.append(Formula(r, c, text, None, str(got)))
        else:
            out.append(Formula(r, c, text, got + 0.0))  # -0.0 → 0.0
    return out


# ------------------------------------------------------------------------------------ BIFF8 (.xls)

UNREAD_XLS_FORMULA = "=（公式）"
"""Stands for an .xls formula whose tokens are not read (another sheet, another function)."""
_SUM_ATTR = 0x10        # tAttrSum: SUM of the one argument on the stack
_SKIP_ATTRS = 0x40 | 0x01  # tAttrSpace, tAttrSemi: nothing to evaluate
_XLS_FUNCTIONS = {4: "SUM", 5: "AVERAGE", 6: "MIN", 7: "MAX"}  # BIFF function numbers (iftab)
_BINARY = {0x03: "+", 0x04: "-", 0x05: "*", 0x06: "/"}


def _biff_ref(row: int, col_field: int) -> str:
    return _a1(row, col_field & 0x3FFF)


def _rgce_text(rgce: bytes) -> str | None:
    """The formula text of a BIFF8 token sequence (reverse Polish), for the tokens a statistics
    form uses (numbers, cell and range references of the same sheet, + − × ÷, brackets, signs,
    SUM/AVERAGE/MIN/MAX); ``None`` for anything else (another sheet, other functions)."""
    stack: list[str] = []
    i = 0
    try:
        while i < len(rgce):
            t = rgce[i]
            base = t & 0x1F if t >= 0x20 else t  # reference/value/array classes share a token
            if t in _BINARY:
                b, a = stack.pop(), stack.pop()
                stack.append(f"{a}{_BINARY[t]}{b}")
                i += 1
            elif t == 0x12 or t == 0x13:  # unary plus, minus
                stack.append(("+" if t == 0x12 else "-") + stack.pop())
                i += 1
            elif t == 0x15:  # parentheses
                stack.append(f"({stack.pop()})")
                i += 1
            elif t == 0x1E:  # integer
                stack.append(str(struct.unpack_from("<H", rgce, i + 1)[0]))
                i += 3
            elif t == 0x1F:  # number
                value = struct.unpack_from("<d", rgce, i + 1)[0]
                stack.append(repr(value) if not value.is_integer() else str(int(value)))
                i += 9
            elif t == 0x19:  # attribute: SUM of one argument, or spacing
                grbit = rgce[i + 1]
                if grbit & _SUM_ATTR:
                    stack.append(f"SUM({stack.pop()})")
                elif not grbit & _SKIP_ATTRS:
                    return None  # IF, CHOOSE and the like
                i += 4
            elif t >= 0x20 and base == 0x04:  # ptgRef
                row, col = struct.unpack_from("<HH", rgce, i + 1)
                stack.append(_biff_ref(row, col))
                i += 5
            elif t >= 0x20 and base == 0x05:  # ptgArea
                r1, r2, c1, c2 = struct.unpack_from("<HHHH", rgce, i + 1)
                stack.append(f"{_biff_ref(r1, c1)}:{_biff_ref(r2, c2)}")
                i += 9
            elif t >= 0x20 and base == 0x02:  # ptgFuncVar: argument count, function number
                n, fn = rgce[i + 1], struct.unpack_from("<H", rgce, i + 2)[0] & 0x7FFF
                if fn not in _XLS_FUNCTIONS or n > len(stack):
                    return None
                args = stack[len(stack) - n:] if n else []
                del stack[len(stack) - n:]
                stack.append(f"{_XLS_FUNCTIONS[fn]}({','.join(args)})")
                i += 4
            else:
                return None  # 3-D references (other sheets), names, fixed functions …
    except (IndexError, struct.error):
        return None
    return "=" + stack[0] if len(stack) == 1 else None


def xls_uncached_formulas(data: bytes) -> dict[str, list[tuple[int, int, str]]]:
    """The FORMULA records of an ``.xls`` whose stored result is empty text — what xlwt writes
    for every formula — by sheet name: ``(row, col, formula text)``, 0-based.  A formula whose
    tokens :func:`_rgce_text` cannot read gets the text ``=（公式）``, which does not evaluate.

    Parameters
    ----------
    data : bytes
        The whole file (an OLE compound document holding a BIFF8 ``Workbook`` stream).
    """
    try:
        doc = compdoc.CompDoc(data)
        mem, base, size = doc.locate_named_stream("Workbook")
    except Exception:  # noqa: BLE001 - not a BIFF8 workbook: the readers report that
        return {}
    if mem is None:
        return {}
    stream = mem[base:base + size]
    names: list[str] = []
    out: dict[str, list[tuple[int, int, str]]] = {}
    sheet = -1  # -1: the workbook globals; then the n-th worksheet substream
    pos = 0
    pending_string: tuple[int, int, str] | None = None
    while pos + 4 <= len(stream):
        kind, length = struct.unpack_from("<HH", stream, pos)
        body = stream[pos + 4:pos + 4 + length]
        pos += 4 + length
        if kind == 0x0085 and len(body) >= 8:  # BOUNDSHEET: the sheet's name
            n, wide = body[6], body[7] & 1
            raw = body[8:8 + (2 * n if wide else n)]
            names.append(raw.decode("utf-16-le" if wide else "latin-1", errors="replace"))
        elif kind == 0x0809 and len(body) >= 4:  # BOF
            if struct.unpack_from("<H", body, 2)[0] == 0x10:
                sheet += 1
        elif kind == 0x0006 and len(body) >= 22 and 0 <= sheet < len(names):
            row, col = struct.unpack_from("<HH", body, 0)
            result = body[6:14]
            pending_string = None
            if result[6:8] == b"\xff\xff" and result[0] in (0, 3):
                cce = struct.unpack_from("<H", body, 20)[0]
                text = _rgce_text(body[22:22 + cce]) or UNREAD_XLS_FORMULA
                if result[0] == 3:  # an empty text result: never saved by a calculating program
                    out.setdefault(names[sheet], []).append((row, col, text))
                else:  # a text result follows in a STRING record; only an empty one counts
                    pending_string = (row, col, text)
        elif kind == 0x0207 and pending_string is not None:  # STRING after a FORMULA
            if len(body) >= 2 and struct.unpack_from("<H", body, 0)[0] == 0:
                out.setdefault(names[sheet], []).append(pending_string)
            pending_string = None
    return out
