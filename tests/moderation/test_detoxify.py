"""Detoxify checkpoints: the real Detoxify class on a tiny checkpoint, chunking, the ONNX path.

The tiny checkpoints (tiny_detoxify.py) are crafted detectors: "idiot" is toxic and an insult,
"kill" a threat, "damn" obscene, "vermin" an identity attack, "naked" sexually explicit, wherever
the word sits in a text.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import zipfile
from pathlib import Path

import numpy as np
import pytest

from core.errors import InvalidInputError
from moderation.classifiers import ATTRIBUTES, TextClassifier
from moderation.classifiers.detoxify import (
    VALIDATION_TEXTS,
    DetoxifyClassifier,
    detoxify_files,
    install_detoxify_checkpoint,
    installed_detoxify_variants,
    load_detoxify,
)
from moderation.errors import ModelFormatError, ModelMissingError

from .tiny_detoxify import build_tiny_detoxify, install_tiny_detoxify, tiny_detoxify

LONG_INSULT = " ".join(["nice video"] * 300) + " you are an idiot"  # ~606 tokens, insult last


@pytest.fixture(scope="module")
def models_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("models")
    install_tiny_detoxify(directory, tmp_path_factory, "original")
    install_tiny_detoxify(directory, tmp_path_factory, "multilingual")
    return directory


@pytest.fixture(scope="module")
def on_torch(models_dir: Path) -> DetoxifyClassifier:
    return DetoxifyClassifier("original", models_dir, runtime="torch")


@pytest.fixture(scope="module")
def on_onnx(models_dir: Path) -> DetoxifyClassifier:
    return DetoxifyClassifier("original", models_dir, runtime="onnx")


def sha12(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:12]


def test_the_real_detoxify_class_loads_the_tiny_checkpoint(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    from detoxify import Detoxify

    tiny = tiny_detoxify(tmp_path_factory)
    model = Detoxify(checkpoint=str(tiny.checkpoint), huggingface_config_path=str(tiny.hf_dir))
    scores = model.predict(["you are an idiot", "nice video, thanks for sharing"])

    assert set(scores) == {
        "toxicity",
        "severe_toxicity",
        "obscene",
        "threat",
        "insult",
        "identity_attack",
    }
    assert scores["toxicity"][0] > 0.9 > 0.1 > scores["toxicity"][1]
    assert scores["insult"][0] > 0.9
    assert scores["threat"][0] < 0.1


@pytest.mark.parametrize("runtime", ["torch", "onnx"])
def test_scores_are_the_contract_attributes_with_model_and_version(
    runtime: str, on_torch: DetoxifyClassifier, on_onnx: DetoxifyClassifier, models_dir: Path
) -> None:
    classifier = on_torch if runtime == "torch" else on_onnx
    texts = ["you are an idiot", "i will kill you", "damn", "they are vermin", "nice video"]

    idiot, kill, damn, vermin, nice = classifier.classify(texts)

    assert isinstance(classifier, TextClassifier)
    digest = sha12(models_dir / "detoxify" / "original" / "checkpoint.ckpt")
    tag = "torch" if runtime == "torch" else f"onnx-{classifier.precision}"
    assert classifier.name == idiot.model == "detoxify-original"
    assert classifier.version == idiot.version == f"{digest}@{tag}"
    assert classifier.attributes == ATTRIBUTES
    assert set(idiot.scores) == set(ATTRIBUTES)
    assert idiot.scores["toxicity"] > 0.9
    assert idiot.scores["insult"] > 0.9
    assert idiot.scores["threat"] < 0.1
    assert idiot.scores["profanity"] < 0.1
    assert kill.scores["threat"] > 0.9
    assert kill.scores["severe_toxicity"] > 0.9
    assert damn.scores["profanity"] > 0.9
    assert damn.scores["insult"] < 0.1
    assert vermin.scores["identity_attack"] > 0.9
    assert max(nice.scores.values()) < 0.1
    assert classifier.classify([]) == []


def test_torch_runtime_gives_detoxify_predicts_scores(
    on_torch: DetoxifyClassifier, models_dir: Path
) -> None:
    """Batching by length and padding per batch change nothing for texts within the limit."""
    texts = list(VALIDATION_TEXTS)
    expected = load_detoxify(detoxify_files(models_dir, "original")).predict(texts)

    got = on_torch.label_scores(texts)

    assert set(got) == set(expected)
    for label in expected:
        np.testing.assert_allclose(got[label], expected[label], atol=1e-5)


@pytest.mark.parametrize("variant", ["original", "multilingual"])
@pytest.mark.parametrize(("precision", "tolerance"), [("fp32", 1e-4), ("int8", 0.02)])
def test_onnx_path_gives_the_torch_paths_scores(
    variant: str, precision: str, tolerance: float, models_dir: Path
) -> None:
    texts = [*VALIDATION_TEXTS, LONG_INSULT, "they are naked vermin " * 40]
    reference = DetoxifyClassifier(variant, models_dir, runtime="torch").label_scores(texts)

    served = DetoxifyClassifier(variant, models_dir, precision=precision, batch_size=5)
    got = served.label_scores(texts)

    assert served.version.endswith(f"@onnx-{precision}")
    worst = max(np.abs(np.subtract(got[label], reference[label])).max() for label in reference)
    assert worst <= tolerance


def test_a_long_text_is_split_into_windows_and_max_pooled(
    on_torch: DetoxifyClassifier, models_dir: Path
) -> None:
    """Detoxify.predict truncates at 512 tokens and loses an insult at the end; windows keep it."""
    detoxify = load_detoxify(detoxify_files(models_dir, "original"))

    windows = on_torch.windows(LONG_INSULT)
    [scores] = on_torch.classify([LONG_INSULT])

    assert len(windows) == 2
    assert "idiot" in windows[-1]
    assert "idiot" not in windows[0]
    assert detoxify.predict(LONG_INSULT)["toxicity"] < 0.1  # truncated: the insult is cut off
    assert scores.scores["toxicity"] > 0.9
    last = detoxify.predict(windows[-1])
    assert scores.scores["toxicity"] == pytest.approx(last["toxicity"], abs=1e-5)
    assert scores.scores["insult"] == pytest.approx(last["insult"], abs=1e-5)


def test_every_label_is_the_maximum_over_the_windows(models_dir: Path) -> None:
    classifier = DetoxifyClassifier(
        "original", models_dir, runtime="torch", max_tokens=16, overlap=4
    )
    detoxify = load_detoxify(detoxify_files(models_dir, "original"))
    text = "i will kill you " + " ".join(["good song"] * 20) + " damn"

    windows = classifier.windows(text)
    got = classifier.label_scores([text])
    per_window = detoxify.predict(windows)

    assert len(windows) >= 4
    assert all(len(w.split()) <= 14 for w in windows)  # 16 tokens minus [CLS] and [SEP]
    for label, values in per_window.items():
        assert got[label][0] == pytest.approx(max(values), abs=1e-5)
    assert got["threat"][0] > 0.9
    assert got["obscene"][0] > 0.9


def test_multilingual_keeps_its_extra_labels(models_dir: Path) -> None:
    classifier = DetoxifyClassifier("multilingual", models_dir)

    naked, nice = classifier.classify(["naked", "merci pour la video"])

    assert classifier.name == "detoxify-multilingual"
    assert classifier.attributes == (*ATTRIBUTES, "sexual_explicit")
    assert naked.scores["sexual_explicit"] > 0.9
    assert naked.scores["toxicity"] < 0.1
    assert max(nice.scores.values()) < 0.1


def test_a_missing_checkpoint_names_the_file_and_the_install_command(tmp_path: Path) -> None:
    with pytest.raises(ModelMissingError) as raised:
        DetoxifyClassifier("original", tmp_path)

    missing = tmp_path / "detoxify" / "original" / "checkpoint.ckpt"
    assert str(missing) in raised.value.message
    assert "vigil models install toxic_original-c1212f89.ckpt --variant original" in (
        raised.value.message
    )
    assert raised.value.details["path"] == str(missing)
    assert installed_detoxify_variants(tmp_path) == []


def test_a_missing_hf_config_is_named_too(
    tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    install_tiny_detoxify(tmp_path, tmp_path_factory, "original")
    (tmp_path / "detoxify" / "original" / "hf" / "config.json").unlink()

    with pytest.raises(ModelMissingError, match=r"hf/config\.json is missing"):
        DetoxifyClassifier("original", tmp_path, runtime="torch")
    assert installed_detoxify_variants(tmp_path) == []


def test_the_version_changes_when_the_checkpoint_changes(
    tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    first = install_tiny_detoxify(tmp_path, tmp_path_factory, "original", seed=0)
    before = DetoxifyClassifier("original", tmp_path)
    second = install_tiny_detoxify(tmp_path, tmp_path_factory, "original", seed=1)
    after = DetoxifyClassifier("original", tmp_path)

    checkpoint = tmp_path / "detoxify" / "original" / "checkpoint.ckpt"
    assert first.version != second.version == sha12(checkpoint)
    assert before.version.split("@")[0] == first.version
    assert after.version.split("@")[0] == second.version
    exports = [p.name for p in (tmp_path / "detoxify" / "original" / "onnx").iterdir()]
    assert exports == [f"{hashlib.sha256(checkpoint.read_bytes()).hexdigest()[:16]}-f1"]


def test_the_export_is_made_once_and_reused(models_dir: Path, on_onnx: DetoxifyClassifier) -> None:
    onnx_dir = models_dir / "detoxify" / "original" / "onnx"
    [export] = list(onnx_dir.iterdir())
    meta = json.loads((export / "meta.json").read_text())
    stamp = (export / "model.onnx").stat().st_mtime_ns

    again = DetoxifyClassifier("original", models_dir)

    assert (export / "model.onnx").stat().st_mtime_ns == stamp
    assert again.version == on_onnx.version
    assert meta["fp32_max_abs_diff"] < 1e-3
    assert again.precision == ("int8" if meta["int8_max_abs_diff"] <= 0.01 else "fp32")
    assert list(onnx_dir.iterdir()) == [export]  # no scratch folders left behind


def test_install_from_a_zip_holding_checkpoint_and_config(
    tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    tiny = tiny_detoxify(tmp_path_factory)
    archive = tmp_path / "toxic_original.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.write(tiny.checkpoint, "release/toxic_original.ckpt")
        for path in tiny.hf_dir.iterdir():
            zipped.write(path, f"release/bert-base-uncased/{path.name}")
    models = tmp_path / "models"

    installed = install_detoxify_checkpoint(archive, models, "original")

    assert (installed.kind, installed.name) == ("toxicity", "detoxify-original")
    assert installed.version == sha12(tiny.checkpoint)
    assert installed.path == models / "detoxify" / "original"
    assert installed.size_bytes > tiny.checkpoint.stat().st_size
    assert installed_detoxify_variants(models) == ["original"]
    [scores] = DetoxifyClassifier("original", models, runtime="torch").classify(["idiot"])
    assert scores.scores["insult"] > 0.9


def test_a_released_style_checkpoint_installs_and_loads_offline(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Released checkpoints name their base model by hub id and come with a stock base config
    (two labels): installing fits the config, loading never asks the hub."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    built = build_tiny_detoxify(tmp_path / "release", model_type="bert-base-uncased")
    config = json.loads((built.hf_dir / "config.json").read_text())
    for key in ("id2label", "label2id"):
        config.pop(key, None)
    (built.hf_dir / "config.json").write_text(json.dumps(config))

    installed = install_detoxify_checkpoint(
        built.checkpoint, tmp_path / "models", "original", built.hf_dir
    )

    copied = tmp_path / "models" / "detoxify" / "original" / "checkpoint.ckpt"
    assert copied.read_bytes() == built.checkpoint.read_bytes()  # never rewritten
    assert installed.version == sha12(built.checkpoint)
    [scores] = DetoxifyClassifier("original", tmp_path / "models").classify(["you idiot"])
    assert scores.scores["toxicity"] > 0.9


def test_install_refuses_what_it_cannot_use(
    tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    tiny = tiny_detoxify(tmp_path_factory)
    models = tmp_path / "models"
    lonely = tmp_path / "lonely"
    lonely.mkdir()
    shutil.copy(tiny.checkpoint, lonely / "model.ckpt")
    garbage = tmp_path / "garbage.ckpt"
    garbage.write_bytes(b"not a checkpoint")

    with pytest.raises(InvalidInputError, match=r"exactly one \.ckpt"):
        install_detoxify_checkpoint(tiny.hf_dir, models, "original")
    with pytest.raises(InvalidInputError, match=r"--hf-dir"):
        install_detoxify_checkpoint(lonely / "model.ckpt", models, "original")
    with pytest.raises(ModelFormatError, match=r"garbage\.ckpt"):
        install_detoxify_checkpoint(garbage, models, "original", tiny.hf_dir)
    with pytest.raises(InvalidInputError, match="unknown Detoxify variant"):
        install_detoxify_checkpoint(tiny.checkpoint, models, "huge", tiny.hf_dir)
    assert installed_detoxify_variants(models) == []


def test_options_outside_what_the_model_takes_are_refused(models_dir: Path) -> None:
    with pytest.raises(InvalidInputError, match="runtime"):
        DetoxifyClassifier("original", models_dir, runtime="tensorflow")
    with pytest.raises(InvalidInputError, match="precision"):
        DetoxifyClassifier("original", models_dir, runtime="torch", precision="int8")
    with pytest.raises(InvalidInputError, match="512"):
        DetoxifyClassifier("original", models_dir, runtime="torch", max_tokens=1024)
    with pytest.raises(InvalidInputError, match="overlap"):
        DetoxifyClassifier("original", models_dir, runtime="torch", max_tokens=16, overlap=14)
