"""Detoxify checkpoints from the models directory, on torch or on the ONNX Runtime serving path.

Layout (``settings.effective_models_dir``)::

    detoxify/<variant>/checkpoint.ckpt     the checkpoint, byte for byte as released
    detoxify/<variant>/checkpoint.json     its sha256 (and the size and mtime it was taken at)
    detoxify/<variant>/hf/                 config.json + tokenizer files of its base model
    detoxify/<variant>/onnx/<key>/         the serving path's cache: model.onnx, model-int8.onnx,
                                           meta.json (key = checkpoint sha256[:16] + export format)

Loading goes through the real ``detoxify.Detoxify(checkpoint=..., huggingface_config_path=...)``
(OFFLINE.md gives the checkpoint format). Released checkpoints name their base model by hub id
(``model_type: bert-base-uncased``), which Detoxify hands to ``from_pretrained`` and which fails
offline; when it is not a local folder, the checkpoint is handed over in memory with
``model_type`` pointing at the installed ``hf/`` folder. The file itself is never rewritten, so the
version (its sha256[:12]) matches the hash prefix in the released file names
(``toxic_original-c1212f89.ckpt``).

Scoring, the same on both runtimes:

- texts longer than the window (the model's 512 tokens, or ``max_tokens``) are split into token
  windows that overlap by ``overlap`` tokens, each scored, and max-pooled per label: an insult at
  the end of a long comment is not cut off as ``Detoxify.predict``'s truncation would;
- windows are sorted by length and batched (``batch_size``), each batch padded to its own longest;
- Detoxify's labels are reported as the contract's attributes (toxic -> toxicity, obscene ->
  profanity, identity_hate -> identity_attack...); other labels (``sexual_explicit``...) keep
  their own names.

The ONNX runtime exports the checkpoint once (onnx_serving.py), checks the export against the
torch model on ``VALIDATION_TEXTS`` (fp32 must agree within 1e-3, or loading fails), and measures
the int8 model's largest score difference on the same texts. ``precision="auto"`` serves int8
when that difference is within ``INT8_TOLERANCE`` (half of the 0.02 the issue allows, as a margin
for texts unlike the validation set), else fp32. Every score's version says which ran:
``<sha256[:12]>@torch``, ``@onnx-fp32`` or ``@onnx-int8``.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import os
import shutil
import tempfile
import threading
import zipfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from core.errors import InvalidInputError
from localization import InstalledModel

from ..errors import ModelFormatError, ModelMissingError
from . import onnx_serving
from .base import ATTRIBUTES, TextScores

if TYPE_CHECKING:
    from detoxify import Detoxify

__all__ = [
    "INT8_TOLERANCE",
    "LABEL_ATTRIBUTES",
    "RUNTIMES",
    "VALIDATION_TEXTS",
    "VARIANTS",
    "DetoxifyClassifier",
    "DetoxifyFiles",
    "checkpoint_sha256",
    "detoxify_files",
    "install_detoxify_checkpoint",
    "installed_detoxify_variants",
    "load_detoxify",
]

log = logging.getLogger(__name__)

#: The variants Detoxify publishes, in the order ``auto`` prefers them.
VARIANTS = ("original", "unbiased", "multilingual", "original-small", "unbiased-small")
#: The released checkpoint file and the base model whose config and tokenizer go in ``hf/``.
RELEASES = {
    "original": ("toxic_original-c1212f89.ckpt", "bert-base-uncased"),
    "unbiased": ("toxic_debiased-c7548aa0.ckpt", "roberta-base"),
    "multilingual": ("multilingual_debiased-0b549669.ckpt", "xlm-roberta-base"),
    "original-small": ("original-albert-0e1d6498.ckpt", "albert-base-v2"),
    "unbiased-small": ("unbiased-albert-c8519128.ckpt", "albert-base-v2"),
}
RUNTIMES = ("onnx", "torch")
PRECISIONS = ("auto", "int8", "fp32")

#: Detoxify's labels (raw, or as ``Detoxify`` renames them) -> the contract's attributes.
LABEL_ATTRIBUTES = {
    "toxic": "toxicity",
    "toxicity": "toxicity",
    "severe_toxic": "severe_toxicity",
    "severe_toxicity": "severe_toxicity",
    "identity_hate": "identity_attack",
    "identity_attack": "identity_attack",
    "insult": "insult",
    "obscene": "profanity",
    "threat": "threat",
}

#: Largest int8-vs-torch score difference on VALIDATION_TEXTS that ``precision="auto"`` accepts.
INT8_TOLERANCE = 0.01
#: Largest fp32 ONNX-vs-torch difference before an export is refused as broken.
FP32_TOLERANCE = 1e-3
#: Bumped when the export changes, so caches made by older code are not reused.
EXPORT_FORMAT = 1

CHECKPOINT = "checkpoint.ckpt"
CHECKPOINT_INFO = "checkpoint.json"
HF_DIR = "hf"
ONNX_DIR = "onnx"
_WEIGHT_FILES = ("*.bin", "*.safetensors", "*.h5", "*.msgpack", "*.ot", "*.onnx", "*.ckpt")
_TOKENIZER_FILES = (
    "tokenizer.json",
    "vocab.txt",
    "vocab.json",
    "sentencepiece.bpe.model",
    "spiece.model",
)

#: What the export is checked on: comments of many lengths and languages, some abusive, so that
#: batches mix paddings and the scores spread. Long ones repeat to ~60-300 tokens.
VALIDATION_TEXTS: tuple[str, ...] = (
    "you are an idiot",
    "I love this song so much!",
    "shut up, nobody asked you, you stupid clown",
    "great video, thanks for sharing",
    "I will find you and hurt you",
    "what a bunch of disgusting vermin, they should all go back where they came from",
    "lol",
    "this is the worst dance I have ever seen, delete your account",
    "Eres un idiota y nadie te quiere",
    "Qué vídeo tan bonito, me encanta",
    "Du bist so ein dummer Mensch",
    "Tolles Video, weiter so!",
    "t'es vraiment nul, dégage",
    "merci pour la recette",
    "f*** off you piece of sh*t",
    "I don't hate them, I just disagree with their opinion",
    "",
    "ok",
    "Why would anyone post this? It's garbage and so are you.",
    "my grandma makes this every sunday and it is delicious " * 6,
    "people like you are the reason this platform is dying, you absolute moron " * 8,
    "the quick brown fox jumps over the lazy dog while the cat watches " * 20,
    "kill yourself",
    "happy birthday!!! 🎉🎉",
)


# -- files ---------------------------------------------------------------------------------------


def _install_command(variant: str) -> str:
    release, base = RELEASES.get(variant, ("CHECKPOINT.ckpt", "BASE-MODEL"))
    return f"vigil models install {release} --variant {variant} --hf-dir {base}/"


@dataclass(frozen=True)
class DetoxifyFiles:
    """Where one variant's files live in the models directory."""

    variant: str
    folder: Path

    @property
    def checkpoint(self) -> Path:
        return self.folder / CHECKPOINT

    @property
    def hf_dir(self) -> Path:
        return self.folder / HF_DIR

    @property
    def onnx_dir(self) -> Path:
        return self.folder / ONNX_DIR

    def missing(self) -> Path | None:
        """The first required file that is not there, or None."""
        for required in (self.checkpoint, self.hf_dir / "config.json"):
            if not required.is_file():
                return required
        return None

    def require(self) -> None:
        """Raise ModelMissingError naming the missing file and the install command."""
        missing = self.missing()
        if missing is None:
            return
        command = _install_command(self.variant)
        raise ModelMissingError(
            f"Detoxify {self.variant} is not installed: {missing} is missing; install the "
            f"checkpoint and its base model's config and tokenizer with `{command}`",
            details={"model": f"detoxify-{self.variant}", "path": str(missing), "command": command},
        )


def _check_variant(variant: str) -> str:
    if variant not in VARIANTS:
        raise InvalidInputError(
            f"unknown Detoxify variant {variant!r}; use one of {', '.join(VARIANTS)}",
            details={"field": "variant", "value": variant, "allowed": list(VARIANTS)},
        )
    return variant


def detoxify_files(models_dir: Path, variant: str) -> DetoxifyFiles:
    """The files of ``variant`` under ``models_dir`` (whether installed or not)."""
    return DetoxifyFiles(_check_variant(variant), Path(models_dir) / "detoxify" / variant)


def installed_detoxify_variants(models_dir: Path) -> list[str]:
    """Variants with a checkpoint and an ``hf/config.json``, in ``VARIANTS`` order."""
    return [v for v in VARIANTS if detoxify_files(models_dir, v).missing() is None]


def checkpoint_sha256(path: Path) -> str:
    """The checkpoint's sha256, from ``checkpoint.json`` while size and mtime still match."""
    info_path = path.with_name(CHECKPOINT_INFO)
    stat = path.stat()
    info: dict[str, Any] = {}
    if info_path.is_file():
        try:
            info = json.loads(info_path.read_text(encoding="utf-8"))
        except ValueError:
            info = {}
        if info.get("size") == stat.st_size and info.get("mtime_ns") == stat.st_mtime_ns:
            return str(info["sha256"])
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    info.update(sha256=digest.hexdigest(), size=stat.st_size, mtime_ns=stat.st_mtime_ns)
    try:
        info_path.write_text(json.dumps(info, indent=2), encoding="utf-8")
    except OSError as exc:  # a read-only models directory: hash again next time
        log.info("could not cache the checkpoint hash in %s: %s", info_path, exc)
    return str(info["sha256"])


def _read_checkpoint(path: Path) -> dict[str, Any]:
    """Unpickle a checkpoint (memory-mapped where its format allows) and check its shape.

    A checkpoint is a pickle, and Detoxify loads it with ``weights_only=False``: installing one
    means trusting it, like installing a package.
    """
    import pickle

    import torch

    try:
        try:
            loaded = torch.load(path, map_location="cpu", weights_only=False, mmap=True)
        except RuntimeError:  # the pre-1.6 format cannot be memory-mapped
            loaded = torch.load(path, map_location="cpu", weights_only=False)
    except (OSError, RuntimeError, pickle.UnpicklingError, EOFError) as exc:
        raise ModelFormatError(
            f"{path} is not a readable torch checkpoint: {exc}", details={"path": str(path)}
        ) from exc
    try:
        args = loaded["config"]["arch"]["args"]
        classes = list(loaded["config"]["dataset"]["args"]["classes"])
        missing = {"model_type", "model_name", "tokenizer_name", "num_classes"} - set(args)
        loaded["state_dict"]
    except (KeyError, TypeError) as exc:
        raise ModelFormatError(
            f"{path} is not a Detoxify checkpoint: it needs config.arch.args, "
            f"config.dataset.args.classes and state_dict (missing {exc})",
            details={"path": str(path)},
        ) from exc
    if missing:
        raise ModelFormatError(
            f"{path} is not a Detoxify checkpoint: config.arch.args lacks {sorted(missing)}",
            details={"path": str(path)},
        )
    if not classes:
        raise ModelFormatError(f"{path} names no classes", details={"path": str(path)})
    return dict(loaded)


def load_detoxify(files: DetoxifyFiles) -> Detoxify:
    """The real ``detoxify.Detoxify`` on the installed checkpoint, with no network access."""
    import torch
    from detoxify import Detoxify

    files.require()
    checkpoint: str | io.BytesIO = str(files.checkpoint)
    loaded = _read_checkpoint(files.checkpoint)
    args = loaded["config"]["arch"]["args"]
    if not (Path(str(args["model_type"])) / "config.json").is_file():
        # A hub id such as "bert-base-uncased": Detoxify would try to download its config.
        loaded["config"]["arch"]["args"] = {**args, "model_type": str(files.hf_dir)}
        buffer = io.BytesIO()
        torch.save(loaded, buffer)
        buffer.seek(0)
        checkpoint = buffer
    del loaded
    try:
        model = Detoxify(checkpoint=checkpoint, huggingface_config_path=str(files.hf_dir))
    except (OSError, ValueError, RuntimeError, KeyError, AttributeError) as exc:
        raise ModelFormatError(
            f"Detoxify could not load {files.checkpoint} with {files.hf_dir}: {exc}",
            details={"path": str(files.checkpoint), "hf_dir": str(files.hf_dir)},
        ) from exc
    model.model.eval()
    return model


# -- install -------------------------------------------------------------------------------------


def _locate(path: Path, hf_dir: Path | None, scratch: Path, variant: str) -> tuple[Path, Path]:
    """The checkpoint and the HF folder inside what the operator handed over."""
    # By suffix: a torch checkpoint is itself a zip archive.
    if path.is_file() and path.suffix.lower() == ".zip" and zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as archive:
            archive.extractall(scratch / "zip")  # extractall drops absolute and ".." parts
        path = scratch / "zip"
    if path.is_dir():
        checkpoints = sorted(path.rglob("*.ckpt"))
        if len(checkpoints) != 1:
            raise InvalidInputError(
                f"{path} must hold exactly one .ckpt file, found {len(checkpoints)}"
                + (f": {', '.join(p.name for p in checkpoints)}" if checkpoints else ""),
                details={"field": "path", "value": str(path)},
            )
        checkpoint = checkpoints[0]
        if hf_dir is None:
            folders = sorted(
                {p.parent for p in path.rglob("config.json")},
                key=lambda p: (p.name != HF_DIR, len(p.parts)),
            )
            hf_dir = folders[0] if folders else None
    elif path.is_file():
        checkpoint = path
        if hf_dir is None and (path.parent / HF_DIR / "config.json").is_file():
            hf_dir = path.parent / HF_DIR
    else:
        raise InvalidInputError(f"{path} does not exist", details={"field": "path"})
    if hf_dir is None:
        base = RELEASES[variant][1]
        raise InvalidInputError(
            f"no Hugging Face config next to {checkpoint.name}: pass the folder holding "
            f"{base}'s config.json and tokenizer files with --hf-dir "
            f"(`{_install_command(variant)}`)",
            details={"field": "hf_dir"},
        )
    if not (hf_dir / "config.json").is_file():
        raise InvalidInputError(
            f"{hf_dir / 'config.json'} is missing: --hf-dir must be the base model's folder "
            "with config.json and its tokenizer files",
            details={"field": "hf_dir", "value": str(hf_dir)},
        )
    if not any((hf_dir / name).is_file() for name in _TOKENIZER_FILES):
        raise InvalidInputError(
            f"{hf_dir} has no tokenizer: it needs one of {', '.join(_TOKENIZER_FILES)} "
            "(save_pretrained of the base model's tokenizer writes them)",
            details={"field": "hf_dir", "value": str(hf_dir)},
        )
    return checkpoint, hf_dir


def _fit_config(config_path: Path, num_classes: int, labels: Sequence[str]) -> None:
    """Give the copied config.json the checkpoint's label count (a stock base config has 2)."""
    config = json.loads(config_path.read_text(encoding="utf-8"))
    names = [labels[i] if i < len(labels) else f"LABEL_{i}" for i in range(num_classes)]
    config["id2label"] = {str(i): name for i, name in enumerate(names)}
    config["label2id"] = {name: i for i, name in enumerate(names)}
    config_path.write_text(json.dumps(config, indent=2), encoding="utf-8")


def _tree_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def install_detoxify_checkpoint(
    path: Path, models_dir: Path, variant: str, hf_dir: Path | None = None
) -> InstalledModel:
    """Install a checkpoint as ``detoxify/<variant>/`` and check that Detoxify loads it.

    ``path`` is a ``.ckpt`` (with ``hf_dir``, or an ``hf/`` folder beside it), or a folder or
    ``.zip`` holding one ``.ckpt`` and the config and tokenizer files. The checkpoint is copied
    byte for byte; the copied config.json gets the checkpoint's labels. The previous install of
    the variant is replaced only once the new one has loaded; its ONNX cache is kept (it is keyed
    by checkpoint hash, so a different checkpoint simply exports anew).
    """
    _check_variant(variant)
    root = Path(models_dir) / "detoxify"
    root.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="vigil-detoxify-") as scratch:
        checkpoint, hf = _locate(
            Path(path), Path(hf_dir) if hf_dir else None, Path(scratch), variant
        )
        loaded = _read_checkpoint(checkpoint)
        args = loaded["config"]["arch"]["args"]
        classes = [str(c) for c in loaded["config"]["dataset"]["args"]["classes"]]
        num_classes = int(args["num_classes"])
        model_name, tokenizer_name = str(args["model_name"]), str(args["tokenizer_name"])
        del loaded
        staging = Path(tempfile.mkdtemp(prefix=f".install-{variant}-", dir=root))
        try:
            shutil.copyfile(checkpoint, staging / CHECKPOINT)
            shutil.copytree(hf, staging / HF_DIR, ignore=shutil.ignore_patterns(*_WEIGHT_FILES))
            _fit_config(staging / HF_DIR / "config.json", num_classes, classes)
            stat = (staging / CHECKPOINT).stat()
            sha = checkpoint_sha256(staging / CHECKPOINT)
            info = {
                "sha256": sha,
                "size": stat.st_size,
                "mtime_ns": stat.st_mtime_ns,
                "variant": variant,
                "source": Path(path).name,
                "classes": classes,
                "num_classes": num_classes,
                "model_name": model_name,
                "tokenizer_name": tokenizer_name,
                "installed_at": datetime.now(UTC).isoformat(timespec="seconds"),
            }
            (staging / CHECKPOINT_INFO).write_text(json.dumps(info, indent=2), encoding="utf-8")
            load_detoxify(DetoxifyFiles(variant, staging))  # fail here, not in the worker
            target = root / variant
            if (target / ONNX_DIR).is_dir():
                os.rename(target / ONNX_DIR, staging / ONNX_DIR)
            if target.exists():
                retired = Path(tempfile.mkdtemp(prefix=f".retired-{variant}-", dir=root))
                os.rename(target, retired / variant)
                os.rename(staging, target)
                shutil.rmtree(retired, ignore_errors=True)
            else:
                os.rename(staging, target)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    log.info("installed Detoxify %s (%s) at %s", variant, sha[:12], target)
    return InstalledModel("toxicity", f"detoxify-{variant}", sha[:12], target, _tree_size(target))


# -- scoring -------------------------------------------------------------------------------------

Runner = Callable[[Mapping[str, np.ndarray]], np.ndarray]


def _torch_runner(model: Any) -> Runner:
    import torch

    def run(feeds: Mapping[str, np.ndarray]) -> np.ndarray:
        with torch.inference_mode():
            out = model(**{name: torch.from_numpy(array) for name, array in feeds.items()})
        return np.asarray(out.logits.float().numpy())

    return run


def _onnx_runner(session: Any) -> Runner:
    def run(feeds: Mapping[str, np.ndarray]) -> np.ndarray:
        return np.asarray(session.run(["logits"], dict(feeds))[0])

    return run


def _model_limit(tokenizer: Any, config: Any) -> int:
    """Tokens (special ones included) one window may hold for this model."""
    limit = int(getattr(config, "max_position_embeddings", 512))
    if getattr(config, "model_type", "") in ("roberta", "xlm-roberta", "camembert"):
        # RoBERTa-style positions start after the padding index.
        limit -= int(getattr(config, "pad_token_id", 1) or 0) + 1
    declared = getattr(tokenizer, "model_max_length", None)
    if isinstance(declared, int) and 0 < declared < 1_000_000:
        limit = min(limit, declared)
    return limit


class _Scorer:
    """Tokenize into overlapping windows, run length-bucketed batches, max-pool per text."""

    def __init__(
        self,
        tokenizer: Any,
        labels: Sequence[str],
        *,
        limit: int,
        max_tokens: int | None,
        overlap: int | None,
        batch_size: int,
    ) -> None:
        specials = int(tokenizer.num_special_tokens_to_add())
        window = limit if max_tokens is None else int(max_tokens)
        if not specials + 2 <= window <= limit:
            raise InvalidInputError(
                f"max_tokens must be between {specials + 2} and the model's limit of {limit} "
                f"tokens, not {window}",
                details={"field": "max_tokens", "value": window, "limit": limit},
            )
        room = window - specials
        overlap = room // 4 if overlap is None else int(overlap)
        if not 0 <= overlap < room:
            raise InvalidInputError(
                f"overlap must be at least 0 and less than {room} tokens (the window's "
                f"{window} minus {specials} special tokens), not {overlap}",
                details={"field": "overlap", "value": overlap, "limit": room - 1},
            )
        if batch_size < 1:
            raise InvalidInputError(
                "batch_size must be at least 1", details={"field": "batch_size"}
            )
        self.tokenizer = tokenizer
        self.labels = tuple(labels)
        self.window, self.overlap, self.batch_size = window, overlap, batch_size
        self.input_names = tuple(tokenizer.model_input_names)
        pad = tokenizer.pad_token_id
        self.pad_id = int(pad if pad is not None else 0)
        # Fast tokenizers reconfigure truncation on every call; concurrent calls would collide.
        self._lock = threading.Lock()

    def windows(self, texts: Sequence[str]) -> tuple[list[list[int]], np.ndarray]:
        """Every text's token windows, and for each window the index of its text."""
        with self._lock:
            encoded = self.tokenizer(
                list(texts),
                truncation=True,
                max_length=self.window,
                stride=self.overlap,
                return_overflowing_tokens=True,
                return_attention_mask=False,
                return_token_type_ids=False,
            )
        owners = np.asarray(encoded["overflow_to_sample_mapping"], dtype=np.int64)
        return list(encoded["input_ids"]), owners

    def scores(self, texts: Sequence[str], run: Runner) -> np.ndarray:
        """(texts, labels) probabilities, each the max over the text's windows."""
        result = np.zeros((len(texts), len(self.labels)), dtype=np.float64)
        if not texts:
            return result
        sequences, owners = self.windows(texts)
        probabilities = np.empty((len(sequences), len(self.labels)), dtype=np.float64)
        for batch in onnx_serving.bucket_batches(
            sequences,
            batch_size=self.batch_size,
            pad_id=self.pad_id,
            input_names=self.input_names,
        ):
            logits = run(batch.feeds)
            # Detoxify reads the first len(classes) outputs and ignores any extra heads.
            probabilities[batch.indices] = onnx_serving.sigmoid(logits[:, : len(self.labels)])
        np.maximum.at(result, owners, probabilities)
        return result


def _attribute_names(labels: Sequence[str]) -> tuple[str, ...]:
    mapped = [LABEL_ATTRIBUTES.get(label, label) for label in labels]
    known = [a for a in ATTRIBUTES if a in mapped]
    extra = [a for a in dict.fromkeys(mapped) if a not in ATTRIBUTES]
    return (*known, *extra)


def _load_tokenizer(tokenizer_name: str, hf_dir: Path) -> Any:
    """The tokenizer class the checkpoint names, from the local folder (as Detoxify does)."""
    import transformers

    return getattr(transformers, tokenizer_name).from_pretrained(str(hf_dir), local_files_only=True)


def _version_key(sha: str) -> str:
    return f"{sha[:16]}-f{EXPORT_FORMAT}"


class DetoxifyClassifier:
    """A Detoxify checkpoint as a TextClassifier, on ``runtime`` "onnx" (default) or "torch".

    ``precision`` (ONNX only): "auto" serves int8 where the export's validation kept it within
    ``INT8_TOLERANCE`` of torch, else fp32; "int8" and "fp32" force one. ``max_tokens`` narrows
    the window (default: the model's limit, 512); ``overlap`` is the tokens consecutive windows
    share (default a quarter of the window); ``threads`` the ONNX intra-op threads (default: the
    CPUs this process may use).
    """

    def __init__(
        self,
        variant: str,
        models_dir: Path,
        *,
        runtime: str = "onnx",
        precision: str = "auto",
        batch_size: int = 32,
        max_tokens: int | None = None,
        overlap: int | None = None,
        threads: int | None = None,
    ) -> None:
        if runtime not in RUNTIMES:
            raise InvalidInputError(
                f"unknown Detoxify runtime {runtime!r}; use onnx or torch",
                details={"field": "detoxify_runtime", "value": runtime, "allowed": list(RUNTIMES)},
            )
        if precision not in PRECISIONS or (runtime == "torch" and precision == "int8"):
            raise InvalidInputError(
                f"precision {precision!r} is not available on the {runtime} runtime; use "
                + ("auto, int8 or fp32" if runtime == "onnx" else "auto or fp32"),
                details={"field": "precision", "value": precision},
            )
        self.files = detoxify_files(models_dir, variant)
        self.files.require()
        self.variant = variant
        self.name = f"detoxify-{variant}"
        self.runtime = runtime
        self.checkpoint_sha256 = checkpoint_sha256(self.files.checkpoint)
        self.int8_max_abs_diff: float | None = None
        if runtime == "torch":
            detox = load_detoxify(self.files)
            tokenizer, labels = detox.tokenizer, list(detox.class_names)
            limit = _model_limit(tokenizer, detox.model.config)
            self._run = _torch_runner(detox.model)
            self._model: Any = detox
            self.precision = "fp32"
            tag = "torch"
        else:
            meta = self._onnx_cache()
            tokenizer = _load_tokenizer(meta["tokenizer_name"], self.files.hf_dir)
            labels, limit = list(meta["labels"]), int(meta["max_length"])
            self.int8_max_abs_diff = float(meta["int8_max_abs_diff"])
            if precision == "auto":
                precision = "int8" if self.int8_max_abs_diff <= INT8_TOLERANCE else "fp32"
            self.precision = precision
            model_file = "model-int8.onnx" if precision == "int8" else "model.onnx"
            session = onnx_serving.open_session(
                self.files.onnx_dir / _version_key(self.checkpoint_sha256) / model_file,
                threads=threads,
            )
            self._run = _onnx_runner(session)
            self._model = session
            tag = f"onnx-{precision}"
        self.labels = tuple(labels)
        self.version = f"{self.checkpoint_sha256[:12]}@{tag}"
        self.attributes = _attribute_names(labels)
        self._scorer = _Scorer(
            tokenizer,
            labels,
            limit=limit,
            max_tokens=max_tokens,
            overlap=overlap,
            batch_size=batch_size,
        )
        self.max_tokens, self.overlap = self._scorer.window, self._scorer.overlap

    # -- the ONNX cache --

    def _onnx_cache(self) -> dict[str, Any]:
        """The export's meta.json, exporting first when this checkpoint has none yet."""
        folder = self.files.onnx_dir / _version_key(self.checkpoint_sha256)
        meta_path = folder / "meta.json"
        if not meta_path.is_file():
            self._export(folder)
        return dict(json.loads(meta_path.read_text(encoding="utf-8")))

    def _export(self, folder: Path) -> None:
        """Export, quantize and validate in a scratch folder, then rename it into place."""
        import onnxruntime
        import torch
        import transformers

        log.info("exporting %s (%s) to ONNX", self.name, self.checkpoint_sha256[:12])
        detox = load_detoxify(self.files)
        labels = list(detox.class_names)
        tokenizer = detox.tokenizer
        limit = _model_limit(tokenizer, detox.model.config)
        scorer = _Scorer(
            tokenizer, labels, limit=limit, max_tokens=None, overlap=None, batch_size=8
        )
        try:
            folder.parent.mkdir(parents=True, exist_ok=True)
            scratch = Path(tempfile.mkdtemp(prefix=".export-", dir=folder.parent))
        except OSError as exc:
            raise ModelMissingError(
                f"{self.name} has no ONNX export yet and {folder.parent} is not writable "
                f"({exc}); load it once where the models directory is writable (it exports "
                "there and keeps the files), or set VIGIL_MODERATION__DETOXIFY_RUNTIME=torch",
                details={"model": self.name, "path": str(folder)},
            ) from exc
        try:
            onnx_serving.export_sequence_classifier(
                detox.model, scorer.input_names, scratch / "model.onnx"
            )
            onnx_serving.quantize_int8(scratch / "model.onnx", scratch / "model-int8.onnx")
            texts = list(VALIDATION_TEXTS)
            reference = scorer.scores(texts, _torch_runner(detox.model))
            differences = {}
            for precision, file in (("fp32", "model.onnx"), ("int8", "model-int8.onnx")):
                session = onnx_serving.open_session(scratch / file)
                got = scorer.scores(texts, _onnx_runner(session))
                differences[precision] = float(np.abs(got - reference).max())
                del session
            if differences["fp32"] > FP32_TOLERANCE:
                raise ModelFormatError(
                    f"the ONNX export of {self.name} scores up to {differences['fp32']:.4f} "
                    f"away from torch (allowed {FP32_TOLERANCE}); serve it on torch instead "
                    "(VIGIL_MODERATION__DETOXIFY_RUNTIME=torch)",
                    details={"model": self.name, "fp32_max_abs_diff": differences["fp32"]},
                )
            meta = {
                "checkpoint_sha256": self.checkpoint_sha256,
                "export_format": EXPORT_FORMAT,
                "opset": onnx_serving.OPSET,
                "labels": labels,
                "model_name": type(detox.model).__name__,
                "tokenizer_name": type(tokenizer).__name__,
                "input_names": list(scorer.input_names),
                "max_length": limit,
                "fp32_max_abs_diff": differences["fp32"],
                "int8_max_abs_diff": differences["int8"],
                "validation_texts": len(texts),
                "exported_with": {
                    "torch": torch.__version__,
                    "transformers": transformers.__version__,
                    "onnxruntime": onnxruntime.__version__,
                },
                "exported_at": datetime.now(UTC).isoformat(timespec="seconds"),
            }
            (scratch / "meta.json").write_text(json.dumps(meta, indent=2), encoding="utf-8")
            try:
                os.rename(scratch, folder)
            except OSError:
                if not (folder / "meta.json").is_file():
                    raise
                log.info("another process exported %s first; using its files", self.name)
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
        log.info(
            "exported %s: fp32 within %.1e, int8 within %.4f of torch",
            self.name,
            differences["fp32"],
            differences["int8"],
        )
        for stale in folder.parent.iterdir():
            # Exports of checkpoints this variant no longer has.
            if stale.is_dir() and not stale.name.startswith(".") and stale != folder:
                shutil.rmtree(stale, ignore_errors=True)

    # -- TextClassifier --

    def windows(self, text: str) -> list[str]:
        """The token windows ``text`` is scored in, decoded (for explanations and tests)."""
        sequences, _ = self._scorer.windows([text])
        tokenizer = self._scorer.tokenizer
        return [tokenizer.decode(ids, skip_special_tokens=True) for ids in sequences]

    def label_scores(self, texts: Sequence[str]) -> dict[str, list[float]]:
        """Detoxify's own labels -> one score per text (the shape ``Detoxify.predict`` gives)."""
        scores = self._scorer.scores(texts, self._run)
        return {label: scores[:, i].tolist() for i, label in enumerate(self.labels)}

    def classify(self, texts: Sequence[str]) -> list[TextScores]:
        """Scores per text, named as the contract's attributes (extra labels as they are)."""
        scores = self._scorer.scores(texts, self._run)
        attributes = [LABEL_ATTRIBUTES.get(label, label) for label in self.labels]
        results = []
        for row in scores:
            named: dict[str, float] = {}
            for attribute, value in zip(attributes, row, strict=True):
                named[attribute] = max(named.get(attribute, 0.0), float(value))
            results.append(TextScores(model=self.name, version=self.version, scores=named))
        return results
