"""Translation through real (tiny, random) Argos packages: the same output as CTranslate2 run
by hand, pivoting through English, a clear message for a missing pair, a cache."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import pytest

from localization import ModelFileError, Translator, install_translation_package
from localization.registry import installed_models

from .tiny_argos import TinyArgosCache, build_tiny_argos_package

TEXT = "eres una persona muy amable"


@pytest.fixture(scope="module")
def models_dir(tiny_argos: TinyArgosCache, tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("models")
    install_translation_package(tiny_argos.package("es", "en"), folder)
    install_translation_package(tiny_argos.package("en", "fr", with_spacy=False), folder)
    return folder


def direct_ctranslate2(package: Path, sentences: list[str]) -> str:
    """What Argos should produce: SentencePiece + CTranslate2 with Argos's decoding options."""
    import ctranslate2
    import sentencepiece

    processor = sentencepiece.SentencePieceProcessor(
        model_file=str(package / "sentencepiece.model")
    )
    translator = ctranslate2.Translator(str(package / "model"), device="cpu")
    results = translator.translate_batch(
        [processor.encode(s, out_type=str) for s in sentences],
        beam_size=4,
        num_hypotheses=1,
        length_penalty=0.2,
        replace_unknowns=True,
    )
    tokens = [token for result in results for token in result.hypotheses[0]]
    return str(processor.decode_pieces(tokens)).replace("▁", " ").strip()


def test_translate_equals_a_direct_ctranslate2_call(models_dir: Path) -> None:
    translation = Translator(models_dir).translate(TEXT, "es", "en")
    assert translation.error is None
    assert translation.model == "argos:es_en@1.0"
    assert (translation.source, translation.target) == ("es", "en")
    assert translation.text == direct_ctranslate2(models_dir / "translate" / "es_en", [TEXT])


def test_sentences_are_translated_one_by_one(models_dir: Path) -> None:
    first, second = "Eres muy amable.", "Gracias por el video."
    translation = Translator(models_dir).translate(f"{first} {second}", "spa", "eng")
    assert translation.text == direct_ctranslate2(
        models_dir / "translate" / "es_en", [first, second]
    )


def test_no_direct_pair_pivots_through_english(models_dir: Path) -> None:
    translator = Translator(models_dir)
    assert translator.pairs() == [("en", "fr"), ("es", "en")]
    pivot = translator.translate(TEXT, "es", "fr")
    assert pivot.error is None
    assert pivot.model == "argos:es_en@1.0+en_fr@1.0"
    english = translator.translate(TEXT, "es", "en").text
    assert english is not None
    assert pivot.text == translator.translate(english, "en", "fr").text


@pytest.mark.parametrize(("source", "target"), [("es", "de"), ("fr", "en"), ("de", "fr")])
def test_a_missing_pair_says_so_and_how_to_install_one(
    models_dir: Path, source: str, target: str
) -> None:
    translation = Translator(models_dir).translate(TEXT, source, target)
    assert translation.text is None
    assert translation.model is None
    assert translation.error == (
        f"no translation model for {source}->{target}; install one: "
        f"vigil models install translate-{source}_{target}-<version>.argosmodel"
    )


def test_no_models_at_all_is_the_same_message(tmp_path: Path) -> None:
    translation = Translator(tmp_path).translate(TEXT, "es", "en")
    assert translation.text is None
    assert translation.error is not None
    assert translation.error.startswith("no translation model for es->en; install one: ")


def test_same_language_undetermined_and_unknown_codes(models_dir: Path) -> None:
    translator = Translator(models_dir)
    same = translator.translate(TEXT, "es", "spa")
    assert (same.text, same.model, same.error) == (TEXT, "identity", None)
    und = translator.translate(TEXT, "und", "en")
    assert und.text is None
    assert und.error == "cannot translate: the source language is undetermined ('und')"
    unknown = translator.translate(TEXT, "xx", "en")
    assert unknown.text is None
    assert unknown.error is not None
    assert "'xx'" in unknown.error


def test_repeated_texts_come_from_the_cache(models_dir: Path) -> None:
    translator = Translator(models_dir, cache_size=2)
    first = translator.translate(TEXT, "es", "en")
    assert translator.translate(TEXT, "es", "en") is first
    info = translator.cache_info()
    assert (info.hits, info.misses, info.size) == (1, 1, 1)
    translator.translate("gracias por el video", "es", "en")
    translator.translate("vemos videos cortos", "es", "en")  # evicts TEXT (least recent)
    assert translator.cache_info().size == 2
    again = translator.translate(TEXT, "es", "en")
    assert again is not first
    assert again == first
    uncached = Translator(models_dir, cache_size=0)
    uncached.translate(TEXT, "es", "en")
    assert uncached.cache_info().size == 0


def test_user_text_stays_out_of_the_logs(
    models_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.DEBUG):
        Translator(models_dir).translate("un texto privado de un usuario", "es", "en")
    assert "privado" not in caplog.text


def test_install_adds_a_sentence_splitter_and_lists_the_package(models_dir: Path) -> None:
    en_fr = models_dir / "translate" / "en_fr"
    assert (en_fr / "spacy" / "config.cfg").is_file()  # built without one: added on install
    listed = {(m.kind, m.name, m.version) for m in installed_models(models_dir)}
    assert {("translation", "argos:es_en", "1.0"), ("translation", "argos:en_fr", "1.0")} <= listed


def test_reinstalling_a_pair_replaces_it_and_a_running_translator_sees_it(
    tmp_path: Path, tiny_argos: TinyArgosCache
) -> None:
    models = tmp_path / "models"
    install_translation_package(tiny_argos.package("es", "en"), models)
    translator = Translator(models)
    assert translator.translate(TEXT, "es", "en").model == "argos:es_en@1.0"
    newer = build_tiny_argos_package(tmp_path, "es", "en", version="1.1", seed=7)
    installed = install_translation_package(newer, models)
    assert installed.version == "1.1"
    assert sorted(p.name for p in (models / "translate").iterdir()) == ["es_en"]
    assert translator.translate(TEXT, "es", "en").model == "argos:es_en@1.1"


def _zip(path: Path, files: dict[str, str]) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        for name, content in files.items():
            archive.writestr(name, content)
    return path


def test_install_refuses_what_is_not_a_package(tmp_path: Path) -> None:
    metadata = json.dumps({"type": "translate", "from_code": "es", "to_code": "en"})
    not_zip = tmp_path / "a.argosmodel"
    not_zip.write_text("hello")
    with pytest.raises(ModelFileError, match=r"not an \.argosmodel \(zip\)"):
        install_translation_package(not_zip, tmp_path / "models")
    two_roots = _zip(tmp_path / "b.argosmodel", {"a/metadata.json": metadata, "b/x": ""})
    with pytest.raises(ModelFileError, match="exactly one top-level folder"):
        install_translation_package(two_roots, tmp_path / "models")
    no_model = _zip(tmp_path / "c.argosmodel", {"p/metadata.json": metadata})
    with pytest.raises(ModelFileError, match="no CTranslate2 model"):
        install_translation_package(no_model, tmp_path / "models")
    sbd = json.dumps({"type": "sbd", "from_code": "es", "to_code": "en"})
    wrong_type = _zip(tmp_path / "d.argosmodel", {"p/metadata.json": sbd})
    with pytest.raises(ModelFileError, match="package type 'sbd'"):
        install_translation_package(wrong_type, tmp_path / "models")
    escape = _zip(tmp_path / "e.argosmodel", {"../evil/metadata.json": metadata})
    with pytest.raises(ModelFileError, match="unsafe member name"):
        install_translation_package(escape, tmp_path / "models")
    assert [p.name for p in (tmp_path / "models" / "translate").iterdir()] == []


@pytest.mark.slow
def test_translating_never_touches_the_home_directory(models_dir: Path, tmp_path: Path) -> None:
    """argostranslate's import writes to ~/.local and ~/.config; Vigil's must not."""
    home = tmp_path / "home"
    home.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("XDG_", "ARGOS_"))}
    env.update(HOME=str(home), ARGOS_CHUNK_TYPE="SPACY")  # SPACY would download at import
    script = textwrap.dedent(
        f"""
        from localization import Translator
        result = Translator({str(models_dir)!r}).translate("eres muy amable", "es", "en")
        assert result.error is None, result
        import argostranslate.settings as s
        assert str(s.package_data_dir) == {str(models_dir / "translate")!r}, s.package_data_dir
        """
    )
    subprocess.run([sys.executable, "-c", script], env=env, check=True, timeout=300, cwd=Path.cwd())
    assert list(home.rglob("*")) == []
