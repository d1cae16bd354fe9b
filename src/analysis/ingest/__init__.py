"""Reading messy submissions: files → sheets → layout → one record per data cell.

The first half of the ingest step.  :mod:`~analysis.ingest.read` opens workbooks and CSV files
whatever their real format and encoding; :mod:`~analysis.ingest.layout` recognises the sheet's
shape and extracts one row per data cell with its provenance; :mod:`~analysis.ingest.values` and
:mod:`~analysis.ingest.periods` read cell values and reporting periods.  The cleaning pipeline
builds on these functions: ``pipeline`` (the entry points) runs ``scan`` (files → records),
``prepare`` (per-record steps), ``settle`` (steps over all records), ``roster`` (the cadre
roster), with the rules of ``validate`` and the tables written by ``outputs``.
"""

from analysis.ingest.errors import (
    DiscoveryError,
    IngestError,
    LayoutError,
    PeriodError,
    UnreadableFileError,
    ValueParseError,
)
from analysis.ingest.guards import ArchiveLimits, check_archive, is_formula_like, neutralize_formulas
from analysis.ingest.layout import Column, Layout, detect_layout, extract_records
from analysis.ingest.periods import parse_period, period_sort_key, periods_from_file
from analysis.ingest.read import MergedRange, Sheet, a1, read_any, read_csv_file, read_workbook
from analysis.ingest.values import Parsed, parse_value

__all__ = [
    "IngestError",
    "UnreadableFileError",
    "LayoutError",
    "PeriodError",
    "ValueParseError",
    "DiscoveryError",
    "Parsed",
    "parse_value",
    "parse_period",
    "periods_from_file",
    "period_sort_key",
    "Sheet",
    "MergedRange",
    "a1",
    "read_any",
    "read_workbook",
    "read_csv_file",
    "Layout",
    "Column",
    "detect_layout",
    "extract_records",
    "ArchiveLimits",
    "check_archive",
    "is_formula_like",
    "neutralize_formulas",
]
