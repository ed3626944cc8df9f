"""Measuring a text classifier on a labelled CSV/TSV file (``vigil eval toxicity``)."""

from __future__ import annotations

import csv
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from core.errors import InvalidInputError

from .base import TextClassifier

__all__ = ["LabelledTexts", "ToxicityReport", "evaluate_toxicity", "read_labelled_file"]


@dataclass(frozen=True)
class LabelledTexts:
    texts: list[str]
    labels: np.ndarray  # 0/1
    skipped_empty: int  # rows whose text was empty
    skipped_ignored: int  # rows whose label was in --ignore


def _separator(sep: str) -> str:
    aliases = {"\\t": "\t", "tab": "\t", "TAB": "\t"}
    sep = aliases.get(sep, sep)
    if len(sep) != 1:
        raise InvalidInputError(
            f"--sep must be one character (or 'tab'), got {sep!r}", details={"field": "sep"}
        )
    return sep


def _column(name: str, header: list[str] | None, option: str) -> int:
    if header is not None and name in header:
        return header.index(name)
    if name.lstrip("-").isdigit():
        return int(name)
    known = f"; the header has: {', '.join(header)}" if header else ""
    raise InvalidInputError(
        f"{option} {name!r} is not a column{known} (without a header, give a 0-based index)",
        details={"field": option.lstrip("-"), "value": name},
    )


def read_labelled_file(
    path: Path,
    *,
    text_column: str,
    label_columns: Sequence[str],
    positive: Sequence[str] = (),
    negative: Sequence[str] = (),
    ignore: Sequence[str] = (),
    sep: str = ",",
    header: bool = True,
) -> LabelledTexts:
    """Texts and 0/1 labels from a CSV/TSV file.

    A row is positive when any label column holds one of ``positive`` (or, with ``negative``
    instead, a value that is not in it). Rows with an empty text, or a label in ``ignore``
    (e.g. Jigsaw's -1 "not scored"), are skipped and counted. Tab-separated files are read
    without quote processing (tweets contain unbalanced quotes).
    """
    if bool(positive) == bool(negative):
        raise InvalidInputError(
            "give exactly one of --positive VALUES or --negative VALUES",
            details={"field": "positive"},
        )
    if not path.is_file():
        raise InvalidInputError(f"{path} does not exist", details={"field": "csv"})
    delimiter = _separator(sep)
    csv.field_size_limit(1 << 24)
    positives, negatives, ignored = set(positive), set(negative), set(ignore)
    texts: list[str] = []
    labels: list[int] = []
    empty = skipped = 0
    with path.open(encoding="utf-8", newline="") as handle:
        # TSV is read without quote processing: tweets hold unbalanced quotes.
        reader = (
            csv.reader(handle, delimiter=delimiter, quoting=csv.QUOTE_NONE)
            if delimiter == "\t"
            else csv.reader(handle, delimiter=delimiter)
        )
        names = next(reader) if header else None
        text_index = _column(text_column, names, "--text-column")
        label_indexes = [_column(c, names, "--label-column") for c in label_columns]
        needed = max([text_index, *label_indexes])
        for line, row in enumerate(reader, start=2 if header else 1):
            if len(row) <= needed:
                raise InvalidInputError(
                    f"{path}:{line}: {len(row)} columns, column {needed} is needed "
                    "(wrong --sep, or a quoted field spanning lines?)",
                    details={"field": "csv", "line": line},
                )
            values = [row[i].strip() for i in label_indexes]
            if any(v in ignored for v in values):
                skipped += 1
                continue
            text = row[text_index]
            if not text.strip():
                empty += 1
                continue
            texts.append(text)
            if positives:
                labels.append(int(any(v in positives for v in values)))
            else:
                labels.append(int(any(v not in negatives for v in values)))
    return LabelledTexts(texts, np.asarray(labels, dtype=np.int8), empty, skipped)


@dataclass(frozen=True)
class ToxicityReport:
    model: str
    version: str
    attribute: str
    n: int
    positives: int
    skipped_empty: int
    skipped_ignored: int
    roc_auc: float | None
    pr_auc: float | None  # average precision
    best_threshold: float | None  # the threshold with the highest F1
    best_f1: float | None
    best_precision: float | None
    best_recall: float | None
    texts_per_second: float

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def evaluate_toxicity(
    classifier: TextClassifier,
    data: LabelledTexts,
    *,
    attribute: str = "toxicity",
    batch_size: int = 256,
) -> ToxicityReport:
    """Score every text, then ROC-AUC, average precision and the F1-best threshold."""
    from sklearn.metrics import average_precision_score, precision_recall_curve, roc_auc_score

    if attribute not in classifier.attributes:
        raise InvalidInputError(
            f"{classifier.name} has no {attribute!r} score; it has "
            f"{', '.join(classifier.attributes)}",
            details={"field": "attribute", "value": attribute},
        )
    scores = np.zeros(len(data.texts), dtype=np.float64)
    started = time.perf_counter()
    for start in range(0, len(data.texts), batch_size):
        batch = data.texts[start : start + batch_size]
        for offset, result in enumerate(classifier.classify(batch)):
            scores[start + offset] = result.scores[attribute]
    elapsed = time.perf_counter() - started
    y = data.labels
    both_classes = 0 < int(y.sum()) < len(y)
    roc = pr = threshold = f1 = precision = recall = None
    if both_classes:
        roc = round(float(roc_auc_score(y, scores)), 4)
        pr = round(float(average_precision_score(y, scores)), 4)
        p, r, t = precision_recall_curve(y, scores)
        f = np.where(p + r > 0, 2 * p * r / np.maximum(p + r, 1e-12), 0.0)[:-1]
        best = int(np.argmax(f))
        threshold, f1 = round(float(t[best]), 4), round(float(f[best]), 4)
        precision, recall = round(float(p[best]), 4), round(float(r[best]), 4)
    return ToxicityReport(
        model=classifier.name,
        version=classifier.version,
        attribute=attribute,
        n=len(y),
        positives=int(y.sum()),
        skipped_empty=data.skipped_empty,
        skipped_ignored=data.skipped_ignored,
        roc_auc=roc,
        pr_auc=pr,
        best_threshold=threshold,
        best_f1=f1,
        best_precision=precision,
        best_recall=recall,
        texts_per_second=round(len(y) / elapsed, 1) if elapsed > 0 else 0.0,
    )
