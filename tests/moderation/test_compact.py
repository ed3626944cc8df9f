"""The shipped compact model on the cases a character n-gram model gets wrong without help:
negation, counter-speech that quotes or reports abuse, reclaimed self-reference, and spelling
variants, in English, Spanish and German. Each benign text is compared with a clearly toxic
counterpart: the model must keep them well apart."""

# ruff: noqa: RUF001  (look-alike letters are what some of these tests are about)
from __future__ import annotations

from pathlib import Path

import pytest

from moderation.classifiers.compact import CompactClassifier, shipped_model_path

#: How far apart a toxic text and its benign counterpart must score (probabilities, 0..1).
MARGIN = 0.3


@pytest.fixture(scope="module")
def model() -> CompactClassifier:
    return CompactClassifier(shipped_model_path())


def toxicity(model: CompactClassifier, text: str) -> float:
    return model.classify([text])[0].scores["toxicity"]


NEGATION = [
    ("I hate them, they are vermin", "I don't hate them"),
    ("I hate them all", "I do not hate them at all"),
    ("You are an idiot", "You're not an idiot"),
    ("They are filthy vermin", "They are not vermin, they are people like us"),
    ("Te odio, eres un idiota", "No te odio"),
    ("Te odio, eres un idiota", "No odio a nadie"),
    ("Eres un idiota", "No eres idiota, solo te equivocaste"),
    ("Ich hasse sie, sie sind Ungeziefer", "Ich hasse sie nicht"),
    ("Du bist ein Idiot", "Du bist kein Idiot"),
]

COUNTER_SPEECH = [
    ("you f****t", "calling someone a 'f****t' is not ok"),
    ("you are an idiot", "he called me an idiot and I reported it"),
    ("you are a retard", "please don't call people “retard”"),
    ("eres un idiota", "me llamó idiota y lo denuncié"),
    ("eres un idiota", "la palabra «idiota» no es un argumento"),
    ("du bist ein Idiot", "er hat mich einen Idioten genannt und ich habe ihn gemeldet"),
]

RECLAIMED = [
    ("shut up you dyke", "I'm a proud dyke"),
    ("shut up you queer", "queer and proud"),
    ("shut up you queer", "as a queer person I love this video"),
    ("cállate, marica asqueroso", "soy marica y orgulloso"),
    ("eres un marica de mierda", "como marica, me encanta este video"),
    ("verpiss dich, du Schwuchtel", "ich bin schwul und stolz darauf"),
    ("du Schwuchtel", "als schwuler Mann finde ich das toll"),
]


@pytest.mark.parametrize(("toxic", "benign"), NEGATION)
def test_negation_is_not_toxic(model: CompactClassifier, toxic: str, benign: str) -> None:
    assert toxicity(model, toxic) >= toxicity(model, benign) + MARGIN


@pytest.mark.parametrize(("toxic", "benign"), COUNTER_SPEECH)
def test_quoting_or_reporting_abuse_is_not_abuse(
    model: CompactClassifier, toxic: str, benign: str
) -> None:
    assert toxicity(model, toxic) >= toxicity(model, benign) + MARGIN


@pytest.mark.parametrize(("toxic", "benign"), RECLAIMED)
def test_reclaimed_self_reference_is_not_a_slur(
    model: CompactClassifier, toxic: str, benign: str
) -> None:
    assert toxicity(model, toxic) >= toxicity(model, benign) + MARGIN


@pytest.mark.parametrize(
    ("plain", "variants"),
    [
        (
            "you are an idiot",
            ["you are an 1d10t", "you are an i d i o t", "you are an idiooooot",
             "you are an іdіоt", "you are an ｉｄｉｏｔ", "you are an i.d.i.o.t"],
        ),
        ("eres un idiota", ["eres un 1d10ta", "eres un i d i o t a", "eres un idiotaaaa"]),
        ("du bist ein Idiot", ["du bist ein 1d10t", "du bist ein іdіоt", "du bist ein I-D-I-O-T"]),
    ],
)  # fmt: skip
def test_spelling_variants_score_like_the_plain_word(
    model: CompactClassifier, plain: str, variants: list[str]
) -> None:
    expected = toxicity(model, plain)
    assert expected > 0.7
    for variant in variants:
        assert toxicity(model, variant) >= expected - 0.15, variant


def test_benign_comments_in_several_languages_score_low(model: CompactClassifier) -> None:
    comments = [
        "great video, thanks for sharing",
        "qué bonito video, gracias",
        "Schönes Video, danke!",
        "que vídeo lindo, obrigado",
        "super vidéo, merci",
    ]
    for comment, scores in zip(comments, model.classify(comments), strict=True):
        assert scores.scores["toxicity"] < 0.3, comment


def test_scores_carry_every_head_of_the_model(model: CompactClassifier) -> None:
    [scores] = model.classify(["fuck you, you stupid faggot"])
    assert scores.model == "vigil-compact"
    assert set(scores.scores) == {"toxicity", "insult", "profanity", "identity_attack"}
    assert scores.scores["profanity"] > 0.5
    assert scores.scores["identity_attack"] > 0.5


def test_install_copies_a_model_that_loads_and_refuses_one_that_does_not(tmp_path: Path) -> None:
    from moderation.classifiers.compact import (
        find_compact_model,
        install_compact_model,
        shipped_model_path,
    )
    from moderation.errors import ModelFormatError

    installed = install_compact_model(shipped_model_path(), tmp_path / "models")
    assert installed.path == tmp_path / "models" / "toxicity" / installed.path.name
    assert installed.path.with_suffix(".json").is_file()
    assert installed.size_bytes == shipped_model_path().stat().st_size
    assert find_compact_model(tmp_path / "models").is_file()
    broken = tmp_path / "broken.npz"
    broken.write_bytes(b"not a model")
    with pytest.raises(ModelFormatError, match="retrain it"):
        install_compact_model(broken, tmp_path / "other")
    assert not (tmp_path / "other" / "toxicity").exists() or not any(
        (tmp_path / "other" / "toxicity").iterdir()
    )
