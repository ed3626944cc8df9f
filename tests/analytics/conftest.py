"""Analytics test plumbing: hand-written events go through the real lake and query engine.

``build`` writes the events with ``Lake.append`` (which also merges the rollups, human traffic
only) and opens ``Analytics`` over the lake with the given videos and users, so every insight
reads exactly the relations production gives it.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, date, datetime
from typing import Any

import duckdb
import pyarrow as pa
import pytest

from analytics.engine import USERS_SCHEMA, VIDEOS_SCHEMA, Analytics, Metadata
from analytics.filters import Filters
from analytics.lake import Lake
from analytics.schema import EVENT_SCHEMA
from core.storage import LocalObjectStore

_ids = itertools.count(1)


def at(text: str) -> datetime:
    """A UTC instant from ``"2026-03-02 10:00:00[.fff]"``."""
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def ev(
    event_type: str,
    ts: str,
    actor: str = "u1",
    *,
    video: str | None = None,
    session: str = "s1",
    region: str = "US",
    platform: str = "ios",
    language: str = "en",
    watched_ms: int | None = None,
    position_ms: int | None = None,
    props: dict[str, Any] | None = None,
    target: str | None = None,
    bot: bool = False,
    anonymous: bool = False,
) -> dict[str, Any]:
    """One event row in EVENT_SCHEMA; ``anonymous`` puts the actor in device_id instead."""
    when = at(ts)
    return {
        "event_id": next(_ids).to_bytes(16, "big"),
        "event_type": event_type,
        "ts": when,
        "client_ts": None,
        "received_at": when,
        "user_id": None if anonymous else actor,
        "device_id": actor if anonymous else None,
        "session_id": session,
        "video_id": video,
        "target_user_id": target,
        "region": region,
        "language": language,
        "platform": platform,
        "app_version": "1.0.0",
        "watched_ms": watched_ms,
        "position_ms": position_ms,
        "props": json.dumps(props or {}),
        "is_bot": bot,
        "bot_reason": "rate" if bot else None,
        "ts_clamped": False,
    }


def video(
    video_id: str,
    creator_id: str,
    *,
    caption: str = "",
    hashtags: Sequence[str] = (),
    sound: str | None = None,
    language: str = "en",
    region: str = "US",
    duration_ms: int | None = 10_000,
    created_at: str = "2026-02-01 00:00:00",
) -> dict[str, Any]:
    """One row of the videos relation."""
    return {
        "video_id": video_id,
        "creator_id": creator_id,
        "caption": caption or f"caption of {video_id}",
        "hashtags": list(hashtags),
        "sound": sound,
        "language": language,
        "region": region,
        "duration_ms": duration_ms,
        "created_at": at(created_at),
        "state": "published",
    }


def user(user_id: str, name: str = "", *, country: str = "US") -> dict[str, Any]:
    """One row of the users relation."""
    return {
        "user_id": user_id,
        "name": name or user_id.upper(),
        "country": country,
        "language": "en",
        "created_at": at("2026-01-01 00:00:00"),
    }


def span(start: str, end: str, **kwargs: Any) -> Filters:
    """Filters over ``start``..``end`` (ISO dates, both included)."""
    return Filters(start=date.fromisoformat(start), end=date.fromisoformat(end), **kwargs)


OpenAnalytics = Callable[..., Analytics]
Build = Callable[..., duckdb.DuckDBPyConnection]


@pytest.fixture(scope="module")
def open_analytics(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OpenAnalytics]:
    """``open_analytics(events, videos=(), users=())`` -> Analytics over a fresh lake of them.

    Module-scoped: writing a lake takes a moment, and the insights only read it.
    """
    root = tmp_path_factory.mktemp("lakes")
    opened: list[Analytics] = []

    def make(
        events: Sequence[dict[str, Any]],
        videos: Sequence[dict[str, Any]] = (),
        users: Sequence[dict[str, Any]] = (),
    ) -> Analytics:
        lake = Lake(LocalObjectStore(root / f"lake{len(opened)}"))
        if events:
            lake.append(pa.Table.from_pylist(list(events), schema=EVENT_SCHEMA), sequence=1)
        metadata = Metadata(
            videos=pa.Table.from_pylist(list(videos), schema=VIDEOS_SCHEMA),
            users=pa.Table.from_pylist(list(users), schema=USERS_SCHEMA),
        )
        analytics = Analytics(lake, metadata=lambda: metadata, manifest_check_seconds=0)
        opened.append(analytics)
        return analytics

    yield make
    for analytics in opened:
        analytics.close()


@pytest.fixture(scope="module")
def build(open_analytics: OpenAnalytics) -> Build:
    """``build(events, videos=(), users=())`` -> a cursor on the real relations over them."""

    def make(
        events: Sequence[dict[str, Any]],
        videos: Sequence[dict[str, Any]] = (),
        users: Sequence[dict[str, Any]] = (),
    ) -> duckdb.DuckDBPyConnection:
        return open_analytics(events, videos, users).cursor()

    return make
