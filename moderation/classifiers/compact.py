"""The compact multilingual toxicity classifier: Vigil's offline default when no Detoxify checkpoint
is installed.

Features: the text is normalized (moderation.normalize), URLs and @mentions become placeholders,
the context layer (moderation.classifiers.context) marks negated, quoted/reported and reclaimed
words, then two stateless hashed blocks are built with scikit-learn's HashingVectorizer
(MurmurHash3, nothing learned, nothing pickled): character n-grams (char_wb 1-5) of the unmarked
words and word uni/bigrams of all words (marked ones prefixed). Counts are log-scaled and each
block is L2-normalized. One logistic-regression head per attribute turns them into a score.

The model file is an ``.npz`` read with ``allow_pickle=False``: int8 weights with a float scale
per head, float biases and the metadata as JSON (version, feature spec, training command, data sets,
cross-validated ROC-AUC per set). ``vigil models train toxicity`` writes it; the shipped one lives
in moderation/data/, one installed in ``<models dir>/toxicity/`` takes precedence when newer.
"""

from __future__ import annotations

import html
import json
import re
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from localization import InstalledModel

from ..errors import ModelFormatError, ModelMissingError
from ..normalize import normalize
from .base import TextScores
from .context import ContextView, mark_context

__all__ = [
    "FORMAT",
    "MODEL_NAME",
    "CompactClassifier",
    "Featurizer",
    "find_compact_model",
    "prepare",
    "read_metadata",
    "shipped_model_path",
]

MODEL_NAME = "vigil-compact"
FORMAT = "vigil-compact/1"

#: Feature spec of new models (the lexicon is added from moderation/data/toxicity-lexicon.yaml at
#: training); a model file carries its own copy, which inference follows.
DEFAULT_FEATURES: dict[str, Any] = {
    "char": {"analyzer": "char_wb", "ngram_range": [1, 5], "n_features": 2**19},
    "word": {"analyzer": "word", "ngram_range": [1, 2], "n_features": 2**18},
    "word_weight": 1.0,
    "lexicon_weight": 1.0,
    "sublinear_tf": True,
    "context": True,
    # Which marked words lose their character n-grams (they get upper-cased n-grams of their
    # own): "lexicon" = only the lexicon's words (the abuse the context neutralizes, "not an
    # idiot"); the other marked words ("them", "people") keep theirs. Cross-validated: hiding
    # every marked word ("all") cost up to 0.006 ROC-AUC, hiding none ("none") fails negation.
    "char_context": "lexicon",
}


def default_features() -> dict[str, Any]:
    """DEFAULT_FEATURES with the shipped lexicon (what ``vigil models train toxicity`` uses)."""
    import yaml

    path = resources.files("moderation") / "data" / "toxicity-lexicon.yaml"
    lexicon = yaml.safe_load(path.read_text(encoding="utf-8"))
    return dict(DEFAULT_FEATURES, lexicon=lexicon)


_ALWAYS_ABUSIVE_CATEGORIES = ("profanity", "identity_slur")


class Lexicon:
    """Counts, per category, the words of a text that a lexicon lists (see toxicity-lexicon.yaml).

    Matched on the word view of the context layer, so negated, quoted and reclaimed words (which
    carry a ``neg_``/``quo_``/``self_`` prefix there) never count. Whole words (and phrases of up
    to 3 words) only; doubled letters are folded on both sides ("fagot", "asshole", "ashole" are
    one key); a trailing ``*`` matches any ending; other ``*`` are literal (masked spellings such
    as ``f****t``). Dictionary look-ups, not one big regex: ~3 µs for a short comment.
    """

    def __init__(self, spec: Mapping[str, Any]) -> None:
        self.categories: tuple[str, ...] = tuple(spec["categories"])
        self._exact: dict[str, int] = {}
        self._stems: dict[str, int] = {}
        for index, category in enumerate(self.categories):
            for words in spec["categories"][category].values():
                for entry in words:
                    text = normalize(str(entry)).text.strip()
                    if text.endswith("*") and len(text) > 1:
                        self._stems.setdefault(_fold_doubles(text[:-1]), index)
                    elif text:
                        self._exact.setdefault(_fold_doubles(text), index)
        self._stem_lengths = tuple(sorted({len(s) for s in self._stems}))
        self._head = min(3, *self._stem_lengths) if self._stem_lengths else 3
        self._stem_heads = frozenset(s[: self._head] for s in self._stems)
        self._max_words = max((k.count(" ") + 1 for k in self._exact), default=1)
        abusive = {i for i, c in enumerate(self.categories) if c in _ALWAYS_ABUSIVE_CATEGORIES}
        self._abusive = abusive

    def _category(self, token: str) -> int:
        """The category of one folded token, or -1."""
        found = self._exact.get(token, -1)
        if found >= 0 or token[: self._head] not in self._stem_heads:
            return found
        for length in self._stem_lengths:
            if length > len(token):
                break
            found = self._stems.get(token[:length], -1)
            if found >= 0:
                return found
        return -1

    def lists(self, word: str) -> bool:
        """Whether the lexicon lists this word (in any category)."""
        return self._category(_fold_doubles(word)) >= 0

    def always_abusive(self, word: str) -> bool:
        """Profanity and slurs: what negation and scare quotes do not cancel."""
        return self._category(_fold_doubles(word)) in self._abusive

    def counts(self, texts: Sequence[str]) -> np.ndarray:
        """(len(texts), len(categories)) float32 counts."""
        out = np.zeros((len(texts), len(self.categories)), dtype=np.float32)
        exact = self._exact
        for row, text in enumerate(texts):
            tokens = _LEXICON_TOKENS.findall(_fold_doubles(text))
            skip = 0
            for i, token in enumerate(tokens):
                if skip:
                    skip -= 1
                    continue
                if "_" in token:  # marked by the context layer
                    continue
                for width in range(min(self._max_words, len(tokens) - i), 1, -1):
                    found = exact.get(" ".join(tokens[i : i + width]), -1)
                    if found >= 0:
                        out[row, found] += 1
                        skip = width - 1
                        break
                else:
                    found = self._category(token)
                    if found >= 0:
                        out[row, found] += 1
        return out


_DOUBLES = re.compile(r"([^\W\d_])\1+")
_LEXICON_TOKENS = re.compile(r"[\w*]+")  # "d'idiot" -> "d", "idiot"


def _fold_doubles(text: str) -> str:
    return _DOUBLES.sub(r"\1", text)


_WORD_TOKENS = r"(?u)\w[\w*']*"

_URL = re.compile(r"(?:https?://|www\.)\S+", re.IGNORECASE)
_MENTION = re.compile(r"(?<![\w@])@\w+")
_RETWEET = re.compile(r"(?:^|(?<=\s))rt @user:?", re.IGNORECASE)
_SPACES = re.compile(r"\s+")


def prepare(text: str, *, context: bool = True, lexicon: Lexicon | None = None) -> ContextView:
    """Raw text to the two feature views (placeholders, normalization, context layer)."""
    if "&" in text:
        text = html.unescape(text)
    if "http" in text or "www." in text:
        text = _URL.sub(" url ", text)
    if "@" in text:
        text = _MENTION.sub("@user", text)
        text = _RETWEET.sub(" ", text)
    # Elongation collapses to one letter in the classifier's view ("idiooooot", "fuuuuck",
    # "biiiitch" are the word itself; "goooood" becoming "god" costs nothing here).
    folded = normalize(text, max_repeats=1).text
    if "\n" in folded or "\t" in folded or "  " in folded:
        folded = _SPACES.sub(" ", folded).strip()
    if not context:
        return ContextView(char_text=folded, word_text=folded)
    return mark_context(
        folded, always_abusive=lexicon.always_abusive if lexicon is not None else None
    )


class Featurizer:
    """Hashed character and word n-gram features from a feature spec (stateless)."""

    def __init__(self, spec: Mapping[str, Any]) -> None:
        from sklearn.feature_extraction.text import HashingVectorizer

        self.spec = dict(spec)
        char, word = spec["char"], spec["word"]
        self.context = bool(spec.get("context", True))
        char_context = spec.get("char_context", "all")
        self.char_context = {True: "all", False: "none"}.get(char_context, char_context)
        self.sublinear = bool(spec.get("sublinear_tf", True))
        self.word_weight = float(spec.get("word_weight", 1.0))
        self._char = HashingVectorizer(
            analyzer=char["analyzer"],
            ngram_range=tuple(char["ngram_range"]),
            n_features=int(char["n_features"]),
            alternate_sign=False,
            norm=None,
            lowercase=False,
            dtype=np.float32,
        )
        self._word = HashingVectorizer(
            analyzer=word["analyzer"],
            ngram_range=tuple(word["ngram_range"]),
            n_features=int(word["n_features"]),
            alternate_sign=False,
            norm=None,
            lowercase=False,
            token_pattern=_WORD_TOKENS,
            dtype=np.float32,
        )
        self.lexicon = Lexicon(spec["lexicon"]) if spec.get("lexicon") else None
        self.lexicon_weight = float(spec.get("lexicon_weight", 1.0))
        self.n_features = (
            int(char["n_features"])
            + int(word["n_features"])
            + (len(self.lexicon.categories) if self.lexicon else 0)
        )

    def views(self, texts: Sequence[str]) -> list[ContextView]:
        return [prepare(t, context=self.context, lexicon=self.lexicon) for t in texts]

    def transform(self, texts: Sequence[str]) -> Any:
        """A CSR matrix (len(texts), n_features) for raw texts."""
        return self.transform_views(self.views(texts))

    def transform_views(self, views: Sequence[ContextView]) -> Any:
        import scipy.sparse as sp

        if self.char_context == "all":
            char_texts = [v.char_text for v in views]
        elif self.char_context == "lexicon" and self.lexicon is not None:
            char_texts = [self._hide_lexicon_words(v) if v.marked else v.char_text for v in views]
        else:  # marked words keep their character n-grams (only words and lexicon see marks)
            char_texts = [v.char_text.lower() if v.marked else v.char_text for v in views]
        chars = self._block(self._char.transform(char_texts), 1.0)
        word_texts = [v.word_text for v in views]
        words = self._block(self._word.transform(word_texts), self.word_weight)
        blocks = [chars, words]
        if self.lexicon is not None:
            counts = self.lexicon.counts(word_texts)
            np.log1p(counts, out=counts)
            blocks.append(sp.csr_matrix(counts * self.lexicon_weight))
        return sp.hstack(blocks, format="csr")

    def _hide_lexicon_words(self, view: ContextView) -> str:
        """Upper-case (hide) only the marked words that the lexicon lists."""
        assert self.lexicon is not None
        parts = []
        for token in view.char_text.split(" "):
            lower = token.lower()
            if token != lower and not self.lexicon.lists(lower):
                token = lower
            parts.append(token)
        return " ".join(parts)

    def _block(self, matrix: Any, weight: float) -> Any:
        from sklearn.preprocessing import normalize as l2_normalize

        if self.sublinear:
            np.log1p(matrix.data, out=matrix.data)
        matrix = l2_normalize(matrix, norm="l2", copy=False)
        if weight != 1.0:
            matrix.data *= weight
        return matrix


@dataclass(frozen=True)
class CompactModel:
    """The contents of a model file."""

    path: Path
    metadata: Mapping[str, Any]
    weights: np.ndarray  # float32 (n_features, n_heads), dequantized
    bias: np.ndarray  # float32 (n_heads,)

    @property
    def heads(self) -> tuple[str, ...]:
        return tuple(self.metadata["heads"])

    @property
    def version(self) -> str:
        return str(self.metadata["version"])


def read_metadata(path: Path) -> dict[str, Any]:
    """The JSON metadata of a model file, without loading its weights."""
    try:
        with np.load(path, allow_pickle=False) as archive:
            metadata: dict[str, Any] = json.loads(str(archive["metadata"]))
    except (OSError, ValueError, KeyError) as exc:
        raise ModelFormatError(
            f"{path} is not a Vigil compact model file ({exc}); retrain it with "
            "`vigil models train toxicity --out PATH`",
            details={"path": str(path)},
        ) from exc
    if metadata.get("format") != FORMAT:
        raise ModelFormatError(
            f"{path} has format {metadata.get('format')!r}, this Vigil reads {FORMAT!r}; "
            "retrain it with `vigil models train toxicity --out PATH`",
            details={"path": str(path), "format": metadata.get("format")},
        )
    return metadata


def load_model(path: Path) -> CompactModel:
    """Read a model file (int8 weights with a scale per head) into float32 arrays."""
    metadata = read_metadata(path)
    with np.load(path, allow_pickle=False) as archive:
        quantized = archive["weights"]
        scales = archive["scales"].astype(np.float32)
        bias = archive["bias"].astype(np.float32)
    weights = quantized.astype(np.float32) * scales[np.newaxis, :]
    features = metadata["features"]
    lexicon = features.get("lexicon")
    expected = (
        int(features["char"]["n_features"])
        + int(features["word"]["n_features"])
        + (len(lexicon["categories"]) if lexicon else 0),
        len(metadata["heads"]),
    )
    if weights.shape != expected:
        raise ModelFormatError(
            f"{path}: weights of shape {weights.shape}, its metadata says {expected}; "
            "retrain it with `vigil models train toxicity --out PATH`",
            details={"path": str(path)},
        )
    return CompactModel(path=path, metadata=metadata, weights=weights, bias=bias)


def save_model(
    path: Path, weights: np.ndarray, bias: np.ndarray, metadata: Mapping[str, Any]
) -> None:
    """Write a model file (int8 weights, per-head scale) and its JSON sidecar next to it."""
    weights = np.asarray(weights, dtype=np.float32)
    scales = np.abs(weights).max(axis=0) / 127.0
    scales[scales == 0] = 1.0
    quantized = np.clip(np.rint(weights / scales), -127, 127).astype(np.int8)
    meta = dict(metadata, format=FORMAT, quantization="int8, one float32 scale per head")
    text = json.dumps(meta, ensure_ascii=False, sort_keys=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as handle:
        np.savez_compressed(
            handle,
            weights=quantized,
            scales=scales.astype(np.float32),
            bias=np.asarray(bias, dtype=np.float32),
            metadata=np.array(text),
        )
    path.with_suffix(".json").write_text(
        json.dumps(meta, ensure_ascii=False, indent=2, sort_keys=True) + "\n", encoding="utf-8"
    )


def shipped_model_path() -> Path:
    """The model file inside the package (moderation/data/)."""
    data = resources.files("moderation") / "data"
    candidates = sorted(
        (Path(str(p)) for p in data.iterdir() if p.name.startswith(MODEL_NAME + "-")),
        key=lambda p: _version_key(p.stem.removeprefix(MODEL_NAME + "-")),
    )
    npz = [p for p in candidates if p.suffix == ".npz"]
    if not npz:
        raise ModelMissingError(
            f"no {MODEL_NAME}-<version>.npz in {data}; the package is incomplete: reinstall "
            "Vigil or train one with `vigil models train toxicity`",
            details={"path": str(data)},
        )
    return npz[-1]


def installed_model_paths(models_dir: Path) -> list[Path]:
    """Compact model files installed in ``<models_dir>/toxicity/``, oldest version first."""
    folder = models_dir / "toxicity"
    if not folder.is_dir():
        return []
    return sorted(
        folder.glob(f"{MODEL_NAME}-*.npz"),
        key=lambda p: _version_key(p.stem.removeprefix(MODEL_NAME + "-")),
    )


def install_compact_model(path: Path, models_dir: Path) -> InstalledModel:
    """Install a compact model file (``vigil models train toxicity --out``) into
    ``<models_dir>/toxicity/`` as ``vigil-compact-<version>.npz``, after loading it once: a file
    that would not load is refused here, not when a worker starts."""
    model = load_model(Path(path))
    folder = models_dir / "toxicity"
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"{MODEL_NAME}-{model.version}.npz"
    partial = target.with_name(target.name + ".partial")
    shutil.copyfile(path, partial)
    partial.replace(target)  # atomic: a worker never reads half a file
    target.with_suffix(".json").write_text(
        json.dumps(model.metadata, ensure_ascii=False, indent=2, sort_keys=True) + "\n",
        encoding="utf-8",
    )
    return InstalledModel(
        kind="toxicity",
        name=MODEL_NAME,
        version=model.version,
        path=target,
        size_bytes=target.stat().st_size,
    )


def find_compact_model(models_dir: Path | None) -> Path:
    """The newest compact model: an installed one when it is newer than the shipped one."""
    shipped = shipped_model_path()
    installed = installed_model_paths(models_dir) if models_dir is not None else []
    if installed:
        newest = installed[-1]
        newest_version = _version_key(newest.stem.removeprefix(MODEL_NAME + "-"))
        if newest_version >= _version_key(shipped.stem.removeprefix(MODEL_NAME + "-")):
            return newest
    return shipped


def _version_key(version: str) -> tuple[int, ...]:
    parts = re.findall(r"\d+", version)
    return tuple(int(p) for p in parts) or (0,)


@lru_cache(maxsize=4)
def _cached_model(path: Path, mtime_ns: int) -> CompactModel:
    return load_model(path)


class CompactClassifier:
    """Scores texts with a compact model file: TextClassifier for ``vigil-compact``."""

    def __init__(self, path: Path | None = None, *, models_dir: Path | None = None) -> None:
        path = path if path is not None else find_compact_model(models_dir)
        if not path.is_file():
            raise ModelMissingError(
                f"compact toxicity model {path} does not exist; train one with "
                f"`vigil models train toxicity --out {path}`",
                details={"path": str(path)},
            )
        self.model = _cached_model(path, path.stat().st_mtime_ns)
        self.name = MODEL_NAME
        self.version = self.model.version
        self.attributes: tuple[str, ...] = self.model.heads
        self.path = path
        self._featurizer = Featurizer(self.model.metadata["features"])

    def decision(self, texts: Sequence[str]) -> np.ndarray:
        """Raw logits (len(texts), n_heads)."""
        features = self._featurizer.transform(texts)
        logits: np.ndarray = np.asarray(features @ self.model.weights) + self.model.bias
        return logits

    def probabilities(self, texts: Sequence[str]) -> np.ndarray:
        probabilities: np.ndarray = 1.0 / (1.0 + np.exp(-self.decision(texts)))
        return probabilities

    def classify(self, texts: Sequence[str]) -> list[TextScores]:
        if not texts:
            return []
        probabilities = self.probabilities(texts)
        heads = self.attributes
        return [
            TextScores(
                model=self.name,
                version=self.version,
                scores={head: round(float(p), 6) for head, p in zip(heads, row, strict=True)},
            )
            for row in probabilities
        ]
