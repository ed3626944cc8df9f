"""process(): real files end to end, every odd file handled, failures leave nothing behind."""

from __future__ import annotations

import json
import os
import re
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from core.settings import MediaSettings
from ingest.media import (
    REASONS,
    MediaProcessingError,
    MediaRejection,
    ProcessResult,
    process,
)
from tests.ingest.media.conftest import (
    CLIPS_DIR,
    ODD_DIR,
    ffmpeg,
    ffprobe_json,
    make_clip,
    need_eval_data,
)

STREAM_INF = re.compile(r"#EXT-X-STREAM-INF:(.*)\n(\S+)")


def master_entries(out: Path) -> list[tuple[dict[str, str], str]]:
    text = (out / "master.m3u8").read_text()
    entries = []
    for attributes, uri in STREAM_INF.findall(text):
        fields = dict(re.findall(r'([A-Z-]+)=("[^"]*"|[^,]*)', attributes))
        entries.append(({k: v.strip('"') for k, v in fields.items()}, uri))
    return entries


def tree(folder: Path) -> list[str]:
    return sorted(path.relative_to(folder).as_posix() for path in folder.rglob("*"))


def check_playable(result: ProcessResult, out: Path) -> None:
    """Every rung is in the master with BANDWIDTH/RESOLUTION/CODECS and ffprobe reads it."""
    entries = master_entries(out)
    assert [uri for _, uri in entries] == [rung.playlist for rung in result.rungs]
    for (fields, uri), rung in zip(entries, result.rungs, strict=True):
        assert int(fields["BANDWIDTH"]) > 0
        assert fields["RESOLUTION"] == f"{rung.width}x{rung.height}"
        assert re.fullmatch(r"avc1\.[0-9a-f]{6}(,mp4a\.40\.2)?", fields["CODECS"])
        assert ("mp4a.40.2" in fields["CODECS"]) == (result.info.audio is not None)
        data = ffprobe_json(out / uri)
        video = [s for s in data["streams"] if s["codec_type"] == "video"]
        assert [(s["codec_name"], s["width"], s["height"]) for s in video] == [
            ("h264", rung.width, rung.height)
        ]
        audio = [s for s in data["streams"] if s["codec_type"] == "audio"]
        assert len(audio) == (1 if result.info.audio is not None else 0)


def test_portrait_clip(tmp_path: Path, portrait_clip: Path, limits: MediaSettings) -> None:
    out = tmp_path / "out"
    result = process(portrait_clip, out, limits)
    assert [(r.name, r.width, r.height) for r in result.rungs] == [
        ("480p", 480, 854),
        ("360p", 360, 640),
    ]
    check_playable(result, out)
    assert all(rung.codecs.endswith(",mp4a.40.2") for rung in result.rungs)
    assert result.rungs[0].bandwidth > result.rungs[1].bandwidth
    for name in result.files():
        assert (out / name).is_file(), name
    assert [h.frame_number for h in result.frame_hashes] == [0, 30]
    assert result.realtime_factor > 0
    timings = result.timings
    assert 0 < timings.probe_s < timings.total_s
    assert 0 < timings.encode_s < timings.total_s
    assert json.loads(json.dumps(result.to_dict()))["rungs"][0]["name"] == "480p"

    again = process(portrait_clip, tmp_path / "again", limits)
    assert tree(tmp_path / "again") == tree(out)  # same names on reprocessing
    assert again.frame_hashes == result.frame_hashes


def test_landscape_clip(tmp_path: Path, landscape_clip: Path, limits: MediaSettings) -> None:
    result = process(landscape_clip, tmp_path / "out", limits)
    assert [(r.name, r.width, r.height) for r in result.rungs] == [
        ("480p", 854, 480),
        ("360p", 640, 360),
    ]
    check_playable(result, tmp_path / "out")


def test_video_without_audio(tmp_path: Path, silent_clip: Path, limits: MediaSettings) -> None:
    result = process(silent_clip, tmp_path / "out", limits)
    assert result.info.audio is None
    assert [r.name for r in result.rungs] == ["360p"]
    assert result.rungs[0].audio_bitrate is None
    check_playable(result, tmp_path / "out")


def test_rotated_video_comes_out_upright(
    tmp_path: Path, rotated_clip: Path, limits: MediaSettings
) -> None:
    out = tmp_path / "out"
    result = process(rotated_clip, out, limits)
    assert [(r.width, r.height) for r in result.rungs] == [(360, 640)]
    check_playable(result, out)
    frame = tmp_path / "frame.gray"
    ffmpeg("-i", str(out / result.rungs[0].playlist), "-frames:v", "1", "-f", "rawvideo",
           "-pix_fmt", "gray", str(frame))  # fmt: skip
    luma = np.frombuffer(frame.read_bytes(), dtype=np.uint8).reshape(640, 360)
    assert luma[:300].mean() > 200
    assert luma[340:].mean() < 50


def keyframe_times(playlist: Path) -> list[float]:
    packets = ffprobe_json(
        playlist, "-select_streams", "v:0", "-show_entries", "packet=pts_time,flags"
    )["packets"]
    start = float(packets[0]["pts_time"])
    return [
        round(float(packet["pts_time"]) - start, 3) for packet in packets if "K" in packet["flags"]
    ]


@pytest.mark.parametrize(("rate", "expected"), [(60, "60/1"), (120, "60/1")])
def test_high_frame_rates(
    tmp_path: Path, clip: Callable[..., Path], limits: MediaSettings, rate: int, expected: str
) -> None:
    source = clip(f"fps{rate}.mp4", size="320x240", rate=rate, seconds=5)
    out = tmp_path / "out"
    result = process(source, out, limits)
    playlist = out / result.rungs[0].playlist
    assert ffprobe_json(playlist)["streams"][0]["r_frame_rate"] == expected
    assert result.rungs[0].frame_rate == "60"
    # The GOP follows the output rate: a keyframe every keyframe_seconds, not every 60 frames.
    assert keyframe_times(playlist) == [0.0, 2.0, 4.0]
    # vPDQ samples source frames: one a second at the source rate.
    assert [h.frame_number for h in result.frame_hashes] == [n * rate for n in range(5)]


def test_zero_byte_file(tmp_path: Path, limits: MediaSettings) -> None:
    source = tmp_path / "empty.mp4"
    source.write_bytes(b"")
    with pytest.raises(MediaRejection) as caught:
        process(source, tmp_path / "out", limits)
    assert caught.value.reason == "empty_file"
    assert not (tmp_path / "out").exists()


def test_text_file_named_mp4(tmp_path: Path, limits: MediaSettings) -> None:
    source = tmp_path / "clip.mp4"
    source.write_text("ffconcat version 1.0\nfile /etc/passwd\n")
    with pytest.raises(MediaRejection) as caught:
        process(source, tmp_path / "out", limits)
    assert caught.value.reason == "not_media"


def test_truncated_clip(tmp_path: Path, limits: MediaSettings) -> None:
    need_eval_data()
    data = (CLIPS_DIR / "doorknob-hd-no-bar.mp4").read_bytes()
    source = tmp_path / "cut.mp4"
    source.write_bytes(data[: len(data) * 6 // 10])
    with pytest.raises(MediaRejection) as caught:
        process(source, tmp_path / "out", limits)
    assert caught.value.reason == "truncated"


def test_truncated_matroska_is_caught_after_decoding(tmp_path: Path, limits: MediaSettings) -> None:
    """Matroska (WebM) headers do not say where the data ends: the cut shows as lost seconds."""
    whole = make_clip(
        tmp_path / "whole.mkv",
        seconds=6,
        video_codec=("-c:v", "libvpx", "-b:v", "300k", "-pix_fmt", "yuv420p"),
    )
    data = whole.read_bytes()
    source = tmp_path / "cut.mkv"
    source.write_bytes(data[: len(data) * 6 // 10])
    with pytest.raises(MediaRejection) as caught:
        process(source, tmp_path / "out", limits)
    assert caught.value.reason == "truncated"
    assert caught.value.details["limit"] == pytest.approx(6.0, abs=0.1)
    assert caught.value.details["measured"] < 5
    assert not (tmp_path / "out").exists()


def test_one_pixel_video(tmp_path: Path, limits: MediaSettings) -> None:
    source = make_clip(
        tmp_path / "dot.mp4",
        source="color=c=red:size=2x2:rate=10:duration=1,scale=1:1",
        audio=False,
        video_codec=("-c:v", "libx264", "-pix_fmt", "yuv444p"),
    )
    with pytest.raises(MediaRejection) as caught:
        process(source, tmp_path / "out", limits)
    assert caught.value.reason == "too_small"
    assert "1x1 pixels" in caught.value.message


def test_audio_only(tmp_path: Path, limits: MediaSettings) -> None:
    source = make_clip(
        tmp_path / "voice.m4a", source="sine=duration=1", video_codec=("-vn",), audio=False
    )
    with pytest.raises(MediaRejection) as caught:
        process(source, tmp_path / "out", limits)
    assert caught.value.reason == "no_video_stream"


def test_out_dir_must_be_empty(tmp_path: Path, silent_clip: Path, limits: MediaSettings) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("the caller's")
    with pytest.raises(MediaProcessingError) as caught:
        process(silent_clip, out, limits)
    assert caught.value.reason == "out_dir_not_empty"
    assert (out / "keep.txt").read_text() == "the caller's"


def _children() -> list[str]:
    """Commands of this process's live children (ffmpeg must not outlive a run)."""
    names = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[1]) == os.getpid() and fields[0] != "Z":
            names.append((stat.parent / "comm").read_text().strip())
    return names


def test_timeout_kills_ffmpeg_and_leaves_nothing(
    tmp_path: Path,
    clip: Callable[..., Path],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    source = clip("long.mp4", size="640x360", seconds=20)
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setenv("TMPDIR", str(scratch))
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    limits = MediaSettings(preset="veryslow", process_timeout_seconds=1.0)
    out = tmp_path / "out"
    started = time.monotonic()
    with pytest.raises(MediaProcessingError) as caught:
        process(source, out, limits)
    assert time.monotonic() - started < 10
    assert caught.value.reason == "timeout"
    assert caught.value.transient is False
    assert not out.exists()
    assert list(scratch.iterdir()) == []
    assert "ffmpeg" not in _children()


def test_failure_empties_an_out_dir_the_caller_made(
    tmp_path: Path, clip: Callable[..., Path]
) -> None:
    source = clip("long.mp4", size="640x360", seconds=20)
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(MediaProcessingError):
        process(source, out, MediaSettings(preset="veryslow", process_timeout_seconds=1.0))
    assert out.is_dir()
    assert list(out.iterdir()) == []


#: What each odd file is expected to get; a file not listed must still process or be rejected.
ODD_EXPECTED = {
    "minimal/AudioVideoInterleave.avi": "too_small",
    "minimal/FlashVideo.flv": "truncated",
    "minimal/Mpeg4.mp4": "no_video_stream",
    "minimal/README.md": "not_media",
    "minimal/gif-transparent.gif": "still_image",
    "minimal/gif.gif": "still_image",
    "minimal/jpeg.jpg": "still_image",
    "minimal/mp3.mp3": "not_media",
    "minimal/mp4-with-audio.mp4": "no_video_stream",
    "minimal/png-transparent.png": "still_image",
    "minimal/png-truncated.png": "still_image",
    "minimal/wav.wav": "no_video_stream",
    "minimal/webm.webm": "too_small",
    "minimal/webp.webp": "still_image",
    "mp4parse/LICENSE": "not_media",
    "mp4parse/amr_nb_1f.3gp": "no_video_stream",
    "mp4parse/amr_wb_1f.3gp": "no_video_stream",
    "mp4parse/bbb_sunflower_QCIF_30fps_h263_noaudio_1f.3gp": "processed",
    "mp4parse/bbb_sunflower_QCIF_30fps_mp4v_noaudio_1f.mp4": "processed",
    "mp4parse/bipbop-cenc-audioinit.mp4": "encrypted",
    "mp4parse/bipbop_480wp_1001kbps-cenc-video-key1-init.mp4": "encrypted",
    "mp4parse/bipbop_cbcs_audio_init.mp4": "encrypted",
    "mp4parse/bipbop_cbcs_video_init.mp4": "encrypted",
    "mp4parse/clusterfuzz-testcase-minimized-mp4-6093954524250112": "truncated",
    "mp4parse/h264_white_frame_sar_16_9.mp4": "processed",
    "mp4parse/hevc_white_frame.mp4": "processed",
    "mp4parse/invalid_userdata.mp4": "truncated",
    "mp4parse/metadata.mp4": "processed",
    "mp4parse/metadata_gnre.mp4": "processed",
    "mp4parse/minimal.mp4": "processed",
    "mp4parse/sine-3s-xhe-aac-44khz-mono.mp4": "undecodable",
    "mp4parse/test_case_1185230.mp4": "truncated",
    "mp4parse/tiny_av1.mp4": "processed",
    "mp4parse/video_colr_nclx_and_icc.mp4": "too_small",
    "mp4parse/video_colr_nclx_two_colr.mp4": "too_small",
}
ODD_FILES = sorted(
    path.relative_to(ODD_DIR).as_posix() for path in ODD_DIR.glob("*/*") if path.is_file()
)
ODD_SECONDS = 20.0


@pytest.mark.parametrize("name", ODD_FILES)
def test_odd_file_is_processed_or_rejected_cleanly(tmp_path: Path, name: str) -> None:
    limits = MediaSettings(
        preset="ultrafast", process_timeout_seconds=ODD_SECONDS, probe_timeout_seconds=5.0
    )
    out = tmp_path / "out"
    started = time.monotonic()
    rejection: MediaRejection | None = None
    try:
        result = process(ODD_DIR / name, out, limits)
    except MediaRejection as caught:
        rejection = caught
    if rejection is not None:
        outcome = rejection.reason
        assert rejection.reason in REASONS
        assert len(rejection.message) > 20
        assert rejection.details["reason"] == rejection.reason
        assert not out.exists()
    else:
        outcome = "processed"
        check_playable(result, out)
        assert result.thumbnails
        assert result.frame_hashes
    assert time.monotonic() - started < ODD_SECONDS
    assert outcome == ODD_EXPECTED.get(name, outcome)


def test_every_odd_file_is_listed() -> None:
    need_eval_data()
    assert sorted(ODD_EXPECTED) == ODD_FILES
