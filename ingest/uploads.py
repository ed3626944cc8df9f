"""Receiving a video's bytes: resumable (tus 1.0) uploads in parts, and one-shot files.

A tus upload's bytes land in the object store as numbered parts (``uploads/<id>/<offset>``) so
any API process can take the next PATCH. When the last byte arrives the parts are joined into one
local file, its SHA-256 is checked against what the client declared, it is probed and validated
(so a bad file is refused with a specific 413/415/422 right away), and only then stored as the
original and announced on ``video.uploaded``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.auth import Principal
from core.db import utcnow
from core.errors import (
    ChecksumMismatchError,
    ConflictError,
    GoneError,
    NotFoundError,
    TooLargeError,
    UnsupportedMediaError,
    VigilError,
)
from core.settings import MediaSettings
from core.storage import ObjectStore

from . import media, metrics
from .models import Upload, UploadState, Video, VideoState
from .service import active_uploads, ensure_owner, event_payload, original_key

log = logging.getLogger(__name__)

UPLOAD_PARTS_PREFIX = "uploads"
_COPY_CHUNK = 1024 * 1024
# File types a client may declare for a video; anything else is refused before any byte is sent.
_GENERIC_TYPES = {"", "application/octet-stream", "application/mp4", "application/x-mpegurl"}


class UploadNotFoundError(NotFoundError):
    code = "upload_not_found"


class UploadGoneError(GoneError):
    code = "upload_gone"


class UploadOffsetError(ConflictError):
    code = "upload_offset_mismatch"


class UploadTooLargeError(TooLargeError):
    code = "upload_too_large"


def parts_prefix(upload_id: str) -> str:
    return f"{UPLOAD_PARTS_PREFIX}/{upload_id}"


def check_declared(*, length: int | None, filetype: str | None, limits: MediaSettings) -> None:
    """Refuse what is known to be wrong before any byte is sent: size and declared type."""
    if length is not None and length > limits.max_upload_bytes:
        raise UploadTooLargeError(
            f"the file is {length} bytes; the limit is {limits.max_upload_bytes} bytes "
            "(VIGIL_MEDIA__MAX_UPLOAD_BYTES)",
            details={"length": length, "limit": limits.max_upload_bytes, "reason": "too_large"},
        )
    kind = (filetype or "").split(";")[0].strip().lower()
    if kind and kind not in _GENERIC_TYPES and not kind.startswith("video/"):
        raise UnsupportedMediaError(
            f"file type {kind!r} is not a video; upload a video file (video/mp4, video/webm...)",
            details={"filetype": kind, "reason": "not_video_type"},
        )


def create(
    db: Session,
    *,
    video: Video,
    owner_id: str,
    length: int,
    limits: MediaSettings,
    filename: str | None = None,
    filetype: str | None = None,
    expected_sha256: str | None = None,
) -> Upload:
    """A resumable upload for ``video``, which must still be waiting for its bytes."""
    check_declared(length=length, filetype=filetype, limits=limits)
    if video.state != VideoState.AWAITING_UPLOAD:
        raise ConflictError(
            f"video {video.id!r} already has its file (it is {video.state})",
            details={"video_id": video.id, "state": video.state},
        )
    upload = Upload(
        video_id=video.id,
        owner_id=owner_id,
        length=length,
        filename=filename,
        filetype=filetype,
        expected_sha256=expected_sha256.lower() if expected_sha256 else None,
        expires_at=utcnow() + dt.timedelta(hours=limits.upload_expiry_hours),
    )
    video.source_filename = filename
    db.add(upload)
    db.flush()
    return upload


def get_for(db: Session, *, upload_id: str, principal: Principal) -> Upload:
    """The caller's upload; 404 if unknown, 403 if another's, 410 if terminated or expired."""
    upload = db.get(Upload, upload_id)
    if upload is None:
        raise UploadNotFoundError(f"no upload {upload_id!r}", details={"upload_id": upload_id})
    video = db.get(Video, upload.video_id)
    if video is None:
        raise UploadGoneError(f"upload {upload_id!r} belonged to a deleted video")
    ensure_owner(principal, video)
    if upload.state == UploadState.TERMINATED:
        raise UploadGoneError(f"upload {upload_id!r} was terminated")
    if upload.state == UploadState.FAILED:
        raise UploadGoneError(
            f"upload {upload_id!r} was refused: {video.failure_message}",
            details={"reason": video.failure_reason},
        )
    if upload.state == UploadState.ACTIVE and upload.expires_at <= utcnow():
        raise UploadGoneError(
            f"upload {upload_id!r} expired at {upload.expires_at.isoformat()}; start a new one",
            details={"expired_at": upload.expires_at.isoformat()},
        )
    return upload


def terminate(db: Session, store: ObjectStore, *, upload: Upload) -> None:
    """tus termination: forget the parts; the video waits for a new upload."""
    if upload.state == UploadState.COMPLETED:
        raise ConflictError(f"upload {upload.id!r} is complete; delete the video instead")
    _delete_parts(store, upload.id)
    upload.state = UploadState.TERMINATED
    db.flush()


@dataclass(frozen=True)
class Chunk:
    """Bytes received for one PATCH, already on local disk."""

    path: Path
    size: int
    sha256: str


def append(
    db: Session,
    store: ObjectStore,
    *,
    upload: Upload,
    offset: int,
    chunk: Chunk,
    limits: MediaSettings,
    work_dir: Path,
) -> dict[str, Any] | None:
    """Append a chunk at ``offset``. Returns the ``video.uploaded`` event when this chunk
    completes the file (the caller commits, then publishes), else None."""
    if upload.state == UploadState.COMPLETED:
        raise UploadOffsetError(
            f"upload {upload.id!r} is already complete",
            details={"expected_offset": upload.offset},
        )
    if offset != upload.offset:
        raise UploadOffsetError(
            f"Upload-Offset is {offset} but the upload is at {upload.offset}; "
            "HEAD the upload and resume from its offset",
            details={"expected_offset": upload.offset, "got": offset},
        )
    end = offset + chunk.size
    if end > upload.length:
        raise UploadTooLargeError(
            f"the chunk ends at byte {end}, past the declared Upload-Length {upload.length}",
            details={"length": upload.length, "end": end},
        )
    metrics.UPLOADED_BYTES_TOTAL.labels("tus").inc(chunk.size)
    if end < upload.length:
        if chunk.size:
            with chunk.path.open("rb") as data:
                store.put(f"{parts_prefix(upload.id)}/{offset:015d}", data)
            upload.offset = end
            upload.parts += 1
            db.flush()
        return None
    return _complete(db, store, upload=upload, last=chunk, limits=limits, work_dir=work_dir)


def _complete(
    db: Session,
    store: ObjectStore,
    *,
    upload: Upload,
    last: Chunk,
    limits: MediaSettings,
    work_dir: Path,
) -> dict[str, Any]:
    video = db.get(Video, upload.video_id)
    assert video is not None
    joined = work_dir / f"upload-{upload.id}.join"
    try:
        if upload.parts == 0:
            # The common case: the whole file in one PATCH; no join needed.
            path, sha256 = last.path, last.sha256
        else:
            path, sha256 = joined, _join_parts(store, upload.id, last, joined)
        event = _accept_file(
            db,
            store,
            video=video,
            path=path,
            sha256=sha256,
            limits=limits,
            expected_sha256=upload.expected_sha256,
            filename=upload.filename,
            upload=upload,
        )
    finally:
        joined.unlink(missing_ok=True)
    _delete_parts(store, upload.id)
    return event


def _join_parts(store: ObjectStore, upload_id: str, last: Chunk, out_path: Path) -> str:
    """Write the stored parts and the last chunk into ``out_path``; returns the SHA-256."""
    digest = hashlib.sha256()
    with out_path.open("wb") as out:
        for part in store.list(parts_prefix(upload_id)):
            with store.get(part.key) as stream:
                for block in stream:
                    digest.update(block)
                    out.write(block)
        with last.path.open("rb") as tail:
            while block := tail.read(_COPY_CHUNK):
                digest.update(block)
                out.write(block)
    return digest.hexdigest()


def accept_form_file(
    db: Session,
    store: ObjectStore,
    *,
    video: Video,
    path: Path,
    sha256: str,
    limits: MediaSettings,
    filename: str | None,
    expected_sha256: str | None = None,
) -> dict[str, Any]:
    """A one-shot upload: the whole file arrived in one request. Returns the event to publish."""
    metrics.UPLOADED_BYTES_TOTAL.labels("form").inc(path.stat().st_size)
    return _accept_file(
        db,
        store,
        video=video,
        path=path,
        sha256=sha256,
        limits=limits,
        expected_sha256=expected_sha256,
        filename=filename,
        upload=None,
    )


def _accept_file(
    db: Session,
    store: ObjectStore,
    *,
    video: Video,
    path: Path,
    sha256: str,
    limits: MediaSettings,
    expected_sha256: str | None,
    filename: str | None,
    upload: Upload | None,
) -> dict[str, Any]:
    """Check, probe and validate the whole file, then store it as the original."""
    size = path.stat().st_size
    try:
        if expected_sha256 and expected_sha256.lower() != sha256:
            raise ChecksumMismatchError(
                f"the file's SHA-256 is {sha256} but {expected_sha256.lower()} was declared; "
                "the bytes were damaged on the way: upload again",
                details={
                    "expected": expected_sha256.lower(),
                    "actual": sha256,
                    "reason": "checksum_mismatch",
                },
            )
        info = inspect_file(path, limits)
    except VigilError as exc:
        reason = str(exc.details.get("reason") or exc.code)
        refuse(video, reason=reason, message=exc.message, stage="upload")
        if upload is not None:
            upload.state = UploadState.FAILED
        db.flush()
        raise
    with path.open("rb") as data:
        store.put(original_key(video.id), data, content_type="application/octet-stream")
    metrics.STORED_BYTES_TOTAL.labels("original").inc(size)
    now = utcnow()
    video.state = VideoState.UPLOADED
    video.uploaded_at = now
    video.source_filename = filename or video.source_filename
    video.source_bytes = size
    video.source_sha256 = sha256
    video.probe = info.to_dict()
    video.duration_s = info.duration
    if upload is not None:
        upload.offset = upload.length
        upload.state = UploadState.COMPLETED
        upload.completed_at = now
    db.flush()
    return event_payload(video)


def inspect_file(path: Path, limits: MediaSettings) -> media.MediaInfo:
    """Sniff, probe and validate a file; raises the specific rejection."""
    media.sniff(path)
    info = media.probe(path, timeout=limits.probe_timeout_seconds)
    media.validate(info, limits)
    return info


def refuse(video: Video, *, reason: str, message: str, stage: str) -> None:
    """Mark a video failed with a machine reason and a message for its creator."""
    video.state = VideoState.FAILED
    video.failure_reason = reason
    video.failure_message = message
    metrics.FAILURES_TOTAL.labels(stage, reason).inc()
    log.info("video %s refused at %s: %s (%s)", video.id, stage, message, reason)


def _delete_parts(store: ObjectStore, upload_id: str) -> None:
    for part in list(store.list(parts_prefix(upload_id))):
        store.delete(part.key)


def expire(db: Session, store: ObjectStore, *, now: dt.datetime | None = None) -> int:
    """Forget the parts of active uploads past their expiry; returns how many expired."""
    cutoff = now or utcnow()
    expired = db.scalars(
        select(Upload).where(Upload.state == UploadState.ACTIVE, Upload.expires_at <= cutoff)
    ).all()
    for upload in expired:
        _delete_parts(store, upload.id)
        upload.state = UploadState.TERMINATED
    db.flush()
    return len(expired)


def refresh_in_progress(db: Session) -> None:
    """Set the uploads-in-progress gauge from the database (correct across processes)."""
    metrics.UPLOADS_IN_PROGRESS.set(active_uploads(db, now=utcnow()))


def scratch_dir(work_dir: Path) -> Path:
    """The API's folder for request bodies in flight (removed with each request)."""
    path = work_dir / "incoming"
    path.mkdir(parents=True, exist_ok=True)
    return path
