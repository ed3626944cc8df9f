"""The demo's engagement events: weeks of believable traffic, sent through the real collector.

``post_demo_events`` spreads the demo accounts' and videos' creation dates over the weeks it
covers (so sign-ups, uploads and retention have a history), generates events for them with
``analytics.synthetic`` (diurnal and weekly cycles, power-law popularity, watch-time drop-off,
regional differences, client retries and a few bots), and posts them to ``POST /v1/events`` of
an API served in process, in batches of 500, the bots with a crawler's User-Agent. When no
worker runs the lake sink, it runs one itself until the lake holds every event.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import random
from collections.abc import Callable
from typing import Any

import httpx
import pyarrow.compute as pc
from sqlalchemy import select

import ingest
from analytics.synthetic import Catalog, generate_events, to_client_events
from core import auth
from core.auth import Role, Scope, User
from core.runtime import Services, open_services
from core.settings import Settings

from .demo_videos import api_in_process
from .server import ALL_TOPICS

APP_AGENT = "VigilApp/4.12.0 (Android 14; demo)"
CRAWLER_AGENT = "Mozilla/5.0 (compatible; DemoScraperBot/2.1; +http://scraper.example/bot)"
BATCH = 500


def _catalog(services: Services, *, start: dt.date, days: int, seed: int) -> Catalog | None:
    """The demo's accounts and ready videos, their creation dates spread over the window."""
    rng = random.Random(seed)
    window = dt.datetime.combine(start, dt.time(), dt.UTC)
    with services.db.session() as session:
        users = list(
            session.scalars(
                select(User).where(User.role.in_([Role.CREATOR.value, Role.VIEWER.value]))
            )
        )
        videos = list(
            session.scalars(
                select(ingest.Video).where(ingest.Video.state == ingest.VideoState.READY.value)
            )
        )
        if not users or not videos:
            return None
        for user in users:
            # Most accounts predate the window; the rest sign up during it.
            offset = rng.uniform(-days, days) if rng.random() < 0.6 else rng.uniform(0, days)
            user.created_at = window + dt.timedelta(days=offset)
        for video in videos:
            video.created_at = window + dt.timedelta(days=rng.uniform(0, days * 0.8))
        user_rows = [
            {
                "user_id": u.id,
                "name": u.name,
                "country": u.country,
                "language": u.language,
                "created_at": u.created_at,
            }
            for u in users
        ]
        video_rows = [
            {
                "video_id": v.id,
                "creator_id": v.creator_id,
                "caption": v.caption,
                "hashtags": v.hashtags,
                "sound": v.sound_name,
                "language": v.language,
                "region": v.region,
                "duration_ms": round(v.duration_s * 1000) if v.duration_s else None,
                "created_at": v.created_at,
                "state": v.state,
            }
            for v in videos
        ]
    return Catalog.from_rows(users=user_rows, videos=video_rows)


def _api_key(services: Services) -> str:
    with services.db.session() as session:
        _row, key = auth.create_api_key(
            session, name="demo-app", scopes=frozenset({Scope.EVENTS_WRITE})
        )
    return key


async def _post(
    client: httpx.AsyncClient, key: str, batches: list[tuple[list[dict[str, Any]], str]]
) -> dict[str, int]:
    totals = {"accepted": 0, "duplicates": 0, "rejected": 0, "bot": 0}
    for items, agent in batches:
        answer = await client.post(
            "/v1/events",
            json=items,
            headers={"Authorization": f"Bearer {key}", "User-Agent": agent},
        )
        answer.raise_for_status()
        body = answer.json()
        totals["accepted"] += body["accepted"]
        totals["duplicates"] += body["duplicates"]
        totals["rejected"] += len(body["rejected"])
        totals["bot"] += body["flagged"]["bot"]
    return totals


async def _run(
    settings: Settings, *, events: int, days: int, seed: int, progress: Callable[[int], None]
) -> str:
    services = await open_services(settings)
    await services.bus.ensure_topics(ALL_TOPICS)
    start = dt.datetime.now(dt.UTC).date() - dt.timedelta(days=days)
    catalog = await asyncio.to_thread(_catalog, services, start=start, days=days, seed=seed)
    if catalog is None:
        await services.close()
        return "skipped: no accounts or no ready videos"
    key = await asyncio.to_thread(_api_key, services)
    # The sink runs here only when no worker holds it; otherwise the worker writes the lake.
    sink_consumers = await asyncio.to_thread(ingest.lake_consumers, services)
    totals = {"accepted": 0, "duplicates": 0, "rejected": 0, "bot": 0}
    try:
        async with (
            api_in_process(services, sink_consumers) as url,
            httpx.AsyncClient(base_url=url, timeout=120) as client,
        ):
            tables = generate_events(
                catalog, events=events, start=start, days=days, seed=seed, bots=3, mark_bots=True
            )
            for table in tables:
                batches: list[tuple[list[dict[str, Any]], str]] = []
                for bots, agent in ((False, APP_AGENT), (True, CRAWLER_AGENT)):
                    mask = table["is_bot"] if bots else pc.invert(table["is_bot"])
                    rows = to_client_events(table.filter(mask))
                    batches += [(rows[i : i + BATCH], agent) for i in range(0, len(rows), BATCH)]
                sent = await _post(client, key, batches)
                for name, value in sent.items():
                    totals[name] += value
                progress(table.num_rows)
            if sink_consumers:
                await _drain(services)
    finally:
        await services.close()
    where = "written to the lake" if sink_consumers else "queued for the worker's lake sink"
    return (
        f"{totals['accepted']:,} accepted via the collector ({totals['duplicates']:,} client "
        f"retries dropped, {totals['bot']:,} flagged as bots), {where}"
    )


async def _drain(services: Services) -> None:
    """Wait (at most 5 minutes) until the lake group has consumed every accepted batch."""
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(300):
            while True:
                stats = await services.bus.stats(ingest.lake_sink.EVENTS_TOPIC)
                if stats.groups.get(ingest.LAKE_GROUP, 0) == 0:
                    return
                await asyncio.sleep(0.5)


def post_demo_events(
    settings: Settings, *, events: int, days: int, seed: int, progress: Callable[[int], None]
) -> str:
    """Generate and post ``events`` demo events over the last ``days`` days; a summary line."""
    return asyncio.run(_run(settings, events=events, days=days, seed=seed, progress=progress))
