"""Uploads, media processing (probe, transcode, thumbnails, storyboard, perceptual hash), and the
engagement event collector with its lake sink."""

from __future__ import annotations

#: Topics this room publishes.
TOPICS = ("video.uploaded", "video.transcoded", "events.accepted")

__all__ = ["TOPICS"]
