import pytest

from analysis import catalog


def test_catalog_has_every_domain_md_indicator():
    cat = catalog.load_catalog()
    raw = cat[cat["kind"] == "raw"]
    # DOMAIN.md §2 lists 26 collected indicators
    assert len(raw) == 26
    assert {"weak_orgs", "youth_models"} == {c for c in raw.index if raw.loc[c, "rounds"] == (2,)}
    assert set(catalog.raw_indicators(1)) == set(raw.index) - {"weak_orgs", "youth_models"}


def test_derived_and_standards_have_formulas_and_units():
    cat = catalog.load_catalog()
    derived = cat[cat["kind"] != "raw"]
    assert (derived["formula"] != "").all()
    assert cat.loc["funds_per_youth", "unit"] == "元/人"
    assert cat.loc["std_funds_per_youth", "formula"] == "funds_per_youth >= 0.5"


def test_only_weak_orgs_is_lower_is_better():
    cat = catalog.load_catalog()
    assert cat.index[cat["direction"] == -1].tolist() == ["weak_orgs"]


@pytest.mark.parametrize(
    ("header", "code"),
    [
        ("团员数", "league_members"),
        ("团员数\n（人）", "league_members"),
        ("团员总数(人)", "league_members"),            # round-1 synonym, ASCII brackets
        (" 团 费 收 缴 率 （%）", "dues_rate"),        # stray spaces
        ("乡镇(街道)数", "townships_total"),           # brackets inside the canonical name kept
        ("县级团委年度工作经费（万元）", "league_funds"),
        ("软弱涣散基层团组织数", "weak_orgs"),
        ("团县委核定编制数（人）", "posts_authorized"),
    ],
)
def test_match_header(header, code):
    assert catalog.match_header(header) == code


def test_unknown_header_is_none():
    assert catalog.match_header("联系电话") is None


def test_normalize_label_folds_full_width():
    assert catalog.normalize_label("ＡＢＣ１２３") == "ABC123"


def test_malformed_catalog_is_reported(tmp_path):
    bad = tmp_path / "indicators.csv"
    text = (catalog.catalog_path()).read_text(encoding="utf-8")
    bad.write_text(text.replace(",vitality,raw,count,", ",vitallity,raw,count,", 1), encoding="utf-8")
    with pytest.raises(catalog.CatalogError, match="vitallity"):
        catalog.load_catalog(bad)
