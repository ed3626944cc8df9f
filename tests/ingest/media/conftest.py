"""Media test plumbing: tiny clips made with the real ffmpeg, and the shared eval data.

Clips are generated once per session (a few seconds, small sizes, ``-preset ultrafast``) under
pytest's temporary directory; the eval clips are read in place from ``shared/eval``.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from core.settings import MediaSettings
from tests.conftest import SHARED_DIR

EVAL_DIR = SHARED_DIR / "eval"
CLIPS_DIR = EVAL_DIR / "media" / "clips"
ODD_DIR = EVAL_DIR / "media" / "odd"
VPDQ_DIR = EVAL_DIR / "phash" / "vpdq_expected"
PDQ_DIR = EVAL_DIR / "phash"


def need_eval_data() -> None:
    if not CLIPS_DIR.is_dir():
        pytest.fail(f"the shared eval set is missing: {CLIPS_DIR} (see shared/eval/README.md)")


def ffmpeg(*args: str) -> None:
    """Run ffmpeg quietly; fail the test with its stderr if it fails."""
    result = subprocess.run(
        ["ffmpeg", "-nostdin", "-hide_banner", "-v", "error", "-y", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr


def ffprobe_json(path: Path, *extra: str) -> dict[str, Any]:
    result = subprocess.run(
        [
            "ffprobe",
            "-v",
            "error",
            "-of",
            "json",
            "-show_format",
            "-show_streams",
            *extra,
            str(path),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, f"ffprobe cannot read {path}: {result.stderr}"
    data: dict[str, Any] = json.loads(result.stdout)
    return data


def make_clip(
    path: Path,
    *,
    size: str = "320x240",
    seconds: float = 2.0,
    rate: int = 30,
    audio: bool = True,
    source: str | None = None,
    video_codec: tuple[str, ...] = ("-c:v", "libx264", "-pix_fmt", "yuv420p"),
) -> Path:
    """A small H.264 (+AAC) clip of lavfi's moving test pattern (or ``source``, a lavfi graph)."""
    graph = source or f"testsrc2=size={size}:rate={rate}:duration={seconds}"
    args = ["-f", "lavfi", "-i", graph]
    if audio:
        args += ["-f", "lavfi", "-i", f"sine=frequency=440:sample_rate=48000:duration={seconds}"]
    args += [*video_codec, "-preset", "ultrafast"]
    if audio:
        args += ["-c:a", "aac", "-b:a", "96k", "-shortest"]
    ffmpeg(*args, str(path))
    return path


@pytest.fixture(scope="session")
def clip_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("clips")


@pytest.fixture(scope="session")
def clip(clip_dir: Path) -> Callable[..., Path]:
    """``clip(name, **make_clip options)``: made once per session, then reused."""
    made: dict[str, Path] = {}

    def get(name: str, **options: Any) -> Path:
        if name not in made:
            made[name] = make_clip(clip_dir / name, **options)
        return made[name]

    return get


@pytest.fixture(scope="session")
def portrait_clip(clip: Callable[..., Path]) -> Path:
    return clip("portrait.mp4", size="480x854")


@pytest.fixture(scope="session")
def landscape_clip(clip: Callable[..., Path]) -> Path:
    return clip("landscape.mp4", size="854x480")


@pytest.fixture(scope="session")
def silent_clip(clip: Callable[..., Path]) -> Path:
    return clip("silent.mp4", size="640x360", audio=False)


@pytest.fixture(scope="session")
def rotated_clip(clip_dir: Path) -> Path:
    """Stored landscape (640x360, picture turned a quarter left), shown portrait by its display
    matrix. The upright picture is white above, black below, so 'upright' can be checked.

    FFmpeg 5.1 has no ``-display_rotation`` (6.0 has); the ``rotate`` tag written with
    ``-metadata:s:v rotate=270`` becomes a display matrix of -90 degrees: turn clockwise.
    """
    stored = clip_dir / "rotated-stored.mp4"
    upright = (
        "color=c=white:size=360x640:rate=30:duration=2,"
        "drawbox=x=0:y=320:w=360:h=320:color=black:t=fill,transpose=cclock"
    )
    make_clip(stored, source=upright)
    rotated = clip_dir / "rotated.mp4"
    ffmpeg("-i", str(stored), "-c", "copy", "-metadata:s:v:0", "rotate=270", str(rotated))
    return rotated


@pytest.fixture(scope="session")
def black_then_bars_clip(clip_dir: Path) -> Path:
    """Two seconds of black, then three of colour bars."""
    path = clip_dir / "black-then-bars.mp4"
    graph = (
        "color=c=black:size=320x240:rate=30:duration=2[black];"
        "smptebars=size=320x240:rate=30:duration=3[bars];"
        "[black][bars]concat=n=2:v=1:a=0"
    )
    return make_clip(path, source=graph, seconds=5)


@pytest.fixture
def limits() -> MediaSettings:
    """Defaults, except the fastest x264 preset and deadlines that fail a hang quickly."""
    return MediaSettings(
        preset="ultrafast", process_timeout_seconds=60.0, probe_timeout_seconds=10.0
    )
