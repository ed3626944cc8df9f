"""Perceptual hashes of video frames (PDQ per frame, as vPDQ does) and the rule that matches them.

A frame's hash is ``pdqhash.compute(rgb)``: 256 bits and a quality from 0 to 100. The bits are
written as 64 hex digits, most significant first: ``pdqhash`` returns them in that order (bit
255 first), so packing them big-endian gives the same string as the reference implementation
(checked against ThreatExchange's expected PDQ hashes and vPDQ outputs in the eval set).

vPDQ's text form is one line per hashed frame: ``frame_number,quality,pdq_hex,timestamp``.
Upstream's matching rule: frames with quality below 50 are skipped, and two frames match when
the Hamming distance of their hashes is below 31. ``match_frames`` pairs each query frame with
its nearest target frame under that rule; ``match_videos`` gives upstream's two percentages (of
query frames with a match in the target, and of target frames with a match in the query), which
is what a hash bank compares with its thresholds.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pdqhash

from .errors import reject
from .frames import FrameSampling, RGBFrame, read_frames
from .probe import MediaInfo, probe
from .runner import ToolProcess

logger = logging.getLogger(__name__)

#: vPDQ: frames of lower quality are not used for matching.
QUALITY_THRESHOLD = 50
#: vPDQ: frames match when the Hamming distance is strictly below this.
DISTANCE_THRESHOLD = 31

FFMPEG = "ffmpeg"

_POPCOUNT = np.array([bin(value).count("1") for value in range(256)], dtype=np.uint16)


@dataclass(frozen=True)
class FrameHash:
    """The PDQ hash of one frame: its number in decode order, quality, hash, time in seconds."""

    frame_number: int
    quality: int
    pdq_hex: str
    timestamp: float

    def to_line(self) -> str:
        """The vPDQ text line of this frame."""
        return f"{self.frame_number},{self.quality},{self.pdq_hex},{self.timestamp:.3f}"


@dataclass(frozen=True)
class FrameMatch:
    """A query frame and its nearest target frame within the matching distance."""

    query_frame: int
    target_frame: int
    distance: int
    query_timestamp: float
    target_timestamp: float


@dataclass(frozen=True)
class VideoMatch:
    """Upstream vPDQ's verdict inputs: the share of each side's usable frames that match."""

    query_match_percent: float
    target_match_percent: float


def hash_frame(image: RGBFrame) -> tuple[str, int]:
    """PDQ of an RGB frame (H x W x 3, uint8): (64 hex digits, quality 0-100)."""
    bits, quality = pdqhash.compute(np.ascontiguousarray(image))
    return np.packbits(np.asarray(bits, dtype=np.uint8)).tobytes().hex(), int(quality)


def hamming(a_hex: str, b_hex: str) -> int:
    """Number of differing bits between two hex hashes of the same length."""
    if len(a_hex) != len(b_hex):
        raise ValueError(f"hashes of different lengths: {len(a_hex)} and {len(b_hex)} digits")
    return (int(a_hex, 16) ^ int(b_hex, 16)).bit_count()


def parse_vpdq_lines(lines: Iterable[str]) -> list[FrameHash]:
    """Read vPDQ's text form (``frame_number,quality,pdq_hex,timestamp`` per line)."""
    hashes = []
    for number, raw in enumerate(lines, start=1):
        line = raw.strip()
        if not line:
            continue
        parts = line.split(",")
        if len(parts) != 4 or len(parts[2]) != 64:
            raise ValueError(f"line {number}: expected frame,quality,64-hex-pdq,seconds: {line!r}")
        int(parts[2], 16)  # a malformed hash fails here, naming nothing else
        hashes.append(FrameHash(int(parts[0]), int(parts[1]), parts[2].lower(), float(parts[3])))
    return hashes


def format_vpdq_lines(hashes: Iterable[FrameHash]) -> str:
    """vPDQ's text form of ``hashes``, one line each, newline-terminated."""
    return "".join(frame.to_line() + "\n" for frame in hashes)


def vpdq_hashes(
    path: Path | str,
    interval_seconds: float = 1.0,
    *,
    timeout: float = 600.0,
    frame_size: tuple[int, int] | None = None,
    info: MediaInfo | None = None,
) -> list[FrameHash]:
    """Hash the frames of a video on its own (outside the ladder run), vPDQ style.

    Frames are picked as the ladder run picks them (every ``round(fps * interval_seconds)``-th
    decoded frame; every frame for 0). ``frame_size`` (width, height) scales frames first, as
    vPDQ's ``-128x128`` outputs do. ``info`` saves a probe when the caller has one.
    """
    source = Path(path).resolve()
    info = info or probe(source, timeout=min(timeout, 60.0))
    if info.video is None:
        raise reject("no_video_stream", "the file has no video stream to hash")
    sampling = FrameSampling.for_video(
        info.video, hash_interval_seconds=interval_seconds, size=frame_size
    )
    argv = [
        FFMPEG, "-nostdin", "-hide_banner", "-nostats", "-v", "error",
        "-protocol_whitelist", "file",
        "-i", f"file:{source}",
        "-map", f"0:{info.video.index}",
        "-vf", sampling.filter_chain(),
        "-fps_mode", "passthrough",
        "-f", "rawvideo", "pipe:1",
    ]  # fmt: skip
    hashes = []
    with ToolProcess(argv, timeout=timeout, what="ffmpeg (frame hashes)") as process:
        for frame in read_frames(process.stdout, sampling):
            pdq, quality = hash_frame(frame.image)
            hashes.append(FrameHash(frame.number, quality, pdq, round(frame.timestamp, 3)))
        result = process.finish()
    if result.returncode != 0:
        said = result.stderr.splitlines()[-1] if result.stderr else f"exit {result.returncode}"
        if not hashes:
            raise reject("undecodable", f"FFmpeg could not decode a frame of the file: {said}")
        logger.warning("ffmpeg stopped early hashing %s (%d frames hashed): %s",
                       source.name, len(hashes), said)  # fmt: skip
    return hashes


def _hash_matrix(hashes: Sequence[FrameHash]) -> npt.NDArray[np.uint8]:
    if not hashes:
        return np.zeros((0, 32), dtype=np.uint8)
    return np.frombuffer(
        bytes.fromhex("".join(frame.pdq_hex for frame in hashes)), dtype=np.uint8
    ).reshape(len(hashes), 32)


def _distances(
    query: npt.NDArray[np.uint8], target: npt.NDArray[np.uint8]
) -> npt.NDArray[np.uint16]:
    """All pairwise Hamming distances (len(query) x len(target)), in blocks of ~32 MB."""
    out = np.empty((len(query), len(target)), dtype=np.uint16)
    block = max(1, (32 << 20) // max(1, len(target) * 32))
    for start in range(0, len(query), block):
        xor = np.bitwise_xor(query[start : start + block, None, :], target[None, :, :])
        out[start : start + block] = _POPCOUNT[xor].sum(axis=2)
    return out


def _usable(hashes: Sequence[FrameHash], quality_threshold: int) -> list[FrameHash]:
    return [frame for frame in hashes if frame.quality >= quality_threshold]


def match_frames(
    query: Sequence[FrameHash],
    target: Sequence[FrameHash],
    *,
    distance_threshold: int = DISTANCE_THRESHOLD,
    quality_threshold: int = QUALITY_THRESHOLD,
) -> list[FrameMatch]:
    """Each usable query frame with its nearest usable target frame, where distance < threshold.

    Frames below ``quality_threshold`` on either side take no part (upstream's rule).
    """
    good_query = _usable(query, quality_threshold)
    good_target = _usable(target, quality_threshold)
    if not good_query or not good_target:
        return []
    distances = _distances(_hash_matrix(good_query), _hash_matrix(good_target))
    nearest = distances.argmin(axis=1)
    matches = []
    for row, column in enumerate(nearest):
        distance = int(distances[row, column])
        if distance < distance_threshold:
            q, t = good_query[row], good_target[int(column)]
            matches.append(
                FrameMatch(q.frame_number, t.frame_number, distance, q.timestamp, t.timestamp)
            )
    return matches


def match_videos(
    query: Sequence[FrameHash],
    target: Sequence[FrameHash],
    *,
    distance_threshold: int = DISTANCE_THRESHOLD,
    quality_threshold: int = QUALITY_THRESHOLD,
) -> VideoMatch:
    """Percent of usable query frames with a match in the target, and the reverse (vPDQ)."""
    good_query = _usable(query, quality_threshold)
    good_target = _usable(target, quality_threshold)
    if not good_query or not good_target:
        return VideoMatch(0.0, 0.0)
    close = _distances(_hash_matrix(good_query), _hash_matrix(good_target)) < distance_threshold
    return VideoMatch(
        query_match_percent=100.0 * float(close.any(axis=1).mean()),
        target_match_percent=100.0 * float(close.any(axis=0).mean()),
    )
