"""A creator uploads real clips to `vigil up` with a tus client (interrupted and resumed) and with
the one-shot form; the worker processes them; every rung of the master playlist plays in ffprobe
over HTTP, through the signed links."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from tusclient import client as tus_client

from tests.conftest import SHARED_DIR
from tests.e2e.test_up import Running, free_port, start_up

pytestmark = pytest.mark.slow

CLIPS = SHARED_DIR / "eval" / "media" / "clips"


@pytest.fixture
def running(tmp_path: Path) -> Iterator[Running]:
    if shutil.which("ffmpeg") is None:
        pytest.fail("ffmpeg is needed: apt-get install ffmpeg")
    run = start_up(tmp_path / "data", free_port())
    yield run
    if run.process.poll() is None:
        run.process.terminate()
        try:
            run.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            run.process.kill()
    run.process.wait()
    time.sleep(0.1)


def _wait_state(url: str, headers: dict[str, str], video_id: str, timeout: float = 180) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        video = httpx.get(f"{url}/v1/videos/{video_id}", headers=headers).json()
        if video["state"] in ("ready", "failed"):
            return video
        time.sleep(0.5)
    raise AssertionError(f"video {video_id} still {video['state']} after {timeout} s")


def _probe(url: str) -> dict:
    result = subprocess.run(
        ["ffprobe", "-v", "error", "-show_streams", "-of", "json", url],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def _check_playable(video: dict) -> None:
    master = httpx.get(video["playback_url"])
    assert master.status_code == 200
    assert "CODECS=" in master.text
    assert video["renditions"]
    for rendition in video["renditions"]:
        streams = _probe(rendition["playlist_url"])["streams"]
        picture = next(s for s in streams if s["codec_type"] == "video")
        assert picture["codec_name"] == "h264"
        assert min(picture["width"], picture["height"]) == rendition["height"] or (
            picture["height"] == rendition["height"]
        )


def test_tus_client_and_form_upload_play_in_ffprobe(running: Running, tmp_path: Path) -> None:
    password = running.wait_for_line(r"admin password: (\S+)").group(1)
    running.wait_ready()
    url = running.url
    admin = httpx.post(f"{url}/v1/auth/token", data={"username": "admin", "password": password})
    admin_headers = {"Authorization": f"Bearer {admin.json()['access_token']}"}
    made = httpx.post(
        f"{url}/v1/users",
        json={"name": "lena", "role": "creator", "password": "a-long-enough-password"},
        headers=admin_headers,
    )
    assert made.status_code == 201, made.text
    token = httpx.post(
        f"{url}/v1/auth/token", data={"username": "lena", "password": "a-long-enough-password"}
    ).json()["access_token"]
    headers = {"Authorization": f"Bearer {token}"}

    # tus: stop part way, as a dropped connection would, then resume from the server's offset.
    clip = CLIPS / "chair-22-sd-grey-bar.mp4"
    client = tus_client.TusClient(f"{url}/v1/uploads", headers=headers)
    with clip.open("rb") as stream:
        first = client.uploader(
            file_stream=stream,
            chunk_size=256 * 1024,
            metadata={"filename": clip.name, "caption": "grey chair #chairs", "language": "en"},
        )
        first.upload(stop_at=512 * 1024)
        assert first.offset == 512 * 1024
    with clip.open("rb") as stream:
        resumed = client.uploader(file_stream=stream, url=first.url, chunk_size=256 * 1024)
        assert resumed.get_offset() == 512 * 1024
        resumed.upload()
        assert resumed.offset == clip.stat().st_size

    form = httpx.post(
        f"{url}/v1/uploads/form",
        files={
            "file": ("portrait.mp4", (CLIPS / "doorknob-hd-no-bar.mp4").read_bytes(), "video/mp4")
        },
        data={"caption": "doorknob", "hashtags": "home"},
        headers=headers,
        timeout=60,
    )
    assert form.status_code == 201, form.text

    mine = httpx.get(f"{url}/v1/videos", headers=headers).json()
    assert len(mine) == 2
    for listed in mine:
        video = _wait_state(url, headers, listed["id"])
        assert video["state"] == "ready", video
        _check_playable(video)
    tus_video = next(v for v in mine if v["caption"] == "grey chair #chairs")
    assert tus_video["hashtags"] == ["chairs"]

    metrics = httpx.get(f"{url}/metrics", headers=admin_headers).text
    assert "vigil_ingest_transcode_seconds_count" in metrics
    assert 'vigil_ingest_videos_total{outcome="ready"}' in metrics
