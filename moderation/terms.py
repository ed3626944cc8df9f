"""Watched-term lists: words, phrases and regexes per region (plus a global list), matched on
normalized text so that evasive spellings hit and innocent words that contain a term do not.

Schema of a region file's ``watched_terms`` block (localization/regions/<CC>.yaml) and of the
global list (moderation/data/watched-terms.yaml)::

    watched_terms:
      <list name>:                  # a name the policy refers to, e.g. self_harm_encouragement
        words: [idiot, "scum*"]     # whole words; a trailing * matches any ending
        phrases: [kill yourself]    # words in this order, any spaces/punctuation (or none) between
        terms: [sieg heil, kys]     # either: an entry with a space is a phrase, else a word
        regexes: ['\\bk+y+s+\\b']  # Python regexes, case-insensitive, on the normalized text
        description: "..."          # optional, for people
        legal: stgb_86a             # optional: the region's legal note(s) the list serves

How variants hit: the text is normalized first (moderation.normalize folds leetspeak, repeated
letters, inserted spaces and symbols, homoglyphs) and so is every word and phrase of a list, then
each letter of a word matches a run of itself (``idioot``), ``l`` also matches ``i`` (the ``1`` of
``k1ll`` folds to ``i``), and any letter but the first may be masked with ``*`` (``f*ck``,
``f****t``). Words only match whole words: ``cunt`` does not hit "Scunthorpe", ``ass`` does not
hit "class". Regexes are the list author's responsibility: they see the normalized text.

Each region's words and phrases are compiled into one regex that rejects a clean text in one
scan; only a text that hits is scanned list by list to say which lists and terms it hit.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from importlib import resources
from typing import Any

from .errors import WatchedTermsError
from .normalize import NormalizedText, normalize

__all__ = ["GLOBAL", "TermHit", "WatchedTerms", "load_global_terms"]

#: ``TermHit.region`` of a hit from the global list.
GLOBAL = "*"

_KEYS = ("words", "phrases", "terms", "regexes")
_OPTIONAL_KEYS = ("description", "legal")
_LIST_NAME = re.compile(r"[a-z][a-z0-9_]{0,63}")


@dataclass(frozen=True)
class TermHit:
    list_name: str
    term: str  # as written in the list
    region: str  # country code, or "*" for the global list
    start: int  # span in the normalized text
    end: int


@dataclass(frozen=True)
class _TermList:
    name: str
    region: str
    pattern: re.Pattern[str] | None  # words and phrases, one named group per term
    terms: tuple[str, ...]  # group index -> term as written
    regexes: tuple[tuple[str, re.Pattern[str]], ...]

    def match(self, text: str) -> list[TermHit]:
        hits: list[TermHit] = []
        if self.pattern is not None:
            for m in self.pattern.finditer(text):
                term = self.terms[int(m.lastgroup[1:])]  # type: ignore[index]
                hits.append(TermHit(self.name, term, self.region, m.start(), m.end()))
        for source, regex in self.regexes:
            for m in regex.finditer(text):
                if m.end() > m.start():
                    hits.append(TermHit(self.name, source, self.region, m.start(), m.end()))
        return hits


@dataclass(frozen=True)
class _RegionTerms:
    prefilter: re.Pattern[str] | None  # any word or phrase of any list
    lists: tuple[_TermList, ...]
    has_regexes: bool

    def match(self, text: str) -> list[TermHit]:
        if not self.has_regexes and (self.prefilter is None or not self.prefilter.search(text)):
            return []
        hits: list[TermHit] = []
        for term_list in self.lists:
            hits.extend(term_list.match(text))
        return hits


class WatchedTerms:
    """Compiled watched-term lists: the global ones and each region's."""

    def __init__(self, compiled: Mapping[str, _RegionTerms]) -> None:
        self._compiled = dict(compiled)

    @classmethod
    def from_regions(
        cls,
        regions: Mapping[str, Any],
        *,
        global_terms: Mapping[str, Any] | None = None,
    ) -> WatchedTerms:
        """Compile every region's ``watched_terms`` and the global lists (default: the shipped
        moderation/data/watched-terms.yaml); raises WatchedTermsError on a malformed entry."""
        compiled: dict[str, _RegionTerms] = {}
        shipped = global_terms if global_terms is not None else load_global_terms()
        compiled[GLOBAL] = _compile_region(GLOBAL, shipped, "moderation/data/watched-terms.yaml")
        for code, region in regions.items():
            block = getattr(region, "watched_terms", None) or {}
            source = getattr(region, "source", None) or f"region {code}"
            legal = getattr(region, "legal", None)
            compiled[code.upper()] = _compile_region(
                code.upper(), block, str(source), tuple(legal) if legal is not None else None
            )
        return cls(compiled)

    @property
    def regions(self) -> tuple[str, ...]:
        return tuple(code for code in self._compiled if code != GLOBAL)

    def lists(self, region: str | None = None) -> tuple[str, ...]:
        """Names of the lists that apply to ``region`` (the global ones first)."""
        names = [t.name for t in self._compiled[GLOBAL].lists]
        if region is not None and region.upper() in self._compiled:
            names += [t.name for t in self._compiled[region.upper()].lists]
        return tuple(dict.fromkeys(names))

    def match(self, text: NormalizedText | str, region: str | None) -> list[TermHit]:
        """Hits of the global lists and of ``region``'s lists, in text order."""
        normalized = text.text if isinstance(text, NormalizedText) else normalize(text).text
        hits = self._compiled[GLOBAL].match(normalized)
        if region is not None:
            regional = self._compiled.get(region.upper())
            if regional is not None:
                hits += regional.match(normalized)
        hits.sort(key=lambda h: (h.start, -h.end, h.region, h.list_name))
        return hits


def load_global_terms() -> dict[str, Any]:
    """The shipped global lists (moderation/data/watched-terms.yaml)."""
    import yaml

    path = resources.files("moderation") / "data" / "watched-terms.yaml"
    document = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    return dict(document.get("watched_terms") or {})


def _fail(source: str, where: str, problem: str, **details: Any) -> WatchedTermsError:
    return WatchedTermsError(
        f"{source}: watched_terms{where}: {problem}",
        details={"source": source, "field": f"watched_terms{where}", **details},
    )


def _compile_region(
    region: str, block: Any, source: str, legal_ids: tuple[str, ...] | None = None
) -> _RegionTerms:
    if not isinstance(block, Mapping):
        raise _fail(source, "", f"expected a mapping of list names, got {type(block).__name__}")
    lists: list[_TermList] = []
    all_alternatives: list[str] = []
    for name, spec in block.items():
        if not isinstance(name, str) or not _LIST_NAME.fullmatch(name):
            raise _fail(
                source,
                f".{name}",
                "list names are lower-case letters, digits and _ (at most 64), starting with "
                "a letter",
                list=str(name),
            )
        term_list, alternatives = _compile_list(region, name, spec, source, legal_ids)
        lists.append(term_list)
        all_alternatives.extend(alternatives)
    prefilter = (
        re.compile(_BEFORE + "(?:" + "|".join(all_alternatives) + ")" + _AFTER)
        if all_alternatives
        else None
    )
    return _RegionTerms(prefilter, tuple(lists), any(t.regexes for t in lists))


def _check_legal(value: Any, legal_ids: tuple[str, ...] | None, source: str, name: str) -> None:
    if value is None:
        return
    ids = [value] if isinstance(value, str) else value
    if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
        raise _fail(
            source, f".{name}.legal", "expected a legal note id or a list of them", list=name
        )
    if legal_ids is None:
        return
    for legal_id in ids:
        if legal_id not in legal_ids:
            raise _fail(
                source,
                f".{name}.legal",
                f"{legal_id!r} is not one of the region's legal notes "
                f"({', '.join(legal_ids) or 'none'})",
                list=name,
            )


def _compile_list(
    region: str, name: str, spec: Any, source: str, legal_ids: tuple[str, ...] | None = None
) -> tuple[_TermList, list[str]]:
    if not isinstance(spec, Mapping):
        raise _fail(
            source, f".{name}", "expected a mapping with words, phrases and/or regexes", list=name
        )
    unknown = [k for k in spec if k not in _KEYS and k not in _OPTIONAL_KEYS]
    if unknown:
        raise _fail(
            source,
            f".{name}",
            f"unknown key {unknown[0]!r}; allowed: words, phrases, terms, regexes, "
            "description, legal",
            list=name,
        )
    if not any(spec.get(k) for k in _KEYS):
        raise _fail(source, f".{name}", "has no words, phrases, terms or regexes", list=name)
    _check_legal(spec.get("legal"), legal_ids, source, name)
    terms: list[str] = []
    alternatives: list[str] = []
    for key in ("phrases", "words", "terms"):
        for index, term in enumerate(_strings(spec.get(key), source, name, key)):
            phrase = key == "phrases" or (key == "terms" and len(term.split()) > 1)
            pattern = _term_pattern(term, phrase=phrase)
            if pattern is None:
                raise _fail(
                    source,
                    f".{name}.{key}[{index}]",
                    f"{term!r} has no letters or digits left after normalization",
                    list=name,
                    term=term,
                )
            alternatives.append(pattern)
            terms.append(term)
    # Longest first, so "kill yourself" wins over "kill" at the same position.
    order = sorted(range(len(terms)), key=lambda i: -len(terms[i]))
    grouped = "|".join(f"(?P<t{i}>{alternatives[i]})" for i in order)
    combined = re.compile(_BEFORE + "(?:" + grouped + ")" + _AFTER) if terms else None
    regexes: list[tuple[str, re.Pattern[str]]] = []
    for index, source_regex in enumerate(_strings(spec.get("regexes"), source, name, "regexes")):
        try:
            compiled = re.compile(source_regex, re.IGNORECASE)
        except re.error as exc:
            raise _fail(
                source,
                f".{name}.regexes[{index}]",
                f"{source_regex!r} is not a valid regex: {exc.msg}"
                + (f" at position {exc.pos}" if exc.pos is not None else ""),
                list=name,
                pattern=source_regex,
            ) from exc
        if compiled.search("") is not None:
            raise _fail(
                source,
                f".{name}.regexes[{index}]",
                f"{source_regex!r} matches the empty text, so it would hit every text",
                list=name,
                pattern=source_regex,
            )
        regexes.append((source_regex, compiled))
    return _TermList(name, region, combined, tuple(terms), tuple(regexes)), alternatives


def _strings(values: Any, source: str, name: str, key: str) -> Iterable[str]:
    if values is None:
        return []
    if not isinstance(values, list):
        raise _fail(source, f".{name}.{key}", "expected a list of strings", list=name)
    for index, value in enumerate(values):
        if not isinstance(value, str) or not value.strip():
            raise _fail(
                source,
                f".{name}.{key}[{index}]",
                f"expected a non-empty string, got {value!r}",
                list=name,
            )
    return values


_BEFORE = r"(?<![\w*])"
_AFTER = r"(?![\w*])"


def _term_pattern(term: str, *, phrase: bool) -> str | None:
    """The regex of one word or phrase, tolerant of repeats, l/i and masking with *."""
    prefix = term.rstrip().endswith("*") and not phrase
    body = normalize(term.rstrip().rstrip("*") if prefix else term).text
    words = re.findall(r"[^\W_]+", body)
    if not words:
        return None
    parts = [_word_pattern(word) for word in words]
    pattern = r"[\W_]*".join(parts)
    return pattern + (r"[\w*]*" if prefix else "")


def _word_pattern(word: str) -> str:
    # A letter's pattern matches a run of it, so a doubled letter is one position ("faggot" also
    # hits "fagot" and "f****t").
    word = re.sub(r"(.)\1+", r"\1", word)
    out = []
    for position, char in enumerate(word):
        letter = "[li]+" if char == "l" else re.escape(char) + "+"
        out.append(letter if position == 0 or not char.isalpha() else f"(?:{letter}|\\*+)")
    return "".join(out)
