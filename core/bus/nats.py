"""The scale-out bus: NATS JetStream, one stream per topic, one durable pull consumer per group.

Mapping: topic ``video.uploaded`` is subject ``video.uploaded`` stored in stream
``VIGIL_video_uploaded``; its dead letters are subject ``video.uploaded.dlq`` in stream
``VIGIL_video_uploaded_dlq``. A consumer group is a durable pull consumer named after the group
on the topic's stream, with explicit acks, ``ack_wait`` from settings and unlimited redelivery:
the bus counts attempts itself (``num_delivered``) and dead-letters after ``max_attempts`` by
publishing to the dead-letter stream, then acknowledging. A failed handler is ``nak``-ed with the
retry policy's delay; a slow one sends ``in_progress`` so its message is not redelivered.
The message key travels in the ``Vigil-Key`` header, the message id is the stream sequence.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import nats
import nats.errors
import nats.js.errors
from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import (
    AckPolicy,
    ConsumerConfig,
    DeliverPolicy,
    RetentionPolicy,
    StorageType,
    StreamConfig,
)

from .base import (
    DEAD_LETTER_SUFFIX,
    HEADER_GROUP,
    HEADER_KEY,
    HEADER_REPLAY_GROUP,
    Bus,
    DeadLetter,
    Handler,
    Message,
    RetryPolicy,
    TopicStats,
    check_group_name,
    check_topic_name,
    dead_letter_from_message,
    dead_letter_headers,
    dead_letter_topic,
    decode_header_value,
    describe_error,
    encode_header_value,
)
from .errors import BusError, BusUnavailableError, MessageTooLargeError, UnknownTopicError
from .metrics import GroupMeters, call_handler, group_meters, published_counter

log = logging.getLogger(__name__)

STREAM_PREFIX = "VIGIL_"
# Acknowledged publishes in flight at once in publish_batch: enough to keep the pipe full,
# bounded so a huge batch does not queue unbounded futures.
_PUBLISH_WINDOW = 1000
# A pull request waits at most this long on the server; it bounds how often an idle consumer asks
# again, not latency (the server answers as soon as a message arrives).
_FETCH_WAIT_SECONDS = 5.0
_CONNECT_TIMEOUT_SECONDS = 2


@dataclass
class _Held:
    """A consumer's fetched batch; messages from ``position`` on are not settled yet."""

    batch: list[Msg] = field(default_factory=list)
    position: int = 0


def stream_name(topic: str) -> str:
    """``video.uploaded`` -> ``VIGIL_video_uploaded`` (stream names cannot contain dots)."""
    return STREAM_PREFIX + topic.replace(".", "_")


def _is_dead_letter(topic: str) -> bool:
    return topic.endswith(DEAD_LETTER_SUFFIX)


class NatsBus(Bus):
    """A ``Bus`` over NATS JetStream; see the module docstring."""

    def __init__(
        self,
        url: str,
        *,
        retry: RetryPolicy,
        ack_wait_seconds: float,
        batch_size: int,
    ) -> None:
        self.url = url
        self._retry = retry
        self._ack_wait = ack_wait_seconds
        self._batch_size = batch_size
        self._nc: NatsClient | None = None
        self._js: JetStreamContext | None = None
        self._streams: set[str] = set()  # topics whose stream is known to exist
        self._connect_error: Exception | None = None

    # -- plumbing ---------------------------------------------------------------------------

    async def open(self) -> NatsBus:
        """Connect; raise BusUnavailableError naming the URL and the reason if it cannot."""
        if self._nc is not None:
            return self
        try:
            # nats-py retries the first connection max_reconnect_attempts times: keep that short
            # so an unreachable server is reported in about a second; once connected, reconnect
            # for ever, so a running worker rides out a server restart.
            nc = await nats.connect(
                servers=[self.url],
                name="vigil-bus",
                connect_timeout=_CONNECT_TIMEOUT_SECONDS,
                max_reconnect_attempts=1,
                reconnect_time_wait=0.5,
                error_cb=self._on_error,
            )
        except (nats.errors.Error, OSError, TimeoutError) as exc:
            cause = self._connect_error or exc
            raise BusUnavailableError(
                f"NATS bus {self.url} is unreachable: {type(cause).__name__}: {cause}",
                details={"url": self.url},
            ) from exc
        nc.options["max_reconnect_attempts"] = -1
        nc.options["reconnect_time_wait"] = 2.0
        self._nc = nc
        self._js = nc.jetstream()
        try:
            await self._js.account_info()
        except (nats.errors.Error, TimeoutError) as exc:
            await nc.close()
            self._nc = self._js = None
            raise BusUnavailableError(
                f"NATS server {self.url} answers but JetStream does not: {exc} "
                "(start nats-server with -js)",
                details={"url": self.url},
            ) from exc
        return self

    async def _on_error(self, exc: Exception) -> None:
        if self._nc is None:  # still connecting: open() reports it
            self._connect_error = exc
            return
        log.warning("bus: NATS connection error: %s: %s", type(exc).__name__, exc)

    def _context(self) -> JetStreamContext:
        if self._js is None:
            raise BusUnavailableError(
                f"NATS bus {self.url} is not connected; call `await open_bus(...)`",
                details={"url": self.url},
            )
        return self._js

    def _max_payload(self) -> int:
        assert self._nc is not None
        return self._nc.max_payload

    # -- topics -----------------------------------------------------------------------------

    async def _ensure_stream(self, topic: str) -> None:
        js = self._context()
        name = stream_name(topic)
        try:
            info = await js.stream_info(name)
        except nats.js.errors.NotFoundError:
            await js.add_stream(
                StreamConfig(
                    name=name,
                    subjects=[topic],
                    description=f"Vigil topic {topic}",
                    retention=RetentionPolicy.LIMITS,  # a log: groups read it independently
                    storage=StorageType.FILE,
                )
            )
            return
        if info.config.subjects != [topic]:
            # ``a_b.c`` and ``a.b_c`` map to one stream name; refuse rather than mix topics.
            raise BusError(
                f"topic {topic!r} maps to stream {name!r}, which already carries "
                f"{info.config.subjects}; rename one of the topics",
                details={"topic": topic, "stream": name},
            )

    async def ensure_topics(self, topics: Iterable[str]) -> None:
        for topic in topics:
            check_topic_name(topic, declaring=True)
            for name in (topic, dead_letter_topic(topic)):
                if name not in self._streams:
                    await self._ensure_stream(name)
                    self._streams.add(name)

    async def _all_topics(self) -> list[str]:
        js = self._context()
        found: list[str] = []
        offset = 0
        while True:
            page = await js.streams_info(offset=offset)
            for info in page:
                subjects = info.config.subjects or []
                if (info.config.name or "").startswith(STREAM_PREFIX) and len(subjects) == 1:
                    found.append(subjects[0])
            if len(page) == 0:
                break
            offset += len(page)
        return sorted(found)

    async def topics(self) -> list[str]:
        return [topic for topic in await self._all_topics() if not _is_dead_letter(topic)]

    async def _unknown(self, topic: str) -> UnknownTopicError:
        return UnknownTopicError(topic, await self.topics())

    async def _require_topic(self, topic: str) -> None:
        if topic in self._streams:
            return
        try:
            info = await self._context().stream_info(stream_name(topic))
        except nats.js.errors.NotFoundError:
            raise await self._unknown(topic) from None
        if info.config.subjects != [topic]:
            raise await self._unknown(topic)
        self._streams.add(topic)

    # -- publishing -------------------------------------------------------------------------

    def _encode(
        self, topic: str, message: dict[str, Any], key: str | None
    ) -> tuple[bytes, dict[str, str] | None]:
        data = json.dumps(message, separators=(",", ":"), ensure_ascii=False).encode()
        headers = None if key is None else {HEADER_KEY: encode_header_value(key)}
        limit = self._max_payload()
        if len(data) > limit:
            raise MessageTooLargeError(topic, len(data), limit)
        return data, headers

    async def publish(self, topic: str, message: dict[str, Any], *, key: str | None = None) -> str:
        data, headers = self._encode(topic, message, key)
        try:
            ack = await self._context().publish(topic, data, headers=headers)
        except nats.js.errors.NoStreamResponseError:
            # No stream listens on the subject: the topic was never declared.
            raise await self._unknown(topic) from None
        published_counter(topic).inc()
        return str(ack.seq)

    async def publish_batch(
        self, topic: str, messages: Iterable[tuple[dict[str, Any], str | None]]
    ) -> list[str]:
        js = self._context()
        encoded = [self._encode(topic, message, key) for message, key in messages]
        ids: list[str] = []
        try:
            for start in range(0, len(encoded), _PUBLISH_WINDOW):
                futures = [
                    await js.publish_async(topic, data, headers=headers)
                    for data, headers in encoded[start : start + _PUBLISH_WINDOW]
                ]
                acks = await asyncio.gather(*futures)
                ids += [str(ack.seq) for ack in acks]
        except nats.js.errors.NoStreamResponseError:
            raise await self._unknown(topic) from None
        finally:
            if ids:
                published_counter(topic).inc(len(ids))
        return ids

    # -- consuming --------------------------------------------------------------------------

    async def _ensure_consumer(self, topic: str, group: str) -> None:
        config = ConsumerConfig(
            durable_name=group,
            deliver_policy=DeliverPolicy.ALL,  # a new group reads the topic from its start
            ack_policy=AckPolicy.EXPLICIT,
            ack_wait=self._ack_wait,
            max_deliver=-1,  # the bus dead-letters after max_attempts itself
            filter_subject=topic,
        )
        # Creating an existing durable with the same settings is a no-op; with a changed
        # ack_wait the server updates it.
        await self._context().add_consumer(stream_name(topic), config=config)

    async def _fetch(
        self, sub: JetStreamContext.PullSubscription, stop: asyncio.Event
    ) -> list[Msg]:
        """The next batch, or [] when idle or stopping. The pull is abandoned on stop: the
        server drops a pull request once its inbox loses interest."""
        fetch = asyncio.ensure_future(sub.fetch(self._batch_size, timeout=_FETCH_WAIT_SECONDS))
        stopping = asyncio.ensure_future(stop.wait())
        try:
            await asyncio.wait({fetch, stopping}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stopping.cancel()
            if not fetch.done():
                fetch.cancel()
                await asyncio.wait({fetch})
        if fetch.cancelled():
            return []
        try:
            return fetch.result()
        except TimeoutError:  # nats.errors.TimeoutError is one: nothing arrived in the wait
            return []

    async def _keep_alive(self, held: _Held) -> None:
        """Heartbeat: tell the server every held message is still being worked on."""
        interval = self._ack_wait / 3
        while True:
            await asyncio.sleep(interval)
            for msg in held.batch[held.position :]:
                await msg.in_progress()

    async def _dead_letter(
        self, topic: str, group: str, msg: Msg, attempt: int, error: str, meters: GroupMeters
    ) -> None:
        headers = dead_letter_headers(
            topic=topic, group=group, error=error, attempts=attempt, failed_at=time.time()
        )
        if msg.headers and HEADER_KEY in msg.headers:
            headers[HEADER_KEY] = msg.headers[HEADER_KEY]
        # Stored in the dead-letter stream before the original is acknowledged: a crash in
        # between duplicates the dead letter, never loses it.
        await self._context().publish(dead_letter_topic(topic), msg.data, headers=headers)
        await msg.ack()
        meters.dead_lettered.inc()
        published_counter(dead_letter_topic(topic)).inc()
        log.error(
            "bus: %s[%s] message %s dead-lettered after %d attempts: %s",
            topic,
            group,
            msg.metadata.sequence.stream,
            attempt,
            error,
        )

    async def _deliver(
        self, topic: str, group: str, handler: Handler, msg: Msg, meters: GroupMeters
    ) -> None:
        metadata = msg.metadata
        attempt = metadata.num_delivered
        headers = dict(msg.headers or {})
        raw_key = headers.pop(HEADER_KEY, None)
        replay_group = headers.get(HEADER_REPLAY_GROUP)
        if replay_group is not None and replay_group != group:
            await msg.ack()  # a dead letter replayed for another group: not ours to handle again
            return
        if attempt > self._retry.max_attempts:
            error = (
                f"not acknowledged after {attempt - 1} deliveries "
                f"(the consumer died or stalled past ack_wait={self._ack_wait}s each time)"
            )
            await self._dead_letter(topic, group, msg, attempt, error, meters)
            return
        try:
            payload = json.loads(msg.data)
        except ValueError as unreadable:
            # Not written by this bus: retrying cannot make it readable.
            error = describe_error(unreadable)
            await self._dead_letter(topic, group, msg, attempt, error, meters)
            return
        message = Message(
            topic=topic,
            id=str(metadata.sequence.stream),
            payload=payload,
            key=None if raw_key is None else decode_header_value(raw_key),
            attempt=attempt,
            published_at=metadata.timestamp.timestamp(),
            headers=headers,
        )
        exc = await call_handler(handler, message, meters)
        if exc is None:
            await msg.ack()
            return
        error = describe_error(exc)
        if attempt >= self._retry.max_attempts:
            await self._dead_letter(topic, group, msg, attempt, error, meters)
            return
        await msg.nak(delay=self._retry.delay(attempt))
        log.warning(
            "bus: %s[%s] message %s attempt %d failed (retry scheduled): %s",
            topic,
            group,
            metadata.sequence.stream,
            attempt,
            error,
        )

    async def consume(
        self, topic: str, group: str, handler: Handler, *, stop: asyncio.Event
    ) -> None:
        check_group_name(group)
        await self._require_topic(topic)
        await self._ensure_consumer(topic, group)
        sub = await self._context().pull_subscribe_bind(durable=group, stream=stream_name(topic))
        meters = group_meters(topic, group)
        held = _Held()
        keeper = asyncio.create_task(self._keep_alive(held))
        try:
            while not stop.is_set():
                held.batch, held.position = await self._fetch(sub, stop), 0
                for msg in held.batch:
                    if stop.is_set():
                        break
                    await self._deliver(topic, group, handler, msg, meters)
                    held.position += 1
        finally:
            keeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await keeper
            # Hand back what no handler finished, so another consumer gets it now rather than
            # after ack_wait.
            for msg in held.batch[held.position :]:
                with contextlib.suppress(nats.errors.Error):
                    await msg.nak()
            with contextlib.suppress(nats.errors.Error):
                await sub.unsubscribe()

    # -- inspection -------------------------------------------------------------------------

    async def stats(self, topic: str) -> TopicStats:
        await self._require_topic(topic)
        js = self._context()
        name = stream_name(topic)
        info = await js.stream_info(name)
        groups: dict[str, int] = {}
        for consumer in await js.consumers_info(name):
            # Lag: not yet delivered plus delivered and not acknowledged (retries waiting on
            # their backoff are in the latter).
            groups[consumer.name] = (consumer.num_pending or 0) + (consumer.num_ack_pending or 0)
        return TopicStats(
            topic=topic, messages=info.state.messages, groups=dict(sorted(groups.items()))
        )

    async def _dead_messages(
        self, topic: str, limit: int | None, ids: set[int] | None
    ) -> list[tuple[int, bytes, dict[str, str]]]:
        """(sequence, data, headers) of the dead-letter stream, oldest first."""
        js = self._context()
        dlq = dead_letter_topic(topic)
        name = stream_name(dlq)
        found: list[tuple[int, bytes, dict[str, str]]] = []
        info = await js.stream_info(name)
        if info.state.messages == 0:
            return found
        seq = info.state.first_seq
        while limit is None or len(found) < limit:
            try:
                # next_by_subj: the first stored message at or after ``seq``, skipping deleted
                # sequences (replayed dead letters leave gaps).
                raw = await js.get_msg(name, seq=seq, subject=dlq, next=True)
            except nats.js.errors.NotFoundError:
                break
            if raw.seq is None:
                break
            if ids is None or raw.seq in ids:
                found.append((raw.seq, raw.data or b"", dict(raw.headers or {})))
            seq = raw.seq + 1
        return found

    async def dead_letters(self, topic: str, *, limit: int = 100) -> list[DeadLetter]:
        await self._require_topic(topic)
        letters = []
        for seq, data, headers in await self._dead_messages(topic, limit, None):
            raw_key = headers.get(HEADER_KEY)
            letters.append(
                dead_letter_from_message(
                    id=str(seq),
                    payload=json.loads(data),
                    key=None if raw_key is None else decode_header_value(raw_key),
                    headers=headers,
                )
            )
        return letters

    async def replay_dead_letters(self, topic: str, *, ids: Iterable[str] | None = None) -> int:
        await self._require_topic(topic)
        wanted = None if ids is None else {int(i) for i in ids if i.isdigit()}
        js = self._context()
        count = 0
        for seq, data, headers in await self._dead_messages(topic, None, wanted):
            # The replay goes to the group that gave up on it; other groups skip it.
            replay_headers = {}
            if HEADER_GROUP in headers:
                replay_headers[HEADER_REPLAY_GROUP] = headers[HEADER_GROUP]
            if HEADER_KEY in headers:
                replay_headers[HEADER_KEY] = headers[HEADER_KEY]
            await js.publish(topic, data, headers=replay_headers)
            # Published before deleted: a crash in between replays twice, never loses it.
            await js.delete_msg(stream_name(dead_letter_topic(topic)), seq)
            count += 1
        if count:
            published_counter(topic).inc(count)
        return count

    async def ping(self) -> None:
        try:
            await self._context().account_info()
        except (nats.errors.Error, TimeoutError) as exc:
            raise BusUnavailableError(
                f"NATS bus {self.url} does not answer: {type(exc).__name__}: {exc}",
                details={"url": self.url},
            ) from exc

    async def close(self) -> None:
        if self._nc is not None:
            nc, self._nc, self._js = self._nc, None, None
            await nc.close()  # flushes pending acknowledgements first
