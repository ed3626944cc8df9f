"""Machine translation for reviewers: Argos Translate packages from the models directory.

A moderator reviews in their own language (``users.review_language``); an item in another
language is translated for them. Packages are ``.argosmodel`` files installed with
``vigil models install FILE`` into ``<models dir>/translate/<from>_<to>/``; nothing is ever
downloaded: Argos's package index is never touched (``get_available_packages()`` and
``update_package_index()`` reach the network and, offline, recurse until RecursionError).

- ``Translator.translate(text, source, target)`` never raises: it returns a ``Translation``
  whose ``text`` is the translation, or ``None`` with an ``error`` naming the missing pair
  and the command that installs it. A text is never passed through untranslated as if it
  had been translated.
- No direct package: it pivots through English (``es->en`` then ``en->fr``), and
  ``Translation.model`` names both packages.
- An LRU cache (``settings.localization.translation_cache_size``) keyed by the packages'
  versions and the text: review queues show the same comment to several moderators.

How Argos is used. ``argostranslate.settings`` runs at import: it creates
``~/.local/share/argos-translate``, ``~/.config/argos-translate`` and
``~/.local/cache/argos-translate``, reads ``~/.config/argos-translate/settings.json``, and,
with ``ARGOS_CHUNK_TYPE=SPACY``, downloads a spaCy model at import. Vigil imports it once,
with ``XDG_DATA_HOME``/``XDG_CONFIG_HOME``/``XDG_CACHE_HOME`` pointing into a temporary
folder (removed right after) and ``ARGOS_CHUNK_TYPE`` neutral, then points
``settings.package_data_dir``/``package_dirs`` at ``<models dir>/translate`` (the first
Translator's). The user's home is never read or written. Vigil then loads each package by
path (``argostranslate.package.Package``) and runs Argos's own translation step
(``argostranslate.translate.apply_packaged_translation``: SentencePiece, CTranslate2 beam
search, Argos's post-processing) with its own sentence splitter: the package's ``spacy/``
pipeline when it ships one, else a blank spaCy pipeline with the rule-based sentencizer.
Argos's default splitter (MiniSBD) and Stanza download their models on first use.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
import threading
import zipfile
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from types import ModuleType
from typing import TYPE_CHECKING, Any

from .errors import ModelFileError
from .languages import to_iso639_1
from .registry import InstalledModel, file_model

if TYPE_CHECKING:
    from core.settings import Settings

log = logging.getLogger(__name__)

PIVOT = "en"
_ENV_LOCK = threading.Lock()
_IMPORT_LOCK = threading.Lock()
_argos: dict[str, ModuleType] = {}  # argostranslate's modules, once imported safely


@dataclass(frozen=True)
class Translation:
    source: str
    target: str
    text: str | None  # None when it could not translate
    model: str | None  # "argos:es_en@1.0", "argos:es_en@1.0+en_fr@1.9" (pivot), "identity"
    error: str | None  # what is missing and the command that installs it


@dataclass(frozen=True)
class CacheInfo:
    hits: int
    misses: int
    size: int
    max_size: int


def install_command(source: str, target: str) -> str:
    return f"vigil models install translate-{source}_{target}-<version>.argosmodel"


def missing_pair_message(source: str, target: str) -> str:
    return (
        f"no translation model for {source}->{target}; install one: "
        f"{install_command(source, target)}"
    )


@contextmanager
def _quiet_home() -> Iterator[Path]:
    """Environment for importing argostranslate: its import-time folders go to a temp dir."""
    with _ENV_LOCK, tempfile.TemporaryDirectory(prefix="vigil-argos-") as tmp:
        names = (
            "XDG_DATA_HOME", "XDG_CONFIG_HOME", "XDG_CACHE_HOME",
            "ARGOS_PACKAGES_DIR", "ARGOS_CHUNK_TYPE", "ARGOS_DEVICE_TYPE",
        )  # fmt: skip
        saved = {name: os.environ.get(name) for name in names}
        os.environ.update(
            XDG_DATA_HOME=f"{tmp}/data",
            XDG_CONFIG_HOME=f"{tmp}/config",
            XDG_CACHE_HOME=f"{tmp}/cache",
            ARGOS_PACKAGES_DIR=f"{tmp}/packages",
            ARGOS_CHUNK_TYPE="ARGOSTRANSLATE",  # no import-time work (SPACY downloads)
            ARGOS_DEVICE_TYPE="cpu",
        )
        try:
            yield Path(tmp)
        finally:
            for name, value in saved.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value


def argos(models_dir: Path) -> dict[str, ModuleType]:
    """argostranslate's ``settings``, ``package`` and ``translate`` modules, imported safely."""
    with _IMPORT_LOCK:
        if not _argos:
            _import_argos(Path(models_dir))
        return _argos


def _import_argos(models_dir: Path) -> None:
    with _quiet_home():
        import argostranslate.package
        import argostranslate.settings
        import argostranslate.translate

    settings = argostranslate.settings
    packages = models_dir / "translate"
    settings.package_data_dir = packages
    settings.package_dirs[:] = [packages]
    # Argos's own PackageTranslation, if anyone uses it, splits with the package's spacy/.
    settings.chunk_type = settings.ChunkType.SPACY
    # Argos logs every input sentence at INFO: user content stays out of the logs.
    logging.getLogger("argostranslate").setLevel(logging.WARNING)
    logging.getLogger("argostranslate.utils").setLevel(logging.WARNING)
    _argos.update(
        settings=settings, package=argostranslate.package, translate=argostranslate.translate
    )


class _SpacySentencizer:
    """Rule-based sentence splitting with spaCy; needs no model download."""

    def __init__(self, package_path: Path, language: str) -> None:
        import spacy

        packaged = package_path / "spacy"
        if packaged.is_dir():
            self.nlp = spacy.load(packaged, exclude=["parser"])
        else:
            try:
                self.nlp = spacy.blank(language)
            except (ImportError, KeyError, ValueError):
                self.nlp = spacy.blank("xx")
        if "sentencizer" not in self.nlp.pipe_names and "senter" not in self.nlp.pipe_names:
            self.nlp.add_pipe("sentencizer")

    def split_sentences(self, text: str) -> list[str]:
        return [sentence.text for sentence in self.nlp(text).sents]


@dataclass
class _Loaded:
    key: tuple[str, str]
    version: str
    package: Any  # argostranslate.package.Package
    translator: Any  # ctranslate2.Translator
    sentencizer: _SpacySentencizer

    @property
    def label(self) -> str:
        return f"{self.key[0]}_{self.key[1]}@{self.version}"


class Translator:
    """Translates with the packages installed in ``<models_dir>/translate``."""

    def __init__(self, models_dir: Path, cache_size: int = 4096, *, threads: int = 0) -> None:
        self.models_dir = Path(models_dir)
        self.root = self.models_dir / "translate"
        self.cache_size = cache_size
        self.threads = threads  # CTranslate2 intra-op threads; 0 = its default
        self._lock = threading.RLock()
        self._cache: OrderedDict[tuple[str, str], Translation] = OrderedDict()
        self._hits = self._misses = 0
        self._index: dict[tuple[str, str], tuple[Path, str]] = {}
        self._index_stamp: float | None = None
        self._loaded: dict[tuple[str, str], _Loaded] = {}

    @classmethod
    def from_settings(cls, settings: Settings) -> Translator:
        return cls(settings.effective_models_dir, settings.localization.translation_cache_size)

    # packages ------------------------------------------------------------------------------

    def _packages(self) -> dict[tuple[str, str], tuple[Path, str]]:
        """(from, to) -> (package dir, version); re-read when the folder changes (an install)."""
        try:
            stamp = self.root.stat().st_mtime
        except FileNotFoundError:
            stamp = None
        with self._lock:
            if stamp != self._index_stamp or stamp is None:
                index: dict[tuple[str, str], tuple[Path, str]] = {}
                for metadata_path in sorted(self.root.glob("*/metadata.json")) if stamp else []:
                    try:
                        metadata = json.loads(metadata_path.read_text(encoding="utf-8"))
                        key = (to_iso639_1(metadata["from_code"]), to_iso639_1(metadata["to_code"]))
                    except (OSError, ValueError, KeyError, TypeError) as exc:
                        log.warning(
                            "skipping translation package %s: %s", metadata_path.parent, exc
                        )
                        continue
                    index[key] = (metadata_path.parent, str(metadata.get("package_version") or "?"))
                self._index, self._index_stamp = index, stamp
            return self._index

    def pairs(self) -> list[tuple[str, str]]:
        """The installed (from, to) pairs, direct only."""
        return sorted(self._packages())

    def _load(self, key: tuple[str, str]) -> _Loaded:
        path, version = self._packages()[key]
        with self._lock:
            loaded = self._loaded.get(key)
            if loaded is not None and loaded.version == version:
                return loaded
            import ctranslate2

            modules = argos(self.models_dir)
            package = modules["package"].Package(path)
            translator = ctranslate2.Translator(
                str(path / "model"), device="cpu", inter_threads=1, intra_threads=self.threads
            )
            loaded = _Loaded(key, version, package, translator, _SpacySentencizer(path, key[0]))
            self._loaded[key] = loaded
            return loaded

    def _route(self, source: str, target: str) -> list[tuple[str, str]] | None:
        available = self._packages()
        if (source, target) in available:
            return [(source, target)]
        if PIVOT not in (source, target) and {(source, PIVOT), (PIVOT, target)} <= set(available):
            return [(source, PIVOT), (PIVOT, target)]
        return None

    # translating ---------------------------------------------------------------------------

    def _run(self, loaded: _Loaded, text: str) -> str:
        """Argos's translation of ``text`` (paragraph by paragraph, as Argos does)."""
        translate = argos(self.models_dir)["translate"]
        paragraphs = []
        for paragraph in text.split("\n"):
            hypotheses = translate.apply_packaged_translation(
                loaded.package, paragraph, loaded.translator, loaded.sentencizer, 1
            )
            paragraphs.append(hypotheses[0].value)
        return "\n".join(paragraphs).lstrip("\n")

    def translate(self, text: str, source: str, target: str) -> Translation:
        """``text`` from ``source`` to ``target`` (ISO 639-1/639-3 codes); never raises."""
        if source == "und":
            return Translation(
                source, target, None, None,
                "cannot translate: the source language is undetermined ('und')",
            )  # fmt: skip
        try:
            source, target = to_iso639_1(source), to_iso639_1(target)
        except ValueError as exc:
            return Translation(source, target, None, None, f"cannot translate: {exc}")
        if source == target:
            return Translation(source, target, text, "identity", None)
        if not text.strip():
            return Translation(source, target, text, "identity", None)
        route = self._route(source, target)
        if route is None:
            return Translation(source, target, None, None, missing_pair_message(source, target))
        try:
            steps = [self._load(key) for key in route]
        except Exception as exc:  # a broken package becomes the item's error
            log.exception("cannot load translation package for %s->%s", source, target)
            return Translation(
                source, target, None, None,
                f"translation model for {source}->{target} failed to load: {exc}; reinstall it: "
                f"{install_command(*route[0])}",
            )  # fmt: skip
        model = "argos:" + "+".join(step.label for step in steps)
        key = (model, text)
        with self._lock:
            cached = self._cache.get(key)
            if cached is not None:
                self._cache.move_to_end(key)
                self._hits += 1
                return cached
            self._misses += 1
        try:
            result = text
            for step in steps:
                result = self._run(step, result)
        except Exception as exc:  # a failing model becomes the item's error
            log.exception("translation %s failed", model)
            return Translation(source, target, None, model, f"translation failed: {exc}")
        translation = Translation(source, target, result, model, None)
        if self.cache_size > 0:
            with self._lock:
                self._cache[key] = translation
                while len(self._cache) > self.cache_size:
                    self._cache.popitem(last=False)
        return translation

    def cache_info(self) -> CacheInfo:
        with self._lock:
            return CacheInfo(self._hits, self._misses, len(self._cache), self.cache_size)


# installing --------------------------------------------------------------------------------


def _package_root(names: list[str], path: Path) -> str:
    """The one top-level folder of an .argosmodel zip (and no unsafe member names)."""
    roots = set()
    for name in names:
        pure = PurePosixPath(name)
        if pure.is_absolute() or ".." in pure.parts or "\\" in name:
            raise ModelFileError(f"{path}: unsafe member name {name!r} in the archive")
        roots.add(pure.parts[0])
    if len(roots) != 1:
        raise ModelFileError(
            f"{path}: an .argosmodel holds exactly one top-level folder, found "
            f"{', '.join(sorted(roots)) or 'none'}"
        )
    return roots.pop()


def install_translation_package(path: Path, models_dir: Path) -> InstalledModel:
    """Install an ``.argosmodel`` into ``<models_dir>/translate/<from>_<to>/``.

    Checks the archive (one folder with ``metadata.json`` of type ``translate``, a
    CTranslate2 ``model/``, a ``sentencepiece.model`` or ``bpe.model``), adds a blank spaCy
    sentence splitter when the package ships none, and replaces an installed package of the
    same pair.
    """
    path = Path(path)
    if not zipfile.is_zipfile(path):
        raise ModelFileError(
            f"{path} is not an .argosmodel (zip) file", details={"path": str(path)}
        )
    root = Path(models_dir) / "translate"
    root.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".install-", dir=root) as tmp:
        with zipfile.ZipFile(path) as archive:
            top = _package_root(archive.namelist(), path)
            archive.extractall(tmp)
        package = Path(tmp) / top
        try:
            metadata = json.loads((package / "metadata.json").read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ModelFileError(f"{path}: no readable {top}/metadata.json ({exc})") from exc
        if metadata.get("type", "translate") != "translate":
            raise ModelFileError(
                f"{path}: package type {metadata.get('type')!r}; only 'translate' packages are used"
            )
        try:
            source = to_iso639_1(str(metadata.get("from_code")))
            target = to_iso639_1(str(metadata.get("to_code")))
        except ValueError as exc:
            raise ModelFileError(f"{path}: metadata.json from_code/to_code: {exc}") from exc
        if not (package / "model" / "model.bin").is_file():
            raise ModelFileError(f"{path}: no CTranslate2 model ({top}/model/model.bin)")
        if not any((package / name).is_file() for name in ("sentencepiece.model", "bpe.model")):
            raise ModelFileError(f"{path}: no tokenizer ({top}/sentencepiece.model or bpe.model)")
        if not (package / "spacy").is_dir():
            import spacy

            spacy.blank("xx").to_disk(package / "spacy")
        target_dir = root / f"{source}_{target}"
        if target_dir.exists():
            old = Path(tmp) / "replaced"
            target_dir.rename(old)
        package.rename(target_dir)
    log.info("installed translation package %s->%s into %s", source, target, target_dir)
    return file_model(
        "translation",
        f"argos:{source}_{target}",
        str(metadata.get("package_version") or "?"),
        target_dir,
    )
