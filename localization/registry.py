"""What is installed in the models directory, for ``vigil models list`` and readiness.

Layout (``settings.effective_models_dir``)::

    langid/lid.176.ftz            fastText language ID            (this room)
    translate/<from>_<to>/        Argos Translate packages        (this room)
    detoxify/<variant>/...        Detoxify checkpoints            (moderation)
    toxicity/<name>-<ver>.npz     compact toxicity classifiers    (moderation)

``InstalledModel`` is the one record every room returns for an installed model, so that the
CLI lists them side by side; this module lists only the localization kinds.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class InstalledModel:
    kind: str  # "langid", "translation", "detoxify", "toxicity"
    name: str  # "fasttext-lid.176", "argos:es_en", "detoxify-original", "vigil-compact"
    version: str
    path: Path
    size_bytes: int


def tree_size(path: Path) -> int:
    """Bytes of a file, or of every file under a directory."""
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def file_model(kind: str, name: str, version: str, path: Path) -> InstalledModel:
    return InstalledModel(kind, name, version, path, tree_size(path))


def translation_packages(models_dir: Path) -> list[InstalledModel]:
    """Installed Argos Translate packages (``translate/<from>_<to>/metadata.json``)."""
    root = Path(models_dir) / "translate"
    found = []
    for metadata_path in sorted(root.glob("*/metadata.json")) if root.is_dir() else []:
        try:
            metadata = json.loads(metadata_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue  # a half-copied or foreign folder; `vigil models install` rewrites it
        source, target = metadata.get("from_code"), metadata.get("to_code")
        if not source or not target:
            continue
        found.append(
            file_model(
                "translation",
                f"argos:{source}_{target}",
                str(metadata.get("package_version") or "?"),
                metadata_path.parent,
            )
        )
    return found


def installed_models(models_dir: Path) -> list[InstalledModel]:
    """The localization room's installed models: language ID and translation packages."""
    from .langid import FASTTEXT_LID_SHA256, FastTextDetector, fasttext_model_path

    found = []
    lid = fasttext_model_path(models_dir)
    if lid.is_file():
        import hashlib

        digest = hashlib.sha256(lid.read_bytes()).hexdigest()
        version = "1" if digest == FASTTEXT_LID_SHA256 else digest[:12]
        found.append(file_model("langid", FastTextDetector.name, version, lid))
    return found + translation_packages(models_dir)
