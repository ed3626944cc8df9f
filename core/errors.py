"""The error hierarchy every room builds on; the HTTP edge maps it to status codes in one place.

VigilError                    code, message, details (a JSON-able dict for the caller to act on)
 ├── NotFoundError            404  a named thing does not exist
 ├── ConflictError            409  it exists already, or its state forbids the change
 ├── GoneError                410  it existed but was ended or expired (an upload, a token)
 ├── PreconditionFailedError  412  a protocol version or precondition header the server rejects
 ├── InvalidInputError        422  a field's value is not allowed (details name the field)
 ├── TooLargeError            413  a body or file over a configured limit (details name the limit)
 ├── UnsupportedMediaError    415  a content type or format that is not accepted
 ├── RangeNotSatisfiableError 416  a byte range outside the object
 ├── ChecksumMismatchError    460  received bytes do not match the checksum the client sent (tus)
 ├── AuthenticationError      401  no credentials, or credentials that are malformed or expired
 ├── PermissionDeniedError    403  valid credentials without the scope the action needs
 ├── LegalBlockError          451  withheld in the caller's region
 └── UnavailableError         503  a store, the bus or a model is not reachable or not loaded
      └── ModelMissingError   503  a model file is not installed (names it and the install command)
"""

from __future__ import annotations

from typing import Any


class VigilError(Exception):
    """Base of Vigil's errors: a stable machine ``code``, a human ``message``, ``details``."""

    code = "error"

    def __init__(self, message: str, *, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details: dict[str, Any] = details or {}


def error_body(code: str, message: str, details: dict[str, Any] | None = None) -> dict[str, Any]:
    """The one JSON shape of every error answer: ``{"error": {"code", "message", "details"}}``."""
    return {"error": {"code": code, "message": message, "details": details or {}}}


class NotFoundError(VigilError):
    code = "not_found"


class ConflictError(VigilError):
    code = "conflict"


class GoneError(VigilError):
    code = "gone"


class PreconditionFailedError(VigilError):
    code = "precondition_failed"


class ChecksumMismatchError(VigilError):
    code = "checksum_mismatch"


class InvalidInputError(VigilError):
    code = "invalid_input"


class TooLargeError(VigilError):
    code = "too_large"


class UnsupportedMediaError(VigilError):
    code = "unsupported_media_type"


class RangeNotSatisfiableError(VigilError):
    code = "range_not_satisfiable"


class AuthenticationError(VigilError):
    code = "unauthenticated"


class PermissionDeniedError(VigilError):
    code = "forbidden"


class LegalBlockError(VigilError):
    code = "unavailable_for_legal_reasons"


class UnavailableError(VigilError):
    code = "unavailable"


class ModelMissingError(UnavailableError):
    """A model file is not installed: the message names the file and the command that installs
    it (language ID, translation and the classifiers all raise this one class)."""

    code = "model_missing"

    @classmethod
    def not_installed(cls, what: str, path: object, install: str) -> ModelMissingError:
        """The usual case: ``what`` is not at ``path``; ``install`` is the command that fixes it."""
        return cls(
            f"{what} is not installed: {path} does not exist; install it with `{install}`",
            details={"path": str(path), "install": install},
        )
