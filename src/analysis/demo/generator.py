"""Assemble the demo: truth tables in memory, raw files on disk."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from analysis.catalog import raw_indicators
from analysis.demo import dgp, forms, params
from analysis.demo.mess import BAD_KINDS
from analysis.demo.roster import assign_batches, draw_officials, rng_for, roster_frame
from analysis.demo.units import DemoError, UnitSource, reference_source, unit_panel
from analysis.demo.writers import Book, records, write_book


@dataclass(frozen=True)
class DemoTruth:
    """Everything the generator knows and the raw files do not say.

    Attributes
    ----------
    clean : period, county_code (code valid in that period's vintage), base_code (2008), indicator,
        value — in catalog units (万元 for league_funds, % 0–100 for rates, 0/1 for 是/否), before
        any mess; only indicators the period's form collects.
    effects : round, indicator, batch, event_time (half-years since batch start), period,
        county_code, base_code, effect — true effect of that round in catalog units (0/±1 for
        是/否: whether the county would have said something else without the round).
    design : round, batch, start_period, county_code, base_code, county_name, prefecture_name,
        three_prefectures, sending_unit, provincial (sent by 团省委).
    roster : the clean roster (see :func:`analysis.demo.roster.roster_frame`).
    bad_records : file, sheet, cell (A1), county, period, indicator, kind, rule, raw.
    mess : file, sheet, cell (A1; empty for file-level mess), kind, raw, clean_value,
        county_code, period, indicator.
    """

    seed: int
    clean: pd.DataFrame
    effects: pd.DataFrame
    design: pd.DataFrame
    roster: pd.DataFrame
    bad_records: pd.DataFrame
    mess: pd.DataFrame

    def to_frame(self) -> pd.DataFrame:
        """The clean values (long)."""
        return self.clean


def _simulate(seed: int, source: UnitSource):
    atoms, panel = unit_panel(source)
    design = assign_batches(panel, seed)
    officials = draw_officials(design, seed)
    values = dgp.simulate_atoms(seed, atoms, officials)
    keys = panel[["period", "county_code", "base_code"]].drop_duplicates(["period", "county_code"])
    # (indicator, period) pairs the form of that period collects; merges keep the left order
    keep = pd.DataFrame([(i, p) for i in raw_indicators() for p in params.PERIODS
                         if dgp.collected(i, p)], columns=["indicator", "period"])
    agg = {s: dgp.aggregate(values[s], atoms, panel) for s in (0, 1, 2)}
    clean = agg[2].merge(keys, on=["period", "county_code"]).merge(keep, on=["indicator", "period"])
    clean = clean[["period", "county_code", "base_code", "indicator", "value"]]
    t_of = {p: i for i, p in enumerate(params.PERIODS)}
    effects = []
    for r, (lo, hi) in ((1, (0, 1)), (2, (1, 2))):
        eff = agg[lo][["period", "county_code", "indicator"]].copy()
        eff["effect"] = np.round(agg[hi]["value"].to_numpy() - agg[lo]["value"].to_numpy(), 6)
        eff = eff.merge(keys, on=["period", "county_code"]).merge(keep, on=["indicator", "period"])
        start = (design[design["round"] == r].drop_duplicates("base_code")
                 [["base_code", "batch", "start_period"]])
        eff = eff.merge(start, on="base_code", how="left")
        eff["event_time"] = eff["period"].map(t_of) - eff["start_period"].map(t_of)
        eff.insert(0, "round", r)
        effects.append(eff)
    effects = pd.concat(effects, ignore_index=True)[
        ["round", "indicator", "batch", "event_time", "period", "county_code", "base_code", "effect"]]
    return atoms, panel, officials, clean, effects


def _bad_plan(seed: int, candidates: list[tuple[str, str]]) -> dict[tuple[str, str], list[str]]:
    """Pick the summary workbooks that get a genuinely bad record (two per kind)."""
    rng = rng_for(seed, "bad")
    picks = rng.choice(len(candidates), size=2 * len(BAD_KINDS), replace=False)
    plan: dict[tuple[str, str], list[str]] = {}
    for k, i in enumerate(picks):
        plan.setdefault(candidates[i], []).append(list(BAD_KINDS)[k // 2])
    return plan


def build(seed: int = params.DEFAULT_SEED, units: UnitSource | None = None):
    """Return ``(truth, books)``: the truth tables and every raw file, in memory."""
    source = units or reference_source()
    _atoms, panel, officials, clean, effects = _simulate(seed, source)
    wide_all = clean.pivot_table(index=["period", "county_code"], columns="indicator",
                                 values="value", aggfunc="first")
    order = raw_indicators()
    books: list[Book] = []
    fmt_of = {}
    for pref in panel["prefecture_short"].unique():
        fmt_of[pref] = params.PREFECTURE_FORMATS.get(pref, "summary")
    candidates = sorted((pref, p) for p in params.PERIODS for pref in fmt_of
                        if fmt_of[pref] == "summary")
    plan = _bad_plan(seed, candidates)
    wide_by_period = {p: g.droplevel(0) for p, g in wide_all.groupby(level=0)}
    for period in params.PERIODS:
        here = panel[panel["period"] == period]
        for pref_code, units in here.groupby("prefecture_code", sort=True):
            units = units.sort_values("county_code").set_index("county_code", drop=False)
            pref = units["prefecture_short"].iloc[0]
            wide = wide_by_period[period].loc[units["county_code"]]
            wide = wide[[c for c in order if c in wide.columns and wide[c].notna().all()]]
            fmt = fmt_of[pref]
            if fmt == "summary" or (fmt == "xls_round1" and dgp.template_round(period) == 2):
                books.append(forms.summary_book(seed, units, wide, period, "xlsx",
                                                plan.get((pref, period), [])))
            elif fmt == "xls_round1":
                books.append(forms.summary_book(seed, units, wide, period, "xls", []))
            elif fmt in ("county_sheets", "county_files"):
                books.extend(forms.county_books(seed, units, wide, period, fmt == "county_sheets"))
            elif fmt.startswith("csv_"):
                enc = {"csv_gbk": "gbk", "csv_gb18030": "gb18030", "csv_utf8_bom": "utf-8-bom"}[fmt]
                books.append(forms.csv_book(seed, units, wide, period, enc))
            else:
                raise ValueError(f"params.PREFECTURE_FORMATS[{pref!r}] = {fmt!r} is not a known format")
    roster = roster_frame(officials)
    books.append(forms.roster_book(roster))
    mess, bad = records(books)
    design = officials[["round", "batch", "start_period", "county_code", "base_code", "name",
                        "prefecture_name", "three_prefectures", "sending_unit", "provincial"]].rename(
        columns={"name": "county_name"}).reset_index(drop=True)
    return DemoTruth(seed, clean, effects, design, roster, bad, mess), books


def truth(seed: int = params.DEFAULT_SEED, units: UnitSource | None = None) -> DemoTruth:
    """The planted truth of the demo data for ``seed`` (nothing is written).

    Parameters
    ----------
    seed : random seed; :data:`params.DEFAULT_SEED` is the committed demo.
    units : where real units come from; default :mod:`analysis.reference`.
    """
    return build(seed, units)[0]


def generate(out_dir: Path, seed: int = params.DEFAULT_SEED, units: UnitSource | None = None) -> list[Path]:
    """Write the raw demo files under ``out_dir`` and return their paths (sorted).

    Same seed → byte-identical files.  The truth is never written here (see :func:`truth`).

    Parameters
    ----------
    out_dir : folder to write into; created if missing.  It may hold files of an earlier run
        with the same names (they are overwritten) but no other file, so that the folder is
        exactly the demo (``data/raw/demo`` is ``generate(data/raw/demo)``).
    seed : random seed.
    units : where real units come from; default :mod:`analysis.reference`.

    Raises
    ------
    DemoError
        ``out_dir`` holds files this run would not write (listed in the message).
    """
    _truth, books = build(seed, units)
    out_dir = Path(out_dir)
    if out_dir.exists():
        ours = {Path(b.path) for b in books}
        stale = sorted(str(p.relative_to(out_dir)) for p in out_dir.rglob("*")
                       if p.is_file() and p.relative_to(out_dir) not in ours)
        if stale:
            raise DemoError(
                f"{out_dir}: holds {len(stale)} file(s) the demo would not write, e.g. "
                f"{stale[:3]}; remove them or choose an empty folder"
            )
    return write_books(books, out_dir)


def write_books(books: list[Book], out_dir: Path) -> list[Path]:
    """Write in-memory books (from :func:`build`) under ``out_dir``; return the sorted paths."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    return sorted(write_book(b, out_dir) for b in books)
