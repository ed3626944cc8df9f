"""Text classifiers behind one interface; every score carries the model name and version.

Names that ``open_text_classifier`` answers to:

- ``auto``: ``detoxify-<variant>`` when a Detoxify checkpoint is installed in the models directory
  (``original`` before ``unbiased`` before ``multilingual``... in the order
  ``installed_detoxify_variants`` lists them), else ``compact``;
- ``compact``: the compact multilingual model shipped in moderation/data/ (or a newer one
  installed in ``<models dir>/toxicity/``), see compact.py and docs/models/toxicity-compact.md;
- ``profanity-check``: the English alt-profanity-check baseline (profanity.py);
- ``detoxify-<variant>``: a local Detoxify checkpoint (detoxify.py), run with
  ``settings.moderation.detoxify_runtime``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import ModelMissingError, UnknownClassifierError
from .base import ATTRIBUTES, TextClassifier, TextScores

if TYPE_CHECKING:
    from core.settings import Settings

__all__ = [
    "ATTRIBUTES",
    "CLASSIFIER_NAMES",
    "ClassifierModelFile",
    "TextClassifier",
    "TextScores",
    "installed_models",
    "open_text_classifier",
]

#: Fixed names; ``detoxify-<variant>`` comes on top.
CLASSIFIER_NAMES = ("auto", "compact", "profanity-check")


def open_text_classifier(settings: Settings, name: str | None = None) -> TextClassifier:
    """The classifier called ``name`` (default: ``settings.moderation.toxicity_model``)."""
    chosen = (name or settings.moderation.toxicity_model or "auto").strip().lower()
    models_dir = settings.effective_models_dir
    if chosen == "auto":
        variants = _detoxify_variants(models_dir)
        chosen = f"detoxify-{variants[0]}" if variants else "compact"
    if chosen in ("compact", "vigil-compact"):
        from .compact import CompactClassifier

        return CompactClassifier(models_dir=models_dir)
    if chosen in ("profanity-check", "profanity_check", "alt-profanity-check"):
        from .profanity import ProfanityCheckClassifier

        return ProfanityCheckClassifier()
    if chosen.startswith("detoxify-") and len(chosen) > len("detoxify-"):
        variant = chosen.removeprefix("detoxify-")
        try:
            from .detoxify import DetoxifyClassifier
        except ImportError as exc:
            raise ModelMissingError(
                f"the Detoxify classifier cannot be loaded ({exc}); install it with "
                "`pip install detoxify`",
                details={"classifier": chosen},
            ) from exc
        return DetoxifyClassifier(
            variant,
            models_dir,
            runtime=settings.moderation.detoxify_runtime,
            batch_size=settings.moderation.batch_size,
            threads=settings.moderation.detoxify_threads or None,
        )
    raise UnknownClassifierError(
        f"no text classifier named {chosen!r}; use one of auto, compact, profanity-check or "
        "detoxify-<variant> (original, unbiased, multilingual)",
        details={
            "field": "toxicity_model",
            "value": chosen,
            "allowed": [*CLASSIFIER_NAMES, "detoxify-<variant>"],
        },
    )


def _detoxify_variants(models_dir: Path) -> list[str]:
    """Installed Detoxify variants; none when the Detoxify module is not available."""
    if not (models_dir / "detoxify").is_dir():
        return []
    try:
        from .detoxify import installed_detoxify_variants
    except ImportError:
        return []
    return list(installed_detoxify_variants(models_dir))


@dataclass(frozen=True)
class ClassifierModelFile:
    """A text classifier's model file, for ``vigil models list``."""

    kind: str  # "toxicity"
    name: str  # "vigil-compact", "profanity-check", "detoxify-original"
    version: str
    path: Path
    size_bytes: int
    source: str  # "shipped" (inside a package) or "installed" (in the models directory)


def installed_models(models_dir: Path) -> list[ClassifierModelFile]:
    """The text classifiers' model files: shipped ones and those in the models directory."""
    from .compact import MODEL_NAME, installed_model_paths, read_metadata, shipped_model_path

    files: list[ClassifierModelFile] = []
    shipped = shipped_model_path()
    files.append(
        ClassifierModelFile(
            "toxicity",
            MODEL_NAME,
            str(read_metadata(shipped)["version"]),
            shipped,
            shipped.stat().st_size,
            "shipped",
        )
    )
    for path in installed_model_paths(models_dir):
        files.append(
            ClassifierModelFile(
                "toxicity",
                MODEL_NAME,
                str(read_metadata(path)["version"]),
                path,
                path.stat().st_size,
                "installed",
            )
        )
    files.extend(_profanity_check_file())
    for variant in _detoxify_variants(models_dir):
        folder = models_dir / "detoxify" / variant
        checkpoint = folder / "checkpoint.ckpt"
        size = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
        files.append(
            ClassifierModelFile(
                "toxicity", f"detoxify-{variant}", "", checkpoint, size, "installed"
            )
        )
    return files


def _profanity_check_file() -> list[ClassifierModelFile]:
    from importlib import metadata

    from .profanity import profanity_check_data_dir

    data = profanity_check_data_dir()
    if data is None:
        return []
    version = metadata.version("alt-profanity-check")
    size = sum(p.stat().st_size for p in data.glob("*.joblib"))
    return [
        ClassifierModelFile(
            "toxicity", "profanity-check", version, data / "model.joblib", size, "shipped"
        )
    ]
