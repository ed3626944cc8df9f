"""Countries the platform serves, one YAML file each in ``localization/regions/<CC>.yaml``.

A region file says which languages the country's users write in, the language of its review
queue, the minimum age, the legal notes reviewers see, and two raw blocks that other rooms
validate: ``watched_terms`` (moderation.terms) and ``policy`` (moderation.policy, per-country
overrides). Files live outside the code so that operators can add a country or change a rule
without a release (``VIGIL_MODERATION__REGIONS_DIR``), and every change shows up in review as
a diff of one small file.

Schema (every key required unless marked optional)::

    country: ES                      # ISO 3166-1 alpha-2, equal to the file name
    name: Spain
    languages: [es, ca]              # ISO 639-1, most spoken first
    review_language: es              # ISO 639-1: the language of the country's review queue
    minimum_age: 14                  # years
    legal:                           # optional
      - {id: lopdgdd_age_14, description: "..."}
    watched_terms: {}                # optional, raw mapping
    policy: {}                       # optional, raw mapping

``REGIONS`` holds the shipped files, loaded once at import; ``load_regions(directory)`` loads
an operator's directory with the same validation. A malformed file raises
``RegionFileError`` naming the file, the line, the field and what is wrong.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib.resources import files
from pathlib import Path
from types import MappingProxyType
from typing import Any

import yaml

from .countries import is_country
from .errors import RegionFileError
from .languages import is_iso639_1, to_iso639_1

_REQUIRED = ("country", "name", "languages", "review_language", "minimum_age")
_OPTIONAL = ("legal", "watched_terms", "policy")
_MAX_AGE = 21  # higher is a typo (the oldest digital age of consent is 18)
# libyaml's loader when PyYAML was built with it: the shipped files load at import.
_Loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@dataclass(frozen=True)
class Region:
    country: str  # ISO 3166-1 alpha-2
    name: str
    languages: tuple[str, ...]  # ISO 639-1, most spoken first
    review_language: str  # ISO 639-1: the language of the country's review queue
    minimum_age: int
    legal: tuple[str, ...] = ()  # ids of the legal notes, in file order
    # Raw blocks that their rooms validate (moderation.terms, moderation.policy).
    watched_terms: Mapping[str, Any] = field(default_factory=dict, hash=False)
    policy: Mapping[str, Any] = field(default_factory=dict, hash=False)
    legal_notes: Mapping[str, str] = field(default_factory=dict, hash=False)  # id -> description
    source: str | None = field(default=None, compare=False)  # the file it was loaded from


def shipped_regions_dir() -> Path:
    """The regions directory inside the installed package."""
    return Path(str(files("localization").joinpath("regions")))


def _lines(text: str) -> dict[str, int]:
    """Line (1-based) of each top-level key, so that errors point into the file."""
    try:
        node = yaml.compose(text, Loader=_Loader)
    except yaml.YAMLError:
        return {}
    if not isinstance(node, yaml.MappingNode):
        return {}
    return {
        key.value: key.start_mark.line + 1
        for key, _ in node.value
        if isinstance(key, yaml.ScalarNode)
    }


def _language(path: Path, name: str, value: Any, line: int | None) -> str:
    if not isinstance(value, str) or not is_iso639_1(value):
        hint = ""
        if isinstance(value, str):
            try:
                hint = f"; did you mean {to_iso639_1(value)!r}?"
            except ValueError:
                hint = ""
        raise RegionFileError(
            path, name, f"{value!r} is not an ISO 639-1 language code (e.g. 'es'){hint}", line
        )
    return value


def parse_region(path: Path, text: str) -> Region:
    """One region from the text of its file; ``path`` names the file in errors."""
    try:
        data = yaml.load(text, Loader=_Loader)  # noqa: S506 - a safe loader
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise RegionFileError(
            path, None, f"not valid YAML: {getattr(exc, 'problem', None) or exc}",
            mark.line + 1 if mark else None,
        ) from exc  # fmt: skip
    if not isinstance(data, dict):
        raise RegionFileError(path, None, "expected a mapping of fields at the top level")
    lines = _lines(text)
    unknown = sorted(str(k) for k in data if k not in _REQUIRED + _OPTIONAL)
    if unknown:
        raise RegionFileError(
            path,
            unknown[0],
            f"unknown field; allowed: {', '.join(_REQUIRED + _OPTIONAL)}",
            lines.get(unknown[0]),
        )
    for key in _REQUIRED:
        if key not in data or data[key] is None:
            raise RegionFileError(path, key, "missing (required)")

    country = data["country"]
    if not isinstance(country, str) or not is_country(country):
        raise RegionFileError(
            path, "country", f"{country!r} is not an ISO 3166-1 alpha-2 code such as 'ES'",
            lines.get("country"),
        )  # fmt: skip
    if path.suffix in (".yaml", ".yml") and path.stem != country:
        raise RegionFileError(
            path, "country", f"{country!r} does not match the file name (expected {path.stem}.yaml"
            f" to hold {path.stem!r}, or the file to be named {country}.yaml)",
            lines.get("country"),
        )  # fmt: skip

    name = data["name"]
    if not isinstance(name, str) or not name.strip():
        raise RegionFileError(path, "name", "must be a non-empty string", lines.get("name"))

    languages = data["languages"]
    if not isinstance(languages, list) or not languages:
        raise RegionFileError(
            path, "languages", "must be a non-empty list of ISO 639-1 codes, e.g. [es, ca]",
            lines.get("languages"),
        )  # fmt: skip
    codes = tuple(_language(path, "languages", v, lines.get("languages")) for v in languages)
    if len(set(codes)) != len(codes):
        raise RegionFileError(path, "languages", "lists a language twice", lines.get("languages"))
    review = _language(
        path, "review_language", data["review_language"], lines.get("review_language")
    )

    age = data["minimum_age"]
    if isinstance(age, bool) or not isinstance(age, int) or not 0 <= age <= _MAX_AGE:
        raise RegionFileError(
            path, "minimum_age", f"{age!r} is not a whole number of years from 0 to {_MAX_AGE}",
            lines.get("minimum_age"),
        )  # fmt: skip

    legal_raw = data.get("legal") or []
    if not isinstance(legal_raw, list):
        raise RegionFileError(
            path, "legal", "must be a list of {id, description}", lines.get("legal")
        )
    notes: dict[str, str] = {}
    for index, item in enumerate(legal_raw):
        where = f"legal[{index}]"
        if not isinstance(item, dict) or set(item) != {"id", "description"}:
            raise RegionFileError(
                path, where, "must have exactly the keys id and description", lines.get("legal")
            )
        ident, description = item["id"], item["description"]
        if not isinstance(ident, str) or not ident or not ident.replace("_", "").isalnum():
            raise RegionFileError(
                path, f"{where}.id", f"{ident!r} must be a word of letters, digits and _",
                lines.get("legal"),
            )  # fmt: skip
        if ident in notes:
            raise RegionFileError(
                path, f"{where}.id", f"{ident!r} is listed twice", lines.get("legal")
            )
        if not isinstance(description, str) or not description.strip():
            raise RegionFileError(
                path, f"{where}.description", "must be a non-empty string", lines.get("legal")
            )
        notes[ident] = " ".join(description.split())

    raw: dict[str, Mapping[str, Any]] = {}
    for key in ("watched_terms", "policy"):
        value = data.get(key)
        if value is None:
            value = {}
        if not isinstance(value, dict):
            raise RegionFileError(
                path, key, f"must be a mapping ({{}} when empty), not {type(value).__name__}",
                lines.get(key),
            )  # fmt: skip
        raw[key] = MappingProxyType(value)

    return Region(
        country=country,
        name=name.strip(),
        languages=codes,
        review_language=review,
        minimum_age=age,
        legal=tuple(notes),
        watched_terms=raw["watched_terms"],
        policy=raw["policy"],
        legal_notes=MappingProxyType(notes),
        source=str(path),
    )


def load_regions(directory: Path | None = None) -> dict[str, Region]:
    """Every ``<CC>.yaml`` in ``directory`` (default: the shipped ones), keyed by country."""
    folder = Path(directory) if directory is not None else shipped_regions_dir()
    if not folder.is_dir():
        raise RegionFileError(folder, None, "regions directory does not exist")
    paths = sorted([*folder.glob("*.yaml"), *folder.glob("*.yml")])
    if not paths:
        raise RegionFileError(folder, None, "regions directory holds no <CC>.yaml files")
    regions: dict[str, Region] = {}
    for path in paths:
        region = parse_region(path, path.read_text(encoding="utf-8"))
        if region.country in regions:
            raise RegionFileError(
                path,
                "country",
                f"{region.country} is also defined in {regions[region.country].source}",
            )
        regions[region.country] = region
    return regions


def platform_languages(regions: Mapping[str, Region] | None = None) -> tuple[str, ...]:
    """Union of the regions' languages (default: the shipped regions), sorted."""
    source = REGIONS if regions is None else regions
    return tuple(sorted({language for region in source.values() for language in region.languages}))


REGIONS: dict[str, Region] = load_regions()


def get_region(country: str) -> Region | None:
    return REGIONS.get(country.upper())
