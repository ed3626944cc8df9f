"""Fixtures for the bus suites: one ``backend`` fixture parametrized over SQLite and NATS.

Each test gets its own topic prefix; on NATS its streams are deleted afterwards, on SQLite the
file lives in ``tmp_path``. Consumers started through ``BusBackend.consume`` are stopped (and
their errors surfaced) at teardown.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from core.bus import Bus, BusUnavailableError, Handler, RetryPolicy, open_bus
from core.bus.nats import STREAM_PREFIX
from tests.conftest import NATS_URL, need_service

REPO_ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


async def wait_until(
    condition: Callable[[], bool | Awaitable[bool]], *, within: float = 10.0, what: str = ""
) -> None:
    """Poll ``condition`` every 10 ms; fail the test if it is still false after ``within`` s."""
    deadline = time.monotonic() + within
    while True:
        outcome = condition()
        if not isinstance(outcome, bool):
            outcome = await outcome
        if outcome:
            return
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {within} s waiting for {what or condition}")
        await asyncio.sleep(0.01)


@dataclass
class BusBackend:
    """Opens buses on one backend for one test and cleans up after it."""

    name: str
    url: str
    prefix: str
    buses: list[Bus] = field(default_factory=list)
    consumers: list[tuple[asyncio.Task[None], asyncio.Event]] = field(default_factory=list)

    def topic(self, name: str = "events") -> str:
        return f"{self.prefix}.{name}"

    async def open(
        self,
        *,
        max_attempts: int = 3,
        backoff_initial_seconds: float = 0.05,
        ack_wait_seconds: float = 10.0,
        batch_size: int = 16,
    ) -> Bus:
        bus = await open_bus(
            self.url,
            retry=RetryPolicy(
                max_attempts=max_attempts,
                backoff_initial_seconds=backoff_initial_seconds,
                backoff_max_seconds=10.0,
            ),
            ack_wait_seconds=ack_wait_seconds,
            batch_size=batch_size,
        )
        self.buses.append(bus)
        return bus

    def consume(self, bus: Bus, topic: str, group: str, handler: Handler) -> asyncio.Event:
        """Start a consumer task; returns the event that stops it."""
        stop = asyncio.Event()
        task = asyncio.create_task(bus.consume(topic, group, handler, stop=stop))
        self.consumers.append((task, stop))
        return stop

    async def stop_consumers(self) -> None:
        for _, stop in self.consumers:
            stop.set()
        for task, _ in self.consumers:
            await asyncio.wait_for(task, 10)  # re-raises a consumer's own failure
        self.consumers.clear()

    async def close(self) -> None:
        try:
            await self.stop_consumers()
        finally:
            for bus in self.buses:
                await bus.close()


async def _delete_streams(prefix: str) -> None:
    import nats

    nc = await nats.connect(NATS_URL)
    try:
        js = nc.jetstream()
        wanted = STREAM_PREFIX + prefix
        for info in await js.streams_info():
            name = info.config.name or ""
            if name == wanted or name.startswith(wanted + "_"):
                await js.delete_stream(name)
    finally:
        await nc.close()


@pytest.fixture(params=["sqlite", "nats"])
async def backend(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[BusBackend]:
    prefix = f"t_{uuid.uuid4().hex[:10]}"
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'bus.db'}"
    else:
        url = NATS_URL
        try:
            probe = await open_bus(url, retry=RetryPolicy(), ack_wait_seconds=1, batch_size=1)
        except BusUnavailableError as exc:
            need_service("nats", str(exc))
        await probe.close()
    backend = BusBackend(name=request.param, url=url, prefix=prefix)
    try:
        yield backend
    finally:
        try:
            await backend.close()
        finally:
            if request.param == "nats":
                await _delete_streams(prefix)
