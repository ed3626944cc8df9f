"""Engagement events: the collector (``POST /v1/events``) and its dead-letter store."""

from __future__ import annotations

from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Query, Request, Response
from starlette.concurrency import run_in_threadpool

import ingest
from api.deps import CurrentPrincipal, ServicesDep, requires
from core.auth import Scope

router = APIRouter(tags=["events"])

_BATCH_EXAMPLE = [
    {
        "event_id": "3f1c2a9e-8d7b-4c1e-9f2a-6b5d4c3e2f10",
        "event_type": "watch",
        "ts": "2026-11-21T10:15:03.250Z",
        "user_id": "u_8c1f",
        "session_id": "s_51aa",
        "video_id": "v_93d2",
        "region": "ES",
        "language": "es",
        "platform": "android",
        "app_version": "4.12.0",
        "watched_ms": 4200,
        "position_ms": 9100,
    }
]


def _rates(request: Request) -> ingest.events.RateWatch:
    rates: ingest.events.RateWatch | None = getattr(request.app.state, "event_rates", None)
    if rates is None:
        settings = request.app.state.settings
        rates = ingest.events.RateWatch(limit=settings.events.bot_max_events_per_minute)
        request.app.state.event_rates = rates
    return rates


@router.post(
    "/v1/events",
    dependencies=[requires(Scope.EVENTS_WRITE)],
    summary="Send a batch of engagement events",
    description=(
        'A JSON array of events (or `{"events": [...]}`), or NDJSON '
        "(`Content-Type: application/x-ndjson`); `Content-Encoding: gzip` accepted. Up to "
        "1,000 events or 1 MB. Each event is validated on its own: the answer counts the "
        "accepted ones and lists each rejected one with its index and reason. A 200 means the "
        "accepted events are stored durably; resending a batch is safe (events are "
        "deduplicated by `event_id`). Fields: docs/events.md."
    ),
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"example": _BATCH_EXAMPLE},
                "application/x-ndjson": {"schema": {"type": "string"}},
            },
        }
    },
)
async def post_events(
    request: Request, services: ServicesDep, principal: CurrentPrincipal
) -> Response:
    result = await ingest.collector.collect(
        services,
        body=await request.body(),
        content_type=request.headers.get("content-type"),
        content_encoding=request.headers.get("content-encoding"),
        user_agent=request.headers.get("user-agent"),
        source=f"{principal.kind}:{principal.name}",
        rates=_rates(request),
    )
    return Response(orjson.dumps(result.to_json()), media_type="application/json")


@router.get(
    "/v1/events/rejections",
    dependencies=[requires(Scope.ANALYTICS_READ)],
    summary="Rejected events (the collector's dead-letter store), newest first",
)
async def list_rejections(
    services: ServicesDep,
    reason: Annotated[str | None, Query(max_length=32)] = None,
    batch_id: Annotated[str | None, Query(max_length=32)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> dict[str, Any]:
    rows = await run_in_threadpool(
        ingest.collector.list_rejections,
        services.db,
        reason=reason,
        batch_id=batch_id,
        limit=limit,
    )
    return {
        "rejections": [
            {
                "received_at": row.received_at.isoformat(),
                "batch_id": row.batch_id,
                "source": row.source,
                "index": row.item_index,
                "event_id": row.event_id,
                "reason": row.reason,
                "field": row.field,
                "message": row.message,
                "raw": row.raw,
            }
            for row in rows
        ]
    }
