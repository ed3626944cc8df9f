"""Countries the platform serves: their languages, review language and minimum age."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Region:
    country: str  # ISO 3166-1 alpha-2
    name: str
    languages: tuple[str, ...]  # ISO 639-1, most spoken first
    review_language: str
    minimum_age: int


REGIONS: dict[str, Region] = {
    r.country: r
    for r in (
        Region("US", "United States", ("en", "es"), "en", 13),
        Region("GB", "United Kingdom", ("en",), "en", 13),
        Region("ES", "Spain", ("es", "ca"), "es", 14),
        Region("MX", "Mexico", ("es",), "es", 13),
        Region("BR", "Brazil", ("pt",), "pt", 13),
        Region("DE", "Germany", ("de",), "de", 16),
        Region("FR", "France", ("fr",), "fr", 15),
        Region("IN", "India", ("hi", "en"), "en", 13),
        Region("ID", "Indonesia", ("id",), "en", 13),
        Region("JP", "Japan", ("ja",), "ja", 13),
        Region("TR", "Turkey", ("tr",), "en", 13),
        Region("EG", "Egypt", ("ar",), "ar", 13),
    )
}


def get_region(country: str) -> Region | None:
    return REGIONS.get(country.upper())
