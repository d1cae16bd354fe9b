"""Programme design from the residency roster: batches, first treated periods, base-unit panel.

The roster (驻点干部名册) says which county hosted an official in which round and batch, who sent
the official and when the stint ran.  For the difference-in-differences estimates every county
needs, per round, its *cohort*: the first half-year in which it hosted an official, as an integer
period index (``period_index("2008H1") == 1`` … ``period_index("2014H2") == 14``).

Batch calendar (DOMAIN.md §1):

* round 1 (dates for Sichuan unpublished, modelled): batches 1–4 in 2008H2, 2009H1, 2009H2,
  2010H1, each stint inside its half-year;
* round 2 [seed]: batch 1 Feb–Jul 2012, batch 2 Aug 2012–Jan 2013, batch 3 Feb–Jul 2013,
  batch 4 Aug 2013–Jan 2014.  A stint is counted from the half-year in which it *starts*
  (Feb 2012 → 2012H1), so round-2 cohorts are 2012H1, 2012H2, 2013H1, 2013H2.

This module holds the programme's calendar, one definition per concept, which every later
step imports: :data:`ROUND_BATCHES` (first treated half-year of each batch),
:data:`BATCH_WINDOWS` (dates of a stint), :data:`CHANGE_WINDOWS` (windows of the descriptive
change per round) and :data:`DID_WINDOWS` (half-years of each round's DiD); the reasons are in
their docstrings and in ``docs/methods.md``.

Counties split off after the 2008 base (恩阳区 from 巴州区, 前锋区 from 广安区, both 2013) are
folded back into their parent by :func:`to_base_panel`: counts are summed and every rate is
recomputed from the summed counts with :func:`analysis.indicators.derive` — never averaged.
"""

from __future__ import annotations

import datetime as dt
import re
import warnings
from collections.abc import Iterable
from typing import Literal

import numpy as np
import pandas as pd

from analysis.catalog import load_catalog
from analysis.ingest.periods import PERIOD_PATTERN
from analysis.ingest.roster import round_from_text
from analysis.reference import base_units, to_base

__all__ = [
    "DesignError",
    "FIRST_YEAR",
    "LAST_YEAR",
    "ROUND_BATCHES",
    "BATCH_WINDOWS",
    "ROUND_NAMES_ZH",
    "CHANGE_WINDOWS",
    "DID_WINDOWS",
    "period_index",
    "period_label",
    "sending_level",
    "roster_round",
    "build_design",
    "add_design",
    "to_base_panel",
]

FIRST_YEAR = 2008
LAST_YEAR = 2014
"""Study calendar: half-years 2008H1 (index 1) to 2014H2 (index 14)."""

ROUND_BATCHES: dict[int, tuple[str, ...]] = {
    1: ("2008H2", "2009H1", "2009H2", "2010H1"),
    2: ("2012H1", "2012H2", "2013H1", "2013H2"),
}
"""First treated half-year of each batch (batch b is ``ROUND_BATCHES[round][b - 1]``)."""

BATCH_WINDOWS: dict[int, dict[int, tuple[dt.date, dt.date]]] = {
    1: {
        1: (dt.date(2008, 7, 1), dt.date(2008, 12, 31)),
        2: (dt.date(2009, 1, 1), dt.date(2009, 6, 30)),
        3: (dt.date(2009, 7, 1), dt.date(2009, 12, 31)),
        4: (dt.date(2010, 1, 1), dt.date(2010, 6, 30)),
    },
    2: {
        1: (dt.date(2012, 2, 1), dt.date(2012, 7, 31)),
        2: (dt.date(2012, 8, 1), dt.date(2013, 1, 31)),
        3: (dt.date(2013, 2, 1), dt.date(2013, 7, 31)),
        4: (dt.date(2013, 8, 1), dt.date(2014, 1, 31)),
    },
}
"""Dates a stint of each round and batch must lie in (inclusive)."""

ROUND_NAMES_ZH: dict[int, str] = {1: "第一轮", 2: "第二轮"}
"""Chinese name of each round, as tables and charts print it."""

CHANGE_WINDOWS: dict[int, dict[str, tuple[str, str]]] = {
    1: {"round": ("2008H1", "2010H2"), "after": ("2008H1", "2011H1")},
    2: {"round": ("2011H2", "2014H1"), "after": ("2011H2", "2014H2")},
}
"""Windows of the descriptive change of each round: ``{round: {window: (from, to)}}`` [design].

``round``: from the half-year *before* the round's first batch (2008H1: round 1 began in
Sept 2008; 2011H2: round 2 began in Feb 2012) to the half-year holding the round's last month
(2010H2: round 1 ran to the end of 2010 [seed]; 2014H1: round 2's batch 4 ended in Jan 2014).
Both spans are five half-years, so the two changes cover equally long stretches of any
province-wide trend.  ``after``: the same start to one half-year after the round's end
(2011H1, 2014H2) — the longest follow-up round 2 has in the data (which end in 2014H2), used for
both rounds so the spans stay equal (six half-years).  The windows of a delivery that does not
cover the whole calendar are derived from these by :func:`analysis.scope.delivery_scope`, which
:mod:`analysis.compare`, :mod:`analysis.evaluate`, :mod:`analysis.report` and the notebooks use.
"""

DID_WINDOWS: dict[int, tuple[str, str]] = {1: ("2008H1", "2009H2"), 2: ("2011H2", "2013H1")}
"""Half-years (first, last, inclusive) of each round's staggered DiD [design].

The window ends the half-year *before* the round's last batch starts (2010H1, 2013H2).  Every
county is in some batch, so there are no never-treated counties: from the last batch's start on
nobody is left to compare with and no ATT(g, t) cell there is estimable.  Those half-years add
no information but would drop every county that misses one of them from the balanced panel
:func:`analysis.did.att_gt` needs.  The last batch stays in the data as the not-yet-treated
comparison group throughout (its first treated period lies after the window).
Each window starts at the half-year before the round's first batch (2008H1, 2011H2): the base
period of batch 1's first effect.  Both rounds thus have the same shape (four half-years,
batches 1–3 treated, batch 4 the comparison), so their effects are estimated like for like.  An
earlier half-year (2011H1) would add only placebo cells for the pre-trend test — no post-
treatment cell uses it under the varying base period — and would drop every county missing it
(on the demo data the 19 counties of 成都, which have no 2011H1 rows).  Cut to a delivery's
half-years by :func:`analysis.scope.delivery_scope` for :mod:`analysis.evaluate`, whose results
feed the report's event-study and forest charts.
"""


class DesignError(ValueError):
    """The roster or panel cannot give a valid programme design; the message lists every problem."""


# --------------------------------------------------------------------------------------------
# periods
# --------------------------------------------------------------------------------------------


def period_index(period: str | Iterable[str]) -> int | np.ndarray:
    """Integer index of a half-year: ``"2008H1"`` → 1, ``"2008H2"`` → 2, …, ``"2014H2"`` → 14.

    Parameters
    ----------
    period : str or iterable of str
        Half-year labels ``YYYYH1``/``YYYYH2``.

    Returns
    -------
    int, or numpy array of int for an iterable (half-years since 2007H2).

    Raises
    ------
    DesignError
        A label that is not ``YYYYH1``/``YYYYH2``.
    """
    if isinstance(period, str):
        m = PERIOD_PATTERN.match(period.strip())
        if not m:
            raise DesignError(f"period_index: {period!r} is not a half-year label like '2012H1'.")
        return (int(m.group(1)) - FIRST_YEAR) * 2 + int(m.group(2))
    return np.array([period_index(str(p)) for p in period], dtype=int)


def period_label(index: int) -> str:
    """Inverse of :func:`period_index`: 1 → ``"2008H1"``, 9 → ``"2012H1"``."""
    i = int(index)
    return f"{FIRST_YEAR + (i - 1) // 2}H{(i - 1) % 2 + 1}"


# --------------------------------------------------------------------------------------------
# roster -> design
# --------------------------------------------------------------------------------------------


def sending_level(unit: object) -> str | None:
    """Level of the sending unit: ``"省级"`` for 团省委, ``"市级"`` for a 市/州 League committee.

    Returns None when the text names neither (the caller reports it).
    """
    if unit is None or (isinstance(unit, float) and np.isnan(unit)):
        return None
    s = re.sub(r"\s+", "", str(unit))
    if not s:
        return None
    if "团省委" in s or s.startswith("省") or "四川省" in s:
        return "省级"
    if re.search(r"(市|州|地区)(团委|委员会)", s) or "团市委" in s or "团州委" in s:
        return "市级"
    return None


def _date(value: object) -> dt.date | None:
    if value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NaT:
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        ts = pd.Timestamp(str(value))
    except (ValueError, TypeError):
        return None
    return None if pd.isna(ts) else ts.date()


def roster_round(value: object, sheet: object = None) -> int | None:
    """Round of one roster row: its 轮次 ``value`` or, when that is blank, the round its sheet
    names; None when the value is not a whole number or neither gives one.

    The roster workbook keeps one sheet per round (第一轮/第二轮) without a 轮次 column; the
    sheet name is read as the roster reader reads it
    (:func:`analysis.ingest.roster.round_from_text`).
    :func:`build_design` and :func:`analysis.summaries.prepare_roster` both read rounds with it.
    """
    if value is not None and not pd.isna(value):
        try:
            return int(value)
        except (TypeError, ValueError):
            return None
    return round_from_text(sheet) if isinstance(sheet, str) else None


def _where(row: pd.Series, i: int) -> str:
    f, s, r = row.get("source_file"), row.get("source_sheet"), row.get("source_row")
    if isinstance(f, str) and f:
        return f"{f}, sheet {s}, row {r}"
    return f"roster row {i}"


def build_design(roster: pd.DataFrame, *, tolerance_days: int = 0,
                 errors: Literal["raise", "warn"] = "raise") -> pd.DataFrame:
    """Programme design per round and base county from the residency roster.

    Parameters
    ----------
    roster : DataFrame
        One row per stint with ``batch``, ``county_code`` (or ``base_code``), ``sending_unit`` and
        ``round`` — or, when ``round`` is empty, a ``source_sheet`` naming the round (第一轮/
        第二轮), as the cleaned roster of ``analysis clean`` has it.  Optional ``start``/``end``
        (or ``start_date``/``end_date``) dates are checked against :data:`BATCH_WINDOWS`.
    tolerance_days : int
        Days a stint may start before or end after its batch window (0 = strictly inside).
    errors : {"raise", "warn"}
        ``"raise"``: any problem is an error.  ``"warn"``: rows with a problem are left out with
        one warning listing them (the county then has no design for that round; date and
        sending-unit problems only warn and keep the row).

    Returns
    -------
    DataFrame, one row per round × base county: ``round, base_code, batch, start_period, gname``
    (first treated period, integer index), ``sending_unit, sending_level`` (省级/市级),
    ``provincial`` (bool), ``n_units`` (roster rows folded into the base county, 2 for a split
    county whose parts were both stationed), ``county_codes`` (";"-joined).

    Raises
    ------
    DesignError
        Listing every problem with its place: unknown round or batch, no county code, a county
        twice in a round, parts of one base county in different batches, dates outside the batch,
        an unrecognised sending unit.
    """
    need = {"batch", "sending_unit"}
    missing = sorted(need - set(roster.columns))
    if missing or not ({"county_code", "base_code"} & set(roster.columns)):
        raise DesignError(
            f"build_design: the roster lacks column(s) {missing or ['county_code']}; expected round, "
            "batch, county_code (or base_code), sending_unit and optionally start/end dates."
        )
    start_col = next((c for c in ("start", "start_date") if c in roster.columns), None)
    end_col = next((c for c in ("end", "end_date") if c in roster.columns), None)
    if errors not in ("raise", "warn"):
        raise DesignError(f"build_design: errors={errors!r}; choose 'raise' or 'warn'.")
    problems: list[str] = []
    rows = []
    for i, (_, row) in enumerate(roster.reset_index(drop=True).iterrows(), start=1):
        where = _where(row, i)
        rnd = roster_round(row.get("round"), row.get("source_sheet"))
        if rnd not in ROUND_BATCHES:
            problems.append(f"{where}: round {row.get('round')!r} is not 1 or 2 (fill 轮次 or name the sheet 第一轮/第二轮)")
            continue
        try:
            batch = int(row["batch"])
        except (TypeError, ValueError):
            batch = None
        if batch not in (1, 2, 3, 4):
            problems.append(f"{where}: batch {row['batch']!r} is not 1–4")
            continue
        code = row.get("county_code")
        base = row.get("base_code")
        if (code is None or pd.isna(code)) and (base is None or pd.isna(base)):
            problems.append(f"{where}: county {row.get('county_text', '')!r} has no county code; "
                            "fix the name in the roster or add it to the resolver")
            continue
        if base is None or pd.isna(base):
            base = to_base([str(code)]).iloc[0]
        if code is None or pd.isna(code):
            code = base
        level = sending_level(row.get("sending_unit"))
        if level is None:
            problems.append(f"{where}: sending unit {row.get('sending_unit')!r} is neither 团省委 nor a "
                            "市/州团委; write it as e.g. 团省委 or 成都市团委")
        lo, hi = BATCH_WINDOWS[rnd][batch]
        tol = dt.timedelta(days=int(tolerance_days))
        s = _date(row.get(start_col)) if start_col else None
        e = _date(row.get(end_col)) if end_col else None
        if s is not None and not (lo - tol <= s <= hi + tol):
            problems.append(f"{where}: start {s} is outside round {rnd} batch {batch} ({lo} to {hi})")
        if e is not None and not (lo - tol <= e <= hi + tol):
            problems.append(f"{where}: end {e} is outside round {rnd} batch {batch} ({lo} to {hi})")
        if s is not None and e is not None and e < s:
            problems.append(f"{where}: end {e} is before start {s}")
        rows.append(dict(round=rnd, batch=batch, county_code=str(code), base_code=str(base),
                         sending_unit=row.get("sending_unit"), sending_level=level, where=where))
    stints = pd.DataFrame(rows, columns=["round", "batch", "county_code", "base_code",
                                         "sending_unit", "sending_level", "where"])
    for (rnd, code), grp in stints.groupby(["round", "county_code"]):
        if len(grp) > 1:
            problems.append(f"round {rnd}: county {code} appears {len(grp)} times ({'; '.join(grp['where'])}); "
                            "each county hosts one official per round")
    for (rnd, base), grp in stints.groupby(["round", "base_code"]):
        if grp["batch"].nunique() > 1:
            problems.append(f"round {rnd}: base county {base} has parts in batches {sorted(int(b) for b in grp['batch'].unique())} "
                            f"({'; '.join(grp['where'])}); a split county must be in one batch")
    if problems:
        text = f"build_design: {len(problems)} problem(s) in the roster:\n  " + "\n  ".join(problems)
        if errors == "raise":
            raise DesignError(text)
        warnings.warn(text, stacklevel=2)
        # duplicated or inconsistent counties cannot be kept: drop every row of such a county
        dup = stints.duplicated(["round", "county_code"], keep=False)
        split = stints.groupby(["round", "base_code"])["batch"].transform("nunique") > 1
        stints = stints[~(dup | split)]
    out = []
    for (rnd, base), grp in stints.groupby(["round", "base_code"], sort=True):
        # the parent unit's official speaks for the base county; a part created later only if alone
        parent = grp[grp["county_code"] == base]
        lead = (parent if len(parent) else grp).iloc[0]
        batch = int(grp["batch"].iloc[0])
        start = ROUND_BATCHES[int(rnd)][batch - 1]
        out.append(dict(round=int(rnd), base_code=base, batch=batch, start_period=start,
                        gname=period_index(start), sending_unit=lead["sending_unit"],
                        sending_level=lead["sending_level"], provincial=lead["sending_level"] == "省级",
                        n_units=len(grp), county_codes=";".join(sorted(grp["county_code"]))))
    return pd.DataFrame(out)


# --------------------------------------------------------------------------------------------
# design -> panel
# --------------------------------------------------------------------------------------------


def _unit_attributes() -> pd.DataFrame:
    units = base_units().rename(columns={"code": "base_code"})
    units["group_three"] = np.where(units["three_prefectures"], "三州", "其他")
    return units[["base_code", "prefecture_code", "prefecture_name", "unit_type",
                  "three_prefectures", "group_three"]]


def add_design(panel: pd.DataFrame, design: pd.DataFrame, round_: int, *,
               attributes: bool = True, missing: Literal["raise", "drop"] = "raise") -> pd.DataFrame:
    """Add one round's design to a panel (wide or long) keyed by ``base_code`` and ``period``.

    Parameters
    ----------
    panel : DataFrame
        Rows per county (``base_code``; ``county_code`` is mapped to the 2008 base if
        ``base_code`` is absent) and ``period`` label.
    design : DataFrame
        Output of :func:`build_design`.
    round_ : {1, 2}
        Round whose batches define the cohorts.
    attributes : bool
        Also add the base unit's ``prefecture_code, prefecture_name, unit_type,
        three_prefectures, group_three`` (三州/其他) from :mod:`analysis.reference`.
    missing : {"raise", "drop"}
        What to do with base counties that have no design row for the round: error, or drop
        them with a warning naming them.

    Returns
    -------
    DataFrame: the panel plus ``t`` (period index), ``round``, ``batch``, ``gname`` (first
    treated period index), ``event_time`` (t − gname, half-years), ``sending_level``,
    ``provincial``.  Columns of these names already in the panel are replaced (so the output
    of one round can be re-labelled for the other).

    Raises
    ------
    DesignError
        A base county of the panel has no design row for the round (all counties are in every
        round), or the round is unknown.
    """
    if round_ not in ROUND_BATCHES:
        raise DesignError(f"add_design: round_={round_!r}; choose 1 or 2.")
    out = panel.copy()
    if "base_code" not in out.columns:
        if "county_code" not in out.columns:
            raise DesignError("add_design: the panel needs base_code or county_code.")
        out["base_code"] = to_base(out["county_code"]).to_numpy()
    out["base_code"] = out["base_code"].astype(str)
    d = design[design["round"] == round_][["base_code", "round", "batch", "gname",
                                            "sending_level", "provincial"]]
    lacking = sorted(set(out["base_code"]) - set(d["base_code"]))
    if lacking and missing == "drop":
        warnings.warn(f"add_design: {len(lacking)} base county(ies) have no round-{round_} batch and are "
                      f"left out: {lacking}", stacklevel=2)
        out = out[~out["base_code"].isin(lacking)]
    elif lacking:
        raise DesignError(f"add_design: {len(lacking)} base county(ies) of the panel have no round-{round_} "
                          f"batch in the design: {lacking[:10]}; check the roster covers every county.")
    # columns this function writes are replaced, so a panel can be re-labelled for another round
    attrs = _unit_attributes() if attributes else pd.DataFrame(columns=["base_code"])
    written = [*d.columns, *attrs.columns, "t", "event_time"]
    out = out.drop(columns=[c for c in written if c != "base_code" and c in out.columns])
    out["t"] = period_index(out["period"].astype(str))
    out = out.merge(d, on="base_code", how="left", validate="many_to_one")
    out["event_time"] = out["t"] - out["gname"]
    if attributes:
        out = out.merge(attrs, on="base_code", how="left", validate="many_to_one")
    return out


def to_base_panel(panel: pd.DataFrame, *, catalog: pd.DataFrame | None = None) -> pd.DataFrame:
    """Fold units created after 2008 back into their 2008 base county (wide panel).

    Counts and money (``type`` count/money in the catalog) are summed over the parts; a
    reported raw rate (团费收缴率) is averaged weighted by ``league_members`` (dues are owed per
    member, so that is the pooled rate); 是/否 items take the parent unit's answer (the county
    committee of the base unit keeps the Party-building arrangements).  Derived rates and
    standards are then recomputed from the summed counts with
    :func:`analysis.indicators.derive` — never averaged.  A sum is missing if any part is missing.

    Parameters
    ----------
    panel : DataFrame
        Wide panel as ``panel.parquet``: ``county_code, period`` (``base_code`` optional) and one
        column per indicator, catalog units.
    catalog : DataFrame, optional
        Indicator catalog; default :func:`analysis.catalog.load_catalog`.

    Returns
    -------
    DataFrame: ``county_code`` (= base code), ``base_code, period, n_units`` and the indicator
    columns present in the input, one row per base county × period.
    """
    from analysis.indicators import derive

    cat = load_catalog() if catalog is None else catalog
    for c in ("county_code", "period"):
        if c not in panel.columns:
            raise DesignError(f"to_base_panel: the panel lacks {c!r}; pass the wide panel.parquet.")
    df = panel.copy()
    df["county_code"] = df["county_code"].astype(str)
    df["base_code"] = to_base(df["county_code"]).to_numpy() if "base_code" not in df.columns \
        else df["base_code"].astype(str)
    keys = ["base_code", "period"]
    ind_cols = [c for c in df.columns if c in cat.index]
    raw = [c for c in ind_cols if cat.at[c, "kind"] == "raw"]
    derived = [c for c in ind_cols if cat.at[c, "kind"] in ("derived", "standard")]
    g = df.groupby(keys, sort=True)
    n_units = g.size().rename("n_units")
    parts = [n_units]
    additive = [c for c in raw if cat.at[c, "type"] in ("count", "money")]
    if additive:
        sums = g[additive].sum(min_count=1)
        # any missing part makes the sum missing: a partial sum would look like a fall
        incomplete = g[additive].count().lt(n_units, axis=0)
        parts.append(sums.mask(incomplete))
    for c in raw:
        kind = cat.at[c, "type"]
        if kind == "rate":
            w = df["league_members"] if "league_members" in df.columns else pd.Series(1.0, index=df.index)
            num = (df[c] * w).groupby([df[k] for k in keys]).sum(min_count=1)
            den = w.where(df[c].notna()).groupby([df[k] for k in keys]).sum(min_count=1)
            bad = df[c].isna().groupby([df[k] for k in keys]).any() | den.isna() | (den == 0)
            parts.append((num / den).mask(bad).rename(c))
        elif kind == "bool":
            is_parent = df["county_code"] == df["base_code"]
            pref = df.assign(_p=~is_parent).sort_values([*keys, "_p"])
            parts.append(pref.groupby(keys, sort=True)[c].first().rename(c))
    out = pd.concat(parts, axis=1).reset_index()
    out.insert(0, "county_code", out["base_code"])
    if derived:
        long = out.melt(id_vars=["county_code", "period"], value_vars=raw,
                        var_name="indicator", value_name="value")
        d = derive(long, codes=derived, catalog=cat)
        wide = d.pivot(index=["county_code", "period"], columns="indicator", values="value")
        out = out.merge(wide[derived].reset_index(), on=["county_code", "period"], how="left")
    cols = ["county_code", "base_code", "period", "n_units"] + [c for c in ind_cols if c in out.columns]
    return out[cols].sort_values(["county_code", "period"], ignore_index=True)
