"""The bus's Prometheus metrics and the timed handler call both backends deliver through.

Labels come from bounded sets only: topic and consumer group names are declared in code, never
message ids or keys. Processes may run in prometheus multiprocess mode; the entry point sets
``PROMETHEUS_MULTIPROC_DIR`` before this module is imported.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from functools import lru_cache

from prometheus_client import Counter, Gauge, Histogram

from .base import Handler, Message

PUBLISHED = Counter(
    "vigil_bus_published_total",
    "Messages appended to a topic.",
    ["topic"],
)
CONSUMED = Counter(
    "vigil_bus_consumed_total",
    "Deliveries a consumer group's handler completed; each one is then acknowledged.",
    ["topic", "group"],
)
FAILED = Counter(
    "vigil_bus_failed_total",
    "Deliveries whose handler raised (each one is retried or dead-lettered).",
    ["topic", "group"],
)
DEAD_LETTERED = Counter(
    "vigil_bus_dead_lettered_total",
    "Messages moved to the dead-letter topic after their last attempt.",
    ["topic", "group"],
)
HANDLER_SECONDS = Histogram(
    "vigil_bus_handler_seconds",
    "Time a handler took per delivery, successful or not.",
    ["topic", "group"],
    buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300),
)
# Every consumer process samples the same (topic, group) lag; "livemax" reports the highest live
# sample, like "max", but drops the samples of processes the entry point has marked dead, so a
# crashed worker's last value does not stay on the dashboard forever.
LAG = Gauge(
    "vigil_bus_lag",
    "Messages of a topic a consumer group has not acknowledged yet.",
    ["topic", "group"],
    multiprocess_mode="livemax",
)


@dataclass(frozen=True)
class GroupMeters:
    """The labelled children of one (topic, group): looked up once, not per message."""

    consumed: Counter
    failed: Counter
    dead_lettered: Counter
    handler_seconds: Histogram


@lru_cache(maxsize=1024)
def group_meters(topic: str, group: str) -> GroupMeters:
    return GroupMeters(
        consumed=CONSUMED.labels(topic, group),
        failed=FAILED.labels(topic, group),
        dead_lettered=DEAD_LETTERED.labels(topic, group),
        handler_seconds=HANDLER_SECONDS.labels(topic, group),
    )


@lru_cache(maxsize=1024)
def published_counter(topic: str) -> Counter:
    return PUBLISHED.labels(topic)


def record_lag(topic: str, group: str, lag: int) -> None:
    LAG.labels(topic, group).set(lag)


async def call_handler(handler: Handler, message: Message, meters: GroupMeters) -> Exception | None:
    """Run ``handler`` on one delivery; return the exception it raised, or None on success.

    A handler's exception is data for the retry policy, never a reason to stop consuming, so it
    is returned rather than raised. Cancellation still propagates.
    """
    started = time.perf_counter()
    try:
        await handler(message)
    except Exception as exc:  # noqa: BLE001 - retried or dead-lettered by the caller
        meters.failed.inc()
        return exc
    finally:
        meters.handler_seconds.observe(time.perf_counter() - started)
    meters.consumed.inc()
    return None
