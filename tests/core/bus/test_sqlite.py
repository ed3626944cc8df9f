"""What only the embedded backend has: pruning, its URL form, several processes on one file."""

from __future__ import annotations

import asyncio
import os
import sys
import textwrap
from pathlib import Path

import pytest

from core.bus import Bus, BusUnavailableError, Message, RetryPolicy, open_bus
from core.bus.sqlite import SqliteBus, path_from_url

from .conftest import REPO_ROOT, wait_until

pytestmark = pytest.mark.anyio


async def _open(path: Path, **overrides: float) -> Bus:
    return await open_bus(
        f"sqlite:///{path}",
        retry=RetryPolicy(max_attempts=1),
        ack_wait_seconds=overrides.get("ack_wait_seconds", 10.0),
        batch_size=int(overrides.get("batch_size", 16)),
    )


async def _consume_n(bus: Bus, topic: str, group: str, n: int) -> list[int]:
    """Run a consumer until it has handled ``n`` messages; returns their ``n`` payloads."""
    handled: list[int] = []
    stop = asyncio.Event()

    async def handle(message: Message) -> None:
        handled.append(message.payload["n"])
        if len(handled) == n:
            stop.set()

    await asyncio.wait_for(bus.consume(topic, group, handle, stop=stop), 10)
    return handled


def test_url_names_a_file() -> None:
    assert path_from_url("sqlite:////var/lib/vigil/bus.db") == Path("/var/lib/vigil/bus.db")
    assert path_from_url("sqlite:///var/bus.db") == Path("var/bus.db")
    for url in ("sqlite://", "sqlite:///", "sqlite:///:memory:"):
        with pytest.raises(BusUnavailableError, match="does not name a file"):
            path_from_url(url)


async def test_unknown_scheme_and_unopenable_file_are_reported_with_the_url(
    tmp_path: Path,
) -> None:
    with pytest.raises(BusUnavailableError, match="unknown scheme"):
        await open_bus("redis://localhost", retry=RetryPolicy(), ack_wait_seconds=1, batch_size=1)
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")
    with pytest.raises(BusUnavailableError, match="cannot be opened") as caught:
        await _open(blocker / "bus.db")
    assert caught.value.details == {"url": f"sqlite:///{blocker / 'bus.db'}"}


async def test_unreachable_nats_is_reported_quickly_with_the_url() -> None:
    with pytest.raises(BusUnavailableError) as caught:
        await asyncio.wait_for(
            open_bus("nats://127.0.0.1:1", retry=RetryPolicy(), ack_wait_seconds=1, batch_size=1),
            10,
        )
    assert "nats://127.0.0.1:1 is unreachable" in str(caught.value)
    assert "Connect call failed" in str(caught.value)


async def test_prune_deletes_only_what_every_group_acknowledged(tmp_path: Path) -> None:
    bus = await _open(tmp_path / "bus.db", batch_size=4)
    assert isinstance(bus, SqliteBus)
    try:
        await bus.ensure_topics(["video.uploaded", "video.viewed"])
        await bus.publish_batch("video.uploaded", [({"n": n}, None) for n in range(6)])
        await bus.publish_batch("video.viewed", [({"n": n}, None) for n in range(3)])
        assert await _consume_n(bus, "video.uploaded", "media", 6) == list(range(6))
        # "search" stops after 2 of the 4 it claimed: 3 and 4 stay in flight, 5 unread.
        assert await _consume_n(bus, "video.uploaded", "search", 2) == [0, 1]

        assert await bus.prune(older_than_seconds=3600) == 0, "nothing is old enough yet"
        assert await bus.prune(older_than_seconds=0) == 2
        stats = await bus.stats("video.uploaded")
        assert (stats.messages, stats.groups) == (4, {"media": 0, "search": 4})
        # A topic nobody has read keeps everything.
        assert (await bus.stats("video.viewed")).messages == 3
        # The lagging group still gets the rest after the prune.
        assert await _consume_n(bus, "video.uploaded", "search", 4) == [2, 3, 4, 5]
        assert await bus.prune(older_than_seconds=0) == 4
        assert (await bus.stats("video.uploaded")).messages == 0
    finally:
        await bus.close()


PUBLISHER = textwrap.dedent(
    """
    import asyncio, sys
    from core.bus import RetryPolicy, open_bus

    url, topic, name, count = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])

    async def main() -> None:
        bus = await open_bus(url, retry=RetryPolicy(), ack_wait_seconds=10, batch_size=16)
        for n in range(count):
            await bus.publish(topic, {"from": name, "n": n})
        await bus.close()

    asyncio.run(main())
    """
)


async def test_several_publisher_processes_and_a_consumer_share_one_file(tmp_path: Path) -> None:
    path = tmp_path / "bus.db"
    bus = await _open(path)
    try:
        await bus.ensure_topics(["comment.created"])
        got: list[Message] = []
        stop = asyncio.Event()

        async def handle(message: Message) -> None:
            got.append(message)

        consumer = asyncio.create_task(bus.consume("comment.created", "mod", handle, stop=stop))
        script = tmp_path / "publisher.py"
        script.write_text(PUBLISHER)
        env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
        publishers = [
            await asyncio.create_subprocess_exec(
                sys.executable,
                str(script),
                f"sqlite:///{path}",
                "comment.created",
                name,
                "300",
                env=env,
            )
            for name in ("a", "b")
        ]
        assert [await asyncio.wait_for(p.wait(), 60) for p in publishers] == [0, 0]
        await wait_until(lambda: len(got) >= 600, what="600 messages from two processes")
        stop.set()
        await consumer

        assert len({m.id for m in got}) == 600, "ids are unique across processes"
        for name in ("a", "b"):
            # Each publisher's messages arrive in the order it published them.
            assert [m.payload["n"] for m in got if m.payload["from"] == name] == list(range(300))
        assert (await bus.stats("comment.created")).groups == {"mod": 0}
    finally:
        await bus.close()
