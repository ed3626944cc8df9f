"""ISO 3166-1 alpha-2 country codes and their English names, from the IANA tz database's table.

The table ships inside the ``tzdata`` wheel, so the list is complete and current without a
download (249 codes in tzdata 2025).
"""

from __future__ import annotations

from functools import cache
from importlib.resources import files


@cache
def country_names() -> dict[str, str]:
    """``{"ES": "Spain", ...}`` for every ISO 3166-1 alpha-2 code."""
    table = files("tzdata").joinpath("zoneinfo/iso3166.tab").read_text(encoding="utf-8")
    names: dict[str, str] = {}
    for line in table.splitlines():
        if line and not line.startswith("#"):
            code, name = line.split("\t", 1)
            names[code] = name.strip()
    return names


@cache
def country_codes() -> frozenset[str]:
    """Every ISO 3166-1 alpha-2 code, upper case."""
    return frozenset(country_names())


def is_country(code: str) -> bool:
    return code in country_codes()
