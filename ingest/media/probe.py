"""What a media file holds, as ffprobe reads it: ``probe(path) -> MediaInfo``.

ffprobe is run with ``-show_format -show_streams`` as JSON, in its own process group with a
deadline. The input is passed as ``file:ABSOLUTE_PATH`` and only the ``file`` protocol is allowed,
so neither a file name nor a reference inside a file can make it open a URL or a device.
A probe that ffprobe cannot complete is a rejection (``not_media``, ``truncated``,
``undecodable``); a probe that runs past its deadline is a ``MediaProcessingError``.

Cover art (a stream with the ``attached_pic`` disposition, as in an mp3 or m4a with a JPEG) is
not video. Rotation comes from the display matrix side data or the legacy ``rotate`` tag;
``display_width``/``display_height`` are the picture as it is shown: rotated, and stretched by a
non-square sample aspect ratio.
"""

from __future__ import annotations

import json
import logging
import math
import re
from dataclasses import asdict, dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

from .errors import MediaProcessingError, reject
from .runner import run_tool

logger = logging.getLogger(__name__)

FFPROBE = "ffprobe"

#: Side data that marks a stream (or the file) as encrypted (CENC/CBCS, as in DRM'd MP4).
ENCRYPTION_SIDE_DATA = "Encryption initialization data"
ENCRYPTED_CODEC_TAGS = frozenset({"encv", "enca", "drmi", "drms"})


@dataclass(frozen=True)
class VideoStream:
    """The first real video stream (cover art excluded)."""

    index: int
    codec: str
    width: int
    height: int
    #: Degrees clockwise the stored picture is turned to be shown upright: 0, 90, 180 or 270.
    rotation: int
    display_width: int
    display_height: int
    #: Sample (pixel) aspect ratio as "num:den"; None when square or unknown.
    sample_aspect_ratio: str | None
    #: Frames per second: the average rate, else frames/duration, else the stream's base rate.
    fps: float
    #: The rate as ffprobe gave it ("30000/1001"), for filters that want it exact.
    frame_rate: str
    #: Where ``fps`` comes from: "average" (ffprobe's avg_frame_rate), "counted" (frames over
    #: duration) or "guessed" (the stream's base rate, which for WebM/MKV without a frame
    #: duration can be the 1000/s timebase: not a rate to refuse a file over).
    frame_rate_source: str
    frame_count: int | None
    pix_fmt: str | None
    profile: str | None
    bit_rate: int | None

    @property
    def upright_width(self) -> int:
        """Width of decoded frames once ffmpeg has applied the rotation (no aspect stretch)."""
        return self.height if self.rotation in (90, 270) else self.width

    @property
    def upright_height(self) -> int:
        return self.width if self.rotation in (90, 270) else self.height

    @property
    def short_edge(self) -> int:
        return min(self.display_width, self.display_height)

    @property
    def is_portrait(self) -> bool:
        return self.display_height > self.display_width


@dataclass(frozen=True)
class AudioStream:
    """The first audio stream."""

    index: int
    codec: str
    profile: str | None
    channels: int
    sample_rate: int
    bit_rate: int | None


@dataclass(frozen=True)
class MediaInfo:
    """ffprobe's view of a file, reduced to what validation and the ladder need."""

    path: str
    #: The demuxer's names, e.g. ("mov", "mp4", "m4a", "3gp", "3g2", "mj2").
    format_names: tuple[str, ...]
    format_long_name: str | None
    duration: float | None
    size: int
    bit_rate: int | None
    video: VideoStream | None
    audio: AudioStream | None
    stream_count: int
    #: Cover-art streams seen (not counted as video).
    attached_pictures: int = 0
    encrypted: bool = False
    #: ffprobe reported sample data past the end of the file ("partial file").
    partial_file: bool = False
    #: ffprobe's warnings and errors, deduplicated (the last few).
    warnings: tuple[str, ...] = field(default_factory=tuple)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict of every field."""
        data = asdict(self)
        data["format_names"] = list(self.format_names)
        data["warnings"] = list(self.warnings)
        return data


def probe(path: Path | str, *, timeout: float) -> MediaInfo:
    """Run ffprobe on ``path`` and return what it found.

    Raises a ``MediaRejection`` when ffprobe cannot read the file, and
    ``MediaProcessingError(reason="timeout")`` when it runs longer than ``timeout`` seconds.
    """
    source = Path(path).resolve()
    argv = [
        FFPROBE,
        "-hide_banner",
        "-v",
        "warning",
        "-protocol_whitelist",
        "file",
        "-show_format",
        "-show_streams",
        "-of",
        "json",
        "-i",
        f"file:{source}",
    ]
    result = run_tool(argv, timeout=timeout, what="ffprobe")
    warnings = _distinct_lines(result.stderr.replace(f"file:{source}", source.name))
    if result.returncode != 0:
        raise _probe_failure(source, result.returncode, warnings)
    try:
        data = json.loads(result.stdout)
    except json.JSONDecodeError as exc:
        raise MediaProcessingError(
            "probe_output_unreadable",
            f"ffprobe printed output that is not JSON for {source.name}: {exc}",
            transient=False,
        ) from exc
    _count_frames_if_untimed(data, source, timeout)
    return parse_probe_json(data, path=source, warnings=warnings)


def _count_frames_if_untimed(data: dict[str, Any], source: Path, timeout: float) -> None:
    """Give a video stream with neither an average rate nor a frame count its packet count.

    WebM from browsers' MediaRecorder has no frame duration and no frame count; ffprobe then
    reports the 1000/s timebase as the rate. Counting packets (demuxing, no decoding) gives
    the real one with the duration.
    """
    video = next(
        (
            stream
            for stream in data.get("streams") or []
            if stream.get("codec_type") == "video"
            and not (stream.get("disposition") or {}).get("attached_pic")
        ),
        None,
    )
    if video is None or _positive_int(video.get("nb_frames")):
        return
    average = _ratio(video.get("avg_frame_rate"))
    if average is not None and average > 0:
        return
    argv = [
        FFPROBE, "-hide_banner", "-v", "error", "-protocol_whitelist", "file",
        "-select_streams", str(video.get("index", 0)), "-count_packets",
        "-show_entries", "stream=nb_read_packets", "-of", "json", "-i", f"file:{source}",
    ]  # fmt: skip
    result = run_tool(argv, timeout=timeout, what="ffprobe (packet count)")
    if result.returncode != 0:
        return  # the rate stays a guess; the main probe's view of the file stands
    try:
        counted = json.loads(result.stdout)["streams"][0]["nb_read_packets"]
    except (json.JSONDecodeError, KeyError, IndexError):
        return
    if _positive_int(counted):
        video["nb_frames"] = counted


def _probe_failure(source: Path, returncode: int, warnings: tuple[str, ...]) -> Exception:
    # The line naming a missing feature says most; FFmpeg's advice to update says nothing.
    telling = [line.split(". Update your FFmpeg")[0] for line in warnings if "implemented" in line]
    chosen = list(dict.fromkeys(telling[:1] + list(warnings[-2:])))
    said = "; ".join(chosen) or f"ffprobe exited with status {returncode}"
    log = {"ffprobe": list(warnings[-8:])}
    if returncode < 0:
        return MediaProcessingError(
            "probe_crashed",
            f"ffprobe was killed by signal {-returncode} reading {source.name}",
            transient=True,
            details=log,
        )
    text = " ".join(warnings).lower()
    if "misdetection possible" in text:
        return reject("not_media", f"the file is not a video FFmpeg can read: {said}", details=log)
    if "end of file" in text or "partial file" in text or "moov atom not found" in text:
        return reject(
            "truncated",
            f"the file ends before its media data does (is the upload complete?): {said}",
            details=log,
        )
    if "invalid data found when processing input" in text:
        return reject("not_media", f"the file is not a video FFmpeg can read: {said}", details=log)
    return reject("undecodable", f"FFmpeg cannot read the streams of the file: {said}", details=log)


def parse_probe_json(
    data: dict[str, Any], *, path: Path | str = "", warnings: tuple[str, ...] = ()
) -> MediaInfo:
    """Build ``MediaInfo`` from ffprobe's ``-show_format -show_streams -of json`` output."""
    fmt: dict[str, Any] = data.get("format") or {}
    streams: list[dict[str, Any]] = data.get("streams") or []
    video: VideoStream | None = None
    audio: AudioStream | None = None
    attached = 0
    encrypted = _has_encryption(fmt)
    duration = _positive_float(fmt.get("duration"))
    for stream in streams:
        encrypted = encrypted or _has_encryption(stream)
        kind = stream.get("codec_type")
        if kind == "video":
            if (stream.get("disposition") or {}).get("attached_pic"):
                attached += 1
            elif video is None:
                video = _video_stream(stream, duration)
        elif kind == "audio" and audio is None:
            audio = AudioStream(
                index=int(stream.get("index", 0)),
                codec=str(stream.get("codec_name") or "unknown"),
                profile=stream.get("profile"),
                channels=int(stream.get("channels") or 0),
                sample_rate=int(_positive_float(stream.get("sample_rate")) or 0),
                bit_rate=_positive_int(stream.get("bit_rate")),
            )
    if duration is None and video is not None:
        # Some containers (raw streams, some AVIs) carry no file duration; fall back to frames.
        duration = _stream_duration(streams, video.index)
    size = _positive_int(fmt.get("size"))
    if size is None:
        size = Path(path).stat().st_size if path else 0
    return MediaInfo(
        path=str(path),
        format_names=tuple(str(fmt.get("format_name") or "").split(",")),
        format_long_name=fmt.get("format_long_name"),
        duration=duration,
        size=size,
        bit_rate=_positive_int(fmt.get("bit_rate")),
        video=video,
        audio=audio,
        stream_count=len(streams),
        attached_pictures=attached,
        encrypted=encrypted,
        partial_file=any("partial file" in line for line in warnings),
        warnings=warnings[-20:],
    )


def _video_stream(stream: dict[str, Any], file_duration: float | None) -> VideoStream:
    width = int(stream.get("width") or 0)
    height = int(stream.get("height") or 0)
    rotation = _rotation(stream)
    sar = _ratio(stream.get("sample_aspect_ratio"))
    stretched_width = width
    if sar is not None and sar != 1 and width and height:
        stretched_width = max(1, round(width * sar))
    if rotation in (90, 270):
        display_width, display_height = height, stretched_width
    else:
        display_width, display_height = stretched_width, height
    frame_count = _positive_int(stream.get("nb_frames"))
    duration = _positive_float(stream.get("duration")) or file_duration
    fps, frame_rate, frame_rate_source = _frame_rate(stream, frame_count, duration)
    return VideoStream(
        index=int(stream.get("index", 0)),
        codec=str(stream.get("codec_name") or "unknown"),
        width=width,
        height=height,
        rotation=rotation,
        display_width=display_width,
        display_height=display_height,
        sample_aspect_ratio=(
            None if sar is None or sar == 1 else f"{sar.numerator}:{sar.denominator}"
        ),
        fps=fps,
        frame_rate=frame_rate,
        frame_rate_source=frame_rate_source,
        frame_count=frame_count,
        pix_fmt=stream.get("pix_fmt") if stream.get("pix_fmt") not in (None, "unknown") else None,
        profile=stream.get("profile"),
        bit_rate=_positive_int(stream.get("bit_rate")),
    )


def _rotation(stream: dict[str, Any]) -> int:
    """Clockwise degrees to show the picture upright, snapped to a quarter turn."""
    degrees: float | None = None
    for side in stream.get("side_data_list") or []:
        if side.get("side_data_type") == "Display Matrix" and "rotation" in side:
            # FFmpeg reports the display matrix angle counter-clockwise.
            degrees = -float(side["rotation"])
            break
    if degrees is None:
        tag = (stream.get("tags") or {}).get("rotate")
        if tag is not None:
            try:
                degrees = float(tag)
            except ValueError:
                degrees = None
    if degrees is None or math.isnan(degrees):
        return 0
    return round(degrees / 90.0) % 4 * 90


def _frame_rate(
    stream: dict[str, Any], frame_count: int | None, duration: float | None
) -> tuple[float, str, str]:
    average = _ratio(stream.get("avg_frame_rate"))
    if average is not None and average > 0:
        return float(average), str(stream.get("avg_frame_rate")), "average"
    if frame_count and duration:
        # avg_frame_rate is 0/0 where the container has no timing table (some WebM, MKV).
        estimate = Fraction(frame_count) / Fraction(duration).limit_denominator(100_000)
        estimate = estimate.limit_denominator(1001)
        return float(estimate), f"{estimate.numerator}/{estimate.denominator}", "counted"
    base = _ratio(stream.get("r_frame_rate"))
    if base is not None and base > 0:
        return float(base), str(stream.get("r_frame_rate")), "guessed"
    return 0.0, "0/1", "guessed"


def _stream_duration(streams: list[dict[str, Any]], index: int) -> float | None:
    for stream in streams:
        if stream.get("index") == index:
            return _positive_float(stream.get("duration"))
    return None


def _has_encryption(entry: dict[str, Any]) -> bool:
    if str(entry.get("codec_tag_string") or "") in ENCRYPTED_CODEC_TAGS:
        return True
    side_data = list(entry.get("side_data_list") or [])
    side_data += list((entry.get("tags") or {}).get("side_data_list") or [])
    return any(side.get("side_data_type") == ENCRYPTION_SIDE_DATA for side in side_data)


def _ratio(value: Any) -> Fraction | None:
    if not value or not isinstance(value, str):
        return None
    separator = ":" if ":" in value else "/"
    num, _, den = value.partition(separator)
    try:
        numerator, denominator = int(num), int(den or 1)
    except ValueError:
        return None
    if denominator == 0 or numerator < 0:
        return None
    return Fraction(numerator, denominator)


def _positive_float(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if number > 0 and math.isfinite(number) else None


def _positive_int(value: Any) -> int | None:
    try:
        number = int(value)
    except (TypeError, ValueError):
        return None
    return number if number > 0 else None


#: FFmpeg's log prefix "[mov,mp4,m4a,3gp,3g2,mj2 @ 0x55d6f67a9780] ": the address says nothing.
_LOG_PREFIX = re.compile(r"^\[([^\]@]+?) @ 0x[0-9a-f]+\] ")
#: Advice FFmpeg prints that means nothing to the uploader.
_NOISE = ("Consider increasing the value for the 'analyzeduration'",)


def _distinct_lines(text: str) -> tuple[str, ...]:
    seen: dict[str, None] = {}
    for raw in text.splitlines():
        line = _LOG_PREFIX.sub(lambda match: match.group(1).split(",")[0] + ": ", raw.strip())
        if line and not line.startswith(_NOISE):
            seen.setdefault(line, None)
    return tuple(seen)
