"""The text-classifier registry, the alt-profanity-check baseline and the compact model files."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest

from moderation.classifiers import (
    ATTRIBUTES,
    TextClassifier,
    installed_models,
    open_text_classifier,
)
from moderation.classifiers.compact import (
    MODEL_NAME,
    CompactClassifier,
    Featurizer,
    default_features,
    save_model,
    shipped_model_path,
)
from moderation.classifiers.profanity import ProfanityCheckClassifier, profanity_check_data_dir
from moderation.errors import ModelFormatError, ModelMissingError, UnknownClassifierError
from tests.conftest import make_settings


def test_auto_is_the_compact_model_when_no_detoxify_checkpoint_is_installed(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    classifier = open_text_classifier(settings)
    assert isinstance(classifier, TextClassifier)
    assert classifier.name == MODEL_NAME
    assert set(classifier.attributes) <= set(ATTRIBUTES)
    assert "toxicity" in classifier.attributes
    [scores] = classifier.classify(["you are an idiot"])
    assert (scores.model, scores.version) == (MODEL_NAME, classifier.version)
    assert set(scores.scores) == set(classifier.attributes)


def test_profanity_check_reports_one_score_as_toxicity_and_profanity(tmp_path: Path) -> None:
    classifier = open_text_classifier(make_settings(tmp_path), "profanity-check")
    clean, toxic = classifier.classify(["what a lovely video", "fuck you, you idiot"])
    assert clean.model == "profanity-check"
    assert clean.version.startswith("1.")
    assert clean.scores["toxicity"] == clean.scores["profanity"] < 0.2
    assert toxic.scores["toxicity"] > 0.9


def test_an_unknown_classifier_name_lists_the_known_ones(tmp_path: Path) -> None:
    with pytest.raises(UnknownClassifierError, match="auto, compact, profanity-check"):
        open_text_classifier(make_settings(tmp_path), "perspective")


def test_a_missing_detoxify_checkpoint_names_the_install_command(tmp_path: Path) -> None:
    with pytest.raises(ModelMissingError, match="install"):
        open_text_classifier(make_settings(tmp_path), "detoxify-original")


def _tiny_model(path: Path, version: str) -> None:
    spec = dict(default_features())
    spec["char"] = dict(spec["char"], n_features=2**8)
    spec["word"] = dict(spec["word"], n_features=2**8)
    n = Featurizer(spec).n_features
    rng = np.random.default_rng(0)
    metadata = {"name": MODEL_NAME, "version": version, "heads": ["toxicity"], "features": spec}
    save_model(path, rng.normal(size=(n, 1)), np.zeros(1), metadata)


def test_a_newer_compact_model_in_the_models_dir_takes_precedence(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    folder = settings.effective_models_dir / "toxicity"
    _tiny_model(folder / f"{MODEL_NAME}-0.0.1.npz", "0.0.1")  # older than the shipped one
    assert open_text_classifier(settings, "compact").version != "0.0.1"
    _tiny_model(folder / f"{MODEL_NAME}-99.0.0.npz", "99.0.0")
    classifier = open_text_classifier(settings, "compact")
    assert classifier.version == "99.0.0"
    assert classifier.attributes == ("toxicity",)
    assert classifier.classify(["hello"])[0].version == "99.0.0"
    listed = {
        (m.name, m.version, m.source) for m in installed_models(settings.effective_models_dir)
    }
    assert (MODEL_NAME, "99.0.0", "installed") in listed
    assert (MODEL_NAME, "0.0.1", "installed") in listed
    assert any(name == "profanity-check" for name, _, _ in listed)
    assert any(source == "shipped" and name == MODEL_NAME for name, _, source in listed)


def test_a_model_file_with_pickled_objects_is_refused(tmp_path: Path) -> None:
    path = tmp_path / f"{MODEL_NAME}-1.0.0.npz"
    np.savez(path, weights=np.array([object()], dtype=object), metadata=np.array("{}"))
    with pytest.raises(ModelFormatError, match="vigil models train toxicity"):
        CompactClassifier(path)


def test_a_missing_model_file_names_the_train_command(tmp_path: Path) -> None:
    with pytest.raises(ModelMissingError, match="vigil models train toxicity"):
        CompactClassifier(tmp_path / "nowhere.npz")


def test_the_shipped_model_is_small_and_carries_its_figures() -> None:
    from moderation.classifiers.compact import read_metadata

    path = shipped_model_path()
    assert path.stat().st_size < 3_000_000
    metadata = read_metadata(path)
    assert metadata["training"]["command"].startswith("vigil models train toxicity")
    cv = metadata["cross_validation"]["roc_auc"]
    assert cv["germeval2018"]["language"] == "de"
    assert cv["germeval2018"]["toxicity"] > 0.75


def test_a_pickle_from_another_scikit_learn_is_loaded_and_said_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """alt-profanity-check's pickles under another scikit-learn: the version warning is caught
    on purpose (pytest turns warnings into errors) and shows in the classifier's version."""
    import joblib
    import sklearn.base

    source = profanity_check_data_dir()
    assert source is not None
    folder = tmp_path / "data"
    folder.mkdir()
    loaded = {name: joblib.load(source / name) for name in ("vectorizer.joblib", "model.joblib")}
    with monkeypatch.context() as patch:
        patch.setattr(sklearn.base, "__version__", "1.0.2")
        for name, obj in loaded.items():
            joblib.dump(obj, folder / name)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        classifier = ProfanityCheckClassifier(folder)
    assert classifier.version.endswith("(pickled with scikit-learn 1.0.2)")
    assert classifier.classify(["fuck you"])[0].scores["toxicity"] > 0.9
