"""Demo videos: short clips made with ffmpeg, uploaded through the real API and processed by the
real media pipeline.

``upload_demo_videos`` serves the API in-process on a free port, runs the media consumers beside
it, signs demo creators in, uploads each clip (half with tus in two chunks, half with the one-shot
form) and waits until every video is ready or failed.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import hashlib
import logging
import random
import shutil
import socket
import subprocess
import tempfile
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import httpx
import uvicorn
from sqlalchemy import select

import ingest
import moderation
from api import create_app
from core.auth import Role, User, tokens
from core.bus.runner import Consumer, run_consumers
from core.runtime import Services, open_services
from core.settings import Settings

from .server import ALL_TOPICS

log = logging.getLogger(__name__)

FONT = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf")


@dataclass(frozen=True)
class DemoClip:
    caption: str
    hashtags: tuple[str, ...]
    sound: str | None
    language: str
    source: str  # an ffmpeg lavfi video source, sized by {w}x{h}
    portrait: bool
    audio: bool


CLIPS: tuple[DemoClip, ...] = (
    DemoClip(
        "morning run by the sea",
        ("running", "beach"),
        "Sunrise Loop",
        "en",
        "testsrc2=size={w}x{h}:rate=30",
        True,
        True,
    ),
    DemoClip(
        "Tanzschritte fur Anfanger",
        ("tanz", "tutorial"),
        "Beat 120",
        "de",
        "smptehdbars=size={w}x{h}:rate=30",
        False,
        True,
    ),
    DemoClip(
        "receita rapida de bolo",
        ("receita", "bolo"),
        "Cozinha Feliz",
        "pt",
        "mandelbrot=size={w}x{h}:rate=30",
        True,
        True,
    ),
    DemoClip(
        "street food tour",
        ("food", "travel"),
        "City Nights",
        "en",
        "rgbtestsrc=size={w}x{h}:rate=30",
        False,
        True,
    ),
    DemoClip(
        "el gato mas rapido",
        ("gatos", "humor"),
        None,
        "es",
        "life=size={w}x{h}:rate=30:mold=10:ratio=0.2:death_color=#203040",
        True,
        False,
    ),
    DemoClip(
        "skateboard trick slow motion",
        ("skate", "slowmo"),
        "Kickflip",
        "en",
        "testsrc2=size={w}x{h}:rate=60",
        False,
        False,
    ),
    DemoClip(
        "astuce de jardinage",
        ("jardin", "astuce"),
        "Printemps",
        "fr",
        "cellauto=size={w}x{h}:rate=30:rule=110",
        True,
        True,
    ),
    DemoClip(
        "gunluk makyaj",
        ("makyaj", "guzellik"),
        None,
        "tr",
        "gradients=size={w}x{h}:rate=30:speed=0.02",
        True,
        True,
    ),
)


def make_clip(clip: DemoClip, path: Path, *, seconds: float = 4.0, timeout: float = 120) -> None:
    """Render one clip: the lavfi source, the caption drawn on it, a tone when it has audio."""
    w, h = (540, 960) if clip.portrait else (960, 540)
    video = clip.source.format(w=w, h=h)
    filters = []
    if FONT.exists():
        text = clip.caption.replace(":", r"\:").replace("'", "")
        filters.append(
            f"drawtext=fontfile={FONT}:text='{text}':fontsize={h // 18}:fontcolor=white:"
            "box=1:boxcolor=black@0.5:boxborderw=12:x=(w-text_w)/2:y=h*0.78"
        )
    argv = ["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", video]
    if clip.audio:
        tone = 220 + 110 * (sum(map(ord, clip.caption)) % 5)  # stable across runs
        argv += ["-f", "lavfi", "-i", f"sine=frequency={tone}:sample_rate=44100"]
    if filters:
        argv += ["-vf", ",".join(filters)]
    argv += ["-t", str(seconds), "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p"]
    if clip.audio:
        argv += ["-c:a", "aac", "-b:a", "96k", "-shortest"]
    subprocess.run([*argv, str(path)], check=True, timeout=timeout, capture_output=True)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _creators(
    settings: Settings, services_db: object, count: int, rng: random.Random
) -> list[User]:
    from core.db import Database

    assert isinstance(services_db, Database)
    with services_db.session() as session:
        found = list(
            session.scalars(select(User).where(User.role == Role.CREATOR.value).limit(200))
        )
        session.expunge_all()
    if not found:
        raise RuntimeError("no creator accounts: load the demo accounts first (`vigil demo`)")
    return [rng.choice(found) for _ in range(count)]


async def _upload(
    client: httpx.AsyncClient, token: str, clip: DemoClip, path: Path, tus: bool
) -> str:
    auth = {"Authorization": f"Bearer {token}"}
    data = await asyncio.to_thread(path.read_bytes)
    if not tus:
        response = await client.post(
            "/v1/uploads/form",
            headers=auth,
            files={"file": (path.name, data, "video/mp4")},
            data={
                "caption": clip.caption,
                "hashtags": ",".join(clip.hashtags),
                "sound_name": clip.sound or "",
                "language": clip.language,
            },
        )
        response.raise_for_status()
        return str(response.json()["video"]["id"])
    created = await client.post(
        "/v1/videos",
        headers=auth,
        json={
            "caption": clip.caption,
            "hashtags": list(clip.hashtags),
            "sound_name": clip.sound,
            "language": clip.language,
            "upload_length": len(data),
            "filename": path.name,
            "sha256": hashlib.sha256(data).hexdigest(),
        },
    )
    created.raise_for_status()
    url = created.json()["upload"]["url"]
    half = len(data) // 2
    for offset, chunk in ((0, data[:half]), (half, data[half:])):
        patched = await client.patch(
            url,
            content=chunk,
            headers={
                **auth,
                "Tus-Resumable": "1.0.0",
                "Upload-Offset": str(offset),
                "Content-Type": "application/offset+octet-stream",
            },
        )
        patched.raise_for_status()
    return str(created.json()["video"]["id"])


def access_token(settings: Settings, user: User, minutes: float = 30) -> str:
    """An access token for a demo account, which has no password to sign in with."""
    token, _ = tokens.encode(
        secret=settings.auth.secret_key.get_secret_value(),
        subject=user.id,
        name=user.name,
        role=user.role,
        audience="access",
        lifetime=dt.timedelta(minutes=minutes),
    )
    return token


@contextlib.asynccontextmanager
async def api_in_process(services: Services, consumers: Sequence[Consumer]) -> AsyncIterator[str]:
    """The API (with ``services``) on a free port and ``consumers`` beside it; yields the URL.

    On the way out the consumers stop (their last tick runs) and the server shuts down.
    """
    port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(services.settings, services=services),
            host="127.0.0.1",
            port=port,
            log_config=None,
            lifespan="on",
        )
    )
    stop = asyncio.Event()
    serving = asyncio.create_task(server.serve())
    consuming = asyncio.create_task(run_consumers(services.bus, consumers, stop))
    try:
        while not server.started:  # noqa: ASYNC110 - uvicorn exposes a flag, not an event
            await asyncio.sleep(0.05)
        yield f"http://127.0.0.1:{port}"
    finally:
        stop.set()
        server.should_exit = True
        with contextlib.suppress(Exception):
            await asyncio.wait_for(consuming, 60)
        await serving


async def _run(
    settings: Settings, count: int, seed: int, progress: Callable[[int], None]
) -> dict[str, int]:
    rng = random.Random(seed)
    services = await open_services(settings)
    await services.bus.ensure_topics(ALL_TOPICS)
    try:
        consumers = [*ingest.media_consumers(services), *moderation.moderation_consumers(services)]
        async with api_in_process(services, consumers) as url:
            creators = _creators(settings, services.db, count, rng)
            video_ids: list[str] = []
            with tempfile.TemporaryDirectory(prefix="vigil-demo-") as tmp:
                async with httpx.AsyncClient(base_url=url, timeout=120) as client:
                    for index in range(count):
                        clip = CLIPS[index % len(CLIPS)]
                        path = Path(tmp) / f"demo-{index:02d}.mp4"
                        await asyncio.to_thread(make_clip, clip, path)
                        creator = creators[index]
                        token = access_token(settings, creator)
                        video_ids.append(
                            await _upload(client, token, clip, path, tus=index % 2 == 0)
                        )
            states = await _wait(services.db, video_ids, progress)
    finally:
        await services.close()
    return states


async def _wait(
    db: object, video_ids: list[str], progress: Callable[[int], None]
) -> dict[str, int]:
    from core.db import Database

    assert isinstance(db, Database)
    done: set[str] = set()
    deadline = asyncio.get_running_loop().time() + 60 + 60 * len(video_ids)
    while len(done) < len(video_ids) and asyncio.get_running_loop().time() < deadline:
        with db.session() as session:
            for video_id in video_ids:
                video = session.get(ingest.Video, video_id)
                if (
                    video_id not in done
                    and video is not None
                    and video.state in ("ready", "failed")
                ):
                    done.add(video_id)
                    progress(1)
        await asyncio.sleep(0.5)
    with db.session() as session:
        states: dict[str, int] = {}
        for video_id in video_ids:
            video = session.get(ingest.Video, video_id)
            state = video.state if video else "missing"
            states[state] = states.get(state, 0) + 1
    return states


def upload_demo_videos(
    settings: Settings, *, count: int, seed: int, progress: Callable[[int], None]
) -> str:
    """Make, upload and process ``count`` clips; returns a one-line summary."""
    if shutil.which("ffmpeg") is None:
        raise RuntimeError("ffmpeg is not installed: apt-get install ffmpeg")
    states = asyncio.run(_run(settings, count, seed, progress))
    return ", ".join(f"{n} {state}" for state, n in sorted(states.items())) + " (via the API)"
