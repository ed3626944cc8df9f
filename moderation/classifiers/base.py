"""What every text classifier gives: scores per attribute, each carrying model name and version."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

__all__ = ["ATTRIBUTES", "TextClassifier", "TextScores"]

#: The attributes a text classifier may score, named as Perspective API names them (lower case).
ATTRIBUTES = ("toxicity", "severe_toxicity", "identity_attack", "insult", "profanity", "threat")


@dataclass(frozen=True)
class TextScores:
    """One text's scores: attribute -> 0..1, only the attributes this model has."""

    model: str  # "vigil-compact", "profanity-check", "detoxify-original"
    version: str  # "1.0.0", a checkpoint's sha256[:12], ...
    scores: Mapping[str, float] = field(default_factory=dict)


@runtime_checkable
class TextClassifier(Protocol):
    """Scores texts; ``classify`` keeps the order of its input."""

    name: str
    version: str
    attributes: tuple[str, ...]

    def classify(self, texts: Sequence[str]) -> list[TextScores]: ...
