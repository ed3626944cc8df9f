"""The bus: durable topics, consumer groups, at-least-once delivery, retry, dead letters.

One interface (``Bus``), two backends chosen by URL: ``sqlite:///PATH`` (embedded, the default)
and ``nats://HOST:PORT`` (NATS JetStream). Everything outside this package imports from here:

    bus = await open_bus_from_settings(get_settings())
    await bus.ensure_topics(["video.uploaded"])
    await bus.publish("video.uploaded", {"video_id": "v1"}, key="v1")
    await bus.consume("video.uploaded", "media", handle_upload, stop=stop)

Errors (all ``BusError``): ``UnknownTopicError``, ``BusUnavailableError``,
``MessageTooLargeError``; invalid topic or group names raise ``core.errors.InvalidInputError``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .base import (
    DEAD_LETTER_SUFFIX,
    Bus,
    DeadLetter,
    Handler,
    Message,
    RetryPolicy,
    TopicStats,
    dead_letter_topic,
)
from .errors import BusError, BusUnavailableError, MessageTooLargeError, UnknownTopicError

if TYPE_CHECKING:
    from core.settings import Settings

__all__ = [
    "DEAD_LETTER_SUFFIX",
    "Bus",
    "BusError",
    "BusUnavailableError",
    "DeadLetter",
    "Handler",
    "Message",
    "MessageTooLargeError",
    "RetryPolicy",
    "TopicStats",
    "UnknownTopicError",
    "dead_letter_topic",
    "open_bus",
    "open_bus_from_settings",
]


async def open_bus(
    url: str, *, retry: RetryPolicy, ack_wait_seconds: float, batch_size: int
) -> Bus:
    """Open the backend ``url`` names and connect to it.

    Raises BusUnavailableError naming the URL and the reason when it cannot be reached, or when
    the scheme is neither ``sqlite`` nor ``nats``.
    """
    scheme = url.split(":", 1)[0].lower()
    if scheme == "sqlite":
        from .sqlite import SqliteBus, path_from_url

        return await SqliteBus(
            path_from_url(url),
            retry=retry,
            ack_wait_seconds=ack_wait_seconds,
            batch_size=batch_size,
        ).open()
    if scheme == "nats":
        # Imported here so processes on the embedded bus never import the NATS client.
        from .nats import NatsBus

        return await NatsBus(
            url, retry=retry, ack_wait_seconds=ack_wait_seconds, batch_size=batch_size
        ).open()
    raise BusUnavailableError(
        f"bus URL {url!r} has an unknown scheme: use sqlite:///PATH or nats://HOST:PORT",
        details={"url": url},
    )


async def open_bus_from_settings(settings: Settings) -> Bus:
    """Open the bus of ``settings.effective_bus_url`` with the retry and batching settings."""
    return await open_bus(
        settings.effective_bus_url,
        retry=RetryPolicy(
            max_attempts=settings.bus.max_attempts,
            backoff_initial_seconds=settings.bus.backoff_initial_seconds,
            backoff_max_seconds=settings.bus.backoff_max_seconds,
        ),
        ack_wait_seconds=settings.bus.ack_wait_seconds,
        batch_size=settings.bus.batch_size,
    )
