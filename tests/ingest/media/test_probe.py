"""probe(): what ffprobe reports, reduced to MediaInfo; deadlines kill the child."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from ingest.media import MediaProcessingError, MediaRejection, probe
from tests.ingest.media.conftest import CLIPS_DIR, ODD_DIR, ffmpeg, need_eval_data


def test_probe_reads_an_eval_clip() -> None:
    need_eval_data()
    info = probe(CLIPS_DIR / "chair-19-sd-bar.mp4", timeout=10)
    assert "mp4" in info.format_names
    assert info.duration == pytest.approx(18.816, abs=0.01)
    assert info.size == (CLIPS_DIR / "chair-19-sd-bar.mp4").stat().st_size
    assert info.video is not None
    assert info.audio is not None
    assert (info.video.codec, info.video.width, info.video.height) == ("h264", 480, 720)
    assert (info.video.display_width, info.video.display_height) == (480, 720)
    assert info.video.fps == 30.0
    assert info.video.frame_count == 564
    assert info.video.pix_fmt == "yuv420p"
    assert info.video.rotation == 0
    assert (info.audio.codec, info.audio.channels, info.audio.sample_rate) == ("aac", 2, 48000)
    assert json.loads(json.dumps(info.to_dict()))["video"]["width"] == 480


def test_cover_art_is_not_video() -> None:
    need_eval_data()
    info = probe(ODD_DIR / "mp4parse" / "metadata.mp4", timeout=10)
    assert info.attached_pictures == 1
    assert info.video is not None
    assert info.video.codec == "h264"


def test_mp3_with_cover_art_has_no_video(tmp_path: Path) -> None:
    path = tmp_path / "song.mp3"
    ffmpeg(
        "-f", "lavfi", "-i", "sine=duration=1",
        "-f", "lavfi", "-i", "color=c=blue:size=64x64:duration=0.1",
        "-map", "0", "-map", "1", "-c:a", "libmp3lame", "-c:v", "mjpeg", "-frames:v", "1",
        "-disposition:v", "attached_pic", str(path),
    )  # fmt: skip
    info = probe(path, timeout=10)
    assert info.video is None
    assert info.audio is not None
    assert info.audio.codec == "mp3"
    assert info.attached_pictures == 1


def test_rotation_turns_the_display_dimensions(rotated_clip: Path) -> None:
    info = probe(rotated_clip, timeout=10)
    assert info.video is not None
    assert (info.video.width, info.video.height) == (640, 360)
    assert info.video.rotation == 90
    assert (info.video.display_width, info.video.display_height) == (360, 640)
    assert (info.video.upright_width, info.video.upright_height) == (360, 640)


def test_non_square_pixels_widen_the_display() -> None:
    need_eval_data()
    info = probe(ODD_DIR / "mp4parse" / "h264_white_frame_sar_16_9.mp4", timeout=10)
    assert info.video is not None
    assert info.video.sample_aspect_ratio == "16:9"
    assert (info.video.display_width, info.video.display_height) == (1138, 480)


def test_a_file_name_is_never_an_option_or_a_url(tmp_path: Path, clip: Callable[..., Path]) -> None:
    source = clip("small.mp4")
    tricky = tmp_path / "-i http:x.mp4"
    tricky.write_bytes(source.read_bytes())
    info = probe(tricky, timeout=10)
    assert info.video is not None


def test_unreadable_file_is_a_rejection(tmp_path: Path) -> None:
    path = tmp_path / "noise.mp4"
    path.write_bytes(bytes(range(256)) * 40)
    with pytest.raises(MediaRejection) as caught:
        probe(path, timeout=10)
    assert caught.value.reason == "not_media"


def test_probe_past_its_deadline_is_killed(tmp_path: Path) -> None:
    # ffprobe blocks opening a FIFO nobody writes to: a hang we can make on demand.
    fifo = tmp_path / "hang.mp4"
    os.mkfifo(fifo)
    started = time.monotonic()
    with pytest.raises(MediaProcessingError) as caught:
        probe(fifo, timeout=0.5)
    assert time.monotonic() - started < 5
    assert caught.value.reason == "timeout"
    assert caught.value.transient is False
    assert caught.value.details["limit_seconds"] == 0.5


def test_webm_without_frame_timing_gets_a_counted_rate() -> None:
    """ffprobe reports the 1000/s timebase as this WebM's rate; the packets say 1 per second."""
    need_eval_data()
    info = probe(ODD_DIR / "minimal" / "webm.webm", timeout=10)
    assert info.video is not None
    assert (info.video.fps, info.video.frame_rate_source) == (1.0, "counted")
