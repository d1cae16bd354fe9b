"""What the cleaning step produces: the output column lists and :class:`CleanResult`.

Kept apart from the steps so that every step (``prepare``, ``settle``, ``roster``, ``scan``) and
the writer (``outputs``) can name the output tables without importing the pipeline that calls
them: a module at the bottom of the import graph, with no logic of its own.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from analysis.ingest.validate import FAILURE_COLUMNS

INDICATOR_COLUMNS = ["county_code", "base_code", "period", "indicator", "value", "unit",
                     "source_file", "source_sheet", "source_cell"]
QUARANTINE_COLUMNS = FAILURE_COLUMNS
AUDIT_COLUMNS = ["record_id", "source_file", "source_sheet", "source_cell", "county_code",
                 "period", "indicator", "stage", "rule", "action", "before", "after", "note"]
QUALITY_COLUMNS = ["county_code", "base_code", "period", "expected", "reported", "missing",
                   "completeness", "fixes", "quarantined"]
FILE_COLUMNS = ["source_file", "status", "error", "sheets", "hidden_sheets", "layouts",
                "records_in", "clean", "quarantined", "merged", "set_aside", "structure_rows",
                "roster_rows", "unknown_columns", "cells_nonempty", "cells_structure",
                "cells_data", "cells_unplaced", "cells_hidden"]
SHEET_COLUMNS = ["source_file", "sheet", "status", "layouts", "cells_nonempty",
                 "cells_structure", "cells_data", "cells_unplaced", "cells_hidden",
                 "role_title", "role_meta", "role_header", "role_code_row", "role_units_row",
                 "role_label", "role_note", "role_personal", "role_total", "role_footer",
                 "role_roster", "role_data", "role_unplaced"]
"""``sheets.csv``: the cell census of every sheet (``status`` ok or hidden); the ``role_*``
columns count the non-empty cells of each role (:mod:`analysis.ingest.census`)."""
ROSTER_COLUMNS = ["round", "batch", "county_text", "county_code", "base_code", "cadre_id",
                  "sending_unit", "start", "end", "assessment", "task_1", "task_2", "task_3",
                  "task_4", "task_5", "source_file", "source_sheet", "source_row"]


OUTPUT_MARKER = ".residency-outputs"
"""Hidden file that ``outputs.write_outputs`` puts in every output folder (before the outputs),
so that ``pipeline.discover`` never reads a folder of our own outputs back as submissions."""


RECORD_COLUMNS = ["record_id", "source_file", "source_sheet", "source_cell", "county_text",
                  "prefecture_text", "header_text", "indicator", "header_unit", "raw_value",
                  "period_text", "title"]


class ConservationError(AssertionError):
    """Records were lost or double-counted between the input files and the outputs."""


@dataclass
class CleanResult:
    """Everything :func:`clean` produces (all tidy DataFrames).

    Attributes
    ----------
    indicators : long clean values, :data:`INDICATOR_COLUMNS`; ``value`` in the catalog ``unit``
        (NaN = reported as missing, e.g. "—").
    quarantine : cells kept out of ``indicators``, one row per cell and rule (failure table).
    audit : every transformation raw → clean (value readings, merged repeats, recomputed rates,
        explained exceptions, set-aside cells), one row per cell and rule.
    quality : per county and period: expected and reported indicators, completeness, fixes,
        quarantined cells.
    files : per input file: records in, clean, quarantined, merged, set aside, structure rows,
        layouts, hidden sheets, unknown columns, error.
    roster : residency roster, cadre names replaced by ``cadre_id``.
    structure : rows the layout step dropped as structure (titles, totals, footers) with reason.
    """

    indicators: pd.DataFrame
    quarantine: pd.DataFrame
    audit: pd.DataFrame
    quality: pd.DataFrame
    files: pd.DataFrame
    roster: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=ROSTER_COLUMNS))
    structure: pd.DataFrame = field(default_factory=pd.DataFrame)
    sheets: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=SHEET_COLUMNS))
    """The cell census, one row per sheet (:data:`SHEET_COLUMNS`)."""
    timings: dict[str, float] = field(default_factory=dict)
    """CPU seconds per phase of :func:`clean` (for benchmarks; never written to the outputs)."""

    def to_frame(self) -> pd.DataFrame:
        """The clean long indicator table."""
        return self.indicators

    def summary(self) -> dict[str, object]:
        """Counts for the command line: files, records, clean, quarantined (by rule)."""
        q = self.quarantine
        return {
            "files": int(len(self.files)),
            "unreadable_files": int((self.files["status"] != "ok").sum()) if len(self.files) else 0,
            "records": int(self.files["records_in"].sum()) if len(self.files) else 0,
            "clean": int(len(self.indicators)),
            "quarantined": int(q["record_id"].nunique()) if len(q) else 0,
            "quarantined_by_rule": q["rule"].value_counts().sort_index().to_dict() if len(q) else {},
            "roster_rows": int(len(self.roster)),
            **{c: int(self.files[c].sum()) if len(self.files) and c in self.files else 0
               for c in ("cells_nonempty", "cells_structure", "cells_data", "cells_unplaced")},
        }
