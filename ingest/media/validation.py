"""The gate in front of the encoder: ``sniff`` (before ffprobe) and ``validate`` (after it).

``sniff`` looks at the first bytes only (and, for MP4/MOV/3GP, walks the top-level boxes): it
refuses an empty file, text (a playlist or a script named .mp4 must never reach FFmpeg, which
would follow the references in it), still images, and ISO files whose boxes run past the end of
the file (an interrupted upload). ``validate`` checks ffprobe's ``MediaInfo`` against the
configured ``MediaSettings`` limits, in the order a person fixing the file would want to hear
about them: what the file is, then its codecs, then its sizes.
"""

from __future__ import annotations

import logging
import struct
from pathlib import Path

from core.settings import MediaSettings

from .errors import reject, setting_env_name
from .probe import MediaInfo

logger = logging.getLogger(__name__)

SNIFF_BYTES = 4096

#: Magic numbers of still-image formats: (offset, bytes, name).
IMAGE_MAGIC: tuple[tuple[int, bytes, str], ...] = (
    (0, b"\xff\xd8\xff", "JPEG"),
    (0, b"\x89PNG\r\n\x1a\n", "PNG"),
    (0, b"GIF87a", "GIF"),
    (0, b"GIF89a", "GIF"),
    (0, b"BM", "BMP"),
    (8, b"WEBP", "WebP"),
    (0, b"II*\x00", "TIFF"),
    (0, b"MM\x00*", "TIFF"),
)

#: ffprobe demuxers that read pictures, not video.
IMAGE_DEMUXERS = frozenset({"image2", "gif", "apng", "webp", "bmp", "ico", "tiff", "svg"})

#: Top-level ISO BMFF box types; a file whose first box is one of these is walked box by box.
ISO_TOP_LEVEL = frozenset(
    {
        b"ftyp",
        b"moov",
        b"mdat",
        b"free",
        b"skip",
        b"wide",
        b"pnot",
        b"uuid",
        b"styp",
        b"moof",
        b"mfra",
        b"meta",
        b"sidx",
        b"pdin",
        b"prft",
        b"emsg",
        b"junk",
    }
)


def sniff(source: Path | str | bytes) -> str:
    """A first look at an upload; returns a hint of its kind ("iso", "matroska", "binary"...).

    ``source`` is a path (preferred: the ISO box walk needs the file size) or the file's first
    bytes. Raises the rejection ``empty_file``, ``not_media``, ``still_image`` or ``truncated``.
    """
    if isinstance(source, bytes):
        head, size = source[:SNIFF_BYTES], None
    else:
        path = Path(source)
        size = path.stat().st_size
        with path.open("rb") as file:
            head = file.read(SNIFF_BYTES)
    if not head:
        raise reject("empty_file", "the file is empty (0 bytes)", measured=0)
    for offset, magic, name in IMAGE_MAGIC:
        if head[offset : offset + len(magic)] == magic:
            raise reject(
                "still_image",
                f"the file is a {name} picture, not a video",
                details={"detected": name},
            )
    if head[4:8] in ISO_TOP_LEVEL:
        if size is not None and not isinstance(source, bytes):
            _walk_iso_boxes(Path(source), size)
        return "iso"
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return "matroska"
    if head.startswith(b"RIFF"):
        return "riff"
    if head.startswith(b"FLV"):
        return "flv"
    if _looks_like_text(head):
        raise reject(
            "not_media",
            "the file is text, not a video"
            + (" (it is named like one)" if _named_like_video(source) else ""),
            details={"detected": "text"},
        )
    return "binary"


def _named_like_video(source: Path | str | bytes) -> bool:
    if isinstance(source, bytes):
        return False
    return Path(source).suffix.lower() in {".mp4", ".mov", ".m4v", ".webm", ".mkv", ".3gp"}


def _looks_like_text(head: bytes) -> bool:
    if b"\x00" in head:
        return False
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError as exc:
        # A multi-byte character cut by the read size is still text.
        if exc.start < len(head) - 4:
            return False
        text = head[: exc.start].decode("utf-8")
    if not text:
        return False
    printable = sum(1 for char in text if char.isprintable() or char in "\r\n\t\f")
    return printable / len(text) >= 0.95


def _walk_iso_boxes(path: Path, size: int) -> None:
    """Refuse an MP4/MOV whose top-level boxes run past the end of the file."""
    with path.open("rb") as file:
        offset = 0
        while offset < size:
            file.seek(offset)
            header = file.read(16)
            if len(header) < 8:
                break  # trailing bytes too short to be a box: harmless padding
            box_size, box_type = struct.unpack(">I4s", header[:8])
            if box_size == 1:
                if len(header) < 16:
                    break
                box_size = struct.unpack(">Q", header[8:16])[0]
            elif box_size == 0:
                box_size = size - offset  # "to the end of the file"
            if box_size < 8:
                raise reject(
                    "truncated",
                    f"the MP4 box at byte {offset} has an impossible size ({box_size} bytes)",
                    details={"offset": offset},
                )
            if offset + box_size > size:
                name = box_type.decode("latin-1")
                raise reject(
                    "truncated",
                    f"the file ends at byte {size} inside its '{name}' box, which should end at "
                    f"byte {offset + box_size} (is the upload complete?)",
                    limit=offset + box_size,
                    measured=size,
                    details={"box": name},
                )
            offset += box_size


def check_size(size: int, limits: MediaSettings) -> None:
    """Refuse a file over ``max_upload_bytes`` (cheap: callers run it before ffprobe)."""
    if size > limits.max_upload_bytes:
        raise reject(
            "too_large",
            f"the file is {size:,} bytes; the largest accepted is "
            f"{limits.max_upload_bytes:,} bytes "
            f"({setting_env_name('max_upload_bytes')})",
            limit=limits.max_upload_bytes,
            measured=size,
            setting="max_upload_bytes",
        )


def validate(info: MediaInfo, limits: MediaSettings) -> None:
    """Raise the first rejection ``info`` earns under ``limits``; return if the video is fine."""
    check_size(info.size, limits)
    if info.encrypted:
        raise reject("encrypted", "the file is encrypted (DRM); only clear media is accepted")
    if info.partial_file:
        raise reject(
            "truncated",
            "the file ends before its media data does (is the upload complete?)",
            details={"ffprobe": list(info.warnings[-3:])},
        )
    if IMAGE_DEMUXERS.intersection(info.format_names) or any(
        name.endswith("_pipe") for name in info.format_names
    ):
        raise reject(
            "still_image",
            f"the file is a picture ({info.format_long_name or info.format_names[0]}), not a video",
            details={"format": ",".join(info.format_names)},
        )
    video = info.video
    if video is None:
        what = "audio only" if info.audio is not None else "no audio or video streams"
        if info.attached_pictures:
            what += " with cover art"
        raise reject("no_video_stream", f"the file has no video stream ({what})")
    if not set(info.format_names) & set(limits.containers):
        raise reject(
            "container_not_allowed",
            f"the container {','.join(info.format_names)} is not accepted; accepted: "
            f"{', '.join(limits.containers)} "
            f"({setting_env_name('containers')})",
            limit=list(limits.containers),
            measured=",".join(info.format_names),
            setting="containers",
        )
    if video.codec not in limits.video_codecs:
        raise reject(
            "video_codec_not_allowed",
            f"the video codec {video.codec} is not accepted; accepted: "
            f"{', '.join(limits.video_codecs)} "
            f"({setting_env_name('video_codecs')})",
            limit=list(limits.video_codecs),
            measured=video.codec,
            setting="video_codecs",
        )
    if info.audio is not None and info.audio.codec not in limits.audio_codecs:
        raise reject(
            "audio_codec_not_allowed",
            f"the audio codec {info.audio.codec} is not accepted; accepted: "
            f"{', '.join(limits.audio_codecs)} "
            f"({setting_env_name('audio_codecs')})",
            limit=list(limits.audio_codecs),
            measured=info.audio.codec,
            setting="audio_codecs",
        )
    if info.duration is not None and info.duration > limits.max_duration_seconds:
        raise reject(
            "too_long",
            f"the video is {info.duration:.1f} s long; the longest accepted is "
            f"{limits.max_duration_seconds:g} s "
            f"({setting_env_name('max_duration_seconds')})",
            limit=limits.max_duration_seconds,
            measured=round(info.duration, 3),
            setting="max_duration_seconds",
        )
    short, long = sorted((video.display_width, video.display_height))
    if short < limits.min_edge_px:
        raise reject(
            "too_small",
            f"the video is {video.display_width}x{video.display_height} pixels; the smallest "
            f"accepted edge is {limits.min_edge_px} px "
            f"({setting_env_name('min_edge_px')})",
            limit=limits.min_edge_px,
            measured=short,
            setting="min_edge_px",
        )
    if long > limits.max_edge_px:
        raise reject(
            "dimensions_too_large",
            f"the video is {video.display_width}x{video.display_height} pixels; the largest "
            f"accepted edge is {limits.max_edge_px} px "
            f"({setting_env_name('max_edge_px')})",
            limit=limits.max_edge_px,
            measured=long,
            setting="max_edge_px",
        )
    if video.fps > limits.max_fps and video.frame_rate_source != "guessed":
        raise reject(
            "fps_too_high",
            f"the video runs at {video.fps:.2f} frames per second; the highest accepted is "
            f"{limits.max_fps:g} "
            f"({setting_env_name('max_fps')})",
            limit=limits.max_fps,
            measured=round(video.fps, 3),
            setting="max_fps",
        )
    if video.fps <= 0:
        raise reject(
            "undecodable",
            "the video stream has no frame rate and no timing FFmpeg can use",
            details={"frame_rate": video.frame_rate},
        )
