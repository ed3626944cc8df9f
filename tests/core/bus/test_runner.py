"""run_consumers: consumers run side by side, survive failures, and the lag gauge follows."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest
from prometheus_client import REGISTRY

from core.bus import Bus, Handler, Message, RetryPolicy, open_bus
from core.bus.runner import Consumer, run_consumers
from core.bus.sqlite import SqliteBus

from .conftest import wait_until

pytestmark = pytest.mark.anyio


class BackendFailsOnce(SqliteBus):
    """The first consume call fails the way a locked database does."""

    failures = 0

    async def consume(
        self, topic: str, group: str, handler: Handler, *, stop: asyncio.Event
    ) -> None:
        if self.failures == 0:
            self.failures += 1
            raise sqlite3.OperationalError("database is locked")
        await super().consume(topic, group, handler, stop=stop)


async def _open(path: Path) -> Bus:
    return await open_bus(
        f"sqlite:///{path}",
        retry=RetryPolicy(max_attempts=1),
        ack_wait_seconds=10,
        batch_size=8,
    )


async def test_failures_do_not_stop_the_other_consumers(tmp_path: Path) -> None:
    bus = await BackendFailsOnce(
        tmp_path / "bus.db", retry=RetryPolicy(max_attempts=1), ack_wait_seconds=10, batch_size=8
    ).open()
    await bus.ensure_topics(["video.uploaded", "comment.created"])
    videos: list[int] = []
    comments: list[int] = []

    async def handle_video(message: Message) -> None:
        if message.payload["n"] == 1:
            raise ValueError("corrupt upload")
        videos.append(message.payload["n"])

    async def handle_comment(message: Message) -> None:
        comments.append(message.payload["n"])

    stop = asyncio.Event()
    runner = asyncio.create_task(
        run_consumers(
            bus,
            [
                Consumer("video.uploaded", "media", handle_video, "media"),
                Consumer("comment.created", "moderation", handle_comment, "moderation"),
            ],
            stop,
            restart_pause_seconds=0.05,
        )
    )
    try:
        await bus.publish_batch("video.uploaded", [({"n": n}, None) for n in range(3)])
        await bus.publish_batch("comment.created", [({"n": n}, None) for n in range(3)])
        await wait_until(lambda: len(videos) == 2 and len(comments) == 3, what="all handled")
        assert videos == [0, 2], "the failing message did not stop the ones after it"
        assert comments == [0, 1, 2], "the consumer whose backend failed was restarted"
        assert isinstance(bus, BackendFailsOnce)
        assert bus.failures == 1
        assert [d.error for d in await bus.dead_letters("video.uploaded")] == [
            "ValueError: corrupt upload"
        ]
    finally:
        stop.set()
        await asyncio.wait_for(runner, 10)
        await bus.close()


async def test_lag_gauge_follows_the_backlog(tmp_path: Path) -> None:
    bus = await _open(tmp_path / "bus.db")
    await bus.ensure_topics(["feed.signal"])
    release = asyncio.Event()

    async def handle(message: Message) -> None:
        await release.wait()

    def lag() -> float | None:
        return REGISTRY.get_sample_value(
            "vigil_bus_lag", {"topic": "feed.signal", "group": "ranker"}
        )

    stop = asyncio.Event()
    runner = asyncio.create_task(
        run_consumers(
            bus, [Consumer("feed.signal", "ranker", handle, "ranker")], stop, lag_every_seconds=0.02
        )
    )
    try:
        await bus.publish_batch("feed.signal", [({"n": n}, None) for n in range(3)])
        await wait_until(lambda: lag() == 3, what="lag 3 while the handler is blocked")
        release.set()
        await wait_until(lambda: lag() == 0, what="lag 0 once handled")
    finally:
        stop.set()
        await asyncio.wait_for(runner, 10)
        await bus.close()
