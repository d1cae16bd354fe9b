"""County reference data and the county-name resolver: every record ends on one county code.

Reads only the committed tables in ``paths().reference`` (built by
:mod:`analysis.reference_build` from public GB/T 2260 code books):

* ``units.csv``: Sichuan's county-level units per vintage (year-end code books 2007–2014 and
  the current one), one row per (vintage, code);
* ``prefectures.csv``: the 21 prefecture-level units per vintage;
* ``changes.csv``: one row per change between consecutive vintages.

Public API
----------
``load_units``, ``load_prefectures``, ``load_changes``, ``resolve_county``, ``resolve_counties``,
``to_base``, ``base_units`` and the errors ``CountyResolutionError``, ``AmbiguousCountyError``,
``UnknownCountyError``, ``ReferenceDataError``.  See ``docs/reference.md``.
"""

from __future__ import annotations

import difflib
import os
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import pandas as pd

from analysis.config import ENV_PREFIX, paths

__all__ = [
    "STUDY_VINTAGES",
    "VINTAGES",
    "AmbiguousCountyError",
    "CountyResolutionError",
    "ReferenceDataError",
    "UnknownCountyError",
    "base_units",
    "load_changes",
    "load_prefectures",
    "load_units",
    "is_place_name",
    "normalize_place",
    "prefecture_code",
    "resolve_counties",
    "resolve_county",
    "to_base",
]

STUDY_VINTAGES: tuple[str, ...] = tuple(str(y) for y in range(2007, 2015))
"""Year-end code books of the study window (2007 is the baseline before round 1)."""
VINTAGES: tuple[str, ...] = STUDY_VINTAGES + ("current",)
_ORDER = {v: i for i, v in enumerate(VINTAGES)}
END_OF_STUDY = STUDY_VINTAGES[-1]

_UNIT_COLUMNS = ["vintage", "code", "name", "short_name", "prefecture_code", "prefecture_name",
                 "prefecture_short", "unit_type", "three_prefectures"]
_PREFECTURE_COLUMNS = ["vintage", "code", "name", "short_name", "prefecture_type", "three_prefectures"]
_CHANGE_COLUMNS = ["year", "vintage", "kind", "old_code", "old_name", "new_code", "new_name", "note"]
_REBUILD = "rebuild it with `python -m analysis reference` (never edit it by hand)"


class ReferenceDataError(ValueError):
    """A committed reference table is missing or malformed."""


class CountyResolutionError(ValueError):
    """A county name or code could not be turned into exactly one code.

    Attributes
    ----------
    text : the input as given.
    candidates : list of (code, name, prefecture_name) tuples that were considered (ambiguous
        input) or suggested (unknown input).
    """

    def __init__(self, message: str, text: object = None, candidates: Iterable[tuple[str, str, str]] = ()):
        super().__init__(message)
        self.text = text
        self.candidates = list(candidates)


class AmbiguousCountyError(CountyResolutionError):
    """The input names more than one county (e.g. 市中区 without its prefecture)."""


class UnknownCountyError(CountyResolutionError):
    """The input matches no county; ``candidates`` holds close matches, if any."""


# --------------------------------------------------------------------------------------------
# loading


def _read(path: Path, columns: list[str]) -> pd.DataFrame:
    if not path.is_file():
        raise ReferenceDataError(f"{path}: reference table not found; {_REBUILD}")
    df = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8")
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise ReferenceDataError(f"{path}: missing column(s) {missing}; {_REBUILD}")
    return df


def _check_codes(df: pd.DataFrame, path: Path, cols: Iterable[str], allow_empty: bool = False) -> None:
    pattern = r"51\d{4}" + ("|" if allow_empty else "")
    for col in cols:
        bad = df.loc[~df[col].str.fullmatch(pattern), col]
        if len(bad):
            raise ReferenceDataError(f"{path}, column {col}: not 6-digit Sichuan codes {bad.unique()[:5].tolist()}; {_REBUILD}")


@dataclass
class _Reference:
    units: pd.DataFrame
    prefectures: pd.DataFrame
    changes: pd.DataFrame
    # alias (normalised) -> set of (code, prefecture_code)
    aliases: dict[str, set[tuple[str, str]]] = field(default_factory=dict)
    # prefecture alias -> prefecture code
    prefecture_aliases: dict[str, str] = field(default_factory=dict)
    # code -> sorted vintages in which it exists
    vintages_of: dict[str, list[str]] = field(default_factory=dict)
    forward: dict[str, str] = field(default_factory=dict)
    backward: dict[str, str] = field(default_factory=dict)


@lru_cache(maxsize=4)
def _reference(folder: str) -> _Reference:
    root = Path(folder)
    units_path, pref_path, changes_path = root / "units.csv", root / "prefectures.csv", root / "changes.csv"
    units = _read(units_path, _UNIT_COLUMNS)
    prefs = _read(pref_path, _PREFECTURE_COLUMNS)
    changes = _read(changes_path, _CHANGE_COLUMNS)
    _check_codes(units, units_path, ["code", "prefecture_code"])
    _check_codes(changes, changes_path, ["old_code"], allow_empty=True)  # empty: a creation
    _check_codes(changes, changes_path, ["new_code"])
    for df, path in ((units, units_path), (prefs, pref_path)):
        unknown = sorted(set(df["vintage"]) - set(VINTAGES))
        if unknown:
            raise ReferenceDataError(f"{path}: unknown vintage(s) {unknown}; expected {list(VINTAGES)}")
        if df.duplicated(["vintage", "code"]).any():
            raise ReferenceDataError(f"{path}: duplicated (vintage, code) rows; {_REBUILD}")
        df["three_prefectures"] = df["three_prefectures"].map({"True": True, "False": False})
    for col in ("year", "n_units"):
        for df in (changes, prefs):
            if col in df.columns:
                df[col] = df[col].astype(int)
    ref = _Reference(units=units, prefectures=prefs, changes=changes)

    for row in units.itertuples(index=False):
        for alias in _unit_aliases(row.name, row.short_name):
            ref.aliases.setdefault(normalize_place(alias), set()).add((row.code, row.prefecture_code))
        ref.vintages_of.setdefault(row.code, []).append(row.vintage)
    for code, vs in ref.vintages_of.items():
        vs.sort(key=_ORDER.__getitem__)
    for row in prefs.itertuples(index=False):
        short = row.short_name
        for alias in (row.name, short, short + "市", short + "州", row.code, row.code[:4]):
            ref.prefecture_aliases[normalize_place(alias)] = row.code
    for row in changes.itertuples(index=False):
        if row.old_code and row.old_code != row.new_code:
            # a split leaves its parent in place: follow it backwards only
            if row.kind != "split":
                ref.forward[row.old_code] = row.new_code
            ref.backward[row.new_code] = row.old_code
    return ref


def _unit_aliases(name: str, short_name: str) -> set[str]:
    """The names a unit is written with: its official name, its short name and, for an
    autonomous county (木里藏族自治县), the short form every League document uses (木里县).

    The short form drops the nationality and 自治 but keeps 县; ``tests/test_reference.py``
    lists every autonomous county of the code books with its short form and checks that no
    short form names another unit.
    """
    out = {name, short_name}
    if name.endswith("自治县") and short_name:
        out.add(short_name + "县")
    return out


def _ref() -> _Reference:
    # paths() and Path.resolve() cost more than the lookups they serve (measured: 0.2 s of the
    # demo's 1,600 county resolutions); they depend only on the environment and the working
    # folder, so the folder is worked out once per such state (a symlink re-pointed while the
    # process runs is not noticed)
    try:
        cwd = os.getcwd()
    except OSError:  # the working folder was deleted: work the folder out without the cache
        return _reference(str(paths().reference.resolve()))
    return _reference(_reference_folder(os.environ.get(ENV_PREFIX + "ROOT"),
                                        os.environ.get(ENV_PREFIX + "REFERENCE"), cwd))


@lru_cache(maxsize=16)
def _reference_folder(root_env: str | None, reference_env: str | None, cwd: str) -> str:
    return str(paths().reference.resolve())


def _vintage(vintage: int | str, allow_current: bool = True) -> str:
    v = str(vintage).strip()
    if v in STUDY_VINTAGES or (allow_current and v == "current"):
        return v
    allowed = f"a year {STUDY_VINTAGES[0]}–{STUDY_VINTAGES[-1]}" + (' or "current"' if allow_current else "")
    raise ValueError(f"vintage={vintage!r}: expected {allowed}")


def load_units(vintage: int | str = 2008) -> pd.DataFrame:
    """County-level units of Sichuan in one code book.

    Parameters
    ----------
    vintage : int or str
        Year-end code book, 2007 … 2014, or ``"current"`` (newest code book).

    Returns
    -------
    DataFrame
        One row per unit: vintage, code (6-digit str), name, short_name, prefecture_code,
        prefecture_name, prefecture_short, unit_type (市辖区/县级市/县/自治县),
        three_prefectures (bool, 甘孜/阿坝/凉山), source.  181 units 2007–2012, 183 from 2013.
    """
    v = _vintage(vintage)
    units = _ref().units
    return units.loc[units["vintage"] == v].reset_index(drop=True).copy()


def load_prefectures(vintage: int | str = 2008) -> pd.DataFrame:
    """The 21 prefecture-level units of Sichuan in one code book.

    Parameters
    ----------
    vintage : int or str
        As in :func:`load_units`.

    Returns
    -------
    DataFrame
        vintage, code, name (凉山彝族自治州), short_name (凉山), prefecture_type (地级市/自治州),
        three_prefectures, n_units (county-level units in that vintage), source.
    """
    v = _vintage(vintage)
    prefs = _ref().prefectures
    return prefs.loc[prefs["vintage"] == v].reset_index(drop=True).copy()


def load_changes() -> pd.DataFrame:
    """Changes of county-level units between consecutive vintages, 2007 → current.

    Returns
    -------
    DataFrame
        year (approval year, int), vintage (first code book showing it), kind (rename, recode,
        county_to_district, county_to_city, move_prefecture, split, merge, abolish, create),
        old_code, old_name, old_prefecture_code, new_code, new_name, new_prefecture_code,
        source_type, note.  For a split, old_code is the parent, which keeps its code.
    """
    return _ref().changes.copy()


# --------------------------------------------------------------------------------------------
# resolving names

_SPACE = re.compile(r"\s+")
_PROVINCE = re.compile(r"^四川(?:省)?")
_LEAGUE_PREFIX = re.compile(r"^共青团")
_LEAGUE_SUFFIX = re.compile(r"(?:委员会|团县委|团区委|团市委|团州委|团委)$")
# no Sichuan unit name holds brackets, so any bracketed part is an annotation: （盖章）, (原达县)
_BRACKETS = re.compile(r"[(\[【][^()\[\]【】]*[)\]】]")
_CODE = re.compile(r"^(\d{6})(?:\d{6})?$")
_PERIOD = re.compile(r"^(\d{4})(?:[Hh][12]|年.*)?$")


def normalize_place(text: object) -> str:
    """Fold a place name for matching.

    NFKC (full-width letters, digits, brackets and the ideographic space become ASCII), all
    whitespace removed, bracketed annotations (（盖章）) dropped, a leading 四川/四川省 and League
    wrappers (共青团…委员会, …团委/团县委/团州委) cut off.
    ``"　凉山州 喜德县团委（盖章）"`` → ``"凉山州喜德县"``.
    """
    s = _SPACE.sub("", unicodedata.normalize("NFKC", str(text)))
    s = _BRACKETS.sub("", s)
    s = _PROVINCE.sub("", s)
    s = _LEAGUE_PREFIX.sub("", s)
    s = _LEAGUE_SUFFIX.sub("", s) or s
    return s


def _as_of_vintage(as_of: int | str | None) -> str | None:
    """Vintage whose codes a resolution should return; a period uses its year's code book."""
    if as_of is None:
        return None
    s = normalize_place(as_of)
    if s == "current":
        return s
    m = _PERIOD.match(s)
    if m and m.group(1) in STUDY_VINTAGES:
        return m.group(1)
    raise ValueError(
        f"as_of={as_of!r}: expected a year {STUDY_VINTAGES[0]}–{STUDY_VINTAGES[-1]}, a period such as "
        '"2013H1", or "current" (there is no code book between 2014 and the current one)'
    )


def _to_vintage(ref: _Reference, code: str, vintage: str) -> str:
    """Follow the change graph from ``code`` to the unit covering it in ``vintage``."""
    seen = set()
    while vintage not in ref.vintages_of.get(code, ()):
        if code in seen:  # pragma: no cover - a cycle means the changes table is corrupt
            raise ReferenceDataError(f"changes.csv: cycle through {code}; {_REBUILD}")
        seen.add(code)
        vs = ref.vintages_of.get(code)
        if not vs:
            raise UnknownCountyError(f"code {code} is not a Sichuan county-level code of any vintage", code)
        step = ref.forward if _ORDER[vintage] > _ORDER[vs[-1]] else ref.backward
        if code not in step:
            (_, name, prefecture_name), = _describe(ref, [code], None)
            raise UnknownCountyError(
                f"code {code} ({name}（{prefecture_name}）) has no successor or predecessor in vintage "
                f"{vintage}; check changes.csv", code)
        code = step[code]
    return code


def _prefecture(ref: _Reference, prefecture: object) -> str | None:
    if prefecture is None or (isinstance(prefecture, float) and pd.isna(prefecture)):
        return None
    s = normalize_place(prefecture)
    if s == "":
        return None
    if s in ref.prefecture_aliases:
        return ref.prefecture_aliases[s]
    close = difflib.get_close_matches(s, list(ref.prefecture_aliases), n=3, cutoff=0.5)
    raise UnknownCountyError(
        f"prefecture {prefecture!r} is not a Sichuan prefecture; close: {close or 'none'}; "
        "give a name (内江市, 内江) or a code (511000)", prefecture)


def prefecture_code(text: object) -> str | None:
    """The code of the prefecture ``text`` names exactly (``成都市``, ``成都``, ``凉山州``,
    ``凉山彝族自治州``, ``510100``), else ``None``; never raises and never guesses.

    For the layout step, which asks whether a sheet name (one sheet per prefecture) or a
    column header names a prefecture.
    """
    if text is None or (isinstance(text, float) and pd.isna(text)):
        return None
    s = normalize_place(text)
    return _ref().prefecture_aliases.get(s) if s else None


def is_place_name(text: object) -> bool:
    """Whether ``text`` names a Sichuan county-level unit (``喜德县``, ``木里县``, ``西昌``,
    ``凉山州喜德县``), ambiguously or not (``市中区``) — in any code book; never raises.

    For the layout step: a header row of county names marks a transposed table.
    """
    if text is None or (isinstance(text, float) and pd.isna(text)):
        return False
    s = normalize_place(text)
    if not s or any(ch.isdigit() for ch in s):
        return False
    return _is_place_key(s)


@lru_cache(maxsize=4096)
def _is_place_key(s: str) -> bool:
    return bool(_lookup(_ref(), s, None))


def _lookup(ref: _Reference, s: str, pref: str | None) -> set[tuple[str, str]]:
    hits = {h for h in ref.aliases.get(s, set()) if pref is None or h[1] == pref}
    if hits:
        return hits
    # a prefecture written in front: 凉山州喜德县, 凉山彝族自治州喜德县, 内江市市中区, 凉山喜德
    for alias, pcode in sorted(ref.prefecture_aliases.items(), key=lambda kv: -len(kv[0])):
        if len(s) > len(alias) and s.startswith(alias) and not alias.isdigit() and pref in (None, pcode):
            hits |= {h for h in ref.aliases.get(s[len(alias):], set()) if h[1] == pcode}
    return hits


def _describe(ref: _Reference, codes: Iterable[str], vintage: str | None,
              alias: str | None = None) -> list[tuple[str, str, str]]:
    """(code, name, prefecture) per code, named as in ``vintage`` or as the alias matched."""
    out = []
    u = ref.units
    for code in sorted(set(codes)):
        vs = ref.vintages_of[code]
        v = vintage if vintage in vs else vs[-1]
        if vintage is None and alias is not None:
            rows = u.loc[u["code"] == code]
            named = rows.loc[(rows["name"].map(normalize_place) == alias)
                             | (rows["short_name"].map(normalize_place) == alias), "vintage"]
            if len(named):
                v = named.iloc[-1]
        row = u.loc[(u["vintage"] == v) & (u["code"] == code)].iloc[0]
        out.append((code, row["name"], row["prefecture_name"]))
    return out


def resolve_county(text: object, prefecture: object = None, as_of: int | str | None = None) -> str:
    """Return the 6-digit code of the county-level unit that ``text`` names.

    Parameters
    ----------
    text : str or int
        A full name (喜德县), short name (喜德), name with its prefecture in front (凉山州喜德县,
        凉山彝族自治州喜德县, 凉山喜德), an old name (达县, 名山县, 元坝区) or a code (513432 as int
        or str, or a 12-digit statistical code).  Spaces, full-width characters, a leading
        四川省 and League wrappers (喜德县团委, 共青团喜德县委员会) are ignored.
    prefecture : str or int, optional
        Prefecture name, short name or code, to disambiguate (市中区 + 内江 → 511002).
    as_of : int or str, optional
        Return the code valid in this vintage: a year 2007–2014, a period (``"2013H1"``, the
        year's code book is used) or ``"current"``.  Old names follow renames and recodes
        forward (达县, as_of=2013 → 511703); new units map back to the unit they came from
        (恩阳区, as_of=2010 → 巴州区 511902).  Default: the name may come from any vintage; if it
        matches several codes of one lineage, the code valid at the end of the study (2014) is
        returned.

    Returns
    -------
    str
        Six-digit GB/T 2260 code.

    Raises
    ------
    AmbiguousCountyError
        The text names several units (市中区 alone); the message lists them with prefectures.
    UnknownCountyError
        No unit matches; the message suggests close names.
    ValueError
        ``as_of`` is not a study year, period or "current".
    """
    ref = _ref()
    vintage = _as_of_vintage(as_of)
    pref = _prefecture(ref, prefecture)
    if text is None or (isinstance(text, float) and pd.isna(text)):
        raise UnknownCountyError("empty county name: give a name or a code", text)
    s = normalize_place(text)
    if not s:
        raise UnknownCountyError(f"empty county name {text!r}: give a name or a code", text)

    m = _CODE.match(s)
    if m:
        code = m.group(1)
        if code not in ref.vintages_of:
            hint = " (that is a prefecture code)" if code in set(ref.prefectures["code"]) else ""
            raise UnknownCountyError(f"{text!r}: {code} is not a Sichuan county-level code of any vintage{hint}", text)
        if pref is not None and code[:4] != pref[:4] and _to_vintage(ref, code, END_OF_STUDY)[:4] != pref[:4]:
            raise UnknownCountyError(f"{text!r}: code {code} does not lie in prefecture {prefecture!r}", text)
        codes = {code}
    else:
        codes = {c for c, _ in _lookup(ref, s, pref)}
    if not codes:
        pool = list(ref.aliases)
        close = difflib.get_close_matches(s, pool, n=5, cutoff=0.5)
        suggestions = _describe(ref, sorted({c for a in close for c, p in ref.aliases[a]
                                              if pref is None or p == pref}), vintage)
        if s in ref.prefecture_aliases:
            raise UnknownCountyError(f"{text!r} is a prefecture, not a county-level unit; "
                                     "give the county (e.g. 凉山州喜德县)", text)
        where = f" in prefecture {prefecture!r}" if pref else ""
        shown = "、".join(f"{n}（{p}，{c}）" for c, n, p in suggestions) or "none"
        raise UnknownCountyError(f"{text!r}: no county-level unit of Sichuan{where} has this name; "
                                 f"close matches: {shown}", text, suggestions)

    if vintage is None:
        # names of one lineage (南溪县/南溪区) or only in the current code book (会理市) end on
        # the code valid at the end of the study
        outside = any(not set(ref.vintages_of[c]) & set(STUDY_VINTAGES) for c in codes)
        if len(codes) > 1 or outside:
            study = {_to_vintage(ref, c, END_OF_STUDY) for c in codes}
            if len(study) == 1 or outside:
                codes = study
    else:
        codes = {_to_vintage(ref, c, vintage) for c in codes}
    if len(codes) > 1:
        cands = _describe(ref, codes, vintage, alias=None if m else s)
        shown = "、".join(f"{n}（{p}，{c}）" for c, n, p in cands)
        raise AmbiguousCountyError(f"{text!r} names {len(cands)} units: {shown}; give the prefecture "
                                   "(e.g. prefecture=\"内江\" or \"内江市市中区\")", text, cands)
    return next(iter(codes))


def resolve_counties(values: pd.Series, prefecture: pd.Series | str | None = None,
                     as_of: int | str | None = None) -> pd.DataFrame:
    """Resolve a whole column of county names or codes; failures are reported, not raised.

    Each distinct (value, prefecture) pair is resolved once.

    Parameters
    ----------
    values : Series
        County names or codes, as in :func:`resolve_county`.
    prefecture : Series, str or None
        One prefecture for all rows, or a Series aligned with ``values``.
    as_of : int or str, optional
        As in :func:`resolve_county` (one vintage for the whole column).

    Returns
    -------
    DataFrame
        Indexed like ``values``: ``input``, ``prefecture`` (as given), ``code`` (None on failure),
        ``name`` and ``prefecture_name`` (of the code, in the as_of vintage or its latest one),
        ``error`` (message, None on success) so that ingest can quarantine the failures.
    """
    values = pd.Series(values)
    if isinstance(prefecture, pd.Series):
        prefs = prefecture.reindex(values.index)
    else:
        prefs = pd.Series([prefecture] * len(values), index=values.index, dtype=object)
    ref = _ref()
    vintage = _as_of_vintage(as_of)
    # missing values become None so that every missing cell shares one key
    clean = [None if (not isinstance(x, str) and pd.isna(x)) else x for x in values.astype(object)]
    clean_prefs = [None if (not isinstance(x, str) and pd.isna(x)) else x for x in prefs.astype(object)]
    keys = pd.Series(list(zip(clean, clean_prefs, strict=True)), index=values.index, dtype=object)
    done: dict[tuple, tuple] = {}
    for key in keys.unique():
        text, pref = key
        try:
            code = resolve_county(text, prefecture=pref, as_of=as_of)
            (_, name, pref_name), = _describe(ref, [code], vintage)
            done[key] = (code, name, pref_name, None)
        except CountyResolutionError as exc:
            done[key] = (None, None, None, str(exc))
    out = pd.DataFrame([done[k] for k in keys], index=values.index,
                       columns=["code", "name", "prefecture_name", "error"], dtype=object)
    out.insert(0, "prefecture", prefs.astype(object))
    out.insert(0, "input", values.astype(object))
    return out


# --------------------------------------------------------------------------------------------
# comparison base


def to_base(codes: pd.Series | Iterable[str | int], base: int | str = "2008") -> pd.Series:
    """Map codes of any vintage to the units of a base vintage (default: the 181 units of 2008).

    Renames and recodes follow to the base code (达川区 511703 → 达县 511721, 会理市 513402 →
    会理县 513425, 简阳市 510185 → 512081); units split off after the base fold back into their
    parent (恩阳区 → 巴州区 511902, 前锋区 → 广安区 511602).  Values of a folded unit must be
    summed with its parent's for counts, but rates must be recomputed from summed numerators and
    denominators, never summed or averaged (see docs/reference.md).

    Parameters
    ----------
    codes : Series or iterable of str/int
        6-digit codes (12-digit statistical codes are cut to 6); missing values stay missing.
    base : int or str
        Study vintage 2007–2014 to map onto.

    Returns
    -------
    Series
        Base codes (str), same index as ``codes``, named ``base_code``.

    Raises
    ------
    UnknownCountyError
        A code is not a Sichuan county-level code of any vintage; all such codes are listed.
    """
    ref = _ref()
    b = _vintage(base, allow_current=False)
    series = codes if isinstance(codes, pd.Series) else pd.Series(list(codes), dtype=object)
    mapping: dict[object, object] = {}
    unknown = []
    for value in series.dropna().unique():
        m = _CODE.match(normalize_place(value))
        if not m or m.group(1) not in ref.vintages_of:
            unknown.append(value)
            continue
        mapping[value] = _to_vintage(ref, m.group(1), b)
    if unknown:
        raise UnknownCountyError(f"to_base: {len(unknown)} value(s) are not Sichuan county-level codes: "
                                 f"{unknown[:10]}; resolve names first with resolve_counties()", unknown)
    out = series.map(mapping).astype(object)
    out.name = "base_code"
    return out


def base_units(base: int | str = "2008") -> pd.DataFrame:
    """The units of the comparison base (181 for 2008), as :func:`load_units` returns them.

    Parameters
    ----------
    base : int or str
        Study vintage 2007–2014.
    """
    return load_units(_vintage(base, allow_current=False))
