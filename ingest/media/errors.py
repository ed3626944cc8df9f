"""Why the media worker refuses a file, and how its own failures are told apart from the file's.

MediaRejection                     the upload is refused; ``reason`` is stable, for machines
 ├── MediaTooLargeError            413  over a size limit: bytes, duration, pixels per edge
 ├── UnsupportedMediaRejection     415  not a video, or a format, codec or feature not accepted
 └── InvalidMediaError             422  a video, but a value out of range or the file is damaged
MediaProcessingError               our side failed (timeout, ffmpeg crash); ``transient`` says
                                   whether trying again may help

Each rejection is also a subclass of the ``core.errors`` class whose HTTP status it should get
(``TooLargeError``, ``UnsupportedMediaError``, ``InvalidInputError``), so the HTTP edge maps it
without knowing about media. ``reason`` is copied into ``details["reason"]``; where a limit was
crossed, ``details`` also carries ``limit``, ``measured`` and ``setting`` (the environment
variable that sets the limit). ``REASONS`` lists every reason and the class that carries it.
"""

from __future__ import annotations

from typing import Any

from core.errors import (
    InvalidInputError,
    TooLargeError,
    UnsupportedMediaError,
    VigilError,
)
from core.settings import ENV_PREFIX, NESTED_DELIMITER


class MediaRejection(VigilError):
    """An upload the media worker will not process; ``reason`` names the rule it broke."""

    def __init__(
        self,
        reason: str,
        message: str,
        *,
        limit: Any = None,
        measured: Any = None,
        setting: str | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        merged: dict[str, Any] = {"reason": reason}
        if limit is not None:
            merged["limit"] = limit
        if measured is not None:
            merged["measured"] = measured
        if setting is not None:
            merged["setting"] = setting_env_name(setting)
        merged.update(details or {})
        super().__init__(message, details=merged)
        self.reason = reason


class MediaTooLargeError(MediaRejection, TooLargeError):
    """Over a configured size limit (bytes, duration, edge length): HTTP 413."""


class UnsupportedMediaRejection(MediaRejection, UnsupportedMediaError):
    """Not a video, or a container, codec or feature that is not accepted: HTTP 415."""


class InvalidMediaError(MediaRejection, InvalidInputError):
    """A video whose values are out of range, or a damaged file: HTTP 422."""


#: Every rejection reason and the class (hence the HTTP status) that carries it.
REASONS: dict[str, type[MediaRejection]] = {
    "empty_file": InvalidMediaError,
    "truncated": InvalidMediaError,
    "too_small": InvalidMediaError,
    "fps_too_high": InvalidMediaError,
    "not_media": UnsupportedMediaRejection,
    "still_image": UnsupportedMediaRejection,
    "encrypted": UnsupportedMediaRejection,
    "no_video_stream": UnsupportedMediaRejection,
    "container_not_allowed": UnsupportedMediaRejection,
    "video_codec_not_allowed": UnsupportedMediaRejection,
    "audio_codec_not_allowed": UnsupportedMediaRejection,
    "undecodable": UnsupportedMediaRejection,
    "too_large": MediaTooLargeError,
    "too_long": MediaTooLargeError,
    "dimensions_too_large": MediaTooLargeError,
}


def reject(
    reason: str,
    message: str,
    *,
    limit: Any = None,
    measured: Any = None,
    setting: str | None = None,
    details: dict[str, Any] | None = None,
) -> MediaRejection:
    """The rejection for ``reason``, of the class ``REASONS`` gives it (raise what it returns)."""
    cls = REASONS[reason]
    return cls(reason, message, limit=limit, measured=measured, setting=setting, details=details)


def setting_env_name(field: str) -> str:
    """The environment variable of ``MediaSettings.<field>``, e.g. VIGIL_MEDIA__MIN_EDGE_PX."""
    return f"{ENV_PREFIX}MEDIA{NESTED_DELIMITER}{field.upper()}"


class MediaProcessingError(VigilError):
    """The worker failed on a file it had accepted: a timeout, a crash, a full disk.

    ``transient`` is True where the same job may succeed later (the process was killed from
    outside, the disk was full); False where retrying would fail the same way.
    """

    code = "media_processing_failed"

    def __init__(
        self,
        reason: str,
        message: str,
        *,
        transient: bool,
        details: dict[str, Any] | None = None,
    ) -> None:
        merged: dict[str, Any] = {"reason": reason, "transient": transient}
        merged.update(details or {})
        super().__init__(message, details=merged)
        self.reason = reason
        self.transient = transient
