"""Uploads, media processing (probe, transcode, thumbnails, storyboard, perceptual hash), and the
engagement event collector with its lake sink."""

from __future__ import annotations

from . import playback, service, uploads
from .consumers import MEDIA_GROUP, media_consumers
from .models import Audience, Upload, UploadState, Video, VideoFrameHash, VideoState
from .processing import frame_hashes, process_video
from .schemas import UploadOut, VideoCreate, VideoCreated, VideoFields, VideoOut

#: Topics this room publishes.
TOPICS = ("video.uploaded", "video.transcoded", "events.accepted")

__all__ = [
    "MEDIA_GROUP",
    "TOPICS",
    "Audience",
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
    "frame_hashes",
    "media_consumers",
    "playback",
    "process_video",
    "service",
    "uploads",
]
