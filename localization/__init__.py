"""Languages and regions: language identification, translation, country rules, UI strings.

Today it owns the region table: each country's languages and review language.
"""

from __future__ import annotations

from .countries import country_codes, country_names, is_country
from .regions import REGIONS, Region, get_region

__all__ = ["REGIONS", "Region", "country_codes", "country_names", "get_region", "is_country"]
