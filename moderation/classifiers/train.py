"""Training and cross-validating the compact toxicity classifier on the dev data sets.

``vigil models train toxicity`` calls :func:`train_compact`. The data sets are the ones in
``../shared/eval/toxicity/`` (see its README); each feeds the heads it has labels for:

| set | lang | toxicity | insult | profanity | identity_attack |
|---|---|---|---|---|---|
| davidson_en | en | class hate or offensive | - | - | class hate |
| olid_train | en | subtask_a OFF | subtask_b TIN (targeted) | - | - |
| jigsaw_sample | en | toxic | insult | obscene | identity_hate |
| germeval2018 | de | coarse OFFENSE | fine INSULT | fine PROFANITY | - |
| told_br | pt | any category > 0 | insult > 0 | obscene > 0 | hate categories > 0 (1) |
| mlma_en/fr/ar | en/fr/ar | sentiment not "normal" | - | - | sentiment includes "hateful" |

(1) homophobia, racism, misogyny or xenophobia: at least one of 3 annotators flagged it.

Every row of a set weighs the same, every set weighs in proportion to the square root of its size
(so 24,783 Davidson tweets do not drown 333 Jigsaw comments, nor the other way round), and within
a set and head positives and negatives weigh half each (scores are not tilted by Davidson's 83%
offensive rows).

The figures that matter are cross-validated: k folds grouped by normalized text (a text and its
retweets or duplicates always land in the same fold), the model trained on the other folds of
every set at once, ROC-AUC measured per set and head on the held-out fold's predictions.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import logging
import time
import zlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .compact import MODEL_NAME, Featurizer, default_features, prepare, save_model

__all__ = [
    "HEADS",
    "DevSet",
    "TrainingReport",
    "cross_validate",
    "default_eval_dir",
    "fit_heads",
    "load_dev_sets",
    "train_compact",
]

log = logging.getLogger(__name__)

#: Heads the compact model learns, in model-file order.
HEADS = ("toxicity", "insult", "profanity", "identity_attack")


@dataclass
class DevSet:
    """One labelled data set: texts and a 0/1 label array per head it has labels for."""

    name: str
    language: str
    path: str  # relative to the eval dir
    texts: list[str]
    labels: dict[str, np.ndarray] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.texts)


def default_eval_dir() -> Path:
    """``../shared/eval/toxicity`` next to the source checkout."""
    return Path(__file__).resolve().parents[3] / "shared" / "eval" / "toxicity"


def _read_csv(path: Path, *, delimiter: str = ",", header: bool = True) -> list[list[str]]:
    csv.field_size_limit(1 << 24)
    with path.open(encoding="utf-8", newline="") as handle:
        if delimiter == "\t":  # TSV: no quoting (tweets hold unbalanced quotes)
            rows = list(csv.reader(handle, delimiter=delimiter, quoting=csv.QUOTE_NONE))
        else:
            rows = list(csv.reader(handle, delimiter=delimiter))
    return rows[1:] if header else rows


def _columns(path: Path, **kwargs: Any) -> dict[str, list[str]]:
    rows = _read_csv(path, header=False, **kwargs)
    names, rows = rows[0], rows[1:]
    return {name: [row[i] for row in rows] for i, name in enumerate(names)}


def _flags(values: Sequence[bool]) -> np.ndarray:
    return np.fromiter(values, dtype=np.int8, count=len(values))


def load_dev_sets(eval_dir: Path | None = None) -> list[DevSet]:
    """Every toxicity dev set with its label mapping (see the module docstring)."""
    root = eval_dir or default_eval_dir()
    if not root.is_dir():
        from ..errors import ModelMissingError

        raise ModelMissingError(
            f"toxicity dev data not found at {root}; pass --data DIR pointing at a copy of "
            "../shared/eval/toxicity",
            details={"path": str(root)},
        )
    sets: list[DevSet] = []

    path = root / "davidson_en" / "data" / "labeled_data.csv"
    cols = _columns(path)
    cls = [int(c) for c in cols["class"]]
    sets.append(
        DevSet(
            "davidson_en",
            "en",
            "davidson_en/data/labeled_data.csv",
            cols["tweet"],
            {
                "toxicity": _flags([c in (0, 1) for c in cls]),
                "identity_attack": _flags([c == 0 for c in cls]),
            },
        )
    )

    path = root / "olid_train" / "olid-training-v1.0.tsv"
    cols = _columns(path, delimiter="\t")
    sets.append(
        DevSet(
            "olid_train",
            "en",
            "olid_train/olid-training-v1.0.tsv",
            cols["tweet"],
            {
                "toxicity": _flags([a == "OFF" for a in cols["subtask_a"]]),
                "insult": _flags([b == "TIN" for b in cols["subtask_b"]]),
            },
        )
    )

    texts: list[str] = []
    jig: dict[str, list[bool]] = {
        "toxicity": [],
        "insult": [],
        "profanity": [],
        "identity_attack": [],
    }
    for name in ("train.csv", "test.csv"):
        cols = _columns(root / "jigsaw_sample" / name)
        for i, text in enumerate(cols["comment_text"]):
            if cols["toxic"][i].strip() == "-1":
                continue  # "not scored" rows of the test file
            texts.append(text)
            jig["toxicity"].append(cols["toxic"][i].strip() == "1")
            jig["insult"].append(cols["insult"][i].strip() == "1")
            jig["profanity"].append(cols["obscene"][i].strip() == "1")
            jig["identity_attack"].append(cols["identity_hate"][i].strip() == "1")
    sets.append(
        DevSet(
            "jigsaw_sample",
            "en",
            "jigsaw_sample/{train,test}.csv",
            texts,
            {head: _flags(values) for head, values in jig.items()},
        )
    )

    rows = _read_csv(
        root / "germeval2018_train" / "germeval2018.training.txt", delimiter="\t", header=False
    )
    sets.append(
        DevSet(
            "germeval2018",
            "de",
            "germeval2018_train/germeval2018.training.txt",
            [r[0].replace("|LBR|", "\n") for r in rows],
            {
                "toxicity": _flags([r[1] == "OFFENSE" for r in rows]),
                "insult": _flags([r[2] == "INSULT" for r in rows]),
                "profanity": _flags([r[2] == "PROFANITY" for r in rows]),
            },
        )
    )

    cols = _columns(root / "told_br_pt" / "ToLD-BR.csv")
    categories = ("homophobia", "obscene", "insult", "racism", "misogyny", "xenophobia")
    votes = {c: [float(v or 0) > 0 for v in cols[c]] for c in categories}
    n = len(cols["text"])
    sets.append(
        DevSet(
            "told_br",
            "pt",
            "told_br_pt/ToLD-BR.csv",
            cols["text"],
            {
                "toxicity": _flags([any(votes[c][i] for c in categories) for i in range(n)]),
                "insult": _flags(votes["insult"]),
                "profanity": _flags(votes["obscene"]),
                "identity_attack": _flags(
                    [
                        any(votes[c][i] for c in ("homophobia", "racism", "misogyny", "xenophobia"))
                        for i in range(n)
                    ]
                ),
            },
        )
    )

    for language in ("en", "fr", "ar"):
        cols = _columns(root / "mlma" / f"{language}_dataset.csv")
        sentiments = [s.strip().split("_") for s in cols["sentiment"]]
        sets.append(
            DevSet(
                f"mlma_{language}",
                language,
                f"mlma/{language}_dataset.csv",
                cols["tweet"],
                {
                    "toxicity": _flags([s != ["normal"] for s in sentiments]),
                    "identity_attack": _flags(["hateful" in s for s in sentiments]),
                },
            )
        )
    return sets


def _fold_of(text: str, folds: int) -> int:
    """Fold by normalized text, so duplicates and retweets never straddle train and test."""
    key = prepare(text, context=False).char_text.replace("@user", "").strip()
    return zlib.crc32(key.encode("utf-8")) % folds


@dataclass
class _Pool:
    texts: list[str]
    set_index: np.ndarray  # row -> index into sets
    labels: dict[str, np.ndarray]  # head -> int8 with -1 where the set has no label
    folds: np.ndarray


def _pool(sets: Sequence[DevSet], folds: int) -> _Pool:
    texts = [t for s in sets for t in s.texts]
    set_index = np.concatenate([np.full(len(s), i, dtype=np.int16) for i, s in enumerate(sets)])
    labels = {}
    for head in HEADS:
        labels[head] = np.concatenate(
            [s.labels.get(head, np.full(len(s), -1, dtype=np.int8)) for s in sets]
        )
    fold = np.fromiter((_fold_of(t, folds) for t in texts), dtype=np.int16, count=len(texts))
    return _Pool(texts, set_index, labels, fold)


def _sample_weights(set_index: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Set weight ∝ sqrt(size), spread evenly over its rows, half to each class (per head)."""
    weights = np.zeros(len(y), dtype=np.float64)
    for s in np.unique(set_index):
        rows = set_index == s
        size = rows.sum()
        set_weight = np.sqrt(size)
        for label in (0, 1):
            part = rows & (y == label)
            if part.any():
                weights[part] = set_weight / 2 / part.sum()
    scaled: np.ndarray = weights * (len(y) / weights.sum())
    return scaled


def fit_heads(
    features: Any,
    set_index: np.ndarray,
    labels: Mapping[str, np.ndarray],
    *,
    c: float,
    heads: Sequence[str] = HEADS,
) -> tuple[np.ndarray, np.ndarray]:
    """One logistic regression per head on the rows labelled for it: (weights, bias)."""
    from sklearn.linear_model import LogisticRegression

    n_features = features.shape[1]
    weights = np.zeros((n_features, len(heads)), dtype=np.float32)
    bias = np.zeros(len(heads), dtype=np.float32)
    for k, head in enumerate(heads):
        y = labels[head]
        rows = np.flatnonzero(y >= 0)
        if rows.size == 0 or len(np.unique(y[rows])) < 2:
            continue
        model = LogisticRegression(C=c, solver="liblinear", max_iter=1000, random_state=0)
        model.fit(features[rows], y[rows], sample_weight=_sample_weights(set_index[rows], y[rows]))
        weights[:, k] = model.coef_[0]
        bias[k] = model.intercept_[0]
    return weights, bias


def _auc(y: np.ndarray, scores: np.ndarray) -> float | None:
    from sklearn.metrics import roc_auc_score

    if len(np.unique(y)) < 2:
        return None
    return round(float(roc_auc_score(y, scores)), 4)


def cross_validate(
    sets: Sequence[DevSet],
    *,
    folds: int = 5,
    features: Mapping[str, Any] | None = None,
    c: float = 4.0,
    quantize: bool = True,
    progress: Callable[[str], None] | None = None,
    heads: Sequence[str] = HEADS,
) -> dict[str, dict[str, Any]]:
    """Out-of-fold ROC-AUC per set and head: {set: {"language", "n", head: auc, ...}}."""
    spec = dict(features or default_features())
    featurizer = Featurizer(spec)
    pool = _pool(sets, folds)
    matrix = featurizer.transform(pool.texts)
    oof = np.zeros((len(pool.texts), len(heads)), dtype=np.float32)
    for fold in range(folds):
        started = time.perf_counter()
        train = pool.folds != fold
        test = ~train
        weights, bias = fit_heads(
            matrix[train],
            pool.set_index[train],
            {h: y[train] for h, y in pool.labels.items()},
            c=c,
            heads=heads,
        )
        if quantize:
            weights = _quantized(weights)
        oof[test] = np.asarray(matrix[test] @ weights) + bias
        if progress:
            progress(f"fold {fold + 1}/{folds}: {time.perf_counter() - started:.0f} s")
    return _per_set_auc(sets, pool, oof, heads)


def _per_set_auc(
    sets: Sequence[DevSet], pool: _Pool, scores: np.ndarray, heads: Sequence[str]
) -> dict[str, Any]:
    result: dict[str, dict[str, Any]] = {}
    for i, dev in enumerate(sets):
        rows = pool.set_index == i
        entry: dict[str, Any] = {"language": dev.language, "n": int(rows.sum())}
        for k, head in enumerate(heads):
            if head in dev.labels:
                y = pool.labels[head][rows]
                entry[head] = _auc(y, scores[rows, k])
                entry[f"{head}_positives"] = int(y.sum())
        result[dev.name] = entry
    return result


def _quantized(weights: np.ndarray) -> np.ndarray:
    """The int8 round trip of the model file, so CV measures the model that ships."""
    scales = np.abs(weights).max(axis=0) / 127.0
    scales[scales == 0] = 1.0
    rounded: np.ndarray = np.clip(np.rint(weights / scales), -127, 127) * scales
    return rounded


#: What ``--ablation`` compares, toxicity head only: the shipped features without one part.
ABLATIONS: dict[str, dict[str, Any]] = {
    "without context layer": {"context": False},
    "without lexicon": {"lexicon": None},
    "without context layer and lexicon": {"context": False, "lexicon": None},
}


def ablation(
    sets: Sequence[DevSet],
    *,
    folds: int,
    c: float,
    progress: Callable[[str], None] | None = None,
) -> dict[str, dict[str, float | None]]:
    """Cross-validated toxicity ROC-AUC per set of each ABLATIONS variant (same folds)."""
    out: dict[str, dict[str, float | None]] = {}
    for name, change in ABLATIONS.items():
        if progress:
            progress(f"ablation: {name}")
        spec = dict(default_features(), **change)
        result = cross_validate(
            sets, folds=folds, features=spec, c=c, progress=progress, heads=("toxicity",)
        )
        out[name] = {s: entry.get("toxicity") for s, entry in result.items()}
    return out


@dataclass
class TrainingReport:
    path: Path
    version: str
    rows: int
    cross_validation: dict[str, Any]
    seconds: float
    size_bytes: int
    ablation: dict[str, dict[str, float | None]] = field(default_factory=dict)


def train_compact(
    out: Path,
    *,
    version: str,
    eval_dir: Path | None = None,
    folds: int = 5,
    c: float = 4.0,
    command: str = "vigil models train toxicity",
    progress: Callable[[str], None] | None = None,
    with_ablation: bool = False,
) -> TrainingReport:
    """Cross-validate, then fit on everything and write the model file with its figures."""
    import sklearn

    started = time.perf_counter()
    sets = load_dev_sets(eval_dir)
    say = progress or (lambda _m: None)
    say(f"{sum(len(s) for s in sets)} rows in {len(sets)} sets; {folds}-fold cross-validation")
    cv = cross_validate(sets, folds=folds, c=c, progress=say) if folds > 1 else {}
    ablated = ablation(sets, folds=folds, c=c, progress=say) if with_ablation and folds > 1 else {}
    say("fitting on all rows")
    featurizer = Featurizer(default_features())
    pool = _pool(sets, max(folds, 2))
    weights, bias = fit_heads(featurizer.transform(pool.texts), pool.set_index, pool.labels, c=c)
    metadata = {
        "name": MODEL_NAME,
        "version": version,
        "heads": list(HEADS),
        "features": featurizer.spec,
        "training": {
            "command": command,
            "trained_at": dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat(),
            "scikit_learn": sklearn.__version__,
            "regularization_c": c,
            "rows": len(pool.texts),
            "data_sets": [
                {
                    "name": s.name,
                    "language": s.language,
                    "path": s.path,
                    "rows": len(s),
                    "heads": sorted(s.labels),
                    "sha256": _sha256(s.texts),
                }
                for s in sets
            ],
        },
        "cross_validation": {
            "folds": folds,
            "grouped_by": "normalized text",
            "roc_auc": cv,
            "ablation_toxicity_roc_auc": ablated,
        },
    }
    save_model(out, weights, bias, metadata)
    return TrainingReport(
        path=out,
        version=version,
        rows=len(pool.texts),
        cross_validation=cv,
        seconds=round(time.perf_counter() - started, 1),
        size_bytes=out.stat().st_size,
        ablation=ablated,
    )


def _sha256(texts: Sequence[str]) -> str:
    digest = hashlib.sha256()
    for text in texts:
        digest.update(text.encode("utf-8"))
        digest.update(b"\0")
    return digest.hexdigest()[:16]
