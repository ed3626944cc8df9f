"""Bus benchmark: publish, consume+ack and end-to-end latency on each backend.

    .venv/bin/python -m bench.bus [--backend sqlite|nats|all] [--messages N]

Per backend: publish one message per call and in batches of 500; consume+ack with one consumer,
two consumers in this process, and two consumer processes; publish-to-handler latency at a steady
moderate rate. On NATS the raw nats-py client does the same work in the same run, and the table
gives Vigil's figure as a fraction of it. Prints a table and a markdown block for
docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from core.bus import Bus, Message, RetryPolicy, open_bus
from core.bus.nats import stream_name
from core.bus.sqlite import SqliteBus

REPO_ROOT = Path(__file__).resolve().parents[1]
NATS_URL = os.environ.get("VIGIL_TEST_NATS_URL", "nats://127.0.0.1:4222")
PUBLISH_BATCH = 500
CONSUME_BATCH = 64  # the default of VIGIL_BUS__BATCH_SIZE
ACK_WAIT_SECONDS = 30.0
LATENCY_RATE = 500  # messages per second: steady, well under every backend's capacity
LATENCY_SECONDS = 4.0

console = Console()


@dataclass
class Row:
    backend: str
    scenario: str
    messages: int
    seconds: float
    raw_rate: float | None = None  # raw nats-py doing the same work
    note: str = ""

    @property
    def rate(self) -> float:
        return self.messages / self.seconds

    @property
    def ratio(self) -> str:
        return "" if self.raw_rate is None else f"{self.rate / self.raw_rate:.2f}"


def payload(n: int) -> dict[str, Any]:
    """A message the size of a real ``video.uploaded`` event (~150 bytes of JSON)."""
    return {
        "video_id": f"v{n:09d}",
        "uploader_id": f"u{n % 9973:07d}",
        "object_key": f"originals/{n:09d}.mp4",
        "bytes": 1_048_576 + n,
        "n": n,
    }


async def open_backend(url: str, *, threaded: bool = False) -> Bus:
    retry = RetryPolicy()
    if threaded:
        return await SqliteBus(
            Path(url.removeprefix("sqlite:///")),
            retry=retry,
            ack_wait_seconds=ACK_WAIT_SECONDS,
            batch_size=CONSUME_BATCH,
            threaded=True,
        ).open()
    return await open_bus(
        url, retry=retry, ack_wait_seconds=ACK_WAIT_SECONDS, batch_size=CONSUME_BATCH
    )


async def wait_for_lag_zero(
    bus: Bus, topic: str, group: str, expected: int, every: float = 0.005
) -> None:
    """Poll the group's lag; callers poll rarely while the consumers work, as each poll is
    a query (two API requests on NATS) competing with them."""
    while True:
        stats = await bus.stats(topic)
        if stats.groups.get(group) == 0 and stats.messages >= expected:
            return
        await asyncio.sleep(every)


async def timed(work: Callable[[], Awaitable[None]]) -> float:
    started = time.perf_counter()
    await work()
    return time.perf_counter() - started


# -- Vigil bus scenarios ----------------------------------------------------------------------


async def bench_publish(bus: Bus, topic: str, n: int) -> tuple[float, float]:
    await bus.ensure_topics([topic + "_single", topic + "_batch"])

    async def single() -> None:
        for i in range(n):
            await bus.publish(topic + "_single", payload(i), key=str(i))

    async def batched() -> None:
        for start in range(0, n, PUBLISH_BATCH):
            await bus.publish_batch(
                topic + "_batch",
                [(payload(i), str(i)) for i in range(start, min(n, start + PUBLISH_BATCH))],
            )

    return await timed(single), await timed(batched)


async def fill(bus: Bus, topic: str, n: int) -> None:
    await bus.ensure_topics([topic])
    for start in range(0, n, PUBLISH_BATCH):
        await bus.publish_batch(
            topic, [(payload(i), None) for i in range(start, min(n, start + PUBLISH_BATCH))]
        )


async def bench_consume_in_process(buses: list[Bus], topic: str, n: int) -> float:
    """Consumers (one per bus connection) in this process until the group's lag is 0."""
    await fill(buses[0], topic, n)
    handled = 0
    all_handled = asyncio.Event()

    async def handle(message: Message) -> None:
        nonlocal handled
        handled += 1
        if handled == n:
            all_handled.set()

    stop = asyncio.Event()
    started = time.perf_counter()
    tasks = [asyncio.create_task(bus.consume(topic, "bench", handle, stop=stop)) for bus in buses]
    await asyncio.wait_for(all_handled.wait(), 120)
    await wait_for_lag_zero(buses[0], topic, "bench", n)  # the last acknowledgements
    seconds = time.perf_counter() - started
    stop.set()
    await asyncio.gather(*tasks)
    if handled < n:
        raise RuntimeError(f"handled {handled} of {n}")
    return seconds


async def bench_consume_processes(bus: Bus, url: str, topic: str, n: int, procs: int) -> float:
    """``procs`` consumer processes, started and ready before the clock starts."""
    await fill(bus, topic, n)
    workers = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bench.bus",
            "--worker",
            url,
            topic,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            cwd=REPO_ROOT,
        )
        for _ in range(procs)
    ]
    for worker in workers:
        assert worker.stdout is not None
        if (await worker.stdout.readline()).strip() != b"ready":
            raise RuntimeError("a consumer process did not start")
    started = time.perf_counter()
    for worker in workers:
        assert worker.stdin is not None
        worker.stdin.write(b"go\n")
        await worker.stdin.drain()
    await wait_for_lag_zero(bus, topic, "bench", n, every=0.02)
    seconds = time.perf_counter() - started
    counts = []
    for worker in workers:
        assert worker.stdin is not None
        assert worker.stdout is not None
        worker.stdin.write(b"stop\n")
        await worker.stdin.drain()
        counts.append(int(await worker.stdout.readline()))
        await worker.wait()
    if sum(counts) < n or min(counts) == 0:
        raise RuntimeError(f"consumer processes handled {counts} of {n}")
    return seconds


async def worker_main(url: str, topic: str) -> None:
    """A consumer process of ``bench_consume_processes``: ready, go, consume, stop, count."""
    bus = await open_backend(url)
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    handled = 0

    async def handle(message: Message) -> None:
        nonlocal handled
        handled += 1

    print("ready", flush=True)
    await reader.readline()
    stop = asyncio.Event()
    task = asyncio.create_task(bus.consume(topic, "bench", handle, stop=stop))
    await reader.readline()
    stop.set()
    await task
    await bus.close()
    print(handled, flush=True)


async def bench_latency(bus: Bus, topic: str) -> tuple[int, float, float]:
    """Publish at LATENCY_RATE for LATENCY_SECONDS; (count, p50, p99) publish->handler in ms."""
    await bus.ensure_topics([topic])
    latencies: list[float] = []
    count = int(LATENCY_RATE * LATENCY_SECONDS)
    all_handled = asyncio.Event()

    async def handle(message: Message) -> None:
        latencies.append(time.time() - message.payload["sent_at"])
        if len(latencies) == count:
            all_handled.set()

    stop = asyncio.Event()
    consumer = asyncio.create_task(bus.consume(topic, "bench", handle, stop=stop))
    await asyncio.sleep(0.5)  # consumer joined and idle
    started = time.monotonic()
    for i in range(count):
        delay = started + i / LATENCY_RATE - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        await bus.publish(topic, {**payload(i), "sent_at": time.time()})
    await asyncio.wait_for(all_handled.wait(), 60)
    stop.set()
    await consumer
    cuts = statistics.quantiles(latencies, n=100)
    return count, cuts[49] * 1000, cuts[98] * 1000


async def bench_vigil(
    backend: str, url: str, n: int, prefix: str, threaded: bool = False
) -> list[Row]:
    rows: list[Row] = []
    label = backend + (" (threaded)" if threaded else "")
    bus = await open_backend(url, threaded=threaded)
    second = await open_backend(url, threaded=threaded)
    try:
        single, batched = await bench_publish(bus, f"{prefix}.pub", n)
        rows.append(Row(label, "publish, one per call", n, single))
        rows.append(Row(label, f"publish, batches of {PUBLISH_BATCH}", n, batched))
        seconds = await bench_consume_in_process([bus], f"{prefix}.c1", n)
        rows.append(Row(label, "consume+ack, 1 consumer", n, seconds))
        seconds = await bench_consume_in_process([bus, second], f"{prefix}.c2", n)
        rows.append(Row(label, "consume+ack, 2 consumers in 1 process", n, seconds))
        if not threaded:
            seconds = await bench_consume_processes(bus, url, f"{prefix}.c3", n, 2)
            rows.append(Row(label, "consume+ack, 2 consumer processes", n, seconds))
        count, p50, p99 = await bench_latency(bus, f"{prefix}.lat")
        rows.append(
            Row(
                label,
                f"latency at {LATENCY_RATE} msg/s",
                count,
                LATENCY_SECONDS,
                note=f"p50 {p50:.1f} ms, p99 {p99:.1f} ms",
            )
        )
    finally:
        await second.close()
        await bus.close()
    return rows


# -- raw nats-py, the same work ---------------------------------------------------------------


async def bench_raw_nats(n: int, prefix: str) -> dict[str, float]:
    """msg/s of nats-py itself: js.publish, publish_async in batches, fetch+ack."""
    import json

    import nats
    from nats.js.api import AckPolicy, ConsumerConfig

    nc = await nats.connect(NATS_URL)
    js = nc.jetstream()
    rates: dict[str, float] = {}
    subjects = {kind: f"{prefix}.raw_{kind}" for kind in ("single", "batch", "consume")}
    for subject in subjects.values():
        await js.add_stream(name=stream_name(subject), subjects=[subject])
    try:
        started = time.perf_counter()
        for i in range(n):
            data = json.dumps(payload(i), separators=(",", ":")).encode()
            await js.publish(subjects["single"], data, headers={"Vigil-Key": str(i)})
        rates["single"] = n / (time.perf_counter() - started)

        async def publish_batches(subject: str) -> None:
            for start in range(0, n, PUBLISH_BATCH):
                futures = [
                    await js.publish_async(
                        subject,
                        json.dumps(payload(i), separators=(",", ":")).encode(),
                        headers={"Vigil-Key": str(i)},
                    )
                    for i in range(start, min(n, start + PUBLISH_BATCH))
                ]
                await asyncio.gather(*futures)

        rates["batch"] = n / await timed(lambda: publish_batches(subjects["batch"]))

        await publish_batches(subjects["consume"])
        await js.add_consumer(
            stream_name(subjects["consume"]),
            ConsumerConfig(
                durable_name="bench",
                ack_policy=AckPolicy.EXPLICIT,
                ack_wait=ACK_WAIT_SECONDS,
                max_deliver=-1,
                filter_subject=subjects["consume"],
            ),
        )
        sub = await js.pull_subscribe_bind(durable="bench", stream=stream_name(subjects["consume"]))
        handled = 0
        started = time.perf_counter()
        while handled < n:
            for msg in await sub.fetch(CONSUME_BATCH, timeout=5):
                json.loads(msg.data)
                await msg.ack()
                handled += 1
        await nc.flush()
        rates["consume"] = n / (time.perf_counter() - started)
    finally:
        for subject in subjects.values():
            await js.delete_stream(stream_name(subject))
        await nc.close()
    return rates


async def delete_nats_streams(prefix: str) -> None:
    import nats

    nc = await nats.connect(NATS_URL)
    try:
        js = nc.jetstream()
        for info in await js.streams_info():
            name = info.config.name or ""
            if name.startswith(stream_name(prefix) + "_"):
                await js.delete_stream(name)
    finally:
        await nc.close()


# -- report -----------------------------------------------------------------------------------


def machine() -> str:
    cpu = platform.processor() or "unknown CPU"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    ram = "unknown"
    with contextlib.suppress(OSError, ValueError, IndexError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                ram = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB RAM"
                break
    return f"{os.cpu_count()} CPUs ({cpu}), {ram}, Python {platform.python_version()}"


def report(rows: list[Row], argv: list[str]) -> None:
    table = Table("backend", "scenario", "messages", "seconds", "msg/s", "raw nats-py", "ratio", "")
    for row in rows:
        table.add_row(
            row.backend,
            row.scenario,
            str(row.messages),
            f"{row.seconds:.2f}",
            "" if row.note else f"{row.rate:,.0f}",
            "" if row.raw_rate is None else f"{row.raw_rate:,.0f}",
            row.ratio,
            row.note,
        )
    console.print(table)
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        f"Command: `.venv/bin/python -m bench.bus {' '.join(argv)}`".replace(" `", "`", 0),
        f"Machine: {machine()}; {when}",
        "",
        "| backend | scenario | msg/s | raw nats-py msg/s | vigil/raw | notes |",
        "|---|---|---:|---:|---:|---|",
    ]
    for row in rows:
        rate = "" if row.note else f"{row.rate:,.0f}"
        raw = "" if row.raw_rate is None else f"{row.raw_rate:,.0f}"
        lines.append(
            f"| {row.backend} | {row.scenario} | {rate} | {raw} | {row.ratio} | {row.note} |"
        )
    print("\n" + "\n".join(lines))


async def main(args: argparse.Namespace, argv: list[str]) -> None:
    rows: list[Row] = []
    prefix = f"bench_{uuid.uuid4().hex[:8]}"
    backends = ["sqlite", "nats"] if args.backend == "all" else [args.backend]
    if "sqlite" in backends:
        with tempfile.TemporaryDirectory(prefix="vigil-bench-") as directory:
            rows += await bench_vigil(
                "sqlite", f"sqlite:///{directory}/bus.db", args.messages, prefix
            )
        if args.sqlite_threaded:
            with tempfile.TemporaryDirectory(prefix="vigil-bench-") as directory:
                url = f"sqlite:///{directory}/bus.db"
                rows += await bench_vigil("sqlite", url, args.messages, prefix, threaded=True)
    if "nats" in backends:
        try:
            nats_rows = await bench_vigil("nats", NATS_URL, args.messages, prefix)
            raw = await bench_raw_nats(args.messages, prefix)
        finally:
            await delete_nats_streams(prefix)
        raw_by_scenario = {
            "publish, one per call": raw["single"],
            f"publish, batches of {PUBLISH_BATCH}": raw["batch"],
            "consume+ack, 1 consumer": raw["consume"],
        }
        for row in nats_rows:
            row.raw_rate = raw_by_scenario.get(row.scenario)
        rows += nats_rows
    report(rows, argv)


def cli() -> None:
    if sys.argv[1:2] == ["--worker"]:
        asyncio.run(worker_main(sys.argv[2], sys.argv[3]))
        return
    parser = argparse.ArgumentParser(prog="python -m bench.bus", description=__doc__.split("\n")[0])
    parser.add_argument("--backend", choices=["sqlite", "nats", "all"], default="all")
    parser.add_argument("--messages", type=int, default=20_000, help="per scenario")
    parser.add_argument(
        "--sqlite-threaded",
        action="store_true",
        help="also run SQLite with its calls on a dedicated thread instead of inline",
    )
    args = parser.parse_args()
    asyncio.run(main(args, sys.argv[1:]))


if __name__ == "__main__":
    cli()
