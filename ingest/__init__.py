"""Uploads, media processing (probe, transcode, thumbnails, storyboard, perceptual hash), and the
engagement event collector with its lake sink."""

from __future__ import annotations

from . import collector, events, playback, service, uploads
from .consumers import MEDIA_GROUP, media_consumers
from .lake_sink import LAKE_GROUP, LakeSink, lake_consumers, open_sink
from .models import (
    Audience,
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
TOPICS = ("video.uploaded", "video.transcoded", "events.accepted")

__all__ = [
    "LAKE_GROUP",
    "MEDIA_GROUP",
    "TOPICS",
    "Audience",
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
    "events",
    "frame_hashes",
    "lake_consumers",
    "media_consumers",
    "open_sink",
    "playback",
    "process_video",
    "service",
    "uploads",
]
