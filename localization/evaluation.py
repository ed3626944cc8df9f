"""Measuring a language detector on labelled text: ``vigil eval langid`` and ``bench.langid``.

Two layouts are read:

- a directory of ``<iso code>.txt`` files (ISO 639-1 or 639-3: ``es.txt``, ``spa.txt``),
  one text per line; the file name is the gold language;
- the Tatoeba dev set as shipped in ``../shared/eval/langid/tatoeba/`` (LASER's layout):
  ``tatoeba.<xxx>-eng.<xxx>`` holds language xxx, and the English side of the
  alphabetically first pair gives 1,000 English sentences (26,548 texts, 27 languages).
  ``write_langid_dir`` turns it into the first layout.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from core.errors import InvalidInputError

from .langid import UNDETERMINED, LanguageDetector
from .languages import to_iso639_1


def _lines(path: Path) -> list[str]:
    return [line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def load_langid_dir(directory: Path) -> dict[str, list[str]]:
    """``{"es": [texts...], ...}`` from ``<iso code>.txt`` files, one text per line."""
    directory = Path(directory)
    paths = sorted(directory.glob("*.txt")) if directory.is_dir() else []
    if not paths:
        raise InvalidInputError(
            f"{directory} holds no <iso code>.txt files (one text per line, e.g. es.txt)",
            details={"field": "dir", "path": str(directory)},
        )
    samples: dict[str, list[str]] = {}
    for path in paths:
        try:
            language = to_iso639_1(path.stem)
        except ValueError as exc:
            raise InvalidInputError(
                f"{path.name}: the file name must be an ISO 639-1 or 639-3 code ({exc})",
                details={"field": "dir", "path": str(path)},
            ) from exc
        samples.setdefault(language, []).extend(_lines(path))
    return {language: texts for language, texts in samples.items() if texts}


def load_tatoeba(directory: Path) -> dict[str, list[str]]:
    """The Tatoeba dev set (``tatoeba.<xxx>-eng.<xxx>`` files) by ISO 639-1 language."""
    directory = Path(directory)
    pairs = sorted(directory.glob("tatoeba.*-eng.*"))
    if not pairs:
        raise InvalidInputError(
            f"{directory} holds no tatoeba.<xxx>-eng.<xxx> files",
            details={"field": "tatoeba", "path": str(directory)},
        )
    samples: dict[str, list[str]] = {}
    english: Path | None = None
    for path in pairs:
        code = path.suffix.lstrip(".")
        if code == "eng":
            english = english or path  # the first pair's English side is enough
            continue
        samples.setdefault(to_iso639_1(code), []).extend(_lines(path))
    if english is not None:
        samples["en"] = _lines(english)
    return samples


def write_langid_dir(samples: Mapping[str, Sequence[str]], directory: Path) -> None:
    """Write samples in the ``<iso code>.txt`` layout (e.g. the Tatoeba set, converted)."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    for language, texts in samples.items():
        (directory / f"{language}.txt").write_text(
            "".join(" ".join(text.split()) + "\n" for text in texts), encoding="utf-8"
        )


@dataclass
class LanguageScore:
    n: int
    accuracy: float  # right answers / texts ("und" counts as not right)
    undetermined: float  # share answered "und"
    confused_with: dict[str, int] = field(default_factory=dict)  # wrong answers, most first


@dataclass
class LangidReport:
    detector: str
    languages: list[str]  # what the detector was restricted to; [] = unrestricted
    n: int
    accuracy: float
    undetermined: float  # share of texts answered "und"
    wrong: float  # share answered with a wrong language
    texts_per_second: float
    seconds: float
    per_language: dict[str, LanguageScore]
    undetermined_reasons: dict[str, int]
    answered_by: dict[str, int]  # detector label -> texts (hybrid: fastText alone or +lingua)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def evaluate_langid(
    detector: LanguageDetector,
    samples: Mapping[str, Sequence[str]],
    *,
    batch_size: int = 1024,
    warmup: int = 20,
) -> LangidReport:
    """Accuracy overall and per language, the "und" rate and texts/s of ``detector``.

    ``warmup`` texts per language are detected first and not timed: lingua loads a
    language's models on first use, which is a start-up cost, not a per-text one.
    """
    gold = [language for language, texts in samples.items() for _ in texts]
    texts = [text for language_texts in samples.values() for text in language_texts]
    if not texts:
        raise InvalidInputError("no texts to evaluate", details={"field": "dir"})
    detector.detect_many([text for group in samples.values() for text in group[:warmup]])
    started = time.perf_counter()
    guesses = []
    for first in range(0, len(texts), batch_size):
        guesses.extend(detector.detect_many(texts[first : first + batch_size]))
    seconds = time.perf_counter() - started

    per: dict[str, list[str]] = {}
    for expected, guess in zip(gold, guesses, strict=True):
        per.setdefault(expected, []).append(guess.language)
    per_language = {}
    for language, answers in sorted(per.items()):
        wrong = Counter(a for a in answers if a not in (language, UNDETERMINED))
        per_language[language] = LanguageScore(
            n=len(answers),
            accuracy=sum(a == language for a in answers) / len(answers),
            undetermined=sum(a == UNDETERMINED for a in answers) / len(answers),
            confused_with=dict(wrong.most_common(3)),
        )
    right = sum(g.language == expected for g, expected in zip(guesses, gold, strict=True))
    und = sum(g.language == UNDETERMINED for g in guesses)
    return LangidReport(
        detector=f"{detector.name}@{detector.version}",
        languages=list(detector.languages),
        n=len(texts),
        accuracy=right / len(texts),
        undetermined=und / len(texts),
        wrong=(len(texts) - right - und) / len(texts),
        texts_per_second=len(texts) / seconds if seconds > 0 else float("inf"),
        seconds=seconds,
        per_language=per_language,
        undetermined_reasons=dict(
            Counter(g.reason or "?" for g in guesses if g.language == UNDETERMINED)
        ),
        answered_by=dict(Counter(g.detector for g in guesses)),
    )
