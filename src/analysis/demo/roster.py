"""Batch design and the residency roster (驻点干部名册) with fake officials.

Batches are drawn per round, stratified by prefecture: inside each prefecture the counties are
shuffled and dealt to batches 1–4 in turn, starting at a random batch, so every prefecture is
spread over the round and the four batches stay within a few counties of each other.
"""

from __future__ import annotations

import datetime as dt
import zlib

import numpy as np
import pandas as pd

from analysis.demo import params

GRADES = ("优秀", "良好", "合格", "不合格")
RATINGS = ("完成", "基本完成", "未完成")  # best first, as the roster form lists them


def rng_for(seed: int, *keys: object) -> np.random.Generator:
    """An independent, stable random stream per purpose (adding a stream moves no other)."""
    words = [zlib.crc32(str(k).encode("utf-8")) for k in keys]
    return np.random.default_rng([int(seed), *words])


def period_bounds(period: str) -> tuple[dt.date, dt.date]:
    year, half = int(period[:4]), int(period[-1])
    return (dt.date(year, 1, 1), dt.date(year, 6, 30)) if half == 1 else (
        dt.date(year, 7, 1), dt.date(year, 12, 31))


def assign_batches(panel: pd.DataFrame, seed: int) -> pd.DataFrame:
    """Return the design: one row per round × unit that received an official.

    Columns: round, batch (1–4), start_period, county_code (valid at the start period),
    base_code, name, prefecture_short, prefecture_name, three_prefectures, atoms.
    """
    rows = []
    by_key = {key: g for key, g in panel.groupby(["period", "base_code"], sort=False)}
    for round_, batch_periods in params.ROUND_BATCHES.items():
        first = panel[panel["period"] == batch_periods[0]]
        rng = rng_for(seed, "batches", round_)
        batch_of_base: dict[str, int] = {}
        for _, pref in first.sort_values("county_code").groupby("prefecture_code", sort=True):
            bases = pref["base_code"].to_numpy()
            order = rng.permutation(len(bases))
            offset = int(rng.integers(4))
            for k, i in enumerate(order):
                batch_of_base[bases[i]] = (offset + k) % 4 + 1
        for base, batch in batch_of_base.items():
            period = batch_periods[batch - 1]
            here = by_key[(period, base)]
            for u in here.itertuples(index=False):
                rows.append(dict(round=round_, batch=batch, start_period=period,
                                 county_code=u.county_code, base_code=base, name=u.name,
                                 prefecture_short=u.prefecture_short,
                                 prefecture_name=u.prefecture_name,
                                 three_prefectures=u.three_prefectures, atoms=u.atoms))
    return pd.DataFrame(rows).sort_values(["round", "batch", "county_code"]).reset_index(drop=True)


def committee(prefecture_short: str, three: bool) -> str:
    """Prefecture League committee as clerks write it: 凉山州团委, 成都市团委."""
    return f"{prefecture_short}{'州' if three else '市'}团委"


def person_name(rng: np.random.Generator) -> str:
    """A fake Chinese name: a surname and one or two given characters."""
    k = 1 if rng.random() < 0.3 else 2
    return str(rng.choice(list(params.SURNAMES))) + "".join(rng.choice(list(params.GIVEN_CHARS), size=k))


def draw_officials(design: pd.DataFrame, seed: int) -> pd.DataFrame:
    """Add the fake official of each design row and everything that shapes their effect.

    Added columns: official (name), sending_unit, provincial (bool), start_date, end_date,
    log_quality (official's own effectiveness, log scale), one ``task_<i>`` multiplier per
    round-2 task (1–5, NaN in round 1), score (0–100), grade.
    """
    rng = rng_for(seed, "officials")
    out = design.copy()
    n = len(out)
    out["official"] = [person_name(rng) for _ in range(n)]
    provincial = rng.random(n) < params.PROVINCIAL_SHARE
    out["provincial"] = provincial
    out["sending_unit"] = [
        "团省委" if p else committee(s, t)
        for p, s, t in zip(provincial, out["prefecture_short"], out["three_prefectures"])
    ]
    starts, ends = [], []
    for r, b, p in zip(out["round"], out["batch"], out["start_period"]):
        s, e = params.ROUND2_STINTS[b] if r == 2 else period_bounds(p)
        starts.append(s)
        ends.append(e)
    out["start_date"], out["end_date"] = starts, ends
    out["log_quality"] = rng.normal(0.0, params.OFFICIAL_SD, n)
    for i, _task in enumerate(params.TASKS, start=1):
        extra = rng.normal(0.0, params.TASK_SD, n)
        mult = np.exp(out["log_quality"] + extra) * np.where(provincial, params.PROVINCIAL_MULTIPLIER, 1.0)
        out[f"task_{i}"] = np.where(out["round"] == 2, mult, np.nan)
    g = params.GRADE_SCORE
    score = (g["centre"] + g["per_log_sd"] * out["log_quality"] / params.OFFICIAL_SD
             + rng.normal(0.0, g["noise_sd"], n))
    out["score"] = score.round(1)
    out["grade"] = pd.cut(score, [-np.inf, 60, 80, 90, np.inf], right=False,
                          labels=list(reversed(GRADES))).astype(str)
    return out


def roster_frame(officials: pd.DataFrame) -> pd.DataFrame:
    """The clean roster as the League would keep it: round, batch, county, official, dates,
    grade and (round 2) the rating of each of the five tasks."""
    cols = ["round", "batch", "prefecture_name", "county_code", "base_code", "name", "official",
            "sending_unit", "start_date", "end_date", "grade"]
    roster = officials[cols].rename(columns={"name": "county_name"}).copy()
    lo, hi = params.TASK_RATING_CUTS
    for i, task in enumerate(params.TASKS, start=1):
        m = officials[f"task_{i}"]
        roster[task] = np.select([m.isna(), m < lo, m < hi], ["", RATINGS[2], RATINGS[1]], RATINGS[0])
    return roster.reset_index(drop=True)
