"""Collector benchmark: engagement events per second acknowledged durably, over loopback HTTP.

    .venv/bin/python -m bench.collector [--events 400000] [--batch 500] [--connections 4]
                                        [--workers 1] [--with-sink]

Starts `vigil api` as its own process on embedded stores (SQLite metadata and bus: a 200 means
the batch is committed to the bus's write-ahead log), creates an API key with ``events:write``,
and sends pre-encoded batches of ``--batch`` realistic events from ``--connections`` keep-alive
connections of a minimal HTTP/1.1 client (so the client spends little of the machine's two
cores). Reports events/s from the first request to the last answer, and the p50/p99 of the
time from sending a batch to reading its acknowledgement.

In the same run, the floor to approach: the same batch bodies parsed with orjson and appended
to a file with an fsync per batch, on one core. ``--with-sink`` also runs `vigil worker --only
lake`, so the lake sink consumes while the collector accepts (the whole path on two cores).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import orjson

from bench.upload import SECRET, free_port
from core import auth
from core.auth import Scope
from core.db import Database, upgrade

USER_AGENT = "VigilBench/1.0 (Android 14; Pixel 8)"
_TYPES = ("view_start", "watch", "watch", "watch", "complete", "like", "skip", "share")
_REGIONS = ("US", "BR", "IN", "ID", "ES", "MX", "DE", "FR", "JP", "NG")
_LANGUAGES = ("en", "pt", "hi", "id", "es", "es", "de", "fr", "ja", "en")


def make_batches(events: int, batch: int, *, seed: int = 7) -> list[bytes]:
    """JSON bodies of ``batch`` events each, as an app sends them (about 300 bytes per event)."""
    import random

    rng = random.Random(seed)
    start = datetime.now(UTC) - timedelta(minutes=30)
    bodies = []
    for first in range(0, events, batch):
        items = []
        for n in range(first, min(first + batch, events)):
            kind = _TYPES[n % len(_TYPES)]
            region = rng.randrange(len(_REGIONS))
            event: dict[str, object] = {
                "event_id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
                "event_type": kind,
                "ts": (start + timedelta(milliseconds=n * 7)).isoformat().replace("+00:00", "Z"),
                "user_id": f"u{rng.randrange(200_000):06d}",
                "session_id": f"s{rng.randrange(1_000_000):07d}",
                "video_id": f"v{rng.randrange(50_000):05d}",
                "region": _REGIONS[region],
                "language": _LANGUAGES[region],
                "platform": ("android", "ios", "web")[n % 3],
                "app_version": "4.12.0",
            }
            if kind == "watch":
                event["watched_ms"] = rng.randrange(500, 15_000)
                event["position_ms"] = rng.randrange(500, 60_000)
            items.append(event)
        bodies.append(orjson.dumps(items))
    return bodies


def floor_rate(bodies: list[bytes], events: int, folder: Path) -> float:
    """Events/s of orjson parse + append + fsync per batch, on one core."""
    path = folder / "floor.log"
    started = time.perf_counter()
    with path.open("ab") as log:
        for body in bodies:
            orjson.loads(body)
            log.write(body)
            log.flush()
            os.fsync(log.fileno())
    return events / (time.perf_counter() - started)


async def _connection(
    port: int, requests: list[bytes], latencies: list[float], statuses: list[int]
) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        for request in requests:
            sent = time.perf_counter()
            writer.write(request)
            await writer.drain()
            head = await reader.readuntil(b"\r\n\r\n")
            status = int(head.split(b" ", 2)[1])
            length = 0
            for line in head.split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":", 1)[1])
            await reader.readexactly(length)
            latencies.append(time.perf_counter() - sent)
            statuses.append(status)
    finally:
        writer.close()


async def send_all(port: int, key: str, bodies: list[bytes], connections: int) -> dict[str, float]:
    requests = [
        (
            f"POST /v1/events HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
            f"Authorization: Bearer {key}\r\nUser-Agent: {USER_AGENT}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
        ).encode()
        + body
        for body in bodies
    ]
    latencies: list[float] = []
    statuses: list[int] = []
    shares = [requests[i::connections] for i in range(connections)]
    started = time.perf_counter()
    await asyncio.gather(*(_connection(port, share, latencies, statuses) for share in shares))
    elapsed = time.perf_counter() - started
    bad = [s for s in statuses if s != 200]
    if bad:
        raise SystemExit(f"{len(bad)} batches were not acknowledged (statuses {set(bad)})")
    latencies.sort()
    return {
        "seconds": elapsed,
        "p50_ms": 1000 * statistics.median(latencies),
        "p99_ms": 1000 * latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=400_000)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--connections", type=int, default=4)
    parser.add_argument("--workers", type=int, default=1, help="API worker processes")
    parser.add_argument("--with-sink", action="store_true", help="also run the lake sink")
    args = parser.parse_args()

    bodies = make_batches(args.events, args.batch)
    mean_bytes = sum(len(b) for b in bodies) / args.events
    with tempfile.TemporaryDirectory(prefix="vigil-bench-collector-") as tmp:
        data_dir = Path(tmp) / "data"
        data_dir.mkdir()
        url = f"sqlite:///{data_dir / 'vigil.db'}"
        upgrade(url)
        db = Database(url)
        with db.session() as session:
            _key, key = auth.create_api_key(
                session, name="bench", scopes=frozenset({Scope.EVENTS_WRITE})
            )
        db.dispose()
        floor = floor_rate(bodies, args.events, Path(tmp))

        port = free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("VIGIL_")}
        env.update(
            VIGIL_DATA_DIR=str(data_dir),
            VIGIL_AUTH__SECRET_KEY=SECRET,
            VIGIL_HTTP__PORT=str(port),
            VIGIL_HTTP__WORKERS=str(args.workers),
            VIGIL_LOG__LEVEL="WARNING",
            PROMETHEUS_MULTIPROC_DIR=str(Path(tmp) / "metrics"),
        )
        (Path(tmp) / "metrics").mkdir()
        processes = [subprocess.Popen([sys.executable, "-m", "vigil", "api"], env=env)]
        if args.with_sink:
            processes.append(
                subprocess.Popen(
                    [sys.executable, "-m", "vigil", "worker", "--only", "lake"],
                    env={**env, "VIGIL_WORKER__HEALTH_PORT": "0"},
                )
            )
        try:
            base = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                try:
                    if httpx.get(base + "/readyz").status_code == 200:
                        break
                except httpx.HTTPError:
                    time.sleep(0.2)
            # Warm-up: imports, connections, first bus transaction.
            asyncio.run(send_all(port, key, bodies[:8], 2))
            result = asyncio.run(send_all(port, key, bodies, args.connections))
        finally:
            for process in processes:
                process.terminate()
            for process in processes:
                process.wait(timeout=60)

    rate = args.events / result["seconds"]
    print(f"\n### Collector ({args.events:,} events in batches of {args.batch}, ")
    print(f"{args.connections} connections, {args.workers} API worker(s)")
    print(f"{', lake sink running' if args.with_sink else ''})\n")
    print(f"{platform.node()} · {os.cpu_count()} cores · {datetime.now(UTC):%Y-%m-%d %H:%M} UTC")
    print(f"mean event size {mean_bytes:.0f} bytes as JSON\n")
    print("| path | events/s | p50 ack ms | p99 ack ms |")
    print("|---|---:|---:|---:|")
    print(
        f"| POST /v1/events, durable ack | {rate:,.0f} | {result['p50_ms']:.1f} | "
        f"{result['p99_ms']:.1f} |"
    )
    print(f"| floor: orjson parse + fsync'd append, one core | {floor:,.0f} | | |")
    print(f"\ncollector / floor: {rate / floor:.2f}")


if __name__ == "__main__":
    main()
