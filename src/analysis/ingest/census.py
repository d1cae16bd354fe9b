"""The cell census: every non-empty cell of every sheet read is given exactly one role.

Row conservation (``records in = clean + quarantined + merged + set aside``) proves that no
*record* is lost after the layout step; it cannot see a cell the layout step never turned into a
record.  The census closes that gap, in the spirit of tidyxl/unpivotr and databaker: each
non-empty cell gets a role from the layouts of its sheet —

============  ==============================================================================
role          what the cell is
============  ==============================================================================
title         a title line, or a section heading of a form (``一、组织活力``)
meta          ``填报单位：…``, ``单位：…``, ``截至…`` lines
header        a table header cell
code_row      the column-code row under a header (甲/乙/1/2…)
units_row     the units row under a header
label         what names a record row: county, prefecture, 序号, code, indicator name, unit
note          a remark (备注) — also a set-aside record, kept in the audit beside its row
personal      a cell of a column of people's names (驻点干部, 联系人): counted, never copied
total         a 合计/小计 row or column
footer        填表人/审核人/填报日期/注 lines
roster        a cell of the residency roster (read by its own reader)
data          a data cell: a record of the cleaning step
unplaced      anything else: no table, header, row label or line explains it
============  ==============================================================================

— and ``cells_nonempty = cells_structure + cells_data + cells_unplaced`` holds for every sheet,
where *structure* is every role but data and unplaced.  An unplaced cell is never dropped: it
becomes a record of its own (:func:`unplaced_records`), quarantined as ``cell_unplaced`` when it
holds a number (the message names the rectangle of numbers it belongs to) and set aside as
``text_unplaced`` when it holds text, so it is listed in ``quarantine.csv`` or ``audit.csv`` with
its place.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from analysis.ingest.layout import RECORD_COLUMNS, Layout, _Grid, _is_footer_row, _number, _text
from analysis.ingest.read import Sheet, a1

__all__ = ["ROLES", "STRUCTURE_ROLES", "CENSUS_COLUMNS", "cell_roles", "census_counts",
           "count_nonempty", "nonempty_places", "cell_place", "sheet_census", "record_places", "unplaced_records", "UNPLACED_LAYOUT"]

ROLES = ("title", "meta", "header", "code_row", "units_row", "label", "note", "personal",
         "total", "footer", "roster", "data", "unplaced")
"""Every role a non-empty cell can have (see the module doc)."""

STRUCTURE_ROLES = tuple(r for r in ROLES if r not in ("data", "unplaced"))
"""Roles of cells that are not data: counted together as ``cells_structure``."""

CENSUS_COLUMNS = ["cells_nonempty", "cells_structure", "cells_data", "cells_unplaced"]
"""The census terms of ``files.csv`` (and of ``sheets.csv``, beside one column per role)."""

UNPLACED_LAYOUT = "unplaced"
"""``layout`` value of the records made for unplaced cells (the cleaning step routes them)."""

# the role of a cell of a data row, by its column's role
_DATA_ROW_ROLE = {
    "data": "data", "value": "data",
    "county": "label", "prefecture": "label", "sequence": "label", "county_code": "label",
    "period": "label", "label": "label", "unit": "label",
    "remark": "note", "personal": "personal", "total": "total",
}
# the role of every cell of a structure row, by the row's reason (see layout.extract_records)
_ROW_ROLE = {
    "title": "title", "section": "title", "meta": "meta", "header": "header",
    "code_row": "code_row", "units_row": "units_row", "total": "total",
    "total_unlabelled": "total",
}
# roles a cell of a "blank" row (only a sequence number or a stray remark) may have
_QUIET_ROW_ROLE = {"county": "label", "prefecture": "label", "sequence": "label",
                   "county_code": "label", "period": "label", "label": "label", "unit": "label",
                   "remark": "note", "personal": "personal", "total": "total"}


def _filled_columns(row: list[Any]) -> list[int]:
    """Columns of the non-empty cells of a row (:func:`analysis.ingest.layout._empty`'s sense:
    not None, not blank text, not NaN), in one pass that skips ``""`` — most cells — at once."""
    return [c for c, v in enumerate(row)
            if v != "" and v is not None and not (type(v) is str and not v.strip()) and v == v]


def cell_roles(sheet: Sheet, layouts: list[Layout],
               record_cells: set[tuple[int, int]]) -> dict[tuple[int, int], str]:
    """The role of every non-empty cell (see :func:`sheet_census`, which also counts them)."""
    return sheet_census(sheet, layouts, record_cells)[0]


def sheet_census(sheet: Sheet, layouts: list[Layout],
                 record_cells: set[tuple[int, int]]) -> tuple[dict[tuple[int, int], str], int]:
    """The role of every non-empty cell of a sheet, from the layouts of its tables and the
    records extracted from them.

    A cell is ``data`` exactly when it is a record (of a data column; a record of a remark
    column is a ``note``): what the census calls data is what the cleaning step receives.  A
    cell of a record row that lies in a value column but is no record — which extraction
    would have to have skipped — is ``unplaced``, so it still ends in an output table.

    Parameters
    ----------
    sheet : Sheet
    layouts : list of Layout
        From :func:`analysis.ingest.layout.detect_layouts` for this sheet (one per table; a
        layout without ``block`` covers the whole sheet).
    record_cells : set of (row, col)
        0-based places of the records extracted from these layouts.

    Returns
    -------
    roles : dict
        (row, col) → role, 0-based, one entry per non-empty cell of the tables' blocks.
    nonempty : int
        The non-empty cells of the whole sheet, counted row by row apart from the blocks, so
        that a cell the roles missed shows as a broken census (``clean()`` checks).
    """
    grid = _Grid(sheet)
    filled_rows = [_filled_columns(row) for row in grid.cells]
    nonempty = sum(map(len, filled_rows))
    roles: dict[tuple[int, int], str] = {}
    for layout in layouts:
        first, end = layout.block if layout.block is not None else (0, grid.n_rows)
        if layout.kind == "unknown":
            for r in range(first, min(end, grid.n_rows)):
                for c in filled_rows[r]:
                    roles[(r, c)] = "unplaced"
            continue
        by_col = {col.col: col for col in layout.columns}
        data = set(layout.data_rows)
        for r in range(first, min(end, grid.n_rows)):
            row = grid.cells[r]
            filled = filled_rows[r]
            if not filled:
                continue
            reason = layout.row_reasons.get(r)
            if reason in _ROW_ROLE:  # a whole structure row: one role for every cell
                role = _ROW_ROLE[reason]
                for c in filled:
                    roles[(r, c)] = role
                continue
            footer_line = reason == "footer" and _is_footer_row(grid.texts(r))
            for c in filled:
                v = row[c]
                col = by_col.get(c)
                if r in data:
                    if (r, c) in record_cells:
                        role = "note" if col is not None and col.role == "remark" else "data"
                    elif col is None or _DATA_ROW_ROLE[col.role] in ("data", "note"):
                        role = "unplaced"  # a column nobody headed, or a value no record took
                    else:
                        role = _DATA_ROW_ROLE[col.role]
                elif reason == "footer":
                    # a number on a 填表人/联系电话 line belongs to it; a number on a line that
                    # only follows the footer is no one's
                    role = "footer" if footer_line or _number(v) is None else "unplaced"
                else:  # blank or no_data_cells rows, and rows no layout covers
                    role = _QUIET_ROW_ROLE.get(col.role, "unplaced") if col is not None else "unplaced"
                roles[(r, c)] = role
    # the blocks of detect_layouts cover every row, so every non-empty cell has a role now;
    # the pipeline checks that the roles add up to ``nonempty``
    return roles, nonempty


def cell_place(cell: str) -> tuple[int, int]:
    """0-based (row, col) of an A1 reference (``"D7"`` → (6, 3))."""
    letters = cell.rstrip("0123456789")
    col = 0
    for ch in letters:
        col = col * 26 + ord(ch) - 64
    return int(cell[len(letters):]) - 1, col - 1


def record_places(source_cells: Iterable[str]) -> set[tuple[int, int]]:
    """:func:`cell_place` of every reference."""
    return {cell_place(cell) for cell in source_cells}


def census_counts(roles: dict[tuple[int, int], str], nonempty: int) -> dict[str, int]:
    """Counts per role, the three census terms and ``cells_nonempty`` (counted separately from
    the grid, so that a cell the roles missed shows as a broken census, not as nothing)."""
    counts = {role: 0 for role in ROLES}
    for role in roles.values():
        counts[role] += 1
    out = {"cells_nonempty": nonempty,
           "cells_structure": sum(counts[r] for r in STRUCTURE_ROLES),
           "cells_data": counts["data"],
           "cells_unplaced": counts["unplaced"]}
    out.update({f"role_{r}": counts[r] for r in ROLES})
    return out


def nonempty_places(sheet: Sheet) -> list[tuple[int, int]]:
    """0-based places of the non-empty cells of a sheet."""
    return [(r, c) for r, row in enumerate(sheet.cells) for c in _filled_columns(row)]


def count_nonempty(sheet: Sheet) -> int:
    """Non-empty cells of a sheet (the census' left-hand side)."""
    return sum(len(_filled_columns(row)) for row in sheet.cells)


def _components(cells: set[tuple[int, int]]) -> dict[tuple[int, int], tuple[int, int, int, int, int]]:
    """Each cell's connected group (cells touching by side or corner) as (first row, first col,
    last row, last col, count)."""
    out: dict[tuple[int, int], tuple[int, int, int, int, int]] = {}
    left = set(cells)
    while left:
        seed = left.pop()
        group, stack = [seed], [seed]
        while stack:
            r, c = stack.pop()
            for dr in (-1, 0, 1):
                for dc in (-1, 0, 1):
                    nb = (r + dr, c + dc)
                    if nb in left:
                        left.discard(nb)
                        group.append(nb)
                        stack.append(nb)
        rows = [g[0] for g in group]
        cols = [g[1] for g in group]
        box = (min(rows), min(cols), max(rows), max(cols), len(group))
        for g in group:
            out[g] = box
    return out


def unplaced_records(sheet: Sheet, roles: dict[tuple[int, int], str], source_file: str,
                     sheet_note: str = "") -> dict[str, list]:
    """One record per unplaced cell, in the record columns of the layout step.

    ``layout`` is :data:`UNPLACED_LAYOUT`; ``header_text`` holds the A1 range of the group of
    unplaced numbers the cell belongs to (numbers) or is empty (text); ``period_text`` holds a
    short Chinese note on the group (its count, and ``sheet_note`` — e.g. that the whole sheet's
    layout was not recognised).  The cleaning step quarantines the numbers (``cell_unplaced``)
    and sets the texts aside (``text_unplaced``).
    """
    cols: dict[str, list] = {c: [] for c in RECORD_COLUMNS}
    unplaced = sorted(k for k, role in roles.items() if role == "unplaced")
    if not unplaced:
        return cols
    numeric = {k for k in unplaced if _number(sheet.cells[k[0]][k[1]]) is not None}
    groups = _components(numeric)
    for r, c in unplaced:
        v = sheet.cells[r][c]
        if (r, c) in numeric:
            r0, c0, r1, c1, n = groups[(r, c)]
            where = a1(r0, c0) if (r0, c0) == (r1, c1) else f"{a1(r0, c0)}:{a1(r1, c1)}"
            note = f"该区域共{n}个数字" + (f"；{sheet_note}" if sheet_note else "")
        else:
            where, note = "", sheet_note
        cols["source_file"].append(source_file)
        cols["source_sheet"].append(sheet.name)
        cols["source_cell"].append(a1(r, c))
        cols["sheet_hidden"].append(sheet.hidden)
        cols["layout"].append(UNPLACED_LAYOUT)
        cols["county_text"].append(None)
        cols["prefecture_text"].append(None)
        cols["header_text"].append(where)
        cols["indicator"].append(None)
        cols["header_unit"].append(None)
        cols["raw_value"].append(v if (r, c) in numeric else _text(v))
        cols["period_text"].append(note)
        cols["title"].append(None)
        cols["record_id"].append(f"{source_file}|{sheet.name}|{r + 1}")
        cols["source_row"].append(r + 1)
        cols["cutoff_text"].append(None)
        cols["county_code_text"].append(None)
    return cols
