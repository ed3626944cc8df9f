"""Uploads, media processing (probe, transcode, thumbnails, storyboard, perceptual hash), and the
engagement event collector with its lake sink."""

from __future__ import annotations

# media first: moderation (imported by comments and service) reads ingest.media at import.
from . import media  # isort: skip
from . import collector, comments, events, playback, service, uploads
from .consumers import MEDIA_GROUP, media_consumers
from .lake_sink import LAKE_GROUP, LakeSink, lake_consumers, open_sink
from .models import (
    Audience,
    Comment,
    EventRejection,
    Upload,
    UploadState,
    Video,
    VideoFrameHash,
    VideoState,
)
from .processing import frame_hashes, process_video
from .schemas import UploadOut, VideoCreate, VideoCreated, VideoFields, VideoOut

#: Topics this room publishes.
TOPICS = ("video.uploaded", "video.transcoded", "comment.created", "events.accepted")

__all__ = [
    "LAKE_GROUP",
    "MEDIA_GROUP",
    "TOPICS",
    "Audience",
    "Comment",
    "EventRejection",
    "LakeSink",
    "Upload",
    "UploadOut",
    "UploadState",
    "Video",
    "VideoCreate",
    "VideoCreated",
    "VideoFields",
    "VideoFrameHash",
    "VideoOut",
    "VideoState",
    "collector",
    "comments",
    "events",
    "frame_hashes",
    "lake_consumers",
    "media",
    "media_consumers",
    "open_sink",
    "playback",
    "process_video",
    "service",
    "uploads",
]
