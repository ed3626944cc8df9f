"""Language ID: every detector names the language of clear text, answers "und" for text that
is too short, mixed or in a language outside the list, and the default picks itself."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.errors import InvalidInputError
from core.settings import load_settings
from localization import UNDETERMINED, DetectionRules, ModelMissingError, open_detector
from localization.langid import (
    FETCH_COMMAND,
    LanguageDetector,
    fasttext_model_path,
    install_langid_model,
)
from localization.regions import platform_languages

CLEAR = {
    "es": "Eres una persona muy amable y siempre me ayudas con los deberes.",
    "de": "Das ist das beste Video, das ich heute gesehen habe.",
    "ja": "この動画は本当に面白かったです。ありがとう！",  # noqa: RUF001
    "pt": "Obrigado pelo vídeo, eu adorei a música do final.",
    "tr": "Bu videoyu çok beğendim, lütfen daha fazlasını paylaş.",  # noqa: RUF001
    "ar": "شكرا على هذا الفيديو الرائع، لقد أعجبني كثيرا",
}
ALL_DETECTORS = ("fasttext", "lingua", "langdetect", "hybrid")


@pytest.fixture(scope="module")
def detectors(lid_models_dir: Path) -> dict[str, LanguageDetector]:
    settings = load_settings(models_dir=lid_models_dir)
    return {name: open_detector(settings, name=name) for name in ALL_DETECTORS}


@pytest.mark.parametrize("name", ALL_DETECTORS)
def test_clear_text_gets_its_language_with_the_detector_named(
    detectors: dict[str, LanguageDetector], name: str
) -> None:
    detector = detectors[name]
    assert detector.languages == platform_languages()
    guesses = detector.detect_many(list(CLEAR.values()))
    assert [g.language for g in guesses] == list(CLEAR)
    for guess in guesses:
        assert 0.5 <= guess.confidence <= 1
        assert guess.candidates[0][0] == guess.language
        assert "@" in guess.detector
    assert detector.detect(CLEAR["de"]) == guesses[1]


@pytest.mark.parametrize("name", ALL_DETECTORS)
@pytest.mark.parametrize("text", ["ok", "😂😂😂", "lol!", "https://example.com/watch?v=1 @ana"])
def test_too_few_letters_is_undetermined(
    detectors: dict[str, LanguageDetector], name: str, text: str
) -> None:
    guess = detectors[name].detect(text)
    assert (guess.language, guess.reason) == (UNDETERMINED, "too_short")


@pytest.mark.parametrize("name", ["fasttext", "hybrid"])
def test_text_in_a_language_outside_the_list_is_undetermined_not_forced(
    detectors: dict[str, LanguageDetector], name: str
) -> None:
    for text in ("Я очень люблю это видео, спасибо автору!", "Dit is echt een geweldige video."):
        guess = detectors[name].detect(text)
        assert guess.language == UNDETERMINED, guess
        assert guess.reason == "other_language"


@pytest.mark.parametrize("name", ["fasttext", "lingua", "hybrid"])
def test_mixed_language_text_is_undetermined(
    detectors: dict[str, LanguageDetector], name: str
) -> None:
    guess = detectors[name].detect("ok danke merci")
    assert guess.language == UNDETERMINED
    assert guess.reason in ("low_confidence", "mixed")


def test_close_top_two_is_mixed(lid_models_dir: Path) -> None:
    settings = load_settings(models_dir=lid_models_dir)
    margin_only = DetectionRules(min_letters=4, min_confidence=0.0, min_margin=0.1)
    detector = open_detector(settings, name="fasttext", rules=margin_only)
    guess = detector.detect("ok danke merci")  # German 0.42, English 0.36
    assert (guess.language, guess.reason) == (UNDETERMINED, "mixed")
    assert [lang for lang, _ in guess.candidates[:2]] == ["de", "en"]
    no_rules = DetectionRules(min_letters=0, min_confidence=0.0, min_margin=0.0)
    assert (
        open_detector(settings, name="fasttext", rules=no_rules).detect("ok danke merci").language
        == "de"
    )


def test_restriction_removes_languages_the_platform_does_not_serve(lid_models_dir: Path) -> None:
    settings = load_settings(models_dir=lid_models_dir)
    galician_like = "Bo día a todos, grazas polo vídeo"
    only_es = open_detector(settings, name="fasttext", languages=["es", "en", "pt"])
    assert only_es.detect(galician_like).language in ("es", "pt")
    everything = open_detector(settings, name="fasttext", languages=("*",))
    assert everything.languages == ()
    assert everything.detect(galician_like).language == "gl"


def test_languages_come_from_settings_then_regions(lid_models_dir: Path, tmp_path: Path) -> None:
    settings = load_settings(models_dir=lid_models_dir, localization={"languages": ["spa", "de"]})
    assert open_detector(settings, name="fasttext").languages == ("de", "es")
    regions = tmp_path / "regions"
    regions.mkdir()
    (regions / "PT.yaml").write_text(
        "country: PT\nname: Portugal\nlanguages: [pt]\nreview_language: pt\nminimum_age: 13\n"
    )
    settings = load_settings(models_dir=lid_models_dir, moderation={"regions_dir": str(regions)})
    assert open_detector(settings, name="lingua").languages == ("pt",)


def test_auto_is_hybrid_with_the_fasttext_model_and_lingua_without(
    lid_models_dir: Path, tmp_path: Path
) -> None:
    assert open_detector(load_settings(models_dir=lid_models_dir)).name == "hybrid"
    assert open_detector(load_settings(models_dir=tmp_path)).name == "lingua"


@pytest.mark.parametrize("name", ["fasttext", "hybrid"])
def test_asking_for_fasttext_without_its_model_names_file_and_command(
    tmp_path: Path, name: str
) -> None:
    with pytest.raises(ModelMissingError) as caught:
        open_detector(load_settings(models_dir=tmp_path), name=name)
    assert str(fasttext_model_path(tmp_path)) in caught.value.message
    assert FETCH_COMMAND in caught.value.message


def test_bad_names_and_languages_are_refused_clearly(tmp_path: Path) -> None:
    settings = load_settings(models_dir=tmp_path)
    with pytest.raises(InvalidInputError, match="unknown language detector 'cld3'"):
        open_detector(settings, name="cld3")
    with pytest.raises(InvalidInputError, match="'klingon'"):
        open_detector(settings, name="lingua", languages=["klingon"])
    with pytest.raises(InvalidInputError, match="lingua cannot detect ha"):
        open_detector(settings, name="lingua", languages=["en", "ha"])


def test_langdetect_answers_the_same_every_time(detectors: dict[str, LanguageDetector]) -> None:
    text = "gracias obrigado"
    first = detectors["langdetect"].detect(text)
    assert all(detectors["langdetect"].detect(text) == first for _ in range(5))


def test_hybrid_asks_lingua_only_when_fasttext_is_unsure(
    detectors: dict[str, LanguageDetector],
) -> None:
    hybrid = detectors["hybrid"]
    sure = hybrid.detect(CLEAR["es"])
    assert sure.detector.startswith("fasttext-lid.176@")
    assert "lingua" not in sure.detector
    unsure = hybrid.detect("hello hola")
    assert unsure.detector.endswith("+lingua@" + hybrid.version.split("+lingua@")[1])


def test_install_checks_the_file_is_a_language_id_model(
    lid_models_dir: Path, tmp_path: Path
) -> None:
    not_a_model = tmp_path / "lid.176.ftz"
    not_a_model.write_bytes(b"not a model")
    with pytest.raises(Exception, match="not a fastText model"):
        install_langid_model(not_a_model, tmp_path / "models")
    installed = install_langid_model(fasttext_model_path(lid_models_dir), tmp_path / "models")
    assert installed.path == fasttext_model_path(tmp_path / "models")
    assert (installed.kind, installed.name, installed.version) == (
        "langid",
        "fasttext-lid.176",
        "1",
    )
    assert installed.size_bytes == 938013


@pytest.mark.parametrize("name", ALL_DETECTORS)
def test_a_one_language_platform_still_gets_und_for_other_languages(
    lid_models_dir: Path, name: str
) -> None:
    detector = open_detector(load_settings(models_dir=lid_models_dir), name=name, languages=["de"])
    assert detector.languages == ("de",)
    assert detector.detect(CLEAR["de"]).language == "de"
    english = detector.detect("Thank you so much for this wonderful video, I loved it.")
    assert (english.language, english.reason) == (UNDETERMINED, "other_language")
