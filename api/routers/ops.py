"""Operator views over HTTP: effective configuration and the bus (topics, dead letters)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query

from api.deps import ServicesDep, requires
from core.auth import Scope
from core.settings import masked

router = APIRouter(prefix="/v1/ops", tags=["operations"])


@router.get(
    "/config",
    summary="Effective configuration, secrets masked",
    dependencies=[requires(Scope.CONFIG_READ)],
)
def config(services: ServicesDep) -> dict[str, Any]:
    return masked(services.settings)


@router.get(
    "/bus/topics",
    summary="Topics, sizes and lag per group",
    dependencies=[requires(Scope.BUS_ADMIN)],
)
async def topics(services: ServicesDep) -> list[dict[str, Any]]:
    rows = []
    for topic in await services.bus.topics():
        stats = await services.bus.stats(topic)
        rows.append({"topic": stats.topic, "messages": stats.messages, "lag": stats.groups})
    return rows


@router.get(
    "/bus/topics/{topic}/dead-letters",
    summary="Dead letters of a topic, oldest first",
    dependencies=[requires(Scope.BUS_ADMIN)],
)
async def dead_letters(
    topic: str, services: ServicesDep, limit: int = Query(100, ge=1, le=1000)
) -> list[dict[str, Any]]:
    letters = await services.bus.dead_letters(topic, limit=limit)
    return [
        {
            "id": d.id,
            "topic": d.topic,
            "group": d.group,
            "attempts": d.attempts,
            "error": d.error,
            "failed_at": d.failed_at,
            "key": d.key,
            "payload": d.payload,
        }
        for d in letters
    ]


@router.post(
    "/bus/topics/{topic}/dead-letters:replay",
    summary="Publish a topic's dead letters back to it",
    dependencies=[requires(Scope.BUS_ADMIN)],
)
async def replay(topic: str, services: ServicesDep) -> dict[str, int]:
    return {"replayed": await services.bus.replay_dead_letters(topic)}
