"""Media processing: probe, validate, HLS ladder, thumbnails, storyboard, perceptual hashes.

The worker calls ``process(source, out_dir, limits)``; the pieces it is made of are public too,
for the upload endpoint (``sniff``, ``probe``, ``validate`` before accepting a file), the
benchmark (``plan_ladder``, ``build_ladder_command``, ``build_rung_command``) and the moderation
hash banks (``FrameHash``, ``hamming``, ``match_frames``, ``match_videos``, ``vpdq_hashes``).
Limits come from a ``core.settings.MediaSettings`` passed in; nothing here reads global settings.
Errors are described in ``ingest.media.errors``.
"""

from __future__ import annotations

from .artefacts import Storyboard, Thumbnail, ThumbnailChoice
from .errors import (
    REASONS,
    InvalidMediaError,
    MediaProcessingError,
    MediaRejection,
    MediaTooLargeError,
    UnsupportedMediaRejection,
)
from .frames import FrameSampling
from .hashing import (
    DISTANCE_THRESHOLD,
    QUALITY_THRESHOLD,
    FrameHash,
    FrameMatch,
    VideoMatch,
    format_vpdq_lines,
    hamming,
    hash_frame,
    match_frames,
    match_videos,
    parse_vpdq_lines,
    vpdq_hashes,
)
from .ladder import Rung, build_ladder_command, build_rung_command, plan_ladder
from .pipeline import ProcessResult, RungOutput, Timings, process
from .probe import AudioStream, MediaInfo, VideoStream, probe
from .validation import check_size, sniff, validate

__all__ = [
    "DISTANCE_THRESHOLD",
    "QUALITY_THRESHOLD",
    "REASONS",
    "AudioStream",
    "FrameHash",
    "FrameMatch",
    "FrameSampling",
    "InvalidMediaError",
    "MediaInfo",
    "MediaProcessingError",
    "MediaRejection",
    "MediaTooLargeError",
    "ProcessResult",
    "Rung",
    "RungOutput",
    "Storyboard",
    "Thumbnail",
    "ThumbnailChoice",
    "Timings",
    "UnsupportedMediaRejection",
    "VideoMatch",
    "VideoStream",
    "build_ladder_command",
    "build_rung_command",
    "check_size",
    "format_vpdq_lines",
    "hamming",
    "hash_frame",
    "match_frames",
    "match_videos",
    "parse_vpdq_lines",
    "plan_ladder",
    "probe",
    "process",
    "sniff",
    "validate",
    "vpdq_hashes",
]
