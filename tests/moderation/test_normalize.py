"""Normalization against evasion: variants fold to the plain word, legitimate text stays."""

# ruff: noqa: RUF001, RUF003  (look-alike letters are what these tests are about)
from __future__ import annotations

import pytest

from moderation.normalize import normalize


@pytest.mark.parametrize(
    ("text", "expected", "change"),
    [
        ("1d10t", "idiot", "leet"),
        ("sh1t b!tch a$$ $hit", "shit bitch ass shit", "leet"),
        ("i d i o t", "idiot", "spacing"),
        ("i.d.i.o.t", "idiot", "spacing"),
        ("i-d-i-o-t", "idiot", "spacing"),
        ("f*u*c*k", "fuck", "spacing"),
        ("i d 1 o t", "idiot", "leet"),
        ("idiooooot", "idioot", "repeats"),
        ("іdіоt", "idiot", "homoglyphs"),  # Cyrillic і and о
        ("idiοt", "idiot", "homoglyphs"),  # Greek omicron
        ("ｉｄｉｏｔ", "idiot", "homoglyphs"),  # full width
        ("𝐢𝐝𝐢𝐨𝐭", "idiot", "homoglyphs"),  # mathematical bold
        ("i\u200bd\u200bi\u200bo\u200bt", "idiot", "homoglyphs"),  # zero-width spaces
        ("i\u0336d\u0336i\u0336o\u0336t\u0336", "idiot", "homoglyphs"),  # strike-through marks
        ("IDIOT", "idiot", None),
    ],
)
def test_evasive_spellings_fold_to_the_plain_word(
    text: str, expected: str, change: str | None
) -> None:
    result = normalize(text)
    assert result.text == expected
    assert result.original == text
    if change is not None:
        assert change in result.changes


@pytest.mark.parametrize(
    "text",
    [
        "2024 was great, 5 stars",
        "mp3 4k 10am 3rd 90s covid-19 h264 ps5",
        "@user1 paid $5 for it!!!",
        "good cool see coffee",
        "e.g. i.e. a.m.",
        "u r a star",
    ],
)
def test_legitimate_digits_symbols_and_doubles_stay(text: str) -> None:
    result = normalize(text)
    assert result.text == text.casefold()
    assert result.changes == ()


@pytest.mark.parametrize(
    "text",
    [
        "añejo, señor, corazón, pingüino",  # Spanish
        "schön, Mädchen, Größe",  # German (ß casefolds to ss, the umlauts stay)
        "não, coração, você, pão",  # Portuguese
        "français, élève, où, naïve, cœur",  # French
        "Привет, как дела? Это отличное видео",  # Russian
        "مرحبا كيف حالك؟ فيديو رائع",  # Arabic
        "这个视频太好了",  # Chinese
        "この動画は最高です",  # Japanese
        "नमस्ते दुनिया",  # Hindi: vowel signs are combining marks and must stay
        "Καλημέρα κόσμε",  # Greek
    ],
)
def test_other_languages_keep_their_letters_and_accents(text: str) -> None:
    result = normalize(text)
    assert result.text == text.casefold()
    assert "homoglyphs" not in result.changes


def test_decomposed_accents_compose_rather_than_vanish() -> None:
    assert normalize("cafe\u0301").text == "café"
    assert "homoglyphs" not in normalize("cafe\u0301").changes


def test_cyrillic_look_alikes_fold_only_inside_latin_text() -> None:
    assert normalize("орех").text == "орех"  # a Russian word made of look-alikes stays
    assert normalize("you are an іdіоt").text == "you are an idiot"
    # a word of look-alikes only, inside an otherwise Latin sentence, is disguised Latin
    assert normalize("what a сос").text == "what a coc"


def test_the_classifier_view_collapses_elongation_to_one_letter() -> None:
    assert normalize("you idiooooot, fuuuuck").text == "you idioot, fuuck"
    assert normalize("you idiooooot, fuuuuck", max_repeats=1).text == "you idiot, fuck"
    assert normalize("good coffee", max_repeats=1).text == "good coffee"  # doubles stay
