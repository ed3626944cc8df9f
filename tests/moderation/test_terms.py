"""Watched-term lists: variants hit, innocent words do not, bad lists fail with a clear message."""

# ruff: noqa: RUF001, RUF003  (look-alike letters are what these tests are about)
from __future__ import annotations

from dataclasses import replace

import pytest

from localization import REGIONS, Region
from moderation.errors import WatchedTermsError
from moderation.normalize import normalize
from moderation.terms import GLOBAL, WatchedTerms


def _region(country: str, watched_terms: dict, legal: tuple[str, ...] = ()) -> Region:
    return replace(REGIONS["ES"], country=country, watched_terms=watched_terms, legal=legal)


@pytest.fixture
def terms() -> WatchedTerms:
    regions = {
        "ES": _region(
            "ES",
            {
                "insults": {"words": ["idiota", "gilipollas"], "phrases": ["hijo de puta"]},
                "scams": {"regexes": [r"whats?app\W*\+?\d{6,}"]},
            },
        ),
        "GB": _region("GB", {"slurs": {"words": ["cunt", "faggot", "ass", "scum*"]}}),
    }
    return WatchedTerms.from_regions(
        regions,
        global_terms={"self_harm": {"phrases": ["kill yourself"], "terms": ["kys", "go die"]}},
    )


def _hits(terms: WatchedTerms, text: str, region: str | None) -> list[tuple[str, str]]:
    return [(h.list_name, h.term) for h in terms.match(normalize(text), region)]


@pytest.mark.parametrize(
    "text",
    [
        "kill yourself",
        "k1ll y0urself",
        "KILL YOURSELF",
        "kill... yourself",
        "#killyourself",
        "k i l l yourself",
        "kiiiill yourself",
        "kіll yоurself",  # Cyrillic і, о
    ],
)
def test_variants_of_a_global_phrase_hit_in_every_region(terms: WatchedTerms, text: str) -> None:
    for region in (None, "ES", "GB", "BR"):
        assert _hits(terms, text, region) == [("self_harm", "kill yourself")]


@pytest.mark.parametrize(
    ("text", "term"),
    [
        ("you f****t", "faggot"),
        ("you fagggggot", "faggot"),
        ("what a c*nt", "cunt"),
        ("kiss my a$$", "ass"),
        ("scumbags, all of them", "scum*"),
    ],
)
def test_region_words_hit_their_variants(terms: WatchedTerms, text: str, term: str) -> None:
    assert _hits(terms, text, "GB") == [("slurs", term)]


@pytest.mark.parametrize(
    "text", ["Scunthorpe United won", "a first class seat", "assassin's creed", "scuba diving"]
)
def test_innocent_words_that_contain_a_term_do_not_hit(terms: WatchedTerms, text: str) -> None:
    assert _hits(terms, text, "GB") == []


def test_a_region_sees_the_global_lists_and_its_own_only(terms: WatchedTerms) -> None:
    text = "eres un idiota, kys"
    assert _hits(terms, text, "ES") == [("insults", "idiota"), ("self_harm", "kys")]
    assert _hits(terms, text, "GB") == [("self_harm", "kys")]
    assert _hits(terms, text, None) == [("self_harm", "kys")]
    assert terms.lists("ES") == ("self_harm", "insults", "scams")


def test_hits_carry_the_span_in_the_normalized_text_and_the_region(terms: WatchedTerms) -> None:
    normalized = normalize("Eres un 1d10ta. Escríbeme al whatsapp +34600111222")
    hits = terms.match(normalized, "ES")
    assert [(h.list_name, h.region) for h in hits] == [("insults", "ES"), ("scams", "ES")]
    first = hits[0]
    assert normalized.text[first.start : first.end] == "idiota"
    global_hit = terms.match(normalize("go die"), "ES")[0]
    assert global_hit.region == GLOBAL


def test_the_shipped_regions_and_global_lists_compile() -> None:
    terms = WatchedTerms.from_regions(REGIONS)
    assert ("self_harm_encouragement", "kill yourself") in _hits(terms, "kill yourself", "US")
    assert terms.match(normalize("what a lovely video"), "DE") == []


@pytest.mark.parametrize(
    ("block", "message"),
    [
        ({"scams": {"regexes": ["whats(app"]}}, "watched_terms.scams.regexes[0]: 'whats(app'"),
        ({"scams": {"regexes": ["a|"]}}, "matches the empty text"),
        ({"scams": {"word": ["x"]}}, "unknown key 'word'"),
        ({"scams": {"words": "idiota"}}, "watched_terms.scams.words: expected a list of strings"),
        ({"scams": {"words": ["ok", ""]}}, "watched_terms.scams.words[1]"),
        ({"Bad Name": {"words": ["x"]}}, "list names are lower-case"),
        ({"scams": {}}, "has no words, phrases, terms or regexes"),
        ({"scams": {"words": ["x"], "legal": "nope"}}, "'nope' is not one of the region's"),
        (["idiota"], "expected a mapping of list names"),
    ],
)
def test_a_malformed_list_names_the_file_the_list_and_the_problem(
    block: object, message: str
) -> None:
    region = replace(_region("ES", {}), watched_terms=block, source="regions/ES.yaml")  # type: ignore[arg-type]
    with pytest.raises(WatchedTermsError) as caught:
        WatchedTerms.from_regions({"ES": region}, global_terms={})
    assert caught.value.message.startswith("regions/ES.yaml: watched_terms")
    assert message in caught.value.message
