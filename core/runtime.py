"""The stores and the bus one process opens from its settings, and their readiness."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from core.bus import Bus, open_bus_from_settings
from core.db import Database
from core.errors import UnavailableError, VigilError
from core.settings import Settings
from core.storage import ObjectStore, open_store_from_settings

log = logging.getLogger(__name__)


@dataclass
class Services:
    """Connections shared by a process's request handlers and consumers."""

    settings: Settings
    db: Database
    bus: Bus
    store: ObjectStore
    started_at: float = field(default_factory=time.time)
    #: Readiness probes rooms add (e.g. "models" while a worker loads its classifiers): each
    #: raises, with the reason, until its part is ready.
    probes: dict[str, Callable[[], Awaitable[None]]] = field(default_factory=dict)
    #: What this process runs, shown by /readyz (e.g. which model scores comments).
    info: dict[str, str] = field(default_factory=dict)

    async def readiness(self) -> dict[str, str]:
        """``{"database": "ok" | reason, "bus": ..., "storage": ...}``; never raises."""
        checks: dict[str, str] = {}
        probes: tuple[tuple[str, Callable[[], Awaitable[None]]], ...] = (
            ("database", lambda: asyncio.to_thread(self.db.ping)),
            ("bus", self.bus.ping),
            ("storage", lambda: asyncio.to_thread(self.store.ping)),
            *self.probes.items(),
        )
        for name, probe in probes:
            try:
                await asyncio.wait_for(probe(), timeout=3.0)
                checks[name] = "ok"
            except TimeoutError:
                checks[name] = "no answer within 3 s"
            except VigilError as exc:
                checks[name] = exc.message
            except Exception as exc:  # noqa: BLE001 - readiness reports any failure, never raises
                checks[name] = f"{type(exc).__name__}: {exc}"
        return checks

    async def close(self) -> None:
        await self.bus.close()
        self.db.dispose()


async def open_services(settings: Settings) -> Services:
    """Open the metadata store, bus and object store named by ``settings``."""
    db = Database(settings.effective_database_url)
    try:
        bus = await open_bus_from_settings(settings)
    except VigilError:
        db.dispose()
        raise
    except OSError as exc:
        db.dispose()
        raise UnavailableError(
            f"bus {settings.effective_bus_url} is unreachable: {exc}",
            details={"url": settings.effective_bus_url},
        ) from exc
    store = open_store_from_settings(settings)
    return Services(settings=settings, db=db, bus=bus, store=store)
