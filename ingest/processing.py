"""The media worker's job for one video: original -> ladder, artefacts and hashes -> ready.

The state machine is ``uploaded -> processing -> ready | failed``. A file that the pipeline
refuses fails at once with its reason. Anything else (the store or database down, an ffmpeg
crash) is raised so the bus retries it with backoff; on the last attempt the video fails with
``processing_error``. Reprocessing writes the same keys, removes keys the new run did not make
and replaces the frame hashes, so running it twice leaves exactly one set of outputs.
"""

from __future__ import annotations

import dataclasses
import logging
import tempfile
import time
from pathlib import Path
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from core.db import Database, utcnow
from core.errors import VigilError
from core.settings import Settings
from core.storage import ObjectStore

from . import media, metrics, playback
from .models import Video, VideoFrameHash, VideoState
from .service import event_payload, original_key, video_folder
from .uploads import refuse

log = logging.getLogger(__name__)

_DOWNLOAD_CHUNK = 1024 * 1024


def process_video(
    *,
    db: Database,
    store: ObjectStore,
    settings: Settings,
    video_id: str,
    attempt: int,
    reprocess: bool = False,
) -> dict[str, Any] | None:
    """Run the pipeline for one video. Returns the ``video.transcoded`` event when it became
    ready, None when there was nothing to do or the file was refused."""
    with db.session() as session:
        video = session.get(Video, video_id)
        if video is None:
            log.warning("video %s no longer exists; nothing to process", video_id)
            return None
        if video.state == VideoState.AWAITING_UPLOAD:
            log.warning("video %s has no file yet; ignoring", video_id)
            return None
        if not reprocess and video.state in (VideoState.READY, VideoState.FAILED):
            return None  # a redelivery of work already finished
        if video.uploaded_at is not None and attempt == 1 and not reprocess:
            metrics.QUEUE_LAG_SECONDS.observe(
                max(0.0, (utcnow() - video.uploaded_at).total_seconds())
            )
        video.state = VideoState.PROCESSING
        video.processing_started_at = utcnow()
        video.processing_attempts += 1

    limits = settings.media
    work_dir = settings.effective_work_dir
    work_dir.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    try:
        with tempfile.TemporaryDirectory(prefix=f"video-{video_id}-", dir=work_dir) as tmp:
            source = Path(tmp) / "source"
            out_dir = Path(tmp) / "out"
            out_dir.mkdir()
            with store.get(original_key(video_id)) as stream, source.open("wb") as file:
                for block in stream:
                    file.write(block)
            result = media.process(source, out_dir, limits)
            outputs, stored = _store_outputs(
                store, video_id=video_id, out_dir=out_dir, result=result
            )
    except VigilError as exc:
        reason = str(exc.details.get("reason") or exc.code)
        transient = isinstance(exc, media.MediaProcessingError) and exc.transient
        if transient and attempt < settings.bus.max_attempts:
            _back_to_uploaded(db, video_id)
            raise
        _fail(db, video_id, reason=reason, message=exc.message)
        return None
    except Exception as exc:
        if attempt < settings.bus.max_attempts:
            _back_to_uploaded(db, video_id)
            raise
        _fail(db, video_id, reason="processing_error", message=f"{type(exc).__name__}: {exc}")
        raise

    elapsed = time.perf_counter() - started
    with db.session() as session:
        video = session.get(Video, video_id)
        if video is None:
            return None
        _record_hashes(session, video_id, list(result.frame_hashes))
        video.state = VideoState.READY
        video.ready_at = utcnow()
        video.failure_reason = None
        video.failure_message = None
        video.outputs = outputs
        video.stored_bytes = stored
        video.duration_s = result.info.duration
        video.width = result.info.video.display_width if result.info.video else None
        video.height = result.info.video.display_height if result.info.video else None
        video.probe = result.info.to_dict()
        event = event_payload(video)
        event["duration_s"] = video.duration_s
        event["frame_hashes"] = len(result.frame_hashes)

    top = str(max((min(r.width, r.height) for r in result.rungs), default=0))  # short edge
    metrics.TRANSCODE_SECONDS.labels(top).observe(elapsed)
    if elapsed > 0 and result.info.duration:
        metrics.REALTIME_FACTOR.observe(result.info.duration / elapsed)
    metrics.VIDEOS_TOTAL.labels("ready").inc()
    log.info("video %s ready in %.1f s (%d rungs)", video_id, elapsed, len(result.rungs))
    return event


def _store_outputs(
    store: ObjectStore, *, video_id: str, out_dir: Path, result: media.ProcessResult
) -> tuple[dict[str, Any], int]:
    folder = video_folder(video_id)
    written: set[str] = set()
    stored = 0
    for path in sorted(p for p in out_dir.rglob("*") if p.is_file()):
        relative = path.relative_to(out_dir).as_posix()
        key = f"{folder}/{relative}"
        with path.open("rb") as data:
            info = store.put(key, data, content_type=playback.content_type(relative))
        written.add(key)
        stored += info.size
        kind = "rendition" if relative.endswith((".ts", ".m4s", ".m3u8", ".mp4")) else "artefact"
        metrics.STORED_BYTES_TOTAL.labels(kind).inc(info.size)
    for old in list(store.list(folder)):
        if old.key not in written:
            store.delete(old.key)
    outputs = {
        "master": result.master_playlist,
        "rungs": [
            {
                "height": rung.height,
                "width": rung.width,
                "bandwidth": rung.bandwidth,
                "playlist": rung.playlist,
            }
            for rung in result.rungs
        ],
        "thumbnails": {f"{t.width}x{t.height}": t.path for t in result.thumbnails},
        "storyboard": list(result.storyboard.sheets),
        "storyboard_vtt": result.storyboard.vtt,
        "timings": dataclasses.asdict(result.timings),
        "realtime_factor": result.realtime_factor,
    }
    return outputs, stored


def _record_hashes(session: Session, video_id: str, hashes: list[media.FrameHash]) -> None:
    session.execute(delete(VideoFrameHash).where(VideoFrameHash.video_id == video_id))
    session.add_all(
        VideoFrameHash(
            video_id=video_id,
            frame_number=h.frame_number,
            timestamp_s=h.timestamp,
            quality=h.quality,
            pdq=h.pdq_hex,
        )
        for h in hashes
    )


def _back_to_uploaded(db: Database, video_id: str) -> None:
    with db.session() as session:
        video = session.get(Video, video_id)
        if video is not None:
            video.state = VideoState.UPLOADED


def _fail(db: Database, video_id: str, *, reason: str, message: str) -> None:
    with db.session() as session:
        video = session.get(Video, video_id)
        if video is not None:
            refuse(video, reason=reason, message=message, stage="processing")
    metrics.VIDEOS_TOTAL.labels("failed").inc()


def frame_hashes(session: Session, video_id: str) -> list[VideoFrameHash]:
    """The stored frame hashes of a video, in frame order."""
    return list(
        session.scalars(
            select(VideoFrameHash)
            .where(VideoFrameHash.video_id == video_id)
            .order_by(VideoFrameHash.frame_number)
        )
    )
