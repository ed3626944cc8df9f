"""Regions from YAML: the shipped countries, validation errors that point at the problem."""

from __future__ import annotations

import shutil
from collections.abc import Mapping
from pathlib import Path

import pytest

from localization import REGIONS, RegionFileError, get_region, load_regions, platform_languages
from localization.regions import shipped_regions_dir

# The table the YAML files replaced: every country and value must survive the move.
BEFORE = {
    "US": ("United States", ("en", "es"), "en", 13),
    "GB": ("United Kingdom", ("en",), "en", 13),
    "ES": ("Spain", ("es", "ca"), "es", 14),
    "MX": ("Mexico", ("es",), "es", 13),
    "BR": ("Brazil", ("pt",), "pt", 13),
    "DE": ("Germany", ("de",), "de", 16),
    "FR": ("France", ("fr",), "fr", 15),
    "IN": ("India", ("hi", "en"), "en", 13),
    "ID": ("Indonesia", ("id",), "en", 13),
    "JP": ("Japan", ("ja",), "ja", 13),
    "TR": ("Turkey", ("tr",), "en", 13),
    "EG": ("Egypt", ("ar",), "ar", 13),
}

VALID = """\
country: PT
name: Portugal
languages: [pt]
review_language: pt
minimum_age: 13
legal:
  - id: dsa
    description: EU Digital Services Act.
"""


def test_shipped_regions_keep_every_country_and_value() -> None:
    assert set(REGIONS) == set(BEFORE)
    for country, (name, languages, review, age) in BEFORE.items():
        region = REGIONS[country]
        assert (region.name, region.languages, region.review_language, region.minimum_age) == (
            name,
            languages,
            review,
            age,
        )
        assert isinstance(region.policy, Mapping)  # raw; validated by moderation.policy
        assert region.legal, f"{country} has no legal notes"
        assert set(region.legal) == set(region.legal_notes)
    assert get_region("es") is REGIONS["ES"]
    assert get_region("XX") is None


def test_germany_carries_an_illustrative_watched_term_list() -> None:
    lists = REGIONS["DE"].watched_terms
    assert lists["extremist_symbols"]["terms"]
    assert lists["extremist_symbols"]["regexes"]


def test_spain_reviews_in_spanish_and_says_how_english_moderators_read_it() -> None:
    spain = REGIONS["ES"]
    assert spain.review_language == "es"
    text = (shipped_regions_dir() / "ES.yaml").read_text(encoding="utf-8")
    assert "users.review_language" in text
    assert "es->en" in text


def test_platform_languages_is_the_union_of_the_regions() -> None:
    assert platform_languages() == (
        "ar",
        "ca",
        "de",
        "en",
        "es",
        "fr",
        "hi",
        "id",
        "ja",
        "pt",
        "tr",
    )
    assert platform_languages({"MX": REGIONS["MX"], "IN": REGIONS["IN"]}) == ("en", "es", "hi")


def test_an_operator_directory_loads_with_the_same_rules(tmp_path: Path) -> None:
    (tmp_path / "PT.yaml").write_text(VALID, encoding="utf-8")
    shutil.copy(shipped_regions_dir() / "ES.yaml", tmp_path / "ES.yaml")
    regions = load_regions(tmp_path)
    assert sorted(regions) == ["ES", "PT"]
    assert regions["PT"].legal_notes == {"dsa": "EU Digital Services Act."}
    assert regions["PT"].source == str(tmp_path / "PT.yaml")


@pytest.mark.parametrize(
    ("change", "field", "problem"),
    [
        (("languages: [pt]", "languages: [por]"), "languages", "did you mean 'pt'"),
        (("languages: [pt]", "languages: []"), "languages", "non-empty list"),
        (("review_language: pt", "review_language: Portuguese"), "review_language", "ISO 639-1"),
        (("minimum_age: 13", "minimum_age: thirteen"), "minimum_age", "whole number"),
        (("minimum_age: 13", "minimum_age: 130"), "minimum_age", "from 0 to 21"),
        (("country: PT", "country: XX"), "country", "ISO 3166-1"),
        (("country: PT", "country: ES"), "country", "does not match the file name"),
        (("name: Portugal\n", "name: Portugal\nlanguage: [pt]\n"), "language", "unknown field"),
        (("name: Portugal\n", ""), "name", "missing"),
        (("    description: EU Digital Services Act.\n", ""), "legal[0]", "id and description"),
    ],
)
def test_a_malformed_file_names_file_field_and_problem(
    tmp_path: Path, change: tuple[str, str], field: str, problem: str
) -> None:
    path = tmp_path / "PT.yaml"
    path.write_text(VALID.replace(*change), encoding="utf-8")
    with pytest.raises(RegionFileError) as caught:
        load_regions(tmp_path)
    message = caught.value.message
    assert str(path) in message
    assert f"field {field!r}" in message
    assert problem in message
    assert caught.value.details["file"] == str(path)


def test_errors_point_at_the_line(tmp_path: Path) -> None:
    path = tmp_path / "PT.yaml"
    path.write_text(VALID.replace("minimum_age: 13", "minimum_age: -1"), encoding="utf-8")
    with pytest.raises(RegionFileError, match=r"PT\.yaml:5: field 'minimum_age'"):
        load_regions(tmp_path)
    path.write_text("country: PT\nname: [unclosed\n", encoding="utf-8")
    with pytest.raises(RegionFileError, match=r"PT\.yaml:\d+: not valid YAML"):
        load_regions(tmp_path)


def test_a_watched_terms_block_must_be_a_mapping(tmp_path: Path) -> None:
    (tmp_path / "PT.yaml").write_text(VALID + "watched_terms: [a, b]\n", encoding="utf-8")
    with pytest.raises(RegionFileError, match="field 'watched_terms': must be a mapping"):
        load_regions(tmp_path)


def test_an_empty_or_missing_directory_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(RegionFileError, match=r"no <CC>\.yaml files"):
        load_regions(tmp_path)
    with pytest.raises(RegionFileError, match="does not exist"):
        load_regions(tmp_path / "nope")
