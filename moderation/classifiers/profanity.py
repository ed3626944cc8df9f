"""alt-profanity-check: the English baseline whose scikit-learn model ships inside its wheel.

Its model is a linear SVM over word TF-IDF, trained on English offensive-language data
(Davidson et al. tweets and Wikipedia toxic comments), with calibrated probabilities. Its one score
is reported as both ``toxicity`` and ``profanity``: its training labels are "offensive or toxic",
which is what Perspective calls TOXICITY, and policies written for PROFANITY should see it too.
It is English-only: on German (GermEval 2018) it is close to chance (see the model card,
docs/models/toxicity-compact.md), which is why the default is the compact multilingual model.

Loading: ``profanity_check`` unpickles its model at import time. This module loads the same two
files itself, and on purpose catches scikit-learn's ``InconsistentVersionWarning`` (the wheel pins
the scikit-learn version it was pickled with; a different installed version warns, and pytest
turns warnings into errors). The warning does not pass silently: it is logged once, and the
classifier's ``version`` names both versions (``1.9.1 (pickled with scikit-learn 1.8.0)``), so every
score says which model produced it. Any other warning is left alone.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Sequence
from importlib import metadata
from importlib.util import find_spec
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ModelMissingError
from .base import TextScores

__all__ = ["ProfanityCheckClassifier", "profanity_check_data_dir"]

log = logging.getLogger(__name__)

MODEL_NAME = "profanity-check"


def profanity_check_data_dir() -> Path | None:
    """The wheel's data folder, found without importing ``profanity_check`` (which unpickles)."""
    spec = find_spec("profanity_check")
    if spec is None or not spec.submodule_search_locations:
        return None
    folder = Path(next(iter(spec.submodule_search_locations))) / "data"
    return folder if (folder / "model.joblib").is_file() else None


def _load_pickled(folder: Path, name: str) -> tuple[Any, str | None]:
    """Unpickle one of the wheel's joblib files; return it and the version it was pickled with."""
    import joblib
    from sklearn.exceptions import InconsistentVersionWarning

    pickled_with: str | None = None
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", InconsistentVersionWarning)
        obj = joblib.load(folder / name)
    for warning in caught:
        if isinstance(warning.message, InconsistentVersionWarning):
            pickled_with = warning.message.original_sklearn_version
        else:  # not ours to judge: hand it back to the caller's filters
            warnings.warn_explicit(
                warning.message, warning.category, warning.filename, warning.lineno
            )
    return obj, pickled_with


class ProfanityCheckClassifier:
    """TextClassifier over alt-profanity-check's shipped model."""

    name = MODEL_NAME
    attributes: tuple[str, ...] = ("toxicity", "profanity")

    def __init__(self, data_dir: Path | None = None) -> None:
        folder = data_dir or profanity_check_data_dir()
        if folder is None:
            raise ModelMissingError(
                "alt-profanity-check's model (profanity_check/data/model.joblib) is not "
                "installed; install it with `pip install alt-profanity-check`",
                details={"package": "alt-profanity-check"},
            )
        import sklearn

        try:
            package_version = metadata.version("alt-profanity-check")
        except metadata.PackageNotFoundError:
            package_version = "unknown"
        self._vectorizer, vectorizer_from = _load_pickled(folder, "vectorizer.joblib")
        self._model, model_from = _load_pickled(folder, "model.joblib")
        pickled_with = model_from or vectorizer_from
        self.version = package_version
        if pickled_with is not None:
            self.version = f"{package_version} (pickled with scikit-learn {pickled_with})"
            log.warning(
                "alt-profanity-check %s was pickled with scikit-learn %s, running on %s; "
                "its scores may differ from the published ones (pin scikit-learn==%s to match)",
                package_version,
                pickled_with,
                sklearn.__version__,
                pickled_with,
            )

    def probabilities(self, texts: Sequence[str]) -> np.ndarray:
        """P(offensive) per text."""
        if not texts:
            return np.zeros(0)
        return np.asarray(self._model.predict_proba(self._vectorizer.transform(list(texts))))[:, 1]

    def classify(self, texts: Sequence[str]) -> list[TextScores]:
        return [
            TextScores(
                model=self.name,
                version=self.version,
                scores={"toxicity": round(float(p), 6), "profanity": round(float(p), 6)},
            )
            for p in self.probabilities(texts)
        ]
