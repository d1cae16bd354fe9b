"""Exceptions raised while reading raw submissions.

Every error carries *where* it happened (file, sheet, cell), *what* was found (value) and *which*
rule it broke, so that the validation step can collect them into one table and a county clerk can
find and fix the cell.  ``str(error)`` reads like::

    喜德县.xlsx, sheet 汇总, cell D7: "约三百" is not a number (rule: number)
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

__all__ = [
    "IngestError",
    "UnreadableFileError",
    "LayoutError",
    "PeriodError",
    "ValueParseError",
    "DiscoveryError",
]


class IngestError(Exception):
    """Base class of every ingest failure.

    Parameters
    ----------
    message : str
        What is wrong and, where possible, how to fix it (user-facing, may be Chinese).
    file : str or path-like, optional
        The submission; only its file name is shown in the message.
    sheet : str, optional
        Worksheet name.
    cell : str, optional
        A1 reference of the offending cell (``"D7"``).
    value : object, optional
        The raw value found there.
    rule : str, optional
        Short machine name of the rule that failed (``"number"``, ``"excel_error"``, ...).
    """

    def __init__(
        self,
        message: str,
        *,
        file: str | Path | None = None,
        sheet: str | None = None,
        cell: str | None = None,
        value: Any = None,
        rule: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.file = str(file) if file is not None else None
        self.sheet = sheet
        self.cell = cell
        self.value = value
        self.rule = rule

    def location(self) -> str:
        """``"喜德县.xlsx, sheet 汇总, cell D7"`` (only the parts that are known)."""
        parts: list[str] = []
        if self.file:
            parts.append(Path(self.file).name)
        if self.sheet is not None:
            parts.append(f"sheet {self.sheet}")
        if self.cell:
            parts.append(f"cell {self.cell}")
        return ", ".join(parts)

    def __str__(self) -> str:
        where = self.location()
        text = self.message
        if self.value is not None and str(self.value) != "":
            text = f'"{self.value}" {text}'
        if self.rule:
            text = f"{text} (rule: {self.rule})"
        return f"{where}: {text}" if where else text

    def to_dict(self) -> dict[str, Any]:
        """One row for an error table (columns file, sheet, cell, value, rule, message, kind)."""
        return {
            "file": self.file,
            "sheet": self.sheet,
            "cell": self.cell,
            "value": self.value,
            "rule": self.rule,
            "message": self.message,
            "kind": type(self).__name__,
        }


class UnreadableFileError(IngestError):
    """The file cannot be opened or decoded (corrupt, encrypted, unknown format, bad encoding)."""


class LayoutError(IngestError):
    """A sheet's structure cannot be recognised (no header row, no county column, ...)."""


class PeriodError(IngestError):
    """No reporting period can be found, or the sources of the period contradict each other."""


class ValueParseError(IngestError):
    """A cell value cannot be read as the indicator's type (``parse_value`` never raises it itself;
    callers raise it from a ``Parsed`` with status ``"error"`` when they want to stop)."""


class DiscoveryError(IngestError):
    """The input folders cannot be searched within the discovery limits (more files and
    folders than ``pipeline.MAX_ENTRIES``): the whole run is refused, nothing is read."""
