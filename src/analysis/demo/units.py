"""County-level units per period, taken from :mod:`analysis.reference` (never typed here).

The generator simulates *atoms*: the units of the last vintage in the window (183 from 2013).
A unit of an earlier vintage is the set of atoms with the same 2008 base code (巴州区 before 2013
= today's 巴州区 + 恩阳区), so counts of a pre-split unit are sums of its atoms.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import pandas as pd

from analysis.demo import params

UNIT_COLUMNS = ("vintage", "code", "name", "short_name", "prefecture_code", "prefecture_name",
                "prefecture_short", "unit_type", "three_prefectures")


class DemoError(RuntimeError):
    """The demo generator cannot run with what it was given."""


@dataclass(frozen=True)
class UnitSource:
    """Where the generator gets the real units from.

    Attributes
    ----------
    load_units : vintage (year) → units frame with :data:`UNIT_COLUMNS`.
    to_base : codes → Series of 2008 base codes (same index order as the input).
    """

    load_units: Callable[[int], pd.DataFrame]
    to_base: Callable[[Sequence[str]], pd.Series]


def reference_source() -> UnitSource:
    """The real Sichuan units from :mod:`analysis.reference`."""
    try:
        from analysis import reference
    except ImportError as exc:  # pragma: no cover - depends on the other module landing
        raise DemoError(
            "analysis.demo needs analysis.reference (load_units, to_base) for the real county "
            "list; it is not importable yet. Pass units=UnitSource(...) to run on a test frame."
        ) from exc
    return UnitSource(load_units=reference.load_units, to_base=reference.to_base)


def _year(period: str) -> int:
    return int(period[:4])


def unit_panel(source: UnitSource) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Return ``(atoms, panel)``.

    ``atoms``: one row per atom (code, base_code, names, prefecture, three_prefectures).
    ``panel``: one row per period × unit valid in that period's vintage, with ``county_code``,
    ``base_code``, names, prefecture columns and ``atoms`` (tuple of atom codes).
    """
    last = _year(params.PERIODS[-1])
    atoms = _check(source.load_units(last), last).copy()
    atoms["base_code"] = _bases(source, atoms["code"])
    rows = []
    atoms_of_base = atoms.groupby("base_code")["code"].agg(tuple).to_dict()
    atom_codes = set(atoms["code"])
    for year in sorted({_year(p) for p in params.PERIODS}):
        units = _check(source.load_units(year), year).copy()
        units["base_code"] = _bases(source, units["code"])
        n_per_base = units["base_code"].value_counts()
        for u in units.itertuples(index=False):
            if n_per_base[u.base_code] == 1:
                members = atoms_of_base.get(u.base_code, ())
            else:  # a split already in force this year: the unit is its own atom
                members = (u.code,) if u.code in atom_codes else ()
            if not members:
                raise DemoError(
                    f"units of vintage {year}: {u.code} {u.name} (base {u.base_code}) matches "
                    f"no unit of vintage {last}; fix to_base() in analysis.reference"
                )
            for period in (f"{year}H1", f"{year}H2"):
                rows.append(dict(period=period, county_code=u.code, base_code=u.base_code,
                                 name=u.name, short_name=u.short_name,
                                 prefecture_code=u.prefecture_code,
                                 prefecture_name=u.prefecture_name,
                                 prefecture_short=u.prefecture_short,
                                 three_prefectures=bool(u.three_prefectures), atoms=members))
    panel = pd.DataFrame(rows)
    covered = panel.explode("atoms").groupby("period")["atoms"].agg(lambda s: sorted(s))
    for period, members in covered.items():
        if members != sorted(atoms["code"]):
            raise DemoError(f"period {period}: units do not cover each atom exactly once")
    return atoms.reset_index(drop=True), panel


def _check(units: pd.DataFrame, year: int) -> pd.DataFrame:
    missing = [c for c in UNIT_COLUMNS if c not in units.columns]
    if missing:
        raise DemoError(f"load_units({year}) lacks column(s) {missing}; expected {UNIT_COLUMNS}")
    units = units.copy()
    units["code"] = units["code"].astype(str)
    return units.sort_values("code").reset_index(drop=True)


def _bases(source: UnitSource, codes: pd.Series) -> list[str]:
    base = source.to_base(list(codes))
    return [str(b) for b in list(base)]
