"""The worker role: runs the rooms' bus consumers, with /healthz, /readyz and /metrics.

Rooms register consumers by name (``media``, ``moderation``, ``lake``...) as they are built;
``vigil worker --only NAME,...`` runs a subset.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Callable, Sequence

import uvicorn
from fastapi import FastAPI

import ingest
import moderation
from api import create_app
from core.bus.runner import Consumer, run_consumers
from core.runtime import Services, open_services
from core.settings import Settings

from .server import ALL_TOPICS

log = logging.getLogger(__name__)

ConsumerFactory = Callable[[Services], Sequence[Consumer]]

#: Consumer groups by name. Rooms add theirs here as they gain bus handlers.
CONSUMER_GROUPS: dict[str, ConsumerFactory] = {
    ingest.MEDIA_GROUP: ingest.media_consumers,
    ingest.LAKE_GROUP: ingest.lake_consumers,
    moderation.MODERATION_GROUP: moderation.moderation_consumers,
}


def select_groups(only: Sequence[str] | None) -> dict[str, ConsumerFactory]:
    """The named consumer groups, or all; raises ValueError naming unknown ones."""
    if not only:
        return dict(CONSUMER_GROUPS)
    unknown = [name for name in only if name not in CONSUMER_GROUPS]
    if unknown:
        known = ", ".join(sorted(CONSUMER_GROUPS)) or "none yet"
        raise ValueError(f"unknown consumer group(s) {', '.join(unknown)}; known: {known}")
    return {name: CONSUMER_GROUPS[name] for name in only}


async def run_worker(settings: Settings, *, only: Sequence[str] | None, health_port: int) -> None:
    """Connect (retrying while the stores or bus are down), then consume until SIGTERM/SIGINT."""
    groups = select_groups(only)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)

    services: Services | None = None
    while services is None and not stop.is_set():
        try:
            services = await open_services(settings)
        except Exception as exc:  # noqa: BLE001 - keep retrying; readiness shows the reason
            log.warning("not ready: %s; retrying in 2 s", exc)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=2.0)
    if services is None:
        return
    await services.bus.ensure_topics(ALL_TOPICS)

    health: FastAPI = create_app(settings, services=services, include_api=False)
    server = uvicorn.Server(
        uvicorn.Config(
            health, host=settings.http.host, port=health_port, log_config=None, lifespan="on"
        )
    )
    server_task = asyncio.create_task(server.serve()) if health_port else None

    consumers = [consumer for factory in groups.values() for consumer in factory(services)]
    if consumers:
        log.info("consuming: %s", ", ".join(c.name for c in consumers))
    else:
        log.info("no consumer groups registered yet; serving health and metrics only")
    try:
        await run_consumers(services.bus, consumers, stop)
        await stop.wait()
    finally:
        if server_task is not None:
            server.should_exit = True
            await server_task
        await services.close()
