"""What the review console decides before it calls a service: which translation a moderator
sees, how a deadline reads, and what the decision form may submit."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from core.errors import InvalidInputError
from dashboards.pages import review_support as support
from localization import Translator


@pytest.fixture
def translator(tmp_path: Path) -> Translator:
    """A translator with no package installed."""
    return Translator(tmp_path / "models", cache_size=8)


def test_the_checks_translation_is_shown_when_it_is_in_the_moderators_language(
    translator: Translator,
) -> None:
    stored = {
        "en": {"text": "you are an idiot", "model": "argos:es_en@1.0", "error": None},
        "fr": {"text": "tu es un idiot", "model": "argos:es_en@1.0+en_fr@1.9", "error": None},
    }
    shown = support.translation_for(
        "eres un idiota", source="es", target="fr", stored=stored, translate=translator.translate
    )
    assert (shown.text, shown.model, shown.origin) == (
        "tu es un idiot",
        "argos:es_en@1.0+en_fr@1.9",
        "check",
    )
    # The one-object form some checks carry.
    single = {"target": "en", "text": "you are an idiot", "model": "argos:es_en@1.0"}
    shown = support.translation_for(
        "eres un idiota", source="es", target="en", stored=single, translate=translator.translate
    )
    assert (shown.text, shown.origin) == ("you are an idiot", "check")


def test_other_languages_are_translated_on_demand_and_a_missing_package_is_named(
    translator: Translator,
) -> None:
    # The check translated into English only; this moderator reads German.
    stored = {"en": {"text": "you are an idiot", "model": "argos:es_en@1.0", "error": None}}
    shown = support.translation_for(
        "eres un idiota", source="es", target="de", stored=stored, translate=translator.translate
    )
    assert shown.origin == "on demand"
    assert shown.text is None
    assert shown.error is not None
    assert "no translation model for es->de" in shown.error
    assert "vigil models install translate-es_de" in shown.error

    # A stored failure is retried: a package may have been installed since.
    failed = {"de": {"text": None, "model": None, "error": "no translation model for es->de"}}
    calls: list[tuple[str, str, str]] = []

    def translate(text: str, source: str, target: str) -> object:
        calls.append((text, source, target))
        return translator.translate(text, source, target)

    support.translation_for(
        "eres un idiota", source="es", target="de", stored=failed, translate=translate
    )
    assert calls == [("eres un idiota", "es", "de")]


def test_nothing_is_passed_off_as_a_translation(translator: Translator) -> None:
    same = support.translation_for(
        "you idiot", source="en", target="en", stored=None, translate=translator.translate
    )
    assert (same.text, same.origin) == ("you idiot", "same language")
    unknown = support.translation_for(
        "ok", source="und", target="en", stored=None, translate=translator.translate
    )
    assert unknown.text is None
    assert unknown.error == "language undetermined; nothing to translate from"
    missing = support.translation_for(
        "hola", source=None, target="en", stored=None, translate=translator.translate
    )
    assert missing.text is None


def test_deadlines_read_as_a_countdown() -> None:
    now = dt.datetime(2026, 5, 1, 12, 0, tzinfo=dt.UTC)
    assert support.countdown(now + dt.timedelta(hours=3, minutes=5), now) == (
        "due in 3 h 05 min",
        False,
    )
    assert support.countdown(now - dt.timedelta(minutes=25), now) == ("overdue by 25 min", True)
    assert support.countdown(now + dt.timedelta(days=2, hours=1), now) == ("due in 2 d 1 h", False)
    assert support.duration(40) == "40 s"


def test_the_decision_form_needs_an_action_a_reason_and_countries_for_a_block() -> None:
    with pytest.raises(InvalidInputError) as refused:
        support.parse_decision(None, [], "hate", "")
    assert refused.value.details["field"] == "action"
    with pytest.raises(InvalidInputError) as refused:
        support.parse_decision("remove", [], None, "")
    assert refused.value.details["field"] == "reason"
    with pytest.raises(InvalidInputError) as refused:
        support.parse_decision("block", [], "hate", "")
    assert refused.value.details["field"] == "countries"

    assert support.parse_decision("block", ["DE", "AT"], "hate", " seen ") == (
        "block",
        ("DE", "AT"),
        "hate",
        "seen",
    )
    # Countries picked before switching to a removal do not narrow it.
    assert support.parse_decision("remove", ["DE"], "hate", "") == ("remove", ("*",), "hate", "")
    assert support.parse_decision("age_restrict", [], "nudity", "")[1] == ("*",)
