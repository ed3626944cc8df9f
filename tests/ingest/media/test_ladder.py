"""plan_ladder() and the FFmpeg commands: rungs by short edge, rates, aligned keyframes."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from core.settings import MediaSettings
from ingest.media import (
    AudioStream,
    FrameSampling,
    MediaInfo,
    VideoStream,
    build_ladder_command,
    build_rung_command,
    plan_ladder,
    probe,
)
from ingest.media.hls import read_media_playlist
from tests.ingest.media.conftest import ffprobe_json


def media(
    width: int,
    height: int,
    *,
    fps: float = 30.0,
    frame_rate: str | None = None,
    audio: bool = True,
    video_bit_rate: int | None = None,
    rotation: int = 0,
) -> MediaInfo:
    turned = rotation in (90, 270)
    video = VideoStream(
        index=0,
        codec="h264",
        width=width,
        height=height,
        rotation=rotation,
        display_width=height if turned else width,
        display_height=width if turned else height,
        sample_aspect_ratio=None,
        fps=fps,
        frame_rate=frame_rate or f"{fps:g}",
        frame_rate_source="average",
        frame_count=None,
        pix_fmt="yuv420p",
        profile=None,
        bit_rate=video_bit_rate,
    )
    sound = AudioStream(1, "aac", "LC", 2, 48000, 128000) if audio else None
    return MediaInfo(
        path="/videos/in.mp4",
        format_names=("mov", "mp4"),
        format_long_name=None,
        duration=10.0,
        size=1,
        bit_rate=None,
        video=video,
        audio=sound,
        stream_count=2 if audio else 1,
    )


def dims(info: MediaInfo) -> list[tuple[str, int, int]]:
    return [(rung.name, rung.width, rung.height) for rung in plan_ladder(info, MediaSettings())]


def test_portrait_rungs_by_short_edge() -> None:
    assert dims(media(1080, 1920)) == [
        ("1080p", 1080, 1920),
        ("720p", 720, 1280),
        ("480p", 480, 854),
        ("360p", 360, 640),
    ]


def test_landscape_rungs_by_short_edge() -> None:
    assert dims(media(1920, 1080)) == [
        ("1080p", 1920, 1080),
        ("720p", 1280, 720),
        ("480p", 854, 480),
        ("360p", 640, 360),
    ]


def test_rotated_source_follows_the_display() -> None:
    assert dims(media(1280, 720, rotation=90))[0] == ("720p", 720, 1280)


def test_rungs_above_the_source_are_skipped() -> None:
    assert [name for name, _, _ in dims(media(600, 1000))] == ["480p", "360p"]
    assert dims(media(1080, 1080))[1] == ("720p", 720, 720)


def test_a_source_below_the_smallest_rung_gets_one_rung_at_its_size() -> None:
    assert dims(media(320, 240)) == [("240p", 320, 240)]
    assert dims(media(33, 17)) == [("16p", 32, 16)]  # even dimensions, never enlarged


def test_bitrates_step_down_and_audio_follows_the_rung() -> None:
    rungs = plan_ladder(media(1080, 1920), MediaSettings())
    rates = [rung.video_bitrate for rung in rungs]
    assert rates == sorted(rates, reverse=True)
    assert 4_500_000 < rates[0] < 6_500_000  # ~0.09 bits per pixel at 30 fps
    assert [rung.audio_bitrate for rung in rungs] == [128_000, 128_000, 96_000, 64_000]
    assert all(rung.maxrate == int(rung.video_bitrate * 1.5) for rung in rungs)
    per_pixel = [r.video_bitrate / (r.width * r.height * 30) for r in rungs]
    assert per_pixel == sorted(per_pixel)  # small pictures get more bits per pixel


def test_bitrate_never_exceeds_what_the_source_spends() -> None:
    rungs = plan_ladder(media(1080, 1920, video_bit_rate=1_000_000), MediaSettings())
    assert rungs[0].video_bitrate == 1_000_000
    assert rungs[1].video_bitrate < rungs[0].video_bitrate
    assert min(rung.video_bitrate for rung in rungs) >= 150_000


@pytest.mark.parametrize(
    ("fps", "frame_rate", "expected_rate", "gop"),
    [
        (30.0, "30/1", "30", 60),
        (29.97, "30000/1001", "30000/1001", 60),
        (24.0, "24/1", "24", 48),
        (60.0, "60/1", "60", 120),
        (120.0, "120/1", "60", 120),
    ],
)
def test_frame_rate_is_capped_at_60_and_gop_follows_it(
    fps: float, frame_rate: str, expected_rate: str, gop: int
) -> None:
    rung = plan_ladder(media(640, 360, fps=fps, frame_rate=frame_rate), MediaSettings())[0]
    assert (rung.frame_rate, rung.gop_frames) == (expected_rate, gop)


def test_no_audio_means_no_audio_rungs() -> None:
    info = media(1280, 720, audio=False)
    rungs = plan_ladder(info, MediaSettings())
    assert all(rung.audio_bitrate is None for rung in rungs)
    argv = build_ladder_command(info, rungs, Path("/out"), MediaSettings())
    stream_map = argv[argv.index("-var_stream_map") + 1]
    assert stream_map == "v:0,name:720p v:1,name:480p v:2,name:360p"
    assert "-c:a" not in argv


def test_one_pass_command_decodes_once(tmp_path: Path) -> None:
    info = media(1080, 1920)
    limits = MediaSettings(preset="medium")
    rungs = plan_ladder(info, limits)
    sampling = FrameSampling.for_video(
        info.video,  # type: ignore[arg-type]
        hash_interval_seconds=1.0,
        storyboard_interval_seconds=2.0,
    )
    argv = build_ladder_command(info, rungs, tmp_path, limits, sampling=sampling)
    assert argv.count("-i") == 1
    graph = argv[argv.index("-filter_complex") + 1]
    assert "split=4" in graph
    assert "split=2" in graph
    assert "select='not(mod(n\\,30))'" in graph  # storyboard frames (every 60th) are among them
    assert argv[argv.index("-preset") + 1] == "medium"
    assert argv[argv.index("-g") + 1] == argv[argv.index("-keyint_min") + 1] == "60"
    assert argv[argv.index("-sc_threshold") + 1] == "0"
    assert argv[argv.index("-hls_time") + 1] == "4"
    assert argv[argv.index("-master_pl_name") + 1] == "master.m3u8"
    assert argv[argv.index("-var_stream_map") + 1] == (
        "v:0,a:0,name:1080p v:1,a:1,name:720p v:2,a:2,name:480p v:3,a:3,name:360p"
    )
    assert argv[-3:] == ["-f", "rawvideo", "pipe:1"]
    assert argv[argv.index("-i") + 1] == "file:/videos/in.mp4"


def test_sampling_every_frame_selects_nothing_out() -> None:
    info = media(640, 360)
    sampling = FrameSampling.for_video(
        info.video,  # type: ignore[arg-type]
        hash_interval_seconds=0,
        storyboard_interval_seconds=2.0,
    )
    assert "select" not in sampling.filter_chain()
    numbers = sampling.frame_numbers()
    assert [next(numbers) for _ in range(3)] == [0, 1, 2]


def test_storyboard_frames_join_the_selection() -> None:
    sampling = FrameSampling(width=2, height=2, fps=10, hash_every=10, storyboard_every=15)
    numbers = sampling.frame_numbers()
    assert [next(numbers) for _ in range(5)] == [0, 10, 15, 20, 30]
    assert "not(mod(n\\,10))+not(mod(n\\,15))" in sampling.filter_chain()


def _extinf(playlist: Path) -> list[float]:
    return [segment.duration for segment in read_media_playlist(playlist).segments]


def test_one_pass_and_per_rung_commands_make_the_same_rungs(
    tmp_path: Path, portrait_clip: Path, limits: MediaSettings
) -> None:
    info = probe(portrait_clip, timeout=10)
    rungs = plan_ladder(info, limits)
    assert [rung.name for rung in rungs] == ["480p", "360p"]

    one_pass = tmp_path / "one"
    subprocess.run(build_ladder_command(info, rungs, one_pass, limits), check=True, timeout=120)
    master = (one_pass / "master.m3u8").read_text()
    assert "480p/index.m3u8" in master
    assert "360p/index.m3u8" in master
    # Aligned keyframes: every rung is cut at the same instants.
    cuts = {rung.name: _extinf(one_pass / rung.playlist) for rung in rungs}
    assert cuts["480p"] == cuts["360p"]

    alone = tmp_path / "alone"
    (alone / "360p").mkdir(parents=True)
    subprocess.run(build_rung_command(info, rungs[1], alone, limits), check=True, timeout=120)
    assert _extinf(alone / "360p" / "index.m3u8") == cuts["360p"]
    stream = ffprobe_json(alone / "360p" / "segment_00000.ts")["streams"][0]
    assert (stream["width"], stream["height"]) == (360, 640)
