"""Running a process's bus consumers: all concurrently, restarted on error, until told to stop.

A handler's exception never reaches this loop (the bus retries and dead-letters it); what does
reach it is the backend failing (database locked past its timeout, NATS gone), and then the
consumer is restarted after a pause rather than taking its siblings down. A sampler keeps the
``vigil_bus_lag`` gauge current for every (topic, group) this process consumes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from .base import Bus, Handler
from .metrics import record_lag

log = logging.getLogger(__name__)

_RESTART_INITIAL_SECONDS = 1.0
_RESTART_MAX_SECONDS = 30.0
LAG_SAMPLE_SECONDS = 5.0


@dataclass(frozen=True)
class Consumer:
    """One consumer: ``handler`` receives ``topic``'s messages as a member of ``group``.

    ``tick``, when given, runs beside the consumer every ``tick_seconds`` with ``final=False``,
    and once more with ``final=True`` when the consumer stops: work a handler cannot trigger
    itself, such as flushing what it staged when no more messages come. A tick that raises is
    logged; the next one runs on time.
    """

    topic: str
    group: str
    handler: Handler
    name: str
    tick: Callable[[bool], Awaitable[None]] | None = None
    tick_seconds: float = 1.0


async def _sleep_unless_stopped(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)


async def _supervise(bus: Bus, consumer: Consumer, stop: asyncio.Event, first_pause: float) -> None:
    pause = first_pause
    while not stop.is_set():
        log.info("bus consumer %s started on %s[%s]", consumer.name, consumer.topic, consumer.group)
        try:
            await bus.consume(consumer.topic, consumer.group, consumer.handler, stop=stop)
        except Exception:  # logged with its traceback; the consumer restarts
            log.exception(
                "bus consumer %s on %s[%s] failed; restarting in %.0f s",
                consumer.name,
                consumer.topic,
                consumer.group,
                pause,
            )
            await _sleep_unless_stopped(stop, pause)
            pause = min(pause * 2, _RESTART_MAX_SECONDS)
            continue
        pause = first_pause
    log.info("bus consumer %s stopped", consumer.name)


async def sample_lag(bus: Bus, consumers: Sequence[Consumer]) -> dict[tuple[str, str], int]:
    """Read the lag of every (topic, group) in ``consumers`` and set the gauge; returns it."""
    wanted: dict[str, set[str]] = {}
    for consumer in consumers:
        wanted.setdefault(consumer.topic, set()).add(consumer.group)
    sampled: dict[tuple[str, str], int] = {}
    for topic, groups in wanted.items():
        stats = await bus.stats(topic)
        for group in groups:
            # A group that has not consumed yet has the whole topic ahead of it.
            lag = stats.groups.get(group, stats.messages)
            record_lag(topic, group, lag)
            sampled[(topic, group)] = lag
    return sampled


async def _sample_lag_forever(
    bus: Bus, consumers: Sequence[Consumer], stop: asyncio.Event, every: float
) -> None:
    while not stop.is_set():
        try:
            await sample_lag(bus, consumers)
        except Exception:  # logged; a missed sample must not stop the consumers
            log.exception("bus lag sampling failed; trying again in %.0f s", every)
        await _sleep_unless_stopped(stop, every)


async def _tick_forever(consumer: Consumer, stop: asyncio.Event) -> None:
    assert consumer.tick is not None
    while True:
        stopping = stop.is_set()
        try:
            await consumer.tick(stopping)
        except Exception:
            log.exception(
                "the periodic work of %s failed; next run in %.0f s",
                consumer.name,
                consumer.tick_seconds,
            )
        if stopping:
            return
        await _sleep_unless_stopped(stop, consumer.tick_seconds)


async def run_consumers(
    bus: Bus,
    consumers: Sequence[Consumer],
    stop: asyncio.Event,
    *,
    lag_every_seconds: float = LAG_SAMPLE_SECONDS,
    restart_pause_seconds: float = _RESTART_INITIAL_SECONDS,
) -> None:
    """Run every consumer and the lag sampler until ``stop`` is set, then wait for them.

    A consumer whose backend fails is restarted after ``restart_pause_seconds``, doubling up to
    30 s while it keeps failing.
    """
    tasks = [
        asyncio.create_task(
            _supervise(bus, consumer, stop, restart_pause_seconds), name=f"bus:{consumer.name}"
        )
        for consumer in consumers
    ]
    tasks += [
        asyncio.create_task(_tick_forever(consumer, stop), name=f"tick:{consumer.name}")
        for consumer in consumers
        if consumer.tick is not None
    ]
    tasks.append(
        asyncio.create_task(
            _sample_lag_forever(bus, consumers, stop, lag_every_seconds), name="bus:lag"
        )
    )
    try:
        await asyncio.gather(*tasks)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
