"""Clean values and planted effects (the data-generating process).

Every indicator is simulated on the atoms (see :mod:`analysis.demo.units`) under three
scenarios that share all random draws: no programme, round 1 only, both rounds.  Counts are drawn
by inverting the Poisson / binomial CDF at the same uniform in every scenario (common random
numbers), so ``both − round 1 only`` is the true effect of round 2 on that very county-period,
and ``round 1 only − none`` the true effect of round 1.  The clean data is the "both" scenario.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import pandas as pd
from scipy import stats
from scipy.special import expit, logit

from analysis.catalog import load_catalog
from analysis.demo import params
from analysis.demo.roster import rng_for


def profile(event_time: np.ndarray) -> np.ndarray:
    """Share of the peak effect at each event time (half-years since the batch start).

    0 before the start, :data:`params.RAMP` while the official is there and just after, then
    fading towards :data:`params.PERSIST` by a factor :data:`params.FADE` per half-year.
    """
    e = np.asarray(event_time, dtype=float)
    out = np.where(e >= 2, params.PERSIST + (1 - params.PERSIST) * params.FADE ** (e - 1), 0.0)
    for k, v in params.RAMP.items():
        out = np.where(e == k, v, out)
    return np.where(e < 0, 0.0, out)


@lru_cache(maxsize=1)
def catalog_meta() -> dict[str, dict]:
    """Raw indicators of the catalog as plain dicts (scalar look-ups on a DataFrame are slow)."""
    cat = load_catalog()
    return {row["code"]: row for row in cat[cat["kind"] == "raw"].to_dict("records")}


def template_round(period: str) -> int:
    """The form in use in ``period``: 1, or 2 from :data:`params.FIRST_ROUND2_TEMPLATE` on."""
    return 2 if period >= params.FIRST_ROUND2_TEMPLATE else 1


def collected(indicator: str, period: str) -> bool:
    """Whether the form in use in ``period`` asks for ``indicator`` (catalog ``rounds``)."""
    return template_round(period) in catalog_meta()[indicator]["rounds"]


class _Draws:
    """Random effects and uniforms of one indicator, shared by all scenarios."""

    def __init__(self, seed: int, name: str, pref_idx: np.ndarray, n_pref: int, shape):
        rng = rng_for(seed, "dgp", name)
        a, t = shape
        self.county = rng.normal(0, params.COUNTY_SD, a)[:, None]
        self.pref = rng.normal(0, params.PREFECTURE_SD, n_pref)[pref_idx][:, None]
        self.time = rng.normal(0, params.TIME_SHOCK_SD, t)[None, :]
        self.noise = rng.normal(0, params.NOISE_SD, shape)
        self.u = rng.uniform(0.0005, 0.9995, shape)  # away from 0/1 so ppf stays finite
        self.t = np.arange(t)[None, :]

    def latent(self, trend: float, noise: bool = True) -> np.ndarray:
        base = self.county + self.pref + trend * self.t + self.time
        return base + (self.noise if noise else 0.0)


def simulate_atoms(seed: int, atoms: pd.DataFrame, officials: pd.DataFrame):
    """Simulate every raw indicator on the atoms under the three scenarios.

    Returns
    -------
    values : dict scenario (0 none, 1 round 1 only, 2 both) → dict indicator → array
        (atoms × periods), in catalog units.
    """
    a_n, t_n = len(atoms), len(params.PERIODS)
    shape = (a_n, t_n)
    codes = atoms["code"].tolist()
    pos = {c: i for i, c in enumerate(codes)}
    pref_codes = sorted(atoms["prefecture_code"].unique())
    pref_idx = atoms["prefecture_code"].map({p: i for i, p in enumerate(pref_codes)}).to_numpy()
    three = atoms["three_prefectures"].astype(bool).to_numpy()
    meta = catalog_meta()

    # --- context (no effect, identical in every scenario) ---
    rng = rng_for(seed, "context")
    y0 = np.exp(rng.normal(np.log(params.YOUTH_MEDIAN), params.YOUTH_LOG_SD, a_n))
    y0 = np.clip(y0 * np.where(three, params.YOUTH_THREE_PREF_FACTOR, 1.0),
                 params.YOUTH_MIN, params.YOUTH_MAX)
    t_idx = np.arange(t_n)[None, :]
    youth = np.rint(y0[:, None] * np.exp(params.YOUTH_TREND * t_idx
                                         + rng.normal(0, params.YOUTH_NOISE_SD, shape)))
    towns0 = params.TOWNSHIPS_MEDIAN * np.exp(rng.normal(0, params.TOWNSHIPS_LOG_SD, a_n))
    towns0 *= (y0 / params.YOUTH_MEDIAN) ** params.TOWNSHIPS_SIZE_ELASTICITY
    towns = np.repeat(np.clip(np.rint(towns0), params.TOWNSHIPS_MIN, params.TOWNSHIPS_MAX)[:, None],
                      t_n, axis=1)
    econ = rng.normal(0, params.FIRMS_PREF_SD, len(pref_codes))[pref_idx]
    firm_mean = (youth * params.FIRMS_PER_YOUTH * np.where(three, params.FIRMS_THREE_PREF_FACTOR, 1.0)
                 [:, None] * np.exp(econ[:, None] + params.FIRMS_TREND * t_idx))
    firms = stats.poisson.ppf(rng.uniform(0.0005, 0.9995, shape), firm_mean)
    rank = (np.argsort(np.argsort(y0)) + 0.5) / a_n
    choices = np.array(params.POSTS_CHOICES)
    posts0 = choices[np.minimum((rank * len(choices)).astype(int), len(choices) - 1)]
    posts0 = np.where(three, np.minimum(posts0, params.POSTS_THREE_PREF_MAX), posts0)
    raise_ = rng.random(a_n) < params.POSTS_RAISE_PROB
    year = np.array([int(p[:4]) for p in params.PERIODS])[None, :]
    posts = posts0[:, None] + (raise_[:, None] & (year >= 2012))
    context = {"youth_population": youth, "townships_total": towns,
               "nonpublic_firms": firms, "posts_authorized": posts.astype(float)}

    # --- event times and effect multipliers per round ---
    event = {}
    mult = {}
    for r in (1, 2):
        ev = np.full(a_n, -999, dtype=int)
        quality = np.zeros(a_n)
        prov = np.ones(a_n)
        tasks = np.ones((a_n, len(params.TASKS)))
        for o in officials[officials["round"] == r].itertuples(index=False):
            start = params.PERIODS.index(o.start_period)
            for code in o.atoms:
                i = pos[code]
                ev[i] = start
                quality[i] = np.exp(o.log_quality)
                prov[i] = params.PROVINCIAL_MULTIPLIER if o.provincial else 1.0
                if r == 2:
                    tasks[i] = [getattr(o, f"task_{k}") for k in range(1, len(params.TASKS) + 1)]
        if (ev < 0).any():
            missing = [codes[i] for i in np.flatnonzero(ev < 0)]
            raise RuntimeError(f"round {r}: atoms without a batch: {missing}")
        event[r] = t_idx - ev[:, None]
        mult[r] = (quality * prov, tasks)

    task_of = {ind: k for k, inds in enumerate(params.TASKS.values()) for ind in inds}

    def effect(ind: str, rounds: tuple[int, ...]) -> np.ndarray:
        out = np.zeros(shape)
        if ind not in params.EFFECTS:
            return out
        _scale, *sizes = params.EFFECTS[ind]
        het = np.where(three, params.THREE_PREF_MULTIPLIER[meta[ind]["domain"]], 1.0)
        for r in rounds:
            general, tasks = mult[r]
            m = tasks[:, task_of[ind]] if (r == 2 and ind in task_of) else general
            out += sizes[r - 1] * (het * m)[:, None] * profile(event[r])
        return out

    values: dict[int, dict[str, np.ndarray]] = {}
    for scenario, rounds in ((0, ()), (1, (1,)), (2, (1, 2))):
        vals = dict(context)
        for ind, spec in params.BASELINES.items():
            d = _Draws(seed, ind, pref_idx, len(pref_codes), shape)
            eff = effect(ind, rounds)
            model = spec["model"]
            if model == "poisson":
                base = {"youth": youth, "townships": towns, "one": np.ones(shape)}[spec["base"]]
                mean = spec["per"] * base * np.exp(d.latent(spec["trend"]) + eff)
                vals[ind] = stats.poisson.ppf(d.u, mean)
            elif model == "binomial":
                n = vals[spec["of"]]
                p = expit(logit(spec["share"]) + d.latent(spec["trend"]) + eff)
                vals[ind] = np.where(n > 0, stats.binom.ppf(d.u, n, p), 0.0)
            elif model == "rate":
                share = expit(logit(spec["centre"] / 100) + d.latent(spec["trend"]) + eff)
                vals[ind] = np.round(100 * share, 1)
            elif model == "money":
                per_youth = spec["per_youth"] * np.exp(d.latent(spec["trend"]) + eff)
                vals[ind] = np.round(youth * per_youth / 10_000, 2)
            elif model == "bool":
                start = expit(logit(spec["p0"]) + d.county[:, 0] + d.pref[:, 0])
                hazard = expit(logit(spec["hazard"]) + d.latent(spec["trend"], noise=False) + eff)
                state = np.zeros(shape)
                state[:, 0] = d.u[:, 0] < start
                for t in range(1, t_n):
                    on = state[:, t - 1] == 1
                    state[:, t] = np.where(on, d.u[:, t] >= spec["off"], d.u[:, t] < hazard[:, t])
                vals[ind] = state
            else:  # pragma: no cover - params are checked by tests
                raise ValueError(f"params.BASELINES[{ind!r}]: unknown model {model!r}")
        values[scenario] = vals
    return values


def aggregate(values: dict[str, np.ndarray], atoms: pd.DataFrame, panel: pd.DataFrame) -> pd.DataFrame:
    """Atoms → reporting units of each period, tidy (period, county_code, indicator, value).

    Counts and money add up; the dues rate is the youth-weighted mean; a 是/否 item is the
    value of the atom that carries the unit's own code (the parent keeps its institutions).
    """
    meta = catalog_meta()
    pos = {c: i for i, c in enumerate(atoms["code"])}
    frames = []
    for t, period in enumerate(params.PERIODS):
        units = panel[panel["period"] == period]
        member = np.zeros((len(units), len(atoms)))
        own = np.zeros(len(units), dtype=int)
        for k, (code, members) in enumerate(zip(units["county_code"], units["atoms"])):
            idx = [pos[c] for c in members]
            member[k, idx] = 1.0
            own[k] = pos[code] if code in members else idx[0]
        youth = values["youth_population"][:, t]
        for ind, arr in values.items():
            typ = meta[ind]["type"]
            col = arr[:, t]
            if typ == "rate":
                v = np.round(member @ (col * youth) / (member @ youth), 1)
            elif typ == "bool":
                v = col[own]
            elif typ == "money":
                v = np.round(member @ col, 2)
            else:
                v = member @ col
            frames.append(pd.DataFrame({"period": period, "county_code": units["county_code"].to_numpy(),
                                        "indicator": ind, "value": v.astype(float)}))
    return pd.concat(frames, ignore_index=True)
