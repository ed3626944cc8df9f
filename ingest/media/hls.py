"""HLS playlists after the encode: measured bandwidth, codec strings, and the master playlist.

FFmpeg writes a master playlist whose BANDWIDTH is the configured bit rate plus 10 % and whose
CODECS it fills only when it can read the encoder's headers. We rewrite it from what was
actually written: BANDWIDTH is the peak segment bit rate (what the HLS spec asks for; segments
shorter than one second, typically the last, are left out as their rate says little), and
AVERAGE-BANDWIDTH the whole rung's; CODECS comes from the rung's own SPS (profile, constraint
flags, level: ``avc1.PPCCLL``) and ``mp4a.40.2`` for AAC-LC.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from .errors import MediaProcessingError
from .runner import run_tool

logger = logging.getLogger(__name__)

FFMPEG = "ffmpeg"
AAC_LC_CODEC = "mp4a.40.2"
#: Segments shorter than this are not used for the peak bit rate (unless all are).
PEAK_MIN_SEGMENT_SECONDS = 1.0


@dataclass(frozen=True)
class Segment:
    uri: str
    duration: float
    size: int


@dataclass(frozen=True)
class RungStats:
    """What one rung's media playlist and segments add up to."""

    segments: tuple[Segment, ...]

    @property
    def duration(self) -> float:
        return sum(segment.duration for segment in self.segments)

    @property
    def size(self) -> int:
        return sum(segment.size for segment in self.segments)

    @property
    def average_bandwidth(self) -> int:
        return round(self.size * 8 / self.duration) if self.duration > 0 else 0

    @property
    def peak_bandwidth(self) -> int:
        long_enough = [s for s in self.segments if s.duration >= PEAK_MIN_SEGMENT_SECONDS]
        chosen = long_enough or list(self.segments)
        return max((round(s.size * 8 / s.duration) for s in chosen if s.duration > 0), default=0)


@dataclass(frozen=True)
class Variant:
    """One EXT-X-STREAM-INF entry of the master playlist."""

    uri: str
    bandwidth: int
    average_bandwidth: int
    width: int
    height: int
    frame_rate: float
    codecs: str


def read_media_playlist(path: Path) -> RungStats:
    """Segments (URI, duration, bytes on disk) of a media playlist."""
    segments = []
    duration: float | None = None
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if line.startswith("#EXTINF:"):
            duration = float(line[len("#EXTINF:") :].split(",", 1)[0])
        elif line and not line.startswith("#"):
            if duration is None:
                raise ValueError(f"{path}: segment {line} has no #EXTINF before it")
            segments.append(Segment(line, duration, (path.parent / line).stat().st_size))
            duration = None
    return RungStats(tuple(segments))


def h264_codec_string(segment: Path, *, timeout: float) -> str:
    """``avc1.PPCCLL`` from the first SPS of an H.264 stream in ``segment``."""
    argv = [
        FFMPEG, "-nostdin", "-hide_banner", "-v", "error",
        "-protocol_whitelist", "file",
        "-i", f"file:{segment.resolve()}",
        "-map", "0:v:0", "-c", "copy", "-frames:v", "1",
        "-f", "h264", "pipe:1",
    ]  # fmt: skip
    result = run_tool(argv, timeout=timeout, what="ffmpeg (codec string)")
    data = result.stdout
    start = 0
    while True:
        start = data.find(b"\x00\x00\x01", start)
        if start < 0 or start + 6 >= len(data):
            break
        if data[start + 3] & 0x1F == 7:
            profile, constraints, level = data[start + 4 : start + 7]
            return f"avc1.{profile:02x}{constraints:02x}{level:02x}"
        start += 3
    raise MediaProcessingError(
        "no_sps",
        f"no H.264 sequence parameter set in {segment.name}; the rendition is unusable",
        transient=False,
        details={"segment": segment.name, "stderr": result.stderr[-1000:]},
    )


def write_master_playlist(path: Path, variants: list[Variant]) -> None:
    """Write the master playlist (highest rung first); replaces FFmpeg's."""
    lines = ["#EXTM3U", "#EXT-X-VERSION:3", "#EXT-X-INDEPENDENT-SEGMENTS"]
    for variant in variants:
        lines.append(
            "#EXT-X-STREAM-INF:"
            f"BANDWIDTH={variant.bandwidth},"
            f"AVERAGE-BANDWIDTH={variant.average_bandwidth},"
            f"RESOLUTION={variant.width}x{variant.height},"
            f"FRAME-RATE={variant.frame_rate:.3f},"
            f'CODECS="{variant.codecs}"'
        )
        lines.append(variant.uri)
    temp = path.with_name(path.name + ".tmp")
    temp.write_text("\n".join(lines) + "\n")
    temp.replace(path)
