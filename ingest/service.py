"""Videos: creating them, reading them for viewers, and what may be played where."""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

import moderation
from core.auth import Principal, Scope, User
from core.errors import LegalBlockError, NotFoundError, PermissionDeniedError

from . import playback
from .models import Upload, UploadState, Video, VideoState
from .schemas import Rendition, UploadOut, VideoFields, VideoOut

log = logging.getLogger(__name__)

#: The object store folder of one video's outputs.
VIDEO_PREFIX = "videos"
ORIGINALS_PREFIX = "originals"


def video_folder(video_id: str) -> str:
    return f"{VIDEO_PREFIX}/{video_id}"


def original_key(video_id: str) -> str:
    return f"{ORIGINALS_PREFIX}/{video_id}"


class VideoNotFoundError(NotFoundError):
    code = "video_not_found"

    def __init__(self, video_id: str) -> None:
        super().__init__(f"no video {video_id!r}", details={"video_id": video_id})


class VideoUnavailableError(NotFoundError):
    """Removed, held or not ready: answered as 404 so nothing leaks about why."""

    code = "video_unavailable"


class VideoBlockedError(LegalBlockError):
    code = "video_blocked_in_region"


def create(db: Session, *, creator: User, fields: VideoFields) -> Video:
    """A new video record awaiting its upload; the region is the creator's country."""
    video = Video(
        creator_id=creator.id,
        caption=fields.caption,
        hashtags=fields.all_hashtags(),
        sound_name=fields.sound_name,
        language=fields.language,
        audience=fields.audience,
        region=creator.country,
        state=VideoState.AWAITING_UPLOAD,
    )
    db.add(video)
    db.flush()
    return video


def get_or_raise(db: Session, *, video_id: str) -> Video:
    video = db.get(Video, video_id)
    if video is None:
        raise VideoNotFoundError(video_id)
    return video


def list_videos(
    db: Session, *, creator_id: str | None = None, state: VideoState | None = None, limit: int = 50
) -> list[Video]:
    query = select(Video).order_by(Video.created_at.desc()).limit(limit)
    if creator_id:
        query = query.where(Video.creator_id == creator_id)
    if state:
        query = query.where(Video.state == state)
    return list(db.scalars(query))


def count_by_state(db: Session) -> dict[str, int]:
    rows = db.execute(select(Video.state, func.count()).group_by(Video.state)).all()
    return {str(state): int(count) for state, count in rows}


def _is_staff(principal: Principal) -> bool:
    return principal.has(Scope.MODERATION_REVIEW)


def check_playable(db: Session, *, video: Video, country: str | None) -> None:
    """Raise unless ``video`` may be played now by a viewer in ``country``: it must be ready and
    neither removed, held nor blocked there. Checked on every playback request."""
    if video.state != VideoState.READY:
        raise VideoUnavailableError(
            f"video {video.id!r} is not playable (it is {video.state})",
            details={"video_id": video.id, "state": video.state},
        )
    verdict, _reason = moderation.visibility_of(
        db, subject_type="video", subject_id=video.id, country=country
    )
    if verdict in (moderation.Visibility.REMOVED, moderation.Visibility.HELD):
        raise VideoUnavailableError(
            f"video {video.id!r} is not available", details={"video_id": video.id}
        )
    if verdict == moderation.Visibility.BLOCKED:
        raise VideoBlockedError(
            f"video {video.id!r} is not available in {country} for legal reasons",
            details={"video_id": video.id, "country": country},
        )


def viewer_country(principal: Principal, user: User | None, requested: str | None) -> str | None:
    """The region a request is seen from: an app (API key) says it for its viewer; a signed-in
    user is in their account's country."""
    if principal.kind == "api_key":
        return playback.valid_country(requested)
    return playback.valid_country(user.country if user else None)


def describe(
    db: Session,
    *,
    video: Video,
    principal: Principal,
    country: str | None,
    secret: str,
    base_url: str,
) -> VideoOut:
    """A video as ``principal`` may see it. Its creator and staff see any state (with the failure
    reason); others only a playable video. Playback URLs are signed for ``country``."""
    own = principal.kind == "user" and principal.id == video.creator_id
    if not (own or _is_staff(principal)):
        check_playable(db, video=video, country=country)
    out = VideoOut(
        id=video.id,
        creator_id=video.creator_id,
        caption=video.caption,
        hashtags=list(video.hashtags or []),
        sound_name=video.sound_name,
        language=video.language,
        audience=video.audience,
        region=video.region,
        state=video.state,
        failure_reason=video.failure_reason if (own or _is_staff(principal)) else None,
        failure_message=video.failure_message if (own or _is_staff(principal)) else None,
        created_at=video.created_at,
        uploaded_at=video.uploaded_at,
        ready_at=video.ready_at,
        duration_s=video.duration_s,
        width=video.width,
        height=video.height,
    )
    outputs = video.outputs or {}
    if video.state == VideoState.READY and outputs:
        signed_for = playback.REVIEW if _is_staff(principal) else country
        token, expires = playback.sign(secret=secret, video_id=video.id, country=signed_for)
        media = f"{base_url}/v1/videos/{video.id}/media"

        def url(path: str) -> str:
            return f"{media}/{path}?token={token}"

        out.playback_url = url(outputs["master"])
        out.playback_expires_at = expires
        out.thumbnail_urls = {size: url(path) for size, path in outputs["thumbnails"].items()}
        if outputs.get("storyboard_vtt"):
            out.storyboard_vtt_url = url(outputs["storyboard_vtt"])
        out.renditions = [
            Rendition(
                height=rung["height"],
                width=rung["width"],
                bandwidth=rung["bandwidth"],
                playlist_url=url(rung["playlist"]),
            )
            for rung in outputs["rungs"]
        ]
    return out


@dataclass(frozen=True)
class MediaFile:
    """A file of a video's folder, ready to stream: key, content type, cache policy."""

    key: str
    content_type: str
    immutable: bool


def playable_file(db: Session, *, video_id: str, path: str, country: str | None) -> MediaFile:
    """The stored file ``path`` of a playable video, after the visibility check (skipped for a
    reviewer's token: moderators watch held and removed videos)."""
    video = get_or_raise(db, video_id=video_id)
    if country == playback.REVIEW:
        if video.state != VideoState.READY:
            raise VideoUnavailableError(
                f"video {video_id!r} is not playable (it is {video.state})",
                details={"video_id": video_id, "state": video.state},
            )
    else:
        check_playable(db, video=video, country=country)
    content = playback.content_type(path)
    if content is None or ".." in path.split("/") or path.startswith("/"):
        raise NotFoundError(f"no file {path!r} for video {video_id!r}", details={"path": path})
    return MediaFile(
        key=f"{video_folder(video_id)}/{path}",
        content_type=content,
        immutable=playback.is_immutable(path),
    )


def upload_out(upload: Upload, *, base_url: str) -> UploadOut:
    return UploadOut(
        id=upload.id,
        url=f"{base_url}/v1/uploads/{upload.id}",
        length=upload.length,
        offset=upload.offset,
        state=upload.state,
        expires_at=upload.expires_at,
    )


def ensure_owner(principal: Principal, video: Video) -> None:
    if principal.kind == "user" and principal.id == video.creator_id:
        return
    if principal.has(Scope.USERS_ADMIN):
        return
    raise PermissionDeniedError(
        f"video {video.id!r} belongs to another creator", details={"video_id": video.id}
    )


def active_uploads(db: Session, *, now: dt.datetime) -> int:
    return int(
        db.scalar(
            select(func.count())
            .select_from(Upload)
            .where(Upload.state == UploadState.ACTIVE, Upload.expires_at > now)
        )
        or 0
    )


def event_payload(video: Video) -> dict[str, Any]:
    """What consumers of ``video.uploaded`` and ``video.transcoded`` need without a lookup."""
    return {
        "video_id": video.id,
        "creator_id": video.creator_id,
        "region": video.region,
        "language": video.language,
        "caption": video.caption,
        "hashtags": list(video.hashtags or []),
        "state": video.state,
    }
