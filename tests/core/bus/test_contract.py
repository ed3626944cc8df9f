"""The bus contract, run unchanged against every backend (the ``backend`` fixture's params).

At-least-once delivery, ack after the handler returns, groups, retry with growing backoff, dead
letters and their replay, stats, unknown topics, and redelivery after a consumer process is
killed mid-handler.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import textwrap
import time
from pathlib import Path

import pytest
from prometheus_client import REGISTRY

from core.bus import (
    Handler,
    Message,
    MessageTooLargeError,
    TopicStats,
    UnknownTopicError,
    dead_letter_topic,
)
from core.errors import InvalidInputError

from .conftest import REPO_ROOT, BusBackend, wait_until

pytestmark = pytest.mark.anyio


def _sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


async def test_roundtrip_carries_id_payload_key_and_attempt(backend: BusBackend) -> None:
    bus = await backend.open()
    topic = backend.topic()
    await bus.ensure_topics([topic])
    before = time.time()
    keyed = await bus.publish(topic, {"video_id": "v1", "title": "héllo"}, key="v1")
    unkeyed = await bus.publish(topic, {"video_id": "v2"})
    got: list[Message] = []

    async def handle(message: Message) -> None:
        got.append(message)

    backend.consume(bus, topic, "media", handle)
    await wait_until(lambda: len(got) == 2, what="both messages")

    first, second = got
    assert (first.topic, first.id, first.key, first.attempt) == (topic, keyed, "v1", 1)
    assert first.payload == {"video_id": "v1", "title": "héllo"}
    assert before - 1 <= first.published_at <= time.time() + 1
    assert (second.id, second.key, second.payload) == (unkeyed, None, {"video_id": "v2"})
    assert topic in await bus.topics()
    assert dead_letter_topic(topic) not in await bus.topics()


async def test_batch_publish_keeps_order(backend: BusBackend) -> None:
    bus = await backend.open(batch_size=7)
    topic = backend.topic()
    await bus.ensure_topics([topic])
    ids = await bus.publish_batch(topic, [({"n": n}, f"k{n}") for n in range(50)])
    assert len(ids) == 50
    assert [int(i) for i in ids] == sorted(int(i) for i in ids)
    got: list[Message] = []

    async def handle(message: Message) -> None:
        got.append(message)

    backend.consume(bus, topic, "indexer", handle)
    await wait_until(lambda: len(got) == 50, what="50 messages")
    assert [m.payload["n"] for m in got] == list(range(50))
    assert [m.key for m in got] == [f"k{n}" for n in range(50)]
    assert [m.id for m in got] == ids
    assert await bus.publish_batch(topic, []) == []


async def test_consumers_in_one_group_share_the_work(backend: BusBackend) -> None:
    # Two connections, as two worker processes would have.
    first, second = await backend.open(batch_size=4), await backend.open(batch_size=4)
    topic = backend.topic()
    await first.ensure_topics([topic])
    await first.publish_batch(topic, [({"n": n}, None) for n in range(40)])
    handled: dict[str, list[int]] = {"first": [], "second": []}
    started = {"first": asyncio.Event(), "second": asyncio.Event()}

    def handler_for(name: str, other: str) -> Handler:
        async def handle(message: Message) -> None:
            handled[name].append(message.payload["n"])
            started[name].set()
            # Hold the first message until the other member has one too: proves that the
            # group hands messages to both, whatever the scheduling.
            await asyncio.wait_for(started[other].wait(), 10)

        return handle

    backend.consume(first, topic, "moderation", handler_for("first", "second"))
    backend.consume(second, topic, "moderation", handler_for("second", "first"))
    await wait_until(lambda: len(handled["first"]) + len(handled["second"]) >= 40, what="40")
    await backend.stop_consumers()

    everything = handled["first"] + handled["second"]
    assert sorted(everything) == list(range(40)), "each message handled exactly once"
    assert handled["first"], "the first member got none"
    assert handled["second"], "the second member got none"


async def test_every_group_gets_every_message(backend: BusBackend) -> None:
    bus = await backend.open()
    topic = backend.topic()
    await bus.ensure_topics([topic])
    await bus.publish_batch(topic, [({"n": n}, None) for n in range(10)])
    handled: dict[str, list[int]] = {"feed": [], "search": []}

    for group in handled:

        async def handle(message: Message, group: str = group) -> None:
            handled[group].append(message.payload["n"])

        backend.consume(bus, topic, group, handle)

    await wait_until(lambda: all(len(v) == 10 for v in handled.values()), what="10 per group")
    assert handled == {"feed": list(range(10)), "search": list(range(10))}


async def test_ack_only_after_handler_returns(backend: BusBackend) -> None:
    bus = await backend.open()
    topic = backend.topic()
    await bus.ensure_topics([topic])
    await bus.publish(topic, {"n": 1})
    inside, release = asyncio.Event(), asyncio.Event()

    async def handle(message: Message) -> None:
        inside.set()
        await release.wait()

    backend.consume(bus, topic, "audit", handle)
    await asyncio.wait_for(inside.wait(), 10)
    # Delivered, handler still running: not acknowledged.
    assert (await bus.stats(topic)).groups == {"audit": 1}
    release.set()

    async def acknowledged() -> bool:
        return (await bus.stats(topic)).groups == {"audit": 0}

    await wait_until(acknowledged, what="the ack after the handler returned")


async def test_failing_handler_is_retried_with_growing_backoff_then_dead_lettered(
    backend: BusBackend,
) -> None:
    bus = await backend.open(max_attempts=3, backoff_initial_seconds=0.2)
    topic = backend.topic()
    await bus.ensure_topics([topic])
    failed_before = _sample("vigil_bus_failed_total", topic=topic, group="transcode")
    await bus.publish(topic, {"video_id": "v9"}, key="v9")
    calls: list[tuple[int, float]] = []

    async def handle(message: Message) -> None:
        calls.append((message.attempt, time.monotonic()))
        raise RuntimeError(f"ffmpeg exited 1 on attempt {message.attempt}")

    backend.consume(bus, topic, "transcode", handle)

    async def dead_lettered() -> bool:
        return len(await bus.dead_letters(topic)) == 1

    await wait_until(dead_lettered, what="the dead letter")

    assert [attempt for attempt, _ in calls] == [1, 2, 3]
    first_gap, second_gap = calls[1][1] - calls[0][1], calls[2][1] - calls[1][1]
    assert first_gap >= 0.2 * 0.9  # RetryPolicy.delay(1)
    assert second_gap >= 0.4 * 0.9  # RetryPolicy.delay(2): doubled
    assert second_gap > first_gap
    (letter,) = await bus.dead_letters(topic)
    assert letter.topic == topic
    assert letter.group == "transcode"
    assert letter.attempts == 3
    assert letter.error == "RuntimeError: ffmpeg exited 1 on attempt 3"
    assert (letter.payload, letter.key) == ({"video_id": "v9"}, "v9")
    assert letter.failed_at >= time.time() - 30

    async def settled() -> bool:
        return (await bus.stats(topic)).groups == {"transcode": 0}

    await wait_until(settled, what="the dead-lettered message to count as handled")
    assert (await bus.stats(dead_letter_topic(topic))).messages == 1
    assert _sample("vigil_bus_failed_total", topic=topic, group="transcode") - failed_before == 3
    assert _sample("vigil_bus_dead_lettered_total", topic=topic, group="transcode") == 1
    assert len(calls) == 3


async def test_replay_delivers_dead_letters_again_to_the_group_that_failed(
    backend: BusBackend,
) -> None:
    bus = await backend.open(max_attempts=1)
    topic = backend.topic()
    await bus.ensure_topics([topic])
    broken = True
    flaky: list[Message] = []
    steady: list[Message] = []

    async def handle_flaky(message: Message) -> None:
        flaky.append(message)
        if broken:
            raise ValueError(f"bad caption {message.payload['n']}")

    async def handle_steady(message: Message) -> None:
        steady.append(message)

    backend.consume(bus, topic, "flaky", handle_flaky)
    backend.consume(bus, topic, "steady", handle_steady)
    await bus.publish_batch(topic, [({"n": 1}, "a"), ({"n": 2}, "b")])

    async def two_dead() -> bool:
        return len(await bus.dead_letters(topic)) == 2

    await wait_until(two_dead, what="two dead letters")
    first, second = await bus.dead_letters(topic)
    assert [first.error, second.error] == ["ValueError: bad caption 1", "ValueError: bad caption 2"]
    broken = False

    assert await bus.replay_dead_letters(topic, ids=[first.id]) == 1
    await wait_until(lambda: len(flaky) == 3, what="the replayed message")
    replayed = flaky[2]
    assert (replayed.payload, replayed.key, replayed.attempt) == ({"n": 1}, "a", 1)
    assert [d.id for d in await bus.dead_letters(topic)] == [second.id]

    assert await bus.replay_dead_letters(topic) == 1
    await wait_until(lambda: len(flaky) == 4, what="the second replayed message")
    assert flaky[3].payload == {"n": 2}
    assert await bus.dead_letters(topic) == []

    async def steady_caught_up() -> bool:
        return (await bus.stats(topic)).groups.get("steady") == 0

    await wait_until(steady_caught_up, what="the steady group to pass the replays")
    # The replays were for "flaky" only: "steady" handled each message once.
    assert [m.payload["n"] for m in steady] == [1, 2]


async def test_unknown_topics_and_invalid_names_are_refused(backend: BusBackend) -> None:
    bus = await backend.open()
    known = backend.topic("known")
    await bus.ensure_topics([known])
    missing = backend.topic("missing")
    stop = asyncio.Event()

    async def handle(message: Message) -> None:
        raise AssertionError("never called")

    calls = [
        bus.publish(missing, {"n": 1}),
        bus.publish_batch(missing, [({"n": 1}, None)]),
        bus.consume(missing, "g", handle, stop=stop),
        bus.stats(missing),
        bus.dead_letters(missing),
        bus.replay_dead_letters(missing),
    ]
    for call in calls:
        with pytest.raises(UnknownTopicError) as caught:
            await call
        assert caught.value.topic == missing
        assert known in caught.value.known
        assert repr(missing) in str(caught.value)

    for bad_topic in ["", "video uploaded", "video.*", "video..uploaded", "x.dlq"]:
        with pytest.raises(InvalidInputError):
            await bus.ensure_topics([bad_topic])
    with pytest.raises(InvalidInputError):
        await bus.consume(known, "group.with.dots", handle, stop=stop)
    with pytest.raises(MessageTooLargeError):
        await bus.publish(known, {"blob": "x" * (1024 * 1024 + 1)})


async def test_stats_count_messages_and_lag_per_group(backend: BusBackend) -> None:
    bus = await backend.open(batch_size=16)
    topic = backend.topic()
    await bus.ensure_topics([topic])
    assert await bus.stats(topic) == TopicStats(topic=topic, messages=0, groups={})
    await bus.publish_batch(topic, [({"n": n}, None) for n in range(5)])
    handled: list[int] = []
    stop_partial = asyncio.Event()

    async def handle_two(message: Message) -> None:
        handled.append(message.payload["n"])
        if len(handled) == 2:
            stop_partial.set()

    await asyncio.wait_for(bus.consume(topic, "partial", handle_two, stop=stop_partial), 10)
    assert handled == [0, 1]
    stats = await bus.stats(topic)
    assert (stats.messages, stats.groups) == (5, {"partial": 3})

    everything: list[int] = []

    async def handle_all(message: Message) -> None:
        everything.append(message.payload["n"])

    backend.consume(bus, topic, "complete", handle_all)
    await wait_until(lambda: len(everything) == 5, what="the complete group")
    await backend.stop_consumers()
    await bus.publish_batch(topic, [({"n": n}, None) for n in (5, 6)])
    stats = await bus.stats(topic)
    assert (stats.messages, stats.groups) == (7, {"complete": 2, "partial": 5})
    published = _sample("vigil_bus_published_total", topic=topic)
    consumed = _sample("vigil_bus_consumed_total", topic=topic, group="complete")
    assert (published, consumed) == (7, 5)

    # The messages the stopped consumer had fetched but not started go to the next member.
    rest: list[Message] = []

    async def handle_rest(message: Message) -> None:
        rest.append(message)

    backend.consume(bus, topic, "partial", handle_rest)
    await wait_until(lambda: len(rest) == 5, what="the rest of the partial group")
    assert [m.payload["n"] for m in rest] == [2, 3, 4, 5, 6]


async def test_slow_handler_keeps_its_message(backend: BusBackend) -> None:
    # Two members, a handler running for more than two ack_wait periods: the heartbeat must
    # keep the message from being redelivered to the idle member.
    first, second = (
        await backend.open(ack_wait_seconds=0.5),
        await backend.open(ack_wait_seconds=0.5),
    )
    topic = backend.topic()
    await first.ensure_topics([topic])
    await first.publish(topic, {"n": 1})
    calls: list[int] = []

    async def handle(message: Message) -> None:
        calls.append(message.attempt)
        await asyncio.sleep(1.3)

    backend.consume(first, topic, "thumbnails", handle)
    backend.consume(second, topic, "thumbnails", handle)

    async def done() -> bool:
        return (await first.stats(topic)).groups == {"thumbnails": 0}

    await wait_until(done, what="the slow handler to finish")
    assert calls == [1]


CRASHING_CONSUMER = textwrap.dedent(
    """
    import asyncio, json, sys
    from pathlib import Path
    from core.bus import RetryPolicy, open_bus

    url, topic, group, marker = sys.argv[1:5]

    async def main() -> None:
        bus = await open_bus(
            url, retry=RetryPolicy(max_attempts=5), ack_wait_seconds=1.0, batch_size=2
        )

        async def handle(message):
            # Written aside then renamed: the parent must never read a half-written marker.
            partial = Path(marker + ".partial")
            partial.write_text(json.dumps({"id": message.id, "attempt": message.attempt}))
            partial.rename(marker)
            await asyncio.sleep(3600)  # SIGKILLed in here

        await bus.consume(topic, group, handle, stop=asyncio.Event())

    asyncio.run(main())
    """
)


async def test_message_of_a_killed_consumer_is_redelivered(
    backend: BusBackend, tmp_path: Path
) -> None:
    bus = await backend.open(max_attempts=5, ack_wait_seconds=1.0)
    topic = backend.topic()
    await bus.ensure_topics([topic])
    ids = await bus.publish_batch(topic, [({"n": n}, f"k{n}") for n in range(6)])
    script = tmp_path / "crashing_consumer.py"
    script.write_text(CRASHING_CONSUMER)
    marker = tmp_path / "inside-handler.json"
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    process = await asyncio.create_subprocess_exec(
        sys.executable, str(script), backend.url, topic, "media", str(marker), env=env
    )
    try:
        await wait_until(marker.exists, within=30, what="the child to enter its handler")
    finally:
        process.send_signal(signal.SIGKILL)
        await asyncio.wait_for(process.wait(), 10)
    assert process.returncode == -signal.SIGKILL
    crashed = json.loads(marker.read_text())
    assert crashed == {"id": ids[0], "attempt": 1}

    got: list[Message] = []

    async def handle(message: Message) -> None:
        got.append(message)

    backend.consume(bus, topic, "media", handle)
    await wait_until(lambda: len(got) >= 6, what="all six messages")
    by_id = {m.id: m for m in got}
    assert sorted(by_id) == sorted(ids), "nothing lost"
    assert len(got) == 6, "each handled once by the survivor"
    assert by_id[crashed["id"]].attempt == 2
    assert by_id[ids[-1]].attempt == 1  # never reached the dead child

    async def drained() -> bool:
        return (await bus.stats(topic)).groups == {"media": 0}

    await wait_until(drained, what="every message acknowledged")
    assert len(got) == 6
