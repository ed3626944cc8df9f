"""Upload benchmark: bytes per second through the API against a raw copy of the same bytes.

    .venv/bin/python -m bench.upload [--mb 100] [--chunk-mb 8] [--repeat 3]

Generates a real video of about ``--mb`` megabytes (uploads are probed at completion, so random
bytes would be refused), starts `vigil api` as its own process on embedded stores, signs a
creator in, and times, in the same run:

- a raw local copy of the file (``shutil.copyfile`` into the data directory: the floor);
- a tus upload in one PATCH (what tuspy and tus-js-client do by default);
- a tus upload in ``--chunk-mb`` chunks (what a mobile client on a flaky network does);
- the one-shot multipart form (only when the file fits VIGIL_MEDIA__MAX_FORM_BYTES).

Each API figure runs from the first request to the answer of the last, so it includes receiving,
checksumming, probing, validating and storing the original. Prints a markdown table.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx

from core import auth
from core.db import Database, upgrade

SECRET = "bench-secret-key-0123456789abcdef0123456789"
PASSWORD = "bench-password-1"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def make_video(path: Path, megabytes: int) -> None:
    """A high-bitrate clip of roughly ``megabytes``: 10 s of noise-like testsrc2 at 1080p."""
    bitrate = megabytes * 8 // 10  # Mbit/s over 10 s
    subprocess.run(
        [
            "ffmpeg",
            "-v",
            "error",
            "-y",
            "-f",
            "lavfi",
            "-i",
            "testsrc2=size=1080x1920:rate=30,noise=alls=40:allf=t",
            "-t",
            "10",
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-b:v",
            f"{bitrate}M",
            "-maxrate",
            f"{bitrate}M",
            "-bufsize",
            f"{bitrate}M",
            "-pix_fmt",
            "yuv420p",
            str(path),
        ],
        check=True,
        timeout=600,
    )


def _tus(client: httpx.Client, data: bytes, chunk: int) -> None:
    created = client.post(
        "/v1/videos",
        json={"upload_length": len(data), "sha256": hashlib.sha256(data).hexdigest()},
    )
    created.raise_for_status()
    url = created.json()["upload"]["url"]
    for offset in range(0, len(data), chunk):
        response = client.patch(
            url,
            content=data[offset : offset + chunk],
            headers={
                "Tus-Resumable": "1.0.0",
                "Upload-Offset": str(offset),
                "Content-Type": "application/offset+octet-stream",
            },
        )
        response.raise_for_status()


def _form(client: httpx.Client, data: bytes) -> None:
    response = client.post("/v1/uploads/form", files={"file": ("bench.mp4", data, "video/mp4")})
    response.raise_for_status()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--mb", type=int, default=100, help="size of the test video")
    parser.add_argument("--chunk-mb", type=int, default=8, help="tus chunk size")
    parser.add_argument("--repeat", type=int, default=3, help="runs per case (median kept)")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="vigil-bench-upload-") as tmp:
        root = Path(tmp)
        video = root / "source.mp4"
        make_video(video, args.mb)
        data = video.read_bytes()
        data_dir = root / "data"
        data_dir.mkdir()
        url = f"sqlite:///{data_dir / 'vigil.db'}"
        upgrade(url)
        db = Database(url)
        with db.session() as session:
            auth.create_user(session, name="bench", role="creator", password=PASSWORD)
        db.dispose()

        port = free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("VIGIL_")}
        env.update(
            VIGIL_DATA_DIR=str(data_dir),
            VIGIL_AUTH__SECRET_KEY=SECRET,
            VIGIL_HTTP__PORT=str(port),
            VIGIL_MEDIA__MAX_FORM_BYTES=str(max(len(data) + 1, 64 * 1024 * 1024)),
            VIGIL_LOG__LEVEL="WARNING",
        )
        server = subprocess.Popen([sys.executable, "-m", "vigil", "api"], env=env)
        try:
            base = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                try:
                    if httpx.get(base + "/readyz").status_code == 200:
                        break
                except httpx.HTTPError:
                    time.sleep(0.2)
            token = httpx.post(
                base + "/v1/auth/token",
                data={"username": "bench", "password": PASSWORD},
            ).json()["access_token"]
            client = httpx.Client(
                base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=600
            )

            def timed(run: object) -> float:
                samples = []
                for _ in range(args.repeat):
                    started = time.perf_counter()
                    run()  # type: ignore[operator]
                    samples.append(time.perf_counter() - started)
                return statistics.median(samples)

            copies = root / "copies"
            copies.mkdir()
            counter = iter(range(1000))
            cases = {
                "raw local copy (shutil.copyfile)": timed(
                    lambda: shutil.copyfile(video, copies / f"copy-{next(counter)}")
                ),
                "tus, one PATCH": timed(lambda: _tus(client, data, len(data))),
                f"tus, {args.chunk_mb} MB chunks": timed(
                    lambda: _tus(client, data, args.chunk_mb * 1024 * 1024)
                ),
                "one-shot form": timed(lambda: _form(client, data)),
            }
            client.close()
        finally:
            server.terminate()
            server.wait(timeout=30)

    size_mb = len(data) / 1e6
    floor = cases["raw local copy (shutil.copyfile)"]
    print(f"\n### Upload throughput ({size_mb:.0f} MB video, median of {args.repeat})\n")
    print(f"{platform.node()} · {os.cpu_count()} cores · {datetime.now(UTC):%Y-%m-%d}\n")
    print("| path | seconds | MB/s | time vs raw copy |")
    print("|---|---|---|---|")
    for name, seconds in cases.items():
        print(f"| {name} | {seconds:.2f} | {size_mb / seconds:.0f} | {seconds / floor:.1f}x |")


if __name__ == "__main__":
    main()
