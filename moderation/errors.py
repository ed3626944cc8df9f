"""Errors of the moderation room (see core.errors for the hierarchy and the HTTP mapping).

ModelMissingError        503  (core.errors) a model file is not installed (names it and the command)
ModelFormatError         503  a model file exists but cannot be read by this Vigil
WatchedTermsError        422  a region's watched_terms block is malformed (region, list, pattern)
UnknownClassifierError   422  a classifier name that no registry entry answers to
"""

from __future__ import annotations

from core.errors import InvalidInputError, ModelMissingError, UnavailableError

__all__ = [
    "ModelFormatError",
    "ModelMissingError",
    "UnknownClassifierError",
    "WatchedTermsError",
]


class ModelFormatError(UnavailableError):
    """A model file is present but unreadable (wrong format, truncated, incompatible)."""

    code = "model_format"


class WatchedTermsError(InvalidInputError):
    """A watched-terms list is malformed; details name the region, the list and the pattern."""

    code = "invalid_watched_terms"


class UnknownClassifierError(InvalidInputError):
    """No text classifier has this name; details list the names that exist."""

    code = "unknown_classifier"
