"""sniff() and validate(): each rule, its reason, its HTTP class, and a message to act on."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from core.errors import InvalidInputError, TooLargeError, UnsupportedMediaError, VigilError
from core.settings import MediaSettings
from ingest.media import (
    REASONS,
    MediaInfo,
    MediaRejection,
    MediaTooLargeError,
    probe,
    sniff,
    validate,
)
from ingest.media.errors import reject
from tests.ingest.media.conftest import CLIPS_DIR, ODD_DIR, make_clip, need_eval_data

STATUS_CLASS = {413: TooLargeError, 415: UnsupportedMediaError, 422: InvalidInputError}


@pytest.mark.parametrize("reason", sorted(REASONS))
def test_every_reason_maps_to_one_http_class(reason: str) -> None:
    error = reject(reason, "message")
    assert isinstance(error, MediaRejection)
    assert isinstance(error, VigilError)
    assert sum(isinstance(error, cls) for cls in STATUS_CLASS.values()) == 1
    assert error.details["reason"] == reason == error.reason


def test_a_limit_rejection_names_limit_measure_and_variable() -> None:
    error = reject("too_small", "m", limit=16, measured=1, setting="min_edge_px")
    assert isinstance(error, InvalidInputError)
    assert error.details == {
        "reason": "too_small",
        "limit": 16,
        "measured": 1,
        "setting": "VIGIL_MEDIA__MIN_EDGE_PX",
    }
    assert error.code == "invalid_input"


def test_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.mp4"
    path.write_bytes(b"")
    with pytest.raises(InvalidInputError) as caught:
        sniff(path)
    assert caught.value.details["reason"] == "empty_file"
    with pytest.raises(MediaRejection, match="empty"):
        sniff(b"")


def test_text_named_mp4(tmp_path: Path) -> None:
    path = tmp_path / "video.mp4"
    path.write_text("#EXTM3U\n#EXTINF:10,\nhttp://169.254.169.254/latest/meta-data\n")
    with pytest.raises(UnsupportedMediaError) as caught:
        sniff(path)
    assert caught.value.details["reason"] == "not_media"
    assert "text" in caught.value.message


def test_utf8_text_cut_mid_character_is_still_text() -> None:
    head = ("é" * 3000).encode()[:4095]
    with pytest.raises(MediaRejection) as caught:
        sniff(head)
    assert caught.value.reason == "not_media"


def test_still_images_are_refused_by_magic() -> None:
    need_eval_data()
    for name in ("jpeg.jpg", "png-transparent.png", "gif.gif", "webp.webp"):
        with pytest.raises(MediaRejection) as caught:
            sniff(ODD_DIR / "minimal" / name)
        assert caught.value.reason == "still_image", name


def test_truncated_upload(tmp_path: Path) -> None:
    need_eval_data()
    data = (CLIPS_DIR / "chair-19-sd-bar.mp4").read_bytes()
    path = tmp_path / "partial.mp4"
    path.write_bytes(data[: len(data) * 6 // 10])
    with pytest.raises(InvalidInputError) as caught:
        sniff(path)
    assert caught.value.details["reason"] == "truncated"
    assert caught.value.details["measured"] == len(data) * 6 // 10
    assert "upload complete" in caught.value.message


def test_a_whole_clip_passes_sniff_and_validate(limits: MediaSettings) -> None:
    need_eval_data()
    path = CLIPS_DIR / "doorknob-hd-no-bar.mp4"
    assert sniff(path) == "iso"
    validate(probe(path, timeout=10), limits)


def test_one_pixel_video(tmp_path: Path, limits: MediaSettings) -> None:
    path = make_clip(
        tmp_path / "1x1.mp4",
        source="color=c=red:size=2x2:rate=10:duration=1,scale=1:1",
        audio=False,
        video_codec=("-c:v", "libx264", "-pix_fmt", "yuv444p"),
    )
    with pytest.raises(InvalidInputError) as caught:
        validate(probe(path, timeout=10), limits)
    error = caught.value
    assert error.details["reason"] == "too_small"
    assert error.message == (
        "the video is 1x1 pixels; the smallest accepted edge is 16 px (VIGIL_MEDIA__MIN_EDGE_PX)"
    )
    assert (error.details["limit"], error.details["measured"]) == (16, 1)


def test_audio_only(tmp_path: Path, limits: MediaSettings) -> None:
    path = tmp_path / "voice.m4a"
    make_clip(path, source="sine=duration=1", video_codec=("-vn",), audio=False)
    with pytest.raises(UnsupportedMediaError) as caught:
        validate(probe(path, timeout=10), limits)
    assert caught.value.details["reason"] == "no_video_stream"
    assert "audio only" in caught.value.message


@pytest.fixture(scope="module")
def small_info(tmp_path_factory: pytest.TempPathFactory) -> MediaInfo:
    path = make_clip(tmp_path_factory.mktemp("v") / "v.mp4", size="320x240", rate=60)
    return probe(path, timeout=10)


@pytest.mark.parametrize(
    ("override", "reason", "error_class", "setting"),
    [
        ({"max_upload_bytes": 1000}, "too_large", TooLargeError, "max_upload_bytes"),
        ({"max_duration_seconds": 1.0}, "too_long", TooLargeError, "max_duration_seconds"),
        ({"max_edge_px": 300}, "dimensions_too_large", TooLargeError, "max_edge_px"),
        ({"min_edge_px": 300}, "too_small", InvalidInputError, "min_edge_px"),
        ({"max_fps": 30.0}, "fps_too_high", InvalidInputError, "max_fps"),
        (
            {"containers": ["matroska"]},
            "container_not_allowed",
            UnsupportedMediaError,
            "containers",
        ),
        (
            {"video_codecs": ["vp9"]},
            "video_codec_not_allowed",
            UnsupportedMediaError,
            "video_codecs",
        ),
        (
            {"audio_codecs": ["opus"]},
            "audio_codec_not_allowed",
            UnsupportedMediaError,
            "audio_codecs",
        ),
    ],
)
def test_each_limit(
    small_info: MediaInfo,
    override: dict[str, object],
    reason: str,
    error_class: type[VigilError],
    setting: str,
) -> None:
    limits = MediaSettings(**override)  # type: ignore[arg-type]
    with pytest.raises(error_class) as caught:
        validate(small_info, limits)
    details = caught.value.details
    assert details["reason"] == reason
    assert details["setting"] == f"VIGIL_MEDIA__{setting.upper()}"
    assert details["setting"] in caught.value.message
    assert "measured" in details
    assert "limit" in details


def test_too_large_is_http_413(small_info: MediaInfo) -> None:
    with pytest.raises(MediaTooLargeError) as caught:
        validate(small_info, MediaSettings(max_upload_bytes=1000))
    assert caught.value.code == "too_large"
    assert caught.value.details["measured"] == small_info.size


def test_defaults_accept_a_60_fps_clip(small_info: MediaInfo) -> None:
    assert small_info.video is not None
    assert small_info.video.fps == 60
    validate(small_info, MediaSettings())


def test_sniff_names_what_it_saw(clip: Callable[..., Path]) -> None:
    assert sniff(clip("small.mp4")) == "iso"
    assert sniff(b"\x1a\x45\xdf\xa3" + bytes(60)) == "matroska"
