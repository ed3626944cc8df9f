from __future__ import annotations

from pathlib import Path

import pytest

from .model_cache import fasttext_models_dir
from .tiny_argos import TinyArgosCache


@pytest.fixture(scope="session")
def lid_models_dir() -> Path:
    """A models directory with the fastText language-ID model (fetched once, then cached)."""
    return fasttext_models_dir()


@pytest.fixture(scope="session")
def tiny_argos(tmp_path_factory: pytest.TempPathFactory) -> TinyArgosCache:
    """Tiny .argosmodel packages, each built once per session."""
    return TinyArgosCache(tmp_path_factory.mktemp("tiny-argos"))
