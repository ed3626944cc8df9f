"""Thumbnail choice and storyboard sheets: from synthetic frames, and end to end on a clip."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from core.settings import MediaSettings
from ingest.media import process
from ingest.media.artefacts import StoryboardWriter, ThumbnailPicker, frame_look
from ingest.media.frames import SampledFrame
from ingest.media.hashing import hash_frame


def frame(number: int, image: np.ndarray, fps: float = 1.0) -> SampledFrame:
    return SampledFrame(number, number / fps, np.ascontiguousarray(image, dtype=np.uint8))


def flat(value: int, size: tuple[int, int] = (90, 160)) -> np.ndarray:
    return np.full((*size, 3), value, dtype=np.uint8)


def textured(seed: int, size: tuple[int, int] = (90, 160)) -> np.ndarray:
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 256, (9, 16, 3), dtype=np.uint8)
    return np.asarray(Image.fromarray(small).resize((size[1], size[0]), Image.Resampling.BICUBIC))


def offer_all(picker: ThumbnailPicker, frames: list[SampledFrame]) -> None:
    for item in frames:
        picker.offer(item, hash_frame(item.image)[1])


def test_black_and_white_frames_are_never_chosen_over_a_picture() -> None:
    picker = ThumbnailPicker(duration=10.0)
    frames = [frame(0, flat(0)), frame(1, flat(5)), frame(2, textured(1)), frame(3, flat(255))]
    offer_all(picker, frames)
    chosen = picker.choice()
    assert chosen is not None
    assert chosen[0].number == 2
    assert not chosen[1].fallback


def test_the_opening_second_loses_to_the_body_of_the_video() -> None:
    picker = ThumbnailPicker(duration=30.0)
    offer_all(picker, [frame(0, textured(1)), frame(10, textured(2)), frame(29, textured(3))])
    chosen = picker.choice()
    assert chosen is not None
    assert chosen[0].number == 10


def test_a_fade_frame_is_not_usable() -> None:
    fade = (textured(4).astype(np.float32) * 0.05).astype(np.uint8)  # 95 % of the way to black
    assert frame_look(fade).blank
    assert not frame_look(textured(4)).blank


def test_all_black_video_still_gets_a_thumbnail_marked_fallback() -> None:
    picker = ThumbnailPicker(duration=2.0)
    offer_all(picker, [frame(0, flat(0)), frame(1, flat(3))])
    chosen = picker.choice()
    assert chosen is not None
    assert chosen[1].fallback


def test_storyboard_sheets_and_vtt(tmp_path: Path) -> None:
    writer = StoryboardWriter(
        tmp_path, display_size=(320, 180), duration=31.0, interval_seconds=1.0, columns=5, rows=5
    )
    for number in range(31):
        writer.add(frame(number, textured(number, size=(180, 320))))
    board = writer.finish()
    assert board.sheets == ("storyboard_000.jpg", "storyboard_001.jpg")
    assert (board.tile_width, board.tile_height, board.tiles) == (160, 90, 31)
    with Image.open(tmp_path / "storyboard_000.jpg") as sheet:
        assert sheet.size == (800, 450)
    with Image.open(tmp_path / "storyboard_001.jpg") as sheet:
        assert sheet.size == (800, 180)  # 6 tiles: two rows, the second partly filled
    cues = parse_vtt(tmp_path / board.vtt)
    assert len(cues) == 31
    assert cues[0] == (0.0, 1.0, "storyboard_000.jpg", (0, 0, 160, 90))
    assert cues[26] == (26.0, 27.0, "storyboard_001.jpg", (160, 0, 160, 90))
    assert cues[-1][:2] == (30.0, 31.0)


def parse_vtt(path: Path) -> list[tuple[float, float, str, tuple[int, ...]]]:
    text = path.read_text()
    assert text.startswith("WEBVTT\n")
    cues = []
    pattern = re.compile(
        r"(\d\d):(\d\d):(\d\d\.\d{3}) --> (\d\d):(\d\d):(\d\d\.\d{3})\n"
        r"(\S+)#xywh=(\d+),(\d+),(\d+),(\d+)"
    )
    for match in pattern.finditer(text):
        h1, m1, s1, h2, m2, s2, sheet, *box = match.groups()
        start = int(h1) * 3600 + int(m1) * 60 + float(s1)
        end = int(h2) * 3600 + int(m2) * 60 + float(s2)
        cues.append((start, end, sheet, tuple(int(v) for v in box)))
    return cues


def test_black_then_bars_clip_gets_a_bars_thumbnail(
    tmp_path: Path, black_then_bars_clip: Path, limits: MediaSettings
) -> None:
    result = process(black_then_bars_clip, tmp_path / "out", limits)
    assert result.thumbnail_choice is not None
    assert result.thumbnail_choice.timestamp >= 2.0
    assert not result.thumbnail_choice.fallback
    sizes = {}
    for thumbnail in result.thumbnails:
        with Image.open(tmp_path / "out" / thumbnail.path) as picture:
            assert picture.format == "JPEG"
            sizes[thumbnail.path] = picture.size
            luma = np.asarray(picture.convert("L"), dtype=np.float32)
        # Colour bars, not black.
        assert luma.mean() > 60, thumbnail.path
        assert luma.std() > 30, thumbnail.path
    # Bounded by 720 and 240 px on the long edge, never enlarged.
    assert sizes == {"thumbnail_720.jpg": (320, 240), "thumbnail_240.jpg": (240, 180)}
    cues = parse_vtt(tmp_path / "out" / result.storyboard.vtt)
    assert [cue[0] for cue in cues] == [0.0, 2.0, 4.0]
    assert cues[-1][1] == pytest.approx(5.0, abs=0.05)
    for _, _, sheet, (x, y, w, h) in cues:
        with Image.open(tmp_path / "out" / sheet) as picture:
            assert x + w <= picture.width
            assert y + h <= picture.height
