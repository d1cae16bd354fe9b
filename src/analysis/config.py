"""Project paths, built from one place.

The project root is found from this file's location (``src/analysis/config.py`` → two levels
up), so paths work from any working directory, in notebooks and in the CLI alike.  Every path
can be overridden, in this order of precedence:

1. an explicit argument to :func:`paths` (what the CLI passes from its options);
2. an environment variable ``RESIDENCY_<NAME>`` (e.g. ``RESIDENCY_RAW=/secure/raw``), for real,
   confidential data kept outside git;
3. the default inside the project tree.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, fields
from pathlib import Path

PROJECT_ROOT: Path = Path(__file__).resolve().parents[2]
"""Root of the source checkout (the folder holding ``pyproject.toml``)."""

ENV_PREFIX = "RESIDENCY_"


@dataclass(frozen=True)
class Paths:
    """Every folder the package reads or writes.

    Attributes
    ----------
    root : project root.
    raw : raw submissions (never modified).  Default: the bundled demo data.
    processed : cleaned data written by ``clean``.
    reference : committed reference tables (code books, indicator catalog).
    reports : charts, tables and exported notebooks.
    """

    root: Path
    raw: Path
    processed: Path
    reference: Path
    reports: Path

    @property
    def figures(self) -> Path:
        return self.reports / "figures"

    @property
    def tables(self) -> Path:
        return self.reports / "tables"


def _default(root: Path) -> dict[str, Path]:
    return {
        "root": root,
        "raw": root / "data" / "raw" / "demo",
        "processed": root / "data" / "processed",
        "reference": root / "data" / "reference",
        "reports": root / "reports",
    }


def paths(**overrides: str | os.PathLike | None) -> Paths:
    """Return the project's paths, applying overrides then environment variables.

    Parameters
    ----------
    **overrides
        Any of ``root``, ``raw``, ``processed``, ``reference``, ``reports``.  ``None`` means
        "not given" (so CLI options can be passed through unconditionally).

    Examples
    --------
    >>> p = paths(processed="/tmp/out")
    >>> str(p.processed)
    '/tmp/out'
    """
    names = [f.name for f in fields(Paths)]
    unknown = set(overrides) - set(names)
    if unknown:
        raise TypeError(f"unknown path name(s): {sorted(unknown)}; known: {names}")
    root_given = overrides.get("root") or os.environ.get(ENV_PREFIX + "ROOT")
    root = Path(root_given).expanduser().resolve() if root_given else PROJECT_ROOT
    values = _default(root)
    for name in names:
        given = overrides.get(name)
        env = os.environ.get(ENV_PREFIX + name.upper())
        if given is not None:
            values[name] = Path(given).expanduser()
        elif env:
            values[name] = Path(env).expanduser()
    return Paths(**values)
