"""Thumbnail and storyboard, made in Python (Pillow) from the frames the ladder run samples.

Thumbnail: among the sampled frames (hashed and storyboard), the one to show must not be black,
blank or part of a fade. A frame is *usable* when its mean luma is within [24, 232] (not black,
not a white flash), its luma standard deviation is at least 10 (not a flat colour) and its PDQ
quality is at least 50 (PDQ quality measures gradient energy: blurred and flat frames score
low). Frames in the first and last ``min(1 s, 10 %)`` of the video (title cards, fades) rank
below usable frames elsewhere, well-exposed contrasty frames (mean in [40, 215], deviation >=
25) above the rest, and among equals the frame nearest a third of the way in wins. When no frame
is usable the most contrasty one is taken. The frame is shown as the viewer sees it (non-square
pixels stretched) and saved as JPEG bounded to 720 px and to 240 px on its long edge (never
enlarged): ``thumbnail_720.jpg`` for the watch page and share cards, ``thumbnail_240.jpg`` for
grids.

Storyboard: one tile every ``storyboard_interval_seconds``, 160 px wide (height by aspect),
5 columns x 5 rows per sheet (``storyboard_000.jpg``, ``storyboard_001.jpg``...), written as
each sheet fills, and ``storyboard.vtt`` whose cues point at ``storyboard_NNN.jpg#xywh=x,y,w,h``
(the form Video.js, Plyr, JW Player and Shaka read for seek-bar previews).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from .frames import RGBFrame, SampledFrame

logger = logging.getLogger(__name__)

THUMBNAIL_BOUNDS = (720, 240)
THUMBNAIL_QUALITY = 85
STORYBOARD_QUALITY = 75
TILE_WIDTH = 160
COLUMNS = 5
ROWS = 5

DARK_LUMA = 24.0
BRIGHT_LUMA = 232.0
FLAT_STD = 10.0
MIN_QUALITY = 50
WELL_EXPOSED = (40.0, 215.0)
CONTRASTY_STD = 25.0
EDGE_SECONDS = 1.0
EDGE_FRACTION = 0.1
#: Luma is measured on every n-th pixel in both directions: plenty for a mean and a deviation.
LUMA_STRIDE = 4

THUMBNAIL_NAME = "thumbnail_{bound}.jpg"
SHEET_NAME = "storyboard_{index:03d}.jpg"
VTT_NAME = "storyboard.vtt"


@dataclass(frozen=True)
class FrameLook:
    """Brightness and contrast of a frame (luma 0-255)."""

    mean_luma: float
    luma_std: float

    @property
    def blank(self) -> bool:
        return (
            self.mean_luma < DARK_LUMA or self.mean_luma > BRIGHT_LUMA or self.luma_std < FLAT_STD
        )

    @property
    def contrasty(self) -> bool:
        low, high = WELL_EXPOSED
        return low <= self.mean_luma <= high and self.luma_std >= CONTRASTY_STD


def frame_look(image: RGBFrame) -> FrameLook:
    """Mean and standard deviation of the frame's luma (BT.601 weights, as PDQ uses)."""
    sample = image[::LUMA_STRIDE, ::LUMA_STRIDE].astype(np.float32)
    luma = sample[..., 0] * 0.299 + sample[..., 1] * 0.587 + sample[..., 2] * 0.114
    return FrameLook(float(luma.mean()), float(luma.std()))


def as_displayed(image: RGBFrame, display_size: tuple[int, int], bound: int) -> Image.Image:
    """The frame as shown (stretched to the display aspect), fitted within ``bound`` px."""
    display_width, display_height = display_size
    scale = min(1.0, bound / max(display_width, display_height))
    size = (max(1, round(display_width * scale)), max(1, round(display_height * scale)))
    picture = Image.fromarray(image, "RGB")
    if picture.size == size:
        return picture
    return picture.resize(size, Image.Resampling.LANCZOS, reducing_gap=3.0)


@dataclass(frozen=True)
class Thumbnail:
    """One thumbnail file (path relative to the output directory)."""

    path: str
    width: int
    height: int


@dataclass(frozen=True)
class ThumbnailChoice:
    """Which frame became the thumbnail, and why it was eligible."""

    frame_number: int
    timestamp: float
    quality: int
    mean_luma: float
    luma_std: float
    #: True when no frame met the rules and the most contrasty one was taken.
    fallback: bool


class ThumbnailPicker:
    """Keeps the best thumbnail candidate of the frames offered so far (one frame in memory)."""

    def __init__(self, duration: float | None) -> None:
        self.duration = duration
        edge = EDGE_SECONDS if not duration else min(EDGE_SECONDS, EDGE_FRACTION * duration)
        self._edge = edge
        self._target = duration / 3 if duration else 0.0
        self._best: tuple[tuple[bool, bool, bool, float], SampledFrame, int, FrameLook] | None
        self._best = None
        self._fallback: tuple[float, SampledFrame, int, FrameLook] | None = None

    def offer(self, frame: SampledFrame, quality: int) -> None:
        look = frame_look(frame.image)
        usable = not look.blank and quality >= MIN_QUALITY
        at_edge = frame.timestamp < self._edge or (
            self.duration is not None and frame.timestamp > self.duration - self._edge
        )
        key = (usable, not at_edge, look.contrasty, -abs(frame.timestamp - self._target))
        if usable and (self._best is None or key > self._best[0]):
            self._best = (key, frame, quality, look)
        if self._fallback is None or look.luma_std > self._fallback[0]:
            self._fallback = (look.luma_std, frame, quality, look)

    def choice(self) -> tuple[SampledFrame, ThumbnailChoice] | None:
        if self._best is not None:
            _, frame, quality, look = self._best
            fallback = False
        elif self._fallback is not None:
            _, frame, quality, look = self._fallback
            fallback = True
        else:
            return None
        return frame, ThumbnailChoice(
            frame_number=frame.number,
            timestamp=round(frame.timestamp, 3),
            quality=quality,
            mean_luma=round(look.mean_luma, 1),
            luma_std=round(look.luma_std, 1),
            fallback=fallback,
        )

    def write(
        self, out_dir: Path, display_size: tuple[int, int]
    ) -> tuple[ThumbnailChoice | None, list[Thumbnail]]:
        """Save the chosen frame at every size in ``THUMBNAIL_BOUNDS``."""
        chosen = self.choice()
        if chosen is None:
            return None, []
        frame, choice = chosen
        thumbnails = []
        for bound in THUMBNAIL_BOUNDS:
            picture = as_displayed(frame.image, display_size, bound)
            name = THUMBNAIL_NAME.format(bound=bound)
            picture.save(out_dir / name, "JPEG", quality=THUMBNAIL_QUALITY, optimize=True)
            thumbnails.append(Thumbnail(name, picture.width, picture.height))
        return choice, thumbnails


@dataclass(frozen=True)
class Storyboard:
    """The sprite sheets and their WebVTT index (paths relative to the output directory)."""

    sheets: tuple[str, ...]
    vtt: str
    tile_width: int
    tile_height: int
    columns: int
    rows: int
    tiles: int
    interval_seconds: float


@dataclass(frozen=True)
class _Tile:
    sheet: int
    x: int
    y: int
    start: float


class StoryboardWriter:
    """Tiles frames into sprite sheets as they arrive; ``finish`` writes the last sheet and VTT."""

    def __init__(
        self,
        out_dir: Path,
        *,
        display_size: tuple[int, int],
        duration: float | None,
        interval_seconds: float,
        tile_width: int = TILE_WIDTH,
        columns: int = COLUMNS,
        rows: int = ROWS,
    ) -> None:
        self.out_dir = out_dir
        self.duration = duration
        self.interval_seconds = interval_seconds
        display_width, display_height = display_size
        self.tile_width = tile_width
        self.tile_height = max(2, round(tile_width * display_height / display_width))
        self.columns = columns
        self.rows = rows
        self._tiles: list[_Tile] = []
        self._sheet: list[Image.Image] = []
        self._sheets: list[str] = []
        self._last_timestamp = 0.0

    def add(self, frame: SampledFrame) -> None:
        picture = Image.fromarray(frame.image, "RGB").resize(
            (self.tile_width, self.tile_height), Image.Resampling.BILINEAR, reducing_gap=2.0
        )
        slot = len(self._sheet)
        self._tiles.append(
            _Tile(
                sheet=len(self._sheets),
                x=(slot % self.columns) * self.tile_width,
                y=(slot // self.columns) * self.tile_height,
                start=frame.timestamp,
            )
        )
        self._last_timestamp = frame.timestamp
        self._sheet.append(picture)
        if len(self._sheet) == self.columns * self.rows:
            self._flush()

    def _flush(self) -> None:
        if not self._sheet:
            return
        count = len(self._sheet)
        columns = min(count, self.columns)
        rows = -(-count // self.columns)
        sheet = Image.new("RGB", (columns * self.tile_width, rows * self.tile_height))
        for slot, tile in enumerate(self._sheet):
            position = (
                (slot % self.columns) * self.tile_width,
                (slot // self.columns) * self.tile_height,
            )
            sheet.paste(tile, position)
        name = SHEET_NAME.format(index=len(self._sheets))
        sheet.save(self.out_dir / name, "JPEG", quality=STORYBOARD_QUALITY)
        self._sheets.append(name)
        self._sheet = []

    def finish(self) -> Storyboard:
        self._flush()
        end_of_video = self.duration or (self._last_timestamp + self.interval_seconds)
        cues = ["WEBVTT", ""]
        for index, tile in enumerate(self._tiles):
            end = (
                self._tiles[index + 1].start
                if index + 1 < len(self._tiles)
                else max(end_of_video, tile.start + 0.001)
            )
            cues.append(f"{_vtt_time(tile.start)} --> {_vtt_time(end)}")
            cues.append(
                f"{self._sheets[tile.sheet]}#xywh={tile.x},{tile.y},"
                f"{self.tile_width},{self.tile_height}"
            )
            cues.append("")
        (self.out_dir / VTT_NAME).write_text("\n".join(cues))
        return Storyboard(
            sheets=tuple(self._sheets),
            vtt=VTT_NAME,
            tile_width=self.tile_width,
            tile_height=self.tile_height,
            columns=self.columns,
            rows=self.rows,
            tiles=len(self._tiles),
            interval_seconds=self.interval_seconds,
        )


def _vtt_time(seconds: float) -> str:
    millis = round(seconds * 1000)
    hours, millis = divmod(millis, 3_600_000)
    minutes, millis = divmod(millis, 60_000)
    secs, millis = divmod(millis, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}.{millis:03d}"
