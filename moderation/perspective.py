"""Perspective API compatibility: ``comments:analyze`` requests and responses.

Apps written against Google's Perspective API (``POST .../v1alpha1/comments:analyze?key=...``)
point at ``POST /v1/comments:analyze`` unchanged: the same request fields, the same response shape
(``attributeScores.<ATTR>.summaryScore`` and per-sentence ``spanScores``, ``languages``,
``detectedLanguages``, ``clientToken``) and the same error envelope
(``{"error": {"code": 400, "message": ..., "status": "INVALID_ARGUMENT"}}``).

Scores come from Vigil's configured text classifier on the normalized text; the model that made
them is named in the extra ``vigilModel`` field (clients ignore fields they do not know).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from localization import UNDETERMINED

from .normalize import normalize
from .pipeline import Checker

#: Perspective attribute -> Vigil attribute.
ATTRIBUTES: Mapping[str, str] = {
    "TOXICITY": "toxicity",
    "SEVERE_TOXICITY": "severe_toxicity",
    "IDENTITY_ATTACK": "identity_attack",
    "INSULT": "insult",
    "PROFANITY": "profanity",
    "THREAT": "threat",
}
#: Perspective's own limit on ``comment.text``.
MAX_TEXT_BYTES = 20480
# Sentence ends: . ! ? and the ideographic / full-width forms (U+3002, U+FF01, U+FF1F).
_ENDS = ".!?\u3002\uff01\uff1f"
_SENTENCE = re.compile(f"[^{_ENDS}\\n]+(?:[{_ENDS}]+|\\n|$)")


class PerspectiveError(Exception):
    """A request Perspective would refuse; rendered in its error envelope."""

    def __init__(self, message: str, *, error_type: str = "INVALID_ARGUMENT") -> None:
        super().__init__(message)
        self.message = message
        self.error_type = error_type

    def body(self) -> dict[str, Any]:
        return {
            "error": {
                "code": 400,
                "message": self.message,
                "status": "INVALID_ARGUMENT",
                "details": [
                    {
                        "@type": "type.googleapis.com/google.commentanalyzer.v1alpha1.Error",
                        "errorType": self.error_type,
                    }
                ],
            }
        }


class _Comment(BaseModel):
    model_config = ConfigDict(extra="ignore")
    text: str
    type: str = "PLAIN_TEXT"


class _Requested(BaseModel):
    model_config = ConfigDict(extra="ignore")
    scoreType: str = "PROBABILITY"
    scoreThreshold: float | None = Field(None, ge=0, le=1)


class AnalyzeRequest(BaseModel):
    """The fields of Perspective's AnalyzeCommentRequest that change the answer."""

    model_config = ConfigDict(extra="ignore")

    comment: _Comment
    requestedAttributes: dict[str, _Requested]
    languages: list[str] = Field(default_factory=list)
    spanAnnotations: bool = True
    doNotStore: bool = False
    clientToken: str | None = None


def parse_request(body: Any) -> AnalyzeRequest:
    """The request, or a PerspectiveError naming the first bad field as Perspective would."""
    if not isinstance(body, dict):
        raise PerspectiveError("Invalid JSON payload: expected an object")
    try:
        request = AnalyzeRequest.model_validate(body)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise PerspectiveError(f"Invalid value at '{where}': {first['msg']}") from exc
    if not request.requestedAttributes:
        raise PerspectiveError("requestedAttributes must name at least one attribute")
    unknown = sorted(set(request.requestedAttributes) - set(ATTRIBUTES))
    if unknown:
        raise PerspectiveError(
            f"Unknown requested attribute(s) {', '.join(unknown)}; supported: "
            f"{', '.join(ATTRIBUTES)}"
        )
    for name, options in request.requestedAttributes.items():
        if options.scoreType != "PROBABILITY":
            raise PerspectiveError(
                f"requestedAttributes.{name}.scoreType {options.scoreType!r} is not supported; "
                "use PROBABILITY"
            )
    if request.comment.type not in ("PLAIN_TEXT", ""):
        raise PerspectiveError(f"comment.type {request.comment.type!r} is not supported")
    if not request.comment.text.strip():
        raise PerspectiveError("Comment must be non-empty.", error_type="COMMENT_EMPTY")
    if len(request.comment.text.encode("utf-8")) > MAX_TEXT_BYTES:
        raise PerspectiveError(
            f"Comment text too long: at most {MAX_TEXT_BYTES} bytes",
            error_type="COMMENT_TOO_LONG",
        )
    return request


@dataclass(frozen=True)
class _Span:
    begin: int
    end: int
    text: str


def sentences(text: str) -> list[_Span]:
    """Sentence spans with character offsets into ``text`` (Perspective's ``begin``/``end``)."""
    spans = []
    for match in _SENTENCE.finditer(text):
        chunk = match.group(0)
        stripped = chunk.strip()
        if not stripped:
            continue
        begin = match.start() + (len(chunk) - len(chunk.lstrip()))
        spans.append(_Span(begin, begin + len(stripped), stripped))
    return spans or [_Span(0, len(text), text)]


def analyze(checker: Checker, request: AnalyzeRequest) -> dict[str, Any]:
    """Score the comment (and each sentence) for the requested attributes."""
    text = request.comment.text
    model = checker.classifier
    wanted = {name: ATTRIBUTES[name] for name in request.requestedAttributes}
    missing = sorted(name for name, attr in wanted.items() if attr not in model.attributes)
    if missing:
        raise PerspectiveError(
            f"Attribute(s) {', '.join(missing)} not supported by the installed model "
            f"{model.name}@{model.version} (it scores: "
            f"{', '.join(sorted(a.upper() for a in model.attributes))})",
            error_type="ATTRIBUTE_NOT_SUPPORTED",
        )
    detected = checker.detector.detect(text).language
    spans = sentences(text) if request.spanAnnotations else []
    several = len(spans) > 1
    texts = [text, *(span.text for span in spans)] if several else [text]
    scored = model.classify([normalize(t).text for t in texts])
    summary, per_span = scored[0], scored[1:]
    attribute_scores: dict[str, Any] = {}
    for name, attr in wanted.items():
        value = float(summary.scores[attr])
        threshold = request.requestedAttributes[name].scoreThreshold
        if threshold is not None and value < threshold:
            continue
        entry: dict[str, Any] = {"summaryScore": {"value": value, "type": "PROBABILITY"}}
        if request.spanAnnotations:
            pairs: Sequence[tuple[_Span, float]] = (
                [(span, float(s.scores[attr])) for span, s in zip(spans, per_span, strict=True)]
                if several
                else [(spans[0], value)]
            )
            entry["spanScores"] = [
                {"begin": span.begin, "end": span.end, "score": {"value": v, "type": "PROBABILITY"}}
                for span, v in pairs
            ]
        attribute_scores[name] = entry
    answer: dict[str, Any] = {
        "attributeScores": attribute_scores,
        "languages": request.languages or ([detected] if detected != UNDETERMINED else ["en"]),
        "detectedLanguages": [detected] if detected != UNDETERMINED else [],
        "vigilModel": {"name": summary.model, "version": summary.version},
    }
    if request.clientToken is not None:
        answer["clientToken"] = request.clientToken
    return answer
